/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the vultr plugin's record parser (plugins/vultr/vultr_rec.c)
 * on a Vultr records listing. The input is the JSON of one answer page;
 * its "records" (or the input itself when it is an array) go through
 * vultr_recs_parse() for zone example.com, with the fake host of
 * plugin_host.c plus the real name normalisation of libsts. Besides memory
 * errors it aborts when a record parsed is not absolute in the zone, when
 * a TXT keeps Vultr's outer quotes, or when a failure records no message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"
#include "sts_err.h"
#include "sts_plugin_int.h"
#include "vultr_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in_zone(const char *name)
{
	size_t n = strlen(name), z = strlen(".example.com.");
	return strcmp(name, "example.com.") == 0 ||
	       (n > z && strcmp(name + n - z, ".example.com.") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_host h;
	fz_host_init(&h, data, size);
	struct sts_host_api api = *h.head.host;
	api.name_normalize = sts_plugin_host_api.name_normalize; /* the real host's */
	h.head.host = &api;
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "records");
	struct vultr_recs recs = {0};
	int r = vultr_recs_parse(fz_host_plugin(&h), "example.com", list, &recs, fz_host_call(&h));
	if (json_is_array(list))
		fz_host_check_error(&h, r, 0);
	for (size_t i = 0; r == STS_OK && i < recs.n; i++) {
		const struct vultr_rec *v = &recs.v[i];
		if (!in_zone(v->name) || !v->id || !v->type || !v->value)
			abort();
		if (strcmp(v->type, "TXT") == 0 && v->len >= 2 && v->value[0] == '"' &&
		    v->value[v->len - 1] == '"' && json_is_array(list)) {
			/* only a value that was itself quoted inside Vultr's quotes */
			const json_t *d = json_object_get(json_array_get(list, i), "data");
			if (json_string_length(d) != v->len + 2)
				abort();
		}
	}
	vultr_recs_free(&recs);
	json_decref(doc);
	return 0;
}
