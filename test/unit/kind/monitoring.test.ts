import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { amtool, promtool, promtoolTestRules } from '../../support/monitoring-tools.ts';
import { describe, expect, it } from 'vitest';
import { ALERT_RULES_FILE } from '../../../src/stack/monitoring-config.ts';
import { NAMES } from '../../../src/targets/kind/names.ts';
import type { Manifest } from '../../../src/targets/kind/render/manifest.ts';
import { ALERTMANAGER_FILE, KAFKA_METRICS_KEY, KIND_RULES_FILE, PROMETHEUS_FILES } from '../../../src/targets/kind/render/monitoring.ts';
import { CHANGED_KIND_CONFIG, kindTarget } from './support/targets.ts';

// The same tools as test/unit/monitoring.test.ts (installed by scripts/test.mjs); missing fails, not skips.

async function manifests(kind: Record<string, unknown> = {}, monitoring: Record<string, unknown> = {}): Promise<Manifest[]> {
  const plan = await kindTarget(kind, {}, monitoring).plan();
  return plan.steps.flatMap((s) => s.manifests.map((m) => m.object));
}

const find = (ms: Manifest[], kind: string, name: string) => ms.find((m) => m.kind === kind && m.metadata.name === name) as any;

/** Writes a ConfigMap's files into a fresh directory, as the pod's volume mount shows them. */
async function mount(cm: { data: Record<string, string> }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'speedlayer-kind-monitoring-'));
  for (const [file, text] of Object.entries(cm.data)) await writeFile(path.join(dir, file), text);
  return dir;
}

for (const [label, kindConfig] of Object.entries({ default: {}, changed: CHANGED_KIND_CONFIG })) {
  describe(`kind monitoring manifests (${label} config)`, async () => {
    const ms = await manifests(kindConfig, { webhookUrl: 'http://hooks.example.com/speedlayer' });
    const ns = (kindConfig as { namespace?: string }).namespace ?? 'speedlayer';
    const prom = find(ms, 'ConfigMap', NAMES.prometheusConfig);
    const am = find(ms, 'ConfigMap', NAMES.alertmanagerConfig);

    it('Prometheus config with its rule files passes promtool check config (rules included)', async () => {
      const dir = await mount(prom);
      const r = await execa(promtool, ['check', 'config', path.join(dir, PROMETHEUS_FILES.config)], { reject: false });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      // Every rule file the config names is in the ConfigMap (promtool would also fail on a missing one).
      expect(r.stdout).toContain('SUCCESS: 3 rule files found');
    });

    it('uses the one rule file unchanged and the same Alertmanager routing as local', async () => {
      expect(prom.data[PROMETHEUS_FILES.alerts]).toBe(await readFile(ALERT_RULES_FILE, 'utf8'));
      expect(prom.data[PROMETHEUS_FILES.kind]).toBe(await readFile(KIND_RULES_FILE, 'utf8'));
      const dir = await mount(am);
      const file = path.join(dir, ALERTMANAGER_FILE);
      const a = await execa(amtool, ['check-config', file], { reject: false });
      expect(a.exitCode, a.stdout + a.stderr).toBe(0);
      const route = await execa(amtool, ['config', 'routes', 'test', '--config.file', file, 'severity=critical', 'alertname=JobDown'], { reject: false });
      expect(route.stdout.trim()).toBe('critical');
      const receivers = (parse(am.data[ALERTMANAGER_FILE]) as { receivers: Array<{ webhook_configs: Array<{ url: string; send_resolved: boolean }> }> }).receivers;
      for (const r of receivers) expect(r.webhook_configs).toEqual([{ url: 'http://hooks.example.com/speedlayer', send_resolved: true }]);
    });

    it('every scrape target is a rendered Service port, and each such Service selects the pods that serve it', () => {
      const config = parse(prom.data[PROMETHEUS_FILES.config]) as {
        alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
        scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
      };
      const targets = [
        ...config.scrape_configs.flatMap((j) => j.static_configs.flatMap((s) => s.targets)),
        ...config.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets)),
      ].filter((t) => !t.startsWith('localhost:'));
      expect(targets.length).toBeGreaterThanOrEqual(4);
      for (const t of targets) {
        const [, name, namespace, port] = /^([^.]+)\.([^.]+)\.svc:(\d+)$/.exec(t) ?? [];
        expect(namespace, t).toBe(ns);
        const service = find(ms, 'Service', name!);
        expect(service, t).toBeDefined();
        expect(service.spec.ports.map((p: { port: number }) => p.port), t).toContain(Number(port));
      }
      expect(config.scrape_configs.map((j) => j.job_name)).toEqual(['spark-job', 'clickhouse', 'kafka', 'prometheus', 'alertmanager']);
      // The job's endpoint: the driver's labels on the Service, its port in the driver's JVM options.
      const app = find(ms, 'SparkApplication', NAMES.sparkApp);
      const jobService = find(ms, 'Service', NAMES.jobMetricsService);
      expect(app.spec.driver.labels).toMatchObject(jobService.spec.selector);
      expect(app.spec.driver.javaOptions).toContain(`-Dspeedlayer.metrics.port=${jobService.spec.ports[0].port}`);
      expect(app.spec.driver.javaOptions).toContain('-Dspeedlayer.metrics.host=0.0.0.0');
      // The Deployments' own Services select their pods.
      for (const name of [NAMES.prometheus, NAMES.alertmanager]) {
        const d = find(ms, 'Deployment', name);
        expect(d.spec.template.metadata.labels).toMatchObject(find(ms, 'Service', name).spec.selector);
        expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
      }
    });

    it('the Deployments mount the rendered ConfigMaps and read the files they hold', () => {
      for (const [name, cm] of [[NAMES.prometheus, prom], [NAMES.alertmanager, am]] as const) {
        const pod = find(ms, 'Deployment', name).spec.template.spec;
        const volume = pod.volumes.find((v: { configMap?: unknown }) => v.configMap);
        expect(volume.configMap.name).toBe(cm.metadata.name);
        const c = pod.containers[0];
        const mountPath = c.volumeMounts.find((v: { name: string }) => v.name === volume.name).mountPath;
        const configFile = c.args.find((a: string) => a.startsWith('--config.file=')).slice('--config.file='.length);
        expect(path.posix.dirname(configFile)).toBe(mountPath);
        expect(Object.keys(cm.data)).toContain(path.posix.basename(configFile));
        expect(c.image).toMatch(/^prom\/(prometheus|alertmanager):v\d+\.\d+\.\d+$/);
        expect(c.resources.requests.memory).toBe(c.resources.limits.memory);
      }
    });

    it("Kafka's metricsConfig points at the rendered JMX exporter rules, applied before the Kafka resource", async () => {
      const plan = await kindTarget(kindConfig).plan();
      const order = plan.steps.flatMap((s) => s.manifests.map((m) => `${m.kind}/${m.name}`));
      const kafka = find(ms, 'Kafka', NAMES.kafkaCluster);
      const ref = kafka.spec.kafka.metricsConfig.valueFrom.configMapKeyRef;
      const cm = find(ms, 'ConfigMap', ref.name);
      expect(ref.key).toBe(KAFKA_METRICS_KEY);
      const rules = parse(cm.data[ref.key]) as { rules: Array<{ name: string }> };
      expect(rules.rules.map((r) => r.name)).toContain('kafka_log_log_logendoffset');
      expect(order.indexOf(`ConfigMap/${ref.name}`)).toBeLessThan(order.indexOf(`Kafka/${NAMES.kafkaCluster}`));
    });
  });
}

describe('kind monitoring switched off', () => {
  it('renders no Prometheus, Alertmanager or scrape Services', async () => {
    const ms = await manifests({}, { enabled: false });
    const names = ms.map((m) => m.metadata.name);
    for (const n of [NAMES.prometheus, NAMES.alertmanager, NAMES.prometheusConfig, NAMES.jobMetricsService]) expect(names).not.toContain(n);
  });
});

// The kind stand-ins for the exporter's series, run through the real rule engine with the alerts.
describe('kind recording rules (manifests/prometheus/kind.rules.yml) feed the alert rules', () => {
  it('JobDown, KafkaDown and ClickHouseDiskLow fire from the cluster\'s own endpoints; lag comes from the broker', async () => {
    const ms = await manifests();
    const dir = await mount(find(ms, 'ConfigMap', NAMES.prometheusConfig));
    const tests = {
      rule_files: [PROMETHEUS_FILES.alerts, PROMETHEUS_FILES.settings, PROMETHEUS_FILES.kind],
      evaluation_interval: '5s',
      tests: [
        {
          interval: '5s',
          input_series: [
            { series: 'up{job="spark-job",instance="a"}', values: '1x5 0x30' },
            { series: 'up{job="kafka",instance="b"}', values: '1x35' },
            { series: 'kafka_log_log_logendoffset{job="kafka",topic="speedlayer.events",partition="0"}', values: '100x35' },
            { series: 'speedlayer_job_kafka_offset{job="spark-job",topic="speedlayer.events",partition="0"}', values: '40x35' },
          ],
          promql_expr_test: [
            { expr: 'speedlayer_kafka_job_lag_records', eval_time: '10s', exp_samples: [{ labels: 'speedlayer_kafka_job_lag_records{topic="speedlayer.events",partition="0"}', value: 60 }] },
            { expr: 'speedlayer_kafka_up', eval_time: '10s', exp_samples: [{ labels: 'speedlayer_kafka_up', value: 1 }] },
            { expr: 'speedlayer_job_process_up', eval_time: '60s', exp_samples: [{ labels: 'speedlayer_job_process_up', value: 0 }] },
          ],
          alert_rule_test: [
            { eval_time: '20s', alertname: 'JobDown', exp_alerts: [] },
            {
              eval_time: '60s',
              alertname: 'JobDown',
              // No failure text on kind: a dead driver has no endpoint, and no exporter reads its log (docs/metrics.md).
              exp_alerts: [{ exp_labels: { severity: 'warning' }, exp_annotations: { summary: 'The streaming job is not running: no event reaches ClickHouse.', description: '', runbook: 'docs/runbook.md#jobdown' } }],
            },
            { eval_time: '60s', alertname: 'KafkaDown', exp_alerts: [] },
          ],
        },
        {
          // The broker's endpoint gone; ClickHouse's disk 5% free (its own asynchronous metrics).
          interval: '30s',
          input_series: [
            { series: 'up{job="kafka",instance="b"}', values: '1 0x14' },
            { series: 'up{job="spark-job",instance="a"}', values: '1x14' },
            { series: 'speedlayer_job_query_active{job="spark-job"}', values: '1x14' },
            { series: 'ClickHouseAsyncMetrics_FilesystemMainPathAvailableBytes{job="clickhouse"}', values: '5e8x14' },
            { series: 'ClickHouseAsyncMetrics_FilesystemMainPathTotalBytes{job="clickhouse"}', values: '1e10x14' },
          ],
          alert_rule_test: [
            { eval_time: '2m', alertname: 'KafkaDown', exp_alerts: [{ exp_labels: { severity: 'warning' }, exp_annotations: { summary: 'The Kafka broker does not answer metadata requests.', runbook: 'docs/runbook.md#kafkadown' } }] },
            { eval_time: '2m', alertname: 'JobDown', exp_alerts: [] },
            { eval_time: '6m', alertname: 'ClickHouseDiskLow', exp_alerts: [{ exp_labels: { severity: 'warning' }, exp_annotations: { summary: "5% of ClickHouse's file system is free.", runbook: 'docs/runbook.md#clickhousedisklow' } }] },
          ],
        },
      ],
    };
    const r = await promtoolTestRules(dir, 'kind.test.yml', tests);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  });
});
