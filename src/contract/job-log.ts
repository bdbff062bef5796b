/**
 * The lines the Spark job prints on stdout (spark/.../ProgressListener.scala), read by both
 * targets: the local target from the process log, the kind target from the driver pod's log.
 */
export const JOB_STARTED_PREFIX = 'SPEEDLAYER_STARTED ';
export const JOB_PROGRESS_PREFIX = 'SPEEDLAYER_PROGRESS ';
export const JOB_FAILED_PREFIX = 'SPEEDLAYER_FAILED ';

/** True when the log shows the streaming query running: its start line or a progress line. */
export function jobQueryStarted(log: string): boolean {
  return log.split('\n').some((l) => l.startsWith(JOB_STARTED_PREFIX) || l.startsWith(JOB_PROGRESS_PREFIX));
}
