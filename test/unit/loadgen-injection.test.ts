import { describe, expect, it } from 'vitest';
import { validateEvent } from '../../src/contract/validate.ts';
import { EventGenerator, TOO_LARGE_BYTES, type GeneratedRecord, type GeneratorOptions } from '../../src/loadgen/events.ts';
import { RecordLog } from '../../src/loadgen/record-log.ts';
import { computeGroundTruth, TIERS, tierOf, type ModelRecord } from '../../src/model/ground-truth.ts';

/**
 * The generator's injections and the guarantees the ground-truth model relies on: exact duplicates
 * and out-of-order events safely inside the watermark, late events safely outside it, per-user
 * event_time strictly increasing, idle gaps > 30 min, and a user dimension with all four tiers.
 */

const T0 = Date.UTC(2026, 10, 26, 10, 0, 0, 0);
const N = 100_000;
// 30 ms of event time per record: 100k records = 50 min (as a 120 s run at 10k eps with eventTimeScale 25).
const opts: GeneratorOptions = {
  seed: 11,
  users: 3000,
  products: 500,
  now: () => T0 + 24 * 3600_000,
  userPrefix: 'rtest-',
  eventClock: { startMs: T0, stepMs: 30 },
  injection: { malformedFraction: 0.01 },
};

function generate(o: GeneratorOptions, n: number): GeneratedRecord[] {
  const g = new EventGenerator(o);
  return Array.from({ length: n }, () => g.nextRecord());
}

function toModel(r: GeneratedRecord): ModelRecord {
  if (r.kind === 'malformed') return { deadLetter: r.reason };
  const e = r.event;
  return {
    event: {
      event_id: e.event_id,
      event_type: e.event_type,
      event_time: Date.parse(e.event_time),
      user_id: e.user_id,
      ...(e.event_type === 'PRODUCT_VIEW' ? { product_id: e.product_id } : {}),
      ...(e.event_type === 'PURCHASE' ? { revenue: e.revenue } : {}),
    },
  };
}

const records = generate(opts, N);
const count = (what: string) => records.filter((r) => (r.kind === 'event' ? r.injected : r.reason) === what).length;
const users = new EventGenerator(opts).userDimension(T0);
const spend = new Map(users.map((u) => [u.user_id, u.lifetime_spend]));
// 20 s either side of the watermark: the generator keeps >= 30 s (safetyMarginMs) and >= 60 s (lateMarginMs).
const gt = computeGroundTruth(records.map(toModel), { lifetimeSpend: spend, ambiguityMs: 20_000 });

describe('generator injections (100k records, 50 min of event time)', () => {
  it('injects duplicates (~0.5%), late (~0.2%), out-of-order events, idle resumes and the 4 kinds of broken records', () => {
    expect(count('duplicate') / N).toBeGreaterThan(0.004);
    expect(count('duplicate') / N).toBeLessThan(0.006);
    expect(count('late') / N).toBeGreaterThan(0.0015);
    expect(count('late') / N).toBeLessThan(0.0025);
    expect(count('out_of_order')).toBeGreaterThan(1000);
    expect(count('resumed')).toBeGreaterThan(100);
    for (const reason of ['invalid_json', 'schema', 'not_utf8', 'too_large']) expect(count(reason), reason).toBeGreaterThan(100);
  });

  it('the model sees exactly what was injected, and nothing near the watermark or out of user order', () => {
    expect(gt.duplicates).toBe(count('duplicate'));
    expect(gt.late).toBe(count('late'));
    expect(gt.invalid).toBe(records.filter((r) => r.kind === 'malformed').length);
    expect(gt.ambiguous).toEqual({ lateBoundary: 0, userOrder: 0 });
  });

  it('late events only once the run holds events a late margin (60 s) older than the newest: an earlier batch moved the watermark', () => {
    let first = Infinity;
    let max = -Infinity;
    let lates = 0;
    for (const r of records) {
      if (r.kind !== 'event') continue;
      const t = Date.parse(r.event.event_time);
      if (r.injected === 'late') {
        lates++;
        expect(max - first).toBeGreaterThanOrEqual(60_000);
        expect(t).toBeLessThan(max - 120_000 - 60_000 + 1);
      }
      first = Math.min(first, t);
      max = Math.max(max, t);
    }
    expect(lates).toBeGreaterThan(0);
  });

  it('with a fast event clock (150 ms a record) duplicates stay safely on time and keep their rate', () => {
    const fast = generate({ ...opts, eventClock: { startMs: T0, stepMs: 150 } }, 30_000);
    const dups = fast.filter((r) => r.kind === 'event' && r.injected === 'duplicate').length;
    const g = computeGroundTruth(fast.map(toModel), { ambiguityMs: 20_000, keepRows: false });
    expect(dups / fast.length).toBeGreaterThan(0.004);
    expect(g.duplicates).toBe(dups);
    expect(g.ambiguous).toEqual({ lateBoundary: 0, userOrder: 0 });
  });

  it('every valid record passes the schema; a duplicate is the very same event', () => {
    const events = records.flatMap((r) => (r.kind === 'event' ? [r.event] : []));
    const invalid = events.filter((e) => !validateEvent(JSON.parse(JSON.stringify(e))).valid);
    expect(invalid.slice(0, 2)).toEqual([]);
    const firstById = new Map<string, unknown>();
    for (const r of records) {
      if (r.kind !== 'event') continue;
      if (r.injected === 'duplicate') expect(firstById.get(r.event.event_id)).toBe(r.event);
      else firstById.set(r.event.event_id, r.event);
    }
  });

  it('broken records are what their reason says', () => {
    for (const r of records) {
      if (r.kind !== 'malformed') continue;
      if (r.reason === 'too_large') expect(r.value.length).toBeGreaterThan(TOO_LARGE_BYTES);
      else expect(r.value.length).toBeLessThan(TOO_LARGE_BYTES);
    }
  });

  it('each user\'s on-time events are strictly increasing in event_time', () => {
    const last = new Map<string, number>();
    for (const r of records) {
      if (r.kind !== 'event' || r.injected === 'duplicate' || r.injected === 'late') continue;
      const t = Date.parse(r.event.event_time);
      expect(t).toBeGreaterThan(last.get(r.event.user_id) ?? -Infinity);
      last.set(r.event.user_id, t);
    }
  });

  it('sessions end by LOGOUT and by timeout; idle gaps > 30 min split sessions; tiers change, some by two', () => {
    const closed = gt.sessions.filter((s) => s.status === 'closed');
    expect(closed.filter((s) => s.ended_by === 'logout').length).toBeGreaterThan(1000);
    expect(closed.filter((s) => s.ended_by === 'timeout').length).toBeGreaterThan(30);
    expect(gt.sessions.filter((s) => s.status === 'active').length).toBeGreaterThan(100);
    const perUser = new Map<string, number>();
    for (const s of gt.sessions) perUser.set(s.user_id, (perUser.get(s.user_id) ?? 0) + 1);
    expect([...perUser.values()].some((n) => n > 1)).toBe(true);
    expect(gt.tierChanges.length).toBeGreaterThan(50);
    const rank = (t: string) => TIERS.indexOf(t as (typeof TIERS)[number]);
    expect(gt.tierChanges.some((c) => rank(c.to_tier) - rank(c.from_tier) === 2)).toBe(true);
    for (const tier of TIERS) expect(gt.funnel[tier][0], tier).toBeGreaterThan(0);
    expect(gt.funnel.Bronze[3]).toBeGreaterThan(0);
  });

  it('the RecordLog replays exactly the records (same ground truth)', () => {
    const log = new RecordLog(16);
    for (const r of records) {
      if (r.kind === 'malformed') log.addDeadLetter(r.reason);
      else log.addEvent(r.event);
    }
    expect(log.length).toBe(N);
    const replayed = [...log.records()];
    expect(replayed).toEqual(records.map(toModel));
    const fromLog = computeGroundTruth(log.records(), { lifetimeSpend: spend, ambiguityMs: 20_000, keepRows: false });
    expect(fromLog.sessions).toEqual(gt.sessions);
    expect(fromLog.tierChanges).toEqual(gt.tierChanges);
    expect(fromLog.eventsBySessionTier).toEqual(gt.eventsBySessionTier);
  });

  it('is deterministic per seed', () => {
    expect(generate(opts, 3000)).toEqual(records.slice(0, 3000));
  });

  it('event_time never runs ahead of the wall clock (beyond a user\'s 1 ms steps within one ms)', () => {
    // A wall clock at 10 records per ms (10k/s); the event clock starts 5 min back, 30 ms a record: capped after 10k records.
    let calls = 0;
    const wall = () => T0 + Math.floor(calls++ / 10);
    const g = new EventGenerator({ ...opts, now: wall, eventClock: { startMs: T0 - 5 * 60_000, stepMs: 30 } });
    let ahead = 0;
    for (let i = 0; i < 20_000; i++) {
      const r = g.nextRecord();
      const now = T0 + Math.floor((calls - 1) / 10);
      if (r.kind === 'event') ahead = Math.max(ahead, Date.parse(r.event.event_time) - now);
    }
    expect(ahead).toBeLessThanOrEqual(2);
  });
});

describe('user dimension', () => {
  it('all four tiers, with users just below each threshold; published shape', () => {
    const byTier = Object.fromEntries(TIERS.map((t) => [t, users.filter((u) => tierOf(u.lifetime_spend) === t).length]));
    for (const t of TIERS) expect(byTier[t], t).toBeGreaterThan(users.length * 0.05);
    expect(users.filter((u) => u.lifetime_spend >= 350 && u.lifetime_spend < 500).length).toBeGreaterThan(users.length * 0.1);
    expect(users[0]).toEqual({ user_id: 'rtest-000000', signup_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), country: expect.stringMatching(/^[A-Z]{2}$/), lifetime_spend: expect.any(Number) });
    expect(new Set(users.map((u) => u.user_id)).size).toBe(users.length);
  });
});
