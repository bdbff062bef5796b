import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { pipeline } from '../contract/index.ts';
import type { LoadtestReport } from './report.ts';
import type { Quantiles } from './stats.ts';

/** What the page shows of a load test's report. */
export type HtmlReportInput = Pick<
  LoadtestReport,
  | 'target_eps' | 'achieved_eps' | 'duration_s' | 'produced' | 'malformed_injected' | 'accepted' | 'dead_lettered' | 'missing'
  | 'duplicated' | 'drain_s' | 'e2e_latency_ms' | 'query_latency_ms' | 'timeline' | 'checks' | 'passed'
>;

/** The charts of the page, by the id of the element each is drawn into. */
export const CHART_IDS = ['chart-throughput', 'chart-latency', 'chart-batches'] as const;

const WIDTH = 760;
const HEIGHT = 240;
const SECONDS = { title: 'seconds since the load started', type: 'quantitative' } as const;

/** A line per series over the seconds of the run, and the dashed target line `target`. */
function overTime(
  title: string,
  values: Array<Record<string, unknown>>,
  y: { field: string; title: string },
  color: { field: string; sort?: string[]; legend: Record<string, unknown> },
  target: object,
): TopLevelSpec {
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 's', ...SECONDS },
          y: { field: y.field, type: 'quantitative', title: y.title },
          color: { field: color.field, type: 'nominal', ...(color.sort ? { sort: color.sort } : {}), title: null, legend: color.legend },
          tooltip: [{ field: color.field }, { field: 's', title: 's' }, { field: y.field, format: ',.0f' }],
        },
      },
      target,
    ],
  } as TopLevelSpec;
}

function chartSpecs(r: HtmlReportInput, e2eP95TargetMs: number): Record<(typeof CHART_IDS)[number], TopLevelSpec> {
  const t = r.timeline;
  const triggerMs = pipeline.spark.triggerIntervalSeconds * 1000;
  const series = ['produced (events/s, per second)', 'read by the job (rows/s, per batch)', 'job processing rate while a batch runs (rows/s)'];
  const rates = [
    ...t.produced_per_s.map((p) => ({ s: p.s, rate: p.events, series: series[0] })),
    ...t.batches.map((b) => ({ s: b.s, rate: b.input_rows_per_s, series: series[1] })),
    ...t.batches.map((b) => ({ s: b.s, rate: b.processed_rows_per_s, series: series[2] })),
  ];
  const latency = t.e2e_latency_per_s.flatMap((l) => [
    { s: l.s, ms: l.p50_ms, quantile: 'p50' },
    { s: l.s, ms: l.p95_ms, quantile: 'p95' },
  ]);
  const rule = (value: number, field: string, label: string) => ({
    data: { values: [{ [field]: value, label }] },
    layer: [
      { mark: { type: 'rule' as const, strokeDash: [4, 4], color: 'gray' }, encoding: { y: { field, type: 'quantitative' as const } } },
      {
        mark: { type: 'text' as const, align: 'right' as const, baseline: 'bottom' as const, dy: -2, color: 'gray' },
        encoding: { y: { field, type: 'quantitative' as const }, x: { value: WIDTH }, text: { field: 'label' } },
      },
    ],
  });
  return {
    'chart-throughput': overTime('Throughput', rates, { field: 'rate', title: 'events/s' }, { field: 'series', sort: series, legend: { orient: 'bottom', labelLimit: 400 } }, rule(r.target_eps, 'rate', `target ${r.target_eps.toLocaleString('en-US')} events/s`)),
    'chart-latency': overTime(
      'End-to-end latency (produced → visible in ClickHouse), by the second events were produced',
      latency,
      { field: 'ms', title: 'ms' },
      { field: 'quantile', legend: { orient: 'bottom' } },
      rule(e2eP95TargetMs, 'ms', `p95 target ${e2eP95TargetMs.toLocaleString('en-US')} ms`),
    ),
    'chart-batches': {
      title: `Micro-batch duration (trigger every ${pipeline.spark.triggerIntervalSeconds} s)`,
      width: WIDTH,
      height: HEIGHT,
      layer: [
        {
          data: { values: t.batches.map((b) => ({ ...b, over: b.duration_ms > triggerMs ? 'longer than the trigger' : 'within the trigger' })) },
          mark: { type: 'bar' },
          encoding: {
            x: { field: 'batch_id', type: 'ordinal', title: 'batch id', axis: { labelOverlap: true } },
            y: { field: 'duration_ms', type: 'quantitative', title: 'ms' },
            color: {
              field: 'over',
              type: 'nominal',
              title: null,
              scale: { domain: ['within the trigger', 'longer than the trigger'], range: ['#4c78a8', '#e45756'] },
              legend: { orient: 'bottom' },
            },
            tooltip: [{ field: 'batch_id' }, { field: 'duration_ms' }, { field: 'input_rows', format: ',' }, { field: 'input_rows_per_s', format: ',' }, { field: 'processed_rows_per_s', format: ',' }],
          },
        },
        rule(triggerMs, 'duration_ms', 'trigger'),
      ],
    },
  };
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON inside a <script> element: no "</script>" can end it early. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
const n = (v: number) => v.toLocaleString('en-US');
const q = (x: Quantiles) => (['p50', 'p95', 'p99'] as const).map((k) => `${k} ${x[k] === null ? 'n/a' : n(Math.round(x[k]))}`).join(' / ') + ' ms';

/** Vega's browser build, inlined so that the page draws its charts offline. */
async function vegaBundle(): Promise<string> {
  // The package exports only its module entry (build/vega.module.js); the bundle sits beside it.
  const entry = createRequire(import.meta.url).resolve('vega');
  return readFile(path.join(path.dirname(entry), 'vega.min.js'), 'utf8');
}

/**
 * One self-contained HTML page: the figures, the charts (Vega-Lite specs compiled to Vega here and
 * drawn as SVG by Vega in the browser) and the checks table. No network needed to view it.
 */
export async function renderHtmlReport(r: HtmlReportInput, o: { e2eP95TargetMs: number; generatedAt: Date }): Promise<string> {
  const vl = await import('vega-lite');
  const specs = Object.fromEntries(Object.entries(chartSpecs(r, o.e2eP95TargetMs)).map(([id, spec]) => [id, vl.compile(spec).spec]));
  const failed = r.checks.filter((c) => !c.passed).length;
  const figures: Array<[string, string]> = [
    ['target / achieved events/s', `${n(r.target_eps)} / ${n(r.achieved_eps)}`],
    ['produced', `${n(r.produced)} in ${r.duration_s} s (${n(r.malformed_injected)} malformed on purpose)`],
    ['accepted / dead-lettered', `${n(r.accepted)} / ${n(r.dead_lettered)}`],
    ['missing / duplicated', `${n(r.missing)} / ${n(r.duplicated)}`],
    ['drain after producing', `${r.drain_s} s`],
    ['end-to-end latency', q(r.e2e_latency_ms)],
    ['dashboard query latency', q(r.query_latency_ms)],
    ['micro-batches', n(r.timeline.batches.length)],
  ];
  const verdict = r.passed ? 'PASSED: every check met its target' : `FAILED: ${failed} of ${r.checks.length} checks missed their target`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>speedlayer load test: ${n(r.achieved_eps)} events/s, ${r.passed ? 'passed' : 'failed'}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.verdict { font-weight: bold; color: ${r.passed ? '#1a7f37' : '#c62828'}; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
tr.fail td { background: #fdecea; } td.result { font-weight: bold; } tr.pass td.result { color: #1a7f37; } tr.fail td.result { color: #c62828; }
.chart { margin: 12px 0; min-height: 40px; } .chart-error { color: #c62828; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>speedlayer load test</h1>
<p>Generated ${escape(o.generatedAt.toISOString())} by <code>speedlayer loadtest --html</code>. <span class="verdict">${escape(verdict)}.</span></p>
<table id="figures">
${figures.map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(v)}</td></tr>`).join('\n')}
</table>
<h2>Over time</h2>
${CHART_IDS.map((id) => `<div class="chart" id="${id}"></div>`).join('\n')}
<h2>Checks</h2>
<table id="checks">
<thead><tr><th>check</th><th>expected</th><th>got</th><th>result</th></tr></thead>
<tbody>
${r.checks
  .map((c) => `<tr class="${c.passed ? 'pass' : 'fail'}"><td>${escape(c.name)}</td><td>${escape(c.target)}</td><td>${escape(c.actual)}</td><td class="result">${c.passed ? 'pass' : 'FAIL'}</td></tr>`)
  .join('\n')}
</tbody>
</table>
<script type="application/json" id="chart-specs">${scriptJson(specs)}</script>
<script>
${await vegaBundle()}
</script>
<script>
for (const [id, spec] of Object.entries(JSON.parse(document.getElementById('chart-specs').textContent))) {
  const el = document.getElementById(id);
  const fail = (err) => { el.className += ' chart-error'; el.textContent = 'This chart could not be drawn: ' + (err && err.message || err); };
  try {
    new vega.View(vega.parse(spec), { renderer: 'svg', container: el, hover: true }).runAsync().catch(fail);
  } catch (err) {
    fail(err);
  }
}
</script>
</body>
</html>
`;
}
