/* SPDX-License-Identifier: MIT */
#ifndef STS_INVENTORY_STATE_H
#define STS_INVENTORY_STATE_H

/*
 * Where the state lives (docs/state.md, Where the state lives): a path (an
 * SQLite file) or a postgresql:// or postgres:// URL that carries no
 * password. The inventory's "state" section is validated with positions in
 * core/inventory/sts_inventory_state.c; --state and STSCTL_STATE go through the
 * same check (cli/cli_ctx.c). Which is a URL: sts_db_location_is_url().
 */
#include <stdbool.h>

#include "sts_api.h"

/*
 * Why s cannot name a state, as a static message that never quotes s, or
 * NULL when it can: an empty value, a URL with a password in its user
 * information (user:pass@) or in a password= parameter, another scheme://.
 */
STS_API const char *sts_state_location_problem(const char *s);

#endif
