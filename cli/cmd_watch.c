/* SPDX-License-Identifier: MIT */
/*
 * stsctl watch: the rollout watcher (core/watch/sts_watch.h), one cycle for cron
 * or CI, or a daemon on the inventory's "watch" schedule with systemd
 * notification, signals and journald-friendly logs.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cli.h"
#include "cmd_plan.h"
#include "cmd_watch.h"
#include "commands.h"
#include "sts_apply.h"
#include "sts_check.h"
#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_watch.h"

/* docs/stsctl-watch.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
const char *const watch_usage[] = {
    "stsctl watch INVENTORY [--once] [--dry-run] [--json] [--now RFC3339] [--state PATH]",
    "             [--resolver IP[:PORT]] [--concurrency N]",
    "",
    "Walk each domain from none to testing to enforce when the evidence says it",
    "is safe, and back to testing on a failure spike or a failed MX check",
    "(docs/rollout.md). Each cycle reads the TLS-RPT aggregates of the state",
    "database, evaluates the gates, runs the live checks that are due, applies",
    "every change through the apply path and posts it to the inventory's",
    "watch.webhook. Without --once, runs as a daemon on watch.interval.",
    "",
    "      --once            run one cycle and exit",
    "      --dry-run         evaluate and show what would change; change nothing",
    "      --json            print the cycle's decisions as JSON (with --once)",
    "      --now RFC3339     run the cycle as if at this time (with --once)",
    "      --state PATH      state database (default ./stsctl.db); the lock is PATH.lock",
    "      --resolver IP[:PORT]",
    "                        DNS server of the live checks, not resolv.conf's",
    "      --concurrency N   run N live checks at a time (default 10, at most 512)",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 the cycle ran (or the daemon stopped on SIGTERM/SIGINT); 1 a",
    "domain's transition failed or the inventory is invalid; 2 usage error; 3 the",
    "state is locked by another stsctl.",
    NULL,
};

enum {
	OPT_ONCE = 1000,
	OPT_DRY_RUN,
	OPT_JSON,
	OPT_NOW,
	OPT_STATE,
	OPT_RESOLVER,
	OPT_CONCURRENCY,
};

/* ---- shared with status (cmd_watch.h) ---- */

int watch_parse_time(const char *s, time_t *ret)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	long off = 0;
	if (!p)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int h = atoi(p + 1), m = atoi(p + 4);
		off = (*p == '-' ? -1 : 1) * (h * 3600L + m * 60L);
		p += 6;
	} else
		return -1;
	if (*p)
		return -1;
	*ret = timegm(&tm) - off;
	return 0;
}

static time_t fixed_clock(void *ud)
{
	return *(const time_t *)ud;
}

void watch_set_clock(struct plan_ctx *c, const time_t *now)
{
	c->clock.now = fixed_clock;
	c->clock.ud = (void *)now;
}

bool watch_all_reports(const struct sts_inventory *inv)
{
	const char *e =
	    json_string_value(json_object_get(json_object_get(inv->root, "reports"), "evidence"));
	return e && strcmp(e, "all") == 0;
}

/* ---- journald ---- */

/* Is stderr the journal (systemd sets JOURNAL_STREAM=DEV:INODE)? */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* ---- the operations of a cycle ---- */

struct watch_ctx {
	struct plan_ctx pc;
	struct sts_check_opts check;
	time_t now;
	bool fixed_now;
	bool watchdog;	      /* daemon under a systemd watchdog: ping around slow steps */
	unsigned concurrency; /* live checks at a time; 0: the default */
};

/* While live checks run on other threads (about every second). */
static void op_tick(void *ud)
{
	struct watch_ctx *w = ud;
	if (w->watchdog)
		sd_notify(0, "WATCHDOG=1");
}

static int op_check(void *ud, const struct sts_domain *d, struct sts_rollout_check *ret)
{
	struct watch_ctx *w = ud;
	if (w->watchdog)
		sd_notify(0, "WATCHDOG=1");
	int r = sts_watch_check_domain(d, &w->check, sts_db_now(w->pc.db), ret);
	if (r < 0)
		sts_log_warn("%s: live check failed to run: %s", d->name, sts_strerror(r));
	return r;
}

static int op_apply(void *ud, const struct sts_domain *d, enum sts_mode mode, char **reterr)
{
	struct watch_ctx *w = ud;
	struct sts_plan *p = NULL;
	struct sts_apply_result res = {0};
	const char *target = d->name;
	(void)mode; /* the plan takes it from the pending stage in the DB */
	if (w->watchdog)
		sd_notify(0, "WATCHDOG=1");
	int rc = plan_ctx_build(&w->pc, &target, 1, 0, true, &p);
	if (rc != EXIT_OK) {
		sts_plan_free(p);
		return asprintf(reterr, "cannot plan '%s'", d->name) < 0 ? STS_ENOMEM
									 : STS_EINVALID;
	}
	struct sts_apply_opts o = {.concurrency = 1};
	int r = sts_apply_run(p, w->pc.db, w->pc.io, &o, &res);
	if (r == STS_OK && res.n_failed && res.n_failures) {
		const struct sts_apply_failure *f = &res.failures[0];
		r = f->err < 0 ? f->err : STS_EPROVIDER;
		if (asprintf(reterr, "apply failed at '%s': %s", f->step,
			     f->message ? f->message : sts_strerror(f->err)) < 0)
			*reterr = NULL;
	} else if (r < 0 && asprintf(reterr, "apply: %s", sts_strerror(r)) < 0)
		*reterr = NULL;
	if (r == STS_EDB || r == STS_ENOMEM)
		r = STS_EPROVIDER; /* the domain failed; the watcher's own DB work goes on */
	sts_apply_result_release(&res);
	sts_plan_free(p);
	return r;
}

static void log_decisions(const struct sts_watch_result *res, bool dry_run)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct sts_watch_decision *d = &res->decisions[i];
		const char *from = sts_stage_name(d->from), *to = sts_stage_name(d->to);
		if (d->err)
			sts_log_err("%s: transition failed, stays %s: %s", d->domain,
				    from ? from : "?", d->error ? d->error : sts_strerror(d->err));
		else if (d->changed)
			sts_log_info("%s: %s%s -> %s: %s", d->domain, dry_run ? "would move " : "",
				     from ? from : "?", to ? to : "?", d->reason);
		else
			sts_log_debug("%s: %s: %s", d->domain, from ? from : "?", d->reason);
	}
}

static void notify(const struct sts_watch_conf *wc, const struct sts_watch_result *res, time_t now)
{
	char when[32], *err = NULL;
	if (!wc->webhook || !res->n_changed)
		return;
	json_t *doc = sts_watch_result_json(res), *keep = json_array(), *d;
	size_t i;
	json_array_foreach(json_object_get(doc, "decisions"), i, d)
	{
		if (!json_equal(json_object_get(d, "from"), json_object_get(d, "to")) ||
		    json_object_get(d, "error"))
			json_array_append(keep, d);
	}
	sts_watch_time(now, when);
	json_t *msg =
	    json_pack("{s:s,s:s,s:o}", "source", "stsctl watch", "time", when, "decisions", keep);
	int r = msg ? sts_watch_notify(wc->webhook, wc->webhook_ca_file, msg, &err) : STS_ENOMEM;
	if (r < 0)
		sts_log_warn("cannot notify '%s': %s", wc->webhook, err ? err : sts_strerror(r));
	else
		sts_log_info("notified '%s' of %zu changes", wc->webhook, json_array_size(keep));
	free(err);
	json_decref(msg);
	json_decref(doc);
}

/* Read the configured report sources (reports.sources) into the state DB. */
static int ingest(struct watch_ctx *w)
{
	struct sts_ingest_conf *conf = NULL;
	struct sts_ingest *ing = NULL;
	char *err = NULL;
	int r = sts_ingest_conf_from_json(json_object_get(w->pc.inv->root, "reports"),
					  w->pc.inv->dir, &conf, &err);
	if (r < 0) {
		sts_log_err("inventory '%s': %s", w->pc.inv->path, err ? err : sts_strerror(r));
		free(err);
		return r;
	}
	if (!conf->n_sources)
		goto out;
	struct sts_ingest_opts o = {.conf = conf};
	if ((r = sts_ingest_new(w->pc.db, &o, &ing)) < 0)
		goto out;
	for (size_t i = 0; i < conf->n_sources; i++) {
		r = sts_ingest_source(ing, conf->sources[i].spec);
		if (r == STS_EDB || r == STS_ENOMEM)
			goto out;
		if (r < 0)
			sts_log_warn(
			    "cannot read report source '%s': %s, skipping", conf->sources[i].spec,
			    *sts_ingest_errmsg(ing) ? sts_ingest_errmsg(ing) : sts_strerror(r));
	}
	if ((r = sts_ingest_finish(ing)) == STS_OK) {
		const struct sts_ingest_stats *st = sts_ingest_get_stats(ing);
		if (st->stored || st->quarantined)
			sts_log_info("ingested %zu new reports (%zu duplicates, %zu quarantined)",
				     st->stored, st->duplicates, st->quarantined);
	}
out:
	if (r == STS_EDB)
		sts_log_err("ingest: %s", ing ? sts_ingest_errmsg(ing) : sts_db_errmsg(w->pc.db));
	sts_ingest_free(ing);
	sts_ingest_conf_free(conf);
	return r == STS_EDB || r == STS_ENOMEM ? r : STS_OK;
}

static int cycle(struct watch_ctx *w, bool dry_run, bool json)
{
	struct sts_watch_conf wc;
	const char *why = NULL;
	struct sts_watch_result res;
	if (sts_watch_conf_from_json(json_object_get(w->pc.inv->root, "watch"), &wc, &why) < 0) {
		sts_log_err("inventory '%s': %s", w->pc.inv->path, why);
		return EXIT_FAIL;
	}
	if (!dry_run && ingest(w) < 0)
		return EXIT_FAIL;
	const struct sts_watch_ops ops = {
	    .check = op_check, .apply = op_apply, .tick = op_tick, .ud = w};
	const struct sts_watch_opts o = {.dry_run = dry_run,
					 .all_reports = watch_all_reports(w->pc.inv),
					 .check_every = wc.check_interval,
					 .concurrency = w->concurrency,
					 .ops = &ops};
	int r = sts_watch_cycle(w->pc.inv, w->pc.db, &o, &res);
	if (r < 0) {
		if (r == STS_EDB)
			sts_log_err("state database '%s': %s", w->pc.state_path,
				    sts_db_errmsg(w->pc.db));
		else
			sts_log_errno(r, "watch cycle stopped");
		return cli_exit_for(r) == EXIT_OK ? EXIT_FAIL : cli_exit_for(r);
	}
	log_decisions(&res, dry_run);
	if (!dry_run)
		notify(&wc, &res, (time_t)sts_db_now(w->pc.db));
	sts_log_debug("cycle: %zu domains, %zu changed, %zu failed, %zu live checks", res.n,
		      res.n_changed, res.n_failed, res.n_checks);
	int rc = res.n_failed ? EXIT_FAIL : EXIT_OK;
	if (json && cli_json_print(sts_watch_result_json(&res)) < 0)
		rc = EXIT_USAGE;
	sts_watch_result_release(&res);
	return rc;
}

/* ---- the daemon ---- */

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

static int reload(struct watch_ctx *w)
{
	struct sts_diags diags;
	struct sts_inventory *inv = NULL;
	struct sts_io *io = NULL;
	sts_diags_init(&diags);
	int r = sts_inventory_load(w->pc.inv->path, &inv, &diags);
	cli_print_diags(&diags);
	sts_diags_release(&diags);
	if (r == STS_OK && (r = sts_io_plugins_new(w->pc.host, inv, &io)) < 0)
		sts_inventory_free(inv);
	if (r < 0) {
		sts_log_err("reload: inventory '%s' not loaded, keeping the previous one",
			    w->pc.inv->path);
		return r;
	}
	sts_io_plugins_free(w->pc.io);
	sts_inventory_free(w->pc.inv);
	w->pc.inv = inv;
	w->pc.io = io;
	sts_log_info("reloaded inventory '%s': %zu domains", inv->path, inv->n_domains);
	return STS_OK;
}

static int daemon_loop(struct watch_ctx *w)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	uint64_t wd_usec = 0;
	bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0;
	w->watchdog = watchdog;
	sd_notifyf(0, "READY=1\nSTATUS=watching %zu domains", w->pc.inv->n_domains);
	sts_log_info("watching %zu domains of '%s'", w->pc.inv->n_domains, w->pc.inv->path);
	int rc = EXIT_OK;
	while (!got_stop) {
		struct sts_watch_conf wc;
		const char *why = NULL;
		if (sts_watch_conf_from_json(json_object_get(w->pc.inv->root, "watch"), &wc, &why) <
		    0)
			wc.interval = STS_WATCH_DEFAULT_INTERVAL;
		int64_t wait = wc.interval;
		int r = sts_lock_acquire(w->pc.state_path, &w->pc.lock);
		if (r == STS_ELOCKED) {
			sts_log_warn("state is locked by another stsctl: cycle postponed by 60s");
			wait = 60;
		} else if (r < 0) {
			sts_log_errno(r, "cannot lock the state '%s'", w->pc.state_path);
			rc = cli_exit_for(r);
			break;
		} else {
			rc = cycle(w, false, false);
			sts_lock_release(w->pc.lock);
			w->pc.lock = NULL;
			if (rc != EXIT_OK && rc != EXIT_FAIL)
				break; /* the state DB failed: systemd restarts us */
		}
		sd_notifyf(0, "STATUS=last cycle at %ld, next in %llds", (long)time(NULL),
			   (long long)wait);
		/* sleep in steps so signals and the watchdog are served */
		time_t until = time(NULL) + (time_t)wait;
		while (!got_stop && !got_hup && time(NULL) < until) {
			if (watchdog)
				sd_notify(0, "WATCHDOG=1");
			unsigned step =
			    watchdog && wd_usec / 2000000 < 5 ? (unsigned)(wd_usec / 2000000) : 5;
			sleep(step ? step : 1);
		}
		if (got_hup && !got_stop) {
			got_hup = 0;
			sd_notify(0, "RELOADING=1");
			reload(w);
			sd_notify(0, "READY=1");
		}
	}
	sd_notify(0, "STOPPING=1");
	if (got_stop)
		sts_log_info("stopping on signal");
	return got_stop ? EXIT_OK : rc;
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"once", no_argument, NULL, OPT_ONCE},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"now", required_argument, NULL, OPT_NOW},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"resolver", required_argument, NULL, OPT_RESOLVER},
	    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct watch_ctx w;
	bool once = false, dry_run = false, json = false;
	const char *state = NULL;
	int c, rc;

	memset(&w, 0, sizeof(w));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ONCE:
			once = true;
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_NOW:
			if (watch_parse_time(optarg, &w.now) < 0)
				return cli_usage_error(
				    watch_usage, "--now: '%s' is not an RFC 3339 time", optarg);
			w.fixed_now = true;
			break;
		case OPT_STATE:
			state = optarg;
			break;
		case OPT_RESOLVER:
			w.check.resolver = optarg;
			break;
		case OPT_CONCURRENCY: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 ||
			    v > STS_WATCH_CONCURRENCY_MAX)
				return cli_usage_error(watch_usage,
						       "invalid concurrency '%s' (1 to %d)", optarg,
						       STS_WATCH_CONCURRENCY_MAX);
			w.concurrency = (unsigned)v;
			break;
		}
		case 'h':
			cli_usage(stdout, watch_usage);
			return EXIT_OK;
		case ':':
			return cli_usage_error(watch_usage, "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error(watch_usage, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(watch_usage,
				       argc - optind ? "too many arguments" : "missing INVENTORY");
	if (!once && (json || w.fixed_now || dry_run))
		return cli_usage_error(watch_usage, "--json, --now and --dry-run need --once");
	if (!once && stderr_is_journal())
		cli_log_journal = true;
	if (w.fixed_now)
		watch_set_clock(&w.pc, &w.now);
	/*
	 * The daemon: one watcher per state (PATH.watch.lock, for its life);
	 * the state lock PATH.lock only during each cycle, so that apply,
	 * ingest and the receiver can write between cycles.
	 */
	struct sts_lock *instance = NULL;
	if (!once) {
		char *ip = NULL;
		const char *sp = state ? state : STS_DB_DEFAULT_PATH;
		int r = asprintf(&ip, "%s.watch", sp) < 0 ? STS_ENOMEM
							  : sts_lock_acquire(ip, &instance);
		if (r == STS_ELOCKED)
			sts_log_err("another stsctl watch runs on this state: '%s.lock'", ip);
		else if (r < 0)
			sts_log_errno(r, "cannot lock '%s.lock'", ip ? ip : sp);
		free(ip);
		if (r < 0)
			return cli_exit_for(r);
	}
	rc = plan_ctx_open(&w.pc, argv[optind], state, !dry_run);
	if (rc == EXIT_OK && !once) {
		sts_lock_release(w.pc.lock);
		w.pc.lock = NULL;
	}
	if (rc == EXIT_OK)
		rc = once ? cycle(&w, dry_run, json) : daemon_loop(&w);
	plan_ctx_close(&w.pc);
	sts_lock_release(instance);
	return rc;
}
