import { activeAlerts, type WebhookNotification } from '../clients/alertmanager.ts';
import { SpeedlayerError } from '../base/errors.ts';
import type { CommandContext } from './context.ts';
import { table } from './render.ts';
import type { Target } from '../stack/target.ts';
import { defineCommand } from './command.ts';

export interface AlertRow {
  name: string;
  severity: string;
  state: 'firing' | 'resolved';
  /** Firing: when it started; resolved: when it ended. */
  since: string;
  summary: string;
  runbook: string;
}

const RESOLVED_WINDOW_MS = 60 * 60 * 1000;

/**
 * Active alerts from Alertmanager's API; resolved ones (the last hour) from the notifications
 * Alertmanager sent, since its API lists active alerts only. An alert that fired again is shown once, firing.
 */
export function alertRows(active: Awaited<ReturnType<typeof activeAlerts>>, notifications: WebhookNotification[], now = Date.now()): AlertRow[] {
  const row = (a: { labels: Record<string, string>; annotations: Record<string, string> }, state: AlertRow['state'], since: string): AlertRow => ({
    name: a.labels.alertname ?? '',
    severity: a.labels.severity ?? '',
    state,
    since,
    summary: a.annotations.summary ?? '',
    runbook: a.annotations.runbook ?? '',
  });
  const rows = active.map((a) => row(a, 'firing', a.startsAt));
  const activeFingerprints = new Set(active.map((a) => a.fingerprint));
  const resolved = new Map<string, AlertRow>();
  for (const n of notifications) {
    for (const a of n.alerts) {
      if (a.status !== 'resolved' || activeFingerprints.has(a.fingerprint) || now - Date.parse(a.endsAt) > RESOLVED_WINDOW_MS) continue;
      resolved.set(a.fingerprint, row(a, 'resolved', a.endsAt));
    }
  }
  return [...rows.sort((a, b) => b.since.localeCompare(a.since)), ...[...resolved.values()].sort((a, b) => b.since.localeCompare(a.since))];
}

export async function collectAlertsFrom(target: Target, alertmanagerUrl: string): Promise<AlertRow[]> {
  const active = await activeAlerts(alertmanagerUrl).catch((err: Error) => {
    throw new SpeedlayerError(`Alertmanager at ${alertmanagerUrl} did not answer: ${err.message}`, {
      fix: "Run 'speedlayer status' to see whether alertmanager is up; 'speedlayer up' starts it.",
    });
  });
  return alertRows(active, (await target.alertNotifications?.()) ?? []);
}

export async function collectAlerts(ctx: CommandContext): Promise<AlertRow[]> {
  const target = await ctx.target();
  const e = await target.endpoints();
  if (!e.alertmanager) {
    if (!ctx.config.monitoring.enabled) {
      throw new SpeedlayerError(`the ${target.name} stack runs no Alertmanager: monitoring.enabled is false`, { fix: 'Set monitoring.enabled: true in the config file and run speedlayer up.' });
    }
    throw new SpeedlayerError(`the ${target.name} target does not expose Alertmanager to the CLI (it runs inside the cluster)`, {
      fix: 'Reach it with kubectl port-forward as docs/kind.md (step Monitoring) shows, and open its UI.',
    });
  }
  return collectAlertsFrom(target, e.alertmanager.url);
}

export const alertsCommand = defineCommand({
  name: 'alerts',
  description: 'active and recently resolved alerts, from Alertmanager',
  async handler(ctx) {
    const alerts = await collectAlerts(ctx);
    if (ctx.json) ctx.printJson({ alerts });
    else if (alerts.length === 0) ctx.print('No alert is firing, none resolved in the last hour.');
    else ctx.print(table(['state', 'severity', 'alert', 'since', 'summary', 'runbook'], alerts.map((a) => [a.state, a.severity, a.name, a.since, a.summary, a.runbook])));
    return 0;
  },
});
