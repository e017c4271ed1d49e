/* SPDX-License-Identifier: MIT */
#ifndef STS_INVENTORY_H
#define STS_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_diag.h"
#include "sts_inv_rollout.h"
#include "sts_inv_watch.h"
#include "sts_policy.h"

/*
 * Inventory v1 (docs/inventory.md). Loading parses the JSON (sts_jsonpos.h:
 * a position-keeping parser, jansson is too slow for 100,000 domains),
 * validates every section, resolves inheritance domain -> tenant -> defaults
 * and converts U-label domain names to A-labels (libidn2). Every problem is
 * reported in one run, each diag with file, line, column of the offending
 * value and its JSON path. Secrets (${env:..}, ${file:..}) stay unresolved
 * strings here: see sts_secret.h.
 *
 * Ownership: every string and array reachable from the inventory is owned
 * by it (freed by sts_inventory_free) and may be shared between domains
 * (an mx list inherited from a tenant is one array): treat them as read-only.
 * json_t members are borrowed from inv->root or from values the inventory
 * holds; never decref them.
 */

enum sts_hosting {
	STS_HOSTING_SELF,      /* stsctl publishes the policy file and the TXT id */
	STS_HOSTING_DELEGATED, /* RFC 8461 §8.2: CNAMEs to a provider */
	STS_HOSTING_HOSTED,    /* the customer CNAMEs to the service stsctl runs ("hosted") */
};

enum sts_domain_state {
	STS_STATE_PRESENT,
	STS_STATE_ABSENT, /* "state": "absent": goes through mode none, then removal */
};

/* A named provider instance: "providers": {"NAME": {"plugin": ..., ...}} */
struct sts_inventory_priv;

/* Where one key of a provider's settings is: the position of its value. */
struct sts_provider_key {
	const char *key;
	unsigned line, col;
};

struct sts_provider {
	char *name;
	char *plugin;
	json_t *settings; /* the whole object, borrowed from the inventory root */
	unsigned line, col;
	/* appended (issue 17): each key's value position, in file order, for
	 * diagnostics at the offending setting (sts_plugin_validate_provider) */
	const struct sts_provider_key *keys;
	size_t n_keys;
};

struct sts_tenant {
	char *name;
	json_t *settings; /* borrowed */
	unsigned line, col;
};

/* One domain with every value resolved (domain -> tenant -> defaults). */
struct sts_domain {
	char *name;	  /* A-label, lower case, no trailing dot */
	char *name_input; /* as written when it differed (U-label, upper case), else NULL */
	char *tenant;	  /* NULL when none */
	char **mx;	  /* patterns, A-labels, lower case */
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
	/*
	 * Always NULL: building a jansson object per domain costs about half
	 * a second per 100,000 domains. The sections later modules read from a
	 * domain are resolved below (verify, rollout).
	 */
	json_t *json;
	unsigned line, col; /* position of the domain's object */
	/* appended fields */
	json_t *verify;	 /* "verify" object (domain -> tenant -> defaults), borrowed, or NULL */
	json_t *rollout; /* "rollout" object (reserved), borrowed, or NULL */
	unsigned name_line, name_col; /* position of the "name" value */
	/* that "rollout" parsed (sts_inv_rollout.h), the defaults without one;
	 * never NULL in a loaded inventory, owned by it */
	const struct sts_rollout_settings *rollout_settings;
};

/*
 * The top-level "hosted" section: the MTA-STS service stsctl runs for
 * hosted domains (docs/inventory.md, docs/hosted.md). Strings are A-labels
 * or as written, owned by the inventory.
 */
#define STS_HOSTED_DEFAULT_LISTEN ":443"
#define STS_HOSTED_CERT_WAIT	  120 /* certificate_wait: Let's Encrypt's usual issuance fits */
#define STS_HOSTED_CERT_WAIT_MAX  3600

struct sts_hosted_conf {
	char *zone;	      /* the MSP zone: <label>._mta-sts.<zone> holds the TXT */
	const char *dns;      /* provider instance publishing zone */
	char *edge;	      /* target of every mta-sts.D CNAME */
	char *acme_directory; /* https:// URL */
	char **acme_contact;  /* mailto: URIs */
	size_t n_acme_contact;
	char *acme_ca_file; /* a path or ${file:..}, or NULL (system store) */
	const char *listen; /* serve's HTTPS address, STS_HOSTED_DEFAULT_LISTEN */
	unsigned line, col;
	/* appended: how long apply waits for serve's first certificate of a
	 * new customer (seconds, 0..STS_HOSTED_CERT_WAIT_MAX) */
	unsigned certificate_wait;
};

struct sts_inventory {
	char *path; /* as given */
	char *dir;  /* directory of path, for relative paths in settings */
	int version;
	/*
	 * owned; every top-level section except "domains" (defaults, providers,
	 * tenants, reports, watch: the sections other modules read) as jansson
	 * values. The domains are in domains[] below.
	 */
	json_t *root;
	json_t *defaults; /* borrowed, may be NULL */
	struct sts_provider *providers;
	size_t n_providers;
	struct sts_tenant *tenants;
	size_t n_tenants;
	struct sts_domain *domains; /* in file order */
	size_t n_domains;
	/* appended fields */
	struct sts_inventory_priv *priv; /* lookup tables and storage */
	/* the "watch" section parsed (sts_inv_watch.h), the defaults without
	 * one; its strings point into root */
	struct sts_watch_conf watch;
	/* the "hosted" section, or NULL without one */
	const struct sts_hosted_conf *hosted;
};

/*
 * Load and validate an inventory. On success (no errors; warnings allowed)
 * *ret is set and STS_OK returned. On validation errors returns
 * STS_EINVALID (diags hold every problem) and *ret is untouched; text that
 * is not JSON returns STS_EPARSE (one diag). I/O errors return -errno,
 * STS_ETOOLARGE past STS_CAP_INVENTORY. diags must not be NULL. path is
 * the file name printed in diagnostics ("-" reads standard input for load).
 * ret may be NULL to only validate.
 */
STS_API int sts_inventory_load(const char *path, struct sts_inventory **ret,
			       struct sts_diags *diags);
STS_API int sts_inventory_parse(const char *text, size_t len, const char *path,
				struct sts_inventory **ret, struct sts_diags *diags);
STS_API void sts_inventory_free(struct sts_inventory *inv);

/* The "did you mean" of the inventory's messages: the candidate closest to
 * word (case-insensitive optimal string alignment distance of at most 2, or
 * a shared stem: "enforcing" -> "enforce"), or NULL. The CLI uses it for
 * command names. */
STS_API const char *sts_suggest(const char *word, const char *const *cands, size_t n);

/*
 * sts_inventory_load without keeping the result (stsctl validate):
 * *ret_n_domains (may be NULL) is set to the number of entries in
 * "domains" whenever the text is JSON, valid or not.
 */
STS_API int sts_inventory_validate(const char *path, size_t *ret_n_domains,
				   struct sts_diags *diags);
/*
 * sts_inventory_load for validate: also counts the domains, valid or not,
 * and on STS_EINVALID still sets *ret to what could be read (its providers
 * for the plugin checks); use such an inventory for nothing else.
 */
STS_API int sts_inventory_load_counted(const char *path, struct sts_inventory **ret,
				       size_t *ret_n_domains, struct sts_diags *diags);
STS_API int sts_inventory_validate_text(const char *text, size_t len, const char *path,
					size_t *ret_n_domains, struct sts_diags *diags);

STS_API const struct sts_domain *sts_inventory_find(const struct sts_inventory *inv,
						    const char *name);
STS_API const struct sts_provider *sts_inventory_provider(const struct sts_inventory *inv,
							  const char *name);

/* Defaults applied when neither domain, tenant nor defaults set a value. */
#define STS_DEFAULT_TTL	      3600u
#define STS_DEFAULT_MAX_AGE   604800LL
#define STS_DEFAULT_MODE      STS_MODE_TESTING
#define STS_TTL_MAX	      2147483647u /* RFC 2181 §8 */
#define STS_INVENTORY_VERSION 1

#endif
