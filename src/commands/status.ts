import { clickhouseClient } from '../clients/clickhouse.ts';
import { topicEndOffsets } from '../clients/kafka.ts';
import type { CommandContext } from './context.ts';
import { pipeline } from '../contract/index.ts';
import { freshness, tableCounts } from '../loadtest/pipeline-figures.ts';
import { n, table } from './render.ts';
import type { ComponentState } from '../base/stack.ts';
import type { JobProgress } from '../contract/job-progress.ts';
import { defineCommand } from './command.ts';

export interface StatusReport {
  target: string;
  components: ComponentState[];
  kafka: { end_offsets: Record<string, number> } | { error: string };
  job: JobProgress | null;
  clickhouse: { row_counts: Record<string, number>; newest_event_age_ms: number | null; newest_insert_age_ms: number | null } | { error: string };
}

export async function collectStatus(ctx: CommandContext): Promise<StatusReport> {
  const target = await ctx.target();
  const components = await target.components();
  const report: StatusReport = { target: target.name, components, kafka: { error: 'stack not up' }, job: null, clickhouse: { error: 'stack not up' } };
  if (!(await target.isUp())) return report;
  const e = await target.endpoints();
  const topics = Object.values(pipeline.kafka.topics).map((t) => t.name);
  report.kafka = await topicEndOffsets(e.kafka, topics).then(
    (end_offsets) => ({ end_offsets }),
    (err: Error) => ({ error: err.message }),
  );
  report.job = (await target.jobProgress()) ?? null;
  const ch = clickhouseClient(e.clickhouse);
  try {
    const counts = await tableCounts(ch);
    const f = await freshness(ch);
    report.clickhouse = { row_counts: counts, newest_event_age_ms: f.newestEventAgeMs, newest_insert_age_ms: f.newestInsertAgeMs };
  } catch (err) {
    report.clickhouse = { error: (err as Error).message };
  } finally {
    await ch.close();
  }
  return report;
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
}

export const statusCommand = defineCommand({
  name: 'status',
  description: 'components, Kafka offsets, the job’s progress, ClickHouse row counts and freshness',
  async handler(ctx) {
    const s = await collectStatus(ctx);
    if (ctx.json) ctx.printJson(s);
    else printStatus(ctx, s);
    return 0;
  },
});
