import { runSteps } from '../base/step.ts';
import type { CommandContext } from './context.ts';
import { UsageError } from '../base/errors.ts';
import { defineCommand } from './command.ts';
import { table } from './render.ts';

/** `up` itself, shared by `demo`. */
export async function bringUp(ctx: CommandContext): Promise<void> {
  const target = await ctx.target();
  const steps = await target.upSteps();
  try {
    await runSteps(steps, ctx);
  } catch (err) {
    // Stop what this run started, so a failed `up` leaves nothing half-running.
    const undo = (target as { undoUp?: () => Promise<void> }).undoUp;
    if (undo) await undo.call(target).catch(() => undefined);
    throw err;
  }
}

interface Plan {
  steps: Array<{ name: string; commands: string[][]; manifests: unknown[] }>;
  memory_budget: { limit_mib: number; total_mib: number; items: Array<{ name: string; request_mib: number; limit_mib: number }> };
}

export const upCommand = defineCommand<{ plan: boolean }>({
  name: 'up',
  description: 'start the stack (Kafka, ClickHouse; kind: the cluster and operators), create topics, apply the schema',
  options: (cmd) => cmd.option('--plan, --dry-run', 'print every step, command and manifest without executing anything'),
  // commander names the option after its last long flag (--dry-run -> dryRun).
  parse: (raw) => ({ plan: !!(raw.plan || raw.dryRun) }),
  async handler(ctx, opts) {
    const target = await ctx.target();
    if (opts.plan) {
      const planner = (target as { plan?: () => Promise<Plan> }).plan;
      if (!planner) throw new UsageError(`--plan is not available for the ${target.name} target`, { fix: 'Use --target kind --plan.' });
      const plan = await planner.call(target);
      if (ctx.json) ctx.printJson(plan);
      else {
        for (const [i, s] of plan.steps.entries()) {
          ctx.print(`${i + 1}. ${s.name}`);
          for (const c of s.commands) ctx.print(`     $ ${c.join(' ')}`);
          if (s.manifests.length) ctx.print(`     (${s.manifests.length} manifest${s.manifests.length > 1 ? 's' : ''})`);
        }
        const b = plan.memory_budget;
        ctx.print('\nMemory budget (MiB)');
        ctx.print(table(['pod', 'request', 'limit'], [...b.items.map((i) => [i.name, i.request_mib, i.limit_mib]), ['total', '', b.total_mib], ['budget', '', b.limit_mib], ['headroom', '', b.limit_mib - b.total_mib]]));
      }
      return 0;
    }
    await bringUp(ctx);
    const e = await target.endpoints();
    if (ctx.json) ctx.printJson({ target: target.name, kafka: e.kafka, clickhouse: { url: e.clickhouse.url, database: e.clickhouse.database, username: e.clickhouse.username } });
    else ctx.print(`Stack is up. Kafka ${e.kafka.brokers.join(',')}, ClickHouse ${e.clickhouse.url}. Next: speedlayer submit`);
    return 0;
  },
});
