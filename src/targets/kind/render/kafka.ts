import { pipeline } from '../../../contract/index.ts';
import type { KindConfig } from '../../../config/kind.ts';
import { CLUSTER_PORTS, NAMES, NODE_PORTS } from '../names.ts';
import { KAFKA_METADATA_VERSION, KAFKA_VERSION } from '../versions.ts';
import type { ClusterProvider } from '../context.ts';
import { MANAGED_BY, type Manifest } from './manifest.ts';
import { KAFKA_METRICS_KEY } from './monitoring.ts';

const clusterLabel = { 'strimzi.io/cluster': NAMES.kafkaCluster };

/** One dual-role (controller + broker) KRaft node on a persistent volume. */
export function renderKafkaNodePool(config: KindConfig, cluster: ClusterProvider): Manifest {
  const memory = `${config.resources.kafkaMiB}Mi`;
  // Half the container for the heap, the rest for page cache and metaspace.
  const heap = `${Math.floor(config.resources.kafkaMiB / 2)}m`;
  const sc = cluster.storageClassName;
  return {
    apiVersion: 'kafka.strimzi.io/v1',
    kind: 'KafkaNodePool',
    metadata: { name: NAMES.kafkaNodePool, namespace: config.namespace, labels: { ...MANAGED_BY, ...clusterLabel } },
    spec: {
      replicas: 1,
      roles: ['controller', 'broker'],
      storage: {
        type: 'jbod',
        volumes: [
          {
            id: 0,
            type: 'persistent-claim',
            size: `${config.storage.kafkaGi}Gi`,
            ...(sc ? { class: sc } : {}),
            kraftMetadata: 'shared',
            deleteClaim: true,
          },
        ],
      },
      resources: { requests: { memory, cpu: '250m' }, limits: { memory } },
      jvmOptions: { '-Xms': heap, '-Xmx': heap },
    },
  };
}

/**
 * The host reaches the broker at 127.0.0.1:<ports.kafka>. On our kind cluster that is a NodePort
 * published by extraPortMappings on 127.0.0.1; on Docker Desktop a LoadBalancer service, which
 * Docker Desktop publishes on every host interface (docs/kind.md says so and how to firewall it;
 * one broker, so no separate bootstrap service is needed there).
 */
function externalListener(config: KindConfig, cluster: ClusterProvider): Record<string, unknown> {
  const advertised = { broker: 0, advertisedHost: '127.0.0.1', advertisedPort: config.ports.kafka };
  if (cluster.serviceType === 'LoadBalancer') {
    return {
      name: 'external',
      port: config.ports.kafka,
      type: 'loadbalancer',
      tls: false,
      configuration: { createBootstrapService: false, brokers: [advertised] },
    };
  }
  return {
    name: 'external',
    port: CLUSTER_PORTS.kafkaExternal,
    type: 'nodeport',
    tls: false,
    configuration: {
      bootstrap: { nodePort: NODE_PORTS.kafkaBootstrap },
      brokers: [{ ...advertised, nodePort: NODE_PORTS.kafkaBroker }],
    },
  };
}

export function renderKafka(config: KindConfig, cluster: ClusterProvider): Manifest {
  return {
    apiVersion: 'kafka.strimzi.io/v1',
    kind: 'Kafka',
    metadata: { name: NAMES.kafkaCluster, namespace: config.namespace, labels: { ...MANAGED_BY } },
    spec: {
      kafka: {
        version: KAFKA_VERSION,
        metadataVersion: KAFKA_METADATA_VERSION,
        // The broker's JMX exporter on :9404 (Strimzi's port), rules in the ConfigMap applied before it.
        metricsConfig: {
          type: 'jmxPrometheusExporter',
          valueFrom: { configMapKeyRef: { name: NAMES.kafkaMetricsConfig, key: KAFKA_METRICS_KEY } },
        },
        listeners: [
          { name: 'plain', port: CLUSTER_PORTS.kafkaPlain, type: 'internal', tls: false },
          externalListener(config, cluster),
        ],
        config: {
          // A single node: every internal topic has one replica.
          'offsets.topic.replication.factor': 1,
          'transaction.state.log.replication.factor': 1,
          'transaction.state.log.min.isr': 1,
          'default.replication.factor': 1,
          'min.insync.replicas': 1,
          // Topics come from KafkaTopic resources only (rendered from pipeline.json).
          'auto.create.topics.enable': false,
        },
      },
      entityOperator: {
        topicOperator: { resources: { requests: { memory: '256Mi', cpu: '50m' }, limits: { memory: '256Mi' } } },
      },
    },
  };
}

/** Kubernetes names allow dots, but Strimzi recommends plain names; the real name goes in topicName. */
export function topicResourceName(topic: string): string {
  return topic.toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

/** The topics of src/contract/pipeline.json, as Strimzi KafkaTopic resources. */
export function renderKafkaTopics(config: KindConfig): Manifest[] {
  return Object.values(pipeline.kafka.topics).map((t) => ({
    apiVersion: 'kafka.strimzi.io/v1',
    kind: 'KafkaTopic',
    metadata: { name: topicResourceName(t.name), namespace: config.namespace, labels: { ...MANAGED_BY, ...clusterLabel } },
    spec: { topicName: t.name, partitions: t.partitions, replicas: 1, config: { ...t.config } },
  }));
}
