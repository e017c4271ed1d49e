/* SPDX-License-Identifier: MIT */
/* stsctl rollout: the operator holds, releases or sets a domain's rollout stage (sts_rollout.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_netopts.h"
#include "commands.h"
#include "sts_err.h"
#include "sts_rollout.h"
#include "sts_watch_run.h"

/* docs/stsctl-rollout.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const rollout_usage[] = {
    "stsctl rollout hold|release|set STAGE [DOMAIN]... [--tenant NAME]... [--inventory FILE]",
    "               [--reason TEXT] [--force] [--resolver IP[:PORT]] [--json]",
    "               [--state PATH]",
    "",
    "Pause or resume the promotion of domains, or force their stage, without",
    "editing the inventory (docs/rollout.md). Each change is recorded in the",
    "rollout history with the reason given. 'hold' stops every promotion (a",
    "demotion still happens) until 'release'; 'set' makes STAGE (none, testing",
    "or enforce) the stage now, never above the domain's rollout.target, and",
    "the next 'stsctl apply' publishes it. 'set enforce' runs the promotion",
    "gates and the live check watch runs before a promotion.",
    "",
    "      --tenant NAME     every domain of this tenant (repeatable; needs",
    "                        --inventory)",
    "  -i, --inventory FILE  the inventory (needed by set and --tenant)",
    "      --reason TEXT     why, recorded in the rollout history",
    "      --force           set enforce although a promotion gate or the live",
    "                        check fails (recorded with the reason)",
    "      --resolver IP[:PORT]",
    "                        DNS server of the live check, not resolv.conf's",
    "      --json            print {\"domains\":[...]} as JSON",
    "      --state PATH      state database (default ./stsctl.db); the lock is PATH.lock",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 every domain changed; 1 a domain is unknown, not under",
    "rollout, above its target or refused by the gates or the live check (the",
    "others changed);",
    "2 usage error; 3 the state is locked by another stsctl.",
    NULL,
};

struct rollout_args {
	struct cli_list tenants;
	const char *reason;
	const char *resolver;
	bool force;
};

static const struct cli_opt rollout_opts[] = {
    CLI_LIST("tenant", 0, struct rollout_args, tenants),
    CLI_INVENTORY('i'),
    CLI_STRING("reason", 0, struct rollout_args, reason),
    CLI_BOOL("force", 0, struct rollout_args, force),
    CLI_CALLBACK("resolver", 0, struct rollout_args, resolver, netopt_resolver),
    CLI_JSON,
    CLI_STATE,
    CLI_END,
};

enum action { HOLD, RELEASE, SET };

struct job {
	enum action act;
	enum sts_stage stage; /* set */
	const struct rollout_args *a;
	json_t *out; /* the domains' results */
};

/*
 * Why `set enforce` is refused: the promotion gates, as watch evaluates them
 * before a promotion; once the others pass, the live check watch runs then
 * (sts_watch_check_domain), with --resolver.
 */
static int gates_refuse(struct cli_ctx *ctx, const struct sts_domain *dom,
			const struct sts_rollout_settings *s, const struct sts_rollout_state *st,
			char *why, size_t n)
{
	const struct rollout_args *a = ctx->args;
	struct sts_rollout_evidence ev;
	struct sts_rollout_decision dec;
	int64_t now = sts_db_now(ctx->db);
	int64_t since = st && st->stage == STS_STAGE_TESTING ? st->since : now;
	int r = sts_rollout_evidence_read(ctx->db, dom->name, s->window_days, now,
					  sts_watch_all_reports(ctx->inv), &ev);
	if (r < 0)
		return r;
	sts_rollout_evaluate(s, STS_STAGE_TESTING, since, now, &ev, NULL, &dec);
	if (dec.needs_check) {
		struct sts_check_opts co = {.resolver = a->resolver, .inventory = ctx->inv};
		struct sts_rollout_check check;
		sts_rollout_check_init(&check);
		if ((r = sts_watch_check_domain(dom, &co, now, &check)) < 0) {
			snprintf(why, n, "live-check: the live check did not run: %s",
				 sts_strerror(r));
			return 1;
		}
		sts_rollout_evaluate(s, STS_STAGE_TESTING, since, now, &ev, &check, &dec);
	}
	size_t k = 0;
	why[0] = '\0';
	for (size_t i = 0; i < dec.n_blocking; i++) {
		const struct sts_rollout_block *b = &dec.blocking[i];
		if (strcmp(b->gate, "target") == 0 ||
		    (strcmp(b->gate, "live-check") == 0 &&
		     strcmp(b->message, "no live check yet") == 0))
			continue;
		k += (size_t)snprintf(why + k, k < n ? n - k : 0, "%s%s: %s", k ? "; " : "",
				      b->gate, b->message);
		if (k >= n)
			break;
	}
	return why[0] ? 1 : 0;
}

/* One domain: *ret_msg says what was done or why not; EXIT_OK or EXIT_FAIL. */
static int one(struct cli_ctx *ctx, struct job *j, const char *name, char *msg, size_t n)
{
	const struct sts_domain *dom = ctx->inv ? sts_inventory_find(ctx->inv, name) : NULL;
	struct sts_rollout_settings s;
	struct sts_rollout_state st;
	const char *why = NULL;
	bool found = false;
	int r;

	if (dom)
		name = dom->name; /* its A-label */
	if (dom && sts_rollout_domain_settings(dom, &s, &why) < 0) {
		snprintf(msg, n, "%s", why);
		return EXIT_FAIL;
	}
	if ((r = sts_rollout_get(ctx->db, name, &st, &found)) < 0)
		return cli_exit_for(r);
	if (!found && !dom) {
		snprintf(msg, n, "not under rollout%s", ctx->inv ? " nor in the inventory" : "");
		return EXIT_FAIL;
	}
	if (!found) {
		/* in the inventory, not seen by watch yet: under rollout from now, at its start */
		const struct sts_rollout_mode seen = {.demote_to = STS_STAGE_INVALID};
		enum sts_stage start = sts_rollout_start_stage(dom->mode, s.target);
		if ((r = sts_rollout_start(ctx->db, name, start,
					   "rollout started by stsctl rollout")) < 0 ||
		    (r = sts_rollout_record_mode(ctx->db, name, dom->mode, &seen)) < 0)
			return cli_exit_for(r);
	}
	switch (j->act) {
	case HOLD:
	case RELEASE:
		r = sts_rollout_hold(ctx->db, name, j->act == HOLD, j->a->reason);
		snprintf(msg, n, "%s", j->act == HOLD ? "held" : "released");
		break;
	case SET:
		if (!dom) {
			snprintf(msg, n, "not in the inventory");
			return EXIT_FAIL;
		}
		if (j->stage > s.target) {
			snprintf(msg, n, "rollout.target is %s: cannot set %s",
				 sts_stage_name(s.target), sts_stage_name(j->stage));
			return EXIT_FAIL;
		}
		if (j->stage == STS_STAGE_ENFORCE && !j->a->force &&
		    (!found || st.stage != STS_STAGE_ENFORCE)) {
			char gates[400];
			if ((r = gates_refuse(ctx, dom, &s, found ? &st : NULL, gates,
					      sizeof(gates))) < 0)
				return cli_exit_for(r);
			if (r) {
				snprintf(msg, n,
					 "refused: a promotion gate fails (%s): --force sets it",
					 gates);
				return EXIT_FAIL;
			}
		}
		char forced[300];
		const char *reason = j->a->reason;
		if (j->stage == STS_STAGE_ENFORCE && j->a->force &&
		    (!found || st.stage != STS_STAGE_ENFORCE)) {
			/* the history says the gates and the live check were skipped */
			snprintf(forced, sizeof(forced),
				 "%s%s--force, gates and live check not run", reason ? reason : "",
				 reason ? "; " : "");
			reason = forced;
		}
		r = sts_rollout_set(ctx->db, name, j->stage, reason);
		snprintf(msg, n, "set to %s", sts_stage_name(j->stage));
		break;
	}
	if (r < 0) {
		snprintf(msg, n, "%s", sts_strerror(r));
		return r == STS_ENOENT ? EXIT_FAIL : cli_exit_for(r);
	}
	return EXIT_OK;
}

/* The domains named, then those of each --tenant (in inventory order). */
static int domains_of(struct cli_ctx *ctx, const struct rollout_args *a, int first,
		      const char ***ret, size_t *ret_n)
{
	size_t n = 0, cap = (size_t)(ctx->argc - first) + (ctx->inv ? ctx->inv->n_domains : 0) + 1;
	const char **v = calloc(cap, sizeof(*v));
	if (!v)
		return EXIT_INTERNAL;
	for (int i = first; i < ctx->argc; i++)
		v[n++] = ctx->argv[i];
	for (size_t t = 0; t < a->tenants.n; t++) {
		bool any = false;
		for (size_t i = 0; i < ctx->inv->n_domains; i++) {
			const struct sts_domain *d = &ctx->inv->domains[i];
			if (!d->tenant || strcmp(d->tenant, a->tenants.v[t]) != 0)
				continue;
			any = true;
			bool dup = false;
			for (size_t k = 0; k < n && !dup; k++)
				dup = strcmp(v[k], d->name) == 0;
			if (!dup)
				v[n++] = d->name;
		}
		if (!any) {
			sts_log_err("unknown tenant '%s': no domain of the inventory has it",
				    a->tenants.v[t]);
			free(v);
			return EXIT_FAIL;
		}
	}
	*ret = v;
	*ret_n = n;
	return EXIT_OK;
}

static int run(struct cli_ctx *ctx)
{
	const struct rollout_args *a = ctx->args;
	struct job j = {.a = a, .stage = STS_STAGE_INVALID};
	const char *act = ctx->argv[0];
	int first = 1, rc;

	if (strcmp(act, "hold") == 0)
		j.act = HOLD;
	else if (strcmp(act, "release") == 0)
		j.act = RELEASE;
	else if (strcmp(act, "set") == 0)
		j.act = SET;
	else
		return cli_usage_error(rollout_usage, "unknown action '%s': hold, release or set",
				       act);
	if (j.act == SET) {
		j.stage = ctx->argc > 1 ? sts_stage_from_string(ctx->argv[1]) : STS_STAGE_INVALID;
		if (j.stage < STS_STAGE_NONE || j.stage > STS_STAGE_ENFORCE)
			return cli_usage_error(rollout_usage, "set needs a STAGE: none, testing or "
							      "enforce");
		if (!ctx->inv)
			return cli_usage_error(rollout_usage,
					       "set needs --inventory FILE (the domains' targets "
					       "and gates)");
		first = 2;
	}
	if (a->tenants.n && !ctx->inv)
		return cli_usage_error(rollout_usage, "--tenant needs --inventory FILE");
	if (ctx->argc <= first && !a->tenants.n)
		return cli_usage_error(rollout_usage, "name a DOMAIN or a --tenant");
	int r = sts_rollout_schema(ctx->db);
	if (r < 0) {
		cli_db_error(ctx, r);
		return cli_exit_for(r);
	}
	const char **names = NULL;
	size_t n = 0;
	if ((rc = domains_of(ctx, a, first, &names, &n)) != EXIT_OK)
		return rc;
	j.out = json_array();
	for (size_t i = 0; i < n && j.out; i++) {
		char msg[600];
		int one_rc = one(ctx, &j, names[i], msg, sizeof(msg));
		if (one_rc != EXIT_OK && one_rc != EXIT_FAIL) {
			rc = one_rc;
			break;
		}
		if (one_rc != EXIT_OK)
			rc = EXIT_FAIL;
		if (ctx->json)
			json_array_append_new(j.out, json_pack("{s:s,s:s,s:b,s:s}", "domain",
							       names[i], "action", act, "ok",
							       one_rc == EXIT_OK, "message", msg));
		else if (one_rc == EXIT_OK)
			printf("%s: %s\n", names[i], msg);
		else
			sts_log_err("%s: %s", names[i], msg);
	}
	free(names);
	if (ctx->json && cli_json_print(json_pack("{s:o}", "domains", j.out)) < 0)
		return EXIT_USAGE;
	if (!ctx->json)
		json_decref(j.out);
	if (j.act == SET && rc == EXIT_OK && !ctx->json && cli_verbosity >= 1)
		fprintf(stderr, "stsctl: the next 'stsctl apply' publishes the stage\n");
	return rc;
}

CLI_COMMAND(rollout, .min_args = 1, .max_args = -1, .arg_name = "hold, release or set",
	    .args_size = sizeof(struct rollout_args));
