"""A fake of Amazon Route 53's REST API (2013-04-01), XML in and out, for the
route53 plugin's tests (README.md). It is not Route 53: it keeps hosted
zones in memory and answers the four calls the plugin and the SDK check use:

    GET  /2013-04-01/hostedzone[?marker=&maxitems=]            ListHostedZones
    GET  /2013-04-01/hostedzone/ID/rrset[?name=&type=&maxitems=]  ListResourceRecordSets
    POST /2013-04-01/hostedzone/ID/rrset[/]                    ChangeResourceRecordSets
    GET  /2013-04-01/change/ID                                 GetChange

Every request must carry an AWS Signature Version 4 (service route53,
region us-east-1) that botocore's own signer recomputes from the request,
an X-Amz-Date within 5 minutes, and the access key the fake was started
with.
"""
import datetime
import hmac
import itertools
import re
import sys
import xml.etree.ElementTree as ET
from hashlib import sha256
from xml.sax.saxutils import escape

import fakebase
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NS = "https://route53.amazonaws.com/doc/2013-04-01/"
API = "/2013-04-01"
MAX_ZONES_PAGE = 100  # ListHostedZones maxitems
MAX_RRSETS_PAGE = 300  # ListResourceRecordSets maxitems
MAX_CHANGES = 1000  # ResourceRecord elements of one ChangeBatch
MAX_VALUE_CHARS = 32000  # characters of all Value elements of one ChangeBatch
SKEW = datetime.timedelta(minutes=5)
AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                     r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$")


def api_error(status, code, message, kind="Sender"):
    body = ('<?xml version="1.0"?>\n<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code>'
            "<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
            % (NS, kind, code, escape(message), "fake-request-id"))
    return fakebase.ApiError(status, body)


def bad_batch(messages):
    """InvalidChangeBatch: Route 53 lists every problem of the batch in one message."""
    return api_error(400, "InvalidChangeBatch", "[" + ", ".join(messages) + "]")


def xml_reply(root, inner):
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<%s xmlns="%s">%s</%s>' % (root, NS, inner, root)
    return fakebase.Reply(200, body.encode(), content_type="text/xml")


def sort_key(name, rtype):
    """Route 53 lists rrsets by name with its labels reversed, then by type."""
    return (list(reversed(name.split("."))), rtype)


def value_problem(rtype, value):
    """Why Route 53 refuses value as rdata of rtype, or None."""
    if rtype == "TXT":
        try:
            fakebase.txt_strings(value)
        except ValueError as e:
            if "255" in str(e):
                return "TXTRDATATooLong (Value is too long)"
            return "InvalidCharacterString (Value should be enclosed in quotation marks)"
        return None
    if rtype == "CNAME" and (" " in value.strip() or not value.strip()):
        return "DomainLabelEmpty (Domain label is empty)"
    return None


def text_of(el, tag):
    x = el.find("{%s}%s" % (NS, tag))
    return None if x is None or x.text is None else x.text.strip()


class Route53Fake(fakebase.Fake):
    """A fake of Amazon Route 53 (REST/XML API 2013-04-01, SigV4 authentication)."""

    rate_limit = (5, 1)  # five requests a second per account (Route 53 quotas)

    @classmethod
    def add_arguments(cls, ap):
        ap.add_argument("--access-key-id", required=True)
        ap.add_argument("--secret-access-key-file", required=True)
        ap.add_argument("--session-token-file", help="also require this session token")

    def __init__(self, args):
        super().__init__(args)
        with open(args.secret_access_key_file, encoding="utf-8") as f:
            secret = f.read().strip()
        token = None
        if args.session_token_file:
            with open(args.session_token_file, encoding="utf-8") as f:
                token = f.read().strip()
        self.creds = Credentials(args.access_key_id, secret, token)
        self.zones = {}  # apex -> {"id", "rrsets": {(name, type): {"ttl", "values": [raw]}}}
        self.changes = {}  # change id -> submitted at
        self._n = itertools.count(1)

    # ---------------------------------------------------------- store

    def add_zone(self, apex):
        if apex in self.zones:
            return
        zid = "Z%013d" % (1000 + next(self._n))
        self.zones[apex] = {"id": zid, "rrsets": {
            (apex, "SOA"): {"ttl": 900, "values": ["ns-1.awsdns-fake.test. awsdns-hostmaster.amazon.com. "
                                                     "1 7200 900 1209600 86400"]},
            (apex, "NS"): {"ttl": 172800, "values": ["ns-1.awsdns-fake.test.", "ns-2.awsdns-fake.test."]},
        }}

    def zone_by_id(self, zid):
        for apex, z in self.zones.items():
            if z["id"] == zid:
                return apex, z
        raise api_error(404, "NoSuchHostedZone", "No hosted zone found with ID: %s" % zid)

    def state(self):
        out = {}
        for apex, z in self.zones.items():
            recs = []
            for (name, rtype), rs in sorted(z["rrsets"].items(), key=lambda kv: sort_key(*kv[0])):
                for v in rs["values"]:
                    recs.append({"name": name, "type": rtype, "ttl": rs["ttl"],
                                 "content": v if rtype != "TXT" else fakebase.txt_present(
                                     fakebase.txt_strings(v))})
            out[apex] = recs
        return out

    def raw(self, zone, name, rtype):
        rs = self.zones.get(zone, {}).get("rrsets", {}).get((name, rtype))
        return list(rs["values"]) if rs else []

    def seed(self, zone, name, rtype, ttl, content):
        rs = self.zones[zone]["rrsets"].setdefault((name, rtype), {"ttl": ttl, "values": []})
        rs["ttl"] = ttl
        if content not in rs["values"]:
            rs["values"].append(content)

    # ---------------------------------------------------------- auth

    def authenticate(self, req):
        auth = req.headers.get("Authorization")
        if not auth:
            raise api_error(403, "MissingAuthenticationToken", "Missing Authentication Token")
        m = AUTH_RE.match(auth.strip())
        if not m:
            raise api_error(400, "IncompleteSignature",
                            "Authorization header requires 'Credential', 'SignedHeaders' and "
                            "'Signature' parameters of AWS4-HMAC-SHA256")
        akid, day, region, service, signed, signature = m.groups()
        if akid != self.creds.access_key:
            raise api_error(403, "InvalidClientTokenId",
                            "The security token included in the request is invalid.")
        if self.creds.token and req.headers.get("X-Amz-Security-Token") != self.creds.token:
            raise api_error(403, "InvalidClientTokenId",
                            "The security token included in the request is invalid.")
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names or names != sorted(names):
            raise api_error(403, "SignatureDoesNotMatch",
                            "The request signature we calculated does not match the signature you "
                            "provided: SignedHeaders must list host and x-amz-date, sorted")
        amz_date = req.headers.get("X-Amz-Date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise api_error(403, "IncompleteSignature", "X-Amz-Date is not a valid date: '%s'" % amz_date)
        now = datetime.datetime.utcnow()
        if abs(now - when) > SKEW:
            raise api_error(403, "SignatureDoesNotMatch",
                            "Signature expired: %s is now earlier than %s (%s - 5 min.)"
                            % (amz_date, (now - SKEW).strftime("%Y%m%dT%H%M%SZ"),
                               now.strftime("%Y%m%dT%H%M%SZ")))
        if day != amz_date[:8] or region != "us-east-1" or service != "route53":
            raise api_error(403, "SignatureDoesNotMatch",
                            "Credential should be scoped to a valid region and service: "
                            "'%s/us-east-1/route53/aws4_request'" % amz_date[:8])
        sha = req.headers.get("X-Amz-Content-Sha256")
        if sha and sha != sha256(req.raw).hexdigest():
            raise api_error(400, "XAmzContentSHA256Mismatch",
                            "The provided 'x-amz-content-sha256' header does not match what was computed.")
        # botocore's signer recomputes the signature over the signed headers
        headers = {}
        for n in names:
            vals = req.headers.get_all(n) or []
            if not vals:
                raise api_error(403, "SignatureDoesNotMatch", "signed header '%s' is missing" % n)
            headers[n] = ",".join(vals)
        areq = AWSRequest(method=req.method, url="http://%s%s" % (headers["host"], req.url),
                          headers=headers, data=req.raw)
        areq.context["timestamp"] = amz_date
        signer = SigV4Auth(self.creds, "route53", "us-east-1")
        canonical = signer.canonical_request(areq)
        want = signer.signature(signer.string_to_sign(areq, canonical), areq)
        if not hmac.compare_digest(want, signature):
            raise api_error(403, "SignatureDoesNotMatch",
                            "The request signature we calculated does not match the signature you "
                            "provided. Check your AWS Secret Access Key and signing method. Consult "
                            "the service documentation for details.")

    # ---------------------------------------------------------- API

    def handle(self, req):
        if self.limiter:
            ok, _, _ = self.limiter.hit()
            if not ok:
                raise api_error(400, "Throttling", "Rate exceeded")
        self.authenticate(req)
        path = req.path.rstrip("/")
        if path == API + "/hostedzone" and req.method == "GET":
            return self.list_zones(req)
        m = re.fullmatch(API + r"/hostedzone/([A-Z0-9]+)/rrset", path)
        if m and req.method == "GET":
            return self.list_rrsets(req, m.group(1))
        if m and req.method == "POST":
            return self.change(req, m.group(1))
        m = re.fullmatch(API + r"/change/([A-Z0-9]+)", path)
        if m and req.method == "GET":
            if m.group(1) not in self.changes:
                raise api_error(404, "NoSuchChange", "A change with the specified change ID does not exist.")
            return xml_reply("GetChangeResponse", self.change_info(m.group(1), "INSYNC"))
        raise api_error(404, "UnknownOperationException", "Unknown operation %s %s" % (req.method, req.path))

    def max_items(self, req, cap):
        v = req.q("maxitems")
        if v is None:
            return min(cap, self.page_size)
        if not v.isdigit() or not 1 <= int(v):
            raise api_error(400, "InvalidInput", "1 validation error detected: Value '%s' at 'maxItems' "
                            "failed to satisfy constraint: Member must be a positive integer" % v)
        return min(int(v), cap, self.page_size)

    def list_zones(self, req):
        n = self.max_items(req, MAX_ZONES_PAGE)
        zones = sorted(self.zones.items(), key=lambda kv: kv[1]["id"])
        marker = req.q("marker")
        if marker:
            zones = [kv for kv in zones if kv[1]["id"] >= marker]
        page, rest = zones[:n], zones[n:]
        inner = "<HostedZones>"
        for apex, z in page:
            inner += ("<HostedZone><Id>/hostedzone/%s</Id><Name>%s.</Name><CallerReference>fake-%s"
                      "</CallerReference><Config><PrivateZone>false</PrivateZone></Config>"
                      "<ResourceRecordSetCount>%d</ResourceRecordSetCount></HostedZone>"
                      % (z["id"], escape(apex), z["id"], len(z["rrsets"])))
        inner += "</HostedZones>"
        if marker:
            inner += "<Marker>%s</Marker>" % escape(marker)
        inner += "<IsTruncated>%s</IsTruncated>" % ("true" if rest else "false")
        if rest:
            inner += "<NextMarker>%s</NextMarker>" % rest[0][1]["id"]
        inner += "<MaxItems>%d</MaxItems>" % n
        return xml_reply("ListHostedZonesResponse", inner)

    def list_rrsets(self, req, zid):
        apex, z = self.zone_by_id(zid)
        n = self.max_items(req, MAX_RRSETS_PAGE)
        name, rtype = req.q("name"), req.q("type")
        if rtype and not name:
            raise api_error(400, "InvalidInput", "The input is not valid: type requires name")
        items = sorted(z["rrsets"].items(), key=lambda kv: sort_key(*kv[0]))
        if name:
            start = sort_key(fakebase.norm_name(name), rtype or "")
            items = [kv for kv in items if sort_key(*kv[0]) >= start]
        page, rest = items[:n], items[n:]
        inner = "<ResourceRecordSets>"
        for (rname, rt), rs in page:
            inner += "<ResourceRecordSet><Name>%s.</Name><Type>%s</Type><TTL>%d</TTL><ResourceRecords>" % (
                escape(rname), rt, rs["ttl"])
            for v in rs["values"]:
                inner += "<ResourceRecord><Value>%s</Value></ResourceRecord>" % escape(v)
            inner += "</ResourceRecords></ResourceRecordSet>"
        inner += "</ResourceRecordSets><IsTruncated>%s</IsTruncated><MaxItems>%d</MaxItems>" % (
            "true" if rest else "false", n)
        if rest:
            inner += "<NextRecordName>%s.</NextRecordName><NextRecordType>%s</NextRecordType>" % (
                escape(rest[0][0][0]), rest[0][0][1])
        return xml_reply("ListResourceRecordSetsResponse", inner)

    def parse_batch(self, req):
        try:
            root = ET.fromstring(req.raw)
        except ET.ParseError as e:
            raise api_error(400, "InvalidInput", "Could not parse the request body: %s" % e)
        if root.tag != "{%s}ChangeResourceRecordSetsRequest" % NS:
            raise api_error(400, "InvalidInput", "The XML document is not a ChangeResourceRecordSetsRequest "
                            "of namespace %s" % NS)
        changes = root.findall("{%s}ChangeBatch/{%s}Changes/{%s}Change" % (NS, NS, NS))
        if not changes:
            raise api_error(400, "InvalidInput", "ChangeBatch must have at least one Change")
        out, n_values, chars = [], 0, 0
        for ch in changes:
            action = text_of(ch, "Action")
            rrs = ch.find("{%s}ResourceRecordSet" % NS)
            if action not in ("CREATE", "DELETE", "UPSERT") or rrs is None:
                raise api_error(400, "InvalidInput", "Invalid request: Action must be CREATE, DELETE or UPSERT")
            name, rtype, ttl = text_of(rrs, "Name"), text_of(rrs, "Type"), text_of(rrs, "TTL")
            values = [v.text or "" for v in rrs.findall(
                "{%s}ResourceRecords/{%s}ResourceRecord/{%s}Value" % (NS, NS, NS))]
            if not name or not rtype or ttl is None or not ttl.isdigit() or not values:
                raise api_error(400, "InvalidInput", "Invalid request: a ResourceRecordSet needs Name, "
                                "Type, TTL and ResourceRecords")
            n_values += len(values) * (2 if action == "UPSERT" else 1)
            chars += sum(len(v) for v in values) * (2 if action == "UPSERT" else 1)
            out.append((action, fakebase.norm_name(name), rtype.upper(), int(ttl), values))
        if n_values > MAX_CHANGES:
            raise bad_batch(["Number of records limit of %d exceeded." % MAX_CHANGES])
        if chars > MAX_VALUE_CHARS:
            raise bad_batch(["Number of characters limit of %d exceeded." % MAX_VALUE_CHARS])
        return out

    def change(self, req, zid):
        apex, z = self.zone_by_id(zid)
        batch = self.parse_batch(req)
        rrsets = {k: {"ttl": v["ttl"], "values": list(v["values"])} for k, v in z["rrsets"].items()}
        problems = []
        for action, name, rtype, ttl, values in batch:
            what = "[name='%s.', type='%s']" % (name, rtype)
            if not fakebase.in_zone(name, apex):
                problems.append("RRSet with DNS name %s. is not permitted in zone %s." % (name, apex))
                continue
            if ttl > 2147483647:
                problems.append("TTL must be between 0 and 2147483647")
                continue
            bad = [p for p in (value_problem(rtype, v) for v in values) if p]
            if bad:
                problems.append("Invalid Resource Record: 'FATAL problem: %s encountered with '%s''"
                                % (bad[0], values[0]))
                continue
            if len(set(values)) != len(values):
                problems.append("Duplicate Resource Record: '%s'" % values[0])
                continue
            if rtype == "CNAME" and len(values) != 1:
                problems.append("RRSet of type CNAME with DNS name %s. is not permitted as it can hold "
                                "one record only" % name)
                continue
            cur = rrsets.get((name, rtype))
            if action == "CREATE" and cur:
                problems.append("Tried to create resource record set %s but it already exists" % what)
                continue
            if action == "DELETE":
                if not cur:
                    problems.append("Tried to delete resource record set %s but it was not found" % what)
                elif cur["ttl"] != ttl or sorted(cur["values"]) != sorted(values):
                    problems.append("Tried to delete resource record set %s but the values provided do "
                                    "not match the current values" % what)
                else:
                    del rrsets[(name, rtype)]
                continue
            others = [t for (n, t) in rrsets if n == name and t != rtype]
            if rtype == "CNAME" and others:
                problems.append("RRSet of type CNAME with DNS name %s. is not permitted as it conflicts "
                                "with other records with the same DNS name in zone %s." % (name, apex))
                continue
            if "CNAME" in others:
                problems.append("RRSet of type %s with DNS name %s. is not permitted because a conflicting "
                                "RRSet of type  CNAME with the same DNS name already exists in zone %s."
                                % (rtype, name, apex))
                continue
            rrsets[(name, rtype)] = {"ttl": ttl, "values": values}
        if problems:
            raise bad_batch(problems)
        z["rrsets"] = rrsets
        cid = "C%013d" % next(self._n)
        self.changes[cid] = datetime.datetime.utcnow()
        return xml_reply("ChangeResourceRecordSetsResponse", self.change_info(cid, "PENDING"))

    def change_info(self, cid, status):
        at = self.changes[cid].strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (self.changes[cid].microsecond // 1000)
        return "<ChangeInfo><Id>/change/%s</Id><Status>%s</Status><SubmittedAt>%s</SubmittedAt></ChangeInfo>" % (
            cid, status, at)

    def control_error(self, status, message):
        return fakebase.Reply(status, {"error": message})


if __name__ == "__main__":
    sys.exit(fakebase.run(Route53Fake))
