import { z } from 'zod';
import { KindConfigSchema } from './kind.ts';
import { TARGET_NAMES } from './targets.ts';
import { LOADTEST_DEFAULTS as D } from './loadtest-defaults.ts';

const port = z.number().int().min(1).max(65535);

/** Ports of the local target's servers, all bound to 127.0.0.1. */
export const LocalPortsSchema = z.strictObject({
  kafka: port.default(19092),
  kafkaController: port.default(19093),
  clickhouse: port.default(18123),
  clickhouseTcp: port.default(19000),
  sparkUi: port.default(14040),
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
    })
    .default({ driverMemoryMb: 2048, cores: 2 }),
});

export const LoadtestConfigSchema = z.strictObject({
  rate: z.number().positive().default(D.rate),
  durationSeconds: z.number().positive().default(D.durationSeconds),
  malformedFraction: z.number().min(0).max(1).default(D.malformedFraction),
  users: z.number().int().positive().default(D.users),
  products: z.number().int().positive().default(D.products),
  /** How long to wait for ClickHouse to hold every valid event after producing stops. */
  drainTimeoutSeconds: z.number().positive().default(D.drainTimeoutSeconds),
  /** Load produced and drained before the measured run, so a just-started job is not measured cold. */
  warmupSeconds: z.number().min(0).default(D.warmupSeconds),
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
});

export type Config = z.infer<typeof ConfigSchema>;
export type LocalConfig = z.infer<typeof LocalConfigSchema>;
export type LoadtestConfig = z.infer<typeof LoadtestConfigSchema>;
