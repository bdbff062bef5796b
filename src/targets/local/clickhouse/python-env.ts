import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SpeedlayerError } from '../../../base/errors.ts';
import type { DashboardProfile } from '../../../contract/index.ts';

/**
 * The embedded ClickHouse of the local target: the ClickHouse engine (chDB, a Python package) behind
 * the partial HTTP front in clickhouse-front/chdb_http_server.py. This module builds the Python virtualenv it runs in
 * and the command line that starts it; the local target's supervisor runs that command.
 */

/** The front's own top-level folder (clickhouse-front/ at the project root; the same depth from src/ and dist/). */
const FRONT_DIR = fileURLToPath(new URL('../../../../clickhouse-front/', import.meta.url));

/** The pinned requirements of the embedded ClickHouse (chdb and its dependencies). */
export const REQUIREMENTS_FILE = path.join(FRONT_DIR, 'requirements.txt');
/** The HTTP front (stdlib + chdb only). */
export const SERVER_SCRIPT = path.join(FRONT_DIR, 'chdb_http_server.py');

/** Written last into a finished virtualenv; a directory without it is a half-finished attempt. */
const MARKER = '.speedlayer-chdb-env.json';
/** A lock directory older than this whose owner cannot be checked is considered abandoned. */
const STALE_LOCK_MS = 30 * 60_000;

export interface ChdbEnv {
  /** The virtualenv's python, which can import chdb. */
  python: string;
  /** The chdb package version, e.g. 4.4.0. */
  chdbVersion: string;
  /** The ClickHouse version chdb embeds (SELECT version()), e.g. 26.9.2.1. */
  clickhouseVersion: string;
  venvDir: string;
}

export interface EnsureChdbEnvOptions {
  /** Where virtualenvs are kept (the CLI's cache, e.g. <repo>/.speedlayer/cache). */
  cacheDir: string;
  /** Progress messages for a spinner or log (one line each). */
  onProgress?: (message: string) => void;
  /** The Python used to create the virtualenv. Default: $SPEEDLAYER_PYTHON, else python3 (python on Windows). */
  pythonCommand?: string;
  /** The requirements file (tests only). */
  requirementsFile?: string;
  /** Environment for python and pip (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

interface Marker {
  requirementsHash: string;
  chdbVersion: string;
  clickhouseVersion: string;
  createdAt: string;
}

/** The venv's interpreter: Scripts\python.exe on Windows, bin/python elsewhere. */
export function venvPython(venvDir: string, platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? path.join(venvDir, 'Scripts', 'python.exe') : path.join(venvDir, 'bin', 'python');
}

/** The first 16 hex digits of the SHA-256 of the requirements file's content. */
export function requirementsHash(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
}

export function chdbVenvDir(cacheDir: string, hash: string): string {
  return path.join(cacheDir, `chdb-venv-${hash}`);
}

function defaultPython(env: NodeJS.ProcessEnv): string {
  return env.SPEEDLAYER_PYTHON || (process.platform === 'win32' ? 'python' : 'python3');
}

function tail(text: unknown, lines = 25): string | undefined {
  if (typeof text !== 'string' || !text.trim()) return undefined;
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Creates (once) the virtualenv with chdb at <cacheDir>/chdb-venv-<hash of requirements.txt>.
 * Idempotent: a finished env (marker file present) is reused at once. Safe against a half-finished
 * previous attempt (no marker: the directory is removed and built again) and against two processes
 * building at once (a lock directory; the second waits for the first).
 */
export async function ensureChdbEnv(opts: EnsureChdbEnvOptions): Promise<ChdbEnv> {
  const env = opts.env ?? process.env;
  const progress = opts.onProgress ?? (() => {});
  const requirementsFile = opts.requirementsFile ?? REQUIREMENTS_FILE;
  const requirements = await readFile(requirementsFile);
  const hash = requirementsHash(requirements);
  const venvDir = chdbVenvDir(opts.cacheDir, hash);
  const python = venvPython(venvDir);

  const ready = await readMarker(venvDir, hash);
  if (ready && existsSync(python)) return { python, venvDir, chdbVersion: ready.chdbVersion, clickhouseVersion: ready.clickhouseVersion };

  await mkdir(opts.cacheDir, { recursive: true });
  const lockDir = `${venvDir}.lock`;
  await acquireLock(lockDir, progress);
  try {
    // Another process may have finished it while we waited for the lock.
    const again = await readMarker(venvDir, hash);
    if (again && existsSync(python)) return { python, venvDir, chdbVersion: again.chdbVersion, clickhouseVersion: again.clickhouseVersion };

    if (existsSync(venvDir)) {
      progress('removing a half-finished Python environment from an earlier attempt');
      await rm(venvDir, { recursive: true, force: true });
    }
    const basePython = opts.pythonCommand ?? defaultPython(env);
    progress(`creating a Python virtualenv for the embedded ClickHouse (${basePython} -m venv)`);
    await createVenv(basePython, venvDir, env);

    progress('installing chdb (the ClickHouse engine; ~250 MB of wheels, ~900 MB installed) with pip');
    await pipInstall(python, requirementsFile, env, progress);

    progress('checking that chdb loads');
    const versions = await probeChdb(python, env);
    const marker: Marker = { requirementsHash: hash, ...versions, createdAt: new Date().toISOString() };
    await writeFile(path.join(venvDir, MARKER), JSON.stringify(marker, null, 2));
    progress(`embedded ClickHouse ready: chdb ${versions.chdbVersion}, ClickHouse ${versions.clickhouseVersion}`);
    return { python, venvDir, ...versions };
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function readMarker(venvDir: string, hash: string): Promise<Marker | undefined> {
  try {
    const marker = JSON.parse(await readFile(path.join(venvDir, MARKER), 'utf8')) as Marker;
    return marker.requirementsHash === hash && marker.chdbVersion ? marker : undefined;
  } catch {
    return undefined;
  }
}

async function acquireLock(lockDir: string, progress: (m: string) => void): Promise<void> {
  let told = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, 'owner.json'), JSON.stringify({ pid: process.pid, at: new Date().toISOString() }));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await lockIsStale(lockDir)) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!told) {
      progress('another speedlayer process is building the Python environment; waiting for it');
      told = true;
    }
    await sleep(1000);
  }
}

async function lockIsStale(lockDir: string): Promise<boolean> {
  try {
    const owner = JSON.parse(await readFile(path.join(lockDir, 'owner.json'), 'utf8')) as { pid?: number };
    if (typeof owner.pid === 'number') {
      try {
        process.kill(owner.pid, 0);
        return false; // its owner is alive
      } catch (err) {
        return (err as NodeJS.ErrnoException).code !== 'EPERM';
      }
    }
  } catch {
    /* no owner file yet (just created) or unreadable: judge by age */
  }
  try {
    return Date.now() - (await stat(lockDir)).mtimeMs > STALE_LOCK_MS;
  } catch {
    return true;
  }
}

async function createVenv(basePython: string, venvDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await execa(basePython, ['-m', 'venv', venvDir], { env, extendEnv: false, stdin: 'ignore' });
  } catch (err) {
    await rm(venvDir, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException & { stderr?: unknown; stdout?: unknown; shortMessage?: string };
    if (e.code === 'ENOENT') {
      throw new SpeedlayerError(`'${basePython}' was not found: the embedded ClickHouse needs Python 3`, {
        fix:
          'Install Python 3.11 or newer (with its venv module) so that python3 is on PATH, or set SPEEDLAYER_PYTHON to its path; ' +
          'or use an installed ClickHouse server instead of the embedded one.',
        cause: err,
      });
    }
    const output = [e.stderr, e.stdout].filter((s) => typeof s === 'string' && s.trim()).join('\n');
    const noEnsurepip = /ensurepip|python3(\.\d+)?-venv/.test(output);
    throw new SpeedlayerError(`could not create a Python virtualenv with '${basePython} -m venv'`, {
      fix: noEnsurepip
        ? "Python's venv module is missing: install it (Debian/Ubuntu: apt-get install python3-venv), then run the command again."
        : `Check that '${basePython} -m venv <dir>' works on this machine and that ${path.dirname(venvDir)} is writable.`,
      detail: tail(output) ?? e.shortMessage,
      cause: err,
    });
  }
}

async function pipInstall(
  python: string,
  requirementsFile: string,
  env: NodeJS.ProcessEnv,
  progress: (m: string) => void,
): Promise<void> {
  const child = execa(
    python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', '-r', requirementsFile],
    { env: { ...env, PIP_NO_INPUT: '1' }, extendEnv: false, stdin: 'ignore', all: true },
  );
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^(Collecting|Downloading|Installing collected packages|Successfully installed)\b.*/.exec(line.trim());
      if (m) progress(`pip: ${m[0].length > 160 ? `${m[0].slice(0, 157)}...` : m[0]}`);
    }
  });
  try {
    await child;
  } catch (err) {
    const e = err as { stderr?: unknown; all?: unknown; shortMessage?: string };
    throw new SpeedlayerError('pip could not install chdb (the embedded ClickHouse engine)', {
      fix:
        'Check that this machine reaches PyPI (or the index / find-links configured for pip) and that chdb has a wheel for it ' +
        '(Linux x86_64/aarch64 or macOS, Python 3.9+); then run the command again. The half-installed environment is rebuilt next time.',
      detail: tail(e.stderr) ?? tail(e.all) ?? e.shortMessage,
      cause: err,
    });
  }
}

async function probeChdb(python: string, env: NodeJS.ProcessEnv): Promise<{ chdbVersion: string; clickhouseVersion: string }> {
  const script = [
    'import json, chdb',
    'print(json.dumps({"chdb": chdb.__version__, "clickhouse": chdb.query("SELECT version()", "TabSeparated").bytes().decode().strip()}))',
  ].join('\n');
  try {
    const { stdout } = await execa(python, ['-c', script], { env, extendEnv: false, stdin: 'ignore' });
    const last = stdout.trim().split('\n').pop() ?? '';
    const parsed = JSON.parse(last) as { chdb: string; clickhouse: string };
    return { chdbVersion: parsed.chdb, clickhouseVersion: parsed.clickhouse };
  } catch (err) {
    const e = err as { stderr?: unknown; shortMessage?: string; message?: string };
    throw new SpeedlayerError('chdb was installed but does not load', {
      fix: 'Remove the environment (speedlayer cache directory, chdb-venv-*) and run the command again; if it persists, this platform may lack a working chdb wheel.',
      detail: tail(e.stderr) ?? e.shortMessage ?? e.message,
      cause: err,
    });
  }
}

export interface EmbeddedClickHouseOptions {
  python: string;
  host: string;
  port: number;
  dataDir: string;
  user: string;
  password: string;
  /** A read-only user with the dashboard profile, served by its own engine handles. */
  dashboard?: { user: string; password: string; profile: DashboardProfile; cacheMs?: number };
  /** One log line per request. */
  verbose?: boolean;
  /** Environment to start from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The command line that starts the embedded ClickHouse (for the supervisor). The passwords travel in
 * the environment (SPEEDLAYER_CLICKHOUSE_PASSWORD, SPEEDLAYER_CLICKHOUSE_DASHBOARD_PASSWORD), not in the arguments, so it shows neither in `ps`
 * nor in the supervisor's pid file.
 */
export function embeddedClickHouseCommand(opts: EmbeddedClickHouseOptions): {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
} {
  const args = [
    SERVER_SCRIPT,
    '--host',
    opts.host,
    '--port',
    String(opts.port),
    '--data-dir',
    opts.dataDir,
    '--user',
    opts.user,
  ];
  if (opts.dashboard) {
    args.push('--dashboard-user', opts.dashboard.user, '--dashboard-profile', JSON.stringify(opts.dashboard.profile));
    if (opts.dashboard.cacheMs) args.push('--dashboard-cache-ms', String(opts.dashboard.cacheMs));
  }
  if (opts.verbose) args.push('--verbose');
  return {
    command: opts.python,
    args,
    env: {
      ...(opts.env ?? process.env),
      SPEEDLAYER_CLICKHOUSE_PASSWORD: opts.password,
      ...(opts.dashboard ? { SPEEDLAYER_CLICKHOUSE_DASHBOARD_PASSWORD: opts.dashboard.password } : {}),
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      TZ: 'UTC',
    },
  };
}
