/* SPDX-License-Identifier: MIT */
/* stsctl prune: drop raw reports, aggregates and quarantine past their retention. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_ingest.h"
#include "commands.h"
#include "sts_err.h"

/* docs/stsctl-prune.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
const char *const prune_usage[] = {
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

enum {
	OPT_STATE = 1000,
	OPT_RAW,
	OPT_REPORT,
	OPT_QUARANTINE,
	OPT_JSON,
};

static int parse_days(const char *opt, const char *s, long *ret)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || end == s || v < 0 || v > 100000)
		return cli_usage_error(prune_usage, "invalid %s '%s': expected 0..100000 days", opt,
				       s);
	*ret = v;
	return EXIT_OK;
}

struct prune_args {
	const char *inventory, *state;
	long raw, report, quarantine; /* -1: from the inventory */
	bool dry_run, json;
};

static int run(const struct prune_args *a)
{
	struct report_ctx c = {0};
	struct sts_ingest_pruned res = {0};
	int rc = report_ctx_open(&c, a->inventory, a->state, RCTX_WRITER | RCTX_LOCK);
	if (rc != EXIT_OK)
		goto out;
	struct sts_ingest_retention keep = c.conf->retention;
	if (a->raw >= 0)
		keep.raw_days = (unsigned)a->raw;
	if (a->report >= 0)
		keep.report_days = (unsigned)a->report;
	if (a->quarantine >= 0)
		keep.quarantine_days = (unsigned)a->quarantine;
	int r = sts_ingest_prune(c.db, &keep, a->dry_run, &res);
	if (r < 0) {
		sts_log_err("state database '%s': %s", c.state_path,
			    r == STS_EDB ? sts_db_errmsg(c.db) : sts_strerror(r));
		rc = r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_FAIL;
		goto out;
	}
	if (a->json) {
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
out:
	report_ctx_close(&c);
	return rc;
}

int cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"inventory", required_argument, NULL, 'i'},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"raw-days", required_argument, NULL, OPT_RAW},
	    {"report-days", required_argument, NULL, OPT_REPORT},
	    {"quarantine-days", required_argument, NULL, OPT_QUARANTINE},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct prune_args a = {.raw = -1, .report = -1, .quarantine = -1};
	int c, rc;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			a.inventory = optarg;
			break;
		case OPT_STATE:
			a.state = optarg;
			break;
		case OPT_RAW:
			if ((rc = parse_days("--raw-days", optarg, &a.raw)) != EXIT_OK)
				return rc;
			break;
		case OPT_REPORT:
			if ((rc = parse_days("--report-days", optarg, &a.report)) != EXIT_OK)
				return rc;
			break;
		case OPT_QUARANTINE:
			if ((rc = parse_days("--quarantine-days", optarg, &a.quarantine)) !=
			    EXIT_OK)
				return rc;
			break;
		case 'n':
			a.dry_run = true;
			break;
		case OPT_JSON:
			a.json = true;
			break;
		case 'h':
			cli_usage(stdout, prune_usage);
			return EXIT_OK;
		case ':':
			return cli_usage_error(prune_usage, "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error(prune_usage, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(prune_usage, "too many arguments");
	return run(&a);
}
