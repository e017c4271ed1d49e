/* SPDX-License-Identifier: MIT */
/* stsctl state check|backup: is the state DB sound, and a consistent copy of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "sts_db_check.h"
#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_ingest.h"
#include "sts_plan_tenants.h"
#include "sts_rollout.h"

/* docs/stsctl-state.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const state_usage[] = {
    "stsctl state check [--json] [--state PATH] [--inventory FILE]",
    "stsctl state backup FILE [--state PATH] [--inventory FILE]",
    "",
    "check: read the state database without trusting it: SQLite's quick_check",
    "and integrity_check, each component's schema version against this stsctl,",
    "and whether its rows agree (runs left running by a crash, journal rows of",
    "no run, ...). One line per finding. Read-only; needs no lock.",
    "",
    "backup: copy the state database to FILE through SQLite's online backup",
    "API, consistent while apply, watch or serve write it; the copy is checked,",
    "synced and renamed into place, so FILE is the old file or the new copy.",
    "A PostgreSQL state is backed up with pg_dump: backup prints the command.",
    "",
    "      --json            check: print the findings as JSON",
    "      --state PATH      state database or postgresql:// URL (default:",
    "                        STSCTL_STATE, the inventory's state.url, ./stsctl.db)",
    "  -i, --inventory FILE  the inventory whose \"state\" section names the state",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 the state is sound (check; notes allowed) or the backup is",
    "written; 1 check found rows that disagree; 2 usage error, no state, or a",
    "damaged or unusable state (corrupt, not a database, empty, a schema newer",
    "than this stsctl), or FILE cannot be written (and for a PostgreSQL state:",
    "check is not supported there yet; backup printed the pg_dump command).",
    NULL,
};

static const struct cli_opt state_opts[] = {
    CLI_JSON,
    CLI_STATE,
    CLI_INVENTORY('i'),
    CLI_END,
};

static const char *const level_names[] = {
    [STS_DB_NOTE] = "note",
    [STS_DB_INCONSISTENT] = "inconsistent",
    [STS_DB_DAMAGED] = "damaged",
};

/* The schema versions this stsctl knows: every component migrated on a new in-memory DB. */
static int known_versions(struct sts_db_component *v, size_t n)
{
	struct sts_db *db = NULL;
	int r = sts_db_open(":memory:", 0, NULL, &db, NULL);
	if (r == STS_OK && (r = sts_ingest_schema(db)) == STS_OK &&
	    (r = sts_rollout_schema(db)) == STS_OK && (r = sts_hosted_schema(db)) == STS_OK)
		r = sts_plan_schema(db);
	for (size_t i = 0; i < n && r == STS_OK; i++)
		r = sts_db_schema_version(db, v[i].name, &v[i].version);
	sts_db_close(db);
	return r;
}

static int print_findings(const struct cli_ctx *ctx, const struct sts_db_findings *f)
{
	const char *status = STS_NAME_OF(level_names, f->worst, "?");
	if (!f->n)
		status = "ok";
	if (ctx->json) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < f->n; i++)
			if (json_array_append_new(
				a, json_pack("{s:s,s:s,s:s}", "level",
					     STS_NAME_OF(level_names, f->v[i].level, "?"), "check",
					     f->v[i].check, "message", f->v[i].message)) < 0) {
				json_decref(a);
				a = NULL;
			}
		return cli_json_print(a ? json_pack("{s:s,s:s,s:o}", "state", ctx->state_path,
						    "status", status, "findings", a)
					: NULL);
	}
	for (size_t i = 0; i < f->n; i++)
		printf("%s: %s: %s\n", STS_NAME_OF(level_names, f->v[i].level, "?"), f->v[i].check,
		       f->v[i].message);
	printf("state database '%s': %s\n", ctx->state_path, status);
	return 0;
}

static int check(struct cli_ctx *ctx)
{
	if (ctx->state_url) {
		sts_log_err("state check: not supported on PostgreSQL yet: '%s'", ctx->state_path);
		return EXIT_USAGE;
	}
	struct sts_db_component known[] = {
	    {"core", 0},
	    {STS_INGEST_COMPONENT, 0},
	    {STS_ROLLOUT_COMPONENT, 0},
	    {STS_HOSTED_COMPONENT, 0},
	    {STS_PLAN_COMPONENT, 0},
	};
	size_t n = sizeof(known) / sizeof(known[0]);
	struct sts_db_findings f;
	int r = known_versions(known, n);
	if (r < 0) {
		sts_log_errno(r, "cannot list the schema versions of this stsctl");
		return EXIT_INTERNAL;
	}
	r = sts_db_check(ctx->state_path, known, n, &f);
	if (r == STS_ENOENT) {
		sts_log_err("no state database at '%s'", ctx->state_path);
		return EXIT_USAGE;
	}
	if (r < 0) {
		sts_log_errno(r, "cannot check '%s'", ctx->state_path);
		return cli_exit_for(r);
	}
	int rc = print_findings(ctx, &f) < 0	  ? EXIT_USAGE
		 : f.worst == STS_DB_DAMAGED	  ? EXIT_USAGE
		 : f.worst == STS_DB_INCONSISTENT ? EXIT_FAIL
						  : EXIT_OK;
	if (f.worst == STS_DB_DAMAGED && !ctx->json)
		sts_log_err("state database '%s' is damaged or unusable: restore a backup "
			    "(docs/state.md, Recovery)",
			    ctx->state_path);
	sts_db_findings_release(&f);
	return rc;
}

/* s in single quotes for a POSIX shell ('\'' for a quote) */
static void print_quoted(const char *s)
{
	putchar('\'');
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	putchar('\'');
}

/* PostgreSQL: pg_dump makes the consistent copy; FILE is not written (exit 2). */
static int backup_url(struct cli_ctx *ctx, const char *dest)
{
	fputs("pg_dump --format=custom --file=", stdout);
	print_quoted(dest);
	putchar(' ');
	print_quoted(ctx->state_path);
	putchar('\n');
	sts_log_err("state backup: a PostgreSQL state is backed up with pg_dump, not by stsctl: "
		    "'%s' is not written; run the command above (it reads the password from "
		    "libpq's password file, ~/.pgpass or PGPASSFILE)",
		    dest);
	return EXIT_USAGE;
}

static int backup(struct cli_ctx *ctx, const char *dest)
{
	char *err = NULL;
	if (ctx->state_url)
		return backup_url(ctx, dest);
	int r = sts_db_backup(ctx->state_path, dest, &err);
	if (r < 0) {
		sts_log_err("%s", err ? err : sts_strerror(r));
		free(err);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
	sts_log_info("backed up '%s' to '%s'", ctx->state_path, dest);
	return EXIT_OK;
}

static int run(struct cli_ctx *ctx)
{
	const char *sub = ctx->argv[0];
	if (strcmp(sub, "check") == 0 && ctx->argc == 1)
		return check(ctx);
	if (strcmp(sub, "backup") == 0 && ctx->argc == 2 && !ctx->json)
		return backup(ctx, ctx->argv[1]);
	if (strcmp(sub, "backup") == 0)
		return cli_usage_error(state_usage, "%s",
				       ctx->json       ? "backup has no --json"
				       : ctx->argc < 2 ? "missing FILE"
						       : "too many arguments");
	if (strcmp(sub, "check") == 0)
		return cli_usage_error(state_usage, "too many arguments");
	return cli_usage_error(state_usage, "unknown subcommand '%s' (check, backup)", sub);
}

CLI_COMMAND(state, .min_args = 1, .max_args = 2, .arg_name = "check or backup");
