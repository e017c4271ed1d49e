/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_NETOPTS_H
#define STS_CLI_NETOPTS_H

/*
 * What stsctl check and stsctl onboard share (cli_netopts.c): the network
 * options, the domain list, the progress bar.
 */

#include "cli_ctx.h"
#include "cli_opts.h"
#include "cli_progress.h"
#include "sts_check.h"

struct netopts {
	struct sts_check_opts check;
	int progress; /* enum cli_progress_mode */
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
	    CLI_STRING("helo", 0, T, field.check.helo), CLI_PROGRESS(T, field.progress),           \
	    CLI_SET_INT("no-progress", 0, T, field.progress, CLI_PROGRESS_NEVER)

/* Their lines in a usage array (check and onboard: docs/stsctl-check.md, stsctl-onboard.md). */
#define NETOPTS_USAGE_CONNECT                                                                      \
	"    --concurrency N        check N domains at a time (default 10, at most 512)",          \
	    "    --resolver IP[:PORT]   send DNS queries to this server, not resolv.conf's",       \
	    "    --ca-file FILE         trust anchors for the policy and MX certificates",         \
	    "    --smtp-port PORT       probe MX hosts on PORT instead of 25",                     \
	    "    --https-port PORT      fetch policies from PORT instead of 443",                  \
	    "    --timeout SECONDS      per connection (default 15)",                              \
	    "    --dns-timeout SECONDS  per DNS lookup (default 5)"
#define NETOPTS_USAGE_PROGRESS                                                                     \
	"    --progress=WHEN        progress on standard error: auto (default: a live",            \
	    "                           line on a terminal, else a line every 10 s; none",         \
	    "                           with -q), always (the live line) or never",                \
	    "    --progress, --no-progress",                                                       \
	    "                           the old spelling of always and never"

/* "SECONDS" (0 < s <= 3600) in milliseconds; 0 or -1. */
int cli_parse_seconds(const char *arg, long *ret_ms);

/* Show the progress of WHAT over n domains as --progress says (cli_progress.h). */
void netopts_progress(struct netopts *n, const char *what, size_t total);
/* After the run that returned r: end the progress line, then report a
 * failure ("cannot WHAT: ..."); the exit code. */
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
