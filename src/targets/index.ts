import { UsageError } from '../base/errors.ts';
import { createLocalTarget } from './local/index.ts';
import type { Target, TargetContext, TargetName } from '../stack/target.ts';

/** The one place that knows every target. */
export async function createTarget(name: TargetName, ctx: TargetContext): Promise<Target> {
  if (name === 'local') return createLocalTarget(ctx);
  let mod: { createKindTarget?: (c: TargetContext) => Target };
  try {
    mod = await import('./kind/index.ts');
  } catch {
    mod = {};
  }
  if (!mod.createKindTarget) {
    throw new UsageError('the kind target is not implemented yet', { fix: 'Use --target local.' });
  }
  return mod.createKindTarget(ctx);
}
