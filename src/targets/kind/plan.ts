import type { CpuBudget, MemoryBudget } from './budget.ts';
import type { KindStep } from './context.ts';
import type { Manifest } from './render/manifest.ts';

export interface PlanManifest {
  kind: string;
  name: string;
  namespace?: string;
  object: Manifest;
}

export interface PlanStep {
  phase: 'up' | 'submit';
  name: string;
  commands: string[][];
  manifests: PlanManifest[];
}

/** What `up --plan [--json]` prints: nothing in it has run. */
export interface KindPlan {
  target: 'kind';
  cluster: { mode: 'kind' | 'docker-desktop'; name: string; context: string };
  steps: PlanStep[];
  memory_budget: MemoryBudget;
  cpu_budget: CpuBudget;
}

export function planSteps(phase: PlanStep['phase'], steps: KindStep[]): PlanStep[] {
  return steps.map((s) => ({
    phase,
    name: s.name,
    commands: s.commands.map((c) => [...c]),
    manifests: s.manifests.map((m) => ({
      kind: m.kind,
      name: m.metadata.name,
      ...(m.metadata.namespace ? { namespace: m.metadata.namespace } : {}),
      object: m,
    })),
  }));
}
