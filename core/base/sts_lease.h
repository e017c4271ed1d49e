/* SPDX-License-Identifier: MIT */
#ifndef STS_LEASE_H
#define STS_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "sts_api.h"
#include "sts_db.h"

/*
 * Leases (issue 18, docs/rollout.md "Several watchers on one state"): a
 * named piece of work ("watch:example.com") held by one holder until an
 * expiry, with a fencing token that grows at each new holder. Several
 * processes on one state share work without a coordinator. One table,
 * leases (name, holder, fence, expires), written only with engine-neutral
 * statements; the clock is sts_db_now() (tests inject it).
 */

#define STS_LEASE_COMPONENT "lease"

/* Create or migrate the leases table (nothing on a read-only DB). */
STS_API int sts_lease_schema(struct sts_db *db);

/*
 * This process's holder id, "HOST:PID:RANDOM64HEX", made at the first call
 * and the same for the life of the process (a fork makes a new one).
 */
STS_API const char *sts_lease_holder_id(void);

/*
 * Claim (or renew) name for holder until now + ttl seconds: one atomic
 * conditional write. *ret_ok true: held, *ret_fence its fencing token
 * (1 for a new lease, +1 at each claim or renewal); false: another
 * holder's lease has not expired (*ret_fence 0). STS_OK or STS_EDB.
 */
STS_API int sts_lease_claim(struct sts_db *db, const char *name, const char *holder, int64_t ttl,
			    int64_t *ret_fence, bool *ret_ok);

/*
 * Give name up: only the holder with that fence can (*ret_ok false when
 * the lease was taken over, or is gone). STS_OK or STS_EDB.
 */
STS_API int sts_lease_release(struct sts_db *db, const char *name, const char *holder,
			      int64_t fence, bool *ret_ok);

/*
 * The fencing check before a write made under a lease: *ret true when
 * name is still held by holder with fence and has not expired.
 */
STS_API int sts_lease_valid(struct sts_db *db, const char *name, const char *holder, int64_t fence,
			    bool *ret);

#endif
