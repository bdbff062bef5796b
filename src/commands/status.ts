import type { CommandContext } from './context.ts';
import { sleepUnlessAborted } from '../base/wait.ts';
import { pipeline } from '../contract/index.ts';
import { n, table } from './render.ts';
import type { ComponentState } from '../base/stack.ts';
import type { JobProgress } from '../contract/job-progress.ts';
import { defineCommand } from './command.ts';
import { collectAlertsFrom, type AlertRow } from './alerts.ts';
import { liveFigures, sparkline, throughputHistory, type LiveFigures } from './live-figures.ts';
import type { Target } from '../stack/target.ts';

export interface StatusReport {
  target: string;
  components: ComponentState[];
  kafka: { end_offsets: Record<string, number> } | { error: string };
  job: JobProgress | null;
  clickhouse: { row_counts: Record<string, number>; newest_event_age_ms: number | null; newest_insert_age_ms: number | null } | { error: string };
  /** From Prometheus, when the stack runs it (docs/metrics.md). */
  figures: LiveFigures | { error: string };
  alerts: AlertRow[] | { error: string };
}

/** The live figures and alerts of a stack, or why they are not available. */
async function monitoringView(target: Target): Promise<Pick<StatusReport, 'figures' | 'alerts'>> {
  const e = await target.endpoints();
  const none = { error: 'the stack runs no Prometheus/Alertmanager (monitoring.enabled)' };
  const figures = e.prometheus ? await liveFigures(e.prometheus.url).catch((err: Error) => ({ error: err.message })) : none;
  const alerts = e.alertmanager ? await collectAlertsFrom(target, e.alertmanager.url).catch((err: Error) => ({ error: err.message })) : none;
  return { figures, alerts };
}

export async function collectStatus(ctx: CommandContext): Promise<StatusReport> {
  const target = await ctx.target();
  const components = await target.components();
  const down = { error: 'stack not up' };
  const report: StatusReport = { target: target.name, components, kafka: down, job: null, clickhouse: down, figures: down, alerts: down };
  if (!(await target.isUp())) return report;
  const e = await target.endpoints();
  // Loaded here, not at start: `--help` and the other commands need none of the clients.
  const [{ topicEndOffsets }, { dashboardClient }, { freshness, tableCounts }] = await Promise.all([
    import('../clients/kafka.ts'),
    import('../clients/clickhouse.ts'),
    import('../loadtest/pipeline-figures.ts'),
  ]);
  const topics = Object.values(pipeline.kafka.topics).map((t) => t.name);
  report.kafka = await topicEndOffsets(e.kafka, topics).then(
    (end_offsets) => ({ end_offsets }),
    (err: Error) => ({ error: err.message }),
  );
  report.job = (await target.jobProgress()) ?? null;
  const ch = dashboardClient(e.clickhouse);
  try {
    const counts = await tableCounts(ch);
    const f = await freshness(ch);
    report.clickhouse = { row_counts: counts, newest_event_age_ms: f.newestEventAgeMs, newest_insert_age_ms: f.newestInsertAgeMs };
  } catch (err) {
    report.clickhouse = { error: (err as Error).message };
  } finally {
    await ch.close();
  }
  Object.assign(report, await monitoringView(target));
  return report;
}

const num = (v: number | null, digits = 0, unit = '') => (v === null ? 'n/a' : `${digits ? v.toFixed(digits) : n(Math.round(v))}${unit}`);

/** The live view's lines: throughput with its sparkline, latency, lag, batch time, dead letters, alerts. */
export function watchScreen(f: LiveFigures | { error: string }, alerts: AlertRow[] | { error: string }, history: number[]): string[] {
  if ('error' in f) return [`figures: ${f.error}`];
  const firing = 'error' in alerts ? [] : alerts.filter((a) => a.state === 'firing');
  return [
    `throughput    ${num(f.input_rows_per_second).padStart(8)} rows/s  ${sparkline(history)}  (producers ${num(f.produced_per_second, 0, '/s')})`,
    `e2e p95       ${num(f.e2e_latency_p95_s, 2, ' s').padStart(10)}     freshness ${num(f.freshness_s, 1, ' s')}`,
    `kafka lag     ${num(f.kafka_lag_records).padStart(8)} records`,
    `batch         ${num(f.batch_duration_s, 2, ' s').padStart(10)}     trigger ${num(f.trigger_s, 0, ' s')}`,
    `dead letters  ${num(f.dead_letters_per_second, 1).padStart(8)} /s`,
    'error' in alerts
      ? `alerts        ${alerts.error}`
      : firing.length === 0
        ? 'alerts        none firing'
        : `alerts        ${firing.map((a) => `${a.severity.toUpperCase()} ${a.name}`).join(', ')}`,
  ];
}

/** One line per refresh, for logs and pipes. */
export function watchLine(f: LiveFigures | { error: string }, alerts: AlertRow[] | { error: string }, at: Date): string {
  const time = at.toISOString().slice(11, 19);
  if ('error' in f) return `${time} figures unavailable: ${f.error}`;
  const firing = 'error' in alerts ? 'unavailable' : alerts.filter((a) => a.state === 'firing').map((a) => `${a.name}(${a.severity})`).join(',') || 'none';
  return `${time} throughput=${num(f.input_rows_per_second, 0, '/s')} e2e_p95=${num(f.e2e_latency_p95_s, 2, 's')} lag=${num(f.kafka_lag_records)} batch=${num(f.batch_duration_s, 2, 's')}/${num(f.trigger_s, 0, 's')} dead_letters=${num(f.dead_letters_per_second, 1, '/s')} alerts=${firing}`;
}

const WATCH_INTERVAL_MS = 2000;

/** Refreshes every WATCH_INTERVAL_MS until Ctrl-C: a redrawn screen on a terminal, plain lines otherwise. */
async function watch(ctx: CommandContext, tty: boolean): Promise<void> {
  const target = await ctx.target();
  const e = await target.endpoints();
  const history = e.prometheus ? await throughputHistory(e.prometheus.url, 120, 4).catch(() => []) : [];
  while (!ctx.signal.aborted) {
    const { figures, alerts } = await monitoringView(target);
    if (!('error' in figures)) history.push(figures.input_rows_per_second ?? 0);
    history.splice(0, Math.max(0, history.length - 30));
    if (tty) {
      const title = `speedlayer status --watch   ${target.name}   ${new Date().toISOString().slice(11, 19)}   Ctrl-C to quit`;
      process.stdout.write(`\x1b[H\x1b[2J${[title, '', ...watchScreen(figures, alerts, history)].join('\n')}\n`);
    } else ctx.print(watchLine(figures, alerts, new Date()));
    await sleepUnlessAborted(WATCH_INTERVAL_MS, ctx.signal);
  }
}

export function printStatus(ctx: CommandContext, s: StatusReport): void {
  ctx.print(
    table(
      ['component', 'state', 'pid', 'ports', 'version', 'detail'],
      s.components.map((c) => [c.name, c.state, c.pid, c.ports?.join(','), c.version, c.detail]),
    ),
  );
  if (s.components.length === 0) ctx.print("No stack found. Start one with 'speedlayer up'.");
  ctx.print('');
  if ('end_offsets' in s.kafka) ctx.print(table(['topic', 'end offset (records)'], Object.entries(s.kafka.end_offsets).map(([t, o]) => [t, n(o)])));
  else ctx.print(`kafka: ${s.kafka.error}`);
  ctx.print('');
  if (s.job) {
    const j = s.job;
    ctx.print(`job: batch ${j.batchId} at ${j.lastBatchAt}, ${n(Math.round(j.inputRowsPerSecond))} rows/s in, ${n(Math.round(j.processedRowsPerSecond))} rows/s processed, batch took ${n(j.batchDurationMs)} ms`);
  } else ctx.print('job: no progress reported (not submitted yet?)');
  if ('row_counts' in s.clickhouse) {
    const c = s.clickhouse;
    const rows = Object.entries(c.row_counts).map(([t, v]) => `${t} ${n(v)}`).join(', ');
    ctx.print(`clickhouse: ${rows}; newest event ${c.newest_event_age_ms === null ? 'n/a' : `${n(c.newest_event_age_ms)} ms`} old`);
  } else ctx.print(`clickhouse: ${s.clickhouse.error}`);
  ctx.print('');
  for (const line of watchScreen(s.figures, s.alerts, [])) ctx.print(line);
}

export const statusCommand = defineCommand({
  name: 'status',
  description: 'components, Kafka offsets, the job’s progress, ClickHouse row counts and freshness',
  options: (cmd) => cmd.option('-w, --watch', `live view refreshed every ${WATCH_INTERVAL_MS / 1000} s until Ctrl-C (plain lines when stdout is not a terminal)`),
  async handler(ctx, opts: { watch?: boolean }) {
    if (opts.watch) {
      await watch(ctx, !ctx.json && !!process.stdout.isTTY);
      return 0;
    }
    const s = await collectStatus(ctx);
    if (ctx.json) ctx.printJson(s);
    else printStatus(ctx, s);
    return 0;
  },
});
