import { SpeedlayerError, UsageError } from '../base/errors.ts';
import { pipeline } from '../contract/index.ts';

/** The event_id pattern of event.schema.json. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The id in lower case (as ClickHouse prints a UUID), or a UsageError. */
export function parseEventId(raw: unknown): string {
  const id = typeof raw === 'string' ? raw.trim() : '';
  if (!UUID.test(id)) {
    throw new UsageError(`'${String(raw ?? '')}' is not an event_id: event.schema.json requires a UUID`, {
      fix: 'Pass the event_id field of the event, e.g. speedlayer trace 0b6f3c1e-8a2d-4f5b-9c7e-1d2a3b4c5d6e',
    });
  }
  return id.toLowerCase();
}

export interface StoredRow {
  kafka_partition: number;
  kafka_offset: number;
  /** ms since the epoch: when the job's insert reached ClickHouse. */
  inserted_at: number;
}
export interface EventRow extends StoredRow {
  session_id: string;
  tier: string;
}
export interface LateRow extends StoredRow {
  session_id: string;
  tier: string;
  watermark: number;
}
export interface DeadLetterRow extends StoredRow {
  reason: string;
  error: string;
  source_topic: string;
  kafka_timestamp: number;
}
export interface BatchRow {
  query_name: string;
  batch_id: number;
  batch_time: number;
  batch_duration_ms: number;
}
export interface KafkaCopy {
  partition: number;
  offset: number;
  timestamp: number;
}
export interface ScannedRange {
  topic: string;
  partition: number;
  from_offset: number;
  to_offset: number;
}

/** What fetchTraceFacts found: the rows naming the id, the batches around them, the Kafka copies in the scanned ranges. */
export interface TraceFacts {
  eventId: string;
  events: EventRow[];
  lateEvents: LateRow[];
  deadLetters: DeadLetterRow[];
  batches: BatchRow[];
  /**
   * Start (ms) of the job's newest batch: a batch reads what was appended before it started, so a copy
   * appended later has not been read yet (nor has an earlier one while the job is behind: a batch reads at
   * most spark.maxOffsetsPerTrigger records).
   */
  newestBatchStart: number | undefined;
  kafkaCopies: KafkaCopy[];
  scanned: ScannedRange[];
}

export type CopyFate = 'stored' | 'late' | 'dead_letter' | 'dropped_duplicate' | 'not_read_yet' | 'unaccounted';

export interface TracedCopy {
  partition: number;
  offset: number;
  /** ISO-8601; null when the copy was not among the Kafka records read (outside the window or expired). */
  kafka_timestamp: string | null;
  fate: CopyFate;
  /** The micro-batch whose [batch_time, batch_time + duration] holds the row's inserted_at; null when no row was written. */
  batch: { query_name: string; batch_id: number; batch_time: string } | null;
  session_id?: string;
  tier?: string;
  watermark?: string;
  reason?: string;
  error?: string;
  /** For a dropped duplicate: the copy that was stored. */
  duplicate_of?: { partition: number; offset: number };
}

export interface TraceReport {
  event_id: string;
  /** Where it ended: the table holding it (events wins over late_events over dead_letters). */
  outcome: 'events' | 'late_events' | 'dead_letters' | 'not_stored';
  copies: TracedCopy[];
  scanned: ScannedRange[];
  notes: string[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export function batchOf(batches: BatchRow[], insertedAt: number): TracedCopy['batch'] {
  const b = batches
    .filter((x) => x.batch_time <= insertedAt && insertedAt <= x.batch_time + x.batch_duration_ms)
    .sort((a, b) => b.batch_time - a.batch_time)[0];
  return b ? { query_name: b.query_name, batch_id: b.batch_id, batch_time: iso(b.batch_time) } : null;
}

/** Pure: every copy with its fate, or a SpeedlayerError when nothing names the id. */
export function assembleTrace(f: TraceFacts): TraceReport {
  const tables = pipeline.clickhouse.tables;
  const eventsTopic = pipeline.kafka.topics.events.name;
  if (f.events.length + f.lateEvents.length + f.deadLetters.length + f.kafkaCopies.length === 0) {
    throw new SpeedlayerError(`event ${f.eventId} is in none of ${tables.events}, ${tables.lateEvents}, ${tables.deadLetters}`, {
      fix:
        'Check the id (the event_id field of the event). Rows are kept 7 days; an event sent seconds ago may not be written yet ' +
        `(run 'speedlayer status' to see the job's newest batch). A dead letter whose payload was cut at ${pipeline.deadLetter.maxPayloadBytes} bytes ` +
        'before the id cannot be found by it.',
    });
  }
  const key = (p: number, o: number) => `${p}/${o}`;
  const seen = new Map(f.kafkaCopies.map((c) => [key(c.partition, c.offset), c.timestamp]));
  const copies = new Map<string, TracedCopy>();
  const add = (row: StoredRow, fate: CopyFate, extra: Partial<TracedCopy>) => {
    const k = key(row.kafka_partition, row.kafka_offset);
    if (copies.has(k)) return; // the same copy twice (an unmerged replayed insert)
    const ts = seen.get(k);
    copies.set(k, {
      partition: row.kafka_partition,
      offset: row.kafka_offset,
      kafka_timestamp: ts === undefined ? null : iso(ts),
      fate,
      batch: batchOf(f.batches, row.inserted_at),
      ...extra,
    });
  };
  for (const r of f.events) add(r, 'stored', { session_id: r.session_id, tier: r.tier });
  for (const r of f.lateEvents) add(r, 'late', { session_id: r.session_id, tier: r.tier, watermark: iso(r.watermark) });
  for (const r of f.deadLetters.filter((d) => d.source_topic === eventsTopic)) {
    add(r, 'dead_letter', { reason: r.reason, error: r.error });
    copies.get(key(r.kafka_partition, r.kafka_offset))!.kafka_timestamp ??= iso(r.kafka_timestamp);
  }
  const stored = [...copies.values()].find((c) => c.fate === 'stored');
  for (const c of f.kafkaCopies) {
    if (copies.has(key(c.partition, c.offset))) continue;
    const notRead = f.newestBatchStart === undefined || c.timestamp >= f.newestBatchStart;
    const fate: CopyFate = notRead ? 'not_read_yet' : stored ? 'dropped_duplicate' : 'unaccounted';
    copies.set(key(c.partition, c.offset), {
      partition: c.partition,
      offset: c.offset,
      kafka_timestamp: iso(c.timestamp),
      fate,
      batch: null,
      ...(fate === 'dropped_duplicate' ? { duplicate_of: { partition: stored!.partition, offset: stored!.offset } } : {}),
    });
  }
  const sorted = [...copies.values()].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const notes = [
    'The batch of a copy is the micro-batch whose [batch_time, batch_time + batch_duration_ms] holds the row\'s inserted_at ' +
      `(${tables.pipelineProgress} records no offsets); a dropped duplicate writes no row, so its batch is not known.`,
  ];
  if (f.scanned.length === 0) notes.push('No Kafka partition was read: the partition of a copy is known only from a row.');
  else
    notes.push(
      `Copies were searched in ${f.scanned.map((s) => `${s.topic}[${s.partition}] offsets ${s.from_offset}..${s.to_offset - 1}`).join(', ')} ` +
        '(a window around the rows found); copies outside it are not listed.',
    );
  const otherTopics = f.deadLetters.filter((d) => d.source_topic !== eventsTopic);
  if (otherTopics.length > 0) notes.push(`Also named in dead letters of ${[...new Set(otherTopics.map((d) => d.source_topic))].join(', ')} (not copies of the event).`);
  if (sorted.some((c) => c.fate === 'unaccounted'))
    notes.push('A copy with no row while no copy is stored in events is unaccounted for: the job read past it but wrote it nowhere.');
  if (sorted.some((c) => c.fate === 'not_read_yet')) notes.push("A copy appended after the job's newest batch started has not been read yet.");
  return {
    event_id: f.eventId,
    outcome: stored ? 'events' : sorted.some((c) => c.fate === 'late') ? 'late_events' : sorted.some((c) => c.fate === 'dead_letter') ? 'dead_letters' : 'not_stored',
    copies: sorted,
    scanned: f.scanned,
    notes,
  };
}

const FATE_TEXT: Record<CopyFate, (c: TracedCopy) => string> = {
  stored: (c) => `stored in ${pipeline.clickhouse.tables.events} (session ${c.session_id || '-'}, tier ${c.tier || '-'})`,
  late: (c) => `late: in ${pipeline.clickhouse.tables.lateEvents} (watermark ${c.watermark}, session ${c.session_id || '-'}, tier ${c.tier || '-'})`,
  dead_letter: (c) => `dead letter: ${c.reason} (${c.error})`,
  dropped_duplicate: (c) => `dropped as a duplicate of ${c.duplicate_of!.partition}/${c.duplicate_of!.offset}`,
  not_read_yet: () => 'not read by the job yet',
  unaccounted: () => 'no row in any table',
};

export function renderTrace(r: TraceReport): string[] {
  const lines = [`event ${r.event_id}: ${r.outcome === 'not_stored' ? 'in no table' : `in ${r.outcome}`}, ${r.copies.length} Kafka cop${r.copies.length === 1 ? 'y' : 'ies'}`];
  for (const c of r.copies) {
    const batch = c.batch ? `, batch ${c.batch.batch_id} at ${c.batch.batch_time}` : '';
    lines.push(`  partition ${c.partition} offset ${c.offset}${c.kafka_timestamp ? ` (${c.kafka_timestamp})` : ''}: ${FATE_TEXT[c.fate](c)}${batch}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines;
}
