import { EXIT_FAILURE } from '../base/errors.ts';
import { defineCommand } from './command.ts';
import { addLoadtestOptions, loadtest, parseLoadtestFlags, printReport, type LoadtestFlags } from './loadtest.ts';
import { collectStatus, printStatus } from './status.ts';
import { submitJob } from './submit.ts';
import { bringUp } from './up.ts';

export const demoCommand = defineCommand<LoadtestFlags>({
  name: 'demo',
  description: 'up + submit + loadtest + status; leaves the stack running',
  options: addLoadtestOptions,
  parse: parseLoadtestFlags,
  async handler(ctx, flags) {
    await bringUp(ctx);
    await submitJob(ctx);
    const report = await loadtest(ctx, flags);
    const status = await collectStatus(ctx);
    if (ctx.json) ctx.printJson({ report, status });
    else {
      printReport(ctx, report);
      ctx.print('');
      printStatus(ctx, status);
      const t = (await ctx.target()).name;
      ctx.print(`\nThe stack is still running. Stop it with: npx speedlayer down --target ${t}   (add --purge --yes to delete its data)`);
    }
    return report.passed ? 0 : EXIT_FAILURE;
  },
});
