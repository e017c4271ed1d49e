/* SPDX-License-Identifier: MIT */
#ifndef STS_REPORT_EVIDENCE_H
#define STS_REPORT_EVIDENCE_H

#include <stdbool.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_db.h"
#include "sts_report.h"
#include "sts_reporters.h"

/*
 * The stored reports one by one, each with whether it counts as evidence
 * for the rollout and why not (`stsctl report --json`, "reports"):
 * [{"id", "organization", "report_id", "reporter", "day", "domains",
 *   "channel", "authenticated", "pending", "auth_reason", "evidence",
 *   "why"}] ("why" only when "evidence" is false), oldest day first, at
 * most STS_REPORT_EVIDENCE_MAX of them (then *ret_truncated). q selects
 * as for sts_report_build (a report matches a domain it names). l: the
 * reporter allow-list; evidence_all: "evidence": "all". A DB without
 * report tables gives []. STS_OK, STS_EDB, STS_ENOMEM.
 */
#define STS_REPORT_EVIDENCE_MAX 100000
STS_API int sts_report_evidence_json(struct sts_db *db, const struct sts_report_query *q,
				     const struct sts_reporters *l, bool evidence_all, json_t **ret,
				     bool *ret_truncated);

#endif
