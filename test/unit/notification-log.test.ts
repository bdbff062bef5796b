import { mkdtemp, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendNotification, previousLogFile, readNotificationLines } from '../../src/targets/local/monitoring/notification-log.ts';

describe('the notification log', () => {
  it('stays under its bound: a line that would pass it moves the file aside first, replacing the one before', async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'speedlayer-notifications-')), 'notifications.jsonl');
    const line = (n: number) => JSON.stringify({ n, status: 'firing', padding: 'x'.repeat(80) });
    const maxBytes = 1000;
    for (let n = 0; n < 40; n++) {
      await appendNotification(file, line(n), maxBytes);
      expect((await stat(file)).size).toBeLessThanOrEqual(maxBytes);
    }
    expect((await stat(previousLogFile(file))).size).toBeLessThanOrEqual(maxBytes);
    // Read oldest first across both files, ending with the last line written, none repeated.
    const numbers = (await readNotificationLines(file)).map((l) => (JSON.parse(l) as { n: number }).n);
    expect(numbers.at(-1)).toBe(39);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(numbers.length).toBeGreaterThan(maxBytes / (line(0).length + 1)); // more than one file's worth kept
    expect((await readFile(file, 'utf8')).endsWith(`${line(39)}\n`)).toBe(true);
  });

  it('reads nothing when no notification came yet', async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'speedlayer-notifications-')), 'notifications.jsonl');
    expect(await readNotificationLines(file)).toEqual([]);
  });
});
