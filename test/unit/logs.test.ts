import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastLines } from '../../src/commands/logs.ts';

describe('speedlayer logs', () => {
  it('prints the last lines of a log, also when they span more than one read from its end', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'speedlayer-logs-'));
    const file = path.join(dir, 'spark-job.log');
    const lines = Array.from({ length: 5000 }, (_, i) => `SPEEDLAYER_PROGRESS {"batchId":${i}} ${'x'.repeat(40)}`);
    await writeFile(file, `${lines.join('\n')}\n`);
    const last = await lastLines(file, 2000);
    expect(last.text.split('\n')).toEqual(lines.slice(-2000));
    expect((await lastLines(file, 1)).text).toBe(lines.at(-1));
    expect((await lastLines(file, 0)).text).toBe('');
    await writeFile(file, 'one line, no newline');
    expect((await lastLines(file, 5)).text).toBe('one line, no newline');
  });
});
