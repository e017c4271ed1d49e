/* SPDX-License-Identifier: MIT */
#ifndef STS_REPORT_INT_H
#define STS_REPORT_INT_H

/* Internal to core/reports/sts_report*.c: the chunked output, the query. */
#include "sts_buf.h"
#include "sts_report.h"

struct sts_db_stmt;

struct rpt_out {
	struct sts_buf b; /* flushed to w every 64 KiB */
	sts_report_write_fn w;
	void *ud;
	int err; /* sticky: the first failure */
};

int rpt_out(struct rpt_out *o, const char *fmt, ...) STS_PRINTF(2, 3);
int rpt_flush(struct rpt_out *o);
/* successful / (successful + failed), or -1 without sessions */
double rpt_ratio(int64_t ok, int64_t bad);
void rpt_write_html(struct rpt_out *o, const struct sts_report *r);
/* q's domain, since and until, those set, as ?1, ?2 and ?3 */
void rpt_bind_query(struct sts_db_stmt *st, const struct sts_report_query *q);

#endif
