import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import { helmCommands, type HelmRelease } from '../render/helm.ts';

/** `helm upgrade --install` is idempotent: a second `up` upgrades in place (or does nothing). */
export function helmReleaseStep(k: KindEnv, r: HelmRelease, title: string): KindStep {
  const commands = helmCommands(r, k.config, k.cluster.kubeContext);
  return kindStep(`Install ${title} (chart ${r.pin.version})`, { commands }, async (ctx) => {
    for (const c of commands) {
      ctx.status.update(c.slice(0, 3).join(' '));
      await k.runner.run(c, { timeoutMs: (k.config.readyTimeoutSeconds + 120) * 1000 });
    }
    return r.pin.chart;
  });
}
