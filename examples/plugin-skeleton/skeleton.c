/* SPDX-License-Identifier: MIT */
/*
 * skeleton: an example out-of-tree DNS provider plugin for a REST API
 * (README.md). It is built against the installed SDK only
 * (<stsctl/plugin.h>, pkg-config stsctl-plugin) and is mostly the mapping
 * of the provider's API onto the plugin ops; the host does the rest:
 *
 *   sts_plugin_rest       JSON in and out, the bearer token header, retries
 *                         with backoff and Retry-After for requests that are
 *                         safe to repeat, HTTP status -> error code with the
 *                         provider's own text kept in the call
 *   sts_plugin_limiter_*  the provider's documented rate limits
 *   sts_plugin_breaker_*  stop hammering a provider that keeps failing
 *   sts_plugin_txt_*      TXT values <-> quoted character-strings (split at
 *                         255 octets, escapes)
 *   sts_plugin_name_*     one spelling of DNS names
 *
 * The API (tests/fakes/skeleton-dns/fakedns.py imitates it):
 *   GET    /zones?name=APEX                 {"zones": [{"id", "name"}], paged}
 *   GET    /zones/ID/records[?name=&type=]  {"records": [RECORD], paged}
 *   POST   /zones/ID/records                RECORD without id
 *   PUT    /zones/ID/records/RID            RECORD
 *   DELETE /zones/ID/records/RID
 * with RECORD {"id", "name" (no trailing dot), "type", "ttl", "content"}, one
 * record per value, TXT content in presentation form, lists paged with
 * ?page=N&per_page=M and "total_pages" in the answer, errors as
 * {"error": {"code", "message"}}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stsctl/plugin.h>

#define MAX_PAGES 1000 /* of one listing: a bound, not a provider limit */

struct skel {
	char *base; /* url without trailing '/' */
	char *auth; /* "Authorization: Bearer ...": wiped at unload */
	size_t auth_len;
	long timeout_ms;
	unsigned per_page;
	struct sts_limiter *limiter;
	struct sts_breaker *breaker;
};

static const struct sts_plugin_setting *const skel_schema[] = {
    STS_SETTING(.key = "url", .type = STS_SETTING_STRING, .required = true,
		.pattern = "https?://[^?#[:space:]]+",
		.pattern_hint = "an http:// or https:// base URL without query",
		.description = "base URL of the API, e.g. https://dns.example.net/v1"),
    STS_SETTING(.key = "token", .type = STS_SETTING_SECRET, .required = true,
		.description = "the API token, sent as a bearer token"),
    STS_SETTING(.key = "per_page", .type = STS_SETTING_INTEGER, .def = "100", .range = true,
		.min = 1, .max = 100, .description = "records per page of a listing"),
    STS_SETTING(.key = "rate_limit", .type = STS_SETTING_STRING, .def = "10/1s, 1200/5m",
		.pattern = "[0-9]+/[0-9]*[smh]( *, *[0-9]+/[0-9]*[smh])*",
		.pattern_hint = "COUNT/WINDOW, ... with WINDOW like 1s, 5m or 1h",
		.description = "the API's request limits, e.g. 10/1s, 1200/5m"),
    STS_SETTING(.key = "timeout", .type = STS_SETTING_INTEGER, .def = "30", .range = true, .min = 1,
		.max = 600, .description = "seconds per HTTP request"),
    NULL,
};

/* ---- instance ---- */

static void skel_unload(struct sts_plugin *p)
{
	struct skel *c = sts_plugin_ctx_get(p);
	if (!c)
		return;
	if (c->auth) {
		explicit_bzero(c->auth, c->auth_len);
		free(c->auth);
	}
	if (c->limiter)
		sts_plugin_limiter_free(p, c->limiter);
	if (c->breaker)
		sts_plugin_breaker_free(p, c->breaker);
	free(c->base);
	free(c);
	sts_plugin_ctx_set(p, NULL);
}

/* "Authorization: Bearer <token>" from the secret setting. */
static int make_auth(struct sts_plugin *p, struct skel *c, const char *ref,
		     struct sts_plugin_call *call)
{
	static const char pre[] = "Authorization: Bearer ";
	struct sts_secret *s = NULL;
	int r = sts_plugin_secret(p, ref, &s, call);
	if (r < 0)
		return r; /* the host said why */
	const char *v = sts_plugin_secret_value(p, s);
	size_t n = sts_plugin_secret_len(p, s);
	if (n == 0 || strlen(v) != n || strpbrk(v, "\r\n")) {
		sts_plugin_secret_free(p, s);
		sts_plugin_error(call, "the token of 'token' is empty or holds a line break");
		return STS_PLUGIN_ESECRET;
	}
	c->auth_len = sizeof(pre) + n;
	c->auth = malloc(c->auth_len);
	if (c->auth) {
		memcpy(c->auth, pre, sizeof(pre) - 1);
		memcpy(c->auth + sizeof(pre) - 1, v, n + 1);
	}
	sts_plugin_secret_free(p, s);
	return c->auth ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

static int skel_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	struct skel *c = sts_plugin_ctx_new(p, sizeof(*c));
	if (!c)
		return STS_PLUGIN_ENOMEM;
	const char *url = json_string_value(json_object_get(settings, "url"));
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	c->per_page = (unsigned)json_integer_value(json_object_get(settings, "per_page"));
	c->timeout_ms = (long)json_integer_value(json_object_get(settings, "timeout")) * 1000L;
	int r = (c->base = strndup(url, n)) ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK)
		r = make_auth(p, c, json_string_value(json_object_get(settings, "token")), call);
	if (r == STS_PLUGIN_OK) {
		const char *spec = json_string_value(json_object_get(settings, "rate_limit"));
		r = sts_plugin_limiter_new(p, spec, &c->limiter);
		if (r < 0)
			sts_plugin_error(call, "cannot make a rate limiter of '%s'", spec);
	}
	if (r == STS_PLUGIN_OK)
		r = sts_plugin_breaker_new(p, NULL, &c->breaker);
	if (r < 0)
		skel_unload(p);
	return r;
}

/* ---- requests ---- */

/* One JSON request; release *resp afterwards whatever the result. */
static int request(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
		   bool idempotent, struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call)
{
	const struct skel *c = sts_plugin_ctx_get(p);
	struct sts_plugin_rest_req req = {
	    .struct_size = sizeof(req),
	    .method = method,
	    .base = c->base,
	    .path = path,
	    .auth = c->auth,
	    .body = body,
	    .idempotent = idempotent,
	    .error_pointer = "/error/message",
	    .limiter = c->limiter,
	    .breaker = c->breaker,
	    .timeout_ms = c->timeout_ms,
	};
	return sts_plugin_rest(p, &req, resp, call);
}

/* A request whose answer is not needed. */
static int send_only(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
		     bool idempotent, struct sts_plugin_call *call)
{
	struct sts_plugin_rest_resp resp;
	int r = request(p, method, path, body, idempotent, &resp, call);
	sts_plugin_rest_release(p, &resp);
	return r;
}

/*
 * Every page of the listing at path (which may hold a query already): the
 * items of each answer's array `key`, in order, in *ret (a new array).
 */
static int get_all(struct sts_plugin *p, const char *path, const char *key, json_t **ret,
		   struct sts_plugin_call *call)
{
	const struct skel *c = sts_plugin_ctx_get(p);
	json_t *all = json_array();
	if (!all)
		return STS_PLUGIN_ENOMEM;
	char sep = strchr(path, '?') ? '&' : '?';
	int r = STS_PLUGIN_OK;
	for (unsigned page = 1;; page++) {
		if (page > MAX_PAGES) {
			sts_plugin_error(call, "more than %d pages of %s", MAX_PAGES, key);
			r = STS_PLUGIN_ETOOLARGE;
			break;
		}
		char *url;
		if (asprintf(&url, "%s%cpage=%u&per_page=%u", path, sep, page, c->per_page) < 0) {
			r = STS_PLUGIN_ENOMEM;
			break;
		}
		struct sts_plugin_rest_resp resp;
		r = request(p, "GET", url, NULL, true, &resp, call);
		free(url);
		json_t *items = r < 0 ? NULL : json_object_get(resp.json, key);
		json_int_t total = json_integer_value(json_object_get(resp.json, "total_pages"));
		if (r == STS_PLUGIN_OK && !json_is_array(items)) {
			sts_plugin_error(call, "an answer without a '%s' list", key);
			r = STS_PLUGIN_EPARSE;
		}
		if (r == STS_PLUGIN_OK && json_array_extend(all, items) < 0)
			r = STS_PLUGIN_ENOMEM;
		size_t got = json_array_size(items);
		sts_plugin_rest_release(p, &resp); /* items went with it */
		if (r < 0 || (json_int_t)page >= total || got == 0)
			break;
	}
	if (r < 0)
		json_decref(all);
	else
		*ret = all;
	return r;
}

/* ---- values ---- */

/* A host-allocated string of len octets as our own malloc'd copy (NULL: ENOMEM). */
static char *own(struct sts_plugin *p, char *host_str, size_t len)
{
	char *s = malloc(len + 1);
	if (s) {
		memcpy(s, host_str, len);
		s[len] = '\0';
	}
	sts_plugin_free(p, host_str);
	return s;
}

/* name in one spelling (STS_NAME_DOT or STS_NAME_NODOT), malloc'd (free()). */
static int norm(struct sts_plugin *p, const char *name, unsigned flags, char **ret)
{
	char *n = NULL;
	int r = sts_plugin_name_normalize(p, name, flags, &n);
	if (r < 0)
		return r;
	*ret = own(p, n, strlen(n));
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/*
 * A record's value as the engine sees it (struct sts_rrset): TXT content
 * unquoted, a CNAME target absolute, other types as they are. *ret is
 * malloc'd (free()), *ret_len octets long.
 */
static int record_value(struct sts_plugin *p, const json_t *rec, char **ret, size_t *ret_len,
			struct sts_plugin_call *call)
{
	const char *type = json_string_value(json_object_get(rec, "type"));
	const char *content = json_string_value(json_object_get(rec, "content"));
	if (!type || !content) {
		sts_plugin_error(call, "a record without type or content");
		return STS_PLUGIN_EPARSE;
	}
	char *v = NULL;
	size_t len = strlen(content);
	int r = STS_PLUGIN_OK;
	if (strcmp(type, "TXT") == 0) {
		r = sts_plugin_txt_unquote(p, content, strlen(content), &v, &len);
		if (r < 0)
			sts_plugin_error(call, "unreadable TXT content '%s'", content);
	} else if (strcmp(type, "CNAME") == 0) {
		r = norm(p, content, STS_NAME_DOT, ret);
		*ret_len = r < 0 ? 0 : strlen(*ret);
		return r;
	} else {
		*ret = strdup(content);
		*ret_len = len;
		return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	}
	if (r < 0)
		return r;
	*ret = own(p, v, len);
	*ret_len = len;
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* The API's content for value (len octets) of an rrset of type; free(). */
static int record_content(struct sts_plugin *p, const char *type, const char *value, size_t len,
			  char **ret)
{
	if (strcmp(type, "TXT") != 0) {
		*ret = strdup(value);
		return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	}
	char *q = NULL;
	int r = sts_plugin_txt_quote(p, value, len, &q);
	if (r < 0)
		return r;
	*ret = own(p, q, strlen(q));
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* The owner name of a record, absolute (ends in '.'); free(). */
static int record_name(struct sts_plugin *p, const json_t *rec, char **ret)
{
	const char *name = json_string_value(json_object_get(rec, "name"));
	return name ? norm(p, name, STS_NAME_DOT, ret) : STS_PLUGIN_EPARSE;
}

/* ---- dns ops ---- */

/* The API's id of zone (apex, no trailing dot): ENOENT when not listed. */
static int zone_id(struct sts_plugin *p, const char *zone, char **ret, struct sts_plugin_call *call)
{
	char *path, *name = NULL;
	int r = norm(p, zone, STS_NAME_NODOT, &name);
	if (r < 0)
		return r;
	if (asprintf(&path, "/zones?name=%s", name) < 0) {
		free(name);
		return STS_PLUGIN_ENOMEM;
	}
	json_t *zones = NULL;
	r = get_all(p, path, "zones", &zones, call);
	free(path);
	const char *id = json_string_value(json_object_get(json_array_get(zones, 0), "id"));
	if (r == STS_PLUGIN_OK && !id) {
		sts_plugin_error(call, "zone '%s' is not in this account", name);
		r = STS_PLUGIN_ENOENT;
	}
	if (r == STS_PLUGIN_OK && !(*ret = strdup(id)))
		r = STS_PLUGIN_ENOMEM;
	json_decref(zones);
	free(name);
	return r;
}

static const char *type_of(const json_t *recs, size_t i)
{
	return json_string_value(json_object_get(json_array_get(recs, i), "type"));
}

/* Add record i of recs and every later one of its name and type as one rrset. */
static int add_rrset(struct sts_plugin *p, const json_t *recs, char *const *owners, size_t i,
		     struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	const json_t *first = json_array_get(recs, i);
	json_int_t ttl = json_integer_value(json_object_get(first, "ttl"));
	struct sts_rrset *rr =
	    sts_plugin_rrset_add(p, ret, owners[i], type_of(recs, i), (uint32_t)ttl);
	if (!rr)
		return STS_PLUGIN_ENOMEM;
	for (size_t j = i; j < json_array_size(recs); j++) {
		if (strcmp(owners[j], owners[i]) != 0 ||
		    strcmp(type_of(recs, j), type_of(recs, i)) != 0)
			continue;
		char *v = NULL;
		size_t len = 0;
		int r = record_value(p, json_array_get(recs, j), &v, &len, call);
		if (r == STS_PLUGIN_OK)
			r = sts_plugin_rrset_add_value(p, rr, v, len);
		free(v);
		if (r < 0)
			return r;
	}
	return STS_PLUGIN_OK;
}

/* Is record i the first of its name and type in recs, at one of the n names? */
static bool starts_rrset(const json_t *recs, char *const *owners, size_t i,
			 const char *const *names, size_t n)
{
	size_t k = 0;
	while (k < n && strcmp(names[k], owners[i]) != 0)
		k++;
	if (k == n)
		return false;
	for (size_t j = 0; j < i; j++)
		if (strcmp(owners[j], owners[i]) == 0 &&
		    strcmp(type_of(recs, j), type_of(recs, i)) == 0)
			return false;
	return true;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* The absolute owner name of each record of recs, in order. */
static int record_names(struct sts_plugin *p, const json_t *recs, char ***ret,
			struct sts_plugin_call *call)
{
	size_t n = json_array_size(recs);
	char **names = calloc(n + 1, sizeof(*names));
	if (!names)
		return STS_PLUGIN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *rec = json_array_get(recs, i);
		int r = record_name(p, rec, &names[i]);
		if (r == STS_PLUGIN_OK && !json_is_string(json_object_get(rec, "type"))) {
			sts_plugin_error(call, "a record without a type");
			r = STS_PLUGIN_EPARSE;
		}
		if (r < 0) {
			free_names(names, n);
			return r;
		}
	}
	*ret = names;
	return STS_PLUGIN_OK;
}

/* The zone's records are listed once (every page) and picked by name. */
static int skel_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		     struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	char *zid = NULL, *path = NULL, **owners = NULL;
	json_t *recs = NULL;
	int r = zone_id(p, zone, &zid, call);
	if (r == STS_PLUGIN_OK && asprintf(&path, "/zones/%s/records", zid) < 0) {
		path = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK)
		r = get_all(p, path, "records", &recs, call);
	if (r == STS_PLUGIN_OK)
		r = record_names(p, recs, &owners, call);
	for (size_t i = 0; r == STS_PLUGIN_OK && i < json_array_size(recs); i++)
		if (starts_rrset(recs, owners, i, names, n))
			r = add_rrset(p, recs, owners, i, ret, call);
	free_names(owners, json_array_size(recs));
	json_decref(recs);
	free(path);
	free(zid);
	return r;
}

/* POST a new record, or PUT the one with id rid. */
static int put_record(struct sts_plugin *p, const char *records, const char *rid,
		      const struct sts_rrset *rs, const char *value, struct sts_plugin_call *call)
{
	char *name = NULL, *content = NULL, *path = NULL;
	int r = norm(p, rs->name, STS_NAME_NODOT, &name);
	if (r == STS_PLUGIN_OK)
		r = record_content(p, rs->type, value, strlen(value), &content);
	json_t *body = r < 0 ? NULL
			     : json_pack("{s:s, s:s, s:I, s:s}", "name", name, "type", rs->type,
					 "ttl", (json_int_t)rs->ttl, "content", content);
	if (r == STS_PLUGIN_OK && !body)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && rid && asprintf(&path, "%s/%s", records, rid) < 0) {
		path = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	/* a POST repeated after a lost answer would add a second record */
	if (r == STS_PLUGIN_OK)
		r = rid ? send_only(p, "PUT", path, body, true, call)
			: send_only(p, "POST", records, body, false, call);
	json_decref(body);
	free(path);
	free(content);
	free(name);
	return r;
}

static int delete_record(struct sts_plugin *p, const char *records, const char *rid,
			 struct sts_plugin_call *call)
{
	char *path;
	if (asprintf(&path, "%s/%s", records, rid) < 0)
		return STS_PLUGIN_ENOMEM;
	int r = send_only(p, "DELETE", path, NULL, true, call);
	free(path);
	return r == STS_PLUGIN_ENOENT ? STS_PLUGIN_OK : r; /* gone already: a repeat */
}

/*
 * One change, value by value. Values in both the rrset and a record are
 * left alone (a foreign TXT keeps its record, id and TTL) unless the
 * rrset's TTL changed. A new value takes over the record of a value that
 * goes (one PUT, so a new policy id replaces the old one in one write: no
 * moment with none or both), else it is created; records left over are
 * deleted last.
 */
static int apply_one(struct sts_plugin *p, const char *records, const struct sts_rrset_change *ch,
		     struct sts_plugin_call *call)
{
	const struct sts_rrset *rs = ch->rrset;
	char *name = NULL, *path = NULL;
	json_t *have = NULL;
	int r = norm(p, rs->name, STS_NAME_NODOT, &name);
	if (r == STS_PLUGIN_OK &&
	    asprintf(&path, "%s?name=%s&type=%s", records, name, rs->type) < 0) {
		path = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK)
		r = get_all(p, path, "records", &have, call);
	size_t nv = ch->action == STS_CHANGE_DELETE ? 0 : rs->n_values, n_stale = 0, s = 0;
	bool *kept = calloc(nv + 1, sizeof(*kept));
	const char **stale = calloc(json_array_size(have) + 1, sizeof(*stale)); /* ids, in have */
	if (r == STS_PLUGIN_OK && (!kept || !stale))
		r = STS_PLUGIN_ENOMEM;
	size_t i;
	json_t *rec;
	json_array_foreach(have, i, rec)
	{
		if (r < 0)
			break;
		const char *rid = json_string_value(json_object_get(rec, "id"));
		char *v = NULL;
		size_t len = 0, k = nv;
		if (!rid) {
			sts_plugin_error(call, "a record without an id");
			r = STS_PLUGIN_EPARSE;
			break;
		}
		if ((r = record_value(p, rec, &v, &len, call)) < 0)
			break;
		for (k = 0; k < nv; k++)
			if (!kept[k] && strlen(rs->values[k]) == len &&
			    memcmp(rs->values[k], v, len) == 0)
				break;
		free(v);
		if (k == nv) {
			stale[n_stale++] = rid;
			continue;
		}
		kept[k] = true;
		if (json_integer_value(json_object_get(rec, "ttl")) != (json_int_t)rs->ttl)
			r = put_record(p, records, rid, rs, rs->values[k], call);
	}
	for (size_t k = 0; r == STS_PLUGIN_OK && k < nv; k++)
		if (!kept[k])
			r = put_record(p, records, s < n_stale ? stale[s++] : NULL, rs,
				       rs->values[k], call);
	for (; r == STS_PLUGIN_OK && s < n_stale; s++)
		r = delete_record(p, records, stale[s], call);
	free(stale);
	free(kept);
	json_decref(have);
	free(path);
	free(name);
	return r;
}

static int skel_apply(struct sts_plugin *p, const char *zone,
		      const struct sts_rrset_change *const *changes, size_t n,
		      struct sts_plugin_call *call)
{
	char *zid = NULL, *records = NULL;
	int r = zone_id(p, zone, &zid, call);
	if (r == STS_PLUGIN_OK && asprintf(&records, "/zones/%s/records", zid) < 0) {
		records = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++)
		r = apply_one(p, records, changes[i], call);
	free(records);
	free(zid);
	return r;
}

static int skel_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	json_t *zones = NULL;
	int r = get_all(p, "/zones", "zones", &zones, call);
	size_t i;
	json_t *z;
	json_array_foreach(zones, i, z)
	{
		const char *name = json_string_value(json_object_get(z, "name"));
		if (r == STS_PLUGIN_OK && name)
			r = sts_plugin_zone_add(p, ret, name);
	}
	json_decref(zones);
	return r;
}

/* The token works when the zones can be listed; nothing is changed. */
static int skel_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	struct sts_plugin_rest_resp resp;
	int r = request(p, "GET", "/zones?per_page=1", NULL, true, &resp, call);
	sts_plugin_rest_release(p, &resp);
	return r;
}

static void skel_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	(void)p;
	ret->batch = false;
	ret->max_concurrency = 1;
}

STS_PLUGIN_DNS_OPS(skel_dns, skel_read, skel_apply, skel_caps, skel_zones);

STS_PLUGIN_API(skeleton, STS_PLUGIN_DNS,
	       .description = "example REST DNS provider (examples/plugin-skeleton)",
	       .capabilities = STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_PAGING |
			       STS_PLUGIN_CAP_CREDENTIALS,
	       .schema = skel_schema, .load = skel_load, .unload = skel_unload, .probe = skel_probe,
	       .dns = &skel_dns);
