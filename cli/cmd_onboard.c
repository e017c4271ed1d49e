/* SPDX-License-Identifier: MIT */
/*
 * stsctl onboard: propose inventory entries for domains from what live DNS,
 * HTTPS and SMTP show (core/check/sts_onboard.h), print them as a new inventory
 * or merge them into one. Flagged domains are reported on stderr.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_netopts.h"
#include "commands.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_hosted_store.h"
#include "sts_onboard.h"

static const char *const onboard_usage[] = {
    "stsctl onboard [OPTIONS] DOMAIN...",
    "stsctl onboard [OPTIONS] --csv FILE [DOMAIN...]",
    "stsctl onboard [OPTIONS] --inventory FILE [--dry-run] [DOMAIN...]",
    "stsctl onboard --hosted --inventory FILE [--dry-run] [--json] [--state PATH] DOMAIN...",
    "",
    "Propose inventory entries from what live DNS, HTTPS and SMTP show: mx",
    "patterns covering the MX hosts found, mode testing unless a policy is",
    "already served, TLS-RPT rua from the tenant. A domain whose MX hosts fail",
    "STARTTLS or certificate checks is flagged on standard error, not added.",
    "Without --inventory the entries are printed as a new inventory.",
    "",
    "    --tenant T             tenant of the domains (and of CSV rows without one)",
    "    --csv FILE             read domain[,tenant] rows from FILE ('-': stdin)",
    "    --inventory FILE       merge the entries into FILE (rewritten atomically);",
    "                           its tenants and defaults give the TLS-RPT rua",
    "    -n, --dry-run          with --inventory: print the merged inventory, do",
    "                           not write it; with --hosted: do not store labels",
    "    --hosted               print the two CNAMEs each customer adds for hosted",
    "                           MTA-STS (the inventory's hosted section) and",
    "                           whether DNS shows them; labels stored in the state",
    "    --json                 with --hosted: the records as JSON",
    "    --state PATH           with --hosted: state database (default ./stsctl.db)",
    NETOPTS_USAGE_CONNECT,
    "    --helo NAME            EHLO name of the probes (default localhost)",
    NETOPTS_USAGE_PROGRESS,
    "    -h, --help             show this help",
    "",
    "Exit status: 0 every domain proposed (or already present), 1 a domain was",
    "flagged, 2 usage or I/O error. With --hosted: 0 every record in place, 1 a",
    "record to add or fix, 2 usage or I/O error, 3 the state is locked.",
    NULL,
};

struct inputs {
	struct namelist names;
	char **tenants; /* parallel to names.v; NULL entries: none */
	size_t cap;
};

/* Letters, digits, '_', '-', '.'; a letter or digit first; at most 64 bytes. */
static bool tenant_name_ok(const char *t)
{
	size_t n = strlen(t);
	if (!n || n > 64 || !isalnum((unsigned char)t[0]))
		return false;
	for (const char *p = t; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
			return false;
	return true;
}

/* Add one domain (skipping repeats) with its tenant; 0 or an exit code. */
static int input_add(struct inputs *in, const char *name, const char *tenant)
{
	if (tenant && !tenant_name_ok(tenant))
		return cli_usage_error(onboard_usage, "invalid tenant '%s'", tenant);
	size_t before = in->names.n;
	int rc = namelist_add(&in->names, name, onboard_usage);
	if (rc)
		return rc;
	for (size_t i = 0; i < before; i++) {
		if (strcmp(in->names.v[i], in->names.v[before]) == 0) {
			sts_log_warn("'%s' given twice, skipping", name);
			free(in->names.v[--in->names.n]);
			return 0;
		}
	}
	if (in->names.n > in->cap) {
		size_t cap = in->names.cap;
		char **v = realloc(in->tenants, cap * sizeof(*v));
		if (!v)
			goto nomem;
		in->tenants = v;
		in->cap = cap;
	}
	in->tenants[before] = tenant ? strdup(tenant) : NULL;
	if (tenant && !in->tenants[before])
		goto nomem;
	return 0;
nomem:
	sts_log_err("out of memory");
	return EXIT_INTERNAL;
}

static void inputs_release(struct inputs *in)
{
	for (size_t i = 0; i < in->names.n; i++)
		free(in->tenants[i]);
	free(in->tenants);
	namelist_release(&in->names);
}

/* domain[,tenant] rows (sts_onboard_csv); a row without a tenant gets tenant */
static int read_csv(struct inputs *in, const char *path, const char *tenant)
{
	struct sts_buf b;
	int r = cli_read_file(&b, STS_CAP_TEXT, path, "CSV ");
	if (r)
		return r;
	struct sts_onboard_row *rows = NULL;
	size_t n = 0;
	unsigned line = 0;
	r = sts_onboard_csv(b.data ? b.data : "", b.len, &rows, &n, &line);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = input_add(in, rows[i].domain, rows[i].tenant ? rows[i].tenant : tenant);
	if (!rc && r == STS_EPARSE)
		rc = cli_usage_error(onboard_usage, "'%s' line %u: more than two columns", path,
				     line);
	else if (!rc && r < 0) {
		sts_log_errno(r, "cannot read CSV '%s'", path);
		rc = cli_exit_for(r);
	}
	sts_onboard_rows_free(rows, n);
	sts_buf_release(&b);
	return rc;
}

static void report_entries(const struct sts_onboard *ob)
{
	for (size_t i = 0; i < ob->n; i++) {
		const struct sts_onboard_entry *e = &ob->v[i];
		if (e->status == STS_ONBOARD_PRESENT)
			sts_log_info("'%s' is already in the inventory, skipping", e->name);
		for (size_t j = 0; e->status == STS_ONBOARD_FLAGGED && j < e->n_reasons; j++)
			sts_log_warn("'%s' not added: %s", e->name, e->reasons[j]);
		if (e->status == STS_ONBOARD_PROPOSED)
			sts_log_debug("'%s': senders now see %s, proposed mode %s", e->name,
				      sts_view_name(e->found), sts_mode_name(e->mode));
	}
	sts_log_info("%zu proposed, %zu flagged, %zu already present", ob->n_proposed,
		     ob->n_flagged, ob->n_present);
}

/* The result must be an inventory that validate accepts. */
static int validate_text(const struct sts_buf *b, const char *name)
{
	struct sts_diags d;
	sts_diags_init(&d);
	int r = sts_inventory_validate_text(sts_buf_str(b), b->len, name, NULL, &d);
	if (r < 0) {
		cli_print_diags(&d);
		sts_log_err("the onboarded inventory does not validate, nothing written");
	}
	sts_diags_release(&d);
	return r < 0 ? (r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_FAIL) : 0;
}

static int check_tenants(const struct sts_inventory *inv, const struct inputs *in, const char *path)
{
	for (size_t i = 0; i < in->names.n; i++) {
		const char *t = in->tenants[i];
		bool found = !t;
		for (size_t j = 0; !found && j < inv->n_tenants; j++)
			found = strcmp(inv->tenants[j].name, t) == 0;
		if (!found) {
			sts_log_err("tenant '%s' is not defined in '%s'", t, path);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int merge_into(const char *path, const struct sts_onboard *ob, bool dry_run)
{
	struct sts_buf text, out;
	const char *why = NULL;
	struct stat st;
	int rc = 0;
	sts_buf_init(&text, STS_CAP_INVENTORY);
	sts_buf_init(&out, STS_CAP_INVENTORY);
	int r = sts_buf_read_file(&text, path);
	if (r == STS_OK)
		r = sts_onboard_merge(sts_buf_str(&text), text.len, ob, &out, &why);
	if (r < 0) {
		if (why)
			sts_log_err("cannot merge into '%s': %s", path, why);
		else
			sts_log_errno(r, "cannot merge into '%s'", path);
		rc = cli_exit_for(r);
		goto out;
	}
	if ((rc = validate_text(&out, path)))
		goto out;
	if (dry_run) {
		fwrite(sts_buf_str(&out), 1, out.len, stdout);
		goto out;
	}
	if (!ob->n_proposed)
		goto out;
	mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
	r = sts_write_atomic(path, sts_buf_str(&out), out.len, mode, true);
	if (r < 0) {
		sts_log_errno(r, "cannot write '%s'", path);
		rc = cli_exit_for(r);
		goto out;
	}
	sts_log_info("'%s': %zu %s added", path, ob->n_proposed,
		     ob->n_proposed == 1 ? "domain" : "domains");
out:
	sts_buf_release(&text);
	sts_buf_release(&out);
	return rc;
}

static int print_document(const struct sts_onboard *ob)
{
	struct sts_buf out;
	sts_buf_init(&out, STS_CAP_INVENTORY);
	int rc = 0;
	int r = sts_onboard_document(ob, &out);
	if (r < 0) {
		sts_log_errno(r, "cannot write the entries");
		rc = cli_exit_for(r);
	} else if (!(rc = validate_text(&out, "<onboard>"))) {
		fwrite(sts_buf_str(&out), 1, out.len, stdout);
	}
	sts_buf_release(&out);
	return rc;
}

struct onboard_args {
	struct netopts net;
	struct inputs in;
	const char *tenant, *csv;
	bool dry_run, hosted;
};

static const struct cli_opt onboard_opts[] = {
    CLI_STRING("tenant", 0, struct onboard_args, tenant),
    CLI_STRING("csv", 0, struct onboard_args, csv),
    CLI_INVENTORY(0),
    CLI_BOOL("dry-run", 'n', struct onboard_args, dry_run),
    CLI_BOOL("hosted", 0, struct onboard_args, hosted),
    CLI_JSON,
    CLI_STATE,
    CLI_NETOPTS(struct onboard_args, net),
    CLI_END,
};

/* Every domain given, before the inventory is loaded. */
static int prepare(struct cli_ctx *ctx)
{
	struct onboard_args *a = ctx->args;
	int rc = EXIT_OK;
	if (a->dry_run && !ctx->inventory_path)
		return cli_usage_error(onboard_usage, "--dry-run needs --inventory");
	if (a->hosted && !ctx->inventory_path)
		return cli_usage_error(onboard_usage,
				       "--hosted needs --inventory (its hosted section)");
	if (!a->hosted && (ctx->json || ctx->state_path))
		return cli_usage_error(onboard_usage, "--json and --state need --hosted");
	if (a->hosted) /* the labels: allocated now, or only read with --dry-run */
		ctx->flags |= a->dry_run ? CMD_STATE_RO : CMD_STATE_RW | CMD_LOCK;
	for (int i = 0; rc == EXIT_OK && i < ctx->argc; i++)
		rc = input_add(&a->in, ctx->argv[i], a->tenant);
	if (rc == EXIT_OK && a->csv)
		rc = read_csv(&a->in, a->csv, a->tenant);
	if (rc == EXIT_OK && a->in.names.n == 0)
		rc = cli_usage_error(onboard_usage, "no domain to onboard");
	return rc;
}

/* --hosted: the customer's two CNAMEs per domain (docs/stsctl-onboard.md) */
static int run_hosted(struct cli_ctx *ctx)
{
	struct onboard_args *a = ctx->args;
	struct sts_onboard_hosted ob = {0};
	const char *why = NULL;
	if (!ctx->inv->hosted) {
		sts_log_err("inventory '%s' has no 'hosted' section", ctx->inventory_path);
		return EXIT_FAIL;
	}
	int r = a->dry_run ? STS_OK : sts_hosted_schema(ctx->db);
	if (r < 0) {
		cli_db_error(ctx, r);
		return cli_exit_for(r);
	}
	r = sts_onboard_hosted_run((const char *const *)a->in.names.v, a->in.names.n,
				   ctx->inv->hosted, ctx->inv, ctx->db, !a->dry_run, &a->net.check,
				   &ob, &why);
	int rc = EXIT_OK;
	if (r == STS_EDB)
		cli_db_error(ctx, r);
	else if (r == STS_EEXIST)
		sts_log_err("no free label for a domain: every candidate is taken");
	else if (r < 0)
		sts_log_errno(r, "cannot onboard%s%s", why ? ": " : "", why ? why : "");
	if (r < 0) {
		rc = r == STS_EEXIST ? EXIT_FAIL : cli_exit_for(r);
		goto out;
	}
	for (size_t i = 0; i < ob.n; i++)
		if (ob.v[i].label_source == STS_ONBOARD_LABEL_COMPUTED)
			sts_log_info("'%s': label %s computed, not stored (%s)", ob.v[i].domain,
				     ob.v[i].label, a->dry_run ? "--dry-run" : "no state");
	struct sts_buf out;
	sts_buf_init(&out, STS_CAP_INVENTORY);
	json_t *j = ctx->json ? sts_onboard_hosted_json(&ob) : NULL;
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
	r = ctx->json ? (s ? sts_buf_printf(&out, "%s\n", s) : STS_ENOMEM)
		      : sts_onboard_hosted_text(&ob, &out);
	if (r == STS_OK)
		fwrite(sts_buf_str(&out), 1, out.len, stdout);
	else
		rc = cli_exit_for(r);
	free(s);
	json_decref(j);
	sts_buf_release(&out);
	sts_log_info("%zu of %zu %s ready", ob.n_ready, ob.n, ob.n == 1 ? "domain" : "domains");
	if (rc == EXIT_OK && ob.n_ready < ob.n)
		rc = EXIT_FAIL;
out:
	sts_onboard_hosted_release(&ob);
	return rc;
}

static int run(struct cli_ctx *ctx)
{
	struct onboard_args *a = ctx->args;
	struct inputs *in = &a->in;
	struct sts_onboard ob = {0};
	struct sts_onboard_input *req = NULL;
	int rc = EXIT_OK;
	if (a->hosted)
		return run_hosted(ctx);
	if (ctx->inv && (rc = check_tenants(ctx->inv, in, ctx->inventory_path)))
		goto out;
	if (!(req = calloc(in->names.n, sizeof(*req)))) {
		sts_log_err("out of memory");
		rc = EXIT_INTERNAL;
		goto out;
	}
	for (size_t i = 0; i < in->names.n; i++)
		req[i] = (struct sts_onboard_input){in->names.v[i], in->tenants[i]};
	netopts_progress(&a->net, "onboard", in->names.n);
	const char *why = NULL;
	int r = sts_onboard_run(req, in->names.n, &a->net.check, ctx->inv, &ob, &why);
	if ((rc = netopts_done(&a->net, r, why, "onboard")))
		goto out;
	report_entries(&ob);
	rc = ctx->inventory_path ? merge_into(ctx->inventory_path, &ob, a->dry_run)
				 : print_document(&ob);
	if (rc == EXIT_OK && ob.n_flagged)
		rc = EXIT_FAIL;
out:
	sts_onboard_release(&ob);
	free(req);
	return rc;
}

static void release(struct cli_ctx *ctx)
{
	struct onboard_args *a = ctx->args;
	inputs_release(&a->in);
}

CLI_COMMAND(onboard, .args_size = sizeof(struct onboard_args), .max_args = -1, .prepare = prepare,
	    .release = release);
