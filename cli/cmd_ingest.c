/* SPDX-License-Identifier: MIT */
/* stsctl ingest: TLS reports from files, directories, Maildir and IMAP into the state DB. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_ingest.h"
#include "commands.h"
#include "sts_err.h"

/* docs/stsctl-ingest.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
const char *const ingest_usage[] = {
    "stsctl ingest [SOURCE]... [--inventory FILE] [--state PATH] [--trusted NAME] [--jobs N] "
    "[--json]",
    "",
    "Read TLS reports (RFC 8460) into the state database. A SOURCE is a file",
    "(.json, .json.gz, .eml), a directory (read recursively), maildir:PATH,",
    "imap://HOST/MAILBOX (STARTTLS required) or imaps://HOST/MAILBOX; without",
    "one, the inventory's reports.sources. Reports are deduplicated, kept",
    "compressed and counted per domain and day; a report counts as evidence",
    "only when its reporter (the organisational domain of its verified DKIM",
    "d=, or a trusted source's name) is in reports.reporters; input that",
    "cannot be used is quarantined with the reason. Reports left pending by a",
    "temporary DKIM key lookup failure are verified again first.",
    "",
    "  -i, --inventory FILE  reports settings: sources, IMAP credentials, DKIM keys,",
    "                        trusted MTAs",
    "      --state PATH      state database (default ./stsctl.db); the lock is PATH.lock",
    "      --trusted NAME    vouch for the reports read from files, directories and",
    "                        Maildir as reporter NAME (they count as evidence when",
    "                        NAME is in reports.reporters)",
    "  -j, --jobs N          parser threads (default: one per CPU, at most 8)",
    "      --json            print the counts and every quarantined input as JSON",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 every input was stored or was a duplicate; 1 an input was",
    "quarantined or refused (pending past the storage quota), a source could not",
    "be read, or the inventory is invalid; 2 usage error; 3 the state is locked by",
    "another stsctl.",
    NULL,
};

enum {
	OPT_STATE = 1000,
	OPT_TRUSTED,
	OPT_JSON,
};

/* ---- shared with receive, report, prune ---- */

static time_t test_clock(void *ud)
{
	return *(time_t *)ud;
}

int report_lock_error(int r, const char *state)
{
	char *lp = sts_lock_path_for(state);
	if (r == STS_ELOCKED)
		sts_log_err("state is locked by another stsctl: '%s'", lp ? lp : state);
	else
		sts_log_errno(r, "cannot lock '%s'", lp ? lp : state);
	free(lp);
	return cli_exit_for(r);
}

int report_ctx_open(struct report_ctx *c, const char *inventory, const char *state, unsigned flags)
{
	char *err = NULL;
	int r;
	c->state_path = state ? state : STS_DB_DEFAULT_PATH;
	const char *now = getenv("STSCTL_TEST_NOW");
	if (now && *now) {
		c->test_now = (time_t)strtoll(now, NULL, 10);
		c->clock.now = test_clock;
		c->clock.ud = &c->test_now;
	}
	if (inventory) {
		struct sts_diags diags;
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
	}
	r = sts_ingest_conf_from_json(c->inv ? json_object_get(c->inv->root, "reports") : NULL,
				      c->inv ? c->inv->dir : ".", &c->conf, &err);
	if (r < 0) {
		sts_log_err("inventory '%s': %s", inventory ? inventory : "-",
			    err ? err : sts_strerror(r));
		free(err);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_FAIL;
	}
	if ((flags & RCTX_LOCK) && (r = sts_lock_acquire(c->state_path, &c->lock)) < 0)
		return report_lock_error(r, c->state_path);
	r = sts_db_open(c->state_path, flags & RCTX_WRITER ? 0 : STS_DB_READONLY, &c->clock, &c->db,
			&err);
	if (r < 0) {
		sts_log_err("%s", err ? err : sts_strerror(r));
		free(err);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
	return EXIT_OK;
}

void report_ctx_close(struct report_ctx *c)
{
	sts_db_close(c->db);
	sts_lock_release(c->lock);
	sts_ingest_conf_free(c->conf);
	sts_inventory_free(c->inv);
	memset(c, 0, sizeof(*c));
}

/* ---- ingest ---- */

struct ingest_out {
	bool json;
	json_t *quarantine; /* --json: [{source, reason}] */
	json_t *errors;	    /* --json: [{source, error}] */
	size_t unauthenticated;
};

static void on_event(void *ud, const struct sts_ingest_event *ev)
{
	struct ingest_out *o = ud;
	if (ev->outcome == STS_INGEST_STORED && !ev->authenticated)
		o->unauthenticated++;
	if (ev->outcome == STS_INGEST_QUARANTINED) {
		if (o->json)
			json_array_append_new(o->quarantine,
					      json_pack("{s:s,s:s,s:s}", "source", ev->source,
							"channel",
							sts_ingest_channel_name(ev->channel),
							"reason", ev->reason ? ev->reason : ""));
		else
			sts_log_warn("quarantined '%s': %s", ev->source,
				     ev->reason ? ev->reason : "unusable");
		return;
	}
	if (ev->outcome == STS_INGEST_SKIPPED) {
		sts_log_debug("skipped '%s': %s", ev->source, ev->reason ? ev->reason : "");
		return;
	}
	if (ev->outcome == STS_INGEST_REFUSED) {
		if (o->json)
			json_array_append_new(o->errors,
					      json_pack("{s:s,s:s}", "source", ev->source, "error",
							ev->reason ? ev->reason : "refused"));
		else
			sts_log_warn("refused '%s': %s", ev->source,
				     ev->reason ? ev->reason : "refused");
		return;
	}
	sts_log_debug("%s '%s': %s %s (%s)%s%s", sts_ingest_outcome_name(ev->outcome), ev->source,
		      ev->organization ? ev->organization : "(no organization)",
		      ev->report_id ? ev->report_id : "(no report-id)",
		      ev->authenticated ? "authenticated" : "not authenticated",
		      ev->n_warnings ? "; warnings: " : "", ev->n_warnings ? ev->warnings : "");
}

static void on_source_error(void *ud, const char *source, int err, const char *msg)
{
	struct ingest_out *o = ud;
	if (o->json)
		json_array_append_new(o->errors,
				      json_pack("{s:s,s:s}", "source", source, "error", msg));
	else
		sts_log_err("%s", msg);
	(void)err;
}

static int print_summary(const struct sts_ingest_stats *st, struct ingest_out *o)
{
	if (o->json) {
		json_t *doc = json_pack(
		    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O,s:O}", "inputs",
		    (json_int_t)st->inputs, "stored", (json_int_t)st->stored, "unauthenticated",
		    (json_int_t)o->unauthenticated, "duplicates", (json_int_t)st->duplicates,
		    "upgraded", (json_int_t)st->upgraded, "quarantined",
		    (json_int_t)st->quarantined, "skipped", (json_int_t)st->skipped, "refused",
		    (json_int_t)st->refused, "source_errors", (json_int_t)st->source_errors,
		    "quarantine", o->quarantine, "errors", o->errors);
		return cli_json_print(doc);
	}
	char refused[64] = "";
	if (st->refused)
		snprintf(refused, sizeof(refused), ", %zu refused (storage quota full)",
			 st->refused);
	if (cli_verbosity >= 1)
		fprintf(stderr,
			"Ingest: %zu inputs, %zu reports stored (%zu not authenticated), %zu "
			"duplicates, %zu upgraded, %zu quarantined, %zu skipped%s\n",
			st->inputs, st->stored, o->unauthenticated, st->duplicates, st->upgraded,
			st->quarantined, st->skipped, refused);
	return 0;
}

struct ingest_args {
	const char *inventory, *state;
	char **sources;
	size_t n_sources;
	const char *trusted;
	bool json;
	unsigned jobs;
};

static int run(const struct ingest_args *a)
{
	struct report_ctx c = {0};
	struct sts_ingest *ing = NULL;
	struct ingest_out out = {
	    .json = a->json, .quarantine = json_array(), .errors = json_array()};
	int rc = report_ctx_open(&c, a->inventory, a->state, RCTX_WRITER | RCTX_LOCK);
	if (rc != EXIT_OK)
		goto done;
	if (!a->n_sources && !c.conf->n_sources) {
		rc = cli_usage_error(ingest_usage,
				     a->inventory ? "no SOURCE and no reports.sources in '%s'"
						  : "no SOURCE given%s",
				     a->inventory ? a->inventory : "");
		goto done;
	}
	struct sts_ingest_opts o = {
	    .conf = c.conf,
	    .trusted_files = a->trusted != NULL,
	    .trusted_name = a->trusted,
	    .jobs = a->jobs,
	    .on_event = on_event,
	    .on_source_error = on_source_error,
	    .ud = &out,
	};
	int r = sts_ingest_new(c.db, &o, &ing);
	if (r < 0) {
		sts_log_err("state database '%s': %s", c.state_path,
			    r == STS_EDB ? sts_db_errmsg(c.db) : sts_strerror(r));
		rc = r == STS_EDB ? EXIT_FAIL : EXIT_INTERNAL;
		goto done;
	}
	/* reports a temporary DKIM failure left pending: verify them again first */
	size_t still = 0;
	if ((r = sts_ingest_recheck_pending(ing, &still)) < 0) {
		sts_log_err("state database '%s': %s", c.state_path,
			    r == STS_EDB ? sts_ingest_errmsg(ing) : sts_strerror(r));
		rc = r == STS_EDB ? EXIT_FAIL : EXIT_INTERNAL;
		goto done;
	}
	if (still)
		sts_log_info("%zu report%s still pending: DKIM key lookups failed temporarily",
			     still, still == 1 ? "" : "s");
	size_t n = a->n_sources ? a->n_sources : c.conf->n_sources;
	bool failed_source = false;
	for (size_t i = 0; i < n; i++) {
		const char *spec = a->n_sources ? a->sources[i] : c.conf->sources[i].spec;
		r = sts_ingest_source(ing, spec);
		if (r == STS_EDB || r == STS_ENOMEM) {
			sts_log_err("ingest stopped at '%s': %s", spec,
				    r == STS_EDB ? sts_ingest_errmsg(ing) : sts_strerror(r));
			rc = r == STS_EDB ? EXIT_FAIL : EXIT_INTERNAL;
			goto done;
		}
		if (r < 0) {
			const char *m = sts_ingest_errmsg(ing);
			char msg[600];
			snprintf(msg, sizeof(msg), "cannot read source '%s': %s", spec,
				 r == STS_EINVAL || !*m ? sts_strerror(r) : m);
			on_source_error(&out, spec, r, msg);
			failed_source = true;
		}
	}
	if ((r = sts_ingest_finish(ing)) < 0) {
		sts_log_err("state database '%s': %s", c.state_path, sts_ingest_errmsg(ing));
		rc = EXIT_FAIL;
		goto done;
	}
	const struct sts_ingest_stats *st = sts_ingest_get_stats(ing);
	if (print_summary(st, &out) < 0)
		rc = EXIT_USAGE;
	else if (st->quarantined || st->source_errors || st->refused || failed_source)
		rc = EXIT_FAIL;
done:
	sts_ingest_free(ing);
	report_ctx_close(&c);
	json_decref(out.quarantine);
	json_decref(out.errors);
	return rc;
}

int cmd_ingest(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"inventory", required_argument, NULL, 'i'},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"trusted", required_argument, NULL, OPT_TRUSTED},
	    {"jobs", required_argument, NULL, 'j'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ingest_args a = {0};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			a.inventory = optarg;
			break;
		case OPT_STATE:
			a.state = optarg;
			break;
		case OPT_TRUSTED:
			/* `--trusted SOURCE...` of before would take a path for the name */
			if (!*optarg || strchr(optarg, '/') || access(optarg, F_OK) == 0)
				return cli_usage_error(
				    ingest_usage,
				    "--trusted takes the NAME of the reporter the files stand for, "
				    "not a path: '%s'",
				    optarg);
			a.trusted = optarg;
			break;
		case 'j': {
			char *end;
			long j = strtol(optarg, &end, 10);
			if (*end || end == optarg || j < 1 || j > 64)
				return cli_usage_error(
				    ingest_usage, "invalid --jobs '%s': expected 1..64", optarg);
			a.jobs = (unsigned)j;
			break;
		}
		case OPT_JSON:
			a.json = true;
			break;
		case 'h':
			cli_usage(stdout, ingest_usage);
			return EXIT_OK;
		case ':':
			return cli_usage_error(ingest_usage, "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error(ingest_usage, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	a.sources = argv + optind;
	a.n_sources = (size_t)(argc - optind);
	return run(&a);
}
