#!/bin/bash
# Evidence nobody can forge (issue 12, section 1; docs/security.md "Evidence"):
# two domains under rollout in the namespace testbed (PowerDNS, nginx, a
# Postfix MX with STARTTLS), one in enforce and one in testing. The DKIM keys
# of a forger (attacker.example) and of two test reporters (reporter-a.test,
# reporter-b.test, listed with reports.reporters.add) are published in the
# testbed's BIND; messages are signed with dkimpy. Fed, in turn:
#   - reports signed by the forger, one claiming to be "Google Inc." with a
#     certificate-expired failure for the enforced domain and many successes
#     for the testing one, one claiming "Microsoft Corporation";
#   - reporter-a's genuine report about the testing domain;
#   - a replay of it with another organisation name under reporter-a's
#     signature (which no longer verifies);
#   - an unsigned report carrying an Authentication-Results "dkim=pass" of
#     the trusted MTA, written by the sender below the MTA's own field;
#   - an unauthenticated POST with failures to the (untrusted) receiver.
# watch --once must neither demote the enforced domain nor promote the
# testing one; report --json and status --json say why each does not count.
# Then reporter-b's genuine report: two listed reporters, and watch --once
# promotes the testing domain.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
. "$STS_SOURCE_ROOT/tests/integration/check-lib/lib.sh"
. "$STS_SOURCE_ROOT/tests/integration/ingest-lib/lib.sh"
Z=evforge.test
T=held.$Z # starts in testing: must not be promoted on forged evidence
E=safe.$Z # set to enforce by the operator: must not be demoted on forged evidence
MXA=10.231.1.41
W=$STS_TB_RUN/evidence-forgery
rm -rf "$W"
mkdir -p "$W/www" "$W/k"
chmod 755 "$W" "$W/www"
RCV=
cleanup() {
	[ -n "$RCV" ] && kill "$RCV" 2>/dev/null
	chk_postfix_stop evf-mx
}
trap cleanup EXIT
S=$STSCTL
SRV() { tb_ns_srv "$@"; }

# ---- MX, zone, policy hosts ----
tb_mkcert evf-mx "mx.$Z"
tb_mkcert evf-policy "mta-sts.$T" "mta-sts.$E"
tb_mkcert evf-rcv localhost
if chk_postfix evf-mx "$MXA" tls evf-mx; then tb_ok "Postfix MX with STARTTLS"; else
	tb_fail "Postfix MX with STARTTLS"
	tb_done
	exit 1
fi
printf '%s\n' "mx.$Z A $MXA" "$T MX 10 mx.$Z." "$E MX 10 mx.$Z." \
	"mta-sts.$T A $STS_TB_NS_SRV_ADDR" "mta-sts.$E A $STS_TB_NS_SRV_ADDR" >"$W/rr.txt"
chk_rrsets "$W/rr.txt" >"$W/patch.json"
{
	chk_policy_block "mta-sts.$T" evf-policy "$W/www/mta-sts.$T/.well-known/mta-sts.txt"
	chk_policy_block "mta-sts.$E" evf-policy "$W/www/mta-sts.$E/.well-known/mta-sts.txt"
} >"$W/site.conf"
if tb_ns_pdns_zone "$Z" && tb_ns_pdns_patch "$Z" "$W/patch.json" && chk_site evidence-forgery "$W/site.conf"; then
	tb_ok "zone and policy hosts ready"
else
	tb_fail "zone and policy hosts ready"
fi

# ---- DKIM keys in BIND: the forger and two test reporters ----
for d in attacker.example reporter-a.test reporter-b.test; do
	mkdir -p "$W/k/$d"
	ing_dkim_key "$W/k/$d" "$d" s1 || tb_fail "DKIM key of $d published"
done
tb_expect "BIND serves the forger's key" "v=DKIM1" "$(tb_dig_bind s1._domainkey.attacker.example TXT)"
tb_expect "BIND serves reporter-b's key" "v=DKIM1" "$(tb_dig_bind s1._domainkey.reporter-b.test TXT)"

RPORT=$((STS_TB_PORT_BASE + 78))
NSBASE=${STS_TB_NS_API%/api/v1/servers/*}
cat >"$W/inv.json" <<EOF2
{"version": 1,
 "defaults": {"max_age": 86400, "dns": "pdns", "web": "www",
   "tlsrpt": {"rua": ["mailto:tlsrpt@$Z"]},
   "verify": {"https": true, "ca_file": "$STS_TB_CA", "resolve": "$STS_TB_NS_SRV_ADDR"},
   "rollout": {"min_days_in_testing": 0, "window_days": 1, "demote_window_days": 1,
               "min_sessions": 100, "min_reporting_orgs": 2}},
 "providers": {
   "pdns": {"plugin": "powerdns", "url": "$NSBASE/", "api_key": "\${env:PDNS_KEY}",
            "server_id": "localhost"},
   "www": {"plugin": "local", "root": "$W/www"}},
 "reports": {
   "reporters": {"add": ["reporter-a.test", "reporter-b.test"]},
   "dkim": {"resolver": "127.0.0.1:$STS_TB_BIND_PORT", "timeout": 3},
   "trusted_mtas": ["mx.$Z"],
   "https": {"listen": "127.0.0.1:$RPORT", "path": "/tlsrpt",
             "cert": "$STS_TB_PKI/evf-rcv.chain.pem", "key": "$STS_TB_PKI/evf-rcv.key"}},
 "watch": {"check_interval": 60},
 "domains": [{"name": "$T", "mode": "testing", "mx": ["mx.$Z"], "zone": "$Z"},
             {"name": "$E", "mode": "enforce", "mx": ["mx.$Z"], "zone": "$Z"}]}
EOF2
export PDNS_KEY=$STS_TB_PDNS_API_KEY
cd "$W" || exit 1
out=$("$S" validate inv.json 2>&1)
tb_expect_eq "validate: the inventory is valid" 0 $?
out=$(SRV env PDNS_KEY="$PDNS_KEY" "$S" apply --yes inv.json 2>&1)
rc=$?
tb_expect_eq "apply publishes testing and enforce" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'

# a domain comes under rollout in testing and earns enforce (docs/rollout.md);
# the operator puts this one in enforce at once, as one migrating an
# enforced domain would
out=$("$S" rollout set enforce "$E" -i inv.json --force --reason "evidence-forgery: starts enforced" 2>&1)
tb_expect_eq "rollout set enforce --force puts the enforced domain under rollout in enforce" 0 $?
[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'

watch_once() { SRV env PDNS_KEY="$PDNS_KEY" "$S" watch inv.json --once --json --resolver "$STS_TB_NS_SRV_ADDR" 2>>"$W/watch.err"; }
# decision DOC DOMAIN: "from to reason"
decision() { python3 -c 'import json,sys; d={x["domain"]:x for x in json.load(sys.stdin)["decisions"]}[sys.argv[1]]; print(d["from"], d["to"], d["reason"])' "$2" <<<"$1"; }
W1=$(watch_once)
tb_expect "cycle 1: the testing domain is held (no reports)" "testing testing" "$(decision "$W1" "$T")"
tb_expect "cycle 1: the enforced domain stays (live check passes)" "enforce enforce" "$(decision "$W1" "$E")"

# ---- the reports: written and signed (dkimpy) in one go ----
# every report is about today; its policy-string is the domain's policy as
# served now. Files: forged1.eml forged2.eml a.eml replay.eml ar.eml b.eml post.json
"$CHK_PY" - "$W" "$T" "$E" "$Z" <<'PY'
import base64, datetime, gzip, json, re, sys
import dkim
w, T, E, Z = sys.argv[1:5]
day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
def policy(dom):
    return [l for l in open(f"{w}/www/mta-sts.{dom}/.well-known/mta-sts.txt").read().splitlines() if l]
def report(org, rid, *specs):  # specs: (domain, successes, certificate-expired failures)
    pols = []
    for dom, ok, bad in specs:
        p = {"policy": {"policy-type": "sts", "policy-domain": dom, "policy-string": policy(dom)},
             "summary": {"total-successful-session-count": ok, "total-failure-session-count": bad}}
        if bad:
            p["failure-details"] = [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.66",
                                     "receiving-mx-hostname": "mx." + Z, "failed-session-count": bad}]
        pols.append(p)
    return json.dumps({"organization-name": org, "contact-info": "tls@reports.example", "report-id": rid,
                       "date-range": {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"},
                       "policies": pols}).encode()
def mail(sub, rep, rid, extra=""):
    att = base64.encodebytes(gzip.compress(rep, mtime=0)).decode().replace("\n", "\r\n")
    return (extra + f"From: tlsrpt@{sub}\r\nTo: reports@{Z}\r\n"
            f"Subject: Report Domain: {Z} Submitter: {sub} Report-ID: <{rid}@{sub}>\r\n"
            f"Date: Mon, 02 Mar 2026 01:00:00 +0000\r\nMessage-ID: <{rid}@{sub}>\r\n"
            f"TLS-Report-Domain: {Z}\r\nTLS-Report-Submitter: {sub}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"=b1\"\r\n\r\n"
            "--=b1\r\nContent-Type: text/plain\r\n\r\nThis is a TLS report.\r\n"
            "--=b1\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename=\"{sub}!{Z}!0!1!{rid}.json.gz\"\r\n\r\n"
            + att + "--=b1--\r\n").encode()
def sign(msg, dom):
    key = open(f"{w}/k/{dom}/s1.key", "rb").read()
    return dkim.sign(msg, b"s1", dom.encode(), key, canonicalize=(b"relaxed", b"relaxed"),
                     include_headers=[b"from", b"to", b"subject", b"date", b"tls-report-domain",
                                      b"tls-report-submitter"]) + msg
def out(name, data):
    open(f"{w}/{name}", "wb").write(data)
# the forger signs as itself and claims to be Google, then Microsoft
out("forged1.eml", sign(mail("attacker.example", report("Google Inc.", "forged-google", (E, 0, 1), (T, 500, 0)),
                             "forged-google"), "attacker.example"))
out("forged2.eml", sign(mail("attacker.example", report("Microsoft Corporation", "forged-microsoft", (T, 500, 0)),
                             "forged-microsoft"), "attacker.example"))
# reporter-a's genuine report, and its replay under another organisation name
a = sign(mail("reporter-a.test", report("Reporter A", "genuine-a", (T, 150, 0)), "genuine-a"), "reporter-a.test")
out("a.eml", a)
sig = re.match(rb"DKIM-Signature:.*?\r\n(?![ \t])", a, re.S).group(0)
out("replay.eml", sig + mail("reporter-a.test", report("Microsoft Corporation", "genuine-a", (T, 150, 0)), "genuine-a"))
# unsigned; the sender wrote a trusted verdict below the one the trusted MTA added on top
out("ar.eml", mail("reporter-b.test", report("Reporter B", "ar-forged", (T, 500, 0), (E, 0, 1)), "ar-forged",
                   f"Authentication-Results: mx.{Z}; dkim=none (no signature)\r\n"
                   f"Authentication-Results: mx.{Z}; dkim=pass header.d=reporter-b.test\r\n"))
out("post.json", report("Google Inc.", "posted", (E, 0, 7), (T, 900, 0)))
out("b.eml", sign(mail("reporter-b.test", report("Reporter B", "genuine-b", (T, 150, 0)), "genuine-b"),
                  "reporter-b.test"))
PY
tb_expect "the forger's report is DKIM-signed by attacker.example" "d=attacker.example" "$(head -c 600 forged1.eml)"
tb_expect "the replay carries reporter-a's signature" "d=reporter-a.test" "$(head -c 600 replay.eml)"

ing() { "$S" ingest --inventory inv.json --state stsctl.db "$@" 2>&1; }
out=$(ing forged1.eml forged2.eml a.eml replay.eml ar.eml)
tb_expect "forged input: 5 reports stored, 2 of them not authenticated" "5 inputs, 5 reports stored (2 not authenticated)" "$out"

# the unauthenticated POST with failures
"$S" receive --inventory inv.json --state stsctl.db >rcv.out 2>rcv.err &
RCV=$!
for _ in $(seq 100); do ss -Hlnt "src 127.0.0.1:$RPORT" | grep -q . && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$STS_TB_CA" -H 'Content-Type: application/tlsrpt+json' \
	--data-binary @post.json "https://localhost:$RPORT/tlsrpt")
tb_expect_eq "the receiver stores the unauthenticated POST (201)" 201 "$code"
kill "$RCV" 2>/dev/null
wait "$RCV" 2>/dev/null
RCV=

# ---- what counts, and why not ----
"$S" report --inventory inv.json --state stsctl.db --format json >report.json 2>report.err
why=$(python3 -c '
import json
for r in json.load(open("report.json"))["reports"]:
    print(r["report_id"], "|", r["organization"], "|", "evidence" if r["evidence"] else r["why"])')
why() { grep -F "$1 | $2 | " <<<"$why" | sed 's/.* | //'; }
tb_expect_eq "report --json: the forger calling itself Google is not evidence" \
	"reporter attacker.example is not in reports.reporters" "$(why forged-google "Google Inc.")"
tb_expect_eq "report --json: nor calling itself Microsoft" \
	"reporter attacker.example is not in reports.reporters" "$(why forged-microsoft "Microsoft Corporation")"
tb_expect_eq "report --json: reporter-a's genuine report is" "evidence" "$(why genuine-a "Reporter A")"
tb_expect "report --json: the replay under another name does not verify" \
	"not authenticated: dkim fail d=reporter-a.test" "$(why genuine-a "Microsoft Corporation")"
tb_expect "report --json: the sender's Authentication-Results is not believed" \
	"not authenticated: no dkim signature" "$(why ar-forged "Reporter B")"
tb_expect "report --json: the POST is not authenticated" "not authenticated" "$(why posted "Google Inc.")"

status() { SRV "$S" status inv.json --json | python3 -c '
import json, sys
d = {x["domain"]: x for x in json.load(sys.stdin)["domains"]}[sys.argv[1]]
h = d["health"]
print(d["stage"], h["sessions"], h["reporting_orgs"], ",".join(sorted(h["failures_by_type"])) or "-",
      ",".join(b["gate"] for b in d["blocking"]) or "-")
for n in h["not_evidence"]:
    print("#", n["reports"], n["why"])' "$1"; }
st=$(status "$T")
tb_expect "status: the testing domain has 150 sessions from one reporter, held by reporting-orgs" \
	"testing 150 1 - reporting-orgs" "$st"
tb_expect "status: it names the forger's reports" "# 2 reporter attacker.example is not in reports.reporters" "$st"
tb_expect "status: and the unauthenticated ones" "not authenticated" "$st"
st=$(status "$E")
tb_expect "status: the enforced domain counts none of the forged failures" "enforce 0 0 -" "$st"

W2=$(watch_once)
tb_expect "cycle 2: the testing domain is not promoted on forged evidence" "testing testing held" "$(decision "$W2" "$T")"
tb_expect "cycle 2: the enforced domain is not demoted on forged failures" "enforce enforce" "$(decision "$W2" "$E")"
pol=$(cat "$W/www/mta-sts.$E/.well-known/mta-sts.txt")
tb_expect "the enforce policy is still published" "mode: enforce" "$pol"

# ---- a second listed reporter: genuine evidence promotes ----
out=$(ing b.eml)
tb_expect "reporter-b's report: stored, authenticated" "1 reports stored (0 not authenticated)" "$out"
st=$(status "$T")
tb_expect "status: 300 sessions from two reporters, only the live check left" "testing 300 2 - live-check" "$st"
W3=$(watch_once)
tb_expect "cycle 3: the testing domain is promoted on two listed reporters" "testing enforce promoted" "$(decision "$W3" "$T")"
tb_expect "cycle 3: the enforced domain stays" "enforce enforce" "$(decision "$W3" "$E")"
served=$(SRV curl -s --cacert "$STS_TB_CA" "https://mta-sts.$T/.well-known/mta-sts.txt" \
	--resolve "mta-sts.$T:443:$STS_TB_NS_SRV_ADDR")
tb_expect "nginx serves the promoted domain's enforce policy" "mode: enforce" "$served"
tb_expect_eq "history: both came under rollout in testing" ">testing:$E >testing:$T" "$(sqlite3 stsctl.db "select group_concat(from_stage || '>' || to_stage || ':' || domain, ' ') from rollout_transitions where from_stage = ''")"
tb_expect_eq "history: after the start only the operator's set and the promotion" "testing>enforce:$E testing>enforce:$T" \
	"$(sqlite3 stsctl.db "select group_concat(from_stage || '>' || to_stage || ':' || domain, ' ') from rollout_transitions where from_stage <> ''")"
[ -s "$W/watch.err" ] && sed 's/^/# watch: /' "$W/watch.err" | tail -5
tb_done
