import { z } from 'zod';
import { KindConfigSchema } from './kind.ts';
import { TARGET_NAMES } from './targets.ts';
import { LOADTEST_DEFAULTS } from './loadtest-defaults.ts';

const port = z.number().int().min(1).max(65535);

/** Ports of the local target's servers, all bound to 127.0.0.1. */
export const LocalPortsSchema = z.strictObject({
  kafka: port.default(19092),
  kafkaController: port.default(19093),
  clickhouse: port.default(18123),
  clickhouseTcp: port.default(19000),
  sparkUi: port.default(14040),
  /** The job's /metrics endpoint (JobMetrics.scala). */
  jobMetrics: port.default(19102),
  /** The local exporter: Kafka, ClickHouse, freshness, the job's process; and the alert notification log. */
  exporter: port.default(19101),
  prometheus: port.default(19190),
  alertmanager: port.default(19193),
});

const RestartSchema = z.strictObject({
  /** Failed runs in a row after which the supervisor gives up (0: never restart). */
  maxRestarts: z.number().int().min(0).default(5),
  initialBackoffSeconds: z.number().min(0).default(5),
  maxBackoffSeconds: z.number().min(0).default(60),
  /** A run that lasted this long resets the count. */
  stableAfterSeconds: z.number().min(0).default(600),
});

export const LocalConfigSchema = z.strictObject({
  ports: LocalPortsSchema.default(LocalPortsSchema.parse({})),
  /** auto: a `clickhouse` binary on PATH if there is one, else the embedded chDB engine. */
  clickhouse: z
    .strictObject({
      mode: z.enum(['auto', 'server', 'embedded']).default('auto'),
      binary: z.string().min(1).optional(),
    })
    .default({ mode: 'auto' }),
  kafka: z.strictObject({ heapMb: z.number().int().min(256).default(1024) }).default({ heapMb: 1024 }),
  spark: z
    .strictObject({
      driverMemoryMb: z.number().int().min(512).default(2048),
      cores: z.number().int().min(1).default(2),
      /** restartPolicy OnFailure of the job (src/targets/local/restart-policy.ts). */
      restart: RestartSchema.default(RestartSchema.parse({})),
    })
    .default({ driverMemoryMb: 2048, cores: 2, restart: RestartSchema.parse({}) }),
});

/** Prometheus, Alertmanager and the thresholds of the alert rules (manifests/prometheus/alerts.rules.yml). */
export const MonitoringConfigSchema = z.strictObject({
  /** Run Prometheus, Alertmanager and the exporter with the local stack. */
  enabled: z.boolean().default(true),
  scrapeIntervalSeconds: z.number().positive().default(5),
  evaluationIntervalSeconds: z.number().positive().default(5),
  /** A warning alert still firing after this long fires again as critical. */
  escalateAfterSeconds: z.number().positive().default(600),
  /** Throughput below this while producers send at least as much: ThroughputBelowTarget. */
  targetEventsPerSecond: z.number().positive().default(10000),
  /** Dead letters / records read above this: DeadLetterRateHigh. */
  deadLetterRatio: z.number().min(0).max(1).default(0.05),
  /** Late events / records read above this: LateEventRateHigh. */
  lateEventRatio: z.number().min(0).max(1).default(0.05),
  /** Receives every notification (Alertmanager webhook JSON); critical ones go to criticalWebhookUrl instead when that is set. */
  webhookUrl: z.url().optional(),
  criticalWebhookUrl: z.url().optional(),
  /** A Slack incoming-webhook URL (or a Slack-compatible one, e.g. Mattermost). */
  slackWebhookUrl: z.url().optional(),
  /** Alertmanager: wait before the first notification of a group, between updates of a group, before repeating. */
  groupWaitSeconds: z.number().min(0).default(10),
  groupIntervalSeconds: z.number().positive().default(60),
  repeatIntervalSeconds: z.number().positive().default(4 * 3600),
});

export const LoadtestConfigSchema = z.strictObject({
  rate: z.number().positive().default(LOADTEST_DEFAULTS.rate),
  durationSeconds: z.number().positive().default(LOADTEST_DEFAULTS.durationSeconds),
  malformedFraction: z.number().min(0).max(1).default(LOADTEST_DEFAULTS.malformedFraction),
  users: z.number().int().positive().default(LOADTEST_DEFAULTS.users),
  products: z.number().int().positive().default(LOADTEST_DEFAULTS.products),
  /** How long to wait for ClickHouse to hold every valid event after producing stops. */
  drainTimeoutSeconds: z.number().positive().default(LOADTEST_DEFAULTS.drainTimeoutSeconds),
  /** Load produced and drained before the measured run, so a just-started job is not measured cold. */
  warmupSeconds: z.number().min(0).default(LOADTEST_DEFAULTS.warmupSeconds),
  /** The warm-up goes on past warmupSeconds until the job keeps up, at most this long (never below warmupSeconds). */
  warmupMaxSeconds: z.number().min(0).default(LOADTEST_DEFAULTS.warmupMaxSeconds),
});

export const ChecksConfigSchema = z.strictObject({
  e2eLatencyP95Ms: z.number().positive().default(5000),
  queryLatencyP95Ms: z.number().positive().default(1000),
  /** Achieved rate must be at least this fraction of the target rate. */
  minRateFraction: z.number().min(0).max(1).default(1),
});

export { KindConfigSchema };

export const ConfigSchema = z.strictObject({
  target: z.enum(TARGET_NAMES).optional(),
  /** State directory: pids, ports, logs, data, checkpoints. */
  home: z.string().min(1).optional(),
  /** How long ClickHouse keeps the speed layer's rows (every table's TTL), on both targets. */
  retentionDays: z.number().int().min(1).max(3650).default(7),
  local: LocalConfigSchema.default(LocalConfigSchema.parse({})),
  kind: KindConfigSchema.default(KindConfigSchema.parse({})),
  loadtest: LoadtestConfigSchema.default(LoadtestConfigSchema.parse({})),
  checks: ChecksConfigSchema.default(ChecksConfigSchema.parse({})),
  monitoring: MonitoringConfigSchema.default(MonitoringConfigSchema.parse({})),
});

export type Config = z.infer<typeof ConfigSchema>;
export type LocalConfig = z.infer<typeof LocalConfigSchema>;
export type MonitoringConfig = z.infer<typeof MonitoringConfigSchema>;
export type LoadtestConfig = z.infer<typeof LoadtestConfigSchema>;
