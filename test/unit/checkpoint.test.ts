import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { discardCheckpoint, readCheckpoint, recordsBetween } from '../../src/targets/local/checkpoint.ts';

describe('the job checkpoint, as submit --reset-checkpoint reads it', () => {
  const dir = () => {
    const d = path.join(mkdtempSync(path.join(os.tmpdir(), 'speedlayer-cp-')), 'checkpoints');
    mkdirSync(path.join(d, 'offsets'), { recursive: true });
    return d;
  };

  it("reads the last batch's offsets (Spark's offsets/<batch> file: version, metadata, one line per source)", async () => {
    const d = dir();
    writeFileSync(path.join(d, 'offsets', '3'), 'v1\n{"batchWatermarkMs":0}\n{"speedlayer.events":{"0":5,"1":7}}\n');
    writeFileSync(path.join(d, 'offsets', '12'), 'v1\n{"batchWatermarkMs":0}\n{"speedlayer.events":{"0":10,"1":20},"speedlayer.users":{"0":3}}\n');
    writeFileSync(path.join(d, 'offsets', '.12.crc'), '');
    expect(await readCheckpoint(d)).toEqual({ path: d, lastBatch: 12, offsets: { 'speedlayer.events': { '0': 10, '1': 20 }, 'speedlayer.users': { '0': 3 } } });
  });

  it('says what it cannot read, and that there is none', async () => {
    const d = dir();
    writeFileSync(path.join(d, 'offsets', '0'), 'garbage');
    expect(await readCheckpoint(d)).toEqual({ path: d, lastBatch: 0, unreadable: 'offsets/0 does not start with a version line' });
    expect(await readCheckpoint(path.join(d, 'absent'))).toBeUndefined();
  });

  it('counts the records after the checkpoint, within what Kafka still holds', () => {
    const partitions = [{ partition: 0, low: 0, high: 100 }, { partition: 1, low: 50, high: 60 }, { partition: 2, low: 0, high: 8 }];
    expect(recordsBetween(undefined, partitions)).toBe(118);
    expect(recordsBetween({ '0': 90, '1': 10 }, partitions)).toBe(10 + 10 + 8);
  });

  it('moves the checkpoint aside instead of deleting it', async () => {
    const d = dir();
    const to = await discardCheckpoint(d, new Date('2026-11-28T02:00:00.000Z'));
    expect(to).toBe(`${d}.discarded-2026-11-28T02-00-00-000Z`);
    expect([existsSync(d), existsSync(path.join(to, 'offsets'))]).toEqual([false, true]);
  });
});
