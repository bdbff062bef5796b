"""The front's pure helpers (no chdb engine: the module imports chdb only when the engine starts)."""
import base64
import gzip
import zlib

import pytest

import chdb_http_server as s

VERSION = "26.9.2.1"


def error_of(fn):
    try:
        fn()
    except s.ClickHouseError as e:
        return e
    return None


class Headers(dict):
    """Case-insensitive get, like http.server's message headers."""

    def get(self, k, d=None):
        for key, v in self.items():
            if key.lower() == k.lower():
                return v
        return d


def engine_error(text):
    e = s.parse_engine_error(text)
    return e.code, e.name, e.http_status, e.text(VERSION)


def test_engine_error_text_becomes_clickhouse_code_name_status_and_body():
    assert engine_error("Code: 60. DB::Exception: Table default.x does not exist. Maybe you meant system.one?. (UNKNOWN_TABLE)") == (
        60,
        "UNKNOWN_TABLE",
        404,
        "Code: 60. DB::Exception: Table default.x does not exist. Maybe you meant system.one?. (UNKNOWN_TABLE) (version 26.9.2.1)",
    )
    code, name, status, text = engine_error(
        "Streaming insert finish failed: Code: 27. DB::Exception: Cannot parse input: expected '\"' (at row 1)\n"
        ": While executing JSONEachRowRowInputFormat. (CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.9.2.1)"
    )
    assert (code, name, status) == (27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED", 400)
    assert text.startswith("Code: 27. DB::Exception: Cannot parse input")
    assert text.endswith("(CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.9.2.1)")
    assert engine_error("Code: 62. DB::Exception: Syntax error: failed at position 1 (SELEC): SELEC 1. (SYNTAX_ERROR)")[:3] == (62, "SYNTAX_ERROR", 400)


def test_text_without_a_code_is_a_std_exception():
    assert engine_error("something odd happened") == (
        1001,
        "STD_EXCEPTION",
        500,
        "Code: 1001. DB::Exception: std::exception. something odd happened. (STD_EXCEPTION) (version 26.9.2.1)",
    )


@pytest.mark.parametrize(
    "name,status",
    [
        ("SYNTAX_ERROR", 400),
        ("UNKNOWN_TABLE", 404),
        ("UNKNOWN_DATABASE", 404),
        ("AUTHENTICATION_FAILED", 403),
        ("REQUIRED_PASSWORD", 401),
        ("QUERY_IS_TOO_LARGE", 413),
        ("NOT_IMPLEMENTED", 501),
        ("READONLY", 500),
        ("TIMEOUT_EXCEEDED", 408),
        (None, 500),
    ],
)
def test_http_status_as_clickhouse_exception_code_to_http_status(name, status):
    assert s.http_status_for(name) == status


def test_splits_http_parameters_query_parameters_and_settings():
    http, params, settings = s.split_params(
        [
            ("query", "SELECT 1"),
            ("database", "db"),
            ("param_x", "a\\tb"),
            ("max_threads", "2"),
            ("insert_deduplication_token", "t"),
            ("enable_http_compression", "1"),
            ("wait_end_of_query", "1"),
            ("async_insert", "1"),
            ("query_id", "q"),
            ("max_threads", "4"),
            ("", "x"),
        ]
    )
    assert http == {"query": "SELECT 1", "database": "db", "enable_http_compression": "1", "wait_end_of_query": "1", "async_insert": "1", "query_id": "q"}
    assert params == {"x": "a\\tb"}
    # first value wins
    assert settings == [("max_threads", "2"), ("insert_deduplication_token", "t")]


def test_settings_list_quotes_values_and_refuses_names_that_are_not_identifiers():
    assert s.settings_list([("insert_deduplication_token", "it's\\x"), ("max_threads", "2")]) == "insert_deduplication_token = 'it\\'s\\\\x', max_threads = '2'"
    e = error_of(lambda: s.settings_list([("max_threads = 1, readonly", "1")]))
    assert (e.code, e.name) == (115, "UNKNOWN_SETTING")


def test_an_inserts_settings_go_into_its_own_settings_clause_unless_it_has_one():
    assert s.with_insert_settings("INSERT INTO db.t (a, b)", [("insert_deduplication_token", "it's"), ("insert_deduplicate", "1")]) == (
        "INSERT INTO db.t (a, b) SETTINGS insert_deduplication_token = 'it\\'s', insert_deduplicate = '1'")
    assert s.with_insert_settings("insert into t settings async_insert=0", [("insert_deduplicate", "1")]) is None
    e = error_of(lambda: s.with_insert_settings("INSERT INTO t", [("max_threads = 1, readonly", "1")]))
    assert (e.code, e.name) == (115, "UNKNOWN_SETTING")


def test_recognises_insert_format_statements_whose_data_is_the_body():
    assert [s.split_insert(q) for q in ["INSERT INTO db.t (a, b) FORMAT JSONEachRow", "insert into t settings async_insert=0 format RowBinary ;", "INSERT INTO t VALUES (1)", "SELECT 1 FORMAT JSON"]] == [
        ("INSERT INTO db.t (a, b)", "JSONEachRow"),
        ("insert into t settings async_insert=0", "RowBinary"),
        None,
        None,
    ]


def test_output_format_and_content_type():
    assert [s.output_format_of(q) for q in ["SELECT 1 FORMAT JSONEachRow", "SELECT 1 FORMAT JSON SETTINGS max_threads = 1;", "SELECT 'FORMAT x' AS f", "CREATE TABLE t (a UInt8) ENGINE = Memory"]] == [
        "JSONEachRow",
        "JSON",
        None,
        None,
    ]
    assert [s.content_type_for(f) for f in ["TabSeparated", "JSON", "JSONEachRow", "CSVWithNames", "RowBinaryWithNamesAndTypes", "Parquet", "Pretty", None]] == [
        "text/tab-separated-values; charset=UTF-8",
        "application/json; charset=UTF-8",
        "application/x-ndjson; charset=UTF-8",
        "text/csv; charset=UTF-8; header=present",
        "application/octet-stream",
        "application/octet-stream",
        "text/plain; charset=UTF-8",
        "text/plain; charset=UTF-8",
    ]


def test_decodes_gzip_and_deflate_bodies():
    assert s.decompress_body(gzip.compress(b"SELECT 1 FORMAT JSON"), "gzip", 1 << 20) == b"SELECT 1 FORMAT JSON"
    assert s.decompress_body(zlib.compress(b"deflated"), "deflate", 1 << 20) == b"deflated"


def test_bounds_the_decompressed_size_and_names_bad_or_unsupported_codecs():
    too_large = error_of(lambda: s.decompress_body(gzip.compress(b"x" * 5000), "gzip", 1000))
    assert (too_large.code, too_large.name, too_large.http_status) == (229, "QUERY_IS_TOO_LARGE", 413)
    bad = error_of(lambda: s.decompress_body(b"not gzip", "gzip", 1000))
    assert (bad.code, bad.name) == (271, "CANNOT_DECOMPRESS")
    zstd = error_of(lambda: s.decompress_body(b"x", "zstd", 1000))
    assert (zstd.code, zstd.name, zstd.http_status) == (48, "NOT_IMPLEMENTED", 501)
    assert "Content-Encoding 'zstd' is not supported" in zstd.text(VERSION)


def test_parses_multipart_form_data_with_file_parts_marked():
    body = (
        b'--B\r\nContent-Disposition: form-data; name="query"\r\n\r\nSELECT {a:Array(String)}\r\n'
        b"--B\r\nContent-Disposition: form-data; name=\"param_a\"\r\n\r\n['x','y\\'z']\r\n"
        b'--B\r\nContent-Disposition: form-data; name="ext"; filename="t.tsv"\r\n\r\n1\t2\r\n--B--\r\n'
    )
    assert [(n, v.decode(), f) for n, v, f in s.parse_multipart(body, "multipart/form-data; boundary=B")] == [
        ("query", "SELECT {a:Array(String)}", None),
        ("param_a", "['x','y\\'z']", None),
        ("ext", "1\t2", "t.tsv"),
    ]


def test_reads_credentials_as_clickhouse_does():
    basic = "Basic " + base64.b64encode(b"default:p:w").decode()
    assert tuple(s.credentials_of(Headers({"Authorization": basic}), {})) == ("default", "p:w")
    assert tuple(s.credentials_of(Headers({"X-ClickHouse-User": "u", "X-ClickHouse-Key": "k"}), {})) == ("u", "k")
    assert tuple(s.credentials_of(Headers({}), {"user": "u2", "password": "p2"})) == ("u2", "p2")
    assert tuple(s.credentials_of(Headers({}), {})) == ("default", "")


def test_rejects_mixed_bearer_and_wrong_credentials_with_516():
    mixed = error_of(lambda: s.credentials_of(Headers({"X-ClickHouse-User": "u", "Authorization": "Basic eDp5"}), {}))
    assert (mixed.code, mixed.http_status) == (516, 403)
    assert "not allowed to use X-ClickHouse HTTP headers and Authorization HTTP header simultaneously" in mixed.text(VERSION)
    assert error_of(lambda: s.credentials_of(Headers({"Authorization": "Bearer abc"}), {})).code == 516
    wrong = error_of(lambda: s.check_credentials("default", "nope", {"default": "secret"}))
    assert (wrong.code, wrong.name, wrong.http_status, wrong.text(VERSION)) == (
        516,
        "AUTHENTICATION_FAILED",
        403,
        "Code: 516. DB::Exception: default: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED) (version 26.9.2.1)",
    )
    assert error_of(lambda: s.check_credentials("default", "secret", {"default": "secret"})) is None


def test_writes_lz4_frames_of_stored_blocks():
    # the well-known header checksums of 60 70 and 64 40
    assert [hex((s.xxh32_short(bytes([0x60, 0x70])) >> 8) & 0xFF), hex((s.xxh32_short(bytes([0x64, 0x40])) >> 8) & 0xFF)] == ["0x73", "0xa7"]
    # magic, FLG/BD, HC, block size 5 | 0x80000000 (stored), "hello", end mark
    assert s.lz4_frame_stored(b"hello").hex() == "04224d18607073" + "05000080" + b"hello".hex() + "00000000"
    assert [s.choose_response_encoding(a) for a in ["gzip, deflate, br", "lz4", "br, zstd", None, "deflate;q=0.5"]] == ["gzip", "lz4", None, None, "deflate"]


def test_result_cache_runs_identical_requests_in_flight_once_and_expires():
    import threading
    import time

    cache = s.ResultCache(ttl_s=0.2, refresh_after_s=10)  # no refresh ahead here: the next test
    runs = []
    gate = threading.Event()

    def run():
        runs.append(1)
        gate.wait(2)
        return s.QueryOutcome(f"answer {len(runs)}".encode(), "JSON", True, s.summary_dict())

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get_or_run(("q",), run, 5).body)) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join()
    assert (len(runs), got) == (1, [b"answer 1"] * 6)
    assert cache.get_or_run(("q",), run, 5).body == b"answer 1"  # within the TTL
    assert cache.get_or_run(("other",), run, 5).body == b"answer 2"  # another key
    time.sleep(0.25)
    assert cache.get_or_run(("q",), run, 5).body == b"answer 3"  # expired


def test_result_cache_serves_an_aging_answer_at_once_and_refreshes_it_in_the_background():
    import threading
    import time

    cache = s.ResultCache(ttl_s=1.0, refresh_after_s=0.2)
    runs = []
    release = threading.Event()

    def run():
        runs.append(1)
        if len(runs) == 2:
            release.wait(3)  # the refresh takes its time
        return s.QueryOutcome(f"answer {len(runs)}".encode(), "JSON", True, s.summary_dict())

    def get():
        return cache.get_or_run(("q",), run, 5).body

    assert get() == b"answer 1"
    time.sleep(0.3)  # older than refresh_after_s, younger than the TTL
    started = time.monotonic()
    assert [get(), get(), get()] == [b"answer 1"] * 3  # at once, while one refresh runs
    assert time.monotonic() - started < 1.5  # (waiting for the refresh would take 3 s)
    assert len(runs) == 2
    release.set()
    deadline = time.monotonic() + 3
    while get() != b"answer 2" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (get(), len(runs)) == (b"answer 2", 2)
    time.sleep(1.05)  # older than the TTL: never served, the request runs the query itself
    assert get() == b"answer 3"


def test_result_cache_keeps_the_answer_when_a_background_refresh_fails_until_it_expires():
    import time

    cache = s.ResultCache(ttl_s=0.6, refresh_after_s=0.1)
    outcomes = [s.QueryOutcome(b"answer", "JSON", True, s.summary_dict())]

    def run():
        if outcomes:
            return outcomes.pop()
        raise s.ClickHouseError.front("BAD_ARGUMENTS", "refused")

    assert cache.get_or_run(("q",), run, 5).body == b"answer"
    time.sleep(0.2)
    assert cache.get_or_run(("q",), run, 5).body == b"answer"  # starts a refresh, which fails
    time.sleep(0.1)
    assert cache.get_or_run(("q",), run, 5).body == b"answer"  # still within the TTL
    time.sleep(0.6)
    assert error_of(lambda: cache.get_or_run(("q",), run, 5)).name == "BAD_ARGUMENTS"


def test_result_cache_does_not_keep_errors():
    cache = s.ResultCache(ttl_s=5)
    calls = []

    def failing():
        calls.append(1)
        raise s.ClickHouseError.front("BAD_ARGUMENTS", "no")

    for _ in range(2):
        assert error_of(lambda: cache.get_or_run(("q",), failing, 1)).name == "BAD_ARGUMENTS"
    assert len(calls) == 2


def test_users_config_bounds_every_dashboard_setting_and_refuses_others():
    xml = s.users_config_xml({"max_threads": 1, "priority": 10})
    assert "<max_threads><max>1</max></max_threads>" in xml
    assert "<priority><min>10</min></priority>" in xml
    assert "<readonly><const/></readonly>" in xml
    try:
        s.users_config_xml({"max_rows_to_read": 5})
        raise AssertionError("expected a ValueError")
    except ValueError as exc:
        assert "max_rows_to_read" in str(exc)
