import { CompressionTypes, Partitioners, type ICustomPartitioner, type Message } from 'kafkajs';
import { kafkaClient, PRODUCER_RETRY } from '../clients/kafka.ts';
import { pipeline } from '../contract/index.ts';
import { EventGenerator, marginsFor, type Injected, type InjectionOptions, type MalformedKind, type UserRecord } from './events.ts';
import { RecordLog } from './record-log.ts';
import { classifyRecord } from '../model/record-rules.ts';

export interface ProduceOptions {
  brokers: string[];
  rate: number;
  durationSeconds: number;
  malformedFraction: number;
  users: number;
  products: number;
  seed: number;
  /** User ids of this run are `${userPrefix}NNNNNN` (default 'u'); a fresh prefix per run keeps earlier runs' state out. */
  userPrefix?: string;
  /**
   * Event time runs this many times faster than wall time (default 1), starting in the past so that
   * it ends about now (never before `initialMaxEventTime`, never after now): with 20, a 120 s run
   * covers 40 min of event time, so idle gaps > 30 min and session timeouts happen during the run.
   */
  eventTimeScale?: number;
  /**
   * Where the accelerated event clock starts (default: so that it ends about now). A warm-up before a
   * measured run passes an earlier start, so that the measured run still has event time to cover.
   */
  eventTimeStartMs?: number;
  /** The largest event_time the job saw before this run (e.g. max(event_time) of `events`). */
  initialMaxEventTime?: number;
  /** Duplicate, late, out-of-order and idle-gap rates (defaults: DEFAULT_INJECTION). */
  injection?: Partial<InjectionOptions>;
  /** Topic of the events (default: the contract's events topic); the benchmark measures the producer on a topic of its own. */
  topic?: string;
  /** Publish the user dimension to `speedlayer.users` before the first event (default true). */
  publishUsers?: boolean;
  /** The user dimension to publish (default: this run's own); made with userDimensionOf, it can go out with an earlier run. */
  userDimension?: UserRecord[];
  /** Keep every sent record (RecordLog) for the ground truth (default true). */
  record?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { sent: number; elapsedS: number; eps: number }) => void;
}

export interface ProduceResult {
  produced: number;
  valid: number;
  malformed: Record<MalformedKind, number>;
  injected: Record<Exclude<Injected, 'none'>, number>;
  startedAt: number;
  endedAt: number;
  achievedEps: number;
  /** Records Kafka acknowledged in each wall-clock second after startedAt (index 0 = the first second). */
  sentPerSecond: number[];
  /** The user dimension it published before its first event, or (publishUsers: false) the one published for it earlier. */
  users: UserRecord[];
  /** User-dimension records this run published (0 with publishUsers: false). */
  usersPublished: number;
  /** Every record sent, in send order (undefined when record: false). */
  log?: RecordLog;
  /** The event-time clock the generator used (undefined: wall clock). */
  eventClock?: { startMs: number; stepMs: number };
  /** Band around the watermark the ground truth should watch for this run's clock (marginsFor). */
  ambiguityMs: number;
}

const TICK_MS = 50;
// At most MAX_SEND records a request: after a stall (a busy machine, a broker restart) the
// catch-up would otherwise put megabytes into one partition's record batch, over the broker's
// max.message.bytes (1 MB), and the whole send would be refused.
const MAX_SEND = 2_000;

/** What the paced producer does next: send that many records now, or wait. */
export type NextSend = { records: number } | { waitMs: number };

/**
 * The pacing of produceLoad: each tick's share (rate × TICK_MS) is due at the start of its tick,
 * so the schedule ends at duration - tick; behind schedule, the catch-up goes out MAX_SEND records
 * a request. A send waits for a tick's share (at most MAX_SEND; or the run's last records), not the
 * few records that fell due while the last send was in flight: a send costs as much fixed work for
 * 50 records as for 500 (the request, the grouping by partition, the broker's handling). Sending
 * whatever was due after each send made hundreds of small sends a second: 62 µs of the generator's
 * CPU per event at 10k events/s instead of 38, and 2.5-3.4 times the broker's CPU
 * (docs/benchmarks.md).
 *
 * `leadMs` moves the schedule that much earlier: produceLoad passes how long its recent sends took
 * from building the records to Kafka's acknowledgement, so that a share is acknowledged, not only
 * started, by its due time: otherwise the run's last acknowledgement lands up to a send's time
 * after the schedule's end, and the achieved rate falls short of the target.
 */
export function nextSend(at: { elapsedMs: number; sent: number; total: number; rate: number; leadMs?: number }): NextSend {
  const ahead = TICK_MS + (at.leadMs ?? 0);
  const due = Math.min(at.total, Math.floor(((at.elapsedMs + ahead) / 1000) * at.rate));
  const records = Math.min(due - at.sent, MAX_SEND);
  const share = Math.min(Math.max(1, Math.round((at.rate * TICK_MS) / 1000)), MAX_SEND, at.total - at.sent);
  if (records >= share) return { records };
  const shareDueAtMs = ((at.sent + share) * 1000) / at.rate - ahead;
  return { waitMs: Math.max(1, Math.ceil(shareDueAtMs - at.elapsedMs)) };
}

// The lead is the slowest of the last SEND_TIMES_KEPT sends (about a second at 20 sends a second),
// at most MAX_LEAD_MS: a send that stalls for seconds (a broker restart) is a stall to catch up
// from, not a reason to run seconds ahead of the schedule afterwards.
const SEND_TIMES_KEPT = 20;
const MAX_LEAD_MS = 4 * TICK_MS;

/** How far ahead of the schedule the next send should go: see nextSend's `leadMs`. */
export class SendLead {
  private readonly times = new Array<number>(SEND_TIMES_KEPT).fill(0);
  private next = 0;

  /** One send's time, from building its records to Kafka's acknowledgement. */
  took(ms: number): void {
    this.times[this.next] = ms;
    this.next = (this.next + 1) % SEND_TIMES_KEPT;
  }

  get ms(): number {
    return Math.min(MAX_LEAD_MS, Math.max(...this.times));
  }
}

const USERS_CHUNK = 5000;

/** The user dimension of a run with these options (its ids depend on seed, users and userPrefix). */
export function userDimensionOf(o: Pick<ProduceOptions, 'seed' | 'users' | 'products' | 'userPrefix'>): UserRecord[] {
  return new EventGenerator({ seed: o.seed, users: o.users, products: o.products, userPrefix: o.userPrefix }).userDimension();
}

/**
 * kafkajs' default partitioner (murmur2 of the key, as Java's), remembered per key and partition
 * count: the same placement, without hashing every record again (a run has one key per user, and
 * the default partitioner also filters the partition list for each record).
 */
export const rememberingPartitioner: ICustomPartitioner = () => {
  const byDefault = Partitioners.DefaultPartitioner();
  const placements = new Map<number, Map<string, number>>(); // partition count -> key -> partition
  return (args) => {
    const { message, partitionMetadata } = args;
    if (typeof message.key !== 'string' || message.partition != null) return byDefault(args);
    let byKey = placements.get(partitionMetadata.length);
    if (!byKey) placements.set(partitionMetadata.length, (byKey = new Map()));
    let partition = byKey.get(message.key);
    if (partition === undefined) {
      partition = byDefault(args);
      byKey.set(message.key, partition);
    }
    return partition;
  };
};

/**
 * Publishes the run's user dimension, then produces events paced to `rate` (catching up after slow
 * sends, never bursting beyond the schedule), keyed by user_id so each user's events stay ordered
 * within a partition. Records what it sent, for the ground truth.
 */
export async function produceLoad(o: ProduceOptions): Promise<ProduceResult> {
  const total = Math.round(o.rate * o.durationSeconds);
  const scale = o.eventTimeScale ?? 1;
  const { ambiguityMs, ...margins } = marginsFor(scale, o.injection?.watermarkDelayMs);
  const t0 = Date.now();
  const eventClock =
    scale > 1
      ? {
          startMs: Math.max(o.eventTimeStartMs ?? t0 - Math.round(o.durationSeconds * 1000 * (scale - 1)), (o.initialMaxEventTime ?? -Infinity) + 1),
          stepMs: (scale * 1000) / o.rate,
        }
      : undefined;
  const generator = new EventGenerator({
    seed: o.seed,
    users: o.users,
    products: o.products,
    userPrefix: o.userPrefix,
    eventClock,
    initialMaxEventTime: o.initialMaxEventTime,
    injection: { ...margins, ...o.injection, malformedFraction: o.malformedFraction },
  });
  const users = o.userDimension ?? generator.userDimension();
  const publishUsers = o.publishUsers !== false;
  const log = o.record === false ? undefined : new RecordLog(total + 16);
  // Idempotent: a send retried after a lost acknowledgement (a broker restart) is not stored twice.
  const producer = kafkaClient(o.brokers, 'speedlayer-loadgen', PRODUCER_RETRY).producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: rememberingPartitioner,
  });
  await producer.connect();
  const topic = o.topic ?? pipeline.kafka.topics.events.name;
  const malformed: Record<MalformedKind, number> = { invalid_json: 0, schema: 0, not_utf8: 0, too_large: 0 };
  const injected: ProduceResult['injected'] = { duplicate: 0, late: 0, out_of_order: 0, resumed: 0 };
  let sent = 0;
  let valid = 0;
  let startedAt = Date.now();
  let endedAt = startedAt;
  const sentPerSecond: number[] = [];
  try {
    if (publishUsers) {
      // Every user of the run before any event: the job must know a user's initial spend before its first purchase.
      for (let i = 0; i < users.length; i += USERS_CHUNK) {
        const messages = users.slice(i, i + USERS_CHUNK).map((u) => ({ key: u.user_id, value: JSON.stringify(u) }));
        await producer.send({ topic: pipeline.kafka.topics.users.name, messages, acks: -1, compression: CompressionTypes.None });
      }
    }
    startedAt = Date.now();
    let lastReport = startedAt;
    const lead = new SendLead();
    while (sent < total && !o.signal?.aborted) {
      const building = Date.now();
      const next = nextSend({ elapsedMs: building - startedAt, sent, total, rate: o.rate, leadMs: lead.ms });
      if ('waitMs' in next) {
        await new Promise((r) => setTimeout(r, next.waitMs));
        continue;
      }
      const n = next.records;
      const messages: Message[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const r = generator.nextRecord();
        if (r.kind === 'malformed') {
          malformed[r.reason]++;
          if (log) {
            // The model's own verdict on the bytes sent, not the generator's intent.
            const verdict = classifyRecord(r.value);
            if (verdict.accepted) throw new Error(`the generator's ${r.reason} record is a valid event: ${r.value.toString('base64')}`);
            log.addDeadLetter(verdict.reason);
          }
          messages[i] = { key: r.userId, value: r.value };
        } else {
          valid++;
          if (r.injected !== 'none') injected[r.injected]++;
          // A duplicate is the same object as its original: same produced_at, same bytes.
          r.event.produced_at ??= Date.now();
          log?.addEvent(r.event);
          messages[i] = { key: r.event.user_id, value: JSON.stringify(r.event) };
        }
      }
      await producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
      sent += n;
      const now = Date.now();
      lead.took(now - building);
      const second = Math.floor((now - startedAt) / 1000);
      sentPerSecond[second] = (sentPerSecond[second] ?? 0) + n;
      if (now - lastReport >= 1000) {
        lastReport = now;
        const elapsedS = (now - startedAt) / 1000;
        o.onProgress?.({ sent, elapsedS, eps: sent / elapsedS });
      }
    }
    // The rate is over the time to the last acknowledgement; closing the connection is not producing.
    endedAt = Date.now();
  } finally {
    await producer.disconnect();
  }
  return {
    produced: sent,
    valid,
    malformed,
    injected,
    startedAt,
    endedAt,
    achievedEps: sent / ((endedAt - startedAt) / 1000),
    sentPerSecond: Array.from(sentPerSecond, (x) => x ?? 0),
    users,
    usersPublished: publishUsers ? users.length : 0,
    log,
    eventClock,
    ambiguityMs,
  };
}
