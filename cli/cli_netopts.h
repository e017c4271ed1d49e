/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_NETOPTS_H
#define STS_CLI_NETOPTS_H

/*
 * What stsctl check and stsctl onboard share (cli_netopts.c): the network
 * options, the domain list, the progress bar.
 */

#include "cli_ctx.h"
#include "cli_opts.h"
#include "sts_check.h"

enum { NETOPT_PROGRESS_AUTO, NETOPT_PROGRESS_ON, NETOPT_PROGRESS_OFF };

struct netopts {
	struct sts_check_opts check;
	int progress; /* NETOPT_PROGRESS_*: auto is on a terminal */
};

/* CLI_OPT_CALLBACK: the resolver (const char *), checked to be IP[:PORT] */
int netopt_resolver(struct cli_ctx *ctx, void *field, const char *value);
/* CLI_OPT_CALLBACK: a readable file (const char *) */
int netopt_ca_file(struct cli_ctx *ctx, void *field, const char *value);
/* CLI_OPT_CALLBACK: SECONDS into milliseconds (long) */
int netopt_seconds(struct cli_ctx *ctx, void *field, const char *value);

/* The rows of the shared options in an option table; field: a struct netopts. */
#define CLI_NETOPTS(T, field)                                                                      \
	CLI_CALLBACK("resolver", 0, T, field.check.resolver, netopt_resolver),                     \
	    CLI_CALLBACK("ca-file", 0, T, field.check.ca_file, netopt_ca_file),                    \
	    CLI_UINT("smtp-port", 0, T, field.check.smtp_port, 1, 65535, "invalid port '%s'"),     \
	    CLI_UINT("https-port", 0, T, field.check.https_port, 1, 65535, "invalid port '%s'"),   \
	    CLI_CALLBACK("timeout", 0, T, field.check.timeout_ms, netopt_seconds),                 \
	    CLI_CALLBACK("dns-timeout", 0, T, field.check.dns_timeout_ms, netopt_seconds),         \
	    CLI_UINT("concurrency", 0, T, field.check.concurrency, 1, STS_CHECK_CONCURRENCY_MAX,   \
		     "invalid concurrency '%s' (%lu to %lu)"),                                     \
	    CLI_STRING("helo", 0, T, field.check.helo),                                            \
	    CLI_SET_INT("progress", 0, T, field.progress, NETOPT_PROGRESS_ON),                     \
	    CLI_SET_INT("no-progress", 0, T, field.progress, NETOPT_PROGRESS_OFF)

/* "SECONDS" (0 < s <= 3600) in milliseconds; 0 or -1. */
int cli_parse_seconds(const char *arg, long *ret_ms);

/* Turn the progress bar on when asked (or on a terminal) and not --quiet. */
void netopts_progress(struct netopts *n);
/* After the run that returned r: erase the progress bar line, if one was
 * drawn, then report a failure ("cannot WHAT: ..."); the exit code. */
int netopts_done(struct netopts *n, int r, const char *why, const char *what);

/* A list of normalised domain names. */
struct namelist {
	char **v;
	size_t n, cap;
};

/* Normalise and add one name; 0, or an exit code (usage error reported). */
int namelist_add(struct namelist *l, const char *name, const char *const *usage);
/* Add every line of FILE ('-' = stdin); '#' comments and blank lines skipped. */
int namelist_read(struct namelist *l, const char *path, const char *const *usage);
void namelist_release(struct namelist *l);

#endif
