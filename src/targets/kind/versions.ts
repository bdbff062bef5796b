/**
 * Every upstream version the kind target pins, in one place. Sources: the release tags of each
 * project (charts' Chart.yaml / values.yaml, kind's release notes), and ../shared/crds/README.md.
 */

/**
 * kindest/node images are built for one kind release; pin by digest (kind's release notes say so).
 * Only releases whose default image was checked are listed; for any other kind release the node
 * image is left to kind itself (its built-in default, pinned by digest in that release).
 */
export const KIND_NODE_IMAGES: Record<string, string> = {
  // kind v0.32.0: pkg/apis/config/defaults/image.go at tag v0.32.0 (Kubernetes 1.36.1)
  '0.32': 'kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5',
};
/** Used by `--plan` (no kind binary consulted): the minimum supported kind release. */
export const DEFAULT_KIND_MINOR = '0.32';

export const MIN_VERSIONS = {
  kind: '0.32.0',
  // OCI charts (Strimzi's) need Helm >= 3.8, the newest flag used (`uninstall --wait`) 3.7; Helm 4 works as well.
  helm: '3.8.0',
  docker: '24.0.0',
} as const;

export interface ChartPin {
  release: string;
  /** `helm install` chart argument: repo/name, or an oci:// reference. */
  chart: string;
  /** Added with `helm repo add` first; absent for OCI charts. */
  repo?: { name: string; url: string };
  version: string;
  /** File in manifests/ with the values for this chart. */
  valuesFile: string;
}

export const CHARTS = {
  sparkOperator: {
    release: 'spark-operator',
    chart: 'spark-operator/spark-operator',
    repo: { name: 'spark-operator', url: 'https://kubeflow.github.io/spark-operator' },
    version: '2.5.2',
    valuesFile: 'spark-operator-values.yaml',
  },
  strimzi: {
    release: 'strimzi',
    chart: 'oci://quay.io/strimzi-helm/strimzi-kafka-operator',
    version: '1.2.0',
    valuesFile: 'strimzi-values.yaml',
  },
  clickhouseOperator: {
    release: 'clickhouse-operator',
    chart: 'altinity/altinity-clickhouse-operator',
    repo: { name: 'altinity', url: 'https://helm.altinity.com' },
    version: '0.25.6',
    valuesFile: 'clickhouse-operator-values.yaml',
  },
} as const satisfies Record<string, ChartPin>;

/** Strimzi 1.2.0's default Kafka (KRaft only); the local target runs the same version. */
export const KAFKA_VERSION = '4.3.1';
export const KAFKA_METADATA_VERSION = '4.3-IV0';

/**
 * The release line every test runs against: the local target's engine is chDB 4.4.0 = ClickHouse
 * 26.9.2.1 (`SELECT version()`, src/targets/local/clickhouse/requirements.txt). The server image is
 * pinned to that line; its digest could not be read from here (no Docker Hub access), so the tag
 * is the pin. Not a Bitnami image.
 */
export const CLICKHOUSE_IMAGE = 'clickhouse/clickhouse-server:26.9';

/** The Spark Operator 2.5.2 image is built on apache/spark:4.0.4; the job image uses the same base. */
export const SPARK_VERSION = '4.0.4';
export const SPARK_JOB_IMAGE_REPO = 'speedlayer-job';

/**
 * The official images of the same releases the local target runs and its tests check the rules
 * with (Debian 12's prometheus 2.42.0 and prometheus-alertmanager 0.25.0): one PromQL and one
 * Alertmanager config dialect on both targets. Pinned by tag (no Docker Hub access here for digests).
 */
export const PROMETHEUS_IMAGE = 'prom/prometheus:v2.42.0';
export const ALERTMANAGER_IMAGE = 'prom/alertmanager:v0.25.0';
