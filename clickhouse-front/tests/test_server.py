"""The front over HTTP with the real engine: started as speedlayer starts it, on a free 127.0.0.1 port."""
import base64
import gzip
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "chdb_http_server.py")
PASSWORD = "s3cret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    try:
        import chdb  # noqa: F401
    except ImportError:
        pytest.fail("chdb is not importable: run the tests with the chdb virtualenv's python (npm test does)")
    port = free_port()
    env = {**os.environ, "SPEEDLAYER_CLICKHOUSE_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1", "TZ": "UTC"}
    proc = subprocess.Popen(
        [sys.executable, SCRIPT, "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path_factory.mktemp("data")), "--user", "default"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"ready on http://127.0.0.1:{port} "), line
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=30) == 0
        finally:
            proc.kill() if proc.poll() is None else None


def request(url, path="/", data=None, headers=None, auth=True):
    h = dict(headers or {})
    if auth:
        h["Authorization"] = "Basic " + base64.b64encode(f"default:{PASSWORD}".encode()).decode()
    req = urllib.request.Request(url + path, data=data, headers=h, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def q(sql):
    return "/?" + urllib.parse.urlencode({"query": sql})


def test_ping_answers_ok_without_credentials(server):
    assert request(server, "/ping", auth=False)[0::2] == (200, "Ok.\n")


def test_select_runs_in_the_engine_with_clickhouse_headers(server):
    status, headers, body = request(server, q("SELECT 1 + 1 AS two FORMAT JSONEachRow"))
    assert (status, body) == (200, '{"two":2}\n')
    assert headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert headers["X-ClickHouse-Timezone"] == "UTC"
    assert headers["X-ClickHouse-Query-Id"]


def test_insert_format_body_then_select(server):
    assert request(server, "/", data=b"CREATE TABLE t (a UInt32, s String) ENGINE = MergeTree ORDER BY a")[0] == 200
    rows = gzip.compress(b'{"a":2,"s":"y"}\n{"a":1,"s":"x"}\n')
    assert request(server, q("INSERT INTO t FORMAT JSONEachRow"), data=rows, headers={"Content-Encoding": "gzip"})[0] == 200
    assert request(server, q("SELECT a, s FROM t ORDER BY a FORMAT TabSeparated"))[2] == "1\tx\n2\ty\n"


def test_an_inserts_url_settings_apply_to_that_insert_only(server):
    assert request(server, "/", data=b"CREATE TABLE d (a UInt32) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 10")[0] == 200
    insert = "/?" + urllib.parse.urlencode({"query": "INSERT INTO d FORMAT JSONEachRow", "insert_deduplication_token": "batch-7"})
    for _ in range(2):  # the same token twice: the second insert is a no-op
        assert request(server, insert, data=b'{"a":1}\n')[0] == 200
    assert request(server, q("SELECT count() FROM d FORMAT TabSeparated"))[2] == "1\n"
    # Nothing of it stays on the session for the next request.
    assert request(server, q("SELECT getSetting('insert_deduplication_token') FORMAT TabSeparated"))[2] == "\n"
    unknown = "/?" + urllib.parse.urlencode({"query": "INSERT INTO d FORMAT JSONEachRow", "no_such_setting": "1"})
    status, _, body = request(server, unknown, data=b'{"a":2}\n')
    assert (status, "(UNKNOWN_SETTING)" in body) == (404, True), body
    assert request(server, q("SELECT count() FROM d FORMAT TabSeparated"))[2] == "1\n"


def test_a_querys_url_settings_apply_to_that_query_only_whatever_came_before(server):
    def limits(**settings):
        path = "/?" + urllib.parse.urlencode({
            "query": "SELECT getSetting('max_result_rows'), getSetting('max_execution_time') FORMAT TabSeparated", **settings})
        return request(server, path)[2]

    assert request(server, "/", data=b"CREATE TABLE kept (a UInt32) ENGINE = MergeTree ORDER BY a")[0] == 200
    # Twice round, so that each step also follows its own kind of request on a reused handle.
    for _ in range(2):
        assert limits(max_result_rows="5", max_execution_time="7") == "5\t7\n"
        assert limits(max_result_rows="5") == "5\t0\n"
        assert limits() == "0\t0\n"
        assert limits(max_execution_time="9") == "0\t9\n"
        # An insert carries its settings in its statement; what the query before left is still put back.
        assert limits(max_result_rows="5") == "5\t0\n"
        insert = "/?" + urllib.parse.urlencode({"query": "INSERT INTO kept FORMAT JSONEachRow", "max_result_rows": "5", "insert_deduplication_token": "k"})
        assert request(server, insert, data=b'{"a":1}\n')[0] == 200
        assert limits() == "0\t0\n"
        status, _, body = request(server, "/?" + urllib.parse.urlencode({"query": "SELECT 1", "max_result_rows": "5", "no_such_setting": "1"}))
        assert (status, "(UNKNOWN_SETTING)" in body) == (404, True), body
        assert limits() == "0\t0\n"


def test_the_same_settings_on_every_request_cost_no_set_after_the_first(tmp_path):
    import chdb_http_server as front

    engine = front.Engine(str(tmp_path), pool_size=1)
    try:
        handle = engine.writers.all[0]
        statements = []
        run = handle.run
        handle.run = lambda sql, *args, **kwargs: (statements.append(sql), run(sql, *args, **kwargs))[1]

        def select(settings):
            return bytes(engine.execute(
                statement="SELECT getSetting('max_result_rows')", data=None, insert_target=None, database="default",
                settings=settings, query_params={}, default_format="TabSeparated", readonly=None).body).decode()

        assert select([("max_result_rows", "5")]) == "5\n"
        statements.clear()
        assert select([("max_result_rows", "5")]) == "5\n"
        assert statements == ["SELECT getSetting('max_result_rows')"]
        assert select([]) == "0\n"
        assert statements[1:] == ["SET max_result_rows = DEFAULT", "SELECT getSetting('max_result_rows')"]
    finally:
        engine.close()


def test_query_parameters_are_substituted_by_the_engine(server):
    path = "/?" + urllib.parse.urlencode({"query": "SELECT {n:UInt8} * 2 FORMAT TabSeparated", "param_n": "21"})
    assert request(server, path)[2] == "42\n"


def test_engine_errors_keep_clickhouse_code_and_http_status(server):
    status, headers, body = request(server, q("SELECT * FROM no_such_table"))
    assert status == 404
    assert headers["X-ClickHouse-Exception-Code"] == "60"
    assert "(UNKNOWN_TABLE)" in body


def test_wrong_password_is_516_with_403(server):
    status, headers, body = request(server, q("SELECT 1"), auth=False, headers={"X-ClickHouse-User": "default", "X-ClickHouse-Key": "nope"})
    assert status == 403
    assert headers["X-ClickHouse-Exception-Code"] == "516"
    assert "AUTHENTICATION_FAILED" in body
