import type { ProduceResult } from '../loadgen/producer.ts';
import type { Check } from './checks.ts';
import type { ViewerFigures } from './dashboard-viewers.ts';
import type { groundTruthSummary } from './ground-truth-checks.ts';
import type { Quantiles } from './stats.ts';
import type { Timeline } from './timeline.ts';

/** What `loadtest --json` prints, and what the HTML report and the benchmark read. */
export interface LoadtestReport {
  target_eps: number;
  achieved_eps: number;
  duration_s: number;
  produced: number;
  valid_produced: number;
  malformed_injected: number;
  accepted: number;
  dead_lettered: number;
  missing: number;
  duplicated: number;
  drain_s: number;
  /** Seconds waited after the drain for the job to close the sessions the final watermark expired. */
  sessions_settle_s: number;
  warmup_s: number;
  /** The run's user-id prefix, what the generator injected, and what the ground-truth model expects. */
  user_prefix: string;
  injected: ProduceResult['injected'];
  ground_truth: ReturnType<typeof groundTruthSummary>;
  e2e_latency_ms: Quantiles;
  query_latency_ms: Quantiles;
  query_latency_by_query_ms: Record<string, Quantiles>;
  /** Rounds of the named queries that failed while producing (e.g. timed out). */
  query_errors: number;
  first_query_error?: string;
  /** The viewers of --dashboards, during the measured window. */
  dashboards?: ViewerFigures;
  /** Produced events/s, the job's batches and e2e latency over the run (the charts of --html). */
  timeline: Timeline;
  checks: Check[];
  passed: boolean;
}
