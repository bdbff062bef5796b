import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../../src/targets/kind/render/manifest.ts';
import { CRDS_ABSENT_REASON, CRDS_PRESENT, crdValidator, formatErrors } from './support/crd-schema.ts';
import { kubernetesModelsAvailable, MODELS_ABSENT_REASON, validateCore, validateEmbedded } from './support/core-schema.ts';
import { kindTarget } from './support/targets.ts';

/** Each validator must reject a broken manifest; otherwise a green manifests test proves nothing. */
const MODELS_PRESENT = await kubernetesModelsAvailable();
const plan = await kindTarget().plan();
const byKind = (kind: string) => structuredClone(plan.steps.flatMap((s) => s.manifests).find((m) => m.kind === kind)!.object) as any;
const errorsOf = (m: Manifest) => {
  const v = crdValidator(m.apiVersion, m.kind);
  return v(m) ? '' : formatErrors(v.errors);
};

describe.skipIf(!CRDS_PRESENT)(`CRD validation rejects broken custom resources${CRDS_PRESENT ? '' : ` (skipped: ${CRDS_ABSENT_REASON})`}`, () => {
  it('a missing required field (SparkApplication without spec.driver)', () => {
    const app = byKind('SparkApplication');
    delete app.spec.driver;
    expect(errorsOf(app)).toContain("must have required property 'driver'");
  });
  it('a value outside an enum (restartPolicy.type Sometimes)', () => {
    const app = byKind('SparkApplication');
    app.spec.restartPolicy.type = 'Sometimes';
    expect(errorsOf(app)).toContain('/spec/restartPolicy/type must be equal to one of the allowed values');
  });
  it('a field the API server would prune (a typo: dynamicAllocaton)', () => {
    const app = byKind('SparkApplication');
    app.spec.dynamicAllocaton = app.spec.dynamicAllocation;
    expect(errorsOf(app)).toContain("must NOT have additional properties 'dynamicAllocaton'");
  });
  it('a pattern (Strimzi listener names are [a-z0-9]{1,11})', () => {
    const kafka = byKind('Kafka');
    kafka.spec.kafka.listeners[1].name = 'External_Host';
    expect(errorsOf(kafka)).toContain('/spec/kafka/listeners/1/name must match pattern');
  });
  it('a minimum (a Kafka listener port below 9092)', () => {
    const kafka = byKind('Kafka');
    kafka.spec.kafka.listeners[0].port = 80;
    expect(errorsOf(kafka)).toContain('must be >= 9092');
  });
  it('a wrong type (KafkaTopic partitions as a string) and a bad node pool role', () => {
    const topic = byKind('KafkaTopic');
    topic.spec.partitions = '6';
    expect(errorsOf(topic)).toContain('/spec/partitions must be integer');
    const pool = byKind('KafkaNodePool');
    pool.spec.roles = ['leader'];
    expect(errorsOf(pool)).toContain('/spec/roles/0 must be equal to one of the allowed values');
  });
  it('a ClickHouseInstallation with an unknown template key', () => {
    const chi = byKind('ClickHouseInstallation');
    chi.spec.templates.podTemplate = chi.spec.templates.podTemplates;
    expect(errorsOf(chi)).toContain("must NOT have additional properties 'podTemplate'");
  });
});

describe.skipIf(!MODELS_PRESENT)(`kubernetes-models rejects broken core objects${MODELS_PRESENT ? '' : ` (skipped: ${MODELS_ABSENT_REASON})`}`, () => {
  it('a PVC with accessModes as a string', async () => {
    const pvc = byKind('PersistentVolumeClaim');
    pvc.spec.accessModes = 'ReadWriteOnce';
    await expect(validateCore(pvc)).rejects.toThrow(/accessModes must be array/);
  });
  it('a Service port without its port number', async () => {
    const svc = byKind('Service');
    delete svc.spec.ports[0].port;
    await expect(validateCore(svc)).rejects.toThrow(/spec\/ports\/0 must have required property/);
  });
  it('a ClickHouse pod template container without a name', async () => {
    const chi = byKind('ClickHouseInstallation');
    delete chi.spec.templates.podTemplates[0].spec.containers[0].name;
    await expect(validateEmbedded('Pod', chi.spec.templates.podTemplates[0].spec)).rejects.toThrow(/name/);
  });
});
