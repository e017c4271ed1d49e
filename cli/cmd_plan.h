/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_CMD_PLAN_H
#define STS_CLI_CMD_PLAN_H

/* What plan and apply share: inventory, plugins, state DB, lock (cmd_plan.c). */

#include <stdbool.h>
#include <time.h>

#include "sts_db.h"
#include "sts_inventory.h"
#include "sts_plan.h"
#include "sts_plugin.h"

struct plan_ctx {
	const char *state_path;
	struct sts_inventory *inv;
	struct sts_plugin_host *host;
	struct sts_io *io;
	struct sts_db *db;
	struct sts_lock *lock;
	struct sts_clock clock;
	time_t test_now; /* STSCTL_TEST_NOW (test-only) */
};

/*
 * Lock the state (writers only), open the state DB (read-only for plan)
 * and the inventory, and set up the plugins. Returns EXIT_OK or the exit
 * code after logging why.
 */
int plan_ctx_open(struct plan_ctx *c, const char *inventory, const char *state, bool writer);
void plan_ctx_close(struct plan_ctx *c);

/* Build the plan (diags logged); EXIT_OK or an exit code. */
int plan_ctx_build(struct plan_ctx *c, const char *const *targets, size_t n_targets,
		   unsigned concurrency, bool for_apply, struct sts_plan **ret);

/* Print the human plan to stdout; -1 on a write error (logged). */
int plan_print(const struct sts_plan *p);

/* "--concurrency N": 1..256; EXIT_OK, or the usage error (printed). */
int parse_concurrency(const char *const *usage, const char *s, unsigned *ret);

#endif
