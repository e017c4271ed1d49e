#!/usr/bin/python3
"""A fake of Google Cloud DNS API v1 and of Google's OAuth 2.0 token endpoint
(tests/fakes/gcloud/README.md), on tests/fakes/common/fakebase.py.

    POST /token                                   the JWT bearer grant (RFC 7523), on
                                                  a listener of its own (Google's is
                                                  another host); its port in
                                                  PORT_FILE.token
    GET  /dns/v1/projects/P/managedZones          managedZones.list (?dnsName, paged)
    GET  /dns/v1/projects/P/managedZones/Z/rrsets resourceRecordSets.list
                                                  (?name, ?type, paged)
    POST /dns/v1/projects/P/managedZones/Z/changes changes.create (atomic)
    GET  /dns/v1/projects/P/managedZones/Z/changes/ID  changes.get

Pages: ?maxResults (at most --page-size) and ?pageToken, nextPageToken in
the answer. A service account's signed JWT (RS256, checked against
--public-key) buys an access token valid --token-ttl seconds; the API
takes only live tokens of this fake. Errors in Google's shape:
{"error": {"code", "message", "errors": [{"domain", "reason", "message"}],
"status"}}; the token endpoint's as {"error", "error_description"}.
"""
import base64
import datetime
import http.server
import itertools
import json
import os
import secrets
import threading
import time
import urllib.parse

import jwt

import fakebase
from fakebase import ApiError, Reply

SCOPES_RW = ("https://www.googleapis.com/auth/ndev.clouddns.readwrite",
             "https://www.googleapis.com/auth/cloud-platform")
SCOPES_RO = SCOPES_RW + ("https://www.googleapis.com/auth/ndev.clouddns.readonly",
                         "https://www.googleapis.com/auth/cloud-platform.read-only")
# the token endpoint's own names (a key file's token_uri; the SDKs' constant)
GOOGLE_AUDIENCES = ("https://oauth2.googleapis.com/token",
                    "https://accounts.google.com/o/oauth2/token",
                    "https://www.googleapis.com/oauth2/v4/token")
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
          404: "NOT_FOUND", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION",
          429: "RESOURCE_EXHAUSTED"}


def gerr(code, reason, message, domain="global", headers=()):
    return ApiError(code, {"error": {
        "code": code, "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
        "status": STATUS.get(code, "UNKNOWN")}}, headers)


def oauth_err(code, error, description):
    return ApiError(code, {"error": error, "error_description": description})


def rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def txt_strings(rdata):
    """The strings of a TXT rrdata as Cloud DNS reads it: quoted strings, or
    unquoted words (each word a string); ValueError when a string is over
    255 octets or the quoting is broken."""
    if '"' in rdata:
        return fakebase.txt_strings(rdata)
    words = rdata.split()
    if not words:
        raise ValueError("empty TXT rrdata")
    for w in words:
        if len(w.encode()) > 255:
            raise ValueError("TXT string longer than 255 octets")
    return [w.encode() for w in words]


class GcloudFake(fakebase.Fake):
    """Google Cloud DNS v1 (fake)"""

    # Cloud DNS's API quota (cloud.google.com/dns/quotas) is a per-user,
    # per-minute request count whose value the console shows per project;
    # the fake enforces 600 a minute, stsctl's default rate_limit
    rate_limit = (600, 60)

    @classmethod
    def add_arguments(cls, ap):
        ap.add_argument("--public-key", required=True, help="PEM: the service account key's public half")
        ap.add_argument("--key-id", required=True, help="the key's private_key_id")
        ap.add_argument("--client-email", required=True)
        ap.add_argument("--project", required=True)
        ap.add_argument("--token-ttl", type=int, default=3600)

    def __init__(self, args):
        super().__init__(args)
        with open(args.public_key, "rb") as f:
            self.pub = f.read()
        self.tokens = {}  # access token -> (expiry, scopes); under token_lock
        self.token_lock = threading.Lock()
        self.zones = {}  # apex -> {"name", "id", "created", "rrsets": {(name., type): {ttl, rrdatas}}}
        self.changes = {}  # (zone name, id) -> change
        self.ids = itertools.count(1)
        self.token_server(args.port_file + ".token")

    def token_server(self, port_file):
        """The token endpoint on a listener of its own, as Google's is
        another host: its requests are not the DNS API's (nor in /_fake/stats)."""
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *a):
                pass

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(n, 1 << 20)) if n else b""
                req = fakebase.Request("POST", url.path, {}, self.headers, raw, self.path)
                try:
                    if url.path != "/token":
                        raise oauth_err(404, "not_found", "no such endpoint")
                    with fake.token_lock:
                        rep = fake.token(req)
                except ApiError as e:
                    rep = Reply(e.status, e.body)
                data = json.dumps(rep.body).encode()
                self.send_response(rep.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.replace(port_file + ".tmp", port_file)

    # ---------------------------------------------------------- token endpoint

    def token(self, req):
        ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype != "application/x-www-form-urlencoded":
            raise oauth_err(400, "invalid_request", "Invalid Content-Type")
        form = urllib.parse.parse_qs(req.raw.decode("utf-8", "replace"))
        grant = form.get("grant_type", [""])[0]
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise oauth_err(400, "unsupported_grant_type", "Invalid grant_type: %s" % grant)
        assertion = form.get("assertion", [""])[0]
        try:
            head = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise oauth_err(400, "invalid_grant", "Invalid JWT: malformed")
        if head.get("alg") != "RS256":
            raise oauth_err(400, "invalid_grant", "Invalid JWT: alg must be RS256")
        if claims.get("iss") != self.args.client_email:
            raise oauth_err(400, "invalid_grant", "Invalid grant: account not found")
        if "kid" in head and head["kid"] != self.args.key_id:
            raise oauth_err(400, "invalid_grant", "Invalid JWT Signature.")
        host = req.headers.get("Host") or ""
        own = "http://%s%s" % (host, req.path)
        try:
            claims = jwt.decode(assertion, self.pub, algorithms=["RS256"],
                                audience=list(GOOGLE_AUDIENCES) + [own], leeway=60,
                                options={"require": ["iss", "aud", "iat", "exp"]})
        except jwt.InvalidSignatureError:
            raise oauth_err(400, "invalid_grant", "Invalid JWT Signature.")
        except jwt.InvalidAudienceError:
            raise oauth_err(400, "invalid_grant", "Invalid JWT: audience is not the token endpoint")
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
            raise oauth_err(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token "
                            "(60 minutes) and in a reasonable timeframe. Check your iat and exp "
                            "values in the JWT claim.")
        except jwt.PyJWTError as e:
            raise oauth_err(400, "invalid_grant", "Invalid JWT: %s" % e)
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            raise oauth_err(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token "
                            "(60 minutes) and in a reasonable timeframe. Check your iat and exp "
                            "values in the JWT claim.")
        scopes = tuple(str(claims.get("scope", "")).split())
        if not scopes:
            raise oauth_err(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        tok = "ya29.fake-" + secrets.token_urlsafe(24)
        self.tokens[tok] = (time.monotonic() + self.args.token_ttl, scopes)
        return Reply(200, {"access_token": tok, "expires_in": self.args.token_ttl - 1,
                           "token_type": "Bearer"})

    def authorize(self, req):
        auth = req.headers.get("Authorization") or ""
        www = [("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/", error="invalid_token"')]
        if not auth.startswith("Bearer "):
            raise gerr(401, "required", "Request is missing required authentication credential. "
                       "Expected OAuth 2 access token, login cookie or other valid authentication "
                       "credential.", headers=www)
        with self.token_lock:
            tok = self.tokens.get(auth[7:].strip())
        if not tok or tok[0] < time.monotonic():
            raise gerr(401, "authError", "Request had invalid authentication credentials. Expected "
                       "OAuth 2 access token, login cookie or other valid authentication "
                       "credential.", headers=www)
        need = SCOPES_RW if req.write else SCOPES_RO
        if not any(s in need for s in tok[1]):
            raise gerr(403, "insufficientPermissions", "Request had insufficient authentication scopes.")

    # ---------------------------------------------------------- the API

    def handle(self, req):
        parts = [urllib.parse.unquote(p) for p in req.path.split("/")]
        if parts[:4] != ["", "dns", "v1", "projects"] or len(parts) < 6 or parts[5] != "managedZones":
            raise gerr(404, "notFound", "The requested URL %s was not found on this server." % req.path)
        self.authorize(req)
        if self.limiter:
            ok, _reset, _left = self.limiter.hit()
            if not ok:
                raise gerr(429, "rateLimitExceeded",
                           "Quota exceeded for quota metric 'Read requests' and limit 'Read requests "
                           "per minute per user' of service 'dns.googleapis.com'.", "usageLimits")
        if parts[4] != self.args.project:
            raise gerr(403, "forbidden", "The caller does not have permission")
        rest = parts[6:]
        if not rest and req.method == "GET":
            return self.list_zones(req)
        if rest and rest[0]:
            z = self.zone_named(rest[0])
            if rest[1:] == ["rrsets"] and req.method == "GET":
                return self.list_rrsets(req, z)
            if rest[1:] == ["changes"] and req.method == "POST":
                return self.create_change(req, z)
            if len(rest) == 3 and rest[1] == "changes" and req.method == "GET":
                ch = self.changes.get((z["name"], rest[2]))
                if not ch:
                    raise gerr(404, "notFound", "The 'parameters.changeId' resource named '%s' "
                               "does not exist." % rest[2])
                return Reply(200, dict(ch, status="done"))
        raise gerr(404, "notFound", "The requested URL %s was not found on this server." % req.path)

    def zone_named(self, name):
        for z in self.zones.values():
            if z["name"] == name:
                return z
        raise gerr(404, "notFound", "The 'parameters.managedZone' resource named '%s' does not exist." % name)

    def page(self, req, items, key, kind):
        try:
            want = int(req.q("maxResults") or self.page_size)
            start = int(base64.urlsafe_b64decode(req.q("pageToken")).decode()) if req.q("pageToken") else 0
        except ValueError:
            raise gerr(400, "invalid", "Invalid value for pageToken or maxResults")
        if want <= 0:
            raise gerr(400, "invalid", "Invalid value for 'parameters.maxResults': '%d'" % want)
        n = min(want, self.page_size)
        out = {"kind": kind, key: items[start:start + n]}
        if start + n < len(items):
            out["nextPageToken"] = base64.urlsafe_b64encode(str(start + n).encode()).decode()
        return Reply(200, out)

    def zone_doc(self, apex, z):
        return {"kind": "dns#managedZone", "name": z["name"], "dnsName": apex + ".", "id": z["id"],
                "description": "", "creationTime": z["created"], "visibility": "public",
                "nameServers": ["ns-cloud-a%d.googledomains.com." % i for i in range(1, 5)]}

    def list_zones(self, req):
        dns_name = req.q("dnsName")
        if dns_name is not None and not dns_name.endswith("."):
            dns_name += "."  # Cloud DNS takes the name with or without the dot
        items = [self.zone_doc(apex, z) for apex, z in sorted(self.zones.items())
                 if dns_name is None or apex + "." == dns_name.lower()]
        return self.page(req, items, "managedZones", "dns#managedZonesListResponse")

    def list_rrsets(self, req, z):
        name, rtype = req.q("name"), req.q("type")
        if rtype and not name:
            raise gerr(400, "invalid", "Invalid value for 'parameters.type': '%s'" % rtype)
        items = [self.rrset_doc(k, v) for k, v in sorted(z["rrsets"].items())
                 if (not name or k[0] == name.lower()) and (not rtype or k[1] == rtype)]
        return self.page(req, items, "rrsets", "dns#resourceRecordSetsListResponse")

    @staticmethod
    def rrset_doc(key, v):
        return {"kind": "dns#resourceRecordSet", "name": key[0], "type": key[1], "ttl": v["ttl"],
                "rrdatas": list(v["rrdatas"])}

    def check_rrset(self, apex, rs, where):
        if not isinstance(rs, dict):
            raise gerr(400, "invalid", "Invalid value for '%s'" % where)
        name, rtype = rs.get("name"), rs.get("type")
        if not isinstance(name, str) or not name.endswith("."):
            raise gerr(400, "invalid", "Invalid value for '%s.name': '%s'" % (where, name))
        if not fakebase.in_zone(fakebase.norm_name(name), apex):
            raise gerr(400, "invalid", "Invalid value for '%s.name': '%s' is not in the zone" % (where, name))
        if not isinstance(rtype, str) or not rtype.isalnum() or rtype != rtype.upper():
            raise gerr(400, "invalid", "Invalid value for '%s.type': '%s'" % (where, rtype))
        ttl = rs.get("ttl")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 2147483647:
            raise gerr(400, "invalid", "Invalid value for '%s.ttl': '%s'" % (where, ttl))
        rrdatas = rs.get("rrdatas")
        if not isinstance(rrdatas, list) or not rrdatas or not all(isinstance(d, str) for d in rrdatas):
            raise gerr(400, "invalid", "The resource record set '%s' is invalid because it has no "
                       "rrdatas." % where)
        if len(rrdatas) > 100:
            raise gerr(400, "invalid", "The resource record set '%s' has more than 100 rrdatas" % where)
        for i, d in enumerate(rrdatas):
            if rtype == "TXT":
                try:
                    txt_strings(d)
                except ValueError:
                    raise gerr(400, "invalid", "Invalid value for '%s.rrdata[%d]': '%s'" % (where, i, d))
            elif rtype == "CNAME" and (len(rrdatas) > 1 or not d.endswith(".")):
                raise gerr(400, "invalid", "Invalid value for '%s.rrdata[%d]': '%s'" % (where, i, d))
        return (name.lower(), rtype)

    def create_change(self, req, z):
        apex = next(a for a, v in self.zones.items() if v is z)
        try:
            body = req.json()
        except ValueError:
            raise gerr(400, "parseError", "Parse Error")
        if not isinstance(body, dict):
            raise gerr(400, "parseError", "Parse Error")
        adds, dels = body.get("additions") or [], body.get("deletions") or []
        if not isinstance(adds, list) or not isinstance(dels, list) or not (adds or dels):
            raise gerr(400, "required", "The 'entity.change' resource has no additions or deletions.")
        if len(adds) > 1000 or len(dels) > 1000:
            raise gerr(400, "invalid", "A change holds at most 1000 additions and 1000 deletions")
        new = dict(z["rrsets"])
        for i, rs in enumerate(dels):
            key = self.check_rrset(apex, rs, "entity.change.deletions[%d]" % i)
            have = new.get(key)
            if have is None:
                raise gerr(404, "notFound", "The 'entity.change.deletions[%d]' resource named '%s (%s)' "
                           "does not exist." % (i, key[0], key[1]))
            if have["ttl"] != rs["ttl"] or sorted(have["rrdatas"]) != sorted(rs["rrdatas"]):
                raise gerr(412, "conditionNotMet", "Precondition not met for 'entity.change.deletions[%d]'" % i)
            if key[1] == "SOA" or (key[1] == "NS" and key[0] == apex + "."):
                raise gerr(400, "invalid", "The zone's apex %s cannot be deleted" % key[1])
            del new[key]
        for i, rs in enumerate(adds):
            key = self.check_rrset(apex, rs, "entity.change.additions[%d]" % i)
            if key in new:
                raise gerr(409, "alreadyExists", "The resource 'entity.change.additions[%d]' named "
                           "'%s (%s)' already exists" % (i, key[0], key[1]))
            others = [k for k in new if k[0] == key[0]]
            if (key[1] == "CNAME" and others) or any(k[1] == "CNAME" for k in others):
                raise gerr(400, "cnameResourceRecordSetConflict", "The resource record set "
                           "'entity.change.additions[%d]' is invalid because a CNAME resource record "
                           "set cannot coexist with another record set of the same name." % i)
            new[key] = {"ttl": rs["ttl"], "rrdatas": list(rs["rrdatas"])}
        z["rrsets"] = new
        cid = str(next(self.ids))
        ch = {"kind": "dns#change", "id": cid, "startTime": rfc3339(), "status": "pending",
              "additions": [self.rrset_doc(self.check_rrset(apex, rs, "a"), rs) for rs in adds],
              "deletions": [self.rrset_doc(self.check_rrset(apex, rs, "d"), rs) for rs in dels]}
        self.changes[(z["name"], cid)] = ch
        return Reply(200, ch)

    # ---------------------------------------------------------- the common side

    def add_zone(self, apex):
        if apex in self.zones:
            return
        name = apex.replace(".", "-")
        z = {"name": name, "id": str(4000000000000000000 + len(self.zones) + 1),
             "created": rfc3339(), "rrsets": {}}
        z["rrsets"][(apex + ".", "SOA")] = {"ttl": 21600, "rrdatas": [
            "ns-cloud-a1.googledomains.com. cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300"]}
        z["rrsets"][(apex + ".", "NS")] = {"ttl": 21600, "rrdatas": [
            "ns-cloud-a%d.googledomains.com." % i for i in range(1, 5)]}
        self.zones[apex] = z

    @staticmethod
    def present(rtype, rdata):
        return fakebase.txt_present(txt_strings(rdata)) if rtype == "TXT" else rdata

    def state(self):
        return {apex: [{"name": k[0].rstrip("."), "type": k[1], "ttl": v["ttl"],
                        "content": self.present(k[1], d)}
                       for k, v in sorted(z["rrsets"].items()) for d in v["rrdatas"]]
                for apex, z in self.zones.items()}

    def raw(self, zone, name, rtype):
        z = self.zones.get(zone)
        v = z and z["rrsets"].get((name + ".", rtype))
        return list(v["rrdatas"]) if v else []

    def seed(self, zone, name, rtype, ttl, content):
        self.add_zone(zone)
        if rtype == "CNAME" and not content.endswith("."):
            content += "."
        rs = self.zones[zone]["rrsets"].setdefault((name + ".", rtype), {"ttl": ttl, "rrdatas": []})
        rs["ttl"] = ttl
        rs["rrdatas"].append(content)


if __name__ == "__main__":
    fakebase.run(GcloudFake)
