import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import YAML from 'yaml';
import { SpeedlayerError } from '../../../base/errors.ts';
import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import { lines } from '../exec.ts';
import { renderKindClusterConfig } from '../render/cluster.ts';
import type { Manifest } from '../render/manifest.ts';
import { removeWorkloads } from './down.ts';
import { nodeImageFor } from './preflight.ts';

export function kindConfigPath(k: KindEnv): string {
  return k.pathApi.join(k.tmpDir, `speedlayer-kind-${k.config.clusterName}.yaml`);
}

/** A file in the state directory says "this CLI created that cluster"; only then may `down` delete it. */
export function createdMarkerPath(k: KindEnv): string {
  return k.pathApi.join(k.home, 'kind', `${k.config.clusterName}.created`);
}

export async function cliCreatedCluster(k: KindEnv): Promise<boolean> {
  return readFile(createdMarkerPath(k), 'utf8').then(() => true, () => false);
}

export function createClusterCommand(k: KindEnv): string[] {
  return ['kind', 'create', 'cluster', '--config', kindConfigPath(k), '--wait', '120s'];
}

/** `kind create cluster` from the generated config, unless the cluster already exists. */
export function createKindClusterStep(k: KindEnv, found: { kindVersion?: string; clusterExists?: boolean }): KindStep {
  const planned = renderKindClusterConfig(k.config, nodeImageFor(undefined, k.config.nodeImage));
  const asManifest = { ...planned, metadata: { name: k.config.clusterName } } as unknown as Manifest;
  return kindStep(`Create kind cluster '${k.config.clusterName}'`, { commands: [createClusterCommand(k)], manifests: [asManifest] }, async (ctx) => {
    if (found.clusterExists) return 'exists, reused';
    const image = nodeImageFor(found.kindVersion, k.config.nodeImage);
    const file = kindConfigPath(k);
    // LF line endings and no BOM: kind parses it on every platform.
    await writeFile(file, YAML.stringify(renderKindClusterConfig(k.config, image)), 'utf8');
    ctx.status.update(`node image ${image ? image.split('@')[0] : "kind's default"}`);
    try {
      await k.runner.run(createClusterCommand(k), { timeoutMs: 15 * 60_000 });
    } finally {
      await rm(file, { force: true });
    }
    await mkdir(k.pathApi.dirname(createdMarkerPath(k)), { recursive: true });
    await writeFile(createdMarkerPath(k), `${new Date().toISOString()}\n`, 'utf8');
    return image ? image.split('@')[0] : "kind's default node image";
  });
}

/**
 * Docker Desktop's own cluster (Settings → Kubernetes, provisioning method kind, 4.38+): the
 * context must exist and answer; kind-provisioned nodes are named desktop-control-plane/-workerN.
 */
export function useDockerDesktopClusterStep(k: KindEnv): KindStep {
  return kindStep("Use Docker Desktop's Kubernetes (context docker-desktop)", {}, async (ctx) => {
    let nodes: string[];
    try {
      nodes = (await k.kube().nodeMemory()).map((n) => n.name);
    } catch (err) {
      throw new SpeedlayerError(`Docker Desktop's Kubernetes does not answer: ${(err as Error).message}`, {
        fix: 'Docker Desktop → Settings → Kubernetes → Enable Kubernetes (provisioning method: kind), Apply & Restart.',
      });
    }
    const kindProvisioned = nodes.some((n) => n.startsWith('desktop-'));
    if (!kindProvisioned) {
      ctx.status.warn(
        "Docker Desktop's cluster is kubeadm-provisioned; it works, but the kind provisioning method (Docker Desktop 4.38+) is the supported one.",
      );
    }
    return `${kindProvisioned ? 'kind' : 'kubeadm'}-provisioned, nodes: ${nodes.join(', ')}`;
  });
}

export function deleteClusterCommand(k: KindEnv): string[] {
  return ['kind', 'delete', 'cluster', '--name', k.config.clusterName];
}

/** Deletes the cluster only when this CLI created it (the marker); otherwise says why not. */
export function deleteKindClusterStep(k: KindEnv): KindStep {
  return kindStep(`Delete kind cluster '${k.config.clusterName}'`, { commands: [deleteClusterCommand(k)] }, async (ctx) => {
    const clusters = lines((await k.runner.run(['kind', 'get', 'clusters'])).stdout);
    if (!clusters.includes(k.config.clusterName)) {
      await rm(createdMarkerPath(k), { force: true });
      return 'no such cluster';
    }
    if (!(await cliCreatedCluster(k))) {
      ctx.status.warn(`kind cluster '${k.config.clusterName}' was not created by speedlayer: only the stack is removed, the cluster stays.`);
      return removeWorkloads(k, ctx.status);
    }
    await k.runner.run(deleteClusterCommand(k), { timeoutMs: 5 * 60_000 });
    await rm(createdMarkerPath(k), { force: true });
    return 'deleted';
  });
}
