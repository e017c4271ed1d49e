/* SPDX-License-Identifier: MIT */
/*
 * azure: Azure DNS through Azure Resource Manager (README.md), api-version
 * 2018-05-01, with a Microsoft Entra ID service principal (client
 * credentials, az_token.c):
 *
 *   GET    {rg}/dnsZones?$top=N                         zones, nextLink paging
 *   GET    {rg}/dnsZones/{zone}/recordsets?$top=N       record sets, nextLink
 *   GET    {rg}/dnsZones/{zone}/{type}/{name}           one record set
 *   PUT    {rg}/dnsZones/{zone}/{type}/{name}           If-Match: etag | If-None-Match: *
 *   DELETE {rg}/dnsZones/{zone}/{type}/{name}           If-Match: etag
 *
 * with {rg} = /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network.
 * Every write is conditional on the record set stsctl looked at, so a
 * concurrent change is a 412 (STS_PLUGIN_ECONFLICT), never overwritten;
 * a write whose answer was lost and that is sent again gets the 412 too,
 * and is recognised by the record set being as wanted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "az.h"
#include "plg_rest.h"

#define MAX_PAGES 1000 /* of one listing: a bound, not a provider limit */
/* kept unescaped in a path segment or query value, beside RFC 3986's unreserved */
#define ESC_KEEP "*@"
#define ORIGIN	 "https?://[^/?#[:space:]]+/?"

static const struct sts_plugin_setting *const az_schema[] = {
    STS_SETTING(.key = "tenant_id", .type = STS_SETTING_STRING, .required = true,
		.pattern = "[A-Za-z0-9][-A-Za-z0-9.]{0,253}",
		.pattern_hint = "a tenant id (GUID) or its domain name",
		.description = "the Microsoft Entra ID tenant of the service principal"),
    STS_SETTING(.key = "client_id", .type = STS_SETTING_STRING, .required = true,
		.pattern =
		    "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
		.pattern_hint = "a GUID", .description = "the application (client) id"),
    STS_SETTING(.key = "client_secret", .type = STS_SETTING_SECRET, .required = true,
		.description = "the application's client secret (its value, not its id)"),
    STS_SETTING(.key = "subscription_id", .type = STS_SETTING_STRING, .required = true,
		.pattern =
		    "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
		.pattern_hint = "a GUID", .description = "the subscription of the DNS zones"),
    STS_SETTING(.key = "resource_group", .type = STS_SETTING_STRING, .required = true,
		.pattern = "[-A-Za-z0-9_.()]{0,89}[-A-Za-z0-9_()]",
		.pattern_hint = "1-90 letters, digits, '-', '_', '.', '(', ')', not ending in '.'",
		.description = "the resource group holding the DNS zones"),
    STS_SETTING(.key = "url", .type = STS_SETTING_STRING, .def = "https://management.azure.com",
		.pattern = ORIGIN, .pattern_hint = "an http:// or https:// origin without a path",
		.description = "the Resource Manager endpoint"),
    STS_SETTING(.key = "login_url", .type = STS_SETTING_STRING,
		.def = "https://login.microsoftonline.com", .pattern = ORIGIN,
		.pattern_hint = "an http:// or https:// origin without a path",
		.description = "the Microsoft Entra ID authority host"),
    STS_SETTING(.key = "scope", .type = STS_SETTING_STRING,
		.def = "https://management.azure.com/.default",
		.pattern = "https://[^[:space:]]+/.default",
		.pattern_hint = "https://RESOURCE/.default",
		.description = "the token's scope: Resource Manager of this cloud"),
    STS_SETTING(.key = "page_size", .type = STS_SETTING_INTEGER, .def = "100", .range = true,
		.min = 1, .max = 1000, .description = "record sets per page of a listing ($top)"),
    PLG_SETTING_LIMITS("rate_limit", "12000/1h, 10000/5m", "1s, 5m or 1h",
		       "read (GET) request limits"),
    PLG_SETTING_LIMITS("write_rate_limit", "1200/1h, 1000/5m", "1s, 5m or 1h",
		       "write (PUT, DELETE) and token request limits"),
    PLG_SETTING_TIMEOUT,
    NULL,
};

/* ---- instance ---- */

static void az_unload(struct sts_plugin *p)
{
	struct az *c = sts_plugin_ctx_get(p);
	if (!c)
		return;
	az_token_clear(c);
	pthread_mutex_destroy(&c->lock);
	if (c->reads)
		sts_plugin_limiter_free(p, c->reads);
	if (c->writes)
		sts_plugin_limiter_free(p, c->writes);
	if (c->breaker)
		sts_plugin_breaker_free(p, c->breaker);
	PLG_FREE_ALL(c->base, c->login, c->tenant, c->client_id, c->secret_ref, c->scope,
		     c->rg_path, c);
	sts_plugin_ctx_set(p, NULL);
}

static int make_limiter(struct sts_plugin *p, const json_t *settings, const char *key,
			struct sts_limiter **ret, struct sts_plugin_call *call)
{
	const char *spec = json_string_value(json_object_get(settings, key));
	int r = sts_plugin_limiter_new(p, spec, ret);
	if (r < 0)
		sts_plugin_error(call, "cannot make a rate limiter of '%s' ('%s')", spec, key);
	return r;
}

static int az_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	struct az *c = sts_plugin_ctx_new(p, sizeof(*c));
	if (!c)
		return STS_PLUGIN_ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->timeout_ms = (long)json_integer_value(json_object_get(settings, "timeout")) * 1000L;
	c->page_size = (unsigned)json_integer_value(json_object_get(settings, "page_size"));
	c->base = plg_setting_dup(settings, "url");
	c->login = plg_setting_dup(settings, "login_url");
	c->tenant = plg_setting_dup(settings, "tenant_id");
	c->client_id = plg_setting_dup(settings, "client_id");
	c->secret_ref = plg_setting_dup(settings, "client_secret");
	c->scope = strdup(json_string_value(json_object_get(settings, "scope")));
	const char *sub = json_string_value(json_object_get(settings, "subscription_id"));
	const char *rg = json_string_value(json_object_get(settings, "resource_group"));
	int r = STS_PLUGIN_OK;
	if (asprintf(&c->rg_path,
		     "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/dnsZones",
		     sub, rg) < 0) {
		c->rg_path = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (!c->base || !c->login || !c->tenant || !c->client_id || !c->secret_ref || !c->scope)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK)
		r = make_limiter(p, settings, "rate_limit", &c->reads, call);
	if (r == STS_PLUGIN_OK)
		r = make_limiter(p, settings, "write_rate_limit", &c->writes, call);
	if (r == STS_PLUGIN_OK)
		r = sts_plugin_breaker_new(p, NULL, &c->breaker);
	if (r < 0)
		az_unload(p);
	return r;
}

/* ---- requests ---- */

/*
 * One request to Resource Manager; release *resp afterwards whatever the
 * result. A 401 (a token revoked or expired early) is tried once more with
 * a new token. header: one more header line (If-Match ...) or NULL.
 */
static int request(struct sts_plugin *p, const char *method, const char *path, const char *header,
		   const json_t *body, struct sts_plugin_rest_resp *resp,
		   struct sts_plugin_call *call)
{
	const struct az *c = sts_plugin_ctx_get(p);
	const char *headers[] = {header, NULL};
	bool read = strcmp(method, "GET") == 0;
	int r = STS_PLUGIN_OK;
	resp->struct_size = sizeof(*resp);
	resp->json = NULL;
	resp->host_priv = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		char *auth = NULL;
		if (attempt > 0)
			sts_plugin_rest_release(p, resp);
		r = az_auth(p, attempt > 0, &auth, call);
		if (r < 0)
			return r;
		struct sts_plugin_rest_req req = {
		    .struct_size = sizeof(req),
		    .method = method,
		    .base = c->base,
		    .path = path,
		    .auth = auth,
		    .headers = header ? headers : NULL,
		    .body = body,
		    .idempotent = true, /* GET, or a PUT/DELETE conditional on an etag */
		    .error_pointer = "/error/message",
		    .limiter = read ? c->reads : c->writes,
		    .breaker = c->breaker,
		    .timeout_ms = c->timeout_ms,
		};
		r = sts_plugin_rest(p, &req, resp, call);
		az_auth_free(auth);
		if (!(r == STS_PLUGIN_EAUTH && resp->status == 401))
			break;
	}
	return r;
}

/*
 * The path and query of an answer's nextLink, sent to our own url: the
 * token never goes to a host the answer names. NULL when it has none.
 */
static const char *next_path(const json_t *answer)
{
	const char *next = json_string_value(json_object_get(answer, "nextLink"));
	const char *host = next ? strstr(next, "://") : NULL;
	const char *path = host ? strchr(host + 3, '/') : NULL;
	return path && strncmp(path, "/subscriptions/", 15) == 0 ? path : NULL;
}

/* The path of a listing's page: the first at path, then the answer's
 * nextLink (next_path), which may follow an empty page (plg_list_pages). */
static int next_page(struct sts_plugin *p, const char *path, unsigned page, const json_t *prev,
		     char **ret)
{
	(void)p;
	(void)page;
	const char *next = prev ? next_path(prev) : path;
	*ret = next ? strdup(next) : NULL;
	return next && !*ret ? STS_PLUGIN_ENOMEM : STS_PLUGIN_OK;
}

static int get_page(struct sts_plugin *p, const char *path, struct sts_plugin_rest_resp *resp,
		    struct sts_plugin_call *call)
{
	return request(p, "GET", path, NULL, NULL, resp, call);
}

/* Every page of a listing: the items of each answer's "value". */
static const struct plg_pager pager = {
    .max_pages = MAX_PAGES, .next = next_page, .get = get_page, .past_empty = true};

/* "{rg}/{zone}{rest}?api-version=..{query}" */
static char *zone_path(const struct az *c, const char *zone, const char *rest, const char *query)
{
	char *z = plg_escape(zone, ESC_KEEP), *s = NULL;
	if (z && asprintf(&s, "%s/%s%s?api-version=%s%s", c->rg_path, z, rest, AZ_API_VERSION,
			  query) < 0)
		s = NULL;
	free(z);
	return s;
}

/* Every record set of zone (all pages) into *ret. */
static int list_sets(struct sts_plugin *p, const char *zone, json_t **ret,
		     struct sts_plugin_call *call)
{
	const struct az *c = sts_plugin_ctx_get(p);
	char top[32], *path;
	snprintf(top, sizeof(top), "&$top=%u", c->page_size);
	if (!(path = zone_path(c, zone, "/recordsets", top)))
		return STS_PLUGIN_ENOMEM;
	int r = plg_list_pages(p, &pager, path, "value", ret, call);
	free(path);
	return r;
}

/* ---- dns ops ---- */

/* The zone's record sets are listed once (every page) and picked by name. */
static int az_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		   struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	json_t *sets = NULL;
	int r = list_sets(p, zone, &sets, call);
	size_t i;
	json_t *rs;
	json_array_foreach(sets, i, rs)
	{
		if (r < 0)
			break;
		r = az_rrset_add(p, zone, rs, names, n, ret, call);
	}
	json_decref(sets);
	return r;
}

/* The name of rrset relative to zone ("@" at the apex), malloc'd; EINVAL outside it. */
static int rel_name(const char *zone, const char *name, char **ret, struct sts_plugin_call *call)
{
	size_t nl = strlen(name), zl = strlen(zone);
	if (nl && name[nl - 1] == '.')
		nl--;
	if (nl == zl && strncasecmp(name, zone, zl) == 0) {
		*ret = strdup("@");
	} else if (nl > zl + 1 && name[nl - zl - 1] == '.' &&
		   strncasecmp(name + nl - zl, zone, zl) == 0) {
		*ret = strndup(name, nl - zl - 1);
	} else {
		sts_plugin_error(call, "'%s' is not in zone '%s'", name, zone);
		return STS_PLUGIN_EINVAL;
	}
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* The record set (type, rel) of zone into *ret (NULL when there is none). */
static int get_set(struct sts_plugin *p, const char *zone, const char *type, const char *rel,
		   json_t **ret, struct sts_plugin_call *call)
{
	const struct az *c = sts_plugin_ctx_get(p);
	char *r_esc = plg_escape(rel, ESC_KEEP), *rest = NULL, *path = NULL;
	int r = STS_PLUGIN_ENOMEM;
	if (r_esc && asprintf(&rest, "/%s/%s", type, r_esc) >= 0 &&
	    (path = zone_path(c, zone, rest, ""))) {
		struct sts_plugin_rest_resp resp;
		r = request(p, "GET", path, NULL, NULL, &resp, call);
		*ret = r == STS_PLUGIN_OK ? json_incref(resp.json) : NULL;
		if (r == STS_PLUGIN_ENOENT && resp.status == 404) {
			json_t *code = json_object_get(json_object_get(resp.json, "error"), "code");
			/* a zone that is not there is an error; a record set, nothing */
			if (!code || strcmp(json_string_value(code) ? json_string_value(code) : "",
					    "ResourceNotFound") != 0)
				r = STS_PLUGIN_OK;
		}
		sts_plugin_rest_release(p, &resp);
	}
	PLG_FREE_ALL(path, rest, r_esc);
	return r;
}

/* Is any record set of another type than type at rel (the CNAME rule)? */
static int other_types(struct sts_plugin *p, const char *zone, const char *type, const char *rel,
		       char **ret_type, struct sts_plugin_call *call)
{
	*ret_type = NULL;
	if (strcmp(type, "CNAME") != 0) {
		json_t *cname = NULL;
		int r = get_set(p, zone, "CNAME", rel, &cname, call);
		if (r == STS_PLUGIN_OK && cname && !(*ret_type = strdup("CNAME")))
			r = STS_PLUGIN_ENOMEM;
		json_decref(cname);
		return r;
	}
	json_t *sets = NULL;
	int r = list_sets(p, zone, &sets, call);
	size_t i;
	json_t *rs;
	json_array_foreach(sets, i, rs)
	{
		const char *t = az_rrset_type(rs);
		const char *n = json_string_value(json_object_get(rs, "name"));
		if (r == STS_PLUGIN_OK && n && t && strcasecmp(n, rel) == 0 &&
		    strcmp(t, "CNAME") != 0) {
			r = (*ret_type = strdup(t)) ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
			break;
		}
	}
	json_decref(sets);
	return r;
}

/*
 * PUT or DELETE of the record set (type, rel), conditional on cur: its etag
 * (If-Match), or none there (If-None-Match: *).
 */
static int write_set(struct sts_plugin *p, const char *zone, const struct sts_rrset *rs,
		     const char *rel, const json_t *cur, const json_t *props,
		     struct sts_plugin_call *call)
{
	const struct az *c = sts_plugin_ctx_get(p);
	const char *etag = json_string_value(json_object_get(cur, "etag"));
	char *r_esc = plg_escape(rel, ESC_KEEP), *rest = NULL, *path = NULL, *cond = NULL;
	json_t *body = props ? json_pack("{s:O}", "properties", props) : NULL;
	int r = STS_PLUGIN_ENOMEM;
	if (cur && !etag) {
		sts_plugin_error(call, "record set '%s' has no etag", rel);
		r = STS_PLUGIN_EPARSE;
	} else if (r_esc && (body || !props) && asprintf(&rest, "/%s/%s", rs->type, r_esc) >= 0 &&
		   (path = zone_path(c, zone, rest, "")) &&
		   (etag ? asprintf(&cond, "If-Match: %s", etag)
			 : asprintf(&cond, "If-None-Match: *")) >= 0) {
		struct sts_plugin_rest_resp resp;
		r = request(p, props ? "PUT" : "DELETE", path, cond, body, &resp, call);
		sts_plugin_rest_release(p, &resp);
	} else {
		cond = NULL;
	}
	json_decref(body);
	PLG_FREE_ALL(cond, path, rest, r_esc);
	return r;
}

/*
 * One change. A write refused for its precondition (412) or a conflict
 * (409) is looked at again: when the record set is as wanted, an earlier
 * attempt whose answer was lost did it; otherwise someone else changed it.
 */
static int apply_one(struct sts_plugin *p, const char *zone, const struct sts_rrset_change *ch,
		     struct sts_plugin_call *call)
{
	const struct sts_rrset *rs = ch->rrset;
	bool del = ch->action == STS_CHANGE_DELETE;
	char *rel = NULL, *other = NULL;
	json_t *cur = NULL, *props = NULL;
	int r = rel_name(zone, rs->name, &rel, call);
	if (r == STS_PLUGIN_OK && !del && !az_type_known(rs->type)) {
		sts_plugin_error(call, "the azure plugin cannot write %s record sets", rs->type);
		r = STS_PLUGIN_EUNSUPPORTED;
	}
	if (r == STS_PLUGIN_OK)
		r = get_set(p, zone, rs->type, rel, &cur, call);
	if (r == STS_PLUGIN_OK && !del)
		r = other_types(p, zone, rs->type, rel, &other, call);
	if (r == STS_PLUGIN_OK && other) {
		sts_plugin_error(call, "'%s' holds a %s record set: no %s can be beside it",
				 rs->name, other, rs->type);
		r = STS_PLUGIN_ECONFLICT;
	}
	if (r < 0 || (del && !cur) || (!del && cur && az_rrset_equal(p, rs, cur)))
		goto out;
	if (!del && (r = az_rrset_props(p, rs, cur, &props, call)) < 0)
		goto out;
	r = write_set(p, zone, rs, rel, cur, props, call);
	if (r == STS_PLUGIN_ECONFLICT) {
		json_t *now = NULL;
		if (get_set(p, zone, rs->type, rel, &now, call) == STS_PLUGIN_OK &&
		    (del ? !now : now && az_rrset_equal(p, rs, now)))
			r = STS_PLUGIN_OK;
		else
			sts_plugin_error(call,
					 "the %s record set at '%s' changed while stsctl wrote it: "
					 "not overwritten",
					 rs->type, rs->name);
		json_decref(now);
	}
out:
	json_decref(props);
	json_decref(cur);
	free(other);
	free(rel);
	return r;
}

static int az_apply(struct sts_plugin *p, const char *zone,
		    const struct sts_rrset_change *const *changes, size_t n,
		    struct sts_plugin_call *call)
{
	int r = STS_PLUGIN_OK;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++)
		r = apply_one(p, zone, changes[i], call);
	return r;
}

static int az_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	const struct az *c = sts_plugin_ctx_get(p);
	char *path = NULL;
	if (asprintf(&path, "%s?api-version=%s&$top=%u", c->rg_path, AZ_API_VERSION, c->page_size) <
	    0)
		return STS_PLUGIN_ENOMEM;
	json_t *zones = NULL;
	int r = plg_list_pages(p, &pager, path, "value", &zones, call);
	r = plg_zones_add(p, r, zones, "name", ret);
	free(path);
	return r;
}

/*
 * The service principal gets a token and may list the resource group's DNS
 * zones (Microsoft.Network/dnsZones/read); nothing is changed.
 */
static int az_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	const struct az *c = sts_plugin_ctx_get(p);
	char *path = NULL;
	if (asprintf(&path, "%s?api-version=%s&$top=1", c->rg_path, AZ_API_VERSION) < 0)
		return STS_PLUGIN_ENOMEM;
	struct sts_plugin_rest_resp resp;
	int r = request(p, "GET", path, NULL, NULL, &resp, call);
	sts_plugin_rest_release(p, &resp);
	free(path);
	return r;
}

static void az_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	(void)p;
	ret->batch = false;	  /* one record set per request */
	ret->max_concurrency = 4; /* zones at once: the token cache is shared under a lock */
}

PLG_DNS_API(azure, az,
	    "Azure DNS (Azure Resource Manager, Microsoft Entra ID client "
	    "credentials)",
	    STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_PAGING | STS_PLUGIN_CAP_CREDENTIALS);
