import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../../src/contract/index.ts';
import { isAlive } from '../../src/targets/local/supervisor.ts';
import { expectReportDrawn, renderInChromium } from '../support/chromium.ts';
import { cliSandbox, type CliSandbox } from '../support/cli-sandbox.ts';

/**
 * The whole local stack, for real: Kafka (KRaft) + ClickHouse + the Spark job, driven through the CLI.
 * Asserts exact counts: every valid event in `events`, every broken record in `dead_letters`.
 */
describe('local stack end to end', () => {
  let sb: CliSandbox;
  let pids: number[] = [];

  beforeAll(async () => {
    sb = await cliSandbox();
    await sb.run(['up']);
    await sb.run(['submit']);
  });

  afterAll(async () => {
    if (sb) await sb.run(['down', '--purge', '--yes'], { reject: false });
  });

  it('accounts for every record of a load test, exactly, and matches the ground truth', async () => {
    const html = path.join(sb.home, 'loadtest-report.html');
    const r = await sb.run(['--json', 'loadtest', '--rate', '1000', '--duration', '75', '--malformed-fraction', '0.02', '--seed', '7', '--warmup', '0', '--html', html], { reject: false });
    const report = JSON.parse(r.stdout);
    const truth = report.ground_truth;
    // 75 s of event time: late events are injected once the run holds events 60 s older than the newest.
    expect(report.produced).toBe(75000);
    expect(report.malformed_injected).toBeGreaterThan(300);
    expect(report.injected.duplicate).toBeGreaterThan(0);
    expect(report.injected.late).toBeGreaterThan(0);
    expect(truth.duplicates).toBe(report.injected.duplicate);
    expect(truth.late).toBe(report.injected.late);
    expect(report.missing).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.accepted).toBe(truth.accepted);
    expect(report.dead_lettered).toBe(report.malformed_injected);
    for (const key of ['target_eps', 'achieved_eps', 'duration_s', 'e2e_latency_ms', 'query_latency_ms', 'checks', 'passed']) expect(report).toHaveProperty(key);
    expect(report.e2e_latency_ms.p95).toBeGreaterThan(0);
    // Every correctness check (the ground truth included) passes; only the speed checks depend on the machine.
    const speed = /latency|events\/s/;
    expect(report.checks.filter((c: { name: string; passed: boolean }) => !c.passed && !speed.test(c.name))).toEqual([]);
    expect(report.checks.length).toBeGreaterThan(10);
    // The run's HTML report: its charts drawn by Chromium from this run's own series.
    expect(report.timeline.produced_per_s.reduce((a: number, p: { events: number }) => a + p.events, 0)).toBe(report.produced);
    expectReportDrawn(await renderInChromium(html), report);

    // The tables themselves, independent of the report's own queries.
    const status = JSON.parse((await sb.run(['--json', 'status'])).stdout);
    const ch = await sb.clickhouse();
    try {
      const q = async (sql: string) => ((await (await ch.query({ query: sql, format: 'JSONEachRow' })).json()) as Array<Record<string, string>>)[0]!;
      expect(Number((await q('SELECT count() AS n FROM events')).n)).toBe(truth.accepted);
      expect(Number((await q('SELECT uniqExact(event_id) AS n FROM events')).n)).toBe(truth.accepted);
      expect(Number((await q('SELECT count() AS n FROM late_events')).n)).toBe(truth.late);
      expect(Number((await q('SELECT count() AS n FROM sessions FINAL')).n)).toBe(truth.sessions);
      expect(Number((await q('SELECT count() AS n FROM tier_changes')).n)).toBe(truth.tier_changes);
      const dl = await q(`SELECT count() AS n, countIf(reason = 'invalid_json') AS j, countIf(reason = 'schema') AS s, countIf(reason = 'not_utf8') AS u FROM dead_letters`);
      expect(Number(dl.n)).toBe(report.malformed_injected);
      expect(Number(dl.j)).toBeGreaterThan(0);
      expect(Number(dl.s)).toBeGreaterThan(0);
      expect(Number(dl.u)).toBeGreaterThan(0);
      expect(status.clickhouse.row_counts.events).toBe(truth.accepted);
      expect(status.kafka.end_offsets[pipeline.kafka.topics.deadLetter.name]).toBe(report.malformed_injected);
    } finally {
      await ch.close();
    }
    const states = status.components.map((c: { name: string; state: string }) => `${c.name}:${c.state}`);
    expect(states).toEqual(expect.arrayContaining(['kafka:up', 'clickhouse:up', 'spark-job:up', 'exporter:up', 'prometheus:up', 'alertmanager:up']));
    expect(states).toHaveLength(6);
    expect(status.job.batchId).toBeGreaterThan(0);
    pids = status.components.map((c: { pid: number }) => c.pid);
  });

  it("with a warm-up, takes in the measured run's users before its first event", async () => {
    const r = await sb.run(['--json', 'loadtest', '--rate', '1000', '--duration', '10', '--warmup', '5', '--warmup-max', '5', '--seed', '9', '--malformed-fraction', '0'], { reject: false });
    const report = JSON.parse(r.stdout);
    const speed = /latency|events\/s/;
    expect(report.checks.filter((c: { name: string; passed: boolean }) => !c.passed && !speed.test(c.name))).toEqual([]);
    expect(report.missing).toBe(0);
    const ch = await sb.clickhouse();
    try {
      const q = async (sql: string) =>
        ((await (await ch.query({ query: sql, format: 'JSONEachRow', query_params: { prefix: report.user_prefix } })).json()) as Array<Record<string, string>>)[0]!;
      const users = await q('SELECT count() AS n, toUnixTimestamp64Milli(max(updated_at)) AS last FROM users WHERE startsWith(user_id, {prefix:String})');
      const events = await q('SELECT count() AS n, toUnixTimestamp64Milli(min(produced_at)) AS first FROM events WHERE startsWith(user_id, {prefix:String})');
      expect(Number(users.n)).toBeGreaterThan(0);
      expect(Number(events.n)).toBe(report.accepted);
      // Published during the warm-up, so no batch of the measured window takes them in.
      expect(Number(users.last)).toBeLessThan(Number(events.first));
    } finally {
      await ch.close();
    }
  });

  it('down --purge leaves no process and no data behind', async () => {
    await sb.run(['down', '--purge', '--yes']);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(existsSync(`${sb.home}/local`)).toBe(false);
  });
});
