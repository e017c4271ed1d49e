/* SPDX-License-Identifier: MIT */
#ifndef STS_MCLOCK_H
#define STS_MCLOCK_H

#include <time.h>

#include "sts_api.h"

/*
 * A monotonic clock that tests can replace (the rate limiter and the
 * circuit breaker take one). Times are nanoseconds on an arbitrary
 * origin; only differences mean anything.
 *
 * A NULL struct sts_mclock *, or one whose callbacks are NULL, is the real
 * clock: CLOCK_MONOTONIC and nanosleep(). A fake clock's sleep_ns usually
 * just advances its now_ns. The callbacks may be called from any thread
 * that uses the object the clock was given to, at the same time.
 * (The wall clock of the state DB, in seconds, is struct sts_clock in
 * sts_db.h.)
 */
struct sts_mclock {
	long long (*now_ns)(void *ud);
	void (*sleep_ns)(void *ud, long long ns);
	void *ud;
};

#define STS_NS_PER_MS 1000000LL
#define STS_NS_PER_S  1000000000LL

/* c's time now (the real clock when c or c->now_ns is NULL). */
STS_API long long sts_mclock_now_ns(const struct sts_mclock *c);
/* Sleep ns (nothing when ns <= 0) on c (real nanosleep when c or c->sleep_ns is NULL). */
STS_API void sts_mclock_sleep_ns(const struct sts_mclock *c, long long ns);

/* CLOCK_REALTIME ms from now: the deadline of a pthread_cond_timedwait. */
STS_API void sts_deadline_after_ms(long ms, struct timespec *ret);

#endif
