import type { KindConfig } from '../../../config/kind.ts';
import { NAMES, NODE_PORTS } from '../names.ts';
import { MANAGED_BY, type Manifest } from './manifest.ts';

/**
 * The kind cluster config (kind.x-k8s.io/v1alpha4): one node, host ports bound to 127.0.0.1 only
 * (Windows Firewall never asks, nothing is exposed on the LAN).
 */
export function renderKindClusterConfig(config: KindConfig, nodeImage: string | undefined): Record<string, unknown> {
  const map = (containerPort: number, hostPort: number) => ({
    containerPort,
    hostPort,
    listenAddress: '127.0.0.1',
    protocol: 'TCP',
  });
  return {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    name: config.clusterName,
    nodes: [
      {
        role: 'control-plane',
        ...(nodeImage ? { image: nodeImage } : {}),
        labels: { 'speedlayer.dev/node': 'true' },
        extraPortMappings: [
          map(NODE_PORTS.clickhouseHttp, config.ports.clickhouseHttp),
          map(NODE_PORTS.kafkaBroker, config.ports.kafka),
          map(NODE_PORTS.sparkUi, config.ports.sparkUi),
        ],
      },
    ],
  };
}

/** kind ships rancher's local-path provisioner; this class adds late binding and an explicit name. */
export function renderStorageClass(): Manifest {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: NAMES.storageClass, labels: { ...MANAGED_BY } },
    provisioner: 'rancher.io/local-path',
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  };
}

export function renderNamespace(namespace: string): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { ...MANAGED_BY } } };
}
