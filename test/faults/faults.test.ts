import { appendFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, type CliSandbox } from '../support/cli-sandbox.ts';
import { localPaths } from '../../src/targets/local/paths.ts';
import { readSupervisorState } from '../../src/targets/local/restart-policy.ts';
import { isAlive } from '../../src/targets/local/supervisor.ts';

/**
 * Faults on the real local stack, each under a load test (`loadtest --json`, default 10,000 events/s
 * for 60 s; SPEEDLAYER_FAULT_RATE / SPEEDLAYER_FAULT_DURATION override), each ending with the load
 * test's ground-truth comparison: nothing missing, nothing stored twice. The recovery time is from
 * the end of the fault until the job has read everything Kafka held (a batch whose end offsets are
 * the latest offsets), measured on the job's progress file. The figures of every fault go to
 * SPEEDLAYER_FAULT_RESULTS (default <tmp>/speedlayer-fault-results.md) and are printed; they are
 * copied into docs/reliability.md.
 */
const RATE = process.env.SPEEDLAYER_FAULT_RATE ?? '10000';
const DURATION = process.env.SPEEDLAYER_FAULT_DURATION ?? '60';
const RESULTS = process.env.SPEEDLAYER_FAULT_RESULTS ?? path.join(os.tmpdir(), 'speedlayer-fault-results.md');
/** The checks that measure speed, not correctness: a fault is allowed to slow the pipeline down. */
const SPEED_CHECKS = new Set(['achieved events/s', 'end-to-end latency p95', 'dashboard query p95']);

interface Report {
  produced: number;
  accepted: number;
  dead_lettered: number;
  malformed_injected: number;
  missing: number;
  duplicated: number;
  drain_s: number;
  achieved_eps: number;
  ground_truth: { accepted: number; late: number; duplicates: number };
  checks: Array<{ name: string; passed: boolean; actual: unknown; expected: unknown }>;
}

describe('faults under load on the local stack', () => {
  let sb: CliSandbox;
  let paths: ReturnType<typeof localPaths>;

  beforeAll(async () => {
    sb = await cliSandbox();
    paths = localPaths(sb.home);
    await sb.run(['up']);
    await sb.run(['submit']);
    writeFileSync(
      RESULTS,
      `| fault | produced | found (events + late + dead letters) | missing | duplicated | fault lasted | recovery (caught up after the fault) | ground-truth checks |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n`,
    );
  });

  afterAll(async () => {
    if (sb) await sb.run(['down', '--purge', '--yes'], { reject: false });
    console.log(`fault figures (${RESULTS}):\n${await readFile(RESULTS, 'utf8').catch(() => '')}`);
  });

  const pidOf = async (component: 'kafka' | 'clickhouse'): Promise<number> =>
    (JSON.parse(await readFile(path.join(paths.stateDir, component, `${component}.pid.json`), 'utf8')) as { pid: number }).pid;

  async function stopGroup(pid: number): Promise<void> {
    process.kill(-pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(100);
  }

  /** Ms from `since` until a batch that started after it read up to the latest offsets Kafka had. */
  async function caughtUp(since: number, timeoutMs = 900_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const text = await readFile(paths.sparkProgressFile, 'utf8').catch(() => '');
      try {
        const p = JSON.parse(text) as { timestamp: string; sources: Array<{ endOffset: unknown; latestOffset: unknown }> };
        if (Date.parse(p.timestamp) >= since && p.sources.length > 0 && p.sources.every((s) => s.latestOffset != null && isDeepStrictEqual(s.endOffset, s.latestOffset))) {
          return Date.now() - since;
        }
      } catch {
        /* being replaced, or none yet */
      }
      await sleep(500);
    }
    throw new Error(`the job did not catch up within ${timeoutMs / 1000} s`);
  }

  /** Runs a load test, injects the fault once it is under way, and checks the ground-truth comparison. */
  async function underLoad(name: string, seed: number, fault: () => Promise<{ endedAt: number; lastedS: number }>) {
    const lt = sb.run(['--json', 'loadtest', '--rate', RATE, '--duration', DURATION, '--warmup', '0', '--seed', String(seed), '--drain-timeout', '900'], { reject: false });
    await sleep(20_000);
    const f = await fault();
    const recoveryMs = await caughtUp(f.endedAt);
    const r = await lt;
    let report: Report;
    try {
      report = JSON.parse(r.stdout) as Report;
    } catch {
      throw new Error(`loadtest printed no report (exit ${r.exitCode}):\n${r.stderr.slice(-3000)}`);
    }
    const correctness = report.checks.filter((c) => !SPEED_CHECKS.has(c.name));
    const failed = correctness.filter((c) => !c.passed);
    const found = report.accepted + report.ground_truth.late + report.dead_lettered;
    appendFileSync(
      RESULTS,
      `| ${name} | ${report.produced.toLocaleString('en-US')} | ${found.toLocaleString('en-US')} (+ ${report.ground_truth.duplicates.toLocaleString('en-US')} duplicates dropped) | ${report.missing} | ${report.duplicated} | ${f.lastedS.toFixed(1)} s | ${(recoveryMs / 1000).toFixed(1)} s | ${correctness.length - failed.length} of ${correctness.length} passed |\n`,
    );
    expect(failed, JSON.stringify(failed)).toEqual([]);
    expect(report.missing).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.accepted).toBe(report.ground_truth.accepted);
    expect(report.dead_lettered).toBe(report.malformed_injected);
    expect(found + report.ground_truth.duplicates).toBe(report.produced);
    return report;
  }

  it('the job killed (SIGKILL of its JVM) is restarted by its supervisor and resumes from its checkpoint', async () => {
    const supervisorFile = path.join(paths.sparkDir, 'spark-job.supervisor.json');
    await underLoad('job JVM killed (kill -9), restarted by the supervisor', 101, async () => {
      const before = await readSupervisorState(supervisorFile);
      expect(before).toMatchObject({ state: 'running', runs: 1 });
      process.kill(before!.jobPid!, 'SIGKILL');
      const killedAt = Date.now();
      let after = before;
      while (after?.runs !== 2 || after.state !== 'running') {
        await sleep(200);
        after = await readSupervisorState(supervisorFile);
      }
      expect(after.jobPid).not.toBe(before!.jobPid);
      expect(after.lastEnd).toMatch(/^killed by SIGKILL after \d+ s$/);
      return { endedAt: killedAt, lastedS: (Date.now() - killedAt) / 1000 };
    });
    const status = await sb.run(['status']);
    expect(status.stdout).toMatch(/spark-job\s.*restarted 1 time \(last run killed by SIGKILL/);
  });

  it('the Kafka broker restarted under load: the idempotent producer and the job resume', async () => {
    await underLoad('Kafka broker restarted (SIGTERM, then up)', 102, async () => {
      const stoppedAt = Date.now();
      await stopGroup(await pidOf('kafka'));
      await sb.run(['up']);
      const endedAt = Date.now();
      return { endedAt, lastedS: (endedAt - stoppedAt) / 1000 };
    });
  });

  it('ClickHouse down for 90 s under load: inserts are retried, the job falls behind and catches up', async () => {
    const supervisorFile = path.join(paths.sparkDir, 'spark-job.supervisor.json');
    let runsBefore: number | undefined;
    await underLoad('ClickHouse down 90 s (SIGTERM, 90 s, up)', 103, async () => {
      runsBefore = (await readSupervisorState(supervisorFile))?.runs;
      const stoppedAt = Date.now();
      await stopGroup(await pidOf('clickhouse'));
      await sleep(Math.max(0, stoppedAt + 90_000 - Date.now()));
      await sb.run(['up']);
      const endedAt = Date.now();
      return { endedAt, lastedS: (endedAt - stoppedAt) / 1000 };
    });
    // The job rode it out by retrying its inserts: the same run, not a restart.
    expect(await readSupervisorState(supervisorFile)).toMatchObject({ state: 'running', runs: runsBefore });
  });
});
