/** Offsets [start, end) per partition of the events topic that one load test wrote. */
export type OffsetRanges = Array<{ partition: number; start: number; end: number }>;

export function offsetRanges(before: Record<number, number>, after: Record<number, number>): OffsetRanges {
  return Object.keys(after)
    .map(Number)
    .sort((a, b) => a - b)
    .map((partition) => ({ partition, start: before[partition] ?? 0, end: after[partition]! }))
    .filter((r) => r.end > r.start);
}

/** A ClickHouse predicate selecting exactly the rows that came from these offsets. */
export function offsetPredicate(ranges: OffsetRanges): string {
  if (ranges.length === 0) return '0';
  return ranges
    .map((r) => `(kafka_partition = ${r.partition} AND kafka_offset >= ${r.start} AND kafka_offset < ${r.end})`)
    .join(' OR ');
}
