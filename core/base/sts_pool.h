/* SPDX-License-Identifier: MIT */
#ifndef STS_POOL_H
#define STS_POOL_H

/* A small worker pool (core/base/sts_pool.c), used by plan, apply and the watcher. */
#include <stddef.h>

#include "sts_api.h"

struct sts_pool_opts {
	unsigned threads; /* at most this many threads (0: 1), never more than there is work */
	/*
	 * NULL, or called on the caller's thread while the work runs on others
	 * (the systemd watchdog): after each index is done and at least every
	 * tick_ms (0: 1000). With a tick, even one thread's work runs on a
	 * thread of its own.
	 */
	void (*tick)(void *ud);
	void *tick_ud;
	long tick_ms;
};

/*
 * Run fn(ud, i) for every i in [0, n) on the pool's threads, each index
 * exactly once, and return when all are done. Without threads to spare
 * (one thread and no tick, or none could be started) the calls run on the
 * caller's thread, one after the other. fn is called concurrently from
 * several threads: it must be thread-safe for distinct i. Returns STS_OK.
 */
STS_API int sts_pool_run_opts(size_t n, const struct sts_pool_opts *o,
			      void (*fn)(void *ud, size_t i), void *ud);

/* sts_pool_run_opts() with threads and no tick. */
STS_API int sts_pool_run(size_t n, unsigned threads, void (*fn)(void *ud, size_t i), void *ud);

#endif
