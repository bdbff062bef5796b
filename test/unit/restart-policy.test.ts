import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { pipeline, PROJECT_ROOT } from '../../src/contract/index.ts';
import { decideRestart, readSupervisorState, supervisorSummary, type RestartPolicy } from '../../src/targets/local/restart-policy.ts';

const policy: RestartPolicy = { maxRestarts: 3, initialBackoffMs: 5_000, maxBackoffMs: 12_000, stableAfterMs: 600_000 };
const failed = (ranMs = 1_000) => ({ code: 1, signal: null, ranMs, failure: 'ClickHouseInsertException: insert failed' });

describe('restart policy (OnFailure)', () => {
  it('restarts a failed run with a doubling, capped backoff, then gives up saying why', () => {
    const delays: number[] = [];
    let before = 0;
    for (;;) {
      const d = decideRestart(failed(), before, policy);
      if (d.action !== 'restart') {
        expect(d).toEqual({
          action: 'give-up',
          failuresInARow: 4,
          reason: 'gave up after 3 restarts: 4 runs in a row failed; the last one exit code 1 after 1 s: ClickHouseInsertException: insert failed',
        });
        break;
      }
      delays.push(d.delayMs);
      before = d.failuresInARow;
    }
    expect(delays).toEqual([5_000, 10_000, 12_000]);
  });

  it('a kill is a failure; exit code 0 is not restarted; a long run resets the count', () => {
    expect(decideRestart({ code: null, signal: 'SIGKILL', ranMs: 10 }, 0, policy)).toEqual({ action: 'restart', delayMs: 5_000, failuresInARow: 1 });
    expect(decideRestart({ code: 0, signal: null, ranMs: 10 }, 2, policy)).toEqual({ action: 'finished' });
    expect(decideRestart(failed(600_000), 3, policy)).toEqual({ action: 'restart', delayMs: 5_000, failuresInARow: 1 });
  });

  it('does not restart a job that cannot read its checkpoint, and says how to recover', () => {
    const end = { code: pipeline.jobProtocol.checkpointUnreadableExitCode, signal: null, ranMs: 20_000, failure: 'the checkpoint /x could not be read' };
    const d = decideRestart(end, 0, policy);
    expect(d).toMatchObject({ action: 'give-up', failuresInARow: 1 });
    expect(d.action === 'give-up' && d.reason).toMatch(/^not restarted: the job cannot start from its checkpoint .*exit code \d+ after 20 s: the checkpoint \/x could not be read$/);
    expect(d.action === 'give-up' && d.fix).toMatch(/speedlayer submit --reset-checkpoint/);
  });
});

describe('the job supervisor process', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'speedlayer-supervisor-'));
  const supervise = async (name: string, script: string, maxRestarts: number, command = process.execPath, tmpDir?: string) => {
    const stateFile = path.join(dir, `${name}.json`);
    const planFile = path.join(dir, `${name}.plan.json`);
    const plan = { command, args: ['-e', script], tmpDir, stateFile, policy: { maxRestarts, initialBackoffMs: 10, maxBackoffMs: 20, stableAfterMs: 60_000 } };
    writeFileSync(planFile, JSON.stringify(plan));
    const r = await execa(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/targets/local/job-supervisor-main.ts'), planFile], { cwd: PROJECT_ROOT, reject: false, timeout: 30_000 });
    return { r, state: await readSupervisorState(stateFile) };
  };

  it('restarts a failing job, passes its output through, and gives up after maxRestarts with the job failure', async () => {
    const { r, state } = await supervise('fails', "console.log('SPEEDLAYER_FAILED boom'); process.exit(1)", 2);
    expect(r.exitCode).toBe(1);
    expect(r.stdout.match(/^SPEEDLAYER_FAILED boom$/gm)).toHaveLength(3);
    expect(r.stdout).toContain('SPEEDLAYER_SUPERVISOR restart 2 of at most 2');
    expect(state).toMatchObject({ state: 'gave-up', runs: 3, failuresInARow: 3 });
    expect(supervisorSummary(state!)).toMatch(/^gave up after 2 restarts: 3 runs in a row failed; the last one exit code 1 after \d+ s: boom \(fix the cause/);
  }, 30_000);

  it('gives up at once on a job that cannot read its checkpoint, with the recovery in its summary', async () => {
    const code = pipeline.jobProtocol.checkpointUnreadableExitCode;
    const { r, state } = await supervise('checkpoint', `console.log('SPEEDLAYER_FAILED the checkpoint /x could not be read'); process.exit(${code})`, 3);
    expect(r.exitCode).toBe(1);
    expect(r.stdout.match(/^SPEEDLAYER_FAILED /gm)).toHaveLength(1);
    expect(state).toMatchObject({ state: 'gave-up', runs: 1 });
    expect(supervisorSummary(state!)).toMatch(/^not restarted: the job cannot start from its checkpoint.*\('speedlayer submit --reset-checkpoint' discards/);
  }, 30_000);

  it('counts a job that cannot be started (no such program) as a failed run, and gives up saying so', async () => {
    const { r, state } = await supervise('missing', '', 1, path.join(dir, 'no-such-java'));
    expect(r.exitCode).toBe(1);
    expect(state).toMatchObject({ state: 'gave-up', runs: 2, failuresInARow: 2 });
    expect(state!.lastEnd).toMatch(/cannot start \S+no-such-java: spawn \S+ ENOENT/);
  }, 30_000);

  it('restarts a job killed by a signal until it runs to a clean end', async () => {
    const marker = path.join(dir, 'killed-once');
    const script = `const fs=require('fs'); if(!fs.existsSync(${JSON.stringify(marker)})){fs.writeFileSync(${JSON.stringify(marker)},''); process.kill(process.pid,'SIGKILL')} console.log('second run')`;
    const { r, state } = await supervise('killed', script, 2);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('killed by SIGKILL');
    expect(r.stdout).toContain('second run');
    expect(state).toMatchObject({ state: 'finished', runs: 2 });
  }, 30_000);

  it('starts each run with an empty temporary folder: what a killed run left there is removed', async () => {
    const tmpDir = path.join(dir, 'job-tmp');
    mkdirSync(tmpDir);
    writeFileSync(path.join(tmpDir, 'left-before'), '');
    const script = `const fs=require('fs'); const dir=${JSON.stringify(tmpDir)}; console.log('found: '+(fs.readdirSync(dir).join(',')||'nothing')); fs.writeFileSync(dir+'/scratch-'+Date.now(),''); process.kill(process.pid,'SIGKILL')`;
    const { r, state } = await supervise('tmp', script, 1, process.execPath, tmpDir);
    expect(state).toMatchObject({ state: 'gave-up', runs: 2 });
    expect(r.stdout.match(/^found: .*$/gm)).toEqual(['found: nothing', 'found: nothing']);
  }, 30_000);
});
