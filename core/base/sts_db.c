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
#include <sqlite3.h>

#include "sts_db.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_fsutil.h"

struct sts_db {
	sqlite3 *h;
	char *path;
	struct sts_clock clock;
	pthread_mutex_t mu; /* recursive: held from begin to commit */
	char err[256];
	bool readonly;
	bool damaged; /* SQLite reported corruption, or "not a database" */
};

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

/* Corruption and "not a database" mark the DB damaged (the open refuses it). */
static void note_damage(struct sts_db *db, int rc)
{
	rc &= 0xff;
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		db->damaged = true;
}

static int fail(struct sts_db *db, const char *what)
{
	note_damage(db, sqlite3_errcode(db->h));
	snprintf(db->err, sizeof(db->err), "%s: %s", what, sqlite3_errmsg(db->h));
	return STS_EDB;
}

static int exec(struct sts_db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		note_damage(db, rc);
		snprintf(db->err, sizeof(db->err), "%s", msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return STS_EDB;
	}
	return STS_OK;
}

/* ---- statements (over SQLite) ---- */

struct sts_db_stmt {
	struct sts_db *db;
	sqlite3_stmt *st;
};

STS_API int sts_db_prepare(struct sts_db *db, const char *sql, struct sts_db_stmt **ret)
{
	struct sts_db_stmt *st = calloc(1, sizeof(*st));
	if (!st)
		return STS_ENOMEM;
	st->db = db;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st->st, NULL) != SQLITE_OK) {
		free(st);
		return fail(db, "prepare");
	}
	*ret = st;
	return STS_OK;
}

static int bound(struct sts_db_stmt *st, int rc)
{
	return rc == SQLITE_OK ? STS_OK : fail(st->db, "bind");
}

STS_API int sts_db_bind_text(struct sts_db_stmt *st, int i, const char *s)
{
	if (!s)
		return sts_db_bind_null(st, i);
	return bound(st, sqlite3_bind_text(st->st, i, s, -1, SQLITE_TRANSIENT));
}

STS_API int sts_db_bind_int(struct sts_db_stmt *st, int i, int64_t v)
{
	return bound(st, sqlite3_bind_int64(st->st, i, v));
}

STS_API int sts_db_bind_blob(struct sts_db_stmt *st, int i, const void *p, size_t n)
{
	return bound(st, sqlite3_bind_blob64(st->st, i, p ? p : "", n, SQLITE_TRANSIENT));
}

STS_API int sts_db_bind_null(struct sts_db_stmt *st, int i)
{
	return bound(st, sqlite3_bind_null(st->st, i));
}

STS_API int sts_db_step(struct sts_db_stmt *st)
{
	int rc = sqlite3_step(st->st);
	if (rc == SQLITE_ROW)
		return STS_DB_ROW;
	if (rc == SQLITE_DONE)
		return STS_DB_DONE;
	return fail(st->db, "step");
}

STS_API const char *sts_db_col_text(struct sts_db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st->st, i);
}

STS_API int64_t sts_db_col_int(struct sts_db_stmt *st, int i)
{
	return sqlite3_column_int64(st->st, i);
}

STS_API const void *sts_db_col_blob(struct sts_db_stmt *st, int i, size_t *ret_n)
{
	const void *p = sqlite3_column_blob(st->st, i);
	*ret_n = (size_t)sqlite3_column_bytes(st->st, i);
	return p;
}

STS_API bool sts_db_col_null(struct sts_db_stmt *st, int i)
{
	return sqlite3_column_type(st->st, i) == SQLITE_NULL;
}

STS_API int64_t sts_db_changes(struct sts_db_stmt *st)
{
	return sqlite3_changes64(st->db->h);
}

STS_API void sts_db_reset(struct sts_db_stmt *st)
{
	sqlite3_reset(st->st);
}

STS_API void sts_db_finalize(struct sts_db_stmt *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->st);
	free(st);
}

STS_API int sts_db_has_table(struct sts_db *db, const char *name, bool *ret)
{
	struct sts_db_stmt *st;
	lock(db);
	int r = sts_db_prepare(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
			       &st);
	if (r == STS_OK) {
		r = sts_db_bind_text(st, 1, name);
		if (r == STS_OK)
			r = sts_db_step(st);
		if (r >= 0) {
			*ret = r == STS_DB_ROW;
			r = STS_OK;
		}
		sts_db_finalize(st);
	}
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

static int schema_version_locked(struct sts_db *db, const char *component, int *ret)
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
	int r = schema_version_locked(db, component, ret);
	unlock(db);
	return r;
}

STS_API int sts_db_migrate(struct sts_db *db, const char *component,
			   const struct sts_db_migration *m, size_t n)
{
	int cur = 0;
	int r;
	lock(db);
	r = schema_version_locked(db, component, &cur);
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
		r = exec(db, "BEGIN IMMEDIATE");
		if (r < 0)
			goto out;
		r = exec(db, m[i].sql);
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
			exec(db, "ROLLBACK");
			goto out;
		}
		r = exec(db, "COMMIT");
		if (r < 0)
			goto out;
		cur = m[i].version;
	}
	r = STS_OK;
out:
	unlock(db);
	return r;
}

static int set_err(char **reterr, const char *fmt, const char *a, const char *b)
{
	if (reterr && asprintf(reterr, fmt, a, b) < 0)
		*reterr = NULL;
	return STS_EDB;
}

/* The number of core tables of version 1, named in check_shape's query; a DB
 * that records version 1 has them all. */
enum { CORE_TABLES_V1 = 4 };

/*
 * A DB with tables but without the core's schema version, or recording it
 * without the core tables, lost part of its schema: damaged (or not a
 * stsctl state). Reading the schema also makes SQLite check the header.
 */
static int check_shape(struct sts_db *db)
{
	struct sts_db_stmt *st;
	int r = sts_db_prepare(db,
			       "SELECT count(*), sum(name = 'schema_version'), sum(name IN"
			       " ('runs', 'journal', 'served_policies', 'managed_domains'))"
			       " FROM sqlite_master WHERE type = 'table'",
			       &st);
	if (r < 0)
		return r;
	int rc = sts_db_step(st);
	int n = (int)sts_db_col_int(st, 0), has_sv = (int)sts_db_col_int(st, 1),
	    n_core = (int)sts_db_col_int(st, 2);
	if (rc != STS_DB_ROW) {
		r = fail(db, "read the schema");
		sts_db_finalize(st);
		return r;
	}
	sts_db_finalize(st);
	if (n == 0 || (n == 1 && has_sv))
		return STS_OK; /* a new database */
	int core = 0;
	if (has_sv && (r = schema_version_locked(db, "core", &core)) < 0)
		return r;
	size_t want = core >= 1 ? CORE_TABLES_V1 : 0;
	if (core == 0 || (size_t)n_core != want) {
		db->damaged = true;
		snprintf(db->err, sizeof(db->err), "%s",
			 core == 0 ? "it has tables but no core schema version (not a stsctl "
				     "state, or its schema was lost)"
				   : "core tables are missing from its schema");
		return STS_EDB;
	}
	return STS_OK;
}

/* PRAGMA quick_check(1): "ok", or the first problem (a damaged page). */
static int quick_check(struct sts_db *db)
{
	struct sts_db_stmt *st;
	int r = sts_db_prepare(db, "PRAGMA quick_check(1)", &st);
	if (r < 0)
		return r;
	int rc = sts_db_step(st);
	const char *res = rc == STS_DB_ROW ? sts_db_col_text(st, 0) : NULL;
	if (rc != STS_DB_ROW)
		r = fail(db, "quick_check");
	else if (!res || strcmp(res, "ok") != 0) {
		db->damaged = true;
		snprintf(db->err, sizeof(db->err), "quick_check: %s", res ? res : "no result");
		for (char *c = db->err; *c; c++)
			if (*c == '\n')
				*c = ' ';
		r = STS_EDB;
	}
	sts_db_finalize(st);
	return r;
}

/*
 * A new state file, whole or not at all: SQLite writes its first page only
 * with the first table, so a crash between creating the file and that write
 * would leave an empty file (refused by the next run). The file is made
 * under a temporary name with one table, synced, and linked into place
 * (link: an existing state, made meanwhile by another stsctl, is kept); a
 * crash leaves at most PATH.new.PID behind.
 */
static int create_new(const char *path, char **reterr)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid()) >= sizeof(tmp))
		return sts_fail(reterr, STS_EINVAL, "state database path too long: '%s'", path);
	(void)unlink(tmp); /* a leftover of a crashed process with our pid */
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sts_fail(reterr, -errno, "cannot create state database '%s': %s", path,
				strerror(errno));
	if (fchmod(fd, 0600) < 0)
		(void)0; /* 0600 & ~umask is 0600 or less: private either way */
	close(fd);
	sqlite3 *h = NULL;
	char *msg = NULL;
	int r = STS_OK;
	if (sqlite3_open_v2(tmp, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
		SQLITE_OK ||
	    sqlite3_exec(h,
			 "PRAGMA synchronous = FULL; CREATE TABLE IF NOT EXISTS schema_version ("
			 " component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
			 NULL, NULL, &msg) != SQLITE_OK)
		r = sts_fail(reterr, STS_EDB, "cannot create state database '%s': %s", path,
			     msg ? msg
			     : h ? sqlite3_errmsg(h)
				 : "out of memory");
	sqlite3_free(msg);
	if (h && sqlite3_close(h) != SQLITE_OK && r == STS_OK)
		r = sts_fail(reterr, STS_EDB, "cannot create state database '%s'", path);
	if (r == STS_OK && (fd = open(tmp, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) < 0)
			r = sts_fail(reterr, -errno, "cannot sync '%s': %s", tmp, strerror(errno));
		close(fd);
	}
	if (r == STS_OK && link(tmp, path) < 0 && errno != EEXIST)
		r = sts_fail(reterr, -errno, "cannot create state database '%s': %s", path,
			     strerror(errno));
	(void)unlink(tmp);
	if (r == STS_OK)
		(void)sts_syncfs_path(path); /* the new name is on disk */
	return r;
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
	(void)password;
	if (sts_db_location_is_url(location))
		return sts_fail(reterr, STS_EUNSUPPORTED, "PostgreSQL state: not built in");
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
	const char *open_path = path;
	struct stat fst = {0};
	if (strcmp(path, ":memory:") != 0 && stat(path, &fst) == 0 && S_ISREG(fst.st_mode) &&
	    fst.st_size == 0 && !(flags & STS_DB_INIT)) {
		/* never recreated silently: its history (the removal wait) would be lost */
		r = sts_fail(reterr, STS_EDB,
			     "state database '%s' is empty (0 bytes): restore a backup"
			     " (docs/state.md, Recovery); to start a new state, remove the"
			     " file or run 'stsctl apply --init'",
			     path);
		goto fail;
	}
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	bool memory = strcmp(path, ":memory:") == 0;
	if (flags & STS_DB_READONLY) {
		if (!memory && access(path, F_OK) != 0) {
			open_path = ":memory:"; /* nothing recorded yet: an empty state */
			memory = true;
		} else if (!memory) {
			oflags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
			db->readonly = true;
		}
	}
	/*
	 * Created 0600 whatever the umask: it holds report contents and the
	 * quarantine. SQLite gives -wal and -shm the mode of the database file.
	 * A new state appears whole or not at all (create_new), so an empty
	 * file at path is never one of ours and stays refused above.
	 */
	if (!memory && !db->readonly && access(open_path, F_OK) != 0 && errno == ENOENT &&
	    (r = create_new(open_path, reterr)) < 0)
		goto fail;
	if (sqlite3_open_v2(open_path, &db->h, oflags, NULL) != SQLITE_OK) {
		r = set_err(reterr, "cannot open state database '%s': %s", path,
			    db->h ? sqlite3_errmsg(db->h) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->h, 10000);
	sqlite3_extended_result_codes(db->h, 1);
	/* WAL: readers (plan, check) never block the writer; FULL: a served
	 * policy is on disk before its TXT id is published. */
	if (!db->readonly && !memory &&
	    (exec(db, "PRAGMA journal_mode = WAL") < 0 ||
	     exec(db, "PRAGMA synchronous = FULL") < 0))
		goto fail_db;
	if (exec(db, "PRAGMA foreign_keys = ON") < 0)
		goto fail_db;
	if (!memory &&
	    (check_shape(db) < 0 ||
	     (fst.st_size > 0 && fst.st_size <= STS_DB_QUICK_CHECK_MAX && quick_check(db) < 0)))
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
		r = set_err(reterr,
			    "state database '%s' is damaged: %s; restore a backup (docs/state.md,"
			    " Recovery), and see what is wrong with 'stsctl state check'",
			    path, db->err);
	else
		r = set_err(reterr, "state database '%s': %s", path, db->err);
fail:
	sts_db_close(db);
	return r;
}

STS_API void sts_db_close(struct sts_db *db)
{
	if (!db)
		return;
	if (db->h)
		sqlite3_close(db->h);
	pthread_mutex_destroy(&db->mu);
	free(db->path);
	free(db);
}

STS_API const char *sts_db_errmsg(const struct sts_db *db)
{
	return db->err;
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

STS_API struct sqlite3 *sts_db_handle(struct sts_db *db)
{
	return db->h;
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

STS_API int sts_db_begin(struct sts_db *db)
{
	lock(db);
	int r = exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		unlock(db);
	return r;
}

STS_API int sts_db_commit(struct sts_db *db)
{
	int r = exec(db, "COMMIT");
	if (r < 0)
		exec(db, "ROLLBACK");
	unlock(db);
	return r;
}

STS_API int sts_db_rollback(struct sts_db *db)
{
	int r = exec(db, "ROLLBACK");
	unlock(db);
	return r;
}

/* ---- journal ---- */

STS_API int sts_db_run_begin(struct sts_db *db, const char *command, int64_t *ret_run)
{
	struct sts_db_stmt *st;
	lock(db);
	int r = sts_db_prepare(db, "INSERT INTO runs (command, started) VALUES (?, ?)", &st);
	if (r == STS_OK) {
		sts_db_bind_text(st, 1, command);
		sts_db_bind_int(st, 2, sts_db_now(db));
		r = step_done(st);
		if (r == STS_OK)
			*ret_run = sqlite3_last_insert_rowid(db->h);
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
