import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordingStatus } from '../../../src/base/status.ts';
import { runSteps } from '../../../src/base/step.ts';
import { execaRunner, versionAtLeast, type CommandRunner } from '../../../src/targets/kind/exec.ts';
import { cgroupV2Fix, nodeImageFor, parseDockerInfo, runPreflightChecks, wslCpuFix, wslMemoryFix } from '../../../src/targets/kind/steps/preflight.ts';
import { kindTarget } from './support/targets.ts';
import { defaultKindConfig } from '../../../src/config/kind.ts';
import { MonitoringConfigSchema } from '../../../src/config/schema.ts';
import type { KindEnv } from '../../../src/targets/kind/context.ts';
import { clusterProvider } from '../../../src/targets/kind/cluster-providers.ts';

/** A directory with stub programs, so the tools "exist" on PATH for these tests. */
function binDir(names: string[]): string {
  const dir = mkdtempSync(nodePath.join(os.tmpdir(), 'speedlayer-bin-'));
  for (const n of names) {
    writeFileSync(nodePath.join(dir, n), '#!/bin/sh\nexit 0\n');
    chmodSync(nodePath.join(dir, n), 0o755);
  }
  return dir;
}

function recording(answers: Record<string, string | Error>): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(command) {
      const key = command.slice(0, 2).join(' ');
      calls.push(command.join(' '));
      const a = answers[key];
      if (a instanceof Error) throw a;
      if (a === undefined) throw new Error(`unexpected ${key}`);
      return { stdout: a, stderr: '' };
    },
  };
}

const dockerInfo = (memMiB: number, more: Record<string, unknown> = {}) =>
  JSON.stringify({ MemTotal: memMiB * 1024 * 1024, ServerVersion: '28.3.2', OperatingSystem: 'Docker Desktop', NCPU: 8, CgroupVersion: '2', ...more });
/** The default stack's budgets (memory limits, CPU requests), as `up` passes them. */
const needs = async () => {
  const plan = await kindTarget().plan();
  return { memoryMiB: plan.memory_budget.total_mib, cpuMillicores: plan.cpu_budget.total_millicores };
};

function env(runner: CommandRunner, PATH: string, platform: NodeJS.Platform = 'linux'): KindEnv {
  const config = { ...defaultKindConfig(), ports: { clickhouseHttp: 1, kafka: 2, sparkUi: 3 } };
  return {
    config, cluster: clusterProvider(config), monitoring: MonitoringConfigSchema.parse({}), retentionDays: 7, home: '/h', env: { PATH }, platform,
    pathApi: nodePath, projectRoot: '/repo', tmpDir: '/tmp', runner, kube: () => { throw new Error('no API in preflight'); },
  };
}

describe('preflight', () => {
  it('on this machine (no Docker engine): `up` fails in its first step with a clear message, and runs only read-only commands', async () => {
    const calls: string[] = [];
    const real = execaRunner(process.env);
    const runner: CommandRunner = { run: (c, o) => { calls.push(c.join(' ')); return real.run(c, o); } };
    const target = kindTarget({}, { runner, kube: () => { throw new Error('must not reach the API'); } });
    const status = new RecordingStatus();
    const steps = await target.upSteps();
    const run = runSteps(steps, { status, signal: new AbortController().signal });
    await expect(run).rejects.toThrow(/Docker engine (not reachable|docker CLI not found)/);
    const err = await run.catch((e) => e);
    expect(err.fix).toMatch(/Docker Desktop/);
    expect(status.events.filter((e) => e.startsWith('start'))).toEqual([`start ${steps[0]!.name}`]);
    for (const c of calls) expect(c).toMatch(/^(docker info|kind version|helm version)/);
  });

  it('too little Docker memory explains .wslconfig on Windows', async () => {
    const dir = binDir(['docker', 'kind', 'helm']);
    const runner = recording({
      'docker info': dockerInfo(6000), 'kind version': 'kind v0.32.0 go1.24 linux/amd64', 'helm version': 'v3.19.0+g1', 'kind get': '',
    });
    const n = await needs();
    const result = await runPreflightChecks(env(runner, dir), n);
    const mem = result.checks.find((c) => c.name === 'Docker memory')!;
    expect(mem).toMatchObject({ ok: false, fix: wslMemoryFix(n.memoryMiB, 'linux') });
    expect(wslMemoryFix(n.memoryMiB, 'win32')).toMatch(/\.wslconfig[\s\S]*\[wsl2\][\s\S]*memory=\d+GB[\s\S]*wsl --shutdown/);
    expect(wslMemoryFix(9216, 'win32')).toMatch(/memory=11GB/);
    expect(wslMemoryFix(9216, 'darwin')).toMatch(/Settings → Resources → Advanced → Memory limit/);
  });

  it('too few CPUs for the requests, and cgroup v1, each name the setting to change', async () => {
    const dir = binDir(['docker', 'kind', 'helm']);
    const runner = recording({
      'docker info': dockerInfo(16000, { NCPU: 2, CgroupVersion: '1' }), 'kind version': 'kind v0.32.0 go1.24 linux/amd64', 'helm version': 'v3.19.0+g1', 'kind get': '',
    });
    const n = await needs();
    const checks = (await runPreflightChecks(env(runner, dir), n)).checks;
    const cpu = checks.find((c) => c.name === 'Docker CPUs')!;
    expect(cpu).toMatchObject({ ok: false, found: `2 CPUs < ${n.cpuMillicores}m the stack's pods request (cpu_budget): some would never be scheduled` });
    expect(cpu.fix).toBe(wslCpuFix(n.cpuMillicores, 'linux'));
    expect(cpu.fix).toMatch(/Settings → Resources → Advanced → CPU limit/);
    expect(wslCpuFix(n.cpuMillicores, 'win32')).toMatch(/\[wsl2\][\s\S]*processors=4[\s\S]*wsl --shutdown/);
    const cgroup = checks.find((c) => c.name === 'cgroup version')!;
    expect(cgroup).toMatchObject({ ok: false, fix: cgroupV2Fix('linux') });
    expect(cgroupV2Fix('win32')).toMatch(/kernelCommandLine = cgroup_no_v1=all/);
    expect(checks.find((c) => c.name === 'Docker memory')!.ok).toBe(true);
  });

  it('enough CPUs, cgroup v2 and either image store pass; the image store is reported', async () => {
    const dir = binDir(['docker', 'kind', 'helm']);
    const runner = recording({
      'docker info': dockerInfo(12288, { NCPU: 4, DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']] }),
      'kind version': 'kind v0.32.0 go1.24 linux/amd64', 'helm version': 'v3.19.0+g1', 'kind get': '',
    });
    const checks = (await runPreflightChecks(env(runner, dir), await needs())).checks;
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.find((c) => c.name === 'image store')!.found).toMatch(/^containerd/);
    expect(runner.calls.some((c) => c.startsWith('kubectl'))).toBe(false);
  });

  it('old or missing tools each get their own fix', async () => {
    const dir = binDir(['docker', 'kind']);
    const runner = recording({
      'docker info': dockerInfo(16000), 'kind version': 'kind v0.20.0 go1.20 linux/amd64', 'kind get': '',
    });
    const failed = (await runPreflightChecks(env(runner, dir), await needs())).checks.filter((c) => !c.ok);
    expect(failed.map((c) => c.name)).toEqual(['kind', 'helm']);
    expect(failed[0]!.fix).toMatch(/kind 0\.32\.0 or newer/);
    expect(failed[1]!.fix).toMatch(/winget install Helm\.Helm/);
  });

  it('picks the node image built for the installed kind release, pinned by digest', () => {
    expect(nodeImageFor('0.32.0')).toMatch(/^kindest\/node:v1\.36\.1@sha256:[0-9a-f]{64}$/);
    // A release not in the table: kind's own default image (none in the generated config).
    expect(nodeImageFor('0.33.1')).toBeUndefined();
    expect(nodeImageFor(undefined, 'kindest/node:v1.35.8@sha256:' + 'a'.repeat(64))).toContain('v1.35.8');
  });

  it('parses docker info and compares versions', () => {
    expect(parseDockerInfo(dockerInfo(12000) + '\r\n')).toMatchObject({ memMiB: 12000, serverVersion: '28.3.2', cpus: 8, cgroupVersion: '2', containerdImageStore: false });
    expect(versionAtLeast('0.32.0', '0.32.0')).toBe(true);
    expect(versionAtLeast('v0.31.9', '0.32.0')).toBe(false);
    expect(versionAtLeast('4.0.1+gabc', '3.8.0')).toBe(true);
  });
});
