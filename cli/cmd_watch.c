/* SPDX-License-Identifier: MIT */
/*
 * stsctl watch: the rollout watcher (core/watch/sts_watch.h), one cycle for cron
 * or CI, or a daemon on the inventory's "watch" schedule with systemd
 * notification, signals and journald-friendly logs.
 */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cli.h"
#include "cli_scope.h"
#include "commands.h"
#include "sts_apply.h"
#include "sts_check.h"
#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_watch.h"
#include "sts_watch_run.h"

/* docs/stsctl-watch.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const watch_usage[] = {
    "stsctl watch INVENTORY [--once] [--dry-run] [--json] [--now RFC3339] [--state PATH]",
    "             [--resolver IP[:PORT]] [--concurrency N] [--tenant NAME]...",
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
    "      --tenant NAME     only this tenant's domains (repeatable)",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 the cycle ran (or the daemon stopped on SIGTERM/SIGINT); 1 a",
    "domain's transition failed or the inventory is invalid; 2 usage error; 3 the",
    "state is locked by another stsctl.",
    NULL,
};

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

struct watch_args {
	bool once, dry_run;
	const char *resolver;
	unsigned concurrency;	/* live checks at a time; 0: the default */
	struct cli_scope scope; /* --tenant: resolved again each cycle */
};

struct watch_ctx {
	struct cli_ctx *c;
	struct sts_check_opts check;
	bool watchdog; /* daemon under a systemd watchdog: ping around slow steps */
	/* the inventory's file as last read: re-read when it changed (never a
	 * stale inventory over an operator's brake, docs/stsctl-watch.md) */
	struct timespec inv_mtime;
	off_t inv_size;
	char inv_hash[65];
	bool stale; /* it changed during a cycle: an apply was refused, cycle again */
};

/* Remember the inventory's file as it is now (after it was read). */
static void inventory_stamp(struct watch_ctx *w)
{
	struct stat st;
	if (stat(w->c->inv->path, &st) < 0)
		return;
	w->inv_mtime = st.st_mtim;
	w->inv_size = st.st_size;
	sts_file_sha256(w->c->inv->path, w->inv_hash);
}

/* Did the inventory's file change since it was read (mtime and size, then its hash)? */
static bool inventory_changed(struct watch_ctx *w)
{
	struct stat st;
	char hash[65] = "";
	if (stat(w->c->inv->path, &st) < 0)
		return false; /* gone or unreadable: kept, the reload would fail too */
	if (st.st_mtim.tv_sec == w->inv_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == w->inv_mtime.tv_nsec && st.st_size == w->inv_size)
		return false;
	sts_file_sha256(w->c->inv->path, hash);
	if (strcmp(hash, w->inv_hash) != 0)
		return true;
	w->inv_mtime = st.st_mtim; /* touched, same content */
	w->inv_size = st.st_size;
	return false;
}

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
	w->check.inventory = w->c->inv; /* a hosted domain's delegation (reloaded by SIGHUP) */
	int r = sts_watch_check_domain(d, &w->check, sts_db_now(w->c->db), ret);
	if (r < 0)
		sts_log_warn("%s: live check failed to run: %s", d->name, sts_strerror(r));
	return r;
}

static int op_apply(void *ud, const struct sts_domain *d, enum sts_mode mode, char **reterr)
{
	struct watch_ctx *w = ud;
	struct sts_diags diags;
	(void)mode; /* the plan takes it from the pending stage in the DB */
	if (w->watchdog)
		sd_notify(0, "WATCHDOG=1");
	if (w->stale || inventory_changed(w)) {
		/* never a promotion or apply from an inventory that is no longer the file's */
		w->stale = true;
		*reterr = strdup("the inventory changed during the cycle: not applied, the next "
				 "cycle reads it again");
		return STS_ESTALE;
	}
	sts_diags_init(&diags);
	struct sts_watch_run run = {
	    .inv = w->c->inv, .db = w->c->db, .io = w->c->io, .diags = &diags};
	int r = sts_watch_apply_domain(&run, d, reterr);
	cli_print_diags(&diags);
	sts_diags_release(&diags);
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
		else if (d->held)
			sts_log_info("%s: skipped, held by another watcher", d->domain);
		else if (d->changed)
			sts_log_info("%s: %s%s -> %s: %s", d->domain, dry_run ? "would move " : "",
				     from ? from : "?", to ? to : "?", d->reason);
		else
			sts_log_debug("%s: %s: %s", d->domain, from ? from : "?", d->reason);
	}
	if (res->n_held)
		sts_log_info("%zu domains held by another watcher, skipped this cycle",
			     res->n_held);
}

static void notify(const struct sts_watch_conf *wc, const struct sts_watch_result *res, time_t now)
{
	char *err = NULL;
	size_t n = 0;
	if (!wc->webhook)
		return;
	json_t *msg = sts_watch_webhook_doc(res, now, &n);
	if (!msg && !n)
		return;
	int r = msg ? sts_watch_notify(wc->webhook, wc->webhook_ca_file, msg, &err) : STS_ENOMEM;
	if (r < 0)
		sts_log_warn("cannot notify '%s': %s", wc->webhook, err ? err : sts_strerror(r));
	else
		sts_log_info("notified '%s' of %zu changes", wc->webhook, n);
	free(err);
	json_decref(msg);
}

/*
 * The hosted certificates that failed or expire soon, once per change of
 * their condition: logged, and posted to the webhook when there is one
 * (remembered as posted only once delivered, so a failed POST is retried).
 */
static void notify_certs(struct cli_ctx *c, const struct sts_watch_conf *wc)
{
	json_t *doc = NULL, *e;
	char *err = NULL;
	size_t i;
	int r = sts_watch_cert_events(c->db, sts_db_now(c->db), wc->cert_warn_days, &doc);
	if (r < 0) {
		sts_log_warn("cannot read the hosted certificates: %s", sts_strerror(r));
		return;
	}
	if (!doc)
		return;
	json_array_foreach(json_object_get(doc, "events"), i, e)
	{
		const char *le = json_string_value(json_object_get(e, "last_error"));
		const char *na = json_string_value(json_object_get(e, "not_after"));
		sts_log_warn("certificate of '%s' %s (valid until %s)%s%s",
			     json_string_value(json_object_get(e, "host")),
			     json_string_value(json_object_get(e, "condition")), na ? na : "-",
			     le ? ": " : "", le ? le : "");
	}
	r = wc->webhook ? sts_watch_notify(wc->webhook, wc->webhook_ca_file, doc, &err) : STS_OK;
	if (r < 0)
		sts_log_warn("cannot notify '%s': %s", wc->webhook, err ? err : sts_strerror(r));
	else if ((r = sts_watch_cert_posted(c->db, doc)) < 0)
		sts_log_warn("cannot record the certificate events: %s", sts_strerror(r));
	else if (wc->webhook)
		sts_log_info("notified '%s' of %zu certificate events", wc->webhook,
			     json_array_size(json_object_get(doc, "events")));
	free(err);
	json_decref(doc);
}

static void on_skip(void *ud, const char *source, const char *why)
{
	(void)ud;
	sts_log_warn("cannot read report source '%s': %s, skipping", source, why);
}

/* Read the configured report sources (reports.sources) into the state DB. */
static int ingest(struct watch_ctx *w)
{
	struct sts_ingest_stats st;
	char *err = NULL;
	int r = sts_watch_ingest(w->c->inv, w->c->db, on_skip, NULL, &st, &err);
	if (r == STS_EINVALID)
		sts_log_err("inventory '%s': %s", w->c->inv->path, err ? err : sts_strerror(r));
	else if (r == STS_EDB)
		sts_log_err("ingest: %s", err ? err : sts_strerror(r));
	else if (st.stored || st.quarantined)
		sts_log_info("ingested %zu new reports (%zu duplicates, %zu quarantined)",
			     st.stored, st.duplicates, st.quarantined);
	free(err);
	return r;
}

static bool in_scope(void *ud, const char *domain)
{
	return cli_scope_has(ud, domain);
}

static int cycle(struct watch_ctx *w, const struct watch_args *a, bool json)
{
	struct sts_watch_conf wc;
	const char *why = NULL;
	struct sts_watch_result res;
	if (sts_watch_conf_from_json(json_object_get(w->c->inv->root, "watch"), &wc, &why) < 0) {
		sts_log_err("inventory '%s': %s", w->c->inv->path, why);
		return EXIT_FAIL;
	}
	bool dry_run = a->dry_run;
	if (!dry_run && ingest(w) < 0)
		return EXIT_FAIL;
	const struct sts_watch_ops ops = {
	    .check = op_check, .apply = op_apply, .tick = op_tick, .ud = w};
	/* the tenants' domains in the inventory as it is now (reloads) */
	struct cli_scope scope = {.tenants = a->scope.tenants};
	int rc = cli_scope_resolve(w->c, &scope);
	if (rc != EXIT_OK)
		return rc;
	const struct sts_watch_opts o = {.dry_run = dry_run,
					 .all_reports = sts_watch_all_reports(w->c->inv),
					 .check_every = wc.check_interval,
					 .concurrency = a->concurrency,
					 .ops = &ops,
					 .in_scope = scope.active ? in_scope : NULL,
					 .scope_ud = &scope,
					 .leases = sts_db_location_is_url(sts_db_path(w->c->db))};
	int r = sts_watch_cycle(w->c->inv, w->c->db, &o, &res);
	cli_scope_release(&scope);
	if (r < 0) {
		if (r == STS_EDB)
			cli_db_error(w->c, r);
		else
			sts_log_errno(r, "watch cycle stopped");
		return cli_exit_for(r) == EXIT_OK ? EXIT_FAIL : cli_exit_for(r);
	}
	log_decisions(&res, dry_run);
	if (!dry_run) {
		notify(&wc, &res, (time_t)sts_db_now(w->c->db));
		notify_certs(w->c, &wc);
	}
	sts_log_debug("cycle: %zu domains, %zu changed, %zu failed, %zu live checks, %zu held by "
		      "another watcher",
		      res.n, res.n_changed, res.n_failed, res.n_checks, res.n_held);
	rc = res.n_failed ? EXIT_FAIL : EXIT_OK;
	if (json && !w->stale && cli_json_print(sts_watch_result_json(&res)) < 0)
		rc = EXIT_USAGE;
	sts_watch_result_release(&res);
	return rc;
}

static int reload(struct watch_ctx *w);

/*
 * A cycle with the inventory as its file is now: re-read first when it
 * changed, and once more when it changed during the cycle (an apply was
 * refused then), at most STALE_RERUNS times.
 */
#define STALE_RERUNS 3
static int fresh_cycle(struct watch_ctx *w, const struct watch_args *a, bool json)
{
	int rc = EXIT_OK;
	for (int n = 0; n <= STALE_RERUNS; n++) {
		if (inventory_changed(w) && reload(w) < 0)
			return EXIT_FAIL;
		w->stale = false;
		rc = cycle(w, a, json); /* its JSON only when not stale */
		if (!w->stale)
			return rc;
	}
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
	struct sts_inventory *inv = NULL;
	struct sts_io *io = NULL;
	int r = STS_OK;
	if (cli_inventory_load(w->c->inv->path, &inv) != EXIT_OK ||
	    (r = sts_io_plugins_new(w->c->host, inv, &io)) < 0) {
		sts_inventory_free(inv);
		sts_log_err("reload: inventory '%s' not loaded, keeping the previous one",
			    w->c->inv->path);
		return r < 0 ? r : STS_EINVALID;
	}
	sts_io_plugins_free(w->c->io);
	sts_inventory_free(w->c->inv);
	w->c->inv = inv;
	w->c->io = io;
	inventory_stamp(w);
	sts_log_info("reloaded inventory '%s': %zu domains", inv->path, inv->n_domains);
	return STS_OK;
}

static int daemon_loop(struct watch_ctx *w, const struct watch_args *a)
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
	sd_notifyf(0, "READY=1\nSTATUS=watching %zu domains", w->c->inv->n_domains);
	sts_log_info("watching %zu domains of '%s'", w->c->inv->n_domains, w->c->inv->path);
	int rc = EXIT_OK;
	while (!got_stop) {
		struct sts_watch_conf wc;
		const char *why = NULL;
		if (sts_watch_conf_from_json(json_object_get(w->c->inv->root, "watch"), &wc, &why) <
		    0)
			wc.interval = STS_WATCH_DEFAULT_INTERVAL;
		int64_t wait = wc.interval;
#ifdef STS_TEST_HOOKS
		/* tests run the daemon's cycles seconds apart (watch.interval is 60 s at least) */
		const char *ti = getenv("STSCTL_TEST_WATCH_INTERVAL");
		if (ti && atoi(ti) > 0)
			wait = atoi(ti);
#endif
		int r = sts_lock_acquire(w->c->state_path, &w->c->lock);
		if (r == STS_ELOCKED) {
			sts_log_warn("state is locked by another stsctl: cycle postponed by 60s");
			wait = 60;
		} else if (r < 0) {
			sts_log_errno(r, "cannot lock the state '%s'", w->c->state_path);
			rc = cli_exit_for(r);
			break;
		} else {
			rc = fresh_cycle(w, a, false);
			sts_lock_release(w->c->lock);
			w->c->lock = NULL;
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
			if (wait > 0 && (int64_t)step > wait)
				step = (unsigned)wait; /* a test's interval, shorter than a step */
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

static const struct cli_opt watch_opts[] = {
    CLI_BOOL("once", 0, struct watch_args, once),
    CLI_BOOL("dry-run", 0, struct watch_args, dry_run),
    CLI_JSON,
    CLI_NOW,
    CLI_STATE,
    CLI_STRING("resolver", 0, struct watch_args, resolver),
    CLI_UINT("concurrency", 0, struct watch_args, concurrency, 1, STS_WATCH_CONCURRENCY_MAX,
	     "invalid concurrency '%s' (%lu to %lu)"),
    CLI_TENANT(struct watch_args, scope),
    CLI_END,
};

/*
 * The daemon: one watcher per state (PATH.watch.lock, for its life); the
 * state lock PATH.lock only during each cycle, so that apply, ingest and
 * the receiver can write between cycles. --dry-run: read-only, no lock.
 */
static int prepare(struct cli_ctx *ctx)
{
	const struct watch_args *a = ctx->args;
	if (!a->once && (ctx->json || ctx->clock.now || a->dry_run))
		return cli_usage_error(watch_usage, "--json, --now and --dry-run need --once");
	if (!a->once && stderr_is_journal())
		cli_log_journal = true;
	if (a->dry_run)
		ctx->flags = (ctx->flags & ~(CMD_STATE_RW | CMD_LOCK)) | CMD_STATE_RO;
	return EXIT_OK;
}

/* after the setup, which says where the state lives (--state, STSCTL_STATE, the inventory) */
static int hold_watch_lock(struct cli_ctx *ctx)
{
	if (ctx->state_url) /* no lock file named after a URL */
		return EXIT_OK;
	char *ip = NULL;
	const char *sp = ctx->state_path;
	int r = asprintf(&ip, "%s.watch", sp) < 0 ? STS_ENOMEM : sts_lock_acquire(ip, &ctx->hold);
	if (r == STS_ELOCKED)
		sts_log_err("another stsctl watch runs on this state: '%s.lock'", ip);
	else if (r < 0)
		sts_log_errno(r, "cannot lock '%s.lock'", ip ? ip : sp);
	free(ip);
	return r < 0 ? cli_exit_for(r) : EXIT_OK;
}

static int run(struct cli_ctx *ctx)
{
	const struct watch_args *a = ctx->args;
	struct watch_ctx w = {.c = ctx};
	w.check.resolver = a->resolver;
	inventory_stamp(&w);
	if (a->once)
		return fresh_cycle(&w, a, ctx->json);
	int rc = hold_watch_lock(ctx);
	if (rc != EXIT_OK)
		return rc;
	sts_lock_release(ctx->lock);
	ctx->lock = NULL;
	return daemon_loop(&w, a);
}

CLI_COMMAND(watch, CLI_ONE_ARG("INVENTORY"), .args_size = sizeof(struct watch_args),
	    .prepare = prepare);
