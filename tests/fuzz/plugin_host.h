/* SPDX-License-Identifier: MIT */
#ifndef FUZZ_PLUGIN_HOST_H
#define FUZZ_PLUGIN_HOST_H

/*
 * A fake plugin host for the fuzz targets that compile a provider plugin's
 * sources in (fuzz_powerdns, fuzz_rfc2136): the host table of
 * <stsctl/plugin.h> with the real libsts record lists, buffers and
 * secrets, messages formatted and dropped, and HTTP answered by a
 * callback of the target from its input instead of the network. The
 * struct is the plugin handle and the call context at once.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sts_http.h"
#include "sts_plugin.h"

struct fz_host {
	struct sts_plugin_head head; /* first: what the plugin's wrappers read */
	void *ctx;
	/* the input, handed out in pieces by the target's callbacks */
	const uint8_t *data;
	size_t size, pos;
	int (*http)(struct fz_host *h, const struct sts_http_req *req, struct sts_http_resp *ret);
	unsigned n_errors; /* sts_plugin_error() calls */
};

void fz_host_init(struct fz_host *h, const uint8_t *data, size_t size);
struct sts_plugin *fz_host_plugin(struct fz_host *h);
struct sts_plugin_call *fz_host_call(struct fz_host *h);

/*
 * Check (api->check) and load the plugin with settings (JSON text, every
 * key given: there is no schema pass to fill in defaults). Environment
 * variable STS_FUZZ_SECRET holds the secret the settings refer to.
 */
int fz_host_load(struct fz_host *h, const struct sts_plugin_api *api, const char *settings);
void fz_host_unload(struct fz_host *h, const struct sts_plugin_api *api);

/* read() into got, then the checks of fz_host_check_read. */
void fz_host_read(struct fz_host *h, const struct sts_plugin_api *api, const char *zone,
		  const char *const *names, size_t n, struct sts_rrsets *got);
/* apply() of the host's form of n changes, then fz_host_check_error. */
void fz_host_apply(struct fz_host *h, const struct sts_plugin_api *api, const char *zone,
		   const struct sts_dns_change *ch, size_t n);

/* Abort when an op failed (not ENOMEM) without a message since errors_before. */
void fz_host_check_error(const struct fz_host *h, int r, unsigned errors_before);
/* The same for read(), which on success must return only rrsets at names[0..n). */
void fz_host_check_read(const struct fz_host *h, int r, const struct sts_rrsets *got,
			const char *const *names, size_t n);

/*
 * The whole of a records-parser target (fuzz_digitalocean, fuzz_linode):
 * the input as one answer page whose array `key` (or the input itself when
 * it is an array) goes through rrsets() for zone example.com and three
 * owner names, with the real name normalisation of libsts, then the checks
 * of fz_host_check_read.
 */
typedef int fz_rrsets_fn(struct sts_plugin *p, const char *zone, const json_t *recs,
			 const char *const *names, size_t n, struct sts_rrsets *ret,
			 struct sts_plugin_call *call);
void fz_host_rrsets(const uint8_t *data, size_t size, const char *key, fz_rrsets_fn *rrsets);

#endif
