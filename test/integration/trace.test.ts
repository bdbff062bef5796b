import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpeedlayerError } from '../../src/base/errors.ts';
import { applyMigrations, clickhouseClient } from '../../src/clients/clickhouse.ts';
import { ensureTopics, kafkaClient } from '../../src/clients/kafka.ts';
import type { CommandContext } from '../../src/commands/context.ts';
import { fetchTraceFacts, traceCommand } from '../../src/commands/trace.ts';
import { assembleTrace, type TraceReport } from '../../src/commands/trace-report.ts';
import { pipeline } from '../../src/contract/index.ts';
import type { StackEndpoints } from '../../src/base/stack.ts';
import { startScratchClickHouse, type ScratchClickHouse } from '../support/embedded-clickhouse.ts';
import { startScratchKafka, type ScratchKafka } from '../support/scratch-kafka.ts';

/**
 * trace against a real broker and the embedded ClickHouse: an event produced twice (same key, same
 * bytes) with other users' records around it, a late event and a record that is not JSON, then the
 * rows the job would write for them (the first copy stored, the second dropped, the late one in
 * late_events, the broken one dead-lettered) and the batch that wrote them.
 */

let ch: ScratchClickHouse;
let kafka: ScratchKafka;
let client: ClickHouseClient;
let endpoints: StackEndpoints;

const topic = pipeline.kafka.topics.events.name;
const t = pipeline.clickhouse.tables;
const NOW = Date.now();
const chTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const event = (id: string, user: string, eventTime = NOW) =>
  JSON.stringify({ schema_version: 1, event_id: id, event_type: 'PAGE_VIEW', event_time: new Date(eventTime).toISOString(), user_id: user, device: 'desktop', page: '/' });

const DUP = randomUUID();
const LATE = randomUUID();
const BROKEN = randomUUID();
const sent: Record<string, Array<{ partition: number; offset: number }>> = {};

async function produce(key: string, value: string, name?: string): Promise<void> {
  const producer = kafkaClient(kafka.endpoints.brokers).producer();
  await producer.connect();
  try {
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ key, value }] });
    if (name) (sent[name] ??= []).push({ partition: meta!.partition, offset: Number(meta!.baseOffset) });
  } finally {
    await producer.disconnect();
  }
}

beforeAll(async () => {
  [ch, kafka] = await Promise.all([startScratchClickHouse({ database: 'speedlayer_trace_it' }), startScratchKafka()]);
  endpoints = { clickhouse: ch.endpoints, kafka: kafka.endpoints };
  client = clickhouseClient(ch.endpoints);
  await applyMigrations(ch.endpoints);
  await ensureTopics(kafka.endpoints);

  // Other users' records before, between and after the copies, so the scan has to pick them out.
  for (let i = 0; i < 20; i++) await produce(`other-${i}`, event(randomUUID(), `other-${i}`));
  await produce('user-dup', event(DUP, 'user-dup'), 'dup');
  for (let i = 0; i < 20; i++) await produce(`other-${i}`, event(randomUUID(), `other-${i}`));
  // 3 MB of the same user's records between the copies: more than one fetch (1 MB per partition) to read.
  for (let i = 0; i < 50; i++) await produce('user-dup', event(randomUUID(), 'user-dup').replace('"page":"/"', `"page":"/${'x'.repeat(60_000)}"`));
  await produce('user-dup', event(DUP, 'user-dup'), 'dup');
  await produce('user-late', event(LATE, 'user-late', NOW - 3600_000), 'late');
  await produce('user-broken', `{"event_id":"${BROKEN}","event_type":`, 'broken');
  for (let i = 0; i < 20; i++) await produce(`other-${i}`, event(randomUUID(), `other-${i}`));

  // Batch 42 started after the last record was appended (so it read them all) and wrote the rows.
  const batchStart = Date.now() + 1;
  const insertedAt = batchStart + 600;
  const [stored] = sent.dup!;
  const [late] = sent.late!;
  const [broken] = sent.broken!;
  const base = { event_type: 'PAGE_VIEW', device: 'desktop', page: '/', inserted_at: chTime(insertedAt) };
  await client.insert({
    table: t.events,
    format: 'JSONEachRow',
    values: [{ ...base, event_id: DUP, event_time: chTime(NOW), user_id: 'user-dup', kafka_partition: stored!.partition, kafka_offset: stored!.offset, session_id: 'user-dup-s1', tier: 'Silver' }],
  });
  await client.insert({
    table: t.lateEvents!,
    format: 'JSONEachRow',
    values: [{ ...base, event_id: LATE, event_time: chTime(NOW - 3600_000), user_id: 'user-late', kafka_partition: late!.partition, kafka_offset: late!.offset, tier: 'Bronze', watermark: chTime(NOW - 120_000) }],
  });
  await client.insert({
    table: t.deadLetters,
    format: 'JSONEachRow',
    values: [
      {
        reason: 'invalid_json',
        error: 'unexpected end of input',
        raw_payload: `{"event_id":"${BROKEN}","event_type":`,
        payload_bytes: 60,
        source_topic: topic,
        kafka_partition: broken!.partition,
        kafka_offset: broken!.offset,
        kafka_timestamp: chTime(NOW),
        inserted_at: chTime(insertedAt),
      },
    ],
  });
  await client.insert({
    table: t.pipelineProgress!,
    format: 'JSONEachRow',
    values: [
      { query_name: 'speedlayer', batch_id: 41, batch_time: chTime(batchStart - 3000), batch_duration_ms: 1500, num_input_rows: 10, watermark: chTime(NOW - 120_000) },
      { query_name: 'speedlayer', batch_id: 42, batch_time: chTime(batchStart), batch_duration_ms: 1800, num_input_rows: 114, watermark: chTime(NOW - 120_000) },
    ],
  });
}, 600_000);

afterAll(async () => {
  await client?.close();
  await Promise.all([ch?.stop(), kafka?.stop()]);
});

async function trace(id: string): Promise<TraceReport> {
  return assembleTrace(await fetchTraceFacts(endpoints, id));
}

describe('speedlayer trace on a real broker and ClickHouse', () => {
  it('finds both copies of a duplicated event and says which was stored and which dropped', async () => {
    const [first, second] = sent.dup!;
    expect(second!.partition).toBe(first!.partition); // same key, same partition
    const r = await trace(DUP);
    expect(r.outcome).toBe('events');
    expect(r.copies.map((c) => [c.partition, c.offset, c.fate])).toEqual([
      [first!.partition, first!.offset, 'stored'],
      [second!.partition, second!.offset, 'dropped_duplicate'],
    ]);
    expect(r.copies[0]).toMatchObject({ session_id: 'user-dup-s1', tier: 'Silver', batch: { query_name: 'speedlayer', batch_id: 42 } });
    expect(r.copies[0]!.kafka_timestamp).not.toBeNull();
    expect(r.copies[1]!.duplicate_of).toEqual({ partition: first!.partition, offset: first!.offset });
    expect(r.scanned).toEqual([expect.objectContaining({ topic, partition: first!.partition })]);
  });

  it('a late event is in late_events and a record that is not JSON in dead_letters, each with its Kafka copy', async () => {
    const late = await trace(LATE);
    expect(late.outcome).toBe('late_events');
    expect(late.copies).toEqual([expect.objectContaining({ ...sent.late![0], fate: 'late', tier: 'Bronze', batch: expect.objectContaining({ batch_id: 42 }) })]);
    const broken = await trace(BROKEN);
    expect(broken.outcome).toBe('dead_letters');
    expect(broken.copies).toEqual([expect.objectContaining({ ...sent.broken![0], fate: 'dead_letter', reason: 'invalid_json' })]);
  });

  it('the command prints the trace as JSON, and an unknown id is an error with its fix', async () => {
    const out: unknown[] = [];
    const ctx = { json: true, printJson: (v: unknown) => out.push(v), print: () => {}, target: async () => ({ endpoints: async () => endpoints }) } as unknown as CommandContext;
    expect(await traceCommand.handler(ctx, traceCommand.parse!({ args: [DUP] }, ctx))).toBe(0);
    expect((out[0] as TraceReport).copies.map((c) => c.fate)).toEqual(['stored', 'dropped_duplicate']);
    const lines: string[] = [];
    await traceCommand.handler({ ...ctx, json: false, print: (l: string) => lines.push(l) } as CommandContext, { eventId: DUP });
    const [first] = sent.dup!;
    expect(lines.join('\n')).toContain(`dropped as a duplicate of ${first!.partition}/${first!.offset}`);
    const unknown = randomUUID();
    await expect(trace(unknown)).rejects.toThrow(SpeedlayerError);
    await expect(trace(unknown)).rejects.toMatchObject({ fix: expect.stringMatching(/Check the id/) });
  });
});
