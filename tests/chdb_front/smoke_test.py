#!/usr/bin/env python3
"""Self-check of chdb_front/server.py: starts it on a free port with a temporary data
directory and speaks to it the way the Rust `clickhouse` crate 0.15 does.

Run with the venv that has requirements.txt installed:
    tests/.venv/bin/python tests/chdb_front/smoke_test.py
Prints one line per check and ends with "smoke_test: N passed, M failed"; exit 1 on failure.
"""
import http.client
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from base64 import b64encode
from urllib.parse import urlencode

import lz4.block

HERE = os.path.dirname(os.path.abspath(__file__))
USER, PASSWORD = "tester", "s3cret"
DDL = [  # exactly the source tables of docs/daily-report.md ("Source")
    """CREATE TABLE public_runs (id String, timestamp DateTime64(3, 'UTC'))
  ENGINE = MergeTree ORDER BY (timestamp, id)""",
    """CREATE TABLE public_sessions (id String, run_id String, org_id String,
  user_number String, duration Float64)
  ENGINE = MergeTree ORDER BY (org_id, run_id)""",
    """CREATE TABLE public_node_outputs (id String, run_id String, node_persistent_id String,
  flat_data String, timestamp DateTime64(3, 'UTC'))
  ENGINE = MergeTree ORDER BY (node_persistent_id, run_id)""",
    """CREATE TABLE public_nodes (id String, persistent_id String, org_id String, name String)
  ENGINE = MergeTree ORDER BY persistent_id""",
]
ORG, NODE = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


class Front:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="chdb_front_")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "server.py"), "--data", os.path.join(self.tmp.name, "data"),
             "--port", "0", "--user", USER, "--password", PASSWORD],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        self.port = int(line.rsplit(":", 1)[1])

    def request(self, method="POST", params=None, body=b"", headers=None, auth=(USER, PASSWORD)):
        h = {"Accept-Encoding": "lz4"}  # what the crate sends; replies must stay uncompressed
        if auth:
            h.update({"X-ClickHouse-User": auth[0], "X-ClickHouse-Key": auth[1]})
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request(method, "/" + ("?" + urlencode(params) if params else ""), body, h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def ok(self, sql, **params):
        status, headers, body = self.request(params=params, body=sql.encode())
        assert status == 200 and "x-clickhouse-exception-code" not in headers, (status, body)
        assert "content-encoding" not in headers
        return body

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self.tmp.cleanup()
        return code


def multipart(fields):
    boundary = "clickhouse-rs-boundary-" + uuid.uuid4().hex[:16]
    out = b""
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{value}\r\n").encode()
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def native_lz4(data, block=64):
    """ClickHouse native compressed blocks, as the crate sends with decompress=1."""
    out = b""
    for i in range(0, len(data), block):
        chunk = data[i:i + block]
        comp = lz4.block.compress(chunk, store_size=False)
        out += b"\0" * 16 + bytes([0x82]) + struct.pack("<II", len(comp) + 9, len(chunk)) + comp
    return out


def leb128(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def rb_string(buf, i):
    n, i = leb128(buf, i)
    return buf[i:i + n].decode(), i + n


def rb_str(s):
    b = s.encode()
    return bytes([len(b)]) + b  # short strings only


def check_ping(f):
    for path_ok in ("/", "/ping"):
        conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=10)
        conn.request("GET", path_ok)
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"Ok.\n")


def check_auth(f):
    status, headers, body = f.request(params={"query": "SELECT 1"}, auth=(USER, "wrong"))
    assert status == 403 and headers["x-clickhouse-exception-code"] == "516", (status, body)
    basic = "Basic " + b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    status, _, body = f.request(params={"query": "SELECT 1"}, auth=None, headers={"Authorization": basic})
    assert (status, body) == (200, b"1\n"), (status, body)


def check_schema(f):
    for db in ("it_a", "it_b"):
        f.ok(f"CREATE DATABASE {db}")
        for ddl in DDL:
            f.ok(ddl, database=db)  # unqualified names: database= must be honoured
    tables = f.ok("SHOW TABLES", database="it_a").decode().split()
    assert tables == ["public_node_outputs", "public_nodes", "public_runs", "public_sessions"], tables


def check_inserts(f):
    # 1. the crate's path: query= with FORMAT RowBinary, body = native LZ4 blocks, decompress=1
    rows = b""
    for i, ms in enumerate([1767225600123, 1767229200000, 1767312000000]):  # 2026-01-01 00:00:00.123 ...
        rows += rb_str(f"run{i}") + struct.pack("<q", ms)
    status, _, body = f.request(params={"database": "it_a", "decompress": "1",
                                        "query": "INSERT INTO `public_runs`(`id`,`timestamp`) FORMAT RowBinary"},
                                body=native_lz4(rows, block=7))
    assert status == 200, body
    # 2. JSONEachRow data in the body, statement in query=
    sessions = "".join(json.dumps({"id": f"s{i}", "run_id": f"run{i}", "org_id": ORG,
                                   "user_number": f"+1555000{i}", "duration": 60.0 * (i + 1)}) + "\n"
                       for i in range(3))
    status, _, body = f.request(params={"database": "it_a", "query": "INSERT INTO public_sessions FORMAT JSONEachRow"},
                                body=sessions.encode())
    assert status == 200, body
    # 3. plain INSERT ... VALUES in the body
    flat = json.dumps({"result.call.call_classification": "success", "result.transfer.transfer_success": True})
    f.ok("INSERT INTO public_node_outputs VALUES "
         f"('o0', 'run0', '{NODE}', '{flat}', '2026-01-01 00:01:00.000'),"
         f"('o1', 'run1', '{NODE}', '{{}}', '2026-01-01 01:01:00.000')", database="it_a")
    # 4. the crate's default (validated) insert: RowBinaryWithNamesAndTypes, LZ4
    cols = ["id", "persistent_id", "org_id", "name"]
    rows = bytes([4]) + b"".join(map(rb_str, cols)) + b"".join(rb_str("String") for _ in cols)
    rows += b"".join(rb_str(v) for v in ("n1", NODE, ORG, "broker node"))
    status, _, body = f.request(params={"database": "it_a", "decompress": "1", "query":
                                        "INSERT INTO `public_nodes`(`id`,`persistent_id`,`org_id`,`name`)"
                                        " FORMAT RowBinaryWithNamesAndTypes"}, body=native_lz4(rows))
    assert status == 200, body
    assert f.ok("SELECT name FROM public_nodes", database="it_a") == b"broker node\n"
    counts = f.ok("SELECT (SELECT count() FROM public_runs), (SELECT count() FROM public_sessions),"
                  " (SELECT count() FROM public_node_outputs)", database="it_a")
    assert counts == b"3\t3\t2\n", counts
    ts = f.ok("SELECT timestamp FROM public_runs WHERE id = 'run0'", database="it_a")
    assert ts == b"2026-01-01 00:00:00.123\n", ts


def check_params_rowbinary(f):
    sql = ("SELECT r.id AS id, s.duration AS duration, r.timestamp AS ts FROM public_runs AS r"
           " INNER JOIN public_sessions AS s ON s.run_id = r.id"
           " WHERE s.org_id = {org:String} AND r.timestamp >= {from:DateTime64(3, 'UTC')}"
           " AND r.timestamp < {to:DateTime64(3, 'UTC')} AND s.user_number NOT IN {excluded:Array(String)}"
           " ORDER BY r.timestamp")
    body, ctype = multipart({"query": sql, "param_org": ORG, "param_from": "2026-01-01 00:00:00.000",
                             "param_to": "2026-01-02 00:00:00.000", "param_excluded": "['+15550001']"})
    status, headers, out = f.request(params={"database": "it_a", "default_format": "RowBinaryWithNamesAndTypes"},
                                     body=body, headers={"Content-Type": ctype})
    assert status == 200, out
    assert headers["x-clickhouse-format"] == "RowBinaryWithNamesAndTypes"
    summary = json.loads(headers["x-clickhouse-summary"])
    assert int(summary["read_rows"]) > 0, summary
    ncols, i = leb128(out, 0)
    names, types = [], []
    for _ in range(ncols):
        name, i = rb_string(out, i)
        names.append(name)
    for _ in range(ncols):
        t, i = rb_string(out, i)
        types.append(t)
    assert names == ["id", "duration", "ts"], names
    assert types == ["String", "Float64", "DateTime64(3, 'UTC')"], types
    got = []
    while i < len(out):
        rid, i = rb_string(out, i)
        (duration, ms), i = struct.unpack_from("<dq", out, i), i + 16
        got.append((rid, duration, ms))
    assert got == [("run0", 60.0, 1767225600123)], got  # run1 is excluded, run2 is the next day


def check_json_extract(f):
    out = f.ok("SELECT run_id, JSONExtractString(flat_data, 'result.call.call_classification'),"
               " JSONExtractBool(flat_data, 'result.transfer.transfer_success')"
               " FROM public_node_outputs ORDER BY run_id FORMAT JSONEachRow", database="it_a")
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert [list(r.values()) for r in rows] == [["run0", "success", True], ["run1", "", False]], rows


def check_database_isolation(f):
    assert f.ok("SELECT count() FROM public_runs", database="it_b") == b"0\n"
    assert f.ok("SELECT currentDatabase()") == b"default\n"
    status, headers, body = f.request(params={"database": "it_c"}, body=b"SELECT 1")
    assert status == 404 and headers["x-clickhouse-exception-code"] == "81", (status, body)


def check_errors(f):
    for sql, status_want, code in [("SELEC 1", 400, "62"), ("SELECT * FROM nope", 404, "60"),
                                   ("SELECT throwIf(1)", 500, "395")]:
        status, headers, body = f.request(params={"database": "it_a"}, body=sql.encode())
        assert status == status_want and headers["x-clickhouse-exception-code"] == code, (sql, status, body)
        assert body.startswith(f"Code: {code}. DB::Exception:".encode()) and body.endswith(b"\n"), body
    # a bad RowBinary payload fails the insert and nothing is written
    status, headers, body = f.request(params={"database": "it_a", "decompress": "1",
                                              "query": "INSERT INTO public_runs(id, timestamp) FORMAT RowBinary"},
                                      body=native_lz4(b"\x05ab"))
    assert status == 500 and headers["x-clickhouse-exception-code"] == "33", (status, body)
    assert f.ok("SELECT count() FROM public_runs", database="it_a") == b"3\n"


def check_settings(f):
    status, headers, body = f.request(params={"max_execution_time": "0.3"}, body=b"SELECT sleep(1)")
    assert status == 408 and headers["x-clickhouse-exception-code"] == "159", (status, body)
    assert f.ok("SELECT getSetting('max_execution_time')") == b"0\n"  # reset after the request
    status, headers, body = f.request(params={"no_such_setting": "1"}, body=b"SELECT 1")
    assert status == 404 and headers["x-clickhouse-exception-code"] == "115", (status, body)
    f.ok("SELECT 1", wait_end_of_query="1", send_progress_in_http_headers="1", enable_http_compression="1")
    assert f.ok("SELECT 1", readonly="1", max_memory_usage="1000000000") == b"1\n"
    status, headers, body = f.request(params={"readonly": "1", "database": "it_a"},
                                      body=b"INSERT INTO public_nodes VALUES ('n', 'p', 'o', 'x')")
    assert headers.get("x-clickhouse-exception-code") == "164", (status, body)
    out = f.ok("SELECT 1 AS one FORMAT JSON", default_format="TabSeparated")
    assert json.loads(out)["data"] == [{"one": 1}], out


def check_misc(f):
    assert f.ok("SELECT timezone()") == b"UTC\n"  # --timezone default, whatever the machine's TZ
    status, _, body = f.request("GET", params={"query": "SELECT 1 + 1"})
    assert (status, body) == (200, b"2\n"), (status, body)
    status, headers, body = f.request("GET", params={"query": "CREATE DATABASE it_get"})
    assert headers.get("x-clickhouse-exception-code") == "164", (status, body)  # GET is read-only
    conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=10)
    conn.request("POST", "/nowhere", b"SELECT 1")
    assert conn.getresponse().status == 404


def main():
    checks = [check_ping, check_auth, check_schema, check_inserts, check_params_rowbinary,
              check_json_extract, check_database_isolation, check_errors, check_settings, check_misc]
    started = time.monotonic()
    front = Front()
    print(f"server up in {time.monotonic() - started:.1f}s on port {front.port}")
    passed = failed = 0
    try:
        for check in checks:
            try:
                check(front)
                passed += 1
                print(f"ok   {check.__name__}")
            except Exception:
                failed += 1
                print(f"FAIL {check.__name__}\n{traceback.format_exc()}")
    finally:
        code = front.stop()
    if code == 0:
        passed += 1
        print("ok   clean_shutdown")
    else:
        failed += 1
        print(f"FAIL clean_shutdown: exit code {code}")
    print(f"smoke_test: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
