/* SPDX-License-Identifier: MIT */
#ifndef STS_INGEST_INT_H
#define STS_INGEST_INT_H

/*
 * Internal to core/reports/sts_ingest*.c. An input goes through two steps:
 *  - prepare (sts_ingest.c): read, parse, authenticate, compress; pure, no
 *    DB, safe in worker threads; gives a struct ing_prep;
 *  - store (sts_ingest_store.c): dedup, insert, aggregate, quarantine, in
 *    the batch transaction of the one writer.
 */
#include <pthread.h>

#include "sts_ingest.h"
#include "sts_mime.h"

/* raw input kept with a quarantined item, compressed (a bigger one: only the reason) */
#define ING_QUARANTINE_KEEP (1u << 20)
#define ING_DEFAULT_BATCH   2000
#define ING_MAX_JOBS	    8
#define ING_DIR_DEPTH	    16
#define ING_MSG_CAP	    STS_CAP_MAIL
#define ING_CACHE_KIB	    "65536" /* SQLite page cache while ingesting */

/* one report part of an input, or its quarantine */
struct ing_part {
	struct sts_tlsrpt_report *rep; /* NULL: quarantined */
	unsigned char *gz;	       /* the report as gzip (stored raw) */
	size_t gz_len;
	char *warnings; /* codes, space-separated */
	size_t n_warnings;
	char *qreason;	      /* quarantine: why */
	unsigned char *qdata; /* quarantine: the bytes kept (see qformat), or NULL */
	size_t qlen;
	size_t qsize;	     /* size of the input */
	const char *qformat; /* "received" (were gzip already) or "gzip" */
	char qkey[80];	     /* sha256 hex of the input, or "oversize:..." */
};

struct ing_prep {
	enum sts_ingest_channel ch;
	char *source;
	char *domain_hint; /* TLS-Report-Domain or the file name's policy domain */
	bool authenticated;
	char *auth_reason;
	char *identity; /* the reporter (sts_reporters.h): orgdomain of d=, or a trusted name */
	bool pending;	/* a DKIM key lookup failed for now: verified again later */
	unsigned char *msg_gz; /* pending: the message, gzip, to verify again */
	size_t msg_gz_len;
	struct ing_part *parts;
	size_t n_parts;
	char *skip_reason; /* skipped: not a report (by name) */
	char *done_from;   /* Maildir: rename after the commit */
	char *done_to;
	size_t cost; /* memory it holds until stored (about) */
	int err;     /* STS_ENOMEM while preparing */
};

void ing_prep_release(struct ing_prep *p);

/* batch deltas of the aggregates, keyed by their dimensions */
struct agg_entry {
	char *key; /* dimensions joined by '\x1f' */
	uint64_t hash;
	int64_t reports, a, b; /* daily: successful, failed; failures: sessions, - */
};

struct agg_map {
	struct agg_entry *v;
	size_t cap, n;
	bool negative; /* a delta went down: clean up empty rows after the flush */
};

/* Paths and, beside each, where it goes once processed (Maildir) or NULL:
 * two arrays grown together, so the paths alone can be handed on. */
struct ing_paths {
	char **v;
	char **to;
	size_t n, cap;
};

/* Append a pair, taking both strings (freed on failure too). */
int ing_paths_add(struct ing_paths *l, char *path, char *to);
/* Free the strings and the arrays; l is empty afterwards. */
void ing_paths_release(struct ing_paths *l);

struct sts_ingest {
	struct sts_db *db;
	struct sts_ingest_opts o;
	struct sts_ingest_conf *own_conf; /* defaults when o.conf was NULL */
	const struct sts_ingest_conf *conf;
	struct sts_dkim *dkim;
	struct sts_ingest_stats st;
	bool in_tx;
	bool src_trusted;     /* the configured source being read has "trusted": true */
	const char *src_name; /* its name (the reporter it stands for) */
	size_t batch_n, batch_max;
	struct sts_db_stmt *ins_report, *ins_raw, *sel_dup, *sel_dup_org, *upd_auth, *ins_quar;
	struct sts_db_stmt *sel_quar, *upd_raw, *ins_pending, *del_pending;
	struct sts_db_stmt *up_daily, *up_fail;
	struct agg_map daily, fail;
	struct ing_paths ren; /* Maildir renames waiting for the commit */
	char err[512];
	char *last_reason;
	/* the storage quota, counted at the first pending input of the run */
	bool q_counted;
	long long q_n, q_bytes;
};

/* ---- sts_ingest.c: prepare ---- */

int ing_prep_blob(const struct sts_ingest *ing, const void *data, size_t len,
		  enum sts_ingest_channel ch, const char *source, bool authenticated,
		  const char *auth_reason, const char *domain_hint, struct ing_prep *p);
int ing_prep_message(const struct sts_ingest *ing, const void *msg, size_t len,
		     enum sts_ingest_channel ch, const char *source, struct ing_prep *p);
/* a file: by its name (.json, .json.gz, .gz, .eml) or, named explicitly, its content */
int ing_prep_file(const struct sts_ingest *ing, const char *path, enum sts_ingest_channel ch,
		  bool explicit_name, struct ing_prep *p);
/* an input not read because it is over a cap: quarantined with the reason */
int ing_prep_oversize(enum sts_ingest_channel ch, const char *source, size_t size,
		      const char *reason, struct ing_prep *p);
/* the first error text of diags, or what */
const char *ing_diag_reason(const struct sts_diags *d, const char *what);
int ing_gzip(const void *in, size_t len, unsigned char **ret, size_t *ret_len);
void ing_set_err(struct sts_ingest *ing, const char *fmt, ...) STS_PRINTF(2, 3);
/*
 * A setting that only tunes SQLite (a PRAGMA; a row it returns is ignored,
 * as is a failure). Until the state layer has a call of its own for it
 * (asked for: sts_db_tune), ingest states the setting here.
 */
void ing_tune(struct sts_ingest *ing, const char *pragma);
void ing_source_error(struct sts_ingest *ing, const char *source, int err, const char *fmt, ...)
    STS_PRINTF(4, 5);

/* ---- sts_ingest_store.c ---- */

/* The reports schema's identity step (v2): re-derive each older report's reporter. */
int ing_rederive(struct sts_db *db);

/* Store a prepared input (events emitted, stats counted); worst outcome in *ret. */
int ing_store(struct sts_ingest *ing, struct ing_prep *p, enum sts_ingest_outcome *ret);
int ing_commit(struct sts_ingest *ing);
void ing_rollback(struct sts_ingest *ing);
int ing_stmts_prepare(struct sts_ingest *ing);
void ing_stmts_finalize(struct sts_ingest *ing);
void ing_agg_release(struct agg_map *m);

/* ---- sts_ingest_src.c ---- */

/* A worker pool over a list of files: prepare in parallel, store in order. */
int ing_run_files(struct sts_ingest *ing, char **paths, size_t n, enum sts_ingest_channel ch,
		  const char *const *done_to);

#ifdef STS_UNIT_TESTS
/*
 * Internal, for tests (sts_ingest_imap.c): the UIDs of the "* SEARCH" lines
 * of a UID SEARCH response text (NUL-terminated), at most max of them, in
 * the server's order; *ret is malloc'd (NULL when there are none).
 */
STS_TESTABLE int sts_imap_parse_search(const char *text, unsigned long **ret, size_t *ret_n,
				       size_t max);
#endif

#endif
