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
	if (b && strncasecmp(b, "https://", 8) != 0 && strncasecmp(b, "http://", 7) != 0)
		return STS_EINVAL;
	struct sts_rest *c = calloc(1, sizeof(*c));
	if (!c)
		return STS_ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	if (o->http)
		c->http = *o->http;
	c->conf =
	    json_pack("{s:s?, s:s?, s:s, s:s?, s:s?, s:o, s:o}", "base", b, "auth", o->auth_header,
		      "prefix", o->auth_prefix ? o->auth_prefix : "", "ca", c->http.ca_file, "ua",
		      c->http.user_agent, "headers", list_of(o->headers), "errors",
		      list_of(o->error_paths ? o->error_paths : default_error_paths));
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

/* RFC 6901: "/errors/0/message", ~0 for '~' and ~1 for '/' in a name. */
static json_t *json_pointer(json_t *v, const char *p)
{
	while (v && *p == '/') {
		char key[128];
		size_t n = 0;
		for (p++; *p && *p != '/'; p++) {
			char ch = *p;
			if (ch == '~' && (p[1] == '0' || p[1] == '1'))
				ch = *++p == '0' ? '~' : '/';
			if (n + 1 >= sizeof(key))
				return NULL;
			key[n++] = ch;
		}
		key[n] = '\0';
		char *end = NULL;
		unsigned long i = strtoul(key, &end, 10);
		if (json_is_array(v))
			v = n > 0 && *end == '\0' && key[0] >= '0' && key[0] <= '9'
				? json_array_get(v, i)
				: NULL;
		else
			v = json_is_object(v) ? json_object_get(v, key) : NULL;
	}
	return *p ? NULL : v;
}

STS_API json_t *sts_rest_json_at(const json_t *j, const char *path)
{
	const char *p = path;
	json_t *v = (json_t *)j;
	if (*p == '/')
		return json_pointer(v, p);
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

/* One request: what it uses (its own or the client's) and how it went. */
struct call {
	struct sts_rest *c;
	const struct sts_rest_req *req;
	const char *method;
	const char *base; /* without a trailing '/': base_len octets */
	size_t base_len;
	struct sts_ratelimit *rl;
	struct sts_breaker *br;
	bool limited;  /* the rate limiter had no slot in time */
	unsigned sent; /* attempts made */
};

static int before_attempt(void *ud, unsigned n)
{
	struct call *k = ud;
	(void)n;
	if (!k->rl || sts_ratelimit_acquire(k->rl, k->c->rl_timeout_ms) == STS_OK)
		return STS_OK;
	k->limited = true;
	return STS_EAGAIN;
}

static void after_attempt(void *ud, const struct sts_http_resp *resp, int r)
{
	struct call *k = ud;
	k->sent++;
	if (!k->rl || r < 0 || (resp->status != 429 && resp->status != 503))
		return;
	const char *ra = sts_http_resp_header(resp, "Retry-After");
	long ms = ra ? sts_http_retry_after_ms(ra, time(NULL)) : -1;
	if (ms > 0)
		sts_ratelimit_pause(k->rl, ms); /* every caller of this provider waits */
}

static int url_of(const struct call *k, struct sts_buf *ret)
{
	const char *path = k->req->path;
	if (!k->base)
		return STS_EINVAL;
	int r = sts_buf_append(ret, k->base, k->base_len);
	if (r < 0 || !path || !*path)
		return r;
	if (strncasecmp(path, "https://", 8) == 0 || strncasecmp(path, "http://", 7) == 0) {
		/* a full URL: only below the base, so the credentials stay with their API */
		size_t n = k->base_len;
		if (strncmp(path, k->base, n) != 0 || (path[n] && !strchr("/?#", path[n])))
			return STS_EINVAL;
		path += n;
	} else if (path[0] != '/' && path[0] != '?') {
		r = sts_buf_putc(ret, '/');
	}
	return r >= 0 ? sts_buf_puts(ret, path) : r;
}

static int status_err(long status)
{
	if (status >= 200 && status <= 299)
		return STS_OK;
	switch (status) {
	case 401:
	case 403:
		return STS_EAUTH;
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

/* A non-empty string at path in j, or NULL. */
static const char *text_at(const json_t *j, const char *path)
{
	json_t *v = path && j ? sts_rest_json_at(j, path) : NULL;
	return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* The provider's own words in an error response, or NULL. */
static const char *provider_text(const struct call *k, const struct sts_rest_resp *p)
{
	const char *t = text_at(p->json, k->req->error_path);
	size_t i;
	json_t *path;
	json_array_foreach(k->c->error_paths, i, path)
	{
		if (!t)
			t = text_at(p->json, json_string_value(path));
	}
	if (!t && !p->json && p->http.body.len > 0)
		t = sts_buf_str(&p->http.body); /* not JSON: the start of the body */
	return t;
}

/* Replace every copy of s (n octets) in b by "[secret]". */
static int scrub(struct sts_buf *b, const char *s, size_t n)
{
	if (!s || n == 0 || !b->data)
		return STS_OK;
	struct sts_buf out;
	sts_buf_init(&out, b->max);
	int r = STS_OK;
	size_t i = 0, run = 0;
	while (r >= 0 && i + n <= b->len) {
		if (memcmp(b->data + i, s, n) != 0) {
			i++;
			continue;
		}
		r = sts_buf_append(&out, b->data + run, i - run);
		if (r >= 0)
			r = sts_buf_puts(&out, "[secret]");
		i += n;
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

/* The secret, and the value of a request's own auth line, scrubbed from b. */
static int scrub_secrets(const struct call *k, struct sts_buf *b)
{
	const struct sts_secret *sec = k->c->secret;
	int r = sec ? scrub(b, sts_secret_value(sec), sts_secret_len(sec)) : STS_OK;
	const char *auth = k->req->auth, *colon = auth ? strchr(auth, ':') : NULL;
	if (r >= 0 && colon) { /* "Bearer TOKEN": the whole value, then TOKEN alone */
		colon += strspn(colon + 1, " \t") + 1;
		const char *sp = strrchr(colon, ' ');
		r = scrub(b, colon, strlen(colon));
		if (r >= 0 && sp)
			r = scrub(b, sp + 1, strlen(sp + 1));
	}
	return r;
}

static void set_error(const struct call *k, struct sts_rest_resp *ret, int r, const char *why)
{
	struct sts_buf b;
	sts_buf_init(&b, 4096);
	/* the path as the caller gave it; of a full URL (a next-page link) no query */
	const char *what = k->req->path ? k->req->path : "", *m = k->method;
	int wn = (int)(strncasecmp(what, "http", 4) == 0 ? strcspn(what, "?#") : strlen(what));
	if (why) /* the breaker's text, or why the request was not sent */
		sts_buf_printf(&b, "%s %.*s: %s", m, wn, what, why);
	else if (k->limited)
		sts_buf_printf(&b, "%s %.*s: rate limit: no free slot within %lld s", m, wn, what,
			       (k->c->rl_timeout_ms + 999) / 1000);
	else if (ret->status == 0)
		sts_buf_printf(&b, "%s %.*s: no answer: %s", m, wn, what, sts_strerror(r));
	else
		sts_buf_printf(&b, "HTTP %ld from %s %.*s", ret->status, m, wn, what);
	const char *t = ret->status && !why ? provider_text(k, ret) : NULL;
	if (t) {
		size_t n = strlen(t);
		sts_buf_puts(&b, ": ");
		sts_escape_append(&b, t, n > ERROR_TEXT_MAX ? ERROR_TEXT_MAX : n);
		if (n > ERROR_TEXT_MAX)
			sts_buf_puts(&b, "...");
	}
	if (scrub_secrets(k, &b) < 0)
		sts_buf_reset(&b);
	ret->error = b.len ? sts_buf_steal(&b) : strdup(sts_strerror(r));
	sts_buf_release(&b);
}

#define HEADERS_MAX 64

/* "Name: value" headers of one request, the auth header (wiped afterwards) last. */
struct headers {
	const char *v[HEADERS_MAX + 4];
	struct sts_buf auth;
};

static int add_headers(struct headers *h, size_t *n, const json_t *list, const char *const *more)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		if (*n >= HEADERS_MAX)
			return STS_ETOOLARGE;
		h->v[(*n)++] = json_string_value(v);
	}
	for (; more && *more; more++) {
		if (*n >= HEADERS_MAX)
			return STS_ETOOLARGE;
		h->v[(*n)++] = *more;
	}
	return STS_OK;
}

static int headers_of(const struct call *k, bool body, struct headers *h)
{
	const struct sts_rest *c = k->c;
	size_t n = 0;
	h->v[n++] = "Accept: application/json";
	if (body)
		h->v[n++] = "Content-Type: application/json";
	int r = add_headers(h, &n, c->headers, k->req->headers);
	if (r < 0)
		return r;
	if (k->req->auth) {
		h->v[n++] = k->req->auth;
	} else if (c->auth_header && c->secret) {
		r = sts_buf_printf(&h->auth, "%s: %s", c->auth_header, c->auth_prefix);
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

/* Send it (the breaker passed) and map the answer. */
static int send_req(struct call *k, const char *url, const char *const *hdrs, const char *body,
		    struct sts_rest_resp *ret)
{
	const struct sts_rest_req *req = k->req;
	struct sts_http *http = NULL;
	int r = handle_get(k->c, &http);
	if (r < 0) {
		k->limited = true; /* not sent: the breaker learns nothing */
		return r;
	}
	struct sts_http_req hr = {
	    .method = k->method,
	    .url = url,
	    .headers = hdrs,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .timeout_ms = req->timeout_ms,
	    .max_response = req->max_response,
	    .max_attempts = req->max_attempts,
	};
	struct sts_http_xreq x = {
	    .idempotent = req->idempotent,
	    .before_attempt = before_attempt,
	    .after_attempt = after_attempt,
	    .attempt_ud = k,
	};
	r = sts_http_do_ex(http, &hr, &x, &ret->http);
	handle_put(k->c, http);
	ret->status = r >= 0 ? ret->http.status : 0;
	/* any JSON text: some APIs answer a bare number or null (OVH: /auth/time, PUT) */
	if (r >= 0 && ret->http.body.len > 0)
		ret->json =
		    json_loadb(ret->http.body.data, ret->http.body.len, JSON_DECODE_ANY, NULL);
	if (r >= 0)
		r = status_err(ret->status);
	if (r == STS_OK && ret->http.body.len > 0 && !ret->json)
		r = STS_EPARSE;
	return r;
}

STS_API int sts_rest_do(struct sts_rest *c, const struct sts_rest_req *req,
			struct sts_rest_resp *ret)
{
	memset(ret, 0, sizeof(*ret));
	struct call k = {
	    .c = c,
	    .req = req,
	    .method = req->method ? req->method : "GET",
	    .base = req->base ? req->base : c->base,
	    .rl = req->ratelimit ? req->ratelimit : c->rl,
	    .br = req->breaker ? req->breaker : c->br,
	};
	k.base_len = k.base ? strlen(k.base) : 0;
	while (k.base_len > 0 && k.base[k.base_len - 1] == '/')
		k.base_len--;
	struct headers h;
	sts_buf_init(&h.auth, 70 * 1024);
	struct sts_buf url;
	sts_buf_init(&url, 64 * 1024);
	char *body = NULL, why[160] = "";
	int r = url_of(&k, &url);
	if (r < 0) {
		set_error(&k, ret, r, r == STS_EINVAL ? "URL outside the API's base URL" : NULL);
		goto out;
	}
	if (req->body && !(body = json_dumps(req->body, JSON_COMPACT))) {
		r = STS_ENOMEM;
		goto out;
	}
	if ((r = headers_of(&k, body != NULL, &h)) < 0)
		goto out;
	if (k.br && (r = sts_breaker_enter(k.br, why, sizeof(why))) < 0) {
		set_error(&k, ret, r, why);
		goto out;
	}
	r = send_req(&k, sts_buf_str(&url), h.v, body, ret);
	if (k.br && k.limited)
		sts_breaker_cancel(k.br); /* not the provider's doing */
	else if (k.br)
		sts_breaker_done(k.br, ret->status ? ret->status < 500 : false);
	if (r < 0)
		set_error(&k, ret, r,
			  r == STS_EPARSE && ret->status / 100 == 2 ? "response is not JSON"
								    : NULL);
out:
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
