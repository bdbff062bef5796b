import chalk from 'chalk';
import { EXIT_FAILURE } from '../base/errors.ts';
import { table } from './render.ts';
import { defineCommand } from './command.ts';

export const doctorCommand = defineCommand({
  name: 'doctor',
  description: 'check every prerequisite of the chosen target and say how to fix what is missing',
  async handler(ctx) {
    const target = await ctx.target();
    const checks = await target.doctor();
    const ok = checks.every((c) => c.ok);
    if (ctx.json) ctx.printJson({ target: target.name, ok, checks });
    else {
      ctx.print(table(['check', 'result', 'found', 'fix'], checks.map((c) => [c.name, c.ok ? chalk.green('ok') : chalk.red('FAIL'), c.found, c.ok ? '' : c.fix])));
      ctx.print(ok ? '\nAll prerequisites are met.' : `\n${checks.filter((c) => !c.ok).length} problem(s) to fix.`);
    }
    return ok ? 0 : EXIT_FAILURE;
  },
});
