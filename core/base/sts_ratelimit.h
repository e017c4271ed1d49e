/* SPDX-License-Identifier: MIT */
#ifndef STS_RATELIMIT_H
#define STS_RATELIMIT_H

#include "sts_api.h"
#include "sts_mclock.h"

/*
 * A rate limiter for calls to one provider: any number of limits at once,
 * each "at most COUNT calls in any WINDOW" (a sliding window: "1200 per 5
 * minutes" never lets 1201 calls start within 300 s) or "PER_SEC calls per
 * second" (calls start at least 1/PER_SEC s apart, no burst), plus a pause
 * that holds every caller until a moment (a server's Retry-After).
 *
 * Thread-safe: one limiter is shared by all threads calling the provider;
 * every function may be called from any thread at any time, except
 * sts_ratelimit_free(), which no other call may overlap. Limits are added
 * before the limiter is shared (adding one later is safe, but callers
 * already waiting do not see it until they wake).
 *
 * Typical use, once per HTTP request:
 *     r = sts_ratelimit_acquire(rl, 30000);   (wait at most 30 s for a slot)
 *     ... send; on 429 with Retry-After: sts_ratelimit_pause(rl, ms) ...
 */
struct sts_ratelimit;

/*
 * clock may be NULL (the real clock); it is copied. STS_OK or STS_ENOMEM.
 * A limiter without limits lets every call through (pauses still hold).
 */
STS_API int sts_ratelimit_new(const struct sts_mclock *clock, struct sts_ratelimit **ret);
/* NULL is fine. */
STS_API void sts_ratelimit_free(struct sts_ratelimit *rl);

/* Largest COUNT of one window (the limiter keeps one timestamp per call). */
#define STS_RATELIMIT_COUNT_MAX 100000u

/*
 * At most count calls start in any window_ms milliseconds. STS_OK,
 * STS_EINVAL (count 0 or above STS_RATELIMIT_COUNT_MAX, window_ms <= 0),
 * STS_ENOMEM.
 */
STS_API int sts_ratelimit_add_window(struct sts_ratelimit *rl, unsigned count, long long window_ms);
/* At most per_sec calls per second, evenly spaced. STS_OK, STS_EINVAL (0), STS_ENOMEM. */
STS_API int sts_ratelimit_add_rate(struct sts_ratelimit *rl, unsigned per_sec);
/*
 * Limits written as text, as an inventory or a plugin would: one or more
 * "COUNT/UNIT" or "COUNT/NUNIT" with UNIT s, m or h, separated by ','
 * (and spaces): "10/s" (= add_rate 10: spaced, no burst), "10/1s" (a
 * window: 10 at once, then the next second), "1200/5m", "3600/h",
 * "1200/5m, 20/1s". STS_OK, STS_EINVAL (the text is not of this form:
 * nothing is added), STS_ENOMEM.
 */
STS_API int sts_ratelimit_add_spec(struct sts_ratelimit *rl, const char *spec);

/*
 * Wait until every limit allows one more call and no pause holds, then
 * count the call and return STS_OK. timeout_ms bounds the wait: -1 waits
 * as long as needed, 0 only takes a slot that is free now. When the first
 * free slot lies beyond the timeout, returns STS_EAGAIN at once (no
 * sleeping to find out) and counts nothing. The wait sleeps on the clock,
 * never holding the lock; a pause set meanwhile is honoured.
 */
STS_API int sts_ratelimit_acquire(struct sts_ratelimit *rl, long long timeout_ms);

/*
 * Hold every caller (those waiting and those to come) until ms
 * milliseconds from now, e.g. a 429's Retry-After. A shorter pause than
 * one already set does not shorten it; ms <= 0 does nothing.
 */
STS_API void sts_ratelimit_pause(struct sts_ratelimit *rl, long long ms);

/* Milliseconds until a call could start (0 = now); does not count one. */
STS_API long long sts_ratelimit_wait_ms(struct sts_ratelimit *rl);

#endif
