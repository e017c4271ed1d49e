/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_OPTS_H
#define STS_CLI_OPTS_H

/*
 * Options are data (git's parse-options, curl's struct LongShort): a
 * command lists its options in a table ended by CLI_END; main.c parses
 * them for it (cli_parse_options) before the setup and the command run.
 * Targets are offsets into the command's argument struct (struct cli_cmd_def
 * .args_size, handed to the command as ctx->args), so no option lives in
 * a global. --help/-h is always there; --json, --state and --inventory are
 * the common options and land in struct cli_ctx. The help text itself is
 * the command's usage array: docs/stsctl-CMD.md's Synopsis must equal it
 * (tests/cli/test_help_docs.py), so it is written once, there.
 */

#include <stdbool.h>
#include <stddef.h>

struct cli_ctx;

enum cli_opt_type {
	CLI_OPT_END = 0,
	CLI_OPT_BOOL,	   /* bool: set to true */
	CLI_OPT_STRING,	   /* const char *: the value (the last one given wins) */
	CLI_OPT_LIST,	   /* struct cli_list: every value, in order (repeatable) */
	CLI_OPT_UINT,	   /* unsigned in [min, max]; else the usage error errfmt */
	CLI_OPT_SET_INT,   /* int: set to min (git's OPT_SET_INT) */
	CLI_OPT_CALLBACK,  /* cb(ctx, field, value): EXIT_OK or an exit code (reported) */
	CLI_OPT_JSON,	   /* ctx->json */
	CLI_OPT_STATE,	   /* ctx->state_path */
	CLI_OPT_INVENTORY, /* ctx->inventory_path */
};

/* Option flags. */
#define CLI_OPT_ERRORS_FAIL (1u << 0) /* given: every error before the command runs exits 1 */
/* CLI_OPT_CALLBACK: --name or --name=VALUE (getopt's optional_argument); cb gets NULL or VALUE */
#define CLI_OPT_OPTIONAL_VALUE (1u << 1)

struct cli_opt {
	const char *name; /* long name without "--" */
	int short_name;	  /* 0: none */
	enum cli_opt_type type;
	size_t off; /* of the field in the command's argument struct */
	int (*cb)(struct cli_ctx *ctx, void *field, const char *value);
	unsigned long min, max; /* CLI_OPT_UINT */
	const char *errfmt;	/* CLI_OPT_UINT: printf format of (value, min, max) */
	unsigned flags;
};

/* Does the table (ended by CLI_END; NULL: none) have an option of this type? */
bool cli_opts_have(const struct cli_opt *opts, enum cli_opt_type type);

/* Whether the option takes a value (--opt VALUE); not an optional one (--opt[=VALUE]). */
bool cli_opt_takes_value(const struct cli_opt *o);

/* The values of a repeatable option (CLI_OPT_LIST); freed by main.c. */
struct cli_list {
	const char **v; /* n entries, NULL-terminated */
	size_t n;
};

#define CLI_BOOL(l, s, T, field)                                                                   \
	{                                                                                          \
		.name = (l), .short_name = (s), .type = CLI_OPT_BOOL, .off = offsetof(T, field)    \
	}
#define CLI_STRING(l, s, T, field)                                                                 \
	{                                                                                          \
		.name = (l), .short_name = (s), .type = CLI_OPT_STRING, .off = offsetof(T, field)  \
	}
#define CLI_LIST(l, s, T, field)                                                                   \
	{                                                                                          \
		.name = (l), .short_name = (s), .type = CLI_OPT_LIST, .off = offsetof(T, field)    \
	}
#define CLI_UINT(l, s, T, field, lo, hi, fmt)                                                      \
	{                                                                                          \
		.name = (l), .short_name = (s), .type = CLI_OPT_UINT, .off = offsetof(T, field),   \
		.min = (lo), .max = (hi), .errfmt = (fmt)                                          \
	}
#define CLI_SET_INT(l, s, T, field, v)                                                             \
	{                                                                                          \
		.name = (l), .short_name = (s), .type = CLI_OPT_SET_INT,                           \
		.off = offsetof(T, field), .min = (unsigned long)(v)                               \
	}
#define CLI_CALLBACK(l, s, T, field, fn)                                                           \
	{                                                                                          \
		.name = (l), .short_name = (s), .type = CLI_OPT_CALLBACK,                          \
		.off = offsetof(T, field), .cb = (fn)                                              \
	}
#define CLI_JSON                                                                                   \
	{                                                                                          \
		.name = "json", .type = CLI_OPT_JSON                                               \
	}
#define CLI_STATE                                                                                  \
	{                                                                                          \
		.name = "state", .type = CLI_OPT_STATE                                             \
	}
#define CLI_INVENTORY(s)                                                                           \
	{                                                                                          \
		.name = "inventory", .short_name = (s), .type = CLI_OPT_INVENTORY                  \
	}
#define CLI_END                                                                                    \
	{                                                                                          \
		.type = CLI_OPT_END                                                                \
	}

/*
 * Parse argv[1..] with ctx->def's option table into ctx->args and ctx,
 * then check the count of the remaining arguments (ctx->argc/argv).
 * EXIT_OK, or the exit code after a usage error was printed. After -h,
 * the usage is printed, ctx->help_shown set and EXIT_OK returned.
 */
int cli_parse_options(struct cli_ctx *ctx, int argc, char **argv);

/* Free what CLI_OPT_LIST options collected in ctx->args. */
void cli_options_release(struct cli_ctx *ctx);

/* "123" in [min, max]: digits only; 0 or -1. */
int cli_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *ret);

#endif
