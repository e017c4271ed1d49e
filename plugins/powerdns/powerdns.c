/* SPDX-License-Identifier: MIT */
/*
 * powerdns: the PowerDNS Authoritative HTTP API.
 *   read   GET   {url}/api/v1/servers/{server_id}/zones/{zone}.   (one per zone)
 *   apply  PATCH the same URL with every change of the zone in one body:
 *          changetype REPLACE with the complete rrset, DELETE when it empties
 * The API key (a secret) goes in X-API-Key and is never logged. Requests go
 * through the host's HTTP client (keep-alive, TLS verified, retries with
 * backoff honouring Retry-After on 429/503). A PATCH whose outcome is
 * unknown (500/502/504, a reset or a timeout after it was sent) is sent
 * again up to `retries` times: REPLACE and DELETE set the final state, so a
 * repeat cannot duplicate anything. After three failed operations in a row
 * the provider counts as down and every later operation fails at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pdns.h"

#define ZONE_MAX_BYTES (256u * 1024u * 1024u) /* a GET of a whole zone */
#define DOWN_AFTER     3u		      /* failed operations in a row */
#define BACKOFF_MS     250L
#define BACKOFF_MAX_MS 4000L

struct pdns {
	char *url;     /* as configured, without trailing '/' (for messages) */
	char *base;    /* url + /api/v1/servers/{server_id}/zones/ */
	char *server;  /* server_id */
	char *key_hdr; /* "X-API-Key: ...": wiped at unload */
	size_t key_hdr_len;
	long timeout_ms;
	unsigned retries;
	unsigned concurrency;
	pthread_mutex_t mu; /* zones, fails, down */
	struct pdns_zone **zones;
	size_t n_zones;
	unsigned fails;
	char *down; /* why the provider counts as down */
};

static const struct sts_plugin_setting *const pdns_schema[] = {
    STS_SETTING(.key = "url", .type = STS_SETTING_STRING, .required = true,
		.description = "base URL of the PowerDNS webserver, e.g. http://127.0.0.1:8081 "
			       "(/api/v1 is added)",
		.pattern = "https?://[^?#[:space:]]+",
		.pattern_hint = "an http:// or https:// base URL without query"),
    STS_SETTING(.key = "api_key", .type = STS_SETTING_SECRET, .required = true,
		.description = "the API key (X-API-Key)"),
    STS_SETTING(.key = "server_id", .type = STS_SETTING_STRING, .def = "localhost",
		.description = "the server id in the API path", .pattern = "[A-Za-z0-9._-]+",
		.pattern_hint = "letters, digits, '.', '-' and '_' only"),
    STS_SETTING(.key = "timeout", .type = STS_SETTING_INTEGER, .def = "30",
		.description = "seconds per HTTP request", .range = true, .min = 1, .max = 600),
    STS_SETTING(.key = "retries", .type = STS_SETTING_INTEGER, .def = "2",
		.description = "extra attempts of a PATCH whose outcome is unknown (500/502/504, "
			       "reset, timeout)",
		.range = true, .min = 0, .max = 10),
    STS_SETTING(.key = "max_concurrency", .type = STS_SETTING_INTEGER, .def = "1",
		.description = "zones updated at once (keep 1 with the gsqlite3 backend)",
		.range = true, .min = 1, .max = 64),
    NULL,
};

static void pdns_unload(struct sts_plugin *p)
{
	struct pdns *c = sts_plugin_ctx_get(p);
	if (!c)
		return;
	if (c->key_hdr) {
		explicit_bzero(c->key_hdr, c->key_hdr_len);
		free(c->key_hdr);
	}
	for (size_t i = 0; i < c->n_zones; i++)
		pdns_zone_free(c->zones[i]);
	free(c->zones);
	free(c->url);
	free(c->base);
	free(c->server);
	free(c->down);
	pthread_mutex_destroy(&c->mu);
	free(c);
	sts_plugin_ctx_set(p, NULL);
}

static int pdns_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	struct pdns *c = sts_plugin_ctx_new(p, sizeof(*c));
	if (!c)
		return STS_PLUGIN_ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	const char *url = json_string_value(json_object_get(settings, "url"));
	const char *server = json_string_value(json_object_get(settings, "server_id"));
	c->timeout_ms = (long)json_integer_value(json_object_get(settings, "timeout")) * 1000L;
	c->retries = (unsigned)json_integer_value(json_object_get(settings, "retries"));
	c->concurrency = (unsigned)json_integer_value(json_object_get(settings, "max_concurrency"));
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	c->url = strndup(url, n);
	c->server = strdup(server);
	if (!c->url || !c->server ||
	    asprintf(&c->base, "%s/api/v1/servers/%s/zones", c->url, server) < 0) {
		c->base = NULL;
		pdns_unload(p);
		return STS_PLUGIN_ENOMEM;
	}
	struct sts_secret *key = NULL;
	int r = sts_plugin_secret(p, json_string_value(json_object_get(settings, "api_key")), &key,
				  call);
	if (r < 0) {
		pdns_unload(p); /* the host recorded why */
		return r;
	}
	const char *kv = sts_plugin_secret_value(p, key);
	size_t kl = sts_plugin_secret_len(p, key);
	if (kl == 0 || memchr(kv, '\n', kl) || memchr(kv, '\r', kl) || strlen(kv) != kl) {
		sts_plugin_secret_free(p, key);
		sts_plugin_error(call, "the API key of 'api_key' is empty or holds a line break");
		pdns_unload(p);
		return STS_PLUGIN_ESECRET;
	}
	c->key_hdr_len = kl + 12;
	c->key_hdr = malloc(c->key_hdr_len);
	if (c->key_hdr) {
		memcpy(c->key_hdr, "X-API-Key: ", 11);
		memcpy(c->key_hdr + 11, kv, kl);
		c->key_hdr[11 + kl] = '\0';
	}
	sts_plugin_secret_free(p, key);
	if (!c->key_hdr) {
		pdns_unload(p);
		return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}

/* ---- HTTP ---- */

static const char *err_text(int r)
{
	switch (r) {
	case STS_PLUGIN_ETIMEOUT:
		return "timed out";
	case STS_PLUGIN_ETLS:
		return "TLS handshake or certificate failure";
	case STS_PLUGIN_ETOOLARGE:
		return "response too large";
	case STS_PLUGIN_ENOMEM:
		return "out of memory";
	case STS_PLUGIN_EINVAL:
		return "invalid URL";
	default:
		return "network error";
	}
}

/* PowerDNS's own error text: the JSON "error" member, else the body (trimmed, printable). */
static void api_error(const struct sts_plugin_http_resp *resp, char *out, size_t size)
{
	const char *body = resp->body;
	json_t *j = json_loads(body, JSON_DISABLE_EOF_CHECK, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));
	size_t k = 0;
	for (const char *s = e ? e : body; *s && k + 1 < size && k < 300; s++)
		if ((unsigned char)*s >= 0x20 && *s != 0x7f)
			out[k++] = *s;
	while (k && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	json_decref(j);
}

static bool unavailable(int r, long status)
{
	return r == STS_PLUGIN_ENET || r == STS_PLUGIN_ETIMEOUT || r == STS_PLUGIN_ETLS ||
	       (r == STS_PLUGIN_OK && (status == 429 || status >= 500));
}

/* Count consecutive failures; after DOWN_AFTER the provider is down. */
static void note(struct pdns *c, bool failed, const char *why)
{
	pthread_mutex_lock(&c->mu);
	if (!failed) {
		c->fails = 0;
	} else if (++c->fails >= DOWN_AFTER && !c->down) {
		c->down = strdup(why);
	}
	pthread_mutex_unlock(&c->mu);
}

static int check_down(struct pdns *c, struct sts_plugin_call *call)
{
	int r = STS_PLUGIN_OK;
	pthread_mutex_lock(&c->mu);
	if (c->down) {
		sts_plugin_error(
		    call,
		    "PowerDNS at '%s' is down (%u failures in a row, last: %s), not trying again",
		    c->url, c->fails, c->down);
		r = STS_PLUGIN_EPROVIDER;
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * One API call. GET relies on the host's retries; a PATCH is repeated here
 * while its outcome is unknown (see the top of the file). On an HTTP status
 * other than 2xx or a transport failure the error is mapped and recorded
 * with sts_plugin_error(). resp is released by the caller either way.
 */
static int api_call(struct sts_plugin *p, const char *method, const char *zone_dot,
		    const char *body, size_t len, struct sts_plugin_http_resp *resp,
		    struct sts_plugin_call *call)
{
	struct pdns *c = sts_plugin_ctx_get(p);
	char *url = NULL;
	int r = check_down(c, call);
	if (r < 0) {
		memset(resp, 0, sizeof(*resp));
		return r;
	}
	if (asprintf(&url, "%s%s%s", c->base, *zone_dot ? "/" : "", zone_dot) < 0) {
		memset(resp, 0, sizeof(*resp));
		return STS_PLUGIN_ENOMEM;
	}
	const char *hdrs[] = {c->key_hdr, "Accept: application/json",
			      body ? "Content-Type: application/json" : NULL, NULL};
	struct sts_plugin_http_req req = {
	    .struct_size = sizeof(req),
	    .method = method,
	    .url = url,
	    .headers = hdrs,
	    .body = body,
	    .body_len = len,
	    .timeout_ms = c->timeout_ms,
	    .max_response = body ? 1u << 20 : ZONE_MAX_BYTES,
	};
	bool repeat = body != NULL;
	long start = now_ms(), backoff = BACKOFF_MS;
	unsigned sent = 0;
	for (unsigned extra = 0;; extra++) {
		r = sts_plugin_http(p, &req, resp, call);
		sent += resp->attempts;
		bool unknown =
		    r == STS_PLUGIN_ETIMEOUT || (r == STS_PLUGIN_ENET && resp->attempts) ||
		    (r == STS_PLUGIN_OK &&
		     (resp->status == 500 || resp->status == 502 || resp->status == 504));
		if (!repeat || !unknown || extra >= c->retries ||
		    now_ms() - start + backoff > 2 * c->timeout_ms * (long)(c->retries + 1))
			break;
		sts_plugin_log(p, STS_PLOG_DEBUG, "%s zone '%s': %s, sending it again", method,
			       zone_dot, r < 0 ? err_text(r) : "HTTP 5xx");
		sts_plugin_http_release(p, resp);
		sleep_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	char why[400];
	if (r < 0) {
		snprintf(why, sizeof(why), "%s", err_text(r));
		sts_plugin_error(call, "cannot reach PowerDNS at '%s': %s (%u attempts)", c->url,
				 why, sent);
		note(c, unavailable(r, 0), why);
		goto out;
	}
	long st = resp->status;
	snprintf(why, sizeof(why), "HTTP %ld", st);
	note(c, unavailable(r, st), why);
	if (st >= 200 && st < 300)
		goto out;
	api_error(resp, why, sizeof(why));
	if (st == 401 || st == 403) {
		sts_plugin_error(
		    call, "PowerDNS at '%s' rejected the API key (HTTP %ld): check 'api_key'",
		    c->url, st);
		r = STS_PLUGIN_EAUTH;
	} else if (st == 404) {
		sts_plugin_error(call,
				 "zone '%s' not found on PowerDNS server '%s' at '%s' (HTTP 404)",
				 zone_dot, c->server, c->url);
		r = STS_PLUGIN_ENOENT;
	} else if (st == 422 || st == 400) {
		sts_plugin_error(call, "PowerDNS refused the change to zone '%s' (HTTP %ld): %s",
				 zone_dot, st, why[0] ? why : "no reason given");
		r = strstr(why, "onflicts with") ? STS_PLUGIN_ECONFLICT : STS_PLUGIN_EPROVIDER;
	} else {
		sts_plugin_error(
		    call,
		    "PowerDNS at '%s' answered HTTP %ld to %s zone '%s' after %u attempts%s%s",
		    c->url, st, method, zone_dot, sent, why[0] ? ": " : "", why);
		r = STS_PLUGIN_EPROVIDER;
	}
out:
	free(url);
	return r;
}

/* ---- zones ---- */

static int zone_dot_of(const char *zone, char **ret, struct sts_plugin_call *call)
{
	if (!pdns_zone_ok(zone)) {
		sts_plugin_error(call, "invalid zone name '%s'", zone);
		return STS_PLUGIN_EINVAL;
	}
	size_t n = strlen(zone);
	if (asprintf(ret, "%s%s", zone, n && zone[n - 1] == '.' ? "" : ".") < 0)
		return STS_PLUGIN_ENOMEM;
	for (char *s = *ret; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
	return STS_PLUGIN_OK;
}

static int name_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/*
 * GET {base}/{zone_dot} ("" = the zone list) and parse it into *ret: an
 * object with an array member `member`, or (member NULL) an array.
 */
static int get_json(struct sts_plugin *p, const char *zone_dot, const char *member, json_t **ret,
		    struct sts_plugin_call *call)
{
	struct sts_plugin_http_resp resp;
	json_error_t je;
	*ret = NULL;
	int r = api_call(p, "GET", zone_dot, NULL, 0, &resp, call);
	json_t *root = r < 0 ? NULL : json_loadb(resp.body, resp.body_len, 0, &je);
	sts_plugin_http_release(p, &resp);
	if (r < 0)
		return r;
	if (!json_is_array(member ? json_object_get(root, member) : root)) {
		sts_plugin_error(call, "%s%s%sPowerDNS sent no %s (%s)", *zone_dot ? "zone '" : "",
				 zone_dot, *zone_dot ? "': " : "", member ? member : "zone list",
				 !root	  ? je.text
				 : member ? "no 'rrsets' array"
					  : "not a JSON array");
		json_decref(root);
		return STS_PLUGIN_EPROVIDER;
	}
	*ret = root;
	return STS_PLUGIN_OK;
}

/* The records of one rrset into s, disabled ones included; a value its type
 * does not parse is kept verbatim: apply() sends it back as read. */
static int add_records(struct sts_plugin *p, struct pdns_rrset *s, const char *type,
		       const json_t *recs)
{
	size_t k;
	json_t *rec;
	json_array_foreach(recs, k, rec)
	{
		const char *content = json_string_value(json_object_get(rec, "content"));
		if (!content)
			continue;
		char *v = NULL;
		size_t vl = 0;
		int r = pdns_value_of(p, type, content, &v, &vl);
		if (r == STS_PLUGIN_EPARSE)
			r = pdns_value_of(p, "", content, &v, &vl);
		if (r == STS_PLUGIN_OK)
			r = pdns_rrset_add(s, content, v, vl,
					   json_is_true(json_object_get(rec, "disabled")));
		free(v);
		if (r < 0)
			return r;
	}
	return STS_PLUGIN_OK;
}

/*
 * GET the zone; the rrsets at the names go into a new cache entry (all of
 * them, disabled records included). names == NULL: every rrset.
 */
static int fetch(struct sts_plugin *p, const char *zone_dot, const char *const *names, size_t n,
		 struct pdns_zone **ret, struct sts_plugin_call *call)
{
	struct pdns_zone *z = NULL;
	const char **sorted = NULL;
	json_t *root = NULL;
	int r = get_json(p, zone_dot, "rrsets", &root, call);
	if (r < 0)
		goto out;
	json_t *rrsets = json_object_get(root, "rrsets");
	if (n) {
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted) {
			r = STS_PLUGIN_ENOMEM;
			goto out;
		}
		memcpy(sorted, names, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), name_cmp);
	}
	if (!(z = pdns_zone_new(zone_dot))) {
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	size_t i;
	json_t *rs;
	json_array_foreach(rrsets, i, rs)
	{
		const char *name = json_string_value(json_object_get(rs, "name"));
		const char *type = json_string_value(json_object_get(rs, "type"));
		json_t *recs = json_object_get(rs, "records");
		if (!name || !type || !json_is_array(recs))
			continue;
		if (names && (!n || !bsearch(&name, sorted, n, sizeof(*sorted), name_cmp)))
			continue;
		json_int_t ttl = json_integer_value(json_object_get(rs, "ttl"));
		struct pdns_rrset *s =
		    pdns_zone_add(z, name, type, ttl < 0 || ttl > UINT32_MAX ? 0 : (uint32_t)ttl);
		if (!s) {
			r = STS_PLUGIN_ENOMEM;
			goto out;
		}
		if ((r = add_records(p, s, type, recs)) < 0)
			goto out;
	}
	pdns_zone_sort(z);
	*ret = z;
	z = NULL;
out:
	pdns_zone_free(z);
	free(sorted);
	json_decref(root);
	return r;
}

/* Replace the cached zone (takes z). */
static int cache_set(struct pdns *c, struct pdns_zone *z)
{
	int r = STS_PLUGIN_OK;
	pthread_mutex_lock(&c->mu);
	size_t i = 0;
	while (i < c->n_zones && strcmp(c->zones[i]->name, z->name) != 0)
		i++;
	if (i < c->n_zones) {
		pdns_zone_free(c->zones[i]);
		c->zones[i] = z;
	} else {
		struct pdns_zone **v = realloc(c->zones, (c->n_zones + 1) * sizeof(*v));
		if (v) {
			c->zones = v;
			c->zones[c->n_zones++] = z;
		} else {
			pdns_zone_free(z);
			r = STS_PLUGIN_ENOMEM;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

/* The cached zone, or NULL. One thread works on a zone at a time (the engine's groups). */
static struct pdns_zone *cache_get(struct pdns *c, const char *zone_dot)
{
	struct pdns_zone *z = NULL;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n_zones && !z; i++)
		if (strcmp(c->zones[i]->name, zone_dot) == 0)
			z = c->zones[i];
	pthread_mutex_unlock(&c->mu);
	return z;
}

static int pdns_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		     struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	struct pdns *c = sts_plugin_ctx_get(p);
	char *zone_dot = NULL;
	struct pdns_zone *z = NULL;
	int r = zone_dot_of(zone, &zone_dot, call);
	if (r < 0)
		return r;
	if ((r = fetch(p, zone_dot, names, n, &z, call)) < 0)
		goto out;
	size_t found = 0;
	for (size_t i = 0; i < z->n && r == STS_PLUGIN_OK; i++) {
		const struct pdns_rrset *s = &z->v[i];
		struct sts_rrset *rr = NULL;
		for (size_t k = 0; k < s->n && r == STS_PLUGIN_OK; k++) {
			if (s->v[k].disabled)
				continue; /* not served: not part of the published state */
			if (!rr && !(rr = sts_plugin_rrset_add(p, ret, s->name, s->type, s->ttl)))
				r = STS_PLUGIN_ENOMEM;
			else
				r = sts_plugin_rrset_add_value(p, rr, s->v[k].value, s->v[k].vlen);
		}
		found += rr != NULL;
	}
	if (r < 0)
		goto out;
	sts_plugin_log(p, STS_PLOG_DEBUG, "zone '%s': %zu rrsets at %zu names", zone_dot, found, n);
	r = cache_set(c, z);
	z = NULL;
out:
	pdns_zone_free(z);
	free(zone_dot);
	return r;
}

/* ---- apply ---- */

static json_t *record(const char *content, bool disabled)
{
	return json_pack("{s:s, s:b}", "content", content, "disabled", disabled);
}

/*
 * The rrset entry of one change, and into *ret_new what the zone holds at
 * (name, type) afterwards (for the cache). Values already there keep their
 * content byte for byte; disabled records are kept.
 */
static int change_json(struct sts_plugin *p, struct pdns_zone *z, const struct sts_rrset_change *ch,
		       json_t *rrsets, struct pdns_rrset *ret_new)
{
	const struct sts_rrset *rs = ch->rrset;
	struct pdns_rrset *cur = pdns_zone_find(z, rs->name, rs->type);
	size_t n_values = ch->action == STS_CHANGE_DELETE ? 0 : rs->n_values;
	json_t *recs = json_array();
	int r = recs ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	ret_new->ttl = rs->ttl;
	for (size_t i = 0; i < n_values && r == STS_PLUGIN_OK; i++) {
		const char *v = rs->values[i];
		const struct pdns_rec *same = NULL;
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = strcmp(rs->values[k], v) == 0;
		for (size_t k = 0; cur && k < cur->n && !same; k++)
			if (!cur->v[k].disabled && strcmp(cur->v[k].value, v) == 0)
				same = &cur->v[k];
		if (dup)
			continue;
		char *content = NULL;
		if (same)
			content = strdup(same->content);
		else if ((r = pdns_content_of(p, rs->type, v, &content)) < 0)
			break;
		if (!content)
			r = STS_PLUGIN_ENOMEM;
		if (r == STS_PLUGIN_OK && json_array_append_new(recs, record(content, false)) < 0)
			r = STS_PLUGIN_ENOMEM;
		if (r == STS_PLUGIN_OK)
			r = pdns_rrset_add(ret_new, content, v, strlen(v), false);
		free(content);
	}
	for (size_t k = 0; cur && k < cur->n && r == STS_PLUGIN_OK; k++) {
		if (!cur->v[k].disabled)
			continue;
		if (json_array_append_new(recs, record(cur->v[k].content, true)) < 0)
			r = STS_PLUGIN_ENOMEM;
		else
			r = pdns_rrset_add(ret_new, cur->v[k].content, cur->v[k].value,
					   cur->v[k].vlen, true);
		if (n_values == 0)
			ret_new->ttl = cur->ttl;
	}
	if (r < 0) {
		json_decref(recs);
		return r;
	}
	json_t *e;
	if (json_array_size(recs) == 0) {
		json_decref(recs);
		e = json_pack("{s:s, s:s, s:s}", "name", rs->name, "type", rs->type, "changetype",
			      "DELETE");
	} else {
		e = json_pack("{s:s, s:s, s:I, s:s, s:o}", "name", rs->name, "type", rs->type,
			      "ttl", (json_int_t)ret_new->ttl, "changetype", "REPLACE", "records",
			      recs);
	}
	if (!e || json_array_append_new(rrsets, e) < 0)
		return STS_PLUGIN_ENOMEM;
	return STS_PLUGIN_OK;
}

static int pdns_apply(struct sts_plugin *p, const char *zone,
		      const struct sts_rrset_change *const *changes, size_t n,
		      struct sts_plugin_call *call)
{
	struct pdns *c = sts_plugin_ctx_get(p);
	char *zone_dot = NULL, *body = NULL;
	struct pdns_rrset *after = NULL;
	json_t *rrsets = NULL;
	struct sts_plugin_http_resp resp = {0};
	bool sent = false;
	int r = zone_dot_of(zone, &zone_dot, call);
	if (r < 0)
		return r;
	if (n == 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct sts_rrset *rs = changes[i]->rrset;
		if (!rs->name || !rs->type || !pdns_in_zone(rs->name, zone_dot) ||
		    rs->name[strlen(rs->name) - 1] != '.') {
			sts_plugin_error(call, "'%s' is not an absolute name in zone '%s'",
					 rs->name ? rs->name : "", zone_dot);
			r = STS_PLUGIN_EINVAL;
			goto out;
		}
	}
	struct pdns_zone *z = cache_get(c, zone_dot);
	if (!z) { /* apply without a read in this process: learn the records first */
		const char **names = malloc(n * sizeof(*names));
		if (!names) {
			r = STS_PLUGIN_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			names[i] = changes[i]->rrset->name;
		struct pdns_zone *nz = NULL;
		r = fetch(p, zone_dot, names, n, &nz, call);
		free(names);
		if (r < 0 || (r = cache_set(c, nz)) < 0)
			goto out;
		z = cache_get(c, zone_dot);
	}
	rrsets = json_array();
	after = calloc(n, sizeof(*after));
	if (!rrsets || !after) {
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && r == STS_PLUGIN_OK; i++)
		r = change_json(p, z, changes[i], rrsets, &after[i]);
	json_t *doc = r == STS_PLUGIN_OK ? json_pack("{s:O}", "rrsets", rrsets) : NULL;
	if (r == STS_PLUGIN_OK && !doc)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && !(body = json_dumps(doc, JSON_COMPACT)))
		r = STS_PLUGIN_ENOMEM;
	json_decref(doc);
	if (r < 0)
		goto out;
	r = api_call(p, "PATCH", zone_dot, body, strlen(body), &resp, call);
	sent = true;
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n && r == STS_PLUGIN_OK; i++)
		r = pdns_zone_put(z, changes[i]->rrset->name, changes[i]->rrset->type, &after[i]);
	sts_plugin_log(p, STS_PLOG_DEBUG, "zone '%s': %zu rrsets in one PATCH", zone_dot, n);
out:
	if (sent)
		sts_plugin_http_release(p, &resp);
	for (size_t i = 0; after && i < n; i++)
		pdns_rrset_release(&after[i]);
	free(after);
	free(body);
	json_decref(rrsets);
	free(zone_dot);
	return r;
}

static void pdns_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	const struct pdns *c = sts_plugin_ctx_get(p);
	ret->batch = true; /* one PATCH per zone: each PATCH costs O(zone size) */
	ret->max_concurrency = c ? c->concurrency : 1;
}

/* GET {url}/api/v1/servers/{server_id}/zones: every zone of the server. */
static int list_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	json_t *root = NULL;
	int r = get_json(p, "", NULL, &root, call);
	size_t i;
	json_t *z;
	json_array_foreach(root, i, z)
	{
		const char *name = json_string_value(json_object_get(z, "name"));
		if (ret && name && pdns_zone_ok(name) &&
		    (r = sts_plugin_zone_add(p, ret, name)) < 0)
			break;
	}
	json_decref(root);
	return r;
}

static int pdns_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	return list_zones(p, ret, call);
}

/* The zone list needs a valid key and server id, and changes nothing. */
static int pdns_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	return list_zones(p, NULL, call);
}

STS_PLUGIN_DNS_OPS(pdns_ops, pdns_read, pdns_apply, pdns_caps, pdns_zones);

STS_PLUGIN_API(powerdns, STS_PLUGIN_DNS, .description = "PowerDNS Authoritative HTTP API",
	       .capabilities = STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_CREDENTIALS |
			       STS_PLUGIN_CAP_BATCH,
	       .schema = pdns_schema, .load = pdns_load, .unload = pdns_unload, .probe = pdns_probe,
	       .dns = &pdns_ops);
