"""What every provider fake shares (tests/fakes/README.md): python3 stdlib only.

A fake is a subclass of Fake that answers the vendor's API in handle() and
shows its records in the common form in state(); run(FakeClass) parses the
common command line, serves 127.0.0.1 and answers the /_fake/ test controls.

    class MyFake(fakebase.Fake):
        @classmethod
        def add_arguments(cls, ap): ap.add_argument("--token", required=True)
        def handle(self, req): ...             # -> Reply(status, body, headers)
        def state(self): ...                   # {apex: [record]} (common form)
        def raw(self, zone, name, rtype): ...  # [line] in the vendor's own form
        def seed(self, zone, name, rtype, ttl, content): ...
        def add_zone(self, apex): ...
    fakebase.run(MyFake)

Every call of handle(), state(), raw(), seed() and add_zone() runs under
one lock: a fake needs no locking of its own.

The helpers: Records (a per-record store in the common form: id, name,
type, ttl, content in presentation form, with the CNAME and TXT rules),
txt_strings()/txt_present() (TXT presentation form <-> octet strings),
RateLimiter (a fixed window, scaled), paginate().
"""
import argparse
import http.server
import itertools
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class ApiError(Exception):
    """An error answer in the vendor's shape: the fake's handle() builds body."""

    def __init__(self, status, body, headers=()):
        super().__init__(str(body))
        self.status, self.body, self.headers = status, body, list(headers)


class Reply:
    """One answer: body is a dict/list (sent as JSON), str or bytes, or None."""

    def __init__(self, status, body=None, headers=(), content_type=None):
        self.status, self.body, self.headers = status, body, list(headers)
        self.content_type = content_type


class Request:
    def __init__(self, method, path, query, headers, raw, url):
        self.method, self.path, self.query = method, path, query
        self.headers, self.raw, self.url = headers, raw, url

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def json(self):
        """The body as JSON, or None when empty; ValueError when not JSON."""
        return json.loads(self.raw) if self.raw else None

    @property
    def write(self):
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


# ---------------------------------------------------------------- TXT

TXT_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unescape(text):
    out, i = bytearray(), 0
    while i < len(text):
        c = text[i]
        if c == "\\" and len(text[i + 1:i + 4]) == 3 and text[i + 1:i + 4].isdigit():
            out.append(int(text[i + 1:i + 4]) & 0xFF)
            i += 4
        elif c == "\\" and i + 1 < len(text):
            out += text[i + 1].encode()
            i += 2
        else:
            out += c.encode()
            i += 1
    return bytes(out)


def txt_strings(content):
    """The octet strings of a TXT in presentation form ("a" "b"); ValueError
    with the reason when it is not one (unquoted text, a string over 255)."""
    pos, out = 0, []
    content = content.strip()
    while pos < len(content):
        m = TXT_RE.match(content, pos)
        if not m:
            raise ValueError("TXT content must be quoted strings")
        s = _unescape(m.group(1))
        if len(s) > 255:
            raise ValueError("TXT string longer than 255 octets")
        out.append(s)
        pos = m.end()
        while pos < len(content) and content[pos] == " ":
            pos += 1
    if not out:
        raise ValueError("empty TXT content")
    return out


def txt_present(strings):
    """Presentation form of octet strings: each quoted, \\" and \\\\ escaped,
    octets outside printable ASCII as \\DDD."""
    parts = []
    for s in strings:
        if isinstance(s, str):
            s = s.encode()
        q = []
        for b in s:
            if b in (0x22, 0x5C):
                q.append("\\" + chr(b))
            elif 0x20 <= b < 0x7F:
                q.append(chr(b))
            else:
                q.append("\\%03d" % b)
        parts.append('"' + "".join(q) + '"')
    return " ".join(parts)


def txt_join(content):
    """A TXT presentation form's strings joined (bytes)."""
    return b"".join(txt_strings(content))


def txt_split(data, size=255):
    """Octets cut into strings of at most size octets (at least one)."""
    if isinstance(data, str):
        data = data.encode()
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


# ---------------------------------------------------------------- records

def norm_name(name):
    return name.lower().rstrip(".")


def in_zone(name, apex):
    return name == apex or name.endswith("." + apex)


class Records:
    """A per-record store in the common form: {apex: [record]}, a record being
    {"id", "name", "type", "ttl", "content"}, name absolute, lower case, no
    final dot, content in presentation form. Vendors with other shapes keep
    their own store and convert in state()."""

    def __init__(self, id_prefix="r", ttl_min=1, ttl_max=2147483647):
        self.zones = {}
        self.zone_ids = {}
        self._ids = itertools.count(1)
        self.id_prefix = id_prefix
        self.ttl_min, self.ttl_max = ttl_min, ttl_max

    def new_id(self, prefix=None):
        return "%s%d" % (prefix or self.id_prefix, next(self._ids))

    def add_zone(self, apex, zone_id=None):
        apex = norm_name(apex)
        if apex not in self.zones:
            self.zones[apex] = []
            self.zone_ids[apex] = zone_id or self.new_id("z")
        return apex

    def zone_of_id(self, zone_id):
        for apex, zid in self.zone_ids.items():
            if zid == zone_id:
                return apex
        return None

    def at(self, apex, name, rtype=None):
        name = norm_name(name)
        return [r for r in self.zones[apex]
                if r["name"] == name and (rtype is None or r["type"] == rtype)]

    def problem(self, apex, rec, replacing=None):
        """Why rec (common form) cannot go into apex, or None: the name must be
        in the zone, the TTL in bounds, a TXT valid, a CNAME alone at its
        name. replacing: the id of the record it replaces."""
        name, rtype = rec["name"], rec["type"]
        if not in_zone(name, apex):
            return "name '%s' is not in zone '%s'" % (name, apex)
        if not isinstance(rec["ttl"], int) or not self.ttl_min <= rec["ttl"] <= self.ttl_max:
            return "TTL must be between %d and %d" % (self.ttl_min, self.ttl_max)
        if rtype == "TXT":
            try:
                txt_strings(rec["content"])
            except ValueError as e:
                return str(e)
        others = [r for r in self.zones[apex] if r["name"] == name and r["id"] != replacing]
        if rtype == "CNAME" and others:
            return "a CNAME at '%s' cannot have other records" % name
        if any(r["type"] == "CNAME" for r in others):
            return "'%s' holds a CNAME: no other record can be there" % name
        if any(r["type"] == rtype and r["content"] == rec["content"] for r in others):
            return "an identical record already exists"
        return None

    def add(self, apex, name, rtype, ttl, content, rid=None):
        rec = {"id": rid or self.new_id(), "name": norm_name(name), "type": rtype.upper(),
               "ttl": ttl, "content": content}
        self.zones[apex].append(rec)
        return rec

    def get(self, apex, rid):
        for r in self.zones[apex]:
            if r["id"] == rid:
                return r
        return None

    def remove(self, apex, rid):
        n = len(self.zones[apex])
        self.zones[apex] = [r for r in self.zones[apex] if r["id"] != rid]
        return len(self.zones[apex]) != n

    def common(self):
        return {apex: [{k: r[k] for k in ("name", "type", "ttl", "content")} for r in recs]
                for apex, recs in self.zones.items()}


def paginate(items, page, per_page):
    """(the items of page `page` (1-based), total pages)."""
    total = max(1, (len(items) + per_page - 1) // per_page)
    start = (page - 1) * per_page
    return items[start:start + per_page], total


# ---------------------------------------------------------------- rate limit

class RateLimiter:
    """The vendor's limit of `limit` requests per `window` seconds, a fixed
    window as most vendors document it, the window compressed `scale` times.
    hit() -> (allowed, seconds until the window resets, requests left)."""

    def __init__(self, limit, window, scale=1.0):
        self.limit = limit
        self.window = window / (scale or 1.0)
        self.start = time.monotonic()
        self.used = 0

    def hit(self):
        now = time.monotonic()
        if now - self.start >= self.window:
            self.start, self.used = now, 0
        reset = self.window - (now - self.start)
        if self.used >= self.limit:
            return False, reset, 0
        self.used += 1
        return True, reset, self.limit - self.used


# ---------------------------------------------------------------- PowerDNS mirror

class Mirror:
    """Writes the fake's zones into a PowerDNS (its REST API), so the testbed's
    DNS serves what the plugin published (the end-to-end cases)."""

    def __init__(self, api, key):
        self.api, self.key = api.rstrip("/"), key
        self.seen = {}  # apex -> {(name, type): (ttl, [content])}

    def _call(self, method, path, body=None):
        req = urllib.request.Request(self.api + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"X-API-Key": self.key,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def sync(self, zones):
        for apex, recs in zones.items():
            want = {}
            for r in recs:
                if r["type"] in ("SOA", "NS"):
                    continue
                ttl, values = want.get((r["name"], r["type"]), (r["ttl"], []))
                values.append(r["content"])
                want[(r["name"], r["type"])] = (ttl, values)
            have = self.seen.get(apex)
            if have is None:
                if self._call("GET", "/zones/%s." % apex) == 404:
                    self._call("POST", "/zones", {"name": apex + ".", "kind": "Native",
                                                  "nameservers": ["ns1.%s." % apex]})
                have = {}
            if want == have:
                continue
            rrsets = []
            for (name, rtype), (ttl, values) in want.items():
                if have.get((name, rtype)) != (ttl, values):
                    rrsets.append({"name": name + ".", "type": rtype, "ttl": ttl,
                                   "changetype": "REPLACE",
                                   "records": [{"content": pdns_content(rtype, v), "disabled": False}
                                               for v in values]})
            for (name, rtype) in have:
                if (name, rtype) not in want:
                    rrsets.append({"name": name + ".", "type": rtype, "changetype": "DELETE"})
            st = self._call("PATCH", "/zones/%s." % apex, {"rrsets": rrsets})
            if st < 300:
                self.seen[apex] = want
            else:
                print("fake: mirror PATCH of %s: HTTP %d" % (apex, st), file=sys.stderr)


def pdns_content(rtype, content):
    if rtype in ("CNAME", "MX", "NS", "PTR", "SRV") and not content.endswith("."):
        return content + "."
    return content


# ---------------------------------------------------------------- the fake

class Fake:
    """Subclass per vendor (see the module's doc string)."""

    # the vendor's limit as the fake enforces it: (requests, seconds), or None
    rate_limit = None

    @classmethod
    def add_arguments(cls, ap):
        pass

    def __init__(self, args):
        self.args = args
        self.page_size = args.page_size
        self.limiter = None
        if self.rate_limit:
            self.limiter = RateLimiter(self.rate_limit[0], self.rate_limit[1], args.rate_scale)

    def handle(self, req):
        raise NotImplementedError

    def state(self):
        raise NotImplementedError

    def raw(self, zone, name, rtype):
        raise NotImplementedError

    def seed(self, zone, name, rtype, ttl, content):
        raise NotImplementedError

    def add_zone(self, apex):
        raise NotImplementedError

    def control_error(self, status, message):
        return Reply(status, {"error": message})


class _Stats:
    def __init__(self):
        self.reset()

    def reset(self):
        self.requests = self.reads = self.writes = self.limited = 0
        self.by_method = {}
        self.by_status = {}

    def count(self, req, status):
        self.requests += 1
        if status == 429:  # refused: neither a read nor a write was served
            self.limited += 1
        elif req.write:
            self.writes += 1
        else:
            self.reads += 1
        self.by_method[req.method] = self.by_method.get(req.method, 0) + 1
        self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1

    def doc(self):
        return {"requests": self.requests, "reads": self.reads, "writes": self.writes,
                "limited": self.limited, "by_method": self.by_method, "by_status": self.by_status}


def _encode(body, content_type):
    if body is None:
        return b"", content_type
    if isinstance(body, bytes):
        return body, content_type or "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), content_type or "text/plain; charset=utf-8"
    return json.dumps(body).encode(), content_type or "application/json"


def run(fake_cls):
    ap = argparse.ArgumentParser(description=fake_cls.__doc__)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--zone", action="append", default=[], help="a zone that exists (repeat)")
    ap.add_argument("--seed", help='{"zones": {APEX: [{"name", "type", "ttl", "content"}]}}')
    ap.add_argument("--page-size", type=int, default=20)
    ap.add_argument("--rate-scale", type=float, default=1.0)
    ap.add_argument("--mirror-pdns")
    ap.add_argument("--mirror-key-file")
    ap.add_argument("--log", help="append one line per API request to this file")
    fake_cls.add_arguments(ap)
    args = ap.parse_args()

    fake = fake_cls(args)
    lock = threading.Lock()
    stats = _Stats()
    mirror = None
    if args.mirror_pdns:
        with open(args.mirror_key_file, encoding="utf-8") as f:
            mirror = Mirror(args.mirror_pdns, f.read().strip())
    log = open(args.log, "a", buffering=1, encoding="utf-8") if args.log else None

    for apex in args.zone:
        fake.add_zone(norm_name(apex))
    if args.seed:
        with open(args.seed, encoding="utf-8") as f:
            seed = json.load(f)
        for apex, recs in seed.get("zones", {}).items():
            apex = norm_name(apex)
            fake.add_zone(apex)
            for r in recs:
                fake.seed(apex, norm_name(r["name"]), r["type"].upper(), r.get("ttl", 300), r["content"])

    def control(req):
        p = req.path
        if p == "/_fake/state" and req.method == "GET":
            return Reply(200, {"zones": fake.state()})
        if p == "/_fake/stats" and req.method == "GET":
            return Reply(200, stats.doc())
        if p == "/_fake/stats/reset" and req.method == "POST":
            stats.reset()
            return Reply(204)
        if p == "/_fake/raw" and req.method == "GET":
            return Reply(200, {"lines": fake.raw(norm_name(req.q("zone", "")),
                                                 norm_name(req.q("name", "")),
                                                 req.q("type", "").upper())})
        if p == "/_fake/seed" and req.method == "POST":
            b = req.json()
            apex = norm_name(b["zone"])
            if apex not in fake.state():
                fake.add_zone(apex)
            fake.seed(apex, norm_name(b["name"]), b["type"].upper(), int(b.get("ttl", 300)),
                      b["content"])
            return Reply(204)
        return Reply(404, {"error": "no such control"})

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: without TCP_NODELAY the
        # client's delayed ACK holds each keep-alive answer ~40 ms
        disable_nagle_algorithm = True

        def log_message(self, fmt, *a):
            pass

        def handle_any(self):
            url = urllib.parse.urlsplit(self.path)
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(n, 8 << 20)) if n else b""
            req = Request(self.command, url.path, urllib.parse.parse_qs(url.query, keep_blank_values=True),
                          self.headers, raw, self.path)
            with lock:
                if url.path.startswith("/_fake/"):
                    try:
                        rep = control(req)
                    except (ValueError, KeyError, TypeError) as e:
                        rep = Reply(400, {"error": "bad control request: %s" % e})
                else:
                    try:
                        rep = fake.handle(req)
                    except ApiError as e:
                        rep = Reply(e.status, e.body, e.headers)
                    stats.count(req, rep.status)
                    if log:
                        log.write("%s %s %d\n" % (req.method, req.url, rep.status))
                    if mirror and req.write and rep.status < 300:
                        mirror.sync(fake.state())
            data, ctype = _encode(rep.body, rep.content_type)
            self.send_response(rep.status)
            for k, v in rep.headers:
                self.send_header(k, v)
            if data or rep.body is not None:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if mirror:
        with lock:
            mirror.sync(fake.state())
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    srv.serve_forever()
