import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { SERVER_SCRIPT } from '../../src/targets/local/clickhouse/python-env.ts';

/**
 * The HTTP front's pure helpers (no chdb needed: the module imports chdb only when the engine starts),
 * run with the machine's python3. One Python run evaluates every case and prints JSON.
 */

const PROBE = String.raw`
import base64, gzip, json, sys, zlib
sys.path.insert(0, sys.argv[1])
import chdb_http_server as s

def err(fn):
    try:
        fn()
        return None
    except s.ClickHouseError as e:
        return {"code": e.code, "name": e.name, "status": e.http_status, "text": e.text("26.9.2.1")}

class H(dict):
    def get(self, k, d=None):
        for key, v in self.items():
            if key.lower() == k.lower():
                return v
        return d

gz = bytes.fromhex(sys.argv[2])
out = {
  "engine_errors": [
    (lambda e: [e.code, e.name, e.http_status, e.text("26.9.2.1")])(s.parse_engine_error(t)) for t in [
      "Code: 60. DB::Exception: Table default.x does not exist. Maybe you meant system.one?. (UNKNOWN_TABLE)",
      "Streaming insert finish failed: Code: 27. DB::Exception: Cannot parse input: expected '\"' (at row 1)\n: While executing JSONEachRowRowInputFormat. (CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.9.2.1)",
      "Code: 62. DB::Exception: Syntax error: failed at position 1 (SELEC): SELEC 1. (SYNTAX_ERROR)",
      "something odd happened",
    ]
  ],
  "statuses": {n: s.http_status_for(n) for n in ["SYNTAX_ERROR", "UNKNOWN_TABLE", "UNKNOWN_DATABASE", "AUTHENTICATION_FAILED", "REQUIRED_PASSWORD", "QUERY_IS_TOO_LARGE", "NOT_IMPLEMENTED", "READONLY", "TIMEOUT_EXCEEDED", None]},
  "split": s.split_params([("query", "SELECT 1"), ("database", "db"), ("param_x", "a\\tb"), ("max_threads", "2"), ("insert_deduplication_token", "t"), ("enable_http_compression", "1"), ("wait_end_of_query", "1"), ("async_insert", "1"), ("query_id", "q"), ("max_threads", "4"), ("", "x")]),
  "set": s.set_statement([("insert_deduplication_token", "it's\\x"), ("max_threads", "2")]),
  "set_injection": err(lambda: s.set_statement([("max_threads = 1, readonly", "1")])),
  "inserts": [s.split_insert(q) for q in ["INSERT INTO db.t (a, b) FORMAT JSONEachRow", "insert into t settings async_insert=0 format RowBinary ;", "INSERT INTO t VALUES (1)", "SELECT 1 FORMAT JSON"]],
  "formats": [s.output_format_of(q) for q in ["SELECT 1 FORMAT JSONEachRow", "SELECT 1 FORMAT JSON SETTINGS max_threads = 1;", "SELECT 'FORMAT x' AS f", "CREATE TABLE t (a UInt8) ENGINE = Memory"]],
  "content_types": [s.content_type_for(f) for f in ["TabSeparated", "JSON", "JSONEachRow", "CSVWithNames", "RowBinaryWithNamesAndTypes", "Parquet", "Pretty", None]],
  "gunzip": s.decompress_body(gz, "gzip", 1 << 20).decode(),
  "deflate": s.decompress_body(zlib.compress(b"deflated"), "deflate", 1 << 20).decode(),
  "too_large": err(lambda: s.decompress_body(gzip.compress(b"x" * 5000), "gzip", 1000)),
  "bad_gzip": err(lambda: s.decompress_body(b"not gzip", "gzip", 1000)),
  "zstd": err(lambda: s.decompress_body(b"x", "zstd", 1000)),
  "multipart": [[n, v.decode(), f] for n, v, f in s.parse_multipart(
      b"--B\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT {a:Array(String)}\r\n--B\r\nContent-Disposition: form-data; name=\"param_a\"\r\n\r\n['x','y\\'z']\r\n--B\r\nContent-Disposition: form-data; name=\"ext\"; filename=\"t.tsv\"\r\n\r\n1\t2\r\n--B--\r\n",
      "multipart/form-data; boundary=B")],
  "creds": [
    s.credentials_of(H({"Authorization": "Basic " + base64.b64encode(b"default:p:w").decode()}), {}),
    s.credentials_of(H({"X-ClickHouse-User": "u", "X-ClickHouse-Key": "k"}), {}),
    s.credentials_of(H({}), {"user": "u2", "password": "p2"}),
    s.credentials_of(H({}), {}),
  ],
  "creds_mixed": err(lambda: s.credentials_of(H({"X-ClickHouse-User": "u", "Authorization": "Basic eDp5"}), {})),
  "creds_bearer": err(lambda: s.credentials_of(H({"Authorization": "Bearer abc"}), {})),
  "creds_wrong": err(lambda: s.check_credentials("default", "nope", {"default": "secret"})),
  "creds_ok": err(lambda: s.check_credentials("default", "secret", {"default": "secret"})),
  "xxh": [hex((s.xxh32_short(bytes([0x60, 0x70])) >> 8) & 0xFF), hex((s.xxh32_short(bytes([0x64, 0x40])) >> 8) & 0xFF)],
  "lz4": s.lz4_frame_stored(b"hello").hex(),
  "encodings": [s.choose_response_encoding(a) for a in ["gzip, deflate, br", "lz4", "br, zstd", None, "deflate;q=0.5"]],
}
print(json.dumps(out))
`;

interface Probe {
  engine_errors: [number, string | null, number, string][];
  statuses: Record<string, number>;
  split: [Record<string, string>, Record<string, string>, [string, string][]];
  set: string;
  set_injection: { code: number; name: string } | null;
  inserts: ([string, string] | null)[];
  formats: (string | null)[];
  content_types: string[];
  gunzip: string;
  deflate: string;
  too_large: { code: number; name: string; status: number } | null;
  bad_gzip: { code: number; name: string } | null;
  zstd: { code: number; name: string; status: number; text: string } | null;
  multipart: [string, string, string | null][];
  creds: [string, string][];
  creds_mixed: { code: number; status: number; text: string } | null;
  creds_bearer: { code: number } | null;
  creds_wrong: { code: number; name: string; status: number; text: string } | null;
  creds_ok: null;
  xxh: string[];
  lz4: string;
  encodings: (string | null)[];
}

let probe: Probe;

beforeAll(async () => {
  const gz = gzipSync('SELECT 1 FORMAT JSON').toString('hex');
  const { stdout } = await execa(process.env.SPEEDLAYER_PYTHON || 'python3', ['-c', PROBE, path.dirname(SERVER_SCRIPT), gz], {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  probe = JSON.parse(stdout) as Probe;
});

describe('chdb_http_server.py helpers', () => {
  it('turns chDB error text into ClickHouse code, name, HTTP status and body', () => {
    expect(probe.engine_errors[0]).toEqual([
      60,
      'UNKNOWN_TABLE',
      404,
      'Code: 60. DB::Exception: Table default.x does not exist. Maybe you meant system.one?. (UNKNOWN_TABLE) (version 26.9.2.1)',
    ]);
    const [code, name, status, text] = probe.engine_errors[1]!;
    expect([code, name, status]).toEqual([27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 400]);
    expect(text.startsWith('Code: 27. DB::Exception: Cannot parse input')).toBe(true);
    expect(text.endsWith('(CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.9.2.1)')).toBe(true);
    expect(probe.engine_errors[2]!.slice(0, 3)).toEqual([62, 'SYNTAX_ERROR', 400]);
    expect(probe.engine_errors[3]!.slice(0, 3)).toEqual([1001, 'STD_EXCEPTION', 500]);
    expect(probe.engine_errors[3]![3]).toBe('Code: 1001. DB::Exception: std::exception. something odd happened. (STD_EXCEPTION) (version 26.9.2.1)');
  });

  it("maps errors to HTTP statuses as ClickHouse's exceptionCodeToHTTPStatus does", () => {
    expect(probe.statuses).toEqual({
      SYNTAX_ERROR: 400,
      UNKNOWN_TABLE: 404,
      UNKNOWN_DATABASE: 404,
      AUTHENTICATION_FAILED: 403,
      REQUIRED_PASSWORD: 401,
      QUERY_IS_TOO_LARGE: 413,
      NOT_IMPLEMENTED: 501,
      READONLY: 500,
      TIMEOUT_EXCEEDED: 408,
      null: 500,
    });
  });

  it('separates HTTP parameters, query parameters and settings (first value wins, front settings kept apart)', () => {
    const [http, params, settings] = probe.split;
    expect(http).toEqual({ query: 'SELECT 1', database: 'db', enable_http_compression: '1', wait_end_of_query: '1', async_insert: '1', query_id: 'q' });
    expect(params).toEqual({ x: 'a\\tb' });
    expect(settings).toEqual([
      ['max_threads', '2'],
      ['insert_deduplication_token', 't'],
    ]);
  });

  it('builds SET statements with quoted values and refuses setting names that are not identifiers', () => {
    expect(probe.set).toBe("SET insert_deduplication_token = 'it\\'s\\\\x', max_threads = '2'");
    expect(probe.set_injection).toMatchObject({ code: 115, name: 'UNKNOWN_SETTING' });
  });

  it('recognises INSERT ... FORMAT statements whose data is the request body', () => {
    expect(probe.inserts).toEqual([
      ['INSERT INTO db.t (a, b)', 'JSONEachRow'],
      ['insert into t settings async_insert=0', 'RowBinary'],
      null,
      null,
    ]);
    expect(probe.formats).toEqual(['JSONEachRow', 'JSON', null, null]);
    expect(probe.content_types).toEqual([
      'text/tab-separated-values; charset=UTF-8',
      'application/json; charset=UTF-8',
      'application/x-ndjson; charset=UTF-8',
      'text/csv; charset=UTF-8; header=present',
      'application/octet-stream',
      'application/octet-stream',
      'text/plain; charset=UTF-8',
      'text/plain; charset=UTF-8',
    ]);
  });

  it('decodes gzip/deflate bodies, bounds the decompressed size and names unsupported codecs', () => {
    expect(probe.gunzip).toBe('SELECT 1 FORMAT JSON');
    expect(probe.deflate).toBe('deflated');
    expect(probe.too_large).toEqual(expect.objectContaining({ code: 229, name: 'QUERY_IS_TOO_LARGE', status: 413 }));
    expect(probe.bad_gzip).toMatchObject({ code: 271, name: 'CANNOT_DECOMPRESS' });
    expect(probe.zstd).toMatchObject({ code: 48, name: 'NOT_IMPLEMENTED', status: 501 });
    expect(probe.zstd!.text).toContain("Content-Encoding 'zstd' is not supported");
  });

  it('parses multipart/form-data (query, param_*, file parts marked)', () => {
    expect(probe.multipart).toEqual([
      ['query', 'SELECT {a:Array(String)}', null],
      ['param_a', "['x','y\\'z']", null],
      ['ext', '1\t2', 't.tsv'],
    ]);
  });

  it('reads credentials as ClickHouse does and rejects wrong or mixed ones with 516', () => {
    expect(probe.creds).toEqual([
      ['default', 'p:w'],
      ['u', 'k'],
      ['u2', 'p2'],
      ['default', ''],
    ]);
    expect(probe.creds_mixed).toMatchObject({ code: 516, status: 403 });
    expect(probe.creds_mixed!.text).toContain('not allowed to use X-ClickHouse HTTP headers and Authorization HTTP header simultaneously');
    expect(probe.creds_bearer).toMatchObject({ code: 516 });
    expect(probe.creds_wrong).toEqual({
      code: 516,
      name: 'AUTHENTICATION_FAILED',
      status: 403,
      text: 'Code: 516. DB::Exception: default: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED) (version 26.9.2.1)',
    });
    expect(probe.creds_ok).toBeNull();
  });

  it('writes valid LZ4 frames of stored blocks (header checksum by xxHash32)', () => {
    expect(probe.xxh).toEqual(['0x73', '0xa7']); // the well-known header checksums of 60 70 and 64 40
    // magic, FLG/BD, HC, block size 5 | 0x80000000 (stored), "hello", end mark
    expect(probe.lz4).toBe(`04224d18607073${'05000080'}${Buffer.from('hello').toString('hex')}00000000`);
    expect(probe.encodings).toEqual(['gzip', 'lz4', null, null, 'deflate']);
  });
});
