import { queryRange, queryValue } from '../clients/prometheus.ts';
import { pipeline } from '../contract/index.ts';

/** The figures `status --watch` shows and `status --json` reports, read from Prometheus (docs/metrics.md). */
export interface LiveFigures {
  input_rows_per_second: number | null;
  produced_per_second: number | null;
  e2e_latency_p95_s: number | null;
  freshness_s: number | null;
  kafka_lag_records: number | null;
  batch_duration_s: number | null;
  trigger_s: number | null;
  dead_letters_per_second: number | null;
}

const EVENTS = pipeline.kafka.topics.events.name;
export const THROUGHPUT_EXPR = 'sum(rate(speedlayer_job_input_rows_total[30s]))';

const EXPRESSIONS: Record<keyof LiveFigures, string> = {
  input_rows_per_second: THROUGHPUT_EXPR,
  produced_per_second: `sum(rate(speedlayer_kafka_end_offset{topic="${EVENTS}"}[30s]))`,
  e2e_latency_p95_s: 'max(speedlayer_e2e_latency_seconds{quantile="0.95"})',
  freshness_s: 'max(speedlayer_freshness_seconds)',
  kafka_lag_records: 'sum(speedlayer_kafka_job_lag_records)',
  batch_duration_s: 'max(speedlayer_job_last_batch_duration_seconds)',
  trigger_s: 'max(speedlayer_job_trigger_interval_seconds)',
  dead_letters_per_second: 'sum(rate(speedlayer_job_rows_total{outcome="dead_letters"}[1m]))',
};

export async function liveFigures(prometheusUrl: string): Promise<LiveFigures> {
  const entries = await Promise.all(Object.entries(EXPRESSIONS).map(async ([k, expr]) => [k, await queryValue(prometheusUrl, expr)] as const));
  return Object.fromEntries(entries) as unknown as LiveFigures;
}

/** Throughput over the last `seconds`, one point per `stepS`. */
export async function throughputHistory(prometheusUrl: string, seconds: number, stepS: number): Promise<number[]> {
  const end = Date.now() / 1000;
  return (await queryRange(prometheusUrl, THROUGHPUT_EXPR, end - seconds, end, stepS)).map(([, v]) => v);
}

const BARS = '▁▂▃▄▅▆▇█';

/** A sparkline of the values, scaled from 0 to their maximum. */
export function sparkline(values: number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (max <= 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1) + 0.5))])).join('');
}
