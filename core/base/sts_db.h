/* SPDX-License-Identifier: MIT */
#ifndef STS_DB_H
#define STS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sts_api.h"

/*
 * The state DB (SQLite, docs/state.md): apply journal, every policy ever
 * served per domain, the managed domains and their removal lifecycle.
 * Schema versioned per component with ordered migrations; other modules
 * (reports, rollout) register their own with sts_db_migrate().
 *
 * Every write is a transaction; a crash leaves the DB consistent. One
 * struct sts_db may be shared by threads: calls are serialised, and a
 * transaction opened with sts_db_begin() holds the DB for the calling
 * thread until sts_db_commit()/sts_db_rollback().
 */

/* Injectable clock: tests simulate the removal wait. NULL now = time(). */
struct sts_clock {
	time_t (*now)(void *ud);
	void *ud;
};

/* c may be NULL (wall clock). */
STS_API time_t sts_clock_now(const struct sts_clock *c);
/* t (Unix seconds) as RFC 3339 in UTC, "2026-12-07T18:00:00Z": how stsctl writes times */
STS_API void sts_time_rfc3339(int64_t t, char out[32]);

#define STS_DB_DEFAULT_PATH "stsctl.db"
/* Opening a DB file up to this size runs PRAGMA quick_check (it reads every page). */
#define STS_DB_QUICK_CHECK_MAX (64LL << 20)
/* RFC 8461 §3.2 upper bound: the removal wait without any history. */
#define STS_DB_NO_HISTORY_WAIT 31557600LL

struct sts_db;

enum sts_db_flags {
	STS_DB_READONLY = 1u << 0, /* never create or migrate; a missing file is an
				      empty in-memory DB (plan on a fresh checkout) */
	STS_DB_INIT = 1u << 1,	   /* an existing empty (0-byte) file may become a new DB */
};

/*
 * Open (creating it when missing) and migrate the core schema. path ":memory:"
 * gives a private in-memory DB. clock is copied (NULL: wall clock).
 * A state is never silently recreated: an existing empty file (without
 * STS_DB_INIT), a file that is not a database, and a damaged one (SQLite
 * reports corruption, PRAGMA quick_check finds a problem in a file of up
 * to STS_DB_QUICK_CHECK_MAX, or the core tables exist without their
 * schema version) are refused with STS_EDB and a message that says so.
 * Returns STS_OK, STS_EDB (sts_db_errmsg() of *ret is not available then:
 * reterr, when not NULL, gets a malloc'd message to free()), STS_ENOMEM.
 */
STS_API int sts_db_open(const char *path, unsigned flags, const struct sts_clock *clock,
			struct sts_db **ret, char **reterr);
/*
 * Open the state named by location: a path (SQLite, exactly as sts_db_open)
 * or a URL starting "postgresql://" or "postgres://" (PostgreSQL; password
 * may be NULL, then libpq's passfile applies). A URL is never taken for a
 * file name: without the PostgreSQL backend in this build it gives
 * STS_EUNSUPPORTED and "PostgreSQL state: not built in".
 */
STS_API int sts_db_open_url(const char *location, const char *password, unsigned flags,
			    const struct sts_clock *clock, struct sts_db **ret, char **reterr);
/* Does location name a PostgreSQL state (a postgresql:// or postgres:// URL)? */
STS_API bool sts_db_location_is_url(const char *location);
STS_API void sts_db_close(struct sts_db *db);

/* The last SQLite error text of this DB ("" if none); valid until the next call. */
STS_API const char *sts_db_errmsg(const struct sts_db *db);
STS_API time_t sts_db_now(const struct sts_db *db);
STS_API const char *sts_db_path(const struct sts_db *db);

/* One schema step of a component: applied once, in version order. */
struct sts_db_migration {
	int version; /* 1, 2, 3 ... strictly increasing */
	const char *sql;
	/* the same step for PostgreSQL; NULL: sql works on both engines */
	const char *pg;
};

/*
 * Bring component's schema to the last version in m[0..n-1], each step in
 * its own transaction. A DB newer than the code is refused (STS_EDB).
 */
STS_API int sts_db_migrate(struct sts_db *db, const char *component,
			   const struct sts_db_migration *m, size_t n);
/* 0 when the component has no schema yet. */
STS_API int sts_db_schema_version(struct sts_db *db, const char *component, int *ret);
#define STS_DB_CORE_VERSION 1

/*
 * Run one statement that returns no rows, under the lock, binding the
 * arguments in order as binds spells them: 't' a const char * (NULL binds
 * NULL), 'i' an int64_t. STS_OK, or STS_EDB with sts_db_errmsg() set.
 */
STS_API int sts_db_execf(struct sts_db *db, const char *sql, const char *binds, ...);

/* Explicit transactions (nesting is not supported). */
STS_API int sts_db_begin(struct sts_db *db);
STS_API int sts_db_commit(struct sts_db *db);
STS_API int sts_db_rollback(struct sts_db *db);

/* ---- apply journal ---- */
STS_API int sts_db_run_begin(struct sts_db *db, const char *command, int64_t *ret_run);
/* status: "ok", "failed", "refused", "aborted", "interrupted" */
STS_API int sts_db_run_end(struct sts_db *db, int64_t run, const char *status, size_t n_ok,
			   size_t n_failed);
/* A run that did not finish (its status is still "running"). */
struct sts_db_run {
	int64_t id;
	char *command;
	int64_t started;
};
/* The runs still "running", oldest first (*ret NULL without any). */
STS_API int sts_db_runs_unfinished(struct sts_db *db, struct sts_db_run **ret, size_t *ret_n);
/*
 * Mark every run still "running" as "interrupted" (finished = now); call
 * it holding the state lock, when no other run can be live. The runs
 * marked are returned as by sts_db_runs_unfinished().
 */
STS_API int sts_db_runs_interrupt(struct sts_db *db, struct sts_db_run **ret, size_t *ret_n);
STS_API void sts_db_runs_free(struct sts_db_run *v, size_t n);
/* step: "policy-put", "policy-verify", "dns", ...; status: "ok", "failed", "skipped" */
STS_API int sts_db_journal_add(struct sts_db *db, int64_t run, const char *domain, const char *step,
			       const char *status, const char *detail);

/* ---- served policies ---- */
struct sts_db_policy {
	char *domain;
	char *policy_id;
	char *sha256; /* hex of the text */
	char *text;
	char *mode;
	long long max_age;
	int64_t first_served;
	int64_t last_served;
	bool current;
};

/*
 * Record that text (id, mode, max_age) is now the policy served for domain:
 * the previous current policy gets last_served = now, this one becomes
 * current (first_served kept when it was served before).
 */
STS_API int sts_db_policy_served(struct sts_db *db, const char *domain, const char *policy_id,
				 const char *text, const char *mode, long long max_age);
/*
 * Record a policy seen published before stsctl replaced it (adopted
 * domains): history only, never becomes current.
 */
STS_API int sts_db_policy_seen(struct sts_db *db, const char *domain, const char *policy_id,
			       const char *text, const char *mode, long long max_age);
/* Largest max_age ever served for domain; *ret_found false with no history. */
STS_API int sts_db_policy_max_age(struct sts_db *db, const char *domain, long long *ret,
				  bool *ret_found);
/* Oldest first. */
STS_API int sts_db_policy_history(struct sts_db *db, const char *domain, struct sts_db_policy **ret,
				  size_t *ret_n);
STS_API void sts_db_policies_free(struct sts_db_policy *v, size_t n);

/* ---- managed domains ---- */
struct sts_db_domain {
	char *domain;
	int64_t first_seen;
	int64_t last_applied;	 /* 0: never */
	int64_t removal_started; /* 0: not being removed */
	char *spec;		 /* JSON written by plan/apply (providers, zone, mx...), or NULL */
};

/* Insert or refresh (first_seen kept); spec replaces the stored one when not NULL. */
STS_API int sts_db_domain_upsert(struct sts_db *db, const char *domain, const char *spec);
STS_API int sts_db_domain_applied(struct sts_db *db, const char *domain);
/* Sets removal_started = now unless already set. */
STS_API int sts_db_domain_removal_start(struct sts_db *db, const char *domain);
/* The domain is wanted again: clear removal_started. */
STS_API int sts_db_domain_removal_cancel(struct sts_db *db, const char *domain);
/* Records and policy removed: drop it from the managed list (history kept). */
STS_API int sts_db_domain_forget(struct sts_db *db, const char *domain);
/* Sorted by name. */
STS_API int sts_db_domains_list(struct sts_db *db, struct sts_db_domain **ret, size_t *ret_n);
STS_API int sts_db_domain_get(struct sts_db *db, const char *domain, struct sts_db_domain *ret,
			      bool *ret_found);
STS_API void sts_db_domain_release(struct sts_db_domain *d);
STS_API void sts_db_domains_free(struct sts_db_domain *v, size_t n);

/*
 * RFC 8461 §8.3: when may the records of a domain being removed go?
 * removal_started + the largest max_age ever served (STS_DB_NO_HISTORY_WAIT
 * without history). STS_ENOENT when the domain is not being removed.
 */
STS_API int sts_db_removal_deadline(struct sts_db *db, const char *domain, int64_t *ret);

/*
 * For components with their own tables (reports, rollout): the SQLite
 * handle. Use it only between sts_db_hold() and sts_db_unhold(), or inside
 * sts_db_begin() ... sts_db_commit(), which serialise it with every other
 * call on this struct sts_db (holds nest).
 */
struct sqlite3;
STS_API struct sqlite3 *sts_db_handle(struct sts_db *db);

/*
 * Prepared statements, meant to be the same for every storage engine:
 * use them only between sts_db_hold() and sts_db_unhold(), or inside
 * sts_db_begin() ... sts_db_commit(). Placeholders are `?` and `?N`;
 * parameters and columns count from 1 and 0 as in SQLite.
 */
struct sts_db_stmt;
enum { STS_DB_DONE = 0, STS_DB_ROW = 1 };

/* STS_OK, or STS_EDB with sts_db_errmsg() "prepare: ..." */
STS_API int sts_db_prepare(struct sts_db *db, const char *sql, struct sts_db_stmt **ret);
/* Binds copy the value; a NULL text binds NULL. STS_OK or STS_EDB. */
STS_API int sts_db_bind_text(struct sts_db_stmt *st, int i, const char *s);
STS_API int sts_db_bind_int(struct sts_db_stmt *st, int i, int64_t v);
STS_API int sts_db_bind_blob(struct sts_db_stmt *st, int i, const void *p, size_t n);
STS_API int sts_db_bind_null(struct sts_db_stmt *st, int i);
/* STS_DB_ROW, STS_DB_DONE, or STS_EDB with sts_db_errmsg() "step: ..." */
STS_API int sts_db_step(struct sts_db_stmt *st);
/* Columns of the current row. A NULL text/blob is NULL, a NULL int 0. */
STS_API const char *sts_db_col_text(struct sts_db_stmt *st, int i);
STS_API int64_t sts_db_col_int(struct sts_db_stmt *st, int i);
STS_API const void *sts_db_col_blob(struct sts_db_stmt *st, int i, size_t *ret_n);
STS_API bool sts_db_col_null(struct sts_db_stmt *st, int i);
/* Rows changed by the last INSERT/UPDATE/DELETE run on this DB. */
STS_API int64_t sts_db_changes(struct sts_db_stmt *st);
/* Ready to step again; the bindings are kept. */
STS_API void sts_db_reset(struct sts_db_stmt *st);
/* st may be NULL. */
STS_API void sts_db_finalize(struct sts_db_stmt *st);
/* Does table name exist? Takes the lock itself. */
STS_API int sts_db_has_table(struct sts_db *db, const char *name, bool *ret);

/* A query whose rows become an array (sts_db_read_rows). */
struct sts_db_rows {
	const char *sql;
	const char *key; /* bound as ?1 when not NULL */
	size_t size;	 /* of one element */
	/* fill elem (zeroed) from the row: STS_OK or a negative sts_err */
	int (*row)(struct sts_db_stmt *st, void *elem);
	void (*release)(void *elem); /* what row() left in elem, on a failure */
	const char *what;	     /* names the read in sts_db_errmsg() */
	bool optional;		     /* a statement that does not prepare (no table yet): no rows */
};

/*
 * Under the lock, every row of q->sql into a new array; ret points to the
 * array pointer (a T **). On success *ret (NULL without rows) and *ret_n
 * are set; on failure the rows read are released and nothing is returned.
 */
STS_API int sts_db_read_rows(struct sts_db *db, const struct sts_db_rows *q, void *ret,
			     size_t *ret_n);
STS_API void sts_db_hold(struct sts_db *db);
STS_API void sts_db_unhold(struct sts_db *db);
/* true when opened with STS_DB_READONLY on an existing file */
STS_API bool sts_db_is_readonly(const struct sts_db *db);

/* ---- the state lock: one "<db>.lock" file, flock(LOCK_EX|LOCK_NB) ---- */
struct sts_lock;

/* malloc'd "<db_path>.lock". */
STS_API char *sts_lock_path_for(const char *db_path);
/*
 * STS_ELOCKED when another process holds it. The lock file is opened with
 * O_NOFOLLOW (a symlink: -ELOOP) and created 0600; one that is not a
 * regular file owned by the caller with one link is refused
 * (STS_EREFUSED). It is never truncated.
 */
STS_API int sts_lock_acquire(const char *db_path, struct sts_lock **ret);
STS_API void sts_lock_release(struct sts_lock *l);
/*
 * Does a live process hold the lock of db_path? Probed with a shared
 * flock on the lock file, never created; false when it does not exist.
 * Not meaningful for the caller's own lock.
 */
STS_API int sts_lock_held(const char *db_path, bool *ret);

#endif
