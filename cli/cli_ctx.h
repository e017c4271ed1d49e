/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_CTX_H
#define STS_CLI_CTX_H

/*
 * What a command needs, set up once by main.c (git's run_builtin): the
 * command table row says which of inventory, reports settings, state DB
 * (read-only or read-write), lock and plugins the command uses;
 * cli_ctx_setup() opens them in one order with one set of messages and
 * the command gets them in struct cli_ctx.
 */

#include <stdbool.h>
#include <time.h>

#include "cli_opts.h"
#include "cli_scope.h"
#include "sts_db.h"
#include "sts_ingest.h"
#include "sts_inventory.h"
#include "sts_plan.h"
#include "sts_plugin.h"

/* Setup flags of a command (struct cli_cmd .flags), applied by cli_ctx_setup(). */
#define CMD_NO_HELP_SCAN   (1u << 0) /* the command parses -h itself */
#define CMD_INVENTORY_ARG  (1u << 1) /* the first argument is the inventory */
#define CMD_INVENTORY_REQ  (1u << 2) /* --inventory FILE must be given */
#define CMD_LOAD_INVENTORY (1u << 3) /* load and validate the inventory, when there is one */
#define CMD_REPORTS_CONF   (1u << 4) /* its reports section (the defaults without one) */
#define CMD_STATE_RO	   (1u << 5) /* open the state DB read-only */
#define CMD_STATE_RW	   (1u << 6) /* open the state DB read-write (and migrate it) */
#define CMD_LOCK	   (1u << 7) /* hold the state lock PATH.lock */
#define CMD_PLUGINS	   (1u << 8) /* the provider plugins of the inventory */
#define CMD_STATE_NAME	   (1u << 9) /* where the state lives, not opened (stsctl state) */

struct cli_ctx;

/* What a command file exports: how to parse its options and run it. */
struct cli_cmd_def {
	int (*run)(struct cli_ctx *ctx);
	const char *const *usage;	      /* NULL-terminated; first line(s) = synopsis */
	const struct cli_opt *opts;	      /* ended by CLI_END; NULL: only --help */
	size_t args_size;		      /* the command's option struct (ctx->args) */
	int min_args, max_args;		      /* arguments after the options; max -1: any */
	const char *arg_name;		      /* "missing ARG_NAME" when fewer than min_args */
	int (*prepare)(struct cli_ctx *ctx);  /* after the options, before the setup; or NULL */
	void (*release)(struct cli_ctx *ctx); /* frees what prepare() or run() left in args */
};

/*
 * The definition of a command in its cmd_NAME.c, from NAME_usage,
 * NAME_opts and run: CLI_COMMAND(plan, CLI_ONE_ARG("INVENTORY"), ...).
 */
#define CLI_COMMAND(name, ...)                                                                     \
	const struct cli_cmd_def name##_cmd = {                                                    \
	    .run = run, .usage = name##_usage, .opts = name##_opts, __VA_ARGS__}
/* Exactly one argument, ARG ("missing ARG" without it). */
#define CLI_ONE_ARG(arg) .min_args = 1, .max_args = 1, .arg_name = (arg)

/* A row of the command table (main.c): what the command needs is in flags. */
struct cli_cmd {
	const char *name;
	const struct cli_cmd_def *def;
	unsigned flags; /* CMD_* */
	const char *summary;
};

struct cli_ctx {
	const struct cli_cmd_def *def;
	unsigned flags; /* the table row's flags, which prepare() may change */
	void *args;	/* the command's option struct (def->args_size bytes) */
	int argc;	/* the arguments after the options */
	char **argv;
	bool help_shown;
	bool errors_fail; /* an option with CLI_OPT_ERRORS_FAIL was given */

	/* common options */
	bool json;
	const char *inventory_path; /* --inventory, or the first argument */
	const char *state_path;	    /* --state; where the state lives after the setup */
	bool state_init;	    /* an empty state file may become a new state (apply --init) */

	/* where the state lives (cli_ctx_setup(), docs/state.md): state_path came from
	 * state_from ("--state", "STSCTL_STATE", "inventory", "default") */
	const char *state_from;
	bool state_url;		    /* state_path is a postgresql:// URL: no lock file */
	const char *state_password; /* the inventory's state.password reference, or NULL */
	char *state_owned;	    /* state_path when the setup built it */

	/* set up by cli_ctx_setup() as flags say */
	struct sts_inventory *inv;    /* NULL without an inventory */
	struct sts_ingest_conf *conf; /* CMD_REPORTS_CONF */
	struct sts_db *db;
	struct sts_lock *lock;
	struct sts_lock *hold; /* a lock prepare() took; released with the context */
	struct sts_plugin_host *host;
	struct sts_io *io;
	struct sts_clock clock;
	time_t now; /* the fixed time of clock (--now, test hook) */
};

/* Open what ctx->flags ask for; EXIT_OK or the exit code after logging why. */
int cli_ctx_setup(struct cli_ctx *ctx);
void cli_ctx_release(struct cli_ctx *ctx);

/* Fix the clock of the state DB at t (before the setup). */
void cli_ctx_set_now(struct cli_ctx *ctx, time_t t);

/* Log a lock failure ("state is locked by another stsctl: 'PATH.lock'"); the exit code. */
int cli_lock_error(int r, const char *state);

/* Log "state database 'PATH': WHY", WHY the DB's own message for STS_EDB. */
void cli_db_error(const struct cli_ctx *ctx, int r);

/* Load and validate an inventory, diagnostics printed: EXIT_OK or the exit code. */
int cli_inventory_load(const char *path, struct sts_inventory **ret);

/* "2026-11-29T06:00:00Z", fractions and "+HH:MM" offsets accepted; -1 when not. */
int cli_parse_time(const char *s, time_t *ret);

/* --now RFC3339 (CLI_OPT_CALLBACK, field unused): fixes the clock. */
int cli_opt_now(struct cli_ctx *ctx, void *field, const char *value);
#define CLI_NOW                                                                                    \
	{                                                                                          \
		.name = "now", .type = CLI_OPT_CALLBACK, .cb = cli_opt_now                         \
	}

/* Build a plan of the scope (--tenant, -t: cli_scope.h, resolved here) through
 * ctx's plugins (diags printed), its progress shown as progress (enum
 * cli_progress_mode) says; EXIT_OK or an exit code. */
int cli_plan_build(struct cli_ctx *ctx, struct cli_scope *scope, unsigned concurrency,
		   bool for_apply, int progress, struct sts_plan **ret);

/* Print the human plan to stdout; -1 on a write error (logged). */
int cli_plan_print(const struct sts_plan *p);
/* On standard error, one line per provider that was down: "stsctl: provider
 * X: N domains not <what>: why" (what: "planned", "applied"). */
void cli_down_print(const struct sts_plan_down *v, size_t n, const char *what);

#endif
