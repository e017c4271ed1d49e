#!/usr/bin/env python3
"""Readable at 300 domains (issue 17, finding 6): status prints a summary
first (per stage, per tenant, the gates that hold the most domains), then
one line per domain, --long the detail, ratios only for domains with
sessions, --json the summary beside every field; the HTML report opens
with an overview worst first (sessions, failure ratio, worst result type,
trend) and every table has a header row. Offline: zonefile and local in a
temporary directory, reports written here and ingested. TAP.
Usage: test_readable.py STSCTL
"""
import datetime
import html.parser
import json
import os
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL = sys.argv[1]
DOMAINS = [("a1.example", "acme"), ("a2.example", "acme"), ("i1.example", "initech"),
           ("solo.example", None)]


def run(tmp, *args):
    p = subprocess.run([STSCTL, *args], capture_output=True, text=True, timeout=60, cwd=tmp,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def show(rc, out, err):
    return f"rc={rc}\nout={out[-1500:]!r}\nerr={err[-600:]!r}"


def tls_report(tmp, n, domain, day, ok, bad):
    """a TLS-RPT report (RFC 8460) about the policy domain served, for one day"""
    with open(os.path.join(tmp, "www", f"mta-sts.{domain}", ".well-known",
                           "mta-sts.txt"), encoding="utf-8") as f:
        policy = [l for l in f.read().splitlines() if l]
    start = day.strftime("%Y-%m-%dT00:00:00Z")
    end = (day + datetime.timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    pol = {"policy": {"policy-type": "sts", "policy-string": policy, "policy-domain": domain,
                      "mx-host": ["mx.mail.example"]},
           "summary": {"total-successful-session-count": ok,
                       "total-failure-session-count": bad}}
    if bad:
        pol["failure-details"] = [{"result-type": "certificate-expired",
                                   "sending-mta-ip": "192.0.2.1",
                                   "receiving-mx-hostname": "mx.mail.example",
                                   "failed-session-count": bad}]
    doc = {"organization-name": "Reporter <b>&amp;", "date-range":
           {"start-datetime": start, "end-datetime": end},
           "contact-info": "tlsrpt@reporter.example", "report-id": f"r{n}", "policies": [pol]}
    path = os.path.join(tmp, "in", f"r{n}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


class Tables(html.parser.HTMLParser):
    """every table: whether it has a <thead> with <th>; the overview's rows"""

    def __init__(self):
        super().__init__()
        self.tables, self.overview, self.stack, self.first_table = [], [], [], None
        self.cell, self.row = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"id": a.get("id"), "thead": False, "th": 0})
            if self.first_table is None:
                self.first_table = a.get("id")
        elif tag == "thead" and self.tables:
            self.tables[-1]["thead"] = True
        elif tag == "th" and self.tables:
            self.tables[-1]["th"] += 1
        elif tag == "tr" and self.tables and self.tables[-1]["id"] == "overview":
            self.row = []
        elif tag == "td" and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "td" and self.row is not None and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.row:
                self.overview.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def main():
    tmp = tempfile.mkdtemp(prefix="stsctl-readable-")
    os.makedirs(os.path.join(tmp, "in"))
    doms = []
    for d, t in DOMAINS:
        doms.append({"name": d, **({"tenant": t} if t else {})})
    inv = {"version": 1,
           "defaults": {"dns": "zones", "web": "www", "mode": "testing",
                        "mx": ["mx.mail.example"],
                        "tlsrpt": {"rua": ["mailto:tlsrpt@mail.example"]}},
           "providers": {"zones": {"plugin": "zonefile", "directory": "zones",
                                   "create": True},
                         "www": {"plugin": "local", "root": "www"}},
           "tenants": {"acme": {}, "initech": {}},
           "reports": {"evidence": "all"},
           "domains": doms}
    with open(os.path.join(tmp, "inv.json"), "w", encoding="utf-8") as f:
        json.dump(inv, f)
    os.makedirs(os.path.join(tmp, "zones"))
    res = run(tmp, "apply", "--yes", "--state", "s.db", "inv.json")
    if res[0] != 0:  # an older zonefile without "create"
        inv["providers"]["zones"].pop("create")
        with open(os.path.join(tmp, "inv.json"), "w", encoding="utf-8") as f:
            json.dump(inv, f)
        for d, _ in DOMAINS:
            open(os.path.join(tmp, "zones", d + ".zone"), "w").close()
        res = run(tmp, "apply", "--yes", "--state", "s.db", "inv.json")
    report(res[0] == 0, "setup: apply publishes the four domains", show(*res))
    today = datetime.datetime.now(datetime.timezone.utc).date()
    # a1: 10% failures both days (steady); a2: none three days ago, half
    # yesterday (worse); i1 and solo: no reports at all
    tls_report(tmp, 1, "a1.example", today - datetime.timedelta(days=3), 90, 10)
    tls_report(tmp, 2, "a1.example", today - datetime.timedelta(days=1), 90, 10)
    tls_report(tmp, 3, "a2.example", today - datetime.timedelta(days=3), 100, 0)
    tls_report(tmp, 4, "a2.example", today - datetime.timedelta(days=1), 50, 50)
    res = run(tmp, "ingest", "--state", "s.db", "in")
    report(res[0] == 0, "setup: ingest the four reports", show(*res))

    rc, out, err = run(tmp, "status", "inv.json", "--state", "s.db")
    lines = out.splitlines()
    report(rc == 0 and lines and lines[0].startswith("4 domains: ") and "4 testing" in lines[0],
           "status: the first line counts the domains per stage", show(rc, out, err))
    report(any(l.strip().startswith("tenant acme: 2") for l in lines) and
           any(l.strip().startswith("tenant initech: 1") for l in lines) and
           any(l.strip().startswith("tenant (none): 1") for l in lines),
           "status: the summary counts the domains per tenant", show(rc, out, err))
    report(any(l.startswith("held most by: ") for l in lines),
           "status: the summary names the gates that hold the most domains", show(rc, out, err))
    per = {d: [l for l in lines if l.startswith(d + ":")] for d, _ in DOMAINS}
    report(all(len(v) == 1 for v in per.values()) and
           not any(l.startswith("  ") and "health" in l for l in lines),
           "status: one line per domain, no detail without --long", show(rc, out, err))
    report("success ratio 0.0000" not in out and "no sessions" in per["i1.example"][0] and
           "200 sessions, success ratio 0.9000" in per["a1.example"][0],
           "status: a ratio only for a domain with sessions", show(rc, out, err))
    report(len(lines) < 4 * 3, "status: short for many domains (at most 3 lines each)",
           show(rc, out, err))

    rc, out, err = run(tmp, "status", "inv.json", "--state", "s.db", "--long")
    report(rc == 0 and "  health: 200 sessions, success ratio 0.9000" in out and
           "  health: no sessions in" in out and "blocked by" in out and
           "success ratio 0.0000" not in out,
           "status --long: every domain in detail, ratios only with sessions",
           show(rc, out, err))

    rc, out, err = run(tmp, "status", "inv.json", "--state", "s.db", "--json")
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    s = doc.get("summary") or {}
    report(rc == 0 and s.get("domains") == 4 and s.get("stages") == {"testing": 4} and
           s.get("tenants", {}).get("acme", {}).get("domains") == 2 and
           s.get("tenants", {}).get("", {}).get("domains") == 1 and
           isinstance(s.get("holding"), list) and s["holding"] and
           all({"gate", "domains"} <= set(g) for g in s["holding"]),
           "status --json: the summary object", show(rc, out, err))
    d0 = {d.get("domain"): d for d in doc.get("domains", [])}
    report(len(d0) == 4 and all("health" in d and "success_ratio" in d["health"] and
                                "blocking" in d for d in d0.values()) and
           d0.get("a1.example", {}).get("tenant") == "acme",
           "status --json: every field of every domain kept (and its tenant)",
           show(rc, out, err))
    rc, out, err = run(tmp, "status", "inv.json", "--state", "s.db", "--tenant", "initech")
    report(rc == 0 and out.startswith("1 domain: 1 testing") and "a1.example" not in out,
           "status --tenant: the summary of the scope", show(rc, out, err))

    rc, out, err = run(tmp, "report", "--state", "s.db", "--format", "html", "-o", "r.html")
    page = ""
    if rc == 0:
        with open(os.path.join(tmp, "r.html"), encoding="utf-8") as f:
            page = f.read()
    p = Tables()
    p.feed(page)
    report(rc == 0 and p.first_table == "overview",
           "report html: the page opens with the overview table", show(rc, page, err))
    report(p.tables and all(t["thead"] and t["th"] for t in p.tables),
           "report html: every table has a header row (<thead>, <th>)",
           json.dumps(p.tables))
    names = [r[0] for r in p.overview]
    report(names[:2] == ["a2.example", "a1.example"],
           "report html: the overview is sorted worst first", json.dumps(p.overview))
    rows = {r[0]: r for r in p.overview}
    report(rows.get("a2.example", [""] * 5)[1:4] == ["200", "25.00%", "certificate-expired"] and
           rows["a2.example"][4].startswith("worse") and
           rows.get("a1.example", [""] * 5)[4].startswith("steady"),
           "report html: sessions, failure ratio, worst result type, trend",
           json.dumps(p.overview))
    report("Reporter <b>" not in page and "Reporter &lt;b&gt;&amp;amp;" in page,
           "report html: what reports say is escaped", page[-2000:])
    done()


main()
