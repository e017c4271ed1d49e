/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_COMMANDS_H
#define STS_CLI_COMMANDS_H

/*
 * Adding a command (git builtin.h checklist):
 *  1. cli/cmd_<name>.c with <name>_usage[] and cmd_<name>(); options in a
 *     getopt_long table, no strcmp chains; it only parses options, calls
 *     core/ and maps the result to an exit code.
 *  2. Declare both here and add the file to cli/meson.build.
 *  3. Add a row to cmds[] in cli/main.c.
 *  4. Write docs/stsctl-<name>.md whose Synopsis block equals --help
 *     (tests/cli/help_docs.py checks it) and list it in README.md.
 *  5. Tests for the new behaviour, and its exit codes in docs/exit-codes.md.
 */

extern const char *const lint_usage[];
int cmd_lint(int argc, char **argv);

extern const char *const validate_usage[];
int cmd_validate(int argc, char **argv);

extern const char *const render_usage[];
int cmd_render(int argc, char **argv);

extern const char *const plugins_usage[];
int cmd_plugins(int argc, char **argv);

extern const char *const plan_usage[];
int cmd_plan(int argc, char **argv);

extern const char *const apply_usage[];
int cmd_apply(int argc, char **argv);

extern const char *const check_usage[];
int cmd_check(int argc, char **argv);

extern const char *const onboard_usage[];
int cmd_onboard(int argc, char **argv);

extern const char *const ingest_usage[];
int cmd_ingest(int argc, char **argv);

extern const char *const receive_usage[];
int cmd_receive(int argc, char **argv);

extern const char *const report_usage[];
int cmd_report(int argc, char **argv);

extern const char *const prune_usage[];
int cmd_prune(int argc, char **argv);

extern const char *const status_usage[];
int cmd_status(int argc, char **argv);

extern const char *const watch_usage[];
int cmd_watch(int argc, char **argv);

#endif
