import { setTimeout as sleep } from 'node:timers/promises';
import { SpeedlayerError } from '../../../base/errors.ts';
import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import { NAMES, POD_PATHS } from '../names.ts';
import { podRestarts, sparkAppState } from '../readiness.ts';
import { DRIVER_LABELS, renderCheckpointPvc, renderSparkApplication, renderSparkUiService } from '../render/spark.ts';
import { labelSelector } from '../status.ts';

export function buildImageCommand(k: KindEnv, image: string): string[] {
  // The build context is the repository root: the job's resources come from src/contract.
  return ['docker', 'build', '--file', k.pathApi.join(k.projectRoot, 'spark', 'Dockerfile'), '--tag', image, k.projectRoot];
}

export function loadImageCommand(k: KindEnv, image: string): string[] {
  return ['kind', 'load', 'docker-image', image, '--name', k.config.clusterName];
}

/** Builds unless the engine already has this exact tag (the tag is the content hash). */
export function buildImageStep(k: KindEnv, image: string): KindStep {
  return kindStep(`Build job image ${image}`, { commands: [buildImageCommand(k, image)] }, async (ctx) => {
    const exists = await k.runner.run(['docker', 'image', 'inspect', image]).then(() => true, () => false);
    if (exists) return 'up to date';
    ctx.status.update('Maven build inside Docker (first run downloads dependencies)');
    await k.runner.run(buildImageCommand(k, image), { timeoutMs: 30 * 60_000 });
    return 'built';
  });
}

/** kind nodes have their own containerd: the image must be loaded. Docker Desktop's cluster shares the engine's images. */
export function loadImageStep(k: KindEnv, image: string): KindStep {
  return kindStep(`Load ${image} into the kind node`, { commands: [loadImageCommand(k, image)] }, async () => {
    await k.runner.run(loadImageCommand(k, image), { timeoutMs: 10 * 60_000 });
  });
}

export function sparkManifests(k: KindEnv, image: string) {
  return [renderCheckpointPvc(k.config, k.cluster), renderSparkUiService(k.config, k.cluster), renderSparkApplication(k.config, image)];
}

/** Create or update (server-side apply) the checkpoint PVC, the UI service and the SparkApplication. */
export function applySparkApplicationStep(k: KindEnv, image: string): KindStep {
  const manifests = sparkManifests(k, image);
  return kindStep('Create or update the SparkApplication', { manifests }, async () => {
    for (const m of manifests) await k.kube().apply(m);
    return `${NAMES.sparkApp} → ${image}`;
  });
}

interface Progress {
  batchId?: number;
  timestamp?: string;
}

/**
 * Done when the SparkApplication is RUNNING and the driver has written a query progress newer
 * than the submission; on failure the driver log tail is in the error detail.
 */
export function waitForStreamingStep(k: KindEnv): KindStep {
  return kindStep('Wait for the streaming query to report progress', {}, async (ctx) => {
    const ns = k.config.namespace;
    const since = Date.now();
    const deadline = since + k.config.readyTimeoutSeconds * 1000;
    let driver: string | undefined;
    for (;;) {
      const app = await k.kube().get('sparkoperator.k8s.io/v1beta2', 'SparkApplication', ns, NAMES.sparkApp);
      const state = sparkAppState(app);
      const pods = await k.kube().list('v1', 'Pod', ns, labelSelector(DRIVER_LABELS));
      driver = pods[0]?.metadata.name ?? driver;
      ctx.status.update(`${state}${driver ? `, driver ${driver}` : ''}${pods[0] ? `, restarts ${podRestarts(pods[0])}` : ''}`);
      if (['FAILED', 'SUBMISSION_FAILED', 'FAILING'].includes(state) || Date.now() > deadline) {
        const log = driver ? await k.kube().podLogTail(ns, driver, 'spark-kubernetes-driver', 40).catch(() => '') : '';
        throw new SpeedlayerError(`the Spark job is ${state}${Date.now() > deadline ? ' (timed out)' : ''}`, {
          fix: `See the driver log: kubectl logs -n ${ns} ${driver ?? '<driver pod>'}`,
          detail: log || (app?.status?.applicationState?.errorMessage as string | undefined),
        });
      }
      if (state === 'RUNNING' && driver) {
        const text = await k.kube().execRead(ns, driver, 'spark-kubernetes-driver', ['cat', POD_PATHS.progressFile]).catch(() => '');
        const p = (() => { try { return JSON.parse(text) as Progress; } catch { return undefined; } })();
        if (p?.timestamp && Date.parse(p.timestamp) >= since - 5000) return `batch ${p.batchId ?? '?'} at ${p.timestamp}`;
      }
      await sleep(3000, undefined, { signal: ctx.signal });
    }
  });
}
