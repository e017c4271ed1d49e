/* SPDX-License-Identifier: MIT */
/*
 * The circuit breaker (core/base/sts_breaker.c) on a fake clock: closed ->
 * open after N failures in a row, the error text while open, half-open
 * after the cooldown with exactly one trial, closed on its success, open
 * again on its failure; and threads sharing one breaker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "sts_breaker.h"
#include "sts_err.h"

static _Atomic long long fake_now;

static long long fake_now_ns(void *ud)
{
	(void)ud;
	return fake_now;
}

static struct sts_breaker *fake(unsigned failures, long long cooldown_ms)
{
	struct sts_mclock c = {.now_ns = fake_now_ns};
	struct sts_breaker_opts o = {.failures = failures, .cooldown_ms = cooldown_ms};
	struct sts_breaker *b = NULL;
	fake_now = 5 * STS_NS_PER_S;
	assert_int_equal(sts_breaker_new(&o, &c, &b), STS_OK);
	return b;
}

static void call(struct sts_breaker *b, bool ok)
{
	assert_int_equal(sts_breaker_enter(b, NULL, 0), STS_OK);
	sts_breaker_done(b, ok);
}

static void test_opens_and_closes(void **state)
{
	(void)state;
	struct sts_breaker *b = fake(5, 30000);
	char err[128];
	/* failures must be in a row: a success resets the count */
	for (int i = 0; i < 4; i++)
		call(b, false);
	call(b, true);
	for (int i = 0; i < 4; i++)
		call(b, false);
	assert_int_equal(sts_breaker_state(b), STS_BREAKER_CLOSED);
	call(b, false); /* the 5th in a row */
	assert_int_equal(sts_breaker_state(b), STS_BREAKER_OPEN);
	fake_now += 7 * STS_NS_PER_S + 1;
	assert_int_equal(sts_breaker_enter(b, err, sizeof(err)), STS_EAGAIN);
	assert_string_equal(err, "circuit open after 5 failures, retry in 23 s");
	assert_int_equal(sts_breaker_enter(b, err, 8), STS_EAGAIN); /* truncated, terminated */
	assert_string_equal(err, "circuit");
	assert_int_equal(sts_breaker_enter(b, NULL, 0), STS_EAGAIN);

	/* after the cooldown: one trial, the others refused meanwhile */
	fake_now += 23 * STS_NS_PER_S;
	assert_int_equal(sts_breaker_state(b), STS_BREAKER_HALF_OPEN);
	assert_int_equal(sts_breaker_enter(b, err, sizeof(err)), STS_OK);
	assert_int_equal(sts_breaker_enter(b, err, sizeof(err)), STS_EAGAIN);
	assert_string_equal(err, "circuit half-open, a trial call is running");
	sts_breaker_done(b, true);
	assert_int_equal(sts_breaker_state(b), STS_BREAKER_CLOSED);
	call(b, false); /* the count starts again */
	assert_int_equal(sts_breaker_state(b), STS_BREAKER_CLOSED);
	sts_breaker_free(b);
	sts_breaker_free(NULL);
}

static void test_trial_fails(void **state)
{
	(void)state;
	struct sts_breaker *b = fake(2, 1000);
	char err[128];
	call(b, false);
	call(b, false);
	assert_int_equal(sts_breaker_state(b), STS_BREAKER_OPEN);
	fake_now += 1000 * STS_NS_PER_MS;
	assert_int_equal(sts_breaker_enter(b, NULL, 0), STS_OK); /* the trial */
	sts_breaker_done(b, false);
	assert_int_equal(sts_breaker_state(b), STS_BREAKER_OPEN); /* a new cooldown from now */
	fake_now += 999 * STS_NS_PER_MS;
	assert_int_equal(sts_breaker_enter(b, err, sizeof(err)), STS_EAGAIN);
	assert_string_equal(err, "circuit open after 3 failures, retry in 1 s");
	fake_now += STS_NS_PER_MS;
	assert_int_equal(sts_breaker_enter(b, NULL, 0), STS_OK);
	sts_breaker_done(b, true);
	assert_int_equal(sts_breaker_state(b), STS_BREAKER_CLOSED);
	sts_breaker_free(b);
}

static void test_defaults(void **state)
{
	(void)state;
	struct sts_breaker *b = NULL;
	assert_int_equal(sts_breaker_new(NULL, NULL, &b), STS_OK); /* 5 failures, 30 s */
	for (int i = 0; i < 5; i++)
		call(b, false);
	char err[128];
	assert_int_equal(sts_breaker_enter(b, err, sizeof(err)), STS_EAGAIN);
	assert_string_equal(err, "circuit open after 5 failures, retry in 30 s");
	sts_breaker_free(b);
}

/* threads: 8 callers of a failing provider; the breaker lets exactly 3 calls through */
struct run {
	struct sts_breaker *b;
	_Atomic int calls, refused;
};

static void *worker(void *arg)
{
	struct run *r = arg;
	for (int i = 0; i < 100; i++) {
		if (sts_breaker_enter(r->b, NULL, 0) == STS_EAGAIN) {
			r->refused++;
			continue;
		}
		r->calls++;
		sts_breaker_done(r->b, false);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct run r = {.b = fake(3, 60000)};
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &r), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	/* calls already let through when it opened still count: 3 .. 3 + 7 */
	assert_true(r.calls >= 3 && r.calls <= 10);
	assert_int_equal(r.calls + r.refused, 800);
	assert_int_equal(sts_breaker_state(r.b), STS_BREAKER_OPEN);
	sts_breaker_free(r.b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_opens_and_closes),
	    cmocka_unit_test(test_trial_fails),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
