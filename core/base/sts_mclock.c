/* SPDX-License-Identifier: MIT */
/* The replaceable monotonic clock (sts_mclock.h). */
#include <errno.h>
#include <time.h>

#include "sts_mclock.h"

STS_API long long sts_mclock_now_ns(const struct sts_mclock *c)
{
	if (c && c->now_ns)
		return c->now_ns(c->ud);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * STS_NS_PER_S + t.tv_nsec;
}

STS_API void sts_mclock_sleep_ns(const struct sts_mclock *c, long long ns)
{
	if (ns <= 0)
		return;
	if (c && c->sleep_ns) {
		c->sleep_ns(c->ud, ns);
		return;
	}
	struct timespec t = {(time_t)(ns / STS_NS_PER_S), (long)(ns % STS_NS_PER_S)};
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

STS_API void sts_deadline_after_ms(long ms, struct timespec *ret)
{
	clock_gettime(CLOCK_REALTIME, ret);
	ret->tv_sec += ms / 1000;
	ret->tv_nsec += (ms % 1000) * 1000000L;
	if (ret->tv_nsec >= 1000000000L) {
		ret->tv_sec++;
		ret->tv_nsec -= 1000000000L;
	}
}
