/* SPDX-License-Identifier: MIT */
/* stsctl plan: what apply would change, from the published state through the plugins. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_plan.h"
#include "commands.h"
#include "sts_err.h"

/* docs/stsctl-plan.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
const char *const plan_usage[] = {
    "stsctl plan INVENTORY [--json] [--detailed-exitcode] [--target DOMAIN]... [--out FILE] "
    "[--state PATH] [--concurrency N]",
    "",
    "Read what is published through the provider plugins, compare it with",
    "the inventory, and show per domain what 'stsctl apply' would change.",
    "Nothing is written, except the plan file with --out.",
    "",
    "      --json               print {\"changes\":[...]} instead of text",
    "      --detailed-exitcode  exit 0 without changes, 2 with changes, 1 on",
    "                           any error (usage errors included)",
    "  -t, --target DOMAIN      plan only this domain (repeatable)",
    "  -o, --out FILE           save the plan for 'stsctl apply FILE'",
    "      --state PATH         state database (default ./stsctl.db)",
    "      --concurrency N      provider reads in flight (default 8)",
    "  -h, --help               show this help",
    "",
    "Exit status: 0 planned; 1 a domain could not be planned (provider",
    "error, conflicting record) or the inventory is invalid; 2 usage error",
    "or unreadable input. With --detailed-exitcode: 0 no changes, 2 changes,",
    "1 any error.",
    NULL,
};

enum {
	OPT_JSON = 1000,
	OPT_DETAILED,
	OPT_STATE,
	OPT_CONCURRENCY,
};

int parse_concurrency(const char *const *usage, const char *s, unsigned *ret)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 1 || v > 256)
		return cli_usage_error(usage,
				       "--concurrency needs a number from 1 to 256, not '%s'", s);
	*ret = (unsigned)v;
	return EXIT_OK;
}

static time_t test_clock(void *ud)
{
	return *(const time_t *)ud;
}

static void plugin_log(void *ud, enum sts_plugin_log_level level, const char *prefix,
		       const char *msg)
{
	switch (level) {
	case STS_PLOG_ERROR:
		sts_log_err("[%s] %s", prefix, msg);
		break;
	case STS_PLOG_WARNING:
		sts_log_warn("[%s] %s", prefix, msg);
		break;
	case STS_PLOG_INFO:
		sts_log_debug("[%s] %s", prefix, msg);
		break;
	case STS_PLOG_DEBUG:
		sts_log_debug("[%s] %s", prefix, msg);
		break;
	}
}

int plan_ctx_open(struct plan_ctx *c, const char *inventory, const char *state, bool writer)
{
	struct sts_diags diags;
	char *err = NULL;
	int r;
	c->state_path = state ? state : STS_DB_DEFAULT_PATH;
	/* test-only: a fixed clock for the removal lifecycle tests */
	const char *now = getenv("STSCTL_TEST_NOW");
	if (now && *now) {
		c->test_now = (time_t)strtoll(now, NULL, 10);
		c->clock.now = test_clock;
		c->clock.ud = &c->test_now;
	}
	if (writer) {
		r = sts_lock_acquire(c->state_path, &c->lock);
		if (r < 0) {
			char *lp = sts_lock_path_for(c->state_path);
			if (r == STS_ELOCKED)
				sts_log_err("state is locked by another stsctl: '%s'",
					    lp ? lp : c->state_path);
			else
				sts_log_errno(r, "cannot lock '%s'", lp ? lp : c->state_path);
			free(lp);
			return cli_exit_for(r);
		}
	}
	r = sts_db_open(c->state_path, writer ? 0 : STS_DB_READONLY, &c->clock, &c->db, &err);
	if (r < 0) {
		sts_log_err("%s", err ? err : sts_strerror(r));
		free(err);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
	sts_diags_init(&diags);
	r = sts_inventory_load(inventory, &c->inv, &diags);
	if (r < 0 || diags.n_warnings > 0 || cli_verbosity >= 2)
		cli_print_diags(&diags);
	sts_diags_release(&diags);
	if (r == STS_EINVALID || r == STS_EPARSE) {
		sts_log_err("inventory '%s' is invalid", inventory);
		return EXIT_FAIL;
	}
	if (r < 0) {
		sts_log_errno(r, "cannot load inventory '%s'", inventory);
		return cli_exit_for(r);
	}
	if ((r = sts_plugin_host_new(&c->host)) < 0 ||
	    (r = sts_io_plugins_new(c->host, c->inv, &c->io)) < 0) {
		sts_log_errno(r, "cannot set up the plugins");
		return EXIT_INTERNAL;
	}
	sts_plugin_host_set_log(c->host, plugin_log, NULL);
	if (c->inv->dir)
		sts_plugin_host_set_basedir(c->host, c->inv->dir);
	return EXIT_OK;
}

void plan_ctx_close(struct plan_ctx *c)
{
	sts_io_plugins_free(c->io);
	sts_plugin_host_free(c->host);
	sts_inventory_free(c->inv);
	sts_db_close(c->db);
	sts_lock_release(c->lock);
	memset(c, 0, sizeof(*c));
}

int plan_ctx_build(struct plan_ctx *c, const char *const *targets, size_t n_targets,
		   unsigned concurrency, bool for_apply, struct sts_plan **ret)
{
	struct sts_diags diags;
	struct sts_plan_opts po = {.targets = targets,
				   .n_targets = n_targets,
				   .concurrency = concurrency,
				   .for_apply = for_apply};
	sts_diags_init(&diags);
	int r = sts_plan_build(c->inv, c->db, c->io, &po, ret, &diags);
	cli_print_diags(&diags);
	sts_diags_release(&diags);
	if (r == STS_ENOENT)
		return EXIT_USAGE; /* an unknown --target: the diag said which */
	if (r < 0) {
		sts_log_errno(r, "cannot plan");
		return cli_exit_for(r);
	}
	return EXIT_OK;
}

int plan_print(const struct sts_plan *p)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_INVENTORY);
	int r = sts_plan_format(p, &b);
	if (r == STS_OK && (fwrite(sts_buf_str(&b), 1, b.len, stdout) != b.len || ferror(stdout)))
		r = STS_EIO;
	sts_buf_release(&b);
	if (r < 0) {
		sts_log_errno(r, "cannot print the plan");
		return -1;
	}
	return 0;
}

static int run(const char *inventory, const char *state, const char *const *targets,
	       size_t n_targets, unsigned conc, bool json, const char *out, bool *ret_changes)
{
	struct plan_ctx c = {0};
	struct sts_plan *p = NULL;
	int rc = plan_ctx_open(&c, inventory, state, false);
	if (rc == EXIT_OK)
		rc = plan_ctx_build(&c, targets, n_targets, conc, false, &p);
	if (rc != EXIT_OK)
		goto out;
	if (json ? cli_json_print(sts_plan_to_json(p)) < 0 : plan_print(p) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (out) {
		int r = sts_plan_save(p, out);
		if (r < 0) {
			sts_log_errno(r, "cannot write the plan to '%s'", out);
			rc = cli_exit_for(r);
			goto out;
		}
		sts_log_info("plan saved to '%s': run 'stsctl apply %s'", out, out);
	}
	for (size_t i = 0; json && i < p->n_domains; i++) /* the text output shows them */
		if (p->domains[i].err < 0)
			sts_log_err("%s: %s", p->domains[i].name,
				    p->domains[i].errmsg ? p->domains[i].errmsg
							 : sts_strerror(p->domains[i].err));
	if (sts_plan_removal_excessive(p))
		sts_log_warn("this plan starts removing %zu of %zu managed domains: apply "
			     "refuses it without --allow-removal",
			     p->n_removal_starts, p->n_managed);
	if (p->n_errors)
		rc = EXIT_FAIL;
	*ret_changes = p->n_changes > 0;
out:
	sts_plan_free(p);
	plan_ctx_close(&c);
	return rc;
}

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"detailed-exitcode", no_argument, NULL, OPT_DETAILED},
	    {"target", required_argument, NULL, 't'},
	    {"out", required_argument, NULL, 'o'},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char **targets = calloc((size_t)argc + 1, sizeof(*targets));
	size_t n_targets = 0;
	const char *state = NULL, *out = NULL;
	bool json = false, detailed = false, changes = false;
	unsigned conc = 0;
	int c, rc;
	if (!targets) {
		sts_log_err("out of memory");
		return EXIT_INTERNAL;
	}
	/* --detailed-exitcode turns usage errors into 1 as well: look for it first */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		detailed = detailed || strcmp(argv[i], "--detailed-exitcode") == 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:o:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_DETAILED:
			detailed = true;
			break;
		case 't':
			targets[n_targets++] = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case OPT_STATE:
			state = optarg;
			break;
		case OPT_CONCURRENCY:
			if ((rc = parse_concurrency(plan_usage, optarg, &conc)) != EXIT_OK)
				goto out;
			break;
		case 'h':
			cli_usage(stdout, plan_usage);
			rc = EXIT_OK;
			goto out;
		case ':':
			rc = cli_usage_error(plan_usage, "option '%s' needs a value",
					     argv[optind - 1]);
			goto out;
		default:
			rc = cli_usage_error(plan_usage, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (argc - optind != 1) {
		rc = cli_usage_error(plan_usage,
				     argc - optind ? "too many arguments" : "missing INVENTORY");
		goto out;
	}
	rc = run(argv[optind], state, targets, n_targets, conc, json, out, &changes);
	if (detailed && rc == EXIT_OK && changes)
		rc = 2;
out:
	free(targets);
	/* --detailed-exitcode: 2 means changes, so every error is 1 */
	if (detailed && rc != EXIT_OK && !(rc == 2 && changes))
		rc = EXIT_FAIL;
	return rc;
}
