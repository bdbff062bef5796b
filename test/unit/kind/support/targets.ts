import nodePath from 'node:path';
import { RecordingStatus } from '../../../../src/base/status.ts';
import { ConfigSchema } from '../../../../src/config/schema.ts';
import { createKindTarget, type KindTargetOverrides } from '../../../../src/targets/kind/index.ts';
import type { CommandRunner } from '../../../../src/targets/kind/exec.ts';

/** The config changes the "changed" snapshot covers: Docker Desktop's cluster, other names, ports and sizes. */
export const CHANGED_KIND_CONFIG = {
  cluster: 'docker-desktop',
  clusterName: 'analytics',
  namespace: 'rt-analytics',
  ports: { clickhouseHttp: 38123, kafka: 39092, sparkUi: 34040 },
  resources: { kafkaMiB: 1280, clickhouseMiB: 2048, sparkExecutorMiB: 768 },
  spark: { minExecutors: 0, maxExecutors: 3, executorCores: 1, onFailureRetries: 3 },
  storage: { kafkaGi: 5, clickhouseGi: 20, checkpointGi: 1 },
};

/** A runner that must not be called (plan and rendering never run anything). */
export const refusingRunner: CommandRunner = {
  async run(command) {
    throw new Error(`unexpected command: ${command.join(' ')}`);
  },
};

export function kindTarget(kind: Record<string, unknown> = {}, overrides: KindTargetOverrides = {}, monitoring: Record<string, unknown> = {}) {
  const config = ConfigSchema.parse({ kind, monitoring });
  return createKindTarget(
    { config, home: nodePath.join('/home/dev', '.speedlayer'), status: new RecordingStatus(), env: {} },
    {
      pathApi: nodePath.posix,
      platform: 'linux',
      projectRoot: '/repo',
      tmpDir: '/tmp',
      imageTag: 'speedlayer-job:0123456789abcdef',
      runner: refusingRunner,
      kube: () => {
        throw new Error('the plan must not call the Kubernetes API');
      },
      ...overrides,
    },
  );
}
