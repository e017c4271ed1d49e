/* SPDX-License-Identifier: MIT */
/* stsctl report: the readable summary of the stored TLS reports. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_ingest.h"
#include "commands.h"
#include "sts_err.h"
#include "sts_report.h"
#include "sts_report_evidence.h"

/* docs/stsctl-report.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
const char *const report_usage[] = {
    "stsctl report [--domain D] [--since DATE] [--format text|json|csv|html] "
    "[--inventory FILE] [--state PATH]",
    "",
    "Summarise the stored TLS reports per policy domain: sessions and success",
    "ratio, failures by result type, by reporting organisation, by receiving MX",
    "and by sending MTA IP, and sessions by day. DATE is YYYY-MM-DD or Nd (N days",
    "ago, UTC); a report counts on the UTC day its date range starts.",
    "",
    "  -d, --domain D        only this policy domain",
    "      --since DATE      only reports from DATE on",
    "      --until DATE      only reports up to DATE",
    "  -f, --format F        text (default), json, csv, or html: one self-contained",
    "                        page with an SVG chart of each domain's days",
    "      --authenticated   only authenticated reports (signed or trusted source)",
    "  -i, --inventory FILE  also list the inventory's domains without reports",
    "      --state PATH      state database (default ./stsctl.db)",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 the summary was written; 1 the inventory is invalid; 2 usage",
    "error, or the state database or the output cannot be used.",
    NULL,
};

enum {
	OPT_STATE = 1000,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_AUTH,
};

static int write_stdout(void *ud, const char *p, size_t n)
{
	(void)ud;
	return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

struct report_args {
	const char *inventory, *state, *domain, *since, *until;
	enum sts_report_format format;
	bool auth;
};

/* the summary plus every report with whether it counts as evidence, and why not */
static int write_json(const struct report_ctx *c, const struct sts_report_query *q,
		      const struct sts_report *rep)
{
	json_t *reports = NULL, *doc = sts_report_to_json(rep);
	bool truncated = false;
	int r = doc ? sts_report_evidence_json(c->db, q, c->conf->reporters, c->conf->evidence_all,
					       &reports, &truncated)
		    : STS_ENOMEM;
	if (r == STS_OK &&
	    (json_object_set_new(doc, "reports", reports) < 0 ||
	     (truncated && json_object_set_new(doc, "reports_truncated", json_true()) < 0)))
		r = STS_ENOMEM;
	char *s = r == STS_OK ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (r == STS_OK && !s)
		r = STS_ENOMEM;
	if (s && write_stdout(NULL, s, strlen(s)) != 0)
		r = STS_EIO;
	else if (s && write_stdout(NULL, "\n", 1) != 0)
		r = STS_EIO;
	free(s);
	return r;
}

static int run(const struct report_args *a)
{
	struct report_ctx c = {0};
	struct sts_report *rep = NULL;
	char since[11], until[11];
	int rc = report_ctx_open(&c, a->inventory, a->state, 0);
	if (rc != EXIT_OK)
		goto out;
	int64_t now = sts_db_now(c.db);
	if (a->since && sts_report_parse_date(a->since, now, since) < 0) {
		rc = cli_usage_error(report_usage,
				     "invalid --since '%s': expected YYYY-MM-DD or Nd", a->since);
		goto out;
	}
	if (a->until && sts_report_parse_date(a->until, now, until) < 0) {
		rc = cli_usage_error(report_usage,
				     "invalid --until '%s': expected YYYY-MM-DD or Nd", a->until);
		goto out;
	}
	struct sts_report_query q = {
	    .domain = a->domain,
	    .since = a->since ? since : NULL,
	    .until = a->until ? until : NULL,
	    .authenticated_only = a->auth,
	};
	int r = sts_report_build(c.db, &q, &rep);
	if (r < 0) {
		sts_log_err("state database '%s': %s", c.state_path,
			    r == STS_EDB ? sts_db_errmsg(c.db) : sts_strerror(r));
		rc = r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; c.inv && i < c.inv->n_domains && r == STS_OK; i++) {
		const char *name = c.inv->domains[i].name;
		if (!a->domain || strcmp(a->domain, name) == 0)
			r = sts_report_add_domain(rep, name);
	}
	if (r == STS_OK && a->format == STS_REPORT_JSON)
		r = write_json(&c, &q, rep);
	else if (r == STS_OK)
		r = sts_report_write(rep, a->format, write_stdout, NULL);
	if (r < 0) {
		sts_log_errno(r, "cannot write the report");
		rc = r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
out:
	sts_report_free(rep);
	report_ctx_close(&c);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"domain", required_argument, NULL, 'd'},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"until", required_argument, NULL, OPT_UNTIL},
	    {"format", required_argument, NULL, 'f'},
	    {"authenticated", no_argument, NULL, OPT_AUTH},
	    {"inventory", required_argument, NULL, 'i'},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct report_args a = {.format = STS_REPORT_TEXT};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:f:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			a.domain = optarg;
			break;
		case OPT_SINCE:
			a.since = optarg;
			break;
		case OPT_UNTIL:
			a.until = optarg;
			break;
		case 'f':
			if (sts_report_format_parse(optarg, &a.format) < 0)
				return cli_usage_error(
				    report_usage,
				    "invalid --format '%s': expected text, json, "
				    "csv or html",
				    optarg);
			break;
		case OPT_AUTH:
			a.auth = true;
			break;
		case 'i':
			a.inventory = optarg;
			break;
		case OPT_STATE:
			a.state = optarg;
			break;
		case 'h':
			cli_usage(stdout, report_usage);
			return EXIT_OK;
		case ':':
			return cli_usage_error(report_usage, "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error(report_usage, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(report_usage, "too many arguments");
	return run(&a);
}
