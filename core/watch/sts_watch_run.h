/* SPDX-License-Identifier: MIT */
#ifndef STS_WATCH_RUN_H
#define STS_WATCH_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_db.h"
#include "sts_diag.h"
#include "sts_ingest.h"
#include "sts_inventory.h"
#include "sts_plan.h"
#include "sts_watch.h"

/*
 * What stsctl watch does around sts_watch_cycle(): carry out one domain's
 * transition through plan and apply, and the webhook document of a cycle.
 * The caller (cli/cmd_watch.c) owns the inventory, DB and plugins; nothing
 * here prints.
 */

struct sts_watch_run {
	const struct sts_inventory *inv;
	struct sts_db *db;
	const struct sts_io *io;
	struct sts_diags *diags; /* the plan findings of the domains applied; NULL: dropped */
};

/*
 * Plan domain d alone (for apply) and apply it: the apply operation of
 * struct sts_watch_ops. STS_OK; STS_EINVALID when it cannot be planned
 * (*reterr "cannot plan 'D'"); the first failure's error with *reterr
 * "apply failed at 'STEP': ..."; a DB or memory failure of the apply is
 * reported as STS_EPROVIDER (the domain failed, the cycle goes on).
 * *reterr is malloc'd, or NULL.
 */
STS_API int sts_watch_apply_domain(struct sts_watch_run *w, const struct sts_domain *d,
				   char **reterr);

/*
 * Read the inventory's report sources (reports.sources) into db, as the
 * first step of a cycle. A source that cannot be read is passed to
 * on_skip (may be NULL) and left for the next cycle. STS_OK (counts in
 * *ret_stats, zero without sources); STS_EINVALID for a reports section
 * that is not valid; STS_EDB or STS_ENOMEM, the cycle must stop. *reterr
 * (malloc'd, or NULL) says why.
 */
STS_API int sts_watch_ingest(const struct sts_inventory *inv, struct sts_db *db,
			     void (*on_skip)(void *ud, const char *source, const char *why),
			     void *ud, struct sts_ingest_stats *ret_stats, char **reterr);

/* The inventory's reports.evidence is "all": unauthenticated reports count. */
STS_API bool sts_watch_all_reports(const struct sts_inventory *inv);

/*
 * The webhook document of a cycle at now:
 * {"source":"stsctl watch","time":RFC3339,"decisions":[...]} with the
 * decisions that changed a stage or failed. NULL with *ret_n 0 when there
 * is nothing to send; NULL with *ret_n > 0 when out of memory.
 */
STS_API json_t *sts_watch_webhook_doc(const struct sts_watch_result *res, int64_t now,
				      size_t *ret_n);

/*
 * The hosted certificates to post at now (docs/stsctl-watch.md): every
 * certificate of the hosted store whose condition ("failing": the last
 * attempt failed; "expiring": it expires within warn_days days, or
 * "expired"; comma-joined when both) differs from the one last posted, as
 * {"source":"stsctl watch","time":RFC3339,"events":[{"type":
 * "hosted.certificate","host","domain","condition","not_after","last_error",
 * "failures"}]}. A certificate healthy again is forgotten here, so its next
 * failure is posted. Migrates the hosted schema when it is older; *ret NULL
 * without events or without a hosted service. STS_OK, STS_EDB, STS_ENOMEM.
 */
STS_API int sts_watch_cert_events(struct sts_db *db, int64_t now, int64_t warn_days, json_t **ret);
/* The document was delivered: remember each event's condition as posted. */
STS_API int sts_watch_cert_posted(struct sts_db *db, const json_t *doc);

#endif
