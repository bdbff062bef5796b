import { describe, expect, it } from 'vitest';
import { warmupLimitSeconds } from '../../src/commands/loadtest.ts';
import { pipeline } from '../../src/contract/index.ts';
import { jobKeepsUp, KEEPING_UP_BATCHES } from '../../src/loadtest/loadtest.ts';

describe('the load test warm-up', () => {
  const trigger = pipeline.spark.triggerIntervalSeconds * 1000;

  it('ends once the newest batches of the load each finished within the trigger interval', () => {
    expect(KEEPING_UP_BATCHES).toBe(3);
    expect(jobKeepsUp([trigger - 500, trigger, 900])).toBe(true);
    // Only the newest three count: an old cold batch no longer holds the warm-up.
    expect(jobKeepsUp([1_000, 1_200, 1_100, 9_000])).toBe(true);
  });

  it('goes on while a recent batch overran the trigger, or too few batches ran', () => {
    expect(jobKeepsUp([1_000, trigger + 1, 1_000])).toBe(false);
    expect(jobKeepsUp([1_000, 1_000])).toBe(false);
    expect(jobKeepsUp([])).toBe(false);
  });

  it('lasts at most --warmup-max, never less than --warmup, and not at all with --warmup 0', () => {
    expect(warmupLimitSeconds({ warmupSeconds: 15, warmupMaxSeconds: 120 })).toBe(120);
    expect(warmupLimitSeconds({ warmupSeconds: 30, warmupMaxSeconds: 10 })).toBe(30);
    expect(warmupLimitSeconds({ warmupSeconds: 0, warmupMaxSeconds: 120 })).toBe(0);
  });
});
