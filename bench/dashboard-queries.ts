/**
 * Dashboard-query benchmark: one hour of events at 10,000 events/s (36M) in a throw-away embedded
 * ClickHouse, then every dashboard query of src/contract/clickhouse/queries/ timed over HTTP with the
 * project's client as the dashboard user. Target (issue 3): p95 < 100 ms per query. Then the
 * capacity curve (issue 13): 1/2/4/8 clients in a closed loop on the idle engine, queries/s and p95.
 *
 *   node --import tsx bench/dashboard-queries.ts [--events 36000000] [--runs 30] [--warmups 3]
 *        [--lanes 12000] [--lead-seconds N] [--curve-seconds 20] [--json] [--no-docs]
 *        [--front-script <modified chdb_http_server.py>]
 *
 * Writes the figures into the dashboard section of docs/benchmarks.md (unless --no-docs) and prints
 * them (as JSON with --json). The server is stopped at the end, also on error or Ctrl-C.
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { applyMigrations, clickhouseClient, clickhouseVersion, dashboardClient } from '../src/clients/clickhouse.ts';
import { closedLoop, type ClosedLoopFigures } from '../src/loadtest/dashboard-viewers.ts';
import { loadDashboardQueries, PROJECT_ROOT, type DashboardQuery } from '../src/contract/index.ts';
import { percentile } from '../src/loadtest/stats.ts';
import {
  insertEventsSql,
  insertSessionsSql,
  insertSessionUpsertsSql,
  insertSideTablesSql,
  type DatasetSpec,
} from './dataset.ts';
import { startScratchClickHouse, type ScratchClickHouse } from '../test/support/embedded-clickhouse.ts';

export interface QueryFigures {
  name: string;
  description: string;
  runs: number;
  /** Client-side wall time over HTTP (request to parsed JSON), ms. */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Server-side elapsed (X-ClickHouse-Summary elapsed_ns), median, ms. */
  serverP50: number | null;
  /** Rows and bytes the engine read (median run). */
  readRows: number | null;
  readBytes: number | null;
  resultRows: number;
}

export interface BenchResult {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; platform: string };
  clickhouse: string;
  command: string;
  dataset: DatasetSpec & { sessions: number; sessionRows: number };
  load: { eventsSeconds: number; eventsRowsPerSecond: number; sessionsSeconds: number; otherSeconds: number };
  /** Seconds between the end of the data and the first timed query (negative: data still ahead of now). */
  dataEndToQueriesSeconds: number;
  windows: Record<string, number>;
  disk: Array<{ table: string; rows: number; parts: number; bytesOnDisk: number; uncompressedBytes: number }>;
  queries: QueryFigures[];
  /** Closed loop on the idle engine: N dashboard clients each sending the next query when answered. */
  capacity: ClosedLoopFigures[];
  target: { p95Ms: number; allUnder: boolean };
}

const round1 = (n: number) => Math.round(n * 10) / 10;

async function rows<R>(client: ClickHouseClient, query: string): Promise<R[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return (await rs.json()) as R[];
}

async function timed(what: string, log: (m: string) => void, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  const s = (performance.now() - t0) / 1000;
  log(`${what}: ${s.toFixed(1)} s`);
  return s;
}

export async function timeQuery(client: ClickHouseClient, q: DashboardQuery, runs: number, warmups: number): Promise<QueryFigures> {
  const wall: number[] = [];
  const server: Array<{ ms: number; readRows: number; readBytes: number }> = [];
  let resultRows = 0;
  for (let i = 0; i < warmups + runs; i++) {
    const t0 = performance.now();
    const rs = await client.query({ query: q.sql, format: 'JSONEachRow' });
    const data = (await rs.json()) as unknown[];
    const ms = performance.now() - t0;
    if (i < warmups) continue;
    wall.push(ms);
    resultRows = data.length;
    try {
      const s = JSON.parse(String(rs.response_headers['x-clickhouse-summary'])) as Record<string, string>;
      server.push({ ms: Number(s.elapsed_ns) / 1e6, readRows: Number(s.read_rows), readBytes: Number(s.read_bytes) });
    } catch {
      /* a server without the summary header */
    }
  }
  const med = server.length ? [...server].sort((a, b) => a.ms - b.ms)[Math.floor((server.length - 1) / 2)]! : undefined;
  return {
    name: q.name,
    description: q.description,
    runs,
    p50: round1(percentile(wall, 50)!),
    p95: round1(percentile(wall, 95)!),
    p99: round1(percentile(wall, 99)!),
    max: round1(Math.max(...wall)),
    serverP50: med ? round1(med.ms) : null,
    readRows: med?.readRows ?? null,
    readBytes: med?.readBytes ?? null,
    resultRows,
  };
}

/** Waits (up to maxMs) for background merges to bring the active part count down. */
async function settle(client: ClickHouseClient, maxMs: number, log: (m: string) => void): Promise<void> {
  const t0 = Date.now();
  let last = -1;
  for (;;) {
    const [r] = await rows<{ parts: string; merges: string }>(
      client,
      `SELECT (SELECT count() FROM system.parts WHERE database = currentDatabase() AND active) AS parts,
              (SELECT count() FROM system.merges WHERE database = currentDatabase()) AS merges`,
    );
    const parts = Number(r?.parts ?? 0);
    const merges = Number(r?.merges ?? 0);
    if ((merges === 0 && parts === last) || Date.now() - t0 > maxMs) {
      log(`settled: ${parts} active parts, ${merges} merges running (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      return;
    }
    last = parts;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export async function runBenchmark(opts: {
  events: number;
  runs: number;
  warmups: number;
  lanes: number;
  curveSeconds: number;
  leadSeconds: number;
  log: (m: string) => void;
  command: string;
  frontScript?: string;
}): Promise<BenchResult> {
  const { log } = opts;
  let ch: ScratchClickHouse | undefined;
  const onSignal = () => {
    void (ch?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    ch = await startScratchClickHouse({
      database: 'speedlayer_bench',
      onProgress: (m) => log(`[chdb-env] ${m}`),
      serverScript: opts.frontScript,
    });
    if (opts.frontScript) log(`front: ${opts.frontScript} (instead of the project's chdb_http_server.py)`);
    log(`embedded ClickHouse ${ch.env.clickhouseVersion} (chdb ${ch.env.chdbVersion}) on ${ch.endpoints.url}, data in ${ch.workDir}`);
    const migrations = await applyMigrations(ch.endpoints);
    log(`migrations applied: ${migrations.applied.join(', ')}`);
    const client = clickhouseClient(ch.endpoints);
    // The queries run as the dashboard user (its profile), as status, the load test and any dashboard do.
    const panels = dashboardClient(ch.endpoints);
    // Long server-side inserts: the default 60 s request timeout is too short for 36M rows on 2 cores.
    const loader = createClient({
      url: ch.endpoints.url,
      username: ch.endpoints.username,
      password: ch.endpoints.password,
      database: ch.endpoints.database,
      request_timeout: 3_600_000,
      compression: { request: false, response: false },
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      const spec: DatasetSpec = {
        events: opts.events,
        endMs: Date.now() + opts.leadSeconds * 1000,
        spanMs: 3_600_000,
        users: 20_000,
        products: 2_000,
        lanes: opts.lanes,
      };
      const eventsSeconds = await timed(`loaded ${opts.events.toLocaleString('en')} events`, log, () =>
        loader.command({ query: insertEventsSql(spec) }),
      );
      const sessionsSeconds = await timed('sessions (final rows and an earlier upsert of each)', log, async () => {
        await loader.command({ query: insertSessionsSql(spec) });
        await loader.command({ query: insertSessionUpsertsSql() });
      });
      const otherSeconds = await timed('dead letters, late events, progress, users', log, async () => {
        for (const sql of insertSideTablesSql(spec)) await loader.command({ query: sql });
      });
      await settle(client, 120_000, log);

      const [sc] = await rows<{ s: string; r: string }>(client, 'SELECT uniqExact(session_id) AS s, count() AS r FROM sessions');
      const disk = (
        await rows<{ table: string; rows: string; parts: string; b: string; u: string }>(
          client,
          `SELECT table, sum(rows) AS rows, count() AS parts, sum(bytes_on_disk) AS b, sum(data_uncompressed_bytes) AS u
           FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table ORDER BY sum(bytes_on_disk) DESC`,
        )
      ).map((r) => ({ table: r.table, rows: Number(r.rows), parts: Number(r.parts), bytesOnDisk: Number(r.b), uncompressedBytes: Number(r.u) }));

      const queries = loadDashboardQueries();
      const dataEndToQueriesSeconds = round1((Date.now() - spec.endMs) / 1000);
      const [w] = await rows<Record<string, string>>(
        client,
        `SELECT (SELECT count() FROM events WHERE event_time >= toStartOfMinute(now()) - INTERVAL 4 MINUTE) AS events_5m_window,
                (SELECT count() FROM events WHERE event_time >= toStartOfMinute(now()) - INTERVAL 14 MINUTE) AS events_15m_window,
                (SELECT count() FROM events WHERE event_time >= toStartOfMinute(now()) - INTERVAL 59 MINUTE) AS events_60m_window,
                (SELECT count() FROM sessions FINAL WHERE end_time >= toStartOfMinute(now()) - INTERVAL 14 MINUTE) AS sessions_15m_window,
                (SELECT count() FROM sessions FINAL WHERE status = 'active' AND end_time >= now64(3) - INTERVAL 30 MINUTE) AS active_sessions`,
      );
      log(`data ends ${dataEndToQueriesSeconds} s before the queries start; rows in the windows: ${JSON.stringify(w)}`);
      const figures: QueryFigures[] = [];
      for (const q of queries) {
        const f = await timeQuery(panels, q, opts.runs, opts.warmups);
        log(`${q.name}: p50 ${f.p50} ms, p95 ${f.p95} ms, p99 ${f.p99} ms (server p50 ${f.serverP50} ms, read ${f.readRows} rows)`);
        figures.push(f);
      }
      const capacity: ClosedLoopFigures[] = [];
      for (const clients of [1, 2, 4, 8]) {
        const c = await closedLoop(ch.endpoints, { clients, seconds: opts.curveSeconds, queries });
        log(`closed loop, ${clients} client(s): ${c.queries_per_s} queries/s, p50 ${c.latency_ms.p50} ms, p95 ${c.latency_ms.p95} ms, ${c.errors} errors`);
        capacity.push(c);
      }
      return {
        date: new Date().toISOString(),
        machine: {
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model ?? 'unknown',
          memoryGb: Math.round(os.totalmem() / 2 ** 30),
          platform: `${os.platform()} ${os.release()}`,
        },
        clickhouse: `${await clickhouseVersion(client)} (chdb ${ch.env.chdbVersion}, embedded, behind the project's HTTP front)`,
        command: opts.command,
        dataset: { ...spec, sessions: Number(sc?.s ?? 0), sessionRows: Number(sc?.r ?? 0) },
        load: {
          eventsSeconds: round1(eventsSeconds),
          eventsRowsPerSecond: Math.round(opts.events / eventsSeconds),
          sessionsSeconds: round1(sessionsSeconds),
          otherSeconds: round1(otherSeconds),
        },
        dataEndToQueriesSeconds,
        windows: Object.fromEntries(Object.entries(w ?? {}).map(([k, v]) => [k, Number(v)])),
        disk,
        queries: figures,
        capacity,
        target: { p95Ms: 100, allUnder: figures.every((f) => f.p95 < 100) },
      };
    } finally {
      await Promise.allSettled([client.close(), loader.close(), panels.close()]);
    }
  } catch (err) {
    if (ch) process.stderr.write(`${await ch.logTail()}\n`);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (ch) {
      await ch.stop();
      log('embedded ClickHouse stopped');
    }
  }
}

function capacityRatio(c: ClosedLoopFigures[]): string {
  const one = c.find((x) => x.clients === 1)?.queries_per_s;
  const four = c.find((x) => x.clients === 4)?.queries_per_s;
  if (!one || !four) return '';
  return `4 clients / 1 client: ${(four / one).toFixed(2)}x the queries/s (target >= 1.7x).`;
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function renderMarkdown(r: BenchResult): string {
  const lines = [
    `Measured ${r.date.slice(0, 10)} on ${r.machine.cpus} cores (${r.machine.cpuModel}), ${r.machine.memoryGb} GB, ${r.machine.platform}; ` +
      `ClickHouse ${r.clickhouse}. Shared machine, one run.`,
    '',
    '```',
    r.command,
    '```',
    '',
    `Data: ${r.dataset.events.toLocaleString('en')} events over one hour (${Math.round(r.dataset.events / 3600).toLocaleString('en')}/s), ` +
      `${r.dataset.users.toLocaleString('en')} users, ${r.dataset.products.toLocaleString('en')} products, 4 tiers, ` +
      `${r.dataset.sessions.toLocaleString('en')} sessions (${r.dataset.sessionRows.toLocaleString('en')} rows: an active upsert and a final row each). ` +
      `Loaded server-side in ${r.load.eventsSeconds} s (${r.load.eventsRowsPerSecond.toLocaleString('en')} rows/s, through the three materialized views); ` +
      `sessions ${r.load.sessionsSeconds} s, other tables ${r.load.otherSeconds} s. ` +
      `Rows in the windows when the queries ran: ${Object.entries(r.windows).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ')}.`,
    '',
    `${r.queries[0]?.runs ?? 0} timed runs per query after warm-ups, one at a time, client-side wall time over HTTP with the project's client (request to parsed JSON); ` +
      'server = the engine\'s own elapsed time (median); read rows = what the engine read (median run).',
    '',
    '| query | p50 ms | p95 ms | p99 ms | server p50 ms | rows read | result rows |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...r.queries.map(
      (q) =>
        `| ${q.name} | ${q.p50} | ${q.p95} | ${q.p99} | ${q.serverP50 ?? '-'} | ${q.readRows?.toLocaleString('en') ?? '-'} | ${q.resultRows} |`,
    ),
    '',
    `Target p95 < ${r.target.p95Ms} ms: ${r.target.allUnder ? 'met by every query' : 'MISSED by ' + r.queries.filter((q) => q.p95 >= r.target.p95Ms).map((q) => q.name).join(', ')}.`,
    '',
    `Capacity, closed loop on the idle engine: N clients as the dashboard user, each sending the six queries in turn, the next as soon as the last answered (${r.capacity[0]?.seconds ?? 0} s per level).`,
    '',
    '| clients | queries/s | p50 ms | p95 ms | errors |',
    '|---:|---:|---:|---:|---:|',
    ...r.capacity.map((c) => `| ${c.clients} | ${c.queries_per_s} | ${c.latency_ms.p50} | ${c.latency_ms.p95} | ${c.errors} |`),
    '',
    capacityRatio(r.capacity),
    '',
    'On disk (active parts):',
    '',
    '| table | rows | parts | on disk | uncompressed |',
    '|---|---:|---:|---:|---:|',
    ...r.disk.map((d) => `| ${d.table} | ${d.rows.toLocaleString('en')} | ${d.parts} | ${mb(d.bytesOnDisk)} | ${mb(d.uncompressedBytes)} |`),
  ];
  return lines.join('\n');
}

export const DOCS_FILE = path.join(PROJECT_ROOT, 'docs', 'benchmarks.md');
const BEGIN = '<!-- dashboard-queries:begin (written by bench/dashboard-queries.ts) -->';
const END = '<!-- dashboard-queries:end -->';

/** Replaces the generated part of the dashboard section of docs/benchmarks.md (creating it if needed). */
export async function writeDocs(r: BenchResult, file = DOCS_FILE): Promise<void> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = '# Benchmarks\n';
  }
  const block = `${BEGIN}\n${renderMarkdown(r)}\n${END}`;
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  if (i >= 0 && j > i) text = text.slice(0, i) + block + text.slice(j + END.length);
  else text = `${text.trimEnd()}\n\n## Dashboard queries\n\n${block}\n`;
  await writeFile(file, text);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '36000000' },
      runs: { type: 'string', default: '30' },
      'curve-seconds': { type: 'string', default: '20' },
      warmups: { type: 'string', default: '3' },
      lanes: { type: 'string', default: '12000' },
      'lead-seconds': { type: 'string' },
      json: { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
      // Diagnostic: run a modified copy of the embedded front (never written to the docs).
      'front-script': { type: 'string' },
    },
  });
  const events = Number(values.events);
  const runs = Number(values.runs);
  const warmups = Number(values.warmups);
  const lanes = Number(values.lanes);
  for (const [k, v] of Object.entries({ events, runs, warmups, lanes })) {
    if (!Number.isSafeInteger(v) || v < (k === 'warmups' ? 0 : 1)) throw new Error(`--${k} must be a positive integer`);
  }
  // The data ends this far in the future when the load starts, so that when the queries run (after
  // loading, ~events/200k s on 2 cores) the last 5/15/60 minutes hold their share of the hour.
  const leadSeconds = values['lead-seconds'] !== undefined ? Number(values['lead-seconds']) : Math.round(events / 200_000 + 30);
  const log = values.json ? (m: string) => process.stderr.write(`${m}\n`) : (m: string) => process.stdout.write(`${m}\n`);
  const command = `node --import tsx bench/dashboard-queries.ts ${argv.join(' ')}`.trim();
  const frontScript = values['front-script'] ? path.resolve(values['front-script']) : undefined;
  const curveSeconds = Number(values['curve-seconds']);
  if (!(curveSeconds > 0)) throw new Error('--curve-seconds must be a positive number');
  const result = await runBenchmark({ events, runs, warmups, lanes, curveSeconds, leadSeconds, log, command, frontScript });
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`\n${renderMarkdown(result)}\n`);
  if (!values['no-docs'] && !frontScript) {
    await writeDocs(result);
    log(`written to ${path.relative(process.cwd(), DOCS_FILE)}`);
  }
  return result.target.allUnder ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('dashboard-queries.ts')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
