/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_H
#define STS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_diag.h"

/* Exit codes: docs/exit-codes.md. Stable; append only. */
enum cli_exit {
	EXIT_OK = 0,	    /* success: valid, matches, nothing failed */
	EXIT_FAIL = 1,	    /* a negative result: invalid input, failed check, failed domain */
	EXIT_USAGE = 2,	    /* usage error, or input/output that cannot be read or written */
	EXIT_LOCKED = 3,    /* the state lock is held by another stsctl */
	EXIT_STALE = 4,	    /* a saved plan no longer matches the published state */
	EXIT_INTERNAL = 70, /* internal error (EX_SOFTWARE): a bug, please report */
	EXIT_SIGINT = 130,  /* apply stopped by SIGINT after the zones in flight (128 + 2) */
	EXIT_SIGTERM = 143, /* apply stopped by SIGTERM after the zones in flight (128 + 15) */
};

/* Global options (main.c). */
extern int cli_verbosity; /* 0 quiet, 1 normal, 2 verbose */

/* stsctl --version [--json] (version.c); -1 when standard output fails */
int cli_print_version(bool json);
/* stderr is the journal: each line starts with its syslog priority ("<6>", sd-daemon(3)) */
extern bool cli_log_journal;

/* Logging: lowercase messages, no trailing period, quote the subject. */
void sts_log_err(const char *fmt, ...) STS_PRINTF(1, 2);
void sts_log_errno(int err, const char *fmt, ...) STS_PRINTF(2, 3); /* appends ": strerror" */
void sts_log_warn(const char *fmt, ...) STS_PRINTF(1, 2);
void sts_log_info(const char *fmt, ...) STS_PRINTF(1, 2);
void sts_log_debug(const char *fmt, ...) STS_PRINTF(1, 2);

/* Print every diag to stderr ("FILE:LINE:COL: error: PATH: message"). */
void cli_print_diags(const struct sts_diags *d);

/* Usage of the current command to f. */
void cli_usage(FILE *f, const char *const *usage);
/* "usage error" helper: prints the message and the synopsis, returns EXIT_USAGE. */
int cli_usage_error(const char *const *usage, const char *fmt, ...) STS_PRINTF(2, 3);

/* Dump a JSON document to stdout (2-space indent, key order kept) and a newline.
 * Steals the reference. Returns 0 or -1 on write error (logged). */
int cli_json_print(json_t *doc);

/* Is stderr a terminal (progress bars)? */
bool cli_stderr_tty(void);

/* Exit code for a libsts error from reading input (I/O -> EXIT_USAGE, ...). */
int cli_exit_for(int err);

struct sts_buf;
/* Read the file at path ('-' = stdin) into b, initialised here with cap; on
 * failure "cannot read <what>'path'" is logged, b released and the exit code
 * returned (what: "" or a noun and a blank, "CSV "). 0 on success. */
int cli_read_file(struct sts_buf *b, size_t cap, const char *path, const char *what);

#endif
