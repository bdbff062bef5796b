import { DEAD_LETTER_REASONS, EVENT_TYPES, type DeadLetterReason } from '../contract/index.ts';
import type { ModelEvent, ModelRecord } from '../model/ground-truth.ts';
import type { EcommerceEvent, MalformedKind } from './events.ts';
import { HEX } from './random.ts';

const TYPE_CODE = new Map<string, number>(EVENT_TYPES.map((t, i) => [t, i]));
/** kind 0 = valid event; 1.. = dead letter reason. */
const REASON_CODE = new Map<string, number>(DEAD_LETTER_REASONS.map((r, i) => [r, i + 1]));

/**
 * Every record a load test sent, in send order, in columns of typed arrays (about 50 bytes a record:
 * 1.2M records = ~60 MB), holding exactly what the ground-truth model reads: event_id (16 bytes),
 * type, event_time, send time, user and product (interned), revenue; or the dead-letter reason.
 */
export class RecordLog {
  private n = 0;
  private cap: number;
  private kind: Uint8Array;
  private type: Uint8Array;
  private time: Float64Array;
  /** produced_at: the send time, the model's stand-in for the Kafka timestamp. */
  private sentAt: Float64Array;
  private user: Uint32Array;
  private product: Int32Array;
  private revenue: Float64Array;
  private id: Uint8Array;
  private readonly strings: string[] = [];
  private readonly stringIndex = new Map<string, number>();

  constructor(initialCapacity = 1024) {
    this.cap = Math.max(16, initialCapacity);
    this.kind = new Uint8Array(this.cap);
    this.type = new Uint8Array(this.cap);
    this.time = new Float64Array(this.cap);
    this.sentAt = new Float64Array(this.cap);
    this.user = new Uint32Array(this.cap);
    this.product = new Int32Array(this.cap);
    this.revenue = new Float64Array(this.cap);
    this.id = new Uint8Array(this.cap * 16);
  }

  get length(): number {
    return this.n;
  }

  /** Approximate bytes held. */
  get bytes(): number {
    return this.cap * 50;
  }

  private intern(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const g = <T extends Uint8Array | Float64Array | Uint32Array | Int32Array>(a: T, C: new (n: number) => T, k = 1): T => {
      const b = new C(cap * k);
      b.set(a as never);
      return b;
    };
    this.kind = g(this.kind, Uint8Array);
    this.type = g(this.type, Uint8Array);
    this.time = g(this.time, Float64Array);
    this.sentAt = g(this.sentAt, Float64Array);
    this.user = g(this.user, Uint32Array);
    this.product = g(this.product, Int32Array);
    this.revenue = g(this.revenue, Float64Array);
    this.id = g(this.id, Uint8Array, 16);
    this.cap = cap;
  }

  addEvent(e: EcommerceEvent): void {
    if (this.n === this.cap) this.grow();
    const i = this.n++;
    const type = TYPE_CODE.get(e.event_type);
    if (type === undefined) throw new Error(`unknown event_type ${e.event_type}`);
    this.kind[i] = 0;
    this.type[i] = type;
    this.time[i] = Date.parse(e.event_time);
    this.sentAt[i] = e.produced_at ?? NaN;
    this.user[i] = this.intern(e.user_id);
    this.product[i] = e.event_type === 'PRODUCT_VIEW' && e.product_id !== undefined ? this.intern(e.product_id) : -1;
    this.revenue[i] = e.event_type === 'PURCHASE' ? (e.revenue ?? 0) : 0;
    const hex = e.event_id.replace(/-/g, '');
    if (hex.length !== 32) throw new Error(`event_id ${e.event_id} is not a UUID`);
    for (let b = 0; b < 16; b++) this.id[i * 16 + b] = parseInt(hex.slice(b * 2, b * 2 + 2), 16);
  }

  addDeadLetter(reason: MalformedKind | DeadLetterReason): void {
    if (this.n === this.cap) this.grow();
    const code = REASON_CODE.get(reason);
    if (code === undefined) throw new Error(`unknown dead-letter reason ${reason}`);
    this.kind[this.n++] = code;
  }

  private eventId(i: number): string {
    const o = i * 16;
    const h = (a: number, b: number) => {
      let s = '';
      for (let k = a; k < b; k++) s += HEX[this.id[o + k]!];
      return s;
    };
    return `${h(0, 4)}-${h(4, 6)}-${h(6, 8)}-${h(8, 10)}-${h(10, 16)}`;
  }

  /** The records in send order, as the model reads them (fresh objects, one at a time). */
  *records(): Generator<ModelRecord> {
    for (let i = 0; i < this.n; i++) {
      const k = this.kind[i]!;
      if (k !== 0) {
        yield { deadLetter: DEAD_LETTER_REASONS[k - 1]! };
        continue;
      }
      const type = EVENT_TYPES[this.type[i]!]!;
      const p = this.product[i]!;
      const event: ModelEvent = { event_id: this.eventId(i), event_type: type, event_time: this.time[i]!, user_id: this.strings[this.user[i]!]! };
      if (!Number.isNaN(this.sentAt[i]!)) event.kafka_time = this.sentAt[i]!;
      if (p >= 0) event.product_id = this.strings[p]!;
      if (type === 'PURCHASE') event.revenue = this.revenue[i]!;
      yield { event };
    }
  }
}
