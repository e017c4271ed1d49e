/* SPDX-License-Identifier: MIT */
/*
 * The host's function table (struct sts_host_api of <stsctl/plugin.h>):
 * what a plugin reaches through its handle. Every function is thread-safe;
 * errors with a text for the user go into the call context of the op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_plugin_int.h"
#include "sts_secret.h"

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
		     struct sts_http_resp *ret)
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
	int r = sts_http_do(c, req, ret);
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

void sts_plugin_http_pool_release(struct sts_plugin_http_pool *pool)
{
	for (size_t i = 0; i < pool->n_idle; i++)
		sts_http_free(pool->idle[i]);
	free(pool->idle);
	pool->idle = NULL;
	pool->n_idle = 0;
}

#define REQ_HAS(req, f) STS_PLUGIN_HAS(req, struct sts_plugin_http_req, f)

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
	int r = pooled_do(p, &h, hr);
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
	if (r < 0)
		sts_plugin_call_set(call, "cannot resolve secret: %s", why ? why : sts_strerror(r));
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

/* ---- REST services (wired to libsts's modules as they land) ---- */

static int host_rest(struct sts_plugin *p, const struct sts_plugin_rest_req *req,
		     struct sts_plugin_rest_resp *ret, struct sts_plugin_call *call)
{
	memset(ret, 0, sizeof(*ret));
	ret->struct_size = sizeof(*ret);
	sts_plugin_call_set(call, "the JSON request helper is not in this stsctl yet");
	return STS_EUNSUPPORTED;
}

static void host_rest_release(struct sts_plugin_rest_resp *resp)
{
	if (resp) {
		json_decref(resp->json);
		resp->json = NULL;
	}
}

static int host_limiter_new(const char *spec, struct sts_limiter **ret)
{
	return STS_EUNSUPPORTED;
}

static int host_limiter_acquire(struct sts_limiter *l, long max_wait_ms)
{
	return STS_OK;
}

static void host_limiter_free(struct sts_limiter *l)
{
}

static int host_breaker_new(const struct sts_plugin_breaker_conf *conf, struct sts_breaker **ret)
{
	return STS_EUNSUPPORTED;
}

static int host_breaker_allow(struct sts_breaker *b)
{
	return STS_OK;
}

static void host_breaker_record(struct sts_breaker *b, bool ok)
{
}

static void host_breaker_free(struct sts_breaker *b)
{
}

static int host_txt_quote(const char *value, size_t len, char **ret)
{
	return STS_EUNSUPPORTED;
}

static int host_txt_unquote(const char *text, size_t len, char **ret, size_t *ret_len)
{
	return STS_EUNSUPPORTED;
}

static int host_name_normalize(const char *name, unsigned flags, char **ret)
{
	return STS_EUNSUPPORTED;
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
    .breaker_free = host_breaker_free,
    .txt_quote = host_txt_quote,
    .txt_unquote = host_txt_unquote,
    .name_normalize = host_name_normalize,
    .rrset_find = host_rrset_find,
    .buf_max = host_buf_max,
};
