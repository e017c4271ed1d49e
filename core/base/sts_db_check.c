/* SPDX-License-Identifier: MIT */
/* stsctl state check / backup: the state DB checked and copied without trusting it. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sts_buf.h"
#include "sts_db.h"
#include "sts_db_check.h"
#include "sts_err.h"
#include "sts_fsutil.h"

/* at most this many rows of integrity_check are reported */
#define CHECK_MAX_ROWS 20

static void finding_release(struct sts_db_finding *f)
{
	free(f->check);
	free(f->message);
}

STS_API void sts_db_findings_release(struct sts_db_findings *f)
{
	if (!f)
		return;
	STS_ARRAY_FREE(f->v, f->n, finding_release);
	memset(f, 0, sizeof(*f));
}

static int add(struct sts_db_findings *f, enum sts_db_level level, const char *check,
	       const char *fmt, ...) STS_PRINTF(4, 5);
static int add(struct sts_db_findings *f, enum sts_db_level level, const char *check,
	       const char *fmt, ...)
{
	size_t cap = f->n; /* grown one at a time: findings are few */
	if (sts_array_grow(&f->v, f->n, &cap, sizeof(*f->v), 8) < 0)
		return STS_ENOMEM;
	struct sts_db_finding *x = &f->v[f->n];
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&x->message, fmt, ap);
	va_end(ap);
	x->check = strdup(check);
	if (n < 0 || !x->check) {
		if (n >= 0)
			free(x->message);
		free(x->check);
		return STS_ENOMEM;
	}
	for (char *c = x->message; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	x->level = level;
	f->n++;
	if (level > f->worst)
		f->worst = level;
	return STS_OK;
}

/* Is table (or view) name in the schema? */
static bool has_table(sqlite3 *h, const char *name)
{
	sqlite3_stmt *st;
	bool yes = false;
	if (sqlite3_prepare_v2(h, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/*
 * Each row of sql (its first column, text) as a finding of check at
 * level, "prefix: row"; "ok" rows are skipped. *ret_failed: the statement
 * itself failed (its error is the finding then).
 */
static int rows(sqlite3 *h, struct sts_db_findings *f, enum sts_db_level level, const char *check,
		const char *sql, const char *prefix, bool *ret_failed)
{
	sqlite3_stmt *st;
	int r = STS_OK, rc, n = 0;
	*ret_failed = false;
	if ((rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL)) != SQLITE_OK) {
		*ret_failed = true;
		return add(f, STS_DB_DAMAGED, check, "%s", sqlite3_errmsg(h));
	}
	while (r == STS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW && n < CHECK_MAX_ROWS) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		if (t && strcmp(t, "ok") == 0)
			continue;
		n++;
		r = add(f, level, check, "%s%s", prefix, t ? t : "?");
	}
	if (r == STS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		*ret_failed = true;
		r = add(f, STS_DB_DAMAGED, check, "%s", sqlite3_errmsg(h));
	}
	sqlite3_finalize(st);
	return r;
}

static int check_schema(sqlite3 *h, const struct sts_db_component *known, size_t n_known,
			struct sts_db_findings *f)
{
	sqlite3_stmt *st;
	int r = STS_OK, rc;
	bool core = false;
	if (!has_table(h, "schema_version"))
		return add(f, STS_DB_DAMAGED, "schema",
			   "no schema_version table: not a stsctl state, or its schema was lost");
	if (sqlite3_prepare_v2(h, "SELECT component, version FROM schema_version ORDER BY 1", -1,
			       &st, NULL) != SQLITE_OK)
		return add(f, STS_DB_DAMAGED, "schema", "%s", sqlite3_errmsg(h));
	while (r == STS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *c = (const char *)sqlite3_column_text(st, 0);
		int v = sqlite3_column_int(st, 1);
		const struct sts_db_component *k = NULL;
		for (size_t i = 0; c && i < n_known && !k; i++)
			if (strcmp(known[i].name, c) == 0)
				k = &known[i];
		core = core || (c && strcmp(c, "core") == 0);
		if (!k)
			r = add(f, STS_DB_NOTE, "schema",
				"component '%s' at version %d is unknown to this stsctl",
				c ? c : "?", v);
		else if (v > k->version)
			r = add(
			    f, STS_DB_DAMAGED, "schema",
			    "component '%s' is at version %d, newer than this stsctl (%d): use a "
			    "newer stsctl",
			    k->name, v, k->version);
		else if (v < k->version)
			r = add(
			    f, STS_DB_NOTE, "schema",
			    "component '%s' is at version %d; the next writer migrates it to %d",
			    k->name, v, k->version);
	}
	if (r == STS_OK && rc != SQLITE_DONE)
		r = add(f, STS_DB_DAMAGED, "schema", "%s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	if (r == STS_OK && !core)
		r = add(f, STS_DB_DAMAGED, "schema", "no version recorded for component 'core'");
	return r;
}

/* Runs left "running": a live holder of the lock is running one; else it was interrupted. */
static int check_runs(sqlite3 *h, const char *path, struct sts_db_findings *f)
{
	sqlite3_stmt *st;
	bool held = false;
	int r = sts_lock_held(path, &held);
	if (r < 0)
		return add(f, STS_DB_NOTE, "runs", "cannot probe the lock: %s", sts_strerror(r));
	if (sqlite3_prepare_v2(h,
			       "SELECT id, command, datetime(started, 'unixepoch') FROM runs"
			       " WHERE status = 'running' ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return add(f, STS_DB_DAMAGED, "runs", "%s", sqlite3_errmsg(h));
	while (r == STS_OK && sqlite3_step(st) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);
		const char *cmd = (const char *)sqlite3_column_text(st, 1);
		const char *t = (const char *)sqlite3_column_text(st, 2);
		if (held)
			r = add(
			    f, STS_DB_NOTE, "runs",
			    "run %lld (%s, started %s UTC) is running: another stsctl holds the "
			    "lock",
			    id, cmd ? cmd : "?", t ? t : "?");
		else
			r = add(
			    f, STS_DB_INCONSISTENT, "runs",
			    "run %lld (%s, started %s UTC) did not finish and no stsctl holds the "
			    "lock: it was interrupted (a crash, kill -9); the next apply records "
			    "it "
			    "so and converges",
			    id, cmd ? cmd : "?", t ? t : "?");
	}
	sqlite3_finalize(st);
	return r;
}

/* One count query per consistency rule: a non-zero count is a finding. */
struct rule {
	const char *check;
	const char *needs[2]; /* the tables it reads (the rule is skipped without them) */
	const char *sql;      /* one row, one integer */
	const char *message;  /* printf of the count */
};

static const struct rule rules[] = {
    {"journal",
     {"journal", "runs"},
     "SELECT count(*) FROM journal WHERE run_id NOT IN (SELECT id FROM runs)",
     "%lld journal rows belong to no run"},
    {"managed",
     {"managed_domains", "runs"},
     "SELECT CASE WHEN (SELECT count(*) FROM runs) = 0 THEN count(*) ELSE 0 END"
     " FROM managed_domains",
     "%lld managed domains, but no apply run was ever recorded"},
    {"policies",
     {"served_policies", NULL},
     "SELECT count(*) FROM (SELECT domain FROM served_policies WHERE current = 1"
     " GROUP BY domain HAVING count(*) > 1)",
     "%lld domains have more than one current served policy"},
    {"hosted",
     {"hosted_policies", "hosted_domains"},
     "SELECT count(*) FROM hosted_policies p WHERE NOT EXISTS"
     " (SELECT 1 FROM hosted_domains d WHERE d.domain = p.domain)",
     "%lld hosted policies belong to a domain without a hosted label"},
};

static int check_rules(sqlite3 *h, struct sts_db_findings *f)
{
	int r = STS_OK;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]) && r == STS_OK; i++) {
		const struct rule *x = &rules[i];
		if (!has_table(h, x->needs[0]) || (x->needs[1] && !has_table(h, x->needs[1])))
			continue;
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(h, x->sql, -1, &st, NULL) != SQLITE_OK) {
			r = add(f, STS_DB_DAMAGED, x->check, "%s", sqlite3_errmsg(h));
			continue;
		}
		if (sqlite3_step(st) != SQLITE_ROW)
			r = add(f, STS_DB_DAMAGED, x->check, "%s", sqlite3_errmsg(h));
		else if (sqlite3_column_int64(st, 0) > 0)
			r = add(f, STS_DB_INCONSISTENT, x->check, x->message,
				(long long)sqlite3_column_int64(st, 0));
		sqlite3_finalize(st);
	}
	return r;
}

STS_API int sts_db_check(const char *path, const struct sts_db_component *known, size_t n_known,
			 struct sts_db_findings *ret)
{
	struct sts_db_findings f = {0};
	struct stat st;
	sqlite3 *h = NULL;
	bool failed = false;
	int r;
	memset(ret, 0, sizeof(*ret));
	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		r = add(&f, STS_DB_DAMAGED, "file", "the file is empty (0 bytes)");
		goto out;
	}
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		r = add(&f, STS_DB_DAMAGED, "file", "cannot open: %s",
			h ? sqlite3_errmsg(h) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(h, 10000);
	r = rows(h, &f, STS_DB_DAMAGED, "integrity", "PRAGMA quick_check(20)",
		 "quick_check: ", &failed);
	if (r == STS_OK && !failed && f.worst < STS_DB_DAMAGED)
		r = rows(h, &f, STS_DB_DAMAGED, "integrity", "PRAGMA integrity_check(20)",
			 "integrity_check: ", &failed);
	if (r < 0 || failed)
		goto out; /* not a database, or unreadable: nothing else can be read */
	r = check_schema(h, known, n_known, &f);
	if (r == STS_OK && has_table(h, "runs"))
		r = check_runs(h, path, &f);
	if (r == STS_OK)
		r = check_rules(h, &f);
	if (r == STS_OK && has_table(h, "journal"))
		r = rows(h, &f, STS_DB_INCONSISTENT, "journal",
			 "SELECT 'row ' || rowid || ' of ' || \"table\" || ' refers to a missing ' "
			 "|| parent FROM pragma_foreign_key_check",
			 "", &failed);
out:
	sqlite3_close(h);
	if (r < 0) {
		sts_db_findings_release(&f);
		return r;
	}
	*ret = f;
	return STS_OK;
}

/* ---- backup ---- */

/* The copy itself: src (read-only) -> the temporary file tmp, then checked. */
static int copy_db(const char *path, const char *tmp, char **reterr)
{
	sqlite3 *src = NULL, *dst = NULL;
	int r = STS_OK;
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
		SQLITE_OK ||
	    sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
		SQLITE_OK) {
		r = sts_fail(reterr, STS_EDB, "cannot open '%s': %s", dst ? tmp : path,
			     sqlite3_errmsg(dst ? dst : src));
		goto out;
	}
	sqlite3_busy_timeout(src, 10000);
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		r = sts_fail(reterr, STS_EDB, "cannot back up '%s': %s", path, sqlite3_errmsg(dst));
		goto out;
	}
	/* one step: every page in one read transaction of the source (a
	 * consistent snapshot; WAL lets writers go on meanwhile) */
	int rc, tries = 0;
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		if (++tries > 100)
			break;
		sqlite3_sleep(100);
	}
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		r = sts_fail(reterr, STS_EDB, "cannot back up '%s': %s", path, sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(dst, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK) {
		r = sts_fail(reterr, STS_EDB, "cannot check the copy: %s", sqlite3_errmsg(dst));
		goto out;
	}
	const char *res = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0)
							 : sqlite3_errmsg(dst);
	if (!res || strcmp(res, "ok") != 0)
		r = sts_fail(reterr, STS_EDB,
			     "state database '%s' is damaged (quick_check: %s): no backup written; "
			     "see 'stsctl state check'",
			     path, res ? res : "?");
	sqlite3_finalize(st);
out:
	sqlite3_close(dst);
	sqlite3_close(src);
	return r;
}

STS_API int sts_db_backup(const char *path, const char *dest, char **reterr)
{
	struct stat a, b;
	char *tmp = NULL, *dir = NULL;
	int r;
	if (reterr)
		*reterr = NULL;
	if (stat(path, &a) < 0)
		return sts_fail(reterr, -errno, "state database '%s': %s", path, strerror(errno));
	if (a.st_size == 0)
		return sts_fail(reterr, STS_EDB,
				"state database '%s' is empty (0 bytes): nothing to back up", path);
	if (stat(dest, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return sts_fail(reterr, STS_EINVAL, "'%s' is the state database itself", dest);
	const char *slash = strrchr(dest, '/');
	if (asprintf(&tmp, "%s.tmp.XXXXXX", dest) < 0 ||
	    !(dir =
		  slash ? strndup(dest, (size_t)(slash - dest + (slash == dest))) : strdup("."))) {
		r = STS_ENOMEM;
		goto out;
	}
	int fd = mkstemp(tmp); /* 0600; SQLite takes the empty file as a new DB */
	if (fd < 0) {
		r = sts_fail(reterr, -errno, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	r = copy_db(path, tmp, reterr);
	if (r == STS_OK && (r = sts_fsync_path(tmp, O_RDONLY)) < 0)
		sts_fail(reterr, r, "cannot sync '%s': %s", tmp, strerror(-r));
	if (r == STS_OK && rename(tmp, dest) < 0)
		r = sts_fail(reterr, -errno, "cannot rename to '%s': %s", dest, strerror(errno));
	if (r == STS_OK)
		sts_fsync_path(dir, O_RDONLY | O_DIRECTORY); /* the rename survives a power cut */
	else
		unlink(tmp);
out:
	free(tmp);
	free(dir);
	return r;
}
