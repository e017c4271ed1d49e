/* SPDX-License-Identifier: MIT */
/*
 * What every file of the check uses (sts_check_int.h): names of the
 * verdicts and views, findings, days and the monotonic clock. It calls no
 * other file of the check; sts_check.c (the run) uses sts_check_domain.c
 * (one domain), which uses sts_check_mx.c and sts_check_drift.c.
 */
#include <stdarg.h>
#include <time.h>

#include "sts_buf.h"
#include "sts_check_int.h"
#include "sts_err.h"

STS_API const char *sts_verdict_name(enum sts_verdict v)
{
	static const char *const names[] = {"pass", "warn", "fail"};
	return v >= STS_VERDICT_PASS && v <= STS_VERDICT_FAIL ? names[v] : "fail";
}

STS_API const char *sts_view_name(enum sts_view v)
{
	static const char *const names[] = {"no-policy", "none", "testing", "enforce"};
	return v >= STS_VIEW_NO_POLICY && v <= STS_VIEW_ENFORCE ? names[v] : "no-policy";
}

int check_warn_days(const struct sts_check_opts *o)
{
	return o->warn_days == 0 ? 14 : o->warn_days < 0 ? 0 : o->warn_days;
}

long check_days_left(long long t, long long now)
{
	long long d = t - now;
	long long days = d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
	return (long)days;
}

long check_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void check_add(struct check_audit *a, enum sts_severity sev, const char *rule, const char *fmt, ...)
{
	struct sts_buf b;
	va_list ap;
	sts_buf_init(&b, 64u * 1024u);
	va_start(ap, fmt);
	int r = sts_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == STS_OK)
		r = sts_diags_add(&a->d->findings, sev, rule, NULL, 0, 0, NULL, "%s",
				  sts_buf_str(&b));
	if (r == STS_ENOMEM)
		a->err = STS_ENOMEM;
	sts_buf_release(&b);
}
