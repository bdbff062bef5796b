/**
 * The one table of targets: the config file's `target` enum, the CLI's `--target` choices and the
 * registry in src/targets/index.ts (which must have an entry for each) all derive from it.
 */
export const TARGETS = {
  local: 'processes on this machine: Kafka, ClickHouse (server or embedded chDB), the Spark job',
  kind: 'a Kubernetes cluster in Docker (kind, or Docker Desktop’s): operators, Helm, a SparkApplication',
} as const;

export type TargetName = keyof typeof TARGETS;

export const TARGET_NAMES = Object.keys(TARGETS) as [TargetName, ...TargetName[]];
