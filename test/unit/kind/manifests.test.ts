import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Manifest } from '../../../src/targets/kind/render/manifest.ts';
import { CRDS_ABSENT_REASON, CRDS_PRESENT, CRD_FILES, crdValidator, formatErrors } from './support/crd-schema.ts';
import { isCoreKind, kubernetesModelsAvailable, MODELS_ABSENT_REASON, validateCore, validateEmbedded } from './support/core-schema.ts';
import { kindClusterSchema } from './support/kind-cluster-schema.ts';
import { CHANGED_KIND_CONFIG, kindTarget } from './support/targets.ts';

const MODELS_PRESENT = await kubernetesModelsAvailable();
if (!CRDS_PRESENT) console.warn(`SKIPPED custom resource validation: ${CRDS_ABSENT_REASON}`);
if (!MODELS_PRESENT) console.warn(`SKIPPED core kind validation: ${MODELS_ABSENT_REASON}`);

async function renderedManifests(kind: Record<string, unknown>): Promise<Manifest[]> {
  const plan = await kindTarget(kind).plan();
  return plan.steps.flatMap((s) => s.manifests.map((m) => m.object));
}

const isCustom = (m: Manifest) => `${m.apiVersion}/${m.kind}` in CRD_FILES;
const isKindCluster = (m: Manifest) => m.apiVersion === 'kind.x-k8s.io/v1alpha4';

export function crdErrors(m: Manifest): string | undefined {
  const validate = crdValidator(m.apiVersion, m.kind);
  return validate(m) ? undefined : formatErrors(validate.errors);
}

const configs = { default: {}, changed: CHANGED_KIND_CONFIG };

for (const [label, kindConfig] of Object.entries(configs)) {
  describe(`every manifest the kind target renders (${label} config)`, async () => {
    const manifests = await renderedManifests(kindConfig);

    it('renders the whole stack, and each manifest has a validator', () => {
      expect(manifests.map((m) => m.kind)).toEqual(expect.arrayContaining([
        'Namespace', 'KafkaNodePool', 'Kafka', 'KafkaTopic', 'Secret', 'ClickHouseInstallation',
        'PersistentVolumeClaim', 'Service', 'SparkApplication',
      ]));
      const unvalidated = manifests.filter((m) => !isCoreKind(m) && !isCustom(m) && !isKindCluster(m));
      expect(unvalidated.map((m) => `${m.apiVersion}/${m.kind}`)).toEqual([]);
    });

    it('names are DNS-1123 subdomains and namespaced objects name their namespace', () => {
      for (const m of manifests) {
        expect(m.metadata.name, m.kind).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
        if (!['Namespace', 'StorageClass'].includes(m.kind) && !isKindCluster(m)) expect(m.metadata.namespace, m.kind).toBeTruthy();
      }
    });

    it.skipIf(!CRDS_PRESENT)('custom resources validate against the upstream CRDs (Spark Operator 2.5.2, Strimzi 1.2.0, Altinity 0.25.6)', () => {
      const custom = manifests.filter(isCustom);
      expect(custom.length).toBeGreaterThanOrEqual(6);
      for (const m of custom) expect(crdErrors(m), `${m.kind}/${m.metadata.name}`).toBeUndefined();
    });

    it.skipIf(!MODELS_PRESENT)('core kinds validate with kubernetes-models', async () => {
      for (const m of manifests.filter(isCoreKind)) await expect(validateCore(m), `${m.kind}/${m.metadata.name}`).resolves.toBeUndefined();
    });

    it.skipIf(!MODELS_PRESENT)("the ClickHouseInstallation's embedded pod, volume and service specs are valid core specs", async () => {
      const chi = manifests.find((m) => m.kind === 'ClickHouseInstallation') as any;
      for (const t of chi.spec.templates.podTemplates) await validateEmbedded('Pod', t.spec);
      for (const t of chi.spec.templates.volumeClaimTemplates) await validateEmbedded('PersistentVolumeClaim', t.spec);
      for (const t of chi.spec.templates.serviceTemplates) await validateEmbedded('Service', t.spec);
    });

    it("the kind cluster config matches kind's v1alpha4 types", () => {
      const ajv = new Ajv({ allErrors: true });
      (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
      const validate = ajv.compile(kindClusterSchema);
      for (const m of manifests.filter(isKindCluster)) {
        const { metadata: _ignored, ...config } = m;
        expect(validate(config) ? undefined : formatErrors(validate.errors)).toBeUndefined();
      }
    });
  });
}
