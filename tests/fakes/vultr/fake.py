#!/usr/bin/env python3
"""A fake of the Vultr API v2 DNS endpoints (tests/fakes/vultr/README.md).

Serves, under /v2, with "Authorization: Bearer KEY" on every request:

    GET    /v2/account
    GET    /v2/domains?per_page=&cursor=                   {"domains": [...], "meta"}
    GET    /v2/domains/{domain}                            {"domain": {...}}
    GET    /v2/domains/{domain}/records?per_page=&cursor=  {"records": [...], "meta"}
    POST   /v2/domains/{domain}/records    {name, type, data, ttl, priority}  201 {"record"}
    GET    /v2/domains/{domain}/records/{id}               {"record": {...}}
    PATCH  /v2/domains/{domain}/records/{id}   {name, data, ttl, priority}   204
    DELETE /v2/domains/{domain}/records/{id}                                 204

Lists are cursor paged: meta {"total", "links": {"next", "prev"}}, the
cursors opaque; per_page is capped at --page-size. Errors are
{"error": "...", "status": N}. A record's name is relative to the domain
("" at the apex); a TXT's data is one double-quoted string without inner
quotes, as Vultr takes and shows it; a CNAME's data has no final dot.
"""
import base64
import uuid

import fakebase
from fakebase import ApiError, Reply

TXT_MAX = 4096  # octets of one TXT's data (the fake's bound; see README.md)


def err(status, message, headers=()):
    return ApiError(status, {"error": message, "status": status}, headers)


def cursor_of(offset, kind):
    return base64.b64encode(("%s__%d" % (kind, offset)).encode()).decode()


def offset_of(cursor):
    try:
        kind, n = base64.b64decode(cursor.encode(), validate=True).decode().split("__")
        if kind in ("next", "prev") and int(n) >= 0:
            return int(n)
    except (ValueError, UnicodeDecodeError):
        pass
    raise err(400, "Invalid cursor")


class VultrFake(fakebase.Fake):
    """Vultr API v2 (DNS) fake."""

    # "30 requests per second" per client (Vultr's API documentation)
    rate_limit = (30, 1)

    @classmethod
    def add_arguments(cls, ap):
        ap.add_argument("--api-key", required=True, help="the API key the fake accepts")

    def __init__(self, args):
        super().__init__(args)
        self.key = args.api_key
        self.recs = fakebase.Records(ttl_min=1, ttl_max=2147483647)

    # ---- the common form <-> Vultr's

    def add_zone(self, apex):
        self.recs.add_zone(apex)

    def state(self):
        return self.recs.common()

    def seed(self, zone, name, rtype, ttl, content):
        if rtype == "TXT":  # Vultr keeps one string: the strings joined
            content = fakebase.txt_present(fakebase.txt_split(fakebase.txt_join(content)))
        elif rtype in ("CNAME", "MX", "NS"):
            content = content.rstrip(".")
        self.recs.add(zone, name, rtype, ttl, content, rid=str(uuid.uuid4()))

    def raw(self, zone, name, rtype):
        return [self.data_of(r) for r in self.recs.at(zone, name, rtype)] if zone in self.recs.zones else []

    @staticmethod
    def data_of(rec):
        if rec["type"] == "TXT":
            return '"%s"' % fakebase.txt_join(rec["content"]).decode("utf-8", "replace")
        return rec["content"]

    def vultr(self, apex, rec):
        rel = "" if rec["name"] == apex else rec["name"][: -len(apex) - 1]
        return {"id": rec["id"], "type": rec["type"], "name": rel, "data": self.data_of(rec),
                "priority": rec.get("priority", -1 if rec["type"] not in ("MX", "SRV") else 0),
                "ttl": rec["ttl"]}

    def common_content(self, rtype, data):
        if not isinstance(data, str):
            raise err(400, "Invalid data")
        if rtype != "TXT":
            return data.rstrip(".") if rtype in ("CNAME", "MX", "NS") else data
        if len(data) < 2 or data[0] != '"' or data[-1] != '"' or '"' in data[1:-1]:
            raise err(400, "Unable to create record: TXT data must be enclosed in double quotes")
        inner = data[1:-1].encode()
        if len(inner) > TXT_MAX:
            raise err(400, "Unable to create record: TXT data too long")
        return fakebase.txt_present(fakebase.txt_split(inner))

    # ---- the API

    def handle(self, req):
        if self.limiter:
            ok, _, _ = self.limiter.hit()
            if not ok:
                raise err(429, "Rate limit reached - please try your request again later.")
        auth = req.headers.get("Authorization") or ""
        if auth != "Bearer " + self.key:
            raise err(401, "Invalid API token.")
        parts = req.path.rstrip("/").split("/")
        if parts[:2] != ["", "v2"]:
            raise err(404, "Invalid API path")
        parts = parts[2:]
        if parts == ["account"] and req.method == "GET":
            return Reply(200, {"account": {"name": "stsctl fake", "email": "fake@example.invalid",
                                           "acls": ["dns"], "balance": 0, "pending_charges": 0}})
        if parts == ["domains"] and req.method == "GET":
            items = [{"domain": apex, "date_created": "2026-01-01T00:00:00+00:00",
                      "dns_sec": "disabled"} for apex in sorted(self.recs.zones)]
            return Reply(200, self.page(req, items, "domains"))
        if len(parts) < 2 or parts[0] != "domains":
            raise err(404, "Invalid API path")
        apex = fakebase.norm_name(parts[1])
        if apex not in self.recs.zones:
            raise err(404, "Invalid domain.")
        if len(parts) == 2 and req.method == "GET":
            return Reply(200, {"domain": {"domain": apex, "date_created": "2026-01-01T00:00:00+00:00",
                                          "dns_sec": "disabled"}})
        if len(parts) == 3 and parts[2] == "records":
            if req.method == "GET":
                return Reply(200, self.page(req, [self.vultr(apex, r) for r in self.recs.zones[apex]],
                                            "records"))
            if req.method == "POST":
                return self.create(req, apex)
        if len(parts) == 4 and parts[2] == "records":
            rec = self.recs.get(apex, parts[3])
            if rec is None:
                raise err(404, "Invalid record.")
            if req.method == "GET":
                return Reply(200, {"record": self.vultr(apex, rec)})
            if req.method == "PATCH":
                return self.update(req, apex, rec)
            if req.method == "DELETE":
                self.recs.remove(apex, rec["id"])
                return Reply(204)
        raise err(405, "Method not allowed")

    def page(self, req, items, key):
        try:
            per_page = int(req.q("per_page", "100"))
        except ValueError:
            raise err(400, "Invalid per_page")
        if not 1 <= per_page <= 500:
            raise err(400, "per_page must be between 1 and 500")
        per_page = min(per_page, self.page_size)
        start = offset_of(req.q("cursor")) if req.q("cursor") else 0
        chunk = items[start:start + per_page]
        nxt = cursor_of(start + per_page, "next") if start + per_page < len(items) else ""
        prev = cursor_of(max(0, start - per_page), "prev") if start > 0 else ""
        return {key: chunk, "meta": {"total": len(items), "links": {"next": nxt, "prev": prev}}}

    def body(self, req):
        try:
            b = req.json()
        except ValueError:
            raise err(400, "Invalid JSON body")
        if not isinstance(b, dict):
            raise err(400, "Invalid JSON body")
        return b

    @staticmethod
    def ttl_of(v, default):
        if v is None:
            return default
        if isinstance(v, str) and v.isdigit():  # the Node SDK sends PATCH ttl as a string
            return int(v)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise err(400, "Invalid ttl")

    def absolute(self, apex, name):
        if not isinstance(name, str):
            raise err(400, "Invalid name")
        name = fakebase.norm_name(name)
        return apex if name in ("", "@") else name + "." + apex

    def check(self, apex, rec, replacing=None):
        why = self.recs.problem(apex, rec, replacing)
        if why:
            raise err(400, "Unable to create record: " + why)

    def create(self, req, apex):
        b = self.body(req)
        for k in ("name", "type", "data"):
            if k not in b:
                raise err(400, "Missing required field: " + k)
        rtype = str(b["type"]).upper()
        rec = {"id": str(uuid.uuid4()), "name": self.absolute(apex, b["name"]), "type": rtype,
               "ttl": self.ttl_of(b.get("ttl"), 300),
               "content": self.common_content(rtype, b["data"])}
        self.check(apex, rec)
        new = self.recs.add(apex, rec["name"], rtype, rec["ttl"], rec["content"], rid=rec["id"])
        return Reply(201, {"record": self.vultr(apex, new)})

    def update(self, req, apex, rec):
        b = self.body(req)
        new = dict(rec)
        if "name" in b:
            new["name"] = self.absolute(apex, b["name"])
        if "data" in b:
            new["content"] = self.common_content(rec["type"], b["data"])
        new["ttl"] = self.ttl_of(b.get("ttl"), rec["ttl"])
        self.check(apex, new, replacing=rec["id"])
        rec.update(new)
        return Reply(204)


if __name__ == "__main__":
    fakebase.run(VultrFake)
