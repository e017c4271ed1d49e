/* SPDX-License-Identifier: MIT */
/* stsctl apply: publish policies and records in the safe order, or apply a saved plan. */
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_progress.h"
#include "cli_runs.h"
#include "commands.h"
#include "sts_apply.h"
#include "sts_err.h"

/* docs/stsctl-apply.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const apply_usage[] = {
    "stsctl apply INVENTORY|PLANFILE [--yes] [--json] [--target DOMAIN]... [--tenant NAME]... "
    "[--concurrency N] [--state PATH] [--init] [--allow-removal] [--progress=WHEN]",
    "",
    "Publish what the inventory says, in the safe order per domain: the policy",
    "file, read back (and fetched over HTTPS when verify.https is on), then the",
    "_mta-sts TXT with the new id, then _smtp._tls. With a plan file saved by",
    "'stsctl plan --out', apply exactly that plan, or refuse when the published",
    "state changed since.",
    "",
    "  -y, --yes             apply without asking (required when standard input",
    "                        is not a terminal)",
    "      --json            print the plan and what was applied or failed as one",
    "                        JSON object instead of the text plan",
    "  -t, --target DOMAIN   apply only this domain (repeatable; U-labels too; not",
    "                        with a plan file)",
    "      --tenant NAME     apply only this tenant's domains, with the removals of",
    "                        those it had (repeatable; with -t: both; not with a",
    "                        plan file)",
    "      --concurrency N   zones in flight (default 4), within each provider's limit",
    "      --state PATH      state database (default ./stsctl.db); the lock is PATH.lock",
    "      --init            start a new state in PATH when it is an empty file (a",
    "                        missing one is created anyway; a damaged one is refused)",
    "      --allow-removal   allow starting the removal of more than 10% of the",
    "                        managed domains (of the scope, with -t/--tenant)",
    "      --progress=WHEN   progress on standard error: auto (default: a live line",
    "                        on a terminal, else a line every 10 s; none with -q),",
    "                        always (the live line) or never",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 every domain applied; 1 a domain failed (the others were",
    "applied), the inventory is invalid, or a safety rule refused; 2 usage error",
    "or not confirmed, or the state is damaged or empty; 3 the state is locked by",
    "another stsctl; 4 the saved plan is stale; 130/143 stopped by SIGINT/SIGTERM",
    "after the zones in flight (the run is recorded interrupted; apply again).",
    NULL,
};

/*
 * ---- test-only crash injection: STSCTL_TEST_CRASH_AFTER=STEP[:N] ----
 * Only in a build with -Dtest_hooks=true (tests/run.sh); a release build
 * has neither the variable nor the abort (docs/stsctl-apply.md).
 */

struct hooks {
#ifdef STS_TEST_HOOKS
	char step[64];
	long n;
	long seen;
	pthread_mutex_t mu;
	bool armed;
	long delay_ms; /* STSCTL_TEST_ZONE_DELAY_MS: sleep after each zone's commit */
#endif
	char unused; /* never empty, in a release build too */
};

#ifdef STS_TEST_HOOKS
static void on_step(void *ud, const char *step, const char *domain)
{
	struct hooks *h = ud;
	if (h->delay_ms > 0 && strcmp(step, "db-commit") == 0) {
		/* a slow provider, for the SIGINT test; a signal cuts no sleep short */
		struct timespec ts = {h->delay_ms / 1000, (h->delay_ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0)
			;
	}
	if (!h->armed || strcmp(step, h->step) != 0)
		return;
	pthread_mutex_lock(&h->mu);
	bool now = ++h->seen == h->n;
	pthread_mutex_unlock(&h->mu);
	if (now) {
		fprintf(stderr, "stsctl: test crash after '%s' (%s)\n", step,
			domain ? domain : "*");
		abort();
	}
}

static void arm_crash(struct hooks *h, struct sts_apply_opts *o)
{
	const char *e = getenv("STSCTL_TEST_CRASH_AFTER");
	const char *delay = getenv("STSCTL_TEST_ZONE_DELAY_MS");
	pthread_mutex_init(&h->mu, NULL);
	o->step_hook = on_step;
	h->delay_ms = delay ? strtol(delay, NULL, 10) : 0;
	if (!e || !*e)
		return;
	const char *colon = strchr(e, ':');
	size_t n = colon ? (size_t)(colon - e) : strlen(e);
	if (n >= sizeof(h->step))
		n = sizeof(h->step) - 1;
	memcpy(h->step, e, n);
	h->step[n] = '\0';
	h->n = colon ? strtol(colon + 1, NULL, 10) : 1;
	if (h->n < 1)
		h->n = 1;
	h->armed = true;
}
#else
static void arm_crash(struct hooks *h, struct sts_apply_opts *o)
{
	(void)h;
	(void)o;
}
#endif

/* ---- SIGINT/SIGTERM: no zone starts after it, the zones in flight finish ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static bool stop_requested(void *ud)
{
	(void)ud;
	return stop_signal != 0;
}

/* "waiting for serve's certificate for mta-sts.D (up to N s)" */
static void on_note(void *ud, const char *domain, const char *text)
{
	(void)ud;
	(void)domain;
	sts_log_info("%s", text);
}

/* SA_RESETHAND: a second signal ends the process at once; SA_RESTART: I/O
 * in flight is not cut short. old[] gets the previous handlers. */
static void catch_stop(struct sigaction old[2])
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
}

static void release_stop(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
}

/* ---- confirmation ---- */

static int confirm(const struct sts_plan *p, bool yes)
{
	if (yes)
		return EXIT_OK;
	if (!isatty(STDIN_FILENO)) {
		sts_log_err("refusing to apply without --yes: standard input is not a terminal");
		return EXIT_USAGE;
	}
	fprintf(stderr, "apply %zu changes? [y/N] ", p->n_changes);
	fflush(stderr);
	char line[16];
	if (!fgets(line, sizeof(line), stdin) || (line[0] != 'y' && line[0] != 'Y')) {
		sts_log_err("not confirmed: nothing applied");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* ", N providers down (a, b)" of the summary line: down at plan time or during the run */
static void print_down(const struct sts_apply_result *res)
{
	if (res->n_down)
		fprintf(stderr, ", %zu %s down (", res->n_down,
			res->n_down == 1 ? "provider" : "providers");
	for (size_t i = 0; i < res->n_down; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", res->down[i].provider);
	fputs(res->n_down ? ")\n" : "\n", stderr);
}

static void print_summary(const struct sts_apply_result *res)
{
	if (res->n_failed) { /* changes of failed domains count as failed, not changed */
		fprintf(stderr,
			"Apply: %zu domains changed, %zu changes failed, %zu changes applied, %zu "
			"unchanged, %zu failed",
			res->n_changed, res->n_changes_failed, res->n_changes, res->n_unchanged,
			res->n_failed);
		print_down(res);
	} else if (cli_verbosity >= 1)
		fprintf(stderr,
			"Apply: %zu domains changed (%zu changes), %zu unchanged, %zu failed\n",
			res->n_changed, res->n_changes, res->n_unchanged, res->n_failed);
	for (size_t i = 0; i < res->n_failures; i++) {
		const struct sts_apply_failure *f = &res->failures[i];
		if (!f->down) /* a provider that was down: one line for all, below */
			fprintf(stderr, "  failed: %s: %s: %s\n", f->domain, f->step,
				f->message ? f->message : sts_strerror(f->err));
	}
	cli_down_print(res->down, res->n_down, "applied");
}

/* The provider's entry in a providers_down array, or its size when there is none. */
static size_t down_index(const json_t *v, const char *provider)
{
	size_t k = 0;
	for (; k < json_array_size(v); k++) {
		const char *x =
		    json_string_value(json_object_get(json_array_get(v, k), "provider"));
		if (x && strcmp(x, provider) == 0)
			break;
	}
	return k;
}

/*
 * The plan's providers_down, completed with the run's: a provider that went
 * down during apply (its circuit breaker opened) with every domain it failed.
 */
static int add_down(json_t *doc, const struct sts_apply_result *res)
{
	json_t *v = json_object_get(doc, "providers_down");
	if (!json_is_array(v))
		return -1;
	for (size_t i = 0; i < res->n_down; i++) {
		const struct sts_plan_down *d = &res->down[i];
		json_t *names = json_array(), *e;
		for (size_t k = 0; names && k < res->n_failures; k++) {
			const struct sts_apply_failure *f = &res->failures[k];
			if (f->down && strcmp(f->down, d->provider) == 0 &&
			    json_array_append_new(names, json_string(f->domain)) < 0) {
				json_decref(names);
				names = NULL;
			}
		}
		if (!names ||
		    !(e = json_pack("{s:s, s:I, s:s?, s:o}", "provider", d->provider, "n_domains",
				    (json_int_t)d->n_domains, "message", d->why, "domains", names)))
			return -1;
		size_t k = down_index(v, d->provider);
		if ((k < json_array_size(v) ? json_array_set_new(v, k, e)
					    : json_array_append_new(v, e)) < 0)
			return -1;
	}
	return 0;
}

/* --json: the plan as 'stsctl plan --json' prints it, plus "applied" (docs/stsctl-apply.md) */
static int print_json(const struct sts_plan *p, const struct sts_apply_result *res)
{
	json_t *doc = sts_plan_to_json(p), *failures = json_array();
	for (size_t i = 0; failures && i < res->n_failures; i++) {
		const struct sts_apply_failure *f = &res->failures[i];
		if (json_array_append_new(
			failures, json_pack("{s:s,s:s,s:s,s:s}", "domain", f->domain, "step",
					    f->step, "error", sts_strerror(f->err), "message",
					    f->message ? f->message : sts_strerror(f->err))) < 0) {
			json_decref(failures);
			failures = NULL;
		}
	}
	json_t *applied =
	    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "run", (json_int_t)res->run,
		      "domains_changed", (json_int_t)res->n_changed, "domains_unchanged",
		      (json_int_t)res->n_unchanged, "domains_failed", (json_int_t)res->n_failed,
		      "changes_applied", (json_int_t)res->n_changes, "changes_failed",
		      (json_int_t)res->n_changes_failed, "failures", failures);
	if (!doc || !applied || json_object_set_new(doc, "applied", applied) < 0 ||
	    add_down(doc, res) < 0) {
		json_decref(doc);
		return cli_json_print(NULL);
	}
	return cli_json_print(doc);
}

struct apply_args {
	struct cli_scope scope; /* --tenant, -t */
	unsigned conc;
	int progress; /* enum cli_progress_mode */
	bool yes;
	bool allow_removal;
	bool init;
	struct sts_plan_file *pf; /* the argument is a plan file */
};

static const struct cli_opt apply_opts[] = {
    CLI_BOOL("yes", 'y', struct apply_args, yes),
    CLI_JSON,
    CLI_TARGET(struct apply_args, scope),
    CLI_TENANT(struct apply_args, scope),
    CLI_UINT("concurrency", 0, struct apply_args, conc, 1, 256,
	     "--concurrency needs a number from %2$lu to %3$lu, not '%1$s'"),
    CLI_STATE,
    CLI_BOOL("init", 0, struct apply_args, init),
    CLI_BOOL("allow-removal", 0, struct apply_args, allow_removal),
    CLI_PROGRESS(struct apply_args, progress),
    CLI_END,
};

/* A plan file saved by 'stsctl plan --out' names the inventory and the targets. */
static int prepare(struct cli_ctx *ctx)
{
	struct apply_args *a = ctx->args;
	char *err = NULL;
	ctx->state_init = a->init;
	if (!sts_plan_file_detect(ctx->inventory_path))
		return EXIT_OK;
	if (a->scope.targets.n || a->scope.tenants.n) {
		sts_log_err("--target and --tenant cannot be used with a plan file");
		return EXIT_USAGE;
	}
	int r = sts_plan_file_load(ctx->inventory_path, &a->pf, &err);
	if (r < 0) {
		sts_log_err("%s", err ? err : sts_strerror(r));
		free(err);
		return cli_exit_for(r);
	}
	ctx->inventory_path = a->pf->inventory_path;
	return EXIT_OK;
}

static int run(struct cli_ctx *ctx)
{
	struct apply_args *a = ctx->args;
	struct sts_plan *p = NULL;
	struct sts_plan_file *pf = a->pf;
	struct sts_apply_result res = {0};
	struct hooks h = {0};
	/* a plan file: the domains it planned */
	struct cli_scope planned = {
	    .targets = {(const char **)(pf ? pf->targets : NULL), pf ? pf->n_targets : 0}};
	char *err = NULL;
	struct sigaction old[2];
	int rc, r;

	cli_runs_report(ctx, true); /* a crash left a run "running": it was interrupted */
	rc = cli_plan_build(ctx, pf ? &planned : &a->scope, a->conc ? a->conc * 2 : 0, true,
			    a->progress, &p);
	if (rc != EXIT_OK)
		goto out;
	if (pf && (r = sts_plan_file_check(pf, p, &err)) < 0) {
		sts_log_err("%s: plan again", err ? err : sts_strerror(r));
		rc = cli_exit_for(r);
		goto out;
	}
	if (!ctx->json && cli_verbosity >= 1 && cli_plan_print(p) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (sts_plan_removal_excessive(p) && !a->allow_removal) {
		sts_log_err("refusing to start removing %zu of %zu managed domains%s (more than "
			    "%d%%): check the inventory, or pass --allow-removal",
			    p->n_removal_starts, p->n_managed_scope,
			    p->n_managed_scope < p->n_managed ? " in its scope" : "",
			    STS_PLAN_REMOVAL_SHARE);
		rc = EXIT_FAIL;
		goto out;
	}
	if (p->n_changes && (rc = confirm(p, a->yes)) != EXIT_OK)
		goto out;
	cli_progress_start(a->progress, "apply", "domains", 0);
	struct sts_apply_opts o = {
	    .concurrency = a->conc,
	    .allow_removal = a->allow_removal,
	    .progress = cli_progress_fn(),
	    .ud = &h,
	    .stop = stop_requested,
	    .note = on_note,
	};
	arm_crash(&h, &o);
	catch_stop(old);
	r = sts_apply_run(p, ctx->db, ctx->io, &o, &res);
	release_stop(old);
	cli_progress_end();
	if (r == STS_EDB)
		cli_db_error(ctx, r);
	else if (r < 0)
		sts_log_errno(r, "apply stopped");
	print_summary(&res);
	rc = r < 0 ? cli_exit_for(r) : res.n_failed ? EXIT_FAIL : EXIT_OK;
	if (r == STS_EDB)
		rc = EXIT_FAIL;
	if (ctx->json && (r == STS_OK || r == STS_EDB) && print_json(p, &res) < 0 && rc == EXIT_OK)
		rc = EXIT_USAGE;
	if (stop_signal) {
		sts_log_err("stopped by %s after the zones in flight: %zu domains not started; "
			    "the run is recorded interrupted: apply again to finish",
			    stop_signal == SIGINT ? "SIGINT" : "SIGTERM", res.n_not_started);
		rc = stop_signal == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM;
	}
out:
	free(err);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	return rc;
}

static void release(struct cli_ctx *ctx)
{
	struct apply_args *a = ctx->args;
	sts_plan_file_free(a->pf);
}

CLI_COMMAND(apply, CLI_ONE_ARG("INVENTORY or PLANFILE"), .args_size = sizeof(struct apply_args),
	    .prepare = prepare, .release = release);
