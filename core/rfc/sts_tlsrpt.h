/* SPDX-License-Identifier: MIT */
#ifndef STS_TLSRPT_H
#define STS_TLSRPT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sts_api.h"
#include "sts_diag.h"

/*
 * TLS-RPT aggregate report (RFC 8460 §4, docs/rfc-rules.md §7) parsed into a model the
 * ingester and the rollout watcher can trust.
 *
 * The parser tolerates the deviations real reporters send (docs/rfc-rules.md §10 and
 * tests/data/tlsrpt/samples/SOURCES.md), normalises them and records one
 * warning per deviation, both in diags (human text, severity warning, rule =
 * docs/rfc-rules.md rule id, message "<code>: <detail>") and in report->warnings (the
 * stable code and the JSON path). It rejects what is unusable with one error
 * in diags. docs/tlsrpt-parsing.md lists every code.
 *
 * Every string in the model is NUL-terminated UTF-8 and owned by the report;
 * optional strings are NULL when absent, null or empty.
 */

/* Caps (documented in docs/tlsrpt-parsing.md). The decompressed/plain JSON
 * cap is STS_CAP_REPORT (sts_buf.h, 10 MiB); the compressed cap is
 * STS_CAP_REPORT_COMPRESSED (sts_gzip.h, 10 MiB). */
#define STS_TLSRPT_MAX_DEPTH	64	    /* JSON nesting; the schema needs 4 */
#define STS_TLSRPT_MAX_COUNT	(1LL << 53) /* I-JSON: integers exact in a double */
#define STS_TLSRPT_MAX_WARNINGS 1000	    /* kept per report; more are only counted */
/* jansson needs ~200 bytes per object or array and ~40 per value: a 10 MiB
 * "[{},{},...]" would take ~760 MB. A real 10 MiB report has ~40k failure
 * details, ~50k containers and ~400k values. */
#define STS_TLSRPT_MAX_CONTAINERS 200000
#define STS_TLSRPT_MAX_VALUES	  1000000

enum sts_tlsrpt_policy_type {
	STS_TLSRPT_POLICY_UNKNOWN = 0,
	STS_TLSRPT_POLICY_STS,
	STS_TLSRPT_POLICY_TLSA,
	STS_TLSRPT_POLICY_NO_POLICY_FOUND,
};

/* What a result-type speaks to (docs/rfc-rules.md §7.3). */
enum sts_tlsrpt_category {
	STS_TLSRPT_CAT_UNKNOWN = 0, /* not in the IANA registry: still a failure */
	STS_TLSRPT_CAT_STS_POLICY,  /* sts-policy-fetch-error, -invalid, sts-webpki-invalid */
	STS_TLSRPT_CAT_NEGOTIATION, /* starttls-not-supported, certificate-*, validation-failure */
	STS_TLSRPT_CAT_DANE,	    /* tlsa-invalid, dnssec-invalid, dane-required */
};

struct sts_tlsrpt_failure {
	char *result_type; /* verbatim; "" never, NULL when missing */
	enum sts_tlsrpt_category category;
	char *sending_mta_ip;
	char *receiving_mx_hostname; /* lower case, no trailing dot */
	char *receiving_mx_helo;
	char *receiving_ip;
	int64_t failed_session_count;
	char *additional_information;
	char *failure_reason_code;
};

struct sts_tlsrpt_policy {
	enum sts_tlsrpt_policy_type type;
	char *type_raw;	      /* as sent ("sts"), NULL when missing */
	char *policy_domain;  /* A-label, lower case, no trailing dot; NULL if missing/invalid */
	char **policy_string; /* lines as sent (TLSA: one RR per line after §10 fix-up) */
	size_t n_policy_string;
	char **mx_host; /* patterns; a bare string becomes one element (erratum 6241) */
	size_t n_mx_host;
	int64_t success_count;	    /* total-successful-session-count */
	int64_t failure_count;	    /* total-failure-session-count, as reported */
	int64_t failure_detail_sum; /* sum of failures[].failed_session_count */
	struct sts_tlsrpt_failure *failures;
	size_t n_failures;
	size_t n_merged; /* entries merged into this one (duplicate-policy-entry), 0 = none */
};

struct sts_tlsrpt_warning {
	const char *code; /* static: "datetime-no-zone", ... */
	char *path;	  /* JSON path of the deviation ("policies[1].mx-host") or NULL */
};

struct sts_tlsrpt_report {
	char *organization;
	char *contact_info;
	char *report_id;
	time_t start; /* UTC, inclusive */
	time_t end;   /* UTC, inclusive (23:59:59 form; next-midnight is moved back 1 s) */
	char *start_raw;
	char *end_raw;
	struct sts_tlsrpt_policy *policies;
	size_t n_policies;
	struct sts_tlsrpt_warning *warnings;
	size_t n_warnings;
	size_t n_warnings_dropped; /* past STS_TLSRPT_MAX_WARNINGS */
};

/*
 * Parse one report from JSON text (not NUL-terminated; len bytes).
 * On success *ret is a new report (sts_tlsrpt_report_free()). On failure
 * *ret is untouched and diags holds one error with the reason.
 * Returns STS_OK, STS_EPARSE (not JSON, invalid UTF-8, duplicate member),
 * STS_EINVALID (valid JSON, unusable report), STS_ETOOLARGE (over
 * STS_CAP_REPORT, nesting over STS_TLSRPT_MAX_DEPTH, more than
 * STS_TLSRPT_MAX_CONTAINERS objects and arrays or STS_TLSRPT_MAX_VALUES
 * values) or STS_ENOMEM.
 */
STS_API int sts_tlsrpt_parse_json(const char *text, size_t len, struct sts_tlsrpt_report **ret,
				  struct sts_diags *diags);

/*
 * Parse a report body as received (HTTPS POST body or decoded e-mail
 * attachment): gzip is detected by its magic 0x1f 0x8b and decompressed
 * under the caps, anything else is parsed as JSON. Input over
 * STS_CAP_REPORT_COMPRESSED is refused before it is looked at.
 */
STS_API int sts_tlsrpt_parse_blob(const void *data, size_t len, struct sts_tlsrpt_report **ret,
				  struct sts_diags *diags);

/* Same, reading fd to EOF first; stops reading at the cap (STS_ETOOLARGE). */
STS_API int sts_tlsrpt_parse_fd(int fd, struct sts_tlsrpt_report **ret, struct sts_diags *diags);

STS_API void sts_tlsrpt_report_free(struct sts_tlsrpt_report *r);

/*
 * Compare two policy-string line lists as SETS (Google reorders lines,
 * docs/rfc-rules.md §9/§10): a CR and trailing spaces/tabs of each line are ignored,
 * empty lines are ignored, duplicates count once. Returns 1 if equal.
 */
STS_API int sts_tlsrpt_policy_lines_equal(char *const *a, size_t na, char *const *b, size_t nb);

/* Category of a result-type (case-insensitive); NULL -> UNKNOWN. */
STS_API enum sts_tlsrpt_category sts_tlsrpt_result_category(const char *result_type);
STS_API const char *sts_tlsrpt_category_name(enum sts_tlsrpt_category c);
STS_API const char *sts_tlsrpt_policy_type_name(enum sts_tlsrpt_policy_type t);

/*
 * Failed sessions the watcher should count for a policy entry: the reported
 * total, raised to the largest single detail count when the total is
 * inconsistently low. Never the sum of details: result types are
 * non-exclusive (RFC 8460 §4, J12).
 */
STS_API int64_t sts_tlsrpt_policy_failed_sessions(const struct sts_tlsrpt_policy *p);

/* 1 when the report carries a warning with this code, else 0. */
STS_API int sts_tlsrpt_report_has_warning(const struct sts_tlsrpt_report *r, const char *code);

#endif
