/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_progress.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_escape.h"

int cli_verbosity = 1;
bool cli_log_journal;

/* at most this much of one message is shown (escaped, it may grow 6 times) */
#define LOG_MSG_MAX (16u * 1024u)

/*
 * One line per message, written with one call under the stream lock (the
 * receiver logs from libmicrohttpd's threads). Everything formatted into
 * the message is escaped by sts_escape_append (core/base/sts_escape.h): a
 * request path or report field with a newline, "<3>" or an ANSI sequence
 * cannot start another journal entry, forge a priority or reach the
 * terminal.
 */
static void vlog(const char *level, int err, const char *fmt, va_list ap)
{
	char *msg = NULL;
	int n = vasprintf(&msg, fmt, ap);
	struct sts_buf b;
	sts_buf_init(&b, 8 * LOG_MSG_MAX);
	if (cli_log_journal) /* error 3, warning 4, info 6, debug 7 */
		sts_buf_printf(&b, "<%c>",
			       level[0] == 'e'	 ? '3'
			       : level[0] == 'w' ? '4'
			       : level[0] == 'd' ? '7'
						 : '6');
	sts_buf_printf(&b, "stsctl: %s", level);
	if (n < 0)
		sts_buf_puts(&b, "(out of memory)");
	else if (sts_escape_append(&b, msg, (size_t)n < LOG_MSG_MAX ? (size_t)n : LOG_MSG_MAX) ==
		     STS_OK &&
		 (size_t)n > LOG_MSG_MAX)
		sts_buf_printf(&b, "... (%d bytes)", n);
	if (err)
		sts_buf_printf(&b, ": %s", sts_strerror(err));
	sts_buf_putc(&b, '\n');
	cli_progress_erase(); /* the live progress line, if drawn, is redrawn later */
	flockfile(stderr);
	fwrite(sts_buf_str(&b), 1, b.len, stderr);
	funlockfile(stderr);
	sts_buf_release(&b);
	free(msg);
}

/* The body of a logger with a format and "...": the message at this level. */
#define VLOG(level, err)                                                                           \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(level, err, fmt, ap);                                                         \
		va_end(ap);                                                                        \
	} while (0)

void sts_log_err(const char *fmt, ...)
{
	VLOG("error: ", 0);
}

void sts_log_errno(int err, const char *fmt, ...)
{
	VLOG("error: ", err ? err : -1);
}

void sts_log_warn(const char *fmt, ...)
{
	if (cli_verbosity >= 1)
		VLOG("warning: ", 0);
}

void sts_log_info(const char *fmt, ...)
{
	if (cli_verbosity >= 1)
		VLOG("", 0);
}

void sts_log_debug(const char *fmt, ...)
{
	if (cli_verbosity >= 2)
		VLOG("debug: ", 0);
}

void cli_print_diags(const struct sts_diags *d)
{
	struct sts_buf b, line; /* a diagnostic quotes input: escaped like a log line */
	sts_buf_init(&b, 1u << 20);
	sts_buf_init(&line, 4u << 20);
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].severity != STS_SEV_ERROR && cli_verbosity < 1)
			continue;
		sts_buf_reset(&b);
		sts_buf_reset(&line);
		/* FILE:LINE:COL: as compilers write it; without a file, stsctl's prefix */
		if (!d->v[i].file)
			sts_buf_puts(&line, "stsctl: ");
		if (sts_diag_format(&d->v[i], &b) == 0 &&
		    sts_escape_append(&line, sts_buf_str(&b), b.len) == 0 &&
		    sts_buf_putc(&line, '\n') == 0)
			fwrite(sts_buf_str(&line), 1, line.len, stderr);
	}
	if (d->dropped)
		fprintf(stderr, "stsctl: %zu more diagnostics not shown\n", d->dropped);
	sts_buf_release(&line);
	sts_buf_release(&b);
}

void cli_usage(FILE *f, const char *const *usage)
{
	for (size_t i = 0; usage[i]; i++)
		fprintf(f, "%s\n", usage[i]);
}

int cli_usage_error(const char *const *usage, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("error: ", 0, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: %s\n", usage[0]);
	for (size_t i = 1; usage[i] && usage[i][0] != '\0'; i++)
		fprintf(stderr, "   or: %s\n", usage[i]);
	/* usage[0] starts "stsctl CMD ...": point at that command's help */
	const char *sp = strchr(usage[0], ' ');
	size_t n = sp ? strcspn(sp + 1, " ") + (size_t)(sp + 1 - usage[0]) : strlen(usage[0]);
	fprintf(stderr, "(see '%.*s --help')\n", (int)n, usage[0]);
	return EXIT_USAGE;
}

int cli_json_print(json_t *doc)
{
	if (!doc) {
		sts_log_err("out of memory");
		return -1;
	}
	int r =
	    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
	json_decref(doc);
	if (r < 0 || fputc('\n', stdout) == EOF) {
		sts_log_err("cannot write to standard output");
		return -1;
	}
	return 0;
}

bool cli_stderr_tty(void)
{
	return isatty(STDERR_FILENO) == 1;
}

int cli_exit_for(int err)
{
	switch (err) {
	case STS_OK:
		return EXIT_OK;
	case STS_EINVALID:
	case STS_EPARSE:
	case STS_EVERIFY:
	case STS_EPROVIDER:
	case STS_ECONFLICT:
	case STS_EREFUSED:
		return EXIT_FAIL;
	case STS_ELOCKED:
		return EXIT_LOCKED;
	case STS_ESTALE:
		return EXIT_STALE;
	case STS_ENOMEM:
		return EXIT_INTERNAL;
	default:
		return EXIT_USAGE;
	}
}

int cli_read_file(struct sts_buf *b, size_t cap, const char *path, const char *what)
{
	sts_buf_init(b, cap);
	int r = sts_buf_read_file(b, path);
	if (r == STS_OK)
		return EXIT_OK;
	sts_log_errno(r, "cannot read %s'%s'", what, path);
	sts_buf_release(b);
	return cli_exit_for(r);
}
