/**
 * The benchmark charts, as SVG rendered by Vega-Lite / Vega in Node (no browser, no canvas):
 * end-to-end latency versus throughput, and CPU cores per component per scenario.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { SuiteResult } from './suite.ts';

async function svg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/** Writes the charts into `dir`; returns their file names. */
export async function renderCharts(r: SuiteResult, dir: string): Promise<{ latency: string; cpu: string }> {
  const latency = r.curve.flatMap((s) =>
    (['p50', 'p95', 'p99'] as const).map((q) => ({ eps: s.achieved_eps, ms: s.e2e_latency_ms[q], quantile: `e2e ${q}` })),
  );
  const latencySpec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'End-to-end latency vs throughput (local target, 2 cores)',
    width: 520,
    height: 300,
    layer: [
      {
        data: { values: latency },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'eps', type: 'quantitative', title: 'achieved events/s' },
          y: { field: 'ms', type: 'quantitative', title: 'latency (ms)' },
          color: { field: 'quantile', type: 'nominal' },
        },
      },
      { data: { values: [{ ms: 5000 }] }, mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { field: 'ms', type: 'quantitative' } } },
    ],
  };
  const scenarios = [
    { name: 'idle', cores: r.idle_cpu_cores as Record<string, number> },
    ...r.curve.map((s) => ({ name: `${s.target_eps / 1000}k/s`, cores: s.cpu_cores as Record<string, number> })),
    ...(r.passthrough ? [{ name: `pass-through ${r.passthrough.target_eps / 1000}k/s`, cores: r.passthrough.cpu_cores as Record<string, number> }] : []),
    ...(r.baseline ? [{ name: `20a119b ${r.baseline.target_eps / 1000}k/s`, cores: r.baseline.cpu_cores as Record<string, number> }] : []),
  ];
  const cpu = scenarios.flatMap((s, i) => ['job', 'kafka', 'clickhouse'].map((c) => ({ scenario: s.name, order: i, component: c, cores: s.cores[c] ?? 0 })));
  const cpuSpec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'CPU per component (cores, from /proc)',
    width: 520,
    height: 300,
    data: { values: cpu },
    mark: 'bar',
    encoding: {
      x: { field: 'scenario', type: 'nominal', sort: { field: 'order' }, title: null, axis: { labelAngle: -30 } },
      y: { field: 'cores', type: 'quantitative', stack: 'zero', title: 'cores' },
      color: { field: 'component', type: 'nominal' },
    },
  };
  await writeFile(path.join(dir, 'latency-vs-throughput.svg'), await svg(latencySpec));
  await writeFile(path.join(dir, 'cpu-per-component.svg'), await svg(cpuSpec));
  return { latency: 'latency-vs-throughput.svg', cpu: 'cpu-per-component.svg' };
}
