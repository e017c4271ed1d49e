#!/usr/bin/env python3
"""A fake of Linode's API v4, domains and domain records (README.md).

    fake.py --port-file FILE --token TOKEN [common options of fakebase.py]

Serves what the linode plugin uses, as Linode's API reference describes it:

    GET    /v4/domains                       {"data", "page", "pages", "results"}
                                             (X-Filter {"domain": NAME} filters)
    GET    /v4/domains/ID                    a domain
    GET    /v4/domains/ID/records            {"data", "page", "pages", "results"}
    POST   /v4/domains/ID/records            200, the record
    GET    /v4/domains/ID/records/RID        the record
    PUT    /v4/domains/ID/records/RID        200, the record
    DELETE /v4/domains/ID/records/RID        200 {}
    GET    /v4/profile                       the token's user

Lists are paged (?page=1.., ?page_size=25..500, default 100; the fake's
--page-size caps a page below that, as a smaller server would). Every
request needs "Authorization: Bearer TOKEN". Errors are
{"errors": [{"reason", "field"}]}. Rate limits: 200 requests a minute for
paged GET collections, 1600 a minute for everything else, with
X-RateLimit-Limit, -Remaining, -Reset and, on a 429, Retry-After.
"""
import itertools
import json
import time

import fakebase
from fakebase import ApiError, Reply

TYPES = ("A", "AAAA", "NS", "MX", "CNAME", "TXT", "SRV", "PTR", "CAA")
# the TTLs Linode keeps (0: the domain's default); any other is rounded to
# the nearest of them (a tie rounds up)
TTLS = (0, 30, 120, 300, 3600, 7200, 14400, 28800, 57600, 86400, 172800, 345600, 604800,
        1209600, 2419200)
COLLECTIONS = (200, 60)  # paged GET collections, per minute


def error(status, reason, field=None, headers=()):
    e = {"reason": reason}
    if field:
        e["field"] = field
    return ApiError(status, {"errors": [e]}, headers)


def round_ttl(ttl):
    return min(TTLS, key=lambda t: (abs(t - ttl), -t))


class LinodeFake(fakebase.Fake):
    """A fake of Linode's domains API (tests/fakes/linode/README.md)."""

    rate_limit = (1600, 60)  # every operation; paged collections have 200/min beside it

    @classmethod
    def add_arguments(cls, ap):
        ap.add_argument("--token", required=True, help="the one personal access token accepted")

    def __init__(self, args):
        super().__init__(args)
        self.token = args.token
        self.recs = fakebase.Records(ttl_min=0)
        self.ids = itertools.count(1000001)
        self.collections = fakebase.RateLimiter(COLLECTIONS[0], COLLECTIONS[1], args.rate_scale)

    # ---- the controls' side

    def add_zone(self, apex):
        self.recs.add_zone(apex, next(self.ids))

    def state(self):
        return self.recs.common()

    def raw(self, zone, name, rtype):
        if zone not in self.recs.zones:
            return []
        return [r["target"] for r in self.recs.at(zone, name, rtype)]

    def seed(self, zone, name, rtype, ttl, content):
        if rtype == "TXT":
            target = b"".join(fakebase.txt_strings(content)).decode("utf-8", "replace")
        else:
            target = content.rstrip(".") if rtype == "CNAME" else content
        self.store(zone, name, rtype, round_ttl(ttl), target)

    # ---- records in Linode's form

    def store(self, apex, fqdn, rtype, ttl, target):
        rec = self.recs.add(apex, fqdn, rtype, ttl, self.present(rtype, target), next(self.ids))
        rec["target"] = target
        rec["created"] = rec["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        return rec

    @staticmethod
    def present(rtype, target):
        if rtype == "TXT":
            return fakebase.txt_present(fakebase.txt_split(target.encode()))
        if rtype == "CNAME":
            return target + "."
        return target

    def shown(self, apex, rec):
        return {"id": rec["id"], "type": rec["type"],
                "name": "" if rec["name"] == apex else rec["name"][:-len(apex) - 1],
                "target": rec["target"], "priority": 0, "weight": 0, "port": 0,
                "service": None, "protocol": None, "ttl_sec": rec["ttl"], "tag": None,
                "created": rec["created"], "updated": rec["updated"]}

    @staticmethod
    def domain(apex, zid):
        return {"id": zid, "domain": apex, "type": "master", "status": "active",
                "soa_email": "hostmaster@" + apex, "description": "", "group": "", "tags": [],
                "ttl_sec": 0, "refresh_sec": 0, "retry_sec": 0, "expire_sec": 0,
                "master_ips": [], "axfr_ips": [], "created": "2026-01-01T00:00:00",
                "updated": "2026-01-01T00:00:00"}

    # ---- the API

    def handle(self, req):
        if req.headers.get("Authorization", "") != "Bearer " + self.token:
            raise error(401, "Invalid Token")
        paged = req.method == "GET" and (req.path.rstrip("/") in ("/v4/domains",)
                                         or req.path.endswith("/records"))
        headers = self.limit(paged)
        try:
            rep = self.route(req)
        except ApiError as e:
            e.headers += headers
            raise
        rep.headers += headers
        return rep

    def limit(self, paged):
        lim, window = (COLLECTIONS if paged else self.rate_limit)
        ok, reset, left = (self.collections if paged else self.limiter).hit()
        headers = [("X-RateLimit-Limit", str(lim)), ("X-RateLimit-Remaining", str(left)),
                   ("X-RateLimit-Reset", str(int(time.time() + reset + 1)))]
        if not ok:
            raise error(429, "Too Many Requests", None,
                        headers + [("Retry-After", str(int(reset) + 1))])
        return headers

    def zone_by_id(self, zid):
        apex = self.recs.zone_of_id(int(zid)) if zid.isdigit() else None
        if apex is None:
            raise error(404, "Not found")
        return apex

    def route(self, req):
        parts = req.path.strip("/").split("/")
        if parts == ["v4", "profile"] and req.method == "GET":
            return Reply(200, {"username": "stsctl-fake", "email": "fake@example.net",
                               "restricted": True, "uid": 1})
        if parts[:2] != ["v4", "domains"]:
            raise error(404, "Not found")
        if len(parts) == 2 and req.method == "GET":
            items = [self.domain(a, self.recs.zone_ids[a]) for a in sorted(self.recs.zones)]
            flt = self.x_filter(req)
            if "domain" in flt:
                items = [d for d in items if d["domain"] == str(flt["domain"]).lower()]
            return self.page(req, items)
        if len(parts) < 3:
            raise error(404, "Not found")
        apex = self.zone_by_id(parts[2])
        if len(parts) == 3 and req.method == "GET":
            return Reply(200, self.domain(apex, self.recs.zone_ids[apex]))
        if len(parts) == 4 and parts[3] == "records":
            if req.method == "GET":
                return self.page(req, [self.shown(apex, r) for r in self.recs.zones[apex]])
            if req.method == "POST":
                return self.create(req, apex)
        if len(parts) == 5 and parts[3] == "records":
            rec = self.recs.get(apex, int(parts[4])) if parts[4].isdigit() else None
            if rec is None:
                raise error(404, "Not found")
            if req.method == "GET":
                return Reply(200, self.shown(apex, rec))
            if req.method == "PUT":
                return self.update(req, apex, rec)
            if req.method == "DELETE":
                self.recs.remove(apex, rec["id"])
                return Reply(200, {})
        raise error(404, "Not found")

    @staticmethod
    def x_filter(req):
        raw = req.headers.get("X-Filter")
        if not raw:
            return {}
        try:
            flt = json.loads(raw)
        except ValueError:
            raise error(400, "Cannot parse X-Filter") from None
        if not isinstance(flt, dict):
            raise error(400, "X-Filter must be an object")
        return flt

    def page(self, req, items):
        try:
            page = int(req.q("page", "1"))
            size = int(req.q("page_size", "100"))
        except ValueError:
            raise error(400, "Must be an integer", "page") from None
        if not 25 <= size <= 500:
            raise error(400, "Must be a value between 25 and 500.", "page_size")
        chunk, pages = fakebase.paginate(items, page, min(size, self.page_size))
        if page < 1 or page > pages:
            raise error(400, "Must be a value between 1 and %d." % pages, "page")
        return Reply(200, {"data": chunk, "page": page, "pages": pages, "results": len(items)})

    def body(self, req):
        try:
            b = req.json()
        except ValueError:
            raise error(400, "Invalid JSON") from None
        if not isinstance(b, dict):
            raise error(400, "Invalid JSON")
        return b

    def check(self, apex, rtype, name, target, ttl, replacing=None):
        """(fqdn, target, ttl) as Linode keeps them, or a 400 as Linode words it."""
        if rtype not in TYPES:
            raise error(400, "type is not a valid record type", "type")
        if not isinstance(name, str) or len(name) > 100:
            raise error(400, "Record name must be 100 characters or less.", "name")
        if not isinstance(target, str) or not target:
            raise error(400, "Target is required", "target")
        if len(target) > 65535:
            raise error(400, "Length must be 0-65535 characters.", "target")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
            raise error(400, "ttl_sec must be a non-negative integer", "ttl_sec")
        fqdn = apex if name == "" else fakebase.norm_name(name) + "." + apex
        if fakebase.in_zone(fakebase.norm_name(name), apex) and name != "":
            # Linode takes a name ending in the domain as the full name
            fqdn = fakebase.norm_name(name)
        if rtype == "CNAME":
            target = target.rstrip(".")
        rec = {"name": fqdn, "type": rtype, "ttl": round_ttl(ttl),
               "content": self.present(rtype, target)}
        why = self.recs.problem(apex, rec, replacing)
        if why:
            if "CNAME" in why:
                raise error(400, "Record conflict - CNAMES must be unique", "name")
            raise error(400, why, "target")
        return fqdn, target, rec["ttl"]

    def create(self, req, apex):
        b = self.body(req)
        rtype = b.get("type")
        fqdn, target, ttl = self.check(apex, rtype, b.get("name", ""), b.get("target"),
                                       b.get("ttl_sec", 0))
        rec = self.store(apex, fqdn, rtype, ttl, target)
        return Reply(200, self.shown(apex, rec))

    def update(self, req, apex, rec):
        b = self.body(req)
        if "type" in b and b["type"] != rec["type"]:
            raise error(400, "The type of a record cannot change", "type")
        cur = self.shown(apex, rec)
        fqdn, target, ttl = self.check(apex, rec["type"], b.get("name", cur["name"]),
                                       b.get("target", rec["target"]),
                                       b.get("ttl_sec", rec["ttl"]), replacing=rec["id"])
        rec.update(name=fqdn, ttl=ttl, target=target, content=self.present(rec["type"], target),
                   updated=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()))
        return Reply(200, self.shown(apex, rec))


if __name__ == "__main__":
    fakebase.run(LinodeFake)
