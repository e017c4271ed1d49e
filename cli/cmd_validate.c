/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "cli.h"
#include "commands.h"

const char *const validate_usage[] = {
	"stsctl validate ...",
	NULL,
};

int cmd_validate(int argc, char **argv)
{
	sts_log_err("'validate' is not implemented yet");
	return EXIT_INTERNAL;
}
