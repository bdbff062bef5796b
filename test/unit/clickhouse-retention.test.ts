import { describe, expect, it } from 'vitest';
import { parseTtlDays } from '../../src/clients/clickhouse.ts';

describe('parseTtlDays (the TTL in a table engine_full)', () => {
  it('reads the expression and the days as ClickHouse shows them', () => {
    expect(
      parseTtlDays(
        "ReplacingMergeTree PARTITION BY toDate(event_time) ORDER BY (event_type, toStartOfHour(event_time), event_id) TTL toDateTime(event_time) + toIntervalDay(7) SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 8192",
      ),
    ).toEqual({ expression: 'toDateTime(event_time)', days: 7 });
    expect(parseTtlDays('AggregatingMergeTree PARTITION BY toDate(minute) ORDER BY (minute, tier) TTL minute + toIntervalDay(30) SETTINGS index_granularity = 8192')).toEqual({
      expression: 'minute',
      days: 30,
    });
  });

  it('no TTL, or not in days: nothing to change', () => {
    expect(parseTtlDays('ReplacingMergeTree(updated_at) ORDER BY user_id SETTINGS index_granularity = 8192')).toBeUndefined();
    expect(parseTtlDays('MergeTree ORDER BY t TTL t + toIntervalHour(6)')).toBeUndefined();
    // More than the one delete clause: not ours to rewrite.
    expect(parseTtlDays("MergeTree ORDER BY t TTL t + toIntervalDay(7), t + toIntervalDay(1) TO VOLUME 'cold' SETTINGS index_granularity = 8192")).toBeUndefined();
    expect(parseTtlDays('MergeTree ORDER BY t TTL t + toIntervalDay(7) WHERE x = 1 SETTINGS index_granularity = 8192')).toBeUndefined();
  });
});
