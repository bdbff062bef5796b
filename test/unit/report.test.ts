import { describe, expect, it } from 'vitest';
import { atLeast, atMost, below, equals } from '../../src/loadtest/checks.ts';
import { offsetPredicate, offsetRanges } from '../../src/loadtest/run-window.ts';
import { percentile, quantiles } from '../../src/loadtest/stats.ts';

describe('percentiles', () => {
  it('nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 95)).toBe(95);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([3, 1, 2], 100)).toBe(3);
    expect(quantiles([])).toEqual({ p50: null, p95: null, p99: null });
  });
});

describe('run window', () => {
  it('selects exactly the offsets a run wrote', () => {
    const r = offsetRanges({ 0: 10, 1: 5 }, { 0: 15, 1: 5, 2: 3 });
    expect(r).toEqual([{ partition: 0, start: 10, end: 15 }, { partition: 2, start: 0, end: 3 }]);
    expect(offsetPredicate(r)).toBe('(kafka_partition = 0 AND kafka_offset >= 10 AND kafka_offset < 15) OR (kafka_partition = 2 AND kafka_offset >= 0 AND kafka_offset < 3)');
    expect(offsetPredicate([])).toBe('0');
  });
});

describe('checks', () => {
  it('pass and fail on their bounds', () => {
    expect(atLeast('eps', 10000, 10000).passed).toBe(true);
    expect(atLeast('eps', 9999, 10000).passed).toBe(false);
    expect(atMost('p95', 5000, 5000).passed).toBe(true);
    expect(below('q', 1000, 1000).passed).toBe(false);
    expect(equals('missing', 0, 0)).toEqual({ name: 'missing', target: '= 0', actual: '0', passed: true });
    expect(atLeast('x', null, 1).passed).toBe(false);
  });
});
