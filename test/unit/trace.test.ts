import { describe, expect, it } from 'vitest';
import { SpeedlayerError, UsageError } from '../../src/base/errors.ts';
import { pipeline } from '../../src/contract/index.ts';
import { recordCarries } from '../../src/commands/trace.ts';
import { assembleTrace, parseEventId, renderTrace, type TraceFacts } from '../../src/commands/trace-report.ts';

const ID = '0b6f3c1e-8a2d-4f5b-9c7e-1d2a3b4c5d6e';
const T0 = Date.parse('2026-11-28T05:00:00.000Z');
const batches = [
  { query_name: 'q', batch_id: 7, batch_time: T0, batch_duration_ms: 1500 },
  { query_name: 'q', batch_id: 8, batch_time: T0 + 2000, batch_duration_ms: 1800 },
];
const none: TraceFacts = { eventId: ID, events: [], lateEvents: [], deadLetters: [], batches, newestBatchStart: T0 + 2000, kafkaCopies: [], scanned: [] };
const scanned = [{ topic: pipeline.kafka.topics.events.name, partition: 3, from_offset: 0, to_offset: 100 }];

describe('trace assembly', () => {
  it('a stored event and its dropped duplicate: both copies, the stored one with session, tier and batch', () => {
    const r = assembleTrace({
      ...none,
      events: [{ kafka_partition: 3, kafka_offset: 41, inserted_at: T0 + 1200, session_id: 's-1', tier: 'Gold' }],
      kafkaCopies: [
        { partition: 3, offset: 41, timestamp: T0 - 500 },
        { partition: 3, offset: 57, timestamp: T0 + 1000 },
      ],
      scanned,
    });
    expect(r.outcome).toBe('events');
    expect(r.copies).toEqual([
      { partition: 3, offset: 41, kafka_timestamp: new Date(T0 - 500).toISOString(), fate: 'stored', batch: { query_name: 'q', batch_id: 7, batch_time: new Date(T0).toISOString() }, session_id: 's-1', tier: 'Gold' },
      { partition: 3, offset: 57, kafka_timestamp: new Date(T0 + 1000).toISOString(), fate: 'dropped_duplicate', batch: null, duplicate_of: { partition: 3, offset: 41 } },
    ]);
    const text = renderTrace(r).join('\n');
    expect(text).toContain('partition 3 offset 41');
    expect(text).toContain('stored in events (session s-1, tier Gold), batch 7');
    expect(text).toContain('partition 3 offset 57');
    expect(text).toContain('dropped as a duplicate of 3/41');
    expect(text).toMatch(/inserted_at/);
  });

  it('a late event: in late_events with its watermark and the batch whose span holds inserted_at', () => {
    const r = assembleTrace({
      ...none,
      lateEvents: [{ kafka_partition: 1, kafka_offset: 9, inserted_at: T0 + 3500, session_id: '', tier: 'Bronze', watermark: T0 - 120_000 }],
      kafkaCopies: [{ partition: 1, offset: 9, timestamp: T0 + 1900 }],
    });
    expect(r.outcome).toBe('late_events');
    expect(r.copies).toHaveLength(1);
    expect(r.copies[0]).toMatchObject({ fate: 'late', watermark: new Date(T0 - 120_000).toISOString(), batch: { batch_id: 8 } });
    expect(renderTrace(r)[1]).toContain('late: in late_events');
  });

  it('a dead letter: the reason and error, its Kafka timestamp from the row when the record was not read', () => {
    const r = assembleTrace({
      ...none,
      deadLetters: [{ kafka_partition: 2, kafka_offset: 5, inserted_at: T0 + 100, reason: 'schema', error: '/device: required', source_topic: pipeline.kafka.topics.events.name, kafka_timestamp: T0 - 50 }],
    });
    expect(r.outcome).toBe('dead_letters');
    expect(r.copies[0]).toMatchObject({ fate: 'dead_letter', reason: 'schema', error: '/device: required', kafka_timestamp: new Date(T0 - 50).toISOString(), batch: { batch_id: 7 } });
    expect(renderTrace(r).join('\n')).toContain('dead letter: schema (/device: required)');
  });

  it('a copy with no row: not read yet when appended after the newest batch started, unaccounted when nothing is stored', () => {
    const r = assembleTrace({
      ...none,
      lateEvents: [{ kafka_partition: 1, kafka_offset: 9, inserted_at: T0 + 3500, session_id: '', tier: '', watermark: T0 }],
      kafkaCopies: [
        { partition: 1, offset: 9, timestamp: T0 + 1900 },
        { partition: 1, offset: 12, timestamp: T0 + 1950 },
        { partition: 1, offset: 30, timestamp: T0 + 9000 },
      ],
    });
    expect(r.copies.map((c) => c.fate)).toEqual(['late', 'unaccounted', 'not_read_yet']);
  });

  it('an unknown id is a SpeedlayerError with a fix; a malformed id a UsageError with a fix', () => {
    let err: unknown;
    try {
      assembleTrace(none);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpeedlayerError);
    expect((err as SpeedlayerError).message).toContain(ID);
    expect((err as SpeedlayerError).fix).toMatch(/Check the id/);
    expect(() => parseEventId('not-a-uuid')).toThrow(UsageError);
    expect(() => parseEventId(undefined)).toThrow(/requires a UUID/);
    expect(parseEventId(ID.toUpperCase())).toBe(ID);
  });
});

describe('recordCarries', () => {
  it('matches the JSON event_id, or the id in a record that is not JSON, never the id in another field', () => {
    expect(recordCarries(Buffer.from(JSON.stringify({ event_id: ID.toUpperCase(), user_id: 'u' })), ID)).toBe(true);
    expect(recordCarries(Buffer.from(`{"event_id":"${ID}", broken`), ID)).toBe(true);
    expect(recordCarries(Buffer.from(JSON.stringify({ event_id: 'other', order_id: ID })), ID)).toBe(false);
    expect(recordCarries(Buffer.from(JSON.stringify({ event_id: 'other' })), ID)).toBe(false);
    expect(recordCarries(null, ID)).toBe(false);
  });
});
