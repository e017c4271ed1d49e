/* SPDX-License-Identifier: MIT */
/*
 * Signed requests to Route 53 and its paged listings: ListHostedZones
 * (Marker/NextMarker) and ListResourceRecordSets (name/type of the first
 * rrset of a page, NextRecordName/NextRecordType).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plg_rest.h"
#include "r53.h"

#define API	       "/2013-04-01"
#define MAX_PAGES      1000	  /* of one listing: a bound, not a Route 53 limit */
#define MAX_RESPONSE   (8u << 20) /* one answer: 300 rrsets of large TXTs fit */
#define ZONES_PER_PAGE 100u	  /* ListHostedZones' maximum maxitems */

/* Route 53 says "slow down" with HTTP 400: the host retries these like a 503. */
static const char *const retry_on[] = {
    "400 <Code>Throttling</Code>",
    "400 <Code>PriorRequestNotComplete</Code>",
    NULL,
};

static int error_of(long status, const char *code)
{
	static const char *const auth_codes[] = {
	    "SignatureDoesNotMatch",
	    "InvalidClientTokenId",
	    "MissingAuthenticationToken",
	    "IncompleteSignature",
	    "ExpiredToken",
	    "UnrecognizedClientException",
	    "InvalidSignatureException",
	    NULL,
	};
	for (const char *const *a = auth_codes; code && *a; a++)
		if (strcmp(code, *a) == 0)
			return STS_PLUGIN_EAUTH;
	if (code && strcmp(code, "AccessDenied") == 0)
		return STS_PLUGIN_EACCES;
	if (code && (strcmp(code, "NoSuchHostedZone") == 0 || strcmp(code, "NoSuchChange") == 0))
		return STS_PLUGIN_ENOENT;
	if (code &&
	    (strcmp(code, "Throttling") == 0 || strcmp(code, "PriorRequestNotComplete") == 0))
		return STS_PLUGIN_EAGAIN;
	if (status == 401)
		return STS_PLUGIN_EAUTH;
	if (status == 403)
		return STS_PLUGIN_EACCES;
	if (status == 404)
		return STS_PLUGIN_ENOENT;
	if (status == 429 || status >= 500)
		return STS_PLUGIN_EAGAIN;
	return STS_PLUGIN_EPROVIDER;
}

static const char *no_answer(int r)
{
	switch (r) {
	case STS_PLUGIN_ETIMEOUT:
		return "timed out";
	case STS_PLUGIN_ENET:
		return "network error";
	case STS_PLUGIN_ETLS:
		return "TLS failure";
	case STS_PLUGIN_ETOOLARGE:
		return "answer too large";
	case STS_PLUGIN_EAGAIN:
		return "rate limit: no slot in time";
	default:
		return "failed";
	}
}

/* The error of an answer with status: the provider's code and message in the call. */
static int answer_error(const struct sts_plugin_http_resp *resp, const char *method,
			const char *path, struct sts_plugin_call *call)
{
	char *code = NULL, *msg = NULL;
	r53_parse_error(resp->body, resp->body_len, &code, &msg);
	int r = error_of(resp->status, code);
	if (r == STS_PLUGIN_EPROVIDER && code && strcmp(code, "InvalidChangeBatch") == 0)
		r = msg && strstr(msg, "CNAME") ? STS_PLUGIN_ECONFLICT : STS_PLUGIN_ESTALE;
	if (r == STS_PLUGIN_ESTALE && msg && !strstr(msg, "Tried to"))
		r = STS_PLUGIN_EPROVIDER; /* a rule of Route 53's, not a changed zone */
	sts_plugin_error(call, "HTTP %ld from %s %s: %s: %s", resp->status, method, path,
			 code ? code : "no error code", msg ? msg : "no message");
	free(code);
	free(msg);
	return r;
}

int r53_request(struct sts_plugin *p, const char *method, const char *path, const char *query,
		const char *body, char **ret_body, size_t *ret_len, struct sts_plugin_call *call)
{
	const struct r53 *c = sts_plugin_ctx_get(p);
	struct r53_sign s = {
	    .method = method,
	    .host = c->host,
	    .path = path,
	    .query = query,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .key_id = c->key_id,
	    .secret = c->secret,
	    .token = c->token,
	    .now = time(NULL),
	};
	char *auth = NULL, *url = NULL, *host = NULL, *xdate = NULL, *tok = NULL, date[17];
	int r = r53_sigv4(&s, &auth, date);
	if (r < 0)
		return r;
	if (asprintf(&url, "%s%s%s%s", c->base, path, query && *query ? "?" : "",
		     query ? query : "") < 0)
		url = NULL;
	if (asprintf(&host, "Host: %s", c->host) < 0)
		host = NULL;
	if (asprintf(&xdate, "X-Amz-Date: %s", date) < 0)
		xdate = NULL;
	if (c->token && asprintf(&tok, "X-Amz-Security-Token: %s", c->token) < 0)
		tok = NULL;
	const char *headers[] = {host, xdate, auth, body ? "Content-Type: text/xml" : "Accept: */*",
				 tok,  NULL};
	struct sts_plugin_http_resp resp;
	if (!url || !host || !xdate || (c->token && !tok)) {
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	struct sts_plugin_http_req req = {
	    .struct_size = sizeof(req),
	    .method = method,
	    .url = url,
	    .headers = headers,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .timeout_ms = c->timeout_ms,
	    .max_response = MAX_RESPONSE,
	    /* a batch of UPSERTs is the same batch again: safe to repeat */
	    .idempotent = true,
	    .limiter = c->limiter,
	    .retry_on = retry_on,
	};
	r = sts_plugin_http(p, &req, &resp, call);
	if (r < 0)
		sts_plugin_error(call, "%s %s: %s", method, path, no_answer(r));
	else if (resp.status < 200 || resp.status > 299)
		r = answer_error(&resp, method, path, call);
	else if (ret_body && !(*ret_body = malloc(resp.body_len + 1)))
		r = STS_PLUGIN_ENOMEM;
	else if (ret_body) {
		memcpy(*ret_body, resp.body, resp.body_len + 1);
		*ret_len = resp.body_len;
	}
	sts_plugin_http_release(p, &resp);
out:
	PLG_FREE_ALL(tok, xdate, host, url, auth);
	return r;
}

int r53_list_zones(struct sts_plugin *p, struct r53_zones *ret, struct sts_plugin_call *call)
{
	const struct r53 *c = sts_plugin_ctx_get(p);
	unsigned per = c->page_size < ZONES_PER_PAGE ? c->page_size : ZONES_PER_PAGE;
	char *marker = NULL;
	int r = STS_PLUGIN_OK;
	for (unsigned page = 0; r == STS_PLUGIN_OK; page++) {
		char *q = NULL, *enc = marker ? plg_escape(marker, NULL) : NULL, *body = NULL;
		size_t len = 0;
		if (page >= MAX_PAGES) {
			sts_plugin_error(call, "more than %d pages of hosted zones", MAX_PAGES);
			r = STS_PLUGIN_ETOOLARGE;
		} else if ((marker && !enc) ||
			   asprintf(&q, "%s%s%smaxitems=%u", marker ? "marker=" : "",
				    enc ? enc : "", marker ? "&" : "", per) < 0) {
			q = NULL;
			r = STS_PLUGIN_ENOMEM;
		}
		free(enc);
		if (r == STS_PLUGIN_OK)
			r = r53_request(p, "GET", API "/hostedzone", q, NULL, &body, &len, call);
		free(q);
		if (r == STS_PLUGIN_OK &&
		    (r = r53_parse_zones(body, len, ret)) == STS_PLUGIN_EPARSE)
			sts_plugin_error(call, "an unreadable ListHostedZones answer");
		free(body);
		free(marker);
		marker = NULL;
		if (r < 0 || !ret->truncated)
			break;
		if (!(marker = strdup(ret->next_marker)))
			r = STS_PLUGIN_ENOMEM;
	}
	free(marker);
	if (r < 0)
		r53_zones_release(ret);
	return r;
}

/* The cached id of apex (n octets) as a malloc'd copy, or NULL. */
static char *cached(struct r53 *c, const char *apex, size_t n)
{
	char *id = NULL;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_cache && !id; i++)
		if (strlen(c->cache_apex[i]) == n && strncasecmp(c->cache_apex[i], apex, n) == 0)
			id = strdup(c->cache_id[i]);
	pthread_mutex_unlock(&c->lock);
	return id;
}

/* Remember apex's id (nothing when out of memory: it is only a cache). */
static void remember(struct r53 *c, const char *apex, size_t n, const char *id)
{
	pthread_mutex_lock(&c->lock);
	char **a = realloc(c->cache_apex, (c->n_cache + 1) * sizeof(*a));
	if (a)
		c->cache_apex = a;
	char **d = a ? realloc(c->cache_id, (c->n_cache + 1) * sizeof(*d)) : NULL;
	if (d)
		c->cache_id = d;
	char *ka = d ? strndup(apex, n) : NULL, *kd = ka ? strdup(id) : NULL;
	if (kd) {
		c->cache_apex[c->n_cache] = ka;
		c->cache_id[c->n_cache++] = kd;
	} else {
		free(ka);
	}
	pthread_mutex_unlock(&c->lock);
}

int r53_zone_id(struct sts_plugin *p, const char *apex, char **ret, struct sts_plugin_call *call)
{
	struct r53 *c = sts_plugin_ctx_get(p);
	size_t n = strlen(apex);
	while (n && apex[n - 1] == '.')
		n--;
	if ((*ret = cached(c, apex, n)))
		return STS_PLUGIN_OK;
	struct r53_zones zones = {0};
	int r = r53_list_zones(p, &zones, call);
	const char *id = NULL;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < zones.n; i++) {
		const char *name = zones.v[i].name;
		if (strncasecmp(name, apex, n) != 0 || strcmp(name + n, ".") != 0)
			continue;
		if (!id || !zones.v[i].private_zone) /* the public zone of that name first */
			id = zones.v[i].id;
	}
	if (r == STS_PLUGIN_OK && !id) {
		sts_plugin_error(call, "hosted zone '%.*s' is not in this account", (int)n, apex);
		r = STS_PLUGIN_ENOENT;
	}
	if (r == STS_PLUGIN_OK && !(*ret = strdup(id)))
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK)
		remember(c, apex, n, id);
	r53_zones_release(&zones);
	return r;
}

static bool is_octal(char c)
{
	return c >= '0' && c <= '7';
}

char *r53_name(struct sts_plugin *p, const char *listed)
{
	(void)p;
	size_t n = strlen(listed);
	char *out = malloc(n + 2), *o = out;
	if (!out)
		return NULL;
	for (const char *c = listed; *c; c++) {
		int v = c[0] == '\\' && is_octal(c[1]) && is_octal(c[2]) && is_octal(c[3])
			    ? (c[1] - '0') * 64 + (c[2] - '0') * 8 + (c[3] - '0')
			    : 0;
		if (v > 0 && v <= 0xff) {
			/* Route 53's octal escape; \000 and \400 and above are no octet of a
			 * C string, so they stay as written (and no name matches them) */
			*o++ = (char)tolower(v);
			c += 3;
		} else {
			*o++ = (char)tolower((unsigned char)*c);
		}
	}
	if (o == out || o[-1] != '.')
		*o++ = '.';
	*o = '\0';
	return out;
}

/* Move the rrsets of page at one of the n names to ret; *other: one at another name. */
static int take(struct sts_plugin *p, struct r53_rrsets *page, const char *const *names, size_t n,
		struct r53_rrsets *ret, bool *other)
{
	for (size_t i = 0; i < page->n; i++) {
		char *name = r53_name(p, page->v[i].name);
		if (!name)
			return STS_PLUGIN_ENOMEM;
		bool keep = plg_name_in(name, names, n);
		free(name);
		if (!keep) {
			*other = true;
			continue;
		}
		struct r53_rrset *v = realloc(ret->v, (ret->n + 1) * sizeof(*v));
		if (!v)
			return STS_PLUGIN_ENOMEM;
		ret->v = v;
		v[ret->n++] = page->v[i];
		memset(&page->v[i], 0, sizeof(page->v[i]));
	}
	return STS_PLUGIN_OK;
}

/*
 * The listing of zone zid from (start, NULL) (NULL: the whole zone), page by
 * page, keeping the rrsets at the n names; with one_name it stops at the
 * first rrset of another name (the listing is sorted by name).
 */
static int list_from(struct sts_plugin *p, const char *path, const char *start,
		     const char *const *names, size_t n, bool one_name, struct r53_rrsets *ret,
		     struct sts_plugin_call *call)
{
	const struct r53 *c = sts_plugin_ctx_get(p);
	char *next_name = start ? strdup(start) : NULL, *next_type = NULL;
	int r = start && !next_name ? STS_PLUGIN_ENOMEM : STS_PLUGIN_OK;
	for (unsigned page = 0; r == STS_PLUGIN_OK; page++) {
		char *q = NULL, *en = next_name ? plg_escape(next_name, NULL) : NULL;
		char *et = next_type ? plg_escape(next_type, NULL) : NULL, *body = NULL;
		size_t len = 0;
		if (page >= MAX_PAGES) {
			sts_plugin_error(call, "more than %d pages of resource record sets",
					 MAX_PAGES);
			r = STS_PLUGIN_ETOOLARGE;
		} else if ((next_name && !en) || (next_type && !et) ||
			   asprintf(&q, "maxitems=%u%s%s%s%s", c->page_size, en ? "&name=" : "",
				    en ? en : "", et ? "&type=" : "", et ? et : "") < 0) {
			q = NULL;
			r = STS_PLUGIN_ENOMEM;
		}
		free(en);
		free(et);
		struct r53_rrsets pg = {0};
		bool other = false;
		if (r == STS_PLUGIN_OK)
			r = r53_request(p, "GET", path, q, NULL, &body, &len, call);
		free(q);
		if (r == STS_PLUGIN_OK &&
		    (r = r53_parse_rrsets(body, len, &pg)) == STS_PLUGIN_EPARSE)
			sts_plugin_error(call, "an unreadable ListResourceRecordSets answer");
		free(body);
		if (r == STS_PLUGIN_OK)
			r = take(p, &pg, names, n, ret, &other);
		free(next_name);
		free(next_type);
		next_name = next_type = NULL;
		if (r == STS_PLUGIN_OK && pg.truncated && !(one_name && other)) {
			next_name = strdup(pg.next_name);
			next_type = pg.next_type ? strdup(pg.next_type) : NULL;
			if (!next_name || (pg.next_type && !next_type))
				r = STS_PLUGIN_ENOMEM;
		}
		r53_rrsets_release(&pg);
		if (!next_name)
			break;
	}
	free(next_name);
	free(next_type);
	return r;
}

/* A few names are listed one by one from where they start; more, the whole zone once. */
#define MAX_NAME_LISTINGS 4

int r53_list_at(struct sts_plugin *p, const char *zid, const char *const *names, size_t n,
		struct r53_rrsets *ret, struct sts_plugin_call *call)
{
	char *path = NULL;
	if (asprintf(&path, API "/hostedzone/%s/rrset", zid) < 0)
		return STS_PLUGIN_ENOMEM;
	int r = STS_PLUGIN_OK;
	if (n > MAX_NAME_LISTINGS)
		r = list_from(p, path, NULL, names, n, false, ret, call);
	for (size_t i = 0; n <= MAX_NAME_LISTINGS && r == STS_PLUGIN_OK && i < n; i++)
		r = list_from(p, path, names[i], &names[i], 1, true, ret, call);
	free(path);
	if (r < 0)
		r53_rrsets_release(ret);
	return r;
}
