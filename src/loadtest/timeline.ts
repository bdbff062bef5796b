import type { ClickHouseClient } from '@clickhouse/client';
import { pipeline } from '../contract/index.ts';
import { offsetPredicate, type OffsetRanges } from './run-window.ts';

const T = pipeline.clickhouse.tables;

/**
 * The run over time, for the charts of `loadtest --html` and the `timeline` of `--json`. Every `s` is
 * seconds since the producer started the measured load, so the series share one axis.
 */
export interface Timeline {
  /** Records Kafka acknowledged per second (the producer's count). */
  produced_per_s: Array<{ s: number; events: number }>;
  /** The job's micro-batches after the run started (pipeline_progress), by batch id. */
  batches: Array<{
    batch_id: number;
    s: number;
    input_rows: number;
    /** The rows read over the time since the previous batch started: what the job kept up with. */
    input_rows_per_s: number;
    /** The rows read over the batch's own duration: how fast it processes while it runs. */
    processed_rows_per_s: number;
    duration_ms: number;
  }>;
  /** Produced -> visible in ClickHouse, for the run's events grouped by the second they were produced. */
  e2e_latency_per_s: Array<{ s: number; p50_ms: number; p95_ms: number; events: number }>;
}

async function rows<R>(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<R[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', query_params: params });
  return (await rs.json()) as R[];
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/**
 * `sentPerSecond` and `startedAt` come from the producer; the batches are those whose batch_time is
 * after `afterBatchTime` (the job's newest batch before the run), the latencies those of the run's offsets.
 */
export async function collectTimeline(
  client: ClickHouseClient,
  run: { startedAt: number; sentPerSecond: readonly number[]; afterBatchTime: number; ranges: OffsetRanges },
): Promise<Timeline> {
  const batches = await rows<{ b: string; t: string; r: string; i: number; p: number; d: string }>(
    client,
    `SELECT batch_id AS b, toUnixTimestamp64Milli(batch_time) AS t, num_input_rows AS r, input_rows_per_second AS i, processed_rows_per_second AS p, batch_duration_ms AS d
     FROM ${T.pipelineProgress} FINAL WHERE batch_time > fromUnixTimestamp64Milli({after:Int64}) ORDER BY batch_id`,
    { after: Math.round(run.afterBatchTime) },
  );
  const latency = await rows<{ s: string; q: number[]; n: string }>(
    client,
    `SELECT intDiv(toUnixTimestamp64Milli(produced_at) - {start:Int64}, 1000) AS s,
            quantilesExact(0.5, 0.95)(dateDiff('millisecond', produced_at, inserted_at)) AS q, count() AS n
     FROM ${T.events} WHERE produced_at > 0 AND (${offsetPredicate(run.ranges)}) GROUP BY s ORDER BY s`,
    { start: Math.round(run.startedAt) },
  );
  return {
    produced_per_s: run.sentPerSecond.map((events, s) => ({ s, events })),
    batches: batches.map((b) => ({
      batch_id: Number(b.b),
      s: seconds(Number(b.t) - run.startedAt),
      input_rows: Number(b.r),
      input_rows_per_s: Math.round(Number(b.i)),
      processed_rows_per_s: Math.round(Number(b.p)),
      duration_ms: Number(b.d),
    })),
    e2e_latency_per_s: latency.map((l) => ({ s: Number(l.s), p50_ms: Number(l.q[0]), p95_ms: Number(l.q[1]), events: Number(l.n) })),
  };
}
