import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { oneAtATime } from '../../src/base/one-at-a-time.ts';

describe('oneAtATime', () => {
  it('runs calls one after another in call order, past a failure, each with its own result', async () => {
    const events: string[] = [];
    const task = oneAtATime(async (name: string, ms: number) => {
      events.push(`start ${name}`);
      await sleep(ms);
      events.push(`end ${name}`);
      if (name === 'b') throw new Error('b failed');
      return name.toUpperCase();
    });
    const results = await Promise.allSettled([task('a', 30), task('b', 1), task('c', 1)]);
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['A', 'b failed', 'C']);
  });
});
