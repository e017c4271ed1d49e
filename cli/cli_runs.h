/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_RUNS_H
#define STS_CLI_RUNS_H

#include <stdbool.h>

#include "cli_ctx.h"

/*
 * Warn about the runs of ctx->db left "running" by a crash (kill -9, a
 * power cut): with mark (a writer holding the lock) they are recorded
 * "interrupted"; without, they are only named, unless another stsctl holds
 * the lock (it is running them).
 */
void cli_runs_report(struct cli_ctx *ctx, bool mark);

#endif
