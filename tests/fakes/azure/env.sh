# shellcheck shell=bash
# The azure fake (tests/fakes/README.md): Azure DNS through Azure Resource
# Manager, and the Microsoft Entra ID token endpoint on a second port
# (DIR/login.port) so that token requests are not counted as API writes.
FAKE_PLUGIN=azure
FAKE_STYLE=nested # ARM's {"error": {"code", "message"}}
FAKE_BAD_TEXT=AADSTS7000215
FAKE_RATE="12000 reads, 1200 writes, 15000 deletes per hour and subscription; Microsoft.Network: 10000 GET, 1000 PUT per 5 minutes"
# what binds the benchmark (tests/bench/bench-rest.sh): the write limits
FAKE_BENCH_LIMIT="writes 1200/3600,1000/300"
AZ_FAKE_TENANT=72f988bf-86f1-41af-91ab-2d7cd011db47
AZ_FAKE_CLIENT=0b0c27a1-58f5-4c7e-9f2a-4d8e6f1a2b3c
AZ_FAKE_SUB=c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f
AZ_FAKE_RG=dns-rg

_az_secrets() {
	[ -s "$1/az.secret" ] || printf 'Qx8~fake.%s.secret-%s' "$$" "$RANDOM$RANDOM" >"$1/az.secret"
	[ -s "$1/az.badsecret" ] || printf 'Qx8~not.the.secret' >"$1/az.badsecret"
}

fake_args() {
	_az_secrets "$1"
	echo "--login-port-file $1/login.port --tenant $AZ_FAKE_TENANT --client-id $AZ_FAKE_CLIENT" \
		"--client-secret-file $1/az.secret --subscription $AZ_FAKE_SUB --resource-group $AZ_FAKE_RG"
}

# _az_settings DIR URL SECRETFILE: the token endpoint is always the fake's
# own (not through a fault proxy put in front of URL)
_az_settings() {
	printf '{"url": "%s", "login_url": "http://127.0.0.1:%s", "tenant_id": "%s", "client_id": "%s", "client_secret": "${file:%s}", "subscription_id": "%s", "resource_group": "%s", "page_size": 20}\n' \
		"$2" "$(cat "$1/login.port")" "$AZ_FAKE_TENANT" "$AZ_FAKE_CLIENT" "$3" "$AZ_FAKE_SUB" "$AZ_FAKE_RG"
}

fake_settings() {
	_az_secrets "$1"
	_az_settings "$1" "$2" "$1/az.secret"
}

fake_bad_settings() {
	_az_secrets "$1"
	_az_settings "$1" "$2" "$1/az.badsecret"
}

fake_secrets() {
	cat "$1/az.secret"
	echo
}
