/* SPDX-License-Identifier: MIT */
/* stsctl status: each domain's rollout stage, health and blocking gates (core/watch/sts_watch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_runs.h"
#include "cli_scope.h"
#include "commands.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_escape.h"
#include "sts_hosted_store.h"
#include "sts_watch.h"
#include "sts_watch_run.h"

/* docs/stsctl-status.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const status_usage[] = {
    "stsctl status [INVENTORY] [--json] [--tenant NAME]... [--now RFC3339] [--state PATH]",
    "",
    "Show each domain's rollout stage and since when, its report health over the",
    "window, what blocks its promotion, and the earliest possible promotion",
    "(docs/rollout.md). Reads the state database only: no live check, no change.",
    "The hosted service's instances and certificates follow; without INVENTORY",
    "only they are shown (a state without them: INVENTORY is missing).",
    "",
    "      --json            print {\"domains\":[...],\"hosted\":{...}} as JSON",
    "      --tenant NAME     only this tenant's domains (repeatable)",
    "      --now RFC3339     as if at this time",
    "      --state PATH      state database (default ./stsctl.db)",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 shown; 1 the inventory is invalid; 2 usage or I/O error.",
    NULL,
};

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

/* The hosted part: serve's instances, then each host's certificate (times RFC 3339). */
static void print_hosted(json_t *hosted, struct sts_buf *e1, struct sts_buf *e2)
{
	json_t *v, *c;
	size_t i;
	json_array_foreach(json_object_get(hosted, "serve"), i, v)
	{
		printf("serve %s on %s: started %s, heartbeat %s\n",
		       sts_escape_str(e1, str(v, "instance")), sts_escape_str(e2, str(v, "listen")),
		       str(v, "started"), str(v, "heartbeat"));
	}
	json_array_foreach(json_object_get(hosted, "hosts"), i, v)
	{
		printf("%s: ", sts_escape_str(e1, str(v, "host")));
		if (!json_is_object(c = json_object_get(v, "certificate"))) {
			printf("no certificate yet\n");
			continue;
		}
		if (json_is_true(json_object_get(c, "issued")))
			printf("certificate valid until %s", str(c, "not_after"));
		else
			printf("no certificate");
		if (json_is_string(json_object_get(c, "last_error")))
			printf(", last error: %s (%lld failures, next attempt %s)",
			       sts_escape_str(e2, str(c, "last_error")),
			       (long long)json_integer_value(json_object_get(c, "failures")),
			       str(c, "next_attempt"));
		else if (json_is_string(json_object_get(c, "next_attempt")))
			printf(", renewal from %s", str(c, "next_attempt"));
		printf("\n");
	}
}

/*
 * The text form. Domains, result types, reasons and messages may quote
 * what reports said: each goes through sts_escape_str() (e1 and e2: the
 * buffers for the two such values of one line), never raw to the terminal.
 */
static int print_text(json_t *doc)
{
	json_t *d, *b;
	size_t i, j;
	struct sts_buf e1, e2;
	sts_buf_init(&e1, STS_CAP_TEXT);
	sts_buf_init(&e2, STS_CAP_TEXT);
	json_array_foreach(json_object_get(doc, "domains"), i, d)
	{
		json_t *h = json_object_get(d, "health");
		const char *dom = sts_escape_str(&e1, str(d, "domain"));
		if (json_object_get(d, "error")) {
			printf("%s: error: %s\n", dom, sts_escape_str(&e2, str(d, "error")));
			continue;
		}
		printf("%s: %s since %s (target %s)\n", dom, str(d, "stage"), str(d, "since"),
		       str(d, "target"));
		printf("  health: %lld sessions in %lld days, success ratio %.4f, %lld "
		       "reporting organisations\n",
		       (long long)json_integer_value(json_object_get(h, "sessions")),
		       (long long)json_integer_value(json_object_get(h, "window_days")),
		       json_real_value(json_object_get(h, "success_ratio")),
		       (long long)json_integer_value(json_object_get(h, "reporting_orgs")));
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(h, "failures_by_type"), k, v)
		    printf("  failures: %s %lld\n", sts_escape_str(&e1, k),
			   (long long)json_integer_value(v));
		if (json_is_string(json_object_get(d, "evidence_all")))
			printf("  LAB SETTING: %s\n", sts_escape_str(&e1, str(d, "evidence_all")));
		json_array_foreach(json_object_get(h, "not_evidence"), j, b)
		    printf("  not evidence: %lld report%s: %s\n",
			   (long long)json_integer_value(json_object_get(b, "reports")),
			   json_integer_value(json_object_get(b, "reports")) == 1 ? "" : "s",
			   sts_escape_str(&e1, str(b, "why")));
		json_array_foreach(json_object_get(d, "blocking"), j, b)
		    printf("  blocked by %s: %s\n", str(b, "gate"),
			   sts_escape_str(&e1, str(b, "message")));
		if (json_is_string(json_object_get(d, "next_promotion_at")))
			printf("  next promotion: %s at the earliest\n",
			       str(d, "next_promotion_at"));
	}
	print_hosted(json_object_get(doc, "hosted"), &e1, &e2);
	sts_buf_release(&e1);
	sts_buf_release(&e2);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

struct status_args {
	struct cli_scope scope; /* --tenant */
};

static const struct cli_opt status_opts[] = {
    CLI_JSON, CLI_TENANT(struct status_args, scope), CLI_NOW, CLI_STATE, CLI_END,
};

/* Only the domains of the scope (--tenant) stay in doc's "domains". */
static void keep_scope(json_t *doc, const struct cli_scope *s)
{
	json_t *a = json_object_get(doc, "domains");
	for (size_t i = json_array_size(a); s->active && i-- > 0;)
		if (!cli_scope_has(s, str(json_array_get(a, i), "domain")))
			json_array_remove(a, i);
}

/* Does the hosted part hold anything (an instance or a host)? */
static bool hosted_rows(json_t *hosted)
{
	return json_array_size(json_object_get(hosted, "serve")) ||
	       json_array_size(json_object_get(hosted, "hosts"));
}

/* Without INVENTORY: the hosted part alone, when the state has one. */
static int hosted_only(struct cli_ctx *ctx)
{
	json_t *hosted = NULL;
	int r = sts_hosted_status_json(ctx->db, &hosted);
	if (r < 0) {
		sts_log_errno(r, "cannot read the hosted service");
		return EXIT_INTERNAL;
	}
	if (!hosted_rows(hosted)) {
		json_decref(hosted);
		return cli_usage_error(status_usage,
				       "missing INVENTORY (the state '%s' has no "
				       "hosted service)",
				       ctx->state_path);
	}
	json_t *doc = json_pack("{s:o}", "hosted", hosted);
	int rc = EXIT_OK;
	if (!doc || (ctx->json ? cli_json_print(json_incref(doc)) < 0 : print_text(doc) < 0)) {
		sts_log_err("cannot write the status");
		rc = EXIT_USAGE;
	}
	json_decref(doc);
	return rc;
}

static int run(struct cli_ctx *ctx)
{
	struct status_args *a = ctx->args;
	json_t *doc = NULL;
	if (!ctx->inv)
		return hosted_only(ctx);
	int rc = cli_scope_resolve(ctx, &a->scope);
	if (rc != EXIT_OK)
		return rc;
	cli_runs_report(ctx, false); /* a run a crash left "running" */
	int r = sts_watch_status(ctx->inv, ctx->db, sts_watch_all_reports(ctx->inv), &doc);
	if (r < 0) {
		sts_log_errno(r, "cannot compute the status");
		return EXIT_INTERNAL;
	}
	keep_scope(doc, &a->scope);
	json_t *hosted = NULL; /* the hosted service: serve's heartbeats, the certificates */
	if (sts_hosted_status_json(ctx->db, &hosted) == STS_OK)
		json_object_set_new(doc, "hosted", hosted);
	if (ctx->json ? cli_json_print(json_incref(doc)) < 0 : print_text(doc) < 0) {
		sts_log_err("cannot write the status");
		rc = EXIT_USAGE;
	}
	json_decref(doc);
	return rc;
}

static void release(struct cli_ctx *ctx)
{
	cli_scope_release(&((struct status_args *)ctx->args)->scope);
}

CLI_COMMAND(status, .min_args = 0, .max_args = 1, .arg_name = "INVENTORY",
	    .args_size = sizeof(struct status_args), .release = release);
