/* SPDX-License-Identifier: MIT */
/* stsctl report: the readable summary of the stored TLS reports. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_scope.h"
#include "commands.h"
#include "sts_dname.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_report.h"
#include "sts_report_evidence.h"

/* docs/stsctl-report.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const report_usage[] = {
    "stsctl report [--domain D] [--since DATE] [--format text|json|csv|html] [--json] "
    "[--output FILE] [--inventory FILE] [--tenant NAME]... [--state PATH]",
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
    "      --json            the same as --format json",
    "  -o, --output FILE     write the report to FILE (replaced atomically)",
    "                        instead of standard output",
    "      --authenticated   only authenticated reports (signed or trusted source)",
    "  -i, --inventory FILE  also list the inventory's domains without reports",
    "      --tenant NAME     only this tenant's domains (repeatable; needs",
    "                        --inventory)",
    "      --state PATH      state database (default ./stsctl.db)",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 the summary was written; 1 the inventory is invalid; 2 usage",
    "error, or the state database or the output cannot be used.",
    NULL,
};

/* ud: NULL for standard output, else the struct sts_buf of --output */
static int write_out(void *ud, const char *p, size_t n)
{
	if (ud)
		return sts_buf_append(ud, p, n) == STS_OK ? 0 : -1;
	return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

struct report_args {
	const char *domain, *since, *until, *output;
	enum sts_report_format format;
	bool format_set;
	bool auth;
	struct cli_scope scope; /* --tenant */
};

static int opt_format(struct cli_ctx *ctx, void *field, const char *value)
{
	((struct report_args *)ctx->args)->format_set = true;
	if (sts_report_format_parse(value, field) < 0)
		return cli_usage_error(ctx->def->usage,
				       "invalid --format '%s': expected text, json, csv or html",
				       value);
	return EXIT_OK;
}

static const struct cli_opt report_opts[] = {
    CLI_STRING("domain", 'd', struct report_args, domain),
    CLI_STRING("since", 0, struct report_args, since),
    CLI_STRING("until", 0, struct report_args, until),
    CLI_CALLBACK("format", 'f', struct report_args, format, opt_format),
    CLI_BOOL("authenticated", 0, struct report_args, auth),
    CLI_JSON,
    CLI_STRING("output", 'o', struct report_args, output),
    CLI_INVENTORY('i'),
    CLI_TENANT(struct report_args, scope),
    CLI_STATE,
    CLI_END,
};

static bool in_scope(void *ud, const char *domain)
{
	return cli_scope_has(ud, domain);
}

/* Only the reports (of the evidence list) about a domain of the scope. */
static void reports_keep(json_t *reports, const struct cli_scope *s)
{
	for (size_t i = json_array_size(reports); s->active && i-- > 0;) {
		const char *d =
		    json_string_value(json_object_get(json_array_get(reports, i), "domains"));
		bool keep = false;
		char name[256];
		for (size_t n; d && *d && !keep; d += n + (d[n] == ' ')) {
			n = strcspn(d, " ");
			snprintf(name, sizeof(name), "%.*s", (int)n, d);
			keep = n && n < sizeof(name) && cli_scope_has(s, name);
		}
		if (!keep)
			json_array_remove(reports, i);
	}
}

/* the summary plus every report with whether it counts as evidence, and why not */
static int write_json(const struct cli_ctx *c, const struct sts_report_query *q,
		      const struct sts_report *rep, struct sts_buf *out)
{
	json_t *reports = NULL, *doc = sts_report_to_json(rep);
	bool truncated = false;
	int r = doc ? sts_report_evidence_json(c->db, q, c->conf->reporters, c->conf->evidence_all,
					       &reports, &truncated)
		    : STS_ENOMEM;
	if (r == STS_OK)
		reports_keep(reports, &((const struct report_args *)c->args)->scope);
	if (r == STS_OK &&
	    (json_object_set_new(doc, "reports", reports) < 0 ||
	     (truncated && json_object_set_new(doc, "reports_truncated", json_true()) < 0)))
		r = STS_ENOMEM;
	char *s = r == STS_OK ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (r == STS_OK && !s)
		r = STS_ENOMEM;
	if (s && write_out(out, s, strlen(s)) != 0)
		r = STS_EIO;
	else if (s && write_out(out, "\n", 1) != 0)
		r = STS_EIO;
	free(s);
	return r;
}

static int run(struct cli_ctx *ctx)
{
	struct report_args *a = ctx->args;
	struct sts_report *rep = NULL;
	struct sts_buf buf, *out = a->output ? &buf : NULL;
	enum sts_report_format format = ctx->json ? STS_REPORT_JSON : a->format;
	char since[11], until[11];
	char *dom = NULL; /* --domain as the state stores names (sts_dname: U-labels too) */
	int rc = EXIT_OK;
	int64_t now = sts_db_now(ctx->db);
	sts_buf_init(&buf, STS_CAP_INVENTORY);
	if (ctx->json && a->format_set && a->format != STS_REPORT_JSON) {
		rc = cli_usage_error(report_usage, "--json and a --format other than json");
		goto out;
	}
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
	if ((rc = cli_scope_resolve(ctx, &a->scope)) != EXIT_OK)
		goto out;
	if (a->domain && sts_dname_normalize(a->domain, 0, &dom, NULL) == STS_ENOMEM) {
		rc = EXIT_INTERNAL;
		goto out;
	}
	q.domain = dom ? dom : a->domain;
	int r = sts_report_build(ctx->db, &q, &rep);
	if (r < 0) {
		cli_db_error(ctx, r);
		rc = r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; ctx->inv && i < ctx->inv->n_domains && r == STS_OK; i++) {
		const char *name = ctx->inv->domains[i].name;
		if ((!q.domain || strcmp(q.domain, name) == 0) && cli_scope_has(&a->scope, name))
			r = sts_report_add_domain(rep, name);
	}
	if (r == STS_OK)
		sts_report_keep(rep, in_scope, &a->scope);
	if (r == STS_OK && format == STS_REPORT_JSON)
		r = write_json(ctx, &q, rep, out);
	else if (r == STS_OK)
		r = sts_report_write(rep, format, write_out, out);
	if (r == STS_OK && out &&
	    (r = sts_write_atomic(a->output, sts_buf_str(out), out->len, 0644, true)) < 0) {
		sts_log_errno(r, "cannot write the report to '%s'", a->output);
		rc = cli_exit_for(r);
	} else if (r < 0) {
		sts_log_errno(r, "cannot write the report");
		rc = r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
out:
	free(dom);
	sts_buf_release(&buf);
	sts_report_free(rep);
	return rc;
}

static void release(struct cli_ctx *ctx)
{
	cli_scope_release(&((struct report_args *)ctx->args)->scope);
}

CLI_COMMAND(report, .args_size = sizeof(struct report_args), .release = release);
