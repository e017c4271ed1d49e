/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_CMD_WATCH_H
#define STS_CLI_CMD_WATCH_H

/* What watch and status share (cmd_watch.c). */

#include <stdbool.h>
#include <time.h>

#include "cmd_plan.h"
#include "sts_inventory.h"

/* "2026-11-29T06:00:00Z", fractions and "+HH:MM" offsets accepted; -1 when not. */
int watch_parse_time(const char *s, time_t *ret);
/* Make c's state DB see *now as the time (before plan_ctx_open). */
void watch_set_clock(struct plan_ctx *c, const time_t *now);
/* The inventory's reports.evidence is "all": unauthenticated reports count. */
bool watch_all_reports(const struct sts_inventory *inv);

#endif
