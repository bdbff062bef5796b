import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_REASONS, eventSchema, pipeline } from '../../src/contract/index.ts';
import { validateEvent } from '../../src/contract/validate.ts';
import { EventGenerator, malformedRecord, type MalformedKind } from '../../src/loadgen/events.ts';
import { computeGroundTruth, MAX_EVENT_AGE_MS, MAX_EVENT_TIME_AHEAD_MS, type ModelRecord } from '../../src/model/ground-truth.ts';

/** Property-based tests (fast-check): the generator, the schema validator and the ground-truth model. */
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0, 0);
const REQUIRED = (eventSchema as { required: string[] }).required;
const PROPERTIES = Object.keys((eventSchema as { properties: Record<string, unknown> }).properties);

const generated = (seed: number, n: number) => {
  const gen = new EventGenerator({ seed, users: 50, products: 20, now: () => NOW });
  return Array.from({ length: n }, () => gen.next());
};

describe('generator and validator', () => {
  it('every event the generator makes, for any seed, passes the schema', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        for (const e of generated(seed, 200)) expect(validateEvent(e), JSON.stringify(e)).toEqual({ valid: true });
      }),
      { numRuns: 50 },
    );
  });

  it('every broken record the generator makes fails in the way its kind says', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom<MalformedKind>('invalid_json', 'schema', 'not_utf8', 'too_large'), (seed, kind) => {
        const value = malformedRecord(generated(seed, 1)[0]!, kind);
        const decode = () => new TextDecoder('utf-8', { fatal: true }).decode(value);
        if (kind === 'not_utf8') expect(decode).toThrow();
        else if (kind === 'too_large') expect(value.length).toBeGreaterThan(pipeline.deadLetter.maxEventBytes);
        else if (kind === 'invalid_json') expect(() => JSON.parse(decode())).toThrow();
        else expect(validateEvent(JSON.parse(decode())).valid).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  // One violation applied to a valid event: the schema must reject it.
  const violation = fc.oneof(
    fc.constantFrom(...REQUIRED).map((field) => (e: Record<string, unknown>) => void delete e[field]),
    // Not __proto__: assigning it sets the prototype and adds no property (the event stays valid).
    fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !PROPERTIES.includes(k) && k !== '__proto__').map((k) => (e: Record<string, unknown>) => void (e[k] = 1)),
    fc.string().filter((t) => !(eventSchema as { properties: { event_type: { enum: string[] } } }).properties.event_type.enum.includes(t)).map((t) => (e: Record<string, unknown>) => void (e.event_type = t)),
    fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer())).map((v) => (e: Record<string, unknown>) => void (e.user_id = v)),
    fc.oneof(fc.string(), fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)), fc.constant(-1)).map((v) => (e: Record<string, unknown>) => void (e.schema_version = v)),
    fc.string().filter((s) => !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(s)).map((t) => (e: Record<string, unknown>) => void (e.event_time = t)),
  );

  it('any single violation of the schema is rejected', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), violation, (seed, violate) => {
        const e = structuredClone(generated(seed, 1)[0]!) as unknown as Record<string, unknown>;
        violate(e);
        expect(validateEvent(e).valid, JSON.stringify(e)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('ground-truth model', () => {
  const DAY = 86_400_000;
  /** Records around NOW: event_time up to 2 days either side of its Kafka timestamp, repeats of earlier ids, dead letters. */
  const records = fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.record({ user: fc.integer({ min: 0, max: 5 }), time: fc.integer({ min: -9 * DAY, max: 2 * DAY }), kafka: fc.integer({ min: 0, max: 10 * 60_000 }), repeat: fc.boolean() }) },
      { weight: 1, arbitrary: fc.constantFrom(...DEAD_LETTER_REASONS.filter((r) => !r.endsWith('event_time'))) },
    ),
    { maxLength: 200 },
  );

  it('accounts for every record once, and no event beyond the bounds reaches the watermark or the tables', () => {
    fc.assert(
      fc.property(records, (rs) => {
        const sent: ModelRecord[] = [];
        const ids: string[] = [];
        for (const r of rs) {
          if (typeof r === 'string') {
            sent.push({ deadLetter: r });
            continue;
          }
          const id = r.repeat && ids.length > 0 ? ids[ids.length - 1]! : `00000000-0000-4000-8000-${String(ids.length).padStart(12, '0')}`;
          ids.push(id);
          sent.push({ event: { event_id: id, event_type: 'PAGE_VIEW', event_time: NOW + r.time, user_id: `u${r.user}`, kafka_time: NOW + r.kafka } });
        }
        const gt = computeGroundTruth(sent);
        expect(gt.records).toBe(sent.length);
        expect(gt.valid + gt.invalid).toBe(gt.records);
        expect(gt.accepted + gt.late + gt.duplicates).toBe(gt.valid);
        expect(Object.values(gt.deadLetters).reduce((a, b) => a + b, 0)).toBe(gt.invalid);
        const inBounds = sent
          .map((r) => r.event)
          .filter((e): e is NonNullable<typeof e> => !!e && e.event_time - e.kafka_time! <= MAX_EVENT_TIME_AHEAD_MS && e.kafka_time! - e.event_time <= MAX_EVENT_AGE_MS);
        expect(gt.valid).toBe(inBounds.length);
        const maxTime = Math.max(-Infinity, ...inBounds.map((e) => e.event_time));
        expect(gt.finalWatermark).toBe(maxTime - pipeline.spark.watermarkDelaySeconds * 1000);
        for (const row of gt.events) expect(row.event_time).toBeLessThanOrEqual(maxTime);
      }),
      { numRuns: 300 },
    );
  });
});
