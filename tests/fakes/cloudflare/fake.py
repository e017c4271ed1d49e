#!/usr/bin/env python3
"""A fake of the Cloudflare API v4 (DNS records of zones), for the
cloudflare plugin's tests (tests/fakes/README.md, README.md here). A fake,
not Cloudflare: it keeps zones in memory and answers no DNS queries.

    fake.py --port-file FILE --token TOKEN [common options of fakebase.py]

Serves, under /client/v4, what the plugin and the vendor's SDK use:

    GET    /user/tokens/verify                         GET /accounts/AID/tokens/verify
    GET    /zones[?name=&status=&page=&per_page=]       GET /zones/ZID
    GET    /zones/ZID/dns_records[?name=|name.exact=&type=&content=|content.exact=&page=&per_page=]
    POST   /zones/ZID/dns_records                      GET|PUT|PATCH|DELETE /zones/ZID/dns_records/RID
    POST   /zones/ZID/dns_records/batch                {"deletes", "patches", "puts", "posts"}

every answer in the envelope {"success", "errors", "messages", "result"
[, "result_info"]}, with the account limit of 1200 requests per 5 minutes
(429, Retry-After, Ratelimit and Ratelimit-Policy headers).
"""
import math
import re
import time
import uuid

import fakebase
from fakebase import ApiError, Reply

BASE = "/client/v4"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{40}$")
TTL_AUTO, TTL_MIN, TTL_MAX = 1, 60, 86400
WIRE_MAX = 4096        # one record's wire format, bytes
RRSET_CONTENT_MAX = 8192  # combined content of one name and type, characters
BATCH_MAX = 200        # operations of one batch (the Free plan's)
PROXIABLE = ("A", "AAAA", "CNAME")


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def envelope(result, info=None, messages=()):
    doc = {"success": True, "errors": [], "messages": list(messages), "result": result}
    if info is not None:
        doc["result_info"] = info
    return doc


def error(status, code, message, chain=None, headers=()):
    e = {"code": code, "message": message}
    if chain:
        e["error_chain"] = [{"code": c, "message": m} for c, m in chain]
    return ApiError(status, {"success": False, "errors": [e], "messages": [], "result": None},
                    headers)


def invalid(message, code=9005):
    """A record the API refuses: 400, 1004 "DNS Validation Error" with the rule in the chain."""
    return error(400, 1004, "DNS Validation Error", [(code, message)])


def txt_forms(content):
    """(the content as stored, its presentation form) of a TXT content. Quoted
    strings are kept as sent unless one is over 255 octets: then it is split
    (the API reference: "Strings exceeding this allowed maximum length are
    automatically split"). Unquoted text is kept as it is (the older form)
    and served as strings of 255 octets."""
    text = content.strip()
    if not text.startswith('"'):
        return content, fakebase.txt_present(fakebase.txt_split(content.encode()))
    pos, strings = 0, []
    while pos < len(text):
        m = fakebase.TXT_RE.match(text, pos)
        if not m:
            raise invalid("Content for TXT record is invalid: unbalanced quotes", 9009)
        strings.append(fakebase._unescape(m.group(1)))
        pos = m.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
    if any(len(s) > 255 for s in strings):
        split = [p for s in strings for p in fakebase.txt_split(s)]
        present = fakebase.txt_present(split)
        return present, present
    return content, fakebase.txt_present(strings)


class CloudflareFake(fakebase.Fake):
    """Cloudflare API v4 fake (DNS records)."""

    rate_limit = (1200, 300)

    @classmethod
    def add_arguments(cls, ap):
        ap.add_argument("--token", required=True, help="the API token that works")

    def __init__(self, args):
        super().__init__(args)
        self.token = args.token
        self.token_id = uuid.uuid4().hex
        self.account = {"id": uuid.uuid4().hex, "name": "stsctl fake account"}
        self.store = fakebase.Records(ttl_min=TTL_AUTO, ttl_max=TTL_MAX)
        self.meta = {}  # record id -> {"cf_content", "created_on", "modified_on", ...}

    # ---------------------------------------------------------- the test side

    def add_zone(self, apex):
        self.store.add_zone(apex, uuid.uuid4().hex)

    def state(self):
        return self.store.common()

    def raw(self, zone, name, rtype):
        if zone not in self.store.zones:
            return []
        return [self.meta[r["id"]]["content"] for r in self.store.at(zone, name, rtype)]

    def seed(self, zone, name, rtype, ttl, content):
        self._put(zone, None, {"name": name, "type": rtype, "ttl": ttl, "content": content},
                  check=False)

    # ---------------------------------------------------------- records

    def _record(self, apex, rec):
        m = self.meta[rec["id"]]
        return {"id": rec["id"], "zone_id": self.store.zone_ids[apex], "zone_name": apex,
                "name": rec["name"], "type": rec["type"], "content": m["content"],
                "proxiable": rec["type"] in PROXIABLE, "proxied": m["proxied"],
                "ttl": rec["ttl"], "settings": {}, "meta": {}, "comment": m["comment"],
                "tags": m["tags"], "created_on": m["created_on"], "modified_on": m["modified_on"]}

    def _name(self, apex, name):
        name = fakebase.norm_name(name or "")
        if name in ("", "@"):
            return apex
        # as the API does: a name outside the zone is taken as relative to it
        return name if fakebase.in_zone(name, apex) else name + "." + apex

    def _put(self, apex, rid, body, check=True):
        """Create (rid None) or replace record rid from body (its fields
        merged over the old record's for a PATCH); ApiError when refused."""
        old = self.store.get(apex, rid) if rid else None
        if rid and not old:
            raise error(404, 81044, "Record does not exist.")
        om = self.meta.get(rid, {})
        rtype = str(body.get("type") or (old and old["type"]) or "").upper()
        name = self._name(apex, body["name"]) if "name" in body else (old or {}).get("name")
        content = body.get("content", om.get("content"))
        ttl = body.get("ttl", old["ttl"] if old else TTL_AUTO)
        if not rtype or name is None or content is None:
            raise error(400, 1004, "DNS Validation Error",
                        [(9000, "DNS record type, name and content are required")])
        if not isinstance(content, str):
            raise invalid("Content must be a string", 9005)
        if not isinstance(ttl, int) or not (ttl == TTL_AUTO or TTL_MIN <= ttl <= TTL_MAX):
            raise invalid("Invalid TTL. Must be between %d and %d seconds, or 1 for Automatic."
                          % (TTL_MIN, TTL_MAX), 9021)
        if rtype == "TXT":
            stored, present = txt_forms(content)
            strings = fakebase.txt_strings(present)
            if sum(len(s) + 1 for s in strings) > WIRE_MAX:
                raise invalid("DNS record exceeds the maximum wire format size of %d bytes"
                              % WIRE_MAX, 9100)
        else:
            stored = present = content
        rec = {"id": rid or "new", "name": name, "type": rtype, "ttl": ttl, "content": present}
        if check:
            self._check(apex, rec, rid, len(stored))
        if old:
            old.update(name=name, type=rtype, ttl=ttl, content=present)
            rec = old
        else:
            rec = self.store.add(apex, name, rtype, ttl, present, rid=uuid.uuid4().hex)
            om = {"created_on": now(), "comment": None, "tags": [], "proxied": False}
        om = dict(om, content=stored, modified_on=now())
        if "comment" in body:
            om["comment"] = body["comment"]
        if "tags" in body:
            om["tags"] = list(body["tags"] or [])
        if "proxied" in body:
            if body["proxied"] and rtype not in PROXIABLE:
                raise invalid("This record type cannot be proxied.", 9004)
            om["proxied"] = bool(body["proxied"])
        self.meta[rec["id"]] = om
        return rec

    def _check(self, apex, rec, rid, length):
        """The rules of the API for a record going in: CNAME alone at its
        name, no identical record, the combined content of a name and type."""
        others = [r for r in self.store.zones[apex] if r["name"] == rec["name"] and r["id"] != rid]
        if rec["type"] == "CNAME" and others:
            raise error(400, 81053, "An A, AAAA, or CNAME record with that host already exists. "
                        "For more details, refer to <https://developers.cloudflare.com/dns/"
                        "manage-dns-records/troubleshooting/records-with-same-name/>.")
        if any(r["type"] == "CNAME" for r in others):
            raise error(400, 81054, "A CNAME record with that host already exists. "
                        "For more details, refer to <https://developers.cloudflare.com/dns/"
                        "manage-dns-records/troubleshooting/records-with-same-name/>.")
        same = [r for r in others if r["type"] == rec["type"]]
        if any(r["content"] == rec["content"] for r in same):
            raise error(400, 81058, "An identical record already exists.")
        if length + sum(len(self.meta[r["id"]]["content"]) for r in same) > RRSET_CONTENT_MAX:
            raise invalid("The combined content of records with the same name and type "
                          "exceeds %d characters" % RRSET_CONTENT_MAX, 9101)

    # ---------------------------------------------------------- the API

    def _limit(self):
        ok, reset, left = self.limiter.hit()
        t = max(1, math.ceil(reset))
        hdrs = [("Ratelimit", '"default";r=%d;t=%d' % (left, t)),
                ("Ratelimit-Policy", '"default";q=%d;w=%d' % (self.limiter.limit,
                                                              math.ceil(self.limiter.window)))]
        if not ok:
            raise error(429, 971, "Please wait and consider throttling your request speed",
                        headers=hdrs + [("Retry-After", str(t))])
        return hdrs

    def _auth(self, req, verify=False):
        h = req.headers.get("Authorization")
        if h is None:
            raise error(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
        scheme, _, tok = h.partition(" ")
        if scheme != "Bearer" or not TOKEN_RE.match(tok.strip()):
            raise error(400, 6003, "Invalid request headers",
                        [(6111, "Invalid format for Authorization header")])
        if tok.strip() != self.token:
            if verify:
                raise error(401, 1000, "Invalid API Token")
            raise error(403, 9109, "Invalid access token")

    def handle(self, req):
        hdrs = self._limit()
        try:
            rep = self._route(req)
        except ApiError as e:
            e.headers = hdrs + e.headers
            raise
        rep.headers = hdrs + rep.headers
        return rep

    def _route(self, req):
        if not req.path.startswith(BASE + "/"):
            raise error(404, 7000, "No route for that URI")
        parts = req.path[len(BASE) + 1:].rstrip("/").split("/")
        verify = parts == ["user", "tokens", "verify"] or (
            len(parts) == 4 and parts[0] == "accounts" and parts[2:] == ["tokens", "verify"])
        if verify and req.method == "GET":
            self._auth(req, verify=True)
            return Reply(200, envelope({"id": self.token_id, "status": "active"}, messages=[
                {"code": 10000, "message": "This API Token is valid and active", "type": None}]))
        self._auth(req)
        if parts == ["zones"] and req.method == "GET":
            return self._zones(req)
        if len(parts) < 2 or parts[0] != "zones":
            raise error(404, 7000, "No route for that URI")
        apex = self.store.zone_of_id(parts[1])
        if apex is None:
            raise error(404, 7003, "Could not route to %s, perhaps your object identifier is "
                        "invalid?" % req.path[len(BASE):])
        rest = parts[2:]
        if not rest and req.method == "GET":
            return Reply(200, envelope(self._zone(apex)))
        if rest == ["dns_records"]:
            if req.method == "GET":
                return self._list(req, apex)
            if req.method == "POST":
                rec = self._put(apex, None, self._body(req))
                return Reply(200, envelope(self._record(apex, rec)))
        if rest == ["dns_records", "batch"] and req.method == "POST":
            return self._batch(req, apex)
        if len(rest) == 2 and rest[0] == "dns_records":
            rid = rest[1]
            if req.method == "GET":
                rec = self.store.get(apex, rid)
                if not rec:
                    raise error(404, 81044, "Record does not exist.")
                return Reply(200, envelope(self._record(apex, rec)))
            if req.method in ("PUT", "PATCH"):
                body = self._body(req)
                if req.method == "PUT":
                    for k in ("name", "type", "content"):
                        if k not in body:
                            raise error(400, 1004, "DNS Validation Error",
                                        [(9000, "DNS record %s is required" % k)])
                rec = self._put(apex, rid, body)
                return Reply(200, envelope(self._record(apex, rec)))
            if req.method == "DELETE":
                if not self.store.get(apex, rid):
                    raise error(404, 81044, "Record does not exist.")
                self.store.remove(apex, rid)
                self.meta.pop(rid, None)
                return Reply(200, envelope({"id": rid}))
        raise error(405, 10000, "Method %s not allowed for %s" % (req.method, req.path))

    @staticmethod
    def _body(req):
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise error(400, 9207, "Request body is invalid.")
        return body

    def _zone(self, apex):
        return {"id": self.store.zone_ids[apex], "name": apex, "status": "active",
                "paused": False, "type": "full", "development_mode": 0,
                "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
                "original_name_servers": None, "original_registrar": None,
                "original_dnshost": None, "created_on": "2026-01-01T00:00:00.000000Z",
                "modified_on": "2026-01-01T00:00:00.000000Z",
                "activated_on": "2026-01-01T00:00:00.000000Z",
                "meta": {"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3,
                         "phishing_detected": False},
                "owner": {"id": None, "type": "user", "email": None},
                "account": dict(self.account), "tenant": {"id": None, "name": None},
                "tenant_unit": {"id": None}, "permissions": ["#dns_records:edit",
                                                             "#dns_records:read", "#zone:read"],
                "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website",
                         "price": 0, "currency": "USD", "frequency": "", "is_subscribed": False,
                         "can_subscribe": False, "legacy_id": "free",
                         "legacy_discount": False, "externally_managed": False}}

    def _page(self, req, items, per_page_max, per_page_default):
        try:
            page = int(req.q("page", "1"))
            per_page = int(req.q("per_page", str(per_page_default)))
        except ValueError:
            raise error(400, 1001, "Invalid page or per_page")
        if page < 1 or not 5 <= per_page <= per_page_max:
            raise error(400, 1001, "page must be at least 1 and per_page between 5 and %d"
                        % per_page_max)
        per_page = min(per_page, self.page_size)  # the fake's small pages
        chunk, total = fakebase.paginate(items, page, per_page)
        info = {"page": page, "per_page": per_page, "count": len(chunk),
                "total_count": len(items), "total_pages": total if items else 0}
        return chunk, info

    def _zones(self, req):
        name = req.q("name")
        apexes = sorted(self.store.zones)
        if name is not None:
            apexes = [a for a in apexes if a == fakebase.norm_name(name)]
        status = req.q("status")
        if status not in (None, "active"):
            apexes = []
        chunk, info = self._page(req, apexes, 50, 20)
        return Reply(200, envelope([self._zone(a) for a in chunk], info))

    def _list(self, req, apex):
        name = req.q("name.exact", req.q("name"))
        rtype = req.q("type")
        content = req.q("content.exact", req.q("content"))
        recs = list(self.store.zones[apex])
        if name is not None:
            recs = [r for r in recs if r["name"] == self._name(apex, name)]
        if rtype is not None:
            recs = [r for r in recs if r["type"] == rtype.upper()]
        if content is not None:
            recs = [r for r in recs if self.meta[r["id"]]["content"] == content]
        recs.sort(key=lambda r: (r["type"], r["name"], r["id"]))
        chunk, info = self._page(req, recs, 5000000, 100)
        return Reply(200, envelope([self._record(apex, r) for r in chunk], info))

    def _batch(self, req, apex):
        """deletes, patches, puts, posts, in that order, in one transaction:
        the first refusal leaves the zone as it was."""
        body = self._body(req)
        ops = {k: body.get(k) or [] for k in ("deletes", "patches", "puts", "posts")}
        if any(not isinstance(v, list) for v in ops.values()):
            raise error(400, 9207, "Request body is invalid.")
        if sum(len(v) for v in ops.values()) > BATCH_MAX:
            raise error(400, 81069, "The batch holds more than %d operations" % BATCH_MAX)
        saved = ([dict(r) for r in self.store.zones[apex]],
                 {k: dict(v) for k, v in self.meta.items()})
        out = {"deletes": [], "patches": [], "puts": [], "posts": []}
        gone = []
        try:
            for d in ops["deletes"]:
                rid = d.get("id") if isinstance(d, dict) else None
                rec = self.store.get(apex, rid) if rid else None
                if not rec:
                    raise error(400, 81044, "Record does not exist.")
                out["deletes"].append(self._record(apex, rec))
                self.store.remove(apex, rid)
                gone.append(rid)
            for key in ("patches", "puts", "posts"):
                for op in ops[key]:
                    if not isinstance(op, dict) or (key != "posts" and not op.get("id")):
                        raise error(400, 9207, "Request body is invalid.")
                    if key == "puts" and not all(k in op for k in ("name", "type", "content")):
                        raise error(400, 1004, "DNS Validation Error",
                                    [(9000, "DNS record name, type and content are required")])
                    fields = {k: v for k, v in op.items() if k != "id"}
                    rec = self._put(apex, op.get("id") if key != "posts" else None, fields)
                    out[key].append(self._record(apex, rec))
        except ApiError:
            self.store.zones[apex], self.meta = saved
            raise
        for rid in gone:
            self.meta.pop(rid, None)
        return Reply(200, envelope(out))


if __name__ == "__main__":
    fakebase.run(CloudflareFake)
