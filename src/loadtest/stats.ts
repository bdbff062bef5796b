/** Nearest-rank percentile of unsorted samples (undefined for none). */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Quantiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export function quantiles(samples: readonly number[]): Quantiles {
  const q = (p: number) => {
    const v = percentile(samples, p);
    return v === undefined ? null : Math.round(v * 10) / 10;
  };
  return { p50: q(50), p95: q(95), p99: q(99) };
}
