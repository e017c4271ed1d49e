/* SPDX-License-Identifier: MIT */
/* stsctl plan: what apply would change, from the published state through the plugins. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_progress.h"
#include "cli_runs.h"
#include "commands.h"
#include "sts_err.h"

/* docs/stsctl-plan.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const plan_usage[] = {
    "stsctl plan INVENTORY [--json] [--detailed-exitcode] [--target DOMAIN]... "
    "[--tenant NAME]... [--out FILE] [--state PATH] [--concurrency N] [--progress=WHEN]",
    "",
    "Read what is published through the provider plugins, compare it with",
    "the inventory, and show per domain what 'stsctl apply' would change.",
    "Nothing is written, except the plan file with --out.",
    "",
    "      --json               print {\"changes\":[...]} instead of text",
    "      --detailed-exitcode  exit 0 without changes, 2 with changes, 1 on",
    "                           any error (usage errors included)",
    "  -t, --target DOMAIN      plan only this domain (repeatable; U-labels too)",
    "      --tenant NAME        plan only this tenant's domains, with the removals",
    "                           of those it had (repeatable; with -t: both)",
    "  -o, --out FILE           save the plan for 'stsctl apply FILE'",
    "      --state PATH         state database (default ./stsctl.db)",
    "      --concurrency N      provider reads in flight (default 8)",
    "      --progress=WHEN      progress on standard error: auto (default: a live",
    "                           line on a terminal, else a line every 10 s; none",
    "                           with -q), always (the live line) or never",
    "  -h, --help               show this help",
    "",
    "Exit status: 0 planned; 1 a domain could not be planned (provider",
    "error, conflicting record) or the inventory is invalid; 2 usage error",
    "or unreadable input. With --detailed-exitcode: 0 no changes, 2 changes,",
    "1 any error.",
    NULL,
};

struct plan_args {
	struct cli_scope scope; /* --tenant, -t */
	const char *out;
	bool detailed;
	unsigned conc;
	int progress; /* enum cli_progress_mode */
};

static const struct cli_opt plan_opts[] = {
    CLI_JSON,
    {.name = "detailed-exitcode",
     .type = CLI_OPT_BOOL,
     .off = offsetof(struct plan_args, detailed),
     .flags = CLI_OPT_ERRORS_FAIL},
    CLI_TARGET(struct plan_args, scope),
    CLI_TENANT(struct plan_args, scope),
    CLI_STRING("out", 'o', struct plan_args, out),
    CLI_STATE,
    CLI_UINT("concurrency", 0, struct plan_args, conc, 1, 256,
	     "--concurrency needs a number from %2$lu to %3$lu, not '%1$s'"),
    CLI_PROGRESS(struct plan_args, progress),
    CLI_END,
};

static int run(struct cli_ctx *ctx)
{
	struct plan_args *a = ctx->args;
	struct sts_plan *p = NULL;
	bool changes = false;
	cli_runs_report(ctx, false); /* a run a crash left "running" */
	int rc = cli_plan_build(ctx, &a->scope, a->conc, false, a->progress, &p);
	if (rc != EXIT_OK)
		goto out;
	if (ctx->json ? cli_json_print(sts_plan_to_json(p)) < 0 : cli_plan_print(p) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (a->out) {
		int r = sts_plan_save(p, a->out);
		if (r < 0) {
			sts_log_errno(r, "cannot write the plan to '%s'", a->out);
			rc = cli_exit_for(r);
			goto out;
		}
		sts_log_info("plan saved to '%s': run 'stsctl apply %s'", a->out, a->out);
	}
	for (size_t i = 0; ctx->json && i < p->n_domains; i++) /* the text output shows them */
		if (p->domains[i].err < 0 && !p->domains[i].down)
			sts_log_err("%s: %s", p->domains[i].name,
				    p->domains[i].errmsg ? p->domains[i].errmsg
							 : sts_strerror(p->domains[i].err));
	if (ctx->json)
		cli_down_print(p->down, p->n_down, "planned");
	if (sts_plan_removal_excessive(p))
		sts_log_warn("this plan starts removing %zu of %zu managed domains%s: apply "
			     "refuses it without --allow-removal",
			     p->n_removal_starts, p->n_managed_scope,
			     p->n_managed_scope < p->n_managed ? " in its scope" : "");
	if (p->n_errors)
		rc = EXIT_FAIL;
	changes = p->n_changes > 0;
out:
	sts_plan_free(p);
	/* --detailed-exitcode: 2 means changes, so every error is 1 */
	if (a->detailed && rc != EXIT_OK)
		rc = EXIT_FAIL;
	else if (a->detailed && changes)
		rc = 2;
	return rc;
}

CLI_COMMAND(plan, CLI_ONE_ARG("INVENTORY"), .args_size = sizeof(struct plan_args));
