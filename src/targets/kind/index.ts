import os from 'node:os';
import nodePath, { type PlatformPath } from 'node:path';
import { PROJECT_ROOT } from '../../contract/index.ts';
import type { Target, TargetContext } from '../../stack/target.ts';
import type { KindConfig } from '../../config/kind.ts';
import type { KindEnv } from './context.ts';
import { kindEndpoints } from './endpoints.ts';
import { execaRunner, type CommandRunner } from './exec.ts';
import { jobImageTag } from './image.ts';
import { clientKubeApi, loadKubeConfig, type KubeApi } from './k8s.ts';
import { clusterProvider } from './cluster-providers.ts';
import { planSteps, type KindPlan } from './plan.ts';
import { downSteps, stackBudget, submitSteps, upSteps } from './stack.ts';
import { runPreflightChecks, type StackNeeds } from './steps/preflight.ts';
import { kindComponents, kindJobProgress } from './status.ts';

export type { KindPlan, PlanStep, PlanManifest } from './plan.ts';
export { KindConfigSchema, type KindConfig } from '../../config/kind.ts';

export interface KindTarget extends Target {
  /** Every step, command and rendered manifest of `up` and `submit`, and the memory and CPU budgets; runs nothing. */
  plan(): Promise<KindPlan>;
}

/** For tests: another platform's path rules, a fixed image tag, fake runners and API. */
export interface KindTargetOverrides {
  pathApi?: PlatformPath;
  platform?: NodeJS.Platform;
  projectRoot?: string;
  tmpDir?: string;
  imageTag?: string;
  runner?: CommandRunner;
  kube?: () => KubeApi;
}

export function createKindTarget(ctx: TargetContext, overrides: KindTargetOverrides = {}): KindTarget {
  const config: KindConfig = ctx.config.kind;
  const cluster = clusterProvider(config);
  const platform = overrides.platform ?? process.platform;
  let kube: KubeApi | undefined;
  const k: KindEnv = {
    config,
    cluster,
    monitoring: ctx.config.monitoring,
    retentionDays: ctx.config.retentionDays,
    home: ctx.home,
    env: ctx.env,
    platform,
    pathApi: overrides.pathApi ?? nodePath,
    projectRoot: overrides.projectRoot ?? PROJECT_ROOT,
    tmpDir: overrides.tmpDir ?? os.tmpdir(),
    runner: overrides.runner ?? execaRunner(ctx.env),
    kube: overrides.kube ?? (() => (kube ??= clientKubeApi(loadKubeConfig(cluster.kubeContext)))),
  };
  const image = async () => overrides.imageTag ?? jobImageTag(PROJECT_ROOT);
  // The budget reads the values files from this checkout, whatever path rules the plan is shown with.
  const budget = async () => stackBudget(k, await image(), nodePath.join(PROJECT_ROOT, 'manifests'), nodePath.join);
  const needs = (b: Awaited<ReturnType<typeof budget>>): StackNeeds => ({ memoryMiB: b.memory.total_mib, cpuMillicores: b.cpu.total_millicores });

  return {
    name: 'kind',
    async plan() {
      const b = await budget();
      const img = await image();
      return {
        target: 'kind',
        cluster: { mode: cluster.mode, name: config.clusterName, context: cluster.kubeContext },
        steps: [...planSteps('up', upSteps(k, needs(b))), ...planSteps('submit', submitSteps(k, img))],
        memory_budget: b.memory,
        cpu_budget: b.cpu,
      };
    },
    async doctor() {
      return (await runPreflightChecks(k, needs(await budget()))).checks;
    },
    async upSteps() {
      return upSteps(k, needs(await budget()));
    },
    async submitSteps() {
      return submitSteps(k, await image());
    },
    async downSteps(opts) {
      return downSteps(k, opts.keepCluster ?? false);
    },
    downDestroys: (opts) => cluster.downDestroys(opts.keepCluster ?? false),
    endpoints: () => kindEndpoints(k),
    components: () => kindComponents(k.kube(), config.namespace),
    jobProgress: () => kindJobProgress(k.kube(), config.namespace),
    async isUp() {
      try {
        return (await k.kube().get('v1', 'Namespace', undefined, config.namespace)) !== undefined;
      } catch {
        return false;
      }
    },
  };
}
