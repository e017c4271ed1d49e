/* SPDX-License-Identifier: MIT */
#ifndef STS_BREAKER_H
#define STS_BREAKER_H

#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"
#include "sts_mclock.h"

/*
 * A circuit breaker for calls to one provider, so a provider that is down
 * is not hammered by every domain of a run:
 *
 *   closed    calls go through; `failures` failures in a row open it.
 *   open      calls fail at once with STS_EAGAIN and the text
 *             "circuit open after 5 failures, retry in 23 s";
 *             after `cooldown_ms` the next call becomes the trial.
 *   half-open one trial call goes through, the others fail at once with
 *             STS_EAGAIN ("circuit half-open, a trial call is running");
 *             its success closes the circuit, its failure opens it again
 *             for another cooldown.
 *
 * What counts as a failure is the caller's choice (sts_rest: no answer,
 * a timeout, or a 5xx after its retries; never a 4xx, which proves the
 * provider is up). A success in any state closes the circuit.
 *
 * Thread-safe: one breaker is shared by all threads calling the provider;
 * every function may run concurrently with any other except
 * sts_breaker_free().
 */
struct sts_breaker;

enum sts_breaker_state {
	STS_BREAKER_CLOSED = 0,
	STS_BREAKER_OPEN = 1,
	STS_BREAKER_HALF_OPEN = 2,
};

struct sts_breaker_opts {
	unsigned failures;     /* failures in a row that open it; 0 = 5 */
	long long cooldown_ms; /* open -> half-open; 0 = 30000 */
};

/* o and clock may be NULL (defaults, the real clock); both are copied. STS_OK or STS_ENOMEM. */
STS_API int sts_breaker_new(const struct sts_breaker_opts *o, const struct sts_mclock *clock,
			    struct sts_breaker **ret);
/* NULL is fine. */
STS_API void sts_breaker_free(struct sts_breaker *b);

/*
 * Before a call: STS_OK means go ahead, and the caller must then report
 * the outcome with sts_breaker_done() exactly once. STS_EAGAIN means the
 * circuit is open (or half-open with its trial running): do not call; when
 * errbuf is not NULL, it receives the reason (NUL-terminated, truncated to
 * errlen), e.g. "circuit open after 5 failures, retry in 23 s".
 */
STS_API int sts_breaker_enter(struct sts_breaker *b, char *errbuf, size_t errlen);
/* The outcome of a call sts_breaker_enter() let through. */
STS_API void sts_breaker_done(struct sts_breaker *b, bool ok);
/*
 * Instead of sts_breaker_done(): the call was let through but not made
 * after all (e.g. no rate-limit slot in time). Counts nothing; a trial
 * slot it held is free again.
 */
STS_API void sts_breaker_cancel(struct sts_breaker *b);

/* The state now (an open circuit past its cooldown reads half-open). */
STS_API enum sts_breaker_state sts_breaker_state(struct sts_breaker *b);

#endif
