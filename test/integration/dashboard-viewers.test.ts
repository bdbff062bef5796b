import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScratchClickHouse, type ScratchClickHouse } from '../support/embedded-clickhouse.ts';
import { applyMigrations } from '../../src/clients/clickhouse.ts';
import { loadDashboardQueries } from '../../src/contract/index.ts';
import { closedLoop, startViewers } from '../../src/loadtest/dashboard-viewers.ts';

/**
 * The load test's dashboard viewers and the benchmark's closed loop, against the embedded engine
 * with the project's schema, as the dashboard user: every panel of every refresh answered, and the
 * figures count what was really sent.
 */

let ch: ScratchClickHouse;
const queries = loadDashboardQueries();

beforeAll(async () => {
  ch = await startScratchClickHouse({ database: 'speedlayer_viewers_it', onProgress: (m) => console.log(`[chdb-env] ${m}`) });
  await applyMigrations(ch.endpoints);
});

afterAll(async () => {
  await ch?.stop();
});

describe('dashboard viewers and the closed loop', () => {
  it('runs N viewers refreshing every named query at once, and reports panels, refreshes and errors', async () => {
    expect(ch.endpoints.dashboard).toBeDefined();
    const viewers = startViewers(ch.endpoints, { viewers: 3, refreshSeconds: 0.5 });
    await new Promise((r) => setTimeout(r, 2_000));
    const f = await viewers.stop();
    expect(f.first_error).toBeUndefined();
    expect(f.errors).toBe(0);
    // Each viewer refreshed more than once, and every refresh fired every panel.
    expect(f.refreshes).toBeGreaterThanOrEqual(3 * 2);
    expect(f.queries).toBe(f.refreshes * queries.length);
    expect(f.panel_latency_ms.p50).toBeGreaterThan(0);
    // A refresh lasts as long as its slowest panel.
    expect(f.refresh_latency_ms.p50!).toBeGreaterThanOrEqual(f.panel_latency_ms.p50!);
  });

  it('reports the errors of panels the dashboard user may not run, without stopping', async () => {
    const viewers = startViewers(ch.endpoints, {
      viewers: 1,
      refreshSeconds: 0.5,
      queries: [queries[0]!, { ...queries[0]!, name: 'writes', sql: 'CREATE TABLE nope (x UInt8) ENGINE = Memory' }],
    });
    await new Promise((r) => setTimeout(r, 1_200));
    const f = await viewers.stop();
    expect(f.errors).toBe(f.refreshes);
    expect(f.first_error).toMatch(/^writes: .*readonly/i);
  });

  it('runs clients in a closed loop and counts every answer', async () => {
    const f = await closedLoop(ch.endpoints, { clients: 2, seconds: 1.5 });
    expect(f.errors).toBe(0);
    expect(f.queries).toBeGreaterThan(2);
    expect(f.queries_per_s).toBeGreaterThan(0);
    expect(f.latency_ms.p95).not.toBeNull();
  });
});
