import path from 'node:path';
import { PROJECT_ROOT } from '../../contract/index.ts';

/** Where the local target keeps each component's pid, log, data and checkpoints. */
export interface LocalPaths {
  home: string;
  stateDir: string;
  stackFile: string;
  cacheDir: string;
  kafkaDir: string;
  clickhouseDir: string;
  sparkDir: string;
  checkpointDir: string;
  sparkProgressFile: string;
  sparkTmpDir: string;
  monitoringDir: string;
  notificationsFile: string;
}

export function localPaths(home: string, env: NodeJS.ProcessEnv = process.env): LocalPaths {
  const stateDir = path.join(home, 'local');
  return {
    home,
    stateDir,
    stackFile: path.join(stateDir, 'stack.json'),
    // Downloads (Kafka jars, the chDB virtualenv) are shared between stacks: SPEEDLAYER_CACHE overrides.
    cacheDir: env.SPEEDLAYER_CACHE ? path.resolve(env.SPEEDLAYER_CACHE) : path.join(home, 'cache'),
    kafkaDir: path.join(stateDir, 'kafka'),
    clickhouseDir: path.join(stateDir, 'clickhouse'),
    sparkDir: path.join(stateDir, 'spark'),
    checkpointDir: path.join(stateDir, 'spark', 'checkpoints'),
    sparkProgressFile: path.join(stateDir, 'spark', 'progress.json'),
    // The job's java.io.tmpdir: Spark's scratch folders and the native libraries (RocksDB, LZ4) it
    // unpacks, about 40 MB a start, which a killed JVM leaves behind. Emptied before each start.
    sparkTmpDir: path.join(stateDir, 'spark', 'tmp'),
    monitoringDir: path.join(stateDir, 'monitoring'),
    // Every notification Alertmanager sent (JSON lines): where `speedlayer alerts` finds resolved alerts.
    notificationsFile: path.join(stateDir, 'monitoring', 'notifications.jsonl'),
  };
}

export const SPARK_PROJECT_DIR = path.join(PROJECT_ROOT, 'spark');
