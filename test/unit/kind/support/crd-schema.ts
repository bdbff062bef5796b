import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import YAML from 'yaml';
import { PROJECT_ROOT } from '../../../../src/contract/index.ts';

/**
 * The upstream CRDs (../shared/crds), copied unchanged from each project's release tag.
 * SPEEDLAYER_CRDS_DIR points elsewhere (a git worktree kept away from the shared folder).
 */
export const CRD_DIR = path.resolve(process.env.SPEEDLAYER_CRDS_DIR ?? path.join(PROJECT_ROOT, '..', 'shared', 'crds'));
export const CRDS_PRESENT = existsSync(CRD_DIR);
export const CRDS_ABSENT_REASON = `upstream CRDs not found at ${CRD_DIR} (../shared/crds): custom resources cannot be validated`;

export const CRD_FILES: Record<string, string> = {
  'sparkoperator.k8s.io/v1beta2/SparkApplication': 'sparkoperator.k8s.io_sparkapplications.yaml',
  'kafka.strimzi.io/v1/Kafka': 'strimzi-040-Crd-kafka.yaml',
  'kafka.strimzi.io/v1/KafkaNodePool': 'strimzi-045-Crd-kafkanodepool.yaml',
  'kafka.strimzi.io/v1/KafkaTopic': 'strimzi-043-Crd-kafkatopic.yaml',
  'clickhouse.altinity.com/v1/ClickHouseInstallation': 'altinity-clickhouseinstallations.yaml',
};

type Schema = Record<string, any>;

/**
 * A CRD's structural schema as the API server applies it, in JSON Schema terms:
 * - int-or-string and nullable become explicit types;
 * - an object with `properties` and no x-kubernetes-preserve-unknown-fields gets
 *   additionalProperties: false — the API server would prune such a field silently, so a typo
 *   in a rendered manifest is an error here rather than a setting that quietly does nothing.
 * CEL rules (x-kubernetes-validations) are not evaluated; see the report in docs/kind.md.
 */
export function structuralToJsonSchema(s: Schema): Schema {
  if (Array.isArray(s)) return s.map(structuralToJsonSchema) as unknown as Schema;
  if (!s || typeof s !== 'object') return s;
  const out: Schema = {};
  for (const [key, value] of Object.entries(s)) {
    if (key.startsWith('x-kubernetes-') || key === 'description' || key === 'nullable') continue;
    if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, structuralToJsonSchema(v)]));
    } else if (key === 'items' || key === 'additionalProperties' || key === 'not') {
      out[key] = typeof value === 'object' ? structuralToJsonSchema(value) : value;
    } else if (key === 'allOf' || key === 'anyOf' || key === 'oneOf') {
      out[key] = (value as Schema[]).map(structuralToJsonSchema);
    } else {
      out[key] = value;
    }
  }
  if (s['x-kubernetes-int-or-string']) {
    delete out.type;
    out.anyOf = [...(out.anyOf ?? []), { type: 'integer' }, { type: 'string' }];
  }
  if (s.nullable && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (s.type === 'object' && s.properties && !s['x-kubernetes-preserve-unknown-fields'] && s.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  // The root's apiVersion/kind/metadata are checked by the API server's own rules, not this schema.
  return out;
}

let ajv: Ajv | undefined;
function getAjv(): Ajv {
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, strict: false });
    (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
  }
  return ajv;
}

const cache = new Map<string, ValidateFunction>();

/** The validator for apiVersion/kind from the matching upstream CRD (served version only). */
export function crdValidator(apiVersion: string, kind: string): ValidateFunction {
  const key = `${apiVersion}/${kind}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const file = CRD_FILES[key];
  if (!file) throw new Error(`no upstream CRD for ${key}`);
  const crd = YAML.parse(readFileSync(path.join(CRD_DIR, file), 'utf8'));
  if (crd.spec.names.kind !== kind) throw new Error(`${file} defines ${crd.spec.names.kind}, not ${kind}`);
  const version = apiVersion.split('/')[1];
  const v = (crd.spec.versions as Schema[]).find((x) => x.name === version && x.served);
  if (!v) throw new Error(`${file} does not serve ${apiVersion}`);
  const schema = structuralToJsonSchema(v.schema.openAPIV3Schema);
  const validate = getAjv().compile(schema);
  cache.set(key, validate);
  return validate;
}

export function formatErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` '${e.params.additionalProperty}'` : ''}${e.params && 'allowedValues' in e.params ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`)
    .join('\n');
}
