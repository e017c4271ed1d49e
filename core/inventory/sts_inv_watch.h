/* SPDX-License-Identifier: MIT */
#ifndef STS_INV_WATCH_H
#define STS_INV_WATCH_H

/*
 * The inventory's "watch" section as typed settings (docs/stsctl-watch.md;
 * core/inventory/sts_inv_watch.c). The inventory validates it with
 * sts_watch_conf_from_json(); stsctl watch runs with the result.
 */
#include <stdint.h>

#include <jansson.h>

#include "sts_api.h"

#define STS_WATCH_DEFAULT_INTERVAL	 3600  /* seconds between cycles */
#define STS_WATCH_DEFAULT_CHECK_INTERVAL 86400 /* seconds between checks of a domain */
#define STS_WATCH_DEFAULT_CONCURRENCY	 10    /* live checks at a time */
#define STS_WATCH_CONCURRENCY_MAX	 512
#define STS_WATCH_DEFAULT_CERT_WARN_DAYS                                                           \
	14 /* a hosted certificate this close to expiry is posted */

struct sts_watch_conf {
	int64_t interval;
	int64_t check_interval;
	int64_t cert_warn_days;	     /* 1..90 */
	const char *webhook;	     /* borrowed from the JSON, or NULL */
	const char *webhook_ca_file; /* borrowed, or NULL (system store) */
};

/* o NULL: the defaults. STS_OK or STS_EINVALID (*reterr: static text). */
STS_API int sts_watch_conf_from_json(const json_t *o, struct sts_watch_conf *ret,
				     const char **reterr);

#endif
