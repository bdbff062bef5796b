import { describe, expect, it } from 'vitest';
import { pipeline } from '../../src/contract/index.ts';
import { classifyRecord } from '../../src/model/record-rules.ts';

/** The model's verdict on raw bytes at each rule's edge (the job's agreement: test/integration/validation-agreement.test.ts). */
const TIME = '2026-11-26T12:00:00.000Z';
const KAFKA = Date.parse(TIME);
const event = { schema_version: 1, event_id: '8d785b18-c086-4421-9440-59422d56d16f', event_type: 'LOGIN', event_time: TIME, user_id: 'u1', device: 'mobile' };
const text = JSON.stringify(event);
const verdict = (value: string | Buffer | null, kafka = KAFKA) => {
  const v = classifyRecord(typeof value === 'string' ? Buffer.from(value) : value, kafka);
  return v.accepted ? 'accepted' : v.reason;
};
const withField = (raw: string) => `${text.slice(0, -1)},${raw}}`;

describe('classifyRecord', () => {
  it('accepts a valid event, and refuses a tombstone, an empty value and trailing data as invalid_json', () => {
    expect(verdict(text)).toBe('accepted');
    expect(verdict(` \n${text}\r\n`)).toBe('accepted');
    expect([verdict(null), verdict(''), verdict(`${text} x`), verdict(`${text}{}`)]).toEqual(['invalid_json', 'invalid_json', 'invalid_json', 'invalid_json']);
  });

  it('size first: exactly maxEventBytes is accepted, one more byte is too_large whatever it holds', () => {
    const max = pipeline.deadLetter.maxEventBytes;
    const padded = `{${' '.repeat(max - text.length)}${text.slice(1)}`;
    expect(Buffer.byteLength(padded)).toBe(max);
    expect(verdict(padded)).toBe('accepted');
    expect(verdict(`${padded} `)).toBe('too_large');
    expect(verdict(Buffer.alloc(max + 1, 0xff))).toBe('too_large');
  });

  it('invalid UTF-8 is not_utf8; a byte order mark is invalid_json', () => {
    expect(verdict(Buffer.concat([Buffer.from(text.slice(0, 20)), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(text.slice(20))]))).toBe('not_utf8');
    expect(verdict(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).toBe('invalid_json');
  });

  it('a key twice in one object is invalid_json, also when spelled with an escape; the same key in two objects is not', () => {
    expect(verdict(withField('"device":"mobile"'))).toBe('invalid_json');
    expect(verdict(withField('"dev\\u0069ce":"mobile"'))).toBe('invalid_json');
    const purchase = { ...event, event_type: 'PURCHASE', order_id: 'o', revenue: 2, currency: 'EUR' };
    const item = '{"product_id":"p","quantity":1,"price":1}';
    expect(verdict(JSON.stringify(purchase).replace(/}$/, `,"items":[${item},${item}]}`))).toBe('accepted');
    expect(verdict(JSON.stringify(purchase).replace(/}$/, `,"items":[{"product_id":"p","quantity":1,"price":1,"price":1}]}`))).toBe('invalid_json');
  });

  it("the parser's limits: nesting up to 1000 and numbers up to 1000 digits are read, beyond is invalid_json", () => {
    expect(verdict('['.repeat(1000) + ']'.repeat(1000))).toBe('schema');
    expect(verdict('['.repeat(1001) + ']'.repeat(1001))).toBe('invalid_json');
    expect(verdict(withField(`"page":${'['.repeat(999)}${']'.repeat(999)}`))).toBe('schema');
    expect(verdict(withField(`"page":${'['.repeat(1000)}${']'.repeat(1000)}`))).toBe('invalid_json');
    expect(verdict(withField(`"produced_at":${'1'.repeat(1000)}`))).toBe('schema');
    expect(verdict(withField(`"produced_at":-${'1'.repeat(1001)}`))).toBe('invalid_json');
    expect(verdict(withField(`"price":0.${'0'.repeat(999)}1`))).toBe('accepted'); // a lone integer part 0 is not counted
    expect(verdict(withField(`"price":1.${'0'.repeat(999)}1`))).toBe('invalid_json');
  });

  it('DateTime64 ranges and non-finite numbers are schema violations', () => {
    for (const [time, expected] of [['1899-12-31T23:59:59.999Z', 'schema'], ['1900-01-01T00:00:00.000Z', 'accepted'], ['2299-12-31T23:59:59.999Z', 'accepted'], ['2300-01-01T00:00:00.000Z', 'schema']]) {
      expect(verdict(JSON.stringify({ ...event, event_time: time }), Date.parse(time!)), time).toBe(expected);
    }
    expect(verdict(withField('"produced_at":10413791999999'))).toBe('accepted');
    expect(verdict(withField('"produced_at":10413792000000'))).toBe('schema');
    expect(verdict(withField('"price":1e400'))).toBe('schema');
    expect(verdict(withField('"price":NaN'))).toBe('invalid_json');
  });

  it('event-time bounds against the Kafka timestamp, both edges accepted', () => {
    const ahead = pipeline.deadLetter.maxEventTimeAheadSeconds * 1000;
    const age = pipeline.deadLetter.maxEventAgeSeconds * 1000;
    expect([verdict(text, KAFKA - ahead), verdict(text, KAFKA - ahead - 1)]).toEqual(['accepted', 'future_event_time']);
    expect([verdict(text, KAFKA + age), verdict(text, KAFKA + age + 1)]).toEqual(['accepted', 'expired_event_time']);
    expect(classifyRecord(Buffer.from(text))).toMatchObject({ accepted: true }); // no Kafka timestamp: no bounds
  });
});
