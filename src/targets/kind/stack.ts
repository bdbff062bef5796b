import { applyClickHouseSchemaStep } from '../../stack/clickhouse-schema.ts';
import { createKafkaTopicsStep } from '../../stack/kafka-topics.ts';
import { helmValuesMemory, KIND_NODE_OVERHEAD_MIB, manifestMemory, memoryBudget, type MemoryBudget } from './budget.ts';
import type { KindEnv, KindStep } from './context.ts';
import { kindEndpoints } from './endpoints.ts';
import { renderClickHouseInstallation, renderClickHouseSecret, PASSWORD_PLACEHOLDER } from './render/clickhouse.ts';
import { renderNamespace } from './render/cluster.ts';
import { helmReleases, readValues } from './render/helm.ts';
import { renderKafka, renderKafkaNodePool, renderKafkaTopics } from './render/kafka.ts';
import type { Manifest } from './render/manifest.ts';
import { sharedStep } from './shared-steps.ts';
import { clickHouseSecretStep, applyManifestsStep } from './steps/apply.ts';
import { helmReleaseStep } from './steps/helm.ts';
import { preflightStep } from './steps/preflight.ts';
import { applySparkApplicationStep, buildImageStep, sparkManifests, waitForStreamingStep } from './steps/submit.ts';
import { waitForStackStep } from './steps/wait-ready.ts';

/** Every manifest of the stack (up and submit), as rendered for this config. */
export function stackManifests(k: KindEnv, image: string): Manifest[] {
  return [
    renderNamespace(k.config.namespace),
    ...k.cluster.clusterManifests(),
    renderKafkaNodePool(k.config, k.cluster),
    renderKafka(k.config, k.cluster),
    ...renderKafkaTopics(k.config),
    renderClickHouseSecret(k.config, PASSWORD_PLACEHOLDER),
    renderClickHouseInstallation(k.config, k.cluster),
    ...sparkManifests(k, image),
  ];
}

/**
 * The budget from what is actually deployed: the rendered manifests' pods and the Helm values
 * files' operator pods (read from the real manifests/ folder), plus the kind node itself.
 */
export function stackBudget(k: KindEnv, image: string, manifestsDir: string, join: (...p: string[]) => string): MemoryBudget {
  const operators = helmReleases(k.config, manifestsDir, { join }).flatMap((r) => helmValuesMemory(r.name, readValues(r.valuesPath)));
  const pods = stackManifests(k, image).flatMap(manifestMemory);
  const node = [{ name: k.cluster.nodeBudgetName, request_mib: KIND_NODE_OVERHEAD_MIB, limit_mib: KIND_NODE_OVERHEAD_MIB }];
  return memoryBudget([...node, ...operators, ...pods]);
}

export function upSteps(k: KindEnv, neededMiB: number): KindStep[] {
  const found: { kindVersion?: string; clusterExists?: boolean } = {};
  const manifestsDir = k.pathApi.join(k.projectRoot, 'manifests');
  const [spark, strimzi, clickhouse] = helmReleases(k.config, manifestsDir, k.pathApi);
  const topics = renderKafkaTopics(k.config);
  const endpoints = () => kindEndpoints(k);
  return [
    preflightStep(k, neededMiB, found),
    k.cluster.clusterStep(k, found),
    applyManifestsStep(k, 'Namespace and storage class', [
      renderNamespace(k.config.namespace),
      ...k.cluster.clusterManifests(),
    ]),
    helmReleaseStep(k, spark!, 'Kubeflow Spark Operator'),
    helmReleaseStep(k, strimzi!, 'Strimzi Kafka operator'),
    helmReleaseStep(k, clickhouse!, 'Altinity ClickHouse operator'),
    applyManifestsStep(k, 'Kafka (KRaft, one dual-role node) and topics', [renderKafkaNodePool(k.config, k.cluster), renderKafka(k.config, k.cluster), ...topics]),
    clickHouseSecretStep(k),
    applyManifestsStep(k, 'ClickHouse (ClickHouseInstallation on a PVC)', [renderClickHouseInstallation(k.config, k.cluster)]),
    waitForStackStep(k, topics),
    // The same code as the local target: topics checked from the host, schema applied.
    sharedStep(createKafkaTopicsStep(endpoints)),
    sharedStep(applyClickHouseSchemaStep(endpoints, k.retentionDays)),
  ];
}

export function submitSteps(k: KindEnv, image: string): KindStep[] {
  return [
    buildImageStep(k, image),
    ...k.cluster.imageSteps(k, image),
    applySparkApplicationStep(k, image),
    waitForStreamingStep(k),
  ];
}

export function downSteps(k: KindEnv, keepCluster: boolean): KindStep[] {
  return k.cluster.downSteps(k, keepCluster);
}

