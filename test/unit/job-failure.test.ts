import { describe, expect, it } from 'vitest';
import { lastJobFailure } from '../../src/targets/local/components/spark-job.ts';

// The lines the job prints (spark/.../SpeedLayerJob.scala, ProgressListener.scala), among Spark's log lines.
const started = 'SPEEDLAYER_STARTED 5c98 42c7\n';
const progress = 'SPEEDLAYER_PROGRESS {"batchId":3}\n26/11/26 04:46:28 WARN ProcessingTimeExecutor: falling behind\n';
const failed = 'SPEEDLAYER_FAILED dev.speedlayer.job.ClickHouseWriteException: insert into events failed after 5 attempts: Connection refused (query id 5c98, run id 42c7)\njava.lang.RuntimeException: ...\n';

describe('lastJobFailure (why the local job stopped, for status)', () => {
  it('the failure of the last run, one line', () => {
    expect(lastJobFailure(started + progress + failed)).toBe(
      'dev.speedlayer.job.ClickHouseWriteException: insert into events failed after 5 attempts: Connection refused (query id 5c98, run id 42c7)',
    );
    expect(lastJobFailure(failed)).toMatch(/^dev\.speedlayer\.job\.ClickHouseWriteException/);
  });

  it('nothing when the last run did not fail, or a later run started after the failure', () => {
    expect(lastJobFailure('')).toBeUndefined();
    expect(lastJobFailure(started + progress)).toBeUndefined();
    expect(lastJobFailure(started + failed + started + progress)).toBeUndefined();
  });

  it('a long message is cut', () => {
    const long = lastJobFailure(`${started}SPEEDLAYER_FAILED ${'x'.repeat(1000)}\n`)!;
    expect(long.length).toBe(603); // 600 characters: a checkpoint failure's path and recovery lead the line
    expect(long.endsWith('...')).toBe(true);
  });
});
