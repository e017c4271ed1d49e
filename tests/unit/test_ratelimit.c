/* SPDX-License-Identifier: MIT */
/*
 * The rate limiter (core/base/sts_ratelimit.c): sliding windows, per-second
 * spacing, several limits at once, timeouts, pauses, the text form; on a
 * fake clock (sleeping advances it), then a short run of threads on the
 * real clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sts_mclock.h"
#include "sts_err.h"
#include "sts_ratelimit.h"

#define MS STS_NS_PER_MS

static _Atomic long long fake_now;
static _Atomic int fake_sleeps;

static long long fake_now_ns(void *ud)
{
	(void)ud;
	return fake_now;
}

static void fake_sleep_ns(void *ud, long long ns)
{
	(void)ud;
	fake_now += ns;
	fake_sleeps++;
}

static struct sts_ratelimit *fake(void)
{
	struct sts_mclock c = {.now_ns = fake_now_ns, .sleep_ns = fake_sleep_ns};
	struct sts_ratelimit *rl = NULL;
	fake_now = 1000 * MS; /* any origin */
	fake_sleeps = 0;
	assert_int_equal(sts_ratelimit_new(&c, &rl), STS_OK);
	return rl;
}

/* acquire (no timeout) and return when it started, in ms from the origin */
static long long at(struct sts_ratelimit *rl)
{
	assert_int_equal(sts_ratelimit_acquire(rl, -1), STS_OK);
	return (fake_now - 1000 * MS) / MS;
}

static void test_window(void **state)
{
	(void)state;
	struct sts_ratelimit *rl = fake();
	assert_int_equal(sts_ratelimit_add_window(rl, 3, 1000), STS_OK);
	assert_int_equal(at(rl), 0);
	assert_int_equal(at(rl), 0);
	fake_now += 400 * MS;
	assert_int_equal(at(rl), 400);
	assert_int_equal(fake_sleeps, 0);
	/* 3 in the window: the 4th waits for the first to leave it, and so on */
	assert_int_equal(at(rl), 1000);
	assert_int_equal(at(rl), 1000);
	assert_int_equal(at(rl), 1400);
	assert_int_equal(at(rl), 2000);
	sts_ratelimit_free(rl);
}

static void test_rate(void **state)
{
	(void)state;
	struct sts_ratelimit *rl = fake();
	assert_int_equal(sts_ratelimit_add_rate(rl, 10), STS_OK);
	assert_int_equal(at(rl), 0);
	assert_int_equal(at(rl), 100);
	assert_int_equal(at(rl), 200);
	fake_now += 1000 * MS; /* no credit for idle time: no burst */
	assert_int_equal(at(rl), 1200);
	assert_int_equal(at(rl), 1300);
	sts_ratelimit_free(rl);
}

static void test_several(void **state)
{
	(void)state;
	struct sts_ratelimit *rl = fake();
	/* 10 per second and 3 in any second: whichever is later wins */
	assert_int_equal(sts_ratelimit_add_rate(rl, 10), STS_OK);
	assert_int_equal(sts_ratelimit_add_window(rl, 3, 1000), STS_OK);
	static const long long want[] = {0, 100, 200, 1000, 1100, 1200, 2000};
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(at(rl), want[i]);
	sts_ratelimit_free(rl);
}

static void test_timeout(void **state)
{
	(void)state;
	struct sts_ratelimit *rl = fake();
	assert_int_equal(sts_ratelimit_add_window(rl, 1, 1000), STS_OK);
	assert_int_equal(sts_ratelimit_acquire(rl, 0), STS_OK);
	/* the next slot is 1000 ms away: a shorter timeout fails at once */
	assert_int_equal(sts_ratelimit_acquire(rl, 0), STS_EAGAIN);
	assert_int_equal(sts_ratelimit_acquire(rl, 999), STS_EAGAIN);
	assert_int_equal(fake_sleeps, 0);
	assert_int_equal(fake_now, 1000 * MS);
	assert_int_equal(sts_ratelimit_wait_ms(rl), 1000);
	assert_int_equal(sts_ratelimit_acquire(rl, 1000), STS_OK);
	assert_int_equal(fake_now, 2000 * MS);
	assert_int_equal(sts_ratelimit_acquire(rl, LLONG_MAX), STS_OK); /* = no timeout */
	assert_int_equal(fake_now, 3000 * MS);
	sts_ratelimit_free(rl);
}

static void test_pause(void **state)
{
	(void)state;
	struct sts_ratelimit *rl = fake(); /* no limits: only the pause holds */
	assert_int_equal(at(rl), 0);
	assert_int_equal(at(rl), 0);
	sts_ratelimit_pause(rl, 2000);
	sts_ratelimit_pause(rl, 500); /* does not shorten it */
	sts_ratelimit_pause(rl, 0);
	sts_ratelimit_pause(rl, -5);
	assert_int_equal(sts_ratelimit_wait_ms(rl), 2000);
	assert_int_equal(sts_ratelimit_acquire(rl, 1500), STS_EAGAIN);
	assert_int_equal(at(rl), 2000);
	assert_int_equal(at(rl), 2000);
	sts_ratelimit_pause(rl, 100); /* a later pause extends it */
	sts_ratelimit_pause(rl, 300);
	assert_int_equal(at(rl), 2300);
	/* with a window: the pause and the window both hold */
	assert_int_equal(sts_ratelimit_add_window(rl, 1, 1000), STS_OK);
	assert_int_equal(at(rl), 2300);
	sts_ratelimit_pause(rl, 200);
	assert_int_equal(at(rl), 3300);
	sts_ratelimit_free(rl);
	sts_ratelimit_free(NULL);
}

static void test_spec(void **state)
{
	(void)state;
	struct sts_ratelimit *rl = fake();
	static const char *ok[] = {"10/s", "1200/5m",	 "3600/h",	   "5/30s",
				   "1/1s", "100000/24h", "1200/5m, 20/1s", "1/s,2/m,3/h"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (sts_ratelimit_add_spec(rl, ok[i]) != STS_OK)
			fail_msg("'%s' refused", ok[i]);
	static const char *bad[] = {
	    "",		"10",	  "/s",	    "0/s",   "10/",	 "10/0m",	    "10/x",
	    "10/s ",	" 10/s",  "-1/s",   "10/5",  "100001/h", "1/999999999999m", "10/ss",
	    "1.5/s",	"10/-5m", "10/m/s", "10/s,", "10/s, ",	 ",10/s",	    "10/s,,1/m",
	    "10/s;1/m", "10/s, x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sts_ratelimit_add_spec(rl, bad[i]) != STS_EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(sts_ratelimit_add_window(rl, 0, 1000), STS_EINVAL);
	assert_int_equal(sts_ratelimit_add_window(rl, 1, 0), STS_EINVAL);
	assert_int_equal(sts_ratelimit_add_window(rl, STS_RATELIMIT_COUNT_MAX + 1, 1), STS_EINVAL);
	assert_int_equal(sts_ratelimit_add_rate(rl, 0), STS_EINVAL);
	sts_ratelimit_free(rl);
	/* a list: both hold; a bad list adds nothing */
	rl = fake();
	assert_int_equal(sts_ratelimit_add_spec(rl, "2/s, 5/m, nonsense"), STS_EINVAL);
	assert_int_equal(sts_ratelimit_add_spec(rl, "2/s, 3/m"), STS_OK);
	static const long long want[] = {0, 500, 1000, 60000, 60500, 61000};
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(at(rl), want[i]);
	sts_ratelimit_free(rl);
	/* "1200/5m": 1200 at once, the 1201st 300 s after the first */
	rl = fake();
	assert_int_equal(sts_ratelimit_add_spec(rl, "1200/5m"), STS_OK);
	for (int i = 0; i < 1200; i++)
		assert_int_equal(sts_ratelimit_acquire(rl, 0), STS_OK);
	assert_int_equal(sts_ratelimit_wait_ms(rl), 300000);
	assert_int_equal(at(rl), 300000);
	sts_ratelimit_free(rl);
}

/* ---- threads on the real clock ---- */

#define THREADS 4
#define CALLS	6 /* 24 calls, 8 per 100 ms: about 200 ms */

struct run {
	struct sts_ratelimit *rl;
	_Atomic int n;
	long long starts[THREADS * CALLS];
};

static void *worker(void *arg)
{
	struct run *r = arg;
	for (int i = 0; i < CALLS; i++) {
		assert_int_equal(sts_ratelimit_acquire(r->rl, 5000), STS_OK);
		r->starts[r->n++] = sts_mclock_now_ns(NULL);
	}
	return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static void test_threads(void **state)
{
	(void)state;
	struct run r = {.n = 0};
	assert_int_equal(sts_ratelimit_new(NULL, &r.rl), STS_OK);
	assert_int_equal(sts_ratelimit_add_window(r.rl, 8, 100), STS_OK);
	long long t0 = sts_mclock_now_ns(NULL);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &r), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(r.n, THREADS * CALLS);
	qsort(r.starts, THREADS * CALLS, sizeof(long long), cmp_ll);
	/* never 9 starts within 100 ms */
	for (int i = 0; i + 8 < THREADS * CALLS; i++)
		assert_true(r.starts[i + 8] - r.starts[i] >= 100 * MS);
	assert_true(r.starts[THREADS * CALLS - 1] - t0 >= 200 * MS);

	/* a pause set by one thread holds the others */
	sts_ratelimit_pause(r.rl, 150);
	long long p0 = sts_mclock_now_ns(NULL);
	r.n = 0;
	pthread_create(&t[0], NULL, worker, &r);
	pthread_join(t[0], NULL);
	assert_true(r.starts[0] - p0 >= 140 * MS);
	sts_ratelimit_free(r.rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window),  cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_several), cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_pause),   cmocka_unit_test(test_spec),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
