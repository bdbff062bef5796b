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
