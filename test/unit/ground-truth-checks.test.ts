import { describe, expect, it } from 'vitest';
import { groundTruthChecks, type ClickHouseFacts } from '../../src/loadtest/ground-truth-checks.ts';
import { computeGroundTruth, sessionId, type GroundTruth, type ModelRecord } from '../../src/model/ground-truth.ts';

/** The comparison against ClickHouse, fed facts a perfect job would produce, then broken one at a time. */

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0, 0);
const MIN = 60_000;
let seq = 0;
function ev(user: string, type: string, t: number, extra: Record<string, unknown> = {}): ModelRecord {
  seq++;
  return { event: { event_id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, event_type: type, event_time: T0 + t, user_id: user, ...extra } };
}

const dup = ev('r1-a', 'PAGE_VIEW', 0);
const records: ModelRecord[] = [
  dup,
  ev('r1-a', 'PRODUCT_VIEW', 1000, { product_id: 'p1' }),
  ev('r1-a', 'ADD_TO_CART', 2000, { product_id: 'p1' }),
  ev('r1-a', 'LOGOUT', 3000), // closed, abandoned
  { event: { ...dup.event! } },
  ev('r1-b', 'PRODUCT_VIEW', 0, { product_id: 'p2' }),
  ev('r1-b', 'ADD_TO_CART', 1000, { product_id: 'p2' }),
  ev('r1-b', 'CHECKOUT_START', 2000),
  ev('r1-b', 'PURCHASE', 3000, { revenue: 1700 }), // Bronze -> Gold
  { deadLetter: 'schema' },
  ev('r1-c', 'SEARCH', 40 * MIN), // u-b's session (end 3 s) closes when the watermark passes 30 min 3 s: it is at 38 min
  ev('r1-a', 'ADD_TO_CART', 41 * MIN, { product_id: 'p1' }), // active at the end, cart without purchase
  ev('r1-c', 'PAGE_VIEW', 10 * MIN), // late
];
const gt = computeGroundTruth(records, { lifetimeSpend: new Map([['r1-a', 100], ['r1-b', 400]]) });

/** What a job that follows docs/processing.md writes, with its last watermark = the model's. */
function perfectFacts(g: GroundTruth): ClickHouseFacts {
  return {
    events: { rows: g.accepted, distinct: g.accepted, revenue: g.revenue, orders: g.orders },
    eventsByTypeTier: new Map(g.eventsByTypeTier),
    eventsBySessionTier: new Map(g.eventsBySessionTier),
    late: { rows: g.late, distinct: g.late },
    deadLetters: Object.fromEntries(Object.entries(g.deadLetters).filter(([, v]) => v > 0)),
    progress: { batches: 5, duplicateRows: g.duplicates, lateRows: g.late, watermark: g.finalWatermark },
    sessions: g.sessions.map(({ ended_by: _e, ...s }) => ({ ...s, counts: { ...s.counts } })),
    tierChanges: g.tierChanges.map((c) => ({ ...c })),
  };
}
const failing = (f: ClickHouseFacts) => groundTruthChecks(gt, f).filter((c) => !c.passed).map((c) => c.name);

describe('ground-truth checks', () => {
  it('the scenario covers: a duplicate, a late event, a dead letter, closed by logout and by timeout, active, two-tier jump', () => {
    expect([gt.accepted, gt.duplicates, gt.late, gt.invalid]).toEqual([10, 1, 1, 1]);
    expect(gt.sessions.map((s) => [s.user_id, s.status, s.ended_by, s.cart_abandoned])).toEqual([
      ['r1-a', 'closed', 'logout', 1],
      ['r1-b', 'closed', 'timeout', 0],
      ['r1-c', 'active', 'timeout', 0],
      ['r1-a', 'active', 'timeout', 0],
    ]);
    expect(gt.tierChanges.map((c) => [c.from_tier, c.to_tier])).toEqual([['Bronze', 'Gold']]);
  });

  it('a perfect job passes every check', () => {
    const checks = groundTruthChecks(gt, perfectFacts(gt));
    expect(checks.filter((c) => !c.passed)).toEqual([]);
    expect(checks.length).toBeGreaterThan(20);
  });

  it('reports every kind of difference as a failed check', () => {
    const f = () => perfectFacts(gt);
    let x = f();
    x.events.rows++;
    expect(failing(x)).toEqual(['events rows (valid, on time, first of their id)', 'no event_id twice in events']);
    x = f();
    x.progress.duplicateRows = 0;
    expect(failing(x)).toEqual(['duplicates dropped (pipeline_progress)']);
    x = f();
    x.progress = { batches: 0, duplicateRows: 0, lateRows: 0, watermark: null };
    expect(failing(x)).toEqual(['duplicates dropped (pipeline_progress)']);
    x = f();
    x.late.rows = 0;
    expect(failing(x)).toEqual(['late events (late_events)']);
    x = f();
    x.deadLetters = { schema: 1, late: 1 };
    expect(failing(x)).toEqual(['dead letters: other reasons']);
    x = f();
    x.events.revenue += 0.02;
    expect(failing(x)).toEqual(['revenue (PURCHASE events)']);
    x = f();
    x.eventsByTypeTier.set('PURCHASE|Gold', 1);
    x.eventsByTypeTier.delete('PURCHASE|Bronze');
    expect(failing(x)).toEqual(['events by type and tier']);
    x = f();
    x.tierChanges[0]!.to_tier = 'Silver';
    expect(failing(x)).toEqual(['tier changes matching the model', 'users per final tier (Bronze / Silver / Gold / Platinum)']);
    x = f();
    x.tierChanges.push({ ...x.tierChanges[0]! });
    expect(failing(x)).toEqual(['tier changes', 'tier changes matching the model']);
  });

  it('sessions: a missing or different row, a wrong tier, a wrong funnel stage', () => {
    let x = perfectFacts(gt);
    x.sessions.pop(); // r1-a's second session: a cart add without a view is stage 0, so the funnel is unchanged
    expect(failing(x)).toEqual(['sessions', 'sessions matching the model (every field)']);
    x = perfectFacts(gt);
    x.sessions.shift();
    expect(failing(x)).toEqual([
      'sessions', 'sessions matching the model (every field)', 'closed sessions (LOGOUT, or watermark past end + 30 min)', 'cart-abandoned sessions',
      'funnel Bronze (view / cart / checkout / purchase)',
    ]);
    x = perfectFacts(gt);
    x.sessions[0]!.products_viewed = 2;
    const checks = groundTruthChecks(gt, x).filter((c) => !c.passed);
    expect(checks.map((c) => c.name)).toEqual(['sessions matching the model (every field)']);
    expect(checks[0]!.actual).toContain('products_viewed 2 (expected 1)');
    x = perfectFacts(gt);
    x.sessions[1]!.tier = 'Silver';
    expect(failing(x)).toEqual(['sessions matching the model (every field)', 'funnel Bronze (view / cart / checkout / purchase)', 'funnel Silver (view / cart / checkout / purchase)']);
  });

  it('session status: closed once the job\'s watermark passed end + 30 min; may be closed up to the model\'s final watermark', () => {
    const b = gt.sessions[1]!; // r1-b, ended at 3 s, timeout at 30 min 3 s
    // The job reports a watermark short of b's timeout: b may still be active, or already closed (model's watermark passed it).
    let x = perfectFacts(gt);
    x.progress.watermark = T0 + 30 * MIN + 3000;
    expect(failing(x)).toEqual([]);
    x.sessions[1]!.status = 'active';
    expect(failing(x)).toEqual([]);
    // ... but once the job's watermark passed it, it must be closed.
    x.progress.watermark = T0 + 30 * MIN + 3001;
    expect(failing(x)).toEqual(['sessions matching the model (every field)', 'closed sessions (LOGOUT, or watermark past end + 30 min)']);
    // An active session closed early; a LOGOUT session left active; cart_abandoned must follow the status.
    x = perfectFacts(gt);
    x.sessions[3]!.status = 'closed';
    x.sessions[3]!.cart_abandoned = 1;
    expect(failing(x)).toEqual(['sessions matching the model (every field)', 'closed sessions (LOGOUT, or watermark past end + 30 min)', 'cart-abandoned sessions']);
    x = perfectFacts(gt);
    x.sessions[0]!.status = 'active';
    x.sessions[0]!.cart_abandoned = 0;
    expect(failing(x)).toEqual(['sessions matching the model (every field)', 'closed sessions (LOGOUT, or watermark past end + 30 min)', 'cart-abandoned sessions']);
    x = perfectFacts(gt);
    x.sessions[0]!.cart_abandoned = 0;
    expect(failing(x)).toEqual(['sessions matching the model (every field)', 'cart-abandoned sessions']);
    expect(b.session_id).toBe(sessionId('r1-b', T0));
  });

  it('a session the user has a later one of may be closed early (when the later one starts)', () => {
    const g = computeGroundTruth([ev('s1', 'ADD_TO_CART', 0), ev('s1', 'PAGE_VIEW', 31 * MIN), ev('s2', 'PAGE_VIEW', 32 * MIN)]);
    expect(g.sessions.map((s) => [s.user_id, s.start_time - T0, s.status])).toEqual([['s1', 0, 'active'], ['s1', 31 * MIN, 'active'], ['s2', 32 * MIN, 'active']]);
    const x = perfectFacts(g);
    expect(groundTruthChecks(g, x).filter((c) => !c.passed)).toEqual([]);
    x.sessions[0]!.status = 'closed';
    x.sessions[0]!.cart_abandoned = 1;
    expect(groundTruthChecks(g, x).filter((c) => !c.passed)).toEqual([]);
    x.sessions[1]!.status = 'closed'; // the user's last session: not superseded, its watermark has not passed
    expect(groundTruthChecks(g, x).filter((c) => !c.passed).map((c) => c.name)).toEqual(['sessions matching the model (every field)', 'closed sessions (LOGOUT, or watermark past end + 30 min)']);
  });

  it('events per session and tier: an event in the wrong session', () => {
    const x = perfectFacts(gt);
    const k = `${sessionId('r1-a', T0)}|Bronze`;
    x.eventsBySessionTier.set(k, x.eventsBySessionTier.get(k)! - 1);
    x.eventsBySessionTier.set(`${sessionId('r1-a', T0 + 41 * MIN)}|Bronze`, 2);
    expect(failing(x)).toEqual(['events by session and tier']);
  });

  it('flags an expectation that depends on batching', () => {
    const amb = computeGroundTruth([ev('x', 'PAGE_VIEW', 10_000), ev('x', 'PAGE_VIEW', 5_000)]);
    expect(groundTruthChecks(amb, perfectFacts(amb)).filter((c) => !c.passed).map((c) => [c.name, c.actual])).toEqual([
      ['ground truth independent of batching', '0 near watermark, 1 out of user order'],
    ]);
  });
});
