import type { Manifest } from '../../../../src/targets/kind/render/manifest.ts';

/**
 * Core Kubernetes kinds validated with kubernetes-models (its validators are generated from the
 * Kubernetes OpenAPI schema: required fields, enums, types, formats).
 */
type ModelClass = new (data: unknown) => { validate(): void };

const CORE_MODULE = 'kubernetes-models/v1';
/** A specifier in a variable: the type check must not depend on the package being installed. */
async function load(specifier: string): Promise<Record<string, ModelClass>> {
  return (await import(specifier)) as Record<string, ModelClass>;
}

const MODULES: Record<string, { module: string; name: string }> = {
  'v1/Namespace': { module: 'kubernetes-models/v1', name: 'Namespace' },
  'v1/Secret': { module: 'kubernetes-models/v1', name: 'Secret' },
  'v1/Service': { module: 'kubernetes-models/v1', name: 'Service' },
  'v1/ConfigMap': { module: 'kubernetes-models/v1', name: 'ConfigMap' },
  'apps/v1/Deployment': { module: 'kubernetes-models/apps/v1', name: 'Deployment' },
  'v1/PersistentVolumeClaim': { module: 'kubernetes-models/v1', name: 'PersistentVolumeClaim' },
  'storage.k8s.io/v1/StorageClass': { module: 'kubernetes-models/storage.k8s.io/v1', name: 'StorageClass' },
};

export async function kubernetesModelsAvailable(): Promise<boolean> {
  return load(CORE_MODULE).then(() => true, () => false);
}

export const MODELS_ABSENT_REASON = 'kubernetes-models is not installed (add it to devDependencies): core kinds cannot be validated';

export function isCoreKind(m: Manifest): boolean {
  return `${m.apiVersion}/${m.kind}` in MODULES;
}

/** Throws with the schema errors when the object is not a valid instance of its core kind. */
export async function validateCore(m: Manifest): Promise<void> {
  const ref = MODULES[`${m.apiVersion}/${m.kind}`];
  if (!ref) throw new Error(`no core model for ${m.apiVersion}/${m.kind}`);
  const mod = await load(ref.module);
  new mod[ref.name]!(m).validate();
}

/** Validates an object embedded in a custom resource (CHI templates) as the spec of its core kind. */
export async function validateEmbedded(kind: 'Pod' | 'PersistentVolumeClaim' | 'Service', spec: unknown): Promise<void> {
  const mod = await load(CORE_MODULE);
  new mod[kind]!({ metadata: { name: 'embedded' }, spec }).validate();
}
