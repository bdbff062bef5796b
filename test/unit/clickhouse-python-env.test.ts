import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpeedlayerError } from '../../src/base/errors.ts';
import {
  chdbVenvDir,
  embeddedClickHouseCommand,
  ensureChdbEnv,
  REQUIREMENTS_FILE,
  requirementsHash,
  SERVER_SCRIPT,
  venvPython,
} from '../../src/targets/local/clickhouse/python-env.ts';

/**
 * A fake python3 (POSIX shell): `-m venv DIR` copies itself to DIR/bin/python, `-m pip` succeeds or
 * fails on demand, `-c` prints the versions the real probe prints. Every call is logged.
 */
const FAKE_PYTHON = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  if [ -n "$FAKE_VENV_FAIL" ]; then
    echo "Error: The virtual environment was not created successfully because ensurepip is not available." >&2
    echo "apt install python3.11-venv" >&2
    exit 1
  fi
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && chmod +x "$3/bin/python" && exit 0
fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  echo "Collecting chdb==4.4.0"
  if [ -n "$FAKE_PIP_FAIL" ]; then
    echo "ERROR: Could not find a version that satisfies the requirement chdb==4.4.0 (fake index)" >&2
    exit 1
  fi
  echo "Successfully installed chdb-4.4.0"
  exit 0
fi
if [ "$1" = "-c" ]; then
  echo '{"chdb": "4.4.0", "clickhouse": "26.9.2.1"}'
  exit 0
fi
exit 2
`;

const posix = process.platform !== 'win32';

describe('embeddedClickHouseCommand', () => {
  it('starts chdb_http_server.py with the venv python; the password travels in the environment only', () => {
    const cmd = embeddedClickHouseCommand({
      python: '/cache/chdb-venv-abc/bin/python',
      host: '127.0.0.1',
      port: 18123,
      dataDir: '/state/clickhouse data',
      user: 'default',
      password: 's3cret pass',
      env: { PATH: '/usr/bin' },
    });
    expect(cmd.command).toBe('/cache/chdb-venv-abc/bin/python');
    expect(cmd.args).toEqual([SERVER_SCRIPT, '--host', '127.0.0.1', '--port', '18123', '--data-dir', '/state/clickhouse data', '--user', 'default']);
    expect(cmd.args.join(' ')).not.toContain('s3cret');
    expect(cmd.env).toMatchObject({ PATH: '/usr/bin', SPEEDLAYER_CLICKHOUSE_PASSWORD: 's3cret pass', PYTHONUNBUFFERED: '1', TZ: 'UTC' });
    expect(SERVER_SCRIPT.endsWith(path.join('clickhouse-front', 'chdb_http_server.py'))).toBe(true);
  });

  it('adds --verbose on request', () => {
    const cmd = embeddedClickHouseCommand({ python: 'py', host: 'h', port: 1, dataDir: 'd', user: 'u', password: '', verbose: true });
    expect(cmd.args.at(-1)).toBe('--verbose');
  });
});

describe('virtualenv layout', () => {
  it('uses Scripts\\python.exe on Windows and bin/python elsewhere', () => {
    expect(venvPython('/c/v', 'linux')).toBe(path.join('/c/v', 'bin', 'python'));
    expect(venvPython('/c/v', 'darwin')).toBe(path.join('/c/v', 'bin', 'python'));
    expect(venvPython('C:/c/v', 'win32')).toBe(path.join('C:/c/v', 'Scripts', 'python.exe'));
  });

  it('names the env after a hash of requirements.txt, which pins chdb', async () => {
    const content = await readFile(REQUIREMENTS_FILE, 'utf8');
    expect(content).toMatch(/^chdb==\d+\.\d+\.\d+$/m);
    expect(requirementsHash(content)).toMatch(/^[0-9a-f]{16}$/);
    expect(requirementsHash(content)).toBe(requirementsHash(Buffer.from(content)));
    expect(requirementsHash(`${content}\n# changed`)).not.toBe(requirementsHash(content));
    expect(chdbVenvDir('/cache', 'abcd')).toBe(path.join('/cache', 'chdb-venv-abcd'));
  });
});

describe.runIf(posix)('ensureChdbEnv (with a fake python3)', () => {
  let dir: string;
  let fakePython: string;
  let requirementsFile: string;
  let log: string;
  const baseEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', FAKE_LOG: log });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'speedlayer-chdbenv-'));
    fakePython = path.join(dir, 'fake-python3');
    await writeFile(fakePython, FAKE_PYTHON);
    await chmod(fakePython, 0o755);
    requirementsFile = path.join(dir, 'requirements.txt');
    await writeFile(requirementsFile, 'chdb==4.4.0\n');
    log = path.join(dir, 'calls.log');
    await writeFile(log, '');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const calls = async () => (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean);

  it('creates the venv, installs the requirements, reports versions and progress, then reuses it', async () => {
    const cacheDir = path.join(dir, 'cache');
    const progress: string[] = [];
    const env1 = await ensureChdbEnv({ cacheDir, pythonCommand: fakePython, requirementsFile, env: baseEnv(), onProgress: (m) => progress.push(m) });
    const hash = requirementsHash(await readFile(requirementsFile));
    expect(env1).toEqual({
      python: path.join(cacheDir, `chdb-venv-${hash}`, 'bin', 'python'),
      venvDir: path.join(cacheDir, `chdb-venv-${hash}`),
      chdbVersion: '4.4.0',
      clickhouseVersion: '26.9.2.1',
    });
    const made = await calls();
    expect(made[0]).toBe(`-m venv ${env1.venvDir}`);
    expect(made[1]).toContain(`-m pip install`);
    expect(made[1]).toContain(`-r ${requirementsFile}`);
    expect(progress.some((m) => m.includes('pip: Collecting chdb==4.4.0'))).toBe(true);
    expect(progress.at(-1)).toContain('chdb 4.4.0, ClickHouse 26.9.2.1');
    expect(await readdir(cacheDir)).toEqual([`chdb-venv-${hash}`]); // the lock is gone

    // A second call finds the finished env without running python at all.
    await writeFile(log, '');
    const env2 = await ensureChdbEnv({ cacheDir, pythonCommand: fakePython, requirementsFile, env: baseEnv() });
    expect(env2).toEqual(env1);
    expect(await calls()).toEqual([]);
  });

  it('reports a pip failure with its stderr, and rebuilds the half-finished env on the next call', async () => {
    const cacheDir = path.join(dir, 'cache');
    const err = await ensureChdbEnv({ cacheDir, pythonCommand: fakePython, requirementsFile, env: { ...baseEnv(), FAKE_PIP_FAIL: '1' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpeedlayerError);
    const e = err as SpeedlayerError;
    expect(e.message).toBe('pip could not install chdb (the embedded ClickHouse engine)');
    expect(e.fix).toContain('PyPI');
    expect(e.detail).toContain('Could not find a version that satisfies the requirement chdb==4.4.0');

    await writeFile(log, '');
    const ok = await ensureChdbEnv({ cacheDir, pythonCommand: fakePython, requirementsFile, env: baseEnv() });
    expect(ok.chdbVersion).toBe('4.4.0');
    expect((await calls())[0]).toBe(`-m venv ${ok.venvDir}`); // rebuilt from scratch
  });

  it('explains a missing venv module (Debian without python3-venv)', async () => {
    const err = await ensureChdbEnv({
      cacheDir: path.join(dir, 'cache'),
      pythonCommand: fakePython,
      requirementsFile,
      env: { ...baseEnv(), FAKE_VENV_FAIL: '1' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpeedlayerError);
    expect((err as SpeedlayerError).fix).toContain('apt-get install python3-venv');
    expect((err as SpeedlayerError).detail).toContain('ensurepip is not available');
  });

  it('says how to fix a missing python3', async () => {
    const err = await ensureChdbEnv({
      cacheDir: path.join(dir, 'cache'),
      pythonCommand: path.join(dir, 'no-such-python3'),
      requirementsFile,
      env: baseEnv(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpeedlayerError);
    expect((err as SpeedlayerError).message).toContain('was not found');
    expect((err as SpeedlayerError).fix).toContain('SPEEDLAYER_PYTHON');
  });

  it('waits for another process that holds the build lock, then uses its result', async () => {
    const cacheDir = path.join(dir, 'cache');
    const hash = requirementsHash(await readFile(requirementsFile));
    const lockDir = `${chdbVenvDir(cacheDir, hash)}.lock`;
    await (await import('node:fs/promises')).mkdir(lockDir, { recursive: true });
    await writeFile(path.join(lockDir, 'owner.json'), JSON.stringify({ pid: process.pid })); // alive: not stale
    const progress: string[] = [];
    const pending = ensureChdbEnv({ cacheDir, pythonCommand: fakePython, requirementsFile, env: baseEnv(), onProgress: (m) => progress.push(m) });
    await new Promise((r) => setTimeout(r, 300));
    expect(progress).toEqual(['another speedlayer process is building the Python environment; waiting for it']);
    await rm(lockDir, { recursive: true, force: true });
    expect((await pending).chdbVersion).toBe('4.4.0');
  });

  it('takes over a lock left by a dead process', async () => {
    const cacheDir = path.join(dir, 'cache');
    const hash = requirementsHash(await readFile(requirementsFile));
    const lockDir = `${chdbVenvDir(cacheDir, hash)}.lock`;
    await (await import('node:fs/promises')).mkdir(lockDir, { recursive: true });
    await writeFile(path.join(lockDir, 'owner.json'), JSON.stringify({ pid: 2 ** 22 + 12345 })); // no such process
    const env = await ensureChdbEnv({ cacheDir, pythonCommand: fakePython, requirementsFile, env: baseEnv() });
    expect(env.chdbVersion).toBe('4.4.0');
  });
});
