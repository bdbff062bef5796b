import { parseJobProgress } from '../../../contract/job-progress.ts';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SpeedlayerError } from '../../../base/errors.ts';
import { CONTRACT_DIR, PROJECT_ROOT, pipeline } from '../../../contract/index.ts';
import { jobArguments } from '../../../contract/job-arguments.ts';
import type { StackEndpoints } from '../../../base/stack.ts';
import type { JobProgress } from '../../../contract/job-progress.ts';
import { SPARK_PROJECT_DIR } from '../paths.ts';
import type { SupervisorPlan } from '../job-supervisor-main.ts';
import { FAILURE_LINE_CHARS, readSupervisorState, RESUME_FIX, supervisorSummary, type RestartPolicy } from '../restart-policy.ts';
import { ManagedProcess } from '../supervisor.ts';
import type { LocalComponent } from './component.ts';

export const SPARK_VERSION = '4.0.4';

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out.sort();
}

/** Hash of everything the job's build reads: its sources, its pom and the shared contract. */
async function sourceHash(): Promise<string> {
  const h = createHash('sha256');
  const files = [
    path.join(SPARK_PROJECT_DIR, 'pom.xml'),
    ...(await listFiles(path.join(SPARK_PROJECT_DIR, 'src', 'main'))),
    ...(await listFiles(CONTRACT_DIR)).filter((f) => !f.endsWith('.ts')),
  ];
  for (const f of files) h.update(path.relative(SPARK_PROJECT_DIR, f)).update(await readFile(f));
  return h.digest('hex');
}

const BUILD_STAMP = path.join(SPARK_PROJECT_DIR, 'target', '.speedlayer-build-hash');

/** Whether any file under `dir` was modified after `ms`. */
async function modifiedAfter(dir: string, ms: number): Promise<boolean> {
  if (!existsSync(dir)) return true;
  for (const f of await listFiles(dir)) if ((await stat(f)).mtimeMs > ms) return true;
  return false;
}

/**
 * Builds the job with Maven unless the last build saw the same sources and nothing compiled into
 * target/classes since (a `mvn test` of edited sources leaves classes the stamp does not describe).
 * Returns whether it built.
 */
export async function buildSparkJob(report: (s: string) => void): Promise<boolean> {
  const hash = await sourceHash();
  const classpathFile = path.join(SPARK_PROJECT_DIR, 'target', 'classpath.txt');
  const stamp = await stat(BUILD_STAMP).catch(() => undefined);
  const upToDate =
    stamp !== undefined &&
    existsSync(classpathFile) &&
    (await readFile(BUILD_STAMP, 'utf8')) === hash &&
    !(await modifiedAfter(path.join(SPARK_PROJECT_DIR, 'target', 'classes'), stamp.mtimeMs));
  if (upToDate) return false;
  report('mvn package (first build downloads Spark from Maven Central)');
  try {
    await execa('mvn', ['-q', '-B', '-f', path.join(SPARK_PROJECT_DIR, 'pom.xml'), 'package', '-DskipTests']);
  } catch (err) {
    throw new SpeedlayerError('building the Spark job failed', {
      fix: `Run 'mvn -f spark/pom.xml package' to see the compiler output.`,
      detail: [(err as { stdout?: string }).stdout, (err as { stderr?: string }).stderr].filter(Boolean).join('\n').slice(-4000),
      cause: err,
    });
  }
  await writeFile(BUILD_STAMP, hash);
  return true;
}

export interface SparkJobOptions {
  dir: string;
  checkpointDir: string;
  progressFile: string;
  /** The JVM's java.io.tmpdir (LocalPaths.sparkTmpDir). */
  tmpDir: string;
  uiPort: number;
  /** The job's Prometheus endpoint (JobMetrics.scala). */
  metricsPort: number;
  driverMemoryMb: number;
  cores: number;
  restartPolicy: RestartPolicy;
  endpoints: () => Promise<StackEndpoints>;
}

/** The supervisor's entry next to this module: .js in the compiled CLI (dist/), .ts run through tsx from the sources (tests). */
const HERE = fileURLToPath(import.meta.url);
const FROM_SOURCES = HERE.endsWith('.ts');
const SUPERVISOR_MAIN = path.join(path.dirname(HERE), '..', `job-supervisor-main${FROM_SOURCES ? '.ts' : '.js'}`);

export async function readJobProgress(progressFile: string): Promise<JobProgress | undefined> {
  try {
    return parseJobProgress(await readFile(progressFile, 'utf8'));
  } catch {
    return undefined;
  }
}

const STARTED = `${pipeline.jobProtocol.started} `;
const FAILED = `${pipeline.jobProtocol.failed} `;

/**
 * The job's failure message from its log (the `SPEEDLAYER_FAILED <message>` line it prints when the
 * query fails), if the last run failed: a failure before the last start belongs to an earlier run.
 */
export function lastJobFailure(log: string): string | undefined {
  const failedAt = log.lastIndexOf(`\n${FAILED}`);
  const at = failedAt >= 0 ? failedAt + 1 : log.startsWith(FAILED) ? 0 : -1;
  if (at < 0 || log.lastIndexOf(STARTED) > at) return undefined;
  const line = log.slice(at + FAILED.length).split('\n', 1)[0]!.trim();
  return line.length > FAILURE_LINE_CHARS ? `${line.slice(0, FAILURE_LINE_CHARS)}...` : line;
}

/** The job's command line, as its supervisor runs it (the process record holds the supervisor's). */
export const supervisorPlanFile = (dir: string): string => path.join(dir, 'spark-job.supervisor-plan.json');
/** The supervisor's state: the JVM's pid, restarts, why it gave up (restart-policy.ts). */
export const supervisorStateFile = (dir: string): string => path.join(dir, 'spark-job.supervisor.json');

export function sparkJobComponent(o: SparkJobOptions): LocalComponent {
  const process = new ManagedProcess('spark-job', o.dir);
  const planFile = supervisorPlanFile(o.dir);
  const stateFile = supervisorStateFile(o.dir);
  let startedAt = 0;
  let logOffset = 0;
  return {
    name: 'spark-job',
    process,
    readyTimeoutMs: 180_000,
    hint: 'The streaming query did not report its first progress.',
    ports: () => [o.uiPort, o.metricsPort],
    async prepare() {
      await mkdir(o.checkpointDir, { recursive: true });
    },
    async launch() {
      const e = await o.endpoints();
      const target = path.join(SPARK_PROJECT_DIR, 'target');
      const classpath = (await readFile(path.join(target, 'classpath.txt'), 'utf8')).trim();
      const jvmOptions = (await readFile(path.join(SPARK_PROJECT_DIR, 'jvm-options.txt'), 'utf8'))
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      startedAt = Date.now();
      logOffset = (await stat(process.logFile).catch(() => undefined))?.size ?? 0;
      const job = {
        command: 'java',
        args: [
          `-Xmx${o.driverMemoryMb}m`,
          `-Djava.io.tmpdir=${o.tmpDir}`,
          ...jvmOptions,
          ...pipeline.spark.jvmOptions,
          `-Dspark.master=local[${o.cores}]`,
          '-Dspark.app.name=speedlayer',
          '-Dspark.driver.bindAddress=127.0.0.1',
          '-Dspark.driver.host=127.0.0.1',
          `-Dspark.ui.port=${o.uiPort}`,
          '-Dspark.port.maxRetries=0',
          `-Dspeedlayer.metrics.port=${o.metricsPort}`,
          '-cp',
          [classpath, path.join(target, 'classes')].join(path.delimiter),
          pipeline.spark.mainClass,
          ...jobArguments({
            bootstrapServers: e.kafka.brokers.join(','),
            clickhouseUrl: e.clickhouse.url,
            clickhouseUser: e.clickhouse.username,
            clickhouseDatabase: e.clickhouse.database,
            checkpointDir: o.checkpointDir,
            progressFile: o.progressFile,
          }),
        ],
      };
      // The JVM runs under a supervisor that restarts it after a failure (restartPolicy OnFailure).
      const plan: SupervisorPlan = { ...job, cwd: globalThis.process.cwd(), tmpDir: o.tmpDir, stateFile, policy: o.restartPolicy };
      await writeFile(planFile, JSON.stringify(plan, null, 2));
      await rm(stateFile, { force: true });
      return {
        command: globalThis.process.execPath,
        // From the sources, tsx is resolved from the project (cwd), whatever the user's cwd.
        args: [...(FROM_SOURCES ? ['--import', 'tsx'] : []), SUPERVISOR_MAIN, planFile],
        cwd: PROJECT_ROOT,
        // The password travels in the environment, not on the command line (ps shows arguments).
        // SPARK_LOCAL_IP: Spark's web UI binds to it (else to 0.0.0.0; spark.driver.bindAddress
        // covers only the RPC and block manager ports).
        env: { ...globalThis.process.env, CLICKHOUSE_PASSWORD: e.clickhouse.password, SPARK_LOCAL_IP: '127.0.0.1' },
        ports: [o.uiPort, o.metricsPort],
      };
    },
    /** Active once this run's log says the query started, or a progress newer than the start exists. */
    async ready() {
      const s = await stat(o.progressFile).catch(() => undefined);
      if (s && s.mtimeMs >= startedAt) return true;
      return (await process.logFrom(logOffset)).includes(STARTED);
    },
    version: async () => SPARK_VERSION,
    async whyDown() {
      const supervisor = await readSupervisorState(stateFile);
      if (supervisor?.state === 'gave-up') return supervisorSummary(supervisor);
      // The end of the log is enough: the failure line is followed by one stack trace at most.
      const failure = lastJobFailure(await process.logFrom(-256 * 1024));
      return failure && `failed: ${failure} (${RESUME_FIX})`;
    },
    async whileUp() {
      const supervisor = await readSupervisorState(stateFile);
      return supervisor && supervisorSummary(supervisor);
    },
  };
}
