import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline, PROJECT_ROOT } from '../../src/contract/index.ts';
import { embeddedClickHouseCommand, ensureChdbEnv, SERVER_SCRIPT, type ChdbEnv } from '../../src/targets/local/clickhouse/python-env.ts';
import { freePort } from './free-port.ts';
import { isAlive, ManagedProcess, waitFor } from '../../src/targets/local/supervisor.ts';
import type { StackEndpoints } from '../../src/base/stack.ts';

/**
 * A throw-away embedded ClickHouse (chDB behind the project's HTTP front) on a free port in a temp
 * directory, for the benchmark and the schema tests. Built only from the local target's own pieces
 * (ensureChdbEnv, embeddedClickHouseCommand, ManagedProcess); stop() also removes the directory.
 */
export interface ScratchClickHouse {
  endpoints: StackEndpoints['clickhouse'];
  env: ChdbEnv;
  workDir: string;
  pid: number;
  logTail(): Promise<string>;
  stop(): Promise<void>;
}

export function defaultCacheDir(): string {
  return process.env.SPEEDLAYER_CACHE ?? path.join(PROJECT_ROOT, '.speedlayer', 'cache');
}

export async function startScratchClickHouse(
  opts: {
    cacheDir?: string;
    database?: string;
    onProgress?: (m: string) => void;
    keepDir?: boolean;
    /** A modified copy of chdb_http_server.py to run instead of the project's (to measure a front change). */
    serverScript?: string;
  } = {},
): Promise<ScratchClickHouse> {
  const env = await ensureChdbEnv({ cacheDir: opts.cacheDir ?? defaultCacheDir(), onProgress: opts.onProgress });
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'speedlayer-chbench-'));
  const proc = new ManagedProcess('clickhouse-embedded', path.join(workDir, 'state'));
  const stop = async (): Promise<void> => {
    await proc.stop(30_000);
    if (!opts.keepDir) await rm(workDir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const password = `pw-${randomUUID()}`;
    const user = pipeline.clickhouse.writerUser;
    const dashboard = { user: pipeline.clickhouse.dashboardUser, password: `pw-${randomUUID()}`, profile: pipeline.clickhouse.dashboardProfile, cacheMs: pipeline.clickhouse.dashboardCacheMs };
    const cmd = embeddedClickHouseCommand({
      python: env.python,
      host: '127.0.0.1',
      port,
      dataDir: path.join(workDir, 'data'),
      user,
      password,
      dashboard,
    });
    const args = opts.serverScript ? cmd.args.map((a) => (a === SERVER_SCRIPT ? opts.serverScript! : a)) : cmd.args;
    const rec = await proc.start({ command: cmd.command, args, env: cmd.env, ports: [port] });
    const url = `http://127.0.0.1:${port}`;
    await waitFor('embedded ClickHouse', async () => (await fetch(`${url}/ping`)).ok, {
      timeoutMs: 60_000,
      intervalMs: 200,
      alive: () => isAlive(rec.pid),
    }).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n${await proc.logTail()}`);
    });
    return {
      endpoints: {
        url,
        username: user,
        password,
        database: opts.database ?? 'speedlayer',
        dashboard: { username: dashboard.user, password: dashboard.password },
      },
      env,
      workDir,
      pid: rec.pid,
      logTail: () => proc.logTail(),
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}
