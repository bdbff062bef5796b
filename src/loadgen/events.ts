import { pipeline } from '../contract/index.ts';
import { Random } from './random.ts';

/** An event as the schema (src/contract/event.schema.json) defines it. */
export interface EcommerceEvent {
  schema_version: 1;
  event_id: string;
  event_type: string;
  event_time: string;
  user_id: string;
  device: 'desktop' | 'mobile' | 'tablet';
  produced_at?: number;
  page?: string;
  product_id?: string;
  category?: string;
  price?: number;
  quantity?: number;
  query?: string;
  order_id?: string;
  items?: Array<{ product_id: string; quantity: number; price: number }>;
  revenue?: number;
  currency?: string;
}

const CATEGORIES = ['electronics', 'books', 'fashion', 'home', 'sports', 'toys', 'beauty', 'grocery'] as const;
const SEARCHES = ['headphones', 'running shoes', 'coffee maker', 'novel', 'lego', 'yoga mat', 'laptop', 'jacket'];
const PAGES = ['/', '/deals', '/category', '/help', '/account', '/cart'];
const DEVICES = ['desktop', 'mobile', 'tablet'] as const;

interface Product {
  id: string;
  category: string;
  price: number;
}

interface Visit {
  userId: string;
  userIdx: number;
  device: EcommerceEvent['device'];
  cart: Map<string, { product: Product; quantity: number }>;
  stage: 'arrive' | 'browse' | 'checkout' | 'done';
  /** Event time lags the clock by this much (a buffering mobile app): its events are out of order. */
  lagMs: number;
  /** Paused (idle gap): the next event is at exactly this event time. */
  resumeAt?: number;
}

/** What the generator injects besides the scripted journeys; rates are shares of records unless stated. */
export interface InjectionOptions {
  /** Exact duplicates: an earlier valid event (same event_id and payload) re-sent later. */
  duplicateRate: number;
  /** A duplicate copies one of the last this-many valid journey events. */
  duplicateWindow: number;
  /** Late events: event_time more than watermark delay + lateMarginMs below the newest event sent. */
  lateRate: number;
  /** Share of visits whose events lag the clock by up to outOfOrderMaxLagMs (still inside the watermark). */
  outOfOrderRate: number;
  outOfOrderMaxLagMs: number;
  /** Per browse step: the visit goes idle and resumes 30 min (exactly, + 1 ms, or up to + 10 min) of event time later. */
  idleGapRate: number;
  /** Broken records (dead letters), replacing journey events. */
  malformedFraction: number;
  /** The job's watermark delay (default 120 s). */
  watermarkDelayMs: number;
  /** A late event is at least this far below the watermark, so that any batching sees it late. */
  lateMarginMs: number;
  /** Duplicates and out-of-order events stay at least this far above the watermark. */
  safetyMarginMs: number;
}

export const DEFAULT_INJECTION: InjectionOptions = {
  duplicateRate: 0.005,
  duplicateWindow: 2000,
  lateRate: 0.002,
  outOfOrderRate: 0.05,
  outOfOrderMaxLagMs: 30_000,
  idleGapRate: 0.02,
  malformedFraction: 0,
  watermarkDelayMs: pipeline.spark.watermarkDelaySeconds * 1000,
  lateMarginMs: 60_000,
  safetyMarginMs: 30_000,
};

/**
 * Margins for an event clock running `scale` times faster than wall time: the job's batches (2 s
 * trigger, a few seconds of processing and cross-partition skew) span `scale` times more event time,
 * so the distances to the watermark that make duplicates/out-of-order events surely on time and late
 * events surely late grow with it. `ambiguityMs` is the band the ground truth watches (inside both).
 */
export function marginsFor(scale: number, watermarkDelayMs = DEFAULT_INJECTION.watermarkDelayMs) {
  const safetyMarginMs = Math.min(watermarkDelayMs - 10_000, Math.max(30_000, scale * 4_000));
  return {
    safetyMarginMs,
    lateMarginMs: Math.max(60_000, scale * 10_000),
    outOfOrderMaxLagMs: Math.max(1, Math.min(30_000, watermarkDelayMs - safetyMarginMs - 1_000)),
    ambiguityMs: Math.max(1, safetyMarginMs - 10_000),
  };
}

export interface GeneratorOptions {
  seed: number;
  users: number;
  products: number;
  /** Wall clock (tests pass a fixed one). event_time never exceeds it, except by the 1 ms steps that keep a user's events strictly increasing. */
  now?: () => number;
  /** User ids are `${userPrefix}${6 digits}` (default 'u'): a prefix per run keeps earlier runs' sessions and tiers apart. */
  userPrefix?: string;
  /**
   * Event-time clock: record k gets min(now(), startMs + k * stepMs). Omitted: now(). A clock that
   * starts in the past and runs faster than wall time lets idle gaps > 30 min and session timeouts
   * happen within a short run.
   */
  eventClock?: { startMs: number; stepMs: number };
  /** The largest event_time the job saw before this run (its watermark is this - delay). */
  initialMaxEventTime?: number;
  injection?: Partial<InjectionOptions>;
}

export type Injected = 'none' | 'duplicate' | 'late' | 'out_of_order' | 'resumed';

/** One record to send, in order: a valid event (possibly injected) or a broken record. */
export type GeneratedRecord =
  | { kind: 'event'; event: EcommerceEvent; injected: Injected }
  | { kind: 'malformed'; reason: MalformedKind; userId: string; value: Buffer };

/** The user dimension row published to `speedlayer.users` (key = user_id). */
export interface UserRecord {
  user_id: string;
  signup_time: string;
  country: string;
  lifetime_spend: number;
}

const COUNTRIES = ['DE', 'FR', 'GB', 'US', 'NL', 'ES', 'IT', 'PL', 'SE', 'JP', 'BR', 'IN'];
const LATE_TYPES = ['PAGE_VIEW', 'SEARCH', 'PRODUCT_VIEW', 'ADD_TO_CART', 'PURCHASE'] as const;
const MALFORMED_KINDS: MalformedKind[] = ['invalid_json', 'schema', 'not_utf8', 'too_large'];
const IDLE_MS = 30 * 60 * 1000;

/**
 * Scripted shopping visits: arrive (LOGIN/PAGE_VIEW) -> browse (SEARCH, PRODUCT_VIEW, cart adds
 * and removes) -> checkout (CHECKOUT_START, PURCHASE or abandonment) -> LOGOUT. Many visits are
 * interleaved, so the stream looks like a live shop. On top (nextRecord): exact duplicates, late
 * events, lagging (out-of-order) visits, idle gaps and broken records, at the rates of `injection`.
 *
 * Guarantees the ground-truth model (src/model/ground-truth.ts) relies on, so that its expectation
 * does not depend on the job's micro-batches:
 *  - each user's valid, non-duplicate, non-late events have strictly increasing event_time in send order;
 *  - duplicates and out-of-order events are >= safetyMarginMs above (newest sent - delay);
 *  - late events are >= lateMarginMs below it, and only once the run (or the job's earlier data) has
 *    events lateMarginMs older than the newest, so an earlier batch has already moved the watermark.
 */
export class EventGenerator {
  private readonly rnd: Random;
  private readonly products: Product[];
  private readonly visits: Visit[] = [];
  /** Idle visits: a binary min-heap on resumeAt. */
  private readonly paused: Visit[] = [];
  private readonly now: () => number;
  private readonly inj: InjectionOptions;
  private readonly prefix: string;
  /** Last event_time per user index (-Infinity: none yet). */
  private readonly lastTime: Float64Array;
  private readonly recent: EcommerceEvent[] = [];
  private readonly recentTimes: number[] = [];
  /** event_time (ms) of the last event built by base(). */
  private lastBuilt = 0;
  private recentNext = 0;
  private orderSeq = 0;
  private lateSeq = 0;
  private seq = 0;
  private clock = 0;
  /** Largest event_time sent (and before the run). */
  private maxSent: number;
  private firstSent = Infinity;

  constructor(private readonly opts: GeneratorOptions) {
    this.rnd = new Random(opts.seed);
    this.now = opts.now ?? Date.now;
    this.inj = { ...DEFAULT_INJECTION, ...opts.injection };
    this.prefix = opts.userPrefix ?? 'u';
    this.maxSent = opts.initialMaxEventTime ?? -Infinity;
    this.lastTime = new Float64Array(opts.users).fill(-Infinity);
    this.products = Array.from({ length: opts.products }, (_, i) => ({
      id: `p${String(i).padStart(5, '0')}`,
      category: CATEGORIES[i % CATEGORIES.length]!,
      price: Math.round((5 + this.rnd.next() * 495) * 100) / 100,
    }));
  }

  userId(i: number): string {
    return `${this.prefix}${String(i).padStart(6, '0')}`;
  }

  /**
   * The user dimension: one row per user, from its own seeded stream (the events do not depend on
   * it). Initial lifetime spend covers all four tiers, with a share just below each threshold so that
   * purchases during a run move users up (some by two tiers).
   */
  userDimension(signupBefore = this.now()): UserRecord[] {
    const r = new Random((this.opts.seed ^ 0x75e5d1) >>> 0);
    const cents = (x: number) => Math.round(x * 100) / 100;
    return Array.from({ length: this.opts.users }, (_, i) => {
      const x = r.next();
      let spend: number;
      if (x < 0.1) spend = 0;
      else if (x < 0.35) spend = cents(r.next() * 350);
      else if (x < 0.5) spend = cents(350 + r.next() * 149.99); // Bronze, close to Silver (or Gold with one big order)
      else if (x < 0.65) spend = cents(500 + r.next() * 1200);
      else if (x < 0.75) spend = cents(1700 + r.next() * 299.99); // Silver, close to Gold
      else if (x < 0.85) spend = cents(2000 + r.next() * 7000);
      else if (x < 0.92) spend = cents(9000 + r.next() * 999.99); // Gold, close to Platinum
      else spend = cents(10_000 + r.next() * 40_000);
      return {
        user_id: this.userId(i),
        signup_time: new Date(signupBefore - Math.floor(r.next() * 3 * 365 * 86_400_000)).toISOString(),
        country: r.pick(COUNTRIES),
        lifetime_spend: spend,
      };
    });
  }

  private newVisit(): Visit {
    const lag = this.rnd.chance(this.inj.outOfOrderRate) ? 1 + this.rnd.int(this.maxLag()) : 0;
    const userIdx = this.rnd.int(this.opts.users);
    return {
      userId: this.userId(userIdx),
      userIdx,
      device: this.rnd.pick(DEVICES),
      cart: new Map(),
      stage: 'arrive',
      lagMs: lag,
    };
  }

  private maxLag(): number {
    return Math.max(1, Math.min(this.inj.outOfOrderMaxLagMs, this.inj.watermarkDelayMs - this.inj.safetyMarginMs - 1000));
  }

  /** The on-time floor: newest sent - delay + safety margin. */
  private safeFloor(): number {
    return this.maxSent - this.inj.watermarkDelayMs + this.inj.safetyMarginMs;
  }

  private eventTime(v: Visit): number {
    const last = this.lastTime[v.userIdx]!;
    let t: number;
    if (v.resumeAt !== undefined) {
      t = v.resumeAt;
      v.resumeAt = undefined;
    } else {
      t = this.clock - v.lagMs;
    }
    t = Math.max(t, last + 1, Math.ceil(this.safeFloor()));
    this.lastTime[v.userIdx] = t;
    this.lastBuilt = t;
    return t;
  }

  private base(v: Visit, type: string): EcommerceEvent {
    return {
      schema_version: 1,
      event_id: this.rnd.uuid(),
      event_type: type,
      event_time: new Date(this.eventTime(v)).toISOString(),
      user_id: v.userId,
      device: v.device,
    };
  }

  private productEvent(v: Visit, type: string, product: Product, quantity?: number): EcommerceEvent {
    const e = this.base(v, type);
    e.product_id = product.id;
    e.category = product.category;
    e.price = product.price;
    if (quantity !== undefined) e.quantity = quantity;
    return e;
  }

  /** Advances one visit by one step and returns its event. */
  private step(v: Visit): EcommerceEvent {
    const r = this.rnd;
    switch (v.stage) {
      case 'arrive':
        v.stage = 'browse';
        if (r.chance(0.4)) return this.base(v, 'LOGIN');
        return Object.assign(this.base(v, 'PAGE_VIEW'), { page: r.pick(PAGES) });
      case 'browse': {
        const x = r.next();
        if (x < 0.18) return Object.assign(this.base(v, 'PAGE_VIEW'), { page: r.pick(PAGES) });
        if (x < 0.33) return Object.assign(this.base(v, 'SEARCH'), { query: r.pick(SEARCHES) });
        if (x < 0.68) return this.productEvent(v, 'PRODUCT_VIEW', r.pick(this.products));
        if (x < 0.83) {
          const p = r.pick(this.products);
          const q = 1 + r.int(3);
          const line = v.cart.get(p.id);
          v.cart.set(p.id, { product: p, quantity: (line?.quantity ?? 0) + q });
          return this.productEvent(v, 'ADD_TO_CART', p, q);
        }
        if (x < 0.88 && v.cart.size > 0) {
          const [id, line] = [...v.cart.entries()][r.int(v.cart.size)]!;
          v.cart.delete(id);
          return this.productEvent(v, 'REMOVE_FROM_CART', line.product, line.quantity);
        }
        if (x < 0.95 && v.cart.size > 0) {
          v.stage = 'checkout';
          return this.base(v, 'CHECKOUT_START');
        }
        v.stage = 'done';
        return this.base(v, 'LOGOUT');
      }
      case 'checkout': {
        v.stage = 'done';
        if (r.chance(0.3)) return this.base(v, 'LOGOUT'); // abandoned checkout
        const items = [...v.cart.values()].map((l) => ({ product_id: l.product.id, quantity: l.quantity, price: l.product.price }));
        const revenue = Math.round(items.reduce((s, i) => s + i.quantity * i.price, 0) * 100) / 100;
        this.orderSeq++;
        return Object.assign(this.base(v, 'PURCHASE'), { order_id: `o${this.opts.seed}-${this.orderSeq}`, items, revenue, currency: 'EUR' });
      }
      default:
        return this.base(v, 'LOGOUT');
    }
  }

  /** The next valid journey event (no injections, no broken records). */
  next(): EcommerceEvent {
    for (;;) {
      const r = this.nextRecord();
      if (r.kind === 'event' && r.injected !== 'duplicate' && r.injected !== 'late') return r.event;
    }
  }

  /** The next record to send: a journey event, or (at the configured rates) an injected one. */
  nextRecord(): GeneratedRecord {
    const clock = this.opts.eventClock;
    const now = this.now();
    this.clock = clock ? Math.min(now, Math.floor(clock.startMs + this.seq * clock.stepMs)) : now;
    this.seq++;

    // An idle visit whose gap is over comes back first.
    const due = this.paused[0];
    if (due && due.resumeAt !== undefined && due.resumeAt <= this.clock) {
      this.heapPop();
      this.visits.push(due);
      return this.journey(this.visits.length - 1, 'resumed');
    }

    const x = this.rnd.next();
    if (x < this.inj.duplicateRate) {
      const dup = this.duplicate();
      if (dup) return { kind: 'event', event: dup, injected: 'duplicate' };
    } else if (x < this.inj.duplicateRate + this.inj.lateRate) {
      const late = this.late();
      if (late) return this.sent(late, 'late', Date.parse(late.event_time));
    }
    if (this.visits.length < 2000 || this.rnd.chance(0.02)) this.visits.push(this.newVisit());
    return this.journey(this.rnd.int(this.visits.length), 'none');
  }

  private journey(i: number, injected: Injected): GeneratedRecord {
    const v = this.visits[i]!;
    const event = this.step(v);
    const t = this.lastBuilt;
    const remove = () => {
      this.visits[i] = this.visits[this.visits.length - 1]!;
      this.visits.pop();
    };
    if (v.stage === 'done') remove();
    else if (v.stage === 'browse' && this.rnd.chance(this.inj.idleGapRate)) {
      remove();
      const x = this.rnd.next();
      const extra = x < 0.1 ? 0 : x < 0.2 ? 1 : 2 + this.rnd.int(10 * 60 * 1000);
      v.resumeAt = t + IDLE_MS + extra;
      v.lagMs = 0;
      this.heapPush(v);
    }
    if (this.rnd.chance(this.inj.malformedFraction)) {
      const reason = MALFORMED_KINDS[this.rnd.int(MALFORMED_KINDS.length)]!;
      return { kind: 'malformed', reason, userId: event.user_id, value: malformedRecord(event, reason) };
    }
    const record = this.sent(event, injected === 'none' && t < this.maxSent ? 'out_of_order' : injected, t);
    if (this.recent.length < this.inj.duplicateWindow) {
      this.recent.push(event);
      this.recentTimes.push(t);
    } else {
      this.recent[this.recentNext] = event;
      this.recentTimes[this.recentNext] = t;
      this.recentNext = (this.recentNext + 1) % this.inj.duplicateWindow;
    }
    return record;
  }

  private heapPush(v: Visit): void {
    const h = this.paused;
    h.push(v);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.resumeAt! <= v.resumeAt!) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = v;
  }

  private heapPop(): void {
    const h = this.paused;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1]!.resumeAt! < h[l]!.resumeAt! ? l + 1 : l;
      if (h[c]!.resumeAt! >= last.resumeAt!) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }

  private sent(event: EcommerceEvent, injected: Injected, t: number): GeneratedRecord {
    if (t > this.maxSent) this.maxSent = t;
    if (t < this.firstSent) this.firstSent = t;
    return { kind: 'event', event, injected };
  }

  /** A recent valid event again (same object: the producer sends the same bytes), if still safely on time. */
  private duplicate(): EcommerceEvent | undefined {
    if (this.recent.length === 0) return undefined;
    const i = this.rnd.int(this.recent.length);
    if (this.recentTimes[i]! >= this.safeFloor()) return this.recent[i];
    // Too old (a fast event clock): the newest journey event instead.
    const newest = (this.recentNext + this.recent.length - 1) % this.recent.length;
    return this.recentTimes[newest]! >= this.safeFloor() ? this.recent[newest] : undefined;
  }

  /** A standalone event of a run user, lateMarginMs..2*lateMarginMs beyond the watermark. */
  private late(): EcommerceEvent | undefined {
    const { lateMarginMs: margin, watermarkDelayMs: delay } = this.inj;
    if (!Number.isFinite(this.maxSent)) return undefined;
    // An earlier batch must already hold events >= margin older than the newest one.
    const before = this.opts.initialMaxEventTime;
    const warm = this.maxSent - this.firstSent >= margin || (before !== undefined && this.maxSent - margin <= before);
    if (!warm) return undefined;
    const t = this.maxSent - delay - margin - this.rnd.int(margin);
    const userIdx = this.rnd.int(this.opts.users);
    const v: Visit = { userId: this.userId(userIdx), userIdx, device: this.rnd.pick(DEVICES), cart: new Map(), stage: 'browse', lagMs: 0 };
    const type = this.rnd.pick(LATE_TYPES);
    const e: EcommerceEvent = { schema_version: 1, event_id: this.rnd.uuid(), event_type: type, event_time: new Date(t).toISOString(), user_id: v.userId, device: v.device };
    const p = this.rnd.pick(this.products);
    switch (type) {
      case 'PAGE_VIEW':
        e.page = this.rnd.pick(PAGES);
        break;
      case 'SEARCH':
        e.query = this.rnd.pick(SEARCHES);
        break;
      case 'PRODUCT_VIEW':
        Object.assign(e, { product_id: p.id, category: p.category, price: p.price });
        break;
      case 'ADD_TO_CART':
        Object.assign(e, { product_id: p.id, category: p.category, price: p.price, quantity: 1 });
        break;
      case 'PURCHASE':
        this.lateSeq++;
        Object.assign(e, { order_id: `late${this.opts.seed}-${this.lateSeq}`, items: [{ product_id: p.id, quantity: 1, price: p.price }], revenue: p.price, currency: 'EUR' });
        break;
    }
    return e;
  }
}

export type MalformedKind = 'invalid_json' | 'schema' | 'not_utf8' | 'too_large';

/** Bytes above which the job dead-letters a record as too_large (pipeline.json deadLetter.maxEventBytes). */
export const TOO_LARGE_BYTES = pipeline.deadLetter.maxEventBytes;

/** A broken record of the given kind, derived from a valid event. */
export function malformedRecord(event: EcommerceEvent, kind: MalformedKind): Buffer {
  switch (kind) {
    case 'invalid_json':
      return Buffer.from(JSON.stringify(event).slice(0, 40));
    case 'schema': {
      const { user_id: _dropped, ...rest } = event;
      return Buffer.from(JSON.stringify({ ...rest, event_type: 'TELEPORT' }));
    }
    case 'not_utf8':
      return Buffer.concat([Buffer.from('{"event_id":"'), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from('"}')]);
    case 'too_large':
      // Otherwise a valid event: only its size is wrong.
      return Buffer.from(JSON.stringify({ ...event, page: 'x'.repeat(TOO_LARGE_BYTES) }));
  }
}
