import type { KubeObject } from './k8s.ts';

/** Readiness from the resources' own status, as their operators report it. */

export function conditionTrue(obj: KubeObject | undefined, type: string): boolean {
  const conditions = (obj?.status?.conditions ?? []) as Array<{ type?: string; status?: string }>;
  return conditions.some((c) => c.type === type && c.status === 'True');
}

export function conditionMessage(obj: KubeObject | undefined, type: string): string | undefined {
  const conditions = (obj?.status?.conditions ?? []) as Array<{ type?: string; status?: string; message?: string; reason?: string }>;
  const c = conditions.find((x) => x.type === type);
  return c ? `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}` : undefined;
}

/** Strimzi Kafka / KafkaTopic: condition Ready=True for the current generation. */
export function strimziReady(obj: KubeObject | undefined): boolean {
  if (!obj) return false;
  const observed = obj.status?.observedGeneration;
  const generation = (obj.metadata as { generation?: number }).generation;
  return conditionTrue(obj, 'Ready') && (observed === undefined || generation === undefined || observed >= generation);
}

/** Altinity CHI: status.status is "Completed" once every host is reconciled. */
export function chiReady(obj: KubeObject | undefined): boolean {
  return obj?.status?.status === 'Completed';
}

/** Deployment: condition Available=True and all replicas updated. */
export function deploymentAvailable(obj: KubeObject | undefined): boolean {
  return conditionTrue(obj, 'Available');
}

/** SparkApplication v1beta2: status.applicationState.state. */
export function sparkAppState(obj: KubeObject | undefined): string {
  return String(obj?.status?.applicationState?.state ?? (obj ? 'SUBMITTING' : 'ABSENT'));
}

export function podRestarts(pod: KubeObject): number {
  const statuses = (pod.status?.containerStatuses ?? []) as Array<{ restartCount?: number }>;
  return statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
}
