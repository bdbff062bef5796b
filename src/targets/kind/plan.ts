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

/** The budget as a table for humans. */
export function formatBudget(b: MemoryBudget): string {
  const width = Math.max(...b.items.map((i) => i.name.length), 'total'.length);
  const row = (name: string, req: string, lim: string) => `${name.padEnd(width)}  ${req.padStart(12)}  ${lim.padStart(10)}`;
  return [
    row('pod', 'request MiB', 'limit MiB'),
    ...b.items.map((i) => row(i.name, String(i.request_mib), String(i.limit_mib))),
    row('total', String(b.items.reduce((n, i) => n + i.request_mib, 0)), String(b.total_mib)),
    `budget ${b.limit_mib} MiB (9.5 GB): headroom ${b.headroom_mib} MiB (${Math.round((100 * b.headroom_mib) / b.limit_mib)}%)`,
  ].join('\n');
}

