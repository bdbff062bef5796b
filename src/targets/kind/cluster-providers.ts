import type { KindConfig } from '../../config/kind.ts';
import type { ClusterProvider } from './context.ts';
import { NAMES } from './names.ts';
import { renderStorageClass } from './render/cluster.ts';
import { createKindClusterStep, deleteKindClusterStep, useDockerDesktopClusterStep } from './steps/cluster.ts';
import { removeWorkloadsStep } from './steps/down.ts';
import { loadImageStep } from './steps/submit.ts';

/** A cluster the CLI creates with kind, loads images into, and may delete. */
function kindCluster(config: KindConfig): ClusterProvider {
  return {
    mode: 'kind',
    // kind prefixes its clusters' contexts with "kind-"
    kubeContext: `kind-${config.clusterName}`,
    usesKindCli: true,
    serviceType: 'NodePort',
    storageClassName: NAMES.storageClass,
    nodeBudgetName: 'kind node (control plane, CoreDNS, kindnet, local-path)',
    clusterManifests: () => [renderStorageClass()],
    clusterStep: (k, found) => createKindClusterStep(k, found),
    imageSteps: (k, image) => [loadImageStep(k, image)],
    downSteps: (k, keepCluster) => [keepCluster ? removeWorkloadsStep(k) : deleteKindClusterStep(k)],
    downDestroys: (keepCluster) => (keepCluster ? undefined : 'delete the kind cluster'),
  };
}

/** Docker Desktop's built-in cluster: used as it is, never deleted; it sees the images Docker builds. */
function dockerDesktopCluster(config: KindConfig): ClusterProvider {
  return {
    mode: 'docker-desktop',
    kubeContext: 'docker-desktop',
    usesKindCli: false,
    serviceType: 'LoadBalancer',
    storageClassName: undefined,
    nodeBudgetName: 'Docker Desktop Kubernetes node (control plane, CoreDNS)',
    clusterManifests: () => [],
    clusterStep: (k) => useDockerDesktopClusterStep(k),
    imageSteps: () => [],
    downSteps: (k) => [removeWorkloadsStep(k)],
    downDestroys: (keepCluster) => (keepCluster ? undefined : `delete namespace ${config.namespace} and its data (Docker Desktop's cluster stays)`),
  };
}

const PROVIDERS: Record<KindConfig['cluster'], (config: KindConfig) => ClusterProvider> = {
  kind: kindCluster,
  'docker-desktop': dockerDesktopCluster,
};

export function clusterProvider(config: KindConfig): ClusterProvider {
  return PROVIDERS[config.cluster](config);
}
