import type { Status } from '../base/status.ts';
import { clickhouseClient } from '../clients/clickhouse.ts';
import { kafkaClient } from '../clients/kafka.ts';
import type { ChecksConfigSchema } from '../config/schema.ts';
import { pipeline } from '../contract/index.ts';
import { produceLoad, type ProduceResult } from '../loadgen/producer.ts';
import type { StackEndpoints } from '../base/stack.ts';
import { atLeast, atMost, below, equals, type Check } from './checks.ts';
import { closedSessions, compareWithClickHouse, expectationFor, groundTruthSummary, jobMaxEventTime, lateRows } from './ground-truth-checks.ts';
import { e2eLatency, runCounts, timeDashboardQueries, type RunCounts } from './pipeline-figures.ts';
import { offsetRanges, type OffsetRanges } from './run-window.ts';
import { quantiles, type Quantiles } from './stats.ts';
import type { z } from 'zod';

export interface LoadtestOptions {
  rate: number;
  durationSeconds: number;
  malformedFraction: number;
  users: number;
  products: number;
  drainTimeoutSeconds: number;
  /** Seconds of load produced and drained before the measured run (JIT, codegen, caches); 0 = none. */
  warmupSeconds: number;
  seed: number;
  /** Event time runs this many times faster than wall time (default 1; 20 lets 30-min idle gaps and session timeouts happen in a 120 s run). */
  eventTimeScale?: number;
  checks: z.infer<typeof ChecksConfigSchema>;
}

export interface LoadtestReport {
  target_eps: number;
  achieved_eps: number;
  duration_s: number;
  produced: number;
  valid_produced: number;
  malformed_injected: number;
  accepted: number;
  dead_lettered: number;
  missing: number;
  duplicated: number;
  drain_s: number;
  /** Seconds waited after the drain for the job to close the sessions the final watermark expired. */
  sessions_settle_s: number;
  warmup_s: number;
  /** The run's user-id prefix, what the generator injected, and what the ground-truth model expects. */
  user_prefix: string;
  injected: ProduceResult['injected'];
  ground_truth: ReturnType<typeof groundTruthSummary>;
  e2e_latency_ms: Quantiles;
  query_latency_ms: Quantiles;
  query_latency_by_query_ms: Record<string, Quantiles>;
  checks: Check[];
  passed: boolean;
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

/**
 * Produces at the target rate, waits until ClickHouse holds every record of the run (valid ones in
 * events, broken ones in dead_letters), and measures latency. Knows nothing of the target.
 */
export async function runLoadtest(endpoints: StackEndpoints, o: LoadtestOptions, status: Status, signal?: AbortSignal): Promise<LoadtestReport> {
  const ch = clickhouseClient(endpoints.clickhouse);
  const querySamples = new Map<string, number[]>();
  const recordQueries = (samples: Array<{ name: string; ms: number }>) => {
    for (const s of samples) {
      const list = querySamples.get(s.name) ?? [];
      list.push(s.ms);
      querySamples.set(s.name, list);
    }
  };
  const scale = o.eventTimeScale ?? 1;
  try {
    if (o.warmupSeconds > 0) {
      // A streaming job that has just started runs its first batches cold (JIT, code generation);
      // a long-running one does not. The warm-up load is produced and drained but not measured.
      status.start(`Warm up: ${o.rate.toLocaleString('en-US')} events/s for ${o.warmupSeconds}s (not measured)`);
      const warmBefore = await eventsTopicEnds(endpoints.kafka.brokers);
      const warm = await produceLoad({
        brokers: endpoints.kafka.brokers,
        rate: o.rate,
        durationSeconds: o.warmupSeconds,
        malformedFraction: o.malformedFraction,
        users: o.users,
        products: o.products,
        seed: o.seed + 1,
        initialMaxEventTime: finite(await jobMaxEventTime(ch)),
        // Not compared: no record log, no dimension, nothing that does not land in events or dead_letters.
        record: false,
        publishUsers: false,
        injection: { duplicateRate: 0, lateRate: 0 },
        // An accelerated clock ends where the measured run's begins.
        eventTimeScale: scale,
        eventTimeStartMs: Date.now() - (o.warmupSeconds + o.durationSeconds) * 1000 * scale,
        signal,
      });
      const warmRanges = offsetRanges(warmBefore, await eventsTopicEnds(endpoints.kafka.brokers));
      const drained = await waitUntilAccounted(ch, warmRanges, () => warm.produced, o.drainTimeoutSeconds, status, signal);
      status.end(drained.complete, drained.complete ? 'pipeline warm' : 'the warm-up load did not drain in time');
    }

    const before = await eventsTopicEnds(endpoints.kafka.brokers);
    // Users of this run only (earlier runs' sessions and tiers stay out), and what the job has seen so far (its watermark).
    const userPrefix = `r${Date.now().toString(36)}-`;
    const initialMaxEventTime = finite(await jobMaxEventTime(ch));

    status.start(`Produce ${o.rate.toLocaleString('en-US')} events/s for ${o.durationSeconds}s`);
    // Dashboards keep querying while data streams in: that is when their latency matters.
    let producing = true;
    const dashboardLoop = (async () => {
      while (producing) {
        recordQueries(await timeDashboardQueries(ch));
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    let produced: ProduceResult;
    try {
      produced = await produceLoad({
        brokers: endpoints.kafka.brokers,
        rate: o.rate,
        durationSeconds: o.durationSeconds,
        malformedFraction: o.malformedFraction,
        users: o.users,
        products: o.products,
        seed: o.seed,
        userPrefix,
        initialMaxEventTime,
        eventTimeScale: scale,
        signal,
        onProgress: (p) => status.update(`${p.sent.toLocaleString('en-US')} sent, ${Math.round(p.eps).toLocaleString('en-US')} events/s`),
      });
    } finally {
      producing = false;
      await dashboardLoop;
    }
    status.end(true, `${produced.produced.toLocaleString('en-US')} records at ${Math.round(produced.achievedEps).toLocaleString('en-US')} events/s`);

    const ranges: OffsetRanges = offsetRanges(before, await eventsTopicEnds(endpoints.kafka.brokers));
    const malformedInjected = produced.produced - produced.valid;

    status.start('Compute the ground truth');
    const { expected, modelMs } = expectationFor(produced, { initialMaxEventTime });
    status.end(true, `${expected.accepted.toLocaleString('en-US')} events, ${expected.duplicates.toLocaleString('en-US')} duplicates, ${expected.late.toLocaleString('en-US')} late (${Math.round(modelMs)} ms)`);

    status.start('Wait until ClickHouse holds every record');
    // Every record lands once: first copies in events, broken ones in dead_letters, late ones in late_events; duplicates nowhere.
    const { counts, drainS, complete } = await waitUntilAccounted(
      ch,
      ranges,
      async () => produced.produced - expected.duplicates - (await lateRows(ch, ranges)),
      o.drainTimeoutSeconds,
      status,
      signal,
    );
    status.end(complete, complete ? `all ${produced.produced.toLocaleString('en-US')} records accounted for` : `timed out after ${o.drainTimeoutSeconds}s`);

    // Sessions the final watermark expired are closed by the job when it next looks at their user:
    // at once in a live stream, up to stateRevisitSeconds later when event time ran faster than the
    // clock (--event-time-scale). Give it that long before comparing.
    const wantClosed = expected.sessions.filter((x) => x.status === 'closed').length;
    status.start('Wait for the sessions the watermark closed');
    const settled = await pollUntil(
      () => closedSessions(ch, userPrefix),
      (closed) => closed >= wantClosed,
      (pipeline.spark.stateRevisitSeconds + 3 * pipeline.spark.triggerIntervalSeconds) * 1000,
      (closed) => status.update(`${closed.toLocaleString('en-US')} of ${wantClosed.toLocaleString('en-US')} closed`),
      signal,
    );
    const sessionsSettleS = Math.round(settled.waitedS * 10) / 10;
    status.end(settled.done, `${settled.value.toLocaleString('en-US')} of ${wantClosed.toLocaleString('en-US')} closed after ${sessionsSettleS} s`);

    status.start('Compare ClickHouse with the ground truth');
    const truthChecks = await compareWithClickHouse(ch, { ranges, userPrefix, since: produced.startedAt }, expected);
    const truthFailed = truthChecks.filter((c) => !c.passed).length;
    status.end(truthFailed === 0, `${truthChecks.length - truthFailed} of ${truthChecks.length} ground-truth checks passed`);

    status.start('Measure latency');
    const e2e = await e2eLatency(ch, ranges);
    for (let i = 0; i < 5; i++) recordQueries(await timeDashboardQueries(ch));
    status.end(true);

    const allQuerySamples = [...querySamples.values()].flat();
    const report: LoadtestReport = {
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
      drain_s: Math.round(drainS * 10) / 10,
      sessions_settle_s: sessionsSettleS,
      warmup_s: o.warmupSeconds,
      user_prefix: userPrefix,
      injected: produced.injected,
      ground_truth: groundTruthSummary(expected, modelMs),
      e2e_latency_ms: e2e,
      query_latency_ms: quantiles(allQuerySamples),
      query_latency_by_query_ms: Object.fromEntries([...querySamples.entries()].map(([k, v]) => [k, quantiles(v)])),
      checks: [],
      passed: false,
    };
    report.checks = [
      atLeast('achieved events/s', report.achieved_eps, o.rate * o.checks.minRateFraction),
      equals('missing valid events', report.missing, 0),
      equals('duplicated events', report.duplicated, 0),
      equals('dead-lettered = malformed injected', report.dead_lettered, malformedInjected),
      atMost('end-to-end latency p95', report.e2e_latency_ms.p95, o.checks.e2eLatencyP95Ms, ' ms'),
      below('dashboard query p95', report.query_latency_ms.p95, o.checks.queryLatencyP95Ms, ' ms'),
      ...truthChecks,
    ];
    report.passed = report.checks.every((c) => c.passed);
    return report;
  } finally {
    await ch.close();
  }
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
  let value = await read();
  while (!done(value) && Date.now() - started < timeoutMs && !signal?.aborted) {
    onWait(value);
    await new Promise((r) => setTimeout(r, 1000));
    value = await read();
  }
  return { value, done: done(value), waitedS: (Date.now() - started) / 1000 };
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
