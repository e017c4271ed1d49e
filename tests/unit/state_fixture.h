/* SPDX-License-Identifier: MIT */
#ifndef STATE_FIXTURE_H
#define STATE_FIXTURE_H

/*
 * The state a unit test runs on (issue 18): SQLite as before, or a fresh
 * PostgreSQL database when the environment names a server.
 *
 * STSCTL_TEST_STATE unset or empty: SQLite, exactly the location the test
 * opened before (":memory:" or its temporary file). STSCTL_TEST_STATE=
 * postgresql://... (tests/pg/with-cluster.sh sets it): each call creates a
 * new, empty database t_<pid>_<n>_<tag> through libpq on STSCTL_TEST_PG_ADMIN
 * (default: STSCTL_TEST_STATE) and gives the URL of STSCTL_TEST_STATE with
 * that database name. Every database made is dropped at exit (DROP DATABASE
 * ... WITH (FORCE)). A value that is not such a URL, or a test binary built
 * without libpq, fails the call (reason on stderr): never a silent SQLite run.
 */

#include <stdbool.h>

#include "sts_db.h"

/* true when STSCTL_TEST_STATE is set (not empty): the tests run on PostgreSQL */
bool state_fixture_pg(void);

/*
 * The location of a fresh state, malloc'd (free() it), or NULL with the reason
 * on stderr. tag: [a-z0-9_], at most 32 characters (names the database).
 * A test that reopens "the same file" calls this once and opens the result
 * again: a sqlite_location that is already a postgresql:// URL is returned
 * as it is (the same database, not a new one).
 */
char *state_fixture_location(const char *tag, const char *sqlite_location);

/*
 * state_fixture_location() then sts_db_open_url(location, NULL, flags, clock,
 * ret, reterr). Returns what sts_db_open_url returns; STS_EDB (reterr set when
 * not NULL) when no location could be made.
 */
int state_fixture_open(const char *tag, const char *sqlite_location, unsigned flags,
		       const struct sts_clock *clock, struct sts_db **ret, char **reterr);

#endif
