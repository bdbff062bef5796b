import { describe, expect, it } from 'vitest';
import { estimateCapacity } from '../../src/commands/capacity-model.ts';

describe('capacity model', () => {
  it('separates the fixed cost of a batch from its cost per record and projects the rates', () => {
    // 0.5 s per batch + 100 µs per record: within a 2 s trigger up to 7,500 records/s, sustainable up to 10,000/s.
    const samples = [1000, 5000, 10000, 15000, 20000, 40000].map((n) => ({ inputRows: n, durationS: 0.5 + n * 1e-4 }));
    const e = estimateCapacity(samples, 2)!;
    expect(e.fixed_cost_s).toBeCloseTo(0.5, 6);
    expect(e.seconds_per_million_records).toBeCloseTo(100, 6);
    expect(e.max_rate_within_trigger_eps).toBeCloseTo(7500, 3);
    expect(e.max_sustainable_eps).toBeCloseTo(10000, 3);
  });

  it('ignores empty batches and needs enough batches with input', () => {
    expect(estimateCapacity([{ inputRows: 0, durationS: 1 }, ...[1, 2].map((i) => ({ inputRows: i * 1000, durationS: i }))], 2)).toBeUndefined();
    expect(estimateCapacity([1, 2, 3].map((i) => ({ inputRows: i * 1000, durationS: 0.5 + i })), 2)?.batches).toBe(3);
  });
});

describe('capacity recommendation', async () => {
  const { recommend } = await import('../../src/commands/capacity.ts');
  const e = { batches: 10, fixed_cost_s: 0.5, seconds_per_million_records: 100, max_rate_within_trigger_eps: 7500, max_sustainable_eps: 10000 };
  it('says to add cores near the sustainable rate, warns when batches outgrow the trigger, else reports the headroom', () => {
    expect(recommend(9000, e, 2)).toMatch(/^90% of the sustainable rate: add more cores \(local.spark.cores, now 2\)/);
    expect(recommend(8000, e, 2)).toMatch(/batches exceed the 2 s trigger/);
    expect(recommend(2000, e, 2)).toBe('80% headroom: no change needed');
    expect(recommend(2000, undefined, 2)).toMatch(/not enough batches/);
  });
});
