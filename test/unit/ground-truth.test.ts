import { beforeEach, describe, expect, it } from 'vitest';
import {
  computeGroundTruth,
  MAX_EVENT_AGE_MS,
  MAX_EVENT_TIME_AHEAD_MS,
  sessionId,
  tierOf,
  type ExpectedSession,
  type GroundTruthOptions,
  type ModelEvent,
  type ModelRecord,
  zeroCounts,
} from '../../src/model/ground-truth.ts';
import { SESSION_COUNTERS } from '../../src/contract/index.ts';

/** Hand-made scenarios, one per rule of docs/processing.md, with exact expected outputs. */

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0, 0);
const S = 1000;
const MIN = 60 * S;
const D = 2 * MIN; // default watermark delay

let seq = 0;
beforeEach(() => {
  seq = 0;
});
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** A valid event of `user` at T0 + t. */
function ev(user: string, type: string, t: number, extra: Partial<ModelEvent> = {}): ModelRecord {
  seq++;
  return { event: { event_id: id(seq), event_type: type, event_time: T0 + t, user_id: user, ...extra } };
}
const again = (r: ModelRecord): ModelRecord => ({ event: { ...r.event! } });
const buy = (user: string, t: number, revenue: number) => ev(user, 'PURCHASE', t, { revenue });
const view = (user: string, t: number, product = 'p1') => ev(user, 'PRODUCT_VIEW', t, { product_id: product });

const COUNTER_COLUMNS = new Set(SESSION_COUNTERS.map((c) => c.column));

/** The expected session; `rest` may give counters by column (page_views: 2), the others stay 0. */
function session(user: string, start: number, end: number, rest: Partial<ExpectedSession> & Record<string, unknown>): ExpectedSession {
  const counts = zeroCounts();
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (COUNTER_COLUMNS.has(k)) counts[k] = v as number;
    else fields[k] = v;
  }
  const s: ExpectedSession = {
    session_id: sessionId(user, T0 + start),
    user_id: user,
    tier: 'Bronze',
    start_time: T0 + start,
    end_time: T0 + end,
    duration_ms: end - start,
    events_total: 0,
    counts,
    revenue: 0,
    products_viewed: 0,
    funnel_stage: 0,
    converted: 0,
    cart_abandoned: 0,
    status: 'active',
    ended_by: 'timeout',
    ...fields,
  };
  return s;
}

const run = (records: ModelRecord[], o: GroundTruthOptions = {}) => computeGroundTruth(records, o);

describe('tiers', () => {
  it('thresholds: Bronze < 500 <= Silver < 2000 <= Gold < 10000 <= Platinum', () => {
    expect([0, 499.99, 500, 1999.99, 2000, 9999.99, 10000, 1e6].map(tierOf)).toEqual([
      'Bronze', 'Bronze', 'Silver', 'Silver', 'Gold', 'Gold', 'Platinum', 'Platinum',
    ]);
  });

  it('an event carries the tier before it; a two-tier jump is one change row; the session keeps its first tier', () => {
    const p = buy('u1', 2 * S, 1600);
    const gt = run([view('u1', 0), ev('u1', 'CHECKOUT_START', S), p, ev('u1', 'PAGE_VIEW', 3 * S)], { lifetimeSpend: new Map([['u1', 450]]) });
    expect(gt.events.map((e) => [e.event_type, e.tier])).toEqual([
      ['PRODUCT_VIEW', 'Bronze'],
      ['CHECKOUT_START', 'Bronze'],
      ['PURCHASE', 'Bronze'],
      ['PAGE_VIEW', 'Gold'],
    ]);
    expect(gt.tierChanges).toEqual([{ user_id: 'u1', from_tier: 'Bronze', to_tier: 'Gold', changed_at: T0 + 2 * S, lifetime_spend: 2050, event_id: p.event!.event_id }]);
    expect(gt.sessions.map((s) => s.tier)).toEqual(['Bronze']);
    expect(gt.finalTiers.get('u1')).toBe('Gold');
    expect(gt.finalSpend.get('u1')).toBe(2050);
    expect(gt.eventsByTypeTier).toEqual(new Map([['PRODUCT_VIEW|Bronze', 1], ['CHECKOUT_START|Bronze', 1], ['PURCHASE|Bronze', 1], ['PAGE_VIEW|Gold', 1]]));
  });

  it('every crossing writes a row; a purchase that stays in its tier writes none', () => {
    const a = buy('u1', 0, 100);
    const b = buy('u1', S, 100); // 500: Silver
    const c = buy('u1', 2 * S, 1500); // 2000: Gold
    const d = buy('u1', 3 * S, 10); // stays Gold
    const gt = run([a, b, c, d], { lifetimeSpend: new Map([['u1', 300]]) });
    expect(gt.tierChanges.map((t) => [t.from_tier, t.to_tier, t.lifetime_spend, t.event_id])).toEqual([
      ['Bronze', 'Silver', 500, b.event!.event_id],
      ['Silver', 'Gold', 2000, c.event!.event_id],
    ]);
    expect(gt.revenue).toBe(1710);
    expect(gt.orders).toBe(4);
  });

  it('the user dimension sets the tier before the first event; a user without one starts at 0 (Bronze)', () => {
    const gt = run([ev('u1', 'LOGIN', 0), ev('u2', 'LOGIN', 0), ev('u3', 'LOGIN', 0)], {
      lifetimeSpend: new Map([['u1', 600], ['u3', 25000], ['u4', 2500]]),
    });
    expect(gt.events.map((e) => [e.user_id, e.tier])).toEqual([['u1', 'Silver'], ['u2', 'Bronze'], ['u3', 'Platinum']]);
    expect(gt.sessions.map((s) => [s.user_id, s.tier])).toEqual([['u1', 'Silver'], ['u2', 'Bronze'], ['u3', 'Platinum']]);
    expect(Object.fromEntries(gt.finalTiers)).toEqual({ u1: 'Silver', u2: 'Bronze', u3: 'Platinum', u4: 'Gold' });
  });
});

describe('sessions', () => {
  it('a gap of exactly 30 min stays in the session; 30 min + 1 ms starts a new one', () => {
    const gt = run([ev('u1', 'PAGE_VIEW', 0), ev('u1', 'PAGE_VIEW', 30 * MIN), ev('u1', 'PAGE_VIEW', 60 * MIN + 1)]);
    expect(gt.sessions).toEqual([
      session('u1', 0, 30 * MIN, { events_total: 2, page_views: 2, status: 'active' }),
      session('u1', 60 * MIN + 1, 60 * MIN + 1, { events_total: 1, page_views: 1 }),
    ]);
    expect(gt.events.map((e) => e.session_id)).toEqual([sessionId('u1', T0), sessionId('u1', T0), sessionId('u1', T0 + 60 * MIN + 1)]);
  });

  it('the first session above is active: the watermark (end of run - 2 min) has not passed its end + 30 min', () => {
    // last event at 60 min + 1 ms -> final watermark 58 min + 1 ms; session 1 ended at 30 min: closes when the watermark passes 60 min.
    const gt = run([ev('u1', 'PAGE_VIEW', 0), ev('u1', 'PAGE_VIEW', 30 * MIN), ev('u1', 'PAGE_VIEW', 60 * MIN + 1)]);
    expect(gt.finalWatermark).toBe(T0 + 58 * MIN + 1);
    expect(gt.sessions.map((s) => s.status)).toEqual(['active', 'active']);
  });

  it('timeout: closed once the watermark passes end + 30 min, not when it reaches it', () => {
    const atBoundary = run([ev('u1', 'ADD_TO_CART', 0), ev('u2', 'PAGE_VIEW', 32 * MIN)]); // watermark = 30 min
    expect(atBoundary.sessions.map((s) => [s.user_id, s.status, s.cart_abandoned])).toEqual([['u1', 'active', 0], ['u2', 'active', 0]]);
    const past = run([ev('u1', 'ADD_TO_CART', 0), ev('u2', 'PAGE_VIEW', 32 * MIN + 1)]); // watermark = 30 min + 1 ms
    expect(past.sessions.map((s) => [s.user_id, s.status, s.cart_abandoned])).toEqual([['u1', 'closed', 1], ['u2', 'active', 0]]);
  });

  it('LOGOUT belongs to its session and closes it; the next event starts a new session even 1 s later', () => {
    const gt = run([ev('u1', 'LOGIN', 0), ev('u1', 'ADD_TO_CART', S, { product_id: 'p1' }), ev('u1', 'LOGOUT', 2 * S), ev('u1', 'PAGE_VIEW', 3 * S)]);
    expect(gt.sessions).toEqual([
      session('u1', 0, 2 * S, { events_total: 3, cart_adds: 1, status: 'closed', ended_by: 'logout', cart_abandoned: 1 }),
      session('u1', 3 * S, 3 * S, { events_total: 1, page_views: 1 }),
    ]);
  });

  it('counters for the 9 types, distinct products viewed, revenue, converted, funnel', () => {
    const gt = run([
      ev('u1', 'LOGIN', 0),
      ev('u1', 'PAGE_VIEW', 1),
      ev('u1', 'SEARCH', 2),
      view('u1', 3, 'pA'),
      view('u1', 4, 'pB'),
      view('u1', 5, 'pA'),
      ev('u1', 'ADD_TO_CART', 6, { product_id: 'pA' }),
      ev('u1', 'REMOVE_FROM_CART', 7, { product_id: 'pA' }),
      ev('u1', 'ADD_TO_CART', 8, { product_id: 'pB' }),
      ev('u1', 'CHECKOUT_START', 9),
      buy('u1', 10, 12.5),
      buy('u1', 11, 7.25),
      ev('u1', 'LOGOUT', 12),
    ]);
    expect(gt.sessions).toEqual([
      session('u1', 0, 12, {
        events_total: 13, page_views: 1, product_views: 3, searches: 1, cart_adds: 2, cart_removes: 1, checkouts: 1, purchases: 2,
        revenue: 19.75, products_viewed: 2, funnel_stage: 4, converted: 1, cart_abandoned: 0, status: 'closed', ended_by: 'logout',
      }),
    ]);
    expect(gt.funnel).toEqual({ Bronze: [1, 1, 1, 1], Silver: [0, 0, 0, 0], Gold: [0, 0, 0, 0], Platinum: [0, 0, 0, 0] });
  });

  it('funnel stage k counts only after stage k-1 was reached', () => {
    const gt = run([
      // u1: cart and checkout before any view, then a view: stage 1.
      ev('u1', 'ADD_TO_CART', 0, { product_id: 'p' }), ev('u1', 'CHECKOUT_START', 1), view('u1', 2),
      // u2: view, cart, purchase without checkout: stage 2.
      view('u2', 0), ev('u2', 'ADD_TO_CART', 1, { product_id: 'p' }), buy('u2', 2, 5),
      // u3: view, cart, checkout, purchase: stage 4 (Silver).
      view('u3', 0), ev('u3', 'ADD_TO_CART', 1, { product_id: 'p' }), ev('u3', 'CHECKOUT_START', 2), buy('u3', 3, 5),
      // u4: searches only: stage 0.
      ev('u4', 'SEARCH', 0),
    ], { lifetimeSpend: new Map([['u3', 700]]) });
    expect(gt.sessions.map((s) => [s.user_id, s.funnel_stage, s.converted])).toEqual([['u1', 1, 0], ['u2', 2, 1], ['u3', 4, 1], ['u4', 0, 0]]);
    expect(gt.funnel).toEqual({ Bronze: [2, 1, 0, 0], Silver: [1, 1, 1, 1], Gold: [0, 0, 0, 0], Platinum: [0, 0, 0, 0] });
  });

  it('session_id is the first 16 bytes of SHA-256(user_id:start ms), lowercase hex', () => {
    expect(T0).toBe(1795694400000);
    expect(sessionId('u1', T0)).toBe('256dc4ffa27cc9162109566fca17c92b');
  });
});

describe('watermark and late events', () => {
  it('late = event_time below max(event_time sent before) - delay; exactly at the watermark is on time', () => {
    const gt = run([ev('u1', 'PAGE_VIEW', 10 * MIN), ev('u2', 'PAGE_VIEW', 8 * MIN), ev('u3', 'PAGE_VIEW', 8 * MIN - 1)]);
    expect([gt.accepted, gt.late]).toEqual([2, 1]);
    expect(gt.lateEvents).toEqual([{ index: 2, event_id: id(3), event_time: T0 + 8 * MIN - 1, watermark: T0 + 8 * MIN }]);
  });

  it('the watermark comes from records sent before, not from the record itself or later ones', () => {
    const gt = run([ev('u1', 'PAGE_VIEW', 0), ev('u2', 'PAGE_VIEW', 10 * MIN), ev('u1', 'PAGE_VIEW', S)]);
    // u1's second event is 9 min behind u2's: late.
    expect(gt.late).toBe(1);
    expect(gt.lateEvents[0]!.event_id).toBe(id(3));
  });

  it('a late event touches nothing: no session, no revenue, no tier change', () => {
    const gt = run([ev('u2', 'PAGE_VIEW', 10 * MIN), buy('u1', 0, 5000)], { lifetimeSpend: new Map([['u1', 100]]) });
    expect([gt.late, gt.accepted, gt.revenue, gt.orders, gt.tierChanges.length, gt.sessions.length]).toEqual([1, 1, 0, 0, 0, 1]);
    expect(gt.finalTiers.get('u1')).toBe('Bronze');
  });

  it('the job\'s earlier data (initialMaxEventTime) sets the first watermark', () => {
    const gt = run([ev('u1', 'PAGE_VIEW', 0)], { initialMaxEventTime: T0 + D + 1 });
    expect([gt.late, gt.accepted]).toEqual([1, 0]);
    expect(run([ev('u1', 'PAGE_VIEW', 0)], { initialMaxEventTime: T0 + D }).late).toBe(0);
  });

  it('counts events inside the ambiguity band around the watermark', () => {
    const gt = run([ev('u1', 'PAGE_VIEW', 10 * MIN), ev('u2', 'PAGE_VIEW', 8 * MIN + 5 * S), ev('u3', 'PAGE_VIEW', 8 * MIN - 5 * S), ev('u4', 'PAGE_VIEW', 7 * MIN)], { ambiguityMs: 10 * S });
    expect(gt.ambiguous).toEqual({ lateBoundary: 2, userOrder: 0 });
    expect(gt.late).toBe(2);
  });
});

describe('deduplication', () => {
  it('keeps the first occurrence, drops and counts later ones', () => {
    const a = ev('u1', 'PAGE_VIEW', 0);
    const b = ev('u1', 'PAGE_VIEW', S);
    const gt = run([a, b, again(a), again(b), again(a)]);
    expect([gt.valid, gt.accepted, gt.duplicates, gt.late]).toEqual([5, 2, 3, 0]);
    expect(gt.events.map((e) => e.index)).toEqual([0, 1]);
    expect(gt.sessions[0]!.events_total).toBe(2);
  });

  it('a copy that arrives late is late, not a duplicate', () => {
    const a = ev('u1', 'PAGE_VIEW', 0);
    const gt = run([a, ev('u2', 'PAGE_VIEW', 10 * MIN), again(a)]);
    expect([gt.accepted, gt.duplicates, gt.late]).toEqual([2, 0, 1]);
  });

  it('an event_id seen only while its first occurrence was within the watermark', () => {
    // Same id, later time, after the first left the watermark: not a duplicate (docs: "while the first is still within the watermark").
    const a = ev('u1', 'PAGE_VIEW', 0);
    const reuse: ModelRecord = { event: { ...a.event!, event_time: T0 + 10 * MIN, user_id: 'u2' } };
    const gt = run([a, ev('u3', 'PAGE_VIEW', 5 * MIN), reuse]);
    expect([gt.accepted, gt.duplicates, gt.late]).toEqual([3, 0, 0]);
  });

  it('...decided by the first occurrence\'s event_time against the watermark, to the millisecond', () => {
    const a = ev('u1', 'PAGE_VIEW', 3 * MIN + 10 * S);
    const copyLater = (t: number): ModelRecord => ({ event: { ...a.event!, event_time: T0 + t, user_id: 'u2' } });
    // Watermark 3 min 10 s: the first is still within it -> the copy is a duplicate.
    expect(run([a, ev('u3', 'PAGE_VIEW', 5 * MIN + 10 * S), copyLater(5 * MIN + 30 * S)]).duplicates).toBe(1);
    // Watermark 3 min 10 s + 1 ms: the first has left it -> the copy is a new event.
    const gt = run([a, ev('u3', 'PAGE_VIEW', 5 * MIN + 10 * S + 1), copyLater(5 * MIN + 30 * S)]);
    expect([gt.duplicates, gt.accepted]).toEqual([0, 3]);
  });

  it('a duplicate purchase adds no revenue and no tier change', () => {
    const p = buy('u1', 0, 600);
    const gt = run([p, again(p)]);
    expect([gt.revenue, gt.tierChanges.length, gt.sessions[0]!.counts.purchases]).toEqual([600, 1, 1]);
  });
});

describe('event-time bounds around the Kafka timestamp', () => {
  it('an event_time more than maxEventTimeAheadSeconds ahead is future_event_time and never moves the watermark; the edge is accepted', () => {
    const atEdge = ev('u1', 'PAGE_VIEW', 0, { kafka_time: T0 - MAX_EVENT_TIME_AHEAD_MS });
    const twoDaysAhead = ev('u2', 'PAGE_VIEW', 2 * 24 * 60 * MIN, { kafka_time: T0 });
    const oneMsOver = ev('u2', 'PAGE_VIEW', MAX_EVENT_TIME_AHEAD_MS + 1, { kafka_time: T0 });
    const after = ev('u3', 'PAGE_VIEW', S, { kafka_time: T0 + S });
    const gt = run([atEdge, twoDaysAhead, oneMsOver, after]);
    expect(gt.deadLetters.future_event_time).toBe(2);
    expect([gt.valid, gt.invalid, gt.late, gt.accepted]).toEqual([2, 2, 0, 2]);
    expect(gt.events.map((e) => e.index)).toEqual([0, 3]);
    expect(gt.finalWatermark).toBe(T0 + S - D);
  });

  it('an event_time more than maxEventAgeSeconds behind is expired_event_time; the edge is accepted (then late, behind the watermark)', () => {
    const now = ev('u1', 'PAGE_VIEW', 0, { kafka_time: T0 });
    const atEdge = ev('u2', 'PAGE_VIEW', -MAX_EVENT_AGE_MS, { kafka_time: T0 });
    const oneMsOlder = ev('u3', 'PAGE_VIEW', -MAX_EVENT_AGE_MS - 1, { kafka_time: T0 });
    const gt = run([now, atEdge, oneMsOlder]);
    expect(gt.deadLetters.expired_event_time).toBe(1);
    expect([gt.valid, gt.late, gt.accepted]).toEqual([2, 1, 1]);
    expect(gt.lateEvents.map((e) => e.index)).toEqual([1]);
  });

  it('without a Kafka timestamp the bounds are not checked', () => {
    const gt = run([ev('u1', 'PAGE_VIEW', 2 * 24 * 60 * MIN)]);
    expect([gt.accepted, gt.invalid]).toEqual([1, 0]);
  });
});

describe('records and dead letters', () => {
  it('counts dead letters by reason, and they touch nothing else', () => {
    const gt = run([{ deadLetter: 'schema' }, ev('u1', 'PAGE_VIEW', 0), { deadLetter: 'not_utf8' }, { deadLetter: 'schema' }, { deadLetter: 'too_large' }, { deadLetter: 'invalid_json' }]);
    expect([gt.records, gt.valid, gt.invalid, gt.accepted]).toEqual([6, 1, 5, 1]);
    expect(gt.deadLetters).toEqual({ not_utf8: 1, too_large: 1, invalid_json: 1, schema: 2, future_event_time: 0, expired_event_time: 0 });
    expect(gt.events.map((e) => e.index)).toEqual([1]);
  });

  it('flags a user event that arrives before an already applied one (order depends on batching)', () => {
    const gt = run([ev('u1', 'PAGE_VIEW', 10 * S), ev('u1', 'PAGE_VIEW', 5 * S)]);
    expect(gt.ambiguous.userOrder).toBe(1);
  });

  it('keepRows: false keeps the aggregates only', () => {
    const gt = run([ev('u1', 'PAGE_VIEW', 0), ev('u2', 'PAGE_VIEW', 10 * MIN), ev('u1', 'PAGE_VIEW', 0)], { keepRows: false });
    expect([gt.events.length, gt.lateEvents.length, gt.accepted, gt.late]).toEqual([0, 0, 2, 1]);
    expect(gt.eventsBySessionTier).toEqual(new Map([[`${sessionId('u1', T0)}|Bronze`, 1], [`${sessionId('u2', T0 + 10 * MIN)}|Bronze`, 1]]));
  });
});
