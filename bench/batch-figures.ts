import { pipeline } from '../src/contract/index.ts';
import { percentile } from '../src/loadtest/stats.ts';

/** The job's progress lines (pipeline.json jobProtocol), each with its JSON. */
export const PROGRESS_LINE = new RegExp(`^${pipeline.jobProtocol.progress} (\\{.*\\})$`, 'gm');

/** One progress line of the job's log (spark/.../ProgressListener.scala). */
interface BatchProgress {
  batchId: number;
  numInputRows: number;
  batchDurationMs: number;
  timestamp: string;
  durationMs?: Record<string, number>;
  state?: Record<string, number>;
}

/** The figures of the batches that started in [fromMs, toMs] and read input: median / p95 / max of each. */
export function batchFigures(log: string, fromMs: number, toMs: number): { count: number; figures: Record<string, { p50: number; p95: number; max: number }> } {
  const batches = [...log.matchAll(PROGRESS_LINE)]
    .map((m) => JSON.parse(m[1]!) as BatchProgress)
    .filter((b) => b.numInputRows > 0 && Date.parse(b.timestamp) >= fromMs && Date.parse(b.timestamp) <= toMs);
  const series: Record<string, number[]> = {
    'input rows': batches.map((b) => b.numInputRows),
    'batch duration': batches.map((b) => b.batchDurationMs),
    addBatch: batches.map((b) => b.durationMs?.addBatch ?? 0),
    'state: all updates': batches.map((b) => b.state?.allUpdatesTimeMs ?? 0),
    'state: timers due (allRemovalsTimeMs)': batches.map((b) => b.state?.allRemovalsTimeMs ?? 0),
    'state: commit': batches.map((b) => b.state?.commitTimeMs ?? 0),
    'state: rows updated': batches.map((b) => b.state?.numRowsUpdated ?? 0),
  };
  const figures = Object.fromEntries(
    Object.entries(series).map(([k, v]) => [k, { p50: percentile(v, 50) ?? 0, p95: percentile(v, 95) ?? 0, max: Math.max(0, ...v) }]),
  );
  return { count: batches.length, figures };
}
