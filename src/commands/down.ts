import { UsageError } from '../base/errors.ts';
import { runSteps } from '../base/step.ts';
import { defineCommand } from './command.ts';

interface DownFlags {
  purge: boolean;
  yes: boolean;
  keepCluster: boolean;
}

export const downCommand = defineCommand<DownFlags>({
  name: 'down',
  description: 'stop everything (SIGTERM, then SIGKILL after a grace period); --purge also deletes data and checkpoints',
  options: (cmd) =>
    cmd
      .option('--purge', 'also delete data, checkpoints and logs')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--keep-cluster', 'kind: remove the workloads but keep the cluster'),
  parse: (raw) => ({ purge: !!raw.purge, yes: !!raw.yes, keepCluster: !!raw.keepCluster }),
  async handler(ctx, flags) {
    const target = await ctx.target();
    const destroys = target.downDestroys?.({ purge: flags.purge, keepCluster: flags.keepCluster });
    if ((flags.purge || destroys) && !flags.yes) {
      const what = flags.purge ? 'delete all data and checkpoints' : destroys;
      if (!ctx.interactive) throw new UsageError(`'down' would ${what} and there is no terminal to confirm`, { fix: 'Add --yes to confirm.' });
      if (!(await ctx.confirm(`This will ${what}. Continue?`))) {
        ctx.status.info('Nothing was changed.');
        return 0;
      }
    }
    await runSteps(await target.downSteps({ purge: flags.purge, keepCluster: flags.keepCluster }), ctx);
    if (ctx.json) ctx.printJson({ target: target.name, stopped: true, purged: flags.purge });
    else ctx.print(flags.purge ? 'Stack stopped; data deleted.' : 'Stack stopped; data kept (speedlayer up resumes it).');
    return 0;
  },
});
