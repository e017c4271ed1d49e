#!/bin/bash
# hook.sh seed NAME TYPE TTL RDATA | raw NAME TYPE: called by the conformance
# driver (tests/conformance/conformance.c) for the target run.sh wrote
# (jq, not python: this runs often, python starts slowly on a loaded machine).
#   seed  put a record in place out of band, as someone other than stsctl would
#   raw   print the record in the provider's own form, one line per record
#         (the zone file's lines, the API's content, dig's answer), so the
#         driver can check a foreign record is kept byte for byte
set -uo pipefail
. "$CONF_W/hook.env"
op=$1 name=$2 type=$3
case "$CONF_PLUGIN:$op" in
zonefile:seed) printf '%s\t%s\tIN %s\t%s\n' "$name" "$4" "$type" "$5" >>"$CONF_W/zones/$CONF_ZONE.zone" ;;
zonefile:raw) awk -v n="$name" -v t="$type" '$1 == n && ($3 == t || $4 == t)' "$CONF_W/zones/$CONF_ZONE.zone" ;;
powerdns:seed)
	jq -n --arg n "$name" --arg t "$type" --argjson ttl "$4" --arg c "$5" \
		'{rrsets: [{name: $n, type: $t, ttl: $ttl, changetype: "REPLACE", records: [{content: $c, disabled: false}]}]}' \
		>"$CONF_W/seed.json"
	curl -fsS -H "X-API-Key: $STS_TB_PDNS_API_KEY" -H 'Content-Type: application/json' \
		-X PATCH "$STS_TB_PDNS_API/zones/$CONF_ZONE." --data @"$CONF_W/seed.json"
	;;
powerdns:raw)
	curl -fsS -H "X-API-Key: $STS_TB_PDNS_API_KEY" "$STS_TB_PDNS_API/zones/$CONF_ZONE." |
		jq -r --arg n "$name" --arg t "$type" '.rrsets[] | select(.name == $n and .type == $t) | .records[].content'
	;;
rfc2136:seed)
	printf 'server 127.0.0.1 %s\nupdate add %s %s %s %s\nsend\n' "$STS_TB_BIND_PORT" "$name" "$4" "$type" "$5" |
		nsupdate -k "$STS_TB_TSIG_KEY"
	;;
rfc2136:raw) dig @127.0.0.1 -p "$STS_TB_BIND_PORT" +short +norecurse +time=2 +tries=1 "$name" "$type" ;;
skeleton:seed)
	zid=$(curl -fsS -H "Authorization: Bearer $STS_FAKE_TOKEN" "$STS_FAKE_API/v1/zones?name=$CONF_ZONE" | jq -r '.zones[0].id')
	jq -n --arg n "${name%.}" --arg t "$type" --argjson ttl "$4" --arg c "$5" '{name: $n, type: $t, ttl: $ttl, content: $c}' |
		curl -fsS -o /dev/null -H "Authorization: Bearer $STS_FAKE_TOKEN" -H 'Content-Type: application/json' \
			-X POST "$STS_FAKE_API/v1/zones/$zid/records" --data @-
	;;
skeleton:raw)
	curl -fsS "$STS_FAKE_API/_fake/state" |
		jq -r --arg z "$CONF_ZONE" --arg n "${name%.}" --arg t "$type" '.zones[$z][] | select((.name | ascii_downcase) == $n and .type == $t) | .content'
	;;
*:seed)
	# a REST provider's fake (tests/fakes/README.md): /_fake/seed
	[ -n "${STS_FAKE_API:-}" ] || { echo "hook.sh: nothing for '$CONF_PLUGIN:$op'" >&2; exit 1; }
	jq -n --arg z "$CONF_ZONE" --arg n "${name%.}" --arg t "$type" --argjson ttl "$4" --arg c "$5" \
		'{zone: $z, name: $n, type: $t, ttl: $ttl, content: $c}' |
		curl -fsS -o /dev/null -H 'Content-Type: application/json' -X POST "$STS_FAKE_API/_fake/seed" --data @-
	;;
*:raw)
	[ -n "${STS_FAKE_API:-}" ] || { echo "hook.sh: nothing for '$CONF_PLUGIN:$op'" >&2; exit 1; }
	curl -fsS -G "$STS_FAKE_API/_fake/raw" --data-urlencode "zone=$CONF_ZONE" \
		--data-urlencode "name=${name%.}" --data-urlencode "type=$type" | jq -r '.lines[]'
	;;
*) echo "hook.sh: nothing for '$CONF_PLUGIN:$op'" >&2; exit 1 ;;
esac
