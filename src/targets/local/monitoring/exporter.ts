import { readFile, statfs } from 'node:fs/promises';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import { oneAtATime } from '../../../base/one-at-a-time.ts';
import { clickhouseClient, dashboardClient } from '../../../clients/clickhouse.ts';
import { kafkaClient } from '../../../clients/kafka.ts';
import { loadDashboardQueries, pipeline } from '../../../contract/index.ts';
import type { StackEndpoints } from '../../../base/stack.ts';
import { lastJobFailure, supervisorStateFile } from '../components/spark-job.ts';
import { readSupervisorState } from '../restart-policy.ts';
import { isAlive, ManagedProcess } from '../supervisor.ts';
import { Histogram, MetricsText, type Labels } from './metrics-text.ts';
import { appendNotification } from './notification-log.ts';

/**
 * The local target's exporter: what has no /metrics endpoint of its own (Kafka, the embedded
 * ClickHouse, the job's process and failure line, end-to-end freshness) measured every
 * `collectIntervalMs` in the background, so a scrape is answered at once from the last collection.
 * It is also the Alertmanager webhook receiver that keeps the notification log `speedlayer alerts`
 * reads resolved alerts from. Metric names: docs/metrics.md.
 */
export interface ExporterOptions {
  port: number;
  kafka: StackEndpoints['kafka'];
  clickhouse: StackEndpoints['clickhouse'];
  /** The job's ManagedProcess directory (pid file, log) and its progress file. */
  sparkDir: string;
  progressFile: string;
  clickhouseDataDir: string;
  notificationsFile: string;
  /** The read-only dashboard user the query probes run as (its password in the environment). */
  dashboardUser?: string;
  collectIntervalMs: number;
  probeIntervalMs: number;
}

export const NOTIFICATION_PATH = '/alertmanager';
/** Where the exporter process finds the ClickHouse passwords (never in its options file or arguments). */
export const EXPORTER_PASSWORD_ENV = { writer: 'SPEEDLAYER_CLICKHOUSE_PASSWORD', dashboard: 'SPEEDLAYER_DASHBOARD_PASSWORD' } as const;
const QUERY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Spark's Kafka source offsets ({"topic":{"0":123}}, an object or its JSON text) per "topic/partition". */
export function sourceOffsets(progressJson: string): Map<string, number> {
  const out = new Map<string, number>();
  const progress = JSON.parse(progressJson) as { sources?: Array<{ endOffset?: unknown }> };
  for (const s of progress.sources ?? []) {
    const end = typeof s.endOffset === 'string' ? (JSON.parse(s.endOffset) as unknown) : s.endOffset;
    if (!end || typeof end !== 'object') continue;
    for (const [topic, parts] of Object.entries(end as Record<string, Record<string, number>>)) {
      for (const [partition, offset] of Object.entries(parts)) out.set(`${topic}/${partition}`, Number(offset));
    }
  }
  return out;
}

/** Why the job is not running, for the JobDown alert's description. */
export function jobDownReason(log: string): string {
  if (!log) return 'the job has not been started on this stack (speedlayer submit)';
  return lastJobFailure(log) ?? 'the job process is not running and its log has no failure line: it was killed or stopped from outside';
}

export async function startExporter(o: ExporterOptions): Promise<{ close(): Promise<void> }> {
  const job = new ManagedProcess('spark-job', o.sparkDir);
  const queries = loadDashboardQueries();
  const queryDurations = new Map(queries.map((q) => [q.name, new Histogram(QUERY_BUCKETS)]));
  const probeErrors = new Map(queries.map((q) => [q.name, 0]));
  let ch: ClickHouseClient = clickhouseClient(o.clickhouse);
  // The probes take the dashboards' path (their user, profile and pool), past the shared-answer cache.
  const panels = dashboardClient(o.clickhouse, { maxOpenConnections: 1 });
  let admin: Admin | undefined;
  let text = '';
  let stopped = false;

  async function kafkaAdmin(): Promise<Admin> {
    if (!admin) {
      const a = kafkaClient(o.kafka.brokers, 'speedlayer-exporter').admin();
      await a.connect();
      admin = a;
    }
    return admin;
  }

  async function rows<R>(query: string): Promise<R[]> {
    return (await (await ch.query({ query, format: 'JSONEachRow' })).json()) as R[];
  }

  async function collect(): Promise<string> {
    const started = performance.now();
    const m = new MetricsText();

    // The process record is the supervisor's: while it waits to restart a failed JVM, the job is down.
    const supervisor = await readSupervisorState(supervisorStateFile(o.sparkDir));
    const running = (await job.running()) && (supervisor?.jobPid === undefined || isAlive(supervisor.jobPid));
    m.metric('speedlayer_job_process_up', "1 while the job's JVM runs", 'gauge', running ? 1 : 0);
    if (supervisor) {
      m.metric('speedlayer_job_restarts_total', 'times the supervisor restarted the job after a failure', 'counter', Math.max(0, supervisor.runs - 1));
      if (supervisor.lastEnd) m.metric('speedlayer_job_last_failure_info', "how the job's last run ended (the supervisor's record)", 'gauge', [[{ failure: supervisor.lastEnd }, 1]]);
    }
    if (!running) {
      m.metric('speedlayer_job_failure_info', 'why the job is not running (its SPEEDLAYER_FAILED line when it failed)', 'gauge', [
        [{ failure: jobDownReason(await job.logFrom(-256 * 1024)) }, 1],
      ]);
    }

    let position = new Map<string, number>();
    try {
      position = sourceOffsets(await readFile(o.progressFile, 'utf8'));
    } catch {
      /* no batch yet */
    }
    try {
      const a = await kafkaAdmin();
      const end: Array<[Labels, number]> = [];
      const lag: Array<[Labels, number]> = [];
      for (const t of Object.values(pipeline.kafka.topics)) {
        for (const p of await a.fetchTopicOffsets(t.name)) {
          const labels = { topic: t.name, partition: String(p.partition) };
          end.push([labels, Number(p.high)]);
          const read = position.get(`${t.name}/${p.partition}`);
          if (t.name !== pipeline.kafka.topics.deadLetter.name && position.size > 0) lag.push([labels, Math.max(0, Number(p.high) - (read ?? 0))]);
        }
      }
      m.metric('speedlayer_kafka_up', '1 when the broker answered', 'gauge', 1);
      m.metric('speedlayer_kafka_end_offset', 'end offset (records ever written) per partition', 'gauge', end);
      m.metric('speedlayer_kafka_job_lag_records', "records written but not yet read by the job's last micro-batch, per partition", 'gauge', lag);
    } catch {
      m.metric('speedlayer_kafka_up', '1 when the broker answered', 'gauge', 0);
      await admin?.disconnect().catch(() => undefined);
      admin = undefined;
    }

    try {
      const parts = await rows<{ table: string; parts: string; rows: string; bytes: string }>(
        `SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts
         WHERE database = '${o.clickhouse.database}' AND active GROUP BY table ORDER BY table`,
      );
      const [ins] = await rows<{ v: string }>(`SELECT sum(value) AS v FROM system.events WHERE event = 'InsertedRows'`);
      const deadLetters = await rows<{ reason: string; n: string }>(
        `SELECT reason, count() AS n FROM ${pipeline.clickhouse.tables.deadLetters} GROUP BY reason ORDER BY reason`,
      );
      const [fresh] = await rows<{ newest_event_age_ms: number | null }>(queries.find((q) => q.name === 'freshness')!.sql);
      const [lat] = await rows<{ q: number[]; n: string }>(
        `SELECT quantiles(0.5, 0.95, 0.99)(dateDiff('millisecond', produced_at, inserted_at)) AS q, count() AS n
         FROM ${pipeline.clickhouse.tables.events} WHERE inserted_at >= now64(3) - INTERVAL 1 MINUTE AND produced_at > 0`,
      );
      m.metric('speedlayer_clickhouse_up', '1 when ClickHouse answered', 'gauge', 1);
      m.metric('speedlayer_clickhouse_parts', 'active parts per table', 'gauge', parts.map((r) => [{ table: r.table }, Number(r.parts)]));
      m.metric('speedlayer_clickhouse_rows', 'rows in active parts per table (before merges collapse replaced rows)', 'gauge', parts.map((r) => [{ table: r.table }, Number(r.rows)]));
      m.metric('speedlayer_clickhouse_table_disk_bytes', 'bytes on disk per table', 'gauge', parts.map((r) => [{ table: r.table }, Number(r.bytes)]));
      m.metric('speedlayer_dead_letters_stored', 'rows in dead_letters per reason (rate() of it: dead letters per second by reason)', 'gauge', deadLetters.map((r) => [{ reason: r.reason }, Number(r.n)]));
      m.metric('speedlayer_clickhouse_inserted_rows_total', "rows inserted since the server started (ClickHouse's InsertedRows)", 'counter', Number(ins?.v ?? 0));
      if (fresh?.newest_event_age_ms != null) {
        m.metric('speedlayer_freshness_seconds', 'wall clock minus the event time of the newest event in ClickHouse', 'gauge', Number(fresh.newest_event_age_ms) / 1000);
      }
      if (lat && Number(lat.n) > 0) {
        m.metric('speedlayer_e2e_latency_seconds', 'produced -> visible in ClickHouse, over the rows inserted in the last minute', 'gauge', [
          [{ quantile: '0.5' }, lat.q[0]! / 1000],
          [{ quantile: '0.95' }, lat.q[1]! / 1000],
          [{ quantile: '0.99' }, lat.q[2]! / 1000],
        ]);
      }
    } catch {
      m.metric('speedlayer_clickhouse_up', '1 when ClickHouse answered', 'gauge', 0);
      await ch.close().catch(() => undefined);
      ch = clickhouseClient(o.clickhouse);
    }
    try {
      const fs = await statfs(o.clickhouseDataDir);
      m.metric('speedlayer_clickhouse_filesystem_avail_bytes', "bytes available to ClickHouse on its data directory's file system", 'gauge', fs.bavail * fs.bsize);
      m.metric('speedlayer_clickhouse_filesystem_size_bytes', "size of ClickHouse's data directory's file system", 'gauge', fs.blocks * fs.bsize);
    } catch {
      /* no data directory yet */
    }
    m.histogram('speedlayer_clickhouse_dashboard_query_duration_seconds', 'wall time of each named dashboard query, probed over HTTP', [...queryDurations].map(([name, h]) => [{ query: name }, h]));
    m.metric('speedlayer_clickhouse_dashboard_query_errors_total', 'probes of a dashboard query that failed', 'counter', [...probeErrors].map(([name, n]) => [{ query: name }, n]));
    m.metric('speedlayer_exporter_collect_seconds', 'time the last collection took', 'gauge', (performance.now() - started) / 1000);
    return m.toString();
  }

  async function probe(): Promise<void> {
    for (const q of queries) {
      const t0 = performance.now();
      try {
        await (await panels.query({ query: q.sql, format: 'JSONEachRow', clickhouse_settings: { use_query_cache: 0 } })).json();
        queryDurations.get(q.name)!.observe((performance.now() - t0) / 1000);
      } catch {
        probeErrors.set(q.name, probeErrors.get(q.name)! + 1);
      }
    }
  }

  async function loop(fn: () => Promise<void>, intervalMs: number): Promise<void> {
    while (!stopped) {
      const t0 = Date.now();
      await fn().catch(() => undefined);
      await sleep(Math.max(50, intervalMs - (Date.now() - t0)));
    }
  }

  text = await collect();
  void loop(async () => {
    text = await collect();
  }, o.collectIntervalMs);
  void loop(probe, o.probeIntervalMs);

  // One append at a time: two at once could both move the full log aside, the second over the first's.
  const logNotification = oneAtATime(appendNotification);
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text);
    } else if (req.method === 'POST' && req.url === NOTIFICATION_PATH) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let notification: unknown;
        try {
          notification = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          res.writeHead(400).end('not a JSON notification');
          return;
        }
        const line = JSON.stringify({ receivedAt: new Date().toISOString(), ...(notification as object) });
        logNotification(o.notificationsFile, line).then(
          () => res.writeHead(200).end('ok'),
          (err: Error) => res.writeHead(500).end(err.message),
        );
      });
    } else if (req.url === '/-/ready') {
      res.writeHead(200).end('ok');
    } else {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', resolve);
  });
  return {
    async close() {
      stopped = true;
      await new Promise((r) => server.close(r));
      await admin?.disconnect().catch(() => undefined);
      await ch.close();
      await panels.close();
    },
  };
}
