import type { ClickHouseClient } from '@clickhouse/client';
import { sleepUnlessAborted } from '../base/wait.ts';
import type { StackEndpoints } from '../base/stack.ts';
import { dashboardClient } from '../clients/clickhouse.ts';
import { loadDashboardQueries, type DashboardQuery } from '../contract/index.ts';
import { quantiles, type Quantiles } from './stats.ts';

/**
 * Dashboards as people use them, as the dashboard user: open loop (viewers, each refreshing every
 * panel at once every few seconds) and closed loop (clients sending the next query as soon as the
 * last one answered, to find what the engine can serve).
 */

export interface ViewerFigures {
  viewers: number;
  refresh_s: number;
  /** Whole refreshes completed (every panel answered or failed). */
  refreshes: number;
  queries: number;
  errors: number;
  /** The first error's message, if any (to say what went wrong). */
  first_error?: string;
  queries_per_s: number;
  /** One panel: request to parsed JSON. */
  panel_latency_ms: Quantiles;
  /** One refresh: from firing the panels to the slowest answer. */
  refresh_latency_ms: Quantiles;
  /** Refreshes that took longer than the refresh period (the next one then starts late). */
  overrun_refreshes: number;
}

export interface ClosedLoopFigures {
  clients: number;
  seconds: number;
  queries: number;
  errors: number;
  queries_per_s: number;
  latency_ms: Quantiles;
}

async function runPanel(client: ClickHouseClient, q: DashboardQuery, useCache = true): Promise<number> {
  const t0 = performance.now();
  const rs = await client.query({ query: q.sql, format: 'JSONEachRow', ...(useCache ? {} : { clickhouse_settings: { use_query_cache: 0 } }) });
  await rs.json();
  return performance.now() - t0;
}

/**
 * Starts `viewers` dashboards, each firing every named query at once every `refreshSeconds`
 * (starts spread over the first period, as real viewers are not in step). A refresh that overruns
 * its period is followed at once by the next. stop() waits for the refreshes in flight.
 */
export function startViewers(
  ch: StackEndpoints['clickhouse'],
  o: { viewers: number; refreshSeconds: number; queries?: DashboardQuery[] },
): { stop(): Promise<ViewerFigures> } {
  const queries = o.queries ?? loadDashboardQueries();
  const period = o.refreshSeconds * 1000;
  const stopping = new AbortController();
  const panels: number[] = [];
  const refreshes: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let overruns = 0;
  const startedAt = performance.now();
  const clients = Array.from({ length: o.viewers }, () => dashboardClient(ch, { maxOpenConnections: queries.length }));
  const loops = clients.map(async (client, v) => {
    let next = startedAt + (period * v) / o.viewers;
    for (;;) {
      await sleepUnlessAborted(next - performance.now(), stopping.signal);
      if (stopping.signal.aborted) return;
      const t0 = performance.now();
      await Promise.all(
        queries.map((q) =>
          runPanel(client, q).then(
            (ms) => void panels.push(ms),
            (err: unknown) => {
              errors++;
              firstError ??= `${q.name}: ${(err as Error).message}`;
            },
          ),
        ),
      );
      const took = performance.now() - t0;
      refreshes.push(took);
      if (took > period) overruns++;
      next = Math.max(next + period, performance.now());
    }
  });
  return {
    async stop() {
      stopping.abort();
      await Promise.all(loops);
      const seconds = (performance.now() - startedAt) / 1000;
      await Promise.allSettled(clients.map((c) => c.close()));
      return {
        viewers: o.viewers,
        refresh_s: o.refreshSeconds,
        refreshes: refreshes.length,
        queries: panels.length + errors,
        errors,
        ...(firstError ? { first_error: firstError } : {}),
        queries_per_s: Math.round((panels.length / seconds) * 10) / 10,
        panel_latency_ms: quantiles(panels),
        refresh_latency_ms: quantiles(refreshes),
        overrun_refreshes: overruns,
      };
    },
  };
}

/**
 * `clients` clients for `seconds`, each sending the named queries one after another (each client
 * starting at a different one), the next as soon as the last answered. Without the query cache
 * (use_query_cache=0): this measures what the engine serves, not how often answers are reused.
 */
export async function closedLoop(
  ch: StackEndpoints['clickhouse'],
  o: { clients: number; seconds: number; queries?: DashboardQuery[] },
): Promise<ClosedLoopFigures> {
  const queries = o.queries ?? loadDashboardQueries();
  const clients = Array.from({ length: o.clients }, () => dashboardClient(ch, { maxOpenConnections: 1 }));
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  try {
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = c; performance.now() < end; i++) {
          try {
            latencies.push(await runPanel(client, queries[i % queries.length]!, false));
          } catch {
            errors++;
          }
        }
      }),
    );
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    clients: o.clients,
    seconds: Math.round(seconds * 10) / 10,
    queries: latencies.length + errors,
    errors,
    queries_per_s: Math.round((latencies.length / seconds) * 10) / 10,
    latency_ms: quantiles(latencies),
  };
}
