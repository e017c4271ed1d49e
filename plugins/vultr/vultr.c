/* SPDX-License-Identifier: MIT */
/*
 * vultr: DNS records through the Vultr API v2 (README.md).
 *
 *   GET    /account                                  probe
 *   GET    /domains?per_page=&cursor=                zones (cursor paging)
 *   GET    /domains/{domain}/records?per_page=&cursor=
 *   POST   /domains/{domain}/records                 {name, type, data, ttl}
 *   PATCH  /domains/{domain}/records/{id}            {name, data, ttl}
 *   DELETE /domains/{domain}/records/{id}
 *
 * One record per value, names relative to the domain ("" at the apex), a
 * TXT's data one double-quoted string (Vultr splits it for DNS), a CNAME's
 * data without the final dot, errors {"error": "...", "status": N}. Every
 * request goes through the host (sts_plugin_rest: bearer key, retries,
 * Retry-After, the limiter, the breaker); the plugin maps the API only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stsctl/plugin.h>

#include "plg_rest.h"
#include "vultr_rec.h"

#define MAX_PAGES 1000 /* of one listing: a bound, not a provider limit */

static const struct sts_plugin_setting *const vultr_schema[] = {
    PLG_SETTING_URL("https://api.vultr.com/v2", "base URL of the Vultr API v2"),
    PLG_SETTING_TOKEN("api_key",
		      "the Vultr API key (its access control must allow this host's IP)"),
    PLG_SETTING_PAGE("per_page", "100", 1, 500, "items per page of a listing"),
    PLG_SETTING_RATE_LIMIT("30/1s", "1s, 5m or 1h",
			   "the API's request limit (Vultr: 30 requests per second)"),
    PLG_SETTING_TIMEOUT,
    NULL,
};

/* ---- instance ---- */

PLG_REST_PLUGIN(vultr, .conf = {
			   .token_key = "api_key",
			   .page_key = "per_page",
			   .token_what = "the key of 'api_key'",
			   .token_flags = PLG_SECRET_NO_BLANKS,
			   .error_pointer = "/error",
			   /* a POST sent twice makes two records; a PATCH sets the
			    * same fields again */
			   .idempotent = "PATCH",
		       });

/* ---- requests ---- */

/* The path of a listing's page: the answer before names the next one in
 * meta.links.next (an opaque cursor), empty after the last
 * (plg_list_pages). */
static int next_page(struct sts_plugin *p, const char *path, unsigned page, const json_t *prev,
		     char **ret)
{
	const struct plg_rest *c = sts_plugin_ctx_get(p);
	const char *next = json_string_value(
	    json_object_get(json_object_get(json_object_get(prev, "meta"), "links"), "next"));
	(void)page; /* the cursor says which */
	return plg_cursor_page(path, "per_page", c->page_size, "cursor", prev != NULL, next, ret);
}

static const struct plg_pager pager = {.max_pages = MAX_PAGES, .next = next_page};

/* Every record of zone, in the engine's form (vultr_rec.h). */
static int zone_records(struct sts_plugin *p, const char *zone, struct vultr_recs *ret,
			struct sts_plugin_call *call)
{
	char *path = NULL;
	json_t *recs = NULL;
	if (asprintf(&path, "/domains/%s/records", zone) < 0)
		return STS_PLUGIN_ENOMEM;
	int r = plg_list_pages(p, &pager, path, "records", &recs, call);
	free(path);
	if (r == STS_PLUGIN_ENOENT)
		sts_plugin_error(call, "domain '%s' is not in this Vultr account", zone);
	if (r == STS_PLUGIN_OK)
		r = vultr_recs_parse(p, zone, recs, ret, call);
	json_decref(recs);
	return r;
}

/* ---- dns ops ---- */

static int vultr_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		      struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	struct vultr_recs recs = {0};
	int r = zone_records(p, zone, &recs, call);
	for (size_t i = 0; r == STS_PLUGIN_OK && i < recs.n; i++) {
		const struct vultr_rec *v = &recs.v[i];
		size_t k = 0;
		while (k < n && strcmp(names[k], v->name) != 0)
			k++;
		if (k == n)
			continue;
		r = plg_rrset_put(p, ret, v->name, v->type, v->ttl, v->value, v->len);
	}
	vultr_recs_free(&recs);
	return r;
}

/* Where plg_sync writes the records of one change. */
struct vultr_sync {
	const char *zone;
	const char *records; /* "/domains/ZONE/records" */
	const struct sts_rrset *rs;
};

/* POST a record of the change with value, or PATCH the record rid to it. */
static int put_record(struct sts_plugin *p, void *arg, const char *rid, const char *value,
		      struct sts_plugin_call *call)
{
	const struct vultr_sync *d = arg;
	json_t *body = NULL;
	int r = vultr_record_body(p, d->zone, d->rs, value, &body, call);
	if (r == STS_PLUGIN_OK && rid && json_object_del(body, "type") < 0)
		r = STS_PLUGIN_EINVAL;
	if (r == STS_PLUGIN_OK)
		r = plg_record_put(p, d->records, rid, "PATCH", body, call);
	json_decref(body);
	return r;
}

static int delete_record(struct sts_plugin *p, void *arg, const char *rid,
			 struct sts_plugin_call *call)
{
	return plg_record_del(p, ((const struct vultr_sync *)arg)->records, rid, call);
}

static const struct plg_sync_ops vultr_sync_ops = {.put = put_record, .del = delete_record};

/*
 * One change, value by value (plg_sync), against the records listed before:
 * a value already in a record stays untouched (a foreign TXT keeps its
 * record) unless the TTL changed; a new value takes over the record of a
 * value that goes (one PATCH: no moment with none or both), else it is
 * created; records left over are deleted last.
 */
static int apply_one(struct sts_plugin *p, const char *zone, const struct vultr_recs *recs,
		     const struct sts_rrset_change *ch, struct sts_plugin_call *call)
{
	const struct sts_rrset *rs = ch->rrset;
	size_t nv = ch->action == STS_CHANGE_DELETE ? 0 : rs->n_values, n = 0;
	if (nv > 0 && strcmp(rs->type, "CNAME") != 0 && vultr_recs_cname_at(recs, rs->name)) {
		sts_plugin_error(call, "'%s' holds a CNAME: no %s can be put beside it", rs->name,
				 rs->type);
		return STS_PLUGIN_ECONFLICT;
	}
	struct plg_have *have = calloc(recs->n + 1, sizeof(*have));
	char *records = NULL;
	int r = have ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < recs->n; i++) {
		const struct vultr_rec *v = &recs->v[i];
		if (strcmp(v->name, rs->name) != 0 || strcmp(v->type, rs->type) != 0)
			continue;
		struct plg_have *h = &have[n++];
		h->ttl = v->ttl;
		h->len = v->len;
		if (!(h->id = strdup(v->id)) || !(h->value = malloc(v->len + 1)))
			r = STS_PLUGIN_ENOMEM;
		else
			memcpy(h->value, v->value, v->len + 1);
	}
	if (r == STS_PLUGIN_OK && asprintf(&records, "/domains/%s/records", zone) < 0) {
		records = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	struct vultr_sync d = {.zone = zone, .records = records, .rs = rs};
	if (r == STS_PLUGIN_OK)
		r = plg_sync(p, rs, nv, rs->ttl, have, n, &vultr_sync_ops, &d, call);
	free(records);
	plg_have_free(have, n);
	return r;
}

static int vultr_apply(struct sts_plugin *p, const char *zone,
		       const struct sts_rrset_change *const *changes, size_t n,
		       struct sts_plugin_call *call)
{
	struct vultr_recs recs = {0};
	int r = zone_records(p, zone, &recs, call);
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++)
		r = apply_one(p, zone, &recs, changes[i], call);
	vultr_recs_free(&recs);
	return r;
}

static int vultr_zones(struct sts_plugin *p, struct sts_zone_list *ret,
		       struct sts_plugin_call *call)
{
	json_t *domains = NULL;
	int r = plg_list_pages(p, &pager, "/domains", "domains", &domains, call);
	return plg_zones_add(p, r, domains, "domain", ret);
}

/* The key is accepted (GET /account) and may read the DNS (GET /domains). */
static int vultr_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	int r = plg_rest_send(p, "GET", "/account", NULL, call);
	if (r == STS_PLUGIN_OK)
		r = plg_rest_send(p, "GET", "/domains?per_page=1", NULL, call);
	return r;
}

static void vultr_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	(void)p;
	ret->batch = false;
	ret->max_concurrency = 1;
}

PLG_DNS_API(vultr, vultr, "Vultr DNS (API v2)",
	    STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_PAGING | STS_PLUGIN_CAP_CREDENTIALS);
