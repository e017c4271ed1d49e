/* SPDX-License-Identifier: MIT */
/* The worker pool (core/base/sts_pool.c): every index once, on any thread count; the tick. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sts_err.h"
#include "sts_pool.h"

#define N 1000

static void bump(void *ud, size_t i)
{
	int *seen = ud;
	__atomic_add_fetch(&seen[i], 1, __ATOMIC_SEQ_CST);
}

static void run_with(unsigned threads, size_t n)
{
	int *seen = calloc(N, sizeof(*seen));
	assert_non_null(seen);
	assert_int_equal(sts_pool_run(n, threads, bump, seen), STS_OK);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(seen[i], i < n ? 1 : 0);
	free(seen);
}

static void test_every_index_once(void **state)
{
	(void)state;
	run_with(0, N); /* 0: one thread */
	run_with(1, N);
	run_with(4, N);
	run_with(64, 10); /* more threads than work */
	run_with(8, 0);	  /* nothing to do */
}

struct slow {
	int seen[8];
	int ticks; /* on the caller's thread only */
	pthread_t caller;
	int off_caller; /* fn calls not on the caller's thread */
};

static void slow_one(void *ud, size_t i)
{
	struct slow *s = ud;
	usleep(30000);
	if (!pthread_equal(pthread_self(), s->caller))
		__atomic_add_fetch(&s->off_caller, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&s->seen[i], 1, __ATOMIC_SEQ_CST);
}

static void on_tick(void *ud)
{
	struct slow *s = ud;
	assert_true(pthread_equal(pthread_self(), s->caller));
	s->ticks++;
}

/* With a tick, the work runs on other threads (even one) and the caller ticks meanwhile. */
static void test_tick(void **state)
{
	(void)state;
	for (unsigned threads = 1; threads <= 3; threads += 2) {
		struct slow s = {.caller = pthread_self()};
		struct sts_pool_opts o = {
		    .threads = threads, .tick = on_tick, .tick_ud = &s, .tick_ms = 5};
		assert_int_equal(sts_pool_run_opts(8, &o, slow_one, &s), STS_OK);
		for (size_t i = 0; i < 8; i++)
			assert_int_equal(s.seen[i], 1);
		assert_int_equal(s.off_caller, 8);
		assert_true(s.ticks >= 8); /* after each index at least */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_index_once),
	    cmocka_unit_test(test_tick),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
