/* SPDX-License-Identifier: MIT */
/* A small worker pool over an index range (sts_pool.h). */
#include <pthread.h>
#include <stdlib.h>

#include "sts_err.h"
#include "sts_pool.h"

struct pool {
	pthread_mutex_t mu;
	size_t next, n;
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
	}
}

STS_API int sts_pool_run(size_t n, unsigned threads, void (*fn)(void *ud, size_t i), void *ud)
{
	struct pool p = {.next = 0, .n = n, .fn = fn, .ud = ud};
	if (threads == 0)
		threads = 1;
	if (threads > n)
		threads = (unsigned)n;
	if (threads <= 1) {
		for (size_t i = 0; i < n; i++)
			fn(ud, i);
		return STS_OK;
	}
	pthread_t *t = calloc(threads, sizeof(*t));
	if (!t)
		return STS_ENOMEM;
	pthread_mutex_init(&p.mu, NULL);
	unsigned started = 0;
	for (; started < threads; started++)
		if (pthread_create(&t[started], NULL, pool_main, &p) != 0)
			break;
	if (started == 0)
		pool_main(&p); /* no thread could start: do it here */
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p.mu);
	free(t);
	return STS_OK;
}
