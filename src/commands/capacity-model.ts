/**
 * Capacity from the job's recent micro-batches: a batch of n records takes about c + k·n seconds
 * (c: fixed cost of a batch — planning, state commit, offsets; k: seconds per record), fitted by
 * least squares over batches with input. With a trigger of T seconds:
 *  - batches stay within the trigger up to rate (T − c) / (k·T): the latency target holds;
 *  - above it batches grow (each takes what arrived meanwhile) but the lag stays bounded up to
 *    rate 1/k (as long as a batch's records stay under maxOffsetsPerTrigger): the maximum
 *    sustainable rate; beyond it the job falls behind for good.
 */
export interface BatchSample {
  inputRows: number;
  durationS: number;
}

export interface CapacityEstimate {
  batches: number;
  fixed_cost_s: number;
  seconds_per_million_records: number;
  max_rate_within_trigger_eps: number;
  max_sustainable_eps: number;
}

export function estimateCapacity(samples: BatchSample[], triggerS: number): CapacityEstimate | undefined {
  const s = samples.filter((b) => b.inputRows > 0 && b.durationS > 0);
  // Needs batches of different sizes to separate the fixed cost from the per-record cost.
  if (s.length < 3) return undefined;
  const n = s.length;
  const mx = s.reduce((a, b) => a + b.inputRows, 0) / n;
  const my = s.reduce((a, b) => a + b.durationS, 0) / n;
  const sxx = s.reduce((a, b) => a + (b.inputRows - mx) ** 2, 0);
  if (sxx === 0 || mx === 0) return undefined;
  let k = s.reduce((a, b) => a + (b.inputRows - mx) * (b.durationS - my), 0) / sxx;
  let c = my - k * mx;
  if (k <= 0 || c < 0) {
    // Noise (a busy machine) can tilt the fit: fall back to no fixed cost, the mean cost per record.
    c = 0;
    k = s.reduce((a, b) => a + b.durationS, 0) / s.reduce((a, b) => a + b.inputRows, 0);
  }
  return {
    batches: n,
    fixed_cost_s: c,
    seconds_per_million_records: k * 1e6,
    max_rate_within_trigger_eps: Math.max(0, (triggerS - c) / (k * triggerS)),
    max_sustainable_eps: 1 / k,
  };
}
