/* SPDX-License-Identifier: MIT */
/* The option tables of the commands (cli_opts.h): one getopt_long loop for all. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_ctx.h"
#include "cli_opts.h"

#define OPT_LONG_BASE 0x1000 /* getopt_long value of the option at index i: base + i */

int cli_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*ret = v;
	return 0;
}

static int list_add(struct cli_list *l, const char *value)
{
	const char **v = realloc(l->v, (l->n + 2) * sizeof(*v));
	if (!v) {
		sts_log_err("out of memory");
		return EXIT_INTERNAL;
	}
	v[l->n++] = value;
	v[l->n] = NULL;
	l->v = v;
	return EXIT_OK;
}

static int apply_opt(struct cli_ctx *ctx, const struct cli_opt *o, const char *value)
{
	void *field = ctx->args ? (char *)ctx->args + o->off : NULL;
	unsigned long v;
	switch (o->type) {
	case CLI_OPT_BOOL:
		*(bool *)field = true;
		return EXIT_OK;
	case CLI_OPT_STRING:
		*(const char **)field = value;
		return EXIT_OK;
	case CLI_OPT_LIST:
		return list_add(field, value);
	case CLI_OPT_UINT:
		if (cli_parse_ulong(value, o->min, o->max, &v) < 0)
			return cli_usage_error(ctx->def->usage, o->errfmt, value, o->min, o->max);
		*(unsigned *)field = (unsigned)v;
		return EXIT_OK;
	case CLI_OPT_SET_INT:
		*(int *)field = (int)o->min;
		return EXIT_OK;
	case CLI_OPT_CALLBACK:
		return o->cb(ctx, field, value);
	case CLI_OPT_JSON:
		ctx->json = true;
		return EXIT_OK;
	case CLI_OPT_STATE:
		ctx->state_path = value;
		return EXIT_OK;
	case CLI_OPT_INVENTORY:
		ctx->inventory_path = value;
		return EXIT_OK;
	case CLI_OPT_END:
		break;
	}
	return EXIT_INTERNAL;
}

bool cli_opts_have(const struct cli_opt *opts, enum cli_opt_type type)
{
	for (size_t i = 0; opts && opts[i].type != CLI_OPT_END; i++)
		if (opts[i].type == type)
			return true;
	return false;
}

/* Does the command's own table take this long name or short letter? */
static bool opts_take(const struct cli_opt *opts, size_t n, const char *name, int short_name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(opts[i].name, name) == 0 || opts[i].short_name == short_name)
			return true;
	return false;
}

bool cli_opt_takes_value(const struct cli_opt *o)
{
	return o->type != CLI_OPT_BOOL && o->type != CLI_OPT_JSON && o->type != CLI_OPT_SET_INT &&
	       !(o->flags & CLI_OPT_OPTIONAL_VALUE);
}

/* An option whose presence turns every early error into 1 (plan --detailed-exitcode). */
static void scan_errors_fail(struct cli_ctx *ctx, const struct cli_opt *opts, int argc, char **argv)
{
	for (size_t i = 0; opts[i].type != CLI_OPT_END; i++) {
		if (!(opts[i].flags & CLI_OPT_ERRORS_FAIL))
			continue;
		for (int a = 1; a < argc && strcmp(argv[a], "--") != 0; a++)
			if (strncmp(argv[a], "--", 2) == 0 &&
			    strcmp(argv[a] + 2, opts[i].name) == 0)
				ctx->errors_fail = true;
	}
}

static int check_args(struct cli_ctx *ctx)
{
	const struct cli_cmd_def *c = ctx->def;
	if (ctx->argc < c->min_args)
		return cli_usage_error(c->usage, "missing %s", c->arg_name);
	if (c->max_args >= 0 && ctx->argc > c->max_args)
		return cli_usage_error(c->usage, "too many arguments");
	if ((ctx->flags & CMD_INVENTORY_ARG) && ctx->argc > 0)
		ctx->inventory_path = ctx->argv[0];
	if ((ctx->flags & CMD_INVENTORY_REQ) && !ctx->inventory_path)
		return cli_usage_error(c->usage, "missing --inventory FILE");
	return EXIT_OK;
}

int cli_parse_options(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_opt none[] = {CLI_END};
	const struct cli_opt *opts = ctx->def->opts ? ctx->def->opts : none;
	size_t n = 0;
	while (opts[n].type != CLI_OPT_END)
		n++;
	struct option *lo = calloc(n + 4, sizeof(*lo));
	char *shorts = calloc(2 * n + 6, 1), *sp = shorts;
	int rc = EXIT_OK, c;
	if (!lo || !shorts) {
		free(lo);
		free(shorts);
		sts_log_err("out of memory");
		return EXIT_INTERNAL;
	}
	*sp++ = ':'; /* a missing value is ':', not '?' */
	*sp++ = 'h';
	for (size_t i = 0; i < n; i++) {
		int has_arg = (opts[i].flags & CLI_OPT_OPTIONAL_VALUE) ? optional_argument
			      : cli_opt_takes_value(&opts[i])	       ? required_argument
								       : no_argument;
		lo[i] = (struct option){opts[i].name, has_arg, NULL, (int)(OPT_LONG_BASE + i)};
		if (opts[i].short_name) {
			*sp++ = (char)opts[i].short_name;
			if (cli_opt_takes_value(&opts[i]))
				*sp++ = ':';
		}
	}
	size_t k = n;
	lo[k++] = (struct option){"help", no_argument, NULL, 'h'};
	/* the global -q and -v after the command name too, unless the command
	 * has an option of that name or letter itself (it wins; none has today) */
	if (!opts_take(opts, n, "quiet", 'q')) {
		lo[k++] = (struct option){"quiet", no_argument, NULL, 'q'};
		*sp++ = 'q';
	}
	if (!opts_take(opts, n, "verbose", 'v')) {
		lo[k++] = (struct option){"verbose", no_argument, NULL, 'v'};
		*sp++ = 'v';
	}
	scan_errors_fail(ctx, opts, argc, argv);
	optind = 0; /* reset getopt */
	opterr = 0;
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct cli_opt *o = NULL;
		if (c >= OPT_LONG_BASE && (size_t)(c - OPT_LONG_BASE) < n)
			o = &opts[c - OPT_LONG_BASE];
		for (size_t i = 0; !o && c > 0 && c < 256 && i < n; i++)
			if (opts[i].short_name == c)
				o = &opts[i];
		if (o)
			rc = apply_opt(ctx, o, optarg);
		else if (c == 'q')
			cli_verbosity = 0;
		else if (c == 'v')
			cli_verbosity = 2;
		else if (c == 'h') {
			cli_usage(stdout, ctx->def->usage);
			ctx->help_shown = true;
			break;
		} else if (c == ':')
			rc = cli_usage_error(ctx->def->usage, "option '%s' needs a value",
					     argv[optind - 1]);
		else
			rc = cli_usage_error(ctx->def->usage, "unknown option '%s'",
					     argv[optind - 1]);
	}
	ctx->argc = argc - optind;
	ctx->argv = argv + optind;
	free(lo);
	free(shorts);
	if (rc == EXIT_OK && !ctx->help_shown)
		rc = check_args(ctx);
	return rc;
}

void cli_options_release(struct cli_ctx *ctx)
{
	const struct cli_opt *o = ctx->def->opts;
	for (size_t i = 0; ctx->args && o && o[i].type != CLI_OPT_END; i++) {
		if (o[i].type != CLI_OPT_LIST)
			continue;
		struct cli_list *l = (struct cli_list *)((char *)ctx->args + o[i].off);
		free(l->v);
		memset(l, 0, sizeof(*l));
	}
}
