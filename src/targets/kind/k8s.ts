import { PassThrough } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { SpeedlayerError } from '../../base/errors.ts';
import type { Manifest } from './render/manifest.ts';

/** A Kubernetes object as read back from the API server. */
export type KubeObject = Manifest & { status?: Record<string, any>; spec?: Record<string, any> };

export interface NodeMemory {
  name: string;
  allocatableMiB: number;
  requestsMiB: number;
  limitsMiB: number;
}

/**
 * The few API calls the kind target makes, behind an interface so steps and status can be tested
 * against a real API server or recorded responses alike.
 */
export interface KubeApi {
  /** Server-side apply (create or update), field manager "speedlayer". */
  apply(m: Manifest): Promise<KubeObject>;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined>;
  list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<KubeObject[]>;
  /**
   * Asks for deletion if present (true when it was there). The object goes once its finalizers
   * are cleared; its dependents follow in the background (garbage collector).
   */
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<boolean>;
  /** Clears metadata.finalizers (the last resort when an operator no longer runs to do it). */
  removeFinalizers(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<void>;
  podLogTail(namespace: string, pod: string, container: string, lines: number): Promise<string>;
  /** Runs a command in a container and returns its stdout (used to read the job's progress file). */
  execRead(namespace: string, pod: string, container: string, command: string[]): Promise<string>;
  nodeMemory(): Promise<NodeMemory[]>;
}

export function isNotFound(err: unknown): boolean {
  return (err as { code?: number })?.code === 404;
}

/** Loads the user's kubeconfig (KUBECONFIG or ~/.kube/config) and selects the stack's context. */
export function loadKubeConfig(context: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  if (!kc.getContexts().some((c) => c.name === context)) {
    throw new SpeedlayerError(`kubeconfig has no context '${context}'`, {
      fix: "Create the cluster with 'speedlayer up --target kind', or check KUBECONFIG.",
    });
  }
  kc.setCurrentContext(context);
  return kc;
}

const MiB = 1024 * 1024;

export function clientKubeApi(kc: k8s.KubeConfig): KubeApi {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const header = (apiVersion: string, kind: string, namespace: string | undefined, name: string) => ({
    apiVersion,
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}) },
  });
  return {
    async apply(m) {
      return (await objects.patch(
        m as k8s.KubernetesObject,
        undefined,
        undefined,
        'speedlayer',
        true,
        k8s.PatchStrategy.ServerSideApply,
      )) as KubeObject;
    },
    async get(apiVersion, kind, namespace, name) {
      try {
        return (await objects.read(header(apiVersion, kind, namespace, name))) as KubeObject;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async list(apiVersion, kind, namespace, labelSelector) {
      try {
        const res = await objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector);
        return res.items as KubeObject[];
      } catch (err) {
        // The kind itself is unknown (operator not installed yet): nothing to list.
        if (isNotFound(err)) return [];
        throw err;
      }
    },
    async remove(apiVersion, kind, namespace, name) {
      try {
        await objects.delete(header(apiVersion, kind, namespace, name), undefined, undefined, undefined, undefined, 'Background');
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
    async removeFinalizers(apiVersion, kind, namespace, name) {
      const h = header(apiVersion, kind, namespace, name);
      const patch = { ...h, metadata: { ...h.metadata, finalizers: null } } as unknown as k8s.KubernetesObject;
      try {
        await objects.patch(patch, undefined, undefined, 'speedlayer', undefined, k8s.PatchStrategy.MergePatch);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async podLogTail(namespace, pod, container, lines) {
      return core.readNamespacedPodLog({ name: pod, namespace, container, tailLines: lines });
    },
    async execRead(namespace, pod, container, command) {
      const out = new PassThrough();
      const err = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      await new Promise<void>((resolve, reject) => {
        new k8s.Exec(kc)
          .exec(namespace, pod, container, command, out, err, null, false, (status) => {
            if (status.status === 'Success') resolve();
            else reject(new Error(status.message ?? 'command failed in the pod'));
          })
          .then((ws) => ws.on('close', () => resolve()))
          .catch(reject);
      });
      return Buffer.concat(chunks).toString('utf8');
    },
    async nodeMemory() {
      const nodes = await k8s.topNodes(core);
      return nodes.map((n) => ({
        name: n.Node.metadata?.name ?? '?',
        allocatableMiB: Math.round(Number(n.Memory.Capacity) / MiB),
        requestsMiB: Math.round(Number(n.Memory.RequestTotal) / MiB),
        limitsMiB: Math.round(Number(n.Memory.LimitTotal) / MiB),
      }));
    },
  };
}
