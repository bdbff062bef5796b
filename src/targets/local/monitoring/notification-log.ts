import { appendFile, readFile, rename, stat } from 'node:fs/promises';

/**
 * The notification log `speedlayer alerts` reads resolved alerts from: JSON lines, bounded. A line
 * that would take the file past `maxBytes` first moves it to `<file>.1` (replacing the one before),
 * so a stack that runs for months with a flapping alert keeps at most twice the bound on disk and
 * the last notifications always stay readable.
 */
export const NOTIFICATION_LOG_MAX_BYTES = 4 * 1024 * 1024;

export function previousLogFile(file: string): string {
  return `${file}.1`;
}

export async function appendNotification(file: string, line: string, maxBytes = NOTIFICATION_LOG_MAX_BYTES): Promise<void> {
  const entry = `${line}\n`;
  const size = await stat(file).then((s) => s.size, () => 0);
  if (size > 0 && size + Buffer.byteLength(entry) > maxBytes) await rename(file, previousLogFile(file));
  await appendFile(file, entry);
}

/** The log's lines, oldest first (the moved-away file, then the current one). */
export async function readNotificationLines(file: string): Promise<string[]> {
  const texts = await Promise.all([previousLogFile(file), file].map((f) => readFile(f, 'utf8').catch(() => '')));
  return texts.flatMap((text) => text.split('\n')).filter((line) => line !== '');
}
