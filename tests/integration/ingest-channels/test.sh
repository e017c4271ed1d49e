#!/bin/bash
# stsctl ingest through every channel with the real binary: every sample report
# as files (.json and .json.gz), as .eml, from a Maildir, from an IMAP mailbox
# of the testbed's Dovecot (STARTTLS; \Seen and move modes; a DKIM-signed report
# whose key is published in the testbed's BIND), and POSTed to `stsctl receive`.
# After each, the per-domain totals and result types of `stsctl report --format
# json` must equal what Python computes from the sample JSON on its own;
# duplicates are never counted twice; the real samples (signed by google.com,
# microsoft.com, mail.ru: keys out of reach) are stored but not authenticated.
# Then prune.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
tb_need_test_hooks
. "$STS_SOURCE_ROOT/tests/integration/ingest-lib/lib.sh"
W=$STS_TB_RUN/ingest-channels
rm -rf "$W"
mkdir -p "$W"
RPID=
trap '[ -n "$RPID" ] && kill "$RPID" 2>/dev/null' EXIT
S=$ING_SAMPLES
JSON=("$S"/*.json)
EML=("$S"/*.eml)
EML_JSON=()
for e in "${EML[@]}"; do EML_JSON+=("$(ing_json_of "$e")"); done
want_all=$(ing_expect "${JSON[@]}")
want_all_rt=$(ing_expect_rt "${JSON[@]}")
want_eml=$(ing_expect "${EML_JSON[@]}")
want_eml_rt=$(ing_expect_rt "${EML_JSON[@]}")
[ "${#JSON[@]}" = 14 ] && [ "${#EML[@]}" = 5 ] && tb_ok "14 JSON and 5 e-mail samples" ||
	tb_fail "14 JSON and 5 e-mail samples" "${#JSON[@]} ${#EML[@]}"

# run NAME WANT_RC CMD...: the exit code, stdout in $out, stderr in $err
run() {
	local name=$1 want=$2
	shift 2
	out=$("$@" 2>"$W/err") && rc=0 || rc=$?
	err=$(cat "$W/err")
	tb_expect_eq "$name: exit $want" "$want" "$rc"
}

# ---- files: .json, and the same as .json.gz in a directory tree ----
run "files" 0 "$STSCTL" ingest --state "$W/file.db" "${JSON[@]}"
tb_expect "files: summary" "14 inputs, 14 reports stored (14 not authenticated), 0 duplicates" "$err"
tb_expect_eq "files: totals per domain" "$want_all" "$(ing_totals "$W/file.db")"
tb_expect_eq "files: failures per result type" "$want_all_rt" "$(ing_totals_rt "$W/file.db")"
run "files again" 0 "$STSCTL" ingest --state "$W/file.db" "${JSON[@]}"
tb_expect "files again: all duplicates" "0 reports stored (0 not authenticated), 14 duplicates" "$err"
tb_expect_eq "files again: totals unchanged" "$want_all" "$(ing_totals "$W/file.db")"
mkdir -p "$W/gz/a/b"
for f in "${JSON[@]}"; do gzip -9nc "$f" >"$W/gz/a/b/$(basename "$f").gz"; done
cp "$S/SOURCES.md" "$W/gz/a/"
run "gz directory" 0 "$STSCTL" ingest --state "$W/gz.db" --json "$W/gz"
tb_expect "gz directory: 14 stored, 1 skipped" '"stored": 14' "$out"
tb_expect "gz directory: README skipped" '"skipped": 1' "$out"
tb_expect_eq "gz directory: totals per domain" "$want_all" "$(ing_totals "$W/gz.db")"
tb_expect_eq "gz directory: nothing authenticated without --trusted" "" \
	"$(ing_totals "$W/gz.db" --authenticated)"
run "gz directory --trusted" 0 "$STSCTL" ingest --state "$W/gz.db" --trusted lab-archive "$W/gz"
tb_expect "gz --trusted: upgraded, not counted again" "0 duplicates, 14 upgraded" "$err"
tb_expect_eq "gz --trusted: all authenticated" "$want_all" "$(ing_totals "$W/gz.db" --authenticated)"

# ---- .eml ----
run "eml" 0 "$STSCTL" ingest --state "$W/eml.db" "${EML[@]}"
tb_expect "eml: 5 stored, none authenticated" "5 reports stored (5 not authenticated)" "$err"
tb_expect_eq "eml: totals per domain" "$want_eml" "$(ing_totals "$W/eml.db")"
tb_expect_eq "eml: failures per result type" "$want_eml_rt" "$(ing_totals_rt "$W/eml.db")"
tb_expect_eq "eml: real signatures cannot be verified offline" "5" \
	"$(sqlite3 "$W/eml.db" "SELECT count(*) FROM tlsrpt_reports WHERE authenticated = 0 AND auth_reason LIKE 'dkim%'")"
run "eml then json: duplicates" 0 "$STSCTL" ingest --state "$W/eml.db" "${EML_JSON[@]}"
tb_expect "eml then json: 5 duplicates" "5 duplicates" "$err"

# ---- Maildir ----
M=$W/Maildir
mkdir -p "$M/new" "$M/cur" "$M/tmp"
i=0
for e in "${EML[@]}"; do cp "$e" "$M/new/17000000$i.M$i.host"; i=$((i + 1)); done
run "maildir" 0 "$STSCTL" ingest --state "$W/md.db" "maildir:$M"
tb_expect_eq "maildir: totals per domain" "$want_eml" "$(ing_totals "$W/md.db")"
tb_expect_eq "maildir: processed messages moved to cur/ with S" "0 5" \
	"$(ls "$M/new" | wc -l) $(ls "$M/cur" | grep -c ':2,S$')"
run "maildir again" 0 "$STSCTL" ingest --state "$W/md.db" "maildir:$M"
tb_expect "maildir again: nothing read" "0 inputs" "$err"

# ---- IMAP (Dovecot, STARTTLS) with a DKIM-signed report ----
K=$W/dkim
mkdir -p "$K"
if ing_dkim_key "$K" signer.ingest.test s1; then tb_ok "DKIM key published in BIND"; else tb_fail "DKIM key published in BIND"; fi
tb_expect "BIND serves the key" "v=DKIM1" "$(tb_dig_bind s1._domainkey.signer.ingest.test TXT)"
ing_report_eml signed.ingest.test signer.ingest.test "r-signed@signer.ingest.test" 70 3 >"$K/plain.eml"
dkimsign --hcanon relaxed --bcanon relaxed s1 signer.ingest.test "$K/s1.key" <"$K/plain.eml" >"$K/signed.eml"
tb_expect "dkimpy signed it" "DKIM-Signature:" "$(head -c 300 "$K/signed.eml")"
printf 'From: a@example.org\r\nTo: b@example.net\r\nSubject: not a report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n' >"$K/junk.eml"
BOX=tlsrpt-ingest
ing_mailbox_reset "$BOX"
ing_imap_append "$BOX" "${EML[@]}" "$K/signed.eml" "$K/junk.eml" && tb_ok "7 messages appended to '$BOX'" ||
	tb_fail "7 messages appended to '$BOX'"
tb_expect_eq "7 unseen messages" "* SEARCH 1 2 3 4 5 6 7" "$(ing_imap "$BOX" -X 'SEARCH UNSEEN' | tr -d '\r')"
cat >"$W/imap.json" <<EOF
{"version": 1,
 "reports": {
  "sources": [
   {"source": "imap://localhost:$STS_TB_IMAP_PORT/$BOX", "user": "$STS_TB_IMAP_USER",
    "password": "\${env:ING_IMAP_PW}", "ca_file": "$STS_TB_CA"},
   {"source": "imap://localhost:$STS_TB_IMAP_PORT/$BOX-move", "user": "$STS_TB_IMAP_USER",
    "password": "\${env:ING_IMAP_PW}", "ca_file": "$STS_TB_CA", "processed": "move",
    "move_to": "$BOX-done"},
   {"source": "imap://localhost:$STS_TB_IMAP_PORT/$BOX", "user": "$STS_TB_IMAP_USER",
    "password": "\${env:ING_BAD_PW}", "ca_file": "$STS_TB_CA"}
  ],
  "dkim": {"resolver": "127.0.0.1:$STS_TB_BIND_PORT", "timeout": 3}
 }}
EOF
export ING_IMAP_PW=$STS_TB_IMAP_PASS ING_BAD_PW=wrong
run "imap" 1 "$STSCTL" ingest --inventory "$W/imap.json" --state "$W/imap.db" \
	"imap://localhost:$STS_TB_IMAP_PORT/$BOX"
tb_expect "imap: 6 stored, the junk quarantined" "7 inputs, 6 reports stored (5 not authenticated), 0 duplicates, 0 upgraded, 1 quarantined" "$err"
tb_expect "imap: quarantine reason" "has no application/tlsrpt+gzip or application/tlsrpt+json part" "$err"
want_imap=$(printf '%s\nsigned.ingest.test 70 3' "$want_eml" | sort)
tb_expect_eq "imap: totals per domain" "$want_imap" "$(ing_totals "$W/imap.db" | sort)"
tb_expect_eq "imap: only the signed report is evidence" "signed.ingest.test 70 3" \
	"$(ing_totals "$W/imap.db" --authenticated)"
tb_expect "imap: the DKIM verdict is stored" "dkim pass d=signer.ingest.test s=s1" \
	"$(sqlite3 "$W/imap.db" "SELECT auth_reason FROM tlsrpt_reports WHERE organization = 'signer.ingest.test'")"
tb_expect "imap: the real samples are not" "dkim" \
	"$(sqlite3 "$W/imap.db" "SELECT auth_reason FROM tlsrpt_reports WHERE organization = 'Google Inc.' LIMIT 1")"
tb_expect_eq "imap: every message marked \\Seen" "* SEARCH" \
	"$(ing_imap "$BOX" -X 'SEARCH UNSEEN' | tr -d '\r')"
run "imap again" 0 "$STSCTL" ingest --inventory "$W/imap.json" --state "$W/imap.db" \
	"imap://localhost:$STS_TB_IMAP_PORT/$BOX"
tb_expect "imap again: nothing new" "0 inputs" "$err"
# move mode: every message is read, then moved away
ing_mailbox_reset "$BOX-move"
ing_mailbox_reset "$BOX-done"
ing_imap_append "$BOX-move" "${EML[@]:0:2}"
run "imap move" 0 "$STSCTL" ingest --inventory "$W/imap.json" --state "$W/move.db" \
	"imap://localhost:$STS_TB_IMAP_PORT/$BOX-move"
tb_expect "imap move: 2 stored" "2 inputs, 2 reports stored" "$err"
tb_expect_eq "imap move: source mailbox empty" "* SEARCH" "$(ing_imap "$BOX-move" -X 'SEARCH ALL' | tr -d '\r')"
tb_expect_eq "imap move: both in the target" "* SEARCH 1 2" "$(ing_imap "$BOX-done" -X 'SEARCH ALL' | tr -d '\r')"
# failures: wrong password, a certificate from another CA
cat >"$W/imap-bad.json" <<EOF
{"version": 1, "reports": {"sources": [
 {"source": "imap://localhost:$STS_TB_IMAP_PORT/$BOX", "user": "$STS_TB_IMAP_USER", "password": "\${env:ING_BAD_PW}", "ca_file": "$STS_TB_CA"},
 {"source": "imap://localhost:$STS_TB_IMAP_PORT/INBOX", "user": "$STS_TB_IMAP_USER", "password": "\${env:ING_IMAP_PW}"}]}}
EOF
run "imap wrong password and wrong CA" 1 "$STSCTL" ingest --inventory "$W/imap-bad.json" --state "$W/bad.db"
tb_expect "imap: login refused" "tlsrpt-ingest': authentication rejected" "$err"
tb_expect "imap: certificate not trusted" "SSL certificate problem" "$err"

# ---- HTTPS POST to stsctl receive ----
tb_mkcert ingest-rcv localhost
cat >"$W/rcv.json" <<EOF
{"version": 1, "reports": {"https": {"listen": "127.0.0.1:1", "path": "/v1/tlsrpt",
  "cert": "$STS_TB_PKI/ingest-rcv.chain.pem", "key": "$STS_TB_PKI/ingest-rcv.key", "max_body": 1048576}}}
EOF
"$STSCTL" receive --inventory "$W/rcv.json" --state "$W/https.db" --listen 127.0.0.1:0 >"$W/rcv.out" 2>"$W/rcv.err" &
RPID=$!
for _ in $(seq 100); do grep -q listening "$W/rcv.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$W/rcv.out")
URL=${URL/127.0.0.1/localhost}
tb_expect "receive: listening" "https://localhost:" "$URL"
post() { # post FILE CTYPE -> "STATUS BODY"
	curl -sS --max-time 10 --cacert "$STS_TB_CA" -H "Content-Type: $2" --data-binary @"$1" \
		-w ' %{http_code}' "$URL" | tr -d '\n'
}
codes=""
for f in "${JSON[@]}"; do codes+=$(post "$W/gz/a/b/$(basename "$f").gz" application/tlsrpt+gzip | awk '{print $NF}')" "; done
tb_expect_eq "receive: 201 for each sample" "$(printf '201 %.0s' "${JSON[@]}")" "$codes"
tb_expect "receive: 200 for a duplicate" "already stored 200" "$(post "${JSON[0]}" application/tlsrpt+json)"
tb_expect_eq "https: totals per domain" "$want_all" "$(ing_totals "$W/https.db")"
tb_expect_eq "https: failures per result type" "$want_all_rt" "$(ing_totals_rt "$W/https.db")"
tb_expect_eq "https: not trusted, not evidence" "" "$(ing_totals "$W/https.db" --authenticated)"
# the receiver takes the lock per write: ingest runs meanwhile
run "ingest while receiving" 0 "$STSCTL" ingest --state "$W/https.db" "${JSON[0]}"
tb_expect "ingest while receiving: a duplicate" "1 duplicates" "$err"
kill -TERM "$RPID"
rc=0
wait "$RPID" || rc=$?
RPID=
tb_expect_eq "receive: SIGTERM stops it, exit 0" "0" "$rc"
tb_expect "receive: access log" "POST /v1/tlsrpt from 127.0.0.1: 201 stored" "$(cat "$W/rcv.err")"

# ---- prune ----
now=1780272000 # 2026-06-01: 11 of the 14 reports ended more than a year before
run "prune dry run" 0 env STSCTL_TEST_NOW=$now "$STSCTL" prune --state "$W/file.db" --raw-days 365 --dry-run --json
tb_expect "prune dry run: 11 raw reports" '"raw": 11' "$out"
run "prune" 0 env STSCTL_TEST_NOW=$now "$STSCTL" prune --state "$W/file.db" --raw-days 365 --report-days 365 --json
tb_expect "prune: 11 reports" '"reports": 11' "$out"
tb_expect_eq "prune: the recent domains stay" "- 1 0
hin.ch 1 0
xxxxxxxx.xx 0 3" "$(ing_totals "$W/file.db")"

tb_done
