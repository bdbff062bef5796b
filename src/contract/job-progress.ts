/** The last micro-batch of the streaming query, as Spark reported it. */
export interface JobProgress {
  batchId: number;
  lastBatchAt: string;
  numInputRows: number;
  inputRowsPerSecond: number;
  processedRowsPerSecond: number;
  batchDurationMs: number;
}

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
