import { describe, expect, it } from 'vitest';
import type { AlertmanagerAlert, WebhookNotification } from '../../src/clients/alertmanager.ts';
import { alertRows } from '../../src/commands/alerts.ts';

const labels = (name: string, severity: string) => ({ alertname: name, severity });
const ann = (summary: string, anchor: string) => ({ summary, runbook: `docs/runbook.md#${anchor}` });

describe('speedlayer alerts', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const active: AlertmanagerAlert[] = [
    { fingerprint: 'a', labels: labels('JobDown', 'critical'), annotations: ann('down', 'jobdown'), startsAt: '2026-01-01T11:59:00Z', endsAt: '2026-01-01T12:04:00Z', status: { state: 'active', inhibitedBy: [], silencedBy: [] } },
  ];
  const note = (fingerprint: string, name: string, status: 'firing' | 'resolved', endsAt: string): WebhookNotification => ({
    receiver: 'warning',
    status,
    groupKey: name,
    alerts: [{ status, labels: labels(name, 'warning'), annotations: ann(name, name.toLowerCase()), startsAt: '2026-01-01T11:00:00Z', endsAt, fingerprint }],
  });

  it('lists active alerts as firing and resolved ones of the last hour once, not those that fired again', () => {
    const rows = alertRows(active, [
      note('b', 'DeadLetterRateHigh', 'firing', '0001-01-01T00:00:00Z'),
      note('b', 'DeadLetterRateHigh', 'resolved', '2026-01-01T11:50:00Z'),
      note('b', 'DeadLetterRateHigh', 'resolved', '2026-01-01T11:50:00Z'), // a repeated notification
      note('a', 'JobDown', 'resolved', '2026-01-01T11:40:00Z'), // fired again since: shown as firing only
      note('c', 'KafkaDown', 'resolved', '2026-01-01T10:30:00Z'), // more than an hour ago
    ], now);
    expect(rows).toEqual([
      { name: 'JobDown', severity: 'critical', state: 'firing', since: '2026-01-01T11:59:00Z', summary: 'down', runbook: 'docs/runbook.md#jobdown' },
      { name: 'DeadLetterRateHigh', severity: 'warning', state: 'resolved', since: '2026-01-01T11:50:00Z', summary: 'DeadLetterRateHigh', runbook: 'docs/runbook.md#deadletterratehigh' },
    ]);
  });
});
