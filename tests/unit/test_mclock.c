/* SPDX-License-Identifier: MIT */
/* The replaceable clock (core/base/sts_mclock.c): the real one moves forward
 * and sleeps, a fake one is called instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sts_mclock.h"

static long long fake_now_ns(void *ud)
{
	return *(long long *)ud;
}

static void fake_sleep_ns(void *ud, long long ns)
{
	*(long long *)ud += ns;
}

static void test_real(void **state)
{
	(void)state;
	long long a = sts_mclock_now_ns(NULL);
	sts_mclock_sleep_ns(NULL, 2 * STS_NS_PER_MS);
	sts_mclock_sleep_ns(NULL, 0);
	sts_mclock_sleep_ns(NULL, -1);
	long long b = sts_mclock_now_ns(NULL);
	assert_true(b - a >= 2 * STS_NS_PER_MS);
	struct sts_mclock half = {.now_ns = NULL}; /* NULL callbacks: the real clock */
	assert_true(sts_mclock_now_ns(&half) >= b);
}

static void test_fake(void **state)
{
	(void)state;
	long long t = 42;
	struct sts_mclock c = {.now_ns = fake_now_ns, .sleep_ns = fake_sleep_ns, .ud = &t};
	assert_int_equal(sts_mclock_now_ns(&c), 42);
	sts_mclock_sleep_ns(&c, 1000);
	sts_mclock_sleep_ns(&c, -5); /* nothing */
	assert_int_equal(sts_mclock_now_ns(&c), 1042);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real),
	    cmocka_unit_test(test_fake),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
