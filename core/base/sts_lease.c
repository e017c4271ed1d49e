/* SPDX-License-Identifier: MIT */
/* Leases with fencing tokens on the state (sts_lease.h), engine-neutral SQL only. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sts_err.h"
#include "sts_lease.h"

/* The same text on both engines: portable types, a text key compared with '=' only. */
static const struct sts_db_migration migrations[] = {
    {1,
     "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
     " fence BIGINT NOT NULL, expires BIGINT NOT NULL)",
     NULL},
};

STS_API int sts_lease_schema(struct sts_db *db)
{
	if (sts_db_is_readonly(db))
		return STS_OK;
	return sts_db_migrate(db, STS_LEASE_COMPONENT, migrations,
			      sizeof(migrations) / sizeof(migrations[0]));
}

static pthread_mutex_t id_mu = PTHREAD_MUTEX_INITIALIZER;
static char id_buf[300];
static pid_t id_pid;

STS_API const char *sts_lease_holder_id(void)
{
	pthread_mutex_lock(&id_mu);
	if (id_pid != getpid()) {
		char host[256];
		uint64_t rnd = 0;
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			rnd = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^
			      ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&rnd;
		}
		id_pid = getpid();
		snprintf(id_buf, sizeof(id_buf), "%s:%ld:%016llx", host, (long)id_pid,
			 (unsigned long long)rnd);
	}
	pthread_mutex_unlock(&id_mu);
	return id_buf;
}

/*
 * Correct on both engines without SKIP LOCKED: PostgreSQL evaluates the
 * DO UPDATE's WHERE on the row as it is after a concurrent writer's
 * transaction ends (the conflicting row is locked first), SQLite has one
 * writer at a time. No row back: another holder's lease is live.
 */
static const char claim_sql[] =
    "INSERT INTO leases (name, holder, fence, expires) VALUES (?1, ?2, 1, ?3)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
    " fence = leases.fence + 1, expires = excluded.expires"
    " WHERE leases.expires < ?4 OR leases.holder = excluded.holder RETURNING fence";

STS_API int sts_lease_claim(struct sts_db *db, const char *name, const char *holder, int64_t ttl,
			    int64_t *ret_fence, bool *ret_ok)
{
	struct sts_db_stmt *st = NULL;
	int64_t now = sts_db_now(db);
	*ret_fence = 0;
	*ret_ok = false;
	sts_db_hold(db);
	int r = sts_db_prepare(db, claim_sql, &st);
	if (r == STS_OK &&
	    ((r = sts_db_bind_text(st, 1, name)) < 0 || (r = sts_db_bind_text(st, 2, holder)) < 0 ||
	     (r = sts_db_bind_int(st, 3, now + ttl)) < 0 || (r = sts_db_bind_int(st, 4, now)) < 0))
		r = STS_EDB;
	if (r == STS_OK && (r = sts_db_step(st)) == STS_DB_ROW) {
		*ret_fence = sts_db_col_int(st, 0);
		*ret_ok = true;
		r = sts_db_step(st); /* the statement's end: the write is done */
	}
	sts_db_finalize(st);
	sts_db_unhold(db);
	if (r < 0) {
		*ret_fence = 0;
		*ret_ok = false;
		return r;
	}
	return STS_OK;
}

STS_API int sts_lease_release(struct sts_db *db, const char *name, const char *holder,
			      int64_t fence, bool *ret_ok)
{
	struct sts_db_stmt *st = NULL;
	*ret_ok = false;
	sts_db_hold(db);
	int r = sts_db_prepare(
	    db, "DELETE FROM leases WHERE name = ?1 AND holder = ?2 AND fence = ?3", &st);
	if (r == STS_OK &&
	    (sts_db_bind_text(st, 1, name) < 0 || sts_db_bind_text(st, 2, holder) < 0 ||
	     sts_db_bind_int(st, 3, fence) < 0))
		r = STS_EDB;
	if (r == STS_OK && (r = sts_db_step(st)) == STS_DB_DONE) {
		*ret_ok = sts_db_changes(st) > 0;
		r = STS_OK;
	} else if (r == STS_DB_ROW)
		r = STS_OK;
	sts_db_finalize(st);
	sts_db_unhold(db);
	return r < 0 ? r : STS_OK;
}

STS_API int sts_lease_valid(struct sts_db *db, const char *name, const char *holder, int64_t fence,
			    bool *ret)
{
	struct sts_db_stmt *st = NULL;
	int64_t now = sts_db_now(db);
	*ret = false;
	sts_db_hold(db);
	int r = sts_db_prepare(db,
			       "SELECT fence FROM leases WHERE name = ?1 AND holder = ?2"
			       " AND fence = ?3 AND expires >= ?4",
			       &st);
	if (r == STS_OK &&
	    (sts_db_bind_text(st, 1, name) < 0 || sts_db_bind_text(st, 2, holder) < 0 ||
	     sts_db_bind_int(st, 3, fence) < 0 || sts_db_bind_int(st, 4, now) < 0))
		r = STS_EDB;
	if (r == STS_OK && (r = sts_db_step(st)) == STS_DB_ROW)
		*ret = true;
	sts_db_finalize(st);
	sts_db_unhold(db);
	return r < 0 ? r : STS_OK;
}
