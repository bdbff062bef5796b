/**
 * The benchmark suite (`npm run bench`, `npm run bench -- --json`): every figure beside a
 * reference measured in the same run, on fresh local stacks (free ports, temporary homes):
 *
 *  1. producer: the load generator vs Kafka's own ProducerPerformance (same broker jars' version),
 *     on a topic of their own with the events topic's partitions, acks=all, no compression;
 *  2. the job: idle CPU for --idle s, then the throughput curve (loadtest at 10k, 20k, ... events/s
 *     for --duration s each, until a step falls behind), 10k events/s again while another process
 *     keeps one core busy (issue 9's goal: e2e p95 ≤ 5 s then), dashboard queries idle and under ingest;
 *  3. pass-through: the job's Kafka source and ClickHouse sink with nothing in between
 *     (spark/src/test/.../bench/PassThroughJob.scala, not shipped) at 10k events/s;
 *  4. baseline: the whole CLI and job of commit 20a119b (a git worktree) at 10k events/s
 *     (--no-baseline skips it, for quick runs).
 *
 * CPU and RSS per component come from /proc (proc-usage.ts). Results go to docs/benchmarks.md
 * (between the suite markers) with SVG charts rendered by Vega-Lite (charts.ts), unless --no-docs.
 * --smoke: seconds-long steps, for CI: it checks that every field is produced, never a timing.
 */
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { kafkaClient } from '../src/clients/kafka.ts';
import { LOADTEST_DEFAULTS } from '../src/config/loadtest-defaults.ts';
import { pipeline, PROJECT_ROOT } from '../src/contract/index.ts';
import { EventGenerator } from '../src/loadgen/events.ts';
import { produceLoad } from '../src/loadgen/producer.ts';
import type { LoadtestReport } from '../src/loadtest/loadtest.ts';
import { timeDashboardQueries } from '../src/loadtest/pipeline-figures.ts';
import { quantiles, type Quantiles } from '../src/loadtest/stats.ts';
import { ensureKafkaJars, KAFKA_VERSION } from '../src/targets/local/kafka/runtime.ts';
import { localPaths } from '../src/targets/local/paths.ts';
import { readStackState } from '../src/targets/local/stack-state.ts';
import { supervisorPlanFile } from '../src/targets/local/components/spark-job.ts';
import type { SupervisorPlan } from '../src/targets/local/job-supervisor-main.ts';
import { ManagedProcess } from '../src/targets/local/supervisor.ts';
import { BASELINE_COMMIT } from './baseline.ts';
import { batchFigures, PROGRESS_LINE } from './batch-figures.ts';
import { renderCharts } from './charts.ts';
import { cliSandbox, type CliSandbox } from '../test/support/cli-sandbox.ts';
import { componentGroups, UsageSampler, type Component } from './proc-usage.ts';

const BEGIN = '<!-- suite:begin (written by bench/suite.ts) -->';
const END = '<!-- suite:end -->';
/** A step sustains its rate when it achieves this share of it, drains, passes every check and keeps e2e p95 within the target. */
const SUSTAINED_SHARE = 0.97;
const E2E_P95_TARGET_MS = 5000;

type Usage = ReturnType<UsageSampler['window']>;

export interface CurveStep {
  target_eps: number;
  achieved_eps: number;
  passed: boolean;
  sustained: boolean;
  e2e_latency_ms: Quantiles;
  /** The dashboard queries the loadtest ran while producing. */
  query_latency_ms: Quantiles;
  batch_ms: { p50: number; p95: number };
  input_rows: number;
  job_cpu_s_per_million_events: number | null;
  cpu_cores: Record<Component | 'total', number>;
  peak_rss_mib: Record<Component | 'total', number>;
  failed_checks: string[];
}

export interface SuiteResult {
  max_sustained_eps: number;
  e2e_latency_ms_at_10k: Quantiles;
  batch_ms_at_10k: { p50: number; p95: number };
  /** The 10k events/s step again, while a process of the bench's own spins on one core. */
  e2e_latency_ms_at_10k_one_core_busy: Quantiles;
  job_cpu_s_per_million_events: number | null;
  job_cpu_s_per_million_events_baseline: number | null;
  job_cpu_s_per_million_events_passthrough: number | null;
  idle_cpu_cores: { job: number; kafka: number; clickhouse: number; total: number };
  /** The same for the job of the baseline commit, on its own stack. */
  idle_cpu_cores_baseline?: { job: number; kafka: number; clickhouse: number; total: number };
  rss_total_mib_at_10k: number;
  producer_eps: number;
  producer_reference_eps: number;
  producer_record_bytes: number;
  pipeline_vs_passthrough: number | null;
  query_latency_ms_idle: Quantiles;
  query_latency_ms_under_load: Quantiles;
  machine: { cores: number; cpu: string; load_before: number; load_after?: number; memory_gib: number };
  settings: { step_seconds: number; warmup_seconds: number; idle_seconds: number; rates: number[]; smoke: boolean; baseline: boolean };
  curve: CurveStep[];
  one_core_busy: CurveStep;
  baseline?: CurveStep;
  passthrough?: { target_eps: number; produced: number; rows_in_clickhouse: number; job_cpu_s_per_million_events: number | null; cpu_cores: Record<Component | 'total', number> };
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

function cpuModel(): string {
  const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
}

/** The job's log since `offset`: its SPEEDLAYER_PROGRESS lines say which batches read input, when, and how long they took. */
async function jobLog(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '');
}

interface InputWindow {
  from: number;
  to: number;
  rows: number;
}

/** The span from the first to the end of the last batch that read input, started within [fromMs, toMs]. */
function inputWindow(log: string, fromMs: number, toMs: number): InputWindow | undefined {
  const batches = [...log.matchAll(PROGRESS_LINE)]
    .map((m) => JSON.parse(m[1]!) as { numInputRows: number; batchDurationMs: number; timestamp: string })
    .filter((b) => b.numInputRows > 0 && Date.parse(b.timestamp) >= fromMs && Date.parse(b.timestamp) <= toMs);
  if (batches.length === 0) return undefined;
  const last = batches[batches.length - 1]!;
  return {
    from: Date.parse(batches[0]!.timestamp),
    to: Date.parse(last.timestamp) + last.batchDurationMs,
    rows: batches.reduce((a, b) => a + b.numInputRows, 0),
  };
}

const perMillion = (cpuS: number, rows: number) => (rows > 0 ? round((cpuS / rows) * 1e6, 2) : null);
const cores = (u: Usage) => Object.fromEntries(Object.entries(u).map(([k, v]) => [k, round(v.cores, 3)])) as Record<Component | 'total', number>;
const rss = (u: Usage) => Object.fromEntries(Object.entries(u).map(([k, v]) => [k, Math.round(v.peakRssMiB)])) as Record<Component | 'total', number>;

/** Ports of the monitoring components, which the baseline's strict config schema does not know. */
const PORTS_AFTER_BASELINE = /^\s+(jobMetrics|exporter|prometheus|alertmanager):/;

/** Runs the CLI of another checkout (the baseline worktree) against a sandbox's home and config. */
function cliOf(root: string, sb: CliSandbox) {
  const config = readFileSync(sb.configFile, 'utf8');
  writeFileSync(sb.configFile, config.split('\n').filter((line) => !PORTS_AFTER_BASELINE.test(line)).join('\n'));
  return (args: string[], opts: { reject?: boolean; timeoutMs?: number } = {}) =>
    execa('node', [path.join(root, 'bin', 'speedlayer.js'), '--config', sb.configFile, '--target', 'local', ...args], {
      env: { ...process.env, SPEEDLAYER_HOME: sb.home, SPEEDLAYER_CACHE: process.env.SPEEDLAYER_CACHE ?? path.join(PROJECT_ROOT, '.speedlayer', 'cache'), FORCE_COLOR: '0' },
      reject: opts.reject ?? true,
      timeout: opts.timeoutMs ?? 1_800_000,
      stdin: 'ignore',
    });
}

/**
 * One loadtest on a running stack, with the job's CPU per event over the batches that read its
 * input (warm-up included: it is load too), CPU and peak RSS of each component over that span.
 */
async function loadStep(
  run: (args: string[], opts?: { reject?: boolean; timeoutMs?: number }) => Promise<{ stdout: string; stderr: string }>,
  sampler: UsageSampler,
  jobLogFile: string,
  rate: number,
  duration: number,
  warmup: number,
): Promise<CurveStep> {
  const t0 = Date.now();
  // No time limit of its own: the loadtest bounds its waits (drain timeout); a busy machine makes it long.
  const lt = await run(['--json', 'loadtest', '--rate', String(rate), '--duration', String(duration), '--warmup', String(warmup)], { reject: false, timeoutMs: 3_600_000 });
  if (!lt.stdout.trim().startsWith('{')) throw new Error(`loadtest printed no report:\n${lt.stderr.slice(-3000)}`);
  const t1 = Date.now();
  await sampler.sample();
  const report = JSON.parse(lt.stdout) as LoadtestReport;
  const log = await jobLog(jobLogFile);
  // The batches that read the run's input; on a machine too busy for any of them to finish within
  // the loadtest, the whole loadtest and the records that landed.
  const win = inputWindow(log, t0, t1) ?? { from: t0, to: t1, rows: report.accepted + report.dead_lettered };
  const usage = sampler.window(win.from - 1000, win.to + 1000);
  const batches = batchFigures(log, t0 + report.warmup_s * 1000, t1).figures['batch duration']!;
  const e2e = report.e2e_latency_ms;
  const sustained =
    report.achieved_eps >= SUSTAINED_SHARE * rate && report.missing === 0 && report.passed && e2e.p95 !== null && e2e.p95 <= E2E_P95_TARGET_MS;
  return {
    target_eps: rate,
    achieved_eps: report.achieved_eps,
    passed: report.passed,
    sustained,
    e2e_latency_ms: e2e,
    query_latency_ms: report.query_latency_ms,
    batch_ms: { p50: batches.p50, p95: batches.p95 },
    input_rows: win.rows,
    job_cpu_s_per_million_events: perMillion(usage.job.cpuS, win.rows),
    cpu_cores: cores(usage),
    peak_rss_mib: rss(usage),
    failed_checks: report.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.actual} (target ${c.target})`),
  };
}

/**
 * A process that keeps one core busy for `seconds` at most (it ends itself; stop() ends it sooner),
 * standing for whatever else a developer's machine runs beside the stack.
 */
function spinOneCore(seconds: number): { stop(): void } {
  const spinner = execa(process.execPath, ['-e', `const end = Date.now() + ${Math.ceil(seconds * 1000)}; while (Date.now() < end);`], { stdin: 'ignore', reject: false });
  return { stop: () => void spinner.kill() };
}

/** The stacks up now: stopped on SIGINT / SIGTERM too (e.g. a test runner's timeout), not only at the end. */
const teardowns = new Set<() => Promise<void>>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the benchmark's stacks`);
    void Promise.allSettled([...teardowns].map((t) => t())).then(() => process.exit(1));
  });
}

async function withStack<T>(name: string, fn: (sb: CliSandbox) => Promise<T>, runner?: (sb: CliSandbox) => ReturnType<typeof cliOf>): Promise<T> {
  const sb = await cliSandbox();
  const run = runner ? runner(sb) : (args: string[], opts?: { reject?: boolean }) => sb.run(args, opts);
  const teardown = async () => {
    await new ManagedProcess('bench-passthrough', localPaths(sb.home).sparkDir).stop();
    await run(['down', '--purge', '--yes'], { reject: false });
    await rm(sb.home, { recursive: true, force: true });
  };
  teardowns.add(teardown);
  log(`${name}: up (home ${sb.home})`);
  try {
    await run(['up']);
    return await fn(sb);
  } finally {
    await teardown();
    teardowns.delete(teardown);
  }
}

/** Mean size in bytes of the records the load generator sends (1% malformed included), for the reference producer. */
function meanRecordBytes(): number {
  const g = new EventGenerator({ seed: 7, users: 20000, products: 2000, injection: { malformedFraction: 0.01 } });
  let bytes = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const r = g.nextRecord();
    bytes += r.kind === 'malformed' ? r.value.length : Buffer.byteLength(JSON.stringify(r.event));
  }
  return Math.round(bytes / n);
}

/** kafka-tools (ProducerPerformance) of the broker's version, resolved from Maven Central into the cache once. */
async function ensureKafkaTools(cacheDir: string): Promise<string> {
  const dir = path.join(cacheDir, `kafka-tools-${KAFKA_VERSION}`);
  const libs = path.join(dir, 'libs');
  if (existsSync(path.join(dir, '.complete'))) return libs;
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>dev.speedlayer</groupId><artifactId>kafka-tools-runtime</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies><dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${KAFKA_VERSION}</version></dependency></dependencies>
</project>
`,
  );
  await execa('mvn', ['-q', '-B', '-f', path.join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`, '-DincludeScope=runtime']);
  await writeFile(path.join(dir, '.complete'), new Date().toISOString());
  return libs;
}

/** The load generator's and Kafka's own producer's events/s into the stack's broker, on two fresh topics. */
async function measureProducers(sb: CliSandbox, seconds: number, referenceRecords: number): Promise<{ eps: number; referenceEps: number; recordBytes: number }> {
  const brokers = [`127.0.0.1:${sb.ports.kafka}`];
  const partitions = pipeline.kafka.topics.events.partitions;
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  const topics = ['bench.loadgen', 'bench.reference'];
  try {
    await admin.createTopics({ waitForLeaders: false, topics: topics.map((topic) => ({ topic, numPartitions: partitions })) });
    // Until every partition has a leader (kafkajs' own wait gives up after a few retries on a busy machine).
    for (const deadline = Date.now() + 120_000; ; await sleep(500)) {
      const meta = await admin.fetchTopicMetadata({ topics }).catch(() => undefined);
      if (meta?.topics.every((t) => t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0))) break;
      if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} got no leaders within 120 s`);
    }
  } finally {
    await admin.disconnect();
  }

  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), seconds * 1000);
  // As fast as it goes: the schedule is far beyond what one process sends; the run is cut after `seconds`.
  const ours = await produceLoad({ brokers, topic: 'bench.loadgen', rate: 1_000_000, durationSeconds: seconds * 2, malformedFraction: 0.01, users: 20000, products: 2000, seed: 11, record: false, publishUsers: false, signal: stop.signal });
  clearTimeout(timer);

  const recordBytes = meanRecordBytes();
  const cache = localPaths(sb.home).cacheDir;
  const kafkaLibs = await ensureKafkaJars(cache, log);
  const toolLibs = await ensureKafkaTools(cache);
  const perf = await execa('java', [
    '-Xmx512m',
    '-cp', `${kafkaLibs}/*${path.delimiter}${toolLibs}/*`,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic', 'bench.reference',
    '--num-records', String(referenceRecords),
    '--record-size', String(recordBytes),
    '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${brokers[0]}`, 'acks=all', 'compression.type=none',
  ]);
  const m = [...perf.stdout.matchAll(/(\d+) records sent, ([\d.]+) records\/sec/g)].pop();
  if (!m) throw new Error(`ProducerPerformance printed no summary:\n${perf.stdout.slice(-2000)}`);
  return { eps: Math.round(ours.achievedEps), referenceEps: Math.round(Number(m[2])), recordBytes };
}

/** The pass-through job on a fresh stack at `rate` for `duration` s: its CPU per event. */
async function measurePassthrough(sb: CliSandbox, rate: number, duration: number, warmup: number): Promise<NonNullable<SuiteResult['passthrough']>> {
  await sb.run(['submit']); // the job's own launch: its command line is the pass-through's, with another main class
  const paths = localPaths(sb.home);
  const job = new ManagedProcess('spark-job', paths.sparkDir);
  const jobPlan = JSON.parse(await readFile(supervisorPlanFile(paths.sparkDir), 'utf8')) as SupervisorPlan;
  const ports = (await job.record())!.ports;
  await job.stop();
  const state = (await readStackState(paths.stackFile))!;
  const ch = await sb.clickhouse();
  await ch.command({ query: `CREATE TABLE IF NOT EXISTS bench_passthrough (kafka_partition Int32, kafka_offset Int64, payload String) ENGINE = MergeTree ORDER BY (kafka_partition, kafka_offset)` });
  const args = jobPlan.args.map((a) => (a === pipeline.spark.mainClass ? 'dev.speedlayer.bench.PassThroughJob' : a));
  const checkpoint = args.indexOf('--checkpoint-dir');
  args[checkpoint + 1] = path.join(paths.sparkDir, 'passthrough-checkpoint');
  // The pass-through is not shipped with the job: it is compiled with the Scala tests, which the
  // CLI's own build (package -DskipTests) leaves out.
  const testClasses = path.join(PROJECT_ROOT, 'spark', 'target', 'test-classes');
  if (!existsSync(path.join(testClasses, 'dev', 'speedlayer', 'bench'))) {
    log('pass-through: compiling the Scala test sources (mvn test-compile)');
    await execa('mvn', ['-q', '-B', '-f', path.join(PROJECT_ROOT, 'spark', 'pom.xml'), 'test-compile']);
  }
  const classpath = args.indexOf('-cp');
  args[classpath + 1] = [args[classpath + 1], testClasses].join(path.delimiter);
  const pt = new ManagedProcess('bench-passthrough', paths.sparkDir);
  await pt.start({ command: jobPlan.command, args, env: { ...process.env, CLICKHOUSE_PASSWORD: state.clickhouse.password }, ports });
  try {
    const deadline = Date.now() + 180_000;
    while (!(await pt.logFrom(0)).includes(pipeline.jobProtocol.progress)) {
      if (Date.now() > deadline || !(await pt.running())) throw new Error(`pass-through job did not start:\n${await pt.logTail()}`);
      await sleep(500);
    }
    const groups = await componentGroups(paths.stateDir, { dir: 'spark', name: 'bench-passthrough' });
    const sampler = new UsageSampler(groups);
    sampler.start();
    const brokers = [`127.0.0.1:${sb.ports.kafka}`];
    const t0 = Date.now();
    let produced = 0; // events and user-dimension records: the pass-through copies both topics
    for (const [seconds, seed] of [[warmup, 21], [duration, 22]] as const) {
      if (seconds <= 0) continue;
      const r = await produceLoad({ brokers, rate, durationSeconds: seconds, malformedFraction: 0.01, users: 20000, products: 2000, seed, record: false });
      produced += r.produced + r.usersPublished;
    }
    let rows = 0;
    const drainDeadline = Date.now() + 120_000;
    while (Date.now() < drainDeadline) {
      const r = await ch.query({ query: 'SELECT count() AS n FROM bench_passthrough', format: 'JSONEachRow' });
      rows = Number(((await r.json()) as Array<{ n: string }>)[0]?.n ?? 0);
      if (rows >= produced) break;
      await sleep(1000);
    }
    const t1 = Date.now();
    await sampler.sample();
    sampler.stop();
    const win = inputWindow(await pt.logFrom(0), t0, t1);
    const usage = win ? sampler.window(win.from - 1000, win.to + 1000) : sampler.window(t0, t1);
    return { target_eps: rate, produced, rows_in_clickhouse: rows, job_cpu_s_per_million_events: win ? perMillion(usage.job.cpuS, win.rows) : null, cpu_cores: cores(usage) };
  } finally {
    await pt.stop();
    await ch.close();
  }
}

/**
 * CPU cores of each component over `seconds` with no events, once the job is past its start: its
 * first batch done, then the batches a start makes for due timeouts (stateRevisitSeconds + 5
 * triggers: IdleTicker) over. The same wait for every job measured.
 */
async function measureIdle(sampler: UsageSampler, jobLogFile: string, seconds: number): Promise<SuiteResult['idle_cpu_cores']> {
  for (const deadline = Date.now() + 600_000; !(await jobLog(jobLogFile)).includes(pipeline.jobProtocol.progress); await sleep(1000)) {
    if (Date.now() > deadline) throw new Error('the job ran no batch within 10 minutes of its start');
  }
  await sleep((pipeline.spark.stateRevisitSeconds + 5 * pipeline.spark.triggerIntervalSeconds + 5) * 1000);
  const from = Date.now();
  await sleep(seconds * 1000);
  await sampler.sample();
  const idle = sampler.window(from, Date.now());
  return { job: round(idle.job.cores, 3), kafka: round(idle.kafka.cores, 3), clickhouse: round(idle.clickhouse.cores, 3), total: round(idle.total.cores, 3) };
}

/** A worktree of the baseline commit next to the system's temp files, sharing this checkout's node_modules. */
async function baselineCheckout(): Promise<string> {
  const dir = path.join(os.tmpdir(), `speedlayer-bench-baseline-${BASELINE_COMMIT}`);
  if (!existsSync(path.join(dir, 'bin', 'speedlayer.js'))) {
    await execa('git', ['-C', PROJECT_ROOT, 'worktree', 'prune']);
    await rm(dir, { recursive: true, force: true });
    await execa('git', ['-C', PROJECT_ROOT, 'worktree', 'add', '--detach', dir, BASELINE_COMMIT]).catch((err: unknown) => {
      throw new Error(`git worktree add of ${BASELINE_COMMIT} failed (a shallow clone lacks it: git fetch --unshallow, or pass --no-baseline): ${String(err)}`);
    });
  }
  if (!existsSync(path.join(dir, 'node_modules'))) await symlink(path.join(PROJECT_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

type SuiteOptions = { smoke: boolean; baseline: boolean; idleOnly: boolean; duration: number; warmup: number; idle: number; rates: number[]; producerSeconds: number };

/** The whole suite; the baseline's worktree is removed at the end (its jar is rebuilt next time). */
export async function runSuite(o: SuiteOptions): Promise<SuiteResult> {
  const baselineDir = o.baseline ? await baselineCheckout() : undefined;
  try {
    return await measure(o, baselineDir);
  } finally {
    if (baselineDir) await execa('git', ['-C', PROJECT_ROOT, 'worktree', 'remove', '--force', baselineDir], { reject: false });
  }
}

async function measure(o: SuiteOptions, baselineDir: string | undefined): Promise<SuiteResult> {
  const loadBefore = round(os.loadavg()[0]!, 2);
  const result: Partial<SuiteResult> = {
    machine: { cores: os.cpus().length, cpu: cpuModel(), load_before: loadBefore, memory_gib: Math.round(os.totalmem() / 1024 ** 3) },
    settings: { step_seconds: o.duration, warmup_seconds: o.warmup, idle_seconds: o.idle, rates: o.rates, smoke: o.smoke, baseline: o.baseline },
  };
  await withStack('job', async (sb) => {
    if (!o.idleOnly) {
      log('producer: load generator vs kafka-producer-perf-test');
      const p = await measureProducers(sb, o.producerSeconds, o.smoke ? 20_000 : 1_000_000);
      Object.assign(result, { producer_eps: p.eps, producer_reference_eps: p.referenceEps, producer_record_bytes: p.recordBytes });
    }

    log('job: submit, then idle');
    await sb.run(['submit']);
    const paths = localPaths(sb.home);
    const sampler = new UsageSampler(await componentGroups(paths.stateDir));
    sampler.start();
    try {
      result.idle_cpu_cores = await measureIdle(sampler, path.join(paths.sparkDir, 'spark-job.log'), o.idle);
      if (o.idleOnly) return;

      const curve: CurveStep[] = [];
      for (const rate of o.rates) {
        log(`curve: ${rate} events/s for ${o.duration} s`);
        const step = await loadStep((a, x) => sb.run(a, x), sampler, path.join(paths.sparkDir, 'spark-job.log'), rate, o.duration, o.warmup);
        curve.push(step);
        log(`  achieved ${step.achieved_eps}, e2e p95 ${step.e2e_latency_ms.p95} ms, batch p95 ${step.batch_ms.p95} ms, sustained: ${step.sustained}`);
        if (!step.sustained) break;
      }
      result.curve = curve;

      const busyRate = curve.some((s) => s.target_eps === 10000) ? 10000 : curve[0]!.target_eps;
      log(`one core busy: ${busyRate} events/s for ${o.duration} s while another process spins on a core`);
      // Bounded: the load, its warm-up and the loadtest's two longest drain waits (warm-up's, run's).
      const spinner = spinOneCore(Math.max(o.warmup, LOADTEST_DEFAULTS.warmupMaxSeconds) + o.duration + 2 * LOADTEST_DEFAULTS.drainTimeoutSeconds);
      try {
        result.one_core_busy = await loadStep((a, x) => sb.run(a, x), sampler, path.join(paths.sparkDir, 'spark-job.log'), busyRate, o.duration, o.warmup);
      } finally {
        spinner.stop();
      }
      log(`  e2e p95 ${result.one_core_busy.e2e_latency_ms.p95} ms, batch p95 ${result.one_core_busy.batch_ms.p95} ms, sustained: ${result.one_core_busy.sustained}`);
      result.e2e_latency_ms_at_10k_one_core_busy = result.one_core_busy.e2e_latency_ms;

      log('queries: idle');
      const ch = await sb.clickhouse();
      const samples: number[] = [];
      for (let i = 0; i < (o.smoke ? 2 : 20); i++) samples.push(...(await timeDashboardQueries(ch)).map((s) => s.ms));
      await ch.close();
      result.query_latency_ms_idle = quantiles(samples);
    } finally {
      sampler.stop();
    }
  });

  if (o.idleOnly) {
    if (baselineDir) {
      await withStack(`baseline ${BASELINE_COMMIT}`, async (sb) => {
        await cliOf(baselineDir, sb)(['submit']);
        const sampler = new UsageSampler(await componentGroups(localPaths(sb.home).stateDir));
        sampler.start();
        try {
          log(`baseline: idle ${o.idle} s`);
          result.idle_cpu_cores_baseline = await measureIdle(sampler, path.join(localPaths(sb.home).sparkDir, 'spark-job.log'), o.idle);
        } finally {
          sampler.stop();
        }
      }, (sb) => cliOf(baselineDir, sb));
    }
    result.machine!.load_after = round(os.loadavg()[0]!, 2);
    return result as SuiteResult;
  }
  const at10k = result.curve!.find((s) => s.target_eps === 10000) ?? result.curve![0]!;
  result.e2e_latency_ms_at_10k = at10k.e2e_latency_ms;
  result.batch_ms_at_10k = at10k.batch_ms;
  result.job_cpu_s_per_million_events = at10k.job_cpu_s_per_million_events;
  result.rss_total_mib_at_10k = at10k.peak_rss_mib.total;
  // The loadtest's own figure: the dashboard queries it ran while producing at 10k events/s.
  result.query_latency_ms_under_load = at10k.query_latency_ms;
  result.max_sustained_eps = Math.max(0, ...result.curve!.filter((s) => s.sustained).map((s) => s.achieved_eps));

  await withStack('pass-through', async (sb) => {
    log(`pass-through: ${at10k.target_eps} events/s for ${o.duration} s`);
    result.passthrough = await measurePassthrough(sb, at10k.target_eps, o.duration, o.warmup);
  });
  result.job_cpu_s_per_million_events_passthrough = result.passthrough!.job_cpu_s_per_million_events;
  result.pipeline_vs_passthrough =
    result.job_cpu_s_per_million_events && result.job_cpu_s_per_million_events_passthrough
      ? round(result.job_cpu_s_per_million_events / result.job_cpu_s_per_million_events_passthrough, 2)
      : null;

  if (baselineDir) {
    await withStack(
      `baseline ${BASELINE_COMMIT}`,
      async (sb) => {
        const run = cliOf(baselineDir, sb);
        await run(['submit']);
        const sampler = new UsageSampler(await componentGroups(localPaths(sb.home).stateDir));
        sampler.start();
        try {
          log(`baseline: idle ${o.idle} s`);
          result.idle_cpu_cores_baseline = await measureIdle(sampler, path.join(localPaths(sb.home).sparkDir, 'spark-job.log'), o.idle);
          log(`baseline: ${at10k.target_eps} events/s for ${o.duration} s`);
          result.baseline = await loadStep(run, sampler, path.join(localPaths(sb.home).sparkDir, 'spark-job.log'), at10k.target_eps, o.duration, o.warmup);
        } finally {
          sampler.stop();
        }
      },
      (sb) => cliOf(baselineDir, sb),
    );
  }
  result.job_cpu_s_per_million_events_baseline = result.baseline?.job_cpu_s_per_million_events ?? null;
  result.machine!.load_after = round(os.loadavg()[0]!, 2);
  return result as SuiteResult;
}


function renderDocs(r: SuiteResult, command: string, charts: { latency: string; cpu: string }): string {
  const q = (x: Quantiles) => `${x.p50} / ${x.p95} / ${x.p99}`;
  const c = (x: Record<string, number>) => `${x.job} / ${x.kafka} / ${x.clickhouse} / ${x.total}`;
  const m = r.machine;
  return [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${m.cores} cores (${m.cpu}), ${m.memory_gib} GB, load average ${m.load_before} before and ${m.load_after} after${m.load_before > m.cores ? ' (a shared, busy machine: absolute figures are for development only; the ratios were measured in the same run)' : ''}:`,
    '',
    '```',
    command,
    '```',
    '',
    `![latency vs throughput](benchmarks/${charts.latency}) ![CPU per component](benchmarks/${charts.cpu})`,
    '',
    '| figure | value | reference (same run) |',
    '|---|---:|---|',
    `| producer events/s (load generator, ${r.producer_record_bytes} B mean record) | ${r.producer_eps} | kafka-producer-perf-test ${r.producer_reference_eps} (ratio ${round(r.producer_eps / r.producer_reference_eps, 2)}) |`,
    `| job CPU s per million events at 10k/s | ${r.job_cpu_s_per_million_events} | ${BASELINE_COMMIT}: ${r.job_cpu_s_per_million_events_baseline ?? 'not run'}${r.job_cpu_s_per_million_events && r.job_cpu_s_per_million_events_baseline ? ` (${Math.round((100 * r.job_cpu_s_per_million_events) / r.job_cpu_s_per_million_events_baseline)}%)` : ''}; pass-through: ${r.job_cpu_s_per_million_events_passthrough} (full / pass-through ${r.pipeline_vs_passthrough}) |`,
    `| e2e latency p50 / p95 / p99 ms at 10k/s | ${q(r.e2e_latency_ms_at_10k)} | ${r.baseline ? `${BASELINE_COMMIT}: ${q(r.baseline.e2e_latency_ms)}` : ''} |`,
    `| batch duration p50 / p95 ms at 10k/s | ${r.batch_ms_at_10k.p50} / ${r.batch_ms_at_10k.p95} | ${r.baseline ? `${BASELINE_COMMIT}: ${r.baseline.batch_ms.p50} / ${r.baseline.batch_ms.p95}` : ''} |`,
    `| e2e latency p50 / p95 / p99 ms at ${r.one_core_busy.target_eps}/s, another process keeping one core busy | ${q(r.e2e_latency_ms_at_10k_one_core_busy)} | the same stack without it: ${q(r.e2e_latency_ms_at_10k)} |`,
    `| max sustained events/s (${r.settings.step_seconds} s steps) | ${r.max_sustained_eps} | |`,
    `| idle CPU cores over ${r.settings.idle_seconds} s: job / kafka / clickhouse / total | ${c(r.idle_cpu_cores)} | ${r.idle_cpu_cores_baseline ? `${BASELINE_COMMIT}: ${c(r.idle_cpu_cores_baseline)}` : ''} |`,
    `| peak RSS MiB at 10k/s (total) | ${r.rss_total_mib_at_10k} | |`,
    `| dashboard queries p50 / p95 / p99 ms, idle / under 10k/s ingest | ${q(r.query_latency_ms_idle)} / ${q(r.query_latency_ms_under_load)} | |`,
    '',
    `Throughput curve (${r.settings.step_seconds} s per step after a warm-up of at least ${r.settings.warmup_seconds} s that goes on until the job keeps up, at most ${LOADTEST_DEFAULTS.warmupMaxSeconds} s; a step is sustained when it achieves ≥ ${SUSTAINED_SHARE * 100}% of its rate, loses nothing, passes every ground-truth check and keeps e2e p95 ≤ ${E2E_P95_TARGET_MS} ms; CPU in cores and peak RSS in MiB per component over the batches that read the step's input):`,
    '',
    '| target | achieved | sustained | e2e p50 / p95 / p99 ms | batch p50 / p95 ms | job CPU s / M events | CPU job / kafka / clickhouse / total | peak RSS job / kafka / clickhouse / total |',
    '|---:|---:|---|---|---|---:|---|---|',
    ...[...r.curve, { ...r.one_core_busy, target_eps: `${r.one_core_busy.target_eps} (one core busy)` }, ...(r.baseline ? [{ ...r.baseline, target_eps: `${r.baseline.target_eps} (${BASELINE_COMMIT})` }] : [])].map(
      (s) =>
        `| ${s.target_eps} | ${s.achieved_eps} | ${s.sustained ? 'yes' : `no${s.failed_checks.length ? ` (${s.failed_checks.length} checks failed)` : ''}`} | ${q(s.e2e_latency_ms)} | ${s.batch_ms.p50} / ${s.batch_ms.p95} | ${s.job_cpu_s_per_million_events} | ${c(s.cpu_cores)} | ${c(s.peak_rss_mib)} |`,
    ),
    ...(r.passthrough
      ? [`| ${r.passthrough.target_eps} (pass-through) | | | | | ${r.passthrough.job_cpu_s_per_million_events} | ${c(r.passthrough.cpu_cores)} | |`]
      : []),
    '',
    'The full `--json` object of this run:',
    '',
    '```json',
    JSON.stringify(r, null, 2),
    '```',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      'no-baseline': { type: 'boolean', default: false },
      'idle-only': { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      idle: { type: 'string' },
      rates: { type: 'string' },
      'producer-seconds': { type: 'string' },
    },
  });
  const smoke = values.smoke!;
  const num = (v: string | undefined, full: number, quick: number) => (v !== undefined ? Number(v) : smoke ? quick : full);
  const rates = values.rates ? values.rates.split(',').map(Number) : smoke ? [10000] : Array.from({ length: 10 }, (_, i) => (i + 1) * 10000);
  const opts = {
    smoke,
    baseline: !values['no-baseline'],
    idleOnly: values['idle-only']!,
    duration: num(values.duration, 120, 5),
    warmup: num(values.warmup, 15, 0),
    idle: num(values.idle, 60, 5),
    rates,
    producerSeconds: num(values['producer-seconds'], 20, 3),
  };
  const result = await runSuite(opts);
  if (values.json || opts.idleOnly) console.log(JSON.stringify(result, null, 2));
  else console.log(renderDocs(result, `npm run bench -- ${process.argv.slice(2).join(' ')}`, { latency: 'latency-vs-throughput.svg', cpu: 'cpu-per-component.svg' }));
  // A smoke run's seconds-long figures are not written into the docs; its charts go to a temporary directory.
  if (smoke) await renderCharts(result, os.tmpdir());
  if (!values['no-docs'] && !smoke && !opts.idleOnly) {
    const dir = path.join(PROJECT_ROOT, 'docs', 'benchmarks');
    await mkdir(dir, { recursive: true });
    const charts = await renderCharts(result, dir);
    const file = path.join(PROJECT_ROOT, 'docs', 'benchmarks.md');
    const text = await readFile(file, 'utf8');
    const block = `${BEGIN}\n${renderDocs(result, `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(), charts)}\n${END}`;
    const i = text.indexOf(BEGIN);
    const j = text.indexOf(END);
    await writeFile(file, i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + END.length) : `${text.trimEnd()}\n\n## Benchmark suite\n\n${block}\n`);
  }
}

await main();
