import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { pipeline, type TopicSpec } from '../contract/index.ts';
import type { StackEndpoints } from '../base/stack.ts';

/** Retries of kafkajs requests: short for CLI commands; the load producer rides out a broker restart. */
export const CLI_RETRY = { retries: 3, initialRetryTime: 200 };
export const PRODUCER_RETRY = { retries: 12, initialRetryTime: 300, maxRetryTime: 10_000 };

export function kafkaClient(brokers: string[], clientId = 'speedlayer-cli', retry = CLI_RETRY): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    retry,
  });
}

export function pipelineTopics(): TopicSpec[] {
  return Object.values(pipeline.kafka.topics);
}

async function withAdmin<T>(brokers: string[], fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates missing topics (existing ones are left alone); returns the names it created. */
export async function ensureTopics(kafka: StackEndpoints['kafka'], topics: TopicSpec[] = pipelineTopics()): Promise<string[]> {
  return withAdmin(kafka.brokers, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        replicationFactor: 1,
        configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
      })),
    });
    return missing.map((t) => t.name);
  });
}

/** Earliest (low) and end (high) offset of every partition of `topic`. */
export async function partitionOffsets(kafka: StackEndpoints['kafka'], topic: string): Promise<Array<{ partition: number; low: number; high: number }>> {
  return withAdmin(kafka.brokers, async (admin) =>
    (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) })),
  );
}

/** Sum of end offsets per topic (records ever written, for status). */
export async function topicEndOffsets(kafka: StackEndpoints['kafka'], topics: string[]): Promise<Record<string, number>> {
  return withAdmin(kafka.brokers, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const out: Record<string, number> = {};
    for (const topic of topics) {
      if (!existing.has(topic)) continue;
      const offsets = await admin.fetchTopicOffsets(topic);
      out[topic] = offsets.reduce((sum, p) => sum + Number(p.high), 0);
    }
    return out;
  });
}

export async function kafkaReachable(kafka: StackEndpoints['kafka']): Promise<boolean> {
  return withAdmin(kafka.brokers, async (admin) => {
    const md = await admin.describeCluster();
    return md.brokers.length > 0;
  });
}

/** The offset of the first record of each partition appended at or after `ms` (the end offset when none is). */
export async function offsetsAtTime(kafka: StackEndpoints['kafka'], topic: string, ms: number): Promise<Map<number, number>> {
  return withAdmin(kafka.brokers, async (admin) => new Map((await admin.fetchTopicOffsetsByTimestamp(topic, ms)).map((p) => [p.partition, Number(p.offset)])));
}

export interface PartitionRecord {
  partition: number;
  offset: number;
  /** The record's timestamp (ms): the append time on a LogAppendTime topic. */
  timestamp: number;
  value: Buffer | null;
}

/**
 * Reads offsets [from, to) of one partition and hands each record to `visit`. kafkajs has no manual
 * assignment, so a throw-away consumer group subscribes, the other partitions are paused and this one
 * is sought to `from`; nothing is committed, so the group leaves no offsets behind.
 */
export async function readPartitionRange(
  kafka: StackEndpoints['kafka'],
  range: { topic: string; partition: number; from: number; to: number },
  visit: (r: PartitionRecord) => void,
  idleTimeoutMs = 30_000,
): Promise<void> {
  if (range.to <= range.from) return;
  const consumer = kafkaClient(kafka.brokers).consumer({ groupId: `speedlayer-cli-read-${randomUUID()}`, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: range.topic, fromBeginning: false });
    await new Promise<void>((resolve, reject) => {
      // A long range takes as long as it takes; only a read that stops advancing fails.
      let timer: NodeJS.Timeout;
      let last = -1;
      const arm = (at: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => reject(new Error(`reading ${range.topic}[${range.partition}] stalled at offset ${at} of ${range.from}..${range.to - 1} for ${idleTimeoutMs / 1000} s`)), idleTimeoutMs);
      };
      arm(range.from);
      const done = (err?: Error) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch, isRunning, isStale }) => {
            if (batch.partition !== range.partition) return;
            for (const m of batch.messages) {
              if (!isRunning() || isStale()) return;
              const offset = Number(m.offset);
              if (offset < range.from || offset <= last) continue;
              last = offset;
              arm(offset);
              if (offset >= range.to) return done();
              visit({ partition: batch.partition, offset, timestamp: Number(m.timestamp), value: m.value });
              if (offset === range.to - 1) return done();
            }
          },
        })
        .catch(done);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        const mine = payload.memberAssignment[range.topic] ?? [];
        const others = mine.filter((p) => p !== range.partition);
        if (others.length > 0) consumer.pause([{ topic: range.topic, partitions: others }]);
        consumer.seek({ topic: range.topic, partition: range.partition, offset: String(range.from) });
      });
    });
  } finally {
    await consumer.disconnect();
  }
}
