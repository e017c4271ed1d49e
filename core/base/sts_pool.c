/* SPDX-License-Identifier: MIT */
/* A small worker pool over an index range (sts_pool.h). */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "sts_err.h"
#include "sts_mclock.h"
#include "sts_pool.h"

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled when an index is done */
	size_t next, n, done;
	void (*fn)(void *ud, size_t i);
	void *ud;
};

static void *pool_main(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		size_t i = p->next < p->n ? p->next++ : p->n;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->n)
			return NULL;
		p->fn(p->ud, i);
		pthread_mutex_lock(&p->mu);
		p->done++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

/* Until every index is done, call tick after each one and at least every tick_ms. */
static void wait_ticking(struct pool *p, const struct sts_pool_opts *o)
{
	long ms = o->tick_ms > 0 ? o->tick_ms : 1000;
	pthread_mutex_lock(&p->mu);
	while (p->done < p->n) {
		struct timespec t;
		sts_deadline_after_ms(ms, &t);
		pthread_cond_timedwait(&p->cv, &p->mu, &t);
		pthread_mutex_unlock(&p->mu);
		o->tick(o->tick_ud);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
}

STS_API int sts_pool_run_opts(size_t n, const struct sts_pool_opts *o,
			      void (*fn)(void *ud, size_t i), void *ud)
{
	struct pool p = {.next = 0, .n = n, .fn = fn, .ud = ud};
	size_t threads = o->threads ? o->threads : 1;
	if (threads > n)
		threads = n;
	if (threads == 0 || (threads == 1 && !o->tick)) {
		for (size_t i = 0; i < n; i++)
			fn(ud, i);
		return STS_OK;
	}
	pthread_t *t = calloc(threads, sizeof(*t));
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	size_t started = 0;
	for (; t && started < threads; started++)
		if (pthread_create(&t[started], NULL, pool_main, &p) != 0)
			break;
	if (started == 0)
		pool_main(&p); /* no thread could start: do it here */
	else if (o->tick)
		wait_ticking(&p, o);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	free(t);
	return STS_OK;
}

STS_API int sts_pool_run(size_t n, unsigned threads, void (*fn)(void *ud, size_t i), void *ud)
{
	struct sts_pool_opts o = {.threads = threads};
	return sts_pool_run_opts(n, &o, fn, ud);
}
