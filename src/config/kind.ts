import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
const mebibytes = z.number().int().min(128);

/**
 * Host ports the kind node publishes (extraPortMappings, bound to 127.0.0.1). Distinct from the
 * local target's defaults so both stacks can exist side by side.
 */
export const KindPortsSchema = z.strictObject({
  clickhouseHttp: port.default(28123),
  kafka: port.default(29092),
  sparkUi: port.default(24040),
});

/** Memory of the big pods, in MiB; the budget table is computed from the manifests these produce. */
export const KindResourcesSchema = z.strictObject({
  kafkaMiB: mebibytes.default(1280),
  clickhouseMiB: mebibytes.default(1280),
  sparkDriverMiB: mebibytes.default(640),
  sparkExecutorMiB: mebibytes.default(896),
  /** The driver's non-heap memory (spark.driver.memoryOverhead): Spark's own minimum; it holds no state store. */
  sparkDriverOverheadMiB: mebibytes.default(384),
  /**
   * The executor's non-heap memory (spark.executor.memoryOverhead): Spark's 384 MiB minimum for the
   * JVM itself, + the RocksDB state store (capped at rocksdbMemoryMiB for all its instances),
   * + the JMX exporter agent and the Kafka/ClickHouse clients' native buffers (~128 MiB).
   */
  sparkExecutorOverheadMiB: mebibytes.default(640),
  /** spark.sql.streaming.stateStore.rocksdb.maxMemoryUsageMB: block cache and memtables of every state store on an executor. */
  rocksdbMemoryMiB: mebibytes.default(128),
  /** Prometheus (a few thousand series, 2 days kept) and Alertmanager; GOMEMLIMIT is set below each. */
  prometheusMiB: mebibytes.default(256),
  alertmanagerMiB: z.number().int().min(32).default(64),
  /** CPU each Spark pod reserves (coreRequest); it still runs `cores` task threads. */
  sparkCpuRequestMillicores: z.number().int().min(100).default(500),
});

export const KindConfigSchema = z.strictObject({
  clusterName: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes')
    .max(40)
    .default('speedlayer'),
  /** kind: the CLI creates (and may delete) its own cluster. docker-desktop: Docker Desktop's built-in kind cluster, never deleted. */
  cluster: z.enum(['kind', 'docker-desktop']).default('kind'),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).max(50).default('speedlayer'),
  /** Overrides the kindest/node image chosen for the installed kind version (must be pinned by digest). */
  nodeImage: z.string().regex(/@sha256:[0-9a-f]{64}$/, 'pin the image by digest (…@sha256:…)').optional(),
  ports: KindPortsSchema.default(KindPortsSchema.parse({})),
  resources: KindResourcesSchema.default(KindResourcesSchema.parse({})),
  spark: z
    .strictObject({
      minExecutors: z.number().int().min(0).default(1),
      maxExecutors: z.number().int().min(1).default(2),
      executorCores: z.number().int().min(1).default(1),
      onFailureRetries: z.number().int().min(0).default(5),
    })
    .refine((s) => s.minExecutors <= s.maxExecutors, { message: 'minExecutors must be <= maxExecutors' })
    .default({ minExecutors: 1, maxExecutors: 2, executorCores: 1, onFailureRetries: 5 }),
  storage: z
    .strictObject({
      kafkaGi: z.number().int().min(1).default(10),
      clickhouseGi: z.number().int().min(1).default(10),
      checkpointGi: z.number().int().min(1).default(2),
    })
    .default({ kafkaGi: 10, clickhouseGi: 10, checkpointGi: 2 }),
  /** Seconds to wait for each readiness condition (operators, Kafka, ClickHouse, the streaming query). */
  readyTimeoutSeconds: z.number().int().min(30).default(600),
  /** `down`: seconds an operator gets to finalize each resource before its finalizers are removed (logged). */
  finalizeTimeoutSeconds: z.number().int().min(1).default(180),
});

export type KindConfig = z.infer<typeof KindConfigSchema>;
export type KindPorts = z.infer<typeof KindPortsSchema>;

export const defaultKindConfig = (): KindConfig => KindConfigSchema.parse({});
