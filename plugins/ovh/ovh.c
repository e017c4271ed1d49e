/* SPDX-License-Identifier: MIT */
/*
 * ovh: DNS zones hosted by OVHcloud, through its API /1.0 (README.md).
 *
 *   GET    /domain/zone                                  zones, probe
 *   GET    /domain/zone/{zone}/record?fieldType=&subDomain=   record ids
 *   GET    /domain/zone/{zone}/record/{id}               one record
 *   POST   /domain/zone/{zone}/record                    {fieldType, subDomain, target, ttl}
 *   PUT    /domain/zone/{zone}/record/{id}               {subDomain, target, ttl}
 *   DELETE /domain/zone/{zone}/record/{id}
 *   POST   /domain/zone/{zone}/refresh                   once per apply that wrote
 *
 * One record per value. Changes show in the API at once but OVH serves
 * them only after the zone's refresh. Requests are signed (ovh_req.c) and
 * sent through the host (sts_plugin_rest: retries, Retry-After, limiter,
 * breaker).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovh.h"

static const char *const endpoints[] = {"ovh-eu", "ovh-ca", "ovh-us", NULL};
static const char *const endpoint_urls[] = {
    "https://eu.api.ovh.com/1.0", "https://ca.api.ovh.com/1.0", "https://api.us.ovhcloud.com/1.0"};

static const struct sts_plugin_setting *const ovh_schema[] = {
    STS_SETTING(.key = "endpoint", .type = STS_SETTING_STRING, .def = "ovh-eu",
		.choices = endpoints, .description = "the OVHcloud API: ovh-eu, ovh-ca or ovh-us"),
    PLG_SETTING_URL(NULL, "base URL of the API /1.0 instead of the endpoint's"),
    STS_SETTING(.key = "application_key", .type = STS_SETTING_SECRET, .required = true,
		.description = "the application key (AK)"),
    STS_SETTING(.key = "application_secret", .type = STS_SETTING_SECRET, .required = true,
		.description = "the application secret (AS): signs requests, never sent"),
    STS_SETTING(.key = "consumer_key", .type = STS_SETTING_SECRET, .required = true,
		.description = "the consumer key (CK) with rights on /domain/zone/*"),
    PLG_SETTING_RATE_LIMIT("60/1m", "1s, 5m or 1h",
			   "the request limit kept to (OVH's fair use: 60 a minute)"),
    PLG_SETTING_TIMEOUT,
    NULL,
};

/* ---- instance ---- */

static void ovh_unload(struct sts_plugin *p)
{
	struct ovh *c = sts_plugin_ctx_get(p);
	if (!c)
		return;
	ovh_creds_free(c);
	ovh_zones_free(c);
	pthread_mutex_destroy(&c->mu);
	plg_rest_release(p, &c->rest);
	free(c);
	sts_plugin_ctx_set(p, NULL);
}

static const char *base_url(const json_t *settings)
{
	const char *url = json_string_value(json_object_get(settings, "url"));
	const char *ep = json_string_value(json_object_get(settings, "endpoint"));
	for (size_t i = 0; !url && ep && endpoints[i]; i++)
		if (strcmp(ep, endpoints[i]) == 0)
			url = endpoint_urls[i];
	return url ? url : endpoint_urls[0];
}

static int ovh_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	struct ovh *c = sts_plugin_ctx_new(p, sizeof(*c));
	if (!c)
		return STS_PLUGIN_ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	const struct plg_rest_conf conf = {.url = base_url(settings)};
	int r = plg_rest_open(p, &c->rest, settings, &conf, call);
	if (r == STS_PLUGIN_OK)
		r = ovh_creds_load(p, c, settings, call);
	if (r == STS_PLUGIN_OK)
		r = plg_rest_limits(p, &c->rest, settings, call);
	if (r < 0)
		ovh_unload(p);
	return r;
}

/* ---- records ---- */

int ovh_record_ids(struct sts_plugin *p, const char *zone, const char *sub, const char *type,
		   json_t **ret, struct sts_plugin_call *call)
{
	char *esc = sub ? plg_escape(sub, NULL) : strdup(""), *path = NULL;
	if (!esc || asprintf(&path, "/domain/zone/%s/record%s%s%s%s%s%s", zone,
			     type || sub ? "?" : "", type ? "fieldType=" : "", type ? type : "",
			     type && sub ? "&" : "", sub ? "subDomain=" : "", esc) < 0) {
		free(esc);
		return STS_PLUGIN_ENOMEM;
	}
	struct sts_plugin_rest_resp resp;
	int r = ovh_call(p, "GET", path, NULL, true, &resp, call);
	if (r == STS_PLUGIN_ENOENT)
		sts_plugin_error(call, "zone '%s' is not in this OVHcloud account", zone);
	if (r == STS_PLUGIN_OK && !json_is_array(resp.json)) {
		sts_plugin_error(call, "GET %s: the answer is not a list of ids", path);
		r = STS_PLUGIN_EPARSE;
	}
	if (r == STS_PLUGIN_OK)
		*ret = json_incref(resp.json);
	sts_plugin_rest_release(p, &resp);
	free(path);
	free(esc);
	return r;
}

int ovh_get_record(struct sts_plugin *p, const char *zone, const json_t *id, struct ovh_rec *ret,
		   struct sts_plugin_call *call)
{
	char *path = NULL;
	if (!json_is_integer(id)) {
		sts_plugin_error(call, "a record id that is not a number");
		return STS_PLUGIN_EPARSE;
	}
	if (asprintf(&path, "/domain/zone/%s/record/%" JSON_INTEGER_FORMAT, zone,
		     json_integer_value(id)) < 0)
		return STS_PLUGIN_ENOMEM;
	struct sts_plugin_rest_resp resp;
	int r = ovh_call(p, "GET", path, NULL, true, &resp, call);
	if (r == STS_PLUGIN_OK)
		r = ovh_rec_parse(p, zone, resp.json, ret, call);
	sts_plugin_rest_release(p, &resp);
	free(path);
	return r;
}

/* Every record at subDomain sub (of type, or any: NULL); *ret_n of them. */
static int records_at(struct sts_plugin *p, const char *zone, const char *sub, const char *type,
		      struct ovh_rec **ret, size_t *ret_n, struct sts_plugin_call *call)
{
	json_t *ids = NULL;
	int r = ovh_record_ids(p, zone, sub, type, &ids, call);
	size_t n = json_array_size(ids), got = 0;
	struct ovh_rec *v = r < 0 ? NULL : calloc(n + 1, sizeof(*v));
	if (r == STS_PLUGIN_OK && !v)
		r = STS_PLUGIN_ENOMEM;
	for (; r == STS_PLUGIN_OK && got < n; got++)
		r = ovh_get_record(p, zone, json_array_get(ids, got), &v[got], call);
	json_decref(ids);
	if (r < 0) {
		for (size_t i = 0; v && i < got; i++)
			ovh_rec_release(&v[i]);
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return r;
}

static void records_free(struct ovh_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ovh_rec_release(&v[i]);
	free(v);
}

/* ---- dns ops ---- */

/* The n records of v into ret, as rrsets; v freed. */
static int add_rrsets(struct sts_plugin *p, struct ovh_rec *v, size_t n, struct sts_rrsets *ret)
{
	int r = STS_PLUGIN_OK;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++) {
		struct sts_rrset *rr = sts_plugin_rrset_find(p, ret, v[i].name, v[i].type);
		if (!rr)
			rr = sts_plugin_rrset_add(p, ret, v[i].name, v[i].type, v[i].ttl);
		r = rr ? sts_plugin_rrset_add_value(p, rr, v[i].value, v[i].len)
		       : STS_PLUGIN_ENOMEM;
	}
	records_free(v, n);
	return r;
}

static int read_name(struct sts_plugin *p, const char *zone, const char *name,
		     struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	char *sub = NULL;
	struct ovh_rec *v = NULL;
	size_t n = 0;
	if (ovh_subdomain(p, zone, name, &sub) < 0)
		return STS_PLUGIN_OK; /* not in the zone: nothing there */
	int r = records_at(p, zone, sub, NULL, &v, &n, call);
	free(sub);
	return r < 0 ? r : add_rrsets(p, v, n, ret);
}

/* names NULL (caps.read_zone): the whole zone, listed and kept (ovh_zone.c). */
static int ovh_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		    struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	int r = STS_PLUGIN_OK;
	if (!names) {
		struct ovh_rec *v = NULL;
		size_t nv = 0;
		r = ovh_zone_list(p, zone, call);
		if (r == STS_PLUGIN_ENOENT)
			sts_plugin_error(call, "zone '%s' is not in this OVHcloud account", zone);
		if (r == STS_PLUGIN_OK)
			r = ovh_zone_records(ovh_zone_get(sts_plugin_ctx_get(p), zone), NULL, NULL,
					     &v, &nv);
		return r < 0 ? r : add_rrsets(p, v, nv, ret);
	}
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++)
		r = read_name(p, zone, names[i], ret, call);
	return r;
}

/* POST a record of rs with value, or PUT record id (> 0) to it. */
static int put_record(struct sts_plugin *p, const char *zone, const char *sub,
		      const struct sts_rrset *rs, long long id, const char *value, bool *wrote,
		      struct sts_plugin_call *call)
{
	char *target = NULL, *path = NULL;
	int r = ovh_target(p, rs->type, value, strlen(value), &target);
	json_t *body = r < 0 ? NULL
			     : json_pack("{s:s, s:s, s:I}", "subDomain", sub, "target", target,
					 "ttl", (json_int_t)rs->ttl);
	if (r == STS_PLUGIN_OK && !body)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && id <= 0 &&
	    json_object_set_new(body, "fieldType", json_string(rs->type)) < 0)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && (id > 0 ? asprintf(&path, "/domain/zone/%s/record/%lld", zone, id)
					  : asprintf(&path, "/domain/zone/%s/record", zone)) < 0) {
		path = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	/* a POST repeated after a lost answer would add a second record */
	struct sts_plugin_rest_resp resp = {0};
	if (r == STS_PLUGIN_OK)
		r = ovh_call(p, id > 0 ? "PUT" : "POST", path, body, id > 0, &resp, call);
	if (r == STS_PLUGIN_OK) {
		*wrote = true;
		if (id > 0)
			ovh_zone_changed(p, zone, id, value, rs->ttl, false);
		else
			ovh_zone_added(p, zone, resp.json);
	}
	sts_plugin_rest_release(p, &resp);
	json_decref(body);
	free(path);
	free(target);
	return r;
}

static int delete_record(struct sts_plugin *p, const char *zone, long long id, bool *wrote,
			 struct sts_plugin_call *call)
{
	char *path;
	if (asprintf(&path, "/domain/zone/%s/record/%lld", zone, id) < 0)
		return STS_PLUGIN_ENOMEM;
	int r = ovh_send(p, "DELETE", path, NULL, true, call);
	free(path);
	if (r == STS_PLUGIN_ENOENT)
		r = STS_PLUGIN_OK; /* gone already: a repeat */
	if (r == STS_PLUGIN_OK) {
		*wrote = true;
		ovh_zone_changed(p, zone, id, NULL, 0, true);
	}
	return r;
}

/* Refuse a change that would put rs beside a CNAME (never touched); the
 * zone's kept records when it was read whole (z), else a request. */
static int cname_conflict(struct sts_plugin *p, const char *zone, const struct ovh_zone *z,
			  const char *sub, const struct sts_rrset *rs, struct sts_plugin_call *call)
{
	json_t *ids = NULL;
	struct ovh_rec *v = NULL;
	size_t n = 0;
	int r = z ? ovh_zone_records(z, rs->name, "CNAME", &v, &n)
		  : ovh_record_ids(p, zone, sub, "CNAME", &ids, call);
	if (r == STS_PLUGIN_OK && (n > 0 || json_array_size(ids) > 0)) {
		sts_plugin_error(call, "'%s' holds a CNAME: no %s can be put beside it", rs->name,
				 rs->type);
		r = STS_PLUGIN_ECONFLICT;
	}
	records_free(v, n);
	json_decref(ids);
	return r;
}

/*
 * One change, value by value: a value already in a record stays untouched
 * (a foreign TXT keeps its record) unless the TTL changed; a new value
 * takes over the record of a value that goes (one PUT), else it is
 * created; records left over are deleted last.
 */
static int apply_one(struct sts_plugin *p, const char *zone, const struct sts_rrset_change *ch,
		     bool *wrote, struct sts_plugin_call *call)
{
	const struct sts_rrset *rs = ch->rrset;
	size_t nv = ch->action == STS_CHANGE_DELETE ? 0 : rs->n_values, n = 0, n_stale = 0, s = 0;
	char *sub = NULL;
	struct ovh_rec *have = NULL;
	const struct ovh_zone *z = ovh_zone_get(sts_plugin_ctx_get(p), zone);
	int r = ovh_subdomain(p, zone, rs->name, &sub);
	if (r == STS_PLUGIN_EINVAL)
		sts_plugin_error(call, "'%s' is not in zone '%s'", rs->name, zone);
	if (r == STS_PLUGIN_OK && nv > 0 && strcmp(rs->type, "CNAME") != 0)
		r = cname_conflict(p, zone, z, sub, rs, call);
	if (r == STS_PLUGIN_OK)
		r = z ? ovh_zone_records(z, rs->name, rs->type, &have, &n)
		      : records_at(p, zone, sub, rs->type, &have, &n, call);
	bool *kept = r < 0 ? NULL : calloc(nv + 1, sizeof(*kept));
	long long *stale = r < 0 ? NULL : calloc(n + 1, sizeof(*stale));
	if (r == STS_PLUGIN_OK && (!kept || !stale))
		r = STS_PLUGIN_ENOMEM;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++) {
		size_t k = 0;
		while (k < nv && (kept[k] || strlen(rs->values[k]) != have[i].len ||
				  memcmp(rs->values[k], have[i].value, have[i].len) != 0))
			k++;
		if (k == nv) {
			stale[n_stale++] = have[i].id;
			continue;
		}
		kept[k] = true;
		if (have[i].ttl != rs->ttl)
			r = put_record(p, zone, sub, rs, have[i].id, rs->values[k], wrote, call);
	}
	for (size_t k = 0; r == STS_PLUGIN_OK && k < nv; k++)
		if (!kept[k])
			r = put_record(p, zone, sub, rs, s < n_stale ? stale[s++] : 0,
				       rs->values[k], wrote, call);
	for (; r == STS_PLUGIN_OK && s < n_stale; s++)
		r = delete_record(p, zone, stale[s], wrote, call);
	free(stale);
	free(kept);
	records_free(have, n);
	free(sub);
	return r;
}

/* Changes are served only after the zone's refresh: one per apply that wrote
 * anything, also after a failure (what was written is in the API already). */
static int ovh_apply(struct sts_plugin *p, const char *zone,
		     const struct sts_rrset_change *const *changes, size_t n,
		     struct sts_plugin_call *call)
{
	bool wrote = false;
	int r = STS_PLUGIN_OK;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++)
		r = apply_one(p, zone, changes[i], &wrote, call);
	if (r < 0)
		ovh_zone_drop(sts_plugin_ctx_get(p), zone); /* unknown now: listed again */
	if (!wrote)
		return r;
	char *path;
	if (asprintf(&path, "/domain/zone/%s/refresh", zone) < 0)
		return r < 0 ? r : STS_PLUGIN_ENOMEM;
	int rr = ovh_send(p, "POST", path, NULL, true, call);
	if (r == STS_PLUGIN_OK)
		r = rr; /* after a failure its error stays (the refresh's text if it failed too) */
	free(path);
	return r;
}

static int ovh_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	struct sts_plugin_rest_resp resp;
	int r = ovh_call(p, "GET", "/domain/zone", NULL, true, &resp, call);
	if (r == STS_PLUGIN_OK && !json_is_array(resp.json)) {
		sts_plugin_error(call, "GET /domain/zone: the answer is not a list of zones");
		r = STS_PLUGIN_EPARSE;
	}
	size_t i;
	json_t *z;
	json_array_foreach(r == STS_PLUGIN_OK ? resp.json : NULL, i, z)
	{
		if (r == STS_PLUGIN_OK && json_is_string(z))
			r = sts_plugin_zone_add(p, ret, json_string_value(z));
	}
	sts_plugin_rest_release(p, &resp);
	return r;
}

/* The API's time, then a signed GET /domain/zone: the three keys work
 * together and may read the zones. Nothing is changed. */
static int ovh_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	return ovh_send(p, "GET", "/domain/zone", NULL, true, call);
}

static void ovh_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	(void)p;
	ret->batch = false;
	/* zones at once: the time and the kept zones are under a lock; the
	 * limiter is shared, so this only hides each request's latency */
	ret->max_concurrency = 4;
	if (STS_PLUGIN_HAS(ret, struct sts_dns_caps, read_zone))
		ret->read_zone = true;
}

PLG_DNS_API(ovh, ovh, "OVHcloud DNS zones (API /1.0)",
	    STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_CREDENTIALS);
