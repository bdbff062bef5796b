import { applyClickHouseSchemaStep } from '../../stack/clickhouse-schema.ts';
import { createKafkaTopicsStep } from '../../stack/kafka-topics.ts';
import {
  cpuBudget, helmValuesPods, KIND_NODE_CPU_MILLICORES, KIND_NODE_OVERHEAD_MIB, manifestPods, memoryBudget,
  type CpuBudget, type MemoryBudget, type PodResources,
} from './budget.ts';
import type { KindEnv, KindStep } from './context.ts';
import { kindEndpoints } from './endpoints.ts';
import { renderClickHouseInstallation, renderClickHouseSecret, PASSWORD_PLACEHOLDER } from './render/clickhouse.ts';
import { renderNamespace } from './render/cluster.ts';
import { helmReleases, readValues } from './render/helm.ts';
import { renderKafka, renderKafkaNodePool, renderKafkaTopics } from './render/kafka.ts';
import type { Manifest } from './render/manifest.ts';
import { renderKafkaMetricsConfig, renderMonitoring } from './render/monitoring.ts';
import { sharedStep } from './shared-steps.ts';
import { clickHouseSecretStep, applyManifestsStep } from './steps/apply.ts';
import { helmReleaseStep } from './steps/helm.ts';
import { preflightStep, type StackNeeds } from './steps/preflight.ts';
import { applySparkApplicationStep, buildImageStep, sparkManifests, waitForStreamingStep, type Submission } from './steps/submit.ts';
import { waitForStackStep } from './steps/wait-ready.ts';

/** Prometheus, Alertmanager and what they scrape, unless `monitoring.enabled` is false. */
function monitoringManifests(k: KindEnv): Manifest[] {
  return k.monitoring.enabled ? renderMonitoring(k.config, k.monitoring) : [];
}

/** Every manifest of the stack (up and submit), as rendered for this config. */
export function stackManifests(k: KindEnv, image: string): Manifest[] {
  return [
    renderNamespace(k.config.namespace),
    ...k.cluster.clusterManifests(),
    renderKafkaMetricsConfig(k.config),
    renderKafkaNodePool(k.config, k.cluster),
    renderKafka(k.config, k.cluster),
    ...renderKafkaTopics(k.config),
    renderClickHouseSecret(k.config, PASSWORD_PLACEHOLDER),
    renderClickHouseInstallation(k.config, k.cluster),
    ...monitoringManifests(k),
    ...sparkManifests(k, image),
  ];
}

/**
 * The budgets from what is actually deployed: the rendered manifests' pods and the Helm values
 * files' operator pods (read from the real manifests/ folder), plus the kind node itself.
 */
export function stackBudget(
  k: KindEnv,
  image: string,
  manifestsDir: string,
  join: (...p: string[]) => string,
): { memory: MemoryBudget; cpu: CpuBudget } {
  const operators = helmReleases(k.config, manifestsDir, { join }).flatMap((r) => helmValuesPods(r.name, readValues(r.valuesPath)));
  const pods = stackManifests(k, image).flatMap(manifestPods);
  const name = k.cluster.nodeBudgetName;
  const node: PodResources = {
    memory: { name, request_mib: KIND_NODE_OVERHEAD_MIB, limit_mib: KIND_NODE_OVERHEAD_MIB },
    cpu: { name, request_millicores: KIND_NODE_CPU_MILLICORES, limit_millicores: null },
  };
  const all = [node, ...operators, ...pods];
  return { memory: memoryBudget(all.map((p) => p.memory)), cpu: cpuBudget(all.map((p) => p.cpu)) };
}

export function upSteps(k: KindEnv, needs: StackNeeds): KindStep[] {
  const found: { kindVersion?: string; clusterExists?: boolean } = {};
  const manifestsDir = k.pathApi.join(k.projectRoot, 'manifests');
  const [spark, strimzi, clickhouse] = helmReleases(k.config, manifestsDir, k.pathApi);
  const topics = renderKafkaTopics(k.config);
  const endpoints = () => kindEndpoints(k);
  return [
    preflightStep(k, needs, found),
    k.cluster.clusterStep(k, found),
    applyManifestsStep(k, 'Namespace and storage class', [
      renderNamespace(k.config.namespace),
      ...k.cluster.clusterManifests(),
    ]),
    helmReleaseStep(k, spark!, 'Kubeflow Spark Operator'),
    helmReleaseStep(k, strimzi!, 'Strimzi Kafka operator'),
    helmReleaseStep(k, clickhouse!, 'Altinity ClickHouse operator'),
    applyManifestsStep(k, 'Kafka (KRaft, one dual-role node) and topics', [
      renderKafkaMetricsConfig(k.config),
      renderKafkaNodePool(k.config, k.cluster),
      renderKafka(k.config, k.cluster),
      ...topics,
    ]),
    clickHouseSecretStep(k),
    applyManifestsStep(k, 'ClickHouse (ClickHouseInstallation on a PVC)', [renderClickHouseInstallation(k.config, k.cluster)]),
    ...(k.monitoring.enabled
      ? [applyManifestsStep(k, 'Monitoring (Prometheus with the alert rules, Alertmanager, scrape services)', monitoringManifests(k))]
      : []),
    waitForStackStep(k, topics),
    // The same code as the local target: topics checked from the host, schema applied.
    sharedStep(createKafkaTopicsStep(endpoints)),
    sharedStep(applyClickHouseSchemaStep(endpoints, k.retentionDays)),
  ];
}

export function submitSteps(k: KindEnv, image: string): KindStep[] {
  const submission: Submission = { specChanged: true };
  return [
    buildImageStep(k, image),
    ...k.cluster.imageSteps(k, image),
    applySparkApplicationStep(k, image, submission),
    waitForStreamingStep(k, submission),
  ];
}

export function downSteps(k: KindEnv, keepCluster: boolean): KindStep[] {
  return k.cluster.downSteps(k, keepCluster);
}

