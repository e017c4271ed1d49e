/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL engine of the state (sts_db_int.h), over libpq.
 *
 * The location is a postgresql:// or postgres:// URL without a password
 * (one in the URL is refused); the password comes from the caller (the
 * inventory's reference) as a connection parameter, or from libpq's
 * passfile. sslmode and the other URL parameters go to libpq as they are
 * (sslmode=verify-full is libpq's own). connect_timeout is 10 s unless
 * the URL sets it; every statement has a 30 s statement_timeout.
 *
 * Statements are server-side prepared (PQprepare) once, at sts_db_prepare;
 * `?N` and `?` become `$N` outside quoted literals and identifiers.
 * Parameters go as text (blobs binary), results come as text; a BYTEA
 * column is unescaped by sts_db_col_blob. Errors name the server
 * (host:port/db), never the password.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sts_db.h"
#include "sts_db_int.h"
#include "sts_err.h"

#define PG_CONNECT_TIMEOUT	"10"
#define PG_STATEMENT_TIMEOUT_MS 30000
#define PG_BYTEA_OID		17

struct pg {
	PGconn *c;
	char server[192]; /* host:port/db */
	char err[256];	  /* the last error, naming the server */
	int64_t changes;  /* of the last INSERT/UPDATE/DELETE */
	unsigned long seq;
};

struct pg_stmt {
	struct sts_db_stmt base;
	char name[24];
	int nparams;
	char **values;
	int *lengths;
	int *formats;
	PGresult *res;
	int row, nrows;
	bool done;
	unsigned char *blob; /* the last unescaped BYTEA */
};

static struct pg *P(struct sts_db *db)
{
	return db->conn;
}

static struct pg_stmt *PS(struct sts_db_stmt *st)
{
	return (struct pg_stmt *)st;
}

/* msg's first line, "(PostgreSQL host:port/db)" after it */
static void pg_set_err(struct pg *p, const char *msg)
{
	size_t n = strcspn(msg, "\n");
	snprintf(p->err, sizeof(p->err), "%.*s (PostgreSQL %s)", (int)n, msg, p->server);
}

static void pg_res_err(struct pg *p, const PGresult *res)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!m || !*m)
		m = PQerrorMessage(p->c);
	pg_set_err(p, m && *m ? m : "unknown error");
}

/* Run sql (no parameters, no rows wanted): STS_OK or STS_EDB with p->err. */
static int pg_run(struct pg *p, const char *sql)
{
	PGresult *res = PQexec(p->c, sql);
	ExecStatusType s = PQresultStatus(res);
	int r = STS_OK;
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		pg_res_err(p, res);
		r = STS_EDB;
	} else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0 && strncmp(sql, "ROLLBACK", 8) != 0) {
		/* COMMIT of a transaction that failed before */
		pg_set_err(p, "the transaction failed and was rolled back");
		r = STS_EDB;
	}
	PQclear(res);
	return r;
}

static int pg_exec(struct sts_db *db, const char *sql)
{
	int r = pg_run(P(db), sql);
	if (r < 0)
		snprintf(db->err, sizeof(db->err), "%s", P(db)->err);
	return r;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* NOTICEs ("relation already exists, skipping") are not errors */
}

/* Does the URL carry a password? (refused: it would end up in logs and ps) */
static int url_password(const char *location, bool *ret, char **reterr)
{
	char *err = NULL;
	PQconninfoOption *o = PQconninfoParse(location, &err);
	if (!o) {
		int r = sts_fail(reterr, STS_EINVAL, "PostgreSQL state: invalid URL: %s",
				 err ? err : "out of memory");
		PQfreemem(err);
		if (reterr && *reterr)
			(*reterr)[strcspn(*reterr, "\n")] = '\0';
		return r;
	}
	*ret = false;
	for (PQconninfoOption *i = o; i->keyword; i++)
		if (strcmp(i->keyword, "password") == 0 && i->val && *i->val)
			*ret = true;
	PQconninfoFree(o);
	return STS_OK;
}

static int pg_open(struct sts_db *db, const char *location, const char *password, unsigned flags,
		   char **reterr)
{
	bool has_pw = false;
	int r = url_password(location, &has_pw, reterr);
	if (r < 0)
		return r;
	if (has_pw)
		return sts_fail(reterr, STS_EINVAL,
				"PostgreSQL state: the URL must not contain a password; give it"
				" in the inventory's \"state\" section or libpq's passfile");
	struct pg *p = calloc(1, sizeof(*p));
	if (!p)
		return STS_ENOMEM;
	db->conn = p;
	const char *keys[5], *vals[5];
	int n = 0;
	keys[n] = "connect_timeout", vals[n++] = PG_CONNECT_TIMEOUT; /* the URL may override */
	keys[n] = "dbname", vals[n++] = location;
	if (password)
		keys[n] = "password", vals[n++] = password;
	keys[n] = "application_name", vals[n++] = "stsctl";
	keys[n] = NULL, vals[n] = NULL;
	p->c = PQconnectdbParams(keys, vals, 1);
	if (!p->c)
		return STS_ENOMEM;
	const char *host = PQhost(p->c), *port = PQport(p->c), *dbn = PQdb(p->c);
	snprintf(p->server, sizeof(p->server), "%s:%s/%s", host && *host ? host : "localhost",
		 port && *port ? port : "5432", dbn ? dbn : "");
	if (PQstatus(p->c) != CONNECTION_OK) {
		const char *m = PQerrorMessage(p->c);
		char line[256];
		/* libpq's message: "connection to server at ... failed: REASON\n..." */
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(m, "\n"), m);
		return sts_fail(reterr, STS_EDB, "cannot connect to the PostgreSQL state at %s: %s",
				p->server, line[0] ? line : "unknown error");
	}
	PQsetNoticeProcessor(p->c, quiet, NULL);
	if (flags & STS_DB_READONLY)
		db->readonly = true;
	return STS_OK;
}

static int pg_ready(struct sts_db *db)
{
	char sql[160];
	snprintf(sql, sizeof(sql),
		 "SET statement_timeout = %d; SET client_encoding = 'UTF8';"
		 " SET default_transaction_read_only = %s",
		 PG_STATEMENT_TIMEOUT_MS, db->readonly ? "on" : "off");
	if (pg_exec(db, sql) < 0)
		return STS_EDB;
	return STS_OK;
}

static void pg_close(struct sts_db *db)
{
	struct pg *p = db->conn;
	if (!p)
		return;
	if (p->c)
		PQfinish(p->c);
	free(p);
	db->conn = NULL;
}

/*
 * SQLite's placeholders to PostgreSQL's: ?N -> $N, a bare ? -> $(largest
 * so far + 1), outside '...' literals, "..." identifiers and -- comments.
 * *ret_n: the largest parameter number.
 */
static char *rewrite(const char *sql, int *ret_n)
{
	size_t len = strlen(sql);
	char *out = malloc(len * 8 + 16); /* "?" -> "$NNNNNN": at most 7 bytes for 1 */
	if (!out)
		return NULL;
	char *o = out;
	int max = 0;
	for (const char *s = sql; *s;) {
		if (*s == '\'' || *s == '"') {
			char q = *s;
			*o++ = *s++;
			while (*s) {
				if (*s == q && s[1] == q) {
					*o++ = *s++;
					*o++ = *s++;
				} else if (*s == q) {
					*o++ = *s++;
					break;
				} else {
					*o++ = *s++;
				}
			}
		} else if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				*o++ = *s++;
		} else if (*s == '?') {
			s++;
			int num = 0;
			if (*s >= '0' && *s <= '9') {
				while (*s >= '0' && *s <= '9' && num < 100000)
					num = num * 10 + (*s++ - '0');
			} else {
				num = max + 1;
			}
			if (num > max)
				max = num;
			o += sprintf(o, "$%d", num);
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	*ret_n = max;
	return out;
}

static void clear_result(struct pg_stmt *st)
{
	PQclear(st->res);
	st->res = NULL;
	PQfreemem(st->blob);
	st->blob = NULL;
	st->row = 0;
	st->nrows = 0;
	st->done = false;
}

static void free_params(struct pg_stmt *st)
{
	for (int i = 0; i < st->nparams; i++)
		free(st->values[i]);
	free(st->values);
	free(st->lengths);
	free(st->formats);
}

static int pg_prepare(struct sts_db *db, const char *sql, struct sts_db_stmt **ret)
{
	struct pg *p = P(db);
	int n = 0;
	char *text = rewrite(sql, &n);
	struct pg_stmt *st = calloc(1, sizeof(*st));
	if (!text || !st) {
		free(text);
		free(st);
		return STS_ENOMEM;
	}
	st->base.db = db;
	st->nparams = n;
	if (n > 0) {
		st->values = calloc((size_t)n, sizeof(*st->values));
		st->lengths = calloc((size_t)n, sizeof(*st->lengths));
		st->formats = calloc((size_t)n, sizeof(*st->formats));
		if (!st->values || !st->lengths || !st->formats) {
			free_params(st);
			free(st);
			free(text);
			return STS_ENOMEM;
		}
	}
	snprintf(st->name, sizeof(st->name), "sts%lu", ++p->seq);
	PGresult *res = PQprepare(p->c, st->name, text, n, NULL);
	free(text);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_res_err(p, res);
		PQclear(res);
		free_params(st);
		free(st);
		return STS_EDB;
	}
	PQclear(res);
	*ret = &st->base;
	return STS_OK;
}

static int set_param(struct sts_db_stmt *sst, int i, const void *v, size_t n, int format)
{
	struct pg_stmt *st = PS(sst);
	if (i < 1 || i > st->nparams || n > INT32_MAX) {
		pg_set_err(P(sst->db), "no such parameter");
		return STS_EDB;
	}
	char *copy = NULL;
	if (v) {
		copy = malloc(n + 1);
		if (!copy)
			return STS_ENOMEM;
		memcpy(copy, v, n);
		copy[n] = '\0';
	}
	free(st->values[i - 1]);
	st->values[i - 1] = copy;
	st->lengths[i - 1] = (int)n;
	st->formats[i - 1] = format;
	return STS_OK;
}

static int pg_bind_text(struct sts_db_stmt *st, int i, const char *s)
{
	return set_param(st, i, s, strlen(s), 0);
}

static int pg_bind_int(struct sts_db_stmt *st, int i, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%lld", (long long)v);
	return set_param(st, i, b, (size_t)n, 0);
}

static int pg_bind_blob(struct sts_db_stmt *st, int i, const void *p, size_t n)
{
	return set_param(st, i, p ? p : "", n, 1);
}

static int pg_bind_null(struct sts_db_stmt *st, int i)
{
	return set_param(st, i, NULL, 0, 0);
}

static int pg_step(struct sts_db_stmt *sst)
{
	struct pg_stmt *st = PS(sst);
	struct pg *p = P(sst->db);
	if (st->res) {
		PQfreemem(st->blob);
		st->blob = NULL;
		if (++st->row < st->nrows)
			return STS_DB_ROW;
		st->done = true;
		return STS_DB_DONE;
	}
	if (st->done)
		return STS_DB_DONE;
	PGresult *res = PQexecPrepared(p->c, st->name, st->nparams, (const char *const *)st->values,
				       st->lengths, st->formats, 0);
	ExecStatusType s = PQresultStatus(res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		pg_res_err(p, res);
		PQclear(res);
		return STS_EDB;
	}
	const char *cmd = PQcmdStatus(res), *nt = PQcmdTuples(res);
	if (*nt && (strncmp(cmd, "INSERT", 6) == 0 || strncmp(cmd, "UPDATE", 6) == 0 ||
		    strncmp(cmd, "DELETE", 6) == 0))
		p->changes = strtoll(nt, NULL, 10);
	if (s == PGRES_TUPLES_OK && PQntuples(res) > 0) {
		st->res = res;
		st->row = 0;
		st->nrows = PQntuples(res);
		return STS_DB_ROW;
	}
	PQclear(res);
	st->done = true;
	return STS_DB_DONE;
}

static bool have(struct pg_stmt *st, int i)
{
	return st->res && st->row < st->nrows && i >= 0 && i < PQnfields(st->res) &&
	       !PQgetisnull(st->res, st->row, i);
}

static const char *pg_col_text(struct sts_db_stmt *sst, int i)
{
	struct pg_stmt *st = PS(sst);
	return have(st, i) ? PQgetvalue(st->res, st->row, i) : NULL;
}

static int64_t pg_col_int(struct sts_db_stmt *sst, int i)
{
	const char *v = pg_col_text(sst, i);
	if (!v)
		return 0;
	if (v[0] == 't' && !v[1]) /* a boolean expression */
		return 1;
	return strtoll(v, NULL, 10);
}

static const void *pg_col_blob(struct sts_db_stmt *sst, int i, size_t *ret_n)
{
	struct pg_stmt *st = PS(sst);
	*ret_n = 0;
	if (!have(st, i))
		return NULL;
	const char *v = PQgetvalue(st->res, st->row, i);
	if (PQftype(st->res, i) != PG_BYTEA_OID) {
		*ret_n = (size_t)PQgetlength(st->res, st->row, i);
		return v;
	}
	PQfreemem(st->blob);
	st->blob = PQunescapeBytea((const unsigned char *)v, ret_n);
	if (!st->blob)
		*ret_n = 0;
	return st->blob;
}

static bool pg_col_null(struct sts_db_stmt *sst, int i)
{
	struct pg_stmt *st = PS(sst);
	return !have(st, i);
}

static int64_t pg_changes(struct sts_db_stmt *st)
{
	return P(st->db)->changes;
}

static void pg_reset(struct sts_db_stmt *st)
{
	clear_result(PS(st));
}

static void pg_finalize(struct sts_db_stmt *sst)
{
	struct pg_stmt *st = PS(sst);
	struct pg *p = P(sst->db);
	clear_result(st);
	char sql[48];
	snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
	PQclear(PQexec(p->c, sql)); /* fails only in a failed transaction: freed at close */
	free_params(st);
	free(st);
}

static int pg_has_table(struct sts_db *db, const char *name, bool *ret)
{
	return sts_db_query_exists(db,
				   "SELECT 1 FROM information_schema.tables"
				   " WHERE table_schema = current_schema() AND table_name = ?1"
				   " AND table_type = 'BASE TABLE'",
				   name, ret);
}

static const char *pg_errmsg(struct sts_db *db)
{
	return P(db)->err;
}

static const struct sts_db_engine pg_engine = {
    .name = "postgresql",
    .open = pg_open,
    .ready = pg_ready,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind_text = pg_bind_text,
    .bind_int = pg_bind_int,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_text = pg_col_text,
    .col_int = pg_col_int,
    .col_blob = pg_col_blob,
    .col_null = pg_col_null,
    .changes = pg_changes,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .has_table = pg_has_table,
    .begin_sql = "BEGIN",
    .errmsg = pg_errmsg,
};

const struct sts_db_engine *const sts_db_pg_engine = &pg_engine;
