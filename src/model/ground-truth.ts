import { createHash } from 'node:crypto';
import { counterColumn, DEAD_LETTER_REASONS, FUNNEL_STAGES, pipeline, SESSION_COUNTERS, type DeadLetterReason } from '../contract/index.ts';

/**
 * The expected results of the speed layer for a known sequence of Kafka records: an independent
 * model of docs/processing.md (the Spark job implements the same rules; the load test compares the
 * two). Pure: fed the records in send order, it returns counts, event rows, sessions, funnel, revenue
 * and tier changes. No I/O.
 *
 * Batching. The job's micro-batch boundaries are unknown here, so the model uses, for record i, the
 * watermark M_i - delay, where M_i is the largest event_time among the valid records *sent before* i
 * (and `initialMaxEventTime`, the largest the job saw before the run). In the job the watermark of
 * the batch holding i is M_j - delay for some j near i (an earlier batch end, or, across partitions,
 * a little later). The outcome is the same for every batching when
 *  - every valid event is either further than `ambiguityMs` below that watermark (late for sure) or
 *    further than `ambiguityMs` above it (on time for sure): events inside the band are counted in
 *    `ambiguous.lateBoundary` and are the tolerance of the late/events checks;
 *  - each user's on-time events arrive in strictly increasing event_time (then "event_time order
 *    within a batch, arrival order across batches" is one order): events that arrive before an
 *    already-applied event of the same user are counted in `ambiguous.userOrder` (sessions and tier
 *    changes of those users may then differ with batching);
 *  - session status: a session without LOGOUT is closed once the watermark passes end + 30 min; the
 *    model's final watermark is max(event_time) - delay, the job's may lag until its last no-data
 *    batch ran, so the comparison decides "closed" against the watermark the job reports.
 * The load generator (src/loadgen/events.ts) keeps all three at zero by construction.
 */

export const TIERS = ['Bronze', 'Silver', 'Gold', 'Platinum'] as const;
export type Tier = (typeof TIERS)[number];

export const SESSION_TIMEOUT_MS = 30 * 60 * 1000;
/** The job's watermark delay (src/contract/pipeline.json, the same value the job is started with). */
export const DEFAULT_WATERMARK_DELAY_MS = pipeline.spark.watermarkDelaySeconds * 1000;
/** The event-time bounds around a record's Kafka timestamp (src/contract/pipeline.json, as the job). */
export const MAX_EVENT_TIME_AHEAD_MS = pipeline.deadLetter.maxEventTimeAheadSeconds * 1000;
export const MAX_EVENT_AGE_MS = pipeline.deadLetter.maxEventAgeSeconds * 1000;

/** Tier of a lifetime spend: Bronze < 500 <= Silver < 2000 <= Gold < 10000 <= Platinum. */
export function tierOf(spend: number): Tier {
  if (spend >= 10_000) return 'Platinum';
  if (spend >= 2_000) return 'Gold';
  if (spend >= 500) return 'Silver';
  return 'Bronze';
}

/** Lowercase hex of the first 16 bytes of SHA-256(user_id + ":" + start_time epoch ms). */
export function sessionId(userId: string, startMs: number): string {
  return createHash('sha256').update(`${userId}:${startMs}`).digest('hex').slice(0, 32);
}

/** The fields of a valid event the rules read (event_time in epoch ms). */
export interface ModelEvent {
  /**
   * The record's Kafka timestamp (ms): the broker's append time in the job; the producer's send
   * time (produced_at) in the load generator, a few ms earlier. Absent: the bounds are not checked.
   */
  kafka_time?: number;
  event_id: string;
  event_type: string;
  event_time: number;
  user_id: string;
  product_id?: string;
  revenue?: number;
}

/** One Kafka record of the events topic, in send order: a valid event or a record the job dead-letters. */
export type ModelRecord = { event: ModelEvent; deadLetter?: undefined } | { deadLetter: DeadLetterReason; event?: undefined };

export interface GroundTruthOptions {
  /** Watermark delay (the job's --watermark-delay-seconds), default 120 s. */
  watermarkDelayMs?: number;
  /** The largest event_time the job had seen before the first record (earlier runs); default none. */
  initialMaxEventTime?: number;
  /** Initial lifetime spend per user (the user dimension); a user without one starts at 0. */
  lifetimeSpend?: ReadonlyMap<string, number>;
  /** Half-width of the band around the watermark in which late classification depends on batching. Default 0. */
  ambiguityMs?: number;
  /** Keep one row per accepted event (`events`) and per late event (`lateEvents`); default true. */
  keepRows?: boolean;
}

export interface ExpectedEventRow {
  /** Index of the record in send order. */
  index: number;
  event_id: string;
  event_type: string;
  event_time: number;
  user_id: string;
  tier: Tier;
  session_id: string;
}

export interface ExpectedLateEvent {
  index: number;
  event_id: string;
  event_time: number;
  /** The model's watermark when it arrived (the job's may differ by the batching, see above). */
  watermark: number;
}

export interface SessionCounters {
  events_total: number;
  /** Events of each counted type (src/contract/pipeline.json sessions.counters), by its `sessions` column. */
  counts: Record<string, number>;
  revenue: number;
  products_viewed: number;
}

export interface ExpectedSession extends SessionCounters {
  session_id: string;
  user_id: string;
  tier: Tier;
  start_time: number;
  end_time: number;
  duration_ms: number;
  funnel_stage: number;
  converted: 0 | 1;
  cart_abandoned: 0 | 1;
  status: 'active' | 'closed';
  /** Why it is (or will be) closed: LOGOUT, or the watermark passing end + 30 min. */
  ended_by: 'logout' | 'timeout';
}

export interface ExpectedTierChange {
  user_id: string;
  from_tier: Tier;
  to_tier: Tier;
  changed_at: number;
  lifetime_spend: number;
  event_id: string;
}

export type TierStageCounts = Record<Tier, [number, number, number, number]>;

export interface GroundTruth {
  records: number;
  /** Records that pass validation (on time + late + duplicates). */
  valid: number;
  invalid: number;
  deadLetters: Record<DeadLetterReason, number>;
  duplicates: number;
  late: number;
  /** Rows of `events`: valid, not late, first occurrence of their event_id. */
  accepted: number;
  /** Present when keepRows (default). */
  events: ExpectedEventRow[];
  lateEvents: ExpectedLateEvent[];
  /** Accepted events per `${event_type}|${tier}`. */
  eventsByTypeTier: Map<string, number>;
  /** Accepted events per `${session_id}|${tier}`. */
  eventsBySessionTier: Map<string, number>;
  sessions: ExpectedSession[];
  /** Sessions reaching each funnel stage (index k = stage k + 1: FUNNEL_STAGES[k]), by session tier. */
  funnel: TierStageCounts;
  /** Sum of `revenue` of accepted PURCHASE events. */
  revenue: number;
  orders: number;
  tierChanges: ExpectedTierChange[];
  /** Tier of every user with a dimension row, before the first record. */
  initialTiers: Map<string, Tier>;
  /** Tier of every user with a dimension row or an accepted event, after the last record. */
  finalTiers: Map<string, Tier>;
  finalSpend: Map<string, number>;
  /** max(event_time) - delay after the last record (-Infinity if no event). */
  finalWatermark: number;
  ambiguous: { lateBoundary: number; userOrder: number };
}

interface OpenSession {
  session_id: string;
  user_id: string;
  tier: Tier;
  start: number;
  end: number;
  c: SessionCounters;
  products: Set<string>;
  stage: number;
  logout: boolean;
  /** Accepted events of the session per tier they carried (usually one tier). */
  byTier: Partial<Record<Tier, number>>;
}

interface UserState {
  spend: number;
  lastTime: number;
  open: OpenSession | null;
}

const STAGE_OF = new Map(FUNNEL_STAGES.map((type, i) => [type, i + 1]));
const COUNTER_OF = new Map(SESSION_COUNTERS.map((c) => [c.eventType, c.column]));
/** The columns converted and cart_abandoned are derived from. */
export const PURCHASES = counterColumn('PURCHASE');
export const CART_ADDS = counterColumn('ADD_TO_CART');

/** Every counter of pipeline.json at 0. */
export function zeroCounts(): Record<string, number> {
  return Object.fromEntries(SESSION_COUNTERS.map((c) => [c.column, 0]));
}

/** A session converted (a purchase) or abandoned its cart (closed with a cart add and no purchase). */
export function converted(c: Pick<SessionCounters, 'counts'>): boolean {
  return (c.counts[PURCHASES] ?? 0) > 0;
}
export function cartAbandoned(c: Pick<SessionCounters, 'counts'>, closed: boolean): boolean {
  return closed && (c.counts[CART_ADDS] ?? 0) > 0 && !converted(c);
}

export function emptyTierCounts(): Record<Tier, number> {
  return { Bronze: 0, Silver: 0, Gold: 0, Platinum: 0 };
}

function emptyTierStageCounts(): TierStageCounts {
  return { Bronze: [0, 0, 0, 0], Silver: [0, 0, 0, 0], Gold: [0, 0, 0, 0], Platinum: [0, 0, 0, 0] };
}

/**
 * Event ids of on-time events with the event_time of their first occurrence; forgotten (by whole
 * minutes) once that time falls behind the watermark, after which a new occurrence is not a duplicate.
 */
class DedupState {
  private readonly ids = new Map<string, number>();
  private readonly byMinute = new Map<number, string[]>();
  private minMinute = Infinity;

  /** True when `id` was seen and that first occurrence is still within the watermark. */
  has(id: string, watermark: number): boolean {
    const first = this.ids.get(id);
    return first !== undefined && first >= watermark;
  }

  add(id: string, eventTime: number): void {
    this.ids.set(id, eventTime);
    const m = Math.floor(eventTime / 60_000);
    let bucket = this.byMinute.get(m);
    if (!bucket) this.byMinute.set(m, (bucket = []));
    bucket.push(id);
    if (m < this.minMinute) this.minMinute = m;
  }

  /** Drops ids whose event_time is below the watermark: a copy of them would be late anyway. */
  evict(watermark: number): void {
    if (!Number.isFinite(watermark)) return;
    const limit = Math.floor(watermark / 60_000); // buckets < limit hold only times < watermark
    while (this.minMinute < limit) {
      const bucket = this.byMinute.get(this.minMinute);
      if (bucket) {
        for (const id of bucket) this.ids.delete(id);
        this.byMinute.delete(this.minMinute);
      }
      this.minMinute = this.byMinute.size === 0 ? Infinity : this.minMinute + 1;
    }
  }
}

/** Runs docs/processing.md over `records` (send order) and returns what ClickHouse should hold. */
export function computeGroundTruth(records: Iterable<ModelRecord>, o: GroundTruthOptions = {}): GroundTruth {
  const delay = o.watermarkDelayMs ?? DEFAULT_WATERMARK_DELAY_MS;
  const ambiguityMs = o.ambiguityMs ?? 0;
  const keepRows = o.keepRows ?? true;
  const initialSpend = o.lifetimeSpend ?? new Map<string, number>();
  let maxTime = o.initialMaxEventTime ?? -Infinity;

  const gt: GroundTruth = {
    records: 0,
    valid: 0,
    invalid: 0,
    deadLetters: Object.fromEntries(DEAD_LETTER_REASONS.map((r) => [r, 0])) as Record<DeadLetterReason, number>,
    duplicates: 0,
    late: 0,
    accepted: 0,
    events: [],
    lateEvents: [],
    eventsByTypeTier: new Map(),
    eventsBySessionTier: new Map(),
    sessions: [],
    funnel: emptyTierStageCounts(),
    revenue: 0,
    orders: 0,
    tierChanges: [],
    initialTiers: new Map(),
    finalTiers: new Map(),
    finalSpend: new Map(),
    finalWatermark: -Infinity,
    ambiguous: { lateBoundary: 0, userOrder: 0 },
  };
  const users = new Map<string, UserState>();
  const dedup = new DedupState();
  const finished: OpenSession[] = [];
  const byTypeTier = new Map<string, Record<Tier, number>>();
  const newTierCounts = (type: string): Record<Tier, number> => {
    const c = emptyTierCounts();
    byTypeTier.set(type, c);
    return c;
  };

  const user = (id: string): UserState => {
    let u = users.get(id);
    if (!u) users.set(id, (u = { spend: initialSpend.get(id) ?? 0, lastTime: -Infinity, open: null }));
    return u;
  };

  let index = -1;
  for (const r of records) {
    index++;
    gt.records++;
    if (r.deadLetter !== undefined) {
      gt.invalid++;
      gt.deadLetters[r.deadLetter]++;
      continue;
    }
    const e = r.event;
    const outOfBounds = eventTimeOutOfBounds(e);
    if (outOfBounds) {
      // Never reaches the watermark: a wrong clock must not make every correct event late.
      gt.invalid++;
      gt.deadLetters[outOfBounds]++;
      continue;
    }
    gt.valid++;
    const watermark = maxTime - delay;
    if (ambiguityMs > 0 && Math.abs(e.event_time - watermark) < ambiguityMs) gt.ambiguous.lateBoundary++;
    if (e.event_time < watermark) {
      gt.late++;
      if (keepRows) gt.lateEvents.push({ index, event_id: e.event_id, event_time: e.event_time, watermark });
    } else if (dedup.has(e.event_id, watermark)) {
      gt.duplicates++;
    } else {
      dedup.add(e.event_id, e.event_time);
      applyEvent(e, index, user(e.user_id));
    }
    if (e.event_time > maxTime) {
      maxTime = e.event_time;
      dedup.evict(maxTime - delay);
    }
  }

  function applyEvent(e: ModelEvent, i: number, u: UserState): void {
    if (e.event_time < u.lastTime) gt.ambiguous.userOrder++;
    u.lastTime = Math.max(u.lastTime, e.event_time);
    const tier = tierOf(u.spend); // the tier before the event is applied
    let s = u.open;
    if (s && (s.logout || e.event_time - s.end > SESSION_TIMEOUT_MS)) {
      finished.push(s);
      s = u.open = null;
    }
    if (!s) {
      s = u.open = {
        session_id: sessionId(e.user_id, e.event_time),
        user_id: e.user_id,
        tier,
        start: e.event_time,
        end: e.event_time,
        c: { events_total: 0, counts: zeroCounts(), revenue: 0, products_viewed: 0 },
        products: new Set(),
        stage: 0,
        logout: false,
        byTier: {},
      };
    }
    s.end = Math.max(s.end, e.event_time);
    s.c.events_total++;
    const counter = COUNTER_OF.get(e.event_type);
    if (counter !== undefined) s.c.counts[counter]!++;
    if (e.event_type === 'PRODUCT_VIEW' && e.product_id !== undefined) s.products.add(e.product_id);
    const stage = STAGE_OF.get(e.event_type);
    if (stage !== undefined && s.stage === stage - 1) s.stage = stage;
    if (e.event_type === 'LOGOUT') s.logout = true;
    if (e.event_type === 'PURCHASE') {
      const revenue = e.revenue ?? 0;
      s.c.revenue += revenue;
      gt.revenue += revenue;
      gt.orders++;
      u.spend += revenue;
      const after = tierOf(u.spend);
      if (after !== tier) {
        gt.tierChanges.push({ user_id: e.user_id, from_tier: tier, to_tier: after, changed_at: e.event_time, lifetime_spend: u.spend, event_id: e.event_id });
      }
    }
    gt.accepted++;
    const tierCounts = byTypeTier.get(e.event_type) ?? newTierCounts(e.event_type);
    tierCounts[tier]++;
    s.byTier[tier] = (s.byTier[tier] ?? 0) + 1;
    if (keepRows) {
      gt.events.push({ index: i, event_id: e.event_id, event_type: e.event_type, event_time: e.event_time, user_id: e.user_id, tier, session_id: s.session_id });
    }
  }

  gt.finalWatermark = maxTime - delay;
  for (const u of users.values()) if (u.open) finished.push(u.open);
  for (const s of finished) {
    const endedBy = s.logout ? 'logout' : 'timeout';
    const closed = closedAt({ ended_by: endedBy, end_time: s.end }, gt.finalWatermark);
    const row: ExpectedSession = {
      session_id: s.session_id,
      user_id: s.user_id,
      tier: s.tier,
      start_time: s.start,
      end_time: s.end,
      duration_ms: s.end - s.start,
      ...s.c,
      products_viewed: s.products.size,
      funnel_stage: s.stage,
      converted: converted(s.c) ? 1 : 0,
      cart_abandoned: cartAbandoned(s.c, closed) ? 1 : 0,
      status: closed ? 'closed' : 'active',
      ended_by: endedBy,
    };
    gt.sessions.push(row);
    for (let k = 0; k < s.stage; k++) gt.funnel[s.tier][k]!++;
    for (const [tier, count] of Object.entries(s.byTier)) gt.eventsBySessionTier.set(`${s.session_id}|${tier}`, count);
  }
  for (const [type, counts] of byTypeTier) {
    for (const tier of TIERS) if (counts[tier] > 0) gt.eventsByTypeTier.set(`${type}|${tier}`, counts[tier]);
  }
  gt.sessions.sort((a, b) => a.start_time - b.start_time || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));

  for (const [id, spend] of initialSpend) {
    gt.finalSpend.set(id, spend);
    gt.initialTiers.set(id, tierOf(spend));
    gt.finalTiers.set(id, tierOf(spend));
  }
  for (const [id, u] of users) {
    gt.finalSpend.set(id, u.spend);
    gt.finalTiers.set(id, tierOf(u.spend));
  }
  return gt;
}

/** `future_event_time` / `expired_event_time` when event_time is beyond the bounds around kafka_time (edges accepted). */
export function eventTimeOutOfBounds(e: Pick<ModelEvent, 'event_time' | 'kafka_time'>): DeadLetterReason | undefined {
  if (e.kafka_time === undefined) return undefined;
  if (e.event_time - e.kafka_time > MAX_EVENT_TIME_AHEAD_MS) return 'future_event_time';
  if (e.kafka_time - e.event_time > MAX_EVENT_AGE_MS) return 'expired_event_time';
  return undefined;
}

/** A session is closed in the job once its watermark passes end + 30 min (or at LOGOUT). */
export function closedAt(s: Pick<ExpectedSession, 'ended_by' | 'end_time'>, watermark: number): boolean {
  return s.ended_by === 'logout' || watermark > s.end_time + SESSION_TIMEOUT_MS;
}
