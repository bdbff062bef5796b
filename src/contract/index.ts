import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Two levels below the project root both as source (src/contract/) and compiled (dist/contract/).
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/[\\/]$/, '');
/** The folder every shared fact lives in: read by the CLI, the Spark job (as classpath resources) and the tests. */
export const CONTRACT_DIR = path.join(PROJECT_ROOT, 'src', 'contract');

export interface TopicSpec {
  name: string;
  partitions: number;
  config: Record<string, string>;
}

export interface DashboardProfile {
  max_threads: number;
  max_execution_time: number;
  max_memory_usage: number;
  priority: number;
}

export interface SessionCounter {
  eventType: string;
  column: string;
}

export interface PipelineContract {
  kafka: { topics: { events: TopicSpec; deadLetter: TopicSpec; users: TopicSpec }; consumerGroup: string };
  clickhouse: {
    database: string;
    /** The job's user: inserts, migrations, the CLI's writes. */
    writerUser: string;
    /** Read-only, with dashboardProfile: the CLI's dashboard queries (status, loadtest, bench). */
    dashboardUser: string;
    /** Upper bounds (priority: lower bound, a larger number is a lower priority) on both targets. */
    dashboardProfile: DashboardProfile;
    /** Embedded engine: identical dashboard reads within this many ms share one answer (its stand-in for ClickHouse's query cache). */
    dashboardCacheMs: number;
    tables: Record<string, string> & { events: string; deadLetters: string; schemaMigrations: string };
  };
  /**
   * The event types a session counts, each into its column of `sessions` (in the order the job's
   * state keeps them: append only), and the event types of funnel stages 1..4.
   */
  sessions: { counters: SessionCounter[]; funnelStages: string[] };
  /** Line prefixes the job prints on stdout (each followed by a space and its content). */
  jobProtocol: {
    started: string;
    progress: string;
    failed: string;
    /** The job's exit code when its checkpoint cannot be read: restarting would fail the same way. */
    checkpointUnreadableExitCode: number;
  };
  spark: {
    triggerIntervalSeconds: number;
    maxOffsetsPerTrigger: number;
    watermarkDelaySeconds: number;
    /**
     * At most this much processing time before a quiet user's state is looked at again (closing a
     * session the watermark expired). Sessions close later than the watermark allows by up to this
     * when event time runs faster than the wall clock (a replay, --event-time-scale).
     */
    stateRevisitSeconds: number;
    /**
     * How long the job retries a failed ClickHouse insert (capped exponential backoff, same
     * deduplication token) before the batch fails and the job stops for its supervisor to restart.
     */
    clickhouseRetrySeconds: number;
    mainClass: string;
    /**
     * JVM flags of the job's driver and executors on both targets. -XX:-DontCompileHugeMethods: Spark's
     * generated serializer for the processor's output is over HotSpot's 8,000-byte limit and was
     * interpreted (13% of the job's CPU in a profile at 10k events/s; docs/benchmarks.md).
     * -XX:+UseParallelGC: the throughput collector, not G1 (the JVM's choice on a machine with 2 or
     * more cores and about 2 GB): no G1 barriers in compiled code and no concurrent marking or
     * refinement threads. The job used 11-18% less CPU at 10k events/s, and its steady-state pauses
     * were shorter (at most 58-97 ms against G1's 152-191; docs/benchmarks.md). The state lives in
     * RocksDB, off the heap, so the old generation stays small (about 250 MB after each young
     * collection).
     * -XX:Tier4*Threshold ten times HotSpot's defaults: C2, the optimising compiler, takes a method
     * only after ten times as many calls. The job's hot code gets there within seconds at 10k
     * events/s; what the driver runs a few times per batch (planning) stays compiled by C1. In the
     * third minute of load C2 had still used 0.20-0.25 cores (of 2); batches and e2e latency were
     * shorter with the change in every pair measured (docs/benchmarks.md).
     */
    jvmOptions: string[];
  };
  deadLetter: {
    maxPayloadBytes: number;
    maxEventBytes: number;
    /** An event_time further ahead of its Kafka timestamp is a `future_event_time` dead letter (a wrong clock must not move the watermark). */
    maxEventTimeAheadSeconds: number;
    /** An event_time further behind its Kafka timestamp is an `expired_event_time` dead letter (past the horizon). */
    maxEventAgeSeconds: number;
  };
}

export const pipeline: PipelineContract = JSON.parse(readFileSync(path.join(CONTRACT_DIR, 'pipeline.json'), 'utf8'));

export const EVENT_SCHEMA_PATH = path.join(CONTRACT_DIR, 'event.schema.json');
export const eventSchema: Record<string, unknown> = JSON.parse(readFileSync(EVENT_SCHEMA_PATH, 'utf8'));

export const EVENT_TYPES = (eventSchema as { properties: { event_type: { enum: string[] } } }).properties.event_type
  .enum as readonly string[];

/** Every counted event type with its `sessions` column (pipeline.json sessions.counters). */
export const SESSION_COUNTERS: readonly SessionCounter[] = pipeline.sessions.counters;

/** The `sessions` column counting `eventType` (a type without a counter is a programming error). */
export function counterColumn(eventType: string): string {
  const c = SESSION_COUNTERS.find((x) => x.eventType === eventType);
  if (!c) throw new Error(`pipeline.json sessions.counters has no ${eventType}`);
  return c.column;
}

/** The event types of funnel stages 1..4 (pipeline.json sessions.funnelStages). */
export const FUNNEL_STAGES: readonly string[] = pipeline.sessions.funnelStages;

/**
 * Values of `dead_letters.reason` (the job's Reason object): the record is not UTF-8, larger than
 * maxEventBytes, not one JSON value, against the schema, or its event_time is beyond the bounds
 * around its Kafka timestamp (maxEventTimeAheadSeconds ahead, maxEventAgeSeconds behind).
 */
export const DEAD_LETTER_REASONS = ['not_utf8', 'too_large', 'invalid_json', 'schema', 'future_event_time', 'expired_event_time'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** Splits a SQL file into statements at `;` line ends; comments are dropped. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Versioned ClickHouse DDL: `NNNN_name.sql`, applied in order by `up`. */
export function loadMigrations(dir = path.join(CONTRACT_DIR, 'clickhouse', 'migrations')): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      statements: splitStatements(readFileSync(path.join(dir, file), 'utf8')),
    }));
}

export interface DashboardQuery {
  name: string;
  description: string;
  sql: string;
}

/** The named dashboard queries (`queries/<name>.sql`, first comment line = description). */
export function loadDashboardQueries(dir = path.join(CONTRACT_DIR, 'clickhouse', 'queries')): DashboardQuery[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((file) => {
      const text = readFileSync(path.join(dir, file), 'utf8');
      const first = text.split('\n')[0] ?? '';
      return {
        name: file.replace(/\.sql$/, ''),
        description: first.startsWith('--') ? first.replace(/^--\s*/, '') : '',
        sql: splitStatements(text)[0] ?? '',
      };
    });
}
