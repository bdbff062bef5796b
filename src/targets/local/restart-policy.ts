import { readFile } from 'node:fs/promises';
import { writeJsonWhole } from '../../base/write-whole.ts';
import { pipeline } from '../../contract/index.ts';

/**
 * The local target's `restartPolicy: OnFailure` for the streaming job (what the Spark Operator does
 * on kind): a run that ends with a failure (exit code != 0 or a signal) is restarted after a backoff
 * that doubles from `initialBackoffMs` up to `maxBackoffMs`; after `maxRestarts` failed runs in a row
 * the supervisor gives up and says why. A run that lasted `stableAfterMs` resets the count (a job
 * that fails once a day is restarted every time). A run that ends with exit code 0 is not restarted,
 * nor one that could not read its checkpoint (the protocol's exit code): it would fail the same way.
 * Defaults (config `local.spark.restart`): 5 restarts, 5 s doubling to 60 s, stable after 10 min.
 */
export interface RestartPolicy {
  maxRestarts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  stableAfterMs: number;
}

export interface RunEnd {
  code: number | null;
  signal: string | null;
  ranMs: number;
  /** The job's SPEEDLAYER_FAILED message, if it printed one. */
  failure?: string;
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number; failuresInARow: number }
  | { action: 'finished' }
  | { action: 'give-up'; failuresInARow: number; reason: string; fix?: string };

/** How much of the job's failure line is kept: enough for a checkpoint failure's path and recovery (they lead the line) and the start of its cause. */
export const FAILURE_LINE_CHARS = 600;

/** What to do after giving up, unless the decision says otherwise. */
export const RESUME_FIX = "fix the cause, then 'speedlayer submit': it resumes from its checkpoint";
const CHECKPOINT_FIX = "'speedlayer submit --reset-checkpoint' discards the checkpoint after saying what is replayed and lost";

export function describeEnd(end: RunEnd): string {
  const how = end.signal ? `killed by ${end.signal}` : `exit code ${end.code}`;
  return `${how} after ${Math.round(end.ranMs / 1000)} s${end.failure ? `: ${end.failure}` : ''}`;
}

/** What to do after a run ended, given the failed runs in a row before it. */
export function decideRestart(end: RunEnd, failuresBefore: number, p: RestartPolicy): RestartDecision {
  if (end.code === 0 && !end.signal) return { action: 'finished' };
  const failuresInARow = (end.ranMs >= p.stableAfterMs ? 0 : failuresBefore) + 1;
  if (end.code === pipeline.jobProtocol.checkpointUnreadableExitCode && !end.signal) {
    return { action: 'give-up', failuresInARow, reason: `not restarted: the job cannot start from its checkpoint (a restart would fail the same way); it ${describeEnd(end)}`, fix: CHECKPOINT_FIX };
  }
  if (failuresInARow > p.maxRestarts) {
    return {
      action: 'give-up',
      failuresInARow,
      reason: `gave up after ${p.maxRestarts} restarts: ${failuresInARow} runs in a row failed; the last one ${describeEnd(end)}`,
    };
  }
  const delayMs = Math.min(p.maxBackoffMs, p.initialBackoffMs * 2 ** (failuresInARow - 1));
  return { action: 'restart', delayMs, failuresInARow };
}

/** What the supervisor reports in its state file (read by `status`). */
export interface SupervisorState {
  state: 'running' | 'restarting' | 'gave-up' | 'finished' | 'stopped';
  /** pid of the job's current (or last) JVM. */
  jobPid?: number;
  /** Runs started since the supervisor started (1 = never restarted). */
  runs: number;
  failuresInARow: number;
  lastEnd?: string;
  lastEndAt?: string;
  nextRestartAt?: string;
  /** Set when it gave up. */
  reason?: string;
  /** What to do about it, when not the usual RESUME_FIX. */
  fix?: string;
}

export async function readSupervisorState(file: string): Promise<SupervisorState | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SupervisorState;
  } catch {
    return undefined;
  }
}

export async function writeSupervisorState(file: string, s: SupervisorState): Promise<void> {
  await writeJsonWhole(file, s);
}

/** One line for `status` about a running or stopped supervisor. */
export function supervisorSummary(s: SupervisorState): string | undefined {
  switch (s.state) {
    case 'running':
      return s.runs > 1 ? `restarted ${s.runs - 1} time${s.runs > 2 ? 's' : ''} (last run ${s.lastEnd})` : undefined;
    case 'restarting':
      return `restarting at ${s.nextRestartAt} (restart ${s.failuresInARow} of the policy's limit; last run ${s.lastEnd})`;
    case 'gave-up':
      return `${s.reason} (${s.fix ?? RESUME_FIX})`;
    default:
      return undefined;
  }
}
