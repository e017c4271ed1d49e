/* SPDX-License-Identifier: MIT */
/* Runs a crash left "running" (docs/state.md): apply records them interrupted, plan and status say
 * so. */
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "cli_runs.h"
#include "sts_err.h"

static void say(const struct sts_db_run *run, const char *what)
{
	char t[32];
	sts_time_rfc3339(run->started, t);
	sts_log_warn("run %lld (%s, started %s) did not finish: interrupted (a crash or kill); %s",
		     (long long)run->id, run->command, t, what);
}

void cli_runs_report(struct cli_ctx *ctx, bool mark)
{
	struct sts_db_run *v = NULL;
	size_t n = 0;
	bool held = false;
	int r;
	if (!ctx->db)
		return;
	if (mark)
		r = sts_db_runs_interrupt(ctx->db, &v, &n);
	else if ((r = sts_db_runs_unfinished(ctx->db, &v, &n)) == STS_OK && n)
		r = sts_lock_held(ctx->state_path, &held);
	if (r < 0) {
		sts_log_warn("cannot read the unfinished runs: %s",
			     r == STS_EDB ? sts_db_errmsg(ctx->db) : sts_strerror(r));
	} else if (!held) { /* held: an apply is running now */
		for (size_t i = 0; i < n; i++)
			say(&v[i], mark ? "recorded so; this run converges"
					: "the next apply records it so and converges");
	}
	sts_db_runs_free(v, n);
}
