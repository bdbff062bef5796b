import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/contract/index.ts';
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
 * SPEEDLAYER_FAULT_RESULTS (default <tmp>/speedlayer-fault-results.md; under npm test, <tmp> is the
 * run's folder) and are printed; they are copied into docs/reliability.md.
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

const pidIn = async (pidFile: string): Promise<number> => (JSON.parse(await readFile(pidFile, 'utf8')) as { pid: number }).pid;

/** Stops a component's process group as `down` does (SIGTERM, then SIGKILL after 30 s). */
async function stopGroup(pid: number): Promise<void> {
  process.kill(-pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(100);
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

  const pidOf = (component: 'kafka' | 'clickhouse') => pidIn(path.join(paths.stateDir, component, `${component}.pid.json`));

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
  async function underLoad(name: string, seed: number, fault: () => Promise<{ endedAt: number; lastedS: number }>, effectsOfTheFault = new Set<string>()) {
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
    const correctness = report.checks.filter((c) => !SPEED_CHECKS.has(c.name) && !effectsOfTheFault.has(c.name));
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
      // While ClickHouse is away, so are the dashboards' answers: their failed rounds are the fault, not a loss.
    }, new Set(['dashboard query rounds failed']));
    // The job rode it out by retrying its inserts: the same run, not a restart.
    expect(await readSupervisorState(supervisorFile)).toMatchObject({ state: 'running', runs: runsBefore });
  });

  // Last: it discards the checkpoint.
  it('a corrupted checkpoint: submit stops at once naming it and the recovery; --reset-checkpoint recovers', async () => {
    await stopGroup(await pidIn(path.join(paths.sparkDir, 'spark-job.pid.json')));
    const offsets = path.join(paths.checkpointDir, 'offsets');
    const latest = Math.max(...(await readdir(offsets)).filter((f) => /^\d+$/.test(f)).map(Number));
    await writeFile(path.join(offsets, String(latest)), 'not an offset log\n');

    const started = Date.now();
    const submit = await sb.run(['submit'], { reject: false });
    const failedAfterS = (Date.now() - started) / 1000;
    expect(submit.exitCode).not.toBe(0);
    expect(submit.stderr).toContain(`the checkpoint ${paths.checkpointDir} could not be read`);
    expect(submit.stderr).toContain("'speedlayer submit --reset-checkpoint' discards");
    // Not restarted five times over minutes: a restart would fail the same way.
    expect(await readSupervisorState(path.join(paths.sparkDir, 'spark-job.supervisor.json'))).toMatchObject({ state: 'gave-up', runs: 1 });
    const status = await sb.run(['status'], { reject: false });
    expect(status.stdout).toMatch(/spark-job\s.*not restarted: the job cannot start from its checkpoint/);

    const reset = await sb.run(['submit', '--reset-checkpoint', '--yes']);
    expect(reset.stdout + reset.stderr).toContain('checkpoint moved to');
    expect(existsSync(path.join(paths.checkpointDir, 'offsets', String(latest)))).toBe(false);
    appendFileSync(RESULTS, `| corrupted checkpoint (offsets/${latest} overwritten) | - | - | - | - | - | submit failed after ${failedAfterS.toFixed(1)} s naming the checkpoint; running again after --reset-checkpoint | - |\n`);
  });
});

describe('up interrupted, then run again', () => {
  let sb: CliSandbox;
  beforeAll(async () => {
    sb = await cliSandbox();
  });
  afterAll(async () => {
    if (sb) await sb.run(['down', '--purge', '--yes'], { reject: false });
  });

  const componentPids = async (): Promise<number[]> => {
    const paths = localPaths(sb.home);
    const files = [path.join(paths.stateDir, 'kafka', 'kafka.pid.json'), path.join(paths.stateDir, 'clickhouse', 'clickhouse.pid.json')];
    return (await Promise.all(files.map((f) => pidIn(f).catch(() => undefined)))).filter((pid): pid is number => pid !== undefined);
  };
  /** Starts `up` as a user would and stops it with `signal` once Kafka's process exists. */
  async function interruptUp(signal: 'SIGINT' | 'SIGKILL') {
    const kafkaPidFile = path.join(localPaths(sb.home).stateDir, 'kafka', 'kafka.pid.json');
    const child = execa(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'speedlayer.js'), '--config', sb.configFile, '--target', 'local', 'up'], {
      reject: false,
      stdin: 'ignore',
      env: { FORCE_COLOR: '0' },
    });
    for (let i = 0; i < 600 && !existsSync(kafkaPidFile); i++) await sleep(100);
    expect(existsSync(kafkaPidFile)).toBe(true);
    const kafkaPid = await pidIn(kafkaPidFile);
    child.kill(signal);
    return { result: await child, kafkaPid };
  }

  it('Ctrl-C stops what that run started; the next up converges', async () => {
    const { result, kafkaPid } = await interruptUp('SIGINT');
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/Start Kafka.*interrupted/);
    expect(isAlive(kafkaPid)).toBe(false);
    expect((await sb.run(['up'])).exitCode).toBe(0);
    const status = await sb.run(['--json', 'status']);
    const components = (JSON.parse(status.stdout) as { components: Array<{ name: string; state: string }> }).components;
    expect(components.filter((c) => c.name === 'kafka' || c.name === 'clickhouse').map((c) => c.state)).toEqual(['up', 'up']);
    await sb.run(['down']);
  });

  it('up killed outright leaves processes that down stops; up after it converges', async () => {
    const { result, kafkaPid } = await interruptUp('SIGKILL');
    expect(result.signal).toBe('SIGKILL');
    expect(isAlive(kafkaPid)).toBe(true);
    expect((await sb.run(['down'])).exitCode).toBe(0);
    expect(isAlive(kafkaPid)).toBe(false);
    for (const pid of await componentPids()) expect(isAlive(pid)).toBe(false);
    expect((await sb.run(['up'])).exitCode).toBe(0);
    expect((await componentPids()).every(isAlive)).toBe(true);
  });
});
