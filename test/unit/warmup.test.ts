import { describe, expect, it } from 'vitest';
import { warmupLimitSeconds } from '../../src/commands/loadtest.ts';
import { pipeline } from '../../src/contract/index.ts';
import { jobKeepsUp, KEEPING_UP_BATCHES } from '../../src/loadtest/loadtest.ts';

describe('the load test warm-up', () => {
  const trigger = pipeline.spark.triggerIntervalSeconds * 1000;

  it('ends once the newest batches of the load each finished within the trigger interval', () => {
    const fast = Array<number>(KEEPING_UP_BATCHES - 2).fill(1_000);
    expect(jobKeepsUp([trigger - 500, trigger, ...fast])).toBe(true);
    // Only the newest ones count: an old cold batch no longer holds the warm-up.
    expect(jobKeepsUp([trigger, trigger, ...fast, 9_000])).toBe(true);
  });

  it('goes on while a recent batch overran the trigger, or too few batches ran', () => {
    const fast = Array<number>(KEEPING_UP_BATCHES - 1).fill(1_000);
    expect(jobKeepsUp([trigger + 1, ...fast])).toBe(false);
    expect(jobKeepsUp([...fast, trigger + 1])).toBe(false);
    expect(jobKeepsUp(fast)).toBe(false);
    expect(jobKeepsUp([])).toBe(false);
  });

  it('lasts at most --warmup-max, never less than --warmup, and not at all with --warmup 0', () => {
    expect(warmupLimitSeconds({ warmupSeconds: 15, warmupMaxSeconds: 120 })).toBe(120);
    expect(warmupLimitSeconds({ warmupSeconds: 30, warmupMaxSeconds: 10 })).toBe(30);
    expect(warmupLimitSeconds({ warmupSeconds: 0, warmupMaxSeconds: 120 })).toBe(0);
  });
});
