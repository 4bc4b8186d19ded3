#!/usr/bin/env python3
"""Smoke test for a running Azurite blob service (stdlib only, no SDK).

Signs requests with Shared Key the way Azure Storage clients do, then:
create container -> put blob -> conditional put (If-None-Match: *, expect 409)
-> list with prefix -> get blob -> wrong key (expect 403) -> delete container.

Usage: python3 tests/azurite/smoke.py [ENDPOINT]
ENDPOINT defaults to $AZURITE_BLOB_ENDPOINT (e.g. http://127.0.0.1:PORT/devstoreaccount1).
Exit code 0 = everything behaved like Azure Storage; prints one line per step.
"""
import base64
import email.utils
import hashlib
import hmac
import http.client
import os
import sys
import urllib.parse
import uuid

ACCOUNT = "devstoreaccount1"
# The well-known development account key published in Microsoft's Azurite docs.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
API_VERSION = "2025-11-05"


def request(endpoint, method, path, query=None, body=b"", headers=None, key=KEY):
    query = query or {}
    headers = dict(headers or {})
    headers["x-ms-date"] = email.utils.formatdate(usegmt=True)
    headers["x-ms-version"] = API_VERSION
    if body:
        headers["Content-Length"] = str(len(body))
    base = urllib.parse.urlsplit(endpoint)
    url_path = base.path.rstrip("/") + path
    canon_headers = "".join(
        f"{k.lower()}:{v.strip()}\n" for k, v in sorted(headers.items(), key=lambda kv: kv[0].lower())
        if k.lower().startswith("x-ms-")
    )
    canon_resource = f"/{ACCOUNT}{urllib.parse.quote(url_path)}"
    for k in sorted(query):
        canon_resource += f"\n{k.lower()}:{query[k]}"
    h = {k.lower(): v for k, v in headers.items()}
    to_sign = "\n".join([
        method,
        h.get("content-encoding", ""),
        h.get("content-language", ""),
        h.get("content-length", ""),
        h.get("content-md5", ""),
        h.get("content-type", ""),
        "",  # Date (x-ms-date is used instead)
        h.get("if-modified-since", ""),
        h.get("if-match", ""),
        h.get("if-none-match", ""),
        h.get("if-unmodified-since", ""),
        h.get("range", ""),
    ]) + "\n" + canon_headers + canon_resource
    sig = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest())
    headers["Authorization"] = f"SharedKey {ACCOUNT}:{sig.decode()}"
    target = urllib.parse.quote(url_path)
    if query:
        target += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    if method in ("PUT", "POST") and not body:
        headers["Content-Length"] = "0"  # signed as "" (empty), but sent
    conn = http.client.HTTPConnection(base.hostname, base.port or 80, timeout=10)
    try:
        conn.request(method, target, body=body or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def main():
    endpoint = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AZURITE_BLOB_ENDPOINT")
    if not endpoint:
        sys.exit("usage: smoke.py ENDPOINT (or set AZURITE_BLOB_ENDPOINT)")
    container = "smoke-" + uuid.uuid4().hex[:12]
    blob = "window 2025-05-20/ü+=% report.csv"
    payload = b"user_name,total_sessions\nAnushka,42\n"
    steps = [
        ("create container", lambda: request(endpoint, "PUT", f"/{container}", {"restype": "container"}), 201),
        ("put blob", lambda: request(endpoint, "PUT", f"/{container}/{blob}", body=payload,
                                     headers={"x-ms-blob-type": "BlockBlob", "Content-Type": "text/csv"}), 201),
        ("put blob If-None-Match:*", lambda: request(endpoint, "PUT", f"/{container}/{blob}", body=payload,
                                                     headers={"x-ms-blob-type": "BlockBlob", "If-None-Match": "*"}), 409),
        ("list with prefix", lambda: request(endpoint, "GET", f"/{container}",
                                             {"restype": "container", "comp": "list", "prefix": "window "}), 200),
        ("get blob", lambda: request(endpoint, "GET", f"/{container}/{blob}"), 200),
        ("wrong key", lambda: request(endpoint, "GET", f"/{container}/{blob}",
                                      key=base64.b64encode(b"x" * 64).decode()), 403),
        ("delete container", lambda: request(endpoint, "DELETE", f"/{container}", {"restype": "container"}), 202),
    ]
    ok = True
    for name, fn, want in steps:
        status, body = fn()
        good = status == want
        if name == "get blob":
            good = good and body == payload
        if name == "list with prefix":
            good = good and "report.csv" in body.decode("utf-8", "replace")
        print(f"{'ok ' if good else 'FAIL'} {name}: HTTP {status} (want {want})")
        if not good:
            print("     " + body[:300].decode("utf-8", "replace"))
        ok = ok and good
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
