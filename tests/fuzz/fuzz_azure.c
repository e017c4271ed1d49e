/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: what the azure plugin parses of the provider's answers
 * (plugins/azure/ sources compiled in, the fake host of plugin_host.c). The
 * input is "STATUS\nBODY" of the Entra ID token endpoint, then optionally
 * "\n%%\n" and a Resource Manager answer holding record sets ({"value":
 * [...]}, a list, or one record set).
 *
 *   az_token_parse   the token answer (status, JSON, expires_in as a number
 *                    or a string); a success must give a token without a
 *                    line break and a positive lifetime
 *   az_rrset_add     each record set into the host's rrsets
 *   az_rrset_equal   a record set read is equal to itself as an rrset
 *   az_rrset_props   the PUT made from that rrset, keeping the records (cur
 *                    given) or making them anew (TXT cut by the host's
 *                    codec), reads back as the same rrset
 *
 * Besides memory errors it aborts when one of those round trips breaks and
 * when a failure records no message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "az.h"
#include "plugin_host.h"
#include "sts_err.h"
#include "sts_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void token(struct fz_host *h, const uint8_t *p, size_t n)
{
	long status = 0;
	size_t k = 0;
	while (k < n && k < 3 && p[k] >= '0' && p[k] <= '9')
		status = status * 10 + (p[k++] - '0');
	if (k < n && p[k] == '\n')
		k++;
	char *tok = NULL;
	long life = 0;
	unsigned before = h->n_errors;
	int r = az_token_parse(status, (const char *)p + k, n - k, &tok, &life, fz_host_call(h));
	if (r == STS_OK && (!tok || !*tok || strpbrk(tok, "\r\n") || life <= 0))
		abort();
	fz_host_check_error(h, r, before);
	free(tok);
}

/* Does the record set hold a string with a NUL (rrset values are C strings)? */
static bool has_nul(const json_t *rs)
{
	char *s = json_dumps(rs, JSON_ENCODE_ANY);
	bool nul = !s || strstr(s, "\\u0000");
	free(s);
	return nul;
}

/* props as a record set of rs's name and type, read back: equal to rr? */
static void check_props(struct fz_host *h, const json_t *rs, const struct sts_rrset *rr,
			json_t *props)
{
	json_t *back = json_pack("{s:O, s:O, s:o}", "name", json_object_get(rs, "name"), "type",
				 json_object_get(rs, "type"), "properties", props);
	if (back && !az_rrset_equal(fz_host_plugin(h), rr, back))
		abort();
	json_decref(back);
}

static void record_set(struct fz_host *h, const json_t *rs)
{
	struct sts_plugin *p = fz_host_plugin(h);
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	unsigned before = h->n_errors;
	int r = az_rrset_add(p, "example.com", rs, NULL, 0, &got, fz_host_call(h));
	fz_host_check_error(h, r, before);
	json_int_t ttl =
	    json_integer_value(json_object_get(json_object_get(rs, "properties"), "TTL"));
	if (r == STS_OK && got.n == 1 && ttl >= 0 && ttl <= UINT32_MAX && !has_nul(rs)) {
		const struct sts_rrset *rr = &got.v[0];
		if (!az_rrset_equal(p, rr, rs))
			abort();
		for (int fresh = 0; fresh < 2 && az_type_known(rr->type); fresh++) {
			json_t *props = NULL;
			before = h->n_errors;
			r = az_rrset_props(p, rr, fresh ? NULL : rs, &props, fz_host_call(h));
			fz_host_check_error(h, r, before);
			if (r == STS_OK)
				check_props(h, rs, rr, props);
		}
	}
	sts_rrsets_release(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_host h;
	fz_host_init(&h, data, size);
	const uint8_t *sep = memmem(data, size, "\n%%\n", 4);
	token(&h, data, sep ? (size_t)(sep - data) : size);
	if (!sep)
		return 0;
	const uint8_t *body = sep + 4;
	json_t *j = json_loadb((const char *)body, size - (size_t)(body - data), 0, NULL);
	json_t *list = json_is_array(json_object_get(j, "value")) ? json_object_get(j, "value") : j;
	if (json_is_array(list)) {
		size_t i;
		json_t *rs;
		json_array_foreach(list, i, rs) record_set(&h, rs);
	} else if (json_is_object(j)) {
		record_set(&h, j);
	}
	json_decref(j);
	return 0;
}
