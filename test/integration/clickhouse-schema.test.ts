import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScratchClickHouse, type ScratchClickHouse } from '../support/embedded-clickhouse.ts';
import { applyMigrations, applyRetention, clickhouseClient, parseTtlDays } from '../../src/clients/clickhouse.ts';
import { loadDashboardQueries, loadMigrations } from '../../src/contract/index.ts';

/**
 * The analytics schema (migrations 0001 + 0002) and the dashboard queries on the embedded ClickHouse:
 * a small known set of events and sessions (with an active -> closed upsert, a closed row that arrives
 * before a stale active one, and replayed inserts with the same deduplication token), and the exact
 * rows every dashboard query must return.
 */

let ch: ScratchClickHouse;
let client: ClickHouseClient;

/** The settings the Spark sink sends with every insert (see docs/clickhouse.md). */
const DEDUP = (token: string): ClickHouseSettings => ({ insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 });

/** "YYYY-MM-DD hh:mm:ss.SSS" in UTC. */
function chTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** JSONEachRow quotes 64-bit integers: compare numbers as numbers. */
function numeric<T extends Record<string, unknown>>(rows: T[]): Array<Record<string, unknown>> {
  return rows.map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v])),
  );
}

async function query(sql: string): Promise<Array<Record<string, unknown>>> {
  const rs = await client.query({ query: sql, format: 'JSONEachRow' });
  return numeric(await rs.json<Record<string, unknown>>());
}

const queries = Object.fromEntries(loadDashboardQueries().map((q) => [q.name, q.sql]));
async function dashboard(name: string): Promise<Array<Record<string, unknown>>> {
  expect(queries[name], `dashboard query ${name}`).toBeTruthy();
  return query(queries[name]!);
}

// Times relative to the start of the run: "recent" is 20-100 s ago (inside every window for minutes),
// s0 is 20 minutes ago (inside the last hour only), s9 two hours ago (outside every window).
const NOW = Date.now();
const ago = (s: number) => NOW - s * 1000;

let seq = 0;
function ev(session: string, user: string, tier: string, type: string, at: number, extra: Record<string, unknown> = {}) {
  seq++;
  return {
    event_id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    event_type: type,
    event_time: chTime(at),
    user_id: user,
    device: 'mobile',
    kafka_partition: 0,
    kafka_offset: seq,
    produced_at: chTime(at + 1),
    tier,
    session_id: session,
    ...extra,
  };
}
const pv = (product: string, category = 'books') => ({ product_id: product, category, price: 10 });
const cart = (product: string, category = 'books') => ({ product_id: product, category, price: 10, quantity: 1 });

const batch1 = [
  // s1: Bronze u1, full funnel, closed.
  ev('s1', 'u1', 'Bronze', 'PAGE_VIEW', ago(100), { page: '/' }),
  ev('s1', 'u1', 'Bronze', 'PRODUCT_VIEW', ago(95), pv('pA')),
  ev('s1', 'u1', 'Bronze', 'ADD_TO_CART', ago(90), cart('pA')),
  ev('s1', 'u1', 'Bronze', 'CHECKOUT_START', ago(85)),
  ev('s1', 'u1', 'Bronze', 'PURCHASE', ago(80), { order_id: 'o1', items_count: 1, revenue: 100, currency: 'EUR' }),
  // s2: Bronze u2, cart abandoned at LOGOUT.
  ev('s2', 'u2', 'Bronze', 'PRODUCT_VIEW', ago(100), pv('pA')),
  ev('s2', 'u2', 'Bronze', 'PRODUCT_VIEW', ago(90), pv('pB', 'games')),
  ev('s2', 'u2', 'Bronze', 'ADD_TO_CART', ago(80), cart('pB', 'games')),
  ev('s2', 'u2', 'Bronze', 'LOGOUT', ago(70)),
];
const batch2 = [
  // s3: Gold u3, two orders, still active.
  ev('s3', 'u3', 'Gold', 'SEARCH', ago(60), { search_query: 'lego' }),
  ev('s3', 'u3', 'Gold', 'PRODUCT_VIEW', ago(55), pv('pB', 'games')),
  ev('s3', 'u3', 'Gold', 'ADD_TO_CART', ago(50), cart('pB', 'games')),
  ev('s3', 'u3', 'Gold', 'REMOVE_FROM_CART', ago(45), cart('pB', 'games')),
  ev('s3', 'u3', 'Gold', 'CHECKOUT_START', ago(40)),
  ev('s3', 'u3', 'Gold', 'PURCHASE', ago(35), { order_id: 'o2', items_count: 2, revenue: 300, currency: 'EUR' }),
  ev('s3', 'u3', 'Gold', 'PURCHASE', ago(30), { order_id: 'o3', items_count: 1, revenue: 50, currency: 'EUR' }),
  // s4: Bronze u1 again, a second session, still active.
  ev('s4', 'u1', 'Bronze', 'LOGIN', ago(25)),
  ev('s4', 'u1', 'Bronze', 'PRODUCT_VIEW', ago(20), pv('pC', 'garden')),
];
const older = [
  // s0: Bronze u2, 20 minutes ago: in the last hour, not in the last 15 or 5 minutes.
  ev('s0', 'u2', 'Bronze', 'PRODUCT_VIEW', ago(1200), pv('pC', 'garden')),
  ev('s0', 'u2', 'Bronze', 'PURCHASE', ago(1190), { order_id: 'o0', items_count: 1, revenue: 1000, currency: 'EUR' }),
  // s9: Gold u3, two hours ago: in no window.
  ev('s9', 'u3', 'Gold', 'PURCHASE', ago(7200), { order_id: 'o9', items_count: 1, revenue: 5000, currency: 'EUR' }),
];

function session(id: string, user: string, tier: string, start: number, end: number, status: 'active' | 'closed', version: number, c: Partial<Record<string, number>>) {
  const row = {
    session_id: id, user_id: user, tier, start_time: chTime(start), end_time: chTime(end), duration_ms: end - start,
    events_total: 0, page_views: 0, product_views: 0, searches: 0, cart_adds: 0, cart_removes: 0, checkouts: 0, purchases: 0,
    revenue: 0, products_viewed: 0, funnel_stage: 0, converted: 0, cart_abandoned: 0, status, version, ...c,
  };
  row.converted = row.purchases > 0 ? 1 : 0;
  row.cart_abandoned = status === 'closed' && row.cart_adds > 0 && row.purchases === 0 ? 1 : 0;
  return row;
}

beforeAll(async () => {
  ch = await startScratchClickHouse({ database: 'speedlayer_schema_it', onProgress: (m) => console.log(`[chdb-env] ${m}`) });
  client = clickhouseClient(ch.endpoints);
});

afterAll(async () => {
  await client?.close();
  await ch?.stop();
});

describe('ClickHouse analytics schema and dashboard queries (embedded ClickHouse)', () => {
  it('applies the migrations, and applying them again (or re-running every statement) changes nothing', async () => {
    const first = await applyMigrations(ch.endpoints);
    expect(first.applied).toEqual(loadMigrations().map((m) => m.name));
    const second = await applyMigrations(ch.endpoints);
    expect(second).toEqual({ applied: [], skipped: first.applied });
    // Every statement is idempotent on its own too (a migration interrupted half way is run again).
    for (const m of loadMigrations()) for (const statement of m.statements) await client.command({ query: statement });

    const tables = await query(
      `SELECT name, engine, create_table_query AS ddl FROM system.tables WHERE database = currentDatabase() AND name != 'schema_migrations' ORDER BY name`,
    );
    expect(tables.map((t) => [t.name, t.engine])).toEqual([
      ['activity_by_minute', 'AggregatingMergeTree'],
      ['activity_by_minute_mv', 'MaterializedView'],
      ['dead_letters', 'ReplacingMergeTree'],
      ['events', 'ReplacingMergeTree'],
      ['events_by_minute', 'AggregatingMergeTree'],
      ['events_by_minute_mv', 'MaterializedView'],
      ['late_events', 'ReplacingMergeTree'],
      ['pipeline_progress', 'ReplacingMergeTree'],
      ['products_by_minute', 'AggregatingMergeTree'],
      ['products_by_minute_mv', 'MaterializedView'],
      ['sessions', 'ReplacingMergeTree'],
      ['tier_changes', 'ReplacingMergeTree'],
      ['users', 'ReplacingMergeTree'],
    ]);
    for (const t of tables.filter((t) => t.engine !== 'MaterializedView')) {
      // Token deduplication everywhere (the MVs' targets too), and retention on all but the user dimension.
      expect(t.ddl, String(t.name)).toContain('non_replicated_deduplication_window = 1000');
      if (t.name !== 'users') expect(t.ddl, String(t.name)).toMatch(/TTL .*(INTERVAL 7 DAY|toIntervalDay\(7\))/);
    }
    const cols = await query(
      `SELECT table, name, type, default_expression AS d FROM system.columns WHERE database = currentDatabase() AND table IN ('events', 'late_events') AND name IN ('tier', 'session_id', 'watermark') ORDER BY table, name`,
    );
    expect(cols).toEqual([
      { table: 'events', name: 'session_id', type: 'String', d: "''" },
      { table: 'events', name: 'tier', type: 'LowCardinality(String)', d: "''" },
      { table: 'late_events', name: 'session_id', type: 'String', d: "''" },
      { table: 'late_events', name: 'tier', type: 'LowCardinality(String)', d: "''" },
      { table: 'late_events', name: 'watermark', type: "DateTime64(3, 'UTC')", d: '' },
    ]);
    // late_events has every column of events, plus the watermark.
    const [diff] = await query(
      `SELECT groupArrayIf(name, table = 'events') AS e, groupArrayIf(name, table = 'late_events') AS l FROM system.columns WHERE database = currentDatabase() AND table IN ('events', 'late_events')`,
    );
    expect([...(diff!.l as string[])].sort()).toEqual([...(diff!.e as string[]), 'watermark'].sort());
  });

  it('retention (retentionDays): every table with a TTL gets the configured days, once; back to 7 the same way', async () => {
    const ttlDays = async () =>
      Object.fromEntries(
        (await query(`SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() ORDER BY name`))
          .map((t) => [t.name, parseTtlDays(String(t.engine_full))?.days])
          .filter(([, days]) => days !== undefined),
      );
    const withTtl = Object.keys(await ttlDays());
    // Every table but the user dimension (and schema_migrations).
    expect(withTtl).toEqual(['activity_by_minute', 'dead_letters', 'events', 'events_by_minute', 'late_events', 'pipeline_progress', 'products_by_minute', 'sessions', 'tier_changes']);
    expect(new Set(Object.values(await ttlDays()))).toEqual(new Set([7]));
    expect(await applyRetention(ch.endpoints, 7)).toEqual([]);
    expect(await applyRetention(ch.endpoints, 3)).toEqual(withTtl);
    expect(await ttlDays()).toEqual(Object.fromEntries(withTtl.map((t) => [t, 3])));
    expect(await applyRetention(ch.endpoints, 3)).toEqual([]);
    expect(await applyRetention(ch.endpoints, 7)).toEqual(withTtl);
    expect(new Set(Object.values(await ttlDays()))).toEqual(new Set([7]));
  });

  it('a changed retention applies to the rows already stored (its own database)', async () => {
    const other = { ...ch.endpoints, database: 'speedlayer_retention_it' };
    await applyMigrations(other);
    const c = clickhouseClient(other);
    try {
      const DAY = 86_400_000;
      const row = (n: number, daysAgo: number) => ({
        event_id: `00000000-0000-4000-8000-00000000000${n}`, event_type: 'PAGE_VIEW', event_time: chTime(Date.now() - daysAgo * DAY),
        user_id: 'u', device: 'desktop', page: '/', kafka_partition: 0, kafka_offset: n, watermark: chTime(Date.now() - daysAgo * DAY),
      });
      for (const [n, daysAgo] of [[1, 5], [2, 1]] as const) {
        const { watermark, ...event } = row(n, daysAgo);
        await c.insert({ table: 'late_events', values: [{ ...event, watermark }], format: 'JSONEachRow' });
        await c.insert({ table: 'events', values: [event], format: 'JSONEachRow' });
      }
      const counts = async () => {
        const rs = await c.query({ query: 'SELECT (SELECT count() FROM events) AS e, (SELECT count() FROM late_events) AS l', format: 'JSONEachRow' });
        return numeric(await rs.json<Record<string, unknown>>())[0];
      };
      expect(await counts()).toEqual({ e: 2, l: 2 }); // both inside 7 days
      expect(await applyRetention(other, 3)).toContain('late_events');
      // The 5-day-old rows are gone at once (rows expiring one by one in events, a whole part in late_events).
      expect(await counts()).toEqual({ e: 1, l: 1 });
      await applyRetention(other, 30);
      expect(await counts()).toEqual({ e: 1, l: 1 });
    } finally {
      await c.close();
    }
  });

  it('loads the known set: replayed inserts with the same token change neither the tables nor the rollups', async () => {
    await client.insert({ table: 'events', values: batch1, format: 'JSONEachRow', clickhouse_settings: DEDUP('job/0/events/1') });
    await client.insert({ table: 'events', values: batch2, format: 'JSONEachRow', clickhouse_settings: DEDUP('job/0/events/2') });
    await client.insert({ table: 'events', values: older, format: 'JSONEachRow', clickhouse_settings: DEDUP('job/0/events/0') });
    const totals = async () =>
      (
        await query(`SELECT
          (SELECT count() FROM events) AS events,
          (SELECT countMerge(events) FROM events_by_minute) AS by_type,
          (SELECT countMerge(events) FROM activity_by_minute) AS activity,
          (SELECT countIfMerge(views) + countIfMerge(cart_adds) + countIfMerge(cart_removes) FROM products_by_minute) AS product_events,
          (SELECT round(sumMerge(revenue), 2) FROM events_by_minute) AS revenue`)
      )[0];
    const before = await totals();

    // A Spark batch replayed after a crash: the same token, the same rows (and once with other rows).
    await client.insert({ table: 'events', values: batch1, format: 'JSONEachRow', clickhouse_settings: DEDUP('job/0/events/1') });
    await client.insert({ table: 'events', values: batch2, format: 'JSONEachRow', clickhouse_settings: DEDUP('job/0/events/2') });
    await client.insert({ table: 'events', values: batch2.slice(0, 3), format: 'JSONEachRow', clickhouse_settings: DEDUP('job/0/events/2') });
    const after = await totals();

    // Sessions: s1 active -> closed; s2's closed row arrives before a stale active one (the higher version
    // wins, not the later insert); s3 upserted twice while active; s4 active; s0 and s9 closed long ago.
    const sessions = [
      [session('s1', 'u1', 'Bronze', ago(100), ago(90), 'active', 1, { events_total: 3, page_views: 1, product_views: 1, cart_adds: 1, products_viewed: 1, funnel_stage: 2 })],
      [session('s2', 'u2', 'Bronze', ago(100), ago(70), 'closed', 2, { events_total: 4, product_views: 2, cart_adds: 1, products_viewed: 2, funnel_stage: 2 })],
      [
        session('s1', 'u1', 'Bronze', ago(100), ago(80), 'closed', 2, { events_total: 5, page_views: 1, product_views: 1, cart_adds: 1, checkouts: 1, purchases: 1, revenue: 100, products_viewed: 1, funnel_stage: 4 }),
        session('s2', 'u2', 'Bronze', ago(100), ago(90), 'active', 1, { events_total: 2, product_views: 2, products_viewed: 2, funnel_stage: 1 }),
        session('s3', 'u3', 'Gold', ago(60), ago(50), 'active', 1, { events_total: 3, searches: 1, product_views: 1, cart_adds: 1, products_viewed: 1, funnel_stage: 2 }),
      ],
      [
        session('s3', 'u3', 'Gold', ago(60), ago(30), 'active', 2, { events_total: 7, searches: 1, product_views: 1, cart_adds: 1, cart_removes: 1, checkouts: 1, purchases: 2, revenue: 350, products_viewed: 1, funnel_stage: 4 }),
        session('s4', 'u1', 'Bronze', ago(25), ago(20), 'active', 1, { events_total: 2, product_views: 1, products_viewed: 1, funnel_stage: 1 }),
        session('s0', 'u2', 'Bronze', ago(1200), ago(1190), 'closed', 3, { events_total: 2, product_views: 1, purchases: 1, revenue: 1000, products_viewed: 1, funnel_stage: 4 }),
        session('s9', 'u3', 'Gold', ago(7200), ago(7200), 'closed', 1, { events_total: 1, purchases: 1, revenue: 5000, funnel_stage: 4 }),
      ],
    ];
    for (const [i, rows] of sessions.entries()) {
      await client.insert({ table: 'sessions', values: rows, format: 'JSONEachRow', clickhouse_settings: DEDUP(`job/0/sessions/${i}`) });
    }
    // A replayed sessions batch.
    await client.insert({ table: 'sessions', values: sessions[3]!, format: 'JSONEachRow', clickhouse_settings: DEDUP('job/0/sessions/3') });
    await client.insert({
      table: 'dead_letters',
      format: 'JSONEachRow',
      values: [
        { reason: 'schema', error: '$.user_id: required', raw_payload: '{}', payload_bytes: 2, source_topic: 'speedlayer.events', kafka_partition: 0, kafka_offset: 1, kafka_timestamp: chTime(ago(60)) },
        { reason: 'schema', error: '$.event_type: enum', raw_payload: '{}', payload_bytes: 2, source_topic: 'speedlayer.events', kafka_partition: 0, kafka_offset: 2, kafka_timestamp: chTime(ago(50)) },
        { reason: 'invalid_json', error: 'unexpected end', raw_payload: '{"a', payload_bytes: 3, source_topic: 'speedlayer.events', kafka_partition: 1, kafka_offset: 1, kafka_timestamp: chTime(ago(40)) },
        { reason: 'schema', error: 'old', raw_payload: '{}', payload_bytes: 2, source_topic: 'speedlayer.events', kafka_partition: 1, kafka_offset: 0, kafka_timestamp: chTime(ago(1800)) },
      ],
      clickhouse_settings: DEDUP('job/0/dead_letters/0'),
    });
    await client.insert({
      table: 'late_events',
      format: 'JSONEachRow',
      values: [{ ...ev('s5', 'u2', 'Bronze', 'PAGE_VIEW', ago(400)), watermark: chTime(ago(60)) }],
      clickhouse_settings: DEDUP('job/0/late_events/0'),
    });
    await client.insert({
      table: 'pipeline_progress',
      format: 'JSONEachRow',
      values: [
        { query_name: 'events', batch_id: 7, batch_time: chTime(ago(12)), num_input_rows: 9, input_rows_per_second: 4.5, processed_rows_per_second: 9, batch_duration_ms: 1000, watermark: chTime(ago(140)), late_rows: 1, duplicate_rows: 0, dead_letter_rows: 3 },
        { query_name: 'events', batch_id: 8, batch_time: chTime(ago(10)), num_input_rows: 9, input_rows_per_second: 4.5, processed_rows_per_second: 9, batch_duration_ms: 1000, watermark: chTime(ago(140)), late_rows: 0, duplicate_rows: 0, dead_letter_rows: 0 },
      ],
    });

    // Everything is loaded (so one failure below does not starve the other tests); now the checks.
    expect(before).toEqual({ events: 21, by_type: 21, activity: 21, product_events: 10, revenue: 6450 });
    expect(after).toEqual(before);
    // The rollups agree with the raw table, per tier and type.
    expect(await query(`SELECT tier, event_type, countMerge(events) AS n, round(sumMerge(revenue), 2) AS r FROM events_by_minute GROUP BY ALL ORDER BY ALL`)).toEqual(
      await query(`SELECT tier, event_type, count() AS n, round(sum(revenue), 2) AS r FROM events GROUP BY ALL ORDER BY ALL`),
    );
    expect(await query('SELECT count() AS n FROM sessions')).toEqual([{ n: 9 }]);
    expect(await query('SELECT session_id, status, version FROM sessions FINAL ORDER BY session_id')).toEqual([
      { session_id: 's0', status: 'closed', version: 3 },
      { session_id: 's1', status: 'closed', version: 2 },
      { session_id: 's2', status: 'closed', version: 2 },
      { session_id: 's3', status: 'active', version: 2 },
      { session_id: 's4', status: 'active', version: 1 },
      { session_id: 's9', status: 'closed', version: 1 },
    ]);

  });

  it('funnel_by_tier_15m: sessions per stage and tier, step rates, cart abandonment', async () => {
    expect(await dashboard('funnel_by_tier_15m')).toEqual([
      {
        tier: 'Bronze', sessions: 3, product_view: 3, add_to_cart: 2, checkout_start: 1, purchase: 1,
        view_to_cart_rate: 0.6667, cart_to_checkout_rate: 0.5, checkout_to_purchase_rate: 1, conversion_rate: 0.3333,
        closed_with_cart: 2, abandoned_carts: 1, cart_abandonment_rate: 0.5,
      },
      {
        tier: 'Gold', sessions: 1, product_view: 1, add_to_cart: 1, checkout_start: 1, purchase: 1,
        view_to_cart_rate: 1, cart_to_checkout_rate: 1, checkout_to_purchase_rate: 1, conversion_rate: 1,
        closed_with_cart: 0, abandoned_carts: 0, cart_abandonment_rate: 0,
      },
    ]);
  });

  it('tier_metrics_1h: active users, sessions, events by type, revenue, orders, AOV, conversion rate', async () => {
    expect(await dashboard('tier_metrics_1h')).toEqual([
      {
        tier: 'Bronze', active_users: 2, sessions: 4, events: 13, page_views: 1, product_views: 5, searches: 0, cart_adds: 2,
        cart_removes: 0, checkouts: 1, orders: 2, logins: 1, logouts: 1, revenue: 1100, avg_order_value: 550, conversion_rate: 0.5,
      },
      {
        tier: 'Gold', active_users: 1, sessions: 1, events: 7, page_views: 0, product_views: 1, searches: 1, cart_adds: 1,
        cart_removes: 1, checkouts: 1, orders: 2, logins: 0, logouts: 0, revenue: 350, avg_order_value: 175, conversion_rate: 1,
      },
    ]);
  });

  it('active_sessions_now: the latest version of sessions not closed yet', async () => {
    expect(await dashboard('active_sessions_now')).toEqual([
      { tier: 'Bronze', active_sessions: 1, active_users: 1, open_carts: 0, with_purchase: 0, revenue_so_far: 0, avg_duration_s: 5, avg_events: 2 },
      { tier: 'Gold', active_sessions: 1, active_users: 1, open_carts: 0, with_purchase: 1, revenue_so_far: 350, avg_duration_s: 30, avg_events: 7 },
    ]);
  });

  it('top_products_5m: views, cart adds and removes per product in the last 5 minutes', async () => {
    expect(await dashboard('top_products_5m')).toEqual([
      { product_id: 'pB', category: 'games', views: 2, cart_adds: 2, cart_removes: 1, view_to_cart_rate: 1 },
      { product_id: 'pA', category: 'books', views: 2, cart_adds: 1, cart_removes: 0, view_to_cart_rate: 0.5 },
      { product_id: 'pC', category: 'garden', views: 1, cart_adds: 0, cart_removes: 0, view_to_cart_rate: 0 },
    ]);
  });

  it('dead_letter_rate_15m: dead letters per reason and their share of all records', async () => {
    // 18 valid events + 1 late event + 3 dead letters in the window.
    expect(await dashboard('dead_letter_rate_15m')).toEqual([
      { reason: 'schema', records: 2, total_records: 22, share: 0.09091 },
      { reason: 'invalid_json', records: 1, total_records: 22, share: 0.04545 },
    ]);
  });

  it('freshness: newest event and insert age, events in the last full minute, watermark lag', async () => {
    const lower = Date.now() - NOW;
    const [f] = await dashboard('freshness');
    const upper = Date.now() - NOW;
    // The newest event is s4's PRODUCT_VIEW, 20 s before the run started.
    expect(f!.newest_event_age_ms).toBeGreaterThanOrEqual(20_000 + lower);
    expect(f!.newest_event_age_ms).toBeLessThanOrEqual(20_000 + upper);
    expect(f!.newest_insert_age_ms).toBeGreaterThanOrEqual(0);
    expect(f!.newest_insert_age_ms).toBeLessThanOrEqual(upper);
    expect(f!.watermark_lag_ms).toBeGreaterThanOrEqual(140_000 + lower);
    expect(f!.watermark_lag_ms).toBeLessThanOrEqual(140_000 + upper);
    const [raw] = await query(
      `SELECT count() AS n FROM events WHERE toStartOfMinute(event_time) = toStartOfMinute(now()) - INTERVAL 1 MINUTE`,
    );
    const [again] = await dashboard('freshness');
    expect(again!.events_last_full_minute).toBe(raw!.n);
  });

  it('every dashboard query is one statement that runs', async () => {
    const names = loadDashboardQueries().map((q) => q.name);
    expect(names).toEqual(['active_sessions_now', 'dead_letter_rate_15m', 'freshness', 'funnel_by_tier_15m', 'tier_metrics_1h', 'top_products_5m']);
    for (const q of loadDashboardQueries()) {
      expect(q.description.length, q.name).toBeGreaterThan(20);
      expect(q.sql, q.name).not.toMatch(/;\s*\S/);
    }
  });
});
