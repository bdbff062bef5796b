import { clickhouseClient } from '../clients/clickhouse.ts';
import { UsageError } from '../base/errors.ts';
import { pipeline } from '../contract/index.ts';
import { estimateCapacity, type CapacityEstimate } from './capacity-model.ts';
import type { CommandContext } from './context.ts';
import { defineCommand } from './command.ts';
import { n } from './render.ts';

export interface CapacityReport {
  window_minutes: number;
  trigger_s: number;
  current_eps: number;
  estimate: CapacityEstimate | null;
  /** 1 − current / max sustainable: the share of capacity left. */
  headroom: number | null;
  recommendation: string;
}

export function recommend(current: number, e: CapacityEstimate | undefined, cores: number | undefined): string {
  if (!e) return 'not enough batches with input in the window: run load (speedlayer loadtest) and ask again';
  const use = current / e.max_sustainable_eps;
  const more = cores ? `more cores (local.spark.cores, now ${cores}) or executors on kind` : 'more cores or executors';
  if (use > 0.8) return `${Math.round(use * 100)}% of the sustainable rate: add ${more}; keep Kafka partitions (${pipeline.kafka.topics.events.partitions}) at least the number of cores`;
  if (current > e.max_rate_within_trigger_eps) return `batches exceed the ${pipeline.spark.triggerIntervalSeconds} s trigger at this rate (latency grows) though the job keeps up: add ${more} to hold the latency target`;
  return `${Math.round((1 - use) * 100)}% headroom: no change needed`;
}

const DEFAULT_MINUTES = 15;

export const capacityCommand = defineCommand<{ minutes: number }>({
  name: 'capacity',
  description: "headroom and the maximum sustainable events/s, from the job's recent micro-batches",
  options: (cmd) => cmd.option('--minutes <m>', `how many minutes of batches to use (default ${DEFAULT_MINUTES})`),
  parse(raw) {
    const minutes = raw.minutes === undefined ? DEFAULT_MINUTES : Number(raw.minutes);
    if (!(minutes > 0)) throw new UsageError(`--minutes must be a positive number, got '${String(raw.minutes)}'`, { fix: 'Example: --minutes 30' });
    return { minutes };
  },
  async handler(ctx, o) {
    const target = await ctx.target();
    const ch = clickhouseClient((await target.endpoints()).clickhouse);
    let rows: Array<{ r: string; d: string; t: string }>;
    try {
      const rs = await ch.query({
        query: `SELECT num_input_rows AS r, batch_duration_ms AS d, toUnixTimestamp64Milli(batch_time) AS t FROM ${pipeline.clickhouse.tables.pipelineProgress} FINAL
                WHERE batch_time >= now64(3) - toIntervalSecond({s:UInt32}) ORDER BY batch_time`,
        query_params: { s: Math.round(o.minutes * 60) },
        format: 'JSONEachRow',
      });
      rows = (await rs.json()) as typeof rows;
    } finally {
      await ch.close();
    }
    const trigger = pipeline.spark.triggerIntervalSeconds;
    const samples = rows.map((r) => ({ inputRows: Number(r.r), durationS: Number(r.d) / 1000 }));
    const spanS = rows.length > 1 ? (Number(rows.at(-1)!.t) - Number(rows[0]!.t)) / 1000 + Number(rows.at(-1)!.d) / 1000 : 0;
    const current = spanS > 0 ? samples.reduce((a, b) => a + b.inputRows, 0) / spanS : 0;
    const estimate = estimateCapacity(samples, trigger);
    const report: CapacityReport = {
      window_minutes: o.minutes,
      trigger_s: trigger,
      current_eps: current,
      estimate: estimate ?? null,
      headroom: estimate ? 1 - current / estimate.max_sustainable_eps : null,
      recommendation: recommend(current, estimate, target.name === 'local' ? ctx.config.local.spark.cores : undefined),
    };
    if (ctx.json) ctx.printJson(report);
    else {
      ctx.print(`last ${o.minutes} min: ${rows.length} batches, ${n(Math.round(current))} records/s read`);
      if (estimate) {
        ctx.print(`batch cost: ${estimate.fixed_cost_s.toFixed(2)} s + ${estimate.seconds_per_million_records.toFixed(1)} s per million records`);
        ctx.print(`within the ${trigger} s trigger up to ${n(Math.round(estimate.max_rate_within_trigger_eps))} events/s; sustainable up to ${n(Math.round(estimate.max_sustainable_eps))} events/s`);
      }
      ctx.print(`recommendation: ${report.recommendation}`);
    }
    return 0;
  },
});
