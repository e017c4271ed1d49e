/* SPDX-License-Identifier: MIT */
/* stsctl apply: publish policies and records in the safe order, or apply a saved plan. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_plan.h"
#include "commands.h"
#include "sts_apply.h"
#include "sts_err.h"

/* docs/stsctl-apply.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
const char *const apply_usage[] = {
    "stsctl apply INVENTORY|PLANFILE [--yes] [--target DOMAIN]... [--concurrency N] "
    "[--state PATH] [--allow-removal]",
    "",
    "Publish what the inventory says, in the safe order per domain: the policy",
    "file, read back (and fetched over HTTPS when verify.https is on), then the",
    "_mta-sts TXT with the new id, then _smtp._tls. With a plan file saved by",
    "'stsctl plan --out', apply exactly that plan, or refuse when the published",
    "state changed since.",
    "",
    "  -y, --yes             apply without asking (required when standard input",
    "                        is not a terminal)",
    "  -t, --target DOMAIN   apply only this domain (repeatable; not with a plan file)",
    "      --concurrency N   zones in flight (default 4), within each provider's limit",
    "      --state PATH      state database (default ./stsctl.db); the lock is PATH.lock",
    "      --allow-removal   allow starting the removal of more than 10% of the",
    "                        managed domains",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 every domain applied; 1 a domain failed (the others were",
    "applied), the inventory is invalid, or a safety rule refused; 2 usage error",
    "or not confirmed; 3 the state is locked by another stsctl; 4 the saved plan",
    "is stale.",
    NULL,
};

enum {
	OPT_STATE = 1000,
	OPT_CONCURRENCY,
	OPT_ALLOW_REMOVAL,
};

/* ---- test-only crash injection: STSCTL_TEST_CRASH_AFTER=STEP[:N] ---- */

struct crash {
	char step[64];
	long n;
	long seen;
	pthread_mutex_t mu;
};

struct hooks {
	struct crash crash;
	bool armed;
	bool bar;
	size_t last_pct;
};

static void on_step(void *ud, const char *step, const char *domain)
{
	struct hooks *h = ud;
	if (!h->armed || strcmp(step, h->crash.step) != 0)
		return;
	pthread_mutex_lock(&h->crash.mu);
	bool now = ++h->crash.seen == h->crash.n;
	pthread_mutex_unlock(&h->crash.mu);
	if (now) {
		fprintf(stderr, "stsctl: test crash after '%s' (%s)\n", step,
			domain ? domain : "*");
		abort();
	}
}

static void on_progress(void *ud, size_t done, size_t total)
{
	struct hooks *h = ud;
	if (!h->bar || total == 0)
		return;
	size_t pct = done * 100 / total;
	if (pct == h->last_pct && done != total)
		return;
	h->last_pct = pct;
	char bar[41];
	size_t fill = done * 40 / total;
	for (size_t i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %zu/%zu domains", bar, done, total);
	if (done == total)
		fputs("\r\033[K", stderr);
}

static void arm_crash(struct hooks *h)
{
	const char *e = getenv("STSCTL_TEST_CRASH_AFTER");
	pthread_mutex_init(&h->crash.mu, NULL);
	if (!e || !*e)
		return;
	const char *colon = strchr(e, ':');
	size_t n = colon ? (size_t)(colon - e) : strlen(e);
	if (n >= sizeof(h->crash.step))
		n = sizeof(h->crash.step) - 1;
	memcpy(h->crash.step, e, n);
	h->crash.step[n] = '\0';
	h->crash.n = colon ? strtol(colon + 1, NULL, 10) : 1;
	if (h->crash.n < 1)
		h->crash.n = 1;
	h->armed = true;
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

static void print_summary(const struct sts_apply_result *res)
{
	if (cli_verbosity >= 1 || res->n_failed)
		fprintf(stderr,
			"Apply: %zu domains changed (%zu changes), %zu unchanged, %zu failed\n",
			res->n_changed, res->n_changes, res->n_unchanged, res->n_failed);
	for (size_t i = 0; i < res->n_failures; i++) {
		const struct sts_apply_failure *f = &res->failures[i];
		fprintf(stderr, "  failed: %s: %s: %s\n", f->domain, f->step,
			f->message ? f->message : sts_strerror(f->err));
	}
}

struct apply_args {
	const char *path;
	const char *state;
	const char *const *targets;
	size_t n_targets;
	unsigned conc;
	bool yes;
	bool allow_removal;
};

static int run(const struct apply_args *a)
{
	struct plan_ctx c = {0};
	struct sts_plan *p = NULL;
	struct sts_plan_file *pf = NULL;
	struct sts_apply_result res = {0};
	struct hooks h = {.last_pct = (size_t)-1};
	const char *inventory = a->path;
	const char *const *targets = a->targets;
	size_t n_targets = a->n_targets;
	char *err = NULL;
	int rc, r;

	if (sts_plan_file_detect(a->path)) {
		if (n_targets) {
			sts_log_err("--target cannot be used with a plan file");
			return EXIT_USAGE;
		}
		r = sts_plan_file_load(a->path, &pf, &err);
		if (r < 0) {
			sts_log_err("%s", err ? err : sts_strerror(r));
			free(err);
			return cli_exit_for(r);
		}
		inventory = pf->inventory_path;
		targets = (const char *const *)pf->targets;
		n_targets = pf->n_targets;
	}
	rc = plan_ctx_open(&c, inventory, a->state, true);
	if (rc == EXIT_OK)
		rc = plan_ctx_build(&c, targets, n_targets, a->conc ? a->conc * 2 : 0, true, &p);
	if (rc != EXIT_OK)
		goto out;
	if (pf && (r = sts_plan_file_check(pf, p, &err)) < 0) {
		sts_log_err("%s: plan again", err ? err : sts_strerror(r));
		rc = cli_exit_for(r);
		goto out;
	}
	if (cli_verbosity >= 1 && plan_print(p) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (sts_plan_removal_excessive(p) && !a->allow_removal) {
		sts_log_err("refusing to start removing %zu of %zu managed domains (more than "
			    "%d%%): check the inventory, or pass --allow-removal",
			    p->n_removal_starts, p->n_managed, STS_PLAN_REMOVAL_SHARE);
		rc = EXIT_FAIL;
		goto out;
	}
	if (p->n_changes && (rc = confirm(p, a->yes)) != EXIT_OK)
		goto out;
	arm_crash(&h);
	h.bar = cli_stderr_tty() && cli_verbosity >= 1;
	struct sts_apply_opts o = {
	    .concurrency = a->conc,
	    .allow_removal = a->allow_removal,
	    .step_hook = on_step,
	    .progress = on_progress,
	    .ud = &h,
	};
	r = sts_apply_run(p, c.db, c.io, &o, &res);
	if (r == STS_EDB)
		sts_log_err("state database '%s': %s", c.state_path, sts_db_errmsg(c.db));
	else if (r < 0)
		sts_log_errno(r, "apply stopped");
	print_summary(&res);
	rc = r < 0 ? cli_exit_for(r) : res.n_failed ? EXIT_FAIL : EXIT_OK;
	if (r == STS_EDB)
		rc = EXIT_FAIL;
out:
	free(err);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	plan_ctx_close(&c);
	sts_plan_file_free(pf);
	return rc;
}

int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"yes", no_argument, NULL, 'y'},
	    {"target", required_argument, NULL, 't'},
	    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"allow-removal", no_argument, NULL, OPT_ALLOW_REMOVAL},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct apply_args a = {0};
	const char **targets = calloc((size_t)argc + 1, sizeof(*targets));
	int c, rc;
	if (!targets) {
		sts_log_err("out of memory");
		return EXIT_INTERNAL;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":yt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'y':
			a.yes = true;
			break;
		case 't':
			targets[a.n_targets++] = optarg;
			break;
		case OPT_STATE:
			a.state = optarg;
			break;
		case OPT_ALLOW_REMOVAL:
			a.allow_removal = true;
			break;
		case OPT_CONCURRENCY:
			if ((rc = parse_concurrency(apply_usage, optarg, &a.conc)) != EXIT_OK)
				goto out;
			break;
		case 'h':
			cli_usage(stdout, apply_usage);
			rc = EXIT_OK;
			goto out;
		case ':':
			rc = cli_usage_error(apply_usage, "option '%s' needs a value",
					     argv[optind - 1]);
			goto out;
		default:
			rc = cli_usage_error(apply_usage, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (argc - optind != 1) {
		rc = cli_usage_error(apply_usage, argc - optind ? "too many arguments"
								: "missing INVENTORY or PLANFILE");
		goto out;
	}
	a.path = argv[optind];
	a.targets = targets;
	rc = run(&a);
out:
	free(targets);
	return rc;
}
