import { randomUUID } from 'node:crypto';
import { Command, CommanderError, Option } from 'commander';
import chalk from 'chalk';
import { commands } from '../commands/index.ts';
import { TARGET_NAMES } from '../config/targets.ts';
import type { TargetChoice } from '../targets/resolve.ts';
import type { Target, TargetName } from '../stack/target.ts';
import type { CommandContext } from '../commands/context.ts';
import { describeError, EXIT_FAILURE, EXIT_USAGE, UsageError } from '../base/errors.ts';

/** The diagnostic log on stderr (`--log-format`): the status display, or one JSON object per line (JsonLinesStatus). */
const LOG_FORMATS = ['text', 'json'] as const;
type LogFormat = (typeof LOG_FORMATS)[number];

interface GlobalOptions {
  target?: string;
  config?: string;
  json?: boolean;
  verbose?: boolean;
  logFormat?: LogFormat;
}

export interface MainIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  stdinIsTty: boolean;
}

const defaultIo = (): MainIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, stdinIsTty: !!process.stdin.isTTY });

async function buildContext(g: GlobalOptions, io: MainIo, signal: AbortSignal, runId: string): Promise<CommandContext> {
  const json = !!g.json;
  const verbose = !!g.verbose;
  // Loaded when a command runs, not at start: `--help` needs neither the spinner, the config schema nor the targets.
  const [{ ConsoleStatus, JsonLinesStatus }, { loadConfig, resolveHome }, { createTarget }, { dockerDaemonAnswers, resolveTarget }] = await Promise.all([
    import('../base/status.ts'),
    import('../config/load.ts'),
    import('../targets/index.ts'),
    import('../targets/resolve.ts'),
  ]);
  const status =
    g.logFormat === 'json'
      ? new JsonLinesStatus({ stream: io.stderr, runId, verbose })
      : new ConsoleStatus({ stream: io.stderr, interactive: !json && !!io.stderr.isTTY, verbose });
  const { config, source } = await loadConfig(g.config ?? io.env.SPEEDLAYER_CONFIG);
  const home = resolveHome(config, io.env);
  const targetCtx = { config, home, status, env: io.env };
  let choice: TargetChoice | undefined;
  let target: Target | undefined;

  const ctx: CommandContext = {
    config,
    configSource: source,
    home,
    env: io.env,
    json,
    verbose,
    interactive: io.stdinIsTty && !!io.stderr.isTTY,
    status,
    signal,
    print: (text) => io.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    printJson: (value) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    async confirm(question) {
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: io.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
      } finally {
        rl.close();
      }
    },
    async targetName(): Promise<TargetName> {
      if (!choice) {
        choice = await resolveTarget({
          flag: g.target,
          env: io.env,
          configTarget: config.target,
          upTargets: async () => {
            const up: TargetName[] = [];
            for (const name of TARGET_NAMES) {
              const t = await createTarget(name, targetCtx).catch(() => undefined);
              if (t && (await t.isUp().catch(() => false))) up.push(name);
            }
            return up;
          },
          dockerAnswers: dockerDaemonAnswers,
        });
        status.info(`target: ${choice.name} (${choice.reason})`);
      }
      return choice.name;
    },
    async target() {
      target ??= await createTarget(await ctx.targetName(), targetCtx);
      return target;
    },
  };
  return ctx;
}

async function printError(err: unknown, io: MainIo, verbose: boolean, log: { format: LogFormat; runId: string }): Promise<number> {
  const d = describeError(err);
  if (log.format === 'json') {
    const { JsonLinesStatus } = await import('../base/status.ts');
    new JsonLinesStatus({ stream: io.stderr, runId: log.runId, verbose }).error(d.message, d.fix, d.detail);
    return d.exitCode;
  }
  io.stderr.write(`${chalk.red('error:')} ${d.message}\n`);
  if (d.fix) io.stderr.write(`${chalk.cyan('fix:')} ${d.fix}\n`);
  if (d.detail && verbose) io.stderr.write(`${chalk.dim(d.detail)}\n`);
  else if (d.detail && d.exitCode !== EXIT_USAGE) io.stderr.write(chalk.dim('(rerun with --verbose for details)\n'));
  return d.exitCode;
}

/** Builds the program from the command registry; returns the exit code. */
export async function main(argv: string[], io: MainIo = defaultIo()): Promise<number> {
  const runId = randomUUID();
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  let exitCode = 0;
  let globals: GlobalOptions = {};

  const program = new Command('speedlayer')
    .description('Stand up and drive a real-time analytics speed layer: Kafka -> Spark Structured Streaming -> ClickHouse.')
    .addOption(new Option('-t, --target <target>', 'where the stack runs').choices(TARGET_NAMES))
    .option('-c, --config <file>', 'YAML config file (default: $SPEEDLAYER_CONFIG)')
    .option('--json', 'machine-readable output on stdout')
    .option('-v, --verbose', 'show command output and details')
    .addOption(new Option('--log-format <format>', "progress and errors on stderr: 'text', or 'json' (one object per line, with a run id)").choices(LOG_FORMATS).default('text'))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  for (const decl of commands) {
    const cmd = program.command(decl.name).description(decl.description);
    decl.options?.(cmd);
    // commander passes the positional arguments first, then the options and the command itself.
    cmd.action(async (...received: unknown[]) => {
      const raw = { ...(received.at(-2) as Record<string, unknown>), args: received.slice(0, -2) };
      globals = program.opts<GlobalOptions>();
      const ctx = await buildContext(globals, io, abort.signal, runId);
      const opts = decl.parse ? decl.parse(raw, ctx) : raw;
      exitCode = (await decl.handler(ctx, opts as never)) ?? 0;
    });
  }

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every parse problem is a usage error.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    return printError(err, io, !!(globals.verbose ?? argv.includes('--verbose')), { format: globals.logFormat ?? 'text', runId });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export { EXIT_FAILURE, UsageError };
