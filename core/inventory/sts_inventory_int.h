/* SPDX-License-Identifier: MIT */
#ifndef STS_INVENTORY_INT_H
#define STS_INVENTORY_INT_H

/*
 * Internal to core/inventory/sts_inventory*.c: sts_inventory.c walks the sections
 * (providers, tenants, domains, inheritance), sts_inventory_fields.c checks
 * the values and reports. Not exported; do not use elsewhere.
 */
#include <stdarg.h>

#include "sts_inventory.h"
#include "sts_jsonpos.h"

#define BIT(f)	     (1u << (f))
#define NAME_MAX_LEN 64 /* provider, tenant and plugin names */
#define QUOTE_MAX    80 /* a value shown in a message */
#define N_OF(a)	     (sizeof(a) / sizeof((a)[0]))

/* ---- string map (open addressing): names -> index ---- */

struct strmap_slot {
	const char *key;
	uint32_t hash; /* compared before the key: fewer cache misses */
	uint32_t idx;
};

struct strmap {
	struct strmap_slot *v;
	size_t mask;
};

int sts_inv_strmap_init(struct strmap *m, size_t n);
/* Index of key, or -1; with put, inserts idx when absent. */
long sts_inv_strmap_find(struct strmap *m, const char *key, bool put, uint32_t idx);

/* Inheritable fields first (defaults and tenants accept exactly these). */
enum field {
	F_MX,
	F_MODE,
	F_MAX_AGE,
	F_TLSRPT,
	F_DNS,
	F_WEB,
	F_HOSTING,
	F_TTL,
	F_ZONE,
	F_VERIFY,
	F_ROLLOUT,
	N_FIELDS,
	F_NAME = N_FIELDS,
	F_TENANT,
	F_STATE,
	N_DOMAIN_KEYS,
};

extern const char *const sts_inv_domain_keys[N_DOMAIN_KEYS];

/* One level of settings: a domain's own, its tenant's or the defaults. */
struct layer {
	unsigned set; /* BIT(field): given at this level */
	unsigned bad; /* given but invalid (already reported): do not cascade */
	char **mx;
	size_t n_mx;
	enum sts_mode mode;
	long long max_age;
	char **rua;
	size_t n_rua;
	const char *dns, *web;
	enum sts_hosting hosting;
	char *delegate_sts, *delegate_policy;
	uint32_t ttl;
	char *zone;
	uint32_t zone_off;
	json_t *verify, *rollout;
	const struct sts_rollout_settings *rollout_settings; /* parsed rollout (arena) */
};

struct sts_inventory_priv {
	struct sts_arena arena; /* every string and array of the inventory */
	struct strmap domains, tenants, providers;
	struct layer defaults;
	struct layer *tenant_layers; /* parallel to inv->tenants */
	json_t *owned;		     /* verify/rollout values parsed per domain or tenant */
	struct sts_rollout_settings rollout_default; /* for domains without "rollout" */
};

/* The JSON path of a value, built only when a diagnostic needs it. */
struct pctx {
	const struct pctx *up; /* NULL: the root */
	const char *key;       /* NULL: an array element */
	size_t idx;
};

struct vctx {
	const char *text;
	size_t len;
	const char *file;
	struct sts_diags *diags;
	struct sts_jlines lines;
	struct sts_inventory *inv;
	struct sts_inventory_priv *priv;
	const struct sts_jval *providers_j, *tenants_j;
	const struct sts_jval *hosted_j; /* the "hosted" section, or NULL */
	size_t n_errors;
	int err; /* STS_ENOMEM once anything failed to allocate */
};

extern const struct pctx sts_inv_root;

void sts_inv_oom(struct vctx *c, int r);
/* a string value copied into the arena; NULL (STS_ENOMEM noted) when out of memory */
char *sts_inv_text_copy(struct vctx *c, const struct sts_jval *v);
void sts_inv_diag(struct vctx *c, enum sts_severity sev, const char *rule, const struct pctx *p,
		  uint32_t off, const char *fmt, ...) STS_PRINTF(6, 7);
/* an error at a path already formatted */
void sts_inv_diag_raw(struct vctx *c, const char *path, uint32_t off, const char *fmt, ...)
    STS_PRINTF(4, 5);
#define ERR(c, p, off, ...) sts_inv_diag((c), STS_SEV_ERROR, NULL, (p), (off), __VA_ARGS__)

const char *sts_inv_quote(char out[QUOTE_MAX + 4], const char *s);
const char *sts_inv_suggest_keys(const char *word, const struct sts_jval *obj);
void sts_inv_unknown_key(struct vctx *c, const struct pctx *p, const struct sts_jmember *m,
			 const char *const *known, size_t n);
int sts_inv_key_index(const char *key, const char *const *keys, size_t n);
/* "undefined tenant 'x'" for a string v naming no key of section, with a hint */
void sts_inv_undefined(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
		       const struct sts_jval *section, const char *what, const char *section_name);
/* m's key's index in keys[n], or -1 after an "unknown key" error (hints from keys[n_suggest]) */
int sts_inv_member_key(struct vctx *c, const struct pctx *p, const struct sts_jmember *m,
		       const char *const *keys, size_t n, size_t n_suggest);
bool sts_inv_want(struct vctx *c, const struct pctx *p, const struct sts_jval *v, enum sts_jtype t);
bool sts_inv_parse_enum(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			const char *what, const char *const *names, size_t n, int *ret);

const char *sts_inv_host_normalize(struct vctx *c, const char *in, char **ret, bool *converted);
const char *sts_inv_name_problem(const char *s, bool underscore);
bool sts_inv_ident_ok(const char *s, bool plugin);

void sts_inv_parse_field(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 enum field f, struct layer *L);
/* defaults or one tenant: the inheritable keys only */
void sts_inv_parse_layer(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 struct layer *L, const char *where);

/* a small fixed-schema object: -1 when not an object, else the number of
 * unknown keys (each reported) */
int sts_inv_object_keys(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			const char *const *keys, size_t n);
/* an integer in lo..hi, else reported ("WHAT N is out of range") */
bool sts_inv_int_in_range(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			  long long lo, long long hi, const char *what);
/* a host name value normalised into the arena (underscore: '_' allowed);
 * NULL after reporting */
char *sts_inv_host_value(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 bool underscore, const char *what);
/* "ADDR:PORT", "[IPv6]:PORT" or ":PORT"; false after reporting */
bool sts_inv_listen_value(struct vctx *c, const struct pctx *p, const struct sts_jval *v);
/* a secret reference (checked, never resolved) or, with path_ok, a path */
bool sts_inv_secret_value(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			  bool path_ok);
/* the top-level "hosted" section (core/inventory/sts_inventory_hosted.c) */
void sts_inv_parse_hosted(struct vctx *c, const struct pctx *p, const struct sts_jval *v);
/* the top-level "reports" section (core/inventory/sts_inventory_reports.c) */
void sts_inv_parse_reports(struct vctx *c, const struct pctx *p, const struct sts_jval *v);
/* the top-level "state" section (core/inventory/sts_inventory_state.c) */
void sts_inv_parse_state(struct vctx *c, const struct pctx *p, const struct sts_jval *v);

#endif
