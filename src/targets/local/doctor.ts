import { statfs } from 'node:fs/promises';
import os from 'node:os';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { DoctorCheck } from '../../base/stack.ts';
import type { LocalComponent } from './components/component.ts';
import { findOnPath, MONITORING_BINARIES, MONITORING_INSTALL_FIX } from './monitoring/binaries.ts';
import { portIsFree } from './ports.ts';

async function commandVersion(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const r = await execa(cmd, args, { all: true, timeout: 20_000 });
    return r.all ?? '';
  } catch {
    return undefined;
  }
}

export async function javaCheck(): Promise<DoctorCheck> {
  const out = await commandVersion('java', ['-version']);
  const major = Number(out?.match(/version "(\d+)/)?.[1] ?? 0);
  return {
    name: 'java >= 17',
    ok: major >= 17,
    found: out ? `java ${major}` : 'not found',
    fix: 'Install a JDK 17 or newer (e.g. Temurin 17) and put `java` on PATH.',
  };
}

export async function mavenCheck(): Promise<DoctorCheck> {
  const out = await commandVersion('mvn', ['-v']);
  const v = out?.match(/Apache Maven ([0-9][0-9.]*)/)?.[1];
  return { name: 'mvn (Maven)', ok: !!v, found: v ? `Maven ${v}` : 'not found', fix: 'Install Apache Maven 3.8+ and put `mvn` on PATH.' };
}

export async function pythonCheck(): Promise<DoctorCheck> {
  const out = await commandVersion('python3', ['--version']);
  const m = out?.match(/Python (\d+)\.(\d+)/);
  const ok = !!m && (Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 9));
  return {
    name: 'python3 >= 3.9 (embedded ClickHouse)',
    ok,
    found: out?.trim() || 'not found',
    fix: 'Install Python 3.9+ with the venv module (Debian/Ubuntu: apt-get install python3-venv), or install a ClickHouse server binary.',
  };
}

/** Every port must be free, unless our own running component holds it. */
export async function portChecks(components: LocalComponent[], portKeys: Record<number, string>): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  for (const c of components) {
    const running = await c.process.running();
    for (const port of c.ports()) {
      const free = await portIsFree(port);
      checks.push({
        name: `port ${port} (${c.name})`,
        ok: free || !!running,
        found: free ? 'free' : running ? `used by speedlayer's ${c.name} (pid ${running.pid})` : 'in use by another program',
        fix: `Port ${port} is taken: stop the program listening on 127.0.0.1:${port}, or set local.ports.${portKeys[port] ?? '<name>'} to a free port in a config file and pass it with --config.`,
      });
    }
  }
  return checks;
}

export async function diskCheck(dir: string, minGb = 5): Promise<DoctorCheck> {
  let probe = dir;
  while (!existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
  const s = await statfs(probe);
  const freeGb = (s.bavail * s.bsize) / 1024 ** 3;
  return {
    name: `disk >= ${minGb} GB free`,
    ok: freeGb >= minGb,
    found: `${freeGb.toFixed(1)} GB free at ${probe}`,
    fix: 'Free disk space, or point SPEEDLAYER_HOME at a larger disk.',
  };
}

export function memoryCheck(minMb: number): DoctorCheck {
  const totalMb = os.totalmem() / 1024 ** 2;
  return {
    name: `memory >= ${(minMb / 1024).toFixed(1)} GB`,
    ok: totalMb >= minMb,
    found: `${(totalMb / 1024).toFixed(1)} GB total, ${(os.freemem() / 1024 ** 3).toFixed(1)} GB free`,
    fix: 'Close other programs, or lower local.kafka.heapMb / local.spark.driverMemoryMb in the config file.',
  };
}

/** Prometheus and Alertmanager on PATH (monitoring.enabled), with how to install them. */
export async function monitoringChecks(): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  for (const kind of ['prometheus', 'alertmanager'] as const) {
    const bin = findOnPath(MONITORING_BINARIES[kind]);
    const version = bin ? (await commandVersion(bin, ['--version']))?.match(/version (\S+)/)?.[1] : undefined;
    checks.push({ name: `${kind} (monitoring)`, ok: !!bin, found: bin ? `${bin} ${version ?? ''}`.trim() : 'not found', fix: MONITORING_INSTALL_FIX });
  }
  return checks;
}
