import type { TargetName } from '../config/targets.ts';
import type { Target, TargetContext } from '../stack/target.ts';

/**
 * The registry: one factory per name of the TARGETS table (src/config/targets.ts); the type makes
 * a missing entry a compile error. Each target is loaded only when chosen.
 */
const FACTORIES: Record<TargetName, (ctx: TargetContext) => Promise<Target>> = {
  local: async (ctx) => (await import('./local/index.ts')).createLocalTarget(ctx),
  kind: async (ctx) => (await import('./kind/index.ts')).createKindTarget(ctx),
};

export function createTarget(name: TargetName, ctx: TargetContext): Promise<Target> {
  return FACTORIES[name](ctx);
}
