/* SPDX-License-Identifier: MIT */
/* Leases with fencing tokens (core/base/sts_lease.c): two connections to one state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "state_fixture.h"
#include "sts_err.h"
#include "sts_lease.h"

static time_t now_v = 1767268800;

static time_t test_now(void *ud)
{
	(void)ud;
	return now_v;
}

static const struct sts_clock test_clock = {test_now, NULL};

struct two {
	char dir[64], path[128];
	char *loc;
	struct sts_db *a, *b;
};

static int two_setup(void **state)
{
	struct two *t = calloc(1, sizeof(*t));
	char *err = NULL;
	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_lease.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/stsctl.db", t->dir);
	/* one state, two connections: the same file, or the same PostgreSQL database */
	assert_non_null(t->loc = state_fixture_location("lease", t->path));
	assert_int_equal(sts_db_open_url(t->loc, NULL, 0, &test_clock, &t->a, &err), STS_OK);
	assert_int_equal(sts_db_open_url(t->loc, NULL, 0, &test_clock, &t->b, &err), STS_OK);
	assert_int_equal(sts_lease_schema(t->a), STS_OK);
	assert_int_equal(sts_lease_schema(t->b), STS_OK); /* already there: nothing to do */
	now_v = 1767268800;
	*state = t;
	return 0;
}

static int two_teardown(void **state)
{
	struct two *t = *state;
	char p[200];
	sts_db_close(t->a);
	sts_db_close(t->b);
	free(t->loc);
	unlink(t->path);
	snprintf(p, sizeof(p), "%s-wal", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-journal", t->path);
	unlink(p);
	rmdir(t->dir);
	free(t);
	return 0;
}

static void claim(struct sts_db *db, const char *name, const char *holder, int64_t ttl,
		  bool want_ok, int64_t want_fence)
{
	int64_t fence = -1;
	bool ok = !want_ok;
	assert_int_equal(sts_lease_claim(db, name, holder, ttl, &fence, &ok), STS_OK);
	if (ok != want_ok || fence != want_fence)
		fail_msg("claim %s by %s: ok %d fence %lld, want %d %lld", name, holder, ok,
			 (long long)fence, want_ok, (long long)want_fence);
}

static bool valid(struct sts_db *db, const char *name, const char *holder, int64_t fence)
{
	bool v = true;
	assert_int_equal(sts_lease_valid(db, name, holder, fence, &v), STS_OK);
	return v;
}

static bool release(struct sts_db *db, const char *name, const char *holder, int64_t fence)
{
	bool ok = true;
	assert_int_equal(sts_lease_release(db, name, holder, fence, &ok), STS_OK);
	return ok;
}

static void test_claim_renew_expire(void **state)
{
	struct two *t = *state;
	claim(t->a, "watch:a.example", "A", 300, true, 1);  /* new lease */
	claim(t->b, "watch:a.example", "B", 300, false, 0); /* A holds it */
	assert_true(valid(t->b, "watch:a.example", "A", 1));
	assert_false(valid(t->b, "watch:a.example", "B", 1));
	now_v += 200;
	claim(t->a, "watch:a.example", "A", 300, true, 2);    /* renewed: until +500 */
	assert_false(valid(t->a, "watch:a.example", "A", 1)); /* the renewal's fence counts */
	assert_true(valid(t->a, "watch:a.example", "A", 2));
	now_v += 250; /* past the first expiry, not the renewed one */
	claim(t->b, "watch:a.example", "B", 300, false, 0);
	now_v += 50; /* exactly the expiry: still A's */
	assert_true(valid(t->a, "watch:a.example", "A", 2));
	claim(t->b, "watch:a.example", "B", 300, false, 0);
	now_v += 1; /* expired: B takes it over with a higher fence */
	assert_false(valid(t->a, "watch:a.example", "A", 2));
	claim(t->b, "watch:a.example", "B", 300, true, 3);
	/* A's stale fence: refused by the check and by release */
	assert_false(valid(t->a, "watch:a.example", "A", 2));
	assert_false(release(t->a, "watch:a.example", "A", 2));
	assert_true(valid(t->a, "watch:a.example", "B", 3));
	claim(t->a, "watch:a.example", "A", 300, false, 0);
	/* a release by B with the wrong fence does nothing either */
	assert_false(release(t->b, "watch:a.example", "B", 2));
	assert_true(valid(t->a, "watch:a.example", "B", 3));
}

static void test_release(void **state)
{
	struct two *t = *state;
	claim(t->a, "watch:r.example", "A", 600, true, 1);
	claim(t->b, "watch:r.example", "B", 600, false, 0);
	assert_true(release(t->a, "watch:r.example", "A", 1));
	assert_false(release(t->a, "watch:r.example", "A", 1)); /* gone already */
	assert_false(valid(t->a, "watch:r.example", "A", 1));
	/* released: B claims it at once, without waiting for the expiry */
	claim(t->b, "watch:r.example", "B", 600, true, 1);
	assert_true(valid(t->a, "watch:r.example", "B", 1));
	claim(t->a, "watch:r.example", "A", 600, false, 0);
}

static void test_many_names(void **state)
{
	struct two *t = *state;
	enum { N = 200 };
	char name[64];
	/* A takes the even names, B the odd ones; then each tries the other's */
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "watch:d%03d.example", i);
		claim(i % 2 ? t->b : t->a, name, i % 2 ? "B" : "A", 300, true, 1);
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "watch:d%03d.example", i);
		claim(i % 2 ? t->a : t->b, name, i % 2 ? "A" : "B", 300, false, 0);
		assert_true(valid(t->a, name, i % 2 ? "B" : "A", 1));
	}
	/* B releases its names: A gets them, its own stay its own */
	for (int i = 1; i < N; i += 2) {
		snprintf(name, sizeof(name), "watch:d%03d.example", i);
		assert_true(release(t->b, name, "B", 1));
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "watch:d%03d.example", i);
		claim(t->a, name, "A", 300, true, i % 2 ? 1 : 2);
	}
	claim(t->a, "watch:other", "A", 300, true, 1); /* names are independent */
}

static void test_holder_id(void **state)
{
	(void)state;
	const char *id = sts_lease_holder_id();
	char host[256], want[300];
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	snprintf(want, sizeof(want), "%s:%ld:", host, (long)getpid());
	assert_int_equal(strncmp(id, want, strlen(want)), 0);
	const char *hex = id + strlen(want);
	assert_int_equal(strlen(hex), 16);
	assert_int_equal(strspn(hex, "0123456789abcdef"), 16);
	assert_string_equal(sts_lease_holder_id(), id); /* once per process */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_claim_renew_expire, two_setup, two_teardown),
	    cmocka_unit_test_setup_teardown(test_release, two_setup, two_teardown),
	    cmocka_unit_test_setup_teardown(test_many_names, two_setup, two_teardown),
	    cmocka_unit_test(test_holder_id),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
