import { open, stat } from 'node:fs/promises';
import { sleepUnlessAborted } from '../base/wait.ts';
import { SpeedlayerError, UsageError } from '../base/errors.ts';
import type { CommandContext } from './context.ts';
import { defineCommand } from './command.ts';

interface LogsOptions {
  component: string;
  lines: number;
  follow: boolean;
}

/** The last `lines` lines of a file (read from its end, so a large log costs little). */
export async function lastLines(file: string, lines: number): Promise<{ text: string; size: number }> {
  const f = await open(file);
  try {
    const { size } = await f.stat();
    let start = size;
    let text = '';
    while (start > 0 && text.split('\n').length <= lines + 1) {
      const from = Math.max(0, start - 64 * 1024);
      const buf = Buffer.alloc(start - from);
      await f.read(buf, 0, buf.length, from);
      text = buf.toString('utf8') + text;
      start = from;
    }
    const all = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    return { text: lines === 0 ? '' : all.slice(-lines).join('\n'), size };
  } finally {
    await f.close();
  }
}

async function follow(ctx: CommandContext, file: string, from: number): Promise<void> {
  let offset = from;
  while (!ctx.signal.aborted) {
    const size = (await stat(file).catch(() => undefined))?.size ?? 0;
    if (size < offset) offset = 0; // truncated or replaced
    if (size > offset) {
      const f = await open(file);
      try {
        const buf = Buffer.alloc(size - offset);
        await f.read(buf, 0, buf.length, offset);
        process.stdout.write(buf);
      } finally {
        await f.close();
      }
      offset = size;
    }
    await sleepUnlessAborted(FOLLOW_POLL_MS, ctx.signal);
  }
}

/** How often --follow looks for new lines. */
const FOLLOW_POLL_MS = 500;
const DEFAULT_LINES = 50;

export const logsCommand = defineCommand<LogsOptions>({
  name: 'logs',
  description: "a component's log (the job's lines carry batch ids); --follow keeps printing new lines",
  options: (cmd) =>
    cmd
      .argument('<component>', 'kafka, clickhouse, spark-job, exporter, prometheus or alertmanager (speedlayer status lists them)')
      .option('-n, --lines <n>', `how many of the last lines to print (default ${DEFAULT_LINES})`)
      .option('-f, --follow', 'keep printing new lines until Ctrl-C'),
  parse(raw) {
    const lines = raw.lines === undefined ? DEFAULT_LINES : Number(raw.lines);
    if (!Number.isInteger(lines) || lines < 0) throw new UsageError(`--lines must be a non-negative integer, got '${String(raw.lines)}'`, { fix: 'Example: --lines 200' });
    return { component: String((raw.args as unknown[])[0]), lines, follow: !!raw.follow };
  },
  async handler(ctx, o) {
    const target = await ctx.target();
    const files = (await target.logFiles?.()) ?? {};
    const file = files[o.component];
    if (!file) {
      const known = Object.keys(files);
      throw new SpeedlayerError(`no log for '${o.component}' on the ${target.name} stack`, {
        fix: known.length ? `Name one of: ${known.join(', ')}.` : "No stack found: start one with 'speedlayer up'.",
      });
    }
    const last = await lastLines(file, o.lines).catch(() => ({ text: '', size: 0 }));
    if (last.text) ctx.print(last.text);
    if (o.follow) await follow(ctx, file, last.size);
    return 0;
  },
});
