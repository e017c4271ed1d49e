/* SPDX-License-Identifier: MIT */
/*
 * The TLS-RPT summary (sts_report.h): read the aggregates the ingester
 * keeps (core/reports/sts_ingest_store.c) and write them as text, JSON or CSV;
 * HTML is in sts_report_html.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_escape.h"
#include "sts_ingest.h"
#include "sts_report.h"
#include "sts_report_int.h"

STS_API int sts_report_format_parse(const char *s, enum sts_report_format *ret)
{
	static const char *const names[] = {"text", "json", "csv", "html"};
	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum sts_report_format)i;
			return STS_OK;
		}
	return STS_EINVAL;
}

STS_API int sts_report_parse_date(const char *s, int64_t now, char out[11])
{
	struct tm tm = {0};
	char *end = NULL;
	if (!s || !*s)
		return STS_EINVAL;
	size_t n = strlen(s);
	if (n >= 2 && s[n - 1] == 'd' && isdigit((unsigned char)s[0])) {
		long days = strtol(s, &end, 10);
		if (end != s + n - 1 || days < 0 || days > 100000)
			return STS_EINVAL;
		time_t t = (time_t)(now - (int64_t)days * 86400);
		gmtime_r(&t, &tm);
		strftime(out, 11, "%Y-%m-%d", &tm);
		return STS_OK;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (n != 10 || !end || *end)
		return STS_EINVAL;
	/* a real day: normalising must not move it (2024-02-30) */
	struct tm chk = tm;
	time_t t = timegm(&chk);
	gmtime_r(&t, &chk);
	if (chk.tm_mday != tm.tm_mday || chk.tm_mon != tm.tm_mon || chk.tm_year != tm.tm_year)
		return STS_EINVAL;
	memcpy(out, s, 10);
	out[10] = '\0';
	return STS_OK;
}

/* ---- building ---- */

static void count_free(struct sts_report_count *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].key);
	free(v);
}

static void domain_release(struct sts_report_domain *d)
{
	free(d->domain);
	count_free(d->by_result_type, d->n_by_result_type);
	count_free(d->by_mx, d->n_by_mx);
	count_free(d->by_ip, d->n_by_ip);
	for (size_t i = 0; i < d->n_by_org; i++)
		free(d->by_org[i].name);
	free(d->by_org);
	free(d->days);
}

STS_API void sts_report_free(struct sts_report *r)
{
	if (!r)
		return;
	STS_ARRAY_FREE(r->domains, r->n_domains, domain_release);
	free(r);
}

STS_API void sts_report_keep(struct sts_report *r, bool (*keep)(void *ud, const char *domain),
			     void *ud)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n_domains; i++) {
		if (keep(ud, r->domains[i].domain))
			r->domains[k++] = r->domains[i];
		else
			domain_release(&r->domains[i]);
	}
	r->n_domains = k;
}

/*
 * The element of *pv (*n of size sz) whose name, the char * at name_off,
 * is name; else a new zeroed one with a copy of name. NULL without memory.
 * Searched from the end: rows come grouped by their name.
 */
static void *named(void *pv, size_t *n, size_t sz, size_t name_off, const char *name)
{
	char *v, *k;
	memcpy(&v, pv, sizeof(v)); /* pv is a T **: copied, not cast */
	for (size_t i = *n; i-- > 0;) {
		memcpy(&k, v + i * sz + name_off, sizeof(k));
		if (strcmp(k, name) == 0)
			return v + i * sz;
	}
	if (!(k = strdup(name)))
		return NULL;
	char *e = sts_array_push(pv, n, sz);
	if (!e) {
		free(k);
		return NULL;
	}
	memcpy(e + name_off, &k, sizeof(k));
	return e;
}

static struct sts_report_domain *domain_for(struct sts_report *r, const char *name)
{
	return named(&r->domains, &r->n_domains, sizeof(*r->domains),
		     offsetof(struct sts_report_domain, domain), name);
}

static int add_count(struct sts_report_count **v, size_t *n, const char *key, int64_t sessions)
{
	struct sts_report_count *c =
	    named(v, n, sizeof(**v), offsetof(struct sts_report_count, key), key);
	if (!c)
		return STS_ENOMEM;
	c->sessions += sessions;
	return STS_OK;
}

static int cmp_count(const void *a, const void *b)
{
	const struct sts_report_count *x = a, *y = b;
	if (x->sessions != y->sessions)
		return x->sessions > y->sessions ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int cmp_org(const void *a, const void *b)
{
	const struct sts_report_org *x = a, *y = b;
	if (x->failed != y->failed)
		return x->failed > y->failed ? -1 : 1;
	if (x->successful != y->successful)
		return x->successful > y->successful ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* qsort() must not get NULL, even for nothing to sort */
static void sort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

static int cmp_domain(const void *a, const void *b)
{
	return strcmp(((const struct sts_report_domain *)a)->domain,
		      ((const struct sts_report_domain *)b)->domain);
}

/* WHERE clause shared by both queries; binds in order domain, since, until */
static void where(const struct sts_report_query *q, char *out, size_t n)
{
	snprintf(out, n, " WHERE 1%s%s%s%s", q->domain ? " AND domain = ?1" : "",
		 q->since ? " AND day >= ?2" : "", q->until ? " AND day <= ?3" : "",
		 q->authenticated_only ? " AND authenticated = 1" : "");
}

void rpt_bind_query(struct sts_db_stmt *st, const struct sts_report_query *q)
{
	if (q->domain)
		sts_db_bind_text(st, 1, q->domain);
	if (q->since)
		sts_db_bind_text(st, 2, q->since);
	if (q->until)
		sts_db_bind_text(st, 3, q->until);
}

static const char *col(struct sts_db_stmt *st, int i)
{
	const char *s = sts_db_col_text(st, i);
	return s ? s : "";
}

/* Run "SELECT cols FROM table WHERE ... tail" and hand each row to row(). */
static int each_row(struct sts_db *db, const struct sts_report_query *q, const char *head,
		    const char *tail, int (*row)(struct sts_db_stmt *st, struct sts_report *r),
		    struct sts_report *r)
{
	char sql[640], w[160];
	struct sts_db_stmt *st;
	where(q, w, sizeof(w));
	snprintf(sql, sizeof(sql), "%s%s%s", head, w, tail);
	if (sts_db_prepare(db, sql, &st) != STS_OK)
		return STS_EDB;
	rpt_bind_query(st, q);
	int rc, r2 = STS_OK;
	while (r2 == STS_OK && (rc = sts_db_step(st)) == STS_DB_ROW)
		r2 = row(st, r);
	if (r2 == STS_OK && rc != STS_DB_DONE)
		r2 = STS_EDB;
	sts_db_finalize(st);
	return r2;
}

static struct sts_report_org *org_for(struct sts_report_domain *d, const char *name)
{
	return named(&d->by_org, &d->n_by_org, sizeof(*d->by_org),
		     offsetof(struct sts_report_org, name), name);
}

/* domain, day, organization, authenticated, reports, successful, failed */
static int daily_row(struct sts_db_stmt *st, struct sts_report *r)
{
	struct sts_report_domain *d = domain_for(r, col(st, 0));
	if (!d)
		return STS_ENOMEM;
	const char *day = col(st, 1);
	int64_t rep = sts_db_col_int(st, 4), ok = sts_db_col_int(st, 5),
		bad = sts_db_col_int(st, 6);
	d->reports += rep;
	d->successful += ok;
	d->failed += bad;
	if (sts_db_col_int(st, 3)) {
		d->auth_reports += rep;
		d->auth_successful += ok;
		d->auth_failed += bad;
	}
	struct sts_report_day *dy = d->n_days ? &d->days[d->n_days - 1] : NULL;
	if (!dy || strcmp(dy->date, day) != 0) {
		if (!(dy = sts_array_push(&d->days, &d->n_days, sizeof(*dy))))
			return STS_ENOMEM;
		snprintf(dy->date, sizeof(dy->date), "%s", day);
	}
	dy->successful += ok;
	dy->failed += bad;
	struct sts_report_org *o = org_for(d, col(st, 2));
	if (!o)
		return STS_ENOMEM;
	o->reports += rep;
	o->successful += ok;
	o->failed += bad;
	return STS_OK;
}

/* domain, result_type, receiving_mx, sending_ip, sessions */
static int failure_row(struct sts_db_stmt *st, struct sts_report *r)
{
	struct sts_report_domain *d = domain_for(r, col(st, 0));
	if (!d)
		return STS_ENOMEM;
	int64_t n = sts_db_col_int(st, 4);
	const char *rt = col(st, 1), *mx = col(st, 2), *ip = col(st, 3);
	int r2 = add_count(&d->by_result_type, &d->n_by_result_type, *rt ? rt : "(none)", n);
	if (r2 == STS_OK)
		r2 = add_count(&d->by_mx, &d->n_by_mx, *mx ? mx : "(none)", n);
	if (r2 == STS_OK)
		r2 = add_count(&d->by_ip, &d->n_by_ip, *ip ? ip : "(none)", n);
	return r2;
}

STS_API int sts_report_build(struct sts_db *db, const struct sts_report_query *q,
			     struct sts_report **ret)
{
	struct sts_report_query none = {0};
	if (!q)
		q = &none;
	struct sts_report *r = calloc(1, sizeof(*r));
	if (!r)
		return STS_ENOMEM;
	if ((q->since && strlen(q->since) != 10) || (q->until && strlen(q->until) != 10)) {
		free(r);
		return STS_EINVAL;
	}
	snprintf(r->since, sizeof(r->since), "%s", q->since ? q->since : "");
	snprintf(r->until, sizeof(r->until), "%s", q->until ? q->until : "");
	r->authenticated_only = q->authenticated_only;
	int version = 0;
	int rc = sts_db_schema_version(db, STS_INGEST_COMPONENT, &version);
	if (rc == STS_OK && version > 0) {
		sts_db_hold(db);
		/* one read transaction: both queries see the same state */
		(void)sts_db_execf(db, "BEGIN", "");
		rc = each_row(db, q,
			      "SELECT domain, day, organization, authenticated, sum(reports),"
			      " sum(successful), sum(failed) FROM tlsrpt_daily",
			      " GROUP BY domain, day, organization, authenticated"
			      " ORDER BY domain, day",
			      daily_row, r);
		if (rc == STS_OK)
			rc = each_row(db, q,
				      "SELECT domain, result_type, receiving_mx, sending_ip,"
				      " sum(sessions) FROM tlsrpt_failures",
				      " GROUP BY domain, result_type, receiving_mx, sending_ip",
				      failure_row, r);
		struct sts_db_stmt *st = NULL;
		if (rc == STS_OK &&
		    sts_db_prepare(db, "SELECT count(*) FROM tlsrpt_quarantine", &st) == STS_OK &&
		    sts_db_step(st) == STS_DB_ROW)
			r->quarantined = sts_db_col_int(st, 0);
		sts_db_finalize(st);
		(void)sts_db_execf(db, "COMMIT", "");
		sts_db_unhold(db);
	}
	if (rc < 0) {
		sts_report_free(r);
		return rc;
	}
	sort(r->domains, r->n_domains, sizeof(*r->domains), cmp_domain);
	for (size_t i = 0; i < r->n_domains; i++) {
		struct sts_report_domain *d = &r->domains[i];
		sort(d->by_result_type, d->n_by_result_type, sizeof(*d->by_result_type), cmp_count);
		sort(d->by_mx, d->n_by_mx, sizeof(*d->by_mx), cmp_count);
		sort(d->by_ip, d->n_by_ip, sizeof(*d->by_ip), cmp_count);
		sort(d->by_org, d->n_by_org, sizeof(*d->by_org), cmp_org);
	}
	*ret = r;
	return STS_OK;
}

STS_API int sts_report_add_domain(struct sts_report *r, const char *domain)
{
	size_t lo = 0, hi = r->n_domains;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(r->domains[mid].domain, domain);
		if (c == 0)
			return STS_OK;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	char *name = strdup(domain);
	struct sts_report_domain *d =
	    name ? sts_array_push(&r->domains, &r->n_domains, sizeof(*d)) : NULL;
	if (!d) {
		free(name);
		return STS_ENOMEM;
	}
	memmove(&r->domains[lo + 1], &r->domains[lo],
		(r->n_domains - 1 - lo) * sizeof(*r->domains));
	memset(&r->domains[lo], 0, sizeof(*r->domains));
	r->domains[lo].domain = name;
	return STS_OK;
}

/* ---- JSON ---- */

double rpt_ratio(int64_t ok, int64_t bad)
{
	return ok + bad > 0 ? (double)ok / (double)(ok + bad) : -1.0;
}

static json_t *counts_json(const struct sts_report_count *v, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++)
		json_object_set_new(o, v[i].key, json_integer(v[i].sessions));
	return o;
}

STS_API json_t *sts_report_to_json(const struct sts_report *r)
{
	json_t *doms = json_array();
	for (size_t i = 0; doms && i < r->n_domains; i++) {
		const struct sts_report_domain *d = &r->domains[i];
		double ratio = rpt_ratio(d->successful, d->failed);
		json_t *orgs = json_object(), *days = json_array();
		for (size_t j = 0; orgs && j < d->n_by_org; j++)
			json_object_set_new(orgs, d->by_org[j].name,
					    json_pack("{s:I,s:I,s:I}", "successful_sessions",
						      (json_int_t)d->by_org[j].successful,
						      "failed_sessions",
						      (json_int_t)d->by_org[j].failed, "reports",
						      (json_int_t)d->by_org[j].reports));
		for (size_t j = 0; days && j < d->n_days; j++)
			json_array_append_new(
			    days,
			    json_pack("{s:s,s:I,s:I}", "date", d->days[j].date,
				      "successful_sessions", (json_int_t)d->days[j].successful,
				      "failed_sessions", (json_int_t)d->days[j].failed));
		json_t *o = json_pack(
		    "{s:s,s:I,s:I,s:o,s:I,s:{s:I,s:I,s:I},s:o,s:o,s:o,s:o,s:o}", "domain",
		    d->domain, "successful_sessions", (json_int_t)d->successful, "failed_sessions",
		    (json_int_t)d->failed, "success_ratio",
		    ratio < 0 ? json_null() : json_real(ratio), "reports", (json_int_t)d->reports,
		    "authenticated", "reports", (json_int_t)d->auth_reports, "successful_sessions",
		    (json_int_t)d->auth_successful, "failed_sessions", (json_int_t)d->auth_failed,
		    "by_result_type", counts_json(d->by_result_type, d->n_by_result_type),
		    "by_organization", orgs, "by_mx", counts_json(d->by_mx, d->n_by_mx),
		    "by_sending_ip", counts_json(d->by_ip, d->n_by_ip), "days", days);
		if (!o || json_array_append_new(doms, o) < 0) {
			json_decref(doms);
			return NULL;
		}
	}
	return doms ? json_pack("{s:o,s:I}", "domains", doms, "quarantined",
				(json_int_t)r->quarantined)
		    : NULL;
}

/* ---- text and CSV ---- */

int rpt_out(struct rpt_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = sts_buf_vprintf(&o->b, fmt, ap);
	va_end(ap);
	if (r < 0)
		return o->err = r;
	if (o->b.len >= 64 * 1024)
		return rpt_flush(o);
	return STS_OK;
}

int rpt_flush(struct rpt_out *o)
{
	if (o->b.len && o->w(o->ud, o->b.data, o->b.len) != 0)
		o->err = STS_EIO;
	sts_buf_reset(&o->b);
	return o->err;
}

static void text_counts(struct rpt_out *o, struct sts_buf *tmp, const char *title,
			const struct sts_report_count *v, size_t n)
{
	if (!n)
		return;
	rpt_out(o, "  failures by %s:\n", title);
	for (size_t i = 0; i < n; i++)
		rpt_out(o, "    %-40s %" PRId64 "\n", sts_escape_str(tmp, v[i].key), v[i].sessions);
}

/*
 * Every report-derived string goes through sts_escape_str(): a report
 * cannot send control characters or escape sequences to the terminal.
 */
static void write_text(struct rpt_out *o, const struct sts_report *r)
{
	struct sts_buf tmp;
	sts_buf_init(&tmp, STS_CAP_TEXT);
	if (!r->n_domains)
		rpt_out(o, "no TLS reports%s%s\n", r->since[0] ? " since " : "", r->since);
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct sts_report_domain *d = &r->domains[i];
		double ratio = rpt_ratio(d->successful, d->failed);
		rpt_out(o, "%s%s\n", i ? "\n" : "",
			d->domain[0] ? sts_escape_str(&tmp, d->domain) : "(no policy domain)");
		rpt_out(o, "  sessions: %" PRId64 " successful, %" PRId64 " failed", d->successful,
			d->failed);
		if (ratio >= 0)
			rpt_out(o, ", success ratio %.2f%%", ratio * 100.0);
		rpt_out(o,
			"\n  reports: %" PRId64 " from %zu organization%s; authenticated: %" PRId64
			" (%" PRId64 " successful, %" PRId64 " failed)\n",
			d->reports, d->n_by_org, d->n_by_org == 1 ? "" : "s", d->auth_reports,
			d->auth_successful, d->auth_failed);
		text_counts(o, &tmp, "result type", d->by_result_type, d->n_by_result_type);
		if (d->failed || d->n_by_result_type) {
			rpt_out(o, "  failures by organization:\n");
			for (size_t j = 0; j < d->n_by_org; j++)
				rpt_out(o, "    %-40s %" PRId64 " of %" PRId64 " sessions\n",
					d->by_org[j].name[0]
					    ? sts_escape_str(&tmp, d->by_org[j].name)
					    : "(unnamed)",
					d->by_org[j].failed,
					d->by_org[j].failed + d->by_org[j].successful);
		}
		text_counts(o, &tmp, "receiving MX", d->by_mx, d->n_by_mx);
		text_counts(o, &tmp, "sending MTA IP", d->by_ip, d->n_by_ip);
		rpt_out(o, "  by day:\n");
		for (size_t j = 0; j < d->n_days; j++)
			rpt_out(o, "    %s  %10" PRId64 " successful  %8" PRId64 " failed\n",
				sts_escape_str(&tmp, d->days[j].date), d->days[j].successful,
				d->days[j].failed);
	}
	if (r->quarantined)
		rpt_out(o, "\n%" PRId64 " input%s in the quarantine (table tlsrpt_quarantine)\n",
			r->quarantined, r->quarantined == 1 ? "" : "s");
	sts_buf_release(&tmp);
}

/*
 * One RFC 4180 cell. A cell that a spreadsheet would take for a formula
 * (it starts with '=', '+', '-', '@', TAB or CR: OWASP "CSV injection")
 * gets a leading "'", so a report cannot make a spreadsheet run anything.
 */
static void csv_field(struct rpt_out *o, const char *s)
{
	const char *lead = s[0] && strchr("=+-@\t\r", s[0]) ? "'" : "";
	if (!strpbrk(s, ",\"\r\n")) {
		rpt_out(o, "%s%s", lead, s);
		return;
	}
	rpt_out(o, "\"%s", lead);
	for (; *s; s++)
		rpt_out(o, *s == '"' ? "\"\"" : "%c", *s);
	rpt_out(o, "\"");
}

static void csv_row(struct rpt_out *o, const char *dom, const char *sec, const char *key,
		    int64_t ok, int64_t bad, bool with_ok)
{
	csv_field(o, dom);
	rpt_out(o, ",%s,", sec);
	csv_field(o, key);
	if (with_ok)
		rpt_out(o, ",%" PRId64 ",%" PRId64 "\r\n", ok, bad);
	else
		rpt_out(o, ",,%" PRId64 "\r\n", bad);
}

static void write_csv(struct rpt_out *o, const struct sts_report *r)
{
	rpt_out(o, "domain,section,key,successful_sessions,failed_sessions\r\n");
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct sts_report_domain *d = &r->domains[i];
		csv_row(o, d->domain, "total", "", d->successful, d->failed, true);
		csv_row(o, d->domain, "authenticated", "", d->auth_successful, d->auth_failed,
			true);
		for (size_t j = 0; j < d->n_by_result_type; j++)
			csv_row(o, d->domain, "result_type", d->by_result_type[j].key, 0,
				d->by_result_type[j].sessions, false);
		for (size_t j = 0; j < d->n_by_org; j++)
			csv_row(o, d->domain, "organization", d->by_org[j].name,
				d->by_org[j].successful, d->by_org[j].failed, true);
		for (size_t j = 0; j < d->n_by_mx; j++)
			csv_row(o, d->domain, "mx", d->by_mx[j].key, 0, d->by_mx[j].sessions,
				false);
		for (size_t j = 0; j < d->n_by_ip; j++)
			csv_row(o, d->domain, "sending_ip", d->by_ip[j].key, 0,
				d->by_ip[j].sessions, false);
		for (size_t j = 0; j < d->n_days; j++)
			csv_row(o, d->domain, "day", d->days[j].date, d->days[j].successful,
				d->days[j].failed, true);
	}
}

STS_API int sts_report_write(const struct sts_report *r, enum sts_report_format f,
			     sts_report_write_fn w, void *ud)
{
	struct rpt_out o = {.w = w, .ud = ud};
	sts_buf_init(&o.b, 1u << 20);
	if (f == STS_REPORT_JSON) {
		json_t *j = sts_report_to_json(r);
		char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(j);
		if (!s) {
			sts_buf_release(&o.b);
			return STS_ENOMEM;
		}
		if (w(ud, s, strlen(s)) != 0 || w(ud, "\n", 1) != 0)
			o.err = STS_EIO;
		free(s);
	} else if (f == STS_REPORT_CSV) {
		write_csv(&o, r);
	} else if (f == STS_REPORT_HTML) {
		rpt_write_html(&o, r);
	} else {
		write_text(&o, r);
	}
	rpt_flush(&o);
	sts_buf_release(&o.b);
	return o.err;
}
