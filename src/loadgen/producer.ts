import { CompressionTypes, type Message } from 'kafkajs';
import { kafkaClient } from '../clients/kafka.ts';
import { pipeline } from '../contract/index.ts';
import { EventGenerator, malformedRecord, type MalformedKind } from './events.ts';
import { Random } from './random.ts';

export interface ProduceOptions {
  brokers: string[];
  rate: number;
  durationSeconds: number;
  malformedFraction: number;
  users: number;
  products: number;
  seed: number;
  signal?: AbortSignal;
  onProgress?: (p: { sent: number; elapsedS: number; eps: number }) => void;
}

export interface ProduceResult {
  produced: number;
  valid: number;
  malformed: Record<MalformedKind, number>;
  startedAt: number;
  endedAt: number;
  achievedEps: number;
}

const TICK_MS = 50;
const MALFORMED_KINDS: MalformedKind[] = ['invalid_json', 'schema', 'not_utf8'];

/**
 * Produces events paced to `rate` (catching up after slow sends, never bursting beyond the
 * schedule), keyed by user_id so each user's events stay ordered within a partition.
 */
export async function produceLoad(o: ProduceOptions): Promise<ProduceResult> {
  const generator = new EventGenerator({ seed: o.seed, users: o.users, products: o.products });
  const rnd = new Random(o.seed ^ 0x5eed);
  const producer = kafkaClient(o.brokers, 'speedlayer-loadgen').producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const topic = pipeline.kafka.topics.events.name;
  const malformed: Record<MalformedKind, number> = { invalid_json: 0, schema: 0, not_utf8: 0 };
  let sent = 0;
  let valid = 0;
  const total = Math.round(o.rate * o.durationSeconds);
  const startedAt = Date.now();
  let lastReport = startedAt;
  try {
    while (sent < total && !o.signal?.aborted) {
      // Each tick's share is sent at the start of the tick, so the schedule ends at duration - tick.
      const due = Math.min(total, Math.floor(((Date.now() - startedAt + TICK_MS) / 1000) * o.rate));
      const n = due - sent;
      if (n <= 0) {
        await new Promise((r) => setTimeout(r, TICK_MS));
        continue;
      }
      const messages: Message[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const event = generator.next();
        event.produced_at = Date.now();
        if (rnd.chance(o.malformedFraction)) {
          const kind = MALFORMED_KINDS[rnd.int(MALFORMED_KINDS.length)]!;
          malformed[kind]++;
          messages[i] = { key: event.user_id, value: malformedRecord(event, kind) };
        } else {
          valid++;
          messages[i] = { key: event.user_id, value: JSON.stringify(event) };
        }
      }
      await producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
      sent += n;
      const now = Date.now();
      if (now - lastReport >= 1000) {
        lastReport = now;
        const elapsedS = (now - startedAt) / 1000;
        o.onProgress?.({ sent, elapsedS, eps: sent / elapsedS });
      }
    }
  } finally {
    await producer.disconnect();
  }
  const endedAt = Date.now();
  return { produced: sent, valid, malformed, startedAt, endedAt, achievedEps: sent / ((endedAt - startedAt) / 1000) };
}
