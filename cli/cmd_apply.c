/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "cli.h"
#include "commands.h"

const char *const apply_usage[] = {
	"stsctl apply ...",
	NULL,
};

int cmd_apply(int argc, char **argv)
{
	sts_log_err("'apply' is not implemented yet");
	return EXIT_INTERNAL;
}
