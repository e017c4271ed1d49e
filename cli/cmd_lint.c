/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "cli.h"
#include "commands.h"

const char *const lint_usage[] = {
	"stsctl lint ...",
	NULL,
};

int cmd_lint(int argc, char **argv)
{
	sts_log_err("'lint' is not implemented yet");
	return EXIT_INTERNAL;
}
