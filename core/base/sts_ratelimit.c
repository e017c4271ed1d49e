/* SPDX-License-Identifier: MIT */
/* Windows, rates and pauses for the calls to one provider (sts_ratelimit.h). */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_ratelimit.h"

/* At most count starts in any window_ns: the last count start times, oldest at head. */
struct window {
	long long window_ns;
	unsigned count, head, used;
	long long *starts;
};

struct sts_ratelimit {
	pthread_mutex_t mu;
	struct sts_mclock clock;
	struct window *w;
	size_t n;
	long long pause_until; /* ns on the clock; 0 = none */
	int paused;	       /* pause_until is set */
};

STS_API int sts_ratelimit_new(const struct sts_mclock *clock, struct sts_ratelimit **ret)
{
	struct sts_ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return STS_ENOMEM;
	if (clock)
		rl->clock = *clock;
	pthread_mutex_init(&rl->mu, NULL);
	*ret = rl;
	return STS_OK;
}

STS_API void sts_ratelimit_free(struct sts_ratelimit *rl)
{
	if (!rl)
		return;
	while (rl->n > 0)
		free(rl->w[--rl->n].starts);
	free(rl->w);
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

static int add(struct sts_ratelimit *rl, unsigned count, long long window_ns)
{
	if (count == 0 || count > STS_RATELIMIT_COUNT_MAX || window_ns <= 0)
		return STS_EINVAL;
	long long *starts = calloc(count, sizeof(*starts));
	if (!starts)
		return STS_ENOMEM;
	pthread_mutex_lock(&rl->mu);
	struct window *w = realloc(rl->w, (rl->n + 1) * sizeof(*w));
	if (w) {
		rl->w = w;
		rl->w[rl->n++] =
		    (struct window){.window_ns = window_ns, .count = count, .starts = starts};
	}
	pthread_mutex_unlock(&rl->mu);
	if (!w) {
		free(starts);
		return STS_ENOMEM;
	}
	return STS_OK;
}

STS_API int sts_ratelimit_add_window(struct sts_ratelimit *rl, unsigned count, long long window_ms)
{
	if (window_ms <= 0 || window_ms > 366LL * 86400 * 1000)
		return STS_EINVAL;
	return add(rl, count, window_ms * STS_NS_PER_MS);
}

STS_API int sts_ratelimit_add_rate(struct sts_ratelimit *rl, unsigned per_sec)
{
	if (per_sec == 0)
		return STS_EINVAL;
	return add(rl, 1, STS_NS_PER_S / per_sec);
}

static long long parse_uint(const char **p)
{
	long long v = 0;
	const char *s = *p;
	while (*s >= '0' && *s <= '9' && v <= 100000000LL)
		v = v * 10 + (*s++ - '0');
	if (s == *p || v > 100000000LL)
		return -1;
	*p = s;
	return v;
}

/* One "COUNT/UNIT" or "COUNT/NUNIT" at *p, up to a ',' or the end. */
static int parse_one(const char **p, unsigned *ret_count, long long *ret_window_ms, bool *ret_rate)
{
	long long count = parse_uint(p), n = 1, unit;
	if (count <= 0 || count > STS_RATELIMIT_COUNT_MAX || *(*p)++ != '/')
		return STS_EINVAL;
	bool bare = !(**p >= '0' && **p <= '9');
	if (!bare && (n = parse_uint(p)) <= 0)
		return STS_EINVAL;
	switch (*(*p)++) {
	case 's':
		unit = 1000;
		break;
	case 'm':
		unit = 60 * 1000;
		break;
	case 'h':
		unit = 3600 * 1000;
		break;
	default:
		return STS_EINVAL;
	}
	if (**p && **p != ',')
		return STS_EINVAL;
	*ret_count = (unsigned)count;
	*ret_window_ms = n * unit;
	*ret_rate = bare && unit == 1000;
	return STS_OK;
}

STS_API int sts_ratelimit_add_spec(struct sts_ratelimit *rl, const char *spec)
{
	unsigned count;
	long long window_ms;
	bool rate;
	/* all checked first: a bad list adds nothing */
	for (const char *p = spec;; p += strspn(p + 1, " ") + 1) {
		if (parse_one(&p, &count, &window_ms, &rate) < 0)
			return STS_EINVAL;
		if (!*p)
			break;
	}
	for (const char *p = spec;; p += strspn(p + 1, " ") + 1) {
		parse_one(&p, &count, &window_ms, &rate);
		int r = rate ? sts_ratelimit_add_rate(rl, count)
			     : sts_ratelimit_add_window(rl, count, window_ms);
		if (r < 0 || !*p)
			return r;
	}
}

/* Earliest start time every window and the pause allow; mu held. */
static long long earliest(const struct sts_ratelimit *rl, long long now)
{
	long long t = now;
	if (rl->paused && rl->pause_until > t)
		t = rl->pause_until;
	for (size_t i = 0; i < rl->n; i++) {
		const struct window *w = &rl->w[i];
		if (w->used < w->count)
			continue;
		long long free_at = w->starts[w->head] + w->window_ns;
		if (free_at > t)
			t = free_at;
	}
	return t;
}

static void count_start(struct sts_ratelimit *rl, long long now)
{
	for (size_t i = 0; i < rl->n; i++) {
		struct window *w = &rl->w[i];
		if (w->used < w->count) {
			w->starts[(w->head + w->used++) % w->count] = now;
		} else {
			w->starts[w->head] = now;
			w->head = (w->head + 1) % w->count;
		}
	}
}

STS_API int sts_ratelimit_acquire(struct sts_ratelimit *rl, long long timeout_ms)
{
	long long start = sts_mclock_now_ns(&rl->clock);
	bool forever = timeout_ms < 0 || timeout_ms > 366LL * 86400 * 1000; /* no overflow */
	long long deadline = forever ? -1 : start + timeout_ms * STS_NS_PER_MS;
	for (;;) {
		pthread_mutex_lock(&rl->mu);
		long long now = sts_mclock_now_ns(&rl->clock);
		long long t = earliest(rl, now);
		if (t <= now)
			count_start(rl, now);
		pthread_mutex_unlock(&rl->mu);
		if (t <= now)
			return STS_OK;
		if (deadline >= 0 && t > deadline)
			return STS_EAGAIN;
		sts_mclock_sleep_ns(&rl->clock, t - now);
	}
}

STS_API void sts_ratelimit_pause(struct sts_ratelimit *rl, long long ms)
{
	if (ms <= 0)
		return;
	if (ms > 366LL * 86400 * 1000)
		ms = 366LL * 86400 * 1000;
	pthread_mutex_lock(&rl->mu);
	long long until = sts_mclock_now_ns(&rl->clock) + ms * STS_NS_PER_MS;
	if (!rl->paused || until > rl->pause_until)
		rl->pause_until = until;
	rl->paused = 1;
	pthread_mutex_unlock(&rl->mu);
}

STS_API long long sts_ratelimit_wait_ms(struct sts_ratelimit *rl)
{
	pthread_mutex_lock(&rl->mu);
	long long now = sts_mclock_now_ns(&rl->clock);
	long long t = earliest(rl, now);
	pthread_mutex_unlock(&rl->mu);
	return (t - now + STS_NS_PER_MS - 1) / STS_NS_PER_MS;
}
