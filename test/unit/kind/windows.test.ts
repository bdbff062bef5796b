import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { helmValuesPods } from '../../../src/targets/kind/budget.ts';
import { findExecutable, lines } from '../../../src/targets/kind/exec.ts';
import { readValues } from '../../../src/targets/kind/render/helm.ts';
import { parseVersion } from '../../../src/targets/kind/steps/preflight.ts';
import { kindTarget } from './support/targets.ts';

const ROOT = 'C:\\Users\\dev\\source\\speedlayer';
const TEMP = 'C:\\Users\\dev\\AppData\\Local\\Temp';

describe('the plan with Windows path semantics (path.win32)', async () => {
  const plan = await kindTarget({}, { pathApi: nodePath.win32, platform: 'win32', projectRoot: ROOT, tmpDir: TEMP }).plan();
  const commands = plan.steps.flatMap((s) => s.commands);

  it('file arguments are Windows paths under the checkout and %TEMP%', () => {
    const args = commands.flat();
    expect(args).toContain(`${ROOT}\\manifests\\spark-operator-values.yaml`);
    expect(args).toContain(`${ROOT}\\manifests\\strimzi-values.yaml`);
    expect(args).toContain(`${ROOT}\\manifests\\clickhouse-operator-values.yaml`);
    expect(args).toContain(`${TEMP}\\speedlayer-kind-speedlayer.yaml`);
    expect(args).toContain(`${ROOT}\\spark\\Dockerfile`);
    for (const a of args.filter((x) => x.startsWith('C:'))) expect(a, a).not.toContain('/');
  });

  it('no shell: programs are run directly with argument arrays, never sh/cmd/powershell', () => {
    for (const c of commands) {
      expect(['docker', 'kind', 'helm', 'kubectl']).toContain(c[0]);
      expect(c.join(' ')).not.toMatch(/\b(sh|bash|cmd|powershell)\b.*-c|&&|\|/);
    }
  });

  it('resolves kind.exe through PATHEXT and a case-insensitive Path variable', async () => {
    const existing = new Set(['C:\\Tools\\kind.exe', 'C:\\Program Files\\Docker\\Docker\\resources\\bin\\docker.exe']);
    const env = { Path: 'C:\\Windows;"C:\\Tools";C:\\Program Files\\Docker\\Docker\\resources\\bin', PATHEXT: '.COM;.EXE;.BAT' };
    const exists = async (f: string) => existing.has(f);
    expect(await findExecutable('kind', env, 'win32', nodePath.win32, exists)).toBe('C:\\Tools\\kind.exe');
    expect(await findExecutable('docker', env, 'win32', nodePath.win32, exists)).toBe('C:\\Program Files\\Docker\\Docker\\resources\\bin\\docker.exe');
    expect(await findExecutable('helm', env, 'win32', nodePath.win32, exists)).toBeUndefined();
  });

  it('reads tool output and values files with CRLF line endings', () => {
    expect(lines('speedlayer\r\nother\r\n')).toEqual(['speedlayer', 'other']);
    expect(parseVersion('kind v0.32.0 go1.24.4 windows/amd64\r\n')).toBe('0.32.0');
    expect(parseVersion('v3.19.0+g3d8990f\r\n')).toBe('3.19.0');
    const dir = mkdtempSync(nodePath.join(os.tmpdir(), 'speedlayer-crlf-'));
    const source = nodePath.resolve(import.meta.dirname, '..', '..', '..', 'manifests', 'spark-operator-values.yaml');
    const crlf = nodePath.join(dir, 'values.yaml');
    writeFileSync(crlf, readFileSync(source, 'utf8').replace(/\r?\n/g, '\r\n'));
    expect(helmValuesPods('spark-operator', readValues(crlf))).toEqual(helmValuesPods('spark-operator', readValues(source)));
  });

  it('the budget is the same as on Linux', async () => {
    expect(plan.memory_budget).toEqual((await kindTarget().plan()).memory_budget);
    expect(plan.cpu_budget).toEqual((await kindTarget().plan()).cpu_budget);
  });
});
