/* SPDX-License-Identifier: MIT */
#ifndef STS_PLAN_H
#define STS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_buf.h"
#include "sts_db.h"
#include "sts_diag.h"
#include "sts_inventory.h"
#include "sts_plugin.h"
#include "sts_policy.h"
#include "sts_pool.h"
#include "sts_progress.h"
#include "sts_rollout.h"

/*
 * Plan: desired state (render of every inventory domain, plus the domains
 * the state DB still manages) against the actual state read through the
 * providers, diffed into ordered changes per domain (docs/stsctl-plan.md).
 *
 * Ownership (README "Which records stsctl owns"): at _mta-sts.<domain> the
 * v=STSv1 TXT values (or, delegated, the CNAME); at _smtp._tls.<domain> the
 * v=TLSRPTv1 TXT values; at mta-sts.<domain> the A/AAAA rrsets or the CNAME
 * when the web provider or the domain names the policy host's address or
 * cname. Every other value at those names is kept; a record type that
 * cannot coexist with what stsctl must publish is a conflict.
 */

/* ---- provider access: plugins in production, a fake in unit tests ---- */

struct sts_io_ops {
	int (*dns_read)(void *ud, const char *provider, const char *zone, const char *const *names,
			size_t n, struct sts_rrsets *ret, char **reterr);
	int (*dns_apply)(void *ud, const char *provider, const char *zone,
			 const struct sts_dns_change *changes, size_t n, char **reterr);
	int (*dns_caps)(void *ud, const char *provider, struct sts_dns_caps *ret);
	int (*web_get)(void *ud, const char *provider, const char *host, struct sts_buf *ret,
		       char **reterr);
	int (*web_put)(void *ud, const char *provider, const char *host, const void *data,
		       size_t len, char **reterr);
	int (*web_del)(void *ud, const char *provider, const char *host, char **reterr);
	int (*web_caps)(void *ud, const char *provider, struct sts_web_caps *ret);
	/* optional: the zones the provider's credentials manage (borrowed, valid
	 * as long as the io), or STS_EUNSUPPORTED when its plugin cannot list */
	int (*dns_zones)(void *ud, const char *provider, char *const **ret, size_t *ret_n,
			 char **reterr);
	/* optional: 1 when the provider is down for the rest of the run (it could
	 * not be opened, its breaker opened, it refused the credentials), with
	 * why (malloc'd, may be NULL); 0 when it is not; STS_ENOMEM */
	int (*down)(void *ud, const char *provider, char **ret_why);
};

/* reterr: a malloc'd detail for the failing call, or NULL. All calls may
 * come from several threads (within the provider's declared concurrency). */
struct sts_io {
	const struct sts_io_ops *ops;
	void *ud;
};

struct sts_plugin_host;
/*
 * Provider access through the plugins: each provider instance of inv is
 * opened on first use (thread-safe). Open failures are remembered and
 * returned for every later call, with the diag text in reterr. A provider
 * that cannot be reached (STS_ENET, STS_ETIMEOUT, STS_ETLS, STS_EAGAIN after
 * the host's retries) STS_IO_DOWN_AFTER calls in a row, or that refuses
 * the credentials (STS_EAUTH) once, is down for the rest of the run: its
 * circuit breaker stays open (STS_IO_DOWN_MS) and every later call fails at
 * once with the same error and text, without reaching the server.
 */
#define STS_IO_DOWN_AFTER 2
/* How long down lasts: a plan or apply run; a daemon (watch) that keeps the
 * io tries the provider again after it. */
#define STS_IO_DOWN_MS 300000
STS_API int sts_io_plugins_new(struct sts_plugin_host *host, const struct sts_inventory *inv,
			       struct sts_io **ret);
STS_API void sts_io_plugins_free(struct sts_io *io);

/* ---- the plan ---- */

enum sts_object {
	STS_OBJ_POLICY,	       /* the policy file at https://mta-sts.<domain>/.well-known/ */
	STS_OBJ_STS_RECORD,    /* v=STSv1 TXT at _mta-sts.<domain> */
	STS_OBJ_TLSRPT_RECORD, /* v=TLSRPTv1 TXT at _smtp._tls.<domain> */
	STS_OBJ_CNAME,	       /* delegated _mta-sts / mta-sts CNAME, or a policy-host cname */
	STS_OBJ_ADDRESS,       /* A/AAAA of the policy host */
};

enum sts_action {
	STS_ACTION_CREATE,
	STS_ACTION_UPDATE,
	STS_ACTION_DELETE,
};

STS_API const char *sts_object_name(enum sts_object o); /* "policy", "sts-record", ... */
STS_API const char *sts_action_name(enum sts_action a); /* "create", "update", "delete" */

struct sts_change {
	enum sts_object object;
	enum sts_action action;
	char *name;   /* record owner (absolute, with dot), or the policy host */
	char *type;   /* "TXT", "CNAME", "A", "AAAA"; NULL for the policy */
	char *before; /* stsctl's value(s) now published ("a, b" for several); NULL: none */
	char *after;  /* NULL: none */
	uint32_t ttl_before, ttl_after; /* records; 0 when none */
	/* DNS changes: what goes to the plugin (foreign values kept); old points
	 * into the domain's actual rrsets */
	struct sts_dns_change rc;
};

enum sts_phase {
	STS_PHASE_PRESENT,	 /* published as the inventory says */
	STS_PHASE_REMOVE_START,	 /* publish mode none with a new id (RFC 8461 §8.3 step 1-2) */
	STS_PHASE_REMOVE_WAIT,	 /* mode none published; waiting out max_age */
	STS_PHASE_REMOVE_DELETE, /* max_age passed: delete records, then the policy */
	STS_PHASE_GONE,		 /* absent and nothing published: nothing to do */
};
STS_API const char *sts_phase_name(enum sts_phase p);

/* What is published now, as read through the providers. */
struct sts_actual {
	bool have_policy;
	char *policy;	      /* NUL-terminated */
	struct sts_rrsets rr; /* every rrset at the owned names */
};

struct sts_plan_domain {
	char *name;
	char *zone;
	char *dns; /* provider instance names; NULL when none */
	char *web;
	enum sts_hosting hosting;
	enum sts_phase phase;
	bool in_inventory;
	bool managed;		 /* in the state DB's managed list */
	int64_t removal_started; /* 0: not being removed */
	int64_t removal_deadline;

	/* desired policy (self hosting, not deleting) */
	char *policy_text;
	char id[STS_ID_MAX + 1];
	enum sts_mode mode;
	long long max_age;

	struct sts_change *changes; /* in apply order */
	size_t n_changes;

	struct sts_actual actual;
	char fingerprint[65]; /* sha256 of the actual state read */
	char *spec;	      /* JSON kept in the state DB for later removal */

	/* HTTPS verification after put (verify.https, per provider or domain) */
	bool verify_https;
	char *ca_file;
	char *resolve; /* "IP" or "IP:PORT" to connect to instead of DNS */

	int err;      /* STS_OK, or why this domain cannot be planned */
	char *errmsg; /* lowercase message, or NULL */
	/* appended: under rollout (sts_rollout.h), mode is the stage's */
	bool under_rollout;
	enum sts_mode inventory_mode; /* the inventory's mode (the starting stage) */
	/* appended (issue 15), hosted hosting (sts_plan_hosted.h): the policy
	 * goes into the hosted store, the TXT to hosted_txt in the MSP zone */
	char label[27];	   /* STS_HOSTED_LABEL_LEN + 1: stored, or computed */
	bool label_stored; /* false: computed by the plan, allocated by apply */
	char *hosted_txt;  /* "<label>._mta-sts.<hosted zone>."; NULL unless hosted */
	/* appended (issue 17): why mode is what it is (docs/rollout.md, "Start and
	 * ceiling"), the stage's mode before the operator's controls, and what
	 * apply records for a domain under rollout (sts_rollout_record_mode) */
	struct sts_rollout_mode rollout;
	enum sts_mode stage_mode;
	/* appended (issue 17, scopes): the inventory's tenant, or for a domain
	 * taken out of it the one of its last apply; NULL: none. apply records it. */
	char *tenant;
	/* appended (issue 17): the provider (d->dns or d->web) that was down
	 * when this domain failed (reported once per provider), or NULL */
	const char *down;
	/* appended (issue 15): hosted, seconds apply waits for serve's first
	 * certificate of mta-sts.D before the HTTPS check (hosted.certificate_wait) */
	unsigned hosted_cert_wait;
};

/* The domains of a plan whose provider was down, one entry per provider. */
struct sts_plan_down {
	const char *provider; /* points into the plan's domains */
	char *why;	      /* the io's reason (owned), or NULL */
	size_t n_domains;
	/* appended: the first domains (in plan order), named in the line; they
	 * point into the plan's domains */
	const char *first[3];
};

struct sts_plan {
	int version; /* STS_PLAN_FORMAT */
	char *inventory_path;
	char inventory_hash[65];
	int64_t now;
	struct sts_plan_domain *domains; /* sorted by name */
	size_t n_domains;
	size_t n_changes;
	size_t n_errors;
	size_t n_managed;	 /* domains the DB managed before this plan */
	size_t n_removal_starts; /* managed domains this plan starts removing */
	char fingerprint[65];	 /* over every domain's fingerprint and changes */
	/* appended (issue 17, scopes): managed domains being removed (taken out
	 * of the inventory, or absent) that the targets left out of this plan */
	size_t n_removals_unscoped;
	/* appended (issue 17): the providers that were down, by name, with
	 * their failed domains (each such domain's down is set) */
	struct sts_plan_down *down;
	size_t n_down;
	/* appended (issue 17, scopes): the managed domains within the scope
	 * (n_managed when the plan is not scoped); the removal rule's base
	 * (0: n_managed, for a plan made without this field) */
	size_t n_managed_scope;
};

#define STS_PLAN_FORMAT 1
/* Starting the removal of more than this share of the managed domains (of the
 * scope) needs --allow-removal. */
#define STS_PLAN_REMOVAL_SHARE 10
/*
 * The plan reads a zone whole (sts_dns_caps.read_zone) when it wants the
 * names of at least this many of its domains, else name by name: 3 names
 * a domain, so from 8 domains on a listing of up to 24 records (a page of
 * most APIs) costs no more than the reads by name; below it a small plan
 * in a large zone does not list the zone.
 */
#define STS_PLAN_READ_ZONE_MIN 8

struct sts_plan_opts {
	const char *const *targets; /* only these domains (A- or U-labels); NULL: all */
	size_t n_targets;
	unsigned concurrency; /* reads in flight; 0 = 8 */
	bool for_apply;	      /* also build each domain's spec for the state DB */
	/* domains of the plan read (failed: could not be planned); NULL: none */
	sts_progress_fn *progress;
	void *progress_ud;
	/* rollout stage per domain later; STS_MODE_INVALID = inventory's mode */
	/* appended (issue 17, scopes): the targets are the scope even when there
	 * are none (a tenant without domains): nothing is planned then */
	bool scoped;
};

/*
 * Compute the plan for inv (loaded from inv->path). db may be NULL (no
 * history: no managed domains). The clock is db's (or the wall clock).
 * Per-domain problems (unreadable provider, conflicts, render errors) stay
 * in the domain (err/errmsg) and count in n_errors; only ENOMEM and
 * unknown targets (STS_ENOENT, diag) fail the whole plan.
 */
STS_API int sts_plan_build(const struct sts_inventory *inv, struct sts_db *db,
			   const struct sts_io *io, const struct sts_plan_opts *opts,
			   struct sts_plan **ret, struct sts_diags *diags);
STS_API void sts_plan_free(struct sts_plan *p);

/* Does the plan start removing more than STS_PLAN_REMOVAL_SHARE % of the managed domains
 * within its scope (n_managed_scope: all of them when it is not scoped)? */
STS_API bool sts_plan_removal_excessive(const struct sts_plan *p);

/* {"changes":[{"domain","object","action","before","after",...}], "pending":[...], "errors":[...]}
 */
STS_API json_t *sts_plan_to_json(const struct sts_plan *p);
/* Human form: "+"/"-"/"~" lines per domain and a summary line. */
STS_API int sts_plan_format(const struct sts_plan *p, struct sts_buf *out);
/* "provider pdns-b: 101 domains not planned: WHY\n" (what: "planned", "applied") */
STS_API int sts_plan_down_line(const struct sts_plan_down *d, const char *what,
			       struct sts_buf *out);
/* "3 to create, 1 to update, 0 to delete, 2 errors" */
STS_API int sts_plan_summary(const struct sts_plan *p, struct sts_buf *out);

/*
 * Plan files (plan --out): JSON with the format version, the inventory
 * path and hash, the desired artifacts and the fingerprint of the actual
 * state each change was computed against.
 */
STS_API int sts_plan_save(const struct sts_plan *p, const char *path);

struct sts_plan_file {
	char *inventory_path;
	char inventory_hash[65];
	char fingerprint[65];
	char **targets;
	size_t n_targets;
	json_t *root;
};
/* STS_EPARSE when path is not a plan file (it may be an inventory). */
STS_API int sts_plan_file_load(const char *path, struct sts_plan_file **ret, char **reterr);
STS_API void sts_plan_file_free(struct sts_plan_file *f);
/* Is the JSON text a plan file (and not an inventory)? */
STS_API bool sts_plan_file_detect(const char *path);
/* STS_OK when the fresh plan equals the saved one; STS_ESTALE (reterr) otherwise. */
STS_API int sts_plan_file_check(const struct sts_plan_file *f, const struct sts_plan *fresh,
				char **reterr);

/* ---- helpers shared by plan and apply (core/plan/sts_plan_io.c) ---- */

/* Counting semaphores keyed by provider name: at most limit holders each. */
struct sts_limits;
STS_API int sts_limits_new(struct sts_limits **ret);
STS_API void sts_limits_free(struct sts_limits *l);
/* Registers name with limit (first call wins; 0 = 1). */
STS_API int sts_limits_set(struct sts_limits *l, const char *name, unsigned limit);
/* At most per_sec calls start per second (0: unlimited); after sts_limits_set. */
STS_API int sts_limits_set_rate(struct sts_limits *l, const char *name, unsigned per_sec);
/* Waits for a free slot (and the rate), then holds it until sts_limits_release. */
STS_API void sts_limits_acquire(struct sts_limits *l, const char *name);
STS_API void sts_limits_release(struct sts_limits *l, const char *name);
/* Holds a slot when one is free (true), without waiting; then call
 * sts_limits_pace before the call and sts_limits_release after it. */
STS_API bool sts_limits_try_acquire(struct sts_limits *l, const char *name);
/* Waits for the provider's rate (sts_limits_set_rate); no slot taken. */
STS_API void sts_limits_pace(struct sts_limits *l, const char *name);

/*
 * Register a provider in l with what the io says it can take: a DNS
 * provider's concurrency and rate, a web host's concurrency.
 */
STS_API int sts_limits_set_dns(struct sts_limits *l, const struct sts_io *io, const char *dns);
STS_API int sts_limits_set_web(struct sts_limits *l, const struct sts_io *io, const char *web);

/*
 * When d's DNS or web provider is down (io's down op), count d in the
 * entry of that provider in v[0..n) (added when new) and set
 * *ret_provider to its name (d's own string); else NULL. STS_ENOMEM.
 */
STS_API int sts_plan_down_add(struct sts_plan_down **v, size_t *n, const struct sts_io *io,
			      const struct sts_plan_domain *d, const char **ret_provider);
STS_API void sts_plan_down_sort(struct sts_plan_down *v, size_t n); /* by provider */
STS_API void sts_plan_down_free(struct sts_plan_down *v, size_t n);

/* sha256 hex of a file's bytes. */
STS_API int sts_file_sha256(const char *path, char ret[65]);

/* internals shared by the sts_plan*.c files, sts_apply.c and unit tests */
STS_API int sts_plan_domain_fail(struct sts_plan_domain *d, int err, const char *fmt, ...)
    STS_PRINTF(3, 4);
/* "v=STSv1" followed by ';', a blank or the end (RFC 8461 §3.1, RFC 8460 §3) */
STS_API bool sts_txt_has_prefix(const char *s, const char *prefix);
/* DNS names, case-insensitive, trailing dot ignored */
STS_API bool sts_name_eq(const char *a, const char *b);
STS_API int sts_plan_diff_domain(struct sts_plan_domain *d, const struct sts_rrsets *want,
				 const json_t *prev_spec);
STS_API void sts_plan_domain_release(struct sts_plan_domain *d);
/* Sort order[0..n), indexes into p->domains, by (dns, zone, name): the order
 * plan and apply both walk the providers' zones in. */
STS_API void sts_plan_order(const struct sts_plan *p, size_t *order, size_t n);
/* order[i..n) are domain indexes sorted by (dns, zone, name): the end of the
 * group from i that shares order[i]'s DNS provider and zone. */
STS_API size_t sts_plan_group_end(const struct sts_plan *p, const size_t *order, size_t n,
				  size_t i);

#endif
