import { access } from 'node:fs/promises';
import nodePath from 'node:path';
import { execa } from 'execa';

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a program with an argument array (never through a shell, so nothing is quoted or expanded,
 * on Windows or elsewhere). execa resolves `kind` to `kind.exe` on Windows through PATHEXT.
 */
export interface CommandRunner {
  run(command: readonly string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
}

export function execaRunner(env: NodeJS.ProcessEnv, signal?: AbortSignal): CommandRunner {
  return {
    async run(command, opts = {}) {
      const [file, ...args] = command;
      if (!file) throw new Error('empty command');
      const result = await execa(file, args, {
        env,
        extendEnv: false,
        windowsHide: true,
        timeout: opts.timeoutMs,
        ...(signal ? { cancelSignal: signal } : {}),
      });
      return { stdout: String(result.stdout), stderr: String(result.stderr) };
    },
  };
}

/** Output lines without Windows line endings. */
export function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l.length > 0);
}

/**
 * Where a program is on PATH (with PATHEXT on Windows), or undefined. Used by preflight to say
 * "kind is not installed" before anything runs; `pathApi` is injectable to test Windows semantics.
 */
export async function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
  pathApi: nodePath.PlatformPath = platform === 'win32' ? nodePath.win32 : nodePath.posix,
  exists: (file: string) => Promise<boolean> = async (f) => access(f).then(() => true, () => false),
): Promise<string | undefined> {
  // Windows environment names are case-insensitive: Path, PATH and path are the same variable.
  const get = (key: string) =>
    Object.entries(env).find(([k]) => (platform === 'win32' ? k.toUpperCase() === key : k === key))?.[1];
  const dirs = (get('PATH') ?? '').split(pathApi.delimiter).filter(Boolean);
  const exts = platform === 'win32' ? (get('PATHEXT') ?? '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean) : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = pathApi.join(dir.replace(/^"(.*)"$/, '$1'), name + ext.toLowerCase());
      if (await exists(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Compares dotted versions numerically ("0.32.0" < "0.33.1"); missing parts count as 0. */
export function versionAtLeast(found: string, min: string): boolean {
  const a = found.replace(/^v/, '').split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  const b = min.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length, 3); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
    if (i >= 2) break;
  }
  return true;
}
