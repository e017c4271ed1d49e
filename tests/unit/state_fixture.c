/* SPDX-License-Identifier: MIT */
#include "state_fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sts_err.h"

#ifdef STATE_FIXTURE_LIBPQ
#include <libpq-fe.h>
#endif

static const char *test_state(void)
{
	const char *s = getenv("STSCTL_TEST_STATE");
	return s && *s ? s : NULL;
}

bool state_fixture_pg(void)
{
	return test_state() != NULL;
}

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("state_fixture: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static bool tag_ok(const char *tag)
{
	size_t n = strlen(tag);
	if (n == 0 || n > 32)
		return false;
	return strspn(tag, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/*
 * url with its database name replaced by name: postgresql://AUTH[/DB][?QUERY].
 * NULL when url is not a postgresql:// or postgres:// URL.
 */
static char *url_with_db(const char *url, const char *name)
{
	const char *rest;
	if (strncmp(url, "postgresql://", 13) == 0)
		rest = url + 13;
	else if (strncmp(url, "postgres://", 11) == 0)
		rest = url + 11;
	else
		return NULL;
	size_t auth = strcspn(rest, "/?");
	const char *query = rest + auth + strcspn(rest + auth, "?");
	size_t head = (size_t)(rest - url) + auth;
	size_t n = head + 1 + strlen(name) + strlen(query) + 1;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "%.*s/%s%s", (int)head, url, name, query);
	return out;
}

#ifdef STATE_FIXTURE_LIBPQ
static PGconn *admin;
static pid_t admin_pid; /* a forked child (a test's server) leaves them alone */
static char **made;
static size_t n_made;

static void drop_all(void)
{
	if (getpid() != admin_pid)
		return;
	for (size_t i = 0; i < n_made; i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", made[i]);
		PGresult *r = PQexec(admin, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fail("%s: %s", sql, PQerrorMessage(admin));
		PQclear(r);
		free(made[i]);
	}
	free(made);
	made = NULL;
	n_made = 0;
	PQfinish(admin);
	admin = NULL;
}

static int create_db(const char *name)
{
	if (!admin) {
		const char *url = getenv("STSCTL_TEST_PG_ADMIN");
		if (!url || !*url)
			url = test_state();
		admin = PQconnectdb(url);
		if (PQstatus(admin) != CONNECTION_OK) {
			fail("cannot connect to the admin URL (STSCTL_TEST_PG_ADMIN or "
			     "STSCTL_TEST_STATE): %s",
			     PQerrorMessage(admin));
			PQfinish(admin);
			admin = NULL;
			return -1;
		}
		PQclear(PQexec(admin, "SET client_min_messages = warning"));
		admin_pid = getpid();
		atexit(drop_all);
	}
	char **v = realloc(made, (n_made + 1) * sizeof(*made));
	if (!v)
		return -1;
	made = v;
	char sql[128];
	/* FILE_COPY: half the time of WAL_LOG here (the cluster runs with fsync off) */
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" STRATEGY = FILE_COPY", name);
	PGresult *r = PQexec(admin, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc < 0)
		fail("%s: %s", sql, PQerrorMessage(admin));
	PQclear(r);
	if (rc == 0 && !(made[n_made] = strdup(name)))
		rc = -1;
	if (rc == 0)
		n_made++;
	return rc;
}
#else
static int create_db(const char *name)
{
	fail("STSCTL_TEST_STATE is set but this test was built without libpq: cannot create %s",
	     name);
	return -1;
}
#endif

char *state_fixture_location(const char *tag, const char *sqlite_location)
{
	static unsigned n;
	const char *url = test_state();
	if (!url || sts_db_location_is_url(sqlite_location))
		return strdup(sqlite_location);
	if (!tag_ok(tag)) {
		fail("tag '%s' is not [a-z0-9_]{1,32}", tag);
		return NULL;
	}
	char name[64];
	snprintf(name, sizeof(name), "t_%ld_%u_%s", (long)getpid(), ++n, tag);
	char *loc = url_with_db(url, name);
	if (!loc) {
		fail("STSCTL_TEST_STATE is not a postgresql:// URL");
		return NULL;
	}
	if (create_db(name) < 0) {
		free(loc);
		return NULL;
	}
	return loc;
}

int state_fixture_open(const char *tag, const char *sqlite_location, unsigned flags,
		       const struct sts_clock *clock, struct sts_db **ret, char **reterr)
{
	char *loc = state_fixture_location(tag, sqlite_location);
	if (!loc) {
		if (reterr)
			*reterr = strdup("state_fixture: no state to open (see stderr)");
		return STS_EDB;
	}
	int rc = sts_db_open_url(loc, NULL, flags, clock, ret, reterr);
	free(loc);
	return rc;
}
