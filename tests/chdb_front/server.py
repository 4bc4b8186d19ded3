#!/usr/bin/env python3
"""chdb_front: a small HTTP front over the embedded ClickHouse engine chdb.

TEST EQUIPMENT (tests and the local demo), not a ClickHouse server. No modern
ClickHouse server can be installed on the development machines, so this speaks
the subset of the ClickHouse HTTP interface that the Rust `clickhouse` crate
(0.15) uses, over one in-process `chdb.session.Session(DIR)`:

  GET / , GET /ping              -> "Ok.\\n" (readiness)
  POST /?...                     query in the body, or in `query=` (the body is
                                 then appended after a newline, as the server
                                 does: INSERT data), or a multipart/form-data
                                 body with `query` and `param_<name>` fields
  GET /?query=...                read-only queries
  URL: database=, default_format=, param_<name>=, decompress=1 (ClickHouse
       native LZ4 blocks, what the crate sends for inserts), readonly=1|2
       (emulated: only SELECT/WITH/SHOW/DESCRIBE/EXISTS/EXPLAIN run), any
       other ClickHouse setting (applied with SET for this request only, reset
       afterwards; an unknown one fails like the server: code 115). HTTP-only
       parameters (compression, progress headers, session/query ids, ...) are
       accepted and ignored.
  Auth: X-ClickHouse-User/X-ClickHouse-Key, basic auth or user=/password=;
        checked only when --user is given (wrong -> HTTP 403, code 516).
  Output: FORMAT in the query, else default_format, else TabSeparated; the
          body is chdb's raw bytes, never compressed (no Content-Encoding).
  Errors: status mapped from the exception code as the server does (62 -> 400,
          60 -> 404, 516 -> 403, 159 -> 408, others 500), header
          X-ClickHouse-Exception-Code, body = "Code: N. DB::Exception: ...".

Not done: sessions (session_id), query cancellation, progress headers,
compressed responses, external tables, zstd-compressed inserts, streaming (the
whole request and result are held in memory), concurrency (one lock around the
engine: requests run one at a time), multi-statement rejection (chdb runs
"SELECT 1; SELECT 2"), per-user rights. URL settings last one request, but a
SET sent as a query persists in the engine (the server forgets it after the request).
The engine's time zone is --timezone (default UTC), not the machine's.

Usage: server.py --data DIR [--host 127.0.0.1] [--port 0] [--user U --password P]
                 [--timezone UTC]
The first stdout line is "listening on http://HOST:PORT" (flushed) once the
engine is open and the socket bound; SIGTERM/SIGINT stop it cleanly.
"""
import argparse
import base64
import json
import os
import re
import signal
import struct
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import lz4.block

# Request parameters that are HTTP-interface options, not engine settings.
HTTP_ONLY = {
    "query", "database", "default_format", "decompress", "compress", "user", "password",
    "query_id", "session_id", "session_timeout", "session_check", "role", "quota_key",
    "wait_end_of_query", "buffer_size", "enable_http_compression", "http_zlib_compression_level",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms", "add_http_cors_header",
    "http_native_compression_disable_checksumming_on_decompress", "client_protocol_version",
    "stacktrace", "http_response_buffer_size", "http_wait_end_of_query",
    "cancel_http_readonly_queries_on_client_close", "readonly",
}
# ClickHouse's exceptionCodeToHTTPStatus (src/Server/HTTP), codes checked with errorCodeToName.
STATUS_OF = {194: 401, 779: 415, 229: 413, 48: 501, 381: 411, 159: 408}
STATUS_OF.update(dict.fromkeys((192, 193, 516, 512, 497), 403))
STATUS_OF.update(dict.fromkeys((36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37,
                                123, 8, 167, 168, 223, 62, 117, 53, 321), 400))
STATUS_OF.update(dict.fromkeys((60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511), 404))
STATUS_OF.update(dict.fromkeys((209, 76, 439), 503))
CONTENT_TYPE = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8", "TSV": "text/tab-separated-values; charset=UTF-8",
    "JSON": "application/json; charset=UTF-8", "JSONCompact": "application/json; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent", "CSVWithNames": "text/csv; charset=UTF-8; header=present",
}
BINARY_FORMATS = ("RowBinary", "Native", "Parquet", "Arrow", "ORC", "Avro")
NOT_WIRE_FORMATS = {"dataframe", "datastore", "arrowtable", "debug"}  # chdb-python-only outputs

FORMAT_RE = re.compile(r"\bFORMAT\s+(\w+)(?:\s+SETTINGS\b[^;]*)?\s*;?\s*\Z", re.I)
INSERT_RE = re.compile(rb"\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+(\w+)[ \t]*(?:\r?\n|\Z)", re.I | re.S)
READ_RE = re.compile(r"(?:\s+|--[^\n]*\n|/\*.*?\*/|\()*(SELECT|WITH|SHOW|DESC|DESCRIBE|EXISTS|EXPLAIN)\b",
                     re.I | re.S)
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class CHError(Exception):
    def __init__(self, code, text):
        super().__init__(text)
        self.code, self.text = code, text


def ch_error(code, name, text):
    return CHError(code, f"Code: {code}. DB::Exception: {text}. ({name})")


def from_engine(exc):
    """chdb raises RuntimeError/ChdbError whose text holds 'Code: N. DB::Exception: ...'."""
    msg = str(exc)
    m = re.search(r"Code: (\d+)\. ", msg)
    return CHError(int(m.group(1)), msg[m.start():]) if m else CHError(1001, msg)


def sql_string(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def decompress_native(buf):
    """ClickHouse native compressed blocks: 16-byte checksum (not verified), method byte,
    u32 size of (9-byte header + payload), u32 decompressed size, payload."""
    out, i = [], 0
    while i < len(buf):
        if len(buf) - i < 25:
            raise ch_error(271, "CANNOT_DECOMPRESS", "Truncated compressed block header")
        method = buf[i + 16]
        csize, usize = struct.unpack_from("<II", buf, i + 17)
        payload = buf[i + 25:i + 16 + csize]
        if csize < 9 or len(payload) != csize - 9:
            raise ch_error(271, "CANNOT_DECOMPRESS", "Truncated compressed block")
        if method == 0x82:
            try:
                out.append(lz4.block.decompress(payload, uncompressed_size=usize))
            except lz4.block.LZ4BlockError as e:
                raise ch_error(271, "CANNOT_DECOMPRESS", f"Cannot decompress LZ4 block: {e}")
        elif method == 0x02:
            out.append(payload)
        else:
            raise ch_error(89, "UNKNOWN_COMPRESSION_METHOD", f"Unknown compression method {method:#x}")
        i += 16 + csize
    return b"".join(out)


class Engine:
    def __init__(self, path):
        from chdb import session as chdb_session  # after TZ is set: the engine reads it once
        self.session = chdb_session.Session(path)
        self.lock = threading.Lock()

    def close(self):
        with self.lock:
            self.session.close()

    def _q(self, sql, fmt="TabSeparated", params=None):
        try:
            return self.session.query(sql, fmt, params=params or {})
        except Exception as e:  # chdb raises RuntimeError / ChdbError
            raise from_engine(e) from None

    def execute(self, sql, data, database, default_format, settings, params, readonly):
        """sql: bytes, data: bytes or None (appended after a newline, as the server does).
        Returns (body bytes, format name or None, summary dict)."""
        full = sql if data is None else sql + b"\n" + data
        ins = INSERT_RE.match(full)
        text = None
        if ins is None:
            try:
                text = full.decode("utf-8")
            except UnicodeDecodeError:
                raise ch_error(62, "SYNTAX_ERROR", "Query is not valid UTF-8") from None
            if not text.strip():
                raise ch_error(62, "SYNTAX_ERROR", "Empty query")
        if readonly and (ins is not None or not READ_RE.match(text)):
            raise ch_error(164, "READONLY", "Cannot execute query in readonly mode")
        fmt = None
        if text is not None:
            m = FORMAT_RE.search(text)
            fmt = m.group(1) if m else (default_format or "TabSeparated")
            if fmt.lower() in NOT_WIRE_FORMATS:
                raise ch_error(73, "UNKNOWN_FORMAT", f"Unknown output format {fmt}")
        with self.lock:
            self._q(f"USE `{(database or 'default').replace('`', '``')}`")
            applied = []
            try:
                for name, value in settings:
                    self._q(f"SET {name} = {sql_string(value)}")
                    applied.append(name)
                if ins is not None:
                    return b"", None, self._insert(ins, full[ins.end():])
                res = self._q(text, fmt, params)
                return res.bytes(), fmt, {
                    "read_rows": res.rows_read(), "read_bytes": res.bytes_read(),
                    "written_rows": res.rows_written(), "written_bytes": res.bytes_written(),
                    "elapsed_ns": int(res.elapsed() * 1e9)}
            finally:
                for name in applied:
                    self._q(f"SET {name} = DEFAULT")

    def _insert(self, m, payload):
        """INSERT INTO t(cols) FORMAT X + raw data (RowBinary, RowBinaryWithNamesAndTypes,
        JSONEachRow, ...): chdb's streaming inserter parses the bytes natively."""
        target, fmt = m.group(1).decode("utf-8"), m.group(2).decode("ascii")
        try:
            inserter = self.session.send_insert(target, fmt)
            if payload:
                inserter.append(payload)
            r = inserter.finish()
        except Exception as e:
            raise from_engine(e) from None
        return {"read_rows": 0, "read_bytes": 0, "written_rows": r.rows_written,
                "written_bytes": r.bytes_written, "elapsed_ns": int(r.elapsed * 1e9)}


def parse_multipart(body, content_type):
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise ch_error(36, "BAD_ARGUMENTS", "multipart/form-data without boundary")
    fields = {}
    for part in body.split(b"--" + m.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            fields[name.group(1).decode()] = value[:-2] if value.endswith(b"\r\n") else value
    return fields


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms to
    # every request on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "chdb-front"

    def log_message(self, fmt, *args):  # quiet: tests read stdout/stderr
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path in ("/", "/ping") and "query" not in dict(parse_qsl(url.query)):
            return self.reply(200, b"Ok.\n", [("Content-Type", "text/html; charset=UTF-8")])
        self.handle_query(url)

    def do_POST(self):
        self.handle_query(urlsplit(self.path))

    def check_auth(self, q):
        want = self.server.auth
        if want is None:
            return
        user = self.headers.get("X-ClickHouse-User") or q.get("user") or "default"
        key = self.headers.get("X-ClickHouse-Key") or q.get("password") or ""
        basic = self.headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            user, _, key = base64.b64decode(basic[6:]).decode("utf-8", "replace").partition(":")
        if (user, key) != want:
            raise ch_error(516, "AUTHENTICATION_FAILED", f"{user}: Authentication failed: password is "
                           "incorrect, or there is no user with such name")

    def handle_query(self, url):
        q = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self.read_body() if self.command == "POST" else b""
        if url.path != "/":
            return self.reply(404, b"There is no handle " + url.path.encode() + b"\n")
        try:
            self.check_auth(q)
            params = {k[6:]: v for k, v in q.items() if k.startswith("param_")}
            ctype = self.headers.get("Content-Type", "")
            if ctype.lower().startswith("multipart/form-data"):
                fields = parse_multipart(body, ctype)
                params.update({k[6:]: v.decode("utf-8") for k, v in fields.items() if k.startswith("param_")})
                sql, data = fields.get("query", q.get("query", "").encode()), None
            elif "query" in q:
                sql, data = q["query"].encode(), body
                if q.get("decompress") in ("1", "true") and data:
                    data = decompress_native(data)
                if not data:
                    data = None
            else:
                sql, data = body, None
            settings = [(k, v) for k, v in q.items() if k not in HTTP_ONLY and not k.startswith("param_")]
            for k, _ in settings:
                if not NAME_RE.match(k):
                    raise ch_error(115, "UNKNOWN_SETTING", f"Unknown setting '{k}'")
            readonly = self.command == "GET" or q.get("readonly", "0") not in ("0", "")
            out, fmt, summary = self.server.engine.execute(
                sql, data, q.get("database"), q.get("default_format"), settings, params, readonly)
        except Exception as e:  # anything else is reported as the server would: code 1001
            if not isinstance(e, CHError):
                print(f"chdb_front: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                e = ch_error(1001, "STD_EXCEPTION", f"{type(e).__name__}: {e}")
            self.reply(STATUS_OF.get(e.code, 500), e.text.rstrip("\n").encode() + b"\n",
                       [("Content-Type", "text/plain; charset=UTF-8"),
                        ("X-ClickHouse-Exception-Code", str(e.code))])
            return
        headers = [("X-ClickHouse-Query-Id", q.get("query_id") or str(uuid.uuid4())),
                   ("X-ClickHouse-Summary",
                    json.dumps({k: str(v) for k, v in summary.items()}, separators=(",", ":")))]
        if fmt:
            binary = fmt.startswith(BINARY_FORMATS)
            headers += [("X-ClickHouse-Format", fmt), ("Content-Type", CONTENT_TYPE.get(
                fmt, "application/octet-stream" if binary else "text/plain; charset=UTF-8"))]
        else:
            headers.append(("Content-Type", "text/plain; charset=UTF-8"))
        self.reply(200, out, headers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="chdb data directory (created if missing)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--user", help="require this user (default: accept any credentials)")
    ap.add_argument("--password", default="")
    ap.add_argument("--timezone", default="UTC", help="server time zone (ClickHouse's `timezone`)")
    args = ap.parse_args()
    os.environ["TZ"] = args.timezone  # chdb takes the server time zone from TZ

    engine = Engine(args.data)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.engine = engine
    server.auth = (args.user, args.password) if args.user is not None else None

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
