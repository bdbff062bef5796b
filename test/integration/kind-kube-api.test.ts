import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RecordingStatus } from '../../src/base/status.ts';
import { ConfigSchema } from '../../src/config/schema.ts';
import type { Step, StepContext } from '../../src/base/step.ts';
import type { CommandRunner } from '../../src/targets/kind/exec.ts';
import { createKindTarget } from '../../src/targets/kind/index.ts';
import { clientKubeApi, type KubeApi, type KubeObject } from '../../src/targets/kind/k8s.ts';
import { NAMES } from '../../src/targets/kind/names.ts';
import { renderNamespace } from '../../src/targets/kind/render/cluster.ts';
import { DRIVER_LABELS, renderSparkApplication } from '../../src/targets/kind/render/spark.ts';
import { teardownOrder } from '../../src/targets/kind/steps/down.ts';
import { startKubeApiServer, type KubeApiServer } from './support/kube-apiserver.ts';

// The kind target's Kubernetes code against a real kube-apiserver (built from the Go module proxy,
// etcd from Debian) with the upstream CRDs. Nothing else of Kubernetes runs: the tests write what
// the operators, the scheduler and the kubelet would (status, finalizers, pod phases).

let server: KubeApiServer;
beforeAll(async () => {
  server = await startKubeApiServer();
}, 45 * 60_000);
afterAll(async () => {
  await server?.stop();
});
// NodePorts are cluster-wide: each test's Spark UI service (nodePort 30040) goes when the test ends.
const namespaces: string[] = [];
afterEach(async () => {
  for (const ns of namespaces.splice(0)) await raw().core.deleteNamespacedService({ namespace: ns, name: NAMES.sparkUiService }).catch(() => undefined);
});

const SPARK_APP = ['sparkoperator.k8s.io/v1beta2', 'SparkApplication'] as const;

/** A kind target on namespace `ns`, talking to the test API server; commands go to `runner`. */
function target(ns: string, opts: { imageTag?: string; runner?: CommandRunner; kube?: KubeApi; kind?: Record<string, unknown> } = {}) {
  const config = ConfigSchema.parse({ kind: { namespace: ns, readyTimeoutSeconds: 30, ...opts.kind } });
  const kube = opts.kube ?? clientKubeApi(server.kubeConfig('kind-speedlayer'));
  const refuse: CommandRunner = { run: async (c) => { throw new Error(`unexpected command ${c.join(' ')}`); } };
  const t = createKindTarget(
    { config, home: path.join(os.tmpdir(), 'speedlayer-kube-api-test'), status: new RecordingStatus(), env: {} },
    { imageTag: opts.imageTag ?? 'speedlayer-job:0000000000000001', runner: opts.runner ?? refuse, kube: () => kube },
  );
  return { t, kube, config: config.kind };
}

function ctx(status = new RecordingStatus()): StepContext & { status: RecordingStatus } {
  return { status, signal: AbortSignal.timeout(120_000) };
}

async function run(steps: readonly Step[], name: RegExp, status?: RecordingStatus): ReturnType<Step['execute']> {
  const step = steps.find((s) => name.test(s.name));
  if (!step) throw new Error(`no step ${name} in ${steps.map((s) => s.name).join(', ')}`);
  const outcome = await step.execute(ctx(status));
  // The kind steps report a note or throw; an outcome object would be a step that gave up quietly.
  if (typeof outcome === 'object') throw new Error(`step ${step.name} ended with ${JSON.stringify(outcome)}`);
  return outcome;
}

/** Raw access for the test's own writes (status subresources, finalizers), as an operator would. */
function raw() {
  const kc = server.kubeConfig('admin');
  return { objects: k8s.KubernetesObjectApi.makeApiClient(kc), core: kc.makeApiClient(k8s.CoreV1Api), kc };
}

const mergePatch: KubeApiServer['mergePatch'] = (obj, subresource) => server.mergePatch(obj, subresource);

/** A SparkApplication status as the operator writes it (the CRD requires driverInfo). */
function sparkStatus(submissionID: string, state: string, errorMessage?: string) {
  return { submissionID, driverInfo: { podName: 'speedlayer-job-driver' }, applicationState: { state, ...(errorMessage ? { errorMessage } : {}) } };
}

async function createNamespace(ns: string) {
  namespaces.push(ns);
  const { core } = raw();
  await core.createNamespace({ body: renderNamespace(ns) as k8s.V1Namespace });
  // No controller manager runs: the ServiceAccount admission needs the default account to exist.
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'default' } } });
}

/** A pod as the Spark Operator creates it for one submission, Running as the kubelet would report. */
async function createDriverPod(ns: string, submissionId: string, nodeName?: string) {
  const { core } = raw();
  const name = 'speedlayer-job-driver';
  const resources = { requests: { memory: '1024Mi', cpu: '500m' }, limits: { memory: '1024Mi' } };
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name, labels: { ...DRIVER_LABELS, 'sparkoperator.k8s.io/submission-id': submissionId } },
      spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'spark-kubernetes-driver', image: 'speedlayer-job:x', resources }] },
    },
  });
  await core.patchNamespacedPodStatus({ namespace: ns, name, body: { status: { phase: 'Running' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
}

describe('kind target against a real kube-apiserver', () => {
  it('submit creates the SparkApplication, PVC and UI service, then patches it in place with a new image', async () => {
    const ns = 'sl-submit';
    await createNamespace(ns);
    const first = target(ns, { imageTag: 'speedlayer-job:aaaaaaaaaaaaaaaa' });
    expect(await run(await first.t.submitSteps(), /Create or update the SparkApplication/)).toBe(`${NAMES.sparkApp} → speedlayer-job:aaaaaaaaaaaaaaaa`);
    const created = (await first.kube.get(...SPARK_APP, ns, NAMES.sparkApp))!;
    // The server pruned nothing: every rendered field is in the stored object.
    expect(created.spec).toEqual(renderSparkApplication(first.config, 'speedlayer-job:aaaaaaaaaaaaaaaa').spec);
    expect(await first.kube.get('v1', 'PersistentVolumeClaim', ns, NAMES.checkpointPvc)).toBeDefined();
    expect(await first.kube.get('v1', 'Service', ns, NAMES.sparkUiService)).toBeDefined();

    const second = target(ns, { imageTag: 'speedlayer-job:bbbbbbbbbbbbbbbb' });
    expect(await run(await second.t.submitSteps(), /Create or update the SparkApplication/)).toMatch(/changed: the operator restarts the job/);
    const patched = (await second.kube.get(...SPARK_APP, ns, NAMES.sparkApp))!;
    expect(patched.spec!.image).toBe('speedlayer-job:bbbbbbbbbbbbbbbb');
    expect(patched.metadata.uid).toBe(created.metadata.uid);
    expect((patched.metadata as unknown as { generation: number }).generation).toBe((created.metadata as unknown as { generation: number }).generation + 1);
    // The same spec again changes nothing.
    expect(await run(await second.t.submitSteps(), /Create or update the SparkApplication/)).toMatch(/\(unchanged\)/);
  });

  it("submit's wait rides out FAILING and SUBMISSION_FAILED (the operator retries) and is ready on the new run's start line", async () => {
    const ns = 'sl-wait';
    await createNamespace(ns);
    const logs = new Map<string, string>();
    const real = clientKubeApi(server.kubeConfig('kind-speedlayer'));
    // Pod logs come from the kubelet, which does not run here: only they are supplied by the test.
    const kube: KubeApi = { ...real, podLogTail: async (_ns, pod) => logs.get(pod) ?? '' };
    const { t } = target(ns, { kube });
    const steps = await t.submitSteps();
    await run(steps, /Create or update the SparkApplication/);
    const app = { apiVersion: SPARK_APP[0], kind: SPARK_APP[1], metadata: { name: NAMES.sparkApp, namespace: ns } };

    const status = new RecordingStatus();
    const waiting = run(steps, /Wait for the streaming query/, status);
    let settled: string | undefined;
    void waiting.then((r) => (settled = `ok ${r}`), (e: Error) => (settled = `error ${e.message}`));
    for (const [state, errorMessage] of [['SUBMITTED'], ['SUBMISSION_FAILED', 'failed to run spark-submit: signal: killed'], ['PENDING_RERUN'], ['FAILING', 'driver container failed'], ['PENDING_RERUN']]) {
      await mergePatch({ ...app, status: sparkStatus('run-1', state!, errorMessage) }, 'status');
      await sleep(3500);
      expect(settled, `after ${state}`).toBeUndefined();
    }
    await mergePatch({ ...app, status: sparkStatus('run-2', 'RUNNING') }, 'status');
    await createDriverPod(ns, 'run-2');
    logs.set('speedlayer-job-driver', 'INFO SparkContext: Running Spark version 4.0.4\n');
    await sleep(4000);
    expect(settled, 'RUNNING but no start line yet').toBeUndefined();
    logs.set('speedlayer-job-driver', 'INFO SparkContext: Running Spark version 4.0.4\nSPEEDLAYER_STARTED 5c98 42c7\n');
    expect(await waiting).toBe('query started (driver speedlayer-job-driver, submission run-2)');
    expect(status.events.join('\n')).toMatch(/SUBMISSION_FAILED \(the operator retries\).*signal: killed/);
  });

  it("submit's wait stops at FAILED with the operator's message, and a changed spec waits for a new submission", async () => {
    const ns = 'sl-failed';
    await createNamespace(ns);
    const logs = new Map<string, string>([['speedlayer-job-driver', 'SPEEDLAYER_STARTED old run\n']]);
    const real = clientKubeApi(server.kubeConfig('kind-speedlayer'));
    const kube: KubeApi = { ...real, podLogTail: async (_ns, pod) => logs.get(pod) ?? '' };
    const app = { apiVersion: SPARK_APP[0], kind: SPARK_APP[1], metadata: { name: NAMES.sparkApp, namespace: ns } };

    await run((await target(ns, { kube, imageTag: 'speedlayer-job:1111111111111111' }).t.submitSteps()), /Create or update/);
    await mergePatch({ ...app, status: sparkStatus('old', 'RUNNING') }, 'status');
    await createDriverPod(ns, 'old');

    // A new image: the old run's driver (RUNNING, with its start line) must not count.
    const steps = await target(ns, { kube, imageTag: 'speedlayer-job:2222222222222222' }).t.submitSteps();
    await run(steps, /Create or update/);
    const waiting = run(steps, /Wait for the streaming query/);
    let settled: string | undefined;
    void waiting.then((r) => (settled = `ok ${r}`), (e: Error) => (settled = `error ${e.message}`));
    await sleep(4000);
    expect(settled, 'the old submission is still RUNNING').toBeUndefined();
    await mergePatch({ ...app, status: sparkStatus('new', 'FAILED', 'driver pod failed: OOMKilled') }, 'status');
    const err = await waiting.then(() => undefined, (e: Error & { detail?: string }) => e);
    expect(err?.message).toMatch(/the Spark job is FAILED/);
  });

  it('waits for operators, Kafka, every topic and ClickHouse to report ready, as each operator reports it', async () => {
    const ns = 'sl-ready';
    await createNamespace(ns);
    const { t, kube, config } = target(ns);
    const steps = await t.upSteps();
    // The Kafka, topics, CHI and monitoring manifests as `up` applies them (server-side apply through the CLI's code).
    for (const name of [/Kafka \(KRaft/, /ClickHouse \(ClickHouseInstallation/, /Monitoring \(Prometheus/]) await run(steps, name);
    const { kc } = raw();
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const operators = ['spark-operator-controller', 'spark-operator-webhook', 'strimzi-cluster-operator', 'clickhouse-operator'];
    for (const name of operators) {
      await apps.createNamespacedDeployment({ namespace: ns, body: {
        metadata: { name }, spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: 'operator:1' }] } } },
      } });
    }
    const status = new RecordingStatus();
    const waiting = run(steps, /Wait for operators, Kafka, topics and ClickHouse/, status);
    let settled: string | undefined;
    void waiting.then((r) => (settled = `ok ${r}`), (e: Error) => (settled = `error ${e.message}`));
    const topics = (await kube.list('kafka.strimzi.io/v1', 'KafkaTopic', ns)).map((o) => o.metadata.name);
    expect(topics.length).toBeGreaterThanOrEqual(3);
    const ready = { conditions: [{ type: 'Ready', status: 'True' }], observedGeneration: 1 };
    const writes: Array<() => Promise<unknown>> = [
      // Prometheus and Alertmanager: the Deployments the monitoring step applied, made Available as the controller would.
      ...[...operators, NAMES.prometheus, NAMES.alertmanager].map((name) => () => mergePatch({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns },
        status: { conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }] } }, 'status')),
      () => mergePatch({ apiVersion: 'kafka.strimzi.io/v1', kind: 'Kafka', metadata: { name: NAMES.kafkaCluster, namespace: ns }, status: ready }, 'status'),
      ...topics.map((name) => () => mergePatch({ apiVersion: 'kafka.strimzi.io/v1', kind: 'KafkaTopic', metadata: { name, namespace: ns }, status: ready }, 'status')),
    ];
    for (const write of writes) {
      await write();
      expect(settled).toBeUndefined();
    }
    await sleep(3500);
    expect(settled, 'ClickHouse is not Completed yet').toBeUndefined();
    await mergePatch({ apiVersion: 'clickhouse.altinity.com/v1', kind: 'ClickHouseInstallation', metadata: { name: NAMES.chi, namespace: ns }, status: { status: 'Completed' } }, 'status');
    expect(await waiting).toBe('all ready');
    expect(status.events.join('\n')).toMatch(/waiting for .*ClickHouse/);
    expect(config.namespace).toBe(ns);
  });

  it('status reads the CRs, the driver and node memory from the API server', async () => {
    const ns = 'sl-status';
    await createNamespace(ns);
    const { t } = target(ns);
    for (const name of [/Kafka \(KRaft/, /ClickHouse \(ClickHouseInstallation/]) await run(await t.upSteps(), name);
    await run(await t.submitSteps(), /Create or update the SparkApplication/);
    const { core } = raw();
    // A node as the kubelet registers it, and the driver bound to it.
    await core.createNode({ body: { metadata: { name: 'speedlayer-control-plane' },
      status: { capacity: { memory: '12Gi', cpu: '4' }, allocatable: { memory: '11900Mi', cpu: '4' } } } });
    await createDriverPod(ns, 's1', 'speedlayer-control-plane');
    await mergePatch({ apiVersion: 'kafka.strimzi.io/v1', kind: 'Kafka', metadata: { name: NAMES.kafkaCluster, namespace: ns },
      status: { conditions: [{ type: 'Ready', status: 'True' }], kafkaVersion: '4.3.1' } }, 'status');
    await mergePatch({ apiVersion: SPARK_APP[0], kind: SPARK_APP[1], metadata: { name: NAMES.sparkApp, namespace: ns },
      status: sparkStatus('s1', 'RUNNING') }, 'status');
    const c = Object.fromEntries((await t.components()).map((x) => [x.name, x]));
    expect(c.kafka).toMatchObject({ state: 'up', version: '4.3.1' });
    expect(c.clickhouse).toMatchObject({ state: 'degraded', detail: 'CHI status none yet' });
    expect(c['spark-job']!.state).toBe('up');
    expect(c['spark-job']!.detail).toMatch(/SparkApplication RUNNING; driver: speedlayer-job-driver Running restarts=0/);
    expect(c['kubernetes-node']!.detail).toBe('speedlayer-control-plane: limits 1024 MiB, requests 1024 MiB of 11900 MiB (budget 9728 MiB)');
  });

  it('down --keep-cluster deletes every custom resource, each finalized by its still-running operator, before any operator is uninstalled', async () => {
    const ns = 'sl-down';
    await createNamespace(ns);
    const events: string[] = [];
    const { kc } = raw();
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    // The operators' Deployments as the charts (and Strimzi, for the entity operator) create them.
    const deployments: Record<string, string[]> = {
      'spark-operator': ['spark-operator-controller', 'spark-operator-webhook'],
      strimzi: ['strimzi-cluster-operator'],
      'clickhouse-operator': ['clickhouse-operator'],
    };
    const entityOperator = `${NAMES.kafkaCluster}-entity-operator`;
    for (const name of [...Object.values(deployments).flat(), entityOperator]) {
      await apps.createNamespacedDeployment({ namespace: ns, body: {
        metadata: { name }, spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'operator:1' }] } } },
      } });
    }
    // Helm, played by the test: `helm status` says installed; `helm uninstall` removes the release's Deployments.
    const runner: CommandRunner = {
      async run(command) {
        const [tool, verb, release] = command;
        if (tool !== 'helm' || !release || !deployments[release]) throw new Error(`unexpected command ${command.join(' ')}`);
        const installed = (await apps.listNamespacedDeployment({ namespace: ns })).items.some((d) => deployments[release]!.includes(d.metadata!.name!));
        if (verb === 'status') {
          if (!installed) throw new Error(`Error: release: not found`);
          return { stdout: 'STATUS: deployed', stderr: '' };
        }
        if (verb !== 'uninstall') throw new Error(`unexpected command ${command.join(' ')}`);
        events.push(`uninstall ${release}`);
        for (const d of deployments[release]!) await apps.deleteNamespacedDeployment({ namespace: ns, name: d });
        return { stdout: `release "${release}" uninstalled`, stderr: '' };
      },
    };
    const { t, kube } = target(ns, { runner, kind: { finalizeTimeoutSeconds: 20 } });
    const upSteps = await t.upSteps();
    for (const name of [/Kafka \(KRaft/, /ClickHouse \(ClickHouseInstallation/]) await run(upSteps, name);
    await run(await t.submitSteps(), /Create or update the SparkApplication/);

    // Each operator's finalizer, as the operators set them (Strimzi's topic operator, Altinity's),
    // and one per remaining kind in this test's name, so that every CR waits for its operator.
    const finalizerOf: Record<string, string> = {
      KafkaTopic: 'strimzi.io/topic-operator',
      ClickHouseInstallation: 'finalizer.clickhouseinstallation.altinity.com',
      SparkApplication: 'test.speedlayer.dev/spark-operator',
      Kafka: 'test.speedlayer.dev/strimzi',
      KafkaNodePool: 'test.speedlayer.dev/strimzi',
    };
    const operatorOf: Record<string, string> = {
      KafkaTopic: entityOperator,
      ClickHouseInstallation: 'clickhouse-operator',
      SparkApplication: 'spark-operator-controller',
      Kafka: 'strimzi-cluster-operator',
      KafkaNodePool: 'strimzi-cluster-operator',
    };
    const crs: KubeObject[] = [];
    for (const cr of teardownOrder()) crs.push(...(await kube.list(cr.apiVersion, cr.kind, ns)));
    expect(new Set(crs.map((c) => c.kind))).toEqual(new Set(Object.keys(finalizerOf)));
    expect(crs.filter((c) => c.kind === 'KafkaTopic').length).toBeGreaterThanOrEqual(3);
    for (const c of crs) {
      await mergePatch({ apiVersion: c.apiVersion, kind: c.kind, metadata: { name: c.metadata.name, namespace: ns, finalizers: [finalizerOf[c.kind]!] } });
    }

    // The operators: each clears its finalizer from a deleted CR, but only while its Deployment exists.
    let stop = false;
    const operators = (async () => {
      while (!stop) {
        const running = new Set((await apps.listNamespacedDeployment({ namespace: ns })).items.map((d) => d.metadata!.name!));
        for (const cr of teardownOrder()) {
          for (const o of await kube.list(cr.apiVersion, cr.kind, ns)) {
            const deleting = (o.metadata as { deletionTimestamp?: string }).deletionTimestamp;
            if (!deleting || !running.has(operatorOf[o.kind]!)) continue;
            await mergePatch({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: ns, finalizers: null } });
            events.push(`finalized ${o.kind}/${o.metadata.name}`);
            // Deleting the Kafka takes its entity operator (and so the topic operator) with it.
            if (o.kind === 'Kafka') await apps.deleteNamespacedDeployment({ namespace: ns, name: entityOperator });
          }
        }
        await sleep(200);
      }
    })();

    const status = new RecordingStatus();
    try {
      const downSteps = await t.downSteps({ keepCluster: true, purge: false });
      expect(downSteps).toHaveLength(1);
      expect(await downSteps[0]!.execute(ctx(status))).toBe(`${crs.length} custom resources (each finalized), 3 operator releases and namespace ${ns} removed`);
    } finally {
      stop = true;
      await operators;
    }
    expect(status.events.join('\n'), 'no finalizer was removed by force').not.toMatch(/last resort/);
    for (const c of crs) expect(await kube.get(c.apiVersion, c.kind, ns, c.metadata.name), `${c.kind}/${c.metadata.name}`).toBeUndefined();
    const firstUninstall = events.findIndex((e) => e.startsWith('uninstall'));
    expect(events.slice(0, firstUninstall).filter((e) => e.startsWith('finalized'))).toHaveLength(crs.length);
    expect(events.slice(firstUninstall)).toEqual(['uninstall spark-operator', 'uninstall clickhouse-operator', 'uninstall strimzi']);
    // Topics before the Kafka that runs their operator.
    expect(events.findIndex((e) => e.startsWith('finalized Kafka/'))).toBeGreaterThan(Math.max(...events.map((e, i) => (e.startsWith('finalized KafkaTopic/') ? i : -1))));
    // The namespace is deleting (its controller, in the controller manager, would empty it).
    const nsObj = await kube.get('v1', 'Namespace', undefined, ns);
    expect((nsObj?.metadata as { deletionTimestamp?: string } | undefined)?.deletionTimestamp ?? 'gone').toBeTruthy();
  });

  it("down removes a finalizer itself, logged, when the resource's operator is gone", async () => {
    const ns = 'sl-stuck';
    await createNamespace(ns);
    const notInstalled: CommandRunner = { run: async () => { throw new Error('Error: release: not found'); } };
    const { t, kube } = target(ns, { runner: notInstalled, kind: { finalizeTimeoutSeconds: 2 } });
    await run(await t.submitSteps(), /Create or update the SparkApplication/);
    await mergePatch({ apiVersion: SPARK_APP[0], kind: SPARK_APP[1], metadata: { name: NAMES.sparkApp, namespace: ns, finalizers: ['test.speedlayer.dev/no-operator'] } });
    const status = new RecordingStatus();
    const note = await (await t.downSteps({ keepCluster: true, purge: false }))[0]!.execute(ctx(status));
    expect(note).toBe(`1 custom resources (each finalized), 0 operator releases and namespace ${ns} removed`);
    expect(status.events.join('\n')).toMatch(
      /warn SparkApplication\/speedlayer-job was not finalized by the Spark Operator controller within 2 s: removing its finalizers \(test.speedlayer.dev\/no-operator\) as a last resort/,
    );
    expect(await kube.get(...SPARK_APP, ns, NAMES.sparkApp)).toBeUndefined();
  });

  it('down stops with the fix when helm cannot say whether a release is installed (not taken for "not installed")', async () => {
    const ns = 'sl-helm-broken';
    await createNamespace(ns);
    const unreachable: CommandRunner = { run: async () => { throw new Error('Command failed with exit code 1: helm status\n\nError: Kubernetes cluster unreachable'); } };
    const { t, kube } = target(ns, { runner: unreachable, kind: { finalizeTimeoutSeconds: 2 } });
    const down = (await t.downSteps({ keepCluster: true, purge: false }))[0]!;
    await expect(down.execute(ctx(new RecordingStatus()))).rejects.toMatchObject({
      message: expect.stringMatching(/cannot tell whether the Helm release \S+ is installed: Error: Kubernetes cluster unreachable/),
      fix: expect.stringMatching(/^Check that helm is on PATH/),
    });
    expect(await kube.get('v1', 'Namespace', undefined, ns)).toBeDefined(); // nothing removed past the failure
  });
});
