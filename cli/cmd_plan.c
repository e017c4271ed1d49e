/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "cli.h"
#include "commands.h"

const char *const plan_usage[] = {
	"stsctl plan ...",
	NULL,
};

int cmd_plan(int argc, char **argv)
{
	sts_log_err("'plan' is not implemented yet");
	return EXIT_INTERNAL;
}
