/* SPDX-License-Identifier: MIT */
/* The worker pool (core/base/sts_pool.c): every index once, on any thread count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_index_once),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
