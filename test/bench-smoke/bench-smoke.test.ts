import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/contract/index.ts';
import { BASELINE_COMMIT, hasBaselineCommit } from '../../bench/baseline.ts';

/**
 * A smoke run of the benchmark suite (`npm run bench -- --smoke`): seconds-long steps on fresh
 * stacks, the baseline commit included. It checks that every field of the --json object is
 * produced, and nothing about the figures themselves: speed is shown by the benchmark, not by a test.
 */
describe('benchmark suite (smoke)', () => {
  it('produces every field of npm run bench -- --json', async () => {
    const baseline = await hasBaselineCommit();
    if (!baseline) console.warn(`bench smoke: commit ${BASELINE_COMMIT} is not in this clone (shallow?): the baseline step is left out`);
    const r = await execa('node', ['--import', 'tsx', path.join(PROJECT_ROOT, 'bench', 'suite.ts'), '--smoke', '--json', '--no-docs', ...(baseline ? [] : ['--no-baseline'])], {
      cwd: PROJECT_ROOT,
      stdin: 'ignore',
      timeout: 1_800_000,
    });
    const out = JSON.parse(r.stdout);
    const num = expect.any(Number);
    const q = { p50: num, p95: num, p99: num };
    expect(out).toMatchObject({
      max_sustained_eps: num,
      e2e_latency_ms_at_10k: q,
      batch_ms_at_10k: { p50: num, p95: num },
      e2e_latency_ms_at_10k_one_core_busy: q,
      job_cpu_s_per_million_events: num,
      job_cpu_s_per_million_events_baseline: baseline ? num : null,
      idle_cpu_cores: { job: num, kafka: num, clickhouse: num, total: num },
      rss_total_mib_at_10k: num,
      producer_eps: num,
      producer_reference_eps: num,
      pipeline_vs_passthrough: num,
      query_latency_ms_idle: q,
      query_latency_ms_under_load: q,
      machine: { cores: num, load_before: num },
    });
    expect(out.curve.length).toBeGreaterThan(0);
    // Not a timing: a producer that sent nothing is a broken step (2ea4048), whatever the machine.
    expect(out.producer_eps).toBeGreaterThan(0);
    expect(out.producer_reference_eps).toBeGreaterThan(0);
  }, 1_800_000); // three fresh stacks and the baseline's build: longer than the e2e default on a busy machine
});
