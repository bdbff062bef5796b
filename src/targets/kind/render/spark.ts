import { jobArguments } from '../../../contract/job-arguments.ts';
import { pipeline } from '../../../contract/index.ts';
import type { KindConfig } from '../../../config/kind.ts';
import { CLUSTER_PORTS, NAMES, NODE_PORTS, POD_PATHS, inClusterEndpoints } from '../names.ts';
import { SPARK_VERSION } from '../versions.ts';
import { CLICKHOUSE_DATABASE } from './clickhouse.ts';
import type { ClusterProvider } from '../context.ts';
import { MANAGED_BY, type Manifest } from './manifest.ts';

/** Labels on the driver pod, selected by the Spark UI service and by status. */
export const DRIVER_LABELS = { 'speedlayer.dev/app': NAMES.sparkApp, 'speedlayer.dev/role': 'driver' };
export const EXECUTOR_LABELS = { 'speedlayer.dev/app': NAMES.sparkApp, 'speedlayer.dev/role': 'executor' };

/**
 * The job's arguments: the same flags and values as the local target's, with in-cluster addresses.
 * The password is not among them: it travels in CLICKHOUSE_PASSWORD, as on local.
 */
export function sparkJobArguments(config: KindConfig): string[] {
  const inCluster = inClusterEndpoints(config.namespace);
  return jobArguments({
    bootstrapServers: inCluster.kafkaBootstrap,
    clickhouseUrl: inCluster.clickhouseUrl,
    clickhouseUser: NAMES.clickhouseUser,
    clickhouseDatabase: CLICKHOUSE_DATABASE,
    checkpointDir: POD_PATHS.checkpointDir,
    progressFile: POD_PATHS.progressFile,
  });
}

/** Checkpoints and the progress file survive driver restarts on this claim. */
export function renderCheckpointPvc(config: KindConfig, cluster: ClusterProvider): Manifest {
  const sc = cluster.storageClassName;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: NAMES.checkpointPvc, namespace: config.namespace, labels: { ...MANAGED_BY } },
    spec: {
      // One node: every pod of the job mounts it on that node, which ReadWriteOnce allows.
      accessModes: ['ReadWriteOnce'],
      ...(sc ? { storageClassName: sc } : {}),
      resources: { requests: { storage: `${config.storage.checkpointGi}Gi` } },
    },
  };
}

/** The Spark UI (and its /metrics/prometheus servlet) for the host. */
export function renderSparkUiService(config: KindConfig, cluster: ClusterProvider): Manifest {
  const port = { name: 'ui', port: CLUSTER_PORTS.sparkUi, targetPort: CLUSTER_PORTS.sparkUi, protocol: 'TCP' };
  const spec =
    cluster.serviceType === 'LoadBalancer'
      ? { type: 'LoadBalancer', selector: DRIVER_LABELS, ports: [{ ...port, port: config.ports.sparkUi }] }
      : { type: 'NodePort', selector: DRIVER_LABELS, ports: [{ ...port, nodePort: NODE_PORTS.sparkUi }] };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: NAMES.sparkUiService, namespace: config.namespace, labels: { ...MANAGED_BY } },
    spec,
  };
}

const passwordEnv = [
  {
    name: 'CLICKHOUSE_PASSWORD',
    valueFrom: { secretKeyRef: { name: NAMES.clickhouseSecret, key: 'password' } },
  },
];
const checkpointMount = [{ name: 'checkpoints', mountPath: POD_PATHS.checkpointMount }];

export function renderSparkApplication(config: KindConfig, image: string): Manifest {
  const r = config.resources;
  const s = config.spark;
  // The CRD requires executor.instances >= 1; with minExecutors 0 dynamic allocation still scales to 0 when idle.
  const initialExecutors = Math.max(1, s.minExecutors);
  return {
    apiVersion: 'sparkoperator.k8s.io/v1beta2',
    kind: 'SparkApplication',
    metadata: { name: NAMES.sparkApp, namespace: config.namespace, labels: { ...MANAGED_BY } },
    spec: {
      type: 'Scala',
      mode: 'cluster',
      image,
      imagePullPolicy: 'IfNotPresent',
      mainClass: pipeline.spark.mainClass,
      mainApplicationFile: `local://${POD_PATHS.jobJar}`,
      sparkVersion: SPARK_VERSION,
      arguments: sparkJobArguments(config),
      sparkConf: {
        // Spark's own Prometheus endpoints on the UI port: /metrics/prometheus and /metrics/executors/prometheus.
        'spark.ui.prometheus.enabled': 'true',
        'spark.metrics.conf.*.sink.prometheusServlet.class': 'org.apache.spark.metrics.sink.PrometheusServlet',
        'spark.metrics.conf.*.sink.prometheusServlet.path': '/metrics/prometheus',
        'spark.sql.streaming.metricsEnabled': 'true',
        'spark.kubernetes.executor.deleteOnTermination': 'true',
        'spark.sql.session.timeZone': 'UTC',
        // Without a bound each state store instance keeps its own block cache and memtables
        // (RocksDB's 64 MiB write buffers), outside the heap and outside memoryOverhead's sizing.
        'spark.sql.streaming.stateStore.rocksdb.boundedMemoryUsage': 'true',
        'spark.sql.streaming.stateStore.rocksdb.maxMemoryUsageMB': String(r.rocksdbMemoryMiB),
      },
      restartPolicy: {
        type: 'OnFailure',
        onFailureRetries: s.onFailureRetries,
        onFailureRetryInterval: 10,
        onSubmissionFailureRetries: 3,
        onSubmissionFailureRetryInterval: 20,
      },
      // Executors scale with backlog between min and max; shuffle tracking replaces the external shuffle service.
      dynamicAllocation: {
        enabled: true,
        initialExecutors,
        minExecutors: s.minExecutors,
        maxExecutors: s.maxExecutors,
        shuffleTrackingEnabled: true,
      },
      volumes: [{ name: 'checkpoints', persistentVolumeClaim: { claimName: NAMES.checkpointPvc } }],
      driver: {
        cores: 1,
        coreRequest: `${r.sparkCpuRequestMillicores}m`,
        memory: `${r.sparkDriverMiB}m`,
        memoryOverhead: `${r.sparkDriverOverheadMiB}m`,
        serviceAccount: NAMES.sparkServiceAccount,
        labels: { ...DRIVER_LABELS },
        env: passwordEnv,
        volumeMounts: checkpointMount,
        // The job's /metrics (JobMetrics.scala) on the pod's address, for Prometheus in its own pod.
        javaOptions: [
          ...pipeline.spark.jvmOptions,
          `-Dspeedlayer.metrics.port=${CLUSTER_PORTS.jobMetrics}`,
          '-Dspeedlayer.metrics.host=0.0.0.0',
        ].join(' '),
      },
      executor: {
        cores: s.executorCores,
        coreRequest: `${r.sparkCpuRequestMillicores}m`,
        instances: initialExecutors,
        memory: `${r.sparkExecutorMiB}m`,
        memoryOverhead: `${r.sparkExecutorOverheadMiB}m`,
        labels: { ...EXECUTOR_LABELS },
        env: passwordEnv,
        volumeMounts: checkpointMount,
        javaOptions: pipeline.spark.jvmOptions.join(' '),
      },
      monitoring: {
        exposeDriverMetrics: true,
        exposeExecutorMetrics: true,
        prometheus: { jmxExporterJar: POD_PATHS.jmxExporterJar, port: CLUSTER_PORTS.sparkJmxExporter },
      },
    },
  };
}
