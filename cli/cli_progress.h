/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_PROGRESS_H
#define STS_CLI_PROGRESS_H

/*
 * The progress of a long command on standard error (cli_progress.c), for
 * plan, apply, check, onboard, ingest and render -o. On a terminal: one
 * live line (done/total, percent, rate, ETA, failures so far) redrawn at
 * most 10 times a second and erased before any other output (log.c) and
 * at the end. Without a terminal: one plain line every 10 seconds, and a
 * last one at the end when one was written. -q silences both;
 * --progress=auto|always|never overrides (always: the live line even
 * without a terminal). Standard output is never touched.
 */

#include <stdbool.h>
#include <stddef.h>

#include "sts_progress.h"

struct cli_ctx;

enum cli_progress_mode {
	CLI_PROGRESS_AUTO = 0, /* live on a terminal, plain lines otherwise; none with -q */
	CLI_PROGRESS_ALWAYS,   /* the live line, terminal or not */
	CLI_PROGRESS_NEVER,
};

/* CLI_OPT_CALLBACK of --progress[=auto|always|never] (an int; bare: always). */
int cli_opt_progress(struct cli_ctx *ctx, void *field, const char *value);
#define CLI_PROGRESS(T, field)                                                                     \
	{                                                                                          \
		.name = "progress", .type = CLI_OPT_CALLBACK, .off = offsetof(T, field),           \
		.cb = cli_opt_progress, .flags = CLI_OPT_OPTIONAL_VALUE                            \
	}

/*
 * Start showing the progress of WHAT ("apply") over total UNITs ("domains";
 * total 0: not known, counted without percent and ETA) in mode; nothing
 * when the mode and the terminal say so. One at a time per process.
 */
void cli_progress_start(int mode, const char *what, const char *unit, size_t total);
/* done of total, failed so far (sts_progress_fn; ud unused); thread-safe. */
void cli_progress_update(void *ud, size_t done, size_t total, size_t failed);
/* Is a progress shown (an sts_progress_fn to hand to core), or NULL. */
sts_progress_fn *cli_progress_fn(void);
/* Erase the live line, if drawn (before other output to stderr); thread-safe. */
void cli_progress_erase(void);
/* The end: the live line drawn at its last state and erased, or the last plain line. */
void cli_progress_end(void);

#endif
