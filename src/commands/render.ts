import chalk from 'chalk';
import type { Check } from '../loadtest/checks.ts';
import type { Quantiles } from '../loadtest/stats.ts';

/** A plain text table; widths from the content. */
export function table(headers: string[], rows: Array<Array<string | number | undefined | null>>): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined || c === null ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => stripAnsi(r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c + ' '.repeat(Math.max(0, widths[i]! - stripAnsi(c).length))).join('  ').trimEnd();
  return [chalk.bold(line(headers)), ...cells.map(line)].join('\n');
}

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}

export function fmtQuantiles(q: Quantiles, unit = 'ms'): string {
  const f = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v)}`);
  return `p50 ${f(q.p50)} / p95 ${f(q.p95)} / p99 ${f(q.p99)} ${unit}`;
}

export function checksTable(checks: Check[]): string {
  return table(
    ['check', 'target', 'actual', 'result'],
    checks.map((c) => [c.name, c.target, c.actual, c.passed ? chalk.green('pass') : chalk.red('FAIL')]),
  );
}

export function n(value: number): string {
  return value.toLocaleString('en-US');
}
