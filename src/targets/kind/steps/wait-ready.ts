import { setTimeout as sleep } from 'node:timers/promises';
import { SpeedlayerError } from '../../../base/errors.ts';
import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import type { KubeObject } from '../k8s.ts';
import { NAMES } from '../names.ts';
import { chiReady, conditionMessage, deploymentAvailable, strimziReady } from '../readiness.ts';
import type { Manifest } from '../render/manifest.ts';

interface Wait {
  what: string;
  read: () => Promise<KubeObject | undefined>;
  ready: (o: KubeObject | undefined) => boolean;
  explain: (o: KubeObject | undefined) => string;
}

/** Polls every condition until all hold or the timeout passes; the error names what is not ready. */
export async function waitAll(waits: Wait[], timeoutMs: number, signal: AbortSignal, update: (t: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = waits;
  for (;;) {
    const states = await Promise.all(pending.map(async (w) => ({ w, o: await w.read() })));
    pending = states.filter(({ w, o }) => !w.ready(o)).map(({ w }) => w);
    if (pending.length === 0) return;
    update(`waiting for ${pending.map((w) => w.what).join(', ')}`);
    if (Date.now() > deadline) {
      const last = states.filter(({ w }) => pending.includes(w)).map(({ w, o }) => `  - ${w.what}: ${w.explain(o)}`);
      throw new SpeedlayerError(`not ready after ${Math.round(timeoutMs / 1000)}s: ${pending.map((w) => w.what).join(', ')}`, {
        fix: 'Check the pods with `kubectl get pods -n <namespace>` and their events; raise kind.readyTimeoutSeconds on a slow machine.',
        detail: last.join('\n'),
      });
    }
    await sleep(3000, undefined, { signal });
  }
}

const deployments: Array<{ name: string; what: string }> = [
  { name: 'spark-operator-controller', what: 'Spark Operator controller' },
  { name: 'spark-operator-webhook', what: 'Spark Operator webhook' },
  { name: 'strimzi-cluster-operator', what: 'Strimzi operator' },
  { name: 'clickhouse-operator', what: 'ClickHouse operator' },
];

/** Operators (and Prometheus, Alertmanager) available, Kafka Ready, every KafkaTopic Ready, the CHI Completed. */
export function waitForStackStep(k: KindEnv, topics: Manifest[]): KindStep {
  const ns = k.config.namespace;
  const kube = () => k.kube();
  const monitoring = k.monitoring.enabled
    ? [{ name: NAMES.prometheus, what: 'Prometheus' }, { name: NAMES.alertmanager, what: 'Alertmanager' }]
    : [];
  const waits: Wait[] = [
    ...[...deployments, ...monitoring].map((d) => ({
      what: d.what,
      read: () => kube().get('apps/v1', 'Deployment', ns, d.name),
      ready: deploymentAvailable,
      explain: (o: KubeObject | undefined) => conditionMessage(o, 'Available') ?? 'no Deployment yet',
    })),
    {
      what: 'Kafka',
      read: () => kube().get('kafka.strimzi.io/v1', 'Kafka', ns, NAMES.kafkaCluster),
      ready: strimziReady,
      explain: (o) => conditionMessage(o, 'Ready') ?? conditionMessage(o, 'NotReady') ?? 'no status yet',
    },
    ...topics.map((t) => ({
      what: `topic ${t.metadata.name}`,
      read: () => kube().get('kafka.strimzi.io/v1', 'KafkaTopic', ns, t.metadata.name),
      ready: strimziReady,
      explain: (o: KubeObject | undefined) => conditionMessage(o, 'Ready') ?? 'no status yet',
    })),
    {
      what: 'ClickHouse',
      read: () => kube().get('clickhouse.altinity.com/v1', 'ClickHouseInstallation', ns, NAMES.chi),
      ready: chiReady,
      explain: (o) => `status ${o?.status?.status ?? 'none yet'}`,
    },
  ];
  return kindStep('Wait for operators, Kafka, topics and ClickHouse to be ready', {}, async (ctx) => {
    await waitAll(waits, k.config.readyTimeoutSeconds * 1000, ctx.signal, (t) => ctx.status.update(t));
    return 'all ready';
  });
}
