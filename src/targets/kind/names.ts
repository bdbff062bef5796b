/** Names shared by the renderers, the steps and status, so they cannot drift apart. */
export const NAMES = {
  kafkaCluster: 'speedlayer',
  kafkaNodePool: 'dual-role',
  chi: 'speedlayer',
  clickhouseCluster: 'main',
  clickhouseUser: 'speedlayer',
  clickhouseSecret: 'speedlayer-clickhouse',
  sparkApp: 'speedlayer-job',
  sparkServiceAccount: 'speedlayer-spark',
  sparkUiService: 'speedlayer-spark-ui',
  checkpointPvc: 'speedlayer-checkpoints',
  storageClass: 'speedlayer-local',
  prometheus: 'speedlayer-prometheus',
  prometheusConfig: 'speedlayer-prometheus-config',
  alertmanager: 'speedlayer-alertmanager',
  alertmanagerConfig: 'speedlayer-alertmanager-config',
  /** Services Prometheus scrapes: the driver's job metrics, ClickHouse's and Kafka's own endpoints. */
  jobMetricsService: 'speedlayer-job-metrics',
  clickhouseMetricsService: 'speedlayer-clickhouse-metrics',
  kafkaMetricsService: 'speedlayer-kafka-metrics',
  /** Strimzi's metricsConfig: the broker's JMX exporter rules. */
  kafkaMetricsConfig: 'speedlayer-kafka-jmx-exporter',
} as const;

/** NodePorts inside the kind node; extraPortMappings publish them on 127.0.0.1:<host port>. */
export const NODE_PORTS = {
  clickhouseHttp: 30123,
  kafkaBootstrap: 30091,
  kafkaBroker: 30092,
  sparkUi: 30040,
} as const;

/** Ports inside the cluster. */
export const CLUSTER_PORTS = {
  kafkaPlain: 9092,
  kafkaExternal: 9094,
  clickhouseHttp: 8123,
  clickhouseTcp: 9000,
  clickhouseMetrics: 9363,
  sparkUi: 4040,
  sparkJmxExporter: 8090,
  /** The job's own /metrics (JobMetrics.scala) on the driver. */
  jobMetrics: 9102,
  /** Strimzi's fixed port for the broker's JMX exporter. */
  kafkaMetrics: 9404,
  prometheus: 9090,
  alertmanager: 9093,
} as const;

/** Paths inside the job image and the driver/executor pods. */
export const POD_PATHS = {
  jobJar: '/opt/speedlayer/speedlayer-job.jar',
  jmxExporterJar: '/opt/speedlayer/jmx_prometheus_javaagent.jar',
  checkpointMount: '/checkpoints',
  checkpointDir: '/checkpoints/speedlayer',
  progressFile: '/checkpoints/progress.json',
} as const;

/** In-cluster addresses the Spark job uses (the host uses the mapped ports instead). */
export function inClusterEndpoints(namespace: string) {
  return {
    kafkaBootstrap: `${NAMES.kafkaCluster}-kafka-bootstrap.${namespace}.svc:${CLUSTER_PORTS.kafkaPlain}`,
    clickhouseUrl: `http://clickhouse-${NAMES.chi}.${namespace}.svc:${CLUSTER_PORTS.clickhouseHttp}`,
  };
}
