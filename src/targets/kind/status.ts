import { parseJobProgress } from '../../contract/job-progress.ts';
import type { ComponentState } from '../../base/stack.ts';
import type { JobProgress } from '../../contract/job-progress.ts';
import { MEMORY_LIMIT_MIB } from './budget.ts';
import type { KubeApi, KubeObject } from './k8s.ts';
import { NAMES, POD_PATHS } from './names.ts';
import { chiReady, conditionMessage, podRestarts, sparkAppState, strimziReady } from './readiness.ts';
import { DRIVER_LABELS, EXECUTOR_LABELS } from './render/spark.ts';

export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}

function podSummary(pods: KubeObject[]): string {
  return pods.map((p) => `${p.metadata.name} ${p.status?.phase ?? '?'} restarts=${podRestarts(p)}`).join('; ');
}

/** Components as the Kubernetes API sees them: CR conditions, pods and restarts, node memory. */
export async function kindComponents(kube: KubeApi, namespace: string): Promise<ComponentState[]> {
  const [kafka, chi, app, drivers, executors, nodes] = await Promise.all([
    kube.get('kafka.strimzi.io/v1', 'Kafka', namespace, NAMES.kafkaCluster),
    kube.get('clickhouse.altinity.com/v1', 'ClickHouseInstallation', namespace, NAMES.chi),
    kube.get('sparkoperator.k8s.io/v1beta2', 'SparkApplication', namespace, NAMES.sparkApp),
    kube.list('v1', 'Pod', namespace, labelSelector(DRIVER_LABELS)),
    kube.list('v1', 'Pod', namespace, labelSelector(EXECUTOR_LABELS)),
    kube.nodeMemory(),
  ]);
  const kafkaState: ComponentState = {
    name: 'kafka',
    state: !kafka ? 'down' : strimziReady(kafka) ? 'up' : 'degraded',
    version: kafka?.status?.kafkaVersion as string | undefined,
    detail: kafka ? conditionMessage(kafka, 'Ready') ?? 'no status yet' : 'no Kafka resource',
  };
  const chiState: ComponentState = {
    name: 'clickhouse',
    state: !chi ? 'down' : chiReady(chi) ? 'up' : 'degraded',
    detail: chi ? `CHI status ${chi.status?.status ?? 'none yet'}` : 'no ClickHouseInstallation',
  };
  const state = sparkAppState(app);
  const restarts = drivers.reduce((n, p) => n + podRestarts(p), 0);
  const sparkState: ComponentState = {
    name: 'spark-job',
    state: !app ? 'down' : state === 'RUNNING' && restarts === 0 ? 'up' : 'degraded',
    detail: app
      ? `SparkApplication ${state}; driver: ${podSummary(drivers) || 'none'}; executors: ${executors.length} (${podSummary(executors) || 'none'})`
      : 'not submitted',
  };
  const nodeState: ComponentState = {
    name: 'kubernetes-node',
    state: nodes.length ? 'up' : 'down',
    detail: nodes
      .map((n) => `${n.name}: limits ${n.limitsMiB} MiB, requests ${n.requestsMiB} MiB of ${n.allocatableMiB} MiB (budget ${MEMORY_LIMIT_MIB} MiB)`)
      .join('; '),
  };
  return [kafkaState, chiState, sparkState, nodeState];
}

/** The streaming query's last progress, read from the driver's progress file (same JSON as local). */
export async function kindJobProgress(kube: KubeApi, namespace: string): Promise<JobProgress | undefined> {
  const drivers = await kube.list('v1', 'Pod', namespace, labelSelector(DRIVER_LABELS));
  const running = drivers.find((p) => p.status?.phase === 'Running');
  if (!running) return undefined;
  try {
    return parseJobProgress(await kube.execRead(namespace, running.metadata.name, 'spark-kubernetes-driver', ['cat', POD_PATHS.progressFile]));
  } catch {
    return undefined;
  }
}
