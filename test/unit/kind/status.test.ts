import { describe, expect, it } from 'vitest';
import type { KubeApi, KubeObject } from '../../../src/targets/kind/k8s.ts';
import { kindComponents, kindJobProgress } from '../../../src/targets/kind/status.ts';

/** Objects shaped like the API server's answers (status written by the operators). */
const recorded: Record<string, KubeObject> = {
  Kafka: { apiVersion: 'kafka.strimzi.io/v1', kind: 'Kafka', metadata: { name: 'speedlayer', generation: 2 } as any,
    status: { observedGeneration: 2, kafkaVersion: '4.3.1', conditions: [{ type: 'Ready', status: 'True' }] } },
  ClickHouseInstallation: { apiVersion: 'clickhouse.altinity.com/v1', kind: 'ClickHouseInstallation', metadata: { name: 'speedlayer' }, status: { status: 'InProgress' } },
  SparkApplication: { apiVersion: 'sparkoperator.k8s.io/v1beta2', kind: 'SparkApplication', metadata: { name: 'speedlayer-job' },
    status: { applicationState: { state: 'RUNNING' } } },
};
const driver: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'speedlayer-job-driver' },
  status: { phase: 'Running', containerStatuses: [{ restartCount: 1 }] } };

const fake: KubeApi = {
  apply: async (m) => m,
  get: async (_a, kind) => recorded[kind],
  list: async (_a, _k, _ns, selector) => (selector?.includes('role=driver') ? [driver] : []),
  remove: async () => false,
  removeFinalizers: async () => {},
  podLogTail: async () => '',
  execRead: async () => JSON.stringify({ batchId: 41, timestamp: '2026-11-26T00:00:00.000Z', numInputRows: 20000, inputRowsPerSecond: 10000, processedRowsPerSecond: 12000, durationMs: { triggerExecution: 1650 } }),
  nodeMemory: async () => [{ name: 'speedlayer-control-plane', allocatableMiB: 11900, requestsMiB: 8000, limitsMiB: 8896 }],
};

describe('status on kind (recorded API responses)', () => {
  it('reports CR conditions, the SparkApplication state, driver restarts and node memory vs the budget', async () => {
    const c = Object.fromEntries((await kindComponents(fake, 'speedlayer')).map((x) => [x.name, x]));
    expect(c.kafka).toMatchObject({ state: 'up', version: '4.3.1' });
    expect(c.clickhouse).toMatchObject({ state: 'degraded', detail: 'CHI status InProgress' });
    expect(c['spark-job']!.state).toBe('degraded');
    expect(c['spark-job']!.detail).toContain('SparkApplication RUNNING; driver: speedlayer-job-driver Running restarts=1');
    expect(c['kubernetes-node']!.detail).toContain('limits 8896 MiB, requests 8000 MiB of 11900 MiB (budget 9728 MiB)');
  });

  it("reads the job's progress from the driver, as the local target reads its file", async () => {
    expect(await kindJobProgress(fake, 'speedlayer')).toEqual({
      batchId: 41, lastBatchAt: '2026-11-26T00:00:00.000Z', numInputRows: 20000, inputRowsPerSecond: 10000, processedRowsPerSecond: 12000, batchDurationMs: 1650,
    });
  });
});
