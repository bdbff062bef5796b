import type { MonitoringConfig } from '../../../config/schema.ts';
import { ALERT_RULES_FILE, prometheusConfig } from '../../../stack/monitoring-config.ts';

export interface ScrapeTargets {
  jobMetrics: number;
  exporter: number;
  prometheus: number;
  alertmanager: number;
}

/** The local Prometheus: every component on a loopback port, the rule file used in place. */
export function localPrometheusConfig(m: MonitoringConfig, ports: ScrapeTargets, settingsRulesFile: string): string {
  const local = (port: number) => [`127.0.0.1:${port}`];
  return prometheusConfig(m, {
    alertmanager: `127.0.0.1:${ports.alertmanager}`,
    ruleFiles: [ALERT_RULES_FILE, settingsRulesFile],
    scrapeJobs: [
      { name: 'spark-job', targets: local(ports.jobMetrics) },
      { name: 'speedlayer-exporter', targets: local(ports.exporter) },
      { name: 'prometheus', targets: local(ports.prometheus) },
      { name: 'alertmanager', targets: local(ports.alertmanager) },
    ],
  });
}
