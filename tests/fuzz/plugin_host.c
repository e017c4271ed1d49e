/* SPDX-License-Identifier: MIT */
/* The fake plugin host of the plugin fuzz targets (plugin_host.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin_host.h"
#include "sts_dname.h"
#include "sts_err.h"
#include "sts_plugin_int.h"
#include "sts_rrset.h"
#include "sts_secret.h"
#include "sts_txt.h"

static struct fz_host *host_of(const struct sts_plugin *p)
{
	return (struct fz_host *)(uintptr_t)p;
}

static void vlog(struct sts_plugin *p, enum sts_plugin_log_level level, const char *fmt, va_list ap)
{
	char line[512]; /* formatted, so the sanitizers see bad arguments */
	vsnprintf(line, sizeof(line), fmt, ap);
	(void)p;
	(void)level;
}

static void verror(struct sts_plugin_call *c, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	((struct fz_host *)(void *)c)->n_errors++;
}

static void *ctx_get(const struct sts_plugin *p)
{
	return host_of(p)->ctx;
}

static void ctx_set(struct sts_plugin *p, void *ctx)
{
	host_of(p)->ctx = ctx;
}

static const char *basedir(const struct sts_plugin *p)
{
	(void)p;
	return "/";
}

static const char *instance(const struct sts_plugin *p)
{
	(void)p;
	return "fuzz";
}

static int http(struct sts_plugin *p, const struct sts_plugin_http_req *req,
		struct sts_plugin_http_resp *ret, struct sts_plugin_call *call)
{
	struct fz_host *h = host_of(p);
	struct sts_http_resp *hr = calloc(1, sizeof(*hr));
	if (ret->struct_size < sizeof(*ret) || req->struct_size < sizeof(*req))
		abort(); /* the plugins are built with this very header */
	memset(ret, 0, sizeof(*ret));
	ret->struct_size = sizeof(*ret);
	ret->body = "";
	if (!hr)
		return STS_ENOMEM;
	ret->host_priv = hr;
	sts_buf_init(&hr->body, req->max_response ? req->max_response : 1u << 20);
	struct sts_http_req hreq = {.method = req->method,
				    .url = req->url,
				    .headers = req->headers,
				    .body = req->body,
				    .body_len = req->body_len,
				    .max_response = req->max_response};
	int r = h->http ? h->http(h, &hreq, hr) : STS_ENET;
	ret->status = hr->status;
	ret->body = sts_buf_str(&hr->body);
	ret->body_len = hr->body.len;
	ret->attempts = hr->attempts;
	return r;
}

static void http_release(struct sts_plugin_http_resp *resp)
{
	struct sts_http_resp *hr = resp->host_priv;
	if (hr)
		sts_http_resp_release(hr);
	free(hr);
	resp->host_priv = NULL;
}

static int secret(struct sts_plugin *p, const char *ref, struct sts_secret **ret,
		  struct sts_plugin_call *call)
{
	const char *why = NULL;
	int r = sts_secret_resolve(ref, "/", ret, &why);
	if (r < 0)
		sts_plugin_error(call, "cannot resolve secret: %s", why ? why : "?");
	return r;
}

static int txt_quote(const char *value, size_t len, char **ret)
{
	return sts_txt_encode(value, len, ret, NULL);
}

static int txt_unquote(const char *text, size_t len, char **ret, size_t *ret_len)
{
	return sts_txt_decode(text, len, ret, ret_len, NULL);
}

/* As the real host: one spelling, underscores allowed, a final dot on request. */
static int name_normalize(const char *name, unsigned flags, char **ret)
{
	char *n = NULL;
	int r = sts_dname_normalize(name, 0, &n, NULL);
	if (r == STS_OK && sts_dname_check(n, STS_DNAME_UNDERSCORE) != STS_DNAME_OK)
		r = STS_EINVAL;
	if (r == STS_OK && (flags & STS_NAME_DOT)) {
		char *abs = NULL;
		r = asprintf(&abs, "%s.", n) < 0 ? STS_ENOMEM : STS_OK;
		free(n);
		n = abs;
	}
	if (r == STS_OK)
		*ret = n;
	else
		free(n);
	return r == STS_EINVALID ? STS_EINVAL : r;
}

static struct sts_rrset *rrset_find(struct sts_rrsets *l, const char *name, const char *type)
{
	return (struct sts_rrset *)sts_rrsets_find(l, name, type);
}

static int write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	(void)path;
	(void)data;
	(void)len;
	(void)mode;
	return STS_EIO; /* the plugins fuzzed here never write files */
}

/* The host's TXT codec and name spelling as the real host has them; the
 * other REST services are not used by the plugins fuzzed here (NULL: a
 * call crashes). */
static const struct sts_host_api api = {
    .abi_version = STS_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct sts_host_api),
    .vlog = vlog,
    .verror = verror,
    .ctx_get = ctx_get,
    .ctx_set = ctx_set,
    .basedir = basedir,
    .instance = instance,
    .http = http,
    .http_release = http_release,
    .secret = secret,
    .secret_value = sts_secret_value,
    .secret_len = sts_secret_len,
    .secret_free = sts_secret_free,
    .rrset_add = sts_rrsets_add,
    .rrset_add_value = sts_rrset_add_value,
    .rrset_find = rrset_find,
    .buf_append = sts_buf_append,
    .write_atomic = write_atomic,
    .free = free,
    .txt_quote = txt_quote,
    .txt_unquote = txt_unquote,
    .name_normalize = name_normalize,
};

void fz_host_init(struct fz_host *h, const uint8_t *data, size_t size)
{
	memset(h, 0, sizeof(*h));
	h->head.host = &api;
	h->data = data;
	h->size = size;
}

struct sts_plugin *fz_host_plugin(struct fz_host *h)
{
	return (struct sts_plugin *)(void *)h;
}

struct sts_plugin_call *fz_host_call(struct fz_host *h)
{
	return (struct sts_plugin_call *)(void *)h;
}

int fz_host_load(struct fz_host *h, const struct sts_plugin_api *papi, const char *settings)
{
	json_error_t e;
	json_t *s = json_loads(settings, 0, &e);
	if (!s)
		abort(); /* the target's own settings */
	struct sts_plugin_check args = {.struct_size = sizeof(args)};
	int r = papi->check ? papi->check(s, &args) : STS_OK;
	if (r == STS_OK)
		r = papi->load(fz_host_plugin(h), s, fz_host_call(h));
	json_decref(s);
	return r;
}

void fz_host_unload(struct fz_host *h, const struct sts_plugin_api *papi)
{
	if (papi->unload)
		papi->unload(fz_host_plugin(h));
}

void fz_host_check_error(const struct fz_host *h, int r, unsigned errors_before)
{
	if (r < 0 && r != STS_ENOMEM && h->n_errors == errors_before)
		abort();
}

void fz_host_check_read(const struct fz_host *h, int r, const struct sts_rrsets *got,
			const char *const *names, size_t n)
{
	fz_host_check_error(h, r, 0);
	for (size_t i = 0; r == STS_OK && i < got->n; i++) {
		bool asked = false;
		for (size_t k = 0; k < n && !asked; k++)
			asked = strcasecmp(got->v[i].name, names[k]) == 0;
		if (!asked || !got->v[i].type || !got->v[i].n_values)
			abort();
	}
}

void fz_host_read(struct fz_host *h, const struct sts_plugin_api *papi, const char *zone,
		  const char *const *names, size_t n, struct sts_rrsets *got)
{
	int r = papi->dns->read(fz_host_plugin(h), zone, names, n, got, fz_host_call(h));
	fz_host_check_read(h, r, got, names, n);
}

void fz_host_apply(struct fz_host *h, const struct sts_plugin_api *papi, const char *zone,
		   const struct sts_dns_change *ch, size_t n)
{
	const struct sts_rrset_change **v = sts_dns_changes_to_abi(ch, n);
	unsigned before = h->n_errors;
	if (!v)
		return;
	int r = papi->dns->apply(fz_host_plugin(h), zone, v, n, fz_host_call(h));
	fz_host_check_error(h, r, before);
	free(v);
}

void fz_host_rrsets(const uint8_t *data, size_t size, const char *key, fz_rrsets_fn *rrsets)
{
	static const char *const names[] = {"_mta-sts.example.com.", "_smtp._tls.example.com.",
					    "example.com."};
	const size_t n = sizeof(names) / sizeof(names[0]);
	struct fz_host h;
	fz_host_init(&h, data, size);
	struct sts_host_api with_names = *h.head.host;
	with_names.name_normalize = sts_plugin_host_api.name_normalize; /* the real host's */
	h.head.host = &with_names;
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	json_t *list = json_is_array(doc) ? doc : json_object_get(doc, key);
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	int r = rrsets(fz_host_plugin(&h), "example.com", list, names, n, (struct sts_rrsets *)&got,
		       fz_host_call(&h));
	fz_host_check_read(&h, r, &got, names, n);
	sts_rrsets_release(&got);
	json_decref(doc);
}
