import type { CommandContext } from './context.ts';
import { EXIT_FAILURE, UsageError } from '../base/errors.ts';
import { runLoadtest, type LoadtestReport } from '../loadtest/loadtest.ts';
import { checksTable, fmtQuantiles, n, table } from './render.ts';
import { defineCommand } from './command.ts';

export interface LoadtestFlags {
  rate: number;
  durationSeconds: number;
  malformedFraction: number;
  seed: number;
  drainTimeoutSeconds: number;
  warmupSeconds: number;
  eventTimeScale: number;
}

function number(raw: unknown, flag: string, rule: (v: number) => boolean, expect: string): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v) || !rule(v)) {
    throw new UsageError(`${flag} must be ${expect}, got '${String(raw)}'`, { fix: `Example: ${flag} ${flag === '--malformed-fraction' ? '0.01' : '10000'}` });
  }
  return v;
}

export function parseLoadtestFlags(raw: Record<string, unknown>, ctx: Pick<CommandContext, 'config'>): LoadtestFlags {
  const lt = ctx.config.loadtest;
  return {
    rate: number(raw.rate, '--rate', (v) => v > 0, 'a positive number of events per second') ?? lt.rate,
    durationSeconds: number(raw.duration, '--duration', (v) => v > 0, 'a positive number of seconds') ?? lt.durationSeconds,
    malformedFraction: number(raw.malformedFraction, '--malformed-fraction', (v) => v >= 0 && v <= 1, 'a fraction between 0 and 1') ?? lt.malformedFraction,
    seed: number(raw.seed, '--seed', (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer') ?? Date.now() % 2 ** 31,
    drainTimeoutSeconds: number(raw.drainTimeout, '--drain-timeout', (v) => v > 0, 'a positive number of seconds') ?? lt.drainTimeoutSeconds,
    warmupSeconds: number(raw.warmup, '--warmup', (v) => v >= 0, 'a number of seconds (0 for none)') ?? lt.warmupSeconds,
    eventTimeScale: number(raw.eventTimeScale, '--event-time-scale', (v) => v >= 1, 'a factor >= 1') ?? 1,
  };
}

export function addLoadtestOptions(cmd: import('commander').Command): void {
  cmd
    .option('-r, --rate <eps>', 'events per second to produce (default 10000)')
    .option('-d, --duration <seconds>', 'how long to produce (default 60)')
    .option('--malformed-fraction <f>', 'share of deliberately broken records (default 0.01)')
    .option('--seed <n>', 'random seed, to replay the same events')
    .option('--drain-timeout <seconds>', 'how long to wait for ClickHouse to hold every record (default 120)')
    .option('--warmup <seconds>', 'load produced and drained before the measured run, not measured (default 15; 0 for none)')
    .option('--event-time-scale <factor>', 'event time runs this many times faster than wall time, ending now (default 1; 20 = 40 min of event time in 120 s: idle gaps and session timeouts)');
}

export async function loadtest(ctx: CommandContext, flags: LoadtestFlags): Promise<LoadtestReport> {
  const target = await ctx.target();
  const endpoints = await target.endpoints();
  return runLoadtest(
    endpoints,
    { ...flags, users: ctx.config.loadtest.users, products: ctx.config.loadtest.products, checks: ctx.config.checks },
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
      ],
    ),
  );
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
