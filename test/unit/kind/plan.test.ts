import { describe, expect, it } from 'vitest';
import { MEMORY_LIMIT_MIB } from '../../../src/targets/kind/budget.ts';
import { formatPlan } from '../../../src/commands/up.ts';
import { PROMETHEUS_FILES } from '../../../src/targets/kind/render/monitoring.ts';
import { CHANGED_KIND_CONFIG, kindTarget } from './support/targets.ts';

/**
 * The plan as JSON, with the rule files' text (read verbatim from manifests/prometheus/, which
 * monitoring.test.ts checks) and the checksums over it left out: editing a rule is not a plan change.
 */
function snapshotView(plan: unknown): unknown {
  return JSON.parse(JSON.stringify(plan), (key, value) => {
    if (key === PROMETHEUS_FILES.alerts || key === PROMETHEUS_FILES.kind) return `<manifests/prometheus/${key}>`;
    if (key === 'speedlayer.dev/config-checksum') return '<checksum of the ConfigMap>';
    return value;
  });
}

describe('up --target kind --plan', () => {
  it('default config: snapshot of the whole plan (steps, commands, manifests, budget)', async () => {
    expect(snapshotView(await kindTarget().plan())).toMatchSnapshot();
  });

  it('changed config (Docker Desktop cluster, other namespace, ports and sizes): snapshot', async () => {
    expect(snapshotView(await kindTarget(CHANGED_KIND_CONFIG).plan())).toMatchSnapshot();
  });

  it('has the JSON shape the CLI prints: steps [{name, commands, manifests}], memory_budget {limit_mib, total_mib, items}', async () => {
    const plan = await kindTarget().plan();
    expect(plan.steps.length).toBeGreaterThan(10);
    for (const s of plan.steps) {
      expect(typeof s.name).toBe('string');
      expect(Array.isArray(s.commands) && s.commands.every((c) => c.every((a) => typeof a === 'string'))).toBe(true);
      for (const m of s.manifests) expect(Object.keys(m)).toEqual(expect.arrayContaining(['kind', 'name', 'object']));
    }
    expect(plan.memory_budget.limit_mib).toBe(MEMORY_LIMIT_MIB);
    expect(plan.memory_budget.items.every((i) => i.limit_mib >= i.request_mib && i.request_mib > 0)).toBe(true);
  });

  it('the first step is preflight, which only reads (docker info, tool versions)', async () => {
    const [first] = (await kindTarget().plan()).steps;
    expect(first!.name).toMatch(/^Preflight/);
    expect(first!.commands.map((c) => c.slice(0, 2).join(' '))).toEqual(['docker info', 'kind version', 'helm version']);
    expect(first!.manifests).toEqual([]);
  });

  it('Docker Desktop mode neither creates a cluster nor loads images into one', async () => {
    const commands = (await kindTarget({ cluster: 'docker-desktop' }).plan()).steps.flatMap((s) => s.commands.map((c) => c.join(' ')));
    expect(commands.filter((c) => /^kind /.test(c))).toEqual([]);
    expect(commands.some((c) => c.includes('--kube-context docker-desktop'))).toBe(true);
  });

  it('the human plan numbers the steps and its budget table lists every item and the headroom', async () => {
    const plan = await kindTarget().plan();
    const text = formatPlan(plan);
    expect(text).toMatch(/^1\. Preflight/);
    expect(text).toMatch(/Spark executors \(max dynamic allocation\) ×2 +3072 +3072/);
    expect(text).toMatch(/\nbudget +9728\n/);
    expect(text).toMatch(new RegExp(`\\nheadroom +${plan.memory_budget.limit_mib - plan.memory_budget.total_mib}\\n`));
    expect(text).toMatch(/CPU budget \(millicores\)[\s\S]*Spark executors \(max dynamic allocation\) ×2 +1000 +none/);
    expect(text).toMatch(new RegExp(`\\nheadroom +${plan.cpu_budget.limit_millicores - plan.cpu_budget.total_millicores} *$`));
  });
});
