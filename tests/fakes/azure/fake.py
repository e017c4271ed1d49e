#!/usr/bin/env python3
"""A fake of Azure DNS (Azure Resource Manager, Microsoft.Network/dnsZones,
api-version 2018-05-01) and of the Microsoft Entra ID token endpoint (the
OAuth 2.0 client credentials grant), for plugins/azure. A fake, written from
the published REST reference (README.md): no Azure service is reached.

Two listeners on 127.0.0.1: the Resource Manager API (the common command
line of fakebase.py, its port in --port-file) and the token endpoint (its
port in --login-port-file; requests to it are not counted in /_fake/stats,
as the token service is another host than management.azure.com).

    fake.py --port-file F --login-port-file F2 --tenant T --client-id C
            --client-secret-file S --subscription SUB --resource-group RG
            [--token-lifetime SECONDS] [--write-limit N] [common options]
"""
import base64
import http.server
import json
import math
import secrets
import sys
import threading
import time
import urllib.parse
import uuid

import fakebase
from fakebase import ApiError, Reply

API_VERSIONS = ("2018-05-01",)
SCOPES = ("https://management.azure.com/.default", "https://management.core.windows.net//.default")
# record type -> (property, one record (True) or a list)
PROPS = {"A": ("ARecords", False), "AAAA": ("AAAARecords", False), "CAA": ("CAARecords", False),
         "CNAME": ("CNAMERecord", True), "MX": ("MXRecords", False), "NS": ("NSRecords", False),
         "PTR": ("PTRRecords", False), "SOA": ("SOARecord", True), "SRV": ("SRVRecords", False),
         "TXT": ("TXTRecords", False)}
MAX_RECORDS = 20      # records per record set
MAX_TXT_TOTAL = 4096  # characters of all strings of a TXT record set
NAME_SERVERS = ["ns1-01.azure-dns.com.", "ns2-01.azure-dns.net.",
                "ns3-01.azure-dns.org.", "ns4-01.azure-dns.info."]


def err(status, code, message, headers=()):
    return ApiError(status, {"error": {"code": code, "message": message}}, headers)


def txt_octets(s):
    return s.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- records <-> presentation

def present(rtype, rec):
    """One record of the API as presentation-form content (the common form)."""
    if rtype == "TXT":
        return fakebase.txt_present([txt_octets(s) for s in rec["value"]])
    if rtype == "A":
        return rec["ipv4Address"]
    if rtype == "AAAA":
        return rec["ipv6Address"]
    if rtype == "CNAME":
        return rec["cname"]
    if rtype == "MX":
        return "%d %s" % (rec["preference"], rec["exchange"])
    if rtype == "NS":
        return rec["nsdname"]
    if rtype == "PTR":
        return rec["ptrdname"]
    if rtype == "SRV":
        return "%d %d %d %s" % (rec["priority"], rec["weight"], rec["port"], rec["target"])
    if rtype == "CAA":
        return '%d %s "%s"' % (rec["flags"], rec["tag"], rec["value"])
    if rtype == "SOA":
        return "%s %s %d %d %d %d %d" % (rec["host"], rec["email"], rec["serialNumber"],
                                         rec["refreshTime"], rec["retryTime"], rec["expireTime"],
                                         rec["minimumTTL"])
    raise ValueError(rtype)


def parse(rtype, content):
    """Presentation-form content (a seed) -> one record of the API."""
    f = content.split()
    if rtype == "TXT":
        return {"value": [s.decode("utf-8", "surrogateescape")
                          for s in fakebase.txt_strings(content)]}
    if rtype == "A":
        return {"ipv4Address": content}
    if rtype == "AAAA":
        return {"ipv6Address": content}
    if rtype == "CNAME":
        return {"cname": content}
    if rtype == "MX":
        return {"preference": int(f[0]), "exchange": f[1]}
    if rtype == "NS":
        return {"nsdname": content}
    if rtype == "PTR":
        return {"ptrdname": content}
    if rtype == "SRV":
        return {"priority": int(f[0]), "weight": int(f[1]), "port": int(f[2]), "target": f[3]}
    if rtype == "CAA":
        return {"flags": int(f[0]), "tag": f[1], "value": " ".join(f[2:]).strip('"')}
    raise ValueError("the fake cannot seed a %s record" % rtype)


def check_records(rtype, recs):
    """Why the records of a PUT are not valid for rtype, or None (the
    service's rules as documented: TXT strings up to 255 characters, 4096
    characters per record set, at most 20 records per record set)."""
    if not recs:
        return "a record set of type %s needs at least one record" % rtype
    if len(recs) > MAX_RECORDS:
        return "a record set can hold at most %d records" % MAX_RECORDS
    total = 0
    for rec in recs:
        if not isinstance(rec, dict):
            return "a record must be an object"
        if rtype == "TXT":
            vals = rec.get("value")
            if not isinstance(vals, list) or not vals or not all(isinstance(s, str) for s in vals):
                return "a TXT record needs 'value', a non-empty array of strings"
            for s in vals:
                if len(txt_octets(s)) > 255:
                    return "a TXT record string is longer than 255 characters"
                total += len(s)
        else:
            try:
                present(rtype, rec)
            except (KeyError, TypeError, ValueError):
                return "a %s record lacks its fields" % rtype
    if total > MAX_TXT_TOTAL:
        return "the TXT strings of a record set exceed %d characters in total" % MAX_TXT_TOTAL
    return None


# ---------------------------------------------------------------- the fake

class AzureFake(fakebase.Fake):
    """Azure DNS (Resource Manager) and the Entra ID token endpoint."""

    # the documented subscription read limit (12000 reads per hour); the
    # writes (1200 per hour) and deletes (15000 per hour) have limiters of
    # their own, and Microsoft.Network's 10000 GET / 1000 PUT per 5 minutes
    rate_limit = (12000, 3600)

    @classmethod
    def add_arguments(cls, ap):
        ap.add_argument("--login-port-file", required=True)
        ap.add_argument("--tenant", required=True)
        ap.add_argument("--client-id", required=True)
        ap.add_argument("--client-secret-file", required=True)
        ap.add_argument("--subscription", required=True)
        ap.add_argument("--resource-group", required=True)
        ap.add_argument("--token-lifetime", type=int, default=3599)
        ap.add_argument("--write-limit", type=int, default=1200,
                        help="writes per hour (a test lowers it to see the 429)")

    def __init__(self, args):
        super().__init__(args)
        with open(args.client_secret_file, encoding="utf-8") as f:
            self.client_secret = f.read().strip()
        self.zones = {}   # apex -> {"etag", "sets": {(rel, type): rrset}}
        self.tokens = {}  # access token -> expiry (time.time())
        self.tok_lock = threading.Lock()
        scale = args.rate_scale
        self.limits = {
            "reads": [self.limiter, fakebase.RateLimiter(10000, 300, scale)],
            "writes": [fakebase.RateLimiter(args.write_limit, 3600, scale),
                       fakebase.RateLimiter(min(1000, args.write_limit), 300, scale)],
            "deletes": [fakebase.RateLimiter(15000, 3600, scale),
                        fakebase.RateLimiter(1000, 300, scale)],
        }
        self.prefix = ("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/dnszones"
                       % (args.subscription, args.resource_group))
        self._start_login()

    # ------------------------------------------------ the token endpoint

    def _start_login(self):
        fake = self

        class Login(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *a):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Cache-Control", "no-store, no-cache")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(*fake.login_get(self))

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(n, 1 << 20)) if n else b""
                self._send(*fake.login_post(self.path, raw))

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Login)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        tmp = self.args.login_port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        import os
        os.replace(tmp, self.args.login_port_file)

    def aad_error(self, status, error, code, text):
        now = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        trace = str(uuid.uuid4())
        return status, {"error": error,
                        "error_description": "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s"
                                             % (code, text, trace, uuid.uuid4(), now),
                        "error_codes": [code], "timestamp": now, "trace_id": trace,
                        "correlation_id": str(uuid.uuid4()),
                        "error_uri": "https://login.microsoftonline.com/error?code=%d" % code}

    def login_get(self, h):
        """The OpenID metadata the Entra ID SDKs fetch first."""
        parts = urllib.parse.urlsplit(h.path).path.strip("/").split("/")
        if len(parts) < 2 or parts[1:] != ["v2.0", ".well-known", "openid-configuration"]:
            return 404, {"error": "not_found"}
        if parts[0] != self.args.tenant:
            return self.aad_error(400, "invalid_tenant", 90002,
                                  "Tenant '%s' not found." % parts[0])
        proto = h.headers.get("X-Forwarded-Proto", "http")
        origin = "%s://%s" % (proto, h.headers.get("Host"))
        t = self.args.tenant
        return 200, {"token_endpoint": "%s/%s/oauth2/v2.0/token" % (origin, t),
                     "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (origin, t),
                     "end_session_endpoint": "%s/%s/oauth2/v2.0/logout" % (origin, t),
                     "jwks_uri": "%s/%s/discovery/v2.0/keys" % (origin, t),
                     "issuer": "%s/%s/v2.0" % (origin, t),
                     "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                               "private_key_jwt",
                                                               "client_secret_basic"],
                     "response_types_supported": ["code", "id_token", "code id_token",
                                                  "id_token token"],
                     "scopes_supported": ["openid", "profile", "email", "offline_access"],
                     "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com"}

    def login_post(self, path, raw):
        """POST /{tenant}/oauth2/v2.0/token, client credentials grant."""
        parts = urllib.parse.urlsplit(path).path.strip("/").split("/")
        if len(parts) != 4 or parts[1:] != ["oauth2", "v2.0", "token"]:
            return 404, {"error": "not_found"}
        if parts[0] != self.args.tenant:
            return self.aad_error(400, "invalid_request", 90002,
                                  "Tenant '%s' not found. Check to make sure you have the correct "
                                  "tenant ID and are signing into the correct cloud." % parts[0])
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))
        f = {k: v[0] for k, v in form.items()}
        if f.get("grant_type") != "client_credentials":
            return self.aad_error(400, "unsupported_grant_type", 70003,
                                  "The app requested an unsupported grant type '%s'."
                                  % f.get("grant_type", ""))
        if f.get("client_id") != self.args.client_id:
            return self.aad_error(400, "unauthorized_client", 700016,
                                  "Application with identifier '%s' was not found in the "
                                  "directory '%s'." % (f.get("client_id", ""), self.args.tenant))
        if not f.get("client_secret"):
            return self.aad_error(401, "invalid_client", 7000218,
                                  "The request body must contain the following parameter: "
                                  "'client_assertion' or 'client_secret'.")
        if f["client_secret"] != self.client_secret:
            return self.aad_error(401, "invalid_client", 7000215,
                                  "Invalid client secret provided. Ensure the secret being sent in "
                                  "the request is the client secret value, not the client secret "
                                  "ID, for a secret added to app '%s'." % self.args.client_id)
        if f.get("scope") not in SCOPES:
            return self.aad_error(400, "invalid_scope", 1002012,
                                  "The provided value for scope '%s' is not valid. Client "
                                  "credential flows must have a scope value with /.default "
                                  "suffixed to the resource identifier." % f.get("scope", ""))
        token = "eyJ0eXAiOiJKV1QifQ.fake-" + secrets.token_urlsafe(32)
        with self.tok_lock:
            self.tokens[token] = time.time() + self.args.token_lifetime
        return 200, {"token_type": "Bearer", "expires_in": self.args.token_lifetime,
                     "ext_expires_in": self.args.token_lifetime, "access_token": token}

    # ------------------------------------------------ Resource Manager

    def auth(self, req):
        h = req.headers.get("Authorization") or ""
        www = [("WWW-Authenticate",
                'Bearer authorization_uri="https://login.microsoftonline.com/%s", '
                'error="invalid_token", error_description="The authentication failed."'
                % self.args.tenant)]
        if not h:
            raise err(401, "AuthenticationFailed",
                      "Authentication failed. The 'Authorization' header is missing.", www)
        if not h.startswith("Bearer "):
            raise err(401, "AuthenticationFailed",
                      "Authentication failed. The 'Authorization' header is provided in an "
                      "invalid format.", www)
        with self.tok_lock:
            exp = self.tokens.get(h[7:])
        if exp is None:
            raise err(401, "InvalidAuthenticationToken", "The access token is invalid.", www)
        if exp <= time.time():
            raise err(401, "ExpiredAuthenticationToken",
                      "The access token expiry UTC time '%s' is earlier than current UTC time "
                      "'%s'." % (time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(exp)),
                                 time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime())), www)

    def throttle(self, req):
        kind = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}.get(req.method, "writes")
        left, wait = None, 0
        for lim in self.limits[kind]:
            ok, reset, remaining = lim.hit()
            if not ok:
                wait = max(wait, reset)
            left = remaining if left is None else min(left, remaining)
        if wait:
            secs = max(1, int(math.ceil(wait)))
            raise err(429, "SubscriptionRequestsThrottled",
                      "Number of '%s' requests for subscription '%s' actor '%s' exceeded. Please "
                      "try again after '%d' seconds after additional tasks are completed."
                      % (kind[:-1], self.args.subscription, self.args.client_id, secs),
                      [("Retry-After", str(secs))])
        return [("x-ms-ratelimit-remaining-subscription-" + kind, str(left)),
                ("x-ms-request-id", str(uuid.uuid4())),
                ("x-ms-correlation-request-id", str(uuid.uuid4()))]

    def handle(self, req):
        self.auth(req)
        hdrs = self.throttle(req)
        ver = req.q("api-version")
        if not ver:
            raise err(400, "MissingApiVersionParameter",
                      "The api-version query parameter (?api-version=) is required for all "
                      "requests.")
        if ver not in API_VERSIONS:
            raise err(400, "InvalidApiVersionParameter",
                      "The api-version '%s' is invalid. The supported versions are '%s'."
                      % (ver, ",".join(API_VERSIONS)))
        parts = [urllib.parse.unquote(p) for p in req.path.strip("/").split("/")]
        low = [p.lower() for p in parts]
        if (len(parts) < 6 or low[0] != "subscriptions" or low[2] != "resourcegroups"
                or low[4:7] != ["providers", "microsoft.network", "dnszones"]):
            raise err(404, "InvalidResourceType" if len(parts) >= 6 else "NotFound",
                      "The resource type could not be found in the namespace "
                      "'Microsoft.Network' for api version '%s'." % ver)
        if parts[1] != self.args.subscription:
            raise err(404, "SubscriptionNotFound",
                      "The subscription '%s' could not be found." % parts[1])
        if low[3] != self.args.resource_group.lower():
            raise err(404, "ResourceGroupNotFound",
                      "Resource group '%s' could not be found." % parts[3])
        rest = parts[7:]
        if not rest and req.method == "GET":
            rep = self.list_zones(req)
        elif not rest:
            raise err(405, "MethodNotAllowed", "The requested resource does not support http "
                      "method '%s'." % req.method)
        else:
            rep = self.zone_op(req, rest)
        rep.headers += hdrs
        return rep

    def origin(self, req):
        return "%s://%s" % (req.headers.get("X-Forwarded-Proto", "http"), req.headers.get("Host"))

    def page(self, req, items):
        """ARM paging: $top (capped by --page-size), nextLink with $skipToken."""
        try:
            top = int(req.q("$top") or self.page_size)
            start = int(json.loads(base64.urlsafe_b64decode(req.q("$skipToken") or "e30="))
                        .get("o", 0))
        except (ValueError, TypeError, AttributeError):
            raise err(400, "BadRequest", "The $top or $skipToken parameter is invalid.")
        if top < 1:
            raise err(400, "BadRequest", "The value of $top must be positive.")
        n = min(top, self.page_size)
        body = {"value": items[start:start + n]}
        if start + n < len(items):
            q = [(k, v) for k, v in urllib.parse.parse_qsl(urllib.parse.urlsplit(req.url).query,
                                                            keep_blank_values=True)
                 if k != "$skipToken"]
            tok = base64.urlsafe_b64encode(json.dumps({"o": start + n}).encode()).decode()
            q.append(("$skipToken", tok))
            body["nextLink"] = "%s%s?%s" % (self.origin(req), req.path,
                                            urllib.parse.urlencode(q, safe="$"))
        return body

    def zone_json(self, apex):
        z = self.zones[apex]
        return {"id": "%s/%s" % (self.prefix, apex), "name": apex,
                "type": "Microsoft.Network/dnszones", "etag": z["etag"], "location": "global",
                "tags": {}, "properties": {"maxNumberOfRecordSets": 10000,
                                           "maxNumberOfRecordsPerRecordSet": MAX_RECORDS,
                                           "numberOfRecordSets": len(z["sets"]),
                                           "nameServers": NAME_SERVERS, "zoneType": "Public"}}

    def list_zones(self, req):
        return Reply(200, self.page(req, [self.zone_json(a) for a in sorted(self.zones)]))

    def set_json(self, apex, rel, rtype, s):
        prop, single = PROPS[rtype]
        props = {"metadata": s.get("metadata"), "TTL": s["ttl"],
                 "fqdn": "%s." % apex if rel == "@" else "%s.%s." % (rel, apex),
                 "provisioningState": "Succeeded", "targetResource": {}}
        if props["metadata"] is None:
            del props["metadata"]
        props[prop] = s["records"][0] if single else s["records"]
        return {"id": "%s/%s/%s/%s" % (self.prefix, apex, rtype, rel), "name": rel,
                "type": "Microsoft.Network/dnszones/%s" % rtype, "etag": s["etag"],
                "properties": props}

    def zone_op(self, req, rest):
        apex = rest[0].lower().rstrip(".")
        if apex not in self.zones:
            raise err(404, "ResourceNotFound",
                      "The Resource 'Microsoft.Network/dnszones/%s' under resource group '%s' "
                      "was not found. For more details please go to "
                      "https://aka.ms/ARMResourceNotFoundFix" % (rest[0], self.args.resource_group))
        z = self.zones[apex]
        if len(rest) == 1 and req.method == "GET":
            return Reply(200, self.zone_json(apex))
        if len(rest) == 2 and req.method == "GET" and rest[1].lower() in ("recordsets", "all"):
            suffix = (req.q("$recordsetnamesuffix") or "").lower()
            items = [self.set_json(apex, rel, t, s) for (rel, t), s in sorted(z["sets"].items())
                     if not suffix or rel.endswith(suffix)]
            return Reply(200, self.page(req, items))
        if len(rest) == 2 and req.method == "GET" and rest[1].upper() in PROPS:
            t = rest[1].upper()
            items = [self.set_json(apex, rel, t2, s) for (rel, t2), s in sorted(z["sets"].items())
                     if t2 == t]
            return Reply(200, self.page(req, items))
        if len(rest) != 3 or rest[1].upper() not in PROPS:
            raise err(404, "NotFound", "The requested resource was not found.")
        rtype, rel = rest[1].upper(), rest[2].lower()
        if rel == apex or rel == "":
            rel = "@"
        key = (rel, rtype)
        cur = z["sets"].get(key)
        if req.method == "GET":
            if not cur:
                raise err(404, "NotFound",
                          "The resource record '%s' does not exist in resource group '%s' of "
                          "subscription '%s'." % (rel, self.args.resource_group,
                                                  self.args.subscription))
            return Reply(200, self.set_json(apex, rel, rtype, cur))
        if req.method == "DELETE":
            self.precondition(req, rel, cur)
            if rtype == "SOA" or (rtype == "NS" and rel == "@"):
                raise err(400, "BadRequest", "The %s record set at the zone apex cannot be "
                          "deleted." % rtype)
            if not cur:
                return Reply(204)
            del z["sets"][key]
            z["etag"] = str(uuid.uuid4())
            return Reply(200)
        if req.method in ("PUT", "PATCH"):
            return self.put(req, apex, rel, rtype, cur)
        raise err(405, "MethodNotAllowed",
                  "The requested resource does not support http method '%s'." % req.method)

    def precondition(self, req, rel, cur):
        im, inm = req.headers.get("If-Match"), req.headers.get("If-None-Match")
        if im is not None and (cur is None or (im != "*" and im != cur["etag"])):
            raise err(412, "PreconditionFailed",
                      "The Record set %s has been modified (etag mismatch)." % rel
                      if cur else "The Record set %s does not exist." % rel)
        if inm is not None and inm == "*" and cur is not None:
            raise err(412, "PreconditionFailed",
                      "The Record set %s exists already and hence cannot be created again." % rel)

    def put(self, req, apex, rel, rtype, cur):
        self.precondition(req, rel, cur)
        try:
            body = req.json()
        except ValueError:
            raise err(400, "InvalidRequestContent", "The request content was invalid and could "
                      "not be deserialized.")
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise err(400, "BadRequest", "The request body must contain 'properties'.")
        if req.method == "PATCH":
            if not cur:
                raise err(404, "NotFound", "The resource record '%s' does not exist." % rel)
            props = dict({"TTL": cur["ttl"], PROPS[rtype][0]:
                          cur["records"][0] if PROPS[rtype][1] else cur["records"]}, **props)
        if rtype == "SOA" and not cur:
            raise err(400, "BadRequest", "Record sets of type SOA cannot be created.")
        ttl = props.get("TTL", 3600)
        if not isinstance(ttl, int) or not 0 <= ttl <= 2147483647:
            raise err(400, "BadRequest", "The value of TTL must be between 0 and 2147483647.")
        for other, (p, _) in PROPS.items():
            if other != rtype and props.get(p):
                raise err(400, "BadRequest", "The record set of type '%s' cannot contain "
                          "records of type '%s'." % (rtype, other))
        prop, single = PROPS[rtype]
        recs = props.get(prop)
        recs = [recs] if single and recs is not None else recs
        why = check_records(rtype, recs if isinstance(recs, list) else [])
        if why:
            raise err(400, "BadRequest", why)
        if rtype == "CNAME" and rel == "@":
            raise err(400, "BadRequest", "A CNAME record set cannot be created at the zone apex.")
        others = [t for (r, t) in self.zones[apex]["sets"] if r == rel and t != rtype]
        if rtype == "CNAME" and others:
            raise err(409, "Conflict", "The CNAME record set '%s' cannot be created because "
                      "another record set exists with the same name." % rel)
        if "CNAME" in others:
            raise err(409, "Conflict", "The record set '%s' of type %s cannot be created because a "
                      "CNAME record set exists with the same name." % (rel, rtype))
        s = {"ttl": ttl, "records": recs, "etag": str(uuid.uuid4())}
        if isinstance(props.get("metadata"), dict):
            s["metadata"] = props["metadata"]
        self.zones[apex]["sets"][(rel, rtype)] = s
        self.zones[apex]["etag"] = str(uuid.uuid4())
        return Reply(200 if cur else 201, self.set_json(apex, rel, rtype, s))

    # ------------------------------------------------ the common controls

    def add_zone(self, apex):
        if apex in self.zones:
            return
        self.zones[apex] = {"etag": str(uuid.uuid4()), "sets": {
            ("@", "SOA"): {"ttl": 3600, "etag": str(uuid.uuid4()), "records": [{
                "host": NAME_SERVERS[0], "email": "azuredns-hostmaster.microsoft.com",
                "serialNumber": 1, "refreshTime": 3600, "retryTime": 300, "expireTime": 2419200,
                "minimumTTL": 300}]},
            ("@", "NS"): {"ttl": 172800, "etag": str(uuid.uuid4()),
                          "records": [{"nsdname": n} for n in NAME_SERVERS]}}}

    def rel(self, apex, name):
        return "@" if name == apex else name[:-len(apex) - 1]

    def state(self):
        out = {}
        for apex, z in self.zones.items():
            recs = out.setdefault(apex, [])
            for (rel, t), s in sorted(z["sets"].items()):
                name = apex if rel == "@" else "%s.%s" % (rel, apex)
                for r in s["records"]:
                    recs.append({"name": name, "type": t, "ttl": s["ttl"],
                                 "content": present(t, r)})
        return out

    def raw(self, zone, name, rtype):
        s = self.zones.get(zone, {"sets": {}})["sets"].get((self.rel(zone, name), rtype))
        if not s:
            return []
        if rtype == "TXT":
            return [json.dumps(r["value"]) for r in s["records"]]
        return [json.dumps(r, sort_keys=True) for r in s["records"]]

    def seed(self, zone, name, rtype, ttl, content):
        if rtype not in PROPS or rtype == "SOA":
            raise ValueError("the fake cannot seed a %s record" % rtype)
        key = (self.rel(zone, name), rtype)
        sets = self.zones[zone]["sets"]
        s = sets.setdefault(key, {"ttl": ttl, "records": [], "etag": ""})
        s["records"].append(parse(rtype, content))
        s["etag"] = str(uuid.uuid4())


if __name__ == "__main__":
    sys.exit(fakebase.run(AzureFake))
