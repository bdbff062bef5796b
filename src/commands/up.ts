import { runSteps } from '../base/step.ts';
import type { CommandContext } from './context.ts';
import type { StackPlan } from '../stack/target.ts';
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
    await target.undoUp?.().catch(() => undefined);
    throw err;
  }
}

/** `up --plan` for people: the numbered steps with their commands, then the memory and CPU budgets. */
export function formatPlan(plan: StackPlan): string {
  const lines: string[] = [];
  for (const [i, s] of plan.steps.entries()) {
    lines.push(`${i + 1}. ${s.name}`);
    for (const c of s.commands) lines.push(`     $ ${c.join(' ')}`);
    if (s.manifests.length) lines.push(`     (${s.manifests.length} manifest${s.manifests.length > 1 ? 's' : ''})`);
  }
  const b = plan.memory_budget;
  lines.push('\nMemory budget (MiB)');
  lines.push(table(['pod', 'request', 'limit'], [...b.items.map((i) => [i.name, i.request_mib, i.limit_mib]), ['total', '', b.total_mib], ['budget', '', b.limit_mib], ['headroom', '', b.limit_mib - b.total_mib]]));
  // The scheduler places pods by their CPU requests; limits (mostly none) only cap bursts.
  const c = plan.cpu_budget;
  lines.push('\nCPU budget (millicores)');
  lines.push(table(['pod', 'request', 'limit'], [...c.items.map((i) => [i.name, i.request_millicores, i.limit_millicores ?? 'none']), ['total', c.total_millicores, ''], ['budget', c.limit_millicores, ''], ['headroom', c.limit_millicores - c.total_millicores, '']]));
  return lines.join('\n');
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
      if (!target.plan) throw new UsageError(`--plan is not available for the ${target.name} target`, { fix: 'Use --target kind --plan.' });
      const plan = await target.plan();
      if (ctx.json) ctx.printJson(plan);
      else ctx.print(formatPlan(plan));
      return 0;
    }
    await bringUp(ctx);
    const e = await target.endpoints();
    if (ctx.json) ctx.printJson({ target: target.name, kafka: e.kafka, clickhouse: { url: e.clickhouse.url, database: e.clickhouse.database, username: e.clickhouse.username } });
    else ctx.print(`Stack is up. Kafka ${e.kafka.brokers.join(',')}, ClickHouse ${e.clickhouse.url}. Next: speedlayer submit`);
    return 0;
  },
});
