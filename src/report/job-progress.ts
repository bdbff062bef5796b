import type { JobProgress } from '../targets/target.ts';

/** Spark's StreamingQueryProgress JSON (the job's progress file, on either target) -> the figures status shows. */
export function parseJobProgress(json: string): JobProgress {
  const p = JSON.parse(json);
  return {
    batchId: Number(p.batchId),
    lastBatchAt: String(p.timestamp),
    numInputRows: Number(p.numInputRows ?? 0),
    inputRowsPerSecond: Number(p.inputRowsPerSecond ?? 0),
    processedRowsPerSecond: Number(p.processedRowsPerSecond ?? 0),
    batchDurationMs: Number(p.durationMs?.triggerExecution ?? 0),
  };
}
