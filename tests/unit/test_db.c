/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sts_db.h"
#include "sts_err.h"
#include "state_fixture.h"

struct fake_clock {
	time_t t;
};

static time_t fake_now(void *ud)
{
	return ((struct fake_clock *)ud)->t;
}

struct fixture {
	char dir[64];
	char path[128];
	char *loc; /* the state opened: path, or a PostgreSQL URL (STSCTL_TEST_STATE) */
	struct fake_clock fc;
	struct sts_clock clock;
	struct sts_db *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_db.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
	f->fc.t = 1700000000;
	f->clock.now = fake_now;
	f->clock.ud = &f->fc;
	f->loc = state_fixture_location("db", f->path);
	if (!f->loc || sts_db_open_url(f->loc, NULL, 0, &f->clock, &f->db, NULL) != STS_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	sts_db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f->loc);
	free(f);
	return 0;
}

/* Count rows on a connection of its own (PostgreSQL: what was committed). */
static long long count_url(const char *url, const char *sql)
{
	struct sts_db *db;
	struct sts_db_stmt *st;
	long long n = -1;
	if (sts_db_open_url(url, NULL, 0, NULL, &db, NULL) != STS_OK)
		return -2;
	sts_db_hold(db);
	if (sts_db_prepare(db, sql, &st) == STS_OK) {
		if (sts_db_step(st) == STS_DB_ROW)
			n = sts_db_col_int(st, 0);
		sts_db_finalize(st);
	}
	sts_db_unhold(db);
	sts_db_close(db);
	return n;
}

/* Count rows with a raw SQLite connection: checks what is really on disk. */
static long long count(const char *path, const char *sql)
{
	if (sts_db_location_is_url(path))
		return count_url(path, sql);
	sqlite3 *h;
	sqlite3_stmt *st;
	long long n = -1;
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return n;
}

static bool integrity_ok(const char *path)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	bool ok = false;
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return ok;
}

static void test_open_schema(void **state)
{
	struct fixture *f = *state;
	int v = -1;
	assert_int_equal(sts_db_schema_version(f->db, "core", &v), STS_OK);
	assert_int_equal(v, STS_DB_CORE_VERSION);
	assert_int_equal(sts_db_schema_version(f->db, "reports", &v), STS_OK);
	assert_int_equal(v, 0);
	assert_string_equal(sts_db_path(f->db), f->path);
	assert_int_equal(sts_db_now(f->db), 1700000000);
	assert_int_equal(count(f->path, "SELECT count(*) FROM sqlite_master WHERE name IN"
					" ('runs','journal','served_policies','managed_domains')"),
			 4);
	/* WAL on a file DB */
	assert_int_equal(count(f->path, "SELECT count(*) FROM pragma_journal_mode"
					" WHERE journal_mode = 'wal'"),
			 1);
	/* reopening does not migrate again */
	struct sts_db *db2 = NULL;
	assert_int_equal(sts_db_open(f->path, 0, NULL, &db2, NULL), STS_OK);
	assert_int_equal(sts_db_schema_version(db2, "core", &v), STS_OK);
	assert_int_equal(v, 1);
	sts_db_close(db2);
}

static void test_migrations(void **state)
{
	struct fixture *f = *state;
	static const struct sts_db_migration m[] = {
	    {1, "CREATE TABLE reports (id INTEGER PRIMARY KEY, org TEXT)", NULL},
	    {2, "ALTER TABLE reports ADD COLUMN sessions INTEGER", NULL},
	};
	int v = 0;
	assert_int_equal(sts_db_migrate(f->db, "reports", m, 1), STS_OK);
	assert_int_equal(sts_db_schema_version(f->db, "reports", &v), STS_OK);
	assert_int_equal(v, 1);
	assert_int_equal(sts_db_migrate(f->db, "reports", m, 2), STS_OK);
	assert_int_equal(sts_db_schema_version(f->db, "reports", &v), STS_OK);
	assert_int_equal(v, 2);
	/* idempotent */
	assert_int_equal(sts_db_migrate(f->db, "reports", m, 2), STS_OK);
	assert_int_equal(count(f->path, "SELECT count(*) FROM pragma_table_info('reports')"), 3);
	/* code older than the DB: refused */
	assert_int_equal(sts_db_migrate(f->db, "reports", m, 1), STS_EDB);
	assert_non_null(strstr(sts_db_errmsg(f->db), "newer"));

	/* a failing step rolls back entirely and the version stays */
	static const struct sts_db_migration bad[] = {
	    {1, "CREATE TABLE rollout (d TEXT)", NULL},
	    {2, "CREATE TABLE rollout_x (d TEXT); SELECT * FROM no_such_table", NULL},
	};
	assert_int_equal(sts_db_migrate(f->db, "rollout", bad, 2), STS_EDB);
	assert_int_equal(sts_db_schema_version(f->db, "rollout", &v), STS_OK);
	assert_int_equal(v, 1);
	assert_int_equal(
	    count(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'rollout_x'"), 0);
}

static void test_journal(void **state)
{
	struct fixture *f = *state;
	int64_t run = 0;
	assert_int_equal(sts_db_run_begin(f->db, "apply", &run), STS_OK);
	assert_true(run > 0);
	assert_int_equal(sts_db_begin(f->db), STS_OK);
	assert_int_equal(sts_db_journal_add(f->db, run, "a.example", "policy-put", "ok", NULL),
			 STS_OK);
	assert_int_equal(
	    sts_db_journal_add(f->db, run, "a.example", "policy-verify", "failed", "mismatch"),
	    STS_OK);
	assert_int_equal(sts_db_commit(f->db), STS_OK);
	f->fc.t += 5;
	assert_int_equal(sts_db_run_end(f->db, run, "failed", 0, 1), STS_OK);
	assert_int_equal(count(f->loc, "SELECT count(*) FROM journal WHERE domain = 'a.example'"),
			 2);
	assert_int_equal(count(f->loc, "SELECT count(*) FROM journal WHERE status = 'failed'"
				       " AND detail = 'mismatch'"),
			 1);
	assert_int_equal(count(f->loc, "SELECT finished - started FROM runs"), 5);
	assert_int_equal(count(f->loc, "SELECT n_failed FROM runs WHERE status = 'failed'"), 1);

	/* a rolled back transaction leaves nothing */
	assert_int_equal(sts_db_begin(f->db), STS_OK);
	assert_int_equal(sts_db_journal_add(f->db, run, "b.example", "dns", "ok", NULL), STS_OK);
	assert_int_equal(sts_db_rollback(f->db), STS_OK);
	assert_int_equal(count(f->loc, "SELECT count(*) FROM journal WHERE domain = 'b.example'"),
			 0);
}

static void test_served_policies(void **state)
{
	struct fixture *f = *state;
	long long ma = 0;
	bool found = true;
	assert_int_equal(sts_db_policy_max_age(f->db, "a.example", &ma, &found), STS_OK);
	assert_false(found);

	assert_int_equal(sts_db_policy_served(f->db, "a.example", "id1", "version: STSv1\r\nA",
					      "enforce", 604800),
			 STS_OK);
	f->fc.t += 100;
	assert_int_equal(sts_db_policy_served(f->db, "a.example", "id2", "version: STSv1\r\nB",
					      "testing", 86400),
			 STS_OK);
	f->fc.t += 100;
	/* served again: same row, first_served kept */
	assert_int_equal(sts_db_policy_served(f->db, "a.example", "id2", "version: STSv1\r\nB",
					      "testing", 86400),
			 STS_OK);
	assert_int_equal(
	    sts_db_policy_seen(f->db, "a.example", "old", "version: STSv1\r\nOLD", "enforce", 1000),
	    STS_OK);
	assert_int_equal(sts_db_policy_served(f->db, "b.example", "x", "X", "none", 99999999),
			 STS_OK);

	assert_int_equal(sts_db_policy_max_age(f->db, "a.example", &ma, &found), STS_OK);
	assert_true(found);
	assert_int_equal(ma, 604800);

	struct sts_db_policy *h = NULL;
	size_t n = 0;
	assert_int_equal(sts_db_policy_history(f->db, "a.example", &h, &n), STS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(h[0].policy_id, "id1");
	assert_false(h[0].current);
	assert_int_equal(h[0].first_served, 1700000000);
	assert_int_equal(h[0].last_served, 1700000100); /* replaced then */
	assert_string_equal(h[1].policy_id, "id2");
	assert_true(h[1].current);
	assert_int_equal(h[1].first_served, 1700000100);
	assert_int_equal(h[1].last_served, 1700000200);
	assert_string_equal(h[1].mode, "testing");
	assert_string_equal(h[1].text, "version: STSv1\r\nB");
	assert_int_equal(strlen(h[1].sha256), 64);
	assert_string_equal(h[2].policy_id, "old");
	assert_false(h[2].current);
	sts_db_policies_free(h, n);
	assert_int_equal(count(f->loc, "SELECT count(*) FROM served_policies WHERE current = 1"),
			 2);
}

static void test_domains_and_removal(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(sts_db_domain_upsert(f->db, "b.example", "{\"zone\":\"b.example\"}"),
			 STS_OK);
	assert_int_equal(sts_db_domain_upsert(f->db, "a.example", NULL), STS_OK);
	f->fc.t += 10;
	assert_int_equal(sts_db_domain_upsert(f->db, "a.example", "{\"v\":1}"), STS_OK);
	assert_int_equal(sts_db_domain_upsert(f->db, "b.example", NULL), STS_OK); /* spec kept */
	assert_int_equal(sts_db_domain_applied(f->db, "a.example"), STS_OK);

	struct sts_db_domain *v = NULL;
	size_t n = 0;
	assert_int_equal(sts_db_domains_list(f->db, &v, &n), STS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].domain, "a.example");
	assert_int_equal(v[0].first_seen, 1700000000);
	assert_int_equal(v[0].last_applied, 1700000010);
	assert_string_equal(v[0].spec, "{\"v\":1}");
	assert_int_equal(v[0].removal_started, 0);
	assert_string_equal(v[1].spec, "{\"zone\":\"b.example\"}");
	assert_int_equal(v[1].last_applied, 0);
	sts_db_domains_free(v, n);

	int64_t dl = 0;
	assert_int_equal(sts_db_removal_deadline(f->db, "a.example", &dl), STS_ENOENT);
	assert_int_equal(sts_db_removal_deadline(f->db, "zzz.example", &dl), STS_ENOENT);

	/* no history: a full year */
	assert_int_equal(sts_db_domain_removal_start(f->db, "b.example"), STS_OK);
	assert_int_equal(sts_db_removal_deadline(f->db, "b.example", &dl), STS_OK);
	assert_int_equal(dl, 1700000010 + STS_DB_NO_HISTORY_WAIT);

	/* history: the largest max_age ever served, counted from the start */
	assert_int_equal(sts_db_policy_served(f->db, "a.example", "i1", "P1", "enforce", 604800),
			 STS_OK);
	assert_int_equal(sts_db_policy_served(f->db, "a.example", "i2", "P2", "none", 86400),
			 STS_OK);
	f->fc.t = 1700001000;
	assert_int_equal(sts_db_domain_removal_start(f->db, "a.example"), STS_OK);
	f->fc.t = 1700002000; /* a second start keeps the first time */
	assert_int_equal(sts_db_domain_removal_start(f->db, "a.example"), STS_OK);
	assert_int_equal(sts_db_removal_deadline(f->db, "a.example", &dl), STS_OK);
	assert_int_equal(dl, 1700001000 + 604800);

	struct sts_db_domain d;
	bool found = false;
	assert_int_equal(sts_db_domain_get(f->db, "a.example", &d, &found), STS_OK);
	assert_true(found);
	assert_int_equal(d.removal_started, 1700001000);
	sts_db_domain_release(&d);

	assert_int_equal(sts_db_domain_removal_cancel(f->db, "a.example"), STS_OK);
	assert_int_equal(sts_db_removal_deadline(f->db, "a.example", &dl), STS_ENOENT);

	assert_int_equal(sts_db_domain_forget(f->db, "b.example"), STS_OK);
	assert_int_equal(sts_db_domain_get(f->db, "b.example", &d, &found), STS_OK);
	assert_false(found);
	assert_int_equal(sts_db_domains_list(f->db, &v, &n), STS_OK);
	assert_int_equal(n, 1);
	sts_db_domains_free(v, n);
	/* history survives forgetting */
	long long ma = 0;
	assert_int_equal(sts_db_policy_served(f->db, "b.example", "q", "Q", "none", 5), STS_OK);
	assert_int_equal(sts_db_domain_forget(f->db, "b.example"), STS_OK);
	assert_int_equal(sts_db_policy_max_age(f->db, "b.example", &ma, &found), STS_OK);
	assert_true(found);
	assert_int_equal(ma, 5);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	char missing[160];
	struct sts_db *ro = NULL;
	snprintf(missing, sizeof(missing), "%s/none.db", f->dir);
	/* a missing file is an empty state, and nothing is created */
	assert_int_equal(sts_db_open(missing, STS_DB_READONLY, NULL, &ro, NULL), STS_OK);
	struct sts_db_domain *v = NULL;
	size_t n = 9;
	assert_int_equal(sts_db_domains_list(ro, &v, &n), STS_OK);
	assert_int_equal(n, 0);
	sts_db_domains_free(v, n);
	sts_db_close(ro);
	assert_int_equal(access(missing, F_OK), -1);

	assert_int_equal(sts_db_domain_upsert(f->db, "a.example", NULL), STS_OK);
	assert_int_equal(sts_db_open(f->path, STS_DB_READONLY, NULL, &ro, NULL), STS_OK);
	assert_int_equal(sts_db_domains_list(ro, &v, &n), STS_OK);
	assert_int_equal(n, 1);
	sts_db_domains_free(v, n);
	assert_int_equal(sts_db_domain_upsert(ro, "b.example", NULL), STS_EDB);
	sts_db_close(ro);

	/* not a database */
	char junk[160], *err = NULL;
	snprintf(junk, sizeof(junk), "%s/junk.db", f->dir);
	FILE *fp = fopen(junk, "w");
	assert_non_null(fp);
	fputs("this is not sqlite, not at all, really not\n", fp);
	fclose(fp);
	assert_int_equal(sts_db_open(junk, 0, NULL, &ro, &err), STS_EDB);
	assert_non_null(err);
	assert_non_null(strstr(err, junk));
	free(err);
}

static void test_lock(void **state)
{
	struct fixture *f = *state;
	struct sts_lock *a = NULL, *b = NULL;
	char *lp = sts_lock_path_for(f->path);
	assert_non_null(lp);
	assert_non_null(strstr(lp, "state.db.lock"));
	assert_int_equal(sts_lock_acquire(f->path, &a), STS_OK);
	assert_int_equal(access(lp, F_OK), 0);
	assert_int_equal(sts_lock_acquire(f->path, &b), STS_ELOCKED);
	/* another process is refused too */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sts_lock *c = NULL;
		int r = sts_lock_acquire(f->path, &c);
		sts_lock_release(a);
		sts_lock_release(c);
		free(lp);
		sts_db_close(f->db);
		free(f->loc);
		free(f);
		_exit(r == STS_ELOCKED ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	sts_lock_release(a);
	assert_int_equal(sts_lock_acquire(f->path, &b), STS_OK);
	sts_lock_release(b);
	sts_lock_release(NULL);
	free(lp);
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/*
 * A planted PATH.lock (issue 12 §5): a symlink is not followed (its target
 * keeps its bytes), a FIFO does not block and is refused, a hard link or
 * another user's file is refused; the lock is created 0600 under umask 0 and
 * an existing lock file is never truncated.
 */
static void test_lock_hostile(void **state)
{
	struct fixture *f = *state;
	struct sts_lock *l = NULL;
	char *lp = sts_lock_path_for(f->path), target[200];
	snprintf(target, sizeof(target), "%s/precious", f->dir);
	FILE *fp = fopen(target, "w");
	fputs("precious data\n", fp);
	fclose(fp);
	assert_int_equal(symlink(target, lp), 0);
	assert_int_equal(sts_lock_acquire(f->path, &l), -ELOOP);
	assert_string_equal(slurp(target), "precious data\n");
	unlink(lp);
	assert_int_equal(link(target, lp), 0); /* two links */
	assert_int_equal(sts_lock_acquire(f->path, &l), STS_EREFUSED);
	assert_string_equal(slurp(target), "precious data\n");
	unlink(lp);
	assert_int_equal(mkfifo(lp, 0600), 0);
	assert_int_equal(sts_lock_acquire(f->path, &l), STS_EREFUSED);
	unlink(lp);
	assert_int_equal(mkdir(lp, 0700), 0);
	assert_true(sts_lock_acquire(f->path, &l) < 0);
	rmdir(lp);
	if (geteuid() == 0) { /* a file of another user */
		int fd = open(lp, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		assert_int_equal(fchown(fd, 65534, 65534), 0);
		close(fd);
		assert_int_equal(sts_lock_acquire(f->path, &l), STS_EREFUSED);
		unlink(lp);
	}
	/* created 0600 whatever the umask */
	mode_t old = umask(0);
	assert_int_equal(sts_lock_acquire(f->path, &l), STS_OK);
	umask(old);
	struct stat st;
	assert_int_equal(stat(lp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	sts_lock_release(l);
	/* never truncated: what follows the PID field stays */
	fp = fopen(lp, "w");
	fputs("0123456789012345678901234567890123456789 tail\n", fp);
	fclose(fp);
	assert_int_equal(sts_lock_acquire(f->path, &l), STS_OK);
	const char *text = slurp(lp);
	assert_int_equal(strlen(text), 46);
	assert_int_equal(atol(text), (long)getpid());
	assert_string_equal(text + 21, "1234567890123456789 tail\n");
	sts_lock_release(l);
	free(lp);
}

/* The state DB, -wal and -shm are 0600 under umask 0 (issue 12 §5). */
static void test_db_modes(void **state)
{
	struct fixture *f = *state;
	char p[200], q[220];
	struct sts_db *db = NULL;
	struct stat st;
	snprintf(p, sizeof(p), "%s/private.db", f->dir);
	mode_t old = umask(0);
	assert_int_equal(sts_db_open(p, 0, NULL, &db, NULL), STS_OK);
	umask(old);
	assert_int_equal(sts_db_begin(db), STS_OK);
	assert_int_equal(sts_db_commit(db), STS_OK);
	static const char *const ext[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(q, sizeof(q), "%s%s", p, ext[i]);
		assert_int_equal(stat(q, &st), 0);
		if ((st.st_mode & 07777) != 0600)
			fail_msg("'%s' has mode %o", q, (unsigned)(st.st_mode & 07777));
	}
	sts_db_close(db);
}

/* A process killed in the middle of a transaction leaves the DB consistent. */
static void test_crash_mid_transaction(void **state)
{
	struct fixture *f = *state;
	int64_t run = 0;
	assert_int_equal(sts_db_run_begin(f->db, "apply", &run), STS_OK);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sts_db *c = NULL;
		if (sts_db_open(f->path, 0, NULL, &c, NULL) != STS_OK)
			_exit(2);
		sts_db_begin(c);
		for (int i = 0; i < 100; i++)
			sts_db_journal_add(c, run, "x.example", "dns", "ok", NULL);
		sts_db_policy_served(c, "x.example", "i", "T", "enforce", 1);
		kill(getpid(), SIGKILL); /* like kill -9: no cleanup at all */
		_exit(3);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st));
	struct sts_db *db2 = NULL;
	assert_int_equal(sts_db_open(f->path, 0, NULL, &db2, NULL), STS_OK);
	long long ma = 0;
	bool found = true;
	assert_int_equal(sts_db_policy_max_age(db2, "x.example", &ma, &found), STS_OK);
	assert_false(found);
	assert_int_equal(count(f->path, "SELECT count(*) FROM journal"), 0);
	assert_true(integrity_ok(f->path));
	sts_db_close(db2);
}

struct worker {
	struct sts_db *db;
	int64_t run;
	int id;
	int fails;
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	char dom[64];
	for (int i = 0; i < 50; i++) {
		snprintf(dom, sizeof(dom), "d%d-%d.example", w->id, i);
		if (sts_db_begin(w->db) < 0) {
			w->fails++;
			continue;
		}
		if (sts_db_journal_add(w->db, w->run, dom, "policy-put", "ok", NULL) < 0 ||
		    sts_db_domain_upsert(w->db, dom, NULL) < 0)
			w->fails++;
		if (sts_db_commit(w->db) < 0)
			w->fails++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	int64_t run = 0;
	assert_int_equal(sts_db_run_begin(f->db, "apply", &run), STS_OK);
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){f->db, run, i, 0};
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].fails, 0);
	}
	assert_int_equal(count(f->path, "SELECT count(*) FROM journal"), 200);
	assert_int_equal(count(f->path, "SELECT count(*) FROM managed_domains"), 200);
}

static void test_clock(void **state)
{
	(void)state;
	time_t before = time(NULL);
	time_t now = sts_clock_now(NULL);
	assert_true(now >= before && now <= before + 5);
	struct fake_clock fc = {42};
	struct sts_clock c = {fake_now, &fc};
	assert_int_equal(sts_clock_now(&c), 42);
}

/* An empty file is never silently made a new state; STS_DB_INIT makes it one. */
static void test_empty_refused(void **state)
{
	struct fixture *f = *state;
	char p[200], *err = NULL;
	struct sts_db *db = NULL;
	snprintf(p, sizeof(p), "%s/empty.db", f->dir);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(sts_db_open(p, 0, NULL, &db, &err), STS_EDB);
	assert_non_null(err);
	assert_non_null(strstr(err, "is empty"));
	free(err);
	err = NULL;
	assert_int_equal(sts_db_open(p, STS_DB_READONLY, NULL, &db, &err), STS_EDB);
	free(err);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(sts_db_open(p, STS_DB_INIT, NULL, &db, NULL), STS_OK);
	sts_db_close(db);
	assert_int_equal(count(p, "SELECT count(*) FROM runs"), 0);
}

/* Runs left "running": listed, then marked interrupted; the lock probe. */
static void test_runs_interrupted(void **state)
{
	struct fixture *f = *state;
	int64_t a, b;
	struct sts_db_run *v = NULL;
	size_t n = 0;
	bool held = true;
	assert_int_equal(sts_db_run_begin(f->db, "apply", &a), STS_OK);
	assert_int_equal(sts_db_run_end(f->db, a, "ok", 1, 0), STS_OK);
	assert_int_equal(sts_db_run_begin(f->db, "apply", &b), STS_OK);
	assert_int_equal(sts_db_runs_unfinished(f->db, &v, &n), STS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, b);
	assert_string_equal(v[0].command, "apply");
	assert_int_equal(v[0].started, 1700000000);
	sts_db_runs_free(v, n);
	assert_int_equal(sts_db_runs_interrupt(f->db, &v, &n), STS_OK);
	assert_int_equal(n, 1);
	sts_db_runs_free(v, n);
	assert_int_equal(count(f->loc, "SELECT count(*) FROM runs WHERE status = 'interrupted'"),
			 1);
	assert_int_equal(sts_db_runs_unfinished(f->db, &v, &n), STS_OK);
	assert_int_equal(n, 0);
	assert_null(v);

	assert_int_equal(sts_lock_held(f->path, &held), STS_OK);
	assert_false(held); /* no lock file yet */
	struct sts_lock *l = NULL;
	assert_int_equal(sts_lock_acquire(f->path, &l), STS_OK);
	assert_int_equal(sts_lock_held(f->path, &held), STS_OK);
	assert_true(held);
	sts_lock_release(l);
	assert_int_equal(sts_lock_held(f->path, &held), STS_OK);
	assert_false(held);
}

/* The statement API: each type round-trips through bind, step and column. */
static void test_stmt_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct sts_db *db = f->db;
	struct sts_db_stmt *st;
	bool pg = sts_db_location_is_url(f->loc);
	assert_int_equal(sts_db_execf(db,
				      pg ? "CREATE TABLE t (a TEXT, b BIGINT, c BYTEA, d TEXT,"
					   " rowid BIGINT GENERATED ALWAYS AS IDENTITY)"
					 : "CREATE TABLE t (a TEXT, b INTEGER, c BLOB, d TEXT)",
				      ""),
			 STS_OK);
	const unsigned char bytes[] = {0, 1, 0xff, 'x', 0};
	sts_db_hold(db);
	assert_int_equal(sts_db_prepare(db, "INSERT INTO t VALUES (?, ?, ?, ?4)", &st), STS_OK);
	assert_int_equal(sts_db_bind_text(st, 1, "h\xc3\xa9llo"), STS_OK);
	assert_int_equal(sts_db_bind_int(st, 2, INT64_MIN + 1), STS_OK);
	assert_int_equal(sts_db_bind_blob(st, 3, bytes, sizeof(bytes)), STS_OK);
	assert_int_equal(sts_db_bind_null(st, 4), STS_OK);
	assert_int_equal(sts_db_step(st), STS_DB_DONE);
	assert_int_equal(sts_db_changes(st), 1);
	/* reset keeps the bindings: a second row, then NULLs of each type */
	sts_db_reset(st);
	assert_int_equal(sts_db_bind_int(st, 2, 42), STS_OK);
	assert_int_equal(sts_db_step(st), STS_DB_DONE);
	sts_db_reset(st);
	assert_int_equal(sts_db_bind_text(st, 1, NULL), STS_OK);
	assert_int_equal(sts_db_bind_null(st, 2), STS_OK);
	assert_int_equal(sts_db_bind_blob(st, 3, NULL, 0), STS_OK);
	assert_int_equal(sts_db_bind_text(st, 4, ""), STS_OK);
	assert_int_equal(sts_db_step(st), STS_DB_DONE);
	sts_db_reset(st);
	assert_int_equal(sts_db_bind_int(st, 9, 1), STS_EDB); /* no such parameter */
	assert_non_null(strstr(sts_db_errmsg(db), "bind: "));
	sts_db_finalize(st);

	assert_int_equal(sts_db_prepare(db, "SELECT a, b, c, d FROM t ORDER BY rowid", &st),
			 STS_OK);
	size_t n = 99;
	assert_int_equal(sts_db_step(st), STS_DB_ROW);
	assert_string_equal(sts_db_col_text(st, 0), "h\xc3\xa9llo");
	assert_true(sts_db_col_int(st, 1) == INT64_MIN + 1);
	const unsigned char *b = sts_db_col_blob(st, 2, &n);
	assert_int_equal(n, sizeof(bytes));
	assert_memory_equal(b, bytes, sizeof(bytes));
	assert_true(sts_db_col_null(st, 3));
	assert_null(sts_db_col_text(st, 3));
	assert_false(sts_db_col_null(st, 0));
	assert_int_equal(sts_db_step(st), STS_DB_ROW);
	assert_int_equal(sts_db_col_int(st, 1), 42);
	assert_string_equal(sts_db_col_text(st, 0), "h\xc3\xa9llo");
	assert_int_equal(sts_db_step(st), STS_DB_ROW);
	assert_true(sts_db_col_null(st, 0));
	assert_null(sts_db_col_text(st, 0));
	assert_true(sts_db_col_null(st, 1));
	assert_int_equal(sts_db_col_int(st, 1), 0);
	assert_false(sts_db_col_null(st, 2)); /* an empty blob is not NULL */
	sts_db_col_blob(st, 2, &n);
	assert_int_equal(n, 0);
	assert_string_equal(sts_db_col_text(st, 3), "");
	assert_int_equal(sts_db_step(st), STS_DB_DONE);
	sts_db_finalize(st);
	sts_db_finalize(NULL);

	/* errors: a statement that does not prepare, a constraint at step */
	assert_int_equal(sts_db_prepare(db, "SELECT * FROM nowhere", &st), STS_EDB);
	assert_non_null(
	    strstr(sts_db_errmsg(db),
		   pg ? "prepare: relation \"nowhere\" does not exist" : "prepare: no such table"));
	assert_int_equal(sts_db_execf(db, "CREATE TABLE u (k TEXT PRIMARY KEY)", ""), STS_OK);
	assert_int_equal(sts_db_prepare(db, "INSERT INTO u VALUES (?1), (?1)", &st), STS_OK);
	sts_db_bind_text(st, 1, "k");
	assert_int_equal(sts_db_step(st), STS_EDB);
	assert_non_null(strstr(sts_db_errmsg(db), pg ? "step: duplicate key value violates unique"
						     : "step: UNIQUE constraint failed"));
	sts_db_finalize(st);
	sts_db_unhold(db);
}

/* Opening url fails with want, a message with text (when not NULL), never "hunter2". */
static void open_refused(const char *url, const char *password, int want, const char *text)
{
	struct sts_db *db = NULL;
	char *err = NULL;
	assert_int_equal(sts_db_open_url(url, password, 0, NULL, &db, &err), want);
	assert_null(db);
	assert_non_null(err);
	if (text)
		assert_non_null(strstr(err, text));
	assert_null(strstr(err, "hunter2"));
	free(err);
}

/* A URL names a PostgreSQL state: never a file, refused while not built in. */
static void test_location_url(void **state)
{
	struct fixture *f = *state;
	assert_true(sts_db_location_is_url("postgresql://db.example/stsctl"));
	assert_true(
	    sts_db_location_is_url("postgres://db.example:5433/stsctl?sslmode=verify-full"));
	assert_false(sts_db_location_is_url("stsctl.db"));
	assert_false(sts_db_location_is_url("./postgresql://x"));
	assert_false(sts_db_location_is_url("postgresql:x"));
	assert_false(sts_db_location_is_url(NULL));

	/* run inside the temp dir: a URL taken for a path would create "postgresql:" */
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	struct sts_db *db = NULL;
	char *err = NULL;
	int r = sts_db_open_url("postgresql://127.0.0.1:1/stsctl", NULL, 0, NULL, &db, &err);
	assert_int_equal(chdir(cwd), 0);
	assert_int_not_equal(r, STS_OK);
	assert_null(db);
	assert_non_null(err);
	if (r == STS_EUNSUPPORTED) {
		assert_string_equal(err, "PostgreSQL state: not built in");
	} else {
		/* built in: the server that could not be reached, by host and port */
		assert_int_equal(r, STS_EDB);
		assert_non_null(
		    strstr(err, "cannot connect to the PostgreSQL state at 127.0.0.1:1/stsctl: "));
		free(err);
		/* a password given as a parameter is never in a message */
		open_refused("postgresql://sts@127.0.0.1:1/stsctl", "hunter2", STS_EDB, NULL);
		/* a URL with a password is refused, before any connection */
		open_refused("postgresql://sts:hunter2@127.0.0.1:1/stsctl", NULL, STS_EINVAL,
			     "must not contain a password");
		open_refused("postgres://127.0.0.1:1/stsctl?password=hunter2", NULL, STS_EINVAL,
			     "must not contain a password");
		err = NULL;
	}
	free(err);
	char p[256];
	snprintf(p, sizeof(p), "%s/postgresql:", f->dir);
	assert_int_not_equal(access(p, F_OK), 0);

	/* a path through sts_db_open_url is sts_db_open */
	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	assert_int_equal(sts_db_open_url(p, NULL, 0, NULL, &db, NULL), STS_OK);
	sts_db_close(db);
	assert_int_equal(access(p, F_OK), 0);
}

static void test_has_table(void **state)
{
	struct fixture *f = *state;
	bool has = true;
	assert_int_equal(sts_db_has_table(f->db, "no_such_table", &has), STS_OK);
	assert_false(has);
	assert_int_equal(sts_db_has_table(f->db, "runs", &has), STS_OK);
	assert_true(has);
	assert_int_equal(sts_db_execf(f->db, "CREATE VIEW v AS SELECT 1 AS one", ""), STS_OK);
	assert_int_equal(sts_db_has_table(f->db, "v", &has), STS_OK);
	assert_false(has); /* a view is not a table */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_served_policies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domains_and_removal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock_hostile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_db_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_mid_transaction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_runs_interrupted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stmt_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_has_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_location_url, setup, teardown),
	    cmocka_unit_test(test_clock),
	};
	/* on PostgreSQL (STSCTL_TEST_STATE): the tests that are not about SQLite's file */
	static const char *const on_pg[] = {
	    "test_journal",	     "test_served_policies", "test_domains_and_removal",
	    "test_runs_interrupted", "test_stmt_roundtrip",  "test_has_table",
	    "test_location_url",
	};
	if (state_fixture_pg()) {
		struct CMUnitTest pg_tests[sizeof(on_pg) / sizeof(on_pg[0])];
		size_t n = 0;
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			for (size_t j = 0; j < sizeof(on_pg) / sizeof(on_pg[0]); j++)
				if (strcmp(tests[i].name, on_pg[j]) == 0)
					pg_tests[n++] = tests[i];
		return _cmocka_run_group_tests("db-pg", pg_tests, n, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
