import path from 'node:path';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from '../../../contract/index.ts';
import type { MonitoringConfig } from '../../../config/schema.ts';

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

export interface ScrapeTargets {
  jobMetrics: number;
  exporter: number;
  prometheus: number;
  alertmanager: number;
}

export function prometheusConfig(m: MonitoringConfig, ports: ScrapeTargets, settingsRulesFile: string): string {
  const local = (port: number) => [{ targets: [`127.0.0.1:${port}`] }];
  return stringify({
    global: {
      scrape_interval: `${m.scrapeIntervalSeconds}s`,
      scrape_timeout: `${Math.min(m.scrapeIntervalSeconds, 10)}s`,
      evaluation_interval: `${m.evaluationIntervalSeconds}s`,
    },
    alerting: { alertmanagers: [{ static_configs: local(ports.alertmanager) }] },
    rule_files: [ALERT_RULES_FILE, settingsRulesFile],
    scrape_configs: [
      { job_name: 'spark-job', static_configs: local(ports.jobMetrics) },
      { job_name: 'speedlayer-exporter', static_configs: local(ports.exporter) },
      { job_name: 'prometheus', static_configs: local(ports.prometheus) },
      { job_name: 'alertmanager', static_configs: local(ports.alertmanager) },
    ],
  });
}

/**
 * Routes by severity to webhook receivers (send_resolved on), groups by alert name and severity,
 * and inhibits an alert's warning while its critical fires. `notificationLogUrl` (the exporter)
 * receives everything: the log `speedlayer alerts` reads resolved alerts from.
 */
export function alertmanagerConfig(m: MonitoringConfig, notificationLogUrl: string): string {
  const receiver = (name: string, url: string | undefined) => ({
    name,
    webhook_configs: [notificationLogUrl, ...(url ? [url] : [])].map((u) => ({ url: u, send_resolved: true })),
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
  });
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
