#!/bin/bash
# fake-fidelity-digitalocean: DigitalOcean's SDKs cannot be installed here,
# so the proof is the vendor's published OpenAPI description (spec/): every
# operation the plugin uses is sent through Prism (`prism proxy --errors`,
# in $STS_TB_SDK, started by env.sh's fake_front) to the fake, and Prism
# must find no violation in any request or answer; a deliberately broken
# request must be refused with 422, which proves Prism really validates.
# TAP. A missing Prism is a failure, never a skip.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/sdk.sh"
sdk_need "Prism" .bin/prism
mkdir -p "$W/a" "$W/b"
# the functional checks: the limit's window compressed out of the way
fake_start "$W/a" --zone sdk.test --zone other.test --zone third.test --page-size 2 --rate-scale 1000 || exit 1
PIDS+=("$FAKE_PID $FAKE_FRONT_PID")
URL=$FAKE_URL/v2 TOKEN=$(cat "$W/a/do.token")

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() {
	n=$((n + 1)) failed=1
	echo "not ok $n - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'
}
# api METHOD PATH [BODY] [TOKEN]: through Prism; the body in $W/body,
# the status in $status, the headers in $W/headers
api() {
	local tok=${4:-$TOKEN}
	status=$(curl -sS -o "$W/body" -D "$W/headers" -w '%{http_code}' -X "$1" \
		-H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		${3:+--data "$3"} "$URL$2")
}
expect() { # expect NAME STATUS JQ-TEST
	if [ "$status" = "$2" ] && jq -e "$3" "$W/body" >/dev/null 2>&1; then
		ok "$1"
	else
		nok "$1" "HTTP $status: $(head -c 600 "$W/body")"
	fi
}
txt() { # txt NAME DATA TTL: a record body as the plugin sends it
	jq -cn --arg n "$1" --arg d "$2" --argjson t "$3" \
		'{type: "TXT", name: $n, data: $d, ttl: $t, priority: null, port: null, weight: null, flags: null, tag: null}'
}

# ---- domains, paged (2 a page)
api GET "/domains?page=1&per_page=2"
expect "list domains: page 1 of 2, a next link, meta.total 3" 200 \
	'(.domains | map(.name)) == ["other.test", "sdk.test"] and (.links.pages.next | test("page=2")) and .meta.total == 3'
api GET "/domains?page=2&per_page=2"
expect "list domains: page 2, no next link" 200 '(.domains | map(.name)) == ["third.test"] and (.links.pages.next == null)'

# ---- records: created, listed over several pages
for i in 1 2 3 4 5; do
	api POST /domains/sdk.test/records "$(txt "p$i.page" "page record $i" 300)"
	[ "$status" = 201 ] || break
done
expect "create five TXT records (201, the record with its id)" 201 '.domain_record.id > 0 and .domain_record.name == "p5.page"'
all=()
for page in 1 2 3 4; do
	api GET "/domains/sdk.test/records?page=$page&per_page=2"
	[ "$status" = 200 ] || break
	mapfile -t -O "${#all[@]}" all < <(jq -r '.domain_records[].data' "$W/body")
	jq -e '.links.pages.next' "$W/body" >/dev/null || break
done
if [ "${#all[@]}" = 5 ] && [ "$page" = 3 ]; then
	ok "list records: 5 records on 3 pages, followed by links.pages.next"
else
	nok "list records: 5 records on 3 pages, followed by links.pages.next" "got ${#all[@]} on $page pages"
fi
api GET "/domains/sdk.test/records?name=p3.page.sdk.test"
expect "list records by name (a fully qualified name): the one record" 200 \
	'(.domain_records | length) == 1 and .domain_records[0].data == "page record 3" and .meta.total == 1'
id=$(jq -r '.domain_records[0].id' "$W/body")

# ---- a TXT over 255 octets: one data string, as stored
long=$(printf 'v=TLSRPTv1; rua=%0300d' 0)
api POST /domains/sdk.test/records "$(txt _smtp._tls "$long" 300)"
expect "create a TXT of 316 octets: data kept as one string" 201 ".domain_record.data == \"$long\""

# ---- change, both ways
api PUT "/domains/sdk.test/records/$id" "$(txt p3.page "v=STSv1; id=20261207T000000b" 3600)"
expect "PUT a record: new data and TTL" 200 '.domain_record.data == "v=STSv1; id=20261207T000000b" and .domain_record.ttl == 3600'
api PATCH "/domains/sdk.test/records/$id" '{"type": "TXT", "ttl": 1800}'
expect "PATCH a record's TTL" 200 '.domain_record.ttl == 1800 and .domain_record.data == "v=STSv1; id=20261207T000000b"'
api GET "/domains/sdk.test/records/$id"
expect "get the record" 200 '.domain_record.ttl == 1800'

# ---- the vendor's record rules: CNAME exclusivity, TTL bound
api POST /domains/sdk.test/records '{"type": "CNAME", "name": "p1.page", "data": "elsewhere.example.net.", "ttl": 300, "priority": null, "port": null, "weight": null, "flags": null, "tag": null}'
expect "a CNAME beside a TXT: 422 with DigitalOcean's error body" 422 '.id == "unprocessable_entity" and (.message | test("CNAME"))'
api POST /domains/sdk.test/records "$(txt ttl.low "x" 10)"
expect "a TTL under 30: 422" 422 '.id == "unprocessable_entity"'

# ---- delete
api DELETE "/domains/sdk.test/records/$id"
if [ "$status" = 204 ]; then ok "DELETE a record: 204"; else nok "DELETE a record: 204" "HTTP $status"; fi
api GET "/domains/sdk.test/records/$id"
expect "the deleted record is gone: 404 not_found" 404 '.id == "not_found" and (.message | length > 0)'
api GET /domains/none.test/records
expect "an unknown domain: 404 not_found" 404 '.id == "not_found"'

# ---- credentials
api GET /domains "" "dop_v1_wrong"
expect "a wrong token: 401 unauthorized, 'Unable to authenticate you'" 401 '.id == "unauthorized" and .message == "Unable to authenticate you"'

# ---- the rate limit: DigitalOcean's 250 a minute, the window stretched so
# that a burst on a loaded machine falls in one window; 250 requests straight
# to the fake, the 251st through Prism
cp "$W/a/do.token" "$W/b/do.token"
fake_start "$W/b" --zone sdk.test --rate-scale 0.05 || exit 1
PIDS+=("$FAKE_PID $FAKE_FRONT_PID")
urls=()
for i in $(seq 250); do urls+=("$FAKE_CONTROL_URL/v2/domains?page=$i"); done
curl -sS -H "Authorization: Bearer $TOKEN" "${urls[@]}" >/dev/null
URL=$FAKE_URL/v2 api GET /domains
expect "the 251st request in a minute: 429 too_many_requests" 429 '.id == "too_many_requests"'
if grep -qi '^retry-after: [0-9]' "$W/headers" && grep -qi '^ratelimit-remaining: 0' "$W/headers" &&
	grep -qi '^ratelimit-limit: 5000' "$W/headers"; then
	ok "the 429 carries Retry-After, ratelimit-limit and ratelimit-remaining 0"
else
	nok "the 429 carries Retry-After, ratelimit-limit and ratelimit-remaining 0" "$(cat "$W/headers")"
fi

# ---- Prism validates: a misspelt field is refused before the fake sees it
api POST /domains/sdk.test/records '{"tpye": "TXT", "name": "broken", "data": "x", "ttl": 300, "flags": null, "tag": null}'
expect "a misspelt record field ('tpye'): Prism refuses it with 422" 422 \
	'.validation | map(.message) | any(test("required property .type."))'

# ---- no violation anywhere else
for d in a b; do
	if fake_front_violations "$W/$d" >/dev/null || ! fake_front_violations "$W/$d" | grep -qv UNPROCESSABLE_ENTITY; then
		ok "Prism ($d) found no violation in any other request or answer"
	else
		nok "Prism ($d) found no violation in any other request or answer" \
			"$(fake_front_violations "$W/$d" | grep -v UNPROCESSABLE_ENTITY | head -20)"
	fi
done
echo "1..$n"
exit $failed
