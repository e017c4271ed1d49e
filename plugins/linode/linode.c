/* SPDX-License-Identifier: MIT */
/*
 * linode: DNS records through Linode's API v4 (README.md).
 *
 *   GET    /domains   X-Filter: {"domain": ZONE}   the zone's numeric id
 *   GET    /domains/ID/records                     its records, paged
 *   POST   /domains/ID/records                     one record
 *   PUT    /domains/ID/records/RID                 one record replaced
 *   DELETE /domains/ID/records/RID
 *
 * A per-record API (li_rec.c): an apply lists the zone once, then goes
 * change by change, value by value, and never touches a record whose value
 * stays. Lists are paged (?page=&page_size=, 25 to 500) with "pages" in the
 * answer. Errors are {"errors": [{"reason", "field"}]}. Linode keeps only
 * some TTLs and rounds any other to the nearest: the plugin sends the TTL
 * Linode will keep (li_ttl) and compares with that, so nothing is
 * rewritten on every run. Retries, Retry-After, the rate limit, the bearer
 * header and the status mapping are the host's (sts_plugin_rest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stsctl/plugin.h>

#include "li_rec.h"
#include "plg_rest.h"

#define MAX_PAGES 1000 /* of one listing: a bound, not a provider limit */

struct lin {
	struct plg_rest rest;		  /* base, bearer header, timeout, limiter, breaker */
	struct sts_limiter *list_limiter; /* paged listings, on top of rest's */
	/* the last zone looked up and its records path: ops of one instance
	 * never overlap (max_concurrency 1), so no lock */
	char *zone;
	char *records;
};

static const struct sts_plugin_setting *const lin_schema[] = {
    PLG_SETTING_TOKEN("token", "a personal access token with the domains scope (read/write)"),
    PLG_SETTING_URL("https://api.linode.com/v4", "base URL of the API (tests point it at a fake)"),
    PLG_SETTING_PAGE("page_size", "500", 25, 500,
		     "items per page of a listing (Linode: 25 to 500)"),
    PLG_SETTING_RATE_LIMIT("1600/1m", "1s, 1m or 1h",
			   "the limits of every request (default: Linode's)"),
    PLG_SETTING_LIMITS("list_rate_limit", "200/1m", "1s, 1m or 1h",
		       "the limits of paged listings, on top of rate_limit (default: Linode's)"),
    PLG_SETTING_TIMEOUT,
    NULL,
};

static int lin_init(struct sts_plugin *p, void *ctx, const json_t *settings,
		    struct sts_plugin_call *call)
{
	struct lin *c = ctx;
	return plg_limiter(p, settings, "list_rate_limit", &c->list_limiter, call);
}

static void lin_fini(struct sts_plugin *p, void *ctx)
{
	struct lin *c = ctx;
	if (c->list_limiter)
		sts_plugin_limiter_free(p, c->list_limiter);
	free(c->zone);
	free(c->records);
}

PLG_REST_PLUGIN(lin, .ctx_size = sizeof(struct lin), .init = lin_init, .fini = lin_fini,
		.conf = {
		    .token_key = "token",
		    .token_what = "the token of 'token'",
		    .page_key = "page_size",
		    .error_pointer = "/errors/0/reason",
		    /* a POST repeated after a lost answer would add a second record */
		    .idempotent = "GET PUT DELETE",
		});

/* One request (filter: an X-Filter header line or NULL); release *resp. */
static int api(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
	       const char *filter, struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call)
{
	const struct lin *c = sts_plugin_ctx_get(p);
	const char *headers[] = {filter, NULL};
	struct sts_plugin_rest_req req = plg_rest_req(&c->rest, method, path, body);
	req.headers = filter ? headers : NULL;
	return sts_plugin_rest(p, &req, resp, call);
}

/* A paged listing waits for Linode's listing limit too (200/min by default,
 * where other requests have 1600/min). */
static int list_slot(struct sts_plugin *p, struct sts_plugin_call *call)
{
	const struct lin *c = sts_plugin_ctx_get(p);
	int r = sts_plugin_limiter_acquire(p, c->list_limiter, 60000);
	if (r < 0)
		sts_plugin_error(call, "rate limit of listings: no free slot within 60 s");
	return r;
}

/* Every page's "data" of the listing at path, in *ret; "pages" says how many. */
static int list_pages(struct sts_plugin *p, const char *path, const char *filter, json_t **ret,
		      struct sts_plugin_call *call)
{
	const struct lin *c = sts_plugin_ctx_get(p);
	json_t *all = json_array();
	int r = all ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	json_int_t pages = 1;
	for (json_int_t page = 1; r == STS_PLUGIN_OK && page <= pages; page++) {
		struct sts_plugin_rest_resp resp;
		char *url = NULL;
		if (page > MAX_PAGES) {
			sts_plugin_error(call, "more than %d pages at '%s'", MAX_PAGES, path);
			r = STS_PLUGIN_ETOOLARGE;
			break;
		}
		if (asprintf(&url, "%s?page=%lld&page_size=%u", path, (long long)page,
			     c->rest.page_size) < 0) {
			r = STS_PLUGIN_ENOMEM;
			break;
		}
		r = list_slot(p, call);
		if (r == STS_PLUGIN_OK)
			r = api(p, "GET", url, NULL, filter, &resp, call);
		else
			resp = (struct sts_plugin_rest_resp){.struct_size = sizeof(resp)};
		free(url);
		json_t *data = json_object_get(resp.json, "data");
		if (r == STS_PLUGIN_OK && !json_is_array(data)) {
			sts_plugin_error(call, "an answer of '%s' without a 'data' list", path);
			r = STS_PLUGIN_EPARSE;
		}
		if (r == STS_PLUGIN_OK && json_array_extend(all, data) < 0)
			r = STS_PLUGIN_ENOMEM;
		pages = json_integer_value(json_object_get(resp.json, "pages"));
		sts_plugin_rest_release(p, &resp);
	}
	if (r < 0)
		json_decref(all);
	else
		*ret = all;
	return r;
}

/* "/domains/ID/records" of zone (X-Filter on the domain's name), looked up. */
static int lookup(struct sts_plugin *p, const char *zone, char **ret, struct sts_plugin_call *call)
{
	char *z = NULL, *filter = NULL;
	json_t *domains = NULL, *f = NULL;
	int r = sts_plugin_name_normalize(p, zone, STS_NAME_NODOT, &z);
	if (r == STS_PLUGIN_OK && !(f = json_pack("{s:s}", "domain", z)))
		r = STS_PLUGIN_ENOMEM;
	char *fj = f ? json_dumps(f, JSON_COMPACT) : NULL;
	if (r == STS_PLUGIN_OK && (!fj || asprintf(&filter, "X-Filter: %s", fj) < 0)) {
		filter = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK)
		r = list_pages(p, "/domains", filter, &domains, call);
	json_int_t id = 0;
	size_t i;
	json_t *d;
	json_array_foreach(domains, i, d)
	{
		const char *name = json_string_value(json_object_get(d, "domain"));
		if (name && strcasecmp(name, z) == 0)
			id = json_integer_value(json_object_get(d, "id"));
	}
	if (r == STS_PLUGIN_OK && id <= 0) {
		sts_plugin_error(call, "domain '%s' is not in this Linode account", z);
		r = STS_PLUGIN_ENOENT;
	}
	if (r == STS_PLUGIN_OK && asprintf(ret, "/domains/%lld/records", (long long)id) < 0)
		r = STS_PLUGIN_ENOMEM;
	json_decref(domains);
	json_decref(f);
	free(fj);
	free(filter);
	if (z)
		sts_plugin_free(p, z);
	return r;
}

/* The records path of zone, from the instance's cache when it is the last
 * zone looked up; a copy in *ret. */
static int records_of(struct sts_plugin *p, const char *zone, char **ret,
		      struct sts_plugin_call *call)
{
	struct lin *c = sts_plugin_ctx_get(p);
	if (!c->zone || strcmp(c->zone, zone) != 0) {
		free(c->zone);
		free(c->records);
		c->zone = c->records = NULL;
		int r = lookup(p, zone, &c->records, call);
		if (r < 0)
			return r;
		if (!(c->zone = strdup(zone)))
			return STS_PLUGIN_ENOMEM;
	}
	*ret = strdup(c->records);
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* A zone deleted and made anew has a new id: forget the cached one on 404. */
static int forget_on_enoent(struct sts_plugin *p, int r)
{
	struct lin *c = sts_plugin_ctx_get(p);
	if (r == STS_PLUGIN_ENOENT) {
		free(c->zone);
		c->zone = NULL;
	}
	return r;
}

static int lin_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		    struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	char *records = NULL;
	json_t *recs = NULL;
	int r = records_of(p, zone, &records, call);
	if (r == STS_PLUGIN_OK)
		r = forget_on_enoent(p, list_pages(p, records, NULL, &recs, call));
	if (r == STS_PLUGIN_OK)
		r = li_rec_rrsets(p, zone, recs, names, n, ret, call);
	json_decref(recs);
	free(records);
	return r;
}

/* Where plg_sync writes the records of one change. */
struct lin_sync {
	const char *records; /* "/domains/ID/records" */
	const char *rel;     /* the change's name relative to the zone ("" the apex) */
	const struct sts_rrset *rs;
};

/* POST a record of the change with value v, or PUT it over record id. */
static int put_value(struct sts_plugin *p, void *arg, const char *id, const char *v,
		     struct sts_plugin_call *call)
{
	const struct lin_sync *d = arg;
	const struct sts_rrset *rs = d->rs;
	if (strcmp(rs->type, "TXT") != 0 && strcmp(rs->type, "CNAME") != 0 &&
	    strcmp(rs->type, "A") != 0 && strcmp(rs->type, "AAAA") != 0) {
		sts_plugin_error(call, "records of type %s are not written by this plugin",
				 rs->type);
		return STS_PLUGIN_EUNSUPPORTED;
	}
	json_t *body = json_pack("{s:s, s:s, s:s, s:I}", "type", rs->type, "name", d->rel, "target",
				 v, "ttl_sec", (json_int_t)li_ttl(rs->ttl));
	if (!body) {
		sts_plugin_error(call, "a %s value that is not UTF-8 text", rs->type);
		return STS_PLUGIN_EINVAL;
	}
	int r = plg_record_put(p, d->records, id, "PUT", body, call);
	json_decref(body);
	return r;
}

static int drop(struct sts_plugin *p, void *arg, const char *id, struct sts_plugin_call *call)
{
	return plg_record_del(p, ((const struct lin_sync *)arg)->records, id, call);
}

static const struct plg_sync_ops lin_sync_ops = {.put = put_value, .del = drop};

/* Of the zone's records, those of rs's name and type, for plg_sync; a CNAME
 * beside anything else there (when values are wanted): ECONFLICT. */
static int have_of(struct sts_plugin *p, const char *zone, const json_t *recs,
		   const struct sts_rrset *rs, size_t nv, struct plg_have **ret, size_t *ret_n,
		   struct sts_plugin_call *call)
{
	struct plg_have *have = calloc(json_array_size(recs) + 1, sizeof(*have));
	size_t n = 0, i;
	const json_t *rec;
	int r = have ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	json_array_foreach(recs, i, rec)
	{
		struct li_rec lr = {0};
		if (r < 0 || (r = li_rec_parse(p, zone, rec, &lr, call)) < 0)
			break;
		bool here = strcasecmp(lr.owner, rs->name) == 0;
		free(lr.owner);
		if (!here)
			continue;
		if (strcmp(lr.type, rs->type) != 0) {
			if (nv &&
			    (strcmp(lr.type, "CNAME") == 0 || strcmp(rs->type, "CNAME") == 0)) {
				sts_plugin_error(call,
						 "'%s' holds a %s record: a CNAME cannot "
						 "share its name",
						 rs->name, lr.type);
				r = STS_PLUGIN_ECONFLICT;
			}
			continue;
		}
		struct plg_have *h = &have[n++];
		r = plg_have_num(h, lr.id, lr.ttl);
		if (r == STS_PLUGIN_OK)
			r = li_rec_value(p, rec, &h->value, &h->len, call);
	}
	return plg_have_done(r, have, n, ret, ret_n);
}

/*
 * One change against the zone's records (recs, listed before the first
 * change), value by value (plg_sync) at the TTL Linode would keep. A CNAME
 * beside anything else: ECONFLICT before any write.
 */
static int apply_one(struct sts_plugin *p, const char *zone, const char *records,
		     const json_t *recs, const struct sts_rrset_change *ch,
		     struct sts_plugin_call *call)
{
	const struct sts_rrset *rs = ch->rrset;
	size_t nv = ch->action == STS_CHANGE_DELETE ? 0 : rs->n_values, n = 0;
	char *rel = NULL;
	struct plg_have *have = NULL;
	int r = plg_relative_in(p, zone, rs->name, "", &rel, call);
	if (r == STS_PLUGIN_OK)
		r = have_of(p, zone, recs, rs, nv, &have, &n, call);
	struct lin_sync d = {.records = records, .rel = rel, .rs = rs};
	if (r == STS_PLUGIN_OK)
		r = plg_sync(p, rs, nv, li_ttl(rs->ttl), have, n, &lin_sync_ops, &d, call);
	plg_have_free(have, n);
	free(rel);
	return r;
}

static int lin_apply(struct sts_plugin *p, const char *zone,
		     const struct sts_rrset_change *const *changes, size_t n,
		     struct sts_plugin_call *call)
{
	char *records = NULL;
	json_t *recs = NULL;
	int r = records_of(p, zone, &records, call);
	if (r == STS_PLUGIN_OK)
		r = forget_on_enoent(p, list_pages(p, records, NULL, &recs, call));
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++)
		r = apply_one(p, zone, records, recs, changes[i], call);
	json_decref(recs);
	free(records);
	return r;
}

static int lin_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	json_t *domains = NULL;
	int r = list_pages(p, "/domains", NULL, &domains, call);
	return plg_zones_add(p, r, domains, "domain", ret);
}

/* The token can list the domains (domains:read_only is enough); nothing changes. */
static int lin_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	int r = list_slot(p, call);
	return r < 0 ? r : plg_rest_send(p, "GET", "/domains?page=1&page_size=25", NULL, call);
}

static void lin_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	(void)p;
	ret->batch = false; /* record by record */
	ret->max_concurrency = 1;
	if (STS_PLUGIN_HAS(ret, struct sts_dns_caps, n_kept_ttls)) {
		ret->kept_ttls = li_kept_ttls; /* plans the TTL Linode will keep */
		ret->n_kept_ttls = li_n_kept_ttls;
	}
}

PLG_DNS_API(linode, lin, "Linode DNS Manager (API v4)",
	    STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_PAGING | STS_PLUGIN_CAP_CREDENTIALS);
