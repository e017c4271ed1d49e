/* SPDX-License-Identifier: MIT */
/* The fake plugin host of the plugin fuzz targets (plugin_host.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin_host.h"
#include "sts_plugin.h"
#include "sts_secret.h"

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

static void verror(struct sts_plugin *p, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	host_of(p)->n_errors++;
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

static int http(struct sts_plugin *p, const struct sts_http_req *req, struct sts_http_resp *ret)
{
	struct fz_host *h = host_of(p);
	memset(ret, 0, sizeof(*ret));
	sts_buf_init(&ret->body, req->max_response ? req->max_response : 1u << 20);
	if (!h->http)
		return STS_ENET;
	return h->http(h, req, ret);
}

static int secret(struct sts_plugin *p, const char *ref, struct sts_secret **ret)
{
	const char *why = NULL;
	(void)p;
	return sts_secret_resolve(ref, "/", ret, &why);
}

static int write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	(void)path;
	(void)data;
	(void)len;
	(void)mode;
	return STS_EIO; /* the plugins fuzzed here never write files */
}

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
    .http_release = sts_http_resp_release,
    .secret = secret,
    .secret_value = sts_secret_value,
    .secret_len = sts_secret_len,
    .secret_free = sts_secret_free,
    .rrset_add = sts_rrsets_add,
    .rrset_add_value = sts_rrset_add_value,
    .buf_append = sts_buf_append,
    .write_atomic = write_atomic,
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

int fz_host_load(struct fz_host *h, const struct sts_plugin_api *papi, const char *settings)
{
	json_error_t e;
	json_t *s = json_loads(settings, 0, &e);
	if (!s)
		abort(); /* the target's own settings */
	struct sts_plugin_check args = {0};
	int r = papi->check ? papi->check(s, &args) : STS_OK;
	if (r == STS_OK)
		r = papi->load(fz_host_plugin(h), s);
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
