/* SPDX-License-Identifier: MIT */
#ifndef STS_TLSRPT_INTERNAL_H
#define STS_TLSRPT_INTERNAL_H

/*
 * Shared between core/rfc/sts_tlsrpt.c and core/rfc/sts_tlsrpt_norm.c only; not a
 * contract with other modules (use sts_tlsrpt.h). Nothing here is exported
 * from libsts.
 */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sts_buf.h"
#include "sts_diag.h"
#include "sts_tlsrpt.h"

struct sts_tlsrpt_ctx {
	struct sts_tlsrpt_report *rep;
	struct sts_diags *diags;
	int enomem;
};

/* One deviation: report->warnings + a diags warning "<code>: <detail>". */
void sts_tlsrpt_warn(struct sts_tlsrpt_ctx *c, const char *code, const char *rule, const char *path,
		     const char *fmt, ...) STS_PRINTF(5, 6);
/* One error in diags; returns err (or STS_ENOMEM). */
int sts_tlsrpt_reject(struct sts_tlsrpt_ctx *c, int err, const char *rule, const char *path,
		      const char *fmt, ...) STS_PRINTF(5, 6);
/* *sum += x, refusing a total past 2^53. */
int sts_tlsrpt_add_count(struct sts_tlsrpt_ctx *c, int64_t *sum, int64_t x, const char *path);

#define STS_TLSRPT_DT_NO_ZONE	1
#define STS_TLSRPT_DT_DATE_ONLY 2
/* RFC 3339 date-time, leniently: flags above (>= 0) or -1 if unparseable. */
int sts_tlsrpt_datetime_parse(const char *s, int is_end, time_t *out);

int sts_tlsrpt_push_str(char ***v, size_t *n, const char *s);
int sts_tlsrpt_hostname_valid(const char *s);
void sts_tlsrpt_hostname_lower(char *s);
int sts_tlsrpt_ip_valid(const char *s);
/* Sorted, de-duplicated lines without CR and trailing WSP, '\n'-joined. */
int sts_tlsrpt_canon_lines(char *const *v, size_t n, struct sts_buf *out);
/* Entries with the same type, domain and policy-string set become one. */
int sts_tlsrpt_merge_duplicates(struct sts_tlsrpt_ctx *c);
void sts_tlsrpt_policy_release(struct sts_tlsrpt_policy *p);
/* Valid UTF-8 and nesting within STS_TLSRPT_MAX_DEPTH, before jansson. */
int sts_tlsrpt_prescan(struct sts_tlsrpt_ctx *c, const unsigned char *s, size_t len);

#endif
