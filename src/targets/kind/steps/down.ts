import type { Status } from '../../../base/status.ts';
import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import { NAMES } from '../names.ts';
import { CHARTS } from '../versions.ts';

export function helmUninstallCommands(k: KindEnv): string[][] {
  const ctx = k.cluster.kubeContext;
  return [CHARTS.sparkOperator, CHARTS.clickhouseOperator, CHARTS.strimzi].map((c) => [
    'helm', 'uninstall', c.release, '--namespace', k.config.namespace, '--kube-context', ctx, '--ignore-not-found', '--wait',
  ]);
}

/**
 * Custom resources first, while their operators still run to clean up (finalizers), then the
 * operators, then the namespace (PVCs and their data go with it). The cluster itself stays.
 */
export async function removeWorkloads(k: KindEnv, status: Status): Promise<string> {
  const ns = k.config.namespace;
  const kube = k.kube();
  const crs: Array<[string, string, string]> = [
    ['sparkoperator.k8s.io/v1beta2', 'SparkApplication', NAMES.sparkApp],
    ['clickhouse.altinity.com/v1', 'ClickHouseInstallation', NAMES.chi],
    ['kafka.strimzi.io/v1', 'Kafka', NAMES.kafkaCluster],
    ['kafka.strimzi.io/v1', 'KafkaNodePool', NAMES.kafkaNodePool],
  ];
  let removed = 0;
  for (const [apiVersion, kind, name] of crs) {
    status.update(`${kind}/${name}`);
    // An unknown kind (operator never installed) reads as "nothing to delete".
    if (await kube.remove(apiVersion, kind, ns, name).catch(() => false)) removed++;
  }
  for (const c of helmUninstallCommands(k)) {
    status.update(c.slice(0, 3).join(' '));
    await k.runner.run(c, { timeoutMs: 5 * 60_000 });
  }
  await kube.remove('v1', 'Namespace', undefined, ns);
  return `${removed} resources, 3 releases and namespace ${ns} removed`;
}

export function removeWorkloadsStep(k: KindEnv): KindStep {
  return kindStep(`Remove the stack from namespace ${k.config.namespace} (cluster kept)`, { commands: helmUninstallCommands(k) }, (ctx) =>
    removeWorkloads(k, ctx.status),
  );
}
