/* SPDX-License-Identifier: MIT */
#ifndef STS_POOL_H
#define STS_POOL_H

/* A small worker pool (core/base/sts_pool.c), used by plan and apply. */
#include <stddef.h>

#include "sts_api.h"

/*
 * Run fn(ud, i) for every i in [0, n) on up to threads threads (0: 1),
 * each index exactly once, and return when all are done. With one thread,
 * or when no thread can be started, the calls run on the caller's thread.
 * fn is called concurrently from several threads: it must be thread-safe
 * for distinct i. STS_OK, or STS_ENOMEM (nothing was run).
 */
STS_API int sts_pool_run(size_t n, unsigned threads, void (*fn)(void *ud, size_t i), void *ud);

#endif
