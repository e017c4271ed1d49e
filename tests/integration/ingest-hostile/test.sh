#!/bin/bash
# Malformed and hostile input through the file, HTTPS and IMAP channels: a
# truncated gzip, a gzip bomb (64 MiB of zeros in ~64 KiB), a 100 MB JSON, JSON
# nested 100,000 deep, invalid UTF-8, a multipart e-mail without a report, and
# over IMAP a 21 MB message. Each is rejected cleanly with its reason
# (quarantine, 400, 413), the good reports among them are stored, nothing
# crashes, and no process grows past 200 MB.
# STS_SANITIZED=1 (tests/run.sh, rerunning this case with the ASan build of
# stsctl): the RSS bound is not asserted, and no test line is printed for it
# (shadow memory and quarantine make the peak RSS no measure of stsctl's own).
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
. "$STS_SOURCE_ROOT/tests/integration/ingest-lib/lib.sh"
W=$STS_TB_RUN/ingest-hostile
rm -rf "$W"
mkdir -p "$W/in"
RPID=
trap '[ -n "$RPID" ] && kill "$RPID" 2>/dev/null' EXIT

# ---- the inputs ----
python3 - "$W/in" "$ING_SAMPLES" <<'PY'
import gzip, os, sys, zlib
out, samples = sys.argv[1], sys.argv[2]
good1 = open(os.path.join(samples, "01-rfc8460-appendix-b.json"), "rb").read()
good8 = open(os.path.join(samples, "08-anonymized-google-style-validation-failure.json"), "rb").read()
def put(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
put("good1.json.gz", gzip.compress(good1, mtime=0))
put("good8.json", good8)
put("truncated.json.gz", gzip.compress(good8, mtime=0)[:200])
put("bomb.json.gz", gzip.compress(b"\0" * (64 << 20), 9, mtime=0))
with open(os.path.join(out, "huge.json"), "wb") as f:
    f.write(b'{"organization-name":"x","policies":[')
    chunk = b'{"policy":{"policy-type":"sts"},"summary":{}},' * 20000
    while f.tell() < 100_000_000:
        f.write(chunk)
    f.write(b'{"policy":{}}]}')
put("deep.json", b"[" * 100000 + b"]" * 100000)
put("badutf8.json", good1.replace(b"Company-X", b"Comp\xffny-X"))
put("noreport.eml", b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
    b"no report here\r\n--b1--\r\n")
PY
tb_expect_eq "hostile inputs written" "8" "$(ls "$W/in" | wc -l)"
declare -A WHY=(
	[truncated.json.gz]="gzip stream is truncated"
	[bomb.json.gz]="gzip bomb"
	[huge.json]="file is larger than 10485760 bytes"
	[deep.json]="JSON nesting deeper than 64 levels"
	[badutf8.json]="invalid UTF-8 byte 0xff"
	[noreport.eml]="has no application/tlsrpt+gzip or application/tlsrpt+json part"
)
why() { sqlite3 "$1" "SELECT reason FROM tlsrpt_quarantine WHERE source LIKE '%/$2'"; }
# rss_below_200mb NAME KB: one test line, or none at all under a sanitizer
rss_below_200mb() {
	if [ "${STS_SANITIZED:-}" = 1 ]; then
		echo "# $1: peak RSS $2 KB, not asserted (STS_SANITIZED=1)"
	elif [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -lt 204800 ]; then
		tb_ok "$1: peak RSS $2 KB < 200 MB"
	else
		tb_fail "$1: peak RSS < 200 MB" "peak RSS: '$2' KB"
	fi
}

# ---- files ----
/usr/bin/time -f '%M' -o "$W/rss" "$STSCTL" ingest --state "$W/file.db" "$W/in" >"$W/out" 2>"$W/err" && rc=0 || rc=$?
tb_expect_eq "files: exit 1 (inputs quarantined)" "1" "$rc"
tb_expect "files: 2 stored, 6 quarantined" "8 inputs, 2 reports stored (2 not authenticated), 0 duplicates, 0 upgraded, 6 quarantined" "$(cat "$W/err")"
for f in "${!WHY[@]}"; do
	tb_expect "files: '$f' quarantined with its reason" "${WHY[$f]}" "$(why "$W/file.db" "$f")"
	tb_expect "files: '$f' named on stderr" "quarantined '$W/in/$f'" "$(cat "$W/err")"
done
tb_expect_eq "files: the good reports are counted" "company-y.example 5326 303
example.com 0 3" "$(ing_totals "$W/file.db")"
rss=$(tail -1 "$W/rss")
rss_below_200mb files "$rss"
tb_expect_eq "files: the 100 MB file is not kept, the small ones are" "huge.json|1" \
	"$(sqlite3 "$W/file.db" "SELECT substr(source, length(source) - 8), data IS NULL FROM tlsrpt_quarantine WHERE data IS NULL")"
"$STSCTL" ingest --state "$W/file.db" "$W/in" >/dev/null 2>&1
tb_expect_eq "files again: quarantined once, seen twice" "6 2" \
	"$(sqlite3 "$W/file.db" "SELECT count(*), min(times) FROM tlsrpt_quarantine" | tr '|' ' ')"

# ---- HTTPS ----
tb_mkcert ingest-hostile localhost
cat >"$W/rcv.json" <<EOF
{"version": 1, "reports": {"https": {"listen": "127.0.0.1:1",
  "cert": "$STS_TB_PKI/ingest-hostile.chain.pem", "key": "$STS_TB_PKI/ingest-hostile.key"}}}
EOF
"$STSCTL" receive --inventory "$W/rcv.json" --state "$W/https.db" --listen 127.0.0.1:0 >"$W/rcv.out" 2>"$W/rcv.err" &
RPID=$!
for _ in $(seq 100); do grep -q listening "$W/rcv.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on https:\/\/127.0.0.1/https:\/\/localhost/p' "$W/rcv.out")
post() { # post FILE CTYPE -> "STATUS: BODY"
	curl -sS --max-time 60 --cacert "$STS_TB_CA" -H "Content-Type: $2" --data-binary @"$1" \
		-w '%{http_code}: ' -o "$W/body" "$URL" 2>&1
	tr -d '\n' <"$W/body"
}
tb_expect "https: truncated gzip: 400" "400: report rejected: gzip stream is truncated" "$(post "$W/in/truncated.json.gz" application/tlsrpt+gzip)"
tb_expect "https: gzip bomb: 400" "400: report rejected: decompressed report exceeds" "$(post "$W/in/bomb.json.gz" application/tlsrpt+gzip)"
tb_expect "https: 100 MB JSON: 413" "413" "$(post "$W/in/huge.json" application/tlsrpt+json)"
tb_expect "https: deep nesting: 400" "400: report rejected: JSON nesting deeper than 64 levels" "$(post "$W/in/deep.json" application/tlsrpt+json)"
tb_expect "https: invalid UTF-8: 400" "400: report rejected: invalid UTF-8" "$(post "$W/in/badutf8.json" application/tlsrpt+json)"
tb_expect "https: an e-mail is no report: 415" "415" "$(post "$W/in/noreport.eml" message/rfc822)"
tb_expect "https: the good ones: 201" "201: stored" "$(post "$W/in/good1.json.gz" application/tlsrpt+gzip)"
tb_expect "https: and 201" "201: stored" "$(post "$W/in/good8.json" application/tlsrpt+json)"
hwm=$(awk '/VmHWM/ {print $2}' /proc/"$RPID"/status)
rss_below_200mb "https: receiver" "$hwm"
kill -TERM "$RPID"
wait "$RPID" && rc=0 || rc=$?
RPID=
tb_expect_eq "https: receiver still alive, stops on SIGTERM" "0" "$rc"
tb_expect_eq "https: the good reports are counted" "company-y.example 5326 303
example.com 0 3" "$(ing_totals "$W/https.db")"
tb_expect_eq "https: 4 bodies quarantined (413 and 415 are never read)" "4" \
	"$(sqlite3 "$W/https.db" "SELECT count(*) FROM tlsrpt_quarantine")"

# ---- IMAP ----
BOX=tlsrpt-hostile
ing_mailbox_reset "$BOX"
python3 - "$W" "$W/in" <<'PY'
import base64, sys, os
w, d = sys.argv[1], sys.argv[2]
def msg(name, ctype, data):
    att = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return ("From: noreply@reporter.example\r\nTo: r@example.net\r\nSubject: Report Domain: example.net "
            "Submitter: reporter.example Report-ID: <x@y>\r\nTLS-Report-Domain: example.net\r\n"
            "TLS-Report-Submitter: reporter.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; "
            "report-type=tlsrpt; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nreport\r\n--b\r\n"
            f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n\r\n{att}--b--\r\n").encode()
for name, ctype in [("truncated.json.gz", "application/tlsrpt+gzip"), ("bomb.json.gz", "application/tlsrpt+gzip"),
                    ("deep.json", "application/tlsrpt+json"), ("badutf8.json", "application/tlsrpt+json"),
                    ("good1.json.gz", "application/tlsrpt+gzip")]:
    open(os.path.join(w, name + ".eml"), "wb").write(msg(name, ctype, open(os.path.join(d, name), "rb").read()))
# 21 MB: over the 20 MiB cap of one message
big = msg("big", "application/tlsrpt+json", b" " * (16 << 20))
open(os.path.join(w, "big.eml"), "wb").write(big)
PY
ing_imap_append "$BOX" "$W"/{truncated.json.gz,bomb.json.gz,deep.json,badutf8.json,good1.json.gz}.eml \
	"$W/in/noreport.eml" "$W/big.eml" && tb_ok "imap: 7 messages appended" || tb_fail "imap: 7 messages appended"
cat >"$W/imap.json" <<EOF
{"version": 1, "reports": {"sources": [{"source": "imap://localhost:$STS_TB_IMAP_PORT/$BOX",
  "user": "$STS_TB_IMAP_USER", "password": "\${env:ING_IMAP_PW}", "ca_file": "$STS_TB_CA"}],
  "dkim": {"dns": false}}}
EOF
ING_IMAP_PW=$STS_TB_IMAP_PASS /usr/bin/time -f '%M' -o "$W/rss" "$STSCTL" ingest --inventory "$W/imap.json" \
	--state "$W/imap.db" >"$W/out" 2>"$W/err" && rc=0 || rc=$?
tb_expect_eq "imap: exit 1" "1" "$rc"
tb_expect "imap: 1 stored, 6 quarantined" "7 inputs, 1 reports stored (1 not authenticated), 0 duplicates, 0 upgraded, 6 quarantined" "$(cat "$W/err")"
tb_expect "imap: the 21 MB message" "message is larger than 20971520 bytes" \
	"$(sqlite3 "$W/imap.db" "SELECT group_concat(reason, '|') FROM tlsrpt_quarantine")"
tb_expect "imap: the bomb" "gzip bomb" "$(sqlite3 "$W/imap.db" "SELECT group_concat(reason, '|') FROM tlsrpt_quarantine")"
tb_expect_eq "imap: the good report is counted" "company-y.example 5326 303" "$(ing_totals "$W/imap.db")"
tb_expect_eq "imap: every message processed (\\Seen)" "* SEARCH" "$(ing_imap "$BOX" -X 'SEARCH UNSEEN' | tr -d '\r')"
rss=$(tail -1 "$W/rss")
rss_below_200mb imap "$rss"

tb_done
