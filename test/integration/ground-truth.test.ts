import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScratchClickHouse, type ScratchClickHouse } from '../support/embedded-clickhouse.ts';
import { applyMigrations, clickhouseClient } from '../../src/clients/clickhouse.ts';
import { pipeline } from '../../src/contract/index.ts';
import { EventGenerator, type GeneratedRecord } from '../../src/loadgen/events.ts';
import { compareWithClickHouse, fetchClickHouseFacts, jobMaxEventTime, latestBatchTime, newestBatchDurations, progressInputRows, type RunScope } from '../../src/loadtest/ground-truth-checks.ts';
import { computeGroundTruth, type GroundTruth, type ModelRecord } from '../../src/model/ground-truth.ts';

/**
 * compareWithClickHouse against the schema of the migrations on the embedded ClickHouse: a
 * generated run (20k records, 50 min of event time: duplicates, late and broken records, timeouts,
 * tier changes) written as a job following docs/processing.md would write it (sessions upserted
 * active then closed, a replayed insert), then broken in known ways.
 */

let ch: ScratchClickHouse;
let client: ClickHouseClient;

const NOW = Date.now();
const PREFIX = `rit${NOW.toString(36)}-`;
const OFFSET0 = 1000;
const chTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

const gen = new EventGenerator({
  seed: 3,
  users: 20_000,
  products: 200,
  userPrefix: PREFIX,
  now: () => NOW,
  eventClock: { startMs: NOW - 52 * 60_000, stepMs: 150 },
  injection: { malformedFraction: 0.01 },
});
const users = gen.userDimension(NOW);
const generated: GeneratedRecord[] = Array.from({ length: 20_000 }, () => gen.nextRecord());
const model: ModelRecord[] = generated.map((r) =>
  r.kind === 'malformed'
    ? { deadLetter: r.reason }
    : { event: { event_id: r.event.event_id, event_type: r.event.event_type, event_time: Date.parse(r.event.event_time), user_id: r.event.user_id, product_id: r.event.product_id, revenue: r.event.revenue } },
);
const gt: GroundTruth = computeGroundTruth(model, { lifetimeSpend: new Map(users.map((u) => [u.user_id, u.lifetime_spend])), ambiguityMs: 20_000 });
const scope: RunScope = { ranges: [{ partition: 0, start: OFFSET0, end: OFFSET0 + generated.length }], userPrefix: PREFIX, afterBatchTime: NOW - 2 * 3600_000 }; // batch 0 is the job's newest before the run

async function insert(table: string, values: Array<Record<string, unknown>>, token?: string): Promise<void> {
  for (let i = 0; i < values.length; i += 5000) {
    await client.insert({
      table,
      values: values.slice(i, i + 5000),
      format: 'JSONEachRow',
      clickhouse_settings: token ? { insert_deduplication_token: `${token}-${i}` } : {},
    });
  }
}

function eventRows(g: GroundTruth): Array<Record<string, unknown>> {
  return g.events.map((e) => {
    const src = (generated[e.index] as Extract<GeneratedRecord, { kind: 'event' }>).event;
    return {
      event_id: e.event_id, event_type: e.event_type, event_time: chTime(e.event_time), user_id: e.user_id, device: src.device,
      product_id: src.product_id ?? '', revenue: src.revenue ?? 0, kafka_partition: 0, kafka_offset: OFFSET0 + e.index, tier: e.tier, session_id: e.session_id,
    };
  });
}

function sessionRows(g: GroundTruth, version: number, status?: 'active'): Array<Record<string, unknown>> {
  return g.sessions.map(({ ended_by: _e, counts, ...s }) => ({
    ...s,
    ...counts,
    start_time: chTime(s.start_time),
    end_time: chTime(s.end_time),
    status: status ?? s.status,
    cart_abandoned: status ? 0 : s.cart_abandoned,
    version,
  }));
}

beforeAll(async () => {
  ch = await startScratchClickHouse({ database: 'speedlayer_gt_it', onProgress: (m) => console.log(`[chdb-env] ${m}`) });
  client = clickhouseClient(ch.endpoints);
  await applyMigrations(ch.endpoints);
  expect(await jobMaxEventTime(client)).toBe(-Infinity);

  const T = pipeline.clickhouse.tables;
  await insert(T.events, eventRows(gt), 'ev');
  await insert(T.events, eventRows(gt), 'ev'); // a replayed batch: deduplicated by its token
  await insert('late_events', gt.lateEvents.map((l) => {
    const src = (generated[l.index] as Extract<GeneratedRecord, { kind: 'event' }>).event;
    return { event_id: l.event_id, event_type: src.event_type, event_time: chTime(l.event_time), user_id: src.user_id, device: src.device, kafka_partition: 0, kafka_offset: OFFSET0 + l.index, watermark: chTime(l.watermark) };
  }));
  await insert(T.deadLetters, generated.flatMap((r, i) =>
    r.kind === 'malformed'
      ? [{ reason: r.reason, error: '$: x', raw_payload: '', payload_bytes: r.value.length, source_topic: pipeline.kafka.topics.events.name, kafka_partition: 0, kafka_offset: OFFSET0 + i, kafka_timestamp: chTime(NOW) }]
      : [],
  ));
  await insert('sessions', sessionRows(gt, 1, 'active')); // every session was active once ...
  await insert('sessions', sessionRows(gt, 2)); // ... then its final state
  await insert('tier_changes', gt.tierChanges.map((c) => ({ ...c, changed_at: chTime(c.changed_at) })));
  await insert('pipeline_progress', [
    { query_name: 'events', batch_id: 1, batch_time: chTime(NOW - 60_000), num_input_rows: 10_000, batch_duration_ms: 1_500, watermark: chTime(NOW - 10 * 60_000), late_rows: 1, duplicate_rows: 2, dead_letter_rows: 0 },
    { query_name: 'events', batch_id: 2, batch_time: chTime(NOW), num_input_rows: 10_000, batch_duration_ms: 2_500, watermark: chTime(gt.finalWatermark), late_rows: gt.late - 1, duplicate_rows: gt.duplicates - 2, dead_letter_rows: 0 },
    { query_name: 'events', batch_id: 0, batch_time: chTime(NOW - 2 * 3600_000), num_input_rows: 5, batch_duration_ms: 100, watermark: chTime(NOW - 3 * 3600_000), late_rows: 5, duplicate_rows: 5, dead_letter_rows: 0 }, // before the run
  ]);
});

afterAll(async () => {
  await client?.close();
  await ch?.stop();
});

describe('ground truth against ClickHouse (embedded)', () => {
  it('the generated run exercises every rule', () => {
    expect(gt.duplicates).toBeGreaterThan(50);
    expect(gt.late).toBeGreaterThan(10);
    expect(gt.invalid).toBeGreaterThan(100);
    expect(gt.sessions.filter((s) => s.status === 'closed' && s.ended_by === 'timeout').length).toBeGreaterThan(10);
    expect(gt.sessions.filter((s) => s.status === 'active').length).toBeGreaterThan(10);
    expect(gt.tierChanges.length).toBeGreaterThan(10);
  });

  it('reads back exactly what the job wrote', async () => {
    const f = await fetchClickHouseFacts(client, scope);
    expect(f.events).toEqual({ rows: gt.accepted, distinct: gt.accepted, revenue: expect.closeTo(gt.revenue, 2), orders: gt.orders });
    expect(f.late.rows).toBe(gt.late);
    expect(f.progress).toEqual({ batches: 2, duplicateRows: gt.duplicates, lateRows: gt.late, watermark: gt.finalWatermark });
    // The drain's wait for progress rows: records read by the batches after batch 0, and the newest batch.
    expect(await progressInputRows(client, scope.afterBatchTime)).toBe(20_000);
    expect(await latestBatchTime(client)).toBe(NOW);
    // The warm-up's view of the job: the newest batches of the load after a time, newest first.
    expect(await newestBatchDurations(client, scope.afterBatchTime, 3, 5_000)).toEqual([2_500, 1_500]);
    expect(await newestBatchDurations(client, scope.afterBatchTime, 1, 5_000)).toEqual([2_500]);
    expect(await newestBatchDurations(client, scope.afterBatchTime, 3, 20_000)).toEqual([]);
    expect(await newestBatchDurations(client, 0, 3, 1)).toEqual([2_500, 1_500, 100]);
    expect(f.sessions).toHaveLength(gt.sessions.length);
    expect(f.tierChanges).toHaveLength(gt.tierChanges.length);
  });

  it('a job that follows docs/processing.md passes every ground-truth check', async () => {
    const checks = await compareWithClickHouse(client, scope, gt);
    expect(checks.filter((c) => !c.passed)).toEqual([]);
    expect(await jobMaxEventTime(client)).toBe(Math.max(...gt.events.map((e) => e.event_time), gt.finalWatermark + 120_000));
  });

  it('a double-written event, a session with a wrong counter and a missing tier change fail their checks', async () => {
    const T = pipeline.clickhouse.tables;
    const [row] = eventRows(gt);
    await insert(T.events, [{ ...row, kafka_offset: OFFSET0 + 5 }]); // the same event_id again, from another offset of the run
    const s = sessionRows(gt, 3).find((x) => x.status === 'closed' && (x.page_views as number) > 0)!;
    await insert('sessions', [{ ...s, page_views: (s.page_views as number) + 1 }]);
    const c = gt.tierChanges.find((x) => gt.tierChanges.filter((y) => y.user_id === x.user_id).length === 1)!; // the user's only change
    await client.command({ query: `DELETE FROM ${T.tierChanges} WHERE event_id = '${c.event_id}'` });
    const failed = (await compareWithClickHouse(client, scope, gt)).filter((x) => !x.passed).map((x) => x.name);
    expect(failed).toEqual([
      'events rows (valid, on time, first of their id)',
      'no event_id twice in events',
      'sessions matching the model (every field)',
      'tier changes',
      'tier changes matching the model',
      'users per final tier (Bronze / Silver / Gold / Platinum)',
    ]);
  });
});
