import { runSteps } from '../base/step.ts';
import type { CommandContext } from './context.ts';
import { defineCommand } from './command.ts';

export async function submitJob(ctx: CommandContext): Promise<void> {
  const target = await ctx.target();
  await runSteps(await target.submitSteps(), ctx);
}

export const submitCommand = defineCommand({
  name: 'submit',
  description: 'build and start the Spark Structured Streaming job (2-second micro-batches)',
  async handler(ctx) {
    await submitJob(ctx);
    if (ctx.json) ctx.printJson({ submitted: true, progress: await (await ctx.target()).jobProgress() });
    else ctx.print('Streaming job is running. Next: speedlayer loadtest');
    return 0;
  },
});
