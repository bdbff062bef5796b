import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../../src/contract/index.ts';
import { cliSandbox, type CliSandbox } from '../support/cli-sandbox.ts';
import { isAlive } from '../../src/targets/local/supervisor.ts';

/**
 * SIGKILL the streaming job in the middle of a load test, restart it with `submit`: it resumes from
 * its checkpoint, and ClickHouse ends with every record exactly once (the replayed batch's inserts
 * carry the same deduplication tokens).
 *
 * The kill lands in the window the tokens are for: the job runs with the test hook
 * SPEEDLAYER_TEST_PAUSE_AFTER_WRITE (spark/.../SpeedLayerBatch.scala, FaultInjection), which blocks it
 * after a batch's rows are in ClickHouse and before Spark commits the batch; the test kills it there,
 * so the restarted job must replay that batch. (A kill at a random moment mostly lands between
 * batches, where nothing is replayed and a broken token goes unnoticed.)
 */
describe('crash recovery', () => {
  let sb: CliSandbox;

  beforeAll(async () => {
    sb = await cliSandbox();
    await sb.run(['up']);
  });

  afterAll(async () => {
    if (sb) await sb.run(['down', '--purge', '--yes'], { reject: false });
  });

  it('loses nothing and double-counts nothing after kill -9 of the job between its inserts and its commit', async () => {
    // Paused after its second batch with events: the first one's commit is in the checkpoint.
    await sb.run(['submit'], { env: { SPEEDLAYER_TEST_PAUSE_AFTER_WRITE: '2' } });
    const pidFile = path.join(sb.home, 'local', 'spark', 'spark-job.pid.json');
    const logFile = path.join(sb.home, 'local', 'spark', 'spark-job.log');
    const { pid } = JSON.parse(await readFile(pidFile, 'utf8')) as { pid: number };
    // The cold first batch (tens of seconds on a slow machine) ends before the load begins, so the
    // load spans several batches and the second one with events comes while records still arrive.
    const firstBatch = Date.now() + 180_000;
    while (!(await readFile(logFile, 'utf8')).includes(`${pipeline.jobProtocol.progress} `) && Date.now() < firstBatch) await sleep(500);
    const loadtest = sb.run(['--json', 'loadtest', '--rate', '2000', '--duration', '30', '--seed', '11', '--warmup', '0', '--drain-timeout', '240'], { reject: false });

    // Wait until the job has written its second batch with events and holds before its commit.
    const deadline = Date.now() + 120_000;
    let paused: number | undefined;
    while (paused === undefined && Date.now() < deadline) {
      const m = /^SPEEDLAYER_PAUSED_AFTER_WRITE (\d+)$/m.exec(await readFile(logFile, 'utf8'));
      if (m) paused = Number(m[1]);
      else await sleep(200);
    }
    expect(paused, 'the job never reached the pause after its inserts').toBeDefined();
    process.kill(-pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(100);
    const logBeforeRestart = (await readFile(logFile, 'utf8')).length;
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
    // The restarted job resumed from the checkpoint by replaying the batch killed before its commit.
    const afterRestart = (await readFile(logFile, 'utf8')).slice(logBeforeRestart);
    const batchIds = [...afterRestart.matchAll(/SPEEDLAYER_PROGRESS \{"batchId":(\d+)/g)].map((m) => Number(m[1]));
    expect(Math.min(...batchIds)).toBe(paused);
  });
});
