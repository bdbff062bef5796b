import { describe, expect, it } from 'vitest';
import { jobArguments } from '../../../src/contract/job-arguments.ts';
import { NAMES, POD_PATHS, inClusterEndpoints } from '../../../src/targets/kind/names.ts';
import { kindTarget } from './support/targets.ts';

const manifests = (await kindTarget().plan()).steps.flatMap((s) => s.manifests.map((m) => m.object)) as any[];
const app = manifests.find((m) => m.kind === 'SparkApplication');

describe('the SparkApplication (sparkoperator.k8s.io/v1beta2)', () => {
  it('scales executors with dynamic allocation and shuffle tracking', () => {
    expect(app.spec.dynamicAllocation).toEqual({ enabled: true, initialExecutors: 1, minExecutors: 1, maxExecutors: 2, shuffleTrackingEnabled: true });
  });

  it('checkpoints on a PersistentVolumeClaim mounted in driver and executors', () => {
    const pvc = manifests.find((m) => m.kind === 'PersistentVolumeClaim');
    expect(app.spec.volumes).toEqual([{ name: 'checkpoints', persistentVolumeClaim: { claimName: pvc.metadata.name } }]);
    for (const pod of [app.spec.driver, app.spec.executor]) {
      expect(pod.volumeMounts).toEqual([{ name: 'checkpoints', mountPath: POD_PATHS.checkpointMount }]);
    }
    expect(app.spec.arguments).toEqual(expect.arrayContaining(['--checkpoint-dir', POD_PATHS.checkpointDir]));
    expect(POD_PATHS.checkpointDir.startsWith(POD_PATHS.checkpointMount + '/')).toBe(true);
  });

  it('restarts on failure with retries, and exposes Prometheus metrics', () => {
    expect(app.spec.restartPolicy).toMatchObject({ type: 'OnFailure', onFailureRetries: 5 });
    expect(app.spec.monitoring).toMatchObject({ exposeDriverMetrics: true, exposeExecutorMetrics: true, prometheus: { jmxExporterJar: POD_PATHS.jmxExporterJar } });
    expect(app.spec.sparkConf['spark.metrics.conf.*.sink.prometheusServlet.class']).toBe('org.apache.spark.metrics.sink.PrometheusServlet');
    expect(app.spec.sparkConf['spark.ui.prometheus.enabled']).toBe('true');
  });

  it('runs the same job with the same arguments as the local target (in-cluster addresses)', () => {
    const inCluster = inClusterEndpoints('speedlayer');
    const local = jobArguments({
      bootstrapServers: inCluster.kafkaBootstrap,
      clickhouseUrl: inCluster.clickhouseUrl,
      clickhouseUser: NAMES.clickhouseUser,
      clickhouseDatabase: 'speedlayer',
      checkpointDir: POD_PATHS.checkpointDir,
      progressFile: POD_PATHS.progressFile,
    });
    expect(app.spec.arguments).toEqual(local);
    expect(app.spec.arguments).not.toContain('x');
    expect(app.spec.driver.env).toEqual([{ name: 'CLICKHOUSE_PASSWORD', valueFrom: { secretKeyRef: { name: NAMES.clickhouseSecret, key: 'password' } } }]);
  });

  it('uses the content-hashed image on Spark 4.0.4 with the contract main class', () => {
    expect(app.spec.image).toBe('speedlayer-job:0123456789abcdef');
    expect(app.spec.sparkVersion).toBe('4.0.4');
    expect(app.spec.mainClass).toBe('dev.speedlayer.job.SpeedLayerJob');
    expect(app.spec.mainApplicationFile).toBe(`local://${POD_PATHS.jobJar}`);
  });

  it('the topics are rendered from pipeline.json', async () => {
    const { pipeline } = await import('../../../src/contract/index.ts');
    const topics = manifests.filter((m) => m.kind === 'KafkaTopic').map((t) => [t.spec.topicName, t.spec.partitions, t.spec.config]);
    expect(topics).toEqual(Object.values(pipeline.kafka.topics).map((t) => [t.name, t.partitions, t.config]));
  });
});
