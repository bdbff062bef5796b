import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { kafkaReachable } from '../../src/clients/kafka.ts';
import { ensureKafkaJars, formatStorageIfNeeded, kafkaJavaArgs, LOG4J2_PROPERTIES, serverProperties } from '../../src/targets/local/kafka/runtime.ts';
import { freePort } from './free-port.ts';
import { isAlive, ManagedProcess, waitFor } from '../../src/targets/local/supervisor.ts';
import type { StackEndpoints } from '../../src/base/stack.ts';
import { defaultCacheDir } from './embedded-clickhouse.ts';

/**
 * A throw-away single-node KRaft broker on free loopback ports in a temp directory, built from the
 * local target's own pieces (jars, server.properties, storage format, java args); stop() removes it.
 */
export interface ScratchKafka {
  endpoints: StackEndpoints['kafka'];
  stop(): Promise<void>;
}

export async function startScratchKafka(opts: { heapMb?: number; onProgress?: (m: string) => void } = {}): Promise<ScratchKafka> {
  const libs = await ensureKafkaJars(defaultCacheDir(), opts.onProgress ?? (() => {}));
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'speedlayer-kafka-'));
  const configDir = path.join(workDir, 'config');
  const dataDir = path.join(workDir, 'data');
  const proc = new ManagedProcess('kafka', path.join(workDir, 'state'));
  const stop = async (): Promise<void> => {
    await proc.stop(30_000);
    await rm(workDir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const controllerPort = await freePort();
    await mkdir(configDir, { recursive: true });
    await writeFile(path.join(configDir, 'server.properties'), serverProperties({ dataDir, port, controllerPort }));
    await writeFile(path.join(configDir, 'log4j2.properties'), LOG4J2_PROPERTIES);
    await formatStorageIfNeeded(libs, configDir, dataDir);
    const rec = await proc.start({ command: 'java', args: kafkaJavaArgs(libs, configDir, opts.heapMb ?? 384, [path.join(configDir, 'server.properties')]), ports: [port, controllerPort] });
    const endpoints = { brokers: [`127.0.0.1:${port}`] };
    await waitFor('Kafka', () => kafkaReachable(endpoints).catch(() => false), { timeoutMs: 90_000, intervalMs: 500, alive: () => isAlive(rec.pid) }).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n${await proc.logTail()}`);
    });
    return { endpoints, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}
