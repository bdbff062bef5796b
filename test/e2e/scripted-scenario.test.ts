import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { CompressionTypes, type Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, type CliSandbox } from '../support/cli-sandbox.ts';
import { kafkaClient } from '../../src/clients/kafka.ts';
import { pipeline } from '../../src/contract/index.ts';
import type { EcommerceEvent } from '../../src/loadgen/events.ts';
import { sessionId } from '../../src/model/ground-truth.ts';

/**
 * A hand-written scenario on the real local stack, in three phases, and the exact rows it must leave
 * in every table the job writes (events, sessions, tier_changes, late_events, dead_letters, users,
 * pipeline_progress, the per-minute rollup):
 *  1. three users' journeys: alice (spend 450, Bronze) views, adds to cart, checks out and buys for
 *     100 -> Silver mid-session, with one event sent twice; bob browses and logs out; carol
 *     (Platinum) views and adds to cart, then goes quiet; three broken records;
 *  2. dave, 35 minutes later in event time: the watermark moves to +33 min, past alice's and carol's
 *     session end + 30 min, so the job's timeouts close both sessions (carol's abandons a cart);
 *  3. erin, at +1 min: older than the watermark, so a late event.
 */
const MIN = 60_000;
// Event time: an hour ago, to the second (the tables keep 7 days).
const B = Math.floor((Date.now() - 60 * MIN) / 1000) * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

function ev(user: string, type: string, atMs: number, extra: Partial<EcommerceEvent> = {}): EcommerceEvent {
  return { schema_version: 1, event_id: randomUUID(), event_type: type, event_time: iso(atMs), user_id: user, device: 'desktop', ...extra };
}
const product = { product_id: 'p-1', category: 'books', price: 25 };

const alice = [
  ev('alice', 'LOGIN', B),
  ev('alice', 'PRODUCT_VIEW', B + 10_000, product),
  ev('alice', 'ADD_TO_CART', B + 20_000, { ...product, quantity: 4 }),
  ev('alice', 'CHECKOUT_START', B + 30_000),
  ev('alice', 'PURCHASE', B + 40_000, { order_id: 'o-1', items: [{ product_id: 'p-1', quantity: 4, price: 25 }], revenue: 100, currency: 'EUR' }),
];
const bob = [ev('bob', 'PAGE_VIEW', B + 5_000, { page: '/' }), ev('bob', 'SEARCH', B + 15_000, { query: 'novel' }), ev('bob', 'LOGOUT', B + 25_000)];
const carol = [ev('carol', 'PRODUCT_VIEW', B, product), ev('carol', 'ADD_TO_CART', B + 10_000, { ...product, quantity: 1 })];
const dave = ev('dave', 'PAGE_VIEW', B + 35 * MIN, { page: '/deals' });
const erin = ev('erin', 'PAGE_VIEW', B + MIN, { page: '/help' });
const users = [
  { user_id: 'alice', signup_time: iso(B - 400 * 24 * 60 * MIN), country: 'DE', lifetime_spend: 450 },
  { user_id: 'bob', signup_time: iso(B - 10 * 24 * 60 * MIN), country: 'FR', lifetime_spend: 0 },
  { user_id: 'carol', signup_time: iso(B - 900 * 24 * 60 * MIN), country: 'JP', lifetime_spend: 12000 },
];
const { user_id: _noUser, ...withoutUser } = ev('mallory', 'PAGE_VIEW', B, { page: '/' });
const broken: Message[] = [
  { key: 'mallory', value: '{"event_id": oops' },
  { key: 'mallory', value: JSON.stringify(withoutUser) },
  { key: 'mallory', value: Buffer.from([0xff, 0xfe, 0x41]) },
];

describe('scripted scenario on the local stack', () => {
  let sb: CliSandbox;
  let ch: ClickHouseClient;

  beforeAll(async () => {
    sb = await cliSandbox();
    await sb.run(['up']);
    await sb.run(['submit']);
    ch = await sb.clickhouse();
  });

  afterAll(async () => {
    await ch?.close();
    if (sb) await sb.run(['down', '--purge', '--yes'], { reject: false });
  });

  // 64-bit integers as JSON numbers, so every figure below is a number.
  const rows = async <T = Record<string, unknown>>(query: string) =>
    (await (await ch.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json()) as T[];
  const count = async (query: string) => Number((await rows<{ n: number }>(query))[0]!.n);
  /** Polls until `ready` holds (the job writes every 2 s; the timeouts that close sessions can take up to a minute). */
  async function until(what: string, ready: () => Promise<boolean>, timeoutMs = 150_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ready())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(500);
    }
  }

  it('leaves exactly the expected rows in every table', async () => {
    const producer = kafkaClient([`127.0.0.1:${sb.ports.kafka}`], 'scripted-scenario').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const send = (topic: string, messages: Message[]) => producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
    const asMessages = (events: EcommerceEvent[]) => events.map((e) => ({ key: e.user_id, value: JSON.stringify(e) }));
    try {
      // Phase 1. The dimension first (as the load generator does), then the journeys with alice's
      // PRODUCT_VIEW twice (the same bytes), and the broken records.
      await send(pipeline.kafka.topics.users.name, users.map((u) => ({ key: u.user_id, value: JSON.stringify(u) })));
      await send(pipeline.kafka.topics.events.name, [...asMessages([...alice, alice[1]!, ...bob, ...carol]), ...broken]);
      await until('phase 1 in events and dead_letters', async () => (await count('SELECT count() AS n FROM events')) === 10 && (await count('SELECT count() AS n FROM dead_letters')) === 3);
      // Phase 2: moves the watermark 33 minutes on; the timeouts close alice's and carol's sessions.
      await send(pipeline.kafka.topics.events.name, asMessages([dave]));
      await until('dave in events', async () => (await count('SELECT count() AS n FROM events')) === 11);
      await until('three closed sessions', async () => (await count(`SELECT count() AS n FROM sessions FINAL WHERE status = 'closed'`)) === 3);
      // Phase 3: erin's event is older than the watermark of every batch from now on.
      await send(pipeline.kafka.topics.events.name, asMessages([erin]));
      await until('erin in late_events', async () => (await count('SELECT count() AS n FROM late_events')) === 1);
      // Its batch's pipeline_progress row is written after the batch commits, by a listener.
      await until('erin counted in pipeline_progress', async () => (await count('SELECT sum(late_rows) AS n FROM pipeline_progress FINAL')) >= 1);
    } finally {
      await producer.disconnect();
    }

    const sid = (user: string, startMs: number) => sessionId(user, startMs);
    const aliceSession = sid('alice', B);
    // events: every valid, on-time event once, with the tier before it and its session.
    const expectedEvents = [
      ...alice.map((e) => [e.event_id, e.event_type, 'alice', 'Bronze', aliceSession]),
      ...bob.map((e) => [e.event_id, e.event_type, 'bob', 'Bronze', sid('bob', B + 5_000)]),
      ...carol.map((e) => [e.event_id, e.event_type, 'carol', 'Platinum', sid('carol', B)]),
      [dave.event_id, 'PAGE_VIEW', 'dave', 'Bronze', sid('dave', B + 35 * MIN)],
    ].map((r) => r.join(' '));
    const events = await rows<Record<string, string | number>>('SELECT toString(event_id) AS id, event_type, user_id, tier, session_id, toUnixTimestamp64Milli(event_time) AS t, revenue FROM events');
    expect(events.map((r) => [r.id, r.event_type, r.user_id, r.tier, r.session_id].join(' ')).sort()).toEqual(expectedEvents.sort());
    expect(events.find((r) => r.event_type === 'PURCHASE')).toMatchObject({ t: B + 40_000, revenue: 100 });

    // sessions: the latest version of each (FINAL), every counter.
    const sessions = await rows(
      `SELECT session_id, user_id, tier, toUnixTimestamp64Milli(start_time) AS start, toUnixTimestamp64Milli(end_time) AS end, duration_ms,
              events_total, page_views, product_views, searches, cart_adds, cart_removes, checkouts, purchases, revenue, products_viewed,
              funnel_stage, converted, cart_abandoned, status
       FROM sessions FINAL ORDER BY user_id`,
    );
    const session = (user: string, tier: string, start: number, end: number, status: string, counts: Record<string, number>) => ({
      session_id: sid(user, start), user_id: user, tier, start, end, duration_ms: end - start,
      events_total: 0, page_views: 0, product_views: 0, searches: 0, cart_adds: 0, cart_removes: 0, checkouts: 0, purchases: 0, revenue: 0,
      products_viewed: 0, funnel_stage: 0, converted: 0, cart_abandoned: 0, status, ...counts,
    });
    expect(sessions).toEqual([
      session('alice', 'Bronze', B, B + 40_000, 'closed', { events_total: 5, product_views: 1, cart_adds: 1, checkouts: 1, purchases: 1, revenue: 100, products_viewed: 1, funnel_stage: 4, converted: 1 }),
      session('bob', 'Bronze', B + 5_000, B + 25_000, 'closed', { events_total: 3, page_views: 1, searches: 1 }),
      session('carol', 'Platinum', B, B + 10_000, 'closed', { events_total: 2, product_views: 1, cart_adds: 1, products_viewed: 1, funnel_stage: 2, cart_abandoned: 1 }),
      session('dave', 'Bronze', B + 35 * MIN, B + 35 * MIN, 'active', { events_total: 1, page_views: 1 }),
    ]);

    // tier_changes: alice's purchase crosses 500.
    expect(await rows('SELECT user_id, from_tier, to_tier, toUnixTimestamp64Milli(changed_at) AS at, lifetime_spend, toString(event_id) AS event_id FROM tier_changes')).toEqual([
      { user_id: 'alice', from_tier: 'Bronze', to_tier: 'Silver', at: B + 40_000, lifetime_spend: 550, event_id: alice[4]!.event_id },
    ]);

    // late_events: erin's event, with the watermark of its batch (dave's time - 2 min) and the tier at arrival.
    const watermarkMs = B + 35 * MIN - pipeline.spark.watermarkDelaySeconds * 1000;
    expect(await rows('SELECT toString(event_id) AS id, user_id, tier, session_id, toUnixTimestamp64Milli(watermark) AS watermark FROM late_events')).toEqual([
      { id: erin.event_id, user_id: 'erin', tier: 'Bronze', session_id: '', watermark: watermarkMs },
    ]);

    // dead_letters: one per broken record, with its reason; the schema error names the missing field.
    const dead = await rows<{ reason: string; error: string; source_topic: string }>('SELECT reason, error, source_topic FROM dead_letters ORDER BY kafka_offset');
    expect(dead.map((d) => d.reason)).toEqual(['invalid_json', 'schema', 'not_utf8']);
    expect(dead[1]!.error).toContain('user_id');
    expect(new Set(dead.map((d) => d.source_topic))).toEqual(new Set([pipeline.kafka.topics.events.name]));

    // users: the dimension as published.
    expect(await rows('SELECT user_id, country, lifetime_spend FROM users FINAL ORDER BY user_id')).toEqual(
      users.map((u) => ({ user_id: u.user_id, country: u.country, lifetime_spend: u.lifetime_spend })),
    );

    // pipeline_progress counts what was only counted: one duplicate, one late row, three dead letters.
    expect(await rows('SELECT sum(duplicate_rows) AS d, sum(late_rows) AS l, sum(dead_letter_rows) AS x FROM pipeline_progress FINAL')).toEqual([{ d: 1, l: 1, x: 3 }]);

    // The per-minute rollup holds every event once, by tier.
    expect(await rows('SELECT tier, countMerge(events) AS n FROM events_by_minute GROUP BY tier ORDER BY tier')).toEqual([
      { tier: 'Bronze', n: 9 },
      { tier: 'Platinum', n: 2 },
    ]);
  });
});
