import { writeFile } from 'node:fs/promises';
import { SpeedlayerError } from '../base/errors.ts';
import type { Status } from '../base/status.ts';
import { runSteps, type Step } from '../base/step.ts';
import { clickhouseClient, dashboardClient } from '../clients/clickhouse.ts';
import { kafkaClient } from '../clients/kafka.ts';
import type { ChecksConfigSchema } from '../config/schema.ts';
import { pipeline } from '../contract/index.ts';
import { produceLoad, userDimensionOf, type ProduceOptions, type ProduceResult } from '../loadgen/producer.ts';
import type { StackEndpoints } from '../base/stack.ts';
import { atLeast, atMost, below, equals, type Check } from './checks.ts';
import {
  closedSessions,
  compareWithClickHouse,
  expectationFor,
  groundTruthSummary,
  jobMaxEventTime,
  lateRows,
  latestBatchTime,
  newestBatchDurations,
  progressInputRows,
} from './ground-truth-checks.ts';
import { startViewers, type ViewerFigures } from './dashboard-viewers.ts';
import { e2eLatency, runCounts, timeDashboardQueries, type RunCounts } from './pipeline-figures.ts';
import { offsetRanges, type OffsetRanges } from './run-window.ts';
import { quantiles, type Quantiles } from './stats.ts';
import type { LoadtestReport } from './report.ts';
import { collectTimeline, type Timeline } from './timeline.ts';
import type { z } from 'zod';

export type { LoadtestReport } from './report.ts';

export interface LoadtestOptions {
  rate: number;
  durationSeconds: number;
  malformedFraction: number;
  users: number;
  products: number;
  drainTimeoutSeconds: number;
  /** Seconds of load produced and drained before the measured run (JIT, codegen, caches); 0 = none. */
  warmupSeconds: number;
  /** The warm-up goes on past warmupSeconds until the job keeps up (jobKeepsUp), at most this long (≥ warmupSeconds). */
  warmupMaxSeconds: number;
  seed: number;
  /** Event time runs this many times faster than wall time (default 1; 20 lets 30-min idle gaps and session timeouts happen in a 120 s run). */
  eventTimeScale?: number;
  /** Dashboard viewers during the measured window (0 = none), each refreshing every panel every refreshSeconds. */
  dashboards?: number;
  refreshSeconds: number;
  checks: z.infer<typeof ChecksConfigSchema>;
  /** Where to write the HTML report with its charts (none when undefined). */
  htmlPath?: string;
}

async function eventsTopicEnds(brokers: string[]): Promise<Record<number, number>> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(pipeline.kafka.topics.events.name);
    return Object.fromEntries(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** What the steps of one load test share: filled in as they run. */
interface LoadtestRun {
  ch: ReturnType<typeof clickhouseClient>;
  /** The dashboard panels run as the dashboard user, like any dashboard; the checks as the writer. */
  panels: ReturnType<typeof dashboardClient>;
  querySamples: Map<string, number[]>;
  queryErrors: number;
  firstQueryError?: string;
  dashboards?: ViewerFigures;
  userPrefix: string;
  initialMaxEventTime?: number;
  /** The job's newest progress row before the run: its batches come after (RunScope.afterBatchTime). */
  progressAfter: number;
  before: Record<number, number>;
  produced: ProduceResult;
  ranges: OffsetRanges;
  expected: ReturnType<typeof expectationFor>['expected'];
  modelMs: number;
  counts: RunCounts;
  drainS: number;
  /** Seconds of warm-up load produced (undefined: none). */
  warmupS?: number;
  sessionsSettleS: number;
  truthChecks: Check[];
  e2e: Quantiles;
  timeline: Timeline;
}

/**
 * Produces at the target rate, waits until ClickHouse holds every record of the run (valid ones in
 * events, broken ones in dead_letters), and measures latency. Knows nothing of the target. Its
 * phases are steps, run by the same runner as up, submit and down.
 */
export async function runLoadtest(endpoints: StackEndpoints, o: LoadtestOptions, status: Status, signal?: AbortSignal): Promise<LoadtestReport> {
  const ch = clickhouseClient(endpoints.clickhouse);
  const run = { ch, panels: dashboardClient(endpoints.clickhouse), querySamples: new Map<string, number[]>(), queryErrors: 0 } as LoadtestRun;
  const scale = o.eventTimeScale ?? 1;
  // Users of this run only (earlier runs' sessions and tiers stay out).
  run.userPrefix = `r${Date.now().toString(36)}-`;
  // The measured run's options, built once; the warm-up is the same load with overrides.
  const load: ProduceOptions = {
    brokers: endpoints.kafka.brokers,
    rate: o.rate,
    durationSeconds: o.durationSeconds,
    malformedFraction: o.malformedFraction,
    users: o.users,
    products: o.products,
    seed: o.seed,
    userPrefix: run.userPrefix,
    eventTimeScale: scale,
    signal,
  };
  // With a warm-up, the measured run's user dimension goes out with it, before its load: one record
  // per user at once (20,000 by default) is a burst far above the rate being measured, and the job's
  // batches that take it in would otherwise open the measured window (docs/benchmarks.md).
  const warmingUp = o.warmupSeconds > 0;
  const measuredUsers = warmingUp ? userDimensionOf(load) : undefined;
  const warmup: ProduceOptions = {
    ...load,
    durationSeconds: o.warmupMaxSeconds,
    seed: o.seed + 1,
    userPrefix: undefined,
    // Not compared: no record log, nothing that does not land in events or dead_letters; its users
    // (prefix u) get no dimension, the measured run's users get theirs.
    record: false,
    userDimension: measuredUsers,
    injection: { duplicateRate: 0, lateRate: 0 },
    // An accelerated clock ends where the measured run's begins.
    eventTimeStartMs: Date.now() - (o.warmupMaxSeconds + o.durationSeconds) * 1000 * scale,
  };
  const steps: Step[] = [
    ...(warmingUp ? [warmupStep(run, warmup, o)] : []),
    produceStep(run, { ...load, userDimension: measuredUsers, publishUsers: !warmingUp }, endpoints, o),
    groundTruthStep(run),
    drainStep(run, o),
    progressStep(run),
    sessionsStep(run),
    compareStep(run),
    latencyStep(run),
    timelineStep(run),
    ...(o.htmlPath ? [htmlStep(run, o, o.htmlPath)] : []),
  ];
  try {
    await runSteps(steps, { status, signal: signal ?? new AbortController().signal });
    return report(run, o);
  } finally {
    await ch.close();
    await run.panels.close();
  }
}

function recordQueries(run: LoadtestRun, samples: Array<{ name: string; ms: number }>): void {
  for (const s of samples) {
    const list = run.querySamples.get(s.name) ?? [];
    list.push(s.ms);
    run.querySamples.set(s.name, list);
  }
}

/**
 * Batches in a row that must each finish within the trigger interval for the job to count as
 * keeping up: 20 s of load. Three were not enough: a lukewarm job has such runs between slower
 * batches (docs/benchmarks.md).
 */
export const KEEPING_UP_BATCHES = 10;

/**
 * Whether the job keeps up with its input: its newest KEEPING_UP_BATCHES batches of the load
 * (newest first) each took at most one trigger interval, so none of them left a backlog.
 */
export function jobKeepsUp(newestBatchMs: number[], triggerMs = pipeline.spark.triggerIntervalSeconds * 1000): boolean {
  return newestBatchMs.length >= KEEPING_UP_BATCHES && newestBatchMs.slice(0, KEEPING_UP_BATCHES).every((ms) => ms <= triggerMs);
}

/**
 * A streaming job that has just started runs its first batches cold (JIT, code generation); a
 * long-running one does not. How long that lasts depends on the CPU (one to two minutes of load
 * at 10k/s on an Intel Xeon: docs/benchmarks.md), so the warm-up runs at least warmupSeconds and
 * then until the job keeps up, at most warmupMaxSeconds. Its load is produced and drained but not
 * measured.
 */
function warmupStep(run: LoadtestRun, warmup: ProduceOptions, o: LoadtestOptions): Step {
  const range = o.warmupMaxSeconds > o.warmupSeconds ? `${o.warmupSeconds}-${o.warmupMaxSeconds}s, until the job keeps up` : `${o.warmupSeconds}s`;
  return {
    name: `Warm up: ${o.rate.toLocaleString('en-US')} events/s for ${range} (not measured)`,
    async execute({ status, signal }) {
      const warmBefore = await eventsTopicEnds(warmup.brokers);
      const since = await latestBatchTime(run.ch);
      const enough = new AbortController();
      const producerSignal = AbortSignal.any([signal, enough.signal]);
      // Batches of the load: half a trigger interval's worth of it at least (not the idle ticker's one-record batches).
      const loadBatchRows = (o.rate * pipeline.spark.triggerIntervalSeconds) / 2;
      let newest: number[] = [];
      const producing = produceLoad({
        ...warmup,
        initialMaxEventTime: finite(await jobMaxEventTime(run.ch)),
        signal: producerSignal,
        onProgress: (p) => {
          const batches = newest.length > 0 ? `; newest batches ${newest.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}` : '';
          status.update(`${Math.round(p.elapsedS)} s${batches}`);
        },
      });
      const startedAt = Date.now();
      const watching = pollUntil(
        () => newestBatchDurations(run.ch, since, KEEPING_UP_BATCHES, loadBatchRows),
        (batches) => Date.now() - startedAt >= o.warmupSeconds * 1000 && jobKeepsUp(batches),
        o.warmupMaxSeconds * 1000,
        (batches) => (newest = batches),
        producerSignal,
      ).then((r) => {
        newest = r.value;
        enough.abort();
      }, () => undefined); // a read that failed at the end: the producer's own limit ends the warm-up
      let warm: ProduceResult;
      try {
        warm = await producing;
      } finally {
        enough.abort();
        await watching;
      }
      const warmS = Math.round((warm.endedAt - warm.startedAt) / 1000);
      run.warmupS = warmS;
      const warmRanges = offsetRanges(warmBefore, await eventsTopicEnds(warmup.brokers));
      const drained = await waitUntilAccounted(run.ch, warmRanges, () => warm.produced, o.drainTimeoutSeconds, status, signal);
      const kept = jobKeepsUp(newest);
      const how = kept || o.warmupMaxSeconds <= o.warmupSeconds ? `${warmS} s` : `${warmS} s, and the job did not keep up yet (newest batches ${newest.map((ms) => `${ms} ms`).join(', ')})`;
      const users = `the run's ${warm.usersPublished.toLocaleString('en-US')} users published first`;
      return { ok: drained.complete, note: drained.complete ? `${users}; pipeline warm after ${how}` : `${users}; the warm-up load did not drain in time (${how})` };
    },
  };
}

function produceStep(run: LoadtestRun, load: ProduceOptions, endpoints: StackEndpoints, o: LoadtestOptions): Step {
  return {
    name: `Produce ${load.rate.toLocaleString('en-US')} events/s for ${load.durationSeconds}s`,
    async execute({ status }) {
      run.before = await eventsTopicEnds(load.brokers);
      // What the job has seen so far (its watermark).
      run.initialMaxEventTime = finite(await jobMaxEventTime(run.ch));
      run.progressAfter = await latestBatchTime(run.ch);
      // Dashboards keep querying while data streams in: that is when their latency matters.
      // A failed round (a timeout on an overloaded machine) is counted and checked, not fatal: an
      // unawaited rejection here would end the whole load test.
      let producing = true;
      const dashboardLoop = (async () => {
        while (producing) {
          await timeDashboardQueries(run.panels).then(
            (samples) => recordQueries(run, samples),
            (err: unknown) => {
              run.queryErrors++;
              run.firstQueryError ??= (err as Error).message;
            },
          );
          await new Promise((r) => setTimeout(r, 1000));
        }
      })();
      const viewers = o.dashboards ? startViewers(endpoints.clickhouse, { viewers: o.dashboards, refreshSeconds: o.refreshSeconds }) : undefined;
      try {
        run.produced = await produceLoad({
          ...load,
          initialMaxEventTime: run.initialMaxEventTime,
          onProgress: (p) => status.update(`${p.sent.toLocaleString('en-US')} sent, ${Math.round(p.eps).toLocaleString('en-US')} events/s`),
        });
      } finally {
        producing = false;
        await dashboardLoop;
        run.dashboards = await viewers?.stop();
      }
      run.ranges = offsetRanges(run.before, await eventsTopicEnds(load.brokers));
      return `${run.produced.produced.toLocaleString('en-US')} records at ${Math.round(run.produced.achievedEps).toLocaleString('en-US')} events/s`;
    },
  };
}

function groundTruthStep(run: LoadtestRun): Step {
  return {
    name: 'Compute the ground truth',
    async execute() {
      const { expected, modelMs } = expectationFor(run.produced, { initialMaxEventTime: run.initialMaxEventTime });
      run.expected = expected;
      run.modelMs = modelMs;
      return `${expected.accepted.toLocaleString('en-US')} events, ${expected.duplicates.toLocaleString('en-US')} duplicates, ${expected.late.toLocaleString('en-US')} late (${Math.round(modelMs)} ms)`;
    },
  };
}

function drainStep(run: LoadtestRun, o: LoadtestOptions): Step {
  return {
    name: 'Wait until ClickHouse holds every record',
    async execute({ status, signal }) {
      // Every record lands once: first copies in events, broken ones in dead_letters, late ones in late_events; duplicates nowhere.
      const { counts, drainS, complete } = await waitUntilAccounted(
        run.ch,
        run.ranges,
        async () => run.produced.produced - run.expected.duplicates - (await lateRows(run.ch, run.ranges)),
        o.drainTimeoutSeconds,
        status,
        signal,
      );
      run.counts = counts;
      run.drainS = drainS;
      return { ok: complete, note: complete ? `all ${run.produced.produced.toLocaleString('en-US')} records accounted for` : `timed out after ${o.drainTimeoutSeconds}s` };
    },
  };
}

/**
 * The job writes a batch's progress row (its duplicate and late counts) after the batch's inserts,
 * so the drain can end before the last rows are there: wait until they count every record read.
 */
function progressStep(run: LoadtestRun): Step {
  return {
    name: "Wait for the job's progress rows",
    async execute({ status, signal }) {
      const read = run.produced.produced + run.produced.usersPublished;
      const settled = await pollUntil(
        () => progressInputRows(run.ch, run.progressAfter),
        (rows) => rows >= read,
        PROGRESS_WAIT_TRIGGERS * pipeline.spark.triggerIntervalSeconds * 1000,
        (rows) => status.update(`${rows.toLocaleString('en-US')} of ${read.toLocaleString('en-US')} records read`),
        signal,
      );
      return {
        ok: settled.done,
        note: `${settled.value.toLocaleString('en-US')} of ${read.toLocaleString('en-US')} records read by the run's batches after ${Math.round(settled.waitedS)} s`,
      };
    },
  };
}

/** Trigger intervals the progress rows may lag the inserts (a slow batch's state commit). */
const PROGRESS_WAIT_TRIGGERS = 30;

/**
 * Sessions the final watermark expired are closed by the job when it next looks at their user:
 * at once in a live stream, up to stateRevisitSeconds later when event time ran faster than the
 * clock (--event-time-scale). Give it that long before comparing.
 */
function sessionsStep(run: LoadtestRun): Step {
  return {
    name: 'Wait for the sessions the watermark closed',
    async execute({ status, signal }) {
      const wantClosed = run.expected.sessions.filter((x) => x.status === 'closed').length;
      const settled = await pollUntil(
        () => closedSessions(run.ch, run.userPrefix),
        (closed) => closed >= wantClosed,
        (pipeline.spark.stateRevisitSeconds + 3 * pipeline.spark.triggerIntervalSeconds) * 1000,
        (closed) => status.update(`${closed.toLocaleString('en-US')} of ${wantClosed.toLocaleString('en-US')} closed`),
        signal,
      );
      run.sessionsSettleS = Math.round(settled.waitedS * 10) / 10;
      return { ok: settled.done, note: `${settled.value.toLocaleString('en-US')} of ${wantClosed.toLocaleString('en-US')} closed after ${run.sessionsSettleS} s` };
    },
  };
}

function compareStep(run: LoadtestRun): Step {
  return {
    name: 'Compare ClickHouse with the ground truth',
    async execute() {
      run.truthChecks = await compareWithClickHouse(run.ch, { ranges: run.ranges, userPrefix: run.userPrefix, afterBatchTime: run.progressAfter }, run.expected);
      const failed = run.truthChecks.filter((c) => !c.passed).length;
      return { ok: failed === 0, note: `${run.truthChecks.length - failed} of ${run.truthChecks.length} ground-truth checks passed` };
    },
  };
}

function latencyStep(run: LoadtestRun): Step {
  return {
    name: 'Measure latency',
    async execute() {
      run.e2e = await e2eLatency(run.ch, run.ranges);
      for (let i = 0; i < 5; i++) recordQueries(run, await timeDashboardQueries(run.panels));
    },
  };
}

function timelineStep(run: LoadtestRun): Step {
  return {
    name: 'Collect the time series',
    async execute() {
      run.timeline = await collectTimeline(run.ch, {
        startedAt: run.produced.startedAt,
        sentPerSecond: run.produced.sentPerSecond,
        afterBatchTime: run.progressAfter,
        ranges: run.ranges,
      });
      return `${run.timeline.produced_per_s.length} s of production, ${run.timeline.batches.length} batches`;
    },
  };
}

function htmlStep(run: LoadtestRun, o: LoadtestOptions, file: string): Step {
  return {
    name: `Write the HTML report to ${file}`,
    async execute() {
      const { renderHtmlReport } = await import('./html-report.ts');
      const html = await renderHtmlReport(report(run, o), { e2eP95TargetMs: o.checks.e2eLatencyP95Ms, generatedAt: new Date() });
      try {
        await writeFile(file, html);
      } catch (err) {
        throw new SpeedlayerError(`cannot write ${file}: ${(err as Error).message}`, { fix: 'Pass --html a file in a folder that exists and that you can write to', cause: err });
      }
      return `${Math.round(Buffer.byteLength(html) / 1024).toLocaleString('en-US')} KiB`;
    },
  };
}

function report(run: LoadtestRun, o: LoadtestOptions): LoadtestReport {
  const { produced, expected, counts } = run;
  const malformedInjected = produced.produced - produced.valid;
  const allQuerySamples = [...run.querySamples.values()].flat();
  const r: LoadtestReport = {
    target_eps: o.rate,
    achieved_eps: Math.round(produced.achievedEps),
    duration_s: Math.round(((produced.endedAt - produced.startedAt) / 1000) * 10) / 10,
    produced: produced.produced,
    valid_produced: produced.valid,
    malformed_injected: malformedInjected,
    accepted: counts.distinctAccepted,
    dead_lettered: counts.deadLettered,
    missing: Math.max(0, expected.accepted - counts.distinctAccepted),
    duplicated: counts.accepted - counts.distinctAccepted,
    drain_s: Math.round(run.drainS * 10) / 10,
    sessions_settle_s: run.sessionsSettleS,
    warmup_s: run.warmupS ?? 0,
    user_prefix: run.userPrefix,
    injected: produced.injected,
    ground_truth: groundTruthSummary(expected, run.modelMs),
    e2e_latency_ms: run.e2e,
    query_latency_ms: quantiles(allQuerySamples),
    query_latency_by_query_ms: Object.fromEntries([...run.querySamples.entries()].map(([k, v]) => [k, quantiles(v)])),
    query_errors: run.queryErrors,
    ...(run.firstQueryError ? { first_query_error: run.firstQueryError } : {}),
    ...(run.dashboards ? { dashboards: run.dashboards } : {}),
    timeline: run.timeline,
    checks: [],
    passed: false,
  };
  r.checks = [
    atLeast('achieved events/s', r.achieved_eps, o.rate * o.checks.minRateFraction),
    equals('missing valid events', r.missing, 0),
    equals('duplicated events', r.duplicated, 0),
    equals('dead-lettered = malformed injected', r.dead_lettered, malformedInjected),
    atMost('end-to-end latency p95', r.e2e_latency_ms.p95, o.checks.e2eLatencyP95Ms, ' ms'),
    below('dashboard query p95', r.query_latency_ms.p95, o.checks.queryLatencyP95Ms, ' ms'),
    equals('dashboard query rounds failed', r.query_errors, 0),
    ...(r.dashboards ? [equals('dashboard viewer query errors', r.dashboards.errors, 0)] : []),
    ...run.truthChecks,
  ];
  r.passed = r.checks.every((c) => c.passed);
  return r;
}

const finite = (x: number): number | undefined => (Number.isFinite(x) ? x : undefined);

/**
 * Reads `read()`, then again once a second, until `done` holds for what it read, `timeoutMs` passed
 * or `signal` aborted; `onWait` sees each value that was not done yet.
 */
async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  onWait: (value: T) => void,
  signal?: AbortSignal,
): Promise<{ value: T; done: boolean; waitedS: number }> {
  const started = Date.now();
  // A read that fails (ClickHouse restarting) is read again, until the timeout.
  const attempt = () => read().then((v) => ({ v }), (error: unknown) => ({ error }));
  let r = await attempt();
  while (('error' in r || !done(r.v)) && Date.now() - started < timeoutMs && !signal?.aborted) {
    if (!('error' in r)) onWait(r.v);
    await new Promise((res) => setTimeout(res, 1000));
    r = await attempt();
  }
  if ('error' in r) throw r.error;
  return { value: r.v, done: done(r.v), waitedS: (Date.now() - started) / 1000 };
}

/**
 * Polls ClickHouse until events (distinct) + dead_letters of the offset ranges reach `target()`
 * (re-read each poll: the records that land elsewhere are subtracted there), or the timeout passes.
 */
async function waitUntilAccounted(
  ch: ReturnType<typeof clickhouseClient>,
  ranges: OffsetRanges,
  target: () => number | Promise<number>,
  timeoutSeconds: number,
  status: Status,
  signal?: AbortSignal,
): Promise<{ counts: RunCounts; drainS: number; complete: boolean }> {
  const landed = (c: RunCounts) => c.distinctAccepted + c.deadLettered;
  const r = await pollUntil(
    async () => ({ counts: await runCounts(ch, ranges), want: await target() }),
    (v) => landed(v.counts) >= v.want,
    timeoutSeconds * 1000,
    (v) => status.update(`${landed(v.counts).toLocaleString('en-US')} of ${v.want.toLocaleString('en-US')}`),
    signal,
  );
  return { counts: r.value.counts, drainS: r.waitedS, complete: r.done };
}
