/**
 * Pipeline benchmark: a fresh local stack on free ports in a temporary home (up, submit), then
 * `loadtest` at the target rate, `status`, and `down --purge`. Writes the report into the pipeline
 * section of docs/benchmarks.md (unless --no-docs).
 *
 *   node --import tsx bench/pipeline-throughput.ts [--rate 10000] [--duration 60] [--no-docs] [--keep]
 *
 * --keep leaves the stack running (to read its logs, the Spark UI, ClickHouse); it prints how to stop it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/contract/index.ts';
import type { LoadtestReport } from '../src/loadtest/loadtest.ts';
import { localPaths } from '../src/targets/local/paths.ts';
import { cliSandbox } from '../test/support/cli-sandbox.ts';
import { batchFigures } from './batch-figures.ts';

const BEGIN = '<!-- pipeline:begin (written by bench/pipeline-throughput.ts) -->';
const END = '<!-- pipeline:end -->';

function renderBatches({ count, figures }: ReturnType<typeof batchFigures>): string[] {
  return [
    '',
    `Micro-batches of the measured window (${count} with input; from the job's \`SPEEDLAYER_PROGRESS\` lines, ms unless rows):`,
    '',
    '| per batch | p50 | p95 | max |',
    '|---|---:|---:|---:|',
    ...Object.entries(figures).map(([k, v]) => `| ${k} | ${v.p50} | ${v.p95} | ${v.max} |`),
  ];
}

function render(r: LoadtestReport, rate: number, duration: number, setupS: number, batches: string[]): string {
  const q = (x: { p50: number | null; p95: number | null; p99: number | null }) => `${x.p50} / ${x.p95} / ${x.p99}`;
  return [
    `Run on ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 1024 ** 3)} GB, with`,
    `\`node --import tsx bench/pipeline-throughput.ts --rate ${rate} --duration ${duration}\` (a fresh local stack;`,
    `\`up\` + \`submit\` took ${setupS.toFixed(0)} s). One run; the machine is shared, so treat single figures as ±20%.`,
    '',
    '| figure | value |',
    '|---|---:|',
    `| target / achieved events/s | ${r.target_eps} / ${r.achieved_eps} |`,
    `| produced (valid + malformed) | ${r.produced} (${r.valid_produced} + ${r.malformed_injected}) |`,
    `| accepted / dead-lettered / missing / duplicated | ${r.accepted} / ${r.dead_lettered} / ${r.missing} / ${r.duplicated} |`,
    `| drain after producing stopped | ${r.drain_s} s |`,
    `| end-to-end latency p50 / p95 / p99 (ms) | ${q(r.e2e_latency_ms)} |`,
    `| dashboard query latency p50 / p95 / p99 (ms), during and after the load | ${q(r.query_latency_ms)} |`,
    '',
    '| check | target | actual | result |',
    '|---|---|---|---|',
    ...r.checks.map((c) => `| ${c.name} | ${c.target} | ${c.actual} | ${c.passed ? 'pass' : 'FAIL'} |`),
    ...batches,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '10000' }, duration: { type: 'string', default: '60' }, 'no-docs': { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } } });
  const rate = Number(values.rate);
  const duration = Number(values.duration);
  const sb = await cliSandbox();
  try {
    const t0 = Date.now();
    await sb.run(['up']);
    await sb.run(['submit']);
    const setupS = (Date.now() - t0) / 1000;
    const loadStart = Date.now();
    const lt = await sb.run(['--json', 'loadtest', '--rate', String(rate), '--duration', String(duration)], { reject: false });
    const report = JSON.parse(lt.stdout) as LoadtestReport;
    const log = await readFile(path.join(localPaths(sb.home).sparkDir, 'spark-job.log'), 'utf8');
    const batches = batchFigures(log, loadStart + report.warmup_s * 1000, Date.now());
    console.log(JSON.stringify({ ...report, batches }, null, 2));
    if (!values['no-docs']) {
      const file = path.join(PROJECT_ROOT, 'docs', 'benchmarks.md');
      const text = await readFile(file, 'utf8');
      const block = `${BEGIN}\n${render(report, rate, duration, setupS, renderBatches(batches))}\n${END}`;
      const i = text.indexOf(BEGIN);
      const j = text.indexOf(END);
      const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + END.length) : `${text.trimEnd()}\n\n## Pipeline throughput and latency\n\n${block}\n`;
      await writeFile(file, next);
    }
  } finally {
    if (values.keep) {
      console.error(`stack left running (--keep): SPEEDLAYER_HOME=${sb.home}; stop it with: node bin/speedlayer.js --config ${sb.configFile} down --purge --yes`);
    } else {
      await sb.run(['down', '--purge', '--yes'], { reject: false });
    }
  }
}

await main();
