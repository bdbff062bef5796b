import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { CompressionTypes, type Message, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, type CliSandbox } from '../support/cli-sandbox.ts';
import { kafkaClient } from '../../src/clients/kafka.ts';
import { pipeline } from '../../src/contract/index.ts';
import type { EcommerceEvent } from '../../src/loadgen/events.ts';

/**
 * Records that must not harm the stream, through the real local stack (Kafka -> job -> ClickHouse).
 */
const DAY = 24 * 60 * 60_000;
const topic = pipeline.kafka.topics.events.name;

function pageView(user: string, atMs: number): EcommerceEvent {
  return { schema_version: 1, event_id: randomUUID(), event_type: 'PAGE_VIEW', event_time: new Date(atMs).toISOString(), user_id: user, device: 'mobile', page: '/' };
}

describe('hostile records on the local stack', () => {
  let sb: CliSandbox;
  let ch: ClickHouseClient;
  let producer: Producer;

  beforeAll(async () => {
    sb = await cliSandbox();
    await sb.run(['up']);
    await sb.run(['submit']);
    ch = await sb.clickhouse();
    producer = kafkaClient([`127.0.0.1:${sb.ports.kafka}`], 'hostile-records').producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await ch?.close();
    if (sb) await sb.run(['down', '--purge', '--yes'], { reject: false });
  });

  const send = (messages: Message[]) => producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
  const rows = async <T = Record<string, unknown>>(query: string) =>
    (await (await ch.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json()) as T[];
  const count = async (query: string) => Number((await rows<{ n: number }>(query))[0]!.n);
  async function until(what: string, ready: () => Promise<boolean>, timeoutMs = 150_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ready())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(500);
    }
  }

  it('an event stamped two days ahead, between correct events, is a future_event_time dead letter and every correct event stays on time', async () => {
    const now = Date.now();
    const before = [pageView('clock-ok', now - 20_000), pageView('clock-ok', now - 19_000)];
    const future = pageView('clock-wrong', now + 2 * DAY);
    await send([...before, future].map((e) => ({ key: e.user_id, value: JSON.stringify(e) })));
    await until('the future event in dead_letters', async () => (await count(`SELECT count() AS n FROM dead_letters WHERE reason = 'future_event_time'`)) === 1);
    // Sent after the batch that read the future event: late if it had moved the watermark (to +2 days - 2 min).
    const after = [pageView('clock-ok', now - 10_000), pageView('clock-ok', now - 5_000)];
    await send(after.map((e) => ({ key: e.user_id, value: JSON.stringify(e) })));
    await until('the correct events in events', async () => (await count(`SELECT count() AS n FROM events WHERE user_id = 'clock-ok'`)) + (await count('SELECT count() AS n FROM late_events')) === 4);

    const onTime = await rows<{ id: string }>(`SELECT toString(event_id) AS id FROM events WHERE user_id = 'clock-ok'`);
    expect(onTime.map((r) => r.id).sort()).toEqual([...before, ...after].map((e) => e.event_id).sort());
    expect(await count('SELECT count() AS n FROM late_events')).toBe(0);
    expect(await count(`SELECT count() AS n FROM events WHERE user_id = 'clock-wrong'`)).toBe(0);
    const [dead] = await rows<{ reason: string; error: string; raw_payload: string }>(`SELECT reason, error, raw_payload FROM dead_letters WHERE reason = 'future_event_time'`);
    expect(dead!.raw_payload).toBe(JSON.stringify(future));
    expect(dead!.error).toContain(`$.event_time: ${future.event_time} is `);
    // No batch ever had a watermark ahead of the wall clock.
    const maxWatermark = await rows<{ w: number }>('SELECT toUnixTimestamp64Milli(max(watermark)) AS w FROM pipeline_progress');
    expect(maxWatermark[0]!.w).toBeLessThan(Date.now());
  });
});
