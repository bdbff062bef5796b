import { SpeedlayerError } from '../../../base/errors.ts';
import type { Step } from '../../../base/step.ts';
import type { LocalComponent } from '../components/component.ts';
import { isAlive, waitFor } from '../supervisor.ts';

/** Starts one component unless it is already running, then waits until it is healthy. */
export function startComponentStep(c: LocalComponent, opts: { label: string; onStarted: (c: LocalComponent) => void }): Step {
  return {
    name: opts.label,
    async execute({ status, signal }) {
      const running = await c.process.running();
      if (running) return `already running (pid ${running.pid})`;
      await c.prepare((text) => status.update(text));
      status.update('starting');
      const rec = await c.process.start(await c.launch());
      opts.onStarted(c);
      try {
        await waitFor(`${c.name} health`, () => c.ready(), {
          timeoutMs: c.readyTimeoutMs,
          alive: () => isAlive(rec.pid),
          signal,
          onTick: (s) => status.update(`waiting for health (${s}s)`),
        });
      } catch (err) {
        // A process that exited may have said why (the job's failure line, its supervisor's decision).
        const why = isAlive(rec.pid) ? undefined : await c.whyDown?.().catch(() => undefined);
        throw new SpeedlayerError(`${c.name} did not become ready: ${(err as Error).message}${why ? `: ${why}` : ''}`, {
          fix: `${why ? '' : `${c.hint} `}Look at its log: ${c.process.logFile}`,
          detail: await c.process.logTail(25),
        });
      }
      const ports = c.ports();
      return `pid ${rec.pid}, 127.0.0.1:${ports.join(',')}`;
    },
  };
}

export function stopComponentStep(c: LocalComponent, label: string): Step {
  return {
    name: label,
    async execute() {
      return (await c.process.stop()) ? 'stopped' : 'was not running';
    },
  };
}
