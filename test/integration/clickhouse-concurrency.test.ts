import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../../src/contract/index.ts';
import { embeddedClickHouseCommand, ensureChdbEnv } from '../../src/targets/local/clickhouse/python-env.ts';
import { freePort } from '../support/free-port.ts';
import { isAlive, ManagedProcess, waitFor } from '../../src/targets/local/supervisor.ts';

/**
 * The embedded ClickHouse serving many requests at once from its pool of chDB handles: every request
 * must get its own answer (its settings, database and query parameters, never another request's),
 * queries must really run side by side, and the dashboard user must stay read-only and inside its
 * profile. Real engine, real Node client.
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CACHE_DIR = process.env.SPEEDLAYER_CACHE ?? path.join(REPO, '.speedlayer', 'cache');
const WRITER = { user: 'writer_it', password: `pw-${randomUUID()}` };
const DASHBOARD = { user: 'dashboard_it', password: `pw-${randomUUID()}` };
const PROFILE = pipeline.clickhouse.dashboardProfile;
const DBS = ['conc_a', 'conc_b', 'conc_c'];
const CACHE_MS = 1000;

let port: number;
let workDir: string;
let proc: ManagedProcess;
const clients: ClickHouseClient[] = [];

function client(who: { user: string; password: string }, database = 'default'): ClickHouseClient {
  const c = createClient({
    url: `http://127.0.0.1:${port}`,
    username: who.user,
    password: who.password,
    database,
    request_timeout: 120_000,
    max_open_connections: 16,
    // Refusals are asserted below; the client's console copies of them would only be noise.
    log: { level: ClickHouseLogLevel.OFF },
  });
  clients.push(c);
  return c;
}

async function rows<T>(c: ClickHouseClient, query: string, opts: Partial<Parameters<ClickHouseClient['query']>[0]> = {}): Promise<T[]> {
  const rs = await c.query({ query, format: 'JSONEachRow', ...opts });
  return (await rs.json()) as T[];
}

beforeAll(async () => {
  const env = await ensureChdbEnv({ cacheDir: CACHE_DIR });
  workDir = await mkdtemp(path.join(os.tmpdir(), 'speedlayer-chdb-conc-'));
  port = await freePort();
  proc = new ManagedProcess('clickhouse', workDir);
  const cmd = embeddedClickHouseCommand({
    python: env.python,
    host: '127.0.0.1',
    port,
    dataDir: path.join(workDir, 'data'),
    user: WRITER.user,
    password: WRITER.password,
    dashboard: { ...DASHBOARD, profile: PROFILE, cacheMs: CACHE_MS },
  });
  const rec = await proc.start({ command: cmd.command, args: cmd.args, env: cmd.env, ports: [port] });
  await waitFor('embedded ClickHouse', async () => (await fetch(`http://127.0.0.1:${port}/ping`)).ok, {
    timeoutMs: 60_000,
    intervalMs: 200,
    alive: () => isAlive(rec.pid),
  }).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n${await proc.logTail()}`);
  });
  const admin = client(WRITER);
  for (const db of DBS) {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
    await admin.command({ query: `CREATE TABLE IF NOT EXISTS ${db}.t (k UInt32, src String) ENGINE = MergeTree ORDER BY k` });
  }
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  if (proc) expect(await proc.stop(20_000)).toBe(true);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('embedded ClickHouse under concurrent requests', () => {
  it('gives every concurrent request its own settings, database and query parameters', async () => {
    const perDb = DBS.map((db) => client(WRITER, db));
    // Half the requests change settings, half rely on the defaults: a setting or USE left behind on a
    // handle, or query parameters crossing handles, shows as a wrong answer in one of them.
    const [defaults] = await rows<{ mbs: string; tz: string }>(
      perDb[0]!,
      "SELECT toString(getSetting('max_block_size')) AS mbs, timezone() AS tz",
    );
    const results = await Promise.all(
      Array.from({ length: 96 }, async (_, i) => {
        const custom = i % 2 === 0;
        const db = DBS[i % DBS.length]!;
        const mbs = String(1000 + i);
        const tz = ['Asia/Tokyo', 'Europe/Paris', 'America/Chicago'][i % 3]!;
        const [got] = await rows<{ mbs: string; tz: string; db: string; p: string; s: string }>(
          perDb[i % DBS.length]!,
          "SELECT toString(getSetting('max_block_size')) AS mbs, timezone() AS tz, currentDatabase() AS db, " +
            'toString({n:UInt64} * 3) AS p, {s:String} AS s',
          {
            query_params: { n: i, s: `req-${i}` },
            clickhouse_settings: custom ? { max_block_size: mbs, session_timezone: tz } : {},
          },
        );
        return { i, custom, mbs, tz, db, got: got! };
      }),
    );
    for (const { i, custom, mbs, tz, db, got } of results) {
      expect(got, `request ${i}`).toEqual({
        mbs: custom ? mbs : defaults!.mbs,
        tz: custom ? tz : defaults!.tz,
        db,
        p: String(i * 3),
        s: `req-${i}`,
      });
    }
  });

  it('keeps each request in its own database while others switch theirs', async () => {
    const perDb = DBS.map((db) => client(WRITER, db));
    const results = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const k = i % DBS.length;
        const [r] = await rows<{ db: string }>(perDb[k]!, 'SELECT currentDatabase() AS db');
        return { want: DBS[k], got: r!.db };
      }),
    );
    for (const r of results) expect(r.got).toBe(r.want);
  });

  it('runs queries side by side: four 2-second queries all start before any could have finished', async () => {
    const c = client(WRITER);
    // Each query reports when the engine started it. Run one at a time, the starts would be at least
    // 2 s apart; run in parallel, they all start within the first of them.
    const starts = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const [r] = await rows<{ t: string }>(c, 'SELECT toString(toUnixTimestamp64Milli(now64(3))) AS t, sleep(2) AS z, {i:UInt8} AS i', {
          query_params: { i },
        });
        return Number(r!.t);
      }),
    );
    expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(2000);
  });

  it('takes inserts from many requests while selects run, losing none', async () => {
    const c = client(WRITER, DBS[0]);
    const dash = client(DASHBOARD, DBS[0]);
    const before = Number((await rows<{ n: string }>(c, 'SELECT count() AS n FROM t'))[0]!.n);
    const batches = 24;
    const perBatch = 500;
    const work: Promise<unknown>[] = [];
    for (let b = 0; b < batches; b++) {
      work.push(
        c.insert({ table: 't', values: Array.from({ length: perBatch }, (_, j) => ({ k: b * perBatch + j, src: `b${b}` })), format: 'JSONEachRow' }),
      );
      work.push(rows(dash, 'SELECT count() AS n, uniqExact(src) AS s FROM t'));
    }
    await Promise.all(work);
    const [after] = await rows<{ n: string; s: string }>(c, "SELECT count() AS n, uniqExactIf(src, startsWith(src, 'b')) AS s FROM t");
    expect(Number(after!.n) - before).toBe(batches * perBatch);
    expect(Number(after!.s)).toBe(batches);
  });

  it('serves the dashboard user read-only with its profile, bounded by the engine', async () => {
    const dash = client(DASHBOARD, DBS[1]);
    const [s] = await rows<Record<string, string>>(
      dash,
      "SELECT toString(getSetting('max_threads')) AS max_threads, toString(getSetting('max_execution_time')) AS max_execution_time, " +
        "toString(getSetting('max_memory_usage')) AS max_memory_usage, toString(getSetting('priority')) AS priority",
    );
    expect(s).toEqual({
      max_threads: String(PROFILE.max_threads),
      max_execution_time: String(PROFILE.max_execution_time),
      max_memory_usage: String(PROFILE.max_memory_usage),
      priority: String(PROFILE.priority),
    });
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => (e instanceof ClickHouseError ? e.type : String(e)),
      );
    expect(await refusal(dash.insert({ table: 't', values: [{ k: 1, src: 'x' }], format: 'JSONEachRow' }))).toBe('READONLY');
    expect(await refusal(dash.command({ query: 'CREATE TABLE t2 (x UInt8) ENGINE = Memory' }))).toBe('READONLY');
    expect(await refusal(dash.command({ query: 'SET max_threads = 64' }))).toBe('READONLY');
    // Looser than the profile: refused by the engine's constraints, as a URL setting or a SETTINGS clause.
    expect(await refusal(rows(dash, 'SELECT 1', { clickhouse_settings: { max_threads: PROFILE.max_threads + 7 } }))).toBe(
      'SETTING_CONSTRAINT_VIOLATION',
    );
    expect(await refusal(rows(dash, `SELECT 1 AS x SETTINGS max_memory_usage = ${PROFILE.max_memory_usage * 4}`))).toBe(
      'SETTING_CONSTRAINT_VIOLATION',
    );
    expect(await refusal(rows(dash, 'SELECT 1 AS x SETTINGS priority = 0'))).toBe('SETTING_CONSTRAINT_VIOLATION');
    // Stricter is allowed, and a SETTINGS clause the named queries use works.
    const [strict] = await rows<{ m: string }>(dash, "SELECT toString(getSetting('max_execution_time')) AS m", {
      clickhouse_settings: { max_execution_time: 3 },
    });
    expect(strict!.m).toBe('3');
    const [ok] = await rows<{ x: number }>(dash, 'SELECT 1 AS x SETTINGS use_skip_indexes_if_final = 1');
    expect(ok!.x).toBe(1);
    // The stricter setting did not stay on the handle.
    const again = await Promise.all(
      Array.from({ length: 8 }, () =>
        rows<{ m: string }>(dash, "SELECT toString(getSetting('max_execution_time')) AS m", { clickhouse_settings: { use_query_cache: 0 } }),
      ),
    );
    for (const [r] of again) expect(r!.m).toBe(String(PROFILE.max_execution_time));
    // The writer is not bound by the dashboard profile.
    const [w] = await rows<{ m: string }>(client(WRITER), "SELECT toString(getSetting('max_threads')) AS m", {
      clickhouse_settings: { max_threads: 8 },
    });
    expect(w!.m).toBe('8');
  });

  it('shares one answer among identical dashboard reads within the cache TTL, and only those', async () => {
    const dash = client(DASHBOARD);
    const stamp = 'SELECT toString(now64(6)) AS t, {x:UInt8} AS x';
    const at = async (c: ClickHouseClient, x: number, settings = {}) =>
      (await rows<{ t: string; x: number }>(c, stamp, { query_params: { x }, clickhouse_settings: settings }))[0]!;
    const first = await at(dash, 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await at(dash, 1)).toEqual(first); // within the TTL: the same answer
    const other = await at(dash, 2); // other parameters: their own answer
    expect(other.x).toBe(2);
    expect(other.t).not.toBe(first.t);
    expect((await at(dash, 1, { use_query_cache: 0 })).t).not.toBe(first.t); // bypassed on request
    const w1 = await at(client(WRITER), 1);
    await new Promise((r) => setTimeout(r, 20));
    expect((await at(client(WRITER), 1)).t).not.toBe(w1.t); // the writer is never served from the cache
    await new Promise((r) => setTimeout(r, CACHE_MS + 100));
    expect((await at(dash, 1)).t).not.toBe(first.t); // expired
    // Identical reads arriving together run once: every viewer gets the first one's answer.
    const together = await Promise.all(
      Array.from({ length: 8 }, () => rows<{ t: string }>(dash, 'SELECT toString(now64(6)) AS t, sleep(0.3) AS z')),
    );
    expect(new Set(together.map(([r]) => r!.t)).size).toBe(1);
  });

  it('refuses the dashboard password for the writer and the other way round', async () => {
    const swapped = client({ user: WRITER.user, password: DASHBOARD.password });
    await expect(rows(swapped, 'SELECT 1')).rejects.toMatchObject({ type: 'AUTHENTICATION_FAILED' });
    const swapped2 = client({ user: DASHBOARD.user, password: WRITER.password });
    await expect(rows(swapped2, 'SELECT 1')).rejects.toMatchObject({ type: 'AUTHENTICATION_FAILED' });
  });
});
