/* SPDX-License-Identifier: MIT */
#ifndef STS_HOSTED_LABEL_H
#define STS_HOSTED_LABEL_H

#include <stdint.h>

#include "sts_api.h"
#include "sts_db.h"

/*
 * The label of a hosted domain D (docs/hosted.md, "Customer onboarding"):
 * the customer publishes `_mta-sts.D CNAME <label>._mta-sts.<hosted zone>`,
 * so the TXT with the policy id lives in the MSP's zone.
 *
 * The label is the first 26 characters of the RFC 4648 base32 encoding of
 * SHA-256(D), D as an A-label in lower case without a trailing dot, in
 * lower case: 130 bits, letters and the digits 2-7, a valid DNS label.
 * It is allocated once (onboarding or the first plan) and stored in the
 * state (hosted_domains.label, UNIQUE); it never changes while D is hosted.
 */

#define STS_HOSTED_LABEL_LEN 26
/* Fallback labels tried after a collision: hash of "D#1" .. "D#<this>". */
#define STS_HOSTED_LABEL_TRIES 8

/*
 * The hash label of domain (normalised with sts_dname_normalize: a U-label
 * or upper case gives the label of its A-label). STS_OK, STS_EINVAL (not a
 * domain name), STS_ENOMEM.
 */
STS_API int sts_hosted_label(const char *domain, char out[STS_HOSTED_LABEL_LEN + 1]);

/*
 * The label of the n-th candidate: n == 0 is sts_hosted_label(); n >= 1
 * hashes "<A-label>#<n>" (the deterministic fallback after a collision).
 */
STS_API int sts_hosted_label_nth(const char *domain, unsigned n,
				 char out[STS_HOSTED_LABEL_LEN + 1]);

/*
 * The label stored for domain in hosted_domains, or, when it has none, the
 * first candidate (sts_hosted_label_nth 0, 1, ...) no other domain holds,
 * inserted with since = now. The "hosted" schema must be migrated
 * (sts_hosted_schema, sts_hosted_store.h). *ret_new (may be NULL) tells whether it was allocated
 * now. STS_OK; STS_EEXIST when every candidate up to
 * STS_HOSTED_LABEL_TRIES is taken; STS_EDB; STS_EINVAL; STS_ENOMEM.
 */
STS_API int sts_hosted_label_alloc(struct sts_db *db, const char *domain, int64_t now,
				   char ret[STS_HOSTED_LABEL_LEN + 1], bool *ret_new);

/*
 * The stored label of domain, read only: *ret_found false (ret untouched)
 * when it has none or the table does not exist yet.
 */
STS_API int sts_hosted_label_get(struct sts_db *db, const char *domain,
				 char ret[STS_HOSTED_LABEL_LEN + 1], bool *ret_found);

#endif
