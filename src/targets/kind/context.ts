import type { PlatformPath } from 'node:path';
import type { KindConfig } from '../../config/kind.ts';
import type { CommandRunner } from './exec.ts';
import type { KubeApi } from './k8s.ts';
import type { Manifest } from './render/manifest.ts';
import type { Step } from '../../base/step.ts';

/** Everything the kind target's steps need; tests pass fakes and `path.win32`. */
export interface KindEnv {
  config: KindConfig;
  /** The top-level `retentionDays`: every ClickHouse table's TTL. */
  retentionDays: number;
  /** State directory (~/.speedlayer): marks the clusters the CLI created. */
  home: string;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  pathApi: PlatformPath;
  projectRoot: string;
  tmpDir: string;
  runner: CommandRunner;
  /** Created on first use: the kubeconfig context exists only once the cluster does. */
  kube: () => KubeApi;
}

/** A step that can also say, without running, which commands it runs and what it applies. */
export interface KindStep extends Step {
  readonly commands: string[][];
  readonly manifests: Manifest[];
}

export function kindStep(
  name: string,
  parts: { commands?: string[][]; manifests?: Manifest[] },
  execute: Step['execute'],
): KindStep {
  return { name, commands: parts.commands ?? [], manifests: parts.manifests ?? [], execute };
}
