import type { ClickHouseClient } from '@clickhouse/client';
import type { StackEndpoints } from '../base/stack.ts';
import { clickhouseClient } from '../clients/clickhouse.ts';
import { offsetsAtTime, partitionOffsets, readPartitionRange } from '../clients/kafka.ts';
import { pipeline } from '../contract/index.ts';
import { defineCommand } from './command.ts';
import {
  assembleTrace,
  parseEventId,
  renderTrace,
  type BatchRow,
  type DeadLetterRow,
  type EventRow,
  type KafkaCopy,
  type LateRow,
  type ScannedRange,
  type TraceFacts,
} from './trace-report.ts';

/**
 * How far around a row's time the partition is read for other copies. The job drops a duplicate only
 * while the stored copy is within the watermark (2 minutes of event time), so a dropped copy arrives
 * within minutes of it; a later copy is late and has its own row. 10 minutes each way covers a job that
 * is several batches behind while bounding the read (about 2 M records of one of 6 partitions at
 * 10,000 events/s). The row's time is the dead letter's kafka_timestamp, else inserted_at (events and
 * late_events keep no Kafka timestamp; the rows' own offsets are always included).
 */
export const COPY_WINDOW_MS = 10 * 60_000;
/** A batch that wrote a row started at most this long before the row's inserted_at (a slow batch). */
const BATCH_LOOKBACK_MS = 60 * 60_000;

// An alias must not reuse a column's name: ClickHouse would read the alias in WHERE.
const ms = (col: string) => `toUnixTimestamp64Milli(${col})`;

async function rows<T>(ch: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  const rs = await ch.query({ query, query_params: params, format: 'JSONEachRow' });
  return (await rs.json()) as T[];
}

/** Numbers come back as strings for 64-bit columns; every field named here is numeric. */
function numeric<T>(r: Record<string, unknown>, fields: string[]): T {
  const out: Record<string, unknown> = { ...r };
  for (const f of fields) out[f] = Number(r[f]);
  return out as T;
}

/** The id's rows in ClickHouse, the batches around them, then the copies in the events topic around the rows. */
export async function fetchTraceFacts(e: StackEndpoints, eventId: string): Promise<TraceFacts> {
  const t = pipeline.clickhouse.tables;
  const ch = clickhouseClient(e.clickhouse);
  let facts: Omit<TraceFacts, 'kafkaCopies' | 'scanned'>;
  try {
    const stored = `kafka_partition, kafka_offset, ${ms('inserted_at')} AS inserted_at`;
    const events = (await rows<Record<string, unknown>>(ch, `SELECT ${stored}, session_id, tier FROM ${t.events} FINAL WHERE event_id = {id:UUID}`, { id: eventId })).map((r) =>
      numeric<EventRow>(r, ['kafka_partition', 'kafka_offset', 'inserted_at']),
    );
    const lateEvents = (
      await rows<Record<string, unknown>>(ch, `SELECT ${stored}, session_id, tier, ${ms('watermark')} AS watermark FROM ${t.lateEvents} FINAL WHERE event_id = {id:UUID}`, { id: eventId })
    ).map((r) => numeric<LateRow>(r, ['kafka_partition', 'kafka_offset', 'inserted_at', 'watermark']));
    // A dead letter has no event_id column (it may not be JSON): its raw payload is searched for the id.
    const deadLetters = (
      await rows<Record<string, unknown>>(
        ch,
        `SELECT ${stored}, reason, error, source_topic, ${ms('kafka_timestamp')} AS kafka_timestamp FROM ${t.deadLetters} FINAL WHERE positionCaseInsensitive(raw_payload, {id:String}) > 0`,
        { id: eventId },
      )
    ).map((r) => numeric<DeadLetterRow>(r, ['kafka_partition', 'kafka_offset', 'inserted_at', 'kafka_timestamp']));
    const inserted = [...events, ...lateEvents, ...deadLetters].map((r) => r.inserted_at);
    const batches =
      inserted.length === 0
        ? []
        : (
            await rows<Record<string, unknown>>(
              ch,
              `SELECT query_name, batch_id, ${ms('batch_time')} AS batch_ms, batch_duration_ms FROM ${t.pipelineProgress} FINAL
               WHERE batch_time BETWEEN fromUnixTimestamp64Milli({from:Int64}) AND fromUnixTimestamp64Milli({to:Int64})`,
              { from: Math.min(...inserted) - BATCH_LOOKBACK_MS, to: Math.max(...inserted) },
            )
          ).map(({ batch_ms, ...r }) => numeric<BatchRow>({ ...r, batch_time: batch_ms }, ['batch_id', 'batch_time', 'batch_duration_ms']));
    const newest = Number((await rows<{ start: string }>(ch, `SELECT ${ms('max(batch_time)')} AS start FROM ${t.pipelineProgress}`, {}))[0]?.start ?? 0);
    facts = { eventId, events, lateEvents, deadLetters, batches, newestBatchStart: newest > 0 ? newest : undefined };
  } finally {
    await ch.close();
  }
  const { kafkaCopies, scanned } = await findKafkaCopies(e.kafka, eventId, facts);
  return { ...facts, kafkaCopies, scanned };
}

/** True when a record's value is this event: its JSON event_id, or (not JSON) the id anywhere in its text. */
export function recordCarries(value: Buffer | null, eventId: string): boolean {
  if (!value) return false;
  const text = value.toString('utf8');
  if (!text.toLowerCase().includes(eventId)) return false;
  try {
    const parsed = JSON.parse(text) as { event_id?: unknown };
    return typeof parsed?.event_id === 'string' ? parsed.event_id.toLowerCase() === eventId : true;
  } catch {
    return true;
  }
}

/**
 * Every copy is keyed by the same user_id, so it is in the partition of the rows found: only that
 * partition is read, from COPY_WINDOW_MS before the earliest row to COPY_WINDOW_MS after the latest.
 */
async function findKafkaCopies(
  kafka: StackEndpoints['kafka'],
  eventId: string,
  f: Pick<TraceFacts, 'events' | 'lateEvents' | 'deadLetters'>,
): Promise<{ kafkaCopies: KafkaCopy[]; scanned: ScannedRange[] }> {
  const topic = pipeline.kafka.topics.events.name;
  const anchors = new Map<number, { times: number[]; offsets: number[] }>();
  const note = (p: number, time: number, offset: number) => {
    const a = anchors.get(p) ?? { times: [], offsets: [] };
    a.times.push(time);
    a.offsets.push(offset);
    anchors.set(p, a);
  };
  for (const r of [...f.events, ...f.lateEvents]) note(r.kafka_partition, r.inserted_at, r.kafka_offset);
  for (const r of f.deadLetters) if (r.source_topic === topic) note(r.kafka_partition, r.kafka_timestamp, r.kafka_offset);
  if (anchors.size === 0) return { kafkaCopies: [], scanned: [] };
  const bounds = new Map((await partitionOffsets(kafka, topic)).map((p) => [p.partition, p]));
  const kafkaCopies: KafkaCopy[] = [];
  const scanned: ScannedRange[] = [];
  for (const [partition, a] of [...anchors].sort((x, y) => x[0] - y[0])) {
    const b = bounds.get(partition);
    if (!b) continue;
    const start = (await offsetsAtTime(kafka, topic, Math.min(...a.times) - COPY_WINDOW_MS)).get(partition) ?? b.low;
    const stop = (await offsetsAtTime(kafka, topic, Math.max(...a.times) + COPY_WINDOW_MS)).get(partition) ?? b.high;
    // The rows' own offsets are always read (a row inserted long after its append is before the window).
    const range = { topic, partition, from: Math.max(b.low, Math.min(start, ...a.offsets)), to: Math.min(b.high, Math.max(stop, ...a.offsets.map((o) => o + 1))) };
    await readPartitionRange(kafka, range, (r) => {
      if (recordCarries(r.value, eventId)) kafkaCopies.push({ partition: r.partition, offset: r.offset, timestamp: r.timestamp });
    });
    scanned.push({ topic, partition, from_offset: range.from, to_offset: range.to });
  }
  return { kafkaCopies, scanned };
}

export const traceCommand = defineCommand<{ eventId: string }>({
  name: 'trace',
  description: 'where one event went: its Kafka copies, the batch that read it, the table it is in',
  options: (cmd) => cmd.argument('<event_id>', 'the event_id (a UUID) of the event'),
  parse(raw) {
    return { eventId: parseEventId((raw.args as unknown[])[0]) };
  },
  async handler(ctx, o) {
    const target = await ctx.target();
    const report = assembleTrace(await fetchTraceFacts(await target.endpoints(), o.eventId));
    if (ctx.json) ctx.printJson(report);
    else for (const line of renderTrace(report)) ctx.print(line);
    return 0;
  },
});
