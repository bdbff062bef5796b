import { accessSync, constants, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CommandContext } from './context.ts';
import { EXIT_FAILURE, UsageError } from '../base/errors.ts';
import { pipeline } from '../contract/index.ts';
import type { LoadtestReport } from '../loadtest/loadtest.ts';
import { checksTable, fmtQuantiles, n, table } from './render.ts';
import { defineCommand } from './command.ts';

import type { LoadtestConfig } from '../config/schema.ts';
import { LOADTEST_DEFAULTS } from '../config/loadtest-defaults.ts';

/**
 * The load test's flags, declared once as data (the way wrangler declares command arguments):
 * commander's options, their validation and their defaults all come from this table. A flag
 * with a config key defaults to the config file's value, whose own default is the schema's.
 */
interface FlagSpec {
  /** commander's flags, e.g. '-r, --rate <eps>' */
  flags: string;
  /** the key commander stores the value under */
  raw: string;
  help: string;
  valid: (v: number) => boolean;
  expect: string;
  example: string;
  /** the config file's loadtest key this flag overrides; else `fallback` */
  config?: keyof LoadtestConfig;
  fallback?: () => number;
  /** shown after the default in --help */
  note?: string;
}

/** A flag naming a file the load test writes (no default: nothing is written without it). */
interface FileFlagSpec {
  flags: string;
  raw: string;
  help: string;
  example: string;
  file: true;
}

const LOADTEST_FLAGS = {
  rate: { flags: '-r, --rate <eps>', raw: 'rate', help: 'events per second to produce', valid: (v) => v > 0, expect: 'a positive number of events per second', example: '10000', config: 'rate' },
  durationSeconds: { flags: '-d, --duration <seconds>', raw: 'duration', help: 'how long to produce', valid: (v) => v > 0, expect: 'a positive number of seconds', example: '60', config: 'durationSeconds' },
  malformedFraction: {
    flags: '--malformed-fraction <f>', raw: 'malformedFraction', help: 'share of deliberately broken records',
    valid: (v) => v >= 0 && v <= 1, expect: 'a fraction between 0 and 1', example: '0.01', config: 'malformedFraction',
  },
  seed: {
    flags: '--seed <n>', raw: 'seed', help: 'random seed, to replay the same events', valid: (v) => Number.isInteger(v) && v >= 0,
    expect: 'a non-negative integer', example: '42', fallback: () => Date.now() % 2 ** 31,
  },
  drainTimeoutSeconds: {
    flags: '--drain-timeout <seconds>', raw: 'drainTimeout', help: 'how long to wait for ClickHouse to hold every record',
    valid: (v) => v > 0, expect: 'a positive number of seconds', example: '300', config: 'drainTimeoutSeconds',
  },
  warmupSeconds: {
    flags: '--warmup <seconds>', raw: 'warmup', help: 'load produced and drained before the measured run, not measured',
    valid: (v) => v >= 0, expect: 'a number of seconds (0 for none)', example: '15', config: 'warmupSeconds', note: '0 for none',
  },
  warmupMaxSeconds: {
    flags: '--warmup-max <seconds>', raw: 'warmupMax', help: 'the warm-up goes on past --warmup until the job keeps up (10 batches in a row within the trigger interval), at most this long',
    valid: (v) => v >= 0, expect: 'a number of seconds', example: '120', config: 'warmupMaxSeconds', note: 'never shorter than --warmup',
  },
  eventTimeScale: {
    flags: '--event-time-scale <factor>', raw: 'eventTimeScale', help: 'event time runs this many times faster than wall time, ending now',
    valid: (v) => v >= 1, expect: 'a factor >= 1', example: '20', fallback: () => 1,
    note: '20 = 40 min of event time in 120 s: idle gaps and session timeouts',
  },
  dashboards: {
    flags: '--dashboards <n>', raw: 'dashboards', help: 'dashboard viewers during the measured window, each firing every named query at once',
    valid: (v) => Number.isInteger(v) && v >= 0 && v <= 64, expect: 'a whole number of viewers from 0 to 64', example: '8', fallback: () => 0,
  },
  refreshSeconds: {
    flags: '--refresh <seconds>', raw: 'refresh', help: 'how often each viewer refreshes its panels',
    valid: (v) => v >= 0.2, expect: 'a number of seconds >= 0.2', example: '2', fallback: () => 2,
  },
  html: {
    flags: '--html <file>', raw: 'html', help: 'also write a self-contained HTML report with charts (throughput, latency, batches) and the checks',
    example: 'loadtest-report.html', file: true,
  },
} satisfies Record<string, FlagSpec | FileFlagSpec>;

export type LoadtestFlags = { [K in keyof typeof LOADTEST_FLAGS]: (typeof LOADTEST_FLAGS)[K] extends { file: true } ? string | undefined : number };

function number(raw: unknown, spec: FlagSpec): number | undefined {
  if (raw === undefined) return undefined;
  const flag = spec.flags.split(' ').find((f) => f.startsWith('--'))!;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v) || !spec.valid(v)) {
    throw new UsageError(`${flag} must be ${spec.expect}, got '${String(raw)}'`, { fix: `Example: ${flag} ${spec.example}` });
  }
  return v;
}

/**
 * A file the load test will write, checked before the load runs: an existing folder that can be
 * written to, and not a folder itself. Returned as given (relative to the working directory).
 */
function writableFile(raw: unknown, spec: FileFlagSpec): string | undefined {
  if (raw === undefined) return undefined;
  const flag = spec.flags.split(' ')[0]!;
  const fix = `Example: ${flag} ${spec.example}`;
  if (typeof raw !== 'string' || raw.trim() === '') throw new UsageError(`${flag} needs a file name`, { fix });
  const file = path.resolve(raw);
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${flag} '${raw}' is a folder, not a file`, { fix: `${fix}, or ${flag} ${path.join(raw, spec.example)}` });
  const dir = path.dirname(file);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`${flag} '${raw}': the folder ${dir} does not exist`, { fix: `Create it first (mkdir -p ${dir}), or pass a file in an existing folder` });
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UsageError(`${flag} '${raw}': the folder ${dir} is not writable`, { fix: `Pass a file in a folder you can write to, e.g. ${flag} ${path.join(os.tmpdir(), spec.example)}` });
  }
  return raw;
}

const entries = Object.entries(LOADTEST_FLAGS) as Array<[keyof LoadtestFlags, FlagSpec | FileFlagSpec]>;

export function parseLoadtestFlags(raw: Record<string, unknown>, ctx: Pick<CommandContext, 'config'>): LoadtestFlags {
  const flags = {} as Record<keyof LoadtestFlags, number | string | undefined>;
  for (const [key, spec] of entries) {
    flags[key] =
      'file' in spec ? writableFile(raw[spec.raw], spec) : (number(raw[spec.raw], spec) ?? (spec.config ? ctx.config.loadtest[spec.config] : spec.fallback!()));
  }
  return checkEventClock(flags as LoadtestFlags);
}

/** The longest the warm-up can run: --warmup-max, never below --warmup; 0 when there is none. */
export function warmupLimitSeconds(flags: Pick<LoadtestFlags, 'warmupSeconds' | 'warmupMaxSeconds'>): number {
  return flags.warmupSeconds > 0 ? Math.max(flags.warmupSeconds, flags.warmupMaxSeconds) : 0;
}

function checkEventClock(flags: LoadtestFlags): LoadtestFlags {
  // The accelerated event clock starts up to (warm-up + duration) x scale in the past: beyond the
  // horizon its events would be expired_event_time dead letters.
  const reachMs = (warmupLimitSeconds(flags) + flags.durationSeconds) * 1000 * flags.eventTimeScale;
  const horizonMs = pipeline.deadLetter.maxEventAgeSeconds * 1000;
  if (reachMs >= horizonMs) {
    throw new UsageError(
      `--event-time-scale ${flags.eventTimeScale} with ${flags.durationSeconds} s (+ up to ${warmupLimitSeconds(flags)} s warm-up) starts the event clock ${Math.round(reachMs / 3_600_000)} h in the past, beyond the event-time horizon of ${Math.round(horizonMs / 3_600_000)} h (deadLetter.maxEventAgeSeconds)`,
      { fix: 'Use a smaller --event-time-scale or --duration' },
    );
  }
  return flags;
}

export function addLoadtestOptions(cmd: import('commander').Command): void {
  for (const [, spec] of entries) {
    if ('file' in spec) {
      cmd.option(spec.flags, spec.help);
      continue;
    }
    const fallback = spec.config ? LOADTEST_DEFAULTS[spec.config as keyof typeof LOADTEST_DEFAULTS] : spec.raw === 'seed' ? undefined : spec.fallback!();
    const extra = [fallback === undefined ? undefined : `default ${fallback}`, spec.note].filter(Boolean).join('; ');
    cmd.option(spec.flags, extra ? `${spec.help} (${extra})` : spec.help);
  }
}

export async function loadtest(ctx: CommandContext, flags: LoadtestFlags): Promise<LoadtestReport> {
  const target = await ctx.target();
  const endpoints = await target.endpoints();
  // Loaded here, not at start: the engine pulls in kafkajs and the ClickHouse client.
  const { runLoadtest } = await import('../loadtest/loadtest.ts');
  return runLoadtest(
    endpoints,
    { ...flags, warmupMaxSeconds: warmupLimitSeconds(flags), htmlPath: flags.html, users: ctx.config.loadtest.users, products: ctx.config.loadtest.products, checks: ctx.config.checks },
    ctx.status,
    ctx.signal,
  );
}

export function printReport(ctx: CommandContext, r: LoadtestReport): void {
  if (ctx.json) {
    ctx.printJson(r);
    return;
  }
  ctx.print('');
  ctx.print(
    table(
      ['figure', 'value'],
      [
        ['target events/s', n(r.target_eps)],
        ['achieved events/s', n(r.achieved_eps)],
        ['duration', `${r.duration_s} s`],
        ['produced', n(r.produced)],
        ['  valid', n(r.valid_produced)],
        ['  malformed (injected)', n(r.malformed_injected)],
        ['accepted (in ClickHouse)', n(r.accepted)],
        ['dead-lettered', n(r.dead_lettered)],
        ['missing', n(r.missing)],
        ['duplicated', n(r.duplicated)],
        ['drain after producing', `${r.drain_s} s`],
        ['warm-up before measuring', `${r.warmup_s} s (not counted)`],
        ['injected: duplicates / late / out of order', `${n(r.injected.duplicate)} / ${n(r.injected.late)} / ${n(r.injected.out_of_order)}`],
        ['expected: events / sessions / tier changes', `${n(r.ground_truth.accepted)} / ${n(r.ground_truth.sessions)} / ${n(r.ground_truth.tier_changes)}`],
        ['end-to-end latency', fmtQuantiles(r.e2e_latency_ms)],
        ['dashboard query latency', fmtQuantiles(r.query_latency_ms)],
        ...(r.dashboards
          ? [
              [`viewers: ${r.dashboards.viewers}, refresh every ${r.dashboards.refresh_s} s`, `${n(r.dashboards.refreshes)} refreshes, ${r.dashboards.queries_per_s} queries/s, ${n(r.dashboards.errors)} errors`],
              ['  panel latency', fmtQuantiles(r.dashboards.panel_latency_ms)],
              ['  whole-refresh latency', fmtQuantiles(r.dashboards.refresh_latency_ms)],
              ['  refreshes longer than the period', n(r.dashboards.overrun_refreshes)],
            ]
          : []),
      ],
    ),
  );
  if (r.first_query_error) ctx.print(`first failed dashboard query round: ${r.first_query_error}`);
  if (r.dashboards?.first_error) ctx.print(`first failed viewer panel: ${r.dashboards.first_error}`);
  ctx.print('');
  ctx.print(checksTable(r.checks));
  ctx.print('');
  ctx.print(r.passed ? 'PASSED: every check met its target.' : `FAILED: ${r.checks.filter((c) => !c.passed).length} check(s) missed their target.`);
}

export const loadtestCommand = defineCommand<LoadtestFlags>({
  name: 'loadtest',
  description: 'produce e-commerce events at a rate, wait for them in ClickHouse, report throughput and latency',
  options: addLoadtestOptions,
  parse: parseLoadtestFlags,
  async handler(ctx, flags) {
    const report = await loadtest(ctx, flags);
    printReport(ctx, report);
    return report.passed ? 0 : EXIT_FAILURE;
  },
});
