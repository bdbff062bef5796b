import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { kafkaReachable } from '../../../clients/kafka.ts';
import type { LocalConfig } from '../../../config/schema.ts';
import { ensureKafkaJars, formatStorageIfNeeded, KAFKA_VERSION, kafkaJavaArgs, LOG4J2_PROPERTIES, serverProperties } from '../kafka/runtime.ts';
import { ManagedProcess } from '../supervisor.ts';
import type { LocalComponent } from './component.ts';

export function kafkaComponent(opts: { dir: string; cacheDir: string; ports: LocalConfig['ports']; heapMb: number }): LocalComponent {
  const process = new ManagedProcess('kafka', opts.dir);
  const configDir = path.join(opts.dir, 'config');
  const dataDir = path.join(opts.dir, 'data');
  let libs = '';
  return {
    name: 'kafka',
    process,
    readyTimeoutMs: 90_000,
    hint: 'Kafka did not answer metadata requests.',
    ports: () => [opts.ports.kafka, opts.ports.kafkaController],
    async prepare(report) {
      libs = await ensureKafkaJars(opts.cacheDir, report);
      await mkdir(configDir, { recursive: true });
      await writeFile(path.join(configDir, 'server.properties'), serverProperties({ dataDir, port: opts.ports.kafka, controllerPort: opts.ports.kafkaController }));
      await writeFile(path.join(configDir, 'log4j2.properties'), LOG4J2_PROPERTIES);
      report('formatting KRaft storage');
      await formatStorageIfNeeded(libs, configDir, dataDir);
    },
    async launch() {
      return {
        command: 'java',
        args: kafkaJavaArgs(libs, configDir, opts.heapMb, [path.join(configDir, 'server.properties')]),
        ports: [opts.ports.kafka, opts.ports.kafkaController],
      };
    },
    ready: () => kafkaReachable({ brokers: [`127.0.0.1:${opts.ports.kafka}`] }),
    version: async () => KAFKA_VERSION,
  };
}
