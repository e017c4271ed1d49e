/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the linode plugin's record parser
 * (plugins/linode/li_rec.c) on a Linode records listing. The
 * input is the JSON of one answer page; its "data" (or the input
 * itself when it is an array) go through li_rec_rrsets() for zone
 * example.com and three owner names, with the fake host of plugin_host.c
 * plus the real name normalisation of libsts. Besides memory errors it
 * aborts when an rrset is returned at a name not asked for or without
 * values, and when a failure records no message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "li_rec.h"
#include "plugin_host.h"
#include "sts_err.h"
#include "sts_plugin_int.h"
#include "sts_rrset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"_mta-sts.example.com.", "_smtp._tls.example.com.",
				    "example.com."};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_host h;
	fz_host_init(&h, data, size);
	struct sts_host_api api = *h.head.host;
	api.name_normalize = sts_plugin_host_api.name_normalize; /* the real host's */
	h.head.host = &api;
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "data");
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	int r = li_rec_rrsets(fz_host_plugin(&h), "example.com", list, names, N_NAMES,
			      (struct sts_rrsets *)&got, fz_host_call(&h));
	fz_host_check_read(&h, r, &got, names, N_NAMES);
	sts_rrsets_release(&got);
	json_decref(doc);
	return 0;
}
