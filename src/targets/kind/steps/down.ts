import { setTimeout as sleep } from 'node:timers/promises';
import { SpeedlayerError } from '../../../base/errors.ts';
import type { Status } from '../../../base/status.ts';
import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import type { KubeApi } from '../k8s.ts';
import { NAMES } from '../names.ts';
import { CHARTS } from '../versions.ts';

export function helmUninstallCommands(k: KindEnv): string[][] {
  const ctx = k.cluster.kubeContext;
  // No --ignore-not-found (Helm 3.13+): an absent release is skipped after `helm status` says so.
  return [CHARTS.sparkOperator, CHARTS.clickhouseOperator, CHARTS.strimzi].map((c) => [
    'helm', 'uninstall', c.release, '--namespace', k.config.namespace, '--kube-context', ctx, '--wait',
  ]);
}

function helmStatusCommand(k: KindEnv, release: string): string[] {
  return ['helm', 'status', release, '--namespace', k.config.namespace, '--kube-context', k.cluster.kubeContext];
}

interface CustomResources {
  apiVersion: string;
  kind: string;
  /** One named resource, or every one of the kind carrying these labels. */
  name?: string;
  labelSelector?: string;
  /** Who finalizes it: must still run while it is deleted. */
  finalizer: string;
}

/**
 * Deletion order: each custom resource while the operator that finalizes it still runs. KafkaTopics
 * go before the Kafka, because their finalizer (strimzi.io/topic-operator) is cleared by the topic
 * operator, which the Kafka resource itself deploys.
 */
export function teardownOrder(): CustomResources[] {
  return [
    { apiVersion: 'sparkoperator.k8s.io/v1beta2', kind: 'SparkApplication', name: NAMES.sparkApp, finalizer: 'Spark Operator controller' },
    { apiVersion: 'kafka.strimzi.io/v1', kind: 'KafkaTopic', labelSelector: `strimzi.io/cluster=${NAMES.kafkaCluster}`, finalizer: 'Strimzi topic operator' },
    { apiVersion: 'clickhouse.altinity.com/v1', kind: 'ClickHouseInstallation', name: NAMES.chi, finalizer: 'ClickHouse operator' },
    { apiVersion: 'kafka.strimzi.io/v1', kind: 'Kafka', name: NAMES.kafkaCluster, finalizer: 'Strimzi cluster operator' },
    { apiVersion: 'kafka.strimzi.io/v1', kind: 'KafkaNodePool', name: NAMES.kafkaNodePool, finalizer: 'Strimzi cluster operator' },
  ];
}

/**
 * Deletes one resource and waits until it is gone. If its operator has not finalized it by the
 * deadline, the finalizers are removed (said in a warning: what the operator would have cleaned
 * up, e.g. a topic in Kafka, may be left behind, and goes with the namespace's volumes).
 */
async function deleteAndWait(
  kube: KubeApi,
  cr: CustomResources,
  ns: string,
  name: string,
  opts: { status: Status; timeoutMs: number; signal?: AbortSignal },
): Promise<boolean> {
  if (!(await kube.remove(cr.apiVersion, cr.kind, ns, name))) return false;
  const deadline = Date.now() + opts.timeoutMs;
  let forcedAt: number | undefined;
  for (;;) {
    const obj = await kube.get(cr.apiVersion, cr.kind, ns, name);
    if (!obj) return true;
    const finalizers = ((obj.metadata as { finalizers?: string[] }).finalizers ?? []).join(', ');
    opts.status.update(`${cr.kind}/${name}: waiting for the ${cr.finalizer} (finalizers: ${finalizers || 'none'})`);
    if (forcedAt === undefined && Date.now() > deadline) {
      opts.status.warn(
        `${cr.kind}/${name} was not finalized by the ${cr.finalizer} within ${Math.round(opts.timeoutMs / 1000)} s: ` +
          `removing its finalizers (${finalizers || 'none'}) as a last resort; what the operator would have cleaned up may be left behind.`,
      );
      await kube.removeFinalizers(cr.apiVersion, cr.kind, ns, name);
      forcedAt = Date.now();
    } else if (forcedAt !== undefined && Date.now() - forcedAt > 30_000) {
      throw new SpeedlayerError(`${cr.kind}/${name} is still there after its finalizers were removed`, {
        fix: `Look at it with 'kubectl get ${cr.kind.toLowerCase()} ${name} -n ${ns} -o yaml' (finalizers, deletionTimestamp), then run 'down' again.`,
      });
    }
    await sleep(500, undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
}

/**
 * Custom resources first, each waited for until its operator has finalized it, then the operators
 * (Helm), then the namespace (PVCs and their data go with it). The cluster itself stays.
 */
export async function removeWorkloads(k: KindEnv, status: Status, signal?: AbortSignal): Promise<string> {
  const ns = k.config.namespace;
  const kube = k.kube();
  const timeoutMs = k.config.finalizeTimeoutSeconds * 1000;
  let removed = 0;
  for (const cr of teardownOrder()) {
    // An unknown kind (its CRD was never installed) lists and reads as nothing to delete.
    const names = cr.name
      ? [cr.name]
      : (await kube.list(cr.apiVersion, cr.kind, ns, cr.labelSelector)).map((o) => o.metadata.name);
    for (const name of names) {
      status.update(`${cr.kind}/${name}`);
      if (await deleteAndWait(kube, cr, ns, name, { status, timeoutMs, signal })) removed++;
    }
  }
  let releases = 0;
  for (const c of helmUninstallCommands(k)) {
    const release = c[2]!;
    // Only "not found" means not installed: helm missing or the cluster unreachable must not pass
    // for it (the namespace would go while the operator's cluster-wide pieces stay).
    const installed = await k.runner.run(helmStatusCommand(k, release), { timeoutMs: 60_000 }).then(
      () => true,
      (err: Error) => {
        if (/release: not found/.test(err.message)) return false;
        throw new SpeedlayerError(`cannot tell whether the Helm release ${release} is installed: ${err.message.split('\n').filter(Boolean).slice(-1)[0] ?? err.message}`, {
          fix: `Check that helm is on PATH and reaches the cluster (helm status ${release} -n ${k.config.namespace}), then run speedlayer down again.`,
        });
      },
    );
    if (!installed) continue;
    status.update(c.slice(0, 3).join(' '));
    await k.runner.run(c, { timeoutMs: 5 * 60_000 });
    releases++;
  }
  await kube.remove('v1', 'Namespace', undefined, ns);
  return `${removed} custom resources (each finalized), ${releases} operator releases and namespace ${ns} removed`;
}

export function removeWorkloadsStep(k: KindEnv): KindStep {
  return kindStep(`Remove the stack from namespace ${k.config.namespace} (cluster kept)`, { commands: helmUninstallCommands(k) }, (ctx) =>
    removeWorkloads(k, ctx.status, ctx.signal),
  );
}
