import type { Step } from '../../base/step.ts';
import type { KindStep } from './context.ts';

/** A shared step (src/stack) in the kind plan: it runs no command and renders no manifest. */
export function sharedStep(step: Step): KindStep {
  return { name: step.name, commands: [], manifests: [], execute: (ctx) => step.execute(ctx) };
}
