/* SPDX-License-Identifier: MIT */
/*
 * The host's function table (struct sts_host_api of <stsctl/plugin.h>):
 * what a plugin reaches through its handle. Every function is thread-safe;
 * errors with a text for the user go into the call context of the op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_breaker.h"
#include "sts_dname.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_plugin_int.h"
#include "sts_ratelimit.h"
#include "sts_rest.h"
#include "sts_secret.h"
#include "sts_txt.h"

#define LOG_LINE_MAX 4096u
#define ERROR_MAX    1024u

/* ---- per-call errors ---- */

void sts_plugin_call_init(struct sts_plugin_call *c)
{
	c->head.host = &sts_plugin_host_api;
	c->msg = NULL;
}

void sts_plugin_call_end(struct sts_plugin_call *c, int r, char **reterr)
{
	if (reterr)
		*reterr = NULL;
	if (r < 0 && reterr) {
		*reterr = c->msg;
		c->msg = NULL;
	}
	free(c->msg);
	c->msg = NULL;
}

static void call_vset(struct sts_plugin_call *c, const char *fmt, va_list ap)
{
	char *msg = NULL;
	if (!c)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg && strlen(msg) > ERROR_MAX)
		msg[ERROR_MAX] = '\0';
	free(c->msg);
	c->msg = msg;
}

void sts_plugin_call_set(struct sts_plugin_call *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	call_vset(c, fmt, ap);
	va_end(ap);
}

static void host_verror(struct sts_plugin_call *c, const char *fmt, va_list ap)
{
	call_vset(c, fmt, ap);
}

/* ---- instance ---- */

static void host_vlog(struct sts_plugin *p, enum sts_plugin_log_level level, const char *fmt,
		      va_list ap)
{
	if (!p->host->log_fn)
		return;
	struct sts_buf b;
	sts_buf_init(&b, LOG_LINE_MAX);
	int r = sts_buf_vprintf(&b, fmt, ap);
	if (r == STS_ETOOLARGE)
		r = STS_OK; /* truncated below is better than nothing: print the prefix */
	if (r == STS_OK) {
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
			b.data[--b.len] = '\0';
		p->host->log_fn(p->host->log_ud, level, p->prefix, sts_buf_str(&b));
	}
	sts_buf_release(&b);
}

static void *host_ctx_get(const struct sts_plugin *p)
{
	return p->ctx;
}

static void host_ctx_set(struct sts_plugin *p, void *ctx)
{
	p->ctx = ctx;
}

static const char *host_basedir(const struct sts_plugin *p)
{
	return p->basedir ? p->basedir : ".";
}

static const char *host_instance(const struct sts_plugin *p)
{
	return p->instance;
}

/* ---- HTTP ---- */

/* One request on an idle client of the handle's pool (a new one when none). */
static int pooled_do(struct sts_plugin *p, const struct sts_http_req *req,
		     const struct sts_http_xreq *x, struct sts_http_resp *ret)
{
	struct sts_http *c = NULL;
	pthread_mutex_lock(&p->http.lock);
	if (p->http.n_idle)
		c = p->http.idle[--p->http.n_idle];
	pthread_mutex_unlock(&p->http.lock);
	if (!c) {
		int r = sts_http_new(&p->host->http_opts, &c);
		if (r < 0) {
			memset(ret, 0, sizeof(*ret));
			sts_buf_init(&ret->body, 1);
			return r;
		}
	}
	int r = sts_http_do_ex(c, req, x, ret);
	pthread_mutex_lock(&p->http.lock);
	struct sts_http **v = realloc(p->http.idle, (p->http.n_idle + 1) * sizeof(*v));
	if (v) {
		p->http.idle = v;
		v[p->http.n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&p->http.lock);
	sts_http_free(c);
	return r;
}

void sts_plugin_http_pool_release(struct sts_plugin *p)
{
	for (size_t i = 0; i < p->http.n_idle; i++)
		sts_http_free(p->http.idle[i]);
	free(p->http.idle);
	p->http.idle = NULL;
	p->http.n_idle = 0;
	for (size_t i = 0; i < p->n_rest; i++) {
		sts_rest_free(p->rest[i].c);
		free(p->rest[i].key);
	}
	free(p->rest);
	p->rest = NULL;
	p->n_rest = 0;
}

#define REQ_HAS(req, f) STS_PLUGIN_HAS(req, struct sts_plugin_http_req, f)

static struct sts_ratelimit *rl_of(struct sts_limiter *l);

/* Every attempt of a plugin's HTTP request waits for its limiter. */
static int http_before_attempt(void *ud, unsigned attempt)
{
	(void)attempt;
	int r = sts_ratelimit_acquire(rl_of(ud), 60000);
	return r == STS_ETIMEOUT ? STS_EAGAIN : r;
}

static int host_http(struct sts_plugin *p, const struct sts_plugin_http_req *req,
		     struct sts_plugin_http_resp *ret, struct sts_plugin_call *call)
{
	if (ret->struct_size < sizeof(*ret) || !req || !REQ_HAS(req, follow_redirects)) {
		sts_plugin_call_set(call, "plugin passed an HTTP request or response too small");
		return STS_EINVAL;
	}
	memset(ret, 0, sizeof(*ret));
	ret->struct_size = sizeof(*ret);
	ret->body = "";
	struct sts_http_resp *hr = calloc(1, sizeof(*hr));
	if (!hr)
		return STS_ENOMEM;
	struct sts_http_req h = {
	    .method = req->method,
	    .url = req->url,
	    .headers = req->headers,
	    .body = req->body,
	    .body_len = req->body_len,
	    .timeout_ms = req->timeout_ms,
	    .max_response = req->max_response,
	    .max_attempts = req->max_attempts,
	    .follow_redirects = req->follow_redirects,
	};
	struct sts_http_xreq x = {0};
	bool ext = REQ_HAS(req, retry_on);
	if (ext) {
		x.idempotent = req->idempotent;
		x.retry_on = req->retry_on;
		if (req->limiter) {
			x.before_attempt = http_before_attempt;
			x.attempt_ud = req->limiter;
		}
	}
	int r = pooled_do(p, &h, ext ? &x : NULL, hr);
	ret->host_priv = hr;
	ret->status = hr->status;
	ret->body = sts_buf_str(&hr->body);
	ret->body_len = hr->body.len;
	ret->attempts = hr->attempts;
	ret->effective_url = hr->effective_url;
	return r;
}

static void host_http_release(struct sts_plugin_http_resp *resp)
{
	struct sts_http_resp *hr = resp ? resp->host_priv : NULL;
	if (hr) {
		sts_http_resp_release(hr);
		free(hr);
	}
	if (resp) {
		resp->host_priv = NULL;
		resp->body = "";
		resp->body_len = 0;
		resp->effective_url = NULL;
	}
}

static const char *host_http_header(const struct sts_plugin_http_resp *resp, const char *name)
{
	const struct sts_http_resp *hr = resp ? resp->host_priv : NULL;
	return hr ? sts_http_resp_header(hr, name) : NULL;
}

/* ---- secrets, lists, buffers, files ---- */

static int host_secret(struct sts_plugin *p, const char *ref, struct sts_secret **ret,
		       struct sts_plugin_call *call)
{
	const char *why = NULL;
	int r = sts_secret_resolve(ref, host_basedir(p), ret, &why);
	/* the reference names the variable or file (never the value) */
	const char *unused;
	bool named = ref && sts_secret_check(ref, &unused) == STS_OK;
	if (r < 0)
		sts_plugin_call_set(call, "cannot resolve secret %s%s: %s", named ? ref : "",
				    named ? "" : "reference", why ? why : sts_strerror(r));
	return r;
}

static struct sts_rrset *host_rrset_find(struct sts_rrsets *l, const char *name, const char *type)
{
	return (struct sts_rrset *)sts_rrsets_find(l, name, type);
}

static int host_zone_add(struct sts_zone_list *l, const char *zone)
{
	size_t n = zone ? strlen(zone) : 0;
	while (n && zone[n - 1] == '.')
		n--;
	if (n == 0)
		return STS_EINVAL;
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return STS_ENOMEM;
	l->v = v;
	if (!(v[l->n] = strndup(zone, n)))
		return STS_ENOMEM;
	for (char *s = v[l->n]; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	l->n++;
	return STS_OK;
}

static const char *host_buf_data(const struct sts_buf *b)
{
	return sts_buf_str(b);
}

static size_t host_buf_len(const struct sts_buf *b)
{
	return b->len;
}

static size_t host_buf_max(const struct sts_buf *b)
{
	return b->max;
}

static void host_buf_truncate(struct sts_buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

static int host_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	return sts_write_atomic(path, data, len, (mode_t)mode, true);
}

static void host_free(void *ptr)
{
	free(ptr);
}

/* ---- REST services: libsts's sts_rest, sts_ratelimit, sts_breaker, sts_txt, sts_dname ---- */

/* The ABI's opaque limiter and breaker are libsts's. */
static struct sts_ratelimit *rl_of(struct sts_limiter *l)
{
	return (struct sts_ratelimit *)(void *)l;
}

static struct sts_breaker *br_of(struct sts_breaker *b)
{
	return b;
}

#define REST_HAS(req, f) STS_PLUGIN_HAS(req, struct sts_plugin_rest_req, f)

/* A JSON pointer "/errors/0/message" as an sts_rest path "errors[0].message". */
static char *error_path(const char *pointer)
{
	struct sts_buf b;
	sts_buf_init(&b, 1024);
	int r = STS_OK;
	for (const char *s = pointer; r == STS_OK && *s;) {
		s += *s == '/';
		size_t n = strcspn(s, "/");
		bool index = n > 0 && strspn(s, "0123456789") == n;
		if (index)
			r = sts_buf_printf(&b, "[%.*s]", (int)n, s);
		else
			r = sts_buf_printf(&b, "%s%.*s", b.len ? "." : "", (int)n, s);
		s += n;
	}
	return r == STS_OK ? sts_buf_steal(&b) : (sts_buf_release(&b), NULL);
}

/*
 * What makes two requests share one sts_rest client (and its kept-alive
 * connections). The headers are not part of it: they go per request
 * (sts_rest_req.headers), as the auth line does, since some change with
 * every request (OVH's timestamp and signature): a client per request
 * opened a new connection each time and kept every one of them.
 */
static char *rest_key(const struct sts_plugin_rest_req *req)
{
	struct sts_buf b;
	sts_buf_init(&b, 64u * 1024u);
	int r = sts_buf_printf(&b, "%s\n%s\n%p\n%p\n%ld\n%zu\n%u\n", req->base,
			       req->error_pointer ? req->error_pointer : "", (void *)req->limiter,
			       (void *)req->breaker, req->timeout_ms, req->max_response,
			       req->max_attempts);
	return r == STS_OK ? sts_buf_steal(&b) : (sts_buf_release(&b), NULL);
}

static int rest_client_new(struct sts_plugin *p, const struct sts_plugin_rest_req *req,
			   struct sts_rest **ret)
{
	char *ep = req->error_pointer ? error_path(req->error_pointer) : NULL;
	if (req->error_pointer && !ep)
		return STS_ENOMEM;
	/* req->auth and req->headers go per request (sts_rest_req), so that
	 * sts_rest scrubs the auth value from error text */
	struct sts_http_opts http = p->host->http_opts;
	if (req->timeout_ms > 0)
		http.timeout_ms = req->timeout_ms;
	if (req->max_response > 0)
		http.max_response = req->max_response;
	if (req->max_attempts > 0)
		http.max_attempts = req->max_attempts;
	const char *paths[] = {ep, NULL};
	struct sts_rest_opts o = {
	    .base_url = req->base,
	    .error_paths = ep ? paths : NULL,
	    .http = &http,
	    .ratelimit = rl_of(req->limiter),
	    .breaker = br_of(req->breaker),
	};
	int r = sts_rest_new(&o, ret);
	free(ep);
	return r;
}

/* The handle's client for req's settings, made on first use. */
static int rest_client(struct sts_plugin *p, const struct sts_plugin_rest_req *req,
		       struct sts_rest **ret)
{
	char *key = rest_key(req);
	if (!key)
		return STS_ENOMEM;
	int r = STS_OK;
	pthread_mutex_lock(&p->http.lock);
	size_t i = 0;
	while (i < p->n_rest && strcmp(p->rest[i].key, key) != 0)
		i++;
	if (i == p->n_rest) {
		struct sts_plugin_rest_client *v = realloc(p->rest, (i + 1) * sizeof(*v));
		if (v)
			p->rest = v;
		r = v ? rest_client_new(p, req, &v[i].c) : STS_ENOMEM;
		if (r == STS_OK) {
			v[i].key = key;
			key = NULL;
			p->n_rest++;
		}
	}
	if (r == STS_OK)
		*ret = p->rest[i].c;
	pthread_mutex_unlock(&p->http.lock);
	free(key);
	return r;
}

static int host_rest(struct sts_plugin *p, const struct sts_plugin_rest_req *req,
		     struct sts_plugin_rest_resp *ret, struct sts_plugin_call *call)
{
	if (ret->struct_size < sizeof(*ret) || !req || !REST_HAS(req, max_attempts) || !req->base) {
		sts_plugin_call_set(call, "plugin passed a REST request or response too small");
		return STS_EINVAL;
	}
	memset(ret, 0, sizeof(*ret));
	ret->struct_size = sizeof(*ret);
	struct sts_rest_resp *rr = calloc(1, sizeof(*rr));
	struct sts_rest *c = NULL;
	int r = rr ? rest_client(p, req, &c) : STS_ENOMEM;
	if (r < 0) {
		free(rr);
		return r;
	}
	struct sts_rest_req q = {.method = req->method,
				 .path = req->path ? req->path : "",
				 .body = req->body,
				 .idempotent = req->idempotent,
				 .auth = req->auth,
				 .headers = req->headers};
	r = sts_rest_do(c, &q, rr);
	ret->host_priv = rr;
	ret->status = rr->status;
	ret->json = rr->json;
	ret->attempts = rr->http.attempts;
	ret->retry_after = sts_http_resp_header(&rr->http, "Retry-After");
	if (r < 0)
		sts_plugin_call_set(call, "%s", rr->error ? rr->error : sts_strerror(r));
	return r;
}

static void host_rest_release(struct sts_plugin_rest_resp *resp)
{
	struct sts_rest_resp *rr = resp ? resp->host_priv : NULL;
	if (rr) {
		sts_rest_resp_release(rr); /* frees the json too */
		free(rr);
	}
	if (resp) {
		resp->host_priv = NULL;
		resp->json = NULL;
		resp->retry_after = NULL;
	}
}

static int host_limiter_new(const char *spec, struct sts_limiter **ret)
{
	struct sts_ratelimit *rl = NULL;
	int r = sts_ratelimit_new(NULL, &rl);
	if (r == STS_OK && (r = sts_ratelimit_add_spec(rl, spec ? spec : "")) < 0) {
		sts_ratelimit_free(rl);
		return r;
	}
	if (r == STS_OK)
		*ret = (struct sts_limiter *)(void *)rl;
	return r;
}

static int host_limiter_acquire(struct sts_limiter *l, long max_wait_ms)
{
	int r = sts_ratelimit_acquire(rl_of(l), max_wait_ms < 0 ? -1 : max_wait_ms);
	return r == STS_ETIMEOUT ? STS_EAGAIN : r;
}

static void host_limiter_free(struct sts_limiter *l)
{
	sts_ratelimit_free(rl_of(l));
}

static int host_breaker_new(const struct sts_plugin_breaker_conf *conf, struct sts_breaker **ret)
{
	struct sts_breaker_opts o = {0};
	if (conf && STS_PLUGIN_HAS(conf, struct sts_plugin_breaker_conf, open_ms)) {
		o.failures = conf->failures;
		o.cooldown_ms = conf->open_ms;
	}
	return sts_breaker_new(&o, NULL, ret);
}

static int host_breaker_allow(struct sts_breaker *b)
{
	return sts_breaker_enter(b, NULL, 0);
}

static void host_breaker_record(struct sts_breaker *b, bool ok)
{
	sts_breaker_done(b, ok);
}

static int host_txt_quote(const char *value, size_t len, char **ret)
{
	return sts_txt_encode(value, len, ret, NULL);
}

static int host_txt_unquote(const char *text, size_t len, char **ret, size_t *ret_len)
{
	return sts_txt_decode(text, len, ret, ret_len, NULL);
}

static int host_name_normalize(const char *name, unsigned flags, char **ret)
{
	const char *why = NULL;
	char *n = NULL;
	int r = sts_dname_normalize(name, 0, &n, &why);
	if (r == STS_OK && sts_dname_check(n, STS_DNAME_UNDERSCORE) != STS_DNAME_OK)
		r = STS_EINVAL;
	if (r == STS_OK && (flags & STS_NAME_DOT)) {
		char *abs = NULL;
		r = asprintf(&abs, "%s.", n) < 0 ? STS_ENOMEM : STS_OK;
		free(n);
		n = r == STS_OK ? abs : NULL;
	}
	if (r == STS_OK)
		*ret = n;
	else
		free(n);
	return r == STS_EINVALID ? STS_EINVAL : r;
}

const struct sts_host_api sts_plugin_host_api = {
    .abi_version = STS_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct sts_host_api),
    .vlog = host_vlog,
    .ctx_get = host_ctx_get,
    .ctx_set = host_ctx_set,
    .basedir = host_basedir,
    .instance = host_instance,
    .verror = host_verror,
    .http = host_http,
    .http_release = host_http_release,
    .http_header = host_http_header,
    .secret = host_secret,
    .secret_value = sts_secret_value,
    .secret_len = sts_secret_len,
    .secret_free = sts_secret_free,
    .rrset_add = sts_rrsets_add,
    .rrset_add_value = sts_rrset_add_value,
    .zone_add = host_zone_add,
    .buf_append = sts_buf_append,
    .buf_data = host_buf_data,
    .buf_len = host_buf_len,
    .buf_truncate = host_buf_truncate,
    .write_atomic = host_write_atomic,
    .free = host_free,
    .rest = host_rest,
    .rest_release = host_rest_release,
    .limiter_new = host_limiter_new,
    .limiter_acquire = host_limiter_acquire,
    .limiter_free = host_limiter_free,
    .breaker_new = host_breaker_new,
    .breaker_allow = host_breaker_allow,
    .breaker_record = host_breaker_record,
    .breaker_free = sts_breaker_free,
    .txt_quote = host_txt_quote,
    .txt_unquote = host_txt_unquote,
    .name_normalize = host_name_normalize,
    .rrset_find = host_rrset_find,
    .buf_max = host_buf_max,
};
