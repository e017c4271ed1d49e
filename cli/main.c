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

static int cmd_help(int argc, char **argv);
static const char *const help_usage[] = {
    "stsctl help [COMMAND]",
    "",
    "Show the usage of COMMAND, or list the commands.",
    NULL,
};

/* One dispatch table; see commands.h for the checklist. */
static const struct cli_cmd cmds[] = {
    {"apply", cmd_apply, 0, "apply a plan: publish policies and DNS records", apply_usage},
    {"check", cmd_check, 0, "audit live MTA-STS and TLS-RPT deployments", check_usage},
    {"help", cmd_help, 0, "show help for a command", help_usage},
    {"ingest", cmd_ingest, 0, "read TLS reports into the state database", ingest_usage},
    {"lint", cmd_lint, 0, "check a policy, TXT record or MX match against the RFCs", lint_usage},
    {"onboard", cmd_onboard, 0, "propose inventory entries from live DNS", onboard_usage},
    {"plan", cmd_plan, 0, "show what apply would change", plan_usage},
    {"plugins", cmd_plugins, 0, "list the provider plugins found", plugins_usage},
    {"prune", cmd_prune, 0, "drop TLS reports past their retention", prune_usage},
    {"receive", cmd_receive, 0, "run the HTTPS receiver for TLS reports", receive_usage},
    {"render", cmd_render, 0, "render policies, DNS records and web configs", render_usage},
    {"report", cmd_report, 0, "summarise the stored TLS reports", report_usage},
    {"status", cmd_status, 0, "show rollout stages, health and what blocks promotion",
     status_usage},
    {"validate", cmd_validate, 0, "validate an inventory", validate_usage},
    {"watch", cmd_watch, 0, "walk domains none -> testing -> enforce on evidence", watch_usage},
};

static const char *const main_usage[] = {
    "stsctl [--verbose|--quiet] COMMAND [ARGS]",
    "stsctl --version",
    "stsctl help [COMMAND]",
    NULL,
};

static const struct cli_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void list_cmds(FILE *f)
{
	cli_usage(f, main_usage);
	fprintf(f, "\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nexit codes: docs/exit-codes.md\n");
}

static int cmd_help(int argc, char **argv)
{
	if (argc > 2)
		return cli_usage_error(help_usage, "too many arguments");
	if (argc < 2) {
		list_cmds(stdout);
		return EXIT_OK;
	}
	const struct cli_cmd *c = find_cmd(argv[1]);
	if (!c)
		return cli_usage_error(help_usage, "unknown command '%s'", argv[1]);
	cli_usage(stdout, c->usage);
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

static int run_cmd(const struct cli_cmd *c, int argc, char **argv)
{
	if (!(c->flags & CMD_NO_HELP_SCAN)) {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--") == 0)
				break;
			if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
				cli_usage(stdout, c->usage);
				return finish_stdout(EXIT_OK);
			}
		}
	}
	optind = 0; /* reset getopt for the command */
	return finish_stdout(c->fn(argc, argv));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	/* '+': stop at the first non-option, the command name */
	while ((c = getopt_long(argc, argv, "+hVvq", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			list_cmds(stdout);
			return finish_stdout(EXIT_OK);
		case 'V':
			printf("stsctl %s\n", STS_VERSION);
			return finish_stdout(EXIT_OK);
		case 'v':
			cli_verbosity = 2;
			break;
		case 'q':
			cli_verbosity = 0;
			break;
		default:
			fprintf(stderr, "usage: %s\n", main_usage[0]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		list_cmds(stderr);
		return EXIT_USAGE;
	}
	const struct cli_cmd *cmd = find_cmd(argv[optind]);
	if (!cmd) {
		sts_log_err("unknown command '%s'", argv[optind]);
		fprintf(stderr, "(see 'stsctl help')\n");
		return EXIT_USAGE;
	}
	return run_cmd(cmd, argc - optind, argv + optind);
}
