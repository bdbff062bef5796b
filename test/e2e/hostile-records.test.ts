import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { CompressionTypes, type Message, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, type CliSandbox } from '../support/cli-sandbox.ts';
import { kafkaClient } from '../../src/clients/kafka.ts';
import { pipeline } from '../../src/contract/index.ts';
import type { EcommerceEvent } from '../../src/loadgen/events.ts';

/**
 * Records that must not harm the stream, through the real local stack (Kafka -> job -> ClickHouse).
 */
const DAY = 24 * 60 * 60_000;
const topic = pipeline.kafka.topics.events.name;

function pageView(user: string, atMs: number): EcommerceEvent {
  return { schema_version: 1, event_id: randomUUID(), event_type: 'PAGE_VIEW', event_time: new Date(atMs).toISOString(), user_id: user, device: 'mobile', page: '/' };
}

/** The pids of the stack's processes: each pid file's process and all its descendants. */
function stackPids(home: string): number[] {
  const roots = filesUnder(path.join(home, 'local'))
    .filter((f) => f.endsWith('.pid.json'))
    .map((f) => (JSON.parse(readFileSync(f, 'utf8')) as { pid: number }).pid);
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const all: number[] = [];
  const visit = (pid: number) => {
    all.push(pid);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  roots.forEach(visit);
  return all;
}

/** TCP sockets in LISTEN state owned by `pids` (from /proc/<pid>/fd and /proc/net/tcp, tcp6). */
function listeningSockets(pids: number[]): Array<{ pid: number; address: string; port: number; loopback: boolean }> {
  const listening = new Map<string, { address: string; port: number }>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A') continue; // LISTEN
      const [hex, port] = f[1]!.split(':');
      listening.set(f[9]!, { address: hex!, port: parseInt(port!, 16) });
    }
  }
  // 127.x.x.x (little-endian hex ..7F), ::1, or ::ffff:127.x.x.x.
  const isLoopback = (hex: string) =>
    hex.length === 8 ? hex.endsWith('7F') : hex === '00000000000000000000000001000000' || (hex.startsWith('0000000000000000FFFF0000') && hex.endsWith('7F'));
  const out: Array<{ pid: number; address: string; port: number; loopback: boolean }> = [];
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link = '';
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      const socket = inode && listening.get(inode);
      if (socket) out.push({ pid, ...socket, loopback: isLoopback(socket.address) });
    }
  }
  return out;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('hostile records on the local stack', () => {
  let sb: CliSandbox;
  let ch: ClickHouseClient;
  let producer: Producer;

  beforeAll(async () => {
    sb = await cliSandbox();
    await sb.run(['up']);
    await sb.run(['submit']);
    ch = await sb.clickhouse();
    producer = kafkaClient([`127.0.0.1:${sb.ports.kafka}`], 'hostile-records').producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await ch?.close();
    if (sb) await sb.run(['down', '--purge', '--yes'], { reject: false });
  });

  const send = (messages: Message[]) => producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
  const rows = async <T = Record<string, unknown>>(query: string) =>
    (await (await ch.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json()) as T[];
  const count = async (query: string) => Number((await rows<{ n: number }>(query))[0]!.n);
  async function until(what: string, ready: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ready())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(500);
    }
  }

  it('an event stamped two days ahead, between correct events, is a future_event_time dead letter and every correct event stays on time', async () => {
    const now = Date.now();
    const before = [pageView('clock-ok', now - 20_000), pageView('clock-ok', now - 19_000)];
    const future = pageView('clock-wrong', now + 2 * DAY);
    await send([...before, future].map((e) => ({ key: e.user_id, value: JSON.stringify(e) })));
    await until('the future event in dead_letters', async () => (await count(`SELECT count() AS n FROM dead_letters WHERE reason = 'future_event_time'`)) === 1);
    // Sent after the batch that read the future event: late if it had moved the watermark (to +2 days - 2 min).
    const after = [pageView('clock-ok', now - 10_000), pageView('clock-ok', now - 5_000)];
    await send(after.map((e) => ({ key: e.user_id, value: JSON.stringify(e) })));
    await until('the correct events in events', async () => (await count(`SELECT count() AS n FROM events WHERE user_id = 'clock-ok'`)) + (await count('SELECT count() AS n FROM late_events')) === 4);

    const onTime = await rows<{ id: string }>(`SELECT toString(event_id) AS id FROM events WHERE user_id = 'clock-ok'`);
    expect(onTime.map((r) => r.id).sort()).toEqual([...before, ...after].map((e) => e.event_id).sort());
    expect(await count('SELECT count() AS n FROM late_events')).toBe(0);
    expect(await count(`SELECT count() AS n FROM events WHERE user_id = 'clock-wrong'`)).toBe(0);
    const [dead] = await rows<{ reason: string; error: string; raw_payload: string }>(`SELECT reason, error, raw_payload FROM dead_letters WHERE reason = 'future_event_time'`);
    expect(dead!.raw_payload).toBe(JSON.stringify(future));
    expect(dead!.error).toContain(`$.event_time: ${future.event_time} is `);
    // No batch ever had a watermark ahead of the wall clock.
    const maxWatermark = await rows<{ w: number }>('SELECT toUnixTimestamp64Milli(max(watermark)) AS w FROM pipeline_progress');
    expect(maxWatermark[0]!.w).toBeLessThan(Date.now());
  });
  it('a corpus of bad records: each lands in dead_letters with its reason, the job never stops, valid events after them are stored', async () => {
    const valid = (user: string) => pageView(user, Date.now() - 1_000);
    const json = (o: unknown) => JSON.stringify(o);
    const base = valid('corpus');
    const corpus: Array<{ name: string; message: Message; reason: string }> = [
      { name: 'not JSON', message: { key: 'c', value: 'hello, world' }, reason: 'invalid_json' },
      { name: 'truncated', message: { key: 'c', value: json(base).slice(0, 40) }, reason: 'invalid_json' },
      { name: 'just over maxEventBytes (1 MB)', message: { key: 'c', value: Buffer.alloc(1_000_000, 'x') }, reason: 'too_large' },
      { name: 'deep nesting (5,000 levels)', message: { key: 'c', value: '['.repeat(5000) + ']'.repeat(5000) }, reason: 'invalid_json' },
      { name: 'huge array (300 items)', message: { key: 'c', value: json({ ...base, event_type: 'PURCHASE', order_id: 'o', revenue: 1, currency: 'EUR', items: Array.from({ length: 300 }, () => ({ product_id: 'p', quantity: 1, price: 1 })) }) }, reason: 'schema' },
      { name: 'wrong types', message: { key: 'c', value: json({ ...base, event_type: 'PRODUCT_VIEW', product_id: 7, category: 'c', price: '12' }) }, reason: 'schema' },
      { name: 'unknown event type', message: { key: 'c', value: json({ ...base, event_type: 'TELEPORT' }) }, reason: 'schema' },
      { name: 'NaN', message: { key: 'c', value: json({ ...base, event_type: 'PRODUCT_VIEW', product_id: 'p', category: 'c', price: 1 }).replace('"price":1', '"price":NaN') }, reason: 'invalid_json' },
      { name: 'Infinity', message: { key: 'c', value: json({ ...base, event_type: 'PRODUCT_VIEW', product_id: 'p', category: 'c', price: 1 }).replace('"price":1', '"price":Infinity') }, reason: 'invalid_json' },
      { name: 'number overflowing a double', message: { key: 'c', value: json({ ...base, event_type: 'PRODUCT_VIEW', product_id: 'p', category: 'c', price: 1 }).replace('"price":1', '"price":1e400') }, reason: 'schema' },
      { name: 'integer out of range', message: { key: 'c', value: json({ ...base, event_type: 'ADD_TO_CART', product_id: 'p', category: 'c', price: 1, quantity: 1e30 }) }, reason: 'schema' },
      { name: 'event_time beyond DateTime64', message: { key: 'c', value: json({ ...base, event_time: '2300-01-01T00:00:00.000Z' }) }, reason: 'schema' },
      { name: 'invalid UTF-8', message: { key: 'c', value: Buffer.concat([Buffer.from('{"page":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]) }, reason: 'not_utf8' },
      { name: 'UTF-8 BOM before a valid event', message: { key: 'c', value: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json(valid('corpus-bom')))]) }, reason: 'invalid_json' },
      { name: 'empty value', message: { key: 'c', value: '' }, reason: 'invalid_json' },
      { name: 'null value (headers only)', message: { key: 'c', value: null, headers: { origin: 'corpus' } }, reason: 'invalid_json' },
      { name: 'duplicated key', message: { key: 'c', value: json(base).replace('"event_type":"PAGE_VIEW"', '"event_type":"PAGE_VIEW","event_type":"LOGOUT"') }, reason: 'invalid_json' },
    ];
    const sent: Array<{ name: string; reason: string; partition: number; offset: number }> = [];
    for (const c of corpus) {
      const [meta] = await send([c.message]);
      sent.push({ name: c.name, reason: c.reason, partition: meta!.partition, offset: Number(meta!.baseOffset) });
    }
    // A null key with a valid value is a valid event (the key only picks the partition).
    const nullKey = valid('corpus-null-key');
    const after = [valid('corpus-after'), valid('corpus-after')];
    await send([{ key: null, value: json(nullKey) }, ...after.map((e) => ({ key: e.user_id, value: json(e) }))]);

    const where = sent.map((x) => `(${x.partition}, ${x.offset})`).join(', ');
    await until('the corpus in dead_letters', async () => (await count(`SELECT count() AS n FROM dead_letters WHERE (kafka_partition, kafka_offset) IN (${where})`)) === corpus.length);
    await until('the valid events after the corpus', async () => (await count(`SELECT count() AS n FROM events WHERE user_id IN ('corpus-after', 'corpus-null-key')`)) === 3);
    const dead = await rows<{ p: number; o: number; reason: string; error: string; payload_bytes: number; raw: number }>(
      `SELECT kafka_partition AS p, kafka_offset AS o, reason, error, payload_bytes, length(raw_payload) AS raw FROM dead_letters WHERE (kafka_partition, kafka_offset) IN (${where})`,
    );
    const byOffset = new Map(dead.map((d) => [`${d.p}:${d.o}`, d]));
    const outcome = sent.map((x) => ({ name: x.name, reason: byOffset.get(`${x.partition}:${x.offset}`)?.reason }));
    expect(outcome).toEqual(sent.map((x) => ({ name: x.name, reason: x.reason })));
    const large = byOffset.get(`${sent[2]!.partition}:${sent[2]!.offset}`)!;
    expect([large.payload_bytes, large.raw]).toEqual([1_000_000, 65_536]);
    // One run of the job from start to end: nothing made it fail.
    const supervisor = JSON.parse(await readFile(path.join(sb.home, 'local', 'spark', 'spark-job.supervisor.json'), 'utf8'));
    expect(supervisor).toMatchObject({ state: 'running', runs: 1 });
  });

  it('a 10 MB record is refused by Kafka (max.message.bytes, 1 MB) with a clear error; it never reaches the job', async () => {
    await expect(send([{ key: 'c', value: Buffer.alloc(10 * 1024 * 1024, 'x') }])).rejects.toThrow(/larger than the max message size|MESSAGE_TOO_LARGE|too large/i);
  });
  it('exposes nothing: every listening socket of the stack is on the loopback interface', async () => {
    const sockets = listeningSockets(stackPids(sb.home));
    // Kafka (broker + controller), ClickHouse, the job's UI and driver ports at least.
    expect(sockets.length).toBeGreaterThanOrEqual(4);
    expect(sockets.filter((x) => !x.loopback), JSON.stringify(sockets)).toEqual([]);
    for (const port of [sb.ports.kafka, sb.ports.clickhouse, sb.ports.sparkUi]) expect(sockets.map((x) => x.port)).toContain(port);
  });

  it('leaks no secret: the ClickHouse passwords (writer, dashboard) are in no process argument, log, state file but stack.json (0600), nor status output', async () => {
    const stackFile = path.join(sb.home, 'local', 'stack.json');
    const { clickhouse } = JSON.parse(await readFile(stackFile, 'utf8')) as { clickhouse: { password: string; dashboardPassword: string } };
    const passwords = [clickhouse.password, clickhouse.dashboardPassword];
    for (const password of passwords) expect(password.length).toBeGreaterThanOrEqual(16);
    expect(statSync(stackFile).mode & 0o777).toBe(0o600);
    const leaks: string[] = [];
    const hasSecret = (text: string | Buffer) => passwords.some((password) => text.includes(password));
    for (const pid of stackPids(sb.home)) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (hasSecret(argv)) leaks.push(`argv of pid ${pid}`);
    }
    for (const file of filesUnder(sb.home)) {
      if (file === stackFile) continue;
      // A file may go while this reads (the job's checkpoint writes temp files and renames them).
      const content = (() => {
        try {
          return readFileSync(file);
        } catch {
          return Buffer.alloc(0);
        }
      })();
      if (hasSecret(content)) leaks.push(file);
    }
    for (const args of [['status'], ['--json', 'status'], ['--verbose', 'status']]) {
      const r = await sb.run(args, { reject: false });
      if (hasSecret(r.stdout + r.stderr)) leaks.push(`speedlayer ${args.join(' ')}`);
    }
    expect(leaks).toEqual([]);
  });
  it('submit --reset-checkpoint says what it replays and loses, refuses without a terminal, and with --yes moves the checkpoint aside and starts over', async () => {
    const refused = await sb.run(['submit', '--reset-checkpoint'], { reject: false });
    expect(refused.exitCode).toBe(2);
    expect(refused.stdout).toMatch(/checkpoint \S+ ends at batch \d+\./);
    expect(refused.stdout).toMatch(/records of speedlayer\.events will be read again/);
    expect(refused.stderr).toContain('Add --yes to confirm.');
    const sparkDir = path.join(sb.home, 'local', 'spark');
    expect(readdirSync(sparkDir).filter((f) => f.includes('discarded'))).toEqual([]);

    const done = await sb.run(['submit', '--reset-checkpoint', '--yes']);
    expect(done.stdout + done.stderr).toMatch(/checkpoint moved to \S+checkpoints\.discarded-/);
    expect(readdirSync(sparkDir).filter((f) => f.startsWith('checkpoints.discarded-'))).toHaveLength(1);
    // A new query over the replayed topic: its first batches read from offset 0.
    const supervisor = JSON.parse(await readFile(path.join(sparkDir, 'spark-job.supervisor.json'), 'utf8'));
    expect(supervisor).toMatchObject({ state: 'running', runs: 1 });
    await until('a first batch of the new query', async () => existsSync(path.join(sparkDir, 'checkpoints', 'commits', '0')));
  });
});
