/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the ovh plugin's record parser (plugins/ovh/ovh_rec.c) on
 * an answer of GET /domain/zone/{zone}/record/{id}: the input is its JSON;
 * it goes through ovh_rec_parse() for zone example.com with the fake host
 * of plugin_host.c (the host's TXT codec) plus libsts's name normalisation.
 * Besides memory errors it aborts when a record parsed is not absolute, a
 * TXT value does not quote back through the host's codec to a target that
 * parses to the same value, or a failure records no message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ovh.h"
#include "plugin_host.h"
#include "sts_err.h"
#include "sts_plugin_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(struct sts_plugin *p, struct sts_plugin_call *call, const struct ovh_rec *v)
{
	char *target = NULL;
	if (strcmp(v->type, "TXT") != 0 || ovh_target(p, "TXT", v->value, v->len, &target) < 0)
		return;
	json_t *again = json_pack("{s:I, s:s, s:s, s:s, s:I}", "id", (json_int_t)1, "subDomain", "",
				  "fieldType", "TXT", "target", target, "ttl", (json_int_t)60);
	struct ovh_rec w;
	if (again && ovh_rec_parse(p, "example.com", again, &w, call) == STS_OK) {
		if (w.len != v->len || memcmp(w.value, v->value, v->len) != 0)
			abort();
		ovh_rec_release(&w);
	}
	json_decref(again);
	free(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_host h;
	fz_host_init(&h, data, size);
	struct sts_host_api api = *h.head.host;
	api.name_normalize = sts_plugin_host_api.name_normalize; /* the real host's */
	h.head.host = &api;
	json_t *rec = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	struct ovh_rec v;
	int r = ovh_rec_parse(fz_host_plugin(&h), "example.com", rec, &v, fz_host_call(&h));
	fz_host_check_error(&h, r, 0);
	if (r == STS_OK) {
		size_t n = strlen(v.name);
		if (n == 0 || v.name[n - 1] != '.' || !v.type || !v.value)
			abort();
		round_trip(fz_host_plugin(&h), fz_host_call(&h), &v);
		ovh_rec_release(&v);
	}
	json_decref(rec);
	return 0;
}
