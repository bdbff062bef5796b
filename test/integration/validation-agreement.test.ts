import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_REASONS, eventSchema, pipeline } from '../../src/contract/index.ts';
import { EventGenerator, malformedRecord, type EcommerceEvent, type MalformedKind } from '../../src/loadgen/events.ts';
import { classifyRecord } from '../../src/model/record-rules.ts';

/**
 * TypeScript and Scala agree on every generated record (issue 10): the model's verdict
 * (classifyRecord: the rules of docs/processing.md) and the job's (EventValidator.classify, run by
 * the test-only main dev.speedlayer.agreement.ClassifyLines in one JVM) on the same bytes and Kafka
 * timestamp: accepted, or the same dead-letter reason. Records: the generator's events of every
 * type and its broken kinds, and mutations walking the edges of each rule.
 */

const SEED = Number(process.env.AGREEMENT_SEED ?? 20261128);
const RECORDS = 4000;
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0, 0);
const AHEAD_MS = pipeline.deadLetter.maxEventTimeAheadSeconds * 1000;
const AGE_MS = pipeline.deadLetter.maxEventAgeSeconds * 1000;
const MAX_BYTES = pipeline.deadLetter.maxEventBytes;
const PROPERTIES = Object.keys((eventSchema as { properties: Record<string, unknown> }).properties);
const EVENT_TYPES = (eventSchema as { properties: { event_type: { enum: string[] } } }).properties.event_type.enum;

const SPARK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'spark');
const TEST_CLASSES = path.join(SPARK, 'target', 'test-classes');
const MAIN = 'dev.speedlayer.agreement.ClassifyLines';

interface Case {
  kind: string;
  value: Buffer | null;
  kafkaMs: number;
}

// Events of every type, from the generator (a fixed pool: the arbitraries pick from it).
const pool: EcommerceEvent[] = (() => {
  const gen = new EventGenerator({ seed: 11, users: 40, products: 20, now: () => NOW });
  return Array.from({ length: 2000 }, () => ({ ...gen.next(), produced_at: NOW }));
})();

const json = (o: unknown) => Buffer.from(JSON.stringify(o));
const timeOf = (e: EcommerceEvent) => Date.parse(e.event_time);
const event = fc.integer({ min: 0, max: pool.length - 1 }).map((i) => structuredClone(pool[i]!) as EcommerceEvent & Record<string, unknown>);
/** A Kafka timestamp well inside the bounds of the event's time. */
const kafkaNear = (e: EcommerceEvent, d: number) => timeOf(e) + d;
const near = fc.integer({ min: -AHEAD_MS + 1, max: 60_000 });
/** A valid event's JSON with `spelled` (raw JSON text) as the value of `field`. */
const withRaw = (e: Record<string, unknown>, field: string, spelled: string) => Buffer.from(JSON.stringify({ ...e, [field]: '\u0000RAW\u0000' }).replace('"\\u0000RAW\\u0000"', spelled));
const insertAt = (bytes: Buffer, at: number, extra: Buffer) => Buffer.concat([bytes.subarray(0, at), extra, bytes.subarray(at)]);
const c = (kind: string, value: Buffer | null, kafkaMs: number): Case => ({ kind, value, kafkaMs });

const NUMBERS = ['0', '1', '-1', '-0', '0.0', '1.0', '1.5', '1e2', '1E3', '1e-2', '1000', '1001', '999.9999', '1e400', '-1e400', '1e-400', '9007199254740993', '9223372036854775807', '9223372036854775808', '-9223372036854775809', '1e20', '10413791999999', '10413792000000', '10413792000000.5', '100000000000000000000000000000'];
const NOT_NUMBERS = ['NaN', '-NaN', 'Infinity', '-Infinity', '+1', '.5', '01', '1.', '0x10', '1e', '--1', 'infinity', 'nan', 'null', '"1"', 'true'];
const BAD_UTF8 = [[0xff], [0xfe], [0x80], [0xc0, 0x80], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc1, 0xbf], [0xe0, 0x80, 0xaf]].map((b) => Buffer.from(b));
// JSON text inside a string value: escapes (lone surrogates too), raw control characters.
const RAW_IN_STRING = ['\\ud800', '\\udc00', '\\ud83d\\ude00', '\\u0065', '\\u0045', '\\/', '\\u0000', '\\x41', "\\'", '\\a', '\u0001', '\t', '\n', '\u007f', '\u0085'];
const GOOD_UTF8 = ['é', '€', '😀', '\u0000', '\u2028', '\uFEFF', '\uFFFF', '𐍈'];
const EVENT_TIMES = [
  '1899-12-31T23:59:59.999Z', '1900-01-01T00:00:00.000Z', '2299-12-31T23:59:59.999Z', '2300-01-01T00:00:00.000Z', '0000-01-01T00:00:00.000Z',
  '9999-12-31T23:59:59.999Z', '1970-01-01T00:00:00.000Z', '2024-02-29T00:00:00.000Z', '2026-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z',
  '2026-11-26T23:59:60.000Z', '2026-12-31T23:59:60.000Z', '2026-13-01T00:00:00.000Z', '2026-00-01T00:00:00.000Z', '2026-11-26T24:00:00.000Z',
  '2026-11-26T12:60:00.000Z', '2026-11-26T12:00:00.000z', '2026-11-26t12:00:00.000Z', '2026-11-26T12:00:00.000+00:00', '2026-11-26T12:00:00Z',
  '2026-11-26T12:00:00.0000Z', '2026-11-26 12:00:00.000Z', '+2026-11-26T12:00:00.000Z', '２026-11-26T12:00:00.000Z', '2026-11-26T12:00:00.000Z\n',
];
const IDS = ['00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', 'a1b2c3d4e5f6-7890-abcd-ef1234567890', 'urn:uuid:a1b2c3d4-e5f6-7890-abcd-ef1234567890', '{a1b2c3d4-e5f6-7890-abcd-ef1234567890}', 'g1b2c3d4-e5f6-7890-abcd-ef1234567890', 'a1b2c3d4-e5f6-7890-abcd-ef123456789'];

const cases: fc.Arbitrary<Case> = fc.oneof(
  // The generator's valid events, every type, and its broken kinds.
  { weight: 6, arbitrary: fc.tuple(event, near).map(([e, d]) => c(`valid ${e.event_type}`, json(e), kafkaNear(e, d))) },
  { weight: 2, arbitrary: fc.tuple(event, fc.constantFrom<MalformedKind>('invalid_json', 'schema', 'not_utf8', 'too_large'), near).map(([e, k, d]) => c(`generator ${k}`, malformedRecord(e, k), kafkaNear(e, d))) },
  // Missing, extra and wrong-typed fields; unknown event types.
  { weight: 2, arbitrary: fc.tuple(event, fc.constantFrom(...PROPERTIES), near).map(([e, f, d]) => (delete e[f], c(`missing ${f}`, json(e), kafkaNear(e, d)))) },
  { weight: 1, arbitrary: fc.tuple(event, fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), near).map(([e, f, v, d]) => ((e[f] = v), c('extra field', json(e), kafkaNear(e, d)))) },
  // Names starting with '#': networknt 1.5.x skipped them in additionalProperties (EventValidator).
  { weight: 1, arbitrary: fc.tuple(event, fc.constantFrom('#', '#x', '#event_id', '# '), fc.boolean(), near).map(([e, f, inItems, d]) => {
      if (inItems) e.items = [{ product_id: 'p', quantity: 1, price: 1, [f]: 1 }];
      else e[f] = 1;
      return c(`extra field ${f}${inItems ? ' in items' : ''}`, json(e), kafkaNear(e, d));
    }) },
  { weight: 3, arbitrary: fc.tuple(event, fc.constantFrom(...PROPERTIES), fc.jsonValue({ maxDepth: 2 }), near).map(([e, f, v, d]) => ((e[f] = v), c(`${f} any JSON`, json(e), kafkaNear(e, d)))) },
  { weight: 1, arbitrary: fc.tuple(event, fc.oneof(fc.string({ maxLength: 16 }), fc.constantFrom(...EVENT_TYPES.flatMap((t) => [t.toLowerCase(), ` ${t}`, `${t}\u0000`, `${t}S`]))), near).map(([e, t, d]) => ((e.event_type = t), c('unknown event type', json(e), kafkaNear(e, d)))) },
  { weight: 1, arbitrary: fc.tuple(event, fc.constantFrom(...EVENT_TYPES), near).map(([e, t, d]) => ((e.event_type = t), c('event type swapped', json(e), kafkaNear(e, d)))) },
  // Numbers: ranges, integers spelled as decimals, overflow, and what JSON cannot spell.
  {
    weight: 3,
    arbitrary: fc
      .tuple(event, fc.constantFrom('quantity', 'price', 'revenue', 'produced_at', 'schema_version', 'items'), fc.constantFrom(...NUMBERS, ...NOT_NUMBERS), near)
      .map(([e, f, n, d]) =>
        f === 'items'
          ? c(`items[0].quantity ${n}`, withRaw(e, 'items', `[{"product_id":"p","quantity":${n},"price":1}]`), kafkaNear(e, d))
          : c(`${f} ${n}`, withRaw(e, f, n), kafkaNear(e, d)),
      ),
  },
  { weight: 1, arbitrary: fc.tuple(event, fc.integer({ min: 990, max: 1010 }), near).map(([e, n, d]) => c(`price of ${n + 2} characters`, withRaw(e, 'price', `0.${'0'.repeat(n - 1)}1`), kafkaNear(e, d))) },
  // Deep nesting, around the parser's depth limit and far beyond it.
  {
    weight: 2,
    arbitrary: fc.tuple(event, fc.oneof(fc.integer({ min: 995, max: 1005 }), fc.integer({ min: 1, max: 7000 })), fc.constantFrom('[', '{"a":'), fc.boolean(), near).map(([e, depth, open, top, d]) => {
      const close = open === '[' ? ']' : '}';
      const nested = open.repeat(depth) + (open === '[' ? '' : '1') + close.repeat(depth);
      return top ? c(`top-level nesting ${depth} ${open}`, Buffer.from(nested), NOW) : c(`nesting ${depth} ${open} in page`, withRaw(e, 'page', nested), kafkaNear(e, d));
    }),
  },
  // Byte order marks, invalid and valid UTF-8 anywhere.
  { weight: 1, arbitrary: fc.tuple(event, fc.constantFrom('start', 'end', 'in a string'), near).map(([e, where, d]) => {
      const bom = Buffer.from([0xef, 0xbb, 0xbf]);
      const bytes = json(e);
      const at = where === 'start' ? 0 : where === 'end' ? bytes.length : bytes.indexOf('"device":"') + 10;
      return c(`BOM at ${where}`, insertAt(bytes, at, bom), kafkaNear(e, d));
    }) },
  { weight: 2, arbitrary: fc.tuple(event, fc.constantFrom(...BAD_UTF8), fc.nat(), near).map(([e, bad, at, d]) => {
      const bytes = json(e);
      return c(`bad UTF-8 ${bad.toString('hex')}`, insertAt(bytes, at % (bytes.length + 1), bad), kafkaNear(e, d));
    }) },
  { weight: 1, arbitrary: fc.tuple(event, fc.constantFrom('user_id', 'page', 'query', 'category'), fc.constantFrom(...GOOD_UTF8), fc.integer({ min: 0, max: 600 }), near).map(([e, f, ch, n, d]) => ((e[f] = ch.repeat(n)), c(`${f} ${n} × U+${ch.codePointAt(0)!.toString(16)}`, json(e), kafkaNear(e, d)))) },
  // Escapes and raw characters in strings, and whitespace JSON does not allow between tokens.
  { weight: 2, arbitrary: fc.tuple(event, fc.constantFrom('page', 'device', 'user_id', 'event_type'), fc.constantFrom(...RAW_IN_STRING), near).map(([e, f, raw, d]) => {
      const value = f === 'device' ? `mobil${raw}` : f === 'event_type' ? `LOGI${raw}` : `x${raw}`;
      return c(`${f} with ${JSON.stringify(raw)}`, withRaw(e, f, `"${value}"`), kafkaNear(e, d));
    }) },
  { weight: 1, arbitrary: fc.tuple(event, fc.constantFrom(' ', '\t', '\n', '\r', '\u000b', '\u000c', '\u00a0', '\u2028', '\u0000'), fc.nat(), near).map(([e, ws, at, d]) => {
      const bytes = json(e);
      const commas = [...bytes.toString().matchAll(/[,:{}]/g)].map((m) => m.index! + 1);
      return c(`whitespace U+${ws.codePointAt(0)!.toString(16)} between tokens`, insertAt(bytes, commas[at % commas.length]!, Buffer.from(ws)), kafkaNear(e, d));
    }) },
  // Sizes around maxEventBytes: whitespace keeps the event valid, so only the size decides.
  { weight: 2, arbitrary: fc.tuple(event, fc.integer({ min: -3, max: 3 }), fc.constantFrom('valid', 'not JSON', 'not UTF-8'), near).map(([e, delta, body, d]) => {
      const bytes = body === 'not UTF-8' ? Buffer.concat([json(e), Buffer.from([0xff])]) : body === 'not JSON' ? json(e).subarray(0, 50) : json(e);
      const padding = Buffer.alloc(MAX_BYTES + delta - bytes.length, ' ');
      return c(`${body} of maxEventBytes ${delta >= 0 ? '+' : ''}${delta}`, insertAt(bytes, 1, padding), kafkaNear(e, d));
    }) },
  // event_time against the Kafka timestamp: on, just inside and just outside both bounds.
  { weight: 3, arbitrary: fc.tuple(event, fc.constantFrom('ahead', 'behind'), fc.oneof(fc.integer({ min: -2, max: 2 }), fc.integer({ min: -100_000, max: 100_000 }))).map(([e, side, d]) => c(`event_time ${side} bound ${d >= 0 ? '+' : ''}${d} ms`, json(e), side === 'ahead' ? timeOf(e) - AHEAD_MS - d : timeOf(e) + AGE_MS + d)) },
  { weight: 2, arbitrary: fc.tuple(event, fc.constantFrom(...EVENT_TIMES), fc.boolean()).map(([e, t, atKafka]) => {
      e.event_time = t;
      const ms = Date.parse(t);
      return c(`event_time ${JSON.stringify(t)}`, json(e), atKafka && Number.isFinite(ms) ? ms : NOW);
    }) },
  // Duplicated keys, spelled the same or with escapes; keys that only look alike.
  { weight: 2, arbitrary: fc.tuple(event, fc.constantFrom(...PROPERTIES), fc.constantFrom('same', 'escaped', 'case', 'in items'), near).map(([e, f, how, d]) => {
      const bytes = json(e);
      if (how === 'in items') return c('duplicate key in items', withRaw(e, 'items', '[{"product_id":"p","quantity":1,"price":1,"price":2}]'), kafkaNear(e, d));
      const key = how === 'same' ? f : how === 'escaped' ? f.replace(/[a-z]/, (l) => `\\u00${l.charCodeAt(0).toString(16)}`) : f.toUpperCase();
      return c(`key ${how} ${f}`, insertAt(bytes, 1, Buffer.from(`"${key}":${JSON.stringify(e[f] ?? 1)},`)), kafkaNear(e, d));
    }) },
  // Identifiers, string lengths, patterns.
  { weight: 1, arbitrary: fc.tuple(event, fc.constantFrom(...IDS), near).map(([e, id, d]) => ((e.event_id = id), c(`event_id ${id}`, json(e), kafkaNear(e, d)))) },
  { weight: 1, arbitrary: fc.tuple(event, fc.constantFrom('user_id', 'product_id', 'category', 'order_id', 'page', 'query'), fc.constantFrom(0, 1, 63, 64, 65, 255, 256, 257, 511, 512, 513), near).map(([e, f, n, d]) => ((e[f] = 'x'.repeat(n)), c(`${f} of ${n}`, json(e), kafkaNear(e, d)))) },
  { weight: 1, arbitrary: fc.tuple(event, fc.constantFrom('EUR', 'eur', 'EURO', 'EU', 'É€U', ''), fc.constantFrom(0, 1, 100, 101), near).map(([e, cur, items, d]) => {
      e.currency = cur;
      e.items = Array.from({ length: items }, () => ({ product_id: 'p', quantity: 1, price: 1 }));
      return c(`currency ${cur}, ${items} items`, json(e), kafkaNear(e, d));
    }) },
  // Whole records that are not one JSON object.
  { weight: 2, arbitrary: fc.tuple(event, fc.constantFrom('tombstone', 'empty', 'blank', 'trailing data', 'two objects', 'trailing newline', 'array', 'number', 'string', 'null', 'comment'), near).map(([e, what, d]) => {
      const text = JSON.stringify(e);
      const values: Record<string, Buffer | null> = {
        tombstone: null,
        empty: Buffer.alloc(0),
        blank: Buffer.from(' \n\t '),
        'trailing data': Buffer.from(`${text} x`),
        'two objects': Buffer.from(`${text}{}`),
        'trailing newline': Buffer.from(`\n${text}\r\n`),
        array: Buffer.from(`[${text}]`),
        number: Buffer.from('1'),
        string: Buffer.from('"x"'),
        null: Buffer.from('null'),
        comment: Buffer.from(`/* c */${text}`),
      };
      return c(what, values[what]!, kafkaNear(e, d));
    }) },
  { weight: 1, arbitrary: fc.oneof(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), fc.jsonValue().map((v) => json(v)), fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s))).map((b) => c('random', b, NOW)) },
);

/** The job's verdicts, from one JVM for every record. */
function jobVerdicts(records: Case[]): Array<{ verdict: string; error?: string }> {
  if (!existsSync(path.join(TEST_CLASSES, ...MAIN.split('.')) + '.class')) {
    throw new Error(`${MAIN} is not compiled: run 'mvn -f spark/pom.xml test-compile' (npm test does, in its spark step)`);
  }
  const classpath = [readFileSync(path.join(SPARK, 'target', 'classpath.txt'), 'utf8').trim(), path.join(SPARK, 'target', 'classes'), TEST_CLASSES].join(path.delimiter);
  const input = records.map((r) => JSON.stringify({ bytes_base64: r.value === null ? null : r.value.toString('base64'), kafka_timestamp_ms: r.kafkaMs })).join('\n') + '\n';
  const run = spawnSync('java', ['-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, MAIN], { input, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${MAIN} exited with ${run.status ?? run.signal}:\n${run.stderr.slice(-4000)}`);
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(records.length);
  return lines.map((l) => JSON.parse(l) as { verdict: string; error?: string });
}

describe('TypeScript and Scala agree on every record', () => {
  it(`${RECORDS} generated records: the model's verdict is the job's`, () => {
    const records = fc.sample(cases, { seed: SEED, numRuns: RECORDS });
    const started = Date.now();
    const job = jobVerdicts(records);
    const jvmMs = Date.now() - started;
    const disagreements: string[] = [];
    const seen = new Map<string, number>();
    records.forEach((r, i) => {
      const model = classifyRecord(r.value, r.kafkaMs);
      const modelVerdict = model.accepted ? 'accepted' : model.reason;
      seen.set(modelVerdict, (seen.get(modelVerdict) ?? 0) + 1);
      if (modelVerdict !== job[i]!.verdict) {
        disagreements.push(
          `#${i} ${r.kind}: model ${modelVerdict}${model.accepted ? '' : ` (${model.error.slice(0, 200)})`}, job ${job[i]!.verdict}${job[i]!.error ? ` (${job[i]!.error!.slice(0, 200)})` : ''}\n` +
            `  kafka_timestamp_ms ${r.kafkaMs}, bytes_base64 ${r.value === null ? 'null (tombstone)' : r.value.toString('base64').slice(0, 400)}${(r.value?.length ?? 0) > 300 ? '…' : ''}`,
        );
      }
    });
    console.log(`agreement: ${records.length} records (seed ${SEED}), job's JVM ${jvmMs} ms; verdicts ${JSON.stringify(Object.fromEntries(seen))}`);
    // Grouped by the kind of record (its numbers left out), then the first ones in full.
    const groups = new Map<string, number>();
    for (const d of disagreements) {
      const key = d.split('\n')[0]!.replace(/^#\d+ /, '').replace(/\d+/g, 'N').replace(/ \(.*?\)(,|$)/g, '$1');
      groups.set(key, (groups.get(key) ?? 0) + 1);
    }
    const summary = [...groups].map(([k, n]) => `${n} × ${k}`).join('\n');
    expect(disagreements.length, `${disagreements.length} disagreements (AGREEMENT_SEED=${SEED} reproduces them):\n${summary}\n\n${disagreements.slice(0, 30).join('\n')}`).toBe(0);
    // Every outcome occurs, many times: the comparison is not vacuous.
    for (const verdict of ['accepted', ...DEAD_LETTER_REASONS]) expect(seen.get(verdict) ?? 0, verdict).toBeGreaterThan(20);
  });
});
