/* SPDX-License-Identifier: MIT */
/* Closed, open, half-open: the circuit breaker (sts_breaker.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "sts_breaker.h"
#include "sts_err.h"

struct sts_breaker {
	pthread_mutex_t mu;
	struct sts_mclock clock;
	unsigned threshold;
	long long cooldown_ns;
	enum sts_breaker_state state;
	unsigned failures;   /* in a row */
	long long opened_at; /* ns on the clock */
	bool trial;	     /* half-open: the trial call is running */
};

STS_API int sts_breaker_new(const struct sts_breaker_opts *o, const struct sts_mclock *clock,
			    struct sts_breaker **ret)
{
	struct sts_breaker *b = calloc(1, sizeof(*b));
	if (!b)
		return STS_ENOMEM;
	if (clock)
		b->clock = *clock;
	b->threshold = o && o->failures ? o->failures : 5;
	b->cooldown_ns = (o && o->cooldown_ms > 0 ? o->cooldown_ms : 30000) * STS_NS_PER_MS;
	pthread_mutex_init(&b->mu, NULL);
	*ret = b;
	return STS_OK;
}

STS_API void sts_breaker_free(struct sts_breaker *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* mu held: an open circuit whose cooldown is over becomes half-open. */
static enum sts_breaker_state current(struct sts_breaker *b, long long now)
{
	if (b->state == STS_BREAKER_OPEN && now - b->opened_at >= b->cooldown_ns) {
		b->state = STS_BREAKER_HALF_OPEN;
		b->trial = false;
	}
	return b->state;
}

STS_API int sts_breaker_enter(struct sts_breaker *b, char *errbuf, size_t errlen)
{
	int r = STS_OK;
	pthread_mutex_lock(&b->mu);
	long long now = sts_mclock_now_ns(&b->clock);
	switch (current(b, now)) {
	case STS_BREAKER_CLOSED:
		break;
	case STS_BREAKER_HALF_OPEN:
		if (!b->trial) {
			b->trial = true;
			break;
		}
		r = STS_EAGAIN;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "circuit half-open, a trial call is running");
		break;
	case STS_BREAKER_OPEN: {
		r = STS_EAGAIN;
		long long left = b->opened_at + b->cooldown_ns - now;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "circuit open after %u failures, retry in %lld s",
				 b->failures, (left + STS_NS_PER_S - 1) / STS_NS_PER_S);
		break;
	}
	}
	pthread_mutex_unlock(&b->mu);
	return r;
}

STS_API void sts_breaker_done(struct sts_breaker *b, bool ok)
{
	pthread_mutex_lock(&b->mu);
	long long now = sts_mclock_now_ns(&b->clock);
	enum sts_breaker_state s = current(b, now);
	if (ok) {
		b->state = STS_BREAKER_CLOSED;
		b->failures = 0;
		b->trial = false;
	} else if (s == STS_BREAKER_HALF_OPEN ||
		   (s == STS_BREAKER_CLOSED && ++b->failures >= b->threshold)) {
		if (s == STS_BREAKER_HALF_OPEN)
			b->failures++;
		b->state = STS_BREAKER_OPEN;
		b->opened_at = now;
		b->trial = false;
	}
	pthread_mutex_unlock(&b->mu);
}

STS_API void sts_breaker_cancel(struct sts_breaker *b)
{
	pthread_mutex_lock(&b->mu);
	b->trial = false;
	pthread_mutex_unlock(&b->mu);
}

STS_API enum sts_breaker_state sts_breaker_state(struct sts_breaker *b)
{
	pthread_mutex_lock(&b->mu);
	enum sts_breaker_state s = current(b, sts_mclock_now_ns(&b->clock));
	pthread_mutex_unlock(&b->mu);
	return s;
}
