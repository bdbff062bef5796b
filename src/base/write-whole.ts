import { rename, writeFile } from 'node:fs/promises';

/**
 * Writes `value` as JSON to `file` whole or not at all (a temporary file renamed over it), for state
 * files other processes read while this one runs: they see the old content or the new, never half.
 */
export async function writeJsonWhole(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2));
  await rename(tmp, file);
}
