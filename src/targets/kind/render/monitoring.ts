import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { KindConfig } from '../../../config/kind.ts';
import type { MonitoringConfig } from '../../../config/schema.ts';
import { PROJECT_ROOT } from '../../../contract/index.ts';
import { ALERT_RULES_FILE, alertmanagerConfig, prometheusConfig, settingsRules } from '../../../stack/monitoring-config.ts';
import { CLUSTER_PORTS, NAMES } from '../names.ts';
import { ALERTMANAGER_IMAGE, PROMETHEUS_IMAGE } from '../versions.ts';
import { MANAGED_BY, type Manifest } from './manifest.ts';
import { DRIVER_LABELS } from './spark.ts';

/** Recording rules that make the exporter's series from what the cluster exposes (kind only). */
export const KIND_RULES_FILE = path.join(PROJECT_ROOT, 'manifests', 'prometheus', 'kind.rules.yml');

/** The files of the Prometheus ConfigMap, mounted together so rule_files are relative to the config. */
export const PROMETHEUS_FILES = {
  config: 'prometheus.yml',
  alerts: 'alerts.rules.yml',
  settings: 'settings.rules.yml',
  kind: 'kind.rules.yml',
} as const;
export const ALERTMANAGER_FILE = 'alertmanager.yml';

const PROMETHEUS_DIR = '/etc/prometheus';
const ALERTMANAGER_DIR = '/etc/alertmanager';

/** Broker JMX metrics (Strimzi metricsConfig): only what the rules and docs/metrics.md use. */
const KAFKA_JMX_RULES = {
  lowercaseOutputName: true,
  rules: [
    {
      pattern: 'kafka.log<type=Log, name=LogEndOffset, topic=(.+), partition=(.+)><>Value',
      name: 'kafka_log_log_logendoffset',
      type: 'GAUGE',
      labels: { topic: '$1', partition: '$2' },
    },
    {
      pattern: 'kafka.server<type=ReplicaManager, name=(UnderReplicatedPartitions|OfflineReplicaCount|PartitionCount)><>Value',
      name: 'kafka_server_replicamanager_$1',
      type: 'GAUGE',
    },
    {
      pattern: 'kafka.server<type=BrokerTopicMetrics, name=(MessagesInPerSec|BytesInPerSec), topic=(.+)><>Count',
      name: 'kafka_server_brokertopicmetrics_$1_total',
      type: 'COUNTER',
      labels: { topic: '$2' },
    },
  ],
};
export const KAFKA_METRICS_KEY = 'metrics-config.yml';

function meta(config: KindConfig, name: string, component?: string): Manifest['metadata'] {
  return {
    name,
    namespace: config.namespace,
    labels: { ...MANAGED_BY, ...(component ? { 'app.kubernetes.io/name': component } : {}) },
  };
}

/** The ConfigMap Strimzi's `metricsConfig` points at (applied before the Kafka resource). */
export function renderKafkaMetricsConfig(config: KindConfig): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(config, NAMES.kafkaMetricsConfig),
    data: { [KAFKA_METRICS_KEY]: stringify(KAFKA_JMX_RULES) },
  };
}

function svc(ns: string, name: string, port: number): string {
  return `${name}.${ns}.svc:${port}`;
}

/**
 * Static targets through Services: a component with no pod (the job not submitted, the broker
 * down) is a failed scrape, `up` 0, which the rules read; pod discovery would just drop it.
 */
export function kindPrometheusFiles(config: KindConfig, m: MonitoringConfig): Record<string, string> {
  const ns = config.namespace;
  return {
    [PROMETHEUS_FILES.config]: prometheusConfig(m, {
      alertmanager: svc(ns, NAMES.alertmanager, CLUSTER_PORTS.alertmanager),
      ruleFiles: [PROMETHEUS_FILES.alerts, PROMETHEUS_FILES.settings, PROMETHEUS_FILES.kind],
      scrapeJobs: [
        { name: 'spark-job', targets: [svc(ns, NAMES.jobMetricsService, CLUSTER_PORTS.jobMetrics)] },
        { name: 'clickhouse', targets: [svc(ns, NAMES.clickhouseMetricsService, CLUSTER_PORTS.clickhouseMetrics)] },
        { name: 'kafka', targets: [svc(ns, NAMES.kafkaMetricsService, CLUSTER_PORTS.kafkaMetrics)] },
        { name: 'prometheus', targets: [`localhost:${CLUSTER_PORTS.prometheus}`] },
        { name: 'alertmanager', targets: [svc(ns, NAMES.alertmanager, CLUSTER_PORTS.alertmanager)] },
      ],
    }),
    // The one rule file, unchanged; the settings from the config; the kind stand-ins.
    [PROMETHEUS_FILES.alerts]: readFileSync(ALERT_RULES_FILE, 'utf8'),
    [PROMETHEUS_FILES.settings]: settingsRules(m),
    [PROMETHEUS_FILES.kind]: readFileSync(KIND_RULES_FILE, 'utf8'),
  };
}

function configMap(config: KindConfig, name: string, data: Record<string, string>): Manifest {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(config, name), data };
}

/** Changes with the configuration, so `apply` rolls the pod when a ConfigMap changed. */
function checksum(data: Record<string, string>): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 16);
}

function clusterService(config: KindConfig, name: string, selector: Record<string, string>, ports: Array<{ name: string; port: number }>): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(config, name),
    spec: {
      type: 'ClusterIP',
      selector,
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: 'TCP' })),
    },
  };
}

interface ServerSpec {
  name: string;
  component: string;
  image: string;
  args: string[];
  port: number;
  memoryMiB: number;
  cpu: string;
  configName: string;
  configDir: string;
  dataDir: string;
  data: Record<string, string>;
}

/** One replica, memory request = limit, GOMEMLIMIT at 80% of it so the Go GC works before the OOM killer. */
function server(config: KindConfig, s: ServerSpec): Manifest {
  const labels = { 'app.kubernetes.io/name': s.component, 'app.kubernetes.io/instance': s.name };
  const memory = `${s.memoryMiB}Mi`;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(config, s.name, s.component),
    spec: {
      replicas: 1,
      // Both mount one emptyDir: never two pods at once.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...labels, ...MANAGED_BY }, annotations: { 'speedlayer.dev/config-checksum': checksum(s.data) } },
        spec: {
          containers: [
            {
              name: s.component,
              image: s.image,
              args: s.args,
              ports: [{ name: 'http', containerPort: s.port, protocol: 'TCP' }],
              env: [{ name: 'GOMEMLIMIT', value: `${Math.floor(s.memoryMiB * 0.8)}MiB` }],
              resources: { requests: { memory, cpu: s.cpu }, limits: { memory } },
              readinessProbe: { httpGet: { path: '/-/ready', port: s.port }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/-/healthy', port: s.port }, periodSeconds: 15, failureThreshold: 4 },
              volumeMounts: [
                { name: 'config', mountPath: s.configDir, readOnly: true },
                { name: 'data', mountPath: s.dataDir },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: s.configName } },
            // History is short-lived monitoring data: a restart starts afresh, alerts re-evaluate.
            { name: 'data', emptyDir: { sizeLimit: '2Gi' } },
          ],
        },
      },
    },
  };
}

/**
 * Prometheus with the project's rules and Alertmanager with the same routing as the local target
 * (official images, plain Deployments), and the ClusterIP Services Prometheus scrapes. Alertmanager
 * notifies the configured webhooks; the local exporter's notification log has no kind counterpart.
 */
export function renderMonitoring(config: KindConfig, m: MonitoringConfig): Manifest[] {
  const promData = kindPrometheusFiles(config, m);
  const amData = { [ALERTMANAGER_FILE]: alertmanagerConfig(m) };
  return [
    configMap(config, NAMES.prometheusConfig, promData),
    configMap(config, NAMES.alertmanagerConfig, amData),
    server(config, {
      name: NAMES.prometheus,
      component: 'prometheus',
      image: PROMETHEUS_IMAGE,
      args: [
        `--config.file=${PROMETHEUS_DIR}/${PROMETHEUS_FILES.config}`,
        '--storage.tsdb.path=/prometheus',
        '--storage.tsdb.retention.time=2d',
        `--web.listen-address=:${CLUSTER_PORTS.prometheus}`,
      ],
      port: CLUSTER_PORTS.prometheus,
      memoryMiB: config.resources.prometheusMiB,
      cpu: '100m',
      configName: NAMES.prometheusConfig,
      configDir: PROMETHEUS_DIR,
      dataDir: '/prometheus',
      data: promData,
    }),
    server(config, {
      name: NAMES.alertmanager,
      component: 'alertmanager',
      image: ALERTMANAGER_IMAGE,
      args: [
        `--config.file=${ALERTMANAGER_DIR}/${ALERTMANAGER_FILE}`,
        '--storage.path=/alertmanager',
        `--web.listen-address=:${CLUSTER_PORTS.alertmanager}`,
        // One instance: no gossip port to open.
        '--cluster.listen-address=',
      ],
      port: CLUSTER_PORTS.alertmanager,
      memoryMiB: config.resources.alertmanagerMiB,
      cpu: '20m',
      configName: NAMES.alertmanagerConfig,
      configDir: ALERTMANAGER_DIR,
      dataDir: '/alertmanager',
      data: amData,
    }),
    clusterService(config, NAMES.prometheus, { 'app.kubernetes.io/instance': NAMES.prometheus }, [{ name: 'http', port: CLUSTER_PORTS.prometheus }]),
    clusterService(config, NAMES.alertmanager, { 'app.kubernetes.io/instance': NAMES.alertmanager }, [{ name: 'http', port: CLUSTER_PORTS.alertmanager }]),
    clusterService(config, NAMES.jobMetricsService, DRIVER_LABELS, [{ name: 'metrics', port: CLUSTER_PORTS.jobMetrics }]),
    // The operator labels every pod of the installation with its name.
    clusterService(config, NAMES.clickhouseMetricsService, { 'clickhouse.altinity.com/chi': NAMES.chi }, [
      { name: 'metrics', port: CLUSTER_PORTS.clickhouseMetrics },
    ]),
    clusterService(config, NAMES.kafkaMetricsService, { 'strimzi.io/cluster': NAMES.kafkaCluster, 'strimzi.io/pool-name': NAMES.kafkaNodePool }, [
      { name: 'metrics', port: CLUSTER_PORTS.kafkaMetrics },
    ]),
  ];
}
