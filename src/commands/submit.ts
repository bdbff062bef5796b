import { UsageError } from '../base/errors.ts';
import { runSteps } from '../base/step.ts';
import type { CommandContext } from './context.ts';
import { defineCommand } from './command.ts';

interface SubmitFlags {
  resetCheckpoint: boolean;
  yes: boolean;
}

export async function submitJob(ctx: CommandContext): Promise<void> {
  const target = await ctx.target();
  await runSteps(await target.submitSteps(), ctx);
}

/** Says what discarding the checkpoint replays and loses, asks, then stops the job and moves the checkpoint aside. */
async function resetCheckpoint(ctx: CommandContext, yes: boolean): Promise<boolean> {
  const target = await ctx.target();
  if (!target.checkpointReset) {
    throw new UsageError(`--reset-checkpoint is not supported on the ${target.name} target`, { fix: 'Delete the job and its checkpoint volume with the cluster tools, then submit again.' });
  }
  const plan = await target.checkpointReset();
  // With --json, stdout carries the JSON object only.
  if (ctx.json) ctx.status.info(plan.description);
  else ctx.print(plan.description);
  if (!yes) {
    if (!ctx.interactive) throw new UsageError("'submit --reset-checkpoint' discards the job's state and there is no terminal to confirm", { fix: 'Add --yes to confirm.' });
    if (!(await ctx.confirm('Discard the checkpoint and start the job from the earliest offsets?'))) {
      ctx.status.info('Nothing was changed.');
      return false;
    }
  }
  ctx.status.info(await plan.reset());
  return true;
}

export const submitCommand = defineCommand<SubmitFlags>({
  name: 'submit',
  description: 'build and start the Spark Structured Streaming job (2-second micro-batches)',
  options: (cmd) =>
    cmd
      .option('--reset-checkpoint', "discard the job's checkpoint (its offsets and state) first; says what is replayed or lost and asks")
      .option('-y, --yes', 'do not ask for confirmation'),
  parse: (raw) => ({ resetCheckpoint: !!raw.resetCheckpoint, yes: !!raw.yes }),
  async handler(ctx, flags) {
    if (flags.resetCheckpoint && !(await resetCheckpoint(ctx, flags.yes))) return 0;
    await submitJob(ctx);
    if (ctx.json) ctx.printJson({ submitted: true, progress: await (await ctx.target()).jobProgress() });
    else ctx.print('Streaming job is running. Next: speedlayer loadtest');
    return 0;
  },
});
