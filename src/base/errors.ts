/** Exit codes of the CLI: 0 ok, 1 failure, 2 usage or configuration error. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error the user can act on: what failed, what to do, and optional detail (shown with --verbose). */
export class SpeedlayerError extends Error {
  readonly fix: string | undefined;
  readonly detail: string | undefined;
  readonly exitCode: number;

  constructor(message: string, opts: { fix?: string; detail?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SpeedlayerError';
    this.fix = opts.fix;
    this.detail = opts.detail;
    this.exitCode = opts.exitCode ?? EXIT_FAILURE;
  }
}

/** Bad flags, bad config, bad arguments: exit code 2. */
export class UsageError extends SpeedlayerError {
  constructor(message: string, opts: { fix?: string; detail?: string } = {}) {
    super(message, { ...opts, exitCode: EXIT_USAGE });
    this.name = 'UsageError';
  }
}

/** Adds context at an action boundary ("step X: ...") while keeping the fix and detail of the cause. */
export function wrapError(context: string, err: unknown): SpeedlayerError {
  const described = describeError(err);
  return new SpeedlayerError(`${context}: ${described.message}`, {
    fix: described.fix,
    detail: described.detail,
    exitCode: described.exitCode,
    cause: err,
  });
}

interface ExecaLikeError {
  command?: string;
  shortMessage?: string;
  stderr?: unknown;
  exitCode?: number;
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The central map from causes (ENOENT, ECONNREFUSED, a failed command and its stderr) to a message and a fix. */
export function describeError(err: unknown): { message: string; fix?: string; detail?: string; exitCode: number } {
  if (err instanceof SpeedlayerError) {
    return { message: err.message, fix: err.fix, detail: err.detail, exitCode: err.exitCode };
  }
  const e = err as NodeJS.ErrnoException & ExecaLikeError & { address?: string; port?: number };
  const code = e?.code;
  if (code === 'ENOENT' && e.path) {
    const program = String(e.path);
    return {
      message: `'${program}' was not found`,
      fix: `Install ${program} and make sure it is on PATH, then run 'speedlayer doctor'.`,
      exitCode: EXIT_FAILURE,
    };
  }
  if (code === 'ECONNREFUSED') {
    const where = e.address ? `${e.address}:${e.port}` : 'the service';
    return {
      message: `connection refused by ${where}`,
      fix: "The service is not running. Start the stack with 'speedlayer up', or check 'speedlayer status'.",
      exitCode: EXIT_FAILURE,
    };
  }
  if (code === 'EADDRINUSE') {
    return {
      message: `port ${e.port ?? ''} is already in use`,
      fix: 'Stop the program using it, or choose another port in the config file (ports: ...).',
      exitCode: EXIT_FAILURE,
    };
  }
  if (e && typeof e.command === 'string' && typeof e.shortMessage === 'string') {
    const stderr = typeof e.stderr === 'string' ? e.stderr : '';
    return {
      message: e.shortMessage.split('\n')[0] ?? 'command failed',
      fix: 'Rerun with --verbose to see the command output.',
      detail: stderr ? tail(stderr) : undefined,
      exitCode: EXIT_FAILURE,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message, exitCode: EXIT_FAILURE, detail: err instanceof Error ? err.stack : undefined };
}
