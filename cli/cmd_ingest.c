/* SPDX-License-Identifier: MIT */
/* stsctl ingest: TLS reports from files, directories, Maildir and IMAP into the state DB. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_progress.h"
#include "commands.h"
#include "sts_err.h"

/* docs/stsctl-ingest.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const ingest_usage[] = {
    "stsctl ingest [SOURCE]... [--inventory FILE] [--state PATH] [--trusted NAME] [--jobs N] "
    "[--json] [--progress=WHEN]",
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
    "      --progress=WHEN   inputs read so far on standard error: auto (default: a",
    "                        live line on a terminal, else a line every 10 s; none",
    "                        with -q), always (the live line) or never",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 every input was stored or was a duplicate; 1 an input was",
    "quarantined or refused (pending past the storage quota), a source could not",
    "be read, or the inventory is invalid; 2 usage error; 3 the state is locked by",
    "another stsctl.",
    NULL,
};

/* ---- ingest ---- */

struct ingest_out {
	bool json;
	json_t *quarantine; /* --json: [{source, reason}] */
	json_t *errors;	    /* --json: [{source, error}] */
	size_t unauthenticated;
	sts_progress_fn *progress; /* or NULL */
	size_t done, failed;	   /* inputs seen, quarantined or refused */
};

static void on_event(void *ud, const struct sts_ingest_event *ev)
{
	struct ingest_out *o = ud;
	o->done++;
	o->failed += ev->outcome == STS_INGEST_QUARANTINED || ev->outcome == STS_INGEST_REFUSED;
	if (o->progress)
		o->progress(NULL, o->done, 0, o->failed);
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
	const char *trusted;
	unsigned jobs;
	int progress; /* enum cli_progress_mode */
};

/* `--trusted SOURCE...` of before would take a path for the name */
static int opt_trusted(struct cli_ctx *ctx, void *field, const char *value)
{
	if (!*value || strchr(value, '/') || access(value, F_OK) == 0)
		return cli_usage_error(ctx->def->usage,
				       "--trusted takes the NAME of the reporter the files stand "
				       "for, not a path: '%s'",
				       value);
	*(const char **)field = value;
	return EXIT_OK;
}

static const struct cli_opt ingest_opts[] = {
    CLI_INVENTORY('i'),
    CLI_STATE,
    CLI_CALLBACK("trusted", 0, struct ingest_args, trusted, opt_trusted),
    CLI_UINT("jobs", 'j', struct ingest_args, jobs, 1, 64,
	     "invalid --jobs '%s': expected %lu..%lu"),
    CLI_JSON,
    CLI_PROGRESS(struct ingest_args, progress),
    CLI_END,
};

static int run(struct cli_ctx *ctx)
{
	const struct ingest_args *a = ctx->args;
	struct ingest_out out = {
	    .json = ctx->json, .quarantine = json_array(), .errors = json_array()};
	struct sts_ingest *ing = NULL;
	const struct sts_ingest_conf *conf = ctx->conf;
	size_t n_sources = (size_t)ctx->argc;
	int rc = EXIT_OK;
	if (!n_sources && !conf->n_sources) {
		rc =
		    cli_usage_error(ingest_usage,
				    ctx->inventory_path ? "no SOURCE and no reports.sources in '%s'"
							: "no SOURCE given%s",
				    ctx->inventory_path ? ctx->inventory_path : "");
		goto done;
	}
	struct sts_ingest_opts o = {
	    .conf = conf,
	    .trusted_files = a->trusted != NULL,
	    .trusted_name = a->trusted,
	    .jobs = a->jobs,
	    .on_event = on_event,
	    .on_source_error = on_source_error,
	    .ud = &out,
	};
	int r = sts_ingest_new(ctx->db, &o, &ing);
	if (r < 0) {
		cli_db_error(ctx, r);
		rc = r == STS_EDB ? EXIT_FAIL : EXIT_INTERNAL;
		goto done;
	}
	/* reports a temporary DKIM failure left pending: verify them again first */
	size_t still = 0;
	if ((r = sts_ingest_recheck_pending(ing, &still)) < 0) {
		sts_log_err("state database '%s': %s", ctx->state_path,
			    r == STS_EDB ? sts_ingest_errmsg(ing) : sts_strerror(r));
		rc = r == STS_EDB ? EXIT_FAIL : EXIT_INTERNAL;
		goto done;
	}
	if (still)
		sts_log_info("%zu report%s still pending: DKIM key lookups failed temporarily",
			     still, still == 1 ? "" : "s");
	size_t n = n_sources ? n_sources : conf->n_sources;
	bool failed_source = false;
	cli_progress_start(a->progress, "ingest", "inputs", 0);
	out.progress = cli_progress_fn();
	for (size_t i = 0; i < n; i++) {
		const char *spec = n_sources ? ctx->argv[i] : conf->sources[i].spec;
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
	r = sts_ingest_finish(ing);
	cli_progress_end();
	if (r < 0) {
		sts_log_err("state database '%s': %s", ctx->state_path, sts_ingest_errmsg(ing));
		rc = EXIT_FAIL;
		goto done;
	}
	const struct sts_ingest_stats *st = sts_ingest_get_stats(ing);
	if (print_summary(st, &out) < 0)
		rc = EXIT_USAGE;
	else if (st->quarantined || st->source_errors || st->refused || failed_source)
		rc = EXIT_FAIL;
done:
	cli_progress_end();
	sts_ingest_free(ing);
	json_decref(out.quarantine);
	json_decref(out.errors);
	return rc;
}

CLI_COMMAND(ingest, .args_size = sizeof(struct ingest_args), .max_args = -1);
