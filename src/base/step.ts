import { wrapError } from './errors.ts';
import type { Status } from './status.ts';

/** What every step gets: where to report, and a signal that fires on Ctrl-C. */
export interface StepContext {
  status: Status;
  signal: AbortSignal;
}

/**
 * One small action of an operation (up, submit, down), modelled on kind's create actions:
 * a factory takes the options, `execute` does the work and reports through the status object.
 */
export interface Step {
  readonly name: string;
  /** A note for the status line, or an outcome when the step finished without reaching its goal. */
  execute(ctx: StepContext): Promise<string | void | StepOutcome>;
}

/** A step that ran to its end without reaching its goal (e.g. a wait that timed out) reports ok: false and goes on. */
export interface StepOutcome {
  ok: boolean;
  note?: string;
}

/** Runs steps in order; each is wrapped with its name so an error says where it happened. */
export async function runSteps(steps: readonly Step[], ctx: StepContext): Promise<void> {
  for (const step of steps) {
    if (ctx.signal.aborted) throw wrapError(step.name, new Error('interrupted'));
    ctx.status.start(step.name);
    try {
      const result = await step.execute(ctx);
      if (typeof result === 'object') ctx.status.end(result.ok, result.note);
      else ctx.status.end(true, result || undefined);
    } catch (err) {
      ctx.status.end(false);
      throw wrapError(step.name, err);
    }
  }
}
