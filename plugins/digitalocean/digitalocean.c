/* SPDX-License-Identifier: MIT */
/*
 * digitalocean: DNS records through DigitalOcean's API v2 (README.md).
 *
 *   GET    /domains                              the account's domains, paged
 *   GET    /domains/ZONE/records[?name=FQDN]     its records, paged
 *   POST   /domains/ZONE/records                 one record
 *   PUT    /domains/ZONE/records/ID              one record replaced
 *   DELETE /domains/ZONE/records/ID
 *
 * A per-record API: each value of an rrset is one record (do_rec.c), so an
 * apply is change by change, value by value, and never touches a record
 * whose value stays. Lists are paged (?page=&per_page=, at most 200) and
 * carry links.pages.next while there is more. Errors are {"id", "message"}.
 * Retries, Retry-After, the rate limits (250 a minute, 5,000 an hour), the
 * bearer header and the status mapping are the host's (sts_plugin_rest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stsctl/plugin.h>

#include "do_rec.h"
#include "plg_rest.h"

#define MAX_PAGES 1000 /* of one listing: a bound, not a provider limit */
#define FEW_NAMES 4    /* read with a listing each; more: the whole zone once */

static const struct sts_plugin_setting *const dio_schema[] = {
    PLG_SETTING_URL("https://api.digitalocean.com/v2",
		    "base URL of the API (tests point it at a fake)"),
    PLG_SETTING_TOKEN("token", "a personal access token with the domain scopes (README.md)"),
    PLG_SETTING_PAGE("per_page", "200", 1, 200, "items per page of a listing"),
    PLG_SETTING_RATE_LIMIT("250/1m, 5000/1h", "1s, 1m or 1h",
			   "the API's request limits (default: DigitalOcean's)"),
    PLG_SETTING_TIMEOUT,
    NULL,
};

/* ---- instance ---- */

PLG_REST_PLUGIN(dio, .conf = {
			 .token_key = "token",
			 .page_key = "per_page",
			 .token_what = "the token of 'token'",
			 .error_pointer = "/message",
			 /* a POST repeated after a lost answer would add a second record */
			 .idempotent = "GET PUT DELETE",
		     });

/* ---- requests ---- */

/* The path of a listing's page: pages follow while the answer before names a
 * links.pages.next (plg_list_pages); path may hold a query already. */
static int next_page(struct sts_plugin *p, const char *path, unsigned page, const json_t *prev,
		     char **ret)
{
	const struct plg_rest *c = sts_plugin_ctx_get(p);
	const json_t *pages = json_object_get(json_object_get(prev, "links"), "pages");
	*ret = NULL;
	if (prev && !json_is_string(json_object_get(pages, "next")))
		return STS_PLUGIN_OK;
	if (asprintf(ret, "%s%cpage=%u&per_page=%u", path, strchr(path, '?') ? '&' : '?', page,
		     c->page_size) < 0) {
		*ret = NULL;
		return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}

static const struct plg_pager pager = {.max_pages = MAX_PAGES, .next = next_page};

/* "/domains/ZONE/records" (zone in the API's spelling), malloc'd. */
static int records_path(struct sts_plugin *p, const char *zone, char **ret)
{
	char *z = NULL;
	int r = sts_plugin_name_normalize(p, zone, STS_NAME_NODOT, &z);
	if (r < 0)
		return r;
	if (asprintf(ret, "/domains/%s/records", z) < 0)
		r = STS_PLUGIN_ENOMEM;
	sts_plugin_free(p, z);
	return r;
}

/* ---- dns ops ---- */

/* The records of the zone at absolute name (a filtered listing), or of the
 * whole zone when name is NULL, in *ret. */
static int list_records(struct sts_plugin *p, const char *zone, const char *name, json_t **ret,
			struct sts_plugin_call *call)
{
	char *path = NULL, *fqdn = NULL;
	int r = records_path(p, zone, &path);
	if (r == STS_PLUGIN_OK && name)
		r = sts_plugin_name_normalize(p, name, STS_NAME_NODOT, &fqdn);
	if (r == STS_PLUGIN_OK && fqdn) {
		char *q = NULL;
		r = asprintf(&q, "%s?name=%s", path, fqdn) < 0 ? STS_PLUGIN_ENOMEM : STS_PLUGIN_OK;
		free(path);
		path = q;
	}
	if (r == STS_PLUGIN_OK)
		r = plg_list_pages(p, &pager, path, "domain_records", ret, call);
	if (r == STS_PLUGIN_ENOENT)
		sts_plugin_error(call, "domain '%s' is not in this DigitalOcean account", zone);
	if (fqdn)
		sts_plugin_free(p, fqdn);
	free(path);
	return r;
}

/*
 * A few names (a domain's own: _mta-sts, _smtp._tls) are read with one
 * filtered listing each, whatever the zone's size; more are picked from one
 * listing of the whole zone.
 */
static int dio_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		    struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	int r = STS_PLUGIN_OK;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < (n <= FEW_NAMES ? n : 1); i++) {
		json_t *recs = NULL;
		r = list_records(p, zone, n <= FEW_NAMES ? names[i] : NULL, &recs, call);
		if (r == STS_PLUGIN_OK)
			r = do_rec_rrsets(p, zone, recs, names, n, ret, call);
		json_decref(recs);
	}
	return r;
}

/* Where plg_sync writes the records of one change. */
struct dio_sync {
	const char *records; /* "/domains/ZONE/records" */
	const char *rel;     /* the change's name relative to the zone */
	const struct sts_rrset *rs;
};

/* One record of the change with value v: POSTed, or PUT over record id. */
static int write_record(struct sts_plugin *p, void *arg, const char *id, const char *v,
			struct sts_plugin_call *call)
{
	const struct dio_sync *d = arg;
	json_t *body = NULL;
	int r = do_rec_body(p, d->rs->type, d->rel, d->rs->ttl, v, strlen(v), &body, call);
	if (r == STS_PLUGIN_OK)
		r = plg_record_put(p, d->records, id, "PUT", body, call);
	json_decref(body);
	return r;
}

static int delete_record(struct sts_plugin *p, void *arg, const char *id,
			 struct sts_plugin_call *call)
{
	return plg_record_del(p, ((const struct dio_sync *)arg)->records, id, call);
}

static const struct plg_sync_ops dio_sync_ops = {.put = write_record, .del = delete_record};

/* A CNAME beside anything else at the name: refused before any write. */
static int cname_conflict(const json_t *at, const struct sts_rrset *rs, size_t n_values,
			  struct sts_plugin_call *call)
{
	size_t i;
	const json_t *rec;
	if (n_values == 0)
		return STS_PLUGIN_OK;
	json_array_foreach(at, i, rec)
	{
		const char *type = json_string_value(json_object_get(rec, "type"));
		if (!type || strcmp(type, rs->type) == 0)
			continue;
		if (strcmp(type, "CNAME") == 0 || strcmp(rs->type, "CNAME") == 0) {
			sts_plugin_error(call,
					 "'%s' holds a %s record: a CNAME cannot share its name",
					 rs->name, type);
			return STS_PLUGIN_ECONFLICT;
		}
	}
	return STS_PLUGIN_OK;
}

/*
 * The records of the listing at (one name) of type, for plg_sync: their
 * ids, values and TTLs.
 */
static int have_of(struct sts_plugin *p, const char *zone, const json_t *at, const char *type,
		   struct plg_have **ret, size_t *ret_n, struct sts_plugin_call *call)
{
	struct plg_have *have = calloc(json_array_size(at) + 1, sizeof(*have));
	size_t n = 0, i;
	const json_t *rec;
	int r = have ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	json_array_foreach(at, i, rec)
	{
		const char *t = json_string_value(json_object_get(rec, "type"));
		json_int_t id = json_integer_value(json_object_get(rec, "id"));
		if (r < 0)
			break;
		if (!t || strcmp(t, type) != 0)
			continue;
		if (id <= 0) {
			sts_plugin_error(call, "a domain record without an id");
			r = STS_PLUGIN_EPARSE;
			break;
		}
		struct plg_have *h = &have[n++];
		r = plg_have_num(h, id, (uint32_t)json_integer_value(json_object_get(rec, "ttl")));
		if (r == STS_PLUGIN_OK)
			r = do_rec_value(p, zone, rec, &h->value, &h->len, call);
	}
	return plg_have_done(r, have, n, ret, ret_n);
}

/*
 * One change, value by value (plg_sync): a record whose value stays is left
 * alone unless the TTL changed, a new value is PUT over the record of a
 * value that goes (a new policy id replaces the old one with no moment of
 * none or both), else POSTed; what is left is deleted last.
 */
/* The records of all (the zone's whole listing) at rel, new references. */
static int records_at(const json_t *all, const char *rel, json_t **ret)
{
	json_t *at = json_array(), *rec;
	size_t i;
	json_array_foreach(all, i, rec)
	{
		const char *name = json_string_value(json_object_get(rec, "name"));
		if (at && name && strcasecmp(name, rel) == 0 && json_array_append(at, rec) < 0) {
			json_decref(at);
			at = NULL;
		}
	}
	*ret = at;
	return at ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

static int apply_one(struct sts_plugin *p, const char *zone, const char *records, const json_t *all,
		     const struct sts_rrset_change *ch, struct sts_plugin_call *call)
{
	const struct sts_rrset *rs = ch->rrset;
	size_t nv = ch->action == STS_CHANGE_DELETE ? 0 : rs->n_values, n = 0;
	char *rel = NULL;
	json_t *at = NULL;
	struct plg_have *have = NULL;
	int r = plg_relative_in(p, zone, rs->name, "@", &rel, call);
	if (r == STS_PLUGIN_OK)
		r = all ? records_at(all, rel, &at) : list_records(p, zone, rs->name, &at, call);
	if (r == STS_PLUGIN_OK)
		r = cname_conflict(at, rs, nv, call);
	if (r == STS_PLUGIN_OK)
		r = have_of(p, zone, at, rs->type, &have, &n, call);
	struct dio_sync d = {.records = records, .rel = rel, .rs = rs};
	if (r == STS_PLUGIN_OK)
		r = plg_sync(p, rs, nv, rs->ttl, have, n, &dio_sync_ops, &d, call);
	plg_have_free(have, n);
	json_decref(at);
	free(rel);
	return r;
}

static int dio_apply(struct sts_plugin *p, const char *zone,
		     const struct sts_rrset_change *const *changes, size_t n,
		     struct sts_plugin_call *call)
{
	char *records = NULL;
	json_t *all = NULL;
	int r = records_path(p, zone, &records);
	/* many changes: the zone listed once (paged) instead of a listing per
	 * change; a name an earlier change of this call wrote is listed again */
	if (r == STS_PLUGIN_OK && n > FEW_NAMES)
		r = list_records(p, zone, NULL, &all, call);
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++) {
		bool again = false;
		for (size_t j = 0; all && !again && j < i; j++)
			again = strcasecmp(changes[j]->rrset->name, changes[i]->rrset->name) == 0;
		r = apply_one(p, zone, records, again ? NULL : all, changes[i], call);
	}
	json_decref(all);
	free(records);
	return r;
}

static int dio_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	json_t *domains = NULL;
	int r = plg_list_pages(p, &pager, "/domains", "domains", &domains, call);
	return plg_zones_add(p, r, domains, "name", ret);
}

/* The token can list the account's domains (domain:read); nothing changes. */
static int dio_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	return plg_rest_send(p, "GET", "/domains?page=1&per_page=1", NULL, call);
}

static void dio_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	(void)p;
	ret->batch = false; /* record by record */
	ret->max_concurrency = 1;
}

PLG_DNS_API(digitalocean, dio, "DigitalOcean DNS (API v2)",
	    STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_PAGING | STS_PLUGIN_CAP_CREDENTIALS);
