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

/**
 * The CPUs docs/kind.md tells the user to give Docker Desktop (.wslconfig `processors=4`).
 * Kubernetes schedules by requests: their sum must fit the node's CPUs, with room to spare.
 */
export const CPU_LIMIT_MILLICORES = 4000;

/**
 * The node's own pods' CPU requests: kubeadm's static pods (kube-apiserver 250m,
 * kube-controller-manager 200m, kube-scheduler 100m, etcd 100m), CoreDNS 2 × 100m, kindnet 100m.
 */
export const KIND_NODE_CPU_MILLICORES = 950;

export interface CpuItem {
  name: string;
  request_millicores: number;
  /** null: no CPU limit (the pod may use idle CPU; only requests are reserved). */
  limit_millicores: number | null;
}

export interface CpuBudget {
  limit_millicores: number;
  /** Sum of the requests: what the scheduler must find on the node. */
  total_millicores: number;
  headroom_millicores: number;
  items: CpuItem[];
}

/** Kubernetes CPU quantities ("500m", "1", "0.25") in millicores. */
export function cpuToMillicores(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === 'number') return Math.round(q * 1000);
  const m = /^([0-9.]+)(m?)$/.exec(q.trim());
  if (!m) throw new Error(`unsupported CPU quantity '${q}'`);
  return Math.round(m[2] ? Number(m[1]) : Number(m[1]) * 1000);
}

interface Resources {
  requests?: { memory?: string; cpu?: string | number };
  limits?: { memory?: string; cpu?: string | number };
}

/** One pod (or its replicas): memory and CPU as its spec reserves and limits them. */
export interface PodResources {
  memory: BudgetItem;
  cpu: CpuItem;
}

function pod(name: string, r: Resources | undefined, replicas = 1): PodResources {
  if (!r?.limits?.memory) throw new Error(`${name}: no memory limit; every pod of the stack must have one`);
  if (r.requests?.cpu === undefined) throw new Error(`${name}: no CPU request; every pod of the stack must have one`);
  const limit = quantityToMiB(r.limits.memory);
  const request = r.requests?.memory ? quantityToMiB(r.requests.memory) : limit;
  const label = replicas > 1 ? `${name} ×${replicas}` : name;
  const cpuLimit = r.limits.cpu === undefined ? null : cpuToMillicores(r.limits.cpu) * replicas;
  return {
    memory: { name: label, request_mib: Math.round(request * replicas), limit_mib: Math.round(limit * replicas) },
    cpu: { name: label, request_millicores: cpuToMillicores(r.requests.cpu) * replicas, limit_millicores: cpuLimit },
  };
}

/** The pods one rendered manifest creates, with their memory and CPU (throws when a pod has no memory limit or CPU request). */
export function manifestPods(m: Manifest): PodResources[] {
  const spec = (m as { spec?: any }).spec;
  switch (m.kind) {
    case 'KafkaNodePool':
      return [pod(`Kafka node pool ${m.metadata.name}`, spec.resources, spec.replicas)];
    case 'Kafka': {
      const eo = spec.entityOperator ?? {};
      return [
        ...(eo.topicOperator ? [pod('Strimzi topic operator', eo.topicOperator.resources)] : []),
        ...(eo.userOperator ? [pod('Strimzi user operator', eo.userOperator.resources)] : []),
      ];
    }
    case 'Deployment':
      return (spec.template?.spec?.containers ?? []).map((c: any) =>
        pod(m.metadata.name, c.resources, spec.replicas ?? 1),
      );
    case 'ClickHouseInstallation': {
      const replicas = (spec.configuration?.clusters ?? []).reduce(
        (n: number, c: any) => n + (c.layout?.shardsCount ?? 1) * (c.layout?.replicasCount ?? 1),
        0,
      );
      return (spec.templates?.podTemplates ?? []).flatMap((t: any) =>
        (t.spec?.containers ?? []).map((c: any) => pod(`ClickHouse ${c.name}`, c.resources, replicas)),
      );
    }
    case 'SparkApplication': {
      // Spark on Kubernetes sets memory request = limit = memory + memoryOverhead for each pod;
      // the CPU request is coreRequest (else `cores`), the limit coreLimit (else none).
      const size = (p: any): Resources => {
        const memory = `${sparkSizeToMiB(p.memory) + sparkSizeToMiB(p.memoryOverhead)}Mi`;
        return {
          requests: { memory, cpu: p.coreRequest ?? p.cores },
          limits: { memory, ...(p.coreLimit ? { cpu: p.coreLimit } : {}) },
        };
      };
      const executors = spec.dynamicAllocation?.enabled ? spec.dynamicAllocation.maxExecutors : spec.executor.instances;
      return [pod('Spark driver', size(spec.driver)), pod('Spark executors (max dynamic allocation)', size(spec.executor), executors)];
    }
    default:
      return [];
  }
}

/** Operator pods from the Helm values files (the charts render exactly these resources). */
export function helmValuesPods(release: string, values: Record<string, any>): PodResources[] {
  switch (release) {
    case 'spark-operator':
      return [
        pod('Spark Operator controller', values.controller?.resources, values.controller?.replicas ?? 1),
        ...(values.webhook?.enable ? [pod('Spark Operator webhook', values.webhook?.resources, values.webhook?.replicas ?? 1)] : []),
      ];
    case 'strimzi':
      return [pod('Strimzi cluster operator', values.resources, values.replicas ?? 1)];
    case 'clickhouse-operator':
      return [
        pod('ClickHouse operator', values.operator?.resources),
        ...(values.metrics?.enabled !== false ? [pod('ClickHouse operator metrics exporter', values.metrics?.resources)] : []),
      ];
    default:
      throw new Error(`no resource rule for Helm release ${release}`);
  }
}

export function memoryBudget(items: BudgetItem[]): MemoryBudget {
  const total = items.reduce((n, i) => n + i.limit_mib, 0);
  return { limit_mib: MEMORY_LIMIT_MIB, total_mib: total, headroom_mib: MEMORY_LIMIT_MIB - total, items };
}

export function cpuBudget(items: CpuItem[]): CpuBudget {
  const total = items.reduce((n, i) => n + i.request_millicores, 0);
  return { limit_millicores: CPU_LIMIT_MILLICORES, total_millicores: total, headroom_millicores: CPU_LIMIT_MILLICORES - total, items };
}
