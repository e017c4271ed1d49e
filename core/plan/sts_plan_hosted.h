/* SPDX-License-Identifier: MIT */
#ifndef STS_PLAN_HOSTED_H
#define STS_PLAN_HOSTED_H

#include <stdint.h>

#include "sts_api.h"
#include "sts_buf.h"
#include "sts_db.h"
#include "sts_inventory.h"
#include "sts_plan.h"

/*
 * Plan and apply of a hosted domain D ("hosting": "hosted", docs/hosted.md
 * "Publishing"): the policy goes into the hosted store (served by `stsctl
 * serve` on mta-sts.D), the TXT with the id to <label>._mta-sts.<hosted
 * zone> through the provider instance hosted.dns. The customer's own zone
 * is not touched (its two CNAMEs and _smtp._tls.D are the customer's).
 */

/*
 * Where D publishes: d->zone and d->dns become the MSP zone and its
 * provider, d->label the stored label (db may be NULL) or, when none is
 * stored yet, the computed one (d->label_stored false), d->hosted_txt the
 * owner of the TXT. A domain that cannot be planned (no "hosted" section)
 * carries the error. STS_OK or STS_ENOMEM.
 */
STS_API int sts_plan_hosted_setup(const struct sts_inventory *inv, struct sts_db *db,
				  struct sts_plan_domain *d);

/* The rrset stsctl publishes for d: the v=STSv1 TXT at d->hosted_txt. */
STS_API int sts_plan_hosted_want(const struct sts_plan_domain *d, uint32_t ttl,
				 struct sts_rrsets *want);

/*
 * The actual state of d: the stored policy (db may be NULL: none) and the
 * rrsets at d->hosted_txt read through io. A failure stays in d.
 */
STS_API void sts_plan_hosted_read(struct sts_db *db, const struct sts_io *io,
				  struct sts_limits *lim, struct sts_plan_domain *d);

/*
 * apply: allocate D's label (it must be the planned one: a collision found
 * since the plan gives STS_ESTALE) and write d->policy_text into the store.
 * reterr: a malloc'd detail on failure.
 */
STS_API int sts_apply_hosted_put(struct sts_db *db, const struct sts_plan_domain *d, char **reterr);

/* apply: remove d's policy from the store (RFC 8461 §8.3, the last step). */
STS_API int sts_apply_hosted_delete(struct sts_db *db, const struct sts_plan_domain *d);

/*
 * apply, before the HTTPS check of hosted D: serve orders the certificate
 * of mta-sts.D once D's policy is in the store (docs/hosted.md, "Publishing"),
 * so a new customer's certificate may not exist yet. Wait for it in the
 * store, at most d->hosted_cert_wait seconds; note (may be NULL) is called
 * once when a wait starts. STS_OK when it is there; STS_ETIMEOUT when the
 * wait ran out or serve's next attempt comes after it, with *reterr
 * (malloc'd) naming the certificate's last error; STS_EDB, STS_ENOMEM.
 */
STS_API int sts_apply_hosted_cert_wait(struct sts_db *db, const struct sts_plan_domain *d,
				       void (*note)(void *ud, const char *domain, const char *text),
				       void *ud, char **reterr);

/* apply: the stored policy of d (STS_ENOENT when none) into ret. */
STS_API int sts_apply_hosted_get(struct sts_db *db, const struct sts_plan_domain *d,
				 struct sts_buf *ret);

#endif
