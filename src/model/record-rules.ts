import { pipeline, type DeadLetterReason } from '../contract/index.ts';
import { validateEvent } from '../contract/validate.ts';
import { eventTimeOutOfBounds } from './ground-truth.ts';

/** What the job does with one record of the events topic: keeps the event, or dead-letters it. */
export type RecordVerdict = { accepted: true; event: Record<string, unknown> } | { accepted: false; reason: DeadLetterReason; error: string };

/** ClickHouse DateTime64(3): values outside it are schema violations (docs/processing.md). */
const MIN_TIME_MS = Date.UTC(1900, 0, 1);
const MAX_TIME_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999);

// ignoreBOM keeps a byte order mark in the text, so JSON.parse refuses it as the job's parser does.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The model's verdict on a raw record value (null: a tombstone) with its Kafka timestamp, by the
 * rules of docs/processing.md, in the job's order: size, UTF-8, JSON (one value, no duplicate
 * keys), the event schema and DateTime64 ranges, then the event-time bounds.
 */
export function classifyRecord(value: Uint8Array | null, kafkaTimeMs?: number): RecordVerdict {
  const dead = (reason: DeadLetterReason, error: string): RecordVerdict => ({ accepted: false, reason, error });
  if (value === null) return dead('invalid_json', 'record value is null (tombstone)');
  if (value.length > pipeline.deadLetter.maxEventBytes) return dead('too_large', `payload is ${value.length} bytes`);
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return dead('not_utf8', 'malformed UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return dead('invalid_json', (err as Error).message);
  }
  const structure = structureError(text);
  if (structure !== undefined) return dead('invalid_json', structure);
  const schema = validateEvent(json);
  if (!schema.valid) return dead('schema', schema.errors.join('; '));
  const event = json as Record<string, unknown>;
  const eventTime = Date.parse(event.event_time as string);
  if (!(eventTime >= MIN_TIME_MS && eventTime <= MAX_TIME_MS)) return dead('schema', `event_time ${String(event.event_time)} is outside DateTime64(3)`);
  if (typeof event.produced_at === 'number' && event.produced_at > MAX_TIME_MS) return dead('schema', `produced_at ${event.produced_at} is outside DateTime64(3)`);
  const outOfBounds = eventTimeOutOfBounds({ event_time: eventTime, kafka_time: kafkaTimeMs });
  if (outOfBounds) return dead(outOfBounds, `event_time ${String(event.event_time)} against Kafka time ${kafkaTimeMs}`);
  return { accepted: true, event };
}

/**
 * The job's JSON parser (Jackson, StreamReadConstraints defaults) also refuses a document nested
 * deeper than 1000 arrays/objects and a number of more than 1000 digits (a lone integer part 0
 * not counted): bounds on the work one hostile record can cause.
 */
const MAX_JSON_DEPTH = 1000;
const MAX_NUMBER_DIGITS = 1000;

/** Why valid JSON `text` is still not one the job reads: a key twice in one object (JSON.parse
 *  keeps the last silently; keys compare decoded), or the parser's limits above. */
function structureError(text: string): string | undefined {
  const objects: Array<Set<string> | undefined> = []; // undefined: an array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        const keys = objects[objects.length - 1]!;
        if (keys.has(key)) return `duplicate key ${JSON.stringify(key)}`;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      objects.push(c === '{' ? new Set() : undefined);
      expectKey = c === '{';
      if (objects.length > MAX_JSON_DEPTH) return `nesting deeper than ${MAX_JSON_DEPTH}`;
    } else if (c === '}' || c === ']') {
      objects.pop();
    } else if (c === ',') {
      expectKey = objects[objects.length - 1] !== undefined;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const number = /^-?[0-9.eE+-]+/.exec(text.slice(i, i + MAX_NUMBER_DIGITS + 64))![0];
      const digits = number.replace(/^-?0(?![0-9])/, '').replace(/[^0-9]/g, '').length;
      if (digits > MAX_NUMBER_DIGITS) return `a number of more than ${MAX_NUMBER_DIGITS} digits`;
      i += number.length - 1;
    }
  }
  return undefined;
}
