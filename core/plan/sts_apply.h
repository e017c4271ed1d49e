/* SPDX-License-Identifier: MIT */
#ifndef STS_APPLY_H
#define STS_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sts_api.h"
#include "sts_buf.h"
#include "sts_db.h"
#include "sts_fetch.h"
#include "sts_plan.h"
#include "sts_progress.h"

/*
 * Apply a plan in the safe order (docs/stsctl-apply.md), per domain:
 *   policy host records (A/AAAA/CNAME of mta-sts.<domain>, when managed)
 *   -> put the policy file -> read it back through the web plugin (and over
 *   HTTPS as a sender would, when verify.https is on) and compare
 *   -> record the served policy in the state DB (committed)
 *   -> the _mta-sts TXT with the new id -> the _smtp._tls TXT -> CNAMEs.
 * A TXT id is never published for a policy that did not verify in place.
 * Removal (RFC 8461 §8.3): mode none with a new id first; once the largest
 * max_age ever served has passed, the records go, then the policy file.
 *
 * Domains of one zone share one DNS apply call per step (the plugin
 * batches them when it can); zones run in parallel within each provider's
 * declared concurrency. A failed domain does not stop the others.
 */

struct sts_apply_opts {
	unsigned concurrency; /* zones in flight; 0 = 4 */
	bool allow_removal;   /* lift the STS_PLAN_REMOVAL_SHARE rule */
	/*
	 * Called after each step with its name ("dns-host", "policy-put",
	 * "policy-verify", "db-record", "dns", "policy-delete", "db-commit")
	 * and the domain (NULL for a whole zone). Test builds use it to abort
	 * the process at a chosen point (STSCTL_TEST_CRASH_AFTER).
	 */
	void (*step_hook)(void *ud, const char *step, const char *domain);
	/* Progress: domains with work done of total, failed of them; called under a lock. */
	sts_progress_fn *progress;
	void *ud;
	/* HTTPS fetch for verify.https; NULL: sts_https_fetch_policy(). */
	int (*https_fetch)(void *ud, const struct sts_plan_domain *d, struct sts_buf *ret,
			   char **reterr);
	/*
	 * Asked before each zone starts (SIGINT/SIGTERM in the CLI): true
	 * starts no further zone; the zones in flight finish, so no zone is
	 * left half applied, and the run is recorded "interrupted". NULL: never.
	 */
	bool (*stop)(void *ud);
	/*
	 * appended (issue 15): a line of progress for one domain, e.g.
	 * "waiting for serve's certificate for mta-sts.D (up to 120 s)";
	 * called from the zone's thread. NULL: none.
	 */
	void (*note)(void *ud, const char *domain, const char *text);
};

struct sts_apply_failure {
	char *domain;
	char *step;    /* where it failed ("plan" for domains the plan could not handle) */
	int err;       /* sts_err */
	char *message; /* lowercase, or NULL */
	/* appended (issue 17): the provider that was down (reported once for
	 * all its domains: sts_apply_result.down), pointing into the plan; or NULL */
	const char *down;
};

struct sts_apply_result {
	int64_t run;	    /* journal run id; 0 without a DB */
	size_t n_domains;   /* domains in the plan */
	size_t n_changed;   /* domains whose changes were all applied */
	size_t n_unchanged; /* nothing to do */
	size_t n_failed;
	size_t n_changes;		    /* changes applied */
	struct sts_apply_failure *failures; /* sorted by domain */
	size_t n_failures;
	size_t n_changes_failed; /* changes of failed domains that were not applied */
	/* appended (issue 17): the providers that were down, by name, with
	 * their failed domains (whose failures' down is set) */
	struct sts_plan_down *down;
	size_t n_down;
	/* appended (issue 17): opts->stop said stop while zones were left */
	bool interrupted;
	size_t n_not_started; /* domains with changes in the zones left */
};

STS_API void sts_apply_result_release(struct sts_apply_result *r);

/*
 * Run plan. db may be NULL only in tests (no journal, no history: a
 * policy is then never considered recorded, and removal is not tracked).
 * Returns STS_OK when the run completed (per-domain failures are in ret),
 * STS_EREFUSED when the plan starts removing too many domains without
 * opts->allow_removal (nothing done), STS_EDB when the state DB failed
 * (the run stops: nothing further is published), STS_ENOMEM.
 */
STS_API int sts_apply_run(const struct sts_plan *plan, struct sts_db *db, const struct sts_io *io,
			  const struct sts_apply_opts *opts, struct sts_apply_result *ret);

/* sts_https_fetch_policy(): sts_fetch.h. */

#endif
