import type { PlatformPath } from 'node:path';
import type { KindConfig } from '../../config/kind.ts';
import type { MonitoringConfig } from '../../config/schema.ts';
import type { CommandRunner } from './exec.ts';
import type { KubeApi } from './k8s.ts';
import type { Manifest } from './render/manifest.ts';
import type { Step } from '../../base/step.ts';

/**
 * Where the cluster comes from (kind cluster the CLI creates, Docker Desktop's own; a remote
 * cluster later): every difference between them is decided here, in cluster-providers.ts.
 */
export interface ClusterProvider {
  readonly mode: KindConfig['cluster'];
  /** The kubectl/helm context of the cluster. */
  readonly kubeContext: string;
  /** Whether preflight needs the kind CLI, its node image and the cluster's existence. */
  readonly usesKindCli: boolean;
  /** How the host reaches a service: our kind node publishes NodePorts on 127.0.0.1; Docker Desktop publishes LoadBalancers on every host interface (docs/kind.md). */
  readonly serviceType: 'NodePort' | 'LoadBalancer';
  /** The PVCs' StorageClass: ours on the cluster we create; Docker Desktop keeps its default (undefined). */
  readonly storageClassName: string | undefined;
  /** The node's own pods, as a line of the memory budget. */
  readonly nodeBudgetName: string;
  /** Cluster-scoped manifests applied with the namespace. */
  clusterManifests(): Manifest[];
  /** Makes the cluster exist (or checks it does). */
  clusterStep(k: KindEnv, found: { kindVersion?: string; clusterExists?: boolean }): KindStep;
  /** Makes a locally built image visible to the cluster's nodes. */
  imageSteps(k: KindEnv, image: string): KindStep[];
  /** What `down` runs (keepCluster: only the workloads). */
  downSteps(k: KindEnv, keepCluster: boolean): KindStep[];
  /** What `down` destroys, to confirm first. */
  downDestroys(keepCluster: boolean): string | undefined;
}

/** Everything the kind target's steps need; tests pass fakes and `path.win32`. */
export interface KindEnv {
  config: KindConfig;
  cluster: ClusterProvider;
  /** The top-level `monitoring` section: Prometheus, Alertmanager, the rules' thresholds. */
  monitoring: MonitoringConfig;
  /** The top-level `retentionDays`: every ClickHouse table's TTL. */
  retentionDays: number;
  /** State directory (~/.speedlayer): marks the clusters the CLI created. */
  home: string;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  pathApi: PlatformPath;
  projectRoot: string;
  tmpDir: string;
  runner: CommandRunner;
  /** Created on first use: the kubeconfig context exists only once the cluster does. */
  kube: () => KubeApi;
}

/** A step that can also say, without running, which commands it runs and what it applies. */
export interface KindStep extends Step {
  readonly commands: string[][];
  readonly manifests: Manifest[];
}

export function kindStep(
  name: string,
  parts: { commands?: string[][]; manifests?: Manifest[] },
  execute: Step['execute'],
): KindStep {
  return { name, commands: parts.commands ?? [], manifests: parts.manifests ?? [], execute };
}
