#!/usr/bin/env python3
"""speedlayer's embedded ClickHouse: the ClickHouse engine (chDB) behind a partial HTTP front.

What this is
    The real ClickHouse engine, as the library chDB (PyPI ``chdb``), storing its data in a directory
    (``--data-dir``), served by pools of chDB connection handles on that one path, behind a small HTTP server written with the Python
    standard library (``http.server.ThreadingHTTPServer``). The server speaks the part of ClickHouse's
    HTTP interface that the project's clients use: ``@clickhouse/client`` (Node) and the Java
    ``com.clickhouse:client-v2`` that the Spark job uses for ``INSERT ... FORMAT JSONEachRow``.
    SQL, types, table engines, formats, settings and error messages are ClickHouse's own; only the
    HTTP layer is re-implemented here, and only partly. It is for machines without a ClickHouse server,
    not a replacement for one.

Implemented (the HTTP front)
    * ``GET /ping``, ``GET /`` (no query), ``GET /replicas_status``: ``Ok.``; other paths: 404.
    * Queries over GET (read-only, as in ClickHouse) and POST: the ``query`` URL parameter and/or the
      request body, joined as ClickHouse does (URL query + newline + body). An INSERT whose statement
      is in the URL (``INSERT ... FORMAT <fmt>``) takes its data from the body as raw bytes, through
      chDB's streaming insert (any input format, text or binary).
    * ``multipart/form-data`` bodies with ``query`` and ``param_<name>`` fields (what
      ``@clickhouse/client`` sends for large query parameters); file parts (external tables) are refused.
    * Request bodies with ``Content-Length`` or ``Transfer-Encoding: chunked``; ``Content-Encoding``
      gzip, deflate, xz and bzip2; bodies over ``--max-body-bytes`` (default 256 MiB, after
      decompression too) are refused with ``QUERY_IS_TOO_LARGE`` (HTTP 413).
    * ``database`` (URL parameter or ``X-ClickHouse-Database``), ``default_format`` (URL parameter or
      ``X-ClickHouse-Format``; default TabSeparated), ``query_id`` (URL parameter or
      ``X-ClickHouse-Query-Id``; a UUID when absent), ``session_id`` (accepted, see below).
    * Every other URL parameter is a ClickHouse setting for that one query: an insert's go in its
      ``SETTINGS`` clause; otherwise they are applied with ``SET`` before the query. A handle's next
      request first puts back, in the same ``SET``, what the last one set and it does not, so nothing
      leaks into it, and a client that sends the same settings every time costs no ``SET`` at all.
      After a ``SET``/``USE`` statement or a failed ``SET`` every setting goes back to the baseline.
      A few settings are handled by the front instead of the engine (``FRONT_SETTINGS``: HTTP
      compression and progress settings, ``readonly``, the ``async_insert`` family: inserts here are
      always synchronous).
      Unknown settings fail as in ClickHouse (``UNKNOWN_SETTING``).
    * Query parameters ``param_<name>`` are handed to chDB's native query parameters, which use the
      engine's own substitution (the value is parsed in ClickHouse's escaped text form, exactly as the
      HTTP interface does), so ``{name:Type}`` behaves as on a ClickHouse server.
    * Authentication of the main user (``--user``, password from ``--password`` or the environment variable
      ``SPEEDLAYER_CLICKHOUSE_PASSWORD``) and optionally a dashboard user (``--dashboard-user``, password
      from ``SPEEDLAYER_CLICKHOUSE_DASHBOARD_PASSWORD``) by HTTP Basic auth, ``X-ClickHouse-User``/``X-ClickHouse-Key``
      headers, or ``user``/``password`` URL parameters, with ClickHouse's rules (mixing methods is an
      error). A failure is ``Code: 516 ... (AUTHENTICATION_FAILED)`` with HTTP 403, as ClickHouse does.
      ``/ping`` needs no credentials, as in ClickHouse.
    * Concurrency: each request takes a chDB connection handle from its user's pool for its whole
      USE/SET/query/restore, so up to ``--pool-size`` requests of the main user and
      ``--dashboard-pool-size`` of the dashboard user run in parallel, each in its own session (chDB 4.x:
      any number of connections on one path, each with its own session state). Query parameters stay
      with their handle (checked with concurrent requests for chdb 4.4.0: the clobbering reported in
      chdb-node pull request 51 does not occur). A request that finds every handle busy for 60 s fails
      with ``TOO_MANY_SIMULTANEOUS_QUERIES`` (429).
    * The dashboard user: read-only (the front refuses anything but read-only statements, and its
      handles are ``readonly=2`` in the engine) with the profile ``--dashboard-profile`` (max_threads,
      max_execution_time, max_memory_usage, priority), whose values are also the engine's constraints:
      a request may tighten them (URL settings, SETTINGS clause), never loosen them
      (``SETTING_CONSTRAINT_VIOLATION``). Its own pool keeps dashboards from holding the handles the
      inserts need. With ``--dashboard-cache-ms`` identical dashboard reads within that time share one
      answer, refreshed in the background once past half of it, and identical reads in flight run
      once (``ResultCache``, in place of ClickHouse's query cache, which chDB does not provide);
      ``use_query_cache=0`` on a request bypasses it.
    * Responses carry ``X-ClickHouse-Query-Id``, ``X-ClickHouse-Format`` (for queries that return
      data), ``X-ClickHouse-Timezone``, ``X-ClickHouse-Server-Display-Name``, ``X-ClickHouse-Summary``
      (read_rows/read_bytes from the engine's storage counters, written_rows/written_bytes,
      result_rows/result_bytes, elapsed_ns; total_rows_to_read is reported as read_rows, the engine
      does not expose an estimate) and a Content-Type per format. With ``enable_http_compression=1``
      and ``Accept-Encoding`` gzip or deflate the response is compressed; a client that accepts only
      ``lz4`` (Java client-v2 with ``useHttpCompression(true)``) gets an LZ4 frame of stored,
      uncompressed blocks (valid LZ4, no size gain); br/zstd-only clients get an uncompressed response.
    * Errors: ``X-ClickHouse-Exception-Code: <N>`` and the body ``Code: N. DB::Exception: ... (NAME)
      (version ...)`` taken from the engine's own message; the HTTP status follows ClickHouse's
      ``exceptionCodeToHTTPStatus`` (400 for syntax/parse errors, 404 for unknown table/database/
      setting..., 403 for authentication, 500 otherwise).
    * Multi-statement queries are refused (as ClickHouse's HTTP interface does); GET and
      ``readonly=1|2`` allow read-only queries only (``READONLY``, code 164).
    * SIGTERM/SIGINT: stop accepting, let the in-flight requests finish, close idle keep-alive
      connections, close every chDB handle (data flushed), exit 0.

Not implemented
    * ClickHouse's own compression (``compress=1``/``decompress=1``, its LZ4 block framing, which
      client-v2 uses by default): refused with a clear ``NOT_IMPLEMENTED`` (HTTP 501). Java client-v2
      needs ``compressServerResponse(false)`` and ``compressClientRequest(false)`` (or
      ``useHttpCompression(true)`` with ``compressClientRequest(false)``).
    * Request bodies in br, zstd, lz4 or snappy (the stdlib has no decoder): refused with
      ``NOT_IMPLEMENTED``; send them uncompressed or gzip-compressed.
    * Sessions: ``session_id`` is accepted but requests are served by pooled handles, so a ``SET``
      sent as a query lasts for that request only, and a temporary table lives on whichever handle
      created it.
    * Progress headers (``send_progress_in_http_headers``), streaming of results (every result is
      buffered in memory, as with ``wait_end_of_query=1``), external data tables, ``/play``,
      ``/dashboard``, ``/metrics``, HTTPS, users beyond the two above, roles, quotas, and the native
      TCP protocol.

Run: ``python chdb_http_server.py --host 127.0.0.1 --port 8123 --data-dir DIR --user default``
(the password comes from ``SPEEDLAYER_CLICKHOUSE_PASSWORD``). One line is printed when it is ready:
``ready on http://HOST:PORT (chdb X, ClickHouse Y)``; ``--verbose`` adds one line per request.
"""

from __future__ import annotations

import argparse
import base64
import bz2
import gzip
import hmac
import json
import lzma
import os
import queue
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterable, List, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024
KEEP_ALIVE_ADVERTISED_S = 10  # what clients are told (ClickHouse's keep_alive_timeout)
SOCKET_IDLE_TIMEOUT_S = 60  # when the server gives up on a silent connection (> the advertised value)
SHUTDOWN_GRACE_S = 60

# ---------------------------------------------------------------------------------------------------
# ClickHouse error codes the front raises itself, and ClickHouse's exception -> HTTP status mapping
# (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp), keyed by the error name that ends every message.
# ---------------------------------------------------------------------------------------------------
ERROR_CODES = {
    "UNSUPPORTED_METHOD": 1,
    "BAD_ARGUMENTS": 36,
    "NOT_IMPLEMENTED": 48,
    "SYNTAX_ERROR": 62,
    "UNKNOWN_COMPRESSION_METHOD": 89,
    "UNKNOWN_SETTING": 115,
    "READONLY": 164,
    "QUERY_IS_TOO_LARGE": 229,
    "ABORTED": 236,
    "CANNOT_DECOMPRESS": 271,
    "HTTP_LENGTH_REQUIRED": 381,
    "AUTHENTICATION_FAILED": 516,
    "TOO_MANY_SIMULTANEOUS_QUERIES": 202,
    "STD_EXCEPTION": 1001,
}

_HTTP_401 = {"REQUIRED_PASSWORD"}
_HTTP_403 = {"UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"}
_HTTP_400 = {
    "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
    "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
    "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6",
    "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
    "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST",
    "TOO_BIG_AST", "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
    "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
}
_HTTP_404 = {
    "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
    "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING", "UNKNOWN_AGGREGATE_FUNCTION",
    "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE",
}
_HTTP_OTHER = {
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "CANNOT_SCHEDULE_TASK": 503,
    "TOO_MANY_SIMULTANEOUS_QUERIES": 429,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}


def http_status_for(error_name: Optional[str]) -> int:
    """ClickHouse's exceptionCodeToHTTPStatus, by error name."""
    if not error_name:
        return 500
    if error_name in _HTTP_401:
        return 401
    if error_name in _HTTP_403:
        return 403
    if error_name in _HTTP_400:
        return 400
    if error_name in _HTTP_404:
        return 404
    return _HTTP_OTHER.get(error_name, 500)


class ClickHouseError(Exception):
    """An error to send as ClickHouse does: code, name and message (without the "Code: N." prefix)."""

    def __init__(self, code: int, name: Optional[str], message: str):
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message

    @classmethod
    def front(cls, name: str, message: str) -> "ClickHouseError":
        return cls(ERROR_CODES[name], name, message)

    def text(self, version: str) -> str:
        """The response body: ``Code: N. DB::Exception: <message>. (NAME) (version V)``."""
        msg = self.message.rstrip()
        if re.search(r"\(version [^)]*", msg):
            return msg if msg.startswith("Code:") else f"Code: {self.code}. DB::Exception: {msg}"
        if self.name and not msg.endswith(f"({self.name})"):
            msg = f"{msg.rstrip('.')}. ({self.name})"
        body = msg if msg.startswith("Code:") else f"Code: {self.code}. DB::Exception: {msg}"
        return f"{body} (version {version})"

    @property
    def http_status(self) -> int:
        return http_status_for(self.name)


_CODE_RE = re.compile(r"Code: (\d+)\. ")
_NAME_AT_END_RE = re.compile(
    r"\(([A-Z0-9_]*[A-Z]{3}[A-Z0-9_]*)\)(?:\s*\(version [^()]*(?:\([^()]*\))?[^()]*\))?\s*$"
)


def parse_engine_error(text: str) -> ClickHouseError:
    """Turns chDB's error text into code, name and message.

    chDB raises ``RuntimeError``/``ChdbError`` whose text is ClickHouse's exception message
    (``Code: 60. DB::Exception: Table default.x does not exist. (UNKNOWN_TABLE)``), sometimes behind a
    wrapper prefix (``Streaming insert finish failed: Code: 27. ...``). Text without a code is reported
    as STD_EXCEPTION (1001), which is what ClickHouse does for a non-ClickHouse exception.
    """
    text = (text or "").strip()
    m = _CODE_RE.search(text)
    if not m:
        return ClickHouseError(ERROR_CODES["STD_EXCEPTION"], "STD_EXCEPTION", f"std::exception. {text}")
    body = text[m.start():]
    name_match = _NAME_AT_END_RE.search(body)
    name = name_match.group(1) if name_match else None
    return ClickHouseError(int(m.group(1)), name, body)


# ---------------------------------------------------------------------------------------------------
# URL parameters: which are the HTTP interface's own, which are settings
# ---------------------------------------------------------------------------------------------------
# Parameters of the HTTP interface that are not settings (HTTPHandler's reserved names + database,
# default_format, query and role).
RESERVED_PARAMS = frozenset({
    "query", "database", "default_format", "query_id", "session_id", "session_timeout", "session_check",
    "close_session", "user", "password", "quota_key", "stacktrace", "buffer_size", "wait_end_of_query",
    "client_protocol_version", "compress", "decompress", "role",
})

# Settings the front handles (or deliberately ignores) instead of passing them to the engine: they are
# about the HTTP transport, belong to the user (readonly: the dashboard user is read-only by its profile) or make no sense embedded
# (asynchronous inserts: every insert here is synchronous and acknowledged when written).
FRONT_SETTINGS = frozenset({
    "enable_http_compression", "http_zlib_compression_level", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "http_response_buffer_size", "http_wait_end_of_query",
    "add_http_cors_header", "cancel_http_readonly_queries_on_client_close",
    "http_write_exception_in_output_format", "http_native_compression_disable_checksumming_on_decompress",
    "readonly", "profile", "use_query_cache", "async_insert", "wait_for_async_insert", "wait_for_async_insert_timeout",
    "async_insert_deduplicate", "async_insert_busy_timeout_ms", "async_insert_busy_timeout_min_ms",
    "async_insert_busy_timeout_max_ms", "async_insert_max_data_size", "async_insert_max_query_number",
    "async_insert_use_adaptive_busy_timeout", "async_insert_stale_timeout_ms",
})

_SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def split_params(pairs: Iterable[Tuple[str, str]]):
    """Splits URL parameters into (http params: first value wins, query params, settings in order)."""
    http: Dict[str, str] = {}
    query_params: Dict[str, str] = {}
    settings: List[Tuple[str, str]] = []
    seen_settings = set()
    for key, value in pairs:
        if not key:
            continue
        if key in RESERVED_PARAMS:
            if key == "query":
                # Several query parameters are concatenated (ClickHouse reads them all).
                http["query"] = http.get("query", "") + value
            else:
                http.setdefault(key, value)
        elif key.startswith("param_"):
            query_params.setdefault(key[len("param_"):], value)
        elif key in FRONT_SETTINGS:
            http.setdefault(key, value)
        elif key not in seen_settings:
            seen_settings.add(key)
            settings.append((key, value))
    return http, query_params, settings


def quote_string(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def settings_list(settings: List[Tuple[str, str]]) -> str:
    """``a = 'x', b = 'y'``: values are strings, as the HTTP interface applies them."""
    for name, _ in settings:
        if not _SETTING_NAME_RE.match(name):
            raise ClickHouseError.front("UNKNOWN_SETTING", f"Unknown setting '{name}'")
    return ", ".join(f"{name} = {quote_string(value)}" for name, value in settings)


_SETTINGS_CLAUSE_RE = re.compile(r"\bSETTINGS\b", re.I)


def with_insert_settings(head: str, settings: List[Tuple[str, str]]) -> Optional[str]:
    """``INSERT INTO t (cols) SETTINGS a = 'x'``: the request's settings for this insert only, so the
    session needs no SET for them (a token that differs every insert never touches it). None when
    the head has a SETTINGS clause of its own (then they are SET on the session as for any query)."""
    if _SETTINGS_CLAUSE_RE.search(head):
        return None
    return f"{head} SETTINGS {settings_list(settings)}"


def truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


# ---------------------------------------------------------------------------------------------------
# Statements and formats
# ---------------------------------------------------------------------------------------------------
_INSERT_FORMAT_RE = re.compile(
    r"^\s*(?P<head>INSERT\s+INTO\s.*?)\s+FORMAT\s+(?P<fmt>[A-Za-z][A-Za-z0-9_]*)\s*;?\s*$", re.I | re.S
)
_OUTPUT_FORMAT_RE = re.compile(
    r"\bFORMAT\s+(?P<fmt>[A-Za-z][A-Za-z0-9_]*)\s*(?:SETTINGS\s+[^;]*?)?\s*;?\s*$", re.I | re.S
)
_SET_RE = re.compile(r"^\s*SET\s", re.I)
_READONLY_WORD_RE = re.compile(r"\breadonly\s*=", re.I)


def split_insert(statement: str) -> Optional[Tuple[str, str]]:
    """``INSERT INTO t (cols) [SETTINGS ...] FORMAT F`` -> (``INSERT INTO t (cols) [SETTINGS ...]``, F)."""
    m = _INSERT_FORMAT_RE.match(statement)
    if not m:
        return None
    return m.group("head"), m.group("fmt")


def output_format_of(statement: str) -> Optional[str]:
    """The FORMAT clause at the end of a statement, if any (used for response headers only)."""
    m = _OUTPUT_FORMAT_RE.search(statement)
    return m.group("fmt") if m else None


_CONTENT_TYPES = {
    "tabseparated": "text/tab-separated-values; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "tabseparatedraw": "text/tab-separated-values; charset=UTF-8",
    "tsvraw": "text/tab-separated-values; charset=UTF-8",
    "tabseparatedwithnames": "text/tab-separated-values; charset=UTF-8",
    "tsvwithnames": "text/tab-separated-values; charset=UTF-8",
    "tabseparatedwithnamesandtypes": "text/tab-separated-values; charset=UTF-8",
    "tsvwithnamesandtypes": "text/tab-separated-values; charset=UTF-8",
    "csv": "text/csv; charset=UTF-8; header=absent",
    "csvwithnames": "text/csv; charset=UTF-8; header=present",
    "csvwithnamesandtypes": "text/csv; charset=UTF-8; header=present",
    "json": "application/json; charset=UTF-8",
    "jsoncompact": "application/json; charset=UTF-8",
    "jsonstrings": "application/json; charset=UTF-8",
    "jsoncolumns": "application/json; charset=UTF-8",
    "xml": "application/xml; charset=UTF-8",
}
_BINARY_FORMATS = (
    "native", "rowbinary", "parquet", "arrow", "arrowstream", "orc", "avro", "protobuf", "capnproto",
    "msgpack", "bson", "npy",
)


def content_type_for(fmt: Optional[str]) -> str:
    if not fmt:
        return "text/plain; charset=UTF-8"
    f = fmt.lower()
    if f in _CONTENT_TYPES:
        return _CONTENT_TYPES[f]
    if f.startswith("jsoneachrow") or f.startswith("jsoncompacteachrow") or f.startswith("jsonlines") \
            or f.startswith("ndjson") or f.startswith("jsonstringseachrow") or f.startswith("jsonobjecteachrow"):
        return "application/x-ndjson; charset=UTF-8"
    if f.startswith(_BINARY_FORMATS):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


# ---------------------------------------------------------------------------------------------------
# Response compression: gzip/deflate from the stdlib; "lz4" as an LZ4 frame of stored (uncompressed)
# blocks, which is valid LZ4 that every LZ4 frame decoder reads (client-v2 with useHttpCompression asks
# for lz4 only). It saves no bytes, it only keeps such clients working.
# ---------------------------------------------------------------------------------------------------
_XXH_P1, _XXH_P2, _XXH_P3, _XXH_P4, _XXH_P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
_M32 = 0xFFFFFFFF


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def xxh32_short(data: bytes, seed: int = 0) -> int:
    """xxHash32 of an input shorter than 16 bytes (all an LZ4 frame header checksum needs)."""
    if len(data) >= 16:
        raise ValueError("xxh32_short: input must be shorter than 16 bytes")
    h = (seed + _XXH_P5 + len(data)) & _M32
    i = 0
    while i + 4 <= len(data):
        h = (h + int.from_bytes(data[i:i + 4], "little") * _XXH_P3) & _M32
        h = (_rotl32(h, 17) * _XXH_P4) & _M32
        i += 4
    while i < len(data):
        h = (h + data[i] * _XXH_P5) & _M32
        h = (_rotl32(h, 11) * _XXH_P1) & _M32
        i += 1
    h ^= h >> 15
    h = (h * _XXH_P2) & _M32
    h ^= h >> 13
    h = (h * _XXH_P3) & _M32
    h ^= h >> 16
    return h


_LZ4_BLOCK = 4 * 1024 * 1024


def lz4_frame_stored(payload: bytes) -> bytes:
    """An LZ4 frame (magic 0x184D2204) holding ``payload`` in uncompressed blocks of at most 4 MiB."""
    descriptor = bytes([0x60, 0x70])  # version 01, independent blocks, no checksums/size; 4 MiB blocks
    out = bytearray(b"\x04\x22\x4d\x18")
    out += descriptor
    out.append((xxh32_short(descriptor) >> 8) & 0xFF)
    view = memoryview(payload)
    for start in range(0, len(view), _LZ4_BLOCK):
        block = view[start:start + _LZ4_BLOCK]
        out += (len(block) | 0x80000000).to_bytes(4, "little")  # high bit: stored block
        out += block
    out += b"\x00\x00\x00\x00"  # end mark
    return bytes(out)


def choose_response_encoding(accept_encoding: Optional[str]) -> Optional[str]:
    accepted = [t.split(";", 1)[0].strip().lower() for t in (accept_encoding or "").split(",")]
    for encoding in ("gzip", "deflate", "lz4"):
        if encoding in accepted:
            return encoding
    return None


def compress_response(payload: bytes, encoding: str, level: int) -> bytes:
    if encoding == "gzip":
        return gzip.compress(payload, compresslevel=level, mtime=0)
    if encoding == "deflate":
        return zlib.compress(payload, level)
    if encoding == "lz4":
        return lz4_frame_stored(payload)
    raise ValueError(encoding)


# ---------------------------------------------------------------------------------------------------
# Request bodies
# ---------------------------------------------------------------------------------------------------
def decompress_body(data: bytes, encoding: str, limit: int) -> bytes:
    """Decodes a request body by its Content-Encoding, refusing results over ``limit`` bytes."""
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity", "none"):
        return data
    try:
        if enc in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            # HTTP "deflate" is the zlib format; accept raw deflate too (some clients send that).
            decoder = zlib.decompressobj(zlib.MAX_WBITS if data[:1] and (data[0] & 0x0F) == 8 else -zlib.MAX_WBITS)
        elif enc in ("xz", "lzma"):
            decoder = lzma.LZMADecompressor()
        elif enc in ("bz2", "bzip2"):
            decoder = bz2.BZ2Decompressor()
        elif enc == "lz4":
            raise ClickHouseError.front(
                "NOT_IMPLEMENTED",
                "Content-Encoding 'lz4' request bodies are not supported by the embedded ClickHouse front; "
                "send them uncompressed or gzip-compressed (Java client-v2: compressClientRequest(false))",
            )
        else:
            raise ClickHouseError.front(
                "NOT_IMPLEMENTED",
                f"Content-Encoding '{encoding}' is not supported by the embedded ClickHouse HTTP front "
                "(supported: gzip, deflate, xz, bz2); send the request uncompressed or gzip-compressed",
            )
        out = bytearray()
        view = memoryview(data)
        step = 1 << 20
        for start in range(0, len(view), step):
            chunk = bytes(view[start:start + step])
            if isinstance(decoder, (lzma.LZMADecompressor, bz2.BZ2Decompressor)):
                out += decoder.decompress(chunk, max_length=limit + 1 - len(out))
            else:
                out += decoder.decompress(chunk, limit + 1 - len(out))
            if len(out) > limit:
                raise body_too_large(limit, decompressed=True)
        if hasattr(decoder, "flush"):
            out += decoder.flush()
        if len(out) > limit:
            raise body_too_large(limit, decompressed=True)
        return bytes(out)
    except ClickHouseError:
        raise
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
        raise ClickHouseError.front("CANNOT_DECOMPRESS", f"Cannot decompress the request body ({encoding}): {exc}")


def body_too_large(limit: int, decompressed: bool = False) -> ClickHouseError:
    what = "decompressed request body" if decompressed else "request body"
    return ClickHouseError.front(
        "QUERY_IS_TOO_LARGE",
        f"The {what} is larger than the embedded ClickHouse front accepts ({limit} bytes, --max-body-bytes); "
        "split the insert into smaller batches",
    )


def parse_multipart(body: bytes, content_type: str) -> List[Tuple[str, bytes, Optional[str]]]:
    """Parses multipart/form-data into (name, value, filename) triples."""
    m = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type, re.I)
    if not m:
        raise ClickHouseError.front("BAD_ARGUMENTS", "multipart/form-data without a boundary")
    delimiter = b"--" + (m.group(1) or m.group(2)).encode("latin-1")
    parts: List[Tuple[str, bytes, Optional[str]]] = []
    for raw in body.split(delimiter)[1:]:
        if raw.startswith(b"--"):
            break
        if raw.startswith(b"\r\n"):
            raw = raw[2:]
        elif raw.startswith(b"\n"):
            raw = raw[1:]
        head, sep, content = raw.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = raw.partition(b"\n\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        head_text = head.decode("latin-1")
        name_m = re.search(r'\bname="([^"]*)"', head_text, re.I)
        file_m = re.search(r'\bfilename="([^"]*)"', head_text, re.I)
        if name_m:
            parts.append((name_m.group(1), content, file_m.group(1) if file_m else None))
    return parts


# ---------------------------------------------------------------------------------------------------
# Authentication (ClickHouse's authenticateUserByHTTP, for one user)
# ---------------------------------------------------------------------------------------------------
def credentials_of(headers, params: Dict[str, str]) -> Tuple[str, str]:
    """The (user, password) a request presents, by ClickHouse's rules; raises on ambiguous input."""
    user = headers.get("X-ClickHouse-User", "") or ""
    password = headers.get("X-ClickHouse-Key", "") or ""
    has_auth_headers = bool(user or password)
    authorization = headers.get("Authorization")
    has_params = "user" in params or "password" in params
    if has_auth_headers:
        if not user:
            raise ClickHouseError.front("AUTHENTICATION_FAILED", "Got an empty user name from X-ClickHouse HTTP headers")
        if authorization:
            raise ClickHouseError.front(
                "AUTHENTICATION_FAILED",
                "Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and Authorization HTTP header simultaneously",
            )
        if has_params:
            raise ClickHouseError.front(
                "AUTHENTICATION_FAILED",
                "Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and authentication via parameters simultaneously",
            )
        return user, password
    if authorization:
        if has_params:
            raise ClickHouseError.front(
                "AUTHENTICATION_FAILED",
                "Invalid authentication: it is not allowed to use Authorization HTTP header and authentication via parameters simultaneously",
            )
        scheme, _, info = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise ClickHouseError.front(
                "AUTHENTICATION_FAILED", f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not supported"
            )
        try:
            decoded = base64.b64decode(info.strip(), validate=False).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise ClickHouseError.front("AUTHENTICATION_FAILED", "Invalid authentication: malformed Basic credentials")
        user, _, password = decoded.partition(":")
        if not user:
            raise ClickHouseError.front("AUTHENTICATION_FAILED", "Got an empty user name from Authorization HTTP header")
        return user, password
    user = params.get("user", "default")
    if not user:
        raise ClickHouseError.front("AUTHENTICATION_FAILED", "Got an empty user name from authentication via parameters")
    return user, params.get("password", "")


def check_credentials(user: str, password: str, users: Dict[str, str]) -> str:
    """Returns the user whose name and password match (compared in constant time), else raises."""
    matched = None
    for want_user, want_password in users.items():
        ok_user = hmac.compare_digest(user.encode("utf-8"), want_user.encode("utf-8"))
        ok_password = hmac.compare_digest(password.encode("utf-8"), want_password.encode("utf-8"))
        if ok_user and ok_password:
            matched = want_user
    if matched is None:
        raise ClickHouseError.front(
            "AUTHENTICATION_FAILED",
            f"{user}: Authentication failed: password is incorrect, or there is no user with such name",
        )
    return matched


# ---------------------------------------------------------------------------------------------------
# The engine: pools of chDB connection handles on one data path
# ---------------------------------------------------------------------------------------------------
class QueryOutcome:
    __slots__ = ("body", "fmt", "has_output", "summary")

    def __init__(self, body: bytes, fmt: Optional[str], has_output: bool, summary: Dict[str, str]):
        self.body = body
        self.fmt = fmt
        self.has_output = has_output
        self.summary = summary


def summary_dict(read_rows=0, read_bytes=0, written_rows=0, written_bytes=0, total_rows_to_read=0,
                 result_rows=0, result_bytes=0, elapsed_ns=0) -> Dict[str, str]:
    # ClickHouse sends every figure as a string, in this order.
    return {
        "read_rows": str(int(read_rows)),
        "read_bytes": str(int(read_bytes)),
        "written_rows": str(int(written_rows)),
        "written_bytes": str(int(written_bytes)),
        "total_rows_to_read": str(int(total_rows_to_read)),
        "result_rows": str(int(result_rows)),
        "result_bytes": str(int(result_bytes)),
        "elapsed_ns": str(int(elapsed_ns)),
    }


# The settings a dashboard profile may hold, and how its constraint bounds them: a request may make
# them stricter, never looser (ClickHouse's <constraints> with <max>, or <min> for priority, where a
# larger number is a lower priority).
DASHBOARD_PROFILE_SETTINGS = {
    "max_threads": "max", "max_execution_time": "max", "max_memory_usage": "max", "priority": "min",
}
DASHBOARD_PROFILE_NAME = "dashboard"


def users_config_xml(dashboard_profile: Dict[str, int]) -> str:
    """The engine's users config: its internal user (reached only through this front, which does the
    authentication) and the dashboard profile with constraints, enforced by the engine itself on every
    SET and SETTINGS clause of the handles that take that profile."""
    unknown = sorted(set(dashboard_profile) - set(DASHBOARD_PROFILE_SETTINGS))
    if unknown:
        raise ValueError(f"dashboard profile: unsupported settings {unknown} (supported: {sorted(DASHBOARD_PROFILE_SETTINGS)})")
    values = "".join(f"<{k}>{int(v)}</{k}>" for k, v in dashboard_profile.items())
    bounds = "".join(
        f"<{k}><{DASHBOARD_PROFILE_SETTINGS[k]}>{int(v)}</{DASHBOARD_PROFILE_SETTINGS[k]}></{k}>"
        for k, v in dashboard_profile.items()
    )
    return (
        "<clickhouse><users><default><password></password><profile>default</profile>"
        "<networks><ip>::1</ip><ip>127.0.0.1</ip></networks></default></users>"
        f"<profiles><default/><{DASHBOARD_PROFILE_NAME}>{values}"
        f"<constraints>{bounds}<readonly><const/></readonly></constraints></{DASHBOARD_PROFILE_NAME}></profiles>"
        "</clickhouse>"
    )


class Handle:
    """One chDB connection: its own session (current database, settings), used by one request at a time."""

    def __init__(self, conn, read_only: bool):
        self.conn = conn
        self.raw = conn._conn
        self.read_only = read_only
        self.database: Optional[str] = None
        self.baseline: Dict[str, str] = {}
        # The settings the last request left on this session over its baseline; None: not known
        # (a SET failed, or a statement may have changed them), so the next request restores them all.
        self.applied: Optional[Dict[str, str]] = {}

    def run(self, sql: str, fmt: str = "TabSeparated", params: Optional[Dict[str, str]] = None):
        try:
            return self.raw.query(sql, fmt, params=params or {})
        except Exception as exc:  # chdb raises RuntimeError / ChdbError with ClickHouse's message
            raise parse_engine_error(str(exc)) from None

    def scalar(self, sql: str) -> str:
        return bytes(self.run(sql).bytes()).decode("utf-8").strip()

    def changed_settings(self) -> Dict[str, str]:
        res = self.run("SELECT name, value FROM system.settings WHERE changed", "JSONCompact")
        rows = json.loads(bytes(res.bytes()).decode("utf-8"))["data"]
        return {name: value for name, value in rows if name != "database"}

    def use(self, database: str) -> None:
        if self.database != database:
            self.database = None  # unknown if USE fails
            self.run(f"USE {quote_identifier(database)}")
            self.database = database

    def restore_settings(self) -> None:
        """Puts every setting back to this handle's baseline (what it had when the pool opened it)."""
        now = self.changed_settings()
        resets = [self._baseline_assignment(name) for name, value in now.items() if self.baseline.get(name) != value]
        resets += [self._baseline_assignment(name) for name in self.baseline if name not in now]
        if resets:
            self.run("SET " + ", ".join(resets))
        self.applied = {}

    def _baseline_assignment(self, name: str) -> str:
        return f"{name} = {quote_string(self.baseline[name])}" if name in self.baseline else f"{name} = DEFAULT"

    def apply_settings(self, settings: List[Tuple[str, str]], in_statement: bool = False) -> None:
        """Leaves this session at its baseline plus the request's settings, with one SET of what differs
        from what the last request left, and none when nothing does (a client sending the same settings
        every time): a SET, a read of system.settings and a SET back cost ~4 ms of engine time a query.
        ``in_statement``: the statement carries the settings itself (an insert's SETTINGS clause), so
        only what the last request left and this one does not set is put back."""
        if self.applied is None:
            self.restore_settings()
        previous = self.applied
        wanted = dict(settings)
        changed = [] if in_statement else [(name, value) for name, value in wanted.items() if previous.get(name) != value]
        assignments = ([settings_list(changed)] if changed else []) + [
            self._baseline_assignment(name) for name in previous if name not in wanted]
        kept = {name: value for name, value in previous.items() if name in wanted}
        if assignments:
            self.applied = None  # unknown until the SET succeeds
            self.run("SET " + ", ".join(assignments))
        self.applied = kept if in_statement else wanted


class HandlePool:
    """A fixed number of handles; a request waits (up to ``wait_s``) for a free one."""

    def __init__(self, name: str, handles: List[Handle], wait_s: float):
        self.name = name
        self.free: "queue.LifoQueue[Handle]" = queue.LifoQueue()
        self.all = list(handles)
        self.wait_s = wait_s
        for h in handles:
            self.free.put(h)

    def acquire(self) -> Handle:
        try:
            return self.free.get(timeout=self.wait_s)
        except queue.Empty:
            raise ClickHouseError.front(
                "TOO_MANY_SIMULTANEOUS_QUERIES",
                f"All {len(self.all)} {self.name} engine handles stayed busy for {self.wait_s:.0f} s "
                "(--pool-size / --dashboard-pool-size); send fewer queries at once",
            ) from None

    def release(self, handle: Handle) -> None:
        self.free.put(handle)

    def drain(self, timeout: float) -> List[Handle]:
        """Takes every handle back (waiting for in-flight requests), for closing."""
        taken, deadline = [], time.monotonic() + timeout
        for _ in self.all:
            try:
                taken.append(self.free.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return taken


class ResultCache:
    """Dashboard results that cannot change within a refresh: identical read-only requests (same
    statement, database, format, settings and parameters) get the same answer while it is younger
    than ``ttl_s``, and identical requests arriving while the first runs wait for it instead of
    running again. An answer older than ``refresh_after_s`` is still served at once, and one request
    starts its refresh in the background: viewers refreshing every few seconds then find an answer
    ready instead of each waiting in turn for the query that renews it.

    It stands in for ClickHouse's query cache (``use_query_cache``), which the embedded engine does
    not provide. The job writes a micro-batch every 2 s, so a 2 s TTL shows data at most one
    micro-batch older than a fresh query would (the age counts from the start of the query that
    made the answer), while N viewers refreshing the same panels cost about one query each.
    A request with ``use_query_cache=0`` bypasses it (the benchmark's capacity curve measures the engine).
    """

    MAX_ENTRIES = 256
    MAX_BODY_BYTES = 4 * 1024 * 1024

    def __init__(self, ttl_s: float, refresh_after_s: Optional[float] = None):
        self.ttl_s = ttl_s
        self.refresh_after_s = ttl_s / 2 if refresh_after_s is None else refresh_after_s
        self.lock = threading.Lock()
        self.entries: Dict[tuple, Tuple[float, QueryOutcome]] = {}  # key -> (when its query started, answer)
        self.in_flight: Dict[tuple, threading.Event] = {}

    def get_or_run(self, key: tuple, run, wait_s: float) -> QueryOutcome:
        while True:
            with self.lock:
                now = time.monotonic()
                hit = self.entries.get(key)
                if hit and now - hit[0] < self.ttl_s:
                    if now - hit[0] >= self.refresh_after_s and key not in self.in_flight:
                        done = self.in_flight[key] = threading.Event()
                        threading.Thread(target=self._run_and_keep, args=(key, run, done, True), daemon=True,
                                         name="speedlayer-result-refresh").start()
                    return hit[1]
                waiting = self.in_flight.get(key)
                if waiting is None:
                    done = self.in_flight[key] = threading.Event()
                    break
            if not waiting.wait(wait_s):
                return run()  # the first one is stuck: do not wait for ever
            with self.lock:
                hit = self.entries.get(key)
                if hit and time.monotonic() - hit[0] < self.ttl_s:
                    return hit[1]
            return run()  # the first one failed (errors are not cached): run it ourselves
        return self._run_and_keep(key, run, done)

    def _run_and_keep(self, key: tuple, run, done: threading.Event, background: bool = False) -> Optional[QueryOutcome]:
        """Runs the query and keeps its answer; a background refresh that fails leaves the old one to expire
        (the next request after that runs the query itself, and gets its error)."""
        started = time.monotonic()
        try:
            outcome = run()
            if len(outcome.body) <= self.MAX_BODY_BYTES:
                with self.lock:
                    now = time.monotonic()
                    if len(self.entries) >= self.MAX_ENTRIES:
                        self.entries = {k: v for k, v in self.entries.items() if now - v[0] < self.ttl_s}
                    if len(self.entries) < self.MAX_ENTRIES:
                        self.entries[key] = (started, outcome)
            return outcome
        except Exception:
            if background:
                return None
            raise
        finally:
            with self.lock:
                self.in_flight.pop(key, None)
            done.set()


class Engine:
    """chDB on the data directory, served by pools of connection handles.

    Since chDB 4.0 one process hosts one embedded engine per data path and any number of connections
    to it, each with its own session (current database, settings), and queries on different
    connections run in parallel (chdb.connect's documentation). So each request takes a handle of
    its user's pool for its whole USE/SET/query/restore, and requests run in parallel up to the pool
    size. The writer pool serves the main user (the job's inserts, migrations, the CLI's writes); the
    dashboard pool, when a dashboard user is configured, serves read-only requests with the dashboard
    profile: read-only at the engine (readonly=2) and its settings bounded by the engine's constraints.
    Separate pools mean dashboards can never hold every handle the inserts need.
    """

    def __init__(self, data_dir: str, pool_size: int = 4, dashboard_profile: Optional[Dict[str, int]] = None,
                 dashboard_pool_size: int = 4, wait_s: float = 60.0, dashboard_cache_ms: int = 0):
        import chdb  # imported here so the pure helpers above can be imported without chdb

        self.chdb_version = getattr(chdb, "__version__", "unknown")
        self.wait_s = wait_s
        self.cache = ResultCache(dashboard_cache_ms / 1000) if dashboard_cache_ms > 0 else None
        self.closed = False
        self.closed_lock = threading.Lock()
        # The first connection starts the engine with the users config; it stays open (the engine
        # stops when its last connection closes) and only answers the front's own questions.
        self.config_dir = tempfile.mkdtemp(prefix="speedlayer-chdb-config-")
        config_dir = self.config_dir
        users_file = os.path.join(config_dir, "users.xml")
        with open(users_file, "w") as f:
            f.write(users_config_xml(dashboard_profile or {}))
        config_file = os.path.join(config_dir, "config.xml")
        with open(config_file, "w") as f:
            f.write(f"<clickhouse><users_config>{users_file}</users_config></clickhouse>")
        # clickhouse-local's `implicit_select` (a bare `1+1` is a query) is not a server's behaviour.
        self._main = Handle(chdb.connect(f"{data_dir}?config-file={config_file}&implicit_select=0"), read_only=False)
        self.version = self._main.scalar("SELECT version()")
        self.timezone = self._main.scalar("SELECT timezone()")
        self._classify = getattr(self._main.raw, "classify_query", None)

        def open_handle(read_only: bool) -> Handle:
            if read_only:
                extra = "".join(f"&{k}={int(v)}" for k, v in (dashboard_profile or {}).items())
                h = Handle(chdb.connect(f"{data_dir}?implicit_select=0&readonly=2{extra}"), read_only=True)
                h.run(f"SET profile = '{DASHBOARD_PROFILE_NAME}'")  # brings the profile's constraints
            else:
                h = Handle(chdb.connect(f"{data_dir}?implicit_select=0"), read_only=False)
            h.baseline = h.changed_settings()
            return h

        self.writers = HandlePool("writer", [open_handle(False) for _ in range(max(1, pool_size))], wait_s)
        self.dashboards = (
            HandlePool("dashboard", [open_handle(True) for _ in range(max(1, dashboard_pool_size))], wait_s)
            if dashboard_profile is not None else None
        )

    def classify(self, sql: str) -> Tuple[str, int]:
        """(query class name: READ_ONLY | MUTATING | CONTROL | UNKNOWN ..., number of statements)."""
        if self._classify is None:
            return "UNKNOWN", 1
        info = self._classify(sql)
        qc = info.get("query_class")
        name = getattr(qc, "name", str(qc))
        return name, int(info.get("statement_count", 1))

    # -- one request --
    def execute(self, *, statement: str, data: Optional[bytes], insert_target: Optional[Tuple[str, str]],
                database: str, settings: List[Tuple[str, str]], query_params: Dict[str, str],
                default_format: str, readonly: Optional[str], dashboard: bool = False,
                use_cache: bool = True) -> QueryOutcome:
        if self.closed:
            raise ClickHouseError.front("ABORTED", "The server is shutting down")
        started = time.monotonic()
        probe = statement if insert_target is None else f"{insert_target[0]} FORMAT {insert_target[1]}"
        query_class, statements = self.classify(probe)
        if statements > 1:
            raise ClickHouseError.front(
                "SYNTAX_ERROR", "Syntax error (Multi-statements are not allowed): send one statement per request"
            )
        # UNKNOWN: the classifier could not parse the statement; the engine then reports the syntax error.
        if dashboard and query_class not in ("READ_ONLY", "UNKNOWN"):
            raise ClickHouseError.front(
                "READONLY", "Cannot execute query in readonly mode: the dashboard user is read-only (dashboard profile)")
        if readonly and query_class not in ("READ_ONLY", "UNKNOWN"):
            why = ("For queries over HTTP, method GET implies readonly. You should use method POST for "
                   "modifying queries") if readonly == "GET" else f"readonly={readonly}"
            raise ClickHouseError.front("READONLY", f"Cannot execute query in readonly mode. {why}")
        is_set = query_class == "CONTROL" and bool(_SET_RE.match(statement))
        if is_set and _READONLY_WORD_RE.search(statement):
            raise ClickHouseError.front(
                "READONLY", "Changing 'readonly' is not allowed on the embedded ClickHouse front")
        def run() -> QueryOutcome:
            return self._on_handle(self.dashboards if dashboard else self.writers, statement, data, insert_target,
                                   database, settings, query_params, default_format, query_class, started)

        if dashboard and use_cache and self.cache is not None and query_class == "READ_ONLY" and insert_target is None:
            key = (statement, database, default_format, tuple(settings), tuple(sorted(query_params.items())))
            return self.cache.get_or_run(key, run, self.wait_s)
        return run()

    def _on_handle(self, pool: HandlePool, statement: str, data: Optional[bytes],
                   insert_target: Optional[Tuple[str, str]], database: str, settings: List[Tuple[str, str]],
                   query_params: Dict[str, str], default_format: str, query_class: str,
                   started: float) -> QueryOutcome:
        handle = pool.acquire()
        try:
            if self.closed:
                raise ClickHouseError.front("ABORTED", "The server is shutting down")
            handle.use(database)
            scoped = with_insert_settings(insert_target[0], settings) if insert_target is not None and settings else None
            handle.apply_settings(settings, in_statement=scoped is not None)
            if scoped is not None:
                insert_target = (scoped, insert_target[1])
            # A SET or USE in the statement itself changes the session: put it back right after.
            changes_session = query_class in ("CONTROL", "UNKNOWN")
            try:
                if insert_target is not None:
                    return self._insert(handle, insert_target, data or b"", started)
                return self._query(handle, statement, default_format, query_params, query_class)
            finally:
                if changes_session:
                    try:
                        handle.restore_settings()
                    except Exception as exc:  # never hide the query's own outcome behind this
                        handle.applied = None
                        sys.stderr.write(f"embedded ClickHouse: could not restore settings: {exc}\n")
                        sys.stderr.flush()
                    handle.database = None  # a USE in the statement changed it: set it again next time
        finally:
            pool.release(handle)

    def _insert(self, handle: Handle, target: Tuple[str, str], data: bytes, started: float) -> QueryOutcome:
        head, fmt = target
        try:
            inserter = handle.conn.send_insert(head, fmt)
        except Exception as exc:
            raise parse_engine_error(str(exc)) from None
        try:
            if data:
                inserter.append(data)
            res = inserter.finish()
        except Exception as exc:
            try:
                inserter.cancel()
            except Exception:
                pass
            raise parse_engine_error(str(exc)) from None
        elapsed_ns = (time.monotonic() - started) * 1e9
        summary = summary_dict(
            written_rows=res.rows_written, written_bytes=res.bytes_written,
            result_rows=res.rows_written, result_bytes=res.bytes_written, elapsed_ns=elapsed_ns,
        )
        return QueryOutcome(b"", None, False, summary)

    def _query(self, handle: Handle, statement: str, default_format: str, query_params: Dict[str, str],
               query_class: str) -> QueryOutcome:
        res = handle.run(statement, default_format, query_params)
        body = bytes(res.bytes()) if res is not None else b""
        fmt = output_format_of(statement) or default_format

        def stat(name: str) -> int:
            fn = getattr(res, name, None)
            try:
                return int(fn()) if fn else 0
            except Exception:
                return 0

        written_rows = stat("rows_written")
        written_bytes = stat("bytes_written")
        read_rows = stat("storage_rows_read")
        read_bytes = stat("storage_bytes_read")
        has_output = query_class == "READ_ONLY" or bool(body)
        if has_output:
            result_rows, result_bytes = stat("rows_read"), stat("bytes_read")
        else:
            result_rows, result_bytes = written_rows, written_bytes
        elapsed = getattr(res, "elapsed", None)
        elapsed_ns = float(elapsed()) * 1e9 if elapsed else 0
        summary = summary_dict(read_rows, read_bytes, written_rows, written_bytes, read_rows,
                               result_rows, result_bytes, elapsed_ns)
        return QueryOutcome(body, fmt if has_output else None, has_output, summary)

    def close(self, timeout: float = SHUTDOWN_GRACE_S) -> None:
        """Waits for in-flight requests (up to ``timeout``), closes every handle, the main one last
        (the engine flushes and stops with its last connection)."""
        with self.closed_lock:
            if self.closed:
                return
            self.closed = True
        for pool in (self.writers, self.dashboards):
            if pool is None:
                continue
            for h in pool.drain(timeout):
                try:
                    h.conn.close()
                except Exception:
                    pass
        self._main.conn.close()
        shutil.rmtree(self.config_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------
class FrontServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, handler, *, engine: Optional[Engine], users: Dict[str, str],
                 dashboard_user: Optional[str], display_name: str, max_body_bytes: int, verbose: bool):
        self.engine = engine
        self.users = users
        self.dashboard_user = dashboard_user
        self.display_name = display_name
        self.max_body_bytes = max_body_bytes
        self.verbose = verbose
        self.stopping = threading.Event()
        self.handlers_lock = threading.Lock()
        self.handlers: set = set()
        super().__init__(address, handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return  # a client went away or an idle keep-alive connection timed out: nothing to report
        super().handle_error(request, client_address)

    def close_idle_connections(self) -> None:
        with self.handlers_lock:
            idle = [h for h in self.handlers if not h.busy]
        for h in idle:
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait_for_handlers(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.handlers_lock:
                if not self.handlers:
                    return True
            self.close_idle_connections()
            time.sleep(0.05)
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "speedlayer-chdb"
    timeout = SOCKET_IDLE_TIMEOUT_S
    server: FrontServer

    def setup(self):
        super().setup()
        # Headers and body go out as separate writes; without TCP_NODELAY the body waits for the
        # client's delayed ACK on a kept-alive connection (~40 ms per request).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.busy = False
        with self.server.handlers_lock:
            self.server.handlers.add(self)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.handlers_lock:
                self.server.handlers.discard(self)

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass  # one line per request is written by log_request_line, and only with --verbose

    # -- dispatch --
    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _dispatch(self):
        self.busy = True
        started = time.monotonic()
        self._status = 0
        self._info = ""
        self._body_consumed = False
        try:
            url = urlsplit(self.path)
            path = url.path or "/"
            pairs = parse_qsl(url.query, keep_blank_values=True)
            if path in ("/ping", "/replicas_status") or (path == "/" and self.command in ("GET", "HEAD") and not any(k == "query" for k, _ in pairs)):
                self._drain_body()
                self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            elif path == "/" or path == "":
                self._handle_query(pairs)
            else:
                self._drain_body()
                self._send(404, f"There is no handle {path}\n\nUse / or /ping for health checks.\n".encode(),
                           {"Content-Type": "text/plain; charset=UTF-8"})
        except ConnectionError:
            self.close_connection = True
        except Exception:  # a bug in the front: report it like ClickHouse reports std::exception
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            self.close_connection = True
            try:
                err = ClickHouseError(ERROR_CODES["STD_EXCEPTION"], "STD_EXCEPTION",
                                      f"std::exception. Internal error of the embedded front: {sys.exc_info()[1]}")
                self._send_error(err, str(uuid.uuid4()))
            except Exception:
                pass
        finally:
            if self.server.stopping.is_set():
                self.close_connection = True
            self.busy = False
            if self.server.verbose:
                self._log_request_line(started)

    def _log_request_line(self, started: float) -> None:
        url = urlsplit(self.path)
        shown = [(k, "****" if k == "password" else v[:200]) for k, v in parse_qsl(url.query, keep_blank_values=True)]
        target = url.path + ("?" + urlencode(shown) if shown else "")
        ms = (time.monotonic() - started) * 1000
        sys.stdout.write(f"[chdb-front] {self.command} {target} -> {self._status} {ms:.1f} ms {self._info}\n")
        sys.stdout.flush()

    # -- bodies --
    def _pending_body(self) -> bool:
        if self._body_consumed:
            return False
        return "chunked" in (self.headers.get("Transfer-Encoding") or "").lower() or \
            int(self.headers.get("Content-Length") or 0) > 0

    def _drain_body(self) -> None:
        """Reads and discards a request body we will not use, so the connection stays usable."""
        if not self._pending_body():
            return
        try:
            self._read_body(limit=None)
        except ClickHouseError:
            self.close_connection = True

    def _read_body(self, limit: Optional[int]) -> bytes:
        """The raw (still encoded) request body; with a limit, refuses bodies larger than it."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        keep = limit is not None
        self._body_consumed = True  # from here on the body is read (or the connection is dropped)
        if "chunked" in te:
            out = bytearray()
            total = 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("connection closed inside a chunked body")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    raise ClickHouseError.front("BAD_ARGUMENTS", "Malformed chunked request body")
                if size == 0:
                    while True:  # trailers
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if keep and total > limit:
                    keep = False  # go on reading (and discarding) so the error can be sent cleanly
                    out = bytearray()
                remaining = size
                while remaining:
                    piece = self.rfile.read(min(remaining, 1 << 20))
                    if not piece:
                        raise ConnectionError("connection closed inside a chunked body")
                    if keep:
                        out += piece
                    remaining -= len(piece)
                self.rfile.readline(3)  # CRLF after the chunk
            if limit is not None and total > limit:
                raise body_too_large(limit)
            return bytes(out)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            if self.command == "POST":
                self.close_connection = True
                raise ClickHouseError.front(
                    "HTTP_LENGTH_REQUIRED",
                    "The Transfer-Encoding is not chunked and there is no Content-Length header for POST request",
                )
            return b""
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            raise ClickHouseError.front("BAD_ARGUMENTS", f"Bad Content-Length: {length_header!r}")
        if limit is not None and length > limit:
            self._discard(length)
            raise body_too_large(limit)
        if limit is None:
            self._discard(length)
            return b""
        data = self.rfile.read(length)
        if len(data) != length:
            raise ConnectionError("connection closed inside the request body")
        return data

    def _discard(self, length: int) -> None:
        remaining = length
        while remaining > 0:
            piece = self.rfile.read(min(remaining, 1 << 20))
            if not piece:
                raise ConnectionError("connection closed inside the request body")
            remaining -= len(piece)

    # -- queries --
    def _handle_query(self, pairs: List[Tuple[str, str]]) -> None:
        srv = self.server
        http, query_params, settings = split_params(pairs)
        query_id = http.get("query_id") or self.headers.get("X-ClickHouse-Query-Id") or str(uuid.uuid4())
        self._query_id = query_id
        try:
            user, password = credentials_of(self.headers, http)
            user = check_credentials(user, password, srv.users)

            if truthy(http.get("compress")) or truthy(http.get("decompress")):
                raise ClickHouseError.front(
                    "NOT_IMPLEMENTED",
                    "ClickHouse's native compression (compress=1 / decompress=1: its own compressed-block framing) is not supported by "
                    "the embedded ClickHouse front. Disable it in the client (Java client-v2: "
                    "compressServerResponse(false), compressClientRequest(false)) or use HTTP gzip compression",
                )
            raw = self._read_body(srv.max_body_bytes) if self.command == "POST" else b""
            body = decompress_body(raw, self.headers.get("Content-Encoding", ""), srv.max_body_bytes)

            statement = http.get("query", "")
            data: Optional[bytes] = None
            insert_target: Optional[Tuple[str, str]] = None
            content_type = self.headers.get("Content-Type") or ""
            if content_type.lower().startswith("multipart/form-data"):
                for name, value, filename in parse_multipart(body, content_type):
                    if filename is not None:
                        raise ClickHouseError.front(
                            "NOT_IMPLEMENTED", "External data (multipart file parts) is not supported by the embedded ClickHouse front"
                        )
                    if name == "query":
                        statement += value.decode("utf-8")
                    elif name.startswith("param_"):
                        query_params.setdefault(name[len("param_"):], value.decode("utf-8"))
            elif statement and body:
                target = split_insert(statement)
                if target is not None:
                    insert_target, data = target, body
                else:
                    statement = statement + "\n" + self._text(body)
            elif body:
                statement = self._text(body)
            elif statement:
                statement = statement + "\n"

            if not statement.strip():
                raise ClickHouseError.front("SYNTAX_ERROR", "Empty query")

            readonly = None
            if self.command in ("GET", "HEAD"):
                readonly = "GET"
            elif truthy(http.get("readonly")) or (http.get("readonly") or "").strip() == "2":
                readonly = http.get("readonly", "").strip()
            database = self.headers.get("X-ClickHouse-Database") or http.get("database") or "default"
            default_format = self.headers.get("X-ClickHouse-Format") or http.get("default_format") or "TabSeparated"

            outcome = srv.engine.execute(
                statement=statement, data=data, insert_target=insert_target, database=database,
                settings=settings, query_params=query_params, default_format=default_format, readonly=readonly,
                dashboard=user == srv.dashboard_user,
                use_cache=(http.get("use_query_cache") or "1").strip().lower() not in ("0", "false"),
            )
        except ClickHouseError as err:
            self._drain_body()
            # As in ClickHouse, an error after authentication goes through the (compressed) output.
            encoding = None if err.name == "AUTHENTICATION_FAILED" else self._response_encoding(http)
            self._send_error(err, query_id, encoding)
            return

        headers = {
            "Content-Type": content_type_for(outcome.fmt),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self._timezone(settings),
            "X-ClickHouse-Summary": json.dumps(outcome.summary, separators=(",", ":")),
        }
        if outcome.fmt:
            headers["X-ClickHouse-Format"] = outcome.fmt
        payload = outcome.body
        encoding = self._response_encoding(http)
        if encoding and payload:
            payload = compress_response(payload, encoding, self._compression_level(http.get("http_zlib_compression_level")))
            headers["Content-Encoding"] = encoding
        self._info = f"rows={outcome.summary['result_rows']} written={outcome.summary['written_rows']}"
        self._send(200, payload, headers)

    def _text(self, body: bytes) -> str:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise ClickHouseError.front(
                "BAD_ARGUMENTS",
                "The query text is not valid UTF-8. Send binary INSERT data in the body with the statement "
                "(INSERT ... FORMAT <format>) in the 'query' URL parameter",
            )

    @staticmethod
    def _compression_level(value: Optional[str]) -> int:
        try:
            return max(1, min(9, int(value))) if value else 3
        except ValueError:
            return 3

    def _response_encoding(self, http: Dict[str, str]) -> Optional[str]:
        """The Content-Encoding of the response: only when asked with enable_http_compression=1."""
        if not truthy(http.get("enable_http_compression")):
            return None
        return choose_response_encoding(self.headers.get("Accept-Encoding"))

    def _timezone(self, settings: List[Tuple[str, str]]) -> str:
        for name, value in settings:
            if name == "session_timezone" and value:
                return value
        return self.server.engine.timezone

    # -- responses --
    def _base_headers(self) -> Dict[str, str]:
        return {"X-ClickHouse-Server-Display-Name": self.server.display_name}

    def _send(self, status: int, payload: bytes, headers: Dict[str, str]) -> None:
        self._status = status
        self.send_response(status)
        for key, value in {**self._base_headers(), **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection or self.server.stopping.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Connection", "Keep-Alive")
            self.send_header("Keep-Alive", f"timeout={KEEP_ALIVE_ADVERTISED_S}")
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)
        self.wfile.flush()

    def _send_error(self, err: ClickHouseError, query_id: str, encoding: Optional[str] = None) -> None:
        version = self.server.engine.version if self.server.engine else "unknown"
        payload = (err.text(version) + "\n").encode("utf-8")
        self._info = f"error {err.code} {err.name or ''}"
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Exception-Code": str(err.code),
        }
        if err.http_status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="ClickHouse server HTTP API"'
        if encoding:
            payload = compress_response(payload, encoding, 3)
            headers["Content-Encoding"] = encoding
        self._send(err.http_status, payload, headers)


# ---------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="The ClickHouse engine (chDB) behind a partial ClickHouse HTTP interface.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8123)
    p.add_argument("--data-dir", required=True, help="where the engine keeps its databases (created if missing)")
    p.add_argument("--user", default="default")
    p.add_argument("--password", default=None,
                   help="default: the environment variable SPEEDLAYER_CLICKHOUSE_PASSWORD, else empty")
    p.add_argument("--pool-size", type=int, default=4,
                   help="engine handles for --user (queries and inserts running at once; default 4)")
    p.add_argument("--dashboard-user", default=None,
                   help="a read-only user with the dashboard profile and its own handles (password: "
                        "the environment variable SPEEDLAYER_CLICKHOUSE_DASHBOARD_PASSWORD)")
    p.add_argument("--dashboard-profile", default='{"max_threads": 1}',
                   help="the dashboard user's settings as JSON, each an upper bound (priority: a lower bound), "
                        f"from {sorted(DASHBOARD_PROFILE_SETTINGS)}")
    p.add_argument("--dashboard-pool-size", type=int, default=4, help="engine handles for --dashboard-user (default 4)")
    p.add_argument("--dashboard-cache-ms", type=int, default=0,
                   help="identical dashboard reads within this many ms share one answer (0: off; "
                        "use_query_cache=0 on a request bypasses it)")
    p.add_argument("--display-name", default=None, help="X-ClickHouse-Server-Display-Name (default: host name)")
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    p.add_argument("--verbose", action="store_true", help="one log line per request")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    password = args.password if args.password is not None else os.environ.get("SPEEDLAYER_CLICKHOUSE_PASSWORD", "")
    users = {args.user: password}
    dashboard_profile = None
    if args.dashboard_user:
        dashboard_password = os.environ.get("SPEEDLAYER_CLICKHOUSE_DASHBOARD_PASSWORD", "")
        if args.dashboard_user == args.user or not dashboard_password:
            sys.stderr.write("embedded ClickHouse: --dashboard-user needs its own name and a password in "
                             "SPEEDLAYER_CLICKHOUSE_DASHBOARD_PASSWORD\n")
            return 2
        users[args.dashboard_user] = dashboard_password
        try:
            dashboard_profile = {k: int(v) for k, v in json.loads(args.dashboard_profile).items()}
            users_config_xml(dashboard_profile)
        except (ValueError, AttributeError) as exc:
            sys.stderr.write(f"embedded ClickHouse: bad --dashboard-profile: {exc}\n")
            return 2
    # The server reports times in UTC, like a ClickHouse server configured with <timezone>UTC</timezone>.
    os.environ["TZ"] = "UTC"
    if hasattr(time, "tzset"):
        time.tzset()
    data_dir = os.path.abspath(args.data_dir)
    # Listen first (a busy port fails fast, before the data directory is touched); requests that come
    # in before the engine is open wait in the listen backlog.
    try:
        server = FrontServer(
            (args.host, args.port), Handler, engine=None, users=users, dashboard_user=args.dashboard_user,
            display_name=args.display_name or socket.gethostname(), max_body_bytes=args.max_body_bytes,
            verbose=args.verbose,
        )
    except OSError as exc:
        sys.stderr.write(f"embedded ClickHouse: cannot listen on {args.host}:{args.port}: {exc}\n")
        return 1
    try:
        os.makedirs(data_dir, exist_ok=True)
        engine = Engine(data_dir, pool_size=args.pool_size, dashboard_profile=dashboard_profile,
                        dashboard_pool_size=args.dashboard_pool_size, dashboard_cache_ms=args.dashboard_cache_ms)
    except ImportError as exc:
        server.server_close()
        sys.stderr.write(f"embedded ClickHouse: chdb is not installed for {sys.executable} ({exc}); "
                         "run it with the virtualenv that speedlayer builds (requirements.txt)\n")
        return 1
    except Exception as exc:
        server.server_close()
        sys.stderr.write(f"embedded ClickHouse: cannot open the data directory {data_dir}: {exc}\n")
        return 1
    server.engine = engine

    def stop(signum, _frame):
        if not server.stopping.is_set():
            server.stopping.set()
            threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    host, port = server.server_address[:2]
    sys.stdout.write(f"ready on http://{host}:{port} (chdb {engine.chdb_version}, ClickHouse {engine.version})\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stopping.set()
        server.close_idle_connections()
        finished = server.wait_for_handlers(SHUTDOWN_GRACE_S)
        server.server_close()
        engine.close()
        sys.stdout.write("stopped" + ("" if finished else " (some connections were still open)") + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
