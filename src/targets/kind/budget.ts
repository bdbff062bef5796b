import type { Manifest } from './render/manifest.ts';

/** Requirement 4.5: the whole stack in at most 9.5 GB. */
export const MEMORY_LIMIT_MIB = 9728;

/**
 * The kind node itself (kubelet, containerd, etcd, API server, controller manager, scheduler,
 * CoreDNS, kube-proxy, kindnet, local-path provisioner): not a pod spec we render, so it is the one
 * figure kept by hand. Measured figures for a fresh single-node kind cluster are 600–900 MiB.
 */
export const KIND_NODE_OVERHEAD_MIB = 1024;

export interface BudgetItem {
  name: string;
  request_mib: number;
  limit_mib: number;
}

export interface MemoryBudget {
  limit_mib: number;
  total_mib: number;
  headroom_mib: number;
  items: BudgetItem[];
}

/** Kubernetes quantities: Ki/Mi/Gi (binary) and k/M/G (decimal), in MiB. */
export function quantityToMiB(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === 'number') return q / 1024 / 1024;
  const m = /^([0-9.]+)([KMGT]i?|[kmgt])?$/.exec(q.trim());
  if (!m) throw new Error(`unsupported memory quantity '${q}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const factor: Record<string, number> = {
    '': 1 / 1024 / 1024,
    Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 * 1024,
    k: 1000 / 1024 / 1024, K: 1000 / 1024 / 1024, M: 1e6 / 1024 / 1024, G: 1e9 / 1024 / 1024, T: 1e12 / 1024 / 1024,
  };
  const f = factor[unit];
  if (f === undefined) throw new Error(`unsupported memory unit in '${q}'`);
  return n * f;
}

/** Spark's JVM sizes ("896m", "1g") are binary: m = MiB, g = GiB. */
export function sparkSizeToMiB(s: string): number {
  const m = /^([0-9]+)([kmgt])b?$/i.exec(s.trim());
  if (!m) throw new Error(`unsupported Spark memory size '${s}'`);
  const unit = m[2]!.toLowerCase();
  const n = Number(m[1]);
  return unit === 'k' ? n / 1024 : unit === 'm' ? n : unit === 'g' ? n * 1024 : n * 1024 * 1024;
}

interface Resources {
  requests?: { memory?: string };
  limits?: { memory?: string };
}

function item(name: string, r: Resources | undefined, replicas = 1): BudgetItem {
  if (!r?.limits?.memory) throw new Error(`${name}: no memory limit; every pod of the stack must have one`);
  const limit = quantityToMiB(r.limits.memory);
  const request = r.requests?.memory ? quantityToMiB(r.requests.memory) : limit;
  const label = replicas > 1 ? `${name} ×${replicas}` : name;
  return { name: label, request_mib: Math.round(request * replicas), limit_mib: Math.round(limit * replicas) };
}

/** The pods one rendered manifest creates, with their memory (throws when a pod has no limit). */
export function manifestMemory(m: Manifest): BudgetItem[] {
  const spec = (m as { spec?: any }).spec;
  switch (m.kind) {
    case 'KafkaNodePool':
      return [item(`Kafka node pool ${m.metadata.name}`, spec.resources, spec.replicas)];
    case 'Kafka': {
      const eo = spec.entityOperator ?? {};
      return [
        ...(eo.topicOperator ? [item('Strimzi topic operator', eo.topicOperator.resources)] : []),
        ...(eo.userOperator ? [item('Strimzi user operator', eo.userOperator.resources)] : []),
      ];
    }
    case 'ClickHouseInstallation': {
      const replicas = (spec.configuration?.clusters ?? []).reduce(
        (n: number, c: any) => n + (c.layout?.shardsCount ?? 1) * (c.layout?.replicasCount ?? 1),
        0,
      );
      return (spec.templates?.podTemplates ?? []).flatMap((t: any) =>
        (t.spec?.containers ?? []).map((c: any) => item(`ClickHouse ${c.name}`, c.resources, replicas)),
      );
    }
    case 'SparkApplication': {
      // Spark on Kubernetes sets request = limit = memory + memoryOverhead for each pod.
      const pod = (p: any) => `${sparkSizeToMiB(p.memory) + sparkSizeToMiB(p.memoryOverhead)}Mi`;
      const executors = spec.dynamicAllocation?.enabled ? spec.dynamicAllocation.maxExecutors : spec.executor.instances;
      const size = (p: any) => ({ requests: { memory: pod(p) }, limits: { memory: pod(p) } });
      return [item('Spark driver', size(spec.driver)), item('Spark executors (max dynamic allocation)', size(spec.executor), executors)];
    }
    default:
      return [];
  }
}

/** Operator pods from the Helm values files (the charts render exactly these resources). */
export function helmValuesMemory(release: string, values: Record<string, any>): BudgetItem[] {
  switch (release) {
    case 'spark-operator':
      return [
        item('Spark Operator controller', values.controller?.resources, values.controller?.replicas ?? 1),
        ...(values.webhook?.enable ? [item('Spark Operator webhook', values.webhook?.resources, values.webhook?.replicas ?? 1)] : []),
      ];
    case 'strimzi':
      return [item('Strimzi cluster operator', values.resources, values.replicas ?? 1)];
    case 'clickhouse-operator':
      return [
        item('ClickHouse operator', values.operator?.resources),
        ...(values.metrics?.enabled !== false ? [item('ClickHouse operator metrics exporter', values.metrics?.resources)] : []),
      ];
    default:
      throw new Error(`no memory rule for Helm release ${release}`);
  }
}

export function memoryBudget(items: BudgetItem[]): MemoryBudget {
  const total = items.reduce((n, i) => n + i.limit_mib, 0);
  return { limit_mib: MEMORY_LIMIT_MIB, total_mib: total, headroom_mib: MEMORY_LIMIT_MIB - total, items };
}
