/* SPDX-License-Identifier: MIT */
/* The setup of a command from its table row (cli_ctx.h): inventory, state, lock, plugins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_ctx.h"
#include "cli_progress.h"
#include "sts_err.h"
#include "sts_inventory_state.h"
#include "sts_secret.h"

static time_t fixed_clock(void *ud)
{
	return *(const time_t *)ud;
}

void cli_ctx_set_now(struct cli_ctx *ctx, time_t t)
{
	ctx->now = t;
	ctx->clock.now = fixed_clock;
	ctx->clock.ud = &ctx->now;
}

/* Test-only (a build with -Dtest_hooks=true): STSCTL_TEST_NOW=EPOCH fixes the clock. */
static void test_hook_now(struct cli_ctx *ctx)
{
#ifdef STS_TEST_HOOKS
	const char *now = getenv("STSCTL_TEST_NOW");
	if (now && *now)
		cli_ctx_set_now(ctx, (time_t)strtoll(now, NULL, 10));
#else
	(void)ctx;
#endif
}

int cli_lock_error(int r, const char *state)
{
	char *lp = sts_lock_path_for(state);
	if (r == STS_ELOCKED)
		sts_log_err("state is locked by another stsctl: '%s'", lp ? lp : state);
	else
		sts_log_errno(r, "cannot lock '%s'", lp ? lp : state);
	free(lp);
	return cli_exit_for(r);
}

void cli_db_error(const struct cli_ctx *ctx, int r)
{
	sts_log_err("state database '%s': %s", ctx->state_path,
		    r == STS_EDB ? sts_db_errmsg(ctx->db) : sts_strerror(r));
}

int cli_inventory_load(const char *path, struct sts_inventory **ret)
{
	struct sts_diags diags;
	sts_diags_init(&diags);
	int r = sts_inventory_load(path, ret, &diags);
	/* info findings (IDN conversions) are for validate; shown with --verbose */
	if (r < 0 || diags.n_warnings > 0 || cli_verbosity >= 2)
		cli_print_diags(&diags);
	sts_diags_release(&diags);
	if (r == STS_EINVALID || r == STS_EPARSE) {
		sts_log_err("inventory '%s' is invalid", path);
		return EXIT_FAIL;
	}
	if (r < 0) {
		sts_log_errno(r, "cannot load inventory '%s'", path);
		return cli_exit_for(r);
	}
	return EXIT_OK;
}

static int reports_conf(struct cli_ctx *ctx)
{
	char *err = NULL;
	int r =
	    sts_ingest_conf_from_json(ctx->inv ? json_object_get(ctx->inv->root, "reports") : NULL,
				      ctx->inv ? ctx->inv->dir : ".", &ctx->conf, &err);
	if (r < 0) {
		sts_log_err("inventory '%s': %s", ctx->inventory_path ? ctx->inventory_path : "-",
			    err ? err : sts_strerror(r));
		free(err);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_FAIL;
	}
	return EXIT_OK;
}

/*
 * Where the state lives (docs/state.md): --state, else STSCTL_STATE (set and
 * not empty), else the inventory's state.url (a relative path relative to
 * the inventory's directory; its password with it), else ./stsctl.db. A
 * value with a password in it is refused and never printed.
 */
static int state_location(struct cli_ctx *ctx)
{
	const json_t *sec = ctx->inv ? json_object_get(ctx->inv->root, "state") : NULL;
	const char *url = json_string_value(json_object_get(sec, "url"));
	const char *env = getenv("STSCTL_STATE"), *why;
	if (ctx->state_path)
		ctx->state_from = "--state";
	else if (env && *env) {
		ctx->state_path = env;
		ctx->state_from = "STSCTL_STATE";
	} else if (url) { /* validated with the inventory */
		ctx->state_from = "inventory";
		ctx->state_password = json_string_value(json_object_get(sec, "password"));
		ctx->state_path = url;
		if (url[0] != '/' && !sts_db_location_is_url(url) &&
		    strcmp(ctx->inv->dir, ".") != 0) {
			if (asprintf(&ctx->state_owned, "%s/%s", ctx->inv->dir, url) < 0) {
				ctx->state_owned = NULL;
				sts_log_err("out of memory");
				return EXIT_INTERNAL;
			}
			ctx->state_path = ctx->state_owned;
		}
	} else {
		ctx->state_path = STS_DB_DEFAULT_PATH;
		ctx->state_from = "default";
	}
	if ((why = sts_state_location_problem(ctx->state_path))) {
		sts_log_err("%s: %s", ctx->state_from, why);
		return EXIT_USAGE;
	}
	ctx->state_url = sts_db_location_is_url(ctx->state_path);
	return EXIT_OK;
}

static int open_url(struct cli_ctx *ctx, unsigned flags, char **err)
{
	struct sts_secret *pw = NULL;
	const char *why = NULL;
	int r;
	if (ctx->state_password &&
	    (r = sts_secret_resolve(ctx->state_password, ctx->inv->dir, &pw, &why)) < 0) {
		if (r == STS_ENOMEM)
			return r;
		/* the reference names the variable or the file, never the value */
		sts_log_err("inventory '%s': state.password: secret %s does not resolve: %s",
			    ctx->inventory_path, ctx->state_password, why ? why : sts_strerror(r));
		return STS_ESECRET;
	}
	r = sts_db_open_url(ctx->state_path, pw ? sts_secret_value(pw) : NULL, flags, &ctx->clock,
			    &ctx->db, err);
	sts_secret_free(pw);
	return r;
}

/* No lock file for a URL: PostgreSQL serialises the writers itself. */
static int open_state(struct cli_ctx *ctx)
{
	char *err = NULL;
	unsigned flags =
	    (ctx->flags & CMD_STATE_RW ? 0 : STS_DB_READONLY) | (ctx->state_init ? STS_DB_INIT : 0);
	int r;
	if (!ctx->state_url && (ctx->flags & CMD_LOCK) &&
	    (r = sts_lock_acquire(ctx->state_path, &ctx->lock)) < 0)
		return cli_lock_error(r, ctx->state_path);
	if (ctx->state_url)
		r = open_url(ctx, flags, &err);
	else
		r = sts_db_open(ctx->state_path, flags, &ctx->clock, &ctx->db, &err);
	if (r == STS_ESECRET)
		return EXIT_USAGE; /* logged */
	if (r < 0) {
		sts_log_err("%s", err ? err : sts_strerror(r));
		free(err);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
	return EXIT_OK;
}

static void plugin_log(void *ud, enum sts_plugin_log_level level, const char *prefix,
		       const char *msg)
{
	if (level == STS_PLOG_ERROR)
		sts_log_err("[%s] %s", prefix, msg);
	else if (level == STS_PLOG_WARNING)
		sts_log_warn("[%s] %s", prefix, msg);
	else
		sts_log_debug("[%s] %s", prefix, msg);
}

static int open_plugins(struct cli_ctx *ctx)
{
	int r;
	if ((r = sts_plugin_host_new(&ctx->host)) < 0 ||
	    (r = sts_io_plugins_new(ctx->host, ctx->inv, &ctx->io)) < 0) {
		sts_log_errno(r, "cannot set up the plugins");
		return EXIT_INTERNAL;
	}
	sts_plugin_host_set_log(ctx->host, plugin_log, NULL);
	if (ctx->inv->dir)
		sts_plugin_host_set_basedir(ctx->host, ctx->inv->dir);
	return EXIT_OK;
}

/*
 * One order for every command: the inventory (nothing is created or
 * locked for an input that is wrong), its reports settings, the lock, the
 * state DB, the plugins.
 */
int cli_ctx_setup(struct cli_ctx *ctx)
{
	unsigned f = ctx->flags;
	int rc = EXIT_OK;
	test_hook_now(ctx);
	if ((f & CMD_LOAD_INVENTORY) && ctx->inventory_path)
		rc = cli_inventory_load(ctx->inventory_path, &ctx->inv);
	if (rc == EXIT_OK && (f & CMD_REPORTS_CONF))
		rc = reports_conf(ctx);
	if (rc == EXIT_OK && (f & (CMD_STATE_RO | CMD_STATE_RW | CMD_STATE_NAME)))
		rc = state_location(ctx);
	if (rc == EXIT_OK && (f & (CMD_STATE_RO | CMD_STATE_RW)))
		rc = open_state(ctx);
	if (rc == EXIT_OK && (f & CMD_PLUGINS))
		rc = open_plugins(ctx);
	return rc;
}

void cli_ctx_release(struct cli_ctx *ctx)
{
	sts_io_plugins_free(ctx->io);
	sts_plugin_host_free(ctx->host);
	sts_db_close(ctx->db);
	sts_lock_release(ctx->lock);
	sts_lock_release(ctx->hold);
	sts_ingest_conf_free(ctx->conf);
	sts_inventory_free(ctx->inv);
	free(ctx->state_owned);
	ctx->state_owned = NULL;
	ctx->io = NULL;
	ctx->host = NULL;
	ctx->db = NULL;
	ctx->lock = ctx->hold = NULL;
	ctx->conf = NULL;
	ctx->inv = NULL;
}

int cli_parse_time(const char *s, time_t *ret)
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

int cli_opt_now(struct cli_ctx *ctx, void *field, const char *value)
{
	time_t t;
	(void)field;
	if (cli_parse_time(value, &t) < 0)
		return cli_usage_error(ctx->def->usage, "--now: '%s' is not an RFC 3339 time",
				       value);
	cli_ctx_set_now(ctx, t);
	return EXIT_OK;
}

int cli_plan_build(struct cli_ctx *ctx, struct cli_scope *scope, unsigned concurrency,
		   bool for_apply, int progress, struct sts_plan **ret)
{
	struct sts_diags diags;
	int rc = cli_scope_resolve(ctx, scope);
	if (rc != EXIT_OK)
		return rc;
	cli_progress_start(progress, "plan", "domains", 0);
	struct sts_plan_opts po = {.targets = (const char *const *)scope->names,
				   .n_targets = scope->n,
				   .scoped = scope->active,
				   .concurrency = concurrency,
				   .for_apply = for_apply,
				   .progress = cli_progress_fn()};
	sts_diags_init(&diags);
	int r = sts_plan_build(ctx->inv, ctx->db, ctx->io, &po, ret, &diags);
	cli_progress_end();
	cli_scope_release(scope);
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

void cli_down_print(const struct sts_plan_down *v, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		struct sts_buf b;
		sts_buf_init(&b, 4096);
		/* the line without its newline */
		if (sts_plan_down_line(&v[i], what, &b) == STS_OK && b.len)
			sts_log_err("%.*s", (int)b.len - 1, sts_buf_str(&b));
		sts_buf_release(&b);
	}
}

int cli_plan_print(const struct sts_plan *p)
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
