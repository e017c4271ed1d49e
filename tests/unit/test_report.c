/* SPDX-License-Identifier: MIT */
/*
 * The TLS-RPT summary (core/reports/sts_report*.c) over the ingested samples: the
 * numbers per domain, the JSON shape, filters, CSV, text and HTML output,
 * dates, and a database without reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_report.h"
#include "tlsrpt_fixtures.h"

struct fx {
	struct tdb t;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || tdb_open(&f->t, "test_report") < 0)
		return -1;
	*state = f;
	return 0;
}

/* every sample; the RFC example (01) once more as authenticated */
static void ingest_samples(struct fx *f)
{
	struct sts_ingest_conf *conf = offline_conf(f->t.dir);
	struct sts_ingest *ing = NULL;
	struct sts_ingest_opts o = {.conf = conf};
	assert_int_equal(sts_ingest_new(f->t.db, &o, &ing), STS_OK);
	char *dir = sample_path("");
	assert_int_equal(sts_ingest_source(ing, dir), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	sts_ingest_free(ing);
	o.trusted_files = true;
	assert_int_equal(sts_ingest_new(f->t.db, &o, &ing), STS_OK);
	char *one = sample_path(json_samples[0]);
	assert_int_equal(sts_ingest_source(ing, one), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	sts_ingest_free(ing);
	sts_ingest_conf_free(conf);
	free(one);
	free(dir);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc = tdb_close(&f->t);
	free(f);
	return rc;
}

static const struct sts_report_domain *find(const struct sts_report *r, const char *dom)
{
	for (size_t i = 0; i < r->n_domains; i++)
		if (strcmp(r->domains[i].domain, dom) == 0)
			return &r->domains[i];
	fail_msg("no domain '%s' in the report", dom);
	return NULL;
}

static int64_t count_of(const struct sts_report_count *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return v[i].sessions;
	return -1;
}

static void test_numbers(void **state)
{
	struct fx *f = *state;
	ingest_samples(f);
	struct sts_report *r = NULL;
	assert_int_equal(sts_report_build(f->t.db, NULL, &r), STS_OK);
	assert_int_equal(r->n_domains, 10);
	assert_int_equal(r->quarantined, 0);
	/* sorted by name; "" (sample 12, no policy domain) first */
	assert_string_equal(r->domains[0].domain, "");
	assert_string_equal(r->domains[1].domain, "cardinalhealth.ca");
	const struct sts_report_domain *d = find(r, "company-y.example");
	assert_int_equal(d->successful, 5326);
	assert_int_equal(d->failed, 303);
	assert_int_equal(d->reports, 1);
	assert_int_equal(d->auth_reports, 1);
	assert_int_equal(d->auth_successful, 5326);
	assert_int_equal(d->n_by_result_type, 3);
	assert_string_equal(d->by_result_type[0].key, "starttls-not-supported"); /* most first */
	assert_int_equal(d->by_result_type[0].sessions, 200);
	assert_int_equal(count_of(d->by_mx, d->n_by_mx, "mx1.mail.company-y.example"), 100);
	assert_int_equal(count_of(d->by_ip, d->n_by_ip, "198.51.100.62"), 3);
	assert_int_equal(d->n_by_org, 1);
	assert_string_equal(d->by_org[0].name, "Company-X");
	assert_int_equal(d->n_days, 1);
	assert_string_equal(d->days[0].date, "2016-04-01");
	d = find(r, "example.com");
	assert_int_equal(d->failed, 4);
	assert_int_equal(d->reports, 2);
	assert_int_equal(d->auth_reports, 0);
	assert_int_equal(d->n_by_org, 2);
	assert_int_equal(d->n_days, 2);
	assert_int_equal(count_of(d->by_mx, d->n_by_mx, "(none)"), 2); /* Mail.ru: no MX */
	d = find(r, "test.mailflow.ovh");
	assert_int_equal(d->successful, 13);
	assert_int_equal(d->failed, 15);
	assert_int_equal(d->reports, 2);
	d = find(r, "krvtz.net");
	assert_int_equal(d->reports, 2); /* 07 has sts and tlsa entries: one report */
	sts_report_free(r);

	/* filters */
	struct sts_report_query q = {.domain = "example.com", .since = "2024-02-01"};
	assert_int_equal(sts_report_build(f->t.db, &q, &r), STS_OK);
	assert_int_equal(r->n_domains, 1);
	assert_int_equal(r->domains[0].failed, 1);
	assert_string_equal(r->domains[0].days[0].date, "2024-02-22");
	sts_report_free(r);
	q = (struct sts_report_query){.since = "2024-01-01", .until = "2024-12-31"};
	assert_int_equal(sts_report_build(f->t.db, &q, &r), STS_OK);
	assert_int_equal(r->n_domains, 4); /* cardinalhealth, example.com, krvtz, redacted */
	sts_report_free(r);
	q = (struct sts_report_query){.authenticated_only = true};
	assert_int_equal(sts_report_build(f->t.db, &q, &r), STS_OK);
	assert_int_equal(r->n_domains, 1);
	assert_string_equal(r->domains[0].domain, "company-y.example");
	sts_report_free(r);
	q = (struct sts_report_query){.since = "2024-1-1"};
	assert_int_equal(sts_report_build(f->t.db, &q, &r), STS_EINVAL);
}

static int to_buf(void *ud, const char *p, size_t n)
{
	return sts_buf_append(ud, p, n) == STS_OK ? 0 : -1;
}

static char *render(struct sts_report *r, enum sts_report_format fmt)
{
	struct sts_buf b;
	sts_buf_init(&b, 16 << 20);
	assert_int_equal(sts_report_write(r, fmt, to_buf, &b), STS_OK);
	return sts_buf_steal(&b);
}

static void test_json_shape(void **state)
{
	struct fx *f = *state;
	ingest_samples(f);
	struct sts_report *r = NULL;
	assert_int_equal(sts_report_build(f->t.db, NULL, &r), STS_OK);
	char *s = render(r, STS_REPORT_JSON);
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	assert_non_null(j);
	json_t *doms = json_object_get(j, "domains");
	assert_true(json_is_array(doms));
	assert_int_equal(json_array_size(doms), 10);
	json_t *d = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(doms, i, v)
	{
		static const char *const keys[] = {"domain",
						   "successful_sessions",
						   "failed_sessions",
						   "by_result_type",
						   "by_organization",
						   "by_mx",
						   "days"};
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			assert_non_null(json_object_get(v, keys[k]));
		if (strcmp(json_string_value(json_object_get(v, "domain")), "company-y.example") ==
		    0)
			d = v;
	}
	assert_non_null(d);
	assert_int_equal(json_integer_value(json_object_get(d, "successful_sessions")), 5326);
	assert_int_equal(json_integer_value(json_object_get(d, "failed_sessions")), 303);
	json_t *rt = json_object_get(d, "by_result_type");
	assert_int_equal(json_integer_value(json_object_get(rt, "certificate-expired")), 100);
	json_t *org = json_object_get(json_object_get(d, "by_organization"), "Company-X");
	assert_int_equal(json_integer_value(json_object_get(org, "failed_sessions")), 303);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "by_mx"),
							    "mx2.mail.company-y.example")),
			 200);
	json_t *day = json_array_get(json_object_get(d, "days"), 0);
	assert_string_equal(json_string_value(json_object_get(day, "date")), "2016-04-01");
	assert_int_equal(json_integer_value(json_object_get(day, "failed_sessions")), 303);
	double ratio = json_real_value(json_object_get(d, "success_ratio"));
	assert_true(ratio > 0.946 && ratio < 0.947);
	json_decref(j);
	free(s);
	sts_report_free(r);
}

static void test_text_csv_html(void **state)
{
	struct fx *f = *state;
	ingest_samples(f);
	struct sts_report *r = NULL;
	assert_int_equal(sts_report_build(f->t.db, NULL, &r), STS_OK);
	char *t = render(r, STS_REPORT_TEXT);
	assert_non_null(strstr(t, "company-y.example\n  sessions: 5326 successful, 303 failed, "
				  "success ratio 94.62%"));
	assert_non_null(strstr(t, "(no policy domain)"));
	assert_non_null(strstr(t, "    starttls-not-supported                   200\n"));
	free(t);
	char *c = render(r, STS_REPORT_CSV);
	assert_true(strncmp(c, "domain,section,key,successful_sessions,failed_sessions\r\n", 56) ==
		    0);
	assert_non_null(strstr(c, "\r\ncompany-y.example,total,,5326,303\r\n"));
	assert_non_null(
	    strstr(c, "\r\ncompany-y.example,result_type,certificate-expired,,100\r\n"));
	assert_non_null(strstr(c, "\r\ntest.mailflow.ovh,day,2020-02-06,1,13\r\n"));
	free(c);
	char *h = render(r, STS_REPORT_HTML);
	assert_true(strncmp(h, "<!DOCTYPE html>", 15) == 0);
	size_t charts = 0;
	for (const char *p = h; (p = strstr(p, "<svg class=\"chart\"")); p++)
		charts++;
	assert_int_equal(charts, 10);
	/* self-contained: nothing is fetched, nothing runs */
	assert_null(strstr(h, " src="));
	assert_null(strstr(h, " href="));
	assert_null(strstr(h, "url("));
	assert_null(strstr(h, "<script"));
	assert_non_null(strstr(h, "data-domain=\"company-y.example\""));
	assert_non_null(strstr(h, "2016-04-01: 303 failed"));
	free(h);
	sts_report_free(r);
	/* markup in a name is escaped */
	struct sts_report empty = {0};
	assert_int_equal(sts_report_add_domain(&empty, "<b>&\"x\".example"), STS_OK);
	assert_int_equal(sts_report_add_domain(&empty, "a.example"), STS_OK);
	assert_int_equal(sts_report_add_domain(&empty, "a.example"), STS_OK);
	assert_int_equal(empty.n_domains, 2);
	assert_string_equal(empty.domains[0].domain, "<b>&\"x\".example");
	h = render(&empty, STS_REPORT_HTML);
	assert_null(strstr(h, "<b>"));
	assert_non_null(strstr(h, "&lt;b&gt;&amp;&quot;x&quot;.example"));
	assert_non_null(strstr(h, "no sessions reported"));
	free(h);
	for (size_t i = 0; i < empty.n_domains; i++)
		free(empty.domains[i].domain);
	free(empty.domains);
}

/*
 * A report that tries to abuse the output: a terminal escape in the
 * organization, spreadsheet formulas as result type, MTA IP and MX.
 * CSV cells starting with = + - @ TAB CR get a leading "'" (OWASP CSV
 * injection); the text form shows the escapes as \x1b, never raw; HTML
 * escapes markup.
 */
static const char hostile_report[] =
    "{\"organization-name\": \"\\u001b]0;pwned\\u0007Evil\\u001b[2J\\u009b31m\","
    " \"date-range\": {\"start-datetime\": \"2024-01-01T00:00:00Z\","
    "  \"end-datetime\": \"2024-01-01T23:59:59Z\"},"
    " \"contact-info\": \"x@hostile.example\", \"report-id\": \"hostile-1\","
    " \"policies\": [{\"policy\": {\"policy-type\": \"sts\","
    "   \"policy-string\": [\"version: STSv1\", \"mode: enforce\", \"mx: mx.hostile.example\","
    "    \"max_age: 86400\"], \"policy-domain\": \"hostile.example\"},"
    "  \"summary\": {\"total-successful-session-count\": 1, \"total-failure-session-count\": 7},"
    "  \"failure-details\": ["
    "   {\"result-type\": \"=HYPERLINK(\\\"http://evil.example\\\",\\\"x\\\")\","
    "    \"sending-mta-ip\": \"@SUM(1+1)\", \"receiving-mx-hostname\": \"-2+3+cmd|' /C calc'!A0\","
    "    \"failed-session-count\": 3},"
    "   {\"result-type\": \"+cmd\", \"sending-mta-ip\": \"\\tx\","
    "    \"receiving-mx-hostname\": \"\\rmx\\u001b[1;1H.example\", \"failed-session-count\": "
    "4}]}]}";

static void test_hostile_output(void **state)
{
	struct fx *f = *state;
	struct sts_ingest_conf *conf = offline_conf(f->t.dir);
	struct sts_ingest *ing = NULL;
	struct sts_ingest_opts o = {.conf = conf};
	enum sts_ingest_outcome oc = STS_INGEST_QUARANTINED;
	const char *why = NULL;
	assert_int_equal(sts_ingest_new(f->t.db, &o, &ing), STS_OK);
	assert_int_equal(sts_ingest_blob(ing, hostile_report, sizeof(hostile_report) - 1,
					 STS_CH_HTTPS, "x", false, "t", &oc, &why),
			 STS_OK);
	if (oc != STS_INGEST_STORED)
		fail_msg("not stored: %s", why ? why : "?");
	sts_ingest_free(ing);
	sts_ingest_conf_free(conf);
	struct sts_report *r = NULL;
	assert_int_equal(sts_report_build(f->t.db, NULL, &r), STS_OK);

	/* (receiving MX names are stored in lower case) */
	char *c = render(r, STS_REPORT_CSV);
	assert_non_null(
	    strstr(c, "\r\nhostile.example,result_type,\"'=HYPERLINK(\"\"http://evil.example\"\","
		      "\"\"x\"\")\",,3\r\n"));
	assert_non_null(strstr(c, "\r\nhostile.example,result_type,'+cmd,,4\r\n"));
	assert_non_null(strstr(c, "\r\nhostile.example,sending_ip,'@SUM(1+1),,3\r\n"));
	assert_non_null(strstr(c, "\r\nhostile.example,sending_ip,'\tx,,4\r\n"));
	assert_non_null(strstr(c, "\r\nhostile.example,mx,'-2+3+cmd|' /c calc'!a0,,3\r\n"));
	assert_non_null(strstr(c, "\r\nhostile.example,mx,\"'\rmx\x1b[1;1h.example\",,4\r\n"));
	/* no cell of any row starts a formula */
	for (const char *p = c; (p = strstr(p, "\r\n")) && p[2]; p += 2)
		for (const char *q = p + 2; *q && strncmp(q, "\r\n", 2) != 0; q++)
			if (q == p + 2 || q[-1] == ',')
				assert_null(strchr("=+-@\t", q[0] == '"' ? q[1] : q[0]));
	free(c);

	char *t = render(r, STS_REPORT_TEXT);
	/* nothing below 0x20 but the newlines, no DEL, no C1 */
	for (const char *p = t; *p; p++)
		if (*p != '\n' &&
		    ((unsigned char)*p < 0x20 || *p == 0x7f || (unsigned char)*p == 0xc2))
			fail_msg("raw control byte 0x%02x in the text report at %td: %s",
				 (unsigned char)*p, p - t, t);
	assert_non_null(strstr(t, "\\x1b]0;pwned\\x07Evil\\x1b[2J\\u009b31m"));
	assert_non_null(strstr(t, "\\x0dmx\\x1b[1;1h.example"));
	assert_non_null(strstr(t, "\\x09x"));
	free(t);

	char *h = render(r, STS_REPORT_HTML);
	assert_null(strstr(h, "\x1b"));
	assert_null(strstr(h, "\"http://evil.example\""));
	assert_non_null(strstr(h, "=HYPERLINK(&quot;http://evil.example&quot;,&quot;x&quot;)"));
	assert_non_null(strstr(h, "-2+3+cmd|&#39; /c calc&#39;!a0"));
	free(h);
	sts_report_free(r);
}

static void test_quarantine_count(void **state)
{
	struct fx *f = *state;
	struct sts_ingest_conf *conf = offline_conf(f->t.dir);
	struct sts_ingest *ing = NULL;
	struct sts_ingest_opts o = {.conf = conf};
	assert_int_equal(sts_ingest_new(f->t.db, &o, &ing), STS_OK);
	assert_int_equal(sts_ingest_blob(ing, "junk", 4, STS_CH_HTTPS, "x", false, "t", NULL, NULL),
			 STS_OK);
	sts_ingest_free(ing);
	sts_ingest_conf_free(conf);
	struct sts_report *r = NULL;
	assert_int_equal(sts_report_build(f->t.db, NULL, &r), STS_OK);
	assert_int_equal(r->quarantined, 1);
	char *t = render(r, STS_REPORT_TEXT);
	assert_non_null(strstr(t, "1 input in the quarantine"));
	free(t);
	char *j = render(r, STS_REPORT_JSON);
	assert_non_null(strstr(j, "\"quarantined\": 1"));
	free(j);
	char *h = render(r, STS_REPORT_HTML);
	assert_non_null(strstr(h, "1 input in the quarantine"));
	free(h);
	sts_report_free(r);
}

static void test_no_reports(void **state)
{
	struct fx *f = *state;
	struct sts_report *r = NULL;
	/* a state DB that never saw ingest has no report tables */
	assert_int_equal(sts_report_build(f->t.db, NULL, &r), STS_OK);
	assert_int_equal(r->n_domains, 0);
	char *t = render(r, STS_REPORT_TEXT);
	assert_string_equal(t, "no TLS reports\n");
	free(t);
	char *j = render(r, STS_REPORT_JSON);
	assert_string_equal(j, "{\n  \"domains\": [],\n  \"quarantined\": 0\n}\n");
	free(j);
	sts_report_free(r);
}

static void test_dates_and_formats(void **state)
{
	(void)state;
	char out[11];
	int64_t now = 1780272000; /* 2026-06-01 */
	assert_int_equal(sts_report_parse_date("2024-02-29", now, out), STS_OK);
	assert_string_equal(out, "2024-02-29");
	assert_int_equal(sts_report_parse_date("2023-02-29", now, out), STS_EINVAL);
	assert_int_equal(sts_report_parse_date("2024-13-01", now, out), STS_EINVAL);
	assert_int_equal(sts_report_parse_date("2024-1-01", now, out), STS_EINVAL);
	assert_int_equal(sts_report_parse_date("2024-01-01x", now, out), STS_EINVAL);
	assert_int_equal(sts_report_parse_date("30d", now, out), STS_OK);
	assert_string_equal(out, "2026-05-02");
	assert_int_equal(sts_report_parse_date("0d", now, out), STS_OK);
	assert_string_equal(out, "2026-06-01");
	assert_int_equal(sts_report_parse_date("d", now, out), STS_EINVAL);
	assert_int_equal(sts_report_parse_date("-3d", now, out), STS_EINVAL);
	assert_int_equal(sts_report_parse_date("", now, out), STS_EINVAL);
	enum sts_report_format fmt;
	assert_int_equal(sts_report_format_parse("html", &fmt), STS_OK);
	assert_int_equal(fmt, STS_REPORT_HTML);
	assert_int_equal(sts_report_format_parse("csv", &fmt), STS_OK);
	assert_int_equal(fmt, STS_REPORT_CSV);
	assert_int_equal(sts_report_format_parse("xml", &fmt), STS_EINVAL);
}

static int fail_writer(void *ud, const char *p, size_t n)
{
	(void)ud, (void)p, (void)n;
	return -1;
}

static void test_write_error(void **state)
{
	(void)state;
	struct sts_report empty = {0};
	assert_int_equal(sts_report_write(&empty, STS_REPORT_TEXT, fail_writer, NULL), STS_EIO);
	assert_int_equal(sts_report_write(&empty, STS_REPORT_JSON, fail_writer, NULL), STS_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_shape, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text_csv_html, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quarantine_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_reports, setup, teardown),
	    cmocka_unit_test(test_dates_and_formats),
	    cmocka_unit_test(test_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
