import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, type CliSandbox } from '../../src/bench/cli-sandbox.ts';
import { isAlive } from '../../src/targets/local/supervisor.ts';

/**
 * SIGKILL the streaming job in the middle of a load test, restart it with `submit`: it resumes from
 * its checkpoint, and ClickHouse ends with every record exactly once (the replayed batch's inserts
 * carry the same deduplication tokens).
 */
describe('crash recovery', () => {
  let sb: CliSandbox;

  beforeAll(async () => {
    sb = await cliSandbox();
    await sb.run(['up']);
    await sb.run(['submit']);
  });

  afterAll(async () => {
    if (sb) await sb.run(['down', '--purge', '--yes'], { reject: false });
  });

  it('loses nothing and double-counts nothing after kill -9 of the job', async () => {
    const loadtest = sb.run(['--json', 'loadtest', '--rate', '2000', '--duration', '30', '--seed', '11', '--warmup', '0', '--drain-timeout', '240'], { reject: false });
    const pidFile = path.join(sb.home, 'local', 'spark', 'spark-job.pid.json');
    const { pid } = JSON.parse(await readFile(pidFile, 'utf8')) as { pid: number };

    // Let it write a few batches, then kill it without warning, mid-run.
    await sleep(12_000);
    // Micro-batches start on multiples of the 2 s trigger; 0.9 s in, a batch is usually inserting and
    // not yet committed, so the restarted job replays it (the case the deduplication tokens are for).
    await sleep(2000 - ((Date.now() - 900) % 2000));
    process.kill(-pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(100);
    await sleep(3_000);
    const logFile = path.join(sb.home, 'local', 'spark', 'spark-job.log');
    const logBefore = await readFile(logFile, 'utf8');
    const logBeforeRestart = logBefore.length;
    const batchesBeforeKill = [...logBefore.matchAll(/SPEEDLAYER_PROGRESS \{"batchId":(\d+)/g)].map((m) => Number(m[1]));
    await sb.run(['submit']);
    const { pid: restarted } = JSON.parse(await readFile(pidFile, 'utf8')) as { pid: number };
    expect(restarted).not.toBe(pid);

    const report = JSON.parse((await loadtest).stdout);
    expect(report.produced).toBe(60000);
    expect(report.missing).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.accepted).toBe(report.ground_truth.accepted);
    expect(report.dead_lettered).toBe(report.malformed_injected);

    // Exactly once in the tables themselves: no row twice, even before merges.
    const ch = await sb.clickhouse();
    try {
      const one = async (sql: string) => Number(((await (await ch.query({ query: sql, format: 'JSONEachRow' })).json()) as Array<{ n: string }>)[0]!.n);
      expect(await one('SELECT count() AS n FROM events')).toBe(report.ground_truth.accepted);
      expect(await one('SELECT count() AS n FROM late_events')).toBe(report.ground_truth.late);
      expect(await one('SELECT count() AS n FROM dead_letters')).toBe(report.malformed_injected);
      // The per-minute rollup counts every inserted block for good (merges of the ReplacingMergeTree
      // would hide a doubled insert in `events`, not here): equal only if no replayed block was stored twice.
      expect(await one('SELECT countMerge(events) AS n FROM events_by_minute')).toBe(report.ground_truth.accepted);
    } finally {
      await ch.close();
    }
    // The restarted job resumed from the checkpoint: its first batch is the last one before the kill
    // (replayed, if it was not committed) or the next, never an earlier one.
    const afterRestart = (await readFile(logFile, 'utf8')).slice(logBeforeRestart);
    const batchIds = [...afterRestart.matchAll(/SPEEDLAYER_PROGRESS \{"batchId":(\d+)/g)].map((m) => Number(m[1]));
    expect(batchIds.length).toBeGreaterThan(0);
    expect(Math.min(...batchIds)).toBeGreaterThanOrEqual(Math.max(0, ...batchesBeforeKill));
  });
});
