#!/bin/bash
# Baseline (a) of tests/bench/bench-dns.sh: what a typical onboarding script does, one
# curl process and one PATCH per rrset. Reads "ZONE<TAB>NAME<TAB>CONTENT" lines (TXT
# content already quoted) on stdin; needs API (.../api/v1/servers/ID) and KEY.
set -euo pipefail
while IFS=$'\t' read -r zone name content; do
	c=${content//\\/\\\\}
	c=${c//\"/\\\"}
	curl -fsS --max-time 30 -o /dev/null -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -X PATCH \
		--data "{\"rrsets\":[{\"name\":\"$name\",\"type\":\"TXT\",\"ttl\":3600,\"changetype\":\"REPLACE\",\"records\":[{\"content\":\"$c\",\"disabled\":false}]}]}" \
		"$API/zones/$zone"
done
