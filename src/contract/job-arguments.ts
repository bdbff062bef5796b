import { pipeline } from './index.ts';

/** Where the job reads and writes; the password is not here (it travels in CLICKHOUSE_PASSWORD). */
export interface JobIo {
  bootstrapServers: string;
  clickhouseUrl: string;
  clickhouseUser: string;
  clickhouseDatabase: string;
  checkpointDir: string;
  progressFile: string;
}

/** The Spark job's command-line arguments: one definition for both targets (only the addresses differ). */
export function jobArguments(io: JobIo): string[] {
  return [
    '--bootstrap-servers', io.bootstrapServers,
    '--events-topic', pipeline.kafka.topics.events.name,
    '--dead-letter-topic', pipeline.kafka.topics.deadLetter.name,
    '--users-topic', pipeline.kafka.topics.users.name,
    '--clickhouse-url', io.clickhouseUrl,
    '--clickhouse-user', io.clickhouseUser,
    '--clickhouse-database', io.clickhouseDatabase,
    '--checkpoint-dir', io.checkpointDir,
    '--trigger-seconds', String(pipeline.spark.triggerIntervalSeconds),
    '--max-offsets-per-trigger', String(pipeline.spark.maxOffsetsPerTrigger),
    '--starting-offsets', 'earliest',
    '--progress-file', io.progressFile,
    '--watermark-delay-seconds', String(pipeline.spark.watermarkDelaySeconds),
    '--state-revisit-seconds', String(pipeline.spark.stateRevisitSeconds),
    '--clickhouse-retry-seconds', String(pipeline.spark.clickhouseRetrySeconds),
    '--max-event-time-ahead-seconds', String(pipeline.deadLetter.maxEventTimeAheadSeconds),
    '--max-event-age-seconds', String(pipeline.deadLetter.maxEventAgeSeconds),
  ];
}
