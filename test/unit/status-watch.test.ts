import { describe, expect, it } from 'vitest';
import { sparkline, type LiveFigures } from '../../src/commands/live-figures.ts';
import { watchLine, watchScreen } from '../../src/commands/status.ts';

const figures: LiveFigures = {
  input_rows_per_second: 9812.4,
  produced_per_second: 10000,
  e2e_latency_p95_s: 1.234,
  freshness_s: 0.8,
  kafka_lag_records: 1234,
  batch_duration_s: 1.6,
  trigger_s: 2,
  dead_letters_per_second: 0.25,
};
const alerts = [{ name: 'JobDown', severity: 'critical', state: 'firing' as const, since: '', summary: '', runbook: '' }];

describe('status --watch', () => {
  it('draws a sparkline scaled to the largest value', () => {
    expect(sparkline([0, 5, 10])).toBe('▁▅█');
    expect(sparkline([0, 0])).toBe('▁▁');
    expect(sparkline([])).toBe('');
  });

  it('shows throughput with its sparkline, latency, lag, batch versus trigger, dead letters and firing alerts', () => {
    const screen = watchScreen(figures, alerts, [1, 2, 4, 8]).join('\n');
    expect(screen).toContain('throughput       9,812 rows/s  ▂▃▅█  (producers 10,000/s)');
    expect(screen).toContain('e2e p95           1.23 s     freshness 0.8 s');
    expect(screen).toContain('kafka lag        1,234 records');
    expect(screen).toContain('batch             1.60 s     trigger 2 s');
    const unknown = watchScreen({ ...figures, e2e_latency_p95_s: null }, [], []).join('\n');
    expect(unknown).toContain('e2e p95              n/a     freshness');
    expect(watchLine({ ...figures, e2e_latency_p95_s: null }, [], new Date(0))).toContain(' e2e_p95=n/a ');
    expect(screen).toContain('dead letters       0.3 /s');
    expect(screen).toContain('alerts        CRITICAL JobDown');
    expect(watchScreen(figures, [], [])).toContain('alerts        none firing');
    expect(watchScreen({ error: 'no Prometheus' }, [], [])).toEqual(['figures: no Prometheus']);
  });

  it('writes one plain line per refresh when stdout is not a terminal', () => {
    expect(watchLine(figures, alerts, new Date('2026-01-01T12:34:56Z'))).toBe(
      '12:34:56 throughput=9,812/s e2e_p95=1.23s lag=1,234 batch=1.60s/2s dead_letters=0.3/s alerts=JobDown(critical)',
    );
  });
});
