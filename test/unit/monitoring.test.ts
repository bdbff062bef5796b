import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { amtool, promtool, promtoolTestRules } from '../support/monitoring-tools.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { MonitoringConfigSchema } from '../../src/config/schema.ts';
import { pipeline, PROJECT_ROOT } from '../../src/contract/index.ts';
import { ALERT_RULES_FILE, alertmanagerConfig, settingsRules } from '../../src/stack/monitoring-config.ts';
import { localPrometheusConfig } from '../../src/targets/local/monitoring/config-files.ts';
import { jobDownReason, sourceOffsets } from '../../src/targets/local/monitoring/exporter.ts';
import { Histogram, MetricsText } from '../../src/targets/local/monitoring/metrics-text.ts';

// promtool and amtool come with the prometheus and prometheus-alertmanager packages, which
// scripts/test.mjs installs when they are missing; a missing tool fails here, it is not skipped.

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const groups = (parse(await readFile(ALERT_RULES_FILE, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }).groups;
const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert);

describe('alert rules (manifests/prometheus/alerts.rules.yml)', () => {
  let dir: string;
  let settingsFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'speedlayer-rules-'));
    settingsFile = path.join(dir, 'settings.rules.yml');
    await writeFile(settingsFile, settingsRules(MonitoringConfigSchema.parse({ escalateAfterSeconds: 120 })));
  });

  it('pass promtool check rules, with the rendered settings rules', async () => {
    const r = await execa(promtool, ['check', 'rules', ALERT_RULES_FILE, settingsFile], { reject: false });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  });

  it('every warning has a critical escalation of the same name, and every alert names its runbook entry', async () => {
    const runbook = await readFile(path.join(PROJECT_ROOT, 'docs', 'runbook.md'), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^#+\s+(.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
    const warnings = alerts.filter((a) => a.labels?.severity === 'warning').map((a) => a.alert);
    const criticals = alerts.filter((a) => a.labels?.severity === 'critical').map((a) => a.alert);
    expect(criticals.sort()).toEqual([...warnings].sort());
    expect(warnings.length).toBeGreaterThanOrEqual(10);
    for (const a of alerts) {
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      const anchor = /^docs\/runbook\.md#(.+)$/.exec(a.annotations?.runbook ?? '')?.[1];
      expect(anchor, `${a.alert}: runbook annotation`).toBe(a.alert!.toLowerCase());
      expect(anchors.has(anchor!), `docs/runbook.md has no heading '${a.alert}'`).toBe(true);
    }
  });

  it("escalation counts from when the warning fires: each critical rule adds its warning's `for`", () => {
    const seconds = (d: string) => Number(d.slice(0, -1)) * (d.endsWith('m') ? 60 : 1);
    const forOf = new Map(groups[0]!.rules.map((r) => [r.alert, seconds((r as Rule & { for: string }).for)]));
    const escalations = groups.find((g) => g.name === 'speedlayer-escalation')!.rules;
    for (const r of escalations) {
      expect(r.expr).toBe(`time() - ALERTS_FOR_STATE{alertname="${r.alert}", severity="warning"} > on() group_left() (speedlayer:config:escalate_after_seconds + ${forOf.get(r.alert)})`);
    }
  });

  it('the topics the rules name are the contract\'s (pipeline.json)', () => {
    const topics = new Set(alerts.flatMap((a) => [...a.expr.matchAll(/topic\s*=~?\s*"([^"]+)"/g)].map((m) => m[1]!)));
    expect(topics.size).toBeGreaterThan(0);
    const known = Object.values(pipeline.kafka.topics).map((t) => t.name);
    for (const topic of topics) expect(known, `topic "${topic}" in the alert rules`).toContain(topic);
  });

  it('every metric the rules read is defined in docs/metrics.md', async () => {
    const doc = await readFile(path.join(PROJECT_ROOT, 'docs', 'metrics.md'), 'utf8');
    const used = new Set(alerts.flatMap((a) => [...a.expr.matchAll(/\b(speedlayer_[a-z_]+?)(?:_bucket)?\b/g)].map((m) => m[1]!)));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(doc.includes(`\`${name}\``), `${name} is not in docs/metrics.md`).toBe(true);
  });

  // promtool's rule unit tests: synthetic series in, the alerts Prometheus would fire out.
  it('fire, escalate and clear as intended (promtool test rules)', async () => {
    const tests = {
      rule_files: [ALERT_RULES_FILE, settingsFile],
      evaluation_interval: '5s',
      tests: [
        {
          interval: '5s',
          input_series: [
            { series: 'speedlayer_job_process_up{job="speedlayer-exporter"}', values: '1x5 0x60' },
            { series: 'speedlayer_job_failure_info{job="speedlayer-exporter",failure="ClickHouseInsertException: boom"}', values: '_x5 1x60' },
          ],
          alert_rule_test: [
            { eval_time: '40s', alertname: 'JobDown', exp_alerts: [] }, // pending: for 15s
            { eval_time: '60s', alertname: 'JobDown', exp_alerts: [{ exp_labels: { severity: 'warning' }, exp_annotations: jobDown('ClickHouseInsertException: boom') }] },
            // Active since 30s, firing from 45s, escalation after 120s of firing: critical from 165s on
            // (holding back the warning meanwhile is Alertmanager's inhibition).
            { eval_time: '160s', alertname: 'JobDown', exp_alerts: [{ exp_labels: { severity: 'warning' }, exp_annotations: jobDown('ClickHouseInsertException: boom') }] },
            {
              eval_time: '170s',
              alertname: 'JobDown',
              exp_alerts: [
                { exp_labels: { severity: 'warning' }, exp_annotations: jobDown('ClickHouseInsertException: boom') },
                { exp_labels: { severity: 'critical' }, exp_annotations: { summary: 'The streaming job is still down (escalated).', runbook: 'docs/runbook.md#jobdown' } },
              ],
            },
          ],
        },
        {
          // The supervisor restarts the JVM once at 60 s: JobRestarting fires with how the run ended, and clears 15 min later.
          interval: '5s',
          input_series: [
            { series: 'speedlayer_job_restarts_total{job="speedlayer-exporter"}', values: '0x12 1x300' },
            { series: 'speedlayer_job_last_failure_info{job="speedlayer-exporter",failure="failed: ClickHouseInsertException: boom"}', values: '_x12 1x300' },
          ],
          alert_rule_test: [
            { eval_time: '55s', alertname: 'JobRestarting', exp_alerts: [] },
            {
              eval_time: '90s',
              alertname: 'JobRestarting',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning' },
                  exp_annotations: {
                    summary: 'The supervisor restarted the failing job in the last 15 minutes (1 times).',
                    description: 'failed: ClickHouseInsertException: boom',
                    runbook: 'docs/runbook.md#jobrestarting',
                  },
                },
              ],
            },
            { eval_time: '1000s', alertname: 'JobRestarting', exp_alerts: [] },
          ],
        },
        {
          // 1,000 records/s read; a 30 s burst of 500 dead letters/s, then none.
          interval: '5s',
          input_series: [
            { series: 'speedlayer_job_input_rows_total{job="spark-job"}', values: '0+5000x60' },
            { series: 'speedlayer_job_rows_total{job="spark-job",outcome="dead_letters"}', values: '0x12 0+2500x6 15000x40' },
          ],
          alert_rule_test: [
            { eval_time: '55s', alertname: 'DeadLetterRateHigh', exp_alerts: [] },
            { eval_time: '95s', alertname: 'DeadLetterRateHigh', exp_alerts: [{ exp_labels: { severity: 'warning' }, exp_annotations: { summary: '25% of the records read in the last minute were dead-lettered (data quality).', runbook: 'docs/runbook.md#deadletterratehigh' } }] },
            { eval_time: '200s', alertname: 'DeadLetterRateHigh', exp_alerts: [] },
          ],
        },
        {
          // Batches of 6 s against a 2 s trigger while the lag grows: falling behind; batches of 1 s: not.
          interval: '5s',
          input_series: [
            { series: 'speedlayer_job_last_batch_duration_seconds{job="spark-job"}', values: '6x30 1x30' },
            { series: 'speedlayer_job_trigger_interval_seconds{job="spark-job"}', values: '2x60' },
            { series: 'speedlayer_kafka_job_lag_records{job="speedlayer-exporter",topic="speedlayer.events",partition="0"}', values: '0+1000x30 30000-2000x15 0x15' },
          ],
          alert_rule_test: [
            { eval_time: '120s', alertname: 'JobFallingBehind', exp_alerts: [{ exp_labels: { severity: 'warning' }, exp_annotations: { summary: 'Every micro-batch of the last 30 s took longer than the trigger and the Kafka lag grows.', description: 'Lag 24000 records; last batch 6.0 s.', runbook: 'docs/runbook.md#jobfallingbehind' } }] },
            { eval_time: '240s', alertname: 'JobFallingBehind', exp_alerts: [] },
          ],
        },
      ],
    };
    const r = await promtoolTestRules(dir, 'rules.test.yml', tests);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  });
});

function jobDown(description: string) {
  return { summary: 'The streaming job is not running: no event reaches ClickHouse.', description, runbook: 'docs/runbook.md#jobdown' };
}

describe('rendered Prometheus and Alertmanager configuration', () => {
  it('passes promtool check config and amtool check-config, routes by severity and sends resolves', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'speedlayer-monitoring-'));
    const m = MonitoringConfigSchema.parse({ webhookUrl: 'http://127.0.0.1:9/hook', slackWebhookUrl: 'https://hooks.example.com/x' });
    const settings = path.join(dir, 'settings.rules.yml');
    await writeFile(settings, settingsRules(m));
    await writeFile(path.join(dir, 'prometheus.yml'), localPrometheusConfig(m, { jobMetrics: 1, exporter: 2, prometheus: 3, alertmanager: 4 }, settings));
    const am = alertmanagerConfig(m, 'http://127.0.0.1:2/alertmanager');
    await writeFile(path.join(dir, 'alertmanager.yml'), am);
    const p = await execa(promtool, ['check', 'config', path.join(dir, 'prometheus.yml')], { reject: false });
    expect(p.exitCode, p.stdout + p.stderr).toBe(0);
    const a = await execa(amtool, ['check-config', path.join(dir, 'alertmanager.yml')], { reject: false });
    expect(a.exitCode, a.stdout + a.stderr).toBe(0);
    const route = await execa(amtool, ['config', 'routes', 'test', '--config.file', path.join(dir, 'alertmanager.yml'), 'severity=critical', 'alertname=JobDown'], { reject: false });
    expect(route.stdout.trim()).toBe('critical');
    const parsed = parse(am) as { receivers: Array<{ name: string; webhook_configs: Array<{ url: string; send_resolved: boolean }> }> };
    for (const r of parsed.receivers) {
      expect(r.webhook_configs.map((w) => w.url)).toEqual(['http://127.0.0.1:2/alertmanager', 'http://127.0.0.1:9/hook']);
      expect(r.webhook_configs.every((w) => w.send_resolved)).toBe(true);
    }
  });
});

describe('exporter helpers', () => {
  it('writes the Prometheus text format: help, type, escaped labels, cumulative buckets', () => {
    const h = new Histogram([0.1, 1]);
    [0.05, 0.5, 5].forEach((v) => h.observe(v));
    const text = new MetricsText()
      .metric('x_info', 'why', 'gauge', [[{ failure: 'a "b"\nc\\' }, 1]])
      .histogram('q_seconds', 'query time', [[{ query: 'f' }, h]])
      .toString();
    expect(text).toContain('# TYPE x_info gauge\nx_info{failure="a \\"b\\"\\nc\\\\"} 1\n');
    expect(text).toContain('q_seconds_bucket{query="f",le="0.1"} 1\nq_seconds_bucket{query="f",le="1"} 2\nq_seconds_bucket{query="f",le="+Inf"} 3\nq_seconds_sum{query="f"} 5.55\nq_seconds_count{query="f"} 3\n');
  });

  it("reads the job's Kafka position from Spark's progress JSON (objects or JSON text)", () => {
    const p = JSON.stringify({ sources: [{ endOffset: { 'speedlayer.events': { '0': 10, '1': 20 } } }, { endOffset: '{"speedlayer.users":{"0":3}}' }] });
    expect([...sourceOffsets(p)]).toEqual([['speedlayer.events/0', 10], ['speedlayer.events/1', 20], ['speedlayer.users/0', 3]]);
  });

  it("says why the job is down: its failure line, killed, or never started", () => {
    expect(jobDownReason('SPEEDLAYER_STARTED a b\nSPEEDLAYER_FAILED dev.speedlayer.job.X: boom\n')).toBe('dev.speedlayer.job.X: boom');
    expect(jobDownReason('SPEEDLAYER_STARTED a b\n')).toMatch(/killed/);
    expect(jobDownReason('')).toMatch(/not been started/);
  });
});
