/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_CMD_CHECK_H
#define STS_CLI_CMD_CHECK_H

#include <getopt.h>

#include "sts_check.h"

/*
 * Options and helpers shared by stsctl check and stsctl onboard
 * (cmd_check.c): the network options, the domain list, the progress bar.
 */

/* getopt_long values of the shared options (above any short option). */
enum {
	NETOPT_RESOLVER = 0x100,
	NETOPT_CA_FILE,
	NETOPT_SMTP_PORT,
	NETOPT_TIMEOUT,
	NETOPT_DNS_TIMEOUT,
	NETOPT_CONCURRENCY,
	NETOPT_HELO,
	NETOPT_PROGRESS,
	NETOPT_NO_PROGRESS,
	NETOPT_HTTPS_PORT,
};

#define NETOPT_LONGOPTS                                                                            \
	{"resolver", required_argument, NULL, NETOPT_RESOLVER},                                    \
	    {"ca-file", required_argument, NULL, NETOPT_CA_FILE},                                  \
	    {"smtp-port", required_argument, NULL, NETOPT_SMTP_PORT},                              \
	    {"https-port", required_argument, NULL, NETOPT_HTTPS_PORT},                            \
	    {"timeout", required_argument, NULL, NETOPT_TIMEOUT},                                  \
	    {"dns-timeout", required_argument, NULL, NETOPT_DNS_TIMEOUT},                          \
	    {"concurrency", required_argument, NULL, NETOPT_CONCURRENCY},                          \
	    {"helo", required_argument, NULL, NETOPT_HELO},                                        \
	    {"progress", no_argument, NULL, NETOPT_PROGRESS},                                      \
	{                                                                                          \
		"no-progress", no_argument, NULL, NETOPT_NO_PROGRESS                               \
	}

struct netopts {
	struct sts_check_opts check;
	int progress; /* -1 auto (a terminal), 0 off, 1 on */
};

void netopts_init(struct netopts *n);
/*
 * Handle one shared option c with its argument: 1 handled, 0 not a shared
 * option, -1 a bad value (reported as a usage error; return EXIT_USAGE).
 */
int netopts_parse(struct netopts *n, int c, const char *arg, const char *const *usage);
/* Turn the progress bar on when asked (or on a terminal) and not --quiet. */
void netopts_progress(struct netopts *n);
/* Erase the progress bar line, if one was drawn. */
void netopts_progress_done(struct netopts *n);
/* Report a failed check or onboard run ("cannot WHAT: ..."); the exit code. */
int netopts_fail(int r, const char *why, const char *what);

/* Load and validate an inventory, reporting problems: 0 or an exit code. */
int cli_inventory_load(const char *path, struct sts_inventory **ret);

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
