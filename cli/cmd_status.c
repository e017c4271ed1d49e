/* SPDX-License-Identifier: MIT */
/* stsctl status: each domain's rollout stage, health and blocking gates (core/watch/sts_watch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_scope.h"
#include "cli_runs.h"
#include "commands.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_escape.h"
#include "sts_hosted_store.h"
#include "sts_plan_tenants.h"
#include "sts_watch.h"
#include "sts_watch_run.h"

/* docs/stsctl-status.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const status_usage[] = {
    "stsctl status [INVENTORY] [--long] [--json] [--tenant NAME]... [--now RFC3339]",
    "              [--state PATH]",
    "",
    "Show a summary first (domains per stage and per tenant, the gates that hold",
    "the most domains), then one line per domain: its rollout stage and since",
    "when, its report health over the window and what blocks its promotion",
    "(docs/rollout.md). Reads the state database only: no live check, no change.",
    "The hosted service's instances and certificates follow; without INVENTORY",
    "only they are shown (a state without them: INVENTORY is missing), and",
    "--tenant keeps the hosts of the domains the state records for it.",
    "",
    "      --long            every domain in detail: health, failures, each gate,",
    "                        the earliest possible promotion",
    "      --json            print {\"summary\":{...},\"domains\":[...],\"hosted\":{...}}",
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

/* The stages in their order; any other name (an error) follows them. */
static const char *const stage_order[] = {"none", "testing", "enforce", "removed", "error", NULL};

/* o[key] += 1 (a JSON object of counts) */
static void count(json_t *o, const char *key)
{
	json_object_set_new(o, key, json_integer(json_integer_value(json_object_get(o, key)) + 1));
}

/* The stage a domain is counted in: its stage, or "error" */
static const char *stage_of(json_t *d)
{
	return json_object_get(d, "error") ? "error" : str(d, "stage");
}

static int by_domains_desc(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t nx = json_integer_value(json_object_get(x, "domains"));
	json_int_t ny = json_integer_value(json_object_get(y, "domains"));
	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(str(x, "gate"), str(y, "gate"));
}

/*
 * What holds the domains: every gate of "blocking", plus "held" (the
 * operator's hold) and "brake" (the inventory brake), each with the number
 * of domains it holds, most first. A domain held by several counts in each.
 */
static json_t *holding_json(json_t *gates)
{
	const char *k;
	json_t *v, *a = json_array();
	size_t n = json_object_size(gates), i = 0;
	json_t **rows = calloc(n ? n : 1, sizeof(*rows));
	if (!a || !rows) {
		free(rows);
		json_decref(a);
		return NULL;
	}
	json_object_foreach(gates, k, v) rows[i++] =
	    json_pack("{s:s,s:I}", "gate", k, "domains", json_integer_value(v));
	qsort(rows, n, sizeof(*rows), by_domains_desc);
	for (i = 0; i < n; i++)
		json_array_append_new(a, rows[i]);
	free(rows);
	return a;
}

/*
 * The summary of doc's domains: {"domains": N, "stages": {STAGE: n},
 * "tenants": {TENANT: {"domains": n, "stages": {...}}} ("" for the domains
 * of no tenant), "holding": [{"gate", "domains"}...] most first}.
 */
static json_t *summary_json(json_t *doc)
{
	json_t *d, *b, *stages = json_object(), *tenants = json_object(), *gates = json_object();
	size_t i, j;
	json_t *domains = json_object_get(doc, "domains");
	json_array_foreach(domains, i, d)
	{
		const char *tn = json_string_value(json_object_get(d, "tenant"));
		json_t *t = json_object_get(tenants, tn ? tn : "");
		if (!t) {
			t = json_pack("{s:I,s:o}", "domains", (json_int_t)0, "stages",
				      json_object());
			json_object_set_new(tenants, tn ? tn : "", t);
		}
		count(stages, stage_of(d));
		count(t, "domains");
		count(json_object_get(t, "stages"), stage_of(d));
		json_array_foreach(json_object_get(d, "blocking"), j, b)
		    count(gates, str(b, "gate"));
		if (json_object_get(d, "held"))
			count(gates, "held");
		if (json_object_get(d, "brake"))
			count(gates, "brake");
	}
	json_t *h = holding_json(gates);
	json_decref(gates);
	return json_pack("{s:I,s:o,s:o,s:o*}", "domains", (json_int_t)json_array_size(domains),
			 "stages", stages, "tenants", tenants, "holding", h);
}

/* "N none, N testing, ..." in stage order */
static void print_stages(json_t *stages)
{
	const char *sep = "", *k;
	json_t *v;
	for (size_t i = 0; stage_order[i]; i++)
		if ((v = json_object_get(stages, stage_order[i]))) {
			printf("%s%lld %s", sep, (long long)json_integer_value(v), stage_order[i]);
			sep = ", ";
		}
	json_object_foreach(stages, k, v)
	{
		size_t i = 0;
		while (stage_order[i] && strcmp(stage_order[i], k) != 0)
			i++;
		if (!stage_order[i]) {
			printf("%s%lld %s", sep, (long long)json_integer_value(v), k);
			sep = ", ";
		}
	}
	printf("\n");
}

#define SUMMARY_GATES 5 /* the text shows the gates that hold the most domains */

static void print_summary(json_t *sum, struct sts_buf *e1)
{
	const char *k;
	json_t *v, *g;
	size_t i;
	long long n = (long long)json_integer_value(json_object_get(sum, "domains"));
	printf("%lld domain%s: ", n, n == 1 ? "" : "s");
	print_stages(json_object_get(sum, "stages"));
	json_t *tenants = json_object_get(sum, "tenants");
	if (json_object_size(tenants) > 1 || !json_object_get(tenants, ""))
		json_object_foreach(tenants, k, v)
		{
			printf("  tenant %s: %lld: ", k[0] ? sts_escape_str(e1, k) : "(none)",
			       (long long)json_integer_value(json_object_get(v, "domains")));
			print_stages(json_object_get(v, "stages"));
		}
	json_t *hold = json_object_get(sum, "holding");
	if (json_array_size(hold)) {
		printf("held most by:");
		json_array_foreach(hold, i, g)
		{
			if (i == SUMMARY_GATES) {
				printf(" (%zu more in --json)", json_array_size(hold) - i);
				break;
			}
			printf("%s %s %lld", i ? "," : "", str(g, "gate"),
			       (long long)json_integer_value(json_object_get(g, "domains")));
		}
		printf("\n");
	}
	printf("\n");
}

/* ", N sessions, success ratio R" only for a domain with sessions */
static void print_sessions(json_t *h)
{
	json_int_t n = json_integer_value(json_object_get(h, "sessions"));
	if (n > 0)
		printf("%lld sessions, success ratio %.4f", (long long)n,
		       json_real_value(json_object_get(h, "success_ratio")));
	else
		printf("no sessions");
}

/* One line per domain: stage, since, target, sessions, held, the blocking gates. */
static void print_short(json_t *d, struct sts_buf *e1, struct sts_buf *e2)
{
	json_t *b;
	size_t j;
	printf("%s: %s since %s (target %s), ", sts_escape_str(e1, str(d, "domain")),
	       str(d, "stage"), str(d, "since"), str(d, "target"));
	print_sessions(json_object_get(d, "health"));
	if (json_is_string(json_object_get(d, "held")))
		printf(", held: %s", sts_escape_str(e2, str(d, "held")));
	if (json_is_string(json_object_get(d, "brake")))
		printf(", inventory brake at %s", str(d, "brake"));
	json_array_foreach(json_object_get(d, "blocking"), j, b)
	    printf("%s%s", j ? "," : "; blocked by ", str(b, "gate"));
	printf("\n");
}

/* Every detail of one domain (--long). */
static void print_long(json_t *d, struct sts_buf *e1, struct sts_buf *e2)
{
	json_t *b;
	size_t j;
	json_t *h = json_object_get(d, "health");
	printf("%s: %s since %s (target %s)\n", sts_escape_str(e1, str(d, "domain")),
	       str(d, "stage"), str(d, "since"), str(d, "target"));
	/* the operator's controls (docs/rollout.md, "Start and ceiling") */
	if (json_is_string(json_object_get(d, "held")))
		printf("  held: %s\n", sts_escape_str(e2, str(d, "held")));
	if (json_is_string(json_object_get(d, "brake")))
		printf("  inventory brake: held at %s until the inventory mode is raised\n",
		       str(d, "brake"));
	json_t *pub = json_object_get(d, "published");
	if (pub)
		printf("  published: %s (%s)\n", str(pub, "mode"), str(pub, "why"));
	printf("  health: ");
	print_sessions(h);
	printf(" in %lld days, %lld reporting organisations\n",
	       (long long)json_integer_value(json_object_get(h, "window_days")),
	       (long long)json_integer_value(json_object_get(h, "reporting_orgs")));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(h, "failures_by_type"), k, v) printf(
	    "  failures: %s %lld\n", sts_escape_str(e1, k), (long long)json_integer_value(v));
	if (json_is_string(json_object_get(d, "evidence_all")))
		printf("  LAB SETTING: %s\n", sts_escape_str(e1, str(d, "evidence_all")));
	json_array_foreach(json_object_get(h, "not_evidence"), j, b)
	    printf("  not evidence: %lld report%s: %s\n",
		   (long long)json_integer_value(json_object_get(b, "reports")),
		   json_integer_value(json_object_get(b, "reports")) == 1 ? "" : "s",
		   sts_escape_str(e1, str(b, "why")));
	json_array_foreach(json_object_get(d, "blocking"), j, b)
	    printf("  blocked by %s: %s\n", str(b, "gate"), sts_escape_str(e2, str(b, "message")));
	if (json_is_string(json_object_get(d, "next_promotion_at")))
		printf("  next promotion: %s at the earliest\n", str(d, "next_promotion_at"));
}

/*
 * The text form. Domains, result types, reasons and messages may quote
 * what reports said: each goes through sts_escape_str() (e1 and e2: the
 * buffers for the two such values of one line), never raw to the terminal.
 */
static int print_text(json_t *doc, bool is_long)
{
	json_t *d;
	size_t i;
	struct sts_buf e1, e2;
	sts_buf_init(&e1, STS_CAP_TEXT);
	sts_buf_init(&e2, STS_CAP_TEXT);
	if (json_object_get(doc, "summary"))
		print_summary(json_object_get(doc, "summary"), &e1);
	json_array_foreach(json_object_get(doc, "domains"), i, d)
	{
		if (json_object_get(d, "error"))
			printf("%s: error: %s\n", sts_escape_str(&e1, str(d, "domain")),
			       sts_escape_str(&e2, str(d, "error")));
		else if (is_long)
			print_long(d, &e1, &e2);
		else
			print_short(d, &e1, &e2);
	}
	print_hosted(json_object_get(doc, "hosted"), &e1, &e2);
	sts_buf_release(&e1);
	sts_buf_release(&e2);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

struct status_args {
	struct cli_scope scope; /* --tenant */
	bool is_long;		/* --long */
};

static const struct cli_opt status_opts[] = {
    CLI_BOOL("long", 0, struct status_args, is_long),
    CLI_JSON,
    CLI_TENANT(struct status_args, scope),
    CLI_NOW,
    CLI_STATE,
    CLI_END,
};

/* Each domain's tenant from the inventory (doc's domains are in its order). */
static void add_tenants(json_t *doc, const struct sts_inventory *inv)
{
	json_t *a = json_object_get(doc, "domains");
	for (size_t i = 0; i < inv->n_domains && i < json_array_size(a); i++)
		if (inv->domains[i].tenant)
			json_object_set_new(json_array_get(a, i), "tenant",
					    json_string(inv->domains[i].tenant));
}

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

/*
 * --tenant without INVENTORY: only the hosts of the domains the state records
 * for those tenants (managed_tenants, written by apply; a host without a
 * policy counts as its name's domain); serve's instances
 * serve every tenant and stay. A tenant the state does not record: EXIT_USAGE.
 */
static int hosted_tenants(struct cli_ctx *ctx, const struct cli_list *tenants, json_t *hosted)
{
	struct sts_plan_tenant *rec = NULL;
	size_t n = 0;
	int rc = EXIT_OK, r = sts_plan_tenants_load(ctx->db, &rec, &n);
	if (r < 0) {
		cli_db_error(ctx, r);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
	for (size_t t = 0; t < tenants->n; t++) {
		bool known = false;
		for (size_t i = 0; !known && i < n; i++)
			known = strcmp(rec[i].tenant, tenants->v[t]) == 0;
		if (!known) {
			sts_log_err("unknown tenant '%s': no domain of the state '%s' has it",
				    tenants->v[t], ctx->state_path);
			rc = EXIT_USAGE;
		}
	}
	json_t *hosts = json_object_get(hosted, "hosts");
	for (size_t h = json_array_size(hosts); rc == EXIT_OK && h-- > 0;) {
		/* a certificate without a policy: the domain of its host name */
		json_t *o = json_array_get(hosts, h);
		const char *d = json_string_value(json_object_get(o, "domain"));
		if (!d && strncmp(str(o, "host"), "mta-sts.", 8) == 0)
			d = str(o, "host") + 8;
		bool keep = false;
		for (size_t i = 0; d && !keep && i < n; i++)
			for (size_t t = 0; !keep && t < tenants->n; t++)
				keep = strcmp(rec[i].domain, d) == 0 &&
				       strcmp(rec[i].tenant, tenants->v[t]) == 0;
		if (!keep)
			json_array_remove(hosts, h);
	}
	sts_plan_tenants_free(rec, n);
	return rc;
}

/* Without INVENTORY: the hosted part alone, when the state has one. */
static int hosted_only(struct cli_ctx *ctx, const struct cli_list *tenants)
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
	int rc = tenants->n ? hosted_tenants(ctx, tenants, hosted) : EXIT_OK;
	if (rc != EXIT_OK) {
		json_decref(hosted);
		return rc;
	}
	json_t *doc = json_pack("{s:o}", "hosted", hosted);
	if (!doc ||
	    (ctx->json ? cli_json_print(json_incref(doc)) < 0 : print_text(doc, false) < 0)) {
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
		return hosted_only(ctx, &a->scope.tenants);
	int rc = cli_scope_resolve(ctx, &a->scope);
	if (rc != EXIT_OK)
		return rc;
	cli_runs_report(ctx, false); /* a run a crash left "running" */
	int r = sts_watch_status(ctx->inv, ctx->db, sts_watch_all_reports(ctx->inv), &doc);
	if (r < 0) {
		sts_log_errno(r, "cannot compute the status");
		return EXIT_INTERNAL;
	}
	add_tenants(doc, ctx->inv);
	keep_scope(doc, &a->scope);
	json_object_set_new(doc, "summary", summary_json(doc));
	json_t *hosted = NULL; /* the hosted service: serve's heartbeats, the certificates */
	if (sts_hosted_status_json(ctx->db, &hosted) == STS_OK)
		json_object_set_new(doc, "hosted", hosted);
	if (ctx->json ? cli_json_print(json_incref(doc)) < 0 : print_text(doc, a->is_long) < 0) {
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
