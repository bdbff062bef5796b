import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out = capture();
  const err = capture();
  const home = mkdtempSync(path.join(os.tmpdir(), 'speedlayer-cli-'));
  const code = await main(['node', 'speedlayer', ...args], { stdout: out.stream, stderr: err.stream, env: { SPEEDLAYER_HOME: home, ...env }, stdinIsTty: false });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('--log-format json', () => {
  it('writes progress and the error on stderr as JSON lines carrying one run id', async () => {
    const r = await run(['--log-format', 'json', '--target', 'local', 'submit']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(new Set(lines.map((line) => line.run_id)).size).toBe(1);
    expect(lines[0]!.run_id).toMatch(/^[0-9a-f-]{36}$/);
    for (const line of lines) expect(Number.isNaN(Date.parse(line.time as string))).toBe(false);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', event: 'message', message: expect.stringMatching(/^target: local/) }));
    expect(lines.at(-1)).toMatchObject({ level: 'error', event: 'error', message: 'the local stack is not up', fix: "Run 'speedlayer up' first." });
  });

  it('text stays the default; an unknown format is a usage error', async () => {
    expect((await run(['--target', 'local', 'submit'])).stderr).toContain('error: the local stack is not up');
    const r = await run(['--log-format', 'yaml', 'status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Allowed choices are text, json");
  });
});

describe('CLI usage errors exit with code 2 and say what is wrong', () => {
  it('unknown flag', async () => {
    const r = await run(['status', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
  });

  it('unknown command', async () => {
    const r = await run(['launch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'launch'");
  });

  it.each([
    [['--rate', '-5'], "--rate must be a positive number of events per second, got '-5'"],
    [['--rate', 'fast'], "--rate must be a positive number of events per second, got 'fast'"],
    [['--duration', '0'], '--duration must be a positive number of seconds'],
    [['--malformed-fraction', '2'], '--malformed-fraction must be a fraction between 0 and 1'],
    [['--warmup-max', '-1'], "--warmup-max must be a number of seconds, got '-1'"],
    [['--event-time-scale', '10000', '--duration', '60'], 'beyond the event-time horizon of 168 h (deadLetter.maxEventAgeSeconds)'],
  ])('loadtest %j', async (flags, message) => {
    const r = await run(['--target', 'local', 'loadtest', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it.each([
    [['--html', '/no-such-folder-speedlayer/report.html'], "--html '/no-such-folder-speedlayer/report.html': the folder /no-such-folder-speedlayer does not exist", 'mkdir -p /no-such-folder-speedlayer'],
    [['--html', os.tmpdir()], `--html '${os.tmpdir()}' is a folder, not a file`, `--html ${path.join(os.tmpdir(), 'loadtest-report.html')}`],
  ])('loadtest %j: refused before any load, with its fix', async (flags, message, fix) => {
    const r = await run(['--target', 'local', 'loadtest', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain(fix);
  });

  it('trace with an id that is not a UUID: the fix shows one', async () => {
    const r = await run(['--target', 'local', 'trace', 'order-17']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'order-17' is not an event_id: event.schema.json requires a UUID");
    expect(r.stderr).toContain('speedlayer trace 0b6f3c1e-');
  });

  it('invalid config file: every problem with its path', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'speedlayer-cfg-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'target: mars\nlocal:\n  ports:\n    kafka: -1\nloadtest:\n  rate: "lots"\n');
    const r = await run(['--config', file, 'status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has 3 problems');
    expect(r.stderr).toContain('- target:');
    expect(r.stderr).toContain('- local.ports.kafka:');
    expect(r.stderr).toContain('- loadtest.rate:');
  });

  it('missing config file', async () => {
    const r = await run(['--config', '/nonexistent/speedlayer.yaml', 'status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read config file');
  });

  it('unknown target from the environment', async () => {
    const r = await run(['status'], { SPEEDLAYER_TARGET: 'mars' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown target 'mars'");
  });

  it('down --purge without a terminal needs --yes', async () => {
    const r = await run(['--target', 'local', 'down', '--purge']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Add --yes');
  });
});

describe('CLI on an empty home', () => {
  it('status --json says no stack is up and prints valid JSON', async () => {
    const r = await run(['--target', 'local', '--json', 'status']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ target: 'local', components: [], job: null });
    expect(r.stderr).toContain('target: local (--target flag)');
  });

  it('submit before up fails with the fix', async () => {
    const r = await run(['--target', 'local', 'submit']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Run 'speedlayer up' first.");
  });
});
