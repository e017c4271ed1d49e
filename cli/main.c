/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "sts_config.h"

#if defined(__SANITIZE_ADDRESS__)
/* A build under ASan and UBSan (tests/run.sh: build-asan) stops at the first
 * report, with SIGABRT, whatever the environment says: a test that drops
 * ASAN_OPTIONS/UBSAN_OPTIONS still sees the process die instead of an exit
 * status it may expect (ASan's own default exit status is 1, UBSan's default
 * is to carry on). The sanitizer runtimes call these if they exist. */
__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
__attribute__((visibility("default"), used)) const char *__ubsan_default_options(void);
const char *__asan_default_options(void)
{
	return "halt_on_error=1:abort_on_error=1";
}
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:abort_on_error=1:print_stacktrace=1";
}
#endif

static int cmd_help(struct cli_ctx *ctx);
static const char *const help_usage[] = {
    "stsctl help [COMMAND]",
    "",
    "Show the usage of COMMAND, or list the commands.",
    NULL,
};
static const struct cli_cmd_def help_cmd = {.run = cmd_help, .usage = help_usage, .max_args = 1};

#define NEED_INV_ARG (CMD_INVENTORY_ARG | CMD_LOAD_INVENTORY)
#define NEED_INV_OPT CMD_LOAD_INVENTORY
#define NEED_REPORTS (CMD_LOAD_INVENTORY | CMD_REPORTS_CONF)
#define NEED_WRITER  (CMD_STATE_RW | CMD_LOCK)

/*
 * One dispatch table; see commands.h for the checklist. The flags say what
 * run_cmd() sets up before the command runs (cli_ctx.h): the inventory
 * (the first argument, or --inventory), its reports settings, the state DB
 * read-only or read-write with its lock, the plugins.
 */
static const struct cli_cmd cmds[] = {
    {"apply", &apply_cmd, NEED_INV_ARG | NEED_WRITER | CMD_PLUGINS,
     "apply a plan: publish policies and DNS records"},
    {"check", &check_cmd, NEED_INV_OPT, "audit live MTA-STS and TLS-RPT deployments"},
    {"completion", &completion_cmd, 0, "print the shell completion script for bash or zsh"},
    {"help", &help_cmd, 0, "show help for a command"},
    {"ingest", &ingest_cmd, NEED_REPORTS | NEED_WRITER, "read TLS reports into the state database"},
    {"lint", &lint_cmd, 0, "check a policy, TXT record or MX match against the RFCs"},
    {"onboard", &onboard_cmd, NEED_INV_OPT, "propose inventory entries from live DNS"},
    {"plan", &plan_cmd, NEED_INV_ARG | CMD_STATE_RO | CMD_PLUGINS, "show what apply would change"},
    {"plugins", &plugins_cmd, NEED_INV_OPT, "list the provider plugins found"},
    {"prune", &prune_cmd, NEED_REPORTS | NEED_WRITER, "drop TLS reports past their retention"},
    {"receive", &receive_cmd, CMD_INVENTORY_REQ | NEED_REPORTS | NEED_WRITER,
     "run the HTTPS receiver for TLS reports"},
    {"render", &render_cmd, NEED_INV_ARG | CMD_STATE_RO,
     "render policies, DNS records and web configs"},
    {"rollout", &rollout_cmd, NEED_INV_OPT | NEED_WRITER,
     "hold, release or set the rollout stage of domains"},
    {"report", &report_cmd, NEED_REPORTS | CMD_STATE_RO, "summarise the stored TLS reports"},
    {"serve", &serve_cmd, NEED_INV_ARG | NEED_WRITER,
     "serve the policies of hosted domains over HTTPS"},
    {"state", &state_cmd, NEED_INV_OPT | CMD_STATE_NAME,
     "check the state database, or back it up online"},
    {"status", &status_cmd, NEED_INV_ARG | CMD_STATE_RO,
     "show rollout stages, health and what blocks promotion"},
    {"validate", &validate_cmd, CMD_INVENTORY_ARG, "validate an inventory"},
    {"watch", &watch_cmd, NEED_INV_ARG | NEED_WRITER | CMD_PLUGINS,
     "walk domains none -> testing -> enforce on evidence"},
};

size_t cli_commands(const struct cli_cmd **ret)
{
	*ret = cmds;
	return sizeof(cmds) / sizeof(cmds[0]);
}

static const char *const main_usage[] = {
    "stsctl [--verbose|--quiet] [--json] [--state PATH] COMMAND [ARGS]",
    "stsctl --version [--json]",
    "stsctl help [COMMAND]",
    NULL,
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct cli_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < N_CMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/* "unknown command 'plna': did you mean 'plan'?": exit 2 */
static int unknown_cmd(const char *name)
{
	const char *names[N_CMDS];
	for (size_t i = 0; i < N_CMDS; i++)
		names[i] = cmds[i].name;
	const char *hint = sts_suggest(name, names, N_CMDS);
	if (hint)
		sts_log_err("unknown command '%s': did you mean '%s'?", name, hint);
	else
		sts_log_err("unknown command '%s'", name);
	return EXIT_USAGE;
}

static void list_cmds(FILE *f)
{
	cli_usage(f, main_usage);
	fprintf(f, "\ncommands:\n");
	for (size_t i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nexit codes: docs/exit-codes.md\n");
}

static int cmd_help(struct cli_ctx *ctx)
{
	if (ctx->argc < 1) {
		list_cmds(stdout);
		return EXIT_OK;
	}
	const struct cli_cmd *c = find_cmd(ctx->argv[0]);
	if (!c)
		return unknown_cmd(ctx->argv[0]);
	cli_usage(stdout, c->def->usage);
	return EXIT_OK;
}

/* Flush and close stdout; a failed write of a plan or records is an error
 * (git run_builtin, Knot stdout_write_err). */
static int finish_stdout(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		sts_log_err("cannot write to standard output");
		return rc == EXIT_OK ? EXIT_USAGE : rc;
	}
	return rc;
}

/*
 * --json and --state given before the command name: the command's own
 * options (docs/stsctl.md, Global options). A command without the option
 * refuses it, as it would after its name.
 */
struct global_opts {
	bool json;
	const char *state;
};

static int global_opts_apply(struct cli_ctx *ctx, const struct cli_cmd *c,
			     const struct global_opts *g)
{
	if (g->json && !cli_opts_have(c->def->opts, CLI_OPT_JSON))
		return cli_usage_error(c->def->usage, "'stsctl %s' has no --json", c->name);
	if (g->state && !cli_opts_have(c->def->opts, CLI_OPT_STATE))
		return cli_usage_error(c->def->usage, "'stsctl %s' has no --state", c->name);
	ctx->json = ctx->json || g->json;
	if (!ctx->state_path) /* the one after the command name wins */
		ctx->state_path = g->state;
	return EXIT_OK;
}

static int run_cmd(const struct cli_cmd *c, int argc, char **argv, const struct global_opts *g)
{
	if (!(c->flags & CMD_NO_HELP_SCAN)) {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--") == 0)
				break;
			if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
				cli_usage(stdout, c->def->usage);
				return finish_stdout(EXIT_OK);
			}
		}
	}
	struct cli_ctx ctx = {.def = c->def, .flags = c->flags};
	int rc = EXIT_OK;
	if (c->def->args_size && !(ctx.args = calloc(1, c->def->args_size))) {
		sts_log_err("out of memory");
		return EXIT_INTERNAL;
	}
	rc = cli_parse_options(&ctx, argc, argv);
	if (rc == EXIT_OK && !ctx.help_shown)
		rc = global_opts_apply(&ctx, c, g);
	if (rc == EXIT_OK && !ctx.help_shown && c->def->prepare)
		rc = c->def->prepare(&ctx);
	if (rc == EXIT_OK && !ctx.help_shown)
		rc = cli_ctx_setup(&ctx);
	if (rc != EXIT_OK && ctx.errors_fail)
		rc = EXIT_FAIL; /* plan --detailed-exitcode: 2 means changes */
	else if (rc == EXIT_OK && !ctx.help_shown)
		rc = c->def->run(&ctx);
	if (c->def->release && ctx.args)
		c->def->release(&ctx);
	cli_ctx_release(&ctx);
	cli_options_release(&ctx);
	free(ctx.args);
	return finish_stdout(rc);
}

/* A usage error before the command name: the message, then stsctl's synopsis. */
static int main_usage_error(const char *fmt, const char *arg)
{
	sts_log_err(fmt, arg);
	fprintf(stderr, "usage: %s\n", main_usage[0]);
	fprintf(stderr, "(see 'stsctl --help')\n");
	return EXIT_USAGE;
}

#define OPT_JSON  0x100
#define OPT_STATE 0x101

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"state", required_argument, NULL, OPT_STATE},
	    {NULL, 0, NULL, 0},
	};
	struct global_opts g = {0};
	int c;
	opterr = 0; /* our own messages, not getopt's */
	/* '+': stop at the first non-option, the command name; ':': a missing value is ':' */
	while ((c = getopt_long(argc, argv, "+:hVvq", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			list_cmds(stdout);
			return finish_stdout(EXIT_OK);
		case 'V': {
			/* --version [--json]: nothing else may follow */
			bool json = optind < argc && strcmp(argv[optind], "--json") == 0;
			if (argc > optind + (json ? 1 : 0)) {
				sts_log_err("--version takes no argument but --json");
				fprintf(stderr, "usage: %s\n", main_usage[1]);
				return EXIT_USAGE;
			}
			if (cli_print_version(json) < 0)
				return finish_stdout(EXIT_USAGE);
			return finish_stdout(EXIT_OK);
		}
		case 'v':
			cli_verbosity = 2;
			break;
		case 'q':
			cli_verbosity = 0;
			break;
		case OPT_JSON:
			g.json = true;
			break;
		case OPT_STATE:
			g.state = optarg;
			break;
		case ':':
			return main_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return main_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		list_cmds(stderr);
		return EXIT_USAGE;
	}
	const struct cli_cmd *cmd = find_cmd(argv[optind]);
	if (!cmd) {
		unknown_cmd(argv[optind]);
		fprintf(stderr, "(see 'stsctl help')\n");
		return EXIT_USAGE;
	}
	return run_cmd(cmd, argc - optind, argv + optind, &g);
}
