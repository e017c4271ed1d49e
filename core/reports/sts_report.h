/* SPDX-License-Identifier: MIT */
#ifndef STS_REPORT_H
#define STS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_db.h"

/*
 * The readable summary of the ingested TLS reports (`stsctl report`,
 * docs/stsctl-report.md): per policy domain, totals and success ratio,
 * failures by result type, by reporting organisation, by receiving MX, by
 * sending MTA IP, and the sessions by day; as text, JSON, CSV or one
 * self-contained HTML page with an inline SVG chart per domain.
 *
 * Session counts: successful = total-successful-session-count; failed =
 * total-failure-session-count per policy entry (sts_tlsrpt.h,
 * sts_tlsrpt_policy_failed_sessions()). The breakdowns add up the
 * failed-session-count of the failure details, which are non-exclusive
 * (RFC 8460 §4): they may exceed failed.
 */

struct sts_report_count {
	char *key;
	int64_t sessions; /* failed sessions */
};

struct sts_report_org {
	char *name;
	int64_t successful, failed, reports;
};

struct sts_report_day {
	char date[11]; /* YYYY-MM-DD (UTC day the report's range starts) */
	int64_t successful, failed;
};

struct sts_report_domain {
	char *domain; /* "" when the reports named none */
	int64_t successful, failed, reports;
	/* the part that counts as evidence (authenticated reports) */
	int64_t auth_successful, auth_failed, auth_reports;
	struct sts_report_count *by_result_type; /* most failures first, then by name */
	size_t n_by_result_type;
	struct sts_report_org *by_org; /* most failures first, then most sessions, then name */
	size_t n_by_org;
	struct sts_report_count *by_mx;
	size_t n_by_mx;
	struct sts_report_count *by_ip;
	size_t n_by_ip;
	struct sts_report_day *days; /* ascending, days with data only */
	size_t n_days;
};

struct sts_report {
	struct sts_report_domain *domains; /* by name */
	size_t n_domains;
	char since[11]; /* "" = from the start */
	char until[11]; /* "" = up to now */
	bool authenticated_only;
	int64_t quarantined; /* inputs in the quarantine (any date) */
};

struct sts_report_query {
	const char *domain; /* NULL = every domain */
	const char *since;  /* YYYY-MM-DD, inclusive; NULL = no bound */
	const char *until;  /* YYYY-MM-DD, inclusive; NULL = no bound */
	bool authenticated_only;
};

/*
 * Read the aggregates. A DB without report tables gives an empty report.
 * Returns STS_OK, STS_EINVAL (a bad date), STS_EDB, STS_ENOMEM.
 */
STS_API int sts_report_build(struct sts_db *db, const struct sts_report_query *q,
			     struct sts_report **ret);
STS_API void sts_report_free(struct sts_report *r);

/*
 * Add an empty entry for domain unless it is there (`stsctl report
 * --inventory` lists the managed domains without reports too); the order
 * by name is kept. STS_OK or STS_ENOMEM.
 */
STS_API int sts_report_add_domain(struct sts_report *r, const char *domain);

/* Keep only the domains keep() says yes to (`stsctl report --tenant`), in order. */
STS_API void sts_report_keep(struct sts_report *r, bool (*keep)(void *ud, const char *domain),
			     void *ud);

enum sts_report_format {
	STS_REPORT_TEXT,
	STS_REPORT_JSON,
	STS_REPORT_CSV,
	STS_REPORT_HTML,
};

/* "text", "json", "csv", "html" -> format; STS_EINVAL otherwise. */
STS_API int sts_report_format_parse(const char *s, enum sts_report_format *ret);

/*
 * "YYYY-MM-DD" (a real date) or "Nd" (N days before now, UTC) into
 * out = "YYYY-MM-DD". STS_OK or STS_EINVAL.
 */
STS_API int sts_report_parse_date(const char *s, int64_t now, char out[11]);

/* {"domains":[{"domain", "successful_sessions", "failed_sessions", ...}]} (new reference) */
STS_API json_t *sts_report_to_json(const struct sts_report *r);

/* The output in pieces; returns 0, or non-zero to stop (a write error). */
typedef int (*sts_report_write_fn)(void *ud, const char *p, size_t n);

/* STS_OK, STS_EIO (the writer failed), STS_ENOMEM. */
STS_API int sts_report_write(const struct sts_report *r, enum sts_report_format f,
			     sts_report_write_fn w, void *ud);

#endif
