#!/usr/bin/env python3
"""A fake REST DNS API for examples/plugin-skeleton (python3 stdlib only).

This is a fake, not a DNS server: it answers no DNS queries and keeps its
zones in memory. It imitates the shape of a typical hosted-DNS REST API so
that the skeleton plugin has something real to talk to in tests:

    fakedns.py --port-file FILE --token TOKEN [--seed SEED.json]
               [--page-size N] [--throttle N]

It listens on 127.0.0.1, on an ephemeral port that it writes to FILE once
it accepts connections (written to FILE.tmp, then renamed).

Every /v1 request needs "Authorization: Bearer TOKEN" (401 otherwise).
All bodies are JSON; every error is

    {"error": {"code": "not_found", "message": "zone 'x' not found"}}

Endpoints (lists are paged: ?page=1.. &per_page=1..100, default
--page-size; each list answer carries "page", "per_page", "total_pages"):

    GET    /v1/zones[?name=APEX]                 {"zones": [{"id", "name"}]}
    GET    /v1/zones/ID/records[?name=N][&type=T] {"records": [RECORD]}
    POST   /v1/zones/ID/records   RECORD without id   201 {"record": RECORD}
    PUT    /v1/zones/ID/records/RID  RECORD          200 {"record": RECORD}
    DELETE /v1/zones/ID/records/RID                  204

RECORD is {"id", "name", "type", "ttl", "content"}: name is the absolute
owner name without the trailing dot (compared without regard to case),
one record per value. The content of a TXT record is its presentation
form, one or more quoted character-strings ("a" "b") of at most 255
octets each with \\" \\\\ and \\DDD escapes: anything else is a 400. A CNAME
beside any other record at the same name is a 409.

Test controls (no token needed):

    GET  /_fake/state     {"zones": {APEX: [RECORD, ...]}, "requests": [LINE, ...]}
                          LINE is "METHOD PATH?QUERY STATUS"
    --throttle N          the first N /v1 requests get 429 with Retry-After: 1

SEED.json: {"zones": {"example.com": [{"name", "type", "ttl", "content"}]}}
"""
import argparse
import http.server
import itertools
import json
import os
import re
import threading
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--seed")
ap.add_argument("--page-size", type=int, default=20)
ap.add_argument("--throttle", type=int, default=0)
args = ap.parse_args()

lock = threading.Lock()
ids = itertools.count(1)
zones = {}  # apex -> {"id": "zN", "records": [record]}
requests_seen = []
throttle_left = args.throttle

TXT_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def add_zone(apex):
    zones[apex] = {"id": "z%d" % next(ids), "records": []}
    return zones[apex]


def unescape(text):
    """The octets of one quoted string's inside: \\DDD is octet DDD, \\X is X."""
    out, i = bytearray(), 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1:i + 4].isdigit() and len(text[i + 1:i + 4]) == 3:
            out.append(int(text[i + 1:i + 4]) & 0xFF)
            i += 4
        elif text[i] == "\\":
            out += text[i + 1].encode()
            i += 2
        else:
            out += text[i].encode()
            i += 1
    return bytes(out)


def txt_strings(content):
    """The character-strings of a TXT presentation form; ApiError if malformed."""
    pos, out = 0, []
    content = content.strip()
    while pos < len(content):
        m = TXT_RE.match(content, pos)
        if not m:
            raise ApiError(400, "bad_content", "TXT content must be quoted strings")
        s = unescape(m.group(1))
        if len(s) > 255:
            raise ApiError(400, "bad_content", "TXT string longer than 255 octets")
        out.append(s)
        pos = m.end()
        while pos < len(content) and content[pos] == " ":
            pos += 1
    if not out:
        raise ApiError(400, "bad_content", "empty TXT content")
    return out


def check_record(zone_apex, body, rid=None):
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "body must be a JSON object")
    name, rtype = body.get("name"), body.get("type")
    ttl, content = body.get("ttl", 3600), body.get("content")
    if not isinstance(name, str) or not isinstance(rtype, str) or not isinstance(content, str):
        raise ApiError(400, "bad_request", "name, type and content are required strings")
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= 2147483647:
        raise ApiError(400, "bad_request", "ttl must be an integer 1..2147483647")
    name = name.lower()
    if name.endswith("."):
        raise ApiError(400, "bad_name", "names are written without the trailing dot")
    if name != zone_apex and not name.endswith("." + zone_apex):
        raise ApiError(400, "bad_name", "name '%s' is not in zone '%s'" % (name, zone_apex))
    rtype = rtype.upper()
    if rtype == "TXT":
        txt_strings(content)
    others = [r for r in zones[zone_apex]["records"] if r["name"] == name and r["id"] != rid]
    if (rtype == "CNAME" and others) or any(r["type"] == "CNAME" for r in others):
        raise ApiError(409, "conflict", "a CNAME at '%s' cannot have other records" % name)
    return {"name": name, "type": rtype, "ttl": ttl, "content": content}


def page_of(items, query):
    try:
        page = int(query.get("page", ["1"])[0])
        per_page = int(query.get("per_page", [str(args.page_size)])[0])
    except ValueError:
        raise ApiError(400, "bad_request", "page and per_page must be integers")
    if page < 1 or not 1 <= per_page <= 100:
        raise ApiError(400, "bad_request", "page >= 1, per_page 1..100")
    total = max(1, (len(items) + per_page - 1) // per_page)
    start = (page - 1) * per_page
    return items[start:start + per_page], {"page": page, "per_page": per_page,
                                           "total_pages": total}


def zone_by_id(zid):
    for apex, z in zones.items():
        if z["id"] == zid:
            return apex, z
    raise ApiError(404, "not_found", "zone '%s' not found" % zid)


def api(method, path, query, body):
    """One /v1 request under the lock: (status, JSON object or None)."""
    parts = [p for p in path.split("/") if p][1:]  # after "v1"
    if parts == ["zones"] and method == "GET":
        items = [{"id": z["id"], "name": apex} for apex, z in sorted(zones.items())]
        if "name" in query:
            want = query["name"][0].lower().rstrip(".")
            items = [z for z in items if z["name"] == want]
        items, meta = page_of(items, query)
        return 200, dict(zones=items, **meta)
    if len(parts) >= 3 and parts[0] == "zones" and parts[2] == "records":
        apex, z = zone_by_id(parts[1])
        if len(parts) == 3 and method == "GET":
            items = z["records"]
            if "name" in query:
                want = query["name"][0].lower().rstrip(".")
                items = [r for r in items if r["name"] == want]
            if "type" in query:
                items = [r for r in items if r["type"] == query["type"][0].upper()]
            items, meta = page_of(items, query)
            return 200, dict(records=items, **meta)
        if len(parts) == 3 and method == "POST":
            rec = check_record(apex, body)
            rec = dict(id="r%d" % next(ids), **rec)
            z["records"].append(rec)
            return 201, {"record": rec}
        if len(parts) == 4 and method in ("PUT", "DELETE"):
            idx = [i for i, r in enumerate(z["records"]) if r["id"] == parts[3]]
            if not idx:
                raise ApiError(404, "not_found", "record '%s' not found" % parts[3])
            if method == "DELETE":
                del z["records"][idx[0]]
                return 204, None
            rec = dict(id=parts[3], **check_record(apex, body, parts[3]))
            z["records"][idx[0]] = rec
            return 200, {"record": rec}
    raise ApiError(404 if method in ("GET", "POST", "PUT", "DELETE") else 405,
                   "not_found", "no such endpoint: %s %s" % (method, path))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # two writes per answer: no 40 ms delayed-ACK stall

    def log_message(self, fmt, *a):
        pass

    def reply(self, status, obj, headers=()):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        global throttle_left
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(n, 1 << 20)) if n else b""
        status, obj, headers = 500, None, ()
        with lock:
            try:
                if url.path == "/_fake/state" and self.command == "GET":
                    status, obj = 200, {
                        "zones": {a: z["records"] for a, z in zones.items()},
                        "requests": list(requests_seen)}
                    self.reply(status, obj)
                    return
                if not url.path.startswith("/v1/"):
                    raise ApiError(404, "not_found", "no such endpoint")
                presented = self.headers.get("Authorization", "")
                if presented != "Bearer " + args.token:
                    # echoes what it got, as some real APIs do: the client
                    # must keep a secret out of its error text itself
                    raise ApiError(401, "unauthorized",
                                   "missing or invalid bearer token (got '%s')" % presented)
                if throttle_left > 0:
                    throttle_left -= 1
                    headers = (("Retry-After", "1"),)
                    raise ApiError(429, "rate_limited", "slow down")
                body = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise ApiError(400, "bad_json", "the body is not JSON")
                status, obj = api(self.command, url.path, query, body)
            except ApiError as e:
                status, obj = e.status, {"error": {"code": e.code, "message": e.message}}
            requests_seen.append("%s %s %d" % (self.command, self.path, status))
        self.reply(status, obj, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


def main():
    if args.seed:
        with open(args.seed, encoding="utf-8") as f:
            seed = json.load(f)
        for apex, recs in seed.get("zones", {}).items():
            apex = apex.lower().rstrip(".")
            z = add_zone(apex)
            for r in recs:
                rec = check_record(apex, r)
                z["records"].append(dict(id="r%d" % next(ids), **rec))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
