/* SPDX-License-Identifier: MIT */
#ifndef STS_INVENTORY_H
#define STS_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_diag.h"
#include "sts_policy.h"

/*
 * Inventory v1 (docs/inventory.md). Loading parses the JSON with jansson,
 * validates every section, resolves inheritance domain -> tenant -> defaults
 * and converts U-label domain names to A-labels (libidn2). Every problem is
 * reported in one run, each diag with file, line, column of the offending
 * value and its JSON path. Secrets (${env:..}, ${file:..}) stay unresolved
 * strings here: see sts_secret.h.
 */

enum sts_hosting {
	STS_HOSTING_SELF,      /* stsctl publishes the policy file and the TXT id */
	STS_HOSTING_DELEGATED, /* RFC 8461 §8.2: CNAMEs to a provider */
};

enum sts_domain_state {
	STS_STATE_PRESENT,
	STS_STATE_ABSENT, /* "state": "absent": goes through mode none, then removal */
};

/* A named provider instance: "providers": {"NAME": {"plugin": ..., ...}} */
struct sts_provider {
	char *name;
	char *plugin;
	json_t *settings; /* the whole object, borrowed from the inventory root */
	unsigned line, col;
};

struct sts_tenant {
	char *name;
	json_t *settings; /* borrowed */
	unsigned line, col;
};

/* One domain with every value resolved (domain -> tenant -> defaults). */
struct sts_domain {
	char *name;       /* A-label, lower case, no trailing dot */
	char *name_input; /* as written when it differed (U-label, upper case), else NULL */
	char *tenant;     /* NULL when none */
	char **mx;        /* patterns, A-labels, lower case */
	size_t n_mx;
	enum sts_mode mode;
	long long max_age;
	char **rua; /* tlsrpt.rua; n_rua == 0: no _smtp._tls record */
	size_t n_rua;
	char *dns; /* provider instance names (NULL when none resolved) */
	char *web;
	enum sts_hosting hosting;
	char *delegate_sts;    /* delegated: _mta-sts CNAME target, absolute without the dot */
	char *delegate_policy; /* delegated: mta-sts CNAME target, or NULL */
	uint32_t ttl;
	char *zone; /* zone apex holding the records; defaults to name */
	enum sts_domain_state state;
	json_t *json; /* the domain's own object, borrowed */
	unsigned line, col; /* position of the domain's object */
};

struct sts_inventory {
	char *path; /* as given */
	char *dir;  /* directory of path, for relative paths in settings */
	int version;
	json_t *root; /* owned; sections other modules read (reports, watch) live here */
	json_t *defaults; /* borrowed, may be NULL */
	struct sts_provider *providers;
	size_t n_providers;
	struct sts_tenant *tenants;
	size_t n_tenants;
	struct sts_domain *domains; /* in file order */
	size_t n_domains;
};

/*
 * Load and validate an inventory. On success (no errors; warnings allowed)
 * *ret is set and STS_OK returned. On validation errors returns
 * STS_EINVALID (diags hold every problem) and *ret is untouched. I/O errors
 * return -errno. diags must not be NULL. name_for_diags is the file name
 * printed in diagnostics (NULL: path).
 */
STS_API int sts_inventory_load(const char *path, struct sts_inventory **ret,
			       struct sts_diags *diags);
STS_API int sts_inventory_parse(const char *text, size_t len, const char *path,
				struct sts_inventory **ret, struct sts_diags *diags);
STS_API void sts_inventory_free(struct sts_inventory *inv);

STS_API const struct sts_domain *sts_inventory_find(const struct sts_inventory *inv,
						    const char *name);
STS_API const struct sts_provider *sts_inventory_provider(const struct sts_inventory *inv,
							  const char *name);

/* Defaults applied when neither domain, tenant nor defaults set a value. */
#define STS_DEFAULT_TTL 3600u
#define STS_DEFAULT_MAX_AGE 604800LL

#endif
