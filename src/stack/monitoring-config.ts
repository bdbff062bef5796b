import path from 'node:path';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from '../contract/index.ts';
import type { MonitoringConfig } from '../config/schema.ts';

/**
 * Prometheus and Alertmanager configuration, one renderer for every target: the local target
 * writes these files next to its processes, the kind target puts them in ConfigMaps.
 */

/** The one alert rule file (Prometheus rule format), shared by every target. */
export const ALERT_RULES_FILE = path.join(PROJECT_ROOT, 'manifests', 'prometheus', 'alerts.rules.yml');

/** The configuration the alert rules read, as recording rules `speedlayer:config:*` (next to the rule file). */
export function settingsRules(m: MonitoringConfig): string {
  const settings: Record<string, number> = {
    escalate_after_seconds: m.escalateAfterSeconds,
    target_events_per_second: m.targetEventsPerSecond,
    dead_letter_ratio: m.deadLetterRatio,
    late_event_ratio: m.lateEventRatio,
  };
  return stringify({
    groups: [
      {
        name: 'speedlayer-config',
        rules: Object.entries(settings).map(([k, v]) => ({ record: `speedlayer:config:${k}`, expr: `vector(${v})` })),
      },
    ],
  });
}

/** One scrape job: its name (the `job` label the rules select on) and host:port targets. */
export interface ScrapeJob {
  name: string;
  targets: string[];
  metricsPath?: string;
}

export function prometheusConfig(
  m: MonitoringConfig,
  o: { alertmanager: string; ruleFiles: string[]; scrapeJobs: ScrapeJob[] },
): string {
  return stringify({
    global: {
      scrape_interval: `${m.scrapeIntervalSeconds}s`,
      scrape_timeout: `${Math.min(m.scrapeIntervalSeconds, 10)}s`,
      evaluation_interval: `${m.evaluationIntervalSeconds}s`,
    },
    alerting: { alertmanagers: [{ static_configs: [{ targets: [o.alertmanager] }] }] },
    rule_files: o.ruleFiles,
    scrape_configs: o.scrapeJobs.map((j) => ({
      job_name: j.name,
      ...(j.metricsPath ? { metrics_path: j.metricsPath } : {}),
      static_configs: [{ targets: j.targets }],
    })),
  });
}

/**
 * Routes by severity to webhook receivers (send_resolved on), groups by alert name and severity,
 * and inhibits an alert's warning while its critical fires. `notificationLogUrl` (the local
 * exporter), when given, receives everything: the log `speedlayer alerts` reads resolved alerts from.
 */
export function alertmanagerConfig(m: MonitoringConfig, notificationLogUrl?: string): string {
  const receiver = (name: string, url: string | undefined) => {
    const urls = [notificationLogUrl, url].filter((u): u is string => u !== undefined);
    return {
      name,
      ...(urls.length > 0 ? { webhook_configs: urls.map((u) => ({ url: u, send_resolved: true })) } : {}),
      ...(m.slackWebhookUrl
        ? {
            slack_configs: [
              {
                api_url: m.slackWebhookUrl,
                send_resolved: true,
                title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})',
                text: '{{ range .Alerts }}{{ .Annotations.summary }} {{ .Annotations.description }} Runbook: {{ .Annotations.runbook }}\n{{ end }}',
              },
            ],
          }
        : {}),
    };
  };
  return stringify({
    route: {
      receiver: 'warning',
      group_by: ['alertname', 'severity'],
      group_wait: `${m.groupWaitSeconds}s`,
      group_interval: `${m.groupIntervalSeconds}s`,
      repeat_interval: `${m.repeatIntervalSeconds}s`,
      routes: [
        { matchers: ['severity="critical"'], receiver: 'critical' },
        { matchers: ['severity="warning"'], receiver: 'warning' },
      ],
    },
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname'] }],
    receivers: [receiver('warning', m.webhookUrl), receiver('critical', m.criticalWebhookUrl ?? m.webhookUrl)],
  });
}
