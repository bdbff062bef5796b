/** Prometheus text exposition format 0.0.4: what the local exporter writes. */
export type Labels = Record<string, string>;

export class MetricsText {
  private readonly lines: string[] = [];

  private head(name: string, help: string, type: 'gauge' | 'counter' | 'histogram' | 'summary'): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }

  private sample(name: string, labels: Labels, value: number): void {
    const l = Object.entries(labels);
    const text = l.length ? `{${l.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
    this.lines.push(`${name}${text} ${formatValue(value)}`);
  }

  /** One metric with one or more series; a metric with no series is left out. */
  metric(name: string, help: string, type: 'gauge' | 'counter', series: Array<[Labels, number]> | number): this {
    const list: Array<[Labels, number]> = typeof series === 'number' ? [[{}, series]] : series;
    if (list.length === 0) return this;
    this.head(name, help, type);
    for (const [labels, v] of list) this.sample(name, labels, v);
    return this;
  }

  histogram(name: string, help: string, series: Array<[Labels, Histogram]>): this {
    if (series.length === 0) return this;
    this.head(name, help, 'histogram');
    for (const [labels, h] of series) {
      let cumulative = 0;
      h.bounds.forEach((b, i) => {
        cumulative += h.counts[i]!;
        this.sample(`${name}_bucket`, { ...labels, le: formatValue(b) }, cumulative);
      });
      cumulative += h.counts[h.bounds.length]!;
      this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, cumulative);
      this.sample(`${name}_sum`, labels, h.sum);
      this.sample(`${name}_count`, labels, cumulative);
    }
    return this;
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export class Histogram {
  readonly counts: number[];
  sum = 0;
  constructor(readonly bounds: number[]) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }
  observe(v: number): void {
    const i = this.bounds.findIndex((b) => v <= b);
    this.counts[i < 0 ? this.bounds.length : i]!++;
    this.sum += v;
  }
}

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return String(v);
}
