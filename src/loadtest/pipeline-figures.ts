import type { ClickHouseClient } from '@clickhouse/client';
import { loadDashboardQueries, pipeline, type DashboardQuery } from '../contract/index.ts';
import type { Quantiles } from './stats.ts';
import { offsetPredicate, type OffsetRanges } from './run-window.ts';

const T = pipeline.clickhouse.tables;

async function rows<R>(client: ClickHouseClient, query: string): Promise<R[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return (await rs.json()) as R[];
}

export interface RunCounts {
  /** Rows in the events table from the run's offsets (counts a double write twice). */
  accepted: number;
  distinctAccepted: number;
  deadLettered: number;
}

export async function runCounts(client: ClickHouseClient, ranges: OffsetRanges): Promise<RunCounts> {
  const where = offsetPredicate(ranges);
  const [ev] = await rows<{ n: string; d: string }>(client, `SELECT count() AS n, uniqExact(event_id) AS d FROM ${T.events} WHERE ${where}`);
  const [dl] = await rows<{ n: string }>(
    client,
    `SELECT count() AS n FROM ${T.deadLetters} WHERE source_topic = '${pipeline.kafka.topics.events.name}' AND (${where})`,
  );
  return { accepted: Number(ev?.n ?? 0), distinctAccepted: Number(ev?.d ?? 0), deadLettered: Number(dl?.n ?? 0) };
}

/** Produced -> visible in ClickHouse: inserted_at (set by ClickHouse at insert) minus produced_at (set by the producer). */
export async function e2eLatency(client: ClickHouseClient, ranges: OffsetRanges): Promise<Quantiles> {
  const [r] = await rows<{ q: number[]; n: string }>(
    client,
    `SELECT quantilesExact(0.5, 0.95, 0.99)(dateDiff('millisecond', produced_at, inserted_at)) AS q, count() AS n
     FROM ${T.events} WHERE produced_at > 0 AND (${offsetPredicate(ranges)})`,
  );
  if (!r || Number(r.n) === 0) return { p50: null, p95: null, p99: null };
  const [p50, p95, p99] = r.q.map(Number);
  return { p50: p50 ?? null, p95: p95 ?? null, p99: p99 ?? null };
}

/**
 * Runs every dashboard query once and returns the wall time of each, in ms (client side, over HTTP).
 * Past the embedded engine's result cache (use_query_cache=0): rounds run back to back would
 * otherwise time the cache, not the query.
 */
export async function timeDashboardQueries(
  client: ClickHouseClient,
  queries: DashboardQuery[] = loadDashboardQueries(),
): Promise<Array<{ name: string; ms: number }>> {
  const out: Array<{ name: string; ms: number }> = [];
  for (const q of queries) {
    const t0 = performance.now();
    const rs = await client.query({ query: q.sql, format: 'JSONEachRow', clickhouse_settings: { use_query_cache: 0 } });
    await rs.json();
    out.push({ name: q.name, ms: performance.now() - t0 });
  }
  return out;
}

export async function tableCounts(client: ClickHouseClient): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of [T.events, T.deadLetters]) {
    const [r] = await rows<{ n: string }>(client, `SELECT count() AS n FROM ${table}`);
    out[table] = Number(r?.n ?? 0);
  }
  return out;
}

export async function freshness(client: ClickHouseClient): Promise<{ newestEventAgeMs: number | null; newestInsertAgeMs: number | null }> {
  const [r] = await rows<{ e: string | null; i: string | null; n: string }>(
    client,
    `SELECT dateDiff('millisecond', max(event_time), now64(3)) AS e, dateDiff('millisecond', max(inserted_at), now64(3)) AS i, count() AS n FROM ${T.events}`,
  );
  if (!r || Number(r.n) === 0) return { newestEventAgeMs: null, newestInsertAgeMs: null };
  return { newestEventAgeMs: Number(r.e), newestInsertAgeMs: Number(r.i) };
}
