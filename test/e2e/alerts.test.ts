import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookNotification } from '../../src/clients/alertmanager.ts';
import { kafkaClient } from '../../src/clients/kafka.ts';
import { pipeline, PROJECT_ROOT, type DeadLetterReason } from '../../src/contract/index.ts';
import { isAlive } from '../../src/targets/local/supervisor.ts';
import { cliSandbox, type CliSandbox } from '../support/cli-sandbox.ts';

/**
 * Alerting on the real local stack: Prometheus evaluates manifests/prometheus/alerts.rules.yml,
 * Alertmanager routes to a webhook receiver started here. Three real problems are caused and cleared:
 * a burst of malformed records (DeadLetterRateHigh), the job killed (JobDown, with why), load above
 * the job's capacity (JobFallingBehind); each must reach the receiver as firing, then resolved, and
 * JobDown must escalate to critical after monitoring.escalateAfterSeconds. Short scrape/evaluation
 * and grouping intervals keep it to minutes; the rules' own windows are the production ones.
 */
const ESCALATE_AFTER_S = 20;

interface Received {
  at: number;
  body: WebhookNotification;
}

describe('alerts through Prometheus and Alertmanager', () => {
  let sb: CliSandbox;
  let receiver: http.Server;
  const received: Received[] = [];

  /** Notifications (one per alert) received since `since`, for one alert name. */
  const notes = (name: string, since: number) =>
    received.filter((r) => r.at >= since).flatMap((r) => r.body.alerts.filter((a) => a.labels.alertname === name).map((a) => ({ ...a, receiver: r.body.receiver, at: r.at })));

  async function waitForNote(name: string, since: number, match: (a: ReturnType<typeof notes>[number]) => boolean, timeoutS: number) {
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      const hit = notes(name, since).find(match);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(`no ${name} notification as expected within ${timeoutS}s; received since: ${JSON.stringify(notes(name, since).map((a) => [a.status, a.labels.severity]))}`);
      }
      await sleep(500);
    }
  }

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookNotification });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    sb = await cliSandbox(
      [
        'monitoring:',
        `  webhookUrl: ${url}`,
        '  scrapeIntervalSeconds: 1',
        '  evaluationIntervalSeconds: 1',
        `  escalateAfterSeconds: ${ESCALATE_AFTER_S}`,
        '  groupWaitSeconds: 1',
        '  groupIntervalSeconds: 2',
      ].join('\n'),
      // One core: a capacity the overload below exceeds at a rate the producer reaches.
      { sparkCores: 1 },
    );
    const t0 = Date.now();
    await sb.run(['up']);
    await sb.run(['submit']);
    // The job is down between up and submit: wait until Prometheus has no JobDown (pending or
    // firing) and every JobDown notification sent meanwhile has been resolved.
    const prometheus = `http://127.0.0.1:${sb.ports.prometheus}`;
    const deadline = Date.now() + 180_000;
    for (let quiet = 0; quiet < 3; ) {
      if (Date.now() > deadline) throw new Error('JobDown did not clear after submit');
      const active = ((await (await fetch(`${prometheus}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string> }> } }).data.alerts;
      const unresolved = ['warning', 'critical'].filter((sev) => {
        const mine = notes('JobDown', t0).filter((a) => a.labels.severity === sev);
        return mine.length > 0 && mine.at(-1)!.status === 'firing';
      });
      quiet = active.some((a) => a.labels.alertname === 'JobDown') || unresolved.length > 0 ? 0 : quiet + 1;
      await sleep(1000);
    }
    // A just-started one-core job can take minutes for its first batch on a busy machine.
    await waitForValue('speedlayer_job_batches_total', (v) => v >= 1, 600);
  }, 1_800_000);

  /** Waits until Prometheus has a value of `expr` that satisfies `ok`. */
  async function waitForValue(expr: string, ok: (v: number) => boolean, timeoutS: number): Promise<number> {
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      const url = `http://127.0.0.1:${sb.ports.prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`;
      const result = ((await (await fetch(url)).json()) as { data: { result: Array<{ value: [number, string] }> } }).data.result;
      const v = result[0] ? Number(result[0].value[1]) : undefined;
      if (v !== undefined && ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`${expr} = ${v} after ${timeoutS}s`);
      await sleep(1000);
    }
  }

  afterAll(async () => {
    if (sb) await sb.run(['down', '--purge', '--yes'], { reject: false });
    receiver?.close();
  });

  const alertsJson = async () => JSON.parse((await sb.run(['--json', 'alerts'])).stdout) as { alerts: Array<{ name: string; severity: string; state: string; since: string; summary: string; runbook: string }> };

  it('a burst of malformed records fires DeadLetterRateHigh (data quality), which resolves after the burst', async () => {
    const t0 = Date.now();
    const producer = kafkaClient([`127.0.0.1:${sb.ports.kafka}`], 'alerts-test').producer();
    await producer.connect();
    try {
      // 15 s of 200 broken records every 500 ms: nothing but dead letters for the job.
      for (let i = 0; i < 30; i++) {
        await producer.send({ topic: pipeline.kafka.topics.events.name, messages: Array.from({ length: 200 }, (_, j) => ({ value: `{"broken": ${i}-${j}` })) });
        await sleep(500);
      }
    } finally {
      await producer.disconnect();
    }
    const firing = await waitForNote('DeadLetterRateHigh', t0, (a) => a.status === 'firing' && a.labels.severity === 'warning', 300);
    expect(firing.receiver).toBe('warning');
    expect(firing.annotations.runbook).toBe('docs/runbook.md#deadletterratehigh');
    const active = (await alertsJson()).alerts.find((a) => a.name === 'DeadLetterRateHigh' && a.state === 'firing');
    expect(active?.summary).toMatch(/dead-lettered \(data quality\)/);
    // The 6,000 broken records, by reason.
    const notJson: DeadLetterReason = 'invalid_json';
    await waitForValue(`speedlayer_dead_letters_stored{reason="${notJson}"}`, (v) => v >= 6000, 120);
    const resolved = await waitForNote('DeadLetterRateHigh', firing.at, (a) => a.status === 'resolved' && a.labels.severity === 'warning', 300);
    expect(resolved.receiver).toBe('warning');
  });

  it('the job killed fires JobDown saying so, escalates to critical after the configured time, and resolves after submit', async () => {
    const pidFile = path.join(sb.home, 'local', 'spark', 'spark-job.pid.json');
    const { pid } = JSON.parse(await readFile(pidFile, 'utf8')) as { pid: number };
    const killedAt = Date.now();
    process.kill(-pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(100);

    const warning = await waitForNote('JobDown', killedAt, (a) => a.status === 'firing' && a.labels.severity === 'warning', 90);
    expect(warning.receiver).toBe('warning');
    expect(warning.annotations.description).toBe('the job process is not running and its log has no failure line: it was killed or stopped from outside');
    const critical = await waitForNote('JobDown', killedAt, (a) => a.status === 'firing' && a.labels.severity === 'critical', 120);
    expect(critical.receiver).toBe('critical');
    // Escalation counts from when the warning fired; Prometheus evaluates every second here, so
    // either moment may fall up to one evaluation late.
    const escalatedAfterS = (Date.parse(critical.startsAt) - Date.parse(warning.startsAt)) / 1000;
    expect(escalatedAfterS).toBeGreaterThanOrEqual(ESCALATE_AFTER_S - 1);
    expect(escalatedAfterS).toBeLessThan(ESCALATE_AFTER_S + 10);

    // While critical fires, Alertmanager holds back the warning: `alerts` shows the critical one.
    const firing = (await alertsJson()).alerts.filter((a) => a.name === 'JobDown' && a.state === 'firing');
    expect(firing.map((a) => a.severity)).toEqual(['critical']);
    expect(firing[0]!.runbook).toBe('docs/runbook.md#jobdown');

    const restartedAt = Date.now();
    await sb.run(['submit']);
    await waitForNote('JobDown', restartedAt, (a) => a.status === 'resolved' && a.labels.severity === 'critical', 300);
    await waitForNote('JobDown', restartedAt, (a) => a.status === 'resolved' && a.labels.severity === 'warning', 300);
    const after = (await alertsJson()).alerts.filter((a) => a.name === 'JobDown');
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((a) => a.state === 'resolved')).toBe(true);
  });

  it("the job's JVM killed under its supervisor is restarted, and JobRestarting fires saying how it ended", async () => {
    const stateFile = path.join(sb.home, 'local', 'spark', 'spark-job.supervisor.json');
    const before = JSON.parse(await readFile(stateFile, 'utf8')) as { jobPid: number; runs: number };
    const killedAt = Date.now();
    process.kill(before.jobPid, 'SIGKILL'); // the JVM only: its supervisor stays
    const firing = await waitForNote('JobRestarting', killedAt, (a) => a.status === 'firing' && a.labels.severity === 'warning', 120);
    expect(firing.receiver).toBe('warning');
    const jobLog = await readFile(path.join(sb.home, 'local', 'spark', 'spark-job.log'), 'utf8');
    expect(firing.annotations.description, jobLog.slice(-6000)).toMatch(/^killed by SIGKILL after \d+ s$/);
    const after = JSON.parse(await readFile(stateFile, 'utf8')) as { jobPid: number; runs: number; state: string };
    expect(after.runs).toBe(before.runs + 1);
    expect(after.jobPid).not.toBe(before.jobPid);
    expect(isAlive(after.jobPid)).toBe(true);
  });

  it('load above capacity fires JobFallingBehind, which resolves once the load stops', async () => {
    const t0 = Date.now();
    // Two load tests of 25,000 events/s each against a one-core job (which keeps up with one of
    // 20,000 on a quiet machine). Production stops once the alert fired (the backlog then only
    // shrinks): the test needs the overload, not the drain of a minute of it.
    const loadtests = [3, 4].map((seed) =>
      execa(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'speedlayer.js'), '--config', sb.configFile, '--target', 'local', '--json', 'loadtest', '--rate', '25000', '--duration', '120', '--warmup', '0', '--malformed-fraction', '0', '--seed', String(seed)], {
        reject: false,
        stdin: 'ignore',
        env: { FORCE_COLOR: '0' },
      }),
    );
    const stopLoad = async () => {
      for (const l of loadtests) l.kill('SIGKILL');
      await Promise.all(loadtests);
    };
    try {
      let loadOutput = '';
      loadtests[0]!.stderr!.on('data', (c: Buffer) => (loadOutput = (loadOutput + c.toString()).slice(-2000)));
      const firing = await waitForNote('JobFallingBehind', t0, (a) => a.status === 'firing' && a.labels.severity === 'warning', 400).catch(async (err: Error) => {
        // What the rule saw, for the failure message.
        const seen = await Promise.all(
          ['min(min_over_time(speedlayer_job_last_batch_duration_seconds[30s]))', 'sum(delta(speedlayer_kafka_job_lag_records{topic="speedlayer.events"}[30s]))', 'sum(speedlayer_job_batches_total)'].map(
            async (e) => `${e} = ${await waitForValue(e, () => true, 5).catch((x: Error) => x.message)}`,
          ),
        );
        throw new Error(`${err.message}\n${seen.join('\n')}\nload test: ${loadOutput}`);
      });
      expect(firing.receiver).toBe('warning');
      expect(firing.annotations.description).toMatch(/^Lag \d+ records; last batch \d+\.\d s\.$/);
      expect(Number(/^Lag (\d+)/.exec(firing.annotations.description!)![1])).toBeGreaterThan(0);
      await stopLoad();
      await waitForNote('JobFallingBehind', firing.at, (a) => a.status === 'resolved' && a.labels.severity === 'warning', 400);
    } finally {
      await stopLoad();
    }
  });

  it('status --watch draws its live view in a real terminal (tmux) and exits cleanly on Ctrl-C', async () => {
    const session = `speedlayer-watch-${process.pid}`;
    const cli = [process.execPath, path.join(PROJECT_ROOT, 'bin', 'speedlayer.js'), '--config', sb.configFile, '--target', 'local', 'status', '--watch'];
    const shellQuote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    // The pane keeps running a shell after the CLI exits, to show its exit code.
    await execa('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '30', `${cli.map(shellQuote).join(' ')}; echo "exit=$?"; sleep 60`], {
      env: { ...process.env, SPEEDLAYER_CACHE: process.env.SPEEDLAYER_CACHE ?? '', FORCE_COLOR: '0' },
    });
    try {
      const screen = async () => (await execa('tmux', ['capture-pane', '-p', '-t', session])).stdout;
      let text = '';
      for (let i = 0; i < 40 && !/throughput .*rows\/s/.test(text); i++) {
        await sleep(500);
        text = await screen();
      }
      expect(text).toMatch(/speedlayer status --watch\s+local/);
      expect(text).toMatch(/throughput\s+[\d,]+ rows\/s\s+[▁▂▃▄▅▆▇█]+/);
      expect(text).toMatch(/e2e p95\s+(\d+\.\d\d s|n\/a)/);
      expect(text).toMatch(/kafka lag\s+[\d,]+ records/);
      expect(text).toMatch(/batch\s+\d+\.\d\d s\s+trigger 2 s/);
      expect(text).toMatch(/alerts\s+/);
      // Redrawn, not scrolled: the title appears once on the screen.
      await sleep(4500);
      expect((await screen()).match(/speedlayer status --watch/g)).toHaveLength(1);
      await execa('tmux', ['send-keys', '-t', session, 'C-c']);
      for (let i = 0; i < 20 && !/exit=\d+/.test(text); i++) {
        await sleep(500);
        text = await screen();
      }
      expect(text).toMatch(/exit=0/);
    } finally {
      await execa('tmux', ['kill-session', '-t', session], { reject: false });
    }
  });

  it('status --watch writes plain lines when stdout is not a terminal', async () => {
    const child = execa(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'speedlayer.js'), '--config', sb.configFile, '--target', 'local', 'status', '--watch'], {
      reject: false,
      timeout: 60_000,
      stdin: 'ignore',
      env: { FORCE_COLOR: '0' },
    });
    // Two refreshes (the CLI itself takes seconds to start on a busy machine), then Ctrl-C.
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    for (let i = 0; i < 120 && out.split('\n').length < 3; i++) await sleep(500);
    child.kill('SIGINT');
    const { stdout, exitCode } = await child;
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/^\d\d:\d\d:\d\d throughput=[\d,]+\/s e2e_p95=\S+ lag=[\d,]+ batch=\S+\/2s dead_letters=\S+ alerts=\S+$/);
    expect(stdout).not.toContain('\x1b[');
    expect(exitCode).toBe(0);
  });

  it('status --json carries the live figures and the alerts', async () => {
    const s = JSON.parse((await sb.run(['--json', 'status'])).stdout) as { figures: Record<string, number | null>; alerts: unknown[] };
    expect(s.figures.trigger_s).toBe(2);
    expect(typeof s.figures.input_rows_per_second).toBe('number');
    expect(typeof s.figures.kafka_lag_records).toBe('number');
    expect(Array.isArray(s.alerts)).toBe(true);
    expect(s.alerts.length).toBeGreaterThan(0);
  });
  it("logs prints a component's log and follows it; an unknown component gets the list", async () => {
    const { stdout } = await sb.run(['logs', 'spark-job', '--lines', '500']);
    expect(stdout).toMatch(/^SPEEDLAYER_PROGRESS \{"batchId":\d+/m);
    const unknown = await sb.run(['logs', 'zookeeper'], { reject: false });
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain("no log for 'zookeeper'");
    expect(unknown.stderr).toContain('kafka, clickhouse, spark-job, exporter, alertmanager, prometheus');
    // --follow from the end: new batches of the running job appear, Ctrl-C ends it.
    const child = execa(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'speedlayer.js'), '--config', sb.configFile, '--target', 'local', 'logs', 'spark-job', '--lines', '0', '--follow'], {
      reject: false,
      stdin: 'ignore',
      env: { FORCE_COLOR: '0' },
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    // An idle job runs no batches: a few records make the next one (seconds on a quiet machine,
    // minutes when a backlog drains on a busy one).
    await sleep(2000);
    const producer = kafkaClient([`127.0.0.1:${sb.ports.kafka}`], 'alerts-test').producer();
    await producer.connect();
    try {
      await producer.send({ topic: pipeline.kafka.topics.events.name, messages: Array.from({ length: 10 }, (_, j) => ({ value: `{"broken": ${j}` })) });
    } finally {
      await producer.disconnect();
    }
    for (let i = 0; i < 600 && !/SPEEDLAYER_PROGRESS/.test(out); i++) await sleep(500);
    child.kill('SIGINT');
    const r = await child;
    expect(out).toMatch(/SPEEDLAYER_PROGRESS \{"batchId":\d+/);
    expect(r.exitCode).toBe(0);
  });
});
