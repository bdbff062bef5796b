import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { SpeedlayerError } from '../../../base/errors.ts';

/** Same Kafka version as Strimzi 1.2.0 deploys by default, so both targets run one broker version. */
export const KAFKA_VERSION = '4.3.1';
const LOG4J_VERSION = '2.25.4';

/** The broker's jars, resolved from Maven Central with Maven into the cache (once). */
export async function ensureKafkaJars(cacheDir: string, onProgress: (s: string) => void): Promise<string> {
  const dir = path.join(cacheDir, `kafka-${KAFKA_VERSION}`);
  const libs = path.join(dir, 'libs');
  const marker = path.join(dir, '.complete');
  if (existsSync(marker)) return libs;
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.speedlayer</groupId><artifactId>kafka-runtime</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <!-- Kafka logs through slf4j 1.x; this routes it to log4j2 (the distribution ships the same binding). -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>${LOG4J_VERSION}</version></dependency>
  </dependencies>
</project>
`,
  );
  onProgress(`resolving kafka_2.13:${KAFKA_VERSION} from Maven Central`);
  try {
    await execa('mvn', ['-q', '-B', '-f', path.join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`, '-DincludeScope=runtime']);
  } catch (err) {
    throw new SpeedlayerError(`could not resolve the Kafka ${KAFKA_VERSION} jars with Maven`, {
      fix: 'Check that Maven (mvn) works and can reach Maven Central (proxy settings in ~/.m2/settings.xml).',
      detail: (err as { stderr?: string }).stderr,
      cause: err,
    });
  }
  const jars = (await readdir(libs)).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith('kafka_2.13'))) throw new SpeedlayerError(`Kafka jars missing in ${libs}`);
  await writeFile(marker, new Date().toISOString());
  return libs;
}

export interface KafkaServerOptions {
  dataDir: string;
  port: number;
  controllerPort: number;
}

/** KRaft combined mode, one node, loopback only. */
export function serverProperties(o: KafkaServerOptions): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${o.port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${o.dataDir.replaceAll('\\', '/')}`,
    'num.partitions=6',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // Topics come from src/contract/pipeline.json only; a typo must not create a new topic.
    'auto.create.topics.enable=false',
    'log.retention.hours=24',
    // One local broker on a few cores: Kafka's defaults (8 request handlers, 3 network threads,
    // 10 background threads) are sized for a server. Measured in docs/benchmarks.md; one network
    // thread made the load generator fall short of its rate in 2 of 4 runs, so two.
    'num.io.threads=2',
    'num.network.threads=2',
    'background.threads=2',
    '',
  ].join('\n');
}

export const LOG4J2_PROPERTIES = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.kafkaorg.name = org.apache.kafka
logger.kafkaorg.level = warn
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
`;

export function kafkaJavaArgs(libs: string, configDir: string, heapMb: number, mainArgs: string[], mainClass = 'kafka.Kafka'): string[] {
  return [
    `-Xms${Math.min(512, heapMb)}m`,
    `-Xmx${heapMb}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    `-Dlog4j2.configurationFile=${path.join(configDir, 'log4j2.properties')}`,
    '-cp',
    path.join(libs, '*'),
    mainClass,
    ...mainArgs,
  ];
}

/** Formats the KRaft storage on first start (a cluster id is generated once and kept in meta.properties). */
export async function formatStorageIfNeeded(libs: string, configDir: string, dataDir: string): Promise<boolean> {
  if (existsSync(path.join(dataDir, 'meta.properties'))) return false;
  await mkdir(dataDir, { recursive: true });
  // A Kafka cluster id is 16 random bytes in URL-safe base64 without padding. One starting with '-'
  // would be read as an option by the storage tool's argument parser, so draw again.
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  await execa('java', kafkaJavaArgs(libs, configDir, 256, ['format', '-t', clusterId, '-c', path.join(configDir, 'server.properties')], 'kafka.tools.StorageTool'));
  return true;
}
