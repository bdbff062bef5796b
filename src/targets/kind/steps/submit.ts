import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipeline } from '../../../contract/index.ts';
import { SpeedlayerError } from '../../../base/errors.ts';
import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import type { KubeObject } from '../k8s.ts';
import { NAMES } from '../names.ts';
import { podRestarts, sparkAppState } from '../readiness.ts';
import { DRIVER_LABELS, renderCheckpointPvc, renderSparkApplication, renderSparkUiService } from '../render/spark.ts';
import { labelSelector } from '../status.ts';

export function buildImageCommand(k: KindEnv, image: string): string[] {
  // The build context is the repository root: the job's resources come from src/contract.
  return ['docker', 'build', '--file', k.pathApi.join(k.projectRoot, 'spark', 'Dockerfile'), '--tag', image, k.projectRoot];
}

/**
 * `docker save` + `kind load image-archive`: `kind load docker-image` fails with Docker Desktop's
 * containerd image store in known cases (kind issue 3795); an archive works with either store.
 */
export function loadImageCommands(k: KindEnv, image: string): string[][] {
  const archive = imageArchivePath(k);
  return [
    ['docker', 'save', '--output', archive, image],
    ['kind', 'load', 'image-archive', archive, '--name', k.config.clusterName],
  ];
}

function imageArchivePath(k: KindEnv): string {
  return k.pathApi.join(k.tmpDir, `speedlayer-job-image-${k.config.clusterName}.tar`);
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
  const commands = loadImageCommands(k, image);
  return kindStep(`Load ${image} into the kind node`, { commands }, async () => {
    try {
      for (const c of commands) await k.runner.run(c, { timeoutMs: 10 * 60_000 });
    } finally {
      await rm(imageArchivePath(k), { force: true });
    }
  });
}

export function sparkManifests(k: KindEnv, image: string) {
  return [renderCheckpointPvc(k.config, k.cluster), renderSparkUiService(k.config, k.cluster), renderSparkApplication(k.config, image)];
}

/** What the apply step saw, for the wait that follows it. */
export interface Submission {
  /** status.submissionID before the apply: a changed spec is ready only under a new submission. */
  previousSubmissionId?: string;
  specChanged: boolean;
}

const SPARK_APP = ['sparkoperator.k8s.io/v1beta2', 'SparkApplication'] as const;
/** The Spark Operator labels each run's pods with its submission (pkg/common/spark.go, v2.5.2). */
const SUBMISSION_LABEL = 'sparkoperator.k8s.io/submission-id';

/** Create or update (server-side apply) the checkpoint PVC, the UI service and the SparkApplication. */
export function applySparkApplicationStep(k: KindEnv, image: string, submission: Submission): KindStep {
  const manifests = sparkManifests(k, image);
  return kindStep('Create or update the SparkApplication', { manifests }, async () => {
    const before = await k.kube().get(...SPARK_APP, k.config.namespace, NAMES.sparkApp);
    let after: KubeObject | undefined;
    for (const m of manifests) {
      const applied = await k.kube().apply(m);
      if (m.kind === 'SparkApplication') after = applied;
    }
    const generation = (o: KubeObject | undefined) => (o?.metadata as { generation?: number } | undefined)?.generation;
    submission.previousSubmissionId = before?.status?.submissionID as string | undefined;
    submission.specChanged = !before || generation(before) !== generation(after);
    return `${NAMES.sparkApp} → ${image}${before ? (submission.specChanged ? ' (changed: the operator restarts the job)' : ' (unchanged)') : ''}`;
  });
}

/** The job's start line (or a progress line, if the start has scrolled out of the tail): its query runs. */
function jobQueryStarted(log: string): boolean {
  const { started, progress } = pipeline.jobProtocol;
  return log.split('\n').some((l) => l.startsWith(`${started} `) || l.startsWith(`${progress} `));
}

/** States after which the operator will not run the job again (FAILING and SUBMISSION_FAILED are retried). */
const TERMINAL_STATES = ['FAILED', 'COMPLETED'];

/**
 * Done when the SparkApplication is RUNNING under the current submission (a new one if the spec
 * changed) and that run's driver has printed the job's start line (or a progress line): a
 * restarted query with no new data reports no progress, but always says it started. On a
 * terminal state or the deadline, the driver log tail is in the error detail.
 */
export function waitForStreamingStep(k: KindEnv, submission: Submission): KindStep {
  return kindStep('Wait for the streaming query to start', {}, async (ctx) => {
    const ns = k.config.namespace;
    const deadline = Date.now() + k.config.readyTimeoutSeconds * 1000;
    let driver: string | undefined;
    for (;;) {
      const app = await k.kube().get(...SPARK_APP, ns, NAMES.sparkApp);
      const state = sparkAppState(app);
      const submissionId = app?.status?.submissionID as string | undefined;
      const current = submissionId && !(submission.specChanged && submissionId === submission.previousSubmissionId);
      const pods = current ? await k.kube().list('v1', 'Pod', ns, labelSelector({ ...DRIVER_LABELS, [SUBMISSION_LABEL]: submissionId })) : [];
      driver = pods[0]?.metadata.name ?? driver;
      const retrying = ['FAILING', 'SUBMISSION_FAILED', 'PENDING_RERUN'].includes(state);
      const why = retrying ? app?.status?.applicationState?.errorMessage : undefined;
      ctx.status.update(
        `${state}${retrying ? ' (the operator retries)' : ''}${driver ? `, driver ${driver}` : ''}` +
          `${pods[0] ? `, restarts ${podRestarts(pods[0])}` : ''}${why ? `: ${String(why).split('\n')[0]}` : ''}`,
      );
      const timedOut = Date.now() > deadline;
      if (TERMINAL_STATES.includes(state) || timedOut) {
        const log = driver ? await k.kube().podLogTail(ns, driver, 'spark-kubernetes-driver', 40).catch(() => '') : '';
        throw new SpeedlayerError(`the Spark job is ${state}${timedOut ? ` (not started after ${k.config.readyTimeoutSeconds} s)` : ''}`, {
          fix: `See the driver log: kubectl logs -n ${ns} ${driver ?? '<driver pod>'}; and the operator's view: kubectl describe sparkapplication -n ${ns} ${NAMES.sparkApp}`,
          detail: log || (app?.status?.applicationState?.errorMessage as string | undefined),
        });
      }
      if (state === 'RUNNING' && pods[0]) {
        const log = await k.kube().podLogTail(ns, pods[0].metadata.name, 'spark-kubernetes-driver', 200).catch(() => '');
        if (jobQueryStarted(log)) return `query started (driver ${pods[0].metadata.name}, submission ${submissionId})`;
      }
      await sleep(3000, undefined, { signal: ctx.signal });
    }
  });
}
