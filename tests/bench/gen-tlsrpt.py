#!/usr/bin/env python3
"""Generate N TLS-RPT reports (RFC 8460) as .json.gz files for bench-ingest.sh.

    gen-tlsrpt.py N DIR [DOMAINS]

Reports look like real ones (Google/Microsoft shapes, compact JSON): one of
5 reporting organisations, one of DOMAINS (default 1000) policy domains, one
of 90 days, an sts policy with 2 MX lines; about one report in four has 1-3
failure details (result type, sending IP, receiving MX). File names follow
RFC 8460 §5.1 (sender!policy-domain!begin!end!id.json.gz) in 100
subdirectories. Deterministic (seeded). Prints the expected totals of every
policy domain on stdout as JSON ({"domain": [successful, failed]}), against
which bench-ingest.sh checks jq and stsctl.
"""
import gzip
import json
import os
import random
import sys

N = int(sys.argv[1])
OUT = sys.argv[2]
DOMAINS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
ORGS = [
    ("Google Inc.", "google.com", "smtp-tls-reporting@google.com"),
    ("Microsoft Corporation", "microsoft.com", "tlsrpt-noreply@microsoft.com"),
    ("Mail.ru", "mail.ru", "tls_support@corp.mail.ru"),
    ("Yahoo Inc.", "yahoo.com", "tlsrpt@yahoo.com"),
    ("Comcast", "comcast.net", "tlsrpt@comcast.net"),
]
TYPES = ["starttls-not-supported", "certificate-expired", "certificate-not-trusted",
         "certificate-host-mismatch", "validation-failure", "sts-policy-fetch-error"]
DAY0 = 1767225600  # 2026-01-01

rng = random.Random(8460)
totals = {}
for i in range(N):
    org, sender, contact = ORGS[i % len(ORGS)]
    d = rng.randrange(DOMAINS)
    dom = "customer%05d.example" % d
    day = DAY0 + 86400 * rng.randrange(90)
    ok = rng.randrange(1, 5000)
    details = []
    fail = 0
    if rng.random() < 0.25:
        for _ in range(rng.randrange(1, 4)):
            n = rng.randrange(1, 20)
            fail += n
            details.append({
                "result-type": rng.choice(TYPES),
                "sending-mta-ip": "203.0.113.%d" % rng.randrange(1, 255),
                "receiving-mx-hostname": "mx%d.%s" % (rng.randrange(1, 3), dom),
                "receiving-ip": "198.51.100.%d" % rng.randrange(1, 255),
                "failed-session-count": n,
            })
    pol = {
        "policy": {
            "policy-type": "sts",
            "policy-string": ["version: STSv1", "mode: testing", "mx: mx1.%s" % dom,
                              "mx: mx2.%s" % dom, "max_age: 604800"],
            "policy-domain": dom,
            "mx-host": ["mx1.%s" % dom, "mx2.%s" % dom],
        },
        "summary": {"total-successful-session-count": ok,
                    "total-failure-session-count": fail},
    }
    if details:
        pol["failure-details"] = details
    start = "%sT00:00:00Z" % __import__("time").strftime("%Y-%m-%d", __import__("time").gmtime(day))
    end = "%sT23:59:59Z" % start[:10]
    rep = {
        "organization-name": org,
        "date-range": {"start-datetime": start, "end-datetime": end},
        "contact-info": contact,
        "report-id": "%s_%s_%08d" % (start, dom, i),
        "policies": [pol],
    }
    sub = os.path.join(OUT, "%02d" % (i % 100))
    if i < 100:
        os.makedirs(sub, exist_ok=True)
    name = "%s!%s!%d!%d!%08d.json.gz" % (sender, dom, day, day + 86399, i)
    with open(os.path.join(sub, name), "wb") as f:
        f.write(gzip.compress(json.dumps(rep, separators=(",", ":")).encode(), 6, mtime=0))
    t = totals.setdefault(dom, [0, 0])
    t[0] += ok
    t[1] += fail
print(json.dumps({k: totals[k] for k in sorted(totals)}))
