import { existsSync } from 'node:fs';
import { readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

/** What the job's checkpoint says it has processed: the offsets of its last batch (offsets/<batch>). */
export interface CheckpointSummary {
  path: string;
  /** Id of the last batch whose offsets were written (undefined: no batch yet, or unreadable). */
  lastBatch?: number;
  /** topic -> partition -> next offset to read, after that batch. */
  offsets?: Record<string, Record<string, number>>;
  /** Why the offsets could not be read, if they could not. */
  unreadable?: string;
}

/** Reads `<checkpoint>/offsets/<N>` of the highest N: a version line, a metadata line, then one JSON line per source. */
export async function readCheckpoint(dir: string): Promise<CheckpointSummary | undefined> {
  if (!existsSync(dir)) return undefined;
  const offsetsDir = path.join(dir, 'offsets');
  const batches = existsSync(offsetsDir)
    ? (await readdir(offsetsDir)).filter((f) => /^\d+$/.test(f)).map(Number).sort((a, b) => a - b)
    : [];
  const last = batches.at(-1);
  if (last === undefined) return { path: dir };
  try {
    const lines = (await readFile(path.join(offsetsDir, String(last)), 'utf8')).trim().split('\n');
    if (!/^v\d+$/.test(lines[0] ?? '')) throw new Error(`offsets/${last} does not start with a version line`);
    const offsets: Record<string, Record<string, number>> = {};
    for (const line of lines.slice(2)) Object.assign(offsets, JSON.parse(line));
    return { path: dir, lastBatch: last, offsets };
  } catch (err) {
    return { path: dir, lastBatch: last, unreadable: (err as Error).message };
  }
}

/** Records in [from, to) per partition, summed over the topic; partitions absent from `from` count from `earliest`. */
export function recordsBetween(from: Record<string, number> | undefined, to: Array<{ partition: number; low: number; high: number }>): number {
  return to.reduce((sum, p) => sum + Math.max(0, p.high - Math.max(p.low, from?.[String(p.partition)] ?? p.low)), 0);
}

/** Moves the checkpoint aside (kept, not deleted: it can be moved back while the job is stopped). */
export async function discardCheckpoint(dir: string, now = new Date()): Promise<string> {
  const to = `${dir}.discarded-${now.toISOString().replace(/[:.]/g, '-')}`;
  await rename(dir, to);
  return to;
}
