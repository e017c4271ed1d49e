/* SPDX-License-Identifier: MIT */
#ifndef STS_WATCH_H
#define STS_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_db.h"
#include "sts_inv_watch.h"
#include "sts_inventory.h"
#include "sts_rollout.h"

/*
 * One watcher cycle (stsctl watch, docs/stsctl-watch.md): for every
 * inventory domain, resume a transition a crash left in flight, read the
 * evidence, evaluate the gates (running a live check when one is due or a
 * promotion needs it), and carry out the decision through the apply path:
 * the pending stage is recorded, applied (policy verified before the id
 * bump), then the transition is completed. Domains the DB has under
 * rollout that left the inventory (or are "state": "absent") are recorded
 * as removed; plan/apply take them down.
 */

struct sts_watch_ops {
	/* Live check of one domain (the same trust settings as apply's verify). */
	int (*check)(void *ud, const struct sts_domain *d, struct sts_rollout_check *ret);
	/* Publish d at mode through plan/apply; *reterr: malloc'd message. */
	int (*apply)(void *ud, const struct sts_domain *d, enum sts_mode mode, char **reterr);
	/* Called after "begin" (pending recorded), "apply" and "complete" (tests crash here). */
	void (*step_hook)(void *ud, const char *step, const char *domain);
	void *ud;
	/*
	 * Called about every second from the cycle's thread while live checks
	 * run on others (the systemd watchdog); NULL: nothing. check is called
	 * from up to sts_watch_opts.concurrency threads at once.
	 */
	void (*tick)(void *ud);
};

struct sts_watch_opts {
	bool dry_run;	      /* evaluate and report, change nothing (no checks recorded) */
	bool all_reports;     /* unauthenticated reports count too ("evidence": "all") */
	bool no_check;	      /* evaluation only: never run a live check */
	int64_t check_every;  /* seconds between checks of a domain; 0 = 86400 */
	unsigned concurrency; /* live checks at a time; 0 = STS_WATCH_DEFAULT_CONCURRENCY */
	const struct sts_watch_ops *ops;
	/* appended (issue 17, --tenant): only the domains in_scope says yes to
	 * (of the inventory, and of those that left it); NULL: every domain */
	bool (*in_scope)(void *ud, const char *domain);
	void *scope_ud;
	/* appended (issue 18): the leases "watch:<domain>" a cycle claims (not with
	 * dry_run); NULL: sts_lease_holder_id(). lease_ttl 0: STS_WATCH_LEASE_TTL */
	const char *lease_holder;
	int64_t lease_ttl;
	/* appended (issue 18): claim the leases at all. The caller sets it for a
	 * state several watchers may share (a PostgreSQL state); a SQLite state is
	 * one watcher's at a time (PATH.watch.lock), where a lease protects nothing
	 * and costs two writes per domain */
	bool leases;
};

/*
 * How long a domain's lease lasts, in seconds: twice the longest a cycle
 * holds one (a batch's live checks, BATCH_PER_THREAD = 4 rounds of at most
 * 120 s + a 15 s probe, then the apply, about 60 s: 600 s), and never under
 * 5 minutes. It is renewed before each transition is recorded.
 */
#define STS_WATCH_LEASE_TTL 1200

struct sts_watch_decision {
	char *domain;
	enum sts_stage from, to;
	char *reason;
	bool changed; /* a transition was carried out (or would be, with dry_run) */
	int err;      /* STS_OK, or why the transition failed (the stage is kept) */
	char *error;  /* message, or NULL */
	bool held;    /* skipped: another watcher holds the domain's lease */
};

struct sts_watch_result {
	struct sts_watch_decision *decisions; /* in inventory order, then removed ones */
	size_t n;
	size_t n_changed, n_failed, n_checks;
	size_t n_held; /* domains skipped: held by another watcher */
};

STS_API void sts_watch_result_release(struct sts_watch_result *r);

/*
 * Run one cycle at the DB's clock. Migrates the rollout schema unless
 * dry_run. Returns STS_OK (per-domain failures in ret), STS_EDB, STS_ENOMEM.
 */
STS_API int sts_watch_cycle(const struct sts_inventory *inv, struct sts_db *db,
			    const struct sts_watch_opts *o, struct sts_watch_result *ret);

/*
 * {"decisions":[{"domain","from","to","reason"}, ...]} (+ "error" when failed,
 * "held": true for a domain another watcher holds), and
 * "held_by_another_watcher": n_held when it is not 0.
 */
STS_API json_t *sts_watch_result_json(const struct sts_watch_result *r);

/*
 * stsctl status: {"domains":[{"domain","stage","since","target","health":
 * {...},"blocking":[{"gate","message"}],"next_promotion_at"}]} at the DB's
 * clock, without live checks or changes.
 */
STS_API int sts_watch_status(const struct sts_inventory *inv, struct sts_db *db, bool all_reports,
			     json_t **ret);

/* The inventory's "watch" section, struct sts_watch_conf: sts_inv_watch.h. */

struct sts_check_domain;
struct sts_check_opts;
/* The gates' view of one check result. */
STS_API void sts_watch_check_convert(const struct sts_check_domain *cd, int64_t at,
				     struct sts_rollout_check *ret);
/*
 * Check d live (sts_check_run) with base's resolver and ports, and the CA
 * file of base, else of d's verify block (apply's trust settings). A
 * hosted domain is checked with base->inventory's hosted section: its
 * customer's CNAMEs not in place (HOSTED-1, HOSTED-2) make the policy not
 * served correctly, which blocks its promotion (the live-check gate).
 */
STS_API int sts_watch_check_domain(const struct sts_domain *d, const struct sts_check_opts *base,
				   int64_t now, struct sts_rollout_check *ret);

/* POST doc as JSON to url. STS_EPROVIDER on a non-2xx answer (*reterr malloc'd). */
STS_API int sts_watch_notify(const char *url, const char *ca_file, const json_t *doc,
			     char **reterr);

#endif
