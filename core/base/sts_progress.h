/* SPDX-License-Identifier: MIT */
#ifndef STS_PROGRESS_H
#define STS_PROGRESS_H

#include <stddef.h>

/*
 * How a long run (plan, apply, check, onboard, render) reports its units
 * (domains) as they finish: done of total, failed of done so far. Core
 * calls it one call at a time (under the run's lock), from any of its
 * threads; it must not call back into the run. The CLI draws it
 * (cli/cli_progress.c); core never prints.
 */
typedef void sts_progress_fn(void *ud, size_t done, size_t total, size_t failed);

#endif
