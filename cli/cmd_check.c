/* SPDX-License-Identifier: MIT */
/*
 * stsctl check: live audit of MTA-STS and TLS-RPT deployments
 * (core/check/sts_check.h does the work). The report goes to stdout (text or
 * --json); usage and I/O errors to stderr; a progress bar on a terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

#include "cli.h"
#include "cli_scope.h"
#include "cli_netopts.h"
#include "commands.h"
#include "sts_buf.h"
#include "sts_err.h"

static const char *const check_usage[] = {
    "stsctl check [OPTIONS] DOMAIN...",
    "stsctl check [OPTIONS] --file FILE",
    "stsctl check [OPTIONS] --inventory FILE [--tenant NAME]... [DOMAIN...]",
    "",
    "Audit live MTA-STS and TLS-RPT deployments as sending MTAs see them: the",
    "_mta-sts record, the policy over HTTPS, every MX against the policy and over",
    "STARTTLS, the _smtp._tls record; with --inventory, drift from the inventory.",
    "",
    "    --json                 print the report as JSON",
    "    --inventory FILE       compare with the inventory; without DOMAIN, check",
    "                           every domain in it",
    "    --tenant NAME          with --inventory: check this tenant's domains",
    "                           (repeatable; with DOMAIN: both)",
    "    -f, --file FILE        read domains from FILE, one per line ('-': stdin)",
    NETOPTS_USAGE_CONNECT,
    "    --no-smtp              skip the STARTTLS probes of the MX hosts",
    "    --helo NAME            EHLO name of the probes (default localhost)",
    "    --warn-days N          warn about certificates expiring within N days",
    "                           (default 14)",
    "    --max-mx N             probe at most N MX hosts per domain; more fail",
    "                           the domain (default 32, at most 1000)",
    "    --domain-timeout SECONDS",
    "                           probe no MX host of a domain after this long;",
    "                           the ones left fail it (default 120)",
    NETOPTS_USAGE_PROGRESS,
    "    -h, --help             show this help",
    "",
    "Exit status: 0 no domain fails (warnings allowed), 1 a domain fails, 2 usage",
    "or I/O error.",
    NULL,
};

/* ---- stsctl check ---- */

struct check_args {
	struct netopts net;
	struct namelist names;
	bool no_smtp;
	struct cli_scope scope; /* --tenant */
};

static int opt_file(struct cli_ctx *ctx, void *field, const char *value)
{
	return namelist_read(field, value, ctx->def->usage);
}

static int opt_warn_days(struct cli_ctx *ctx, void *field, const char *value)
{
	unsigned long v;
	if (cli_parse_ulong(value, 0, 3650, &v) < 0)
		return cli_usage_error(ctx->def->usage, "invalid number of days '%s'", value);
	((struct netopts *)field)->check.warn_days = v ? (int)v : -1;
	return EXIT_OK;
}

static const struct cli_opt check_opts[] = {
    CLI_JSON,
    CLI_INVENTORY(0),
    CLI_TENANT(struct check_args, scope),
    CLI_CALLBACK("file", 'f', struct check_args, names, opt_file),
    CLI_BOOL("no-smtp", 0, struct check_args, no_smtp),
    CLI_CALLBACK("warn-days", 0, struct check_args, net, opt_warn_days),
    CLI_UINT("max-mx", 0, struct check_args, net.check.max_mx, 1, STS_CHECK_MAX_MX_MAX,
	     "invalid MX limit '%s' (%lu to %lu)"),
    CLI_CALLBACK("domain-timeout", 0, struct check_args, net.check.domain_timeout_ms,
		 netopt_seconds),
    CLI_NETOPTS(struct check_args, net),
    CLI_END,
};

static int print_report(const struct sts_check_report *rep, bool json)
{
	if (json)
		return cli_json_print(sts_check_json(rep)) < 0 ? EXIT_USAGE : EXIT_OK;
	struct sts_buf out;
	sts_buf_init(&out, (size_t)1 << 30);
	int r = sts_check_text(rep, &out);
	if (r < 0) {
		sts_buf_release(&out);
		sts_log_errno(r, "cannot write the report");
		return cli_exit_for(r);
	}
	fwrite(sts_buf_str(&out), 1, out.len, stdout);
	sts_buf_release(&out);
	if (rep->n > 1)
		printf("%zu domains: %zu pass, %zu warn, %zu fail\n", rep->n, rep->n_pass,
		       rep->n_warn, rep->n_fail);
	return EXIT_OK;
}

/* The names given, before the inventory is loaded. */
static int prepare(struct cli_ctx *ctx)
{
	struct check_args *a = ctx->args;
	int rc = EXIT_OK;
	for (int i = 0; rc == EXIT_OK && i < ctx->argc; i++)
		rc = namelist_add(&a->names, ctx->argv[i], check_usage);
	return rc;
}

static int run(struct cli_ctx *ctx)
{
	struct check_args *a = ctx->args;
	struct sts_check_report rep = {0};
	int rc = EXIT_OK;
	a->net.check.no_smtp = a->no_smtp;
	if ((rc = cli_scope_resolve(ctx, &a->scope)) != EXIT_OK)
		return rc;
	if (ctx->inv) {
		/* without DOMAIN every domain, with --tenant (also) the tenants' */
		bool all = a->names.n == 0 && !a->scope.active;
		for (size_t i = 0; i < ctx->inv->n_domains; i++)
			if ((all || (a->scope.active &&
				     cli_scope_has(&a->scope, ctx->inv->domains[i].name))) &&
			    (rc = namelist_add(&a->names, ctx->inv->domains[i].name, check_usage)))
				return rc;
		a->net.check.inventory = ctx->inv;
	}
	if (a->names.n == 0)
		return cli_usage_error(check_usage, "no domain to check");
	netopts_progress(&a->net, "check", a->names.n);
	const char *why = NULL;
	int r =
	    sts_check_run((const char *const *)a->names.v, a->names.n, &a->net.check, &rep, &why);
	if ((rc = netopts_done(&a->net, r, why, "check")))
		goto out;
	rc = print_report(&rep, ctx->json);
	if (rc == EXIT_OK && rep.n_fail)
		rc = EXIT_FAIL;
out:
	sts_check_report_release(&rep);
	return rc;
}

static void release(struct cli_ctx *ctx)
{
	struct check_args *a = ctx->args;
	namelist_release(&a->names);
	cli_scope_release(&a->scope);
}

CLI_COMMAND(check, .args_size = sizeof(struct check_args), .max_args = -1, .prepare = prepare,
	    .release = release);
