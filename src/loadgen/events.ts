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
  device: EcommerceEvent['device'];
  cart: Map<string, { product: Product; quantity: number }>;
  stage: 'arrive' | 'browse' | 'checkout' | 'done';
}

export interface GeneratorOptions {
  seed: number;
  users: number;
  products: number;
  /** Clock used for event_time (tests pass a fixed one). */
  now?: () => number;
}

/**
 * Scripted shopping visits: arrive (LOGIN/PAGE_VIEW) -> browse (SEARCH, PRODUCT_VIEW, cart adds
 * and removes) -> checkout (CHECKOUT_START, PURCHASE or abandonment) -> LOGOUT. Many visits are
 * interleaved, so the stream looks like a live shop.
 */
export class EventGenerator {
  private readonly rnd: Random;
  private readonly products: Product[];
  private readonly visits: Visit[] = [];
  private readonly now: () => number;
  private orderSeq = 0;

  constructor(private readonly opts: GeneratorOptions) {
    this.rnd = new Random(opts.seed);
    this.now = opts.now ?? Date.now;
    this.products = Array.from({ length: opts.products }, (_, i) => ({
      id: `p${String(i).padStart(5, '0')}`,
      category: CATEGORIES[i % CATEGORIES.length]!,
      price: Math.round((5 + this.rnd.next() * 495) * 100) / 100,
    }));
  }

  private newVisit(): Visit {
    return {
      userId: `u${String(this.rnd.int(this.opts.users)).padStart(6, '0')}`,
      device: this.rnd.pick(DEVICES),
      cart: new Map(),
      stage: 'arrive',
    };
  }

  private base(v: Visit, type: string): EcommerceEvent {
    return {
      schema_version: 1,
      event_id: this.rnd.uuid(),
      event_type: type,
      event_time: new Date(this.now()).toISOString(),
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
        return { ...this.base(v, 'PAGE_VIEW'), page: r.pick(PAGES) };
      case 'browse': {
        const x = r.next();
        if (x < 0.18) return { ...this.base(v, 'PAGE_VIEW'), page: r.pick(PAGES) };
        if (x < 0.33) return { ...this.base(v, 'SEARCH'), query: r.pick(SEARCHES) };
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
        return { ...this.base(v, 'PURCHASE'), order_id: `o${this.opts.seed}-${this.orderSeq}`, items, revenue, currency: 'EUR' };
      }
      default:
        return this.base(v, 'LOGOUT');
    }
  }

  /** The next event of a randomly chosen live visit (about 2,000 visits interleave). */
  next(): EcommerceEvent {
    if (this.visits.length < 2000 || this.rnd.chance(0.02)) this.visits.push(this.newVisit());
    const i = this.rnd.int(this.visits.length);
    const v = this.visits[i]!;
    const event = this.step(v);
    if (v.stage === 'done') {
      this.visits[i] = this.visits[this.visits.length - 1]!;
      this.visits.pop();
    }
    return event;
  }
}

export type MalformedKind = 'invalid_json' | 'schema' | 'not_utf8';

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
  }
}
