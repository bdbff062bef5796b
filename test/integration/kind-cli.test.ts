import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/contract/index.ts';

const run = promisify(execFile);
const BIN = path.join(PROJECT_ROOT, 'bin', 'speedlayer.js');

/** The real CLI, with its own state directory and kubeconfig so nothing of the machine's is touched. */
async function speedlayer(args: string[]) {
  const home = mkdtempSync(path.join(os.tmpdir(), 'speedlayer-kind-cli-'));
  const kubeconfig = path.join(home, 'kubeconfig');
  const env = { ...process.env, SPEEDLAYER_HOME: path.join(home, 'state'), KUBECONFIG: kubeconfig };
  const r = await run(process.execPath, [BIN, ...args], { env, cwd: PROJECT_ROOT, timeout: 120_000 }).then(
    (o) => ({ code: 0, stdout: o.stdout, stderr: o.stderr }),
    (e) => ({ code: e.code as number, stdout: String(e.stdout), stderr: String(e.stderr) }),
  );
  return { ...r, home, kubeconfig };
}

const dockerAnswers = await run('docker', ['info'], { timeout: 20_000 }).then(() => true, () => false);
if (dockerAnswers) console.warn('SKIPPED "fails in preflight without Docker": a Docker engine answers on this machine');

describe('speedlayer --target kind (real CLI)', () => {
  it('up --plan --json prints the steps, a memory budget within 9.5 GB and a CPU budget within 4 CPUs, and runs nothing', async () => {
    const r = await speedlayer(['up', '--target', 'kind', '--plan', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.steps.length).toBeGreaterThan(10);
    expect(plan.memory_budget.limit_mib).toBe(9728);
    expect(plan.memory_budget.total_mib).toBeLessThanOrEqual(9728);
    expect(plan.cpu_budget.limit_millicores).toBe(4000);
    expect(plan.cpu_budget.total_millicores).toBeLessThanOrEqual(plan.cpu_budget.limit_millicores);
    expect(plan.cpu_budget.items[0]).toEqual({ name: expect.any(String), request_millicores: expect.any(Number), limit_millicores: null });
    expect(existsSync(r.kubeconfig)).toBe(false);
  });

  it.skipIf(dockerAnswers)('up fails in preflight with a clear message about the missing Docker engine and changes nothing', async () => {
    const r = await speedlayer(['up', '--target', 'kind']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Docker engine (not reachable|docker CLI not found)/);
    expect(r.stderr).toMatch(/Start Docker Desktop|Install Docker Desktop/);
    expect(r.stderr).not.toMatch(/Create kind cluster/);
    expect(existsSync(r.kubeconfig)).toBe(false);
    const state = path.join(r.home, 'state');
    expect(existsSync(path.join(state, 'kind')) ? readdirSync(path.join(state, 'kind')) : []).toEqual([]);
  });
});
