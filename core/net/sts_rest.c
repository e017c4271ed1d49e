/* SPDX-License-Identifier: MIT */
/* JSON requests to a provider's REST API (sts_rest.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sts_err.h"
#include "sts_escape.h"
#include "sts_rest.h"

#define ERROR_TEXT_MAX 300 /* of the provider's text kept in an error */

static const char *const default_error_paths[] = {
    "message", "error.message", "errors[0].message", "error", "detail", NULL,
};

struct sts_rest {
	json_t *conf;	  /* copies of the options' strings, which the fields below borrow */
	const char *base; /* without a trailing '/' */
	const char *auth_header, *auth_prefix;
	json_t *headers, *error_paths; /* arrays of strings in conf */
	const struct sts_secret *secret;
	struct sts_http_opts http;
	struct sts_ratelimit *rl;
	struct sts_breaker *br;
	long long rl_timeout_ms;
	pthread_mutex_t mu;
	struct sts_http **idle; /* handles not in use */
	size_t n_idle, cap_idle;
};

/* A JSON array of the strings of the NULL-terminated list l. */
static json_t *list_of(const char *const *l)
{
	json_t *a = json_array();
	for (; a && l && *l; l++)
		if (json_array_append_new(a, json_string(*l)) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static const char *str_of(const json_t *conf, const char *key)
{
	return json_string_value(json_object_get(conf, key));
}

STS_API int sts_rest_new(const struct sts_rest_opts *o, struct sts_rest **ret)
{
	const char *b = o->base_url;
	if (!b || (strncasecmp(b, "https://", 8) != 0 && strncasecmp(b, "http://", 7) != 0))
		return STS_EINVAL;
	size_t bn = strlen(b);
	while (bn > 0 && b[bn - 1] == '/')
		bn--;
	struct sts_rest *c = calloc(1, sizeof(*c));
	if (!c)
		return STS_ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	if (o->http)
		c->http = *o->http;
	c->conf =
	    json_pack("{s:s%, s:s?, s:s, s:s?, s:s?, s:o, s:o}", "base", b, bn, "auth",
		      o->auth_header, "prefix", o->auth_prefix ? o->auth_prefix : "", "ca",
		      c->http.ca_file, "ua", c->http.user_agent, "headers", list_of(o->headers),
		      "errors", list_of(o->error_paths ? o->error_paths : default_error_paths));
	if (!c->conf) {
		sts_rest_free(c);
		return STS_ENOMEM;
	}
	c->base = str_of(c->conf, "base");
	c->auth_header = str_of(c->conf, "auth");
	c->auth_prefix = str_of(c->conf, "prefix");
	c->http.ca_file = str_of(c->conf, "ca");
	c->http.user_agent = str_of(c->conf, "ua");
	c->headers = json_object_get(c->conf, "headers");
	c->error_paths = json_object_get(c->conf, "errors");
	c->secret = o->secret;
	c->rl = o->ratelimit;
	c->br = o->breaker;
	c->rl_timeout_ms = o->ratelimit_timeout_ms > 0 ? o->ratelimit_timeout_ms : 60000;
	*ret = c;
	return STS_OK;
}

STS_API void sts_rest_free(struct sts_rest *c)
{
	if (!c)
		return;
	while (c->n_idle > 0)
		sts_http_free(c->idle[--c->n_idle]);
	free(c->idle);
	json_decref(c->conf);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* ---- handles: one per request running at the same time ---- */

static int handle_get(struct sts_rest *c, struct sts_http **ret)
{
	pthread_mutex_lock(&c->mu);
	*ret = c->n_idle ? c->idle[--c->n_idle] : NULL;
	pthread_mutex_unlock(&c->mu);
	return *ret ? STS_OK : sts_http_new(&c->http, ret);
}

static void handle_put(struct sts_rest *c, struct sts_http *h)
{
	pthread_mutex_lock(&c->mu);
	if (c->n_idle == c->cap_idle) {
		size_t cap = c->cap_idle ? 2 * c->cap_idle : 4;
		struct sts_http **v = realloc(c->idle, cap * sizeof(*v));
		if (v) {
			c->idle = v;
			c->cap_idle = cap;
		}
	}
	if (c->n_idle < c->cap_idle) {
		c->idle[c->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	sts_http_free(h); /* no room to keep it */
}

/* ---- JSON paths, escaping ---- */

STS_API json_t *sts_rest_json_at(const json_t *j, const char *path)
{
	const char *p = path;
	json_t *v = (json_t *)j;
	while (v && *p) {
		size_t n = strcspn(p, ".[");
		if (n > 0) {
			char key[128];
			if (n >= sizeof(key))
				return NULL;
			memcpy(key, p, n);
			key[n] = '\0';
			v = json_is_object(v) ? json_object_get(v, key) : NULL;
			p += n;
		}
		while (v && *p == '[') {
			char *end = NULL;
			unsigned long i = strtoul(p + 1, &end, 10);
			if (end == p + 1 || *end != ']' || !json_is_array(v))
				return NULL;
			v = json_array_get(v, i);
			p = end + 1;
		}
		if (*p == '.')
			p++;
		else if (*p)
			return NULL;
	}
	return v;
}

STS_API char *sts_rest_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* ---- one request ---- */

/* What the per-attempt hooks share. */
struct attempt {
	struct sts_rest *c;
	bool limited;  /* the rate limiter had no slot in time */
	unsigned sent; /* attempts made */
};

static int before_attempt(void *ud, unsigned n)
{
	struct attempt *a = ud;
	(void)n;
	if (!a->c->rl || sts_ratelimit_acquire(a->c->rl, a->c->rl_timeout_ms) == STS_OK)
		return STS_OK;
	a->limited = true;
	return STS_EAGAIN;
}

static void after_attempt(void *ud, const struct sts_http_resp *resp, int r)
{
	struct attempt *a = ud;
	a->sent++;
	if (!a->c->rl || r < 0 || (resp->status != 429 && resp->status != 503))
		return;
	const char *ra = sts_http_resp_header(resp, "Retry-After");
	long ms = ra ? sts_http_retry_after_ms(ra, time(NULL)) : -1;
	if (ms > 0)
		sts_ratelimit_pause(a->c->rl, ms); /* every caller of this provider waits */
}

static int url_of(const struct sts_rest *c, const char *path, struct sts_buf *ret)
{
	size_t bn = strlen(c->base);
	if (!path || !*path)
		return sts_buf_puts(ret, c->base);
	if (strncasecmp(path, "https://", 8) == 0 || strncasecmp(path, "http://", 7) == 0) {
		/* a full URL: only below base_url, so the credentials stay with their API */
		if (strncmp(path, c->base, bn) != 0 || (path[bn] && !strchr("/?#", path[bn])))
			return STS_EINVAL;
		return sts_buf_puts(ret, path);
	}
	int r = sts_buf_puts(ret, c->base);
	if (r >= 0 && path[0] != '/' && path[0] != '?')
		r = sts_buf_putc(ret, '/');
	return r >= 0 ? sts_buf_puts(ret, path) : r;
}

static int status_err(long status)
{
	if (status >= 200 && status <= 299)
		return STS_OK;
	switch (status) {
	case 401:
		return STS_EAUTH;
	case 403:
		return STS_EACCES;
	case 404:
		return STS_ENOENT;
	case 409:
	case 412:
		return STS_ECONFLICT;
	case 429:
		return STS_EAGAIN;
	default:
		return status >= 500 && status <= 599 ? STS_EAGAIN : STS_EPROVIDER;
	}
}

/* The provider's own words in an error response, or NULL. */
static const char *provider_text(const struct sts_rest *c, const struct sts_rest_resp *p)
{
	size_t i;
	json_t *path;
	json_array_foreach(c->error_paths, i, path)
	{
		json_t *v = p->json ? sts_rest_json_at(p->json, json_string_value(path)) : NULL;
		if (json_is_string(v) && json_string_length(v) > 0)
			return json_string_value(v);
	}
	if (!p->json && p->http.body.len > 0)
		return sts_buf_str(&p->http.body); /* not JSON: the start of the body */
	return NULL;
}

/* Replace every copy of the secret in b by "[secret]". */
static int scrub(const struct sts_rest *c, struct sts_buf *b)
{
	const char *sv = c->secret ? sts_secret_value(c->secret) : NULL;
	size_t sn = c->secret ? sts_secret_len(c->secret) : 0;
	if (!sv || sn == 0 || !b->data)
		return STS_OK;
	struct sts_buf out;
	sts_buf_init(&out, b->max);
	int r = STS_OK;
	size_t i = 0, run = 0;
	while (r >= 0 && i + sn <= b->len) {
		if (memcmp(b->data + i, sv, sn) != 0) {
			i++;
			continue;
		}
		r = sts_buf_append(&out, b->data + run, i - run);
		if (r >= 0)
			r = sts_buf_puts(&out, "[secret]");
		i += sn;
		run = i;
	}
	if (r >= 0)
		r = sts_buf_append(&out, b->data + run, b->len - run);
	if (r >= 0) {
		explicit_bzero(b->data, b->len);
		sts_buf_release(b);
		*b = out;
	} else {
		sts_buf_release(&out);
	}
	return r;
}

static void set_error(const struct sts_rest *c, struct sts_rest_resp *ret, const char *method,
		      const char *path, int r, const struct attempt *a, const char *why)
{
	struct sts_buf b;
	sts_buf_init(&b, 4096);
	/* the path as the caller gave it; of a full URL (a next-page link) no query */
	const char *what = path ? path : "";
	int wn = (int)(strncasecmp(what, "http", 4) == 0 ? strcspn(what, "?#") : strlen(what));
	if (why) /* the breaker's text, or why the request was not sent */
		sts_buf_printf(&b, "%s %.*s: %s", method, wn, what, why);
	else if (a->limited)
		sts_buf_printf(&b, "%s %.*s: rate limit: no free slot within %lld s", method, wn,
			       what, (c->rl_timeout_ms + 999) / 1000);
	else if (ret->status == 0)
		sts_buf_printf(&b, "%s %.*s: no answer: %s", method, wn, what, sts_strerror(r));
	else
		sts_buf_printf(&b, "HTTP %ld from %s %.*s", ret->status, method, wn, what);
	const char *t = ret->status && !why ? provider_text(c, ret) : NULL;
	if (t) {
		size_t n = strlen(t);
		sts_buf_puts(&b, ": ");
		sts_escape_append(&b, t, n > ERROR_TEXT_MAX ? ERROR_TEXT_MAX : n);
		if (n > ERROR_TEXT_MAX)
			sts_buf_puts(&b, "...");
	}
	if (scrub(c, &b) < 0)
		sts_buf_reset(&b);
	ret->error = b.len ? sts_buf_steal(&b) : strdup(sts_strerror(r));
	sts_buf_release(&b);
}

/* "Name: value" headers of one request, the auth header (wiped afterwards) last. */
struct headers {
	const char *v[8 + 64];
	struct sts_buf auth;
};

static int headers_of(const struct sts_rest *c, bool body, struct headers *h)
{
	size_t n = 0;
	h->v[n++] = "Accept: application/json";
	if (body)
		h->v[n++] = "Content-Type: application/json";
	size_t i;
	json_t *v;
	json_array_foreach(c->headers, i, v)
	{
		if (n >= sizeof(h->v) / sizeof(h->v[0]) - 2)
			return STS_ETOOLARGE;
		h->v[n++] = json_string_value(v);
	}
	sts_buf_init(&h->auth, 70 * 1024);
	if (c->auth_header && c->secret) {
		int r = sts_buf_printf(&h->auth, "%s: %s", c->auth_header, c->auth_prefix);
		if (r >= 0)
			r = sts_buf_append(&h->auth, sts_secret_value(c->secret),
					   sts_secret_len(c->secret));
		if (r < 0)
			return r;
		h->v[n++] = h->auth.data;
	}
	h->v[n] = NULL;
	return STS_OK;
}

static void headers_release(struct headers *h)
{
	if (h->auth.data)
		explicit_bzero(h->auth.data, h->auth.cap);
	sts_buf_release(&h->auth);
}

static bool method_safe(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "PUT") == 0 ||
	       strcmp(m, "DELETE") == 0;
}

STS_API int sts_rest_do(struct sts_rest *c, const struct sts_rest_req *req,
			struct sts_rest_resp *ret)
{
	memset(ret, 0, sizeof(*ret));
	const char *method = req->method ? req->method : "GET";
	struct attempt a = {.c = c};
	struct headers h = {.auth = {NULL, 0, 0, 0}};
	struct sts_buf url;
	sts_buf_init(&url, 64 * 1024);
	char *body = NULL, why[160] = "";
	struct sts_http *http = NULL;
	int r = url_of(c, req->path, &url);
	if (r < 0) {
		set_error(c, ret, method, req->path, r, &a,
			  r == STS_EINVAL ? "URL outside the API's base URL" : NULL);
		goto out;
	}
	if (req->body && !(body = json_dumps(req->body, JSON_COMPACT))) {
		r = STS_ENOMEM;
		goto out;
	}
	if ((r = headers_of(c, body != NULL, &h)) < 0)
		goto out;
	if (c->br && (r = sts_breaker_enter(c->br, why, sizeof(why))) < 0) {
		set_error(c, ret, method, req->path, r, &a, why);
		goto out;
	}
	if ((r = handle_get(c, &http)) < 0) {
		if (c->br)
			sts_breaker_cancel(c->br);
		goto out;
	}
	struct sts_http_req hr = {
	    .method = method,
	    .url = sts_buf_str(&url),
	    .headers = h.v,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .max_attempts = method_safe(method) || req->idempotent ? 0 : 1,
	};
	struct sts_http_xreq x = {
	    .idempotent = req->idempotent,
	    .before_attempt = before_attempt,
	    .after_attempt = after_attempt,
	    .attempt_ud = &a,
	};
	r = sts_http_do_ex(http, &hr, &x, &ret->http);
	ret->status = r >= 0 ? ret->http.status : 0;
	if (r >= 0 && ret->http.body.len > 0)
		ret->json = json_loadb(ret->http.body.data, ret->http.body.len, 0, NULL);
	if (r >= 0)
		r = status_err(ret->status);
	if (r == STS_OK && ret->http.body.len > 0 && !ret->json)
		r = STS_EPROVIDER;
	if (c->br && a.limited)
		sts_breaker_cancel(c->br); /* not the provider's doing */
	else if (c->br)
		sts_breaker_done(c->br, ret->status ? ret->status < 500 : false);
	if (r < 0)
		set_error(c, ret, method, req->path, r, &a,
			  r == STS_EPROVIDER && ret->status / 100 == 2 ? "response is not JSON"
								       : NULL);
out:
	if (http)
		handle_put(c, http);
	headers_release(&h);
	sts_buf_release(&url);
	free(body);
	if (r < 0 && !ret->error)
		ret->error = strdup(sts_strerror(r));
	return r;
}

STS_API void sts_rest_resp_release(struct sts_rest_resp *r)
{
	if (r) {
		json_decref(r->json);
		free(r->error);
		sts_http_resp_release(&r->http);
		memset(r, 0, sizeof(*r));
	}
}

STS_API int sts_rest_pages(struct sts_rest *c, const struct sts_rest_req *req, unsigned max_pages,
			   int (*next)(void *ud, const struct sts_rest_resp *page, char **ret_next),
			   void *ud, char **ret_err)
{
	struct sts_rest_req q = *req;
	char *path = NULL;
	int r = STS_OK;
	if (ret_err)
		*ret_err = NULL;
	if (max_pages == 0)
		max_pages = 100;
	q.method = "GET";
	for (unsigned page = 1;; page++) {
		struct sts_rest_resp p;
		r = sts_rest_do(c, &q, &p);
		char *np = NULL;
		if (r >= 0 && (r = next(ud, &p, &np)) < 0 && ret_err)
			*ret_err = strdup("the page could not be read");
		if (r < 0 && ret_err && !*ret_err && p.error) {
			*ret_err = p.error;
			p.error = NULL;
		}
		sts_rest_resp_release(&p);
		free(path);
		q.path = path = np;
		if (r < 0 || !np)
			break;
		if (page >= max_pages) {
			r = STS_ETOOLARGE;
			if (ret_err && asprintf(ret_err, "more than %u pages", max_pages) < 0)
				*ret_err = NULL;
			break;
		}
	}
	free(path);
	return r;
}
