/* SPDX-License-Identifier: MIT */
/*
 * The SQLite engine of the state (sts_db_int.h): a file (WAL, synchronous
 * FULL, a 10 s busy timeout), checked when opened (its shape, and
 * PRAGMA quick_check up to STS_DB_QUICK_CHECK_MAX); corruption marks the
 * state damaged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sts_db.h"
#include "sts_db_int.h"
#include "sts_err.h"
#include "sts_fsutil.h"

struct lite {
	sqlite3 *h;
	bool memory;
	off_t size; /* of the file when opened */
};

struct lite_stmt {
	struct sts_db_stmt base;
	sqlite3_stmt *st;
};

static sqlite3 *H(struct sts_db *db)
{
	return ((struct lite *)db->conn)->h;
}

static sqlite3_stmt *S(struct sts_db_stmt *st)
{
	return ((struct lite_stmt *)st)->st;
}

/* Corruption and "not a database" mark the DB damaged (the open refuses it). */
static void note_damage(struct sts_db *db, int rc)
{
	rc &= 0xff;
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		db->damaged = true;
}

static int lite_exec(struct sts_db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(H(db), sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		note_damage(db, rc);
		snprintf(db->err, sizeof(db->err), "%s", msg ? msg : sqlite3_errmsg(H(db)));
		sqlite3_free(msg);
		return STS_EDB;
	}
	return STS_OK;
}

/* A failed SQLite call: STS_EDB, the text stays in sqlite3_errmsg(). */
static int lite_failed(struct sts_db *db, int rc)
{
	note_damage(db, rc);
	return STS_EDB;
}

static int lite_prepare(struct sts_db *db, const char *sql, struct sts_db_stmt **ret)
{
	struct lite_stmt *st = calloc(1, sizeof(*st));
	if (!st)
		return STS_ENOMEM;
	st->base.db = db;
	int rc = sqlite3_prepare_v2(H(db), sql, -1, &st->st, NULL);
	if (rc != SQLITE_OK) {
		free(st);
		return lite_failed(db, rc);
	}
	*ret = &st->base;
	return STS_OK;
}

static int lite_bound(struct sts_db_stmt *st, int rc)
{
	return rc == SQLITE_OK ? STS_OK : lite_failed(st->db, rc);
}

static int lite_bind_text(struct sts_db_stmt *st, int i, const char *s)
{
	return lite_bound(st, sqlite3_bind_text(S(st), i, s, -1, SQLITE_TRANSIENT));
}

static int lite_bind_int(struct sts_db_stmt *st, int i, int64_t v)
{
	return lite_bound(st, sqlite3_bind_int64(S(st), i, v));
}

static int lite_bind_blob(struct sts_db_stmt *st, int i, const void *p, size_t n)
{
	return lite_bound(st, sqlite3_bind_blob64(S(st), i, p ? p : "", n, SQLITE_TRANSIENT));
}

static int lite_bind_null(struct sts_db_stmt *st, int i)
{
	return lite_bound(st, sqlite3_bind_null(S(st), i));
}

static int lite_step(struct sts_db_stmt *st)
{
	int rc = sqlite3_step(S(st));
	if (rc == SQLITE_ROW)
		return STS_DB_ROW;
	if (rc == SQLITE_DONE)
		return STS_DB_DONE;
	return lite_failed(st->db, rc);
}

static const char *lite_col_text(struct sts_db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(S(st), i);
}

static int64_t lite_col_int(struct sts_db_stmt *st, int i)
{
	return sqlite3_column_int64(S(st), i);
}

static const void *lite_col_blob(struct sts_db_stmt *st, int i, size_t *ret_n)
{
	const void *p = sqlite3_column_blob(S(st), i);
	*ret_n = (size_t)sqlite3_column_bytes(S(st), i);
	return p;
}

static bool lite_col_null(struct sts_db_stmt *st, int i)
{
	return sqlite3_column_type(S(st), i) == SQLITE_NULL;
}

static int64_t lite_changes(struct sts_db_stmt *st)
{
	return sqlite3_changes64(H(st->db));
}

static void lite_reset(struct sts_db_stmt *st)
{
	sqlite3_reset(S(st));
}

static void lite_finalize(struct sts_db_stmt *st)
{
	sqlite3_finalize(S(st));
	free(st);
}

static int lite_has_table(struct sts_db *db, const char *name, bool *ret)
{
	return sts_db_query_exists(
	    db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name, ret);
}

static const char *lite_errmsg(struct sts_db *db)
{
	return sqlite3_errmsg(H(db));
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
		r = sts_db_fail(db, "read the schema");
		sts_db_finalize(st);
		return r;
	}
	sts_db_finalize(st);
	if (n == 0 || (n == 1 && has_sv))
		return STS_OK; /* a new database */
	int core = 0;
	if (has_sv && (r = sts_db_schema_version_locked(db, "core", &core)) < 0)
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
		r = sts_db_fail(db, "quick_check");
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

static int lite_open(struct sts_db *db, const char *path, const char *password, unsigned flags,
		     char **reterr)
{
	int r;
	struct lite *c = calloc(1, sizeof(*c));
	if (!c)
		return STS_ENOMEM;
	db->conn = c;
	const char *open_path = path;
	struct stat fst = {0};
	if (strcmp(path, ":memory:") != 0 && stat(path, &fst) == 0 && S_ISREG(fst.st_mode) &&
	    fst.st_size == 0 && !(flags & STS_DB_INIT)) {
		/* never recreated silently: its history (the removal wait) would be lost */
		return sts_fail(reterr, STS_EDB,
				"state database '%s' is empty (0 bytes): restore a backup"
				" (docs/state.md, Recovery); to start a new state, remove the"
				" file or run 'stsctl apply --init'",
				path);
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
		return r;
	if (sqlite3_open_v2(open_path, &c->h, oflags, NULL) != SQLITE_OK)
		return sts_db_set_err(reterr, "cannot open state database '%s': %s", path,
				      c->h ? sqlite3_errmsg(c->h) : "out of memory");
	sqlite3_busy_timeout(c->h, 10000);
	sqlite3_extended_result_codes(c->h, 1);
	c->memory = memory;
	c->size = fst.st_size;
	return STS_OK;
}

/* the settings, and the checks of an existing state */
static int lite_ready(struct sts_db *db)
{
	struct lite *c = db->conn;
	bool memory = c->memory;
	/* WAL: readers (plan, check) never block the writer; FULL: a served
	 * policy is on disk before its TXT id is published. */
	if (!db->readonly && !memory &&
	    (lite_exec(db, "PRAGMA journal_mode = WAL") < 0 ||
	     lite_exec(db, "PRAGMA synchronous = FULL") < 0))
		return STS_EDB;
	if (lite_exec(db, "PRAGMA foreign_keys = ON") < 0)
		return STS_EDB;
	if (!memory && (check_shape(db) < 0 ||
			(c->size > 0 && c->size <= STS_DB_QUICK_CHECK_MAX && quick_check(db) < 0)))
		return STS_EDB;
	return STS_OK;
}

static void lite_close(struct sts_db *db)
{
	struct lite *c = db->conn;
	if (!c)
		return;
	if (c->h)
		sqlite3_close(c->h);
	free(c);
	db->conn = NULL;
}

const struct sts_db_engine sts_db_sqlite_engine = {
    .name = "sqlite",
    .open = lite_open,
    .ready = lite_ready,
    .close = lite_close,
    .exec = lite_exec,
    .prepare = lite_prepare,
    .bind_text = lite_bind_text,
    .bind_int = lite_bind_int,
    .bind_blob = lite_bind_blob,
    .bind_null = lite_bind_null,
    .step = lite_step,
    .col_text = lite_col_text,
    .col_int = lite_col_int,
    .col_blob = lite_col_blob,
    .col_null = lite_col_null,
    .changes = lite_changes,
    .reset = lite_reset,
    .finalize = lite_finalize,
    .has_table = lite_has_table,
    .begin_sql = "BEGIN IMMEDIATE",
    .errmsg = lite_errmsg,
};

/*
 * For components with their own tables: the SQLite handle (NULL on
 * another engine).
 */
STS_API struct sqlite3 *sts_db_handle(struct sts_db *db)
{
	return db->eng == &sts_db_sqlite_engine ? H(db) : NULL;
}
