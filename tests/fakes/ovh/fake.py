#!/usr/bin/env python3
"""A fake of the OVHcloud API /1.0 DNS zone endpoints (tests/fakes/ovh/README.md).

    GET    /1.0/auth/time                                      (no credentials)
    GET    /1.0/domain/zone                                    ["zone", ...]
    GET    /1.0/domain/zone/{zone}                             {"name", ...}
    GET    /1.0/domain/zone/{zone}/record?fieldType=&subDomain=  [id, ...]
    GET    /1.0/domain/zone/{zone}/record/{id}                 {"id", "zone", "subDomain",
                                                                "fieldType", "target", "ttl"}
    POST   /1.0/domain/zone/{zone}/record   {fieldType, subDomain, target, ttl}
    PUT    /1.0/domain/zone/{zone}/record/{id}   {subDomain, target, ttl}
    DELETE /1.0/domain/zone/{zone}/record/{id}
    POST   /1.0/domain/zone/{zone}/refresh

Every request but /auth/time is signed: X-Ovh-Application, X-Ovh-Consumer,
X-Ovh-Timestamp (the fake's clock, --clock-skew seconds off the host's, so
a client must ask /auth/time) and X-Ovh-Signature "$1$" + hex SHA1 of
AS+CK+METHOD+URL+BODY+TIMESTAMP joined by "+". Changes show in the API at
once but are served (/_fake/state, the PowerDNS mirror) only after the
zone's refresh.
"""
import copy
import hashlib
import itertools
import time

import fakebase
from fakebase import ApiError, Reply

TIME_WINDOW = 180  # seconds a timestamp may be off the fake's clock


def client_err(status, cls, message):
    return ApiError(status, {"class": cls, "message": message})


def auth_err(status, code, message):
    reason = {400: "400 Bad Request", 403: "403 Forbidden"}[status]
    return ApiError(status, {"errorCode": code, "httpCode": reason, "message": message})


class OvhFake(fakebase.Fake):
    """OVHcloud API /1.0 (domain zones) fake."""

    # OVH documents no fixed limit for /1.0; its maintainers give 60 requests
    # a minute per consumer key as the fair use that is never refused
    rate_limit = (60, 60)

    @classmethod
    def add_arguments(cls, ap):
        ap.add_argument("--app-key", required=True)
        ap.add_argument("--app-secret", required=True)
        ap.add_argument("--consumer-key", required=True)
        ap.add_argument("--clock-skew", type=int, default=0,
                        help="the fake's clock minus the host's, in seconds")

    def __init__(self, args):
        super().__init__(args)
        self.recs = fakebase.Records(ttl_min=0, ttl_max=2147483647)
        self.served = {}  # apex -> the records as of the last refresh
        self.ids = itertools.count(5000000001)

    def now(self):
        return int(time.time()) + self.args.clock_skew

    # ---- the common form

    def add_zone(self, apex):
        self.recs.add_zone(apex)
        self.served.setdefault(apex, [])

    def state(self):
        return {apex: [{k: r[k] for k in ("name", "type", "ttl", "content")} for r in recs]
                for apex, recs in self.served.items()}

    def seed(self, zone, name, rtype, ttl, content):
        if rtype in ("CNAME", "MX", "NS") and not content.endswith("."):
            content += "."
        self.recs.add(zone, name, rtype, ttl, content, rid=str(next(self.ids)))
        self.served[zone] = copy.deepcopy(self.recs.zones[zone])  # someone refreshed

    def raw(self, zone, name, rtype):
        if zone not in self.recs.zones:
            return []
        return [r["content"] for r in self.recs.at(zone, name, rtype)]

    # ---- authentication

    def check_auth(self, req):
        ak = req.headers.get("X-Ovh-Application")
        if ak != self.args.app_key:
            raise auth_err(403, "INVALID_KEY", "This application key is invalid")
        ck = req.headers.get("X-Ovh-Consumer")
        if ck != self.args.consumer_key:
            raise auth_err(403, "INVALID_CREDENTIAL", "This credential does not exist")
        ts = req.headers.get("X-Ovh-Timestamp") or ""
        if not ts.isdigit() or abs(int(ts) - self.now()) > TIME_WINDOW:
            raise auth_err(400, "QUERY_TIME_OUT", "Query out of time")
        sig = req.headers.get("X-Ovh-Signature") or ""
        body = req.raw.decode("utf-8", "replace")
        host = req.headers.get("Host") or ""
        for h in {host, host.split(":")[0]}:
            for scheme in ("https", "http"):
                url = "%s://%s%s" % (scheme, h, req.url)
                want = "$1$" + hashlib.sha1("+".join(
                    [self.args.app_secret, ck, req.method, url, body, ts]).encode()).hexdigest()
                if sig == want:
                    return
        raise auth_err(400, "INVALID_SIGNATURE", "Invalid signature")

    # ---- records

    def ovh(self, apex, rec):
        sub = "" if rec["name"] == apex else rec["name"][: -len(apex) - 1]
        return {"id": int(rec["id"]), "zone": apex, "subDomain": sub, "fieldType": rec["type"],
                "target": rec["content"], "ttl": rec["ttl"]}

    def content_of(self, rtype, target):
        if not isinstance(target, str) or not target:
            raise client_err(400, "Client::BadRequest", "Invalid target")
        if rtype == "TXT" and not target.startswith('"'):
            return fakebase.txt_present(fakebase.txt_split(target.encode()))
        return target

    def record_of(self, apex, b, rtype, old=None):
        sub = b.get("subDomain", old and self.ovh(apex, old)["subDomain"] or "")
        if not isinstance(sub, str):
            raise client_err(400, "Client::BadRequest", "Invalid subDomain")
        ttl = b.get("ttl", old["ttl"] if old else 0)
        if not isinstance(ttl, int) or isinstance(ttl, bool):
            raise client_err(400, "Client::BadRequest", "Invalid ttl")
        target = b["target"] if "target" in b else (old["content"] if old else None)
        name = apex if sub == "" else fakebase.norm_name(sub) + "." + apex
        return {"id": old["id"] if old else str(next(self.ids)), "name": name, "type": rtype,
                "ttl": ttl, "content": self.content_of(rtype, target)}

    def body(self, req):
        try:
            b = req.json()
        except ValueError:
            raise client_err(400, "Client::BadRequest", "Invalid JSON body")
        if not isinstance(b, dict):
            raise client_err(400, "Client::BadRequest", "Invalid JSON body")
        return b

    def check(self, apex, rec, replacing=None):
        why = self.recs.problem(apex, rec, replacing)
        if why:
            raise client_err(400, "Client::BadRequest", "Invalid record: " + why)

    # ---- the API

    def handle(self, req):
        if self.limiter:
            ok, _, _ = self.limiter.hit()
            if not ok:
                raise client_err(429, "Client::TooManyRequests", "Too many requests")
        parts = req.path.rstrip("/").split("/")
        if parts[:2] != ["", "1.0"]:
            raise client_err(404, "Client::NotFound", "Got an invalid (or empty) URL")
        parts = parts[2:]
        if parts == ["auth", "time"] and req.method == "GET":
            return Reply(200, self.now())
        self.check_auth(req)
        if parts[:2] != ["domain", "zone"]:
            raise client_err(404, "Client::NotFound", "Got an invalid (or empty) URL")
        if len(parts) == 2 and req.method == "GET":
            return Reply(200, sorted(self.recs.zones))
        apex = fakebase.norm_name(parts[2])
        if apex not in self.recs.zones:
            raise client_err(404, "Client::NotFound", "This service does not exist")
        rest = parts[3:]
        if rest == [] and req.method == "GET":
            return Reply(200, {"name": apex, "dnssecSupported": True, "hasDnsAnycast": False,
                               "nameServers": ["dns1.example.invalid", "ns1.example.invalid"]})
        if rest == ["refresh"] and req.method == "POST":
            self.served[apex] = copy.deepcopy(self.recs.zones[apex])
            return Reply(200, "null", content_type="application/json; charset=utf-8")
        if rest == ["record"] and req.method == "GET":
            ftype, sub = req.q("fieldType"), req.q("subDomain")
            ids = [int(r["id"]) for r in self.recs.zones[apex]
                   if (ftype is None or ftype == "" or r["type"] == ftype.upper())
                   and (sub is None or self.ovh(apex, r)["subDomain"] == sub.lower())]
            return Reply(200, ids)
        if rest == ["record"] and req.method == "POST":
            b = self.body(req)
            if not isinstance(b.get("fieldType"), str) or "target" not in b:
                raise client_err(400, "Client::BadRequest",
                                 "Missing parameter(s): fieldType, target")
            rec = self.record_of(apex, b, b["fieldType"].upper())
            self.check(apex, rec)
            self.recs.zones[apex].append(rec)
            return Reply(200, self.ovh(apex, rec))
        if len(rest) == 2 and rest[0] == "record":
            rec = self.recs.get(apex, rest[1])
            if rec is None:
                raise client_err(404, "Client::NotFound",
                                 "The requested object (id = %s) does not exist" % rest[1])
            if req.method == "GET":
                return Reply(200, self.ovh(apex, rec))
            if req.method == "PUT":
                new = self.record_of(apex, self.body(req), rec["type"], rec)
                self.check(apex, new, replacing=rec["id"])
                rec.update(new)
                return Reply(200, "null", content_type="application/json; charset=utf-8")
            if req.method == "DELETE":
                self.recs.remove(apex, rec["id"])
                return Reply(200, "null", content_type="application/json; charset=utf-8")
        raise client_err(404, "Client::NotFound", "Got an invalid (or empty) URL")


if __name__ == "__main__":
    fakebase.run(OvhFake)
