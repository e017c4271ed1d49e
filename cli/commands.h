/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_COMMANDS_H
#define STS_CLI_COMMANDS_H

/*
 * Adding a command (git builtin.h checklist):
 *  1. cli/cmd_<name>.c with <name>_usage[], an option table (cli_opts.h:
 *     CLI_BOOL, CLI_STRING, CLI_LIST, CLI_UINT, CLI_CALLBACK and the common
 *     CLI_JSON, CLI_STATE, CLI_INVENTORY) whose targets are fields of the
 *     command's own argument struct, and a run function that gets struct
 *     cli_ctx (cli_ctx.h) with the arguments, the inventory, the state DB,
 *     the lock and the plugins already set up. It only calls core/ and maps
 *     the result to an exit code; no getopt loop, no strcmp chains, no
 *     inventory or state loading of its own. Export it as
 *     `const struct cli_cmd_def <name>_cmd`. A command never includes
 *     another command: what two commands share goes to core/ or to a
 *     cli_*.c helper (cli_ctx.c, cli_netopts.c).
 *  2. Declare it here and add the file to cli/meson.build.
 *  3. Add a row to cmds[] in cli/main.c with the CMD_* flags of what it
 *     needs (inventory argument or --inventory, reports settings, state
 *     read-only or read-write, lock, plugins).
 *  4. Write docs/stsctl-<name>.md whose Synopsis block equals --help
 *     (tests/cli/test_help_docs.py checks it) and list it in README.md.
 *  5. Tests for the new behaviour, and its exit codes in docs/exit-codes.md.
 *     A test-only hook (getenv("STSCTL_TEST_...")) goes inside
 *     #ifdef STS_TEST_HOOKS (meson -Dtest_hooks=true).
 */

#include "cli_ctx.h"

extern const struct cli_cmd_def lint_cmd;
extern const struct cli_cmd_def validate_cmd;
extern const struct cli_cmd_def render_cmd;
extern const struct cli_cmd_def plan_cmd;
extern const struct cli_cmd_def apply_cmd;
extern const struct cli_cmd_def check_cmd;
extern const struct cli_cmd_def onboard_cmd;
extern const struct cli_cmd_def ingest_cmd;
extern const struct cli_cmd_def receive_cmd;
extern const struct cli_cmd_def serve_cmd;
extern const struct cli_cmd_def report_cmd;
extern const struct cli_cmd_def prune_cmd;
extern const struct cli_cmd_def state_cmd;
extern const struct cli_cmd_def status_cmd;
extern const struct cli_cmd_def watch_cmd;
extern const struct cli_cmd_def rollout_cmd;
extern const struct cli_cmd_def plugins_cmd;
extern const struct cli_cmd_def completion_cmd;

/* The command table of main.c (for `stsctl completion`): its rows, in order. */
size_t cli_commands(const struct cli_cmd **ret);

#endif
