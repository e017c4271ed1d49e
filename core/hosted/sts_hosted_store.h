/* SPDX-License-Identifier: MIT */
#ifndef STS_HOSTED_STORE_H
#define STS_HOSTED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sts_api.h"
#include "sts_db.h"

/*
 * The hosted store (docs/hosted.md, docs/state.md): the tables of the
 * hosted MTA-STS service in the state DB, component "hosted". apply writes
 * policies, the ACME client certificates and its account, `stsctl serve`
 * reads both and writes its heartbeat. A policy host is "mta-sts.<domain>",
 * an A-label in lower case without the final dot.
 *
 * Change generation: hosted_generation holds one row whose gen is bumped by
 * triggers on every insert, update or delete of hosted_policies and on
 * every change of a certificate or key in hosted_certs (a recorded failure
 * does not bump it). serve polls sts_hosted_generation() once a second.
 * Plain row triggers exist on PostgreSQL too (issue 18).
 */

#define STS_HOSTED_COMPONENT	  "hosted"
#define STS_HOSTED_SCHEMA_VERSION 3

/* Create or migrate the hosted tables. */
STS_API int sts_hosted_schema(struct sts_db *db);

/* ---- policies ---- */
struct sts_hosted_policy {
	char *host;
	char *domain;
	unsigned char *body; /* the exact bytes served (NUL-terminated for convenience) */
	size_t body_len;
	char *policy_id;
	char sha256[65]; /* hex of body */
	long long max_age;
	long long max_age_ever; /* the largest max_age this host ever served */
	int64_t updated;
};

/*
 * Insert or replace the policy served on host: sha256 is computed here,
 * max_age_ever becomes max(stored, max_age). STS_EINVAL on an empty host
 * or domain, a NULL body or a negative max_age.
 */
STS_API int sts_hosted_policy_put(struct sts_db *db, const char *host, const char *domain,
				  const void *body, size_t body_len, const char *policy_id,
				  long long max_age);
/* *ret (filled only when found) owns its strings: sts_hosted_policy_release(). */
STS_API int sts_hosted_policy_get(struct sts_db *db, const char *host,
				  struct sts_hosted_policy *ret, bool *ret_found);
/* Deleting a host that is not there is no error. */
STS_API int sts_hosted_policy_delete(struct sts_db *db, const char *host);
STS_API void sts_hosted_policy_release(struct sts_hosted_policy *p);

/*
 * ---- what serve reads for a name, one query (its first handshake) ----
 * A lookup keeps its prepared statement for the many reads of one thread
 * (serve's loop): the policy's bytes and the certificate's chain and key of
 * host in one query, without preparing SQL again each time. It holds no
 * read transaction between calls. Free it before the DB is closed.
 */
struct sts_hosted_lookup;
struct sts_hosted_served {
	unsigned char *body; /* the policy's exact bytes (NUL-terminated for convenience) */
	size_t body_len;
	char *chain_pem; /* NULL: no certificate issued yet */
	char *key_pem;	 /* a secret: wiped by sts_hosted_served_release */
};

STS_API int sts_hosted_lookup_new(struct sts_db *db, struct sts_hosted_lookup **ret);
STS_API void sts_hosted_lookup_free(struct sts_hosted_lookup *l);
/* *ret_found false: host has no policy (a certificate alone is not served). */
STS_API int sts_hosted_lookup_get(struct sts_hosted_lookup *l, const char *host,
				  struct sts_hosted_served *ret, bool *ret_found);
STS_API void sts_hosted_served_release(struct sts_hosted_served *s);

/* ---- certificates ---- */
struct sts_hosted_cert {
	char *host;
	char *chain_pem; /* NULL: none issued yet */
	char *key_pem;
	int64_t not_before, not_after; /* 0: unknown */
	int64_t updated;
	char *last_error; /* NULL: the last attempt succeeded */
	int64_t last_attempt, next_attempt;
	long long failures; /* consecutive */
};

/*
 * Install a new certificate (chain leaf first) and its key: last_error and
 * the interrupted order are cleared, failures reset, last_attempt = now, next_attempt given by the
 * caller (the renewal time; 0: unknown).
 */
STS_API int sts_hosted_cert_put(struct sts_db *db, const char *host, const char *chain_pem,
				const char *key_pem, int64_t not_before, int64_t not_after,
				int64_t next_attempt);
/*
 * Record a failed attempt: last_error, last_attempt = now, next_attempt,
 * failures + 1. The stored certificate, if any, stays (and is still
 * served); a host without a row gets one without a certificate.
 */
STS_API int sts_hosted_cert_failure(struct sts_db *db, const char *host, const char *error,
				    int64_t next_attempt);
/*
 * An attempt that failed for a reason outside the domain (its DNS lookup
 * timed out): as sts_hosted_cert_failure, but failures is not counted.
 */
STS_API int sts_hosted_cert_retry(struct sts_db *db, const char *host, const char *error,
				  int64_t next_attempt);
STS_API int sts_hosted_cert_get(struct sts_db *db, const char *host, struct sts_hosted_cert *ret,
				bool *ret_found);
STS_API int sts_hosted_cert_delete(struct sts_db *db, const char *host);
STS_API void sts_hosted_cert_release(struct sts_hosted_cert *c);

/*
 * ---- an interrupted ACME order (schema version 3) ----
 * The order a renewal pass could not see through (its URL, the key of its
 * CSR, when the CA forgets it), resumed by the next pass instead of a new
 * order. Kept in the host's hosted_certs row (which must exist: record the
 * failure first); a new certificate clears it.
 */
struct sts_hosted_order {
	char *url;
	char *key_pem;	 /* a secret: wiped by sts_hosted_order_release */
	int64_t expires; /* 0: unknown */
};

/* Set (order_url and key_pem) or clear (both NULL) the host's order. */
STS_API int sts_hosted_order_put(struct sts_db *db, const char *host, const char *order_url,
				 const char *key_pem, int64_t expires);
STS_API int sts_hosted_order_get(struct sts_db *db, const char *host, struct sts_hosted_order *ret,
				 bool *ret_found);
STS_API void sts_hosted_order_release(struct sts_hosted_order *o);

/* ---- hosts with their certificate state, for status and renewal ---- */
struct sts_hosted_host {
	char *host;
	char *domain;		/* NULL: a certificate without a policy */
	long long max_age_ever; /* 0 without a policy */
	bool has_cert;
	int64_t not_after; /* 0 without a certificate */
	char *last_error;  /* NULL: none */
	int64_t next_attempt;
	long long failures;
};

/* Every host with a policy or a certificate row, sorted by name. */
STS_API int sts_hosted_hosts(struct sts_db *db, struct sts_hosted_host **ret, size_t *ret_n);
STS_API void sts_hosted_hosts_free(struct sts_hosted_host *v, size_t n);

/*
 * ---- the certificate alerts of stsctl watch (docs/stsctl-watch.md) ----
 * Every certificate row with the condition the watcher last posted for it
 * (alerted: NULL when none), sorted by host. Needs schema version 2.
 */
struct sts_hosted_alert {
	char *host;
	char *domain; /* NULL: a certificate without a policy */
	bool has_cert;
	int64_t not_after; /* 0 without a certificate */
	char *last_error;  /* NULL: the last attempt succeeded */
	long long failures;
	char *alerted;
};

STS_API int sts_hosted_alerts(struct sts_db *db, struct sts_hosted_alert **ret, size_t *ret_n);
STS_API void sts_hosted_alerts_free(struct sts_hosted_alert *v, size_t n);
/* Remember condition (NULL: none) as posted for host; no change bumps the generation. */
STS_API int sts_hosted_alert_set(struct sts_db *db, const char *host, const char *condition);

/* ---- the ACME account, one per directory URL ---- */
struct sts_hosted_account {
	char *directory;
	char *key_pem;
	char *kid; /* NULL until registered */
	char *contact;
	int64_t created;
};

/* Insert or replace (created kept when the directory is known). */
STS_API int sts_hosted_account_put(struct sts_db *db, const char *directory, const char *key_pem,
				   const char *kid, const char *contact);
STS_API int sts_hosted_account_get(struct sts_db *db, const char *directory,
				   struct sts_hosted_account *ret, bool *ret_found);
STS_API void sts_hosted_account_release(struct sts_hosted_account *a);

/* ---- serve instances ---- */
struct sts_serve_instance {
	char *instance; /* "<hostname>:<pid>:<started>" by convention */
	char *hostname;
	int64_t pid;
	char *listen;
	int64_t started;
	int64_t heartbeat;
	char *counters; /* a JSON object */
};

/* Insert or refresh the row of i->instance; heartbeat = now (i->heartbeat ignored). */
STS_API int sts_hosted_heartbeat(struct sts_db *db, const struct sts_serve_instance *i);
/* Sorted by instance; an empty list when the schema is missing. */
STS_API int sts_hosted_instances(struct sts_db *db, struct sts_serve_instance **ret, size_t *ret_n);
STS_API void sts_hosted_instances_free(struct sts_serve_instance *v, size_t n);
/* Drop instances whose heartbeat is older than before. */
STS_API int sts_hosted_instances_prune(struct sts_db *db, int64_t before);

/* The change generation (see above); 0 when the schema is missing. */
STS_API int sts_hosted_generation(struct sts_db *db, int64_t *ret);

/*
 * For `stsctl status --json` (docs/stsctl-status.md): {"serve": [each
 * instance with its heartbeat and counters], "hosts": [each host with its
 * policy's max_age_ever and its certificate's not_after, last_error,
 * next_attempt and failures]}; times in RFC 3339 (UTC), null when none.
 * Empty lists without the schema.
 */
struct json_t;
STS_API int sts_hosted_status_json(struct sts_db *db, struct json_t **ret);

#endif
