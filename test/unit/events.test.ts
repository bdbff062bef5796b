import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/contract/index.ts';
import { validateEvent } from '../../src/contract/validate.ts';
import { EventGenerator, malformedRecord } from '../../src/loadgen/events.ts';

describe('event generator', () => {
  const gen = new EventGenerator({ seed: 42, users: 1000, products: 100, now: () => Date.UTC(2026, 10, 26, 12, 0, 0, 123) });
  const events = Array.from({ length: 20000 }, () => gen.next());

  it('produces only events that pass the JSON Schema', () => {
    const invalid = events.map((e) => ({ e, r: validateEvent(e) })).filter((x) => !x.r.valid);
    expect(invalid.slice(0, 3)).toEqual([]);
  });

  it('produces all 9 event types', () => {
    expect(new Set(events.map((e) => e.event_type))).toEqual(new Set(EVENT_TYPES));
    expect(EVENT_TYPES).toHaveLength(9);
  });

  it('is deterministic per seed', () => {
    const a = new EventGenerator({ seed: 7, users: 10, products: 10, now: () => 0 });
    const b = new EventGenerator({ seed: 7, users: 10, products: 10, now: () => 0 });
    expect(Array.from({ length: 50 }, () => a.next())).toEqual(Array.from({ length: 50 }, () => b.next()));
  });

  it('purchases carry items whose total is the revenue', () => {
    const purchases = events.filter((e) => e.event_type === 'PURCHASE');
    expect(purchases.length).toBeGreaterThan(0);
    for (const p of purchases) {
      const total = p.items!.reduce((s, i) => s + i.price * i.quantity, 0);
      expect(p.revenue).toBeCloseTo(total, 2);
    }
  });
});

describe('malformed records', () => {
  const event = new EventGenerator({ seed: 1, users: 5, products: 5 }).next();

  it('invalid_json does not parse', () => {
    expect(() => JSON.parse(malformedRecord(event, 'invalid_json').toString('utf8'))).toThrow();
  });

  it('schema parses but fails the schema', () => {
    const parsed = JSON.parse(malformedRecord(event, 'schema').toString('utf8'));
    expect(validateEvent(parsed).valid).toBe(false);
  });

  it('not_utf8 is not valid UTF-8', () => {
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(malformedRecord(event, 'not_utf8'))).toThrow();
  });
});

describe('schema rules', () => {
  const ok = {
    schema_version: 1,
    event_id: '0b9d3c1e-5f2a-4c3b-9d8e-1a2b3c4d5e6f',
    event_type: 'SEARCH',
    event_time: '2026-11-26T12:00:00.123Z',
    user_id: 'u1',
    device: 'mobile',
    query: 'lego',
  };
  it.each([
    ['missing per-type field', { ...ok, query: undefined }],
    ['bad uuid', { ...ok, event_id: 'nope' }],
    ['time without ms', { ...ok, event_time: '2026-11-26T12:00:00Z' }],
    ['unknown type', { ...ok, event_type: 'TELEPORT' }],
    ['extra property', { ...ok, colour: 'red' }],
    ['wrong version', { ...ok, schema_version: 2 }],
  ])('rejects %s', (_name, value) => {
    expect(validateEvent(JSON.parse(JSON.stringify(value))).valid).toBe(false);
  });
  it('accepts a valid event', () => expect(validateEvent(ok)).toEqual({ valid: true }));
});
