/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sts_db.h"
#include "sts_db_int.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_fsutil.h"

/* the PostgreSQL engine is not part of this build */
const struct sts_db_engine *const sts_db_pg_engine = NULL;

/* The core schema; docs/state.md describes it. Append only. */
static const struct sts_db_migration core_migrations[] = {
    {1,
     "CREATE TABLE runs ("
     " id INTEGER PRIMARY KEY,"
     " command TEXT NOT NULL,"
     " started INTEGER NOT NULL,"
     " finished INTEGER,"
     " status TEXT NOT NULL DEFAULT 'running',"
     " n_ok INTEGER, n_failed INTEGER);"
     "CREATE TABLE journal ("
     " id INTEGER PRIMARY KEY,"
     " run_id INTEGER NOT NULL REFERENCES runs(id),"
     " time INTEGER NOT NULL,"
     " domain TEXT NOT NULL,"
     " step TEXT NOT NULL,"
     " status TEXT NOT NULL,"
     " detail TEXT);"
     "CREATE INDEX journal_domain ON journal(domain, id);"
     "CREATE TABLE served_policies ("
     " domain TEXT NOT NULL,"
     " sha256 TEXT NOT NULL,"
     " policy_id TEXT NOT NULL,"
     " text TEXT NOT NULL,"
     " mode TEXT NOT NULL,"
     " max_age INTEGER NOT NULL,"
     " first_served INTEGER NOT NULL,"
     " last_served INTEGER NOT NULL,"
     " current INTEGER NOT NULL DEFAULT 0,"
     " PRIMARY KEY (domain, sha256));"
     "CREATE TABLE managed_domains ("
     " domain TEXT PRIMARY KEY,"
     " first_seen INTEGER NOT NULL,"
     " last_applied INTEGER,"
     " removal_started INTEGER,"
     " spec TEXT);",
     NULL},
};

STS_API time_t sts_clock_now(const struct sts_clock *c)
{
	if (c && c->now)
		return c->now(c->ud);
	return time(NULL);
}

static void lock(struct sts_db *db)
{
	pthread_mutex_lock(&db->mu);
}

static void unlock(struct sts_db *db)
{
	pthread_mutex_unlock(&db->mu);
}

STS_API const char *sts_db_errmsg(const struct sts_db *db)
{
	return db->err;
}

int sts_db_fail(struct sts_db *db, const char *what)
{
	snprintf(db->err, sizeof(db->err), "%s: %s", what, db->eng->errmsg(db));
	return STS_EDB;
}

static int fail(struct sts_db *db, const char *what)
{
	return sts_db_fail(db, what);
}

static int exec(struct sts_db *db, const char *sql)
{
	return db->eng->exec(db, sql);
}

static int tx_begin(struct sts_db *db);
static int tx_commit(struct sts_db *db);
static int tx_rollback(struct sts_db *db);

/* ---- statements (over the engine) ---- */

STS_API int sts_db_prepare(struct sts_db *db, const char *sql, struct sts_db_stmt **ret)
{
	int r = db->eng->prepare(db, sql, ret);
	return r == STS_EDB ? fail(db, "prepare") : r;
}

static int bound(struct sts_db_stmt *st, int r)
{
	return r == STS_EDB ? fail(st->db, "bind") : r;
}

STS_API int sts_db_bind_text(struct sts_db_stmt *st, int i, const char *s)
{
	if (!s)
		return sts_db_bind_null(st, i);
	return bound(st, st->db->eng->bind_text(st, i, s));
}

STS_API int sts_db_bind_int(struct sts_db_stmt *st, int i, int64_t v)
{
	return bound(st, st->db->eng->bind_int(st, i, v));
}

STS_API int sts_db_bind_blob(struct sts_db_stmt *st, int i, const void *p, size_t n)
{
	return bound(st, st->db->eng->bind_blob(st, i, p, n));
}

STS_API int sts_db_bind_null(struct sts_db_stmt *st, int i)
{
	return bound(st, st->db->eng->bind_null(st, i));
}

STS_API int sts_db_step(struct sts_db_stmt *st)
{
	int r = st->db->eng->step(st);
	return r == STS_EDB ? fail(st->db, "step") : r;
}

STS_API const char *sts_db_col_text(struct sts_db_stmt *st, int i)
{
	return st->db->eng->col_text(st, i);
}

STS_API int64_t sts_db_col_int(struct sts_db_stmt *st, int i)
{
	return st->db->eng->col_int(st, i);
}

STS_API const void *sts_db_col_blob(struct sts_db_stmt *st, int i, size_t *ret_n)
{
	return st->db->eng->col_blob(st, i, ret_n);
}

STS_API bool sts_db_col_null(struct sts_db_stmt *st, int i)
{
	return st->db->eng->col_null(st, i);
}

STS_API int64_t sts_db_changes(struct sts_db_stmt *st)
{
	return st->db->eng->changes(st);
}

STS_API void sts_db_reset(struct sts_db_stmt *st)
{
	st->db->eng->reset(st);
}

STS_API void sts_db_finalize(struct sts_db_stmt *st)
{
	if (st)
		st->db->eng->finalize(st);
}

STS_API int sts_db_has_table(struct sts_db *db, const char *name, bool *ret)
{
	lock(db);
	int r = db->eng->has_table(db, name, ret);
	unlock(db);
	return r;
}

/* Run a statement that returns no rows, and finalize it. */
static int step_done(struct sts_db_stmt *st)
{
	int r = sts_db_step(st);
	if (r == STS_DB_ROW)
		r = fail(st->db, "step");
	sts_db_finalize(st);
	return r;
}

STS_API int sts_db_execf(struct sts_db *db, const char *sql, const char *binds, ...)
{
	struct sts_db_stmt *st;
	lock(db);
	int r = sts_db_prepare(db, sql, &st);
	if (r == STS_OK) {
		va_list ap;
		va_start(ap, binds);
		for (int i = 0; binds[i]; i++) {
			if (binds[i] == 't')
				sts_db_bind_text(st, i + 1, va_arg(ap, const char *));
			else
				sts_db_bind_int(st, i + 1, va_arg(ap, int64_t));
		}
		va_end(ap);
		r = step_done(st);
	}
	unlock(db);
	return r;
}

static char *col_dup(struct sts_db_stmt *st, int i)
{
	const char *s = sts_db_col_text(st, i);
	return s ? strdup(s) : NULL;
}

int sts_db_schema_version_locked(struct sts_db *db, const char *component, int *ret)
{
	struct sts_db_stmt *st;
	int r = sts_db_prepare(db, "SELECT version FROM schema_version WHERE component = ?", &st);
	if (r < 0)
		return r;
	sts_db_bind_text(st, 1, component);
	int rc = sts_db_step(st);
	if (rc == STS_DB_ROW)
		*ret = (int)sts_db_col_int(st, 0);
	else if (rc == STS_DB_DONE)
		*ret = 0;
	else
		r = fail(db, "read schema version");
	sts_db_finalize(st);
	return r;
}

STS_API int sts_db_schema_version(struct sts_db *db, const char *component, int *ret)
{
	lock(db);
	int r = sts_db_schema_version_locked(db, component, ret);
	unlock(db);
	return r;
}

STS_API int sts_db_migrate(struct sts_db *db, const char *component,
			   const struct sts_db_migration *m, size_t n)
{
	int cur = 0;
	int r;
	lock(db);
	r = sts_db_schema_version_locked(db, component, &cur);
	if (r < 0)
		goto out;
	int last = n ? m[n - 1].version : 0;
	if (cur > last) {
		snprintf(db->err, sizeof(db->err),
			 "schema '%s' is at version %d, newer than this stsctl (%d)", component,
			 cur, last);
		r = STS_EDB;
		goto out;
	}
	if (cur < last && db->readonly) {
		snprintf(
		    db->err, sizeof(db->err),
		    "schema '%s' is at version %d and needs migrating to %d: run 'stsctl apply'",
		    component, cur, last);
		r = STS_EDB;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (m[i].version <= cur)
			continue;
		r = tx_begin(db);
		if (r < 0)
			goto out;
		r = exec(db, db->eng == sts_db_pg_engine && m[i].pg ? m[i].pg : m[i].sql);
		if (r == STS_OK) {
			struct sts_db_stmt *st;
			r = sts_db_prepare(
			    db,
			    "INSERT INTO schema_version (component, version) VALUES (?, ?)"
			    " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
			    &st);
			if (r == STS_OK) {
				sts_db_bind_text(st, 1, component);
				sts_db_bind_int(st, 2, m[i].version);
				r = step_done(st);
			}
		}
		if (r < 0) {
			tx_rollback(db);
			goto out;
		}
		r = tx_commit(db);
		if (r < 0)
			goto out;
		cur = m[i].version;
	}
	r = STS_OK;
out:
	unlock(db);
	return r;
}

int sts_db_set_err(char **reterr, const char *fmt, const char *a, const char *b)
{
	if (reterr && asprintf(reterr, fmt, a, b) < 0)
		*reterr = NULL;
	return STS_EDB;
}

STS_API bool sts_db_location_is_url(const char *location)
{
	return location && (strncmp(location, "postgresql://", 13) == 0 ||
			    strncmp(location, "postgres://", 11) == 0);
}

STS_API int sts_db_open(const char *path, unsigned flags, const struct sts_clock *clock,
			struct sts_db **ret, char **reterr)
{
	return sts_db_open_url(path, NULL, flags, clock, ret, reterr);
}

STS_API int sts_db_open_url(const char *location, const char *password, unsigned flags,
			    const struct sts_clock *clock, struct sts_db **ret, char **reterr)
{
	int r;
	const char *path = location;
	if (reterr)
		*reterr = NULL;
	const struct sts_db_engine *eng = &sts_db_sqlite_engine;
	if (sts_db_location_is_url(location)) {
		eng = sts_db_pg_engine;
		if (!eng)
			return sts_fail(reterr, STS_EUNSUPPORTED, "PostgreSQL state: not built in");
	}
	struct sts_db *db = calloc(1, sizeof(*db));
	if (!db)
		return STS_ENOMEM;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&db->mu, &a);
	pthread_mutexattr_destroy(&a);
	if (clock)
		db->clock = *clock;
	db->path = strdup(path);
	if (!db->path) {
		r = STS_ENOMEM;
		goto fail;
	}
	db->eng = eng;
	r = eng->open(db, location, password, flags, reterr);
	if (r < 0)
		goto fail;
	if (eng->ready(db) < 0)
		goto fail_db;
	if (!db->readonly && exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
				      " component TEXT PRIMARY KEY, version INTEGER NOT NULL)") < 0)
		goto fail_db;
	r = sts_db_migrate(db, "core", core_migrations,
			   sizeof(core_migrations) / sizeof(core_migrations[0]));
	if (r < 0)
		goto fail_db;
	*ret = db;
	return STS_OK;
fail_db:
	if (db->damaged)
		r = sts_db_set_err(
		    reterr,
		    "state database '%s' is damaged: %s; restore a backup (docs/state.md,"
		    " Recovery), and see what is wrong with 'stsctl state check'",
		    path, db->err);
	else
		r = sts_db_set_err(reterr, "state database '%s': %s", path, db->err);
fail:
	sts_db_close(db);
	return r;
}

STS_API void sts_db_close(struct sts_db *db)
{
	if (!db)
		return;
	if (db->eng)
		db->eng->close(db);
	pthread_mutex_destroy(&db->mu);
	free(db->path);
	free(db);
}

STS_API void sts_time_rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "?");
}

STS_API time_t sts_db_now(const struct sts_db *db)
{
	return sts_clock_now(&db->clock);
}

STS_API const char *sts_db_path(const struct sts_db *db)
{
	return db->path;
}

STS_API void sts_db_hold(struct sts_db *db)
{
	lock(db);
}

STS_API void sts_db_unhold(struct sts_db *db)
{
	unlock(db);
}

STS_API bool sts_db_is_readonly(const struct sts_db *db)
{
	return db->readonly;
}

/* The transaction functions without the lock (sts_db_migrate holds it). */
static int tx_begin(struct sts_db *db)
{
	int r = db->eng->begin(db);
	db->in_tx = r == STS_OK;
	return r;
}

static int tx_commit(struct sts_db *db)
{
	int r = db->eng->commit(db);
	if (r < 0)
		db->eng->rollback(db);
	db->in_tx = false;
	return r;
}

static int tx_rollback(struct sts_db *db)
{
	int r = db->eng->rollback(db);
	db->in_tx = false;
	return r;
}

STS_API int sts_db_begin(struct sts_db *db)
{
	lock(db);
	int r = tx_begin(db);
	if (r < 0)
		unlock(db);
	return r;
}

STS_API int sts_db_commit(struct sts_db *db)
{
	int r = tx_commit(db);
	unlock(db);
	return r;
}

STS_API int sts_db_rollback(struct sts_db *db)
{
	int r = tx_rollback(db);
	unlock(db);
	return r;
}

/* ---- journal ---- */

STS_API int sts_db_run_begin(struct sts_db *db, const char *command, int64_t *ret_run)
{
	struct sts_db_stmt *st;
	lock(db);
	int r = sts_db_prepare(db, "INSERT INTO runs (command, started) VALUES (?, ?) RETURNING id",
			       &st);
	if (r == STS_OK) {
		sts_db_bind_text(st, 1, command);
		sts_db_bind_int(st, 2, sts_db_now(db));
		r = sts_db_step(st);
		if (r == STS_DB_ROW) {
			*ret_run = sts_db_col_int(st, 0);
			r = sts_db_step(st);
		} else if (r == STS_DB_DONE) {
			r = fail(db, "step");
		}
		if (r == STS_DB_DONE)
			r = STS_OK;
		sts_db_finalize(st);
	}
	unlock(db);
	return r;
}

STS_API int sts_db_run_end(struct sts_db *db, int64_t run, const char *status, size_t n_ok,
			   size_t n_failed)
{
	return sts_db_execf(db,
			    "UPDATE runs SET finished = ?, status = ?, n_ok = ?, n_failed = ?"
			    " WHERE id = ?",
			    "itiii", (int64_t)sts_db_now(db), status, (int64_t)n_ok,
			    (int64_t)n_failed, run);
}

static void run_release(void *pv)
{
	free(((struct sts_db_run *)pv)->command);
}

static int run_row(struct sts_db_stmt *st, void *pv)
{
	struct sts_db_run *run = pv;
	run->id = sts_db_col_int(st, 0);
	run->command = col_dup(st, 1);
	run->started = sts_db_col_int(st, 2);
	return run->command ? STS_OK : STS_ENOMEM;
}

STS_API int sts_db_runs_unfinished(struct sts_db *db, struct sts_db_run **ret, size_t *ret_n)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT id, command, started FROM runs WHERE status = 'running' ORDER BY id",
	    .size = sizeof(**ret),
	    .row = run_row,
	    .release = run_release,
	    .what = "read runs",
	};
	return sts_db_read_rows(db, &q, ret, ret_n);
}

STS_API int sts_db_runs_interrupt(struct sts_db *db, struct sts_db_run **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	int r = sts_db_begin(db);
	if (r < 0)
		return r;
	r = sts_db_runs_unfinished(db, ret, ret_n);
	if (r == STS_OK && *ret_n)
		r = sts_db_execf(db,
				 "UPDATE runs SET status = 'interrupted', finished = ?"
				 " WHERE status = 'running'",
				 "i", (int64_t)sts_db_now(db));
	if (r == STS_OK)
		r = sts_db_commit(db);
	else
		sts_db_rollback(db);
	if (r < 0) {
		sts_db_runs_free(*ret, *ret_n);
		*ret = NULL;
		*ret_n = 0;
	}
	return r;
}

STS_API void sts_db_runs_free(struct sts_db_run *v, size_t n)
{
	if (!v)
		return;
	STS_ARRAY_FREE(v, n, run_release);
}

STS_API int sts_db_journal_add(struct sts_db *db, int64_t run, const char *domain, const char *step,
			       const char *status, const char *detail)
{
	return sts_db_execf(db,
			    "INSERT INTO journal (run_id, time, domain, step, status, detail)"
			    " VALUES (?, ?, ?, ?, ?, ?)",
			    "iitttt", run, (int64_t)sts_db_now(db), domain, step, status, detail);
}

/* ---- served policies ---- */

static int sha256_hex(const char *text, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL))
		return STS_ENOMEM;
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return STS_OK;
}

static int record_policy(struct sts_db *db, const char *domain, const char *policy_id,
			 const char *text, const char *mode, long long max_age, bool current)
{
	char hash[65];
	int r = sha256_hex(text, hash);
	if (r < 0)
		return r;
	int64_t now = sts_db_now(db);
	lock(db);
	r = exec(db, "SAVEPOINT policy");
	if (r < 0)
		goto out;
	if (current)
		r = sts_db_execf(db,
				 "UPDATE served_policies SET current = 0, last_served = ?"
				 " WHERE domain = ? AND current = 1 AND sha256 <> ?",
				 "itt", now, domain, hash);
	if (r == STS_OK)
		r = sts_db_execf(
		    db,
		    "INSERT INTO served_policies (domain, sha256, policy_id, text, mode, max_age,"
		    " first_served, last_served, current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
		    " ON CONFLICT (domain, sha256) DO UPDATE SET last_served = "
		    "excluded.last_served,"
		    " current = max(current, excluded.current)",
		    "tttttiiii", domain, hash, policy_id, text, mode, (int64_t)max_age, now, now,
		    (int64_t)(current ? 1 : 0));
	if (r < 0) {
		exec(db, "ROLLBACK TO policy");
		exec(db, "RELEASE policy");
	} else {
		r = exec(db, "RELEASE policy");
	}
out:
	unlock(db);
	return r;
}

STS_API int sts_db_policy_served(struct sts_db *db, const char *domain, const char *policy_id,
				 const char *text, const char *mode, long long max_age)
{
	return record_policy(db, domain, policy_id, text, mode, max_age, true);
}

STS_API int sts_db_policy_seen(struct sts_db *db, const char *domain, const char *policy_id,
			       const char *text, const char *mode, long long max_age)
{
	return record_policy(db, domain, policy_id, text, mode, max_age, false);
}

STS_API int sts_db_policy_max_age(struct sts_db *db, const char *domain, long long *ret,
				  bool *ret_found)
{
	struct sts_db_stmt *st;
	lock(db);
	int r =
	    sts_db_prepare(db, "SELECT max(max_age) FROM served_policies WHERE domain = ?", &st);
	if (r == STS_OK) {
		sts_db_bind_text(st, 1, domain);
		if (sts_db_step(st) == STS_DB_ROW) {
			bool found = !sts_db_col_null(st, 0);
			*ret_found = found;
			*ret = found ? sts_db_col_int(st, 0) : 0;
		} else {
			r = fail(db, "read served policies");
		}
		sts_db_finalize(st);
	}
	unlock(db);
	return r;
}

STS_API int sts_db_read_rows(struct sts_db *db, const struct sts_db_rows *q, void *ret,
			     size_t *ret_n)
{
	struct sts_db_stmt *st;
	char *v = NULL;
	size_t n = 0, cap = 0, size = q->size;
	lock(db);
	int r = sts_db_prepare(db, q->sql, &st);
	if (r < 0) {
		if (q->optional)
			r = STS_OK; /* no such table (yet): no rows */
		goto out;
	}
	const char *key = q->key;
	if (key)
		sts_db_bind_text(st, 1, key);
	int rc;
	while ((rc = sts_db_step(st)) == STS_DB_ROW) {
		if (sts_array_grow(&v, n, &cap, size, 16) < 0) {
			r = STS_ENOMEM;
			break;
		}
		void *e = v + n++ * size;
		memset(e, 0, size);
		r = q->row(st, e);
		if (r < 0)
			break;
	}
	if (r == STS_OK && rc != STS_DB_DONE)
		r = fail(db, q->what);
	sts_db_finalize(st);
out:
	unlock(db);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			q->release(v + i * size);
		free(v);
		return r;
	}
	memcpy(ret, &v, sizeof(v)); /* ret is a T **: copied, not cast */
	*ret_n = n;
	return STS_OK;
}

static void policy_release(void *pv)
{
	struct sts_db_policy *p = pv;
	free(p->domain);
	free(p->policy_id);
	free(p->sha256);
	free(p->text);
	free(p->mode);
}

STS_API void sts_db_policies_free(struct sts_db_policy *v, size_t n)
{
	if (!v)
		return;
	STS_ARRAY_FREE(v, n, policy_release);
}

static int policy_row(struct sts_db_stmt *st, void *pv)
{
	struct sts_db_policy *p = pv;
	p->domain = col_dup(st, 0);
	p->policy_id = col_dup(st, 1);
	p->sha256 = col_dup(st, 2);
	p->text = col_dup(st, 3);
	p->mode = col_dup(st, 4);
	p->max_age = sts_db_col_int(st, 5);
	p->first_served = sts_db_col_int(st, 6);
	p->last_served = sts_db_col_int(st, 7);
	p->current = sts_db_col_int(st, 8) != 0;
	if (!p->domain || !p->policy_id || !p->sha256 || !p->text || !p->mode)
		return STS_ENOMEM;
	return STS_OK;
}

STS_API int sts_db_policy_history(struct sts_db *db, const char *domain, struct sts_db_policy **ret,
				  size_t *ret_n)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT domain, policy_id, sha256, text, mode, max_age, first_served,"
		   " last_served, current FROM served_policies WHERE domain = ?"
		   " ORDER BY first_served, rowid",
	    .key = domain,
	    .size = sizeof(**ret),
	    .row = policy_row,
	    .release = policy_release,
	    .what = "read served policies",
	};
	return sts_db_read_rows(db, &q, ret, ret_n);
}

/* ---- managed domains ---- */

STS_API int sts_db_domain_upsert(struct sts_db *db, const char *domain, const char *spec)
{
	return sts_db_execf(
	    db,
	    "INSERT INTO managed_domains (domain, first_seen, spec) VALUES (?, ?, ?)"
	    " ON CONFLICT (domain) DO UPDATE SET spec = coalesce(excluded.spec, spec)",
	    "tit", domain, (int64_t)sts_db_now(db), spec);
}

STS_API int sts_db_domain_applied(struct sts_db *db, const char *domain)
{
	return sts_db_execf(db, "UPDATE managed_domains SET last_applied = ? WHERE domain = ?",
			    "it", (int64_t)sts_db_now(db), domain);
}

STS_API int sts_db_domain_removal_start(struct sts_db *db, const char *domain)
{
	return sts_db_execf(db,
			    "UPDATE managed_domains SET removal_started = ?"
			    " WHERE domain = ? AND removal_started IS NULL",
			    "it", (int64_t)sts_db_now(db), domain);
}

STS_API int sts_db_domain_removal_cancel(struct sts_db *db, const char *domain)
{
	return sts_db_execf(
	    db, "UPDATE managed_domains SET removal_started = NULL WHERE domain = ?", "t", domain);
}

STS_API int sts_db_domain_forget(struct sts_db *db, const char *domain)
{
	return sts_db_execf(db, "DELETE FROM managed_domains WHERE domain = ?", "t", domain);
}

STS_API void sts_db_domain_release(struct sts_db_domain *d)
{
	if (!d)
		return;
	free(d->domain);
	free(d->spec);
	d->domain = NULL;
	d->spec = NULL;
}

STS_API void sts_db_domains_free(struct sts_db_domain *v, size_t n)
{
	if (!v)
		return;
	STS_ARRAY_FREE(v, n, sts_db_domain_release);
}

static const char domain_cols[] =
    "SELECT domain, first_seen, coalesce(last_applied, 0), coalesce(removal_started, 0),"
    " spec FROM managed_domains";

static int domain_row(struct sts_db_stmt *st, void *pv)
{
	struct sts_db_domain *d = pv;
	d->domain = col_dup(st, 0);
	d->first_seen = sts_db_col_int(st, 1);
	d->last_applied = sts_db_col_int(st, 2);
	d->removal_started = sts_db_col_int(st, 3);
	d->spec = col_dup(st, 4);
	if (!d->domain || (!d->spec && !sts_db_col_null(st, 4)))
		return STS_ENOMEM;
	return STS_OK;
}

static void domain_release(void *d)
{
	sts_db_domain_release(d);
}

STS_API int sts_db_domains_list(struct sts_db *db, struct sts_db_domain **ret, size_t *ret_n)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "%s ORDER BY domain", domain_cols);
	const struct sts_db_rows q = {
	    .sql = sql,
	    .size = sizeof(**ret),
	    .row = domain_row,
	    .release = domain_release,
	    .what = "read managed domains",
	};
	return sts_db_read_rows(db, &q, ret, ret_n);
}

STS_API int sts_db_domain_get(struct sts_db *db, const char *domain, struct sts_db_domain *ret,
			      bool *ret_found)
{
	struct sts_db_stmt *st;
	char sql[256];
	snprintf(sql, sizeof(sql), "%s WHERE domain = ?", domain_cols);
	lock(db);
	int r = sts_db_prepare(db, sql, &st);
	if (r < 0)
		goto out;
	sts_db_bind_text(st, 1, domain);
	int rc = sts_db_step(st);
	if (rc == STS_DB_ROW) {
		struct sts_db_domain d = {0};
		r = domain_row(st, &d);
		if (r < 0) {
			sts_db_domain_release(&d);
		} else {
			*ret = d;
			*ret_found = true;
		}
	} else if (rc == STS_DB_DONE) {
		*ret_found = false;
	} else {
		r = fail(db, "read managed domain");
	}
	sts_db_finalize(st);
out:
	unlock(db);
	return r;
}

STS_API int sts_db_removal_deadline(struct sts_db *db, const char *domain, int64_t *ret)
{
	struct sts_db_domain d;
	bool found = false;
	int r = sts_db_domain_get(db, domain, &d, &found);
	if (r < 0)
		return r;
	if (!found)
		return STS_ENOENT;
	int64_t started = d.removal_started;
	sts_db_domain_release(&d);
	if (started == 0)
		return STS_ENOENT;
	long long max_age = 0;
	bool have = false;
	r = sts_db_policy_max_age(db, domain, &max_age, &have);
	if (r < 0)
		return r;
	*ret = started + (have ? max_age : STS_DB_NO_HISTORY_WAIT);
	return STS_OK;
}

/* ---- the lock ---- */

struct sts_lock {
	int fd;
};

STS_API char *sts_lock_path_for(const char *db_path)
{
	char *p = NULL;
	if (asprintf(&p, "%s.lock", db_path) < 0)
		return NULL;
	return p;
}

STS_API int sts_lock_acquire(const char *db_path, struct sts_lock **ret)
{
	char *path = sts_lock_path_for(db_path);
	if (!path)
		return STS_ENOMEM;
	int r;
	/*
	 * A planted PATH.lock must not turn the PID write into a write
	 * elsewhere: a symlink is not followed (ELOOP), a FIFO or device does
	 * not block the open, and only a regular file of our own with one
	 * link is used. Created 0600 whatever the umask.
	 */
	int fd =
	    open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	struct stat st;
	struct sts_lock *l = NULL;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1)
		r = STS_EREFUSED;
	else if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		r = errno == EWOULDBLOCK ? STS_ELOCKED : -errno;
	else if (!(l = malloc(sizeof(*l))))
		r = STS_ENOMEM;
	else
		r = STS_OK;
	if (r < 0) {
		close(fd);
		goto out;
	}
	/* informational: who holds it, in a fixed-width field; never truncated */
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%-20ld\n", (long)getpid());
	if (pwrite(fd, pid, (size_t)n, 0) < 0)
		(void)0;
	l->fd = fd;
	*ret = l;
out:
	free(path);
	return r;
}

STS_API int sts_lock_held(const char *db_path, bool *ret)
{
	char *path = sts_lock_path_for(db_path);
	if (!path)
		return STS_ENOMEM;
	int r = STS_OK;
	*ret = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = errno == ENOENT ? STS_OK : -errno;
	} else {
		if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
			if (errno == EWOULDBLOCK)
				*ret = true;
			else
				r = -errno;
		}
		close(fd); /* drops the shared probe */
	}
	free(path);
	return r;
}

STS_API void sts_lock_release(struct sts_lock *l)
{
	if (!l)
		return;
	close(l->fd); /* closing drops the flock; the file stays (unlinking races) */
	free(l);
}
