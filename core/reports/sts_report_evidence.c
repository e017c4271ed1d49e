/* SPDX-License-Identifier: MIT */
/*
 * Per report: does it count as evidence, and why not (sts_report_evidence.h).
 * The verdict is computed here from the stored flags and reporter identity
 * with the allow-list of now, by sts_ingest_evidence(), as the rollout
 * reader does for the aggregates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_report_evidence.h"
#include "sts_report_int.h"

static json_t *text_or_null(struct sts_db_stmt *st, int i)
{
	const char *s = sts_db_col_text(st, i);
	return s ? json_string(s) : json_null();
}

static json_t *one(struct sts_db_stmt *st, const struct sts_reporters *l, bool all)
{
	bool auth = sts_db_col_int(st, 6) != 0, pending = sts_db_col_int(st, 7) != 0;
	const char *reporter = sts_db_col_text(st, 3);
	const char *reason = sts_db_col_text(st, 8);
	char *why = NULL;
	bool ev = sts_ingest_evidence(l, all, auth, pending, reporter, reason, &why);
	json_t *o = json_pack(
	    "{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:b,s:o,s:b}", "id",
	    (json_int_t)sts_db_col_int(st, 0), "organization", text_or_null(st, 1), "report_id",
	    text_or_null(st, 2), "reporter", text_or_null(st, 3), "day", text_or_null(st, 4),
	    "domains", text_or_null(st, 5), "channel", text_or_null(st, 9), "authenticated", auth,
	    "pending", pending, "auth_reason", text_or_null(st, 8), "evidence", ev);
	if (o && !ev && json_object_set_new(o, "why", json_string(why ? why : "")) < 0) {
		json_decref(o);
		o = NULL;
	}
	free(why);
	return o;
}

STS_API int sts_report_evidence_json(struct sts_db *db, const struct sts_report_query *q,
				     const struct sts_reporters *l, bool evidence_all, json_t **ret,
				     bool *ret_truncated)
{
	char sql[768];
	struct sts_db_stmt *st = NULL;
	int r = STS_OK, rc;
	size_t n = 0;
	json_t *a = json_array();
	if (!a)
		return STS_ENOMEM;
	*ret_truncated = false;
	snprintf(sql, sizeof(sql),
		 "SELECT id, organization, report_id, reporter, day, domains, authenticated,"
		 " pending, auth_reason, channel FROM tlsrpt_reports WHERE 1%s%s%s%s"
		 " ORDER BY day, id LIMIT %d",
		 q->domain ? " AND (' ' || domains || ' ') LIKE ('% ' || ?1 || ' %')" : "",
		 q->since ? " AND day >= ?2" : "", q->until ? " AND day <= ?3" : "",
		 q->authenticated_only ? " AND authenticated = 1" : "",
		 STS_REPORT_EVIDENCE_MAX + 1);
	sts_db_hold(db);
	if (sts_db_prepare(db, sql, &st) != STS_OK) {
		sts_db_unhold(db);
		*ret = a; /* no report tables (or an older schema): nothing to list */
		return STS_OK;
	}
	rpt_bind_query(st, q);
	while ((rc = sts_db_step(st)) == STS_DB_ROW) {
		if (++n > STS_REPORT_EVIDENCE_MAX) {
			*ret_truncated = true;
			break;
		}
		json_t *o = one(st, l, evidence_all);
		if (!o || json_array_append_new(a, o) < 0) {
			r = STS_ENOMEM;
			break;
		}
	}
	if (r == STS_OK && rc != STS_DB_ROW && rc != STS_DB_DONE)
		r = STS_EDB;
	sts_db_finalize(st);
	sts_db_unhold(db);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return STS_OK;
}
