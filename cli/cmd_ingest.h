/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_CMD_INGEST_H
#define STS_CLI_CMD_INGEST_H

/* What ingest, receive, report and prune share (cmd_ingest.c). */

#include <stdbool.h>
#include <time.h>

#include "sts_db.h"
#include "sts_ingest.h"
#include "sts_inventory.h"

struct report_ctx {
	const char *state_path;
	struct sts_inventory *inv;    /* NULL without --inventory */
	struct sts_ingest_conf *conf; /* the reports section (defaults without one) */
	struct sts_db *db;
	struct sts_lock *lock;
	struct sts_clock clock;
	time_t test_now; /* STSCTL_TEST_NOW (test-only) */
};

enum {
	RCTX_WRITER = 1u << 0, /* open read-write, migrate */
	RCTX_LOCK = 1u << 1,   /* hold the state lock until close */
};

/*
 * Load the inventory (optional), read its reports section, take the lock
 * (RCTX_LOCK) and open the state DB. EXIT_OK or the exit code after
 * logging why.
 */
int report_ctx_open(struct report_ctx *c, const char *inventory, const char *state, unsigned flags);
void report_ctx_close(struct report_ctx *c);

/* Log a lock failure the way apply does; returns the exit code. */
int report_lock_error(int r, const char *state);

#endif
