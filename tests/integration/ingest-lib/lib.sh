# shellcheck shell=bash
# Helpers shared by the ingest-* integration cases (sourced after harness/tb.sh).
#   ING_SAMPLES                    the sample reports (tests/data/tlsrpt/samples)
#   ing_expect FILE...             per-domain totals the JSON reports FILE... add up to,
#                                  computed here in Python, independently of stsctl:
#                                  "domain successful failed" lines, sorted
#   ing_expect_rt FILE...          "domain result-type sessions" lines, sorted
#   ing_totals STATE [ARGS]        the same two views from `stsctl report --format json`
#   ing_totals_rt STATE [ARGS]
#   ing_json_of EML                the .json sample next to an .eml sample
#   ing_imap CMD...                curl against the testbed Dovecot (STARTTLS, testuser):
#                                  ing_imap MAILBOX [curl args] (URL path = MAILBOX)
#   ing_imap_append BOX FILE...    append messages, unseen as delivered mail is
#   ing_mailbox_reset NAME         delete and create the mailbox NAME
#   ing_dkim_key DIR DOMAIN SEL    RSA key DIR/SEL.key and a BIND zone DIR/DOMAIN.zone
#                                  publishing SEL._domainkey.DOMAIN, loaded into BIND
#   ing_report_eml DOMAIN ORG ID OK FAIL  a TLS report e-mail on stdout (CRLF)
ING_SAMPLES=$STS_SOURCE_ROOT/tests/data/tlsrpt/samples

_ING_PY_EXPECT='
import json, sys
tot, rt = {}, {}
for f in sys.argv[2:]:
    rep = json.load(open(f))
    for p in rep["policies"]:
        dom = ((p.get("policy") or {}).get("policy-domain") or "").lower().rstrip(".")
        s = p.get("summary") or {}
        det = p.get("failure-details") or []
        ok = s.get("total-successful-session-count") or 0
        bad = max([s.get("total-failure-session-count") or 0] +
                  [d.get("failed-session-count") or 0 for d in det])
        t = tot.setdefault(dom, [0, 0])
        t[0] += ok
        t[1] += bad
        for d in det:
            k = (dom, d.get("result-type") or "(none)")
            rt[k] = rt.get(k, 0) + (d.get("failed-session-count") or 0)
if sys.argv[1] == "tot":
    for d in sorted(tot):
        print(d or "-", tot[d][0], tot[d][1])
else:
    for k in sorted(rt):
        print(k[0] or "-", k[1], rt[k])
'
_ING_PY_TOTALS='
import json, sys
doc = json.load(sys.stdin)
for d in sorted(doc["domains"], key=lambda d: d["domain"]):
    if sys.argv[1] == "tot":
        print(d["domain"] or "-", d["successful_sessions"], d["failed_sessions"])
    else:
        for k in sorted(d["by_result_type"]):
            print(d["domain"] or "-", k, d["by_result_type"][k])
'
ing_expect() { python3 -c "$_ING_PY_EXPECT" tot "$@"; }
ing_expect_rt() { python3 -c "$_ING_PY_EXPECT" rt "$@" | sort; }
ing_totals() {
	local st=$1
	shift
	"$STSCTL" -q report --state "$st" --format json "$@" | python3 -c "$_ING_PY_TOTALS" tot
}
ing_totals_rt() {
	local st=$1
	shift
	"$STSCTL" -q report --state "$st" --format json "$@" | python3 -c "$_ING_PY_TOTALS" rt | sort
}
ing_json_of() { echo "${1%.eml}.json"; }

ing_imap() {
	local box=$1
	shift
	curl -sS --max-time 20 --ssl-reqd --cacert "$STS_TB_CA" -u "$STS_TB_IMAP_USER:$STS_TB_IMAP_PASS" \
		"$@" "imap://localhost:$STS_TB_IMAP_PORT/$box"
}
# ing_imap_append BOX FILE...: APPEND each, then clear \Seen (curl appends
# with \Seen; delivered mail is unseen)
ing_imap_append() {
	local box=$1 f
	shift
	for f in "$@"; do ing_imap "$box" -T "$f" >/dev/null || return 1; done
	ing_imap "$box" -X 'STORE 1:* -FLAGS.SILENT (\Seen)' >/dev/null
}
ing_mailbox_reset() {
	ing_imap "" -X "DELETE $1" >/dev/null 2>&1
	ing_imap "" -X "CREATE $1" >/dev/null
}

ing_dkim_key() {
	local dir=$1 dom=$2 sel=$3
	openssl genrsa -out "$dir/$sel.key" 2048 2>/dev/null || return 1
	local p
	p=$(openssl rsa -in "$dir/$sel.key" -pubout -outform DER 2>/dev/null | base64 -w0) || return 1
	{
		printf '$TTL 60\n@ IN SOA ns1.%s. hostmaster.%s. 1 60 60 600 60\n@ IN NS ns1.%s.\nns1 IN A 127.0.0.1\n' \
			"$dom" "$dom" "$dom"
		printf '%s._domainkey IN TXT "v=DKIM1; k=rsa; s=tlsrpt; " "p=%s" "%s"\n' "$sel" "${p:0:200}" "${p:200}"
	} >"$dir/$dom.zone"
	tb_bind_zone "$dom" "$dir/$dom.zone"
}

ing_report_eml() {
	python3 - "$@" <<'PY'
import base64, gzip, json, sys
dom, org, rid, ok, fail = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rep = {"organization-name": org,
       "date-range": {"start-datetime": "2026-03-01T00:00:00Z", "end-datetime": "2026-03-01T23:59:59Z"},
       "contact-info": "tls@" + org, "report-id": rid,
       "policies": [{"policy": {"policy-type": "sts", "policy-domain": dom,
                                "policy-string": ["version: STSv1", "mode: testing", "mx: mx." + dom,
                                                  "max_age: 86400"]},
                     "summary": {"total-successful-session-count": ok, "total-failure-session-count": fail},
                     "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.7",
                                          "receiving-mx-hostname": "mx." + dom, "failed-session-count": fail}]}]}
att = base64.encodebytes(gzip.compress(json.dumps(rep).encode(), mtime=0)).decode().replace("\n", "\r\n")
msg = (f"From: tlsrpt@{org}\r\nTo: reports@{dom}\r\n"
       f"Subject: Report Domain: {dom} Submitter: {org} Report-ID: <{rid}>\r\n"
       f"Date: Mon, 02 Mar 2026 01:00:00 +0000\r\nMessage-ID: <{rid}>\r\n"
       f"TLS-Report-Domain: {dom}\r\nTLS-Report-Submitter: {org}\r\nMIME-Version: 1.0\r\n"
       f"Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"=b1\"\r\n\r\n"
       f"--=b1\r\nContent-Type: text/plain\r\n\r\nTLS report for {dom}.\r\n"
       f"--=b1\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n"
       f"Content-Disposition: attachment; filename=\"{org}!{dom}!1772323200!1772409599.json.gz\"\r\n\r\n"
       f"{att}--=b1--\r\n")
sys.stdout.write(msg)
PY
}
