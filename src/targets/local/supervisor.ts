import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeJsonWhole } from '../../base/write-whole.ts';

/**
 * Long-running local servers are started detached (their own process group, output appended to a
 * log file) so they outlive the CLI; a pid file records them. One-shot commands use execa instead.
 */
export interface ProcessRecord {
  pid: number;
  command: string;
  args: string[];
  startedAt: string;
  ports: number[];
  logFile: string;
}

export interface StartOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  ports: number[];
}

export class ManagedProcess {
  readonly dir: string;
  readonly pidFile: string;
  readonly logFile: string;

  constructor(
    readonly name: string,
    stateDir: string,
  ) {
    this.dir = stateDir;
    this.pidFile = path.join(stateDir, `${name}.pid.json`);
    this.logFile = path.join(stateDir, `${name}.log`);
  }

  async record(): Promise<ProcessRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.pidFile, 'utf8')) as ProcessRecord;
    } catch {
      return undefined;
    }
  }

  /** The running process, or undefined (a stale pid file is removed). */
  async running(): Promise<ProcessRecord | undefined> {
    const rec = await this.record();
    if (!rec) return undefined;
    if (isAlive(rec.pid)) return rec;
    await rm(this.pidFile, { force: true });
    return undefined;
  }

  async start(opts: StartOptions): Promise<ProcessRecord> {
    await mkdir(this.dir, { recursive: true });
    const fd = openSync(this.logFile, 'a');
    try {
      const child = spawn(opts.command, opts.args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        detached: true,
        stdio: ['ignore', fd, fd],
        windowsHide: true,
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid!));
      });
      child.unref();
      const rec: ProcessRecord = {
        pid,
        command: opts.command,
        args: opts.args,
        startedAt: new Date().toISOString(),
        ports: opts.ports,
        logFile: this.logFile,
      };
      // `status`, `down` and another `up` read it while this one runs.
      await writeJsonWhole(this.pidFile, rec);
      return rec;
    } finally {
      closeSync(fd);
    }
  }

  /** SIGTERM to the process group, then SIGKILL after the grace period. Returns false if nothing ran. */
  async stop(graceMs = 15000): Promise<boolean> {
    const rec = await this.running();
    if (!rec) return false;
    signalGroup(rec.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(rec.pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(rec.pid)) {
      signalGroup(rec.pid, 'SIGKILL');
      while (isAlive(rec.pid)) await sleep(50);
    }
    await rm(this.pidFile, { force: true });
    return true;
  }

  /** The log from byte `from` on (negative: that many bytes before its end); '' when there is none. */
  async logFrom(from: number): Promise<string> {
    let f;
    try {
      f = await open(this.logFile);
    } catch {
      return '';
    }
    try {
      const { size } = await f.stat();
      const start = from < 0 ? Math.max(0, size + from) : Math.min(from, size);
      const buf = Buffer.alloc(size - start);
      await f.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      await f.close();
    }
  }

  /** The last lines of the log, for error messages. */
  async logTail(lines = 30): Promise<string> {
    try {
      const text = await readFile(this.logFile, 'utf8');
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Negative pid: the whole group, so helper children (e.g. a shell wrapper's JVM) go too.
    process.kill(process.platform === 'win32' ? pid : -pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Polls `probe` until it returns true, the process dies, or the timeout passes. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; alive?: () => boolean; signal?: AbortSignal; onTick?: (s: number) => void },
): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (opts.signal?.aborted) throw new Error(`interrupted while waiting for ${what}`);
    if (await probe().catch(() => false)) return;
    if (opts.alive && !opts.alive()) throw new Error(`${what}: the process exited`);
    if (Date.now() - started > opts.timeoutMs) throw new Error(`${what}: not ready after ${Math.round(opts.timeoutMs / 1000)}s`);
    opts.onTick?.(Math.round((Date.now() - started) / 1000));
    await sleep(opts.intervalMs ?? 500);
  }
}
