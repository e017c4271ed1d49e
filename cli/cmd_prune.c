/* SPDX-License-Identifier: MIT */
/* stsctl prune: drop raw reports, aggregates and quarantine past their retention. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sts_ingest.h"
#include "commands.h"
#include "sts_err.h"

/* docs/stsctl-prune.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const prune_usage[] = {
    "stsctl prune [--inventory FILE] [--state PATH] [--raw-days N] [--report-days N] "
    "[--quarantine-days N] [--dry-run] [--json]",
    "",
    "Delete what the retention periods no longer keep, so the state database of a",
    "daemon that runs for years stays small: raw reports after raw_days (default",
    "90), report rows and the daily aggregates after report_days (default 730),",
    "quarantined input after quarantine_days (default 90). The periods come from",
    "the inventory's reports.retention, the options override them; 0 keeps",
    "forever. A report's age counts from the end of its date range, a",
    "quarantined input's from when it was last received.",
    "",
    "  -i, --inventory FILE     reports.retention",
    "      --state PATH         state database (default ./stsctl.db); the lock is",
    "                           PATH.lock",
    "      --raw-days N         keep raw reports N days",
    "      --report-days N      keep report rows and aggregates N days",
    "      --quarantine-days N  keep quarantined input N days",
    "  -n, --dry-run            only count what would go",
    "      --json               print the counts as JSON",
    "  -h, --help               show this help",
    "",
    "Exit status: 0 pruned (or counted); 1 the inventory is invalid or the",
    "database failed; 2 usage error; 3 the state is locked by another stsctl.",
    NULL,
};

struct prune_args {
	long raw, report, quarantine; /* days + 1; 0: not given (the inventory's) */
	bool dry_run;
};

static int parse_days(struct cli_ctx *ctx, const char *opt, void *field, const char *s)
{
	unsigned long v;
	if (cli_parse_ulong(s, 0, 100000, &v) < 0)
		return cli_usage_error(ctx->def->usage, "invalid %s '%s': expected 0..100000 days",
				       opt, s);
	*(long *)field = (long)v + 1;
	return EXIT_OK;
}

static int opt_raw(struct cli_ctx *ctx, void *field, const char *value)
{
	return parse_days(ctx, "--raw-days", field, value);
}

static int opt_report(struct cli_ctx *ctx, void *field, const char *value)
{
	return parse_days(ctx, "--report-days", field, value);
}

static int opt_quarantine(struct cli_ctx *ctx, void *field, const char *value)
{
	return parse_days(ctx, "--quarantine-days", field, value);
}

static const struct cli_opt prune_opts[] = {
    CLI_INVENTORY('i'),
    CLI_STATE,
    CLI_CALLBACK("raw-days", 0, struct prune_args, raw, opt_raw),
    CLI_CALLBACK("report-days", 0, struct prune_args, report, opt_report),
    CLI_CALLBACK("quarantine-days", 0, struct prune_args, quarantine, opt_quarantine),
    CLI_BOOL("dry-run", 'n', struct prune_args, dry_run),
    CLI_JSON,
    CLI_END,
};

static int run(struct cli_ctx *ctx)
{
	const struct prune_args *a = ctx->args;
	struct sts_ingest_pruned res = {0};
	int rc = EXIT_OK;
	struct sts_ingest_retention keep = ctx->conf->retention;
	if (a->raw)
		keep.raw_days = (unsigned)(a->raw - 1);
	if (a->report)
		keep.report_days = (unsigned)(a->report - 1);
	if (a->quarantine)
		keep.quarantine_days = (unsigned)(a->quarantine - 1);
	int r = sts_ingest_prune(ctx->db, &keep, a->dry_run, &res);
	if (r < 0) {
		cli_db_error(ctx, r);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_FAIL;
	}
	if (ctx->json) {
		json_t *doc = json_pack(
		    "{s:b,s:I,s:I,s:I,s:I,s:I}", "dry_run", a->dry_run, "raw", (json_int_t)res.raw,
		    "reports", (json_int_t)res.reports, "daily", (json_int_t)res.daily, "failures",
		    (json_int_t)res.failures, "quarantine", (json_int_t)res.quarantine);
		if (cli_json_print(doc) < 0)
			rc = EXIT_USAGE;
	} else if (cli_verbosity >= 1) {
		fprintf(
		    stderr,
		    "Prune%s: %zu raw reports, %zu reports, %zu daily and %zu failure aggregate "
		    "rows, %zu quarantined inputs\n",
		    a->dry_run ? " (dry run, nothing deleted)" : "", res.raw, res.reports,
		    res.daily, res.failures, res.quarantine);
	}
	return rc;
}

CLI_COMMAND(prune, .args_size = sizeof(struct prune_args));
