/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the cloudflare plugin's reading of Cloudflare's records
 * (plugins/cloudflare/cf_batch.c, with the fake host of plugin_host.c).
 * The input is the "result" of a DNS record listing (JSON; anything else
 * is taken as one TXT record's content). Each record's value goes through
 * cf_record_value() (TXT content quoted or in the older unquoted form, a
 * CNAME, an MX with its priority), and the whole listing through
 * cf_batch_build() for three changes in zone example.com. Besides memory
 * errors it aborts when a value is read without a message on failure,
 * when a quoted TXT value does not survive cf_txt_content() and back, and
 * when a batch is built whose operations name records that were not
 * listed, or whose count is wrong.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "plugin_host.h"
#include "sts_err.h"
#include "sts_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"_mta-sts.example.com.", "_smtp._tls.example.com.",
				    "mta-sts.example.com."};

/* Abort unless a failure left a message (ENOMEM aside). */
static void check_failed(const struct fz_host *h, int r, unsigned before)
{
	if (r < 0 && r != STS_PLUGIN_ENOMEM && h->n_errors == before)
		abort();
}

/* A quoted TXT value reads back the same after the plugin writes it. */
static void txt_round_trip(struct fz_host *h, const char *v, size_t len)
{
	struct sts_plugin *p = fz_host_plugin(h);
	char *content = NULL, *back = NULL;
	size_t back_len = 0;
	if (cf_txt_content(p, v, len, &content) < 0)
		return;
	json_t *rec = json_pack("{s:s, s:s}", "type", "TXT", "content", content);
	if (rec && cf_record_value(p, rec, &back, &back_len, fz_host_call(h)) == STS_PLUGIN_OK &&
	    (back_len != len || memcmp(back, v, len) != 0))
		abort();
	json_decref(rec);
	free(back);
	free(content);
}

static void values(struct fz_host *h, const json_t *recs)
{
	size_t i;
	json_t *rec;
	json_array_foreach(recs, i, rec)
	{
		char *v = NULL;
		size_t len = 0;
		unsigned before = h->n_errors;
		int r = cf_record_value(fz_host_plugin(h), rec, &v, &len, fz_host_call(h));
		check_failed(h, r, before);
		if (r < 0)
			continue;
		if (!v || strlen(v) > len)
			abort();
		const char *content = json_string_value(json_object_get(rec, "content"));
		const char *type = json_string_value(json_object_get(rec, "type"));
		if (type && strcmp(type, "TXT") == 0 && content &&
		    content[strspn(content, " ")] == '"')
			txt_round_trip(h, v, len);
		free(v);
	}
}

/* Was id listed in recs? */
static bool listed(const json_t *recs, const char *id)
{
	size_t i;
	json_t *rec;
	json_array_foreach(recs, i, rec)
	{
		const char *rid = json_string_value(json_object_get(rec, "id"));
		if (rid && id && strcmp(rid, id) == 0)
			return true;
	}
	return false;
}

static size_t ops_of(const json_t *body, const char *key, const json_t *recs, bool with_id)
{
	const json_t *list = json_object_get(body, key);
	size_t i;
	json_t *op;
	json_array_foreach(list, i, op)
	{
		const char *id = json_string_value(json_object_get(op, "id"));
		if (with_id ? !listed(recs, id) : id != NULL)
			abort();
	}
	return json_array_size(list);
}

static void batch(struct fz_host *h, const json_t *recs)
{
	static char *v_sts[] = {(char *)"v=STSv1; id=20261207T000000"};
	static char *v_rpt[] = {(char *)"v=TLSRPTv1; rua=mailto:tlsrpt@example.com",
				(char *)"kept foreign value"};
	struct sts_rrset rs[3] = {
	    {.struct_size = sizeof(struct sts_rrset),
	     .name = (char *)names[0],
	     .type = (char *)"TXT",
	     .ttl = 300,
	     .values = v_sts,
	     .n_values = 1},
	    {.struct_size = sizeof(struct sts_rrset),
	     .name = (char *)names[1],
	     .type = (char *)"TXT",
	     .ttl = 3600,
	     .values = v_rpt,
	     .n_values = 2},
	    {.struct_size = sizeof(struct sts_rrset),
	     .name = (char *)names[2],
	     .type = (char *)"TXT"},
	};
	struct sts_rrset_change ch[3] = {
	    {.struct_size = sizeof(struct sts_rrset_change),
	     .action = STS_CHANGE_REPLACE,
	     .rrset = &rs[0]},
	    {.struct_size = sizeof(struct sts_rrset_change),
	     .action = STS_CHANGE_CREATE,
	     .rrset = &rs[1]},
	    {.struct_size = sizeof(struct sts_rrset_change),
	     .action = STS_CHANGE_DELETE,
	     .rrset = &rs[2]},
	};
	const struct sts_rrset_change *const changes[] = {&ch[0], &ch[1], &ch[2], NULL};
	json_t *body = NULL;
	size_t ops = 0;
	bool repeatable = false;
	unsigned before = h->n_errors;
	int r = cf_batch_build(fz_host_plugin(h), recs, changes, 3, &body, &ops, &repeatable,
			       fz_host_call(h));
	check_failed(h, r, before);
	if (r < 0)
		return;
	size_t n_del = ops_of(body, "deletes", recs, true);
	size_t n_patch = ops_of(body, "patches", recs, true);
	size_t n_post = ops_of(body, "posts", recs, false);
	if (ops != n_del + n_patch + n_post || repeatable != (n_del == 0 && n_post == 0) ||
	    json_object_get(body, "puts"))
		abort();
	json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_host h;
	fz_host_init(&h, data, size);
	json_t *recs = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!json_is_array(recs)) {
		/* not a listing: the bytes as one TXT record's content */
		json_decref(recs);
		char *text = strndup((const char *)data, size);
		recs = text ? json_pack("[{s:s, s:s, s:s, s:i}]", "id", "r1", "name",
					"_mta-sts.example.com", "type", "TXT", "ttl", 300)
			    : NULL;
		if (recs && json_object_set_new(json_array_get(recs, 0), "content",
						json_stringn_nocheck(text, strlen(text))) < 0) {
			json_decref(recs);
			recs = NULL;
		}
		free(text);
	}
	if (recs) {
		values(&h, recs);
		batch(&h, recs);
	}
	json_decref(recs);
	return 0;
}
