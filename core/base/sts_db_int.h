/* SPDX-License-Identifier: MIT */
#ifndef STS_DB_INT_H
#define STS_DB_INT_H

/*
 * Inside the state layer only (core/base/sts_db*.c): struct sts_db and the
 * storage engine interface. sts_db.c is the engine-neutral front (locking,
 * clock, migrations bookkeeping, the core tables); sts_db_sqlite.c and
 * sts_db_pg.c are the engines. Nothing above core/base includes this.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sts_db.h"

struct sts_db_engine;

struct sts_db {
	const struct sts_db_engine *eng;
	void *conn; /* the engine's connection */
	char *path; /* the location: a path or a URL (never with a password) */
	struct sts_clock clock;
	pthread_mutex_t mu; /* recursive: held from begin to commit */
	char err[256];
	bool readonly;
	bool damaged; /* the engine found the state damaged (SQLite: corruption) */
	bool in_tx;   /* between sts_db_begin() and commit/rollback */
};

/* An engine's statement starts with this (the engine allocates it once, at prepare). */
struct sts_db_stmt {
	struct sts_db *db;
};

/*
 * One storage engine. Functions that fail return a negative sts_err and
 * leave the engine's error text for errmsg(); the front formats db->err
 * ("what: text"). Statement functions are called under the front's lock.
 */
struct sts_db_engine {
	const char *name; /* "sqlite", "postgresql" */
	/*
	 * Connect db->conn for location. A failure sets *reterr itself (the
	 * whole message, naming the state) and returns < 0.
	 */
	int (*open)(struct sts_db *db, const char *location, const char *password, unsigned flags,
		    char **reterr);
	/* After open: engine settings and checks; STS_EDB with db->err set. */
	int (*ready)(struct sts_db *db);
	void (*close)(struct sts_db *db);
	/* one or more statements without parameters or rows (DDL, BEGIN...) */
	int (*exec)(struct sts_db *db, const char *sql);
	int (*prepare)(struct sts_db *db, const char *sql, struct sts_db_stmt **ret);
	int (*bind_text)(struct sts_db_stmt *st, int i, const char *s);
	int (*bind_int)(struct sts_db_stmt *st, int i, int64_t v);
	int (*bind_blob)(struct sts_db_stmt *st, int i, const void *p, size_t n);
	int (*bind_null)(struct sts_db_stmt *st, int i);
	/* STS_DB_ROW, STS_DB_DONE, or < 0 */
	int (*step)(struct sts_db_stmt *st);
	const char *(*col_text)(struct sts_db_stmt *st, int i);
	int64_t (*col_int)(struct sts_db_stmt *st, int i);
	const void *(*col_blob)(struct sts_db_stmt *st, int i, size_t *ret_n);
	bool (*col_null)(struct sts_db_stmt *st, int i);
	int64_t (*changes)(struct sts_db_stmt *st);
	void (*reset)(struct sts_db_stmt *st);
	void (*finalize)(struct sts_db_stmt *st);
	int (*has_table)(struct sts_db *db, const char *name, bool *ret);
	/* the statement that opens a write transaction; COMMIT and ROLLBACK
	 * are the same on every engine and run through exec */
	const char *begin_sql;
	/* the engine's last error text ("" if none) */
	const char *(*errmsg)(struct sts_db *db);
};

extern const struct sts_db_engine sts_db_sqlite_engine;
/* NULL when this build has no PostgreSQL backend */
extern const struct sts_db_engine *const sts_db_pg_engine;

/* db->err = "what: <engine error text>"; returns STS_EDB. */
int sts_db_fail(struct sts_db *db, const char *what);
/* malloc'd message into *reterr (when reterr is not NULL); returns STS_EDB. */
int sts_db_set_err(char **reterr, const char *fmt, const char *a, const char *b);
/* Does sql (one parameter: name) return a row? For the engines' has_table. */
int sts_db_query_exists(struct sts_db *db, const char *sql, const char *name, bool *ret);
/* The schema version of component, the lock held. */
int sts_db_schema_version_locked(struct sts_db *db, const char *component, int *ret);

#endif
