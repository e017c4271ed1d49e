/* SPDX-License-Identifier: MIT */
#ifndef STS_CF_H
#define STS_CF_H

/*
 * cloudflare: what cloudflare.c (instance, requests, listings, the ops)
 * and cf_batch.c (the batch of one apply, records <-> values) share.
 */
#include <stdbool.h>
#include <stddef.h>

#include <stsctl/plugin.h>

#include "plg_rest.h"

struct cf {
	struct plg_rest rest; /* base, bearer header, timeout, limiter, breaker */
	char *account_id;     /* for an account-owned token's verify; NULL: a user token */
	unsigned retries;     /* sends of a batch whose outcome is unknown, after the first */
	unsigned batch_limit; /* operations per batch request (the zone plan's) */
};

/* One JSON request; release *resp whatever the result. Cloudflare's error
 * codes refine the host's mapping (credentials, CNAME conflicts). */
int cf_request(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
	       bool idempotent, struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call);

/*
 * The value of a record as the engine sees it (struct sts_rrset) in *ret
 * (malloc'd, *ret_len octets): TXT content unquoted (quoted strings
 * joined; the older unquoted form is the text itself), a CNAME target
 * absolute, MX "PRIORITY TARGET.", other types the content as it is.
 */
int cf_record_value(struct sts_plugin *p, const json_t *rec, char **ret, size_t *ret_len,
		    struct sts_plugin_call *call);

/* The TXT content of a value as Cloudflare stores it (quoted strings); free(). */
int cf_txt_content(struct sts_plugin *p, const char *value, size_t len, char **ret);

/*
 * The batch body ({"deletes", "patches", "posts"}) that turns the records
 * `have` (every record at the changes' names, as listed) into what the n
 * changes ask for; *ret_ops is its number of operations (0: nothing to
 * do), *ret_repeatable whether sending it twice does no harm (patches
 * only). ECONFLICT when a CNAME is in the way.
 */
int cf_batch_build(struct sts_plugin *p, const json_t *have,
		   const struct sts_rrset_change *const *changes, size_t n, json_t **ret,
		   size_t *ret_ops, bool *ret_repeatable, struct sts_plugin_call *call);

#endif
