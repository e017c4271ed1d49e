/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "cli.h"
#include "commands.h"

const char *const render_usage[] = {
	"stsctl render ...",
	NULL,
};

int cmd_render(int argc, char **argv)
{
	sts_log_err("'render' is not implemented yet");
	return EXIT_INTERNAL;
}
