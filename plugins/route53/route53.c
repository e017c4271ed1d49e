/* SPDX-License-Identifier: MIT */
/*
 * route53: Amazon Route 53 (REST/XML API 2013-04-01) as a DNS provider
 * (README.md). Requests are signed with AWS Signature Version 4
 * (r53_sigv4.c) and sent through the host's HTTP service, which retries
 * (429, 5xx, Route 53's 400 Throttling / PriorRequestNotComplete) and waits
 * for the rate limiter before every attempt; answers are parsed with
 * libxml2 (r53_xml.c); listings page as Route 53 does (r53_list.c).
 *
 * apply() sends one ChangeResourceRecordSets per zone: UPSERT of each
 * rrset's complete content (values kept from the listing verbatim, so a
 * foreign TXT keeps its exact strings), DELETE with the rrset exactly as
 * listed. Route 53 applies a batch atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

#include "plg_rest.h"
#include "r53.h"

#define API	    "/2013-04-01"
#define NS	    "https://route53.amazonaws.com/doc/2013-04-01/"
#define MAX_RECORDS 1000  /* ResourceRecord elements of one batch (UPSERT counts twice) */
#define MAX_CHARS   32000 /* characters of the Value elements of one batch (UPSERT twice) */
#define MAX_BATCH   250	  /* changes the host hands to one apply() */

static const struct sts_plugin_setting *const r53_schema[] = {
    STS_SETTING(.key = "url", .type = STS_SETTING_STRING, .def = "https://route53.amazonaws.com",
		.pattern = "https?://[^/?#@[:space:]]+/?",
		.pattern_hint = "an http:// or https:// URL of a host, without path or query",
		.description = "the Route 53 API endpoint"),
    STS_SETTING(.key = "access_key_id", .type = STS_SETTING_SECRET, .required = true,
		.description = "the AWS access key id"),
    STS_SETTING(.key = "secret_access_key", .type = STS_SETTING_SECRET, .required = true,
		.description = "the AWS secret access key"),
    STS_SETTING(.key = "session_token", .type = STS_SETTING_SECRET,
		.description = "the session token of temporary credentials (optional)"),
    STS_SETTING(.key = "page_size", .type = STS_SETTING_INTEGER, .def = "300", .range = true,
		.min = 1, .max = 300, .description = "resource record sets per page of a listing"),
    PLG_SETTING_RATE_LIMIT("5/1s", "1s, 5m or 1h",
			   "the API's request limit (Route 53: 5 per second per account)"),
    PLG_SETTING_TIMEOUT,
    NULL,
};

/* ---- instance ---- */

static void r53_unload(struct sts_plugin *p)
{
	struct r53 *c = sts_plugin_ctx_get(p);
	if (!c)
		return;
	plg_wipe_free(c->secret);
	plg_wipe_free(c->token);
	plg_wipe_free(c->key_id);
	if (c->limiter)
		sts_plugin_limiter_free(p, c->limiter);
	for (size_t i = 0; i < c->n_cache; i++) {
		free(c->cache_apex[i]);
		free(c->cache_id[i]);
	}
	free(c->cache_apex);
	free(c->cache_id);
	if (c->locked_ok)
		pthread_mutex_destroy(&c->lock);
	PLG_FREE_ALL(c->host, c->base, c);
	sts_plugin_ctx_set(p, NULL);
}

/* The secret setting key (a ${env:}/${file:} reference) as a malloc'd string. */
static int secret_of(struct sts_plugin *p, const json_t *settings, const char *key, char **ret,
		     struct sts_plugin_call *call)
{
	const char *ref = json_string_value(json_object_get(settings, key));
	if (!ref)
		return STS_PLUGIN_OK; /* optional and absent */
	char what[64];
	snprintf(what, sizeof(what), "the value of '%s'", key);
	return plg_secret_line(p, ref, PLG_SECRET_TRIM_EOL, what, ret, call);
}

static int r53_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	xmlInitParser();
	struct r53 *c = sts_plugin_ctx_new(p, sizeof(*c));
	if (!c)
		return STS_PLUGIN_ENOMEM;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		r53_unload(p);
		return STS_PLUGIN_ENOMEM;
	}
	c->locked_ok = true;
	const char *url = json_string_value(json_object_get(settings, "url"));
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	const char *host = strstr(url, "://") + 3;
	c->page_size = (unsigned)json_integer_value(json_object_get(settings, "page_size"));
	c->timeout_ms = (long)json_integer_value(json_object_get(settings, "timeout")) * 1000L;
	int r = (c->base = strndup(url, n)) && (c->host = strndup(host, (size_t)(url + n - host)))
		    ? STS_PLUGIN_OK
		    : STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK)
		r = secret_of(p, settings, "access_key_id", &c->key_id, call);
	if (r == STS_PLUGIN_OK)
		r = secret_of(p, settings, "secret_access_key", &c->secret, call);
	if (r == STS_PLUGIN_OK)
		r = secret_of(p, settings, "session_token", &c->token, call);
	if (r == STS_PLUGIN_OK &&
	    strspn(c->key_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(c->key_id)) {
		sts_plugin_error(call, "the access key id holds characters other than A-Z and 0-9");
		r = STS_PLUGIN_ESECRET;
	}
	if (r == STS_PLUGIN_OK)
		r = plg_limiter(p, settings, "rate_limit", &c->limiter, call);
	if (r < 0)
		r53_unload(p);
	return r;
}

/* ---- values ---- */

/* A listed value as the engine sees it (TXT unquoted, CNAME absolute); malloc'd. */
static int engine_value(struct sts_plugin *p, const char *type, const char *raw, char **ret,
			size_t *ret_len, struct sts_plugin_call *call)
{
	if (strcmp(type, "TXT") == 0)
		return plg_txt_value(p, raw, "value", ret, ret_len, call);
	if (strcmp(type, "CNAME") == 0) {
		*ret = r53_name(p, raw);
		*ret_len = *ret ? strlen(*ret) : 0;
	} else {
		*ret = strdup(raw);
		*ret_len = strlen(raw);
	}
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* The API's Value for an engine value: a listed one that reads the same, verbatim, else new. */
static int api_value(struct sts_plugin *p, const char *type, const char *value,
		     const struct r53_rrset *cur, char **ret, struct sts_plugin_call *call)
{
	for (size_t i = 0; cur && i < cur->n_values; i++) {
		char *v = NULL;
		size_t len = 0;
		int r = engine_value(p, type, cur->values[i], &v, &len, call);
		if (r < 0)
			return r;
		bool same = len == strlen(value) && memcmp(v, value, len) == 0;
		free(v);
		if (same)
			return (*ret = strdup(cur->values[i])) ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	}
	if (strcmp(type, "TXT") != 0)
		return (*ret = strdup(value)) ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	char *q = NULL;
	int r = sts_plugin_txt_quote(p, value, strlen(value), &q);
	if (r < 0)
		return r;
	*ret = strdup(q);
	sts_plugin_free(p, q);
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* ---- read ---- */

static int add_rrset(struct sts_plugin *p, const struct r53_rrset *s, struct sts_rrsets *ret,
		     struct sts_plugin_call *call)
{
	char *name = r53_name(p, s->name);
	struct sts_rrset *rr = name ? sts_plugin_rrset_add(p, ret, name, s->type, s->ttl) : NULL;
	free(name);
	if (!rr)
		return STS_PLUGIN_ENOMEM;
	for (size_t i = 0; i < s->n_values; i++) {
		char *v = NULL;
		size_t len = 0;
		int r = engine_value(p, s->type, s->values[i], &v, &len, call);
		if ((r = plg_rrset_take(p, rr, r, v, len)) < 0)
			return r;
	}
	return STS_PLUGIN_OK;
}

static int r53_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		    struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	char *zid = NULL;
	struct r53_rrsets l = {0};
	int r = r53_zone_id(p, zone, &zid, call);
	if (r == STS_PLUGIN_OK && n > 0)
		r = r53_list_at(p, zid, names, n, &l, call);
	/* an alias or a routing-policy rrset is not stsctl's: left out */
	for (size_t i = 0; r == STS_PLUGIN_OK && i < l.n; i++)
		if (!l.v[i].special)
			r = add_rrset(p, &l.v[i], ret, call);
	r53_rrsets_release(&l);
	free(zid);
	return r;
}

/* ---- apply ---- */

struct batch {
	char *xml;
	size_t len;
	size_t n_changes, n_records, n_chars;
	bool oom;
};

static void put(struct batch *b, const char *s, bool escape)
{
	if (!b->oom && !r53_xml_append(&b->xml, &b->len, s, escape))
		b->oom = true;
}

static void batch_reset(struct batch *b)
{
	free(b->xml);
	memset(b, 0, sizeof(*b));
	put(b,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ChangeResourceRecordSetsRequest "
	    "xmlns=\"" NS "\"><ChangeBatch><Comment>stsctl</Comment><Changes>",
	    false);
}

/* One Change element: action on (name, type) with ttl and the API values. */
static void batch_add(struct batch *b, const char *action, const char *name, const char *type,
		      uint32_t ttl, char *const *values, size_t n)
{
	char num[16];
	snprintf(num, sizeof(num), "%u", ttl);
	put(b, "<Change><Action>", false);
	put(b, action, false);
	put(b, "</Action><ResourceRecordSet><Name>", false);
	put(b, name, true);
	put(b, "</Name><Type>", false);
	put(b, type, true);
	put(b, "</Type><TTL>", false);
	put(b, num, false);
	put(b, "</TTL><ResourceRecords>", false);
	size_t weight = strcmp(action, "UPSERT") == 0 ? 2 : 1;
	for (size_t i = 0; i < n; i++) {
		put(b, "<ResourceRecord><Value>", false);
		put(b, values[i], true);
		put(b, "</Value></ResourceRecord>", false);
		b->n_chars += weight * strlen(values[i]);
	}
	put(b, "</ResourceRecords></ResourceRecordSet></Change>", false);
	b->n_records += weight * n;
	b->n_changes++;
}

/* Send the batch (when it holds changes) and start a new one. */
static int batch_send(struct sts_plugin *p, const char *path, struct batch *b,
		      struct sts_plugin_call *call)
{
	int r = STS_PLUGIN_OK;
	put(b, "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>", false);
	if (b->oom)
		r = STS_PLUGIN_ENOMEM;
	else if (b->n_changes)
		r = r53_request(p, "POST", path, NULL, b->xml, NULL, NULL, call);
	batch_reset(b);
	return b->oom && r == STS_PLUGIN_OK ? STS_PLUGIN_ENOMEM : r;
}

static const struct r53_rrset *find(struct sts_plugin *p, const struct r53_rrsets *l,
				    const char *name, const char *type, bool other_types)
{
	for (size_t i = 0; i < l->n; i++) {
		char *n = r53_name(p, l->v[i].name);
		bool at = n && strcasecmp(n, name) == 0;
		free(n);
		if (at && (other_types ? strcmp(l->v[i].type, type) != 0
				       : strcmp(l->v[i].type, type) == 0 && !l->v[i].special))
			return &l->v[i];
	}
	return NULL;
}

static void free_values(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Does the listed rrset hold exactly these API values with this ttl? */
static bool same(const struct r53_rrset *cur, uint32_t ttl, char *const *v, size_t n)
{
	if (!cur || cur->ttl != ttl || cur->n_values != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < n && strcmp(cur->values[k], v[i]) != 0)
			k++;
		if (k == n)
			return false;
	}
	return true;
}

/* Add change ch to the batch (sending the batch first when it would overflow). */
static int add_change(struct sts_plugin *p, const char *path, const struct r53_rrsets *l,
		      const struct sts_rrset_change *ch, struct batch *b,
		      struct sts_plugin_call *call)
{
	const struct sts_rrset *rs = ch->rrset;
	const struct r53_rrset *cur = find(p, l, rs->name, rs->type, false);
	if (ch->action == STS_CHANGE_DELETE) {
		if (!cur)
			return STS_PLUGIN_OK; /* gone already */
		int r = STS_PLUGIN_OK;
		if (b->n_records + cur->n_values > MAX_RECORDS)
			r = batch_send(p, path, b, call);
		if (r == STS_PLUGIN_OK)
			batch_add(b, "DELETE", cur->name, cur->type, cur->ttl, cur->values,
				  cur->n_values);
		return r;
	}
	const struct r53_rrset *other = find(p, l, rs->name, rs->type, true);
	if (other && (strcmp(rs->type, "CNAME") == 0 || strcmp(other->type, "CNAME") == 0)) {
		sts_plugin_error(call, "'%s' holds a %s: a %s cannot be beside it", rs->name,
				 other->type, rs->type);
		return STS_PLUGIN_ECONFLICT;
	}
	char **v = calloc(rs->n_values + 1, sizeof(*v));
	int r = v ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	size_t chars = 0;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < rs->n_values; i++) {
		r = api_value(p, rs->type, rs->values[i], cur, &v[i], call);
		chars += r == STS_PLUGIN_OK ? 2 * strlen(v[i]) : 0;
	}
	if (r == STS_PLUGIN_OK && !same(cur, rs->ttl, v, rs->n_values)) {
		if (b->n_records + 2 * rs->n_values > MAX_RECORDS || b->n_chars + chars > MAX_CHARS)
			r = batch_send(p, path, b, call);
		if (r == STS_PLUGIN_OK)
			batch_add(b, "UPSERT", rs->name, rs->type, rs->ttl, v, rs->n_values);
	}
	free_values(v, rs->n_values);
	return r;
}

static int r53_apply(struct sts_plugin *p, const char *zone,
		     const struct sts_rrset_change *const *changes, size_t n,
		     struct sts_plugin_call *call)
{
	char *zid = NULL, *path = NULL;
	const char **names = calloc(n + 1, sizeof(*names));
	size_t n_names = 0;
	for (size_t i = 0; names && i < n; i++) {
		size_t k = 0;
		while (k < n_names && strcasecmp(names[k], changes[i]->rrset->name) != 0)
			k++;
		if (k == n_names)
			names[n_names++] = changes[i]->rrset->name;
	}
	struct r53_rrsets l = {0};
	struct batch b = {0};
	batch_reset(&b);
	int r = names ? r53_zone_id(p, zone, &zid, call) : STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && asprintf(&path, API "/hostedzone/%s/rrset", zid) < 0) {
		path = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK)
		r = r53_list_at(p, zid, names, n_names, &l, call);
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++)
		r = add_change(p, path, &l, changes[i], &b, call);
	if (r == STS_PLUGIN_OK)
		r = batch_send(p, path, &b, call);
	free(b.xml);
	r53_rrsets_release(&l);
	PLG_FREE_ALL(path, zid, names);
	return r;
}

/* ---- zones, probe, caps ---- */

static int r53_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	struct r53_zones zones = {0};
	int r = r53_list_zones(p, &zones, call);
	for (size_t i = 0; r == STS_PLUGIN_OK && i < zones.n; i++)
		r = sts_plugin_zone_add(p, ret, zones.v[i].name);
	r53_zones_release(&zones);
	return r;
}

/* The credentials work when one hosted zone can be listed; nothing is changed. */
static int r53_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	return r53_request(p, "GET", API "/hostedzone", "maxitems=1", NULL, NULL, NULL, call);
}

static void r53_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	(void)p;
	ret->batch = true;
	ret->max_concurrency = 1;
	ret->max_batch = MAX_BATCH;
}

PLG_DNS_API(route53, r53, "Amazon Route 53 (REST/XML API, SigV4)",
	    STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_PAGING | STS_PLUGIN_CAP_CREDENTIALS |
		STS_PLUGIN_CAP_BATCH);
