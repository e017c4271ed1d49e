#!/usr/bin/env python3
"""A fake of DigitalOcean's API v2, domains and domain records (README.md).

    fake.py --port-file FILE --token TOKEN [common options of fakebase.py]

Serves what the digitalocean plugin uses, as the published OpenAPI
description (spec/) and the API reference describe it:

    GET    /v2/domains                               {"domains", "links", "meta"}
    GET    /v2/domains/NAME                          {"domain"}
    GET    /v2/domains/NAME/records[?name=FQDN&type=T] {"domain_records", "links", "meta"}
    POST   /v2/domains/NAME/records                  201 {"domain_record"}
    GET    /v2/domains/NAME/records/ID               {"domain_record"}
    PUT    /v2/domains/NAME/records/ID               {"domain_record"}
    PATCH  /v2/domains/NAME/records/ID               {"domain_record"}
    DELETE /v2/domains/NAME/records/ID               204

Lists are paged (?page=1.., ?per_page=1..200, the fake's --page-size at
most): links.pages has first/prev/next/last URLs, meta.total the count.
Every request needs "Authorization: Bearer TOKEN". Errors are
{"id", "message", "request_id"}. Every answer carries ratelimit-limit,
ratelimit-remaining and ratelimit-reset; 250 requests a minute and 5,000
an hour, then 429.
"""
import itertools
import time
import uuid

import fakebase
from fakebase import ApiError, Reply

TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "NS", "SOA", "SRV", "TXT")
NULLS = ("priority", "port", "weight", "flags", "tag")
HOURLY = (5000, 3600)


def error(status, eid, message, headers=()):
    return ApiError(status, {"id": eid, "message": message, "request_id": str(uuid.uuid4())},
                    headers)


class DigitalOceanFake(fakebase.Fake):
    """A fake of DigitalOcean's domains API (tests/fakes/digitalocean/README.md)."""

    rate_limit = (250, 60)  # the per-minute limit; the hourly one beside it

    @classmethod
    def add_arguments(cls, ap):
        ap.add_argument("--token", required=True, help="the one personal access token accepted")

    def __init__(self, args):
        super().__init__(args)
        self.token = args.token
        self.recs = fakebase.Records(ttl_min=30)
        self.ids = itertools.count(3352896)
        self.hourly = fakebase.RateLimiter(HOURLY[0], HOURLY[1], args.rate_scale)

    # ---- the controls' side

    def add_zone(self, apex):
        self.recs.add_zone(apex)

    def state(self):
        return self.recs.common()

    def raw(self, zone, name, rtype):
        if zone not in self.recs.zones:
            return []
        return [r["data"] for r in self.recs.at(zone, name, rtype)]

    def seed(self, zone, name, rtype, ttl, content):
        if rtype == "TXT":
            data = b"".join(fakebase.txt_strings(content)).decode("utf-8", "replace")
        else:
            data = content.rstrip(".") if rtype == "CNAME" else content
        self.store(zone, name, rtype, ttl, data)

    # ---- records in DigitalOcean's form

    def store(self, apex, fqdn, rtype, ttl, data, rid=None):
        rec = self.recs.add(apex, fqdn, rtype, ttl, self.present(rtype, data),
                            rid or next(self.ids))
        rec["data"] = data
        return rec

    @staticmethod
    def present(rtype, data):
        if rtype == "TXT":
            return fakebase.txt_present(fakebase.txt_split(data.encode()))
        if rtype == "CNAME":
            return data + "."
        return data

    @staticmethod
    def relative(apex, fqdn):
        return "@" if fqdn == apex else fqdn[:-len(apex) - 1]

    def shown(self, apex, rec):
        out = {"id": rec["id"], "type": rec["type"], "name": self.relative(apex, rec["name"]),
               "data": rec["data"], "ttl": rec["ttl"]}
        out.update({k: None for k in NULLS})
        return out

    # ---- the API

    def handle(self, req):
        # the limits are the token's: a request without a valid one does not count
        auth = req.headers.get("Authorization", "")
        if auth != "Bearer " + self.token:
            raise error(401, "unauthorized", "Unable to authenticate you")
        headers = self.limit()
        try:
            rep = self.route(req)
        except ApiError as e:
            e.headers += headers
            raise
        rep.headers += headers
        return rep

    def limit(self):
        """The rate-limit headers; a 429 past either limit, with Retry-After
        (seconds) since DigitalOcean added it to its burst-limit answer."""
        ok_min, min_reset, _ = self.limiter.hit()
        ok_hour, reset, left = self.hourly.hit() if ok_min else (True, min_reset, 0)
        headers = [("ratelimit-limit", str(HOURLY[0])),
                   ("ratelimit-remaining", str(left if ok_min else 0)),
                   ("ratelimit-reset", str(int(time.time() + reset + 1)))]
        if not ok_min:
            headers.append(("Retry-After", str(int(min_reset) + 1)))
        if not ok_hour:
            headers.append(("Retry-After", str(int(reset) + 1)))
        if not (ok_min and ok_hour):
            raise error(429, "too_many_requests", "API rate limit exceeded.", headers)
        return headers

    def route(self, req):
        parts = req.path.strip("/").split("/")
        if parts[:2] != ["v2", "domains"]:
            raise error(404, "not_found", "The resource you were accessing could not be found.")
        if len(parts) == 2 and req.method == "GET":
            items = [{"name": a, "ttl": 1800, "zone_file": None} for a in sorted(self.recs.zones)]
            return self.page(req, "domains", items)
        apex = fakebase.norm_name(parts[2]) if len(parts) > 2 else ""
        if apex not in self.recs.zones:
            raise error(404, "not_found", "The resource you were accessing could not be found.")
        if len(parts) == 3 and req.method == "GET":
            return Reply(200, {"domain": {"name": apex, "ttl": 1800, "zone_file": None}})
        if len(parts) == 4 and parts[3] == "records":
            if req.method == "GET":
                return self.list_records(req, apex)
            if req.method == "POST":
                return self.create(req, apex)
        if len(parts) == 5 and parts[3] == "records":
            rec = self.recs.get(apex, int(parts[4])) if parts[4].isdigit() else None
            if rec is None:
                raise error(404, "not_found", "The resource you were accessing could not be found.")
            if req.method == "GET":
                return Reply(200, {"domain_record": self.shown(apex, rec)})
            if req.method in ("PUT", "PATCH"):
                return self.update(req, apex, rec)
            if req.method == "DELETE":
                self.recs.remove(apex, rec["id"])
                return Reply(204)
        raise error(404, "not_found", "The resource you were accessing could not be found.")

    def page(self, req, key, items):
        try:
            page = int(req.q("page", "1"))
            per_page = int(req.q("per_page", "20"))
        except ValueError:
            raise error(400, "bad_request", "page and per_page must be integers") from None
        if page < 1 or per_page < 1:
            raise error(400, "bad_request", "page and per_page must be positive")
        per_page = min(per_page, 200, self.page_size)
        chunk, last = fakebase.paginate(items, page, per_page)
        base = "http://%s%s?per_page=%d&page=" % (req.headers.get("Host", "127.0.0.1"),
                                                   req.path, per_page)
        for k in ("name", "type"):
            if req.q(k):
                base = base.replace("?", "?%s=%s&" % (k, req.q(k)), 1)
        pages = {}
        if page > 1:
            pages.update(first=base + "1", prev=base + str(page - 1))
        if page < last:
            pages.update(next=base + str(page + 1), last=base + str(last))
        return Reply(200, {key: chunk, "links": {"pages": pages}, "meta": {"total": len(items)}})

    def list_records(self, req, apex):
        name, rtype = req.q("name"), req.q("type")
        if rtype and rtype not in TYPES:
            raise error(422, "unprocessable_entity", "type is not a valid record type")
        recs = [r for r in self.recs.zones[apex]
                if (not name or r["name"] == fakebase.norm_name(name))
                and (not rtype or r["type"] == rtype)]
        return self.page(req, "domain_records", [self.shown(apex, r) for r in recs])

    def body(self, req):
        try:
            b = req.json()
        except ValueError:
            raise error(400, "bad_request", "unable to parse the request body as JSON") from None
        if not isinstance(b, dict):
            raise error(422, "unprocessable_entity", "the request body must be an object")
        return b

    def check(self, apex, rtype, name, data, ttl, replacing=None):
        """The record in the common form, or a 422 as DigitalOcean words it."""
        if rtype not in TYPES or rtype == "SOA":
            raise error(422, "unprocessable_entity", "Type is not included in the list")
        if not isinstance(name, str) or not name:
            raise error(422, "unprocessable_entity", "Name can't be blank")
        if not isinstance(data, str) or not data:
            raise error(422, "unprocessable_entity", "Data can't be blank")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 30:
            raise error(422, "unprocessable_entity", "TTL must be at least 30 seconds")
        # a name is relative to the domain: "@" the apex, anything else gets
        # the domain appended (an absolute name too, as the API does)
        fqdn = apex if name == "@" else fakebase.norm_name(name) + "." + apex
        if rtype == "CNAME":
            data = apex if data == "@" else data.rstrip(".")
        rec = {"name": fqdn, "type": rtype, "ttl": ttl, "content": self.present(rtype, data)}
        why = self.recs.problem(apex, rec, replacing)
        if why:
            if "CNAME" in why:
                why = "CNAME records cannot share a name with other records."
            raise error(422, "unprocessable_entity", why)
        return fqdn, data

    def create(self, req, apex):
        b = self.body(req)
        rtype = b.get("type")
        fqdn, data = self.check(apex, rtype, b.get("name"), b.get("data"), b.get("ttl", 1800))
        rec = self.store(apex, fqdn, rtype, b.get("ttl", 1800), data)
        return Reply(201, {"domain_record": self.shown(apex, rec)})

    def update(self, req, apex, rec):
        b = self.body(req)
        rtype = b.get("type", rec["type"])
        if rtype != rec["type"]:
            raise error(422, "unprocessable_entity", "the type of a record cannot change")
        name = b.get("name", self.relative(apex, rec["name"]))
        fqdn, data = self.check(apex, rtype, name, b.get("data", rec["data"]),
                                b.get("ttl", rec["ttl"]), replacing=rec["id"])
        rec.update(name=fqdn, ttl=b.get("ttl", rec["ttl"]), data=data,
                   content=self.present(rtype, data))
        return Reply(200, {"domain_record": self.shown(apex, rec)})


if __name__ == "__main__":
    fakebase.run(DigitalOceanFake)
