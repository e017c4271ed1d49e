/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "cli.h"
#include "commands.h"

const char *const plugins_usage[] = {
	"stsctl plugins ...",
	NULL,
};

int cmd_plugins(int argc, char **argv)
{
	sts_log_err("'plugins' is not implemented yet");
	return EXIT_INTERNAL;
}
