/* SPDX-License-Identifier: MIT */
/*
 * TLS-RPT report parser (core/rfc/sts_tlsrpt.c): every real sample with its
 * exact counts and warnings (tests/data/tlsrpt/samples/SOURCES.md), the
 * normalisation helpers, and hostile input.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_gzip.h"
#include "sts_tlsrpt.h"

/* ---- helpers ---------------------------------------------------------- */

static char *sample_path(const char *name)
{
	const char *dir = getenv("STS_TEST_DATA");
	char *p = NULL;
	assert_true(asprintf(&p, "%s/tlsrpt/samples/%s", dir ? dir : "tests/data", name) > 0);
	return p;
}

static void read_sample(const char *name, struct sts_buf *b)
{
	char *p = sample_path(name);
	sts_buf_init(b, 1u << 20);
	assert_int_equal(sts_buf_read_file(b, p), STS_OK);
	free(p);
}

static struct sts_tlsrpt_report *parse_ok(const char *json, struct sts_diags *d)
{
	struct sts_tlsrpt_report *rep = NULL;
	int r = sts_tlsrpt_parse_json(json, strlen(json), &rep, d);
	if (r != STS_OK && d->n)
		print_message("# %s\n", d->v[d->n - 1].message);
	assert_int_equal(r, STS_OK);
	assert_non_null(rep);
	return rep;
}

/* Parses without error; the report is not looked at. */
static void accepted(const char *json)
{
	struct sts_diags d;
	sts_diags_init(&d);
	sts_tlsrpt_report_free(parse_ok(json, &d));
	assert_int_equal(d.n_errors, 0);
	sts_diags_release(&d);
}

/* Rejected with err and exactly one error whose message contains what. */
static void expect_reject_n(const char *json, size_t len, int err, const char *what)
{
	struct sts_tlsrpt_report *rep = (struct sts_tlsrpt_report *)(uintptr_t)0x1;
	struct sts_diags d;
	sts_diags_init(&d);
	int r = sts_tlsrpt_parse_json(json, len, &rep, &d);
	assert_int_equal(r, err);
	assert_ptr_equal(rep, (void *)(uintptr_t)0x1); /* untouched */
	assert_int_equal(d.n_errors, 1);
	const char *msg = d.v[d.n - 1].message;
	if (!strstr(msg, what))
		fail_msg("message '%s' lacks '%s'", msg, what);
	sts_diags_release(&d);
}

static void expect_reject(const char *json, int err, const char *what)
{
	expect_reject_n(json, strlen(json), err, what);
}

static void assert_warnings(const struct sts_tlsrpt_report *rep, const char *const *codes)
{
	size_t n = 0;
	while (codes[n])
		n++;
	for (size_t i = 0; i < rep->n_warnings && i < n; i++)
		if (strcmp(rep->warnings[i].code, codes[i]) != 0)
			fail_msg("warning %zu is '%s', expected '%s'", i, rep->warnings[i].code,
				 codes[i]);
	assert_int_equal(rep->n_warnings, n);
}

/* A minimal valid report around one policy entry. */
#define HEAD                                                                                       \
	"{\"organization-name\":\"o\",\"date-range\":{\"start-datetime\":"                         \
	"\"2024-01-01T00:00:00Z\",\"end-datetime\":\"2024-01-01T23:59:59Z\"},"                     \
	"\"contact-info\":\"a@b.example\",\"report-id\":\"r1\","
#define ONE_POLICY(policy, rest)                                                                   \
	HEAD "\"policies\":[{\"policy\":{" policy "},\"summary\":{"                                \
	     "\"total-successful-session-count\":1,\"total-failure-session-count\":0}" rest "}]}"
#define STS_POLICY                                                                                 \
	"\"policy-type\":\"sts\",\"policy-domain\":\"example.com\",\"policy-string\":"             \
	"[\"version: STSv1\",\"mode: enforce\",\"mx: mx.example.com\",\"max_age: 86400\"]"

/* ---- the real samples ------------------------------------------------- */

struct exp_failure {
	const char *type;
	int64_t count;
};

struct exp_policy {
	enum sts_tlsrpt_policy_type type;
	const char *domain;
	size_t n_lines, n_mx;
	int64_t success, failure;
	size_t n_failures;
	struct exp_failure f[5];
};

struct exp_report {
	const char *file;
	const char *org, *contact, *report_id;
	time_t start, end;
	size_t n_policies;
	struct exp_policy p[3];
	const char *warnings[6];
};

#define STS  STS_TLSRPT_POLICY_STS
#define TLSA STS_TLSRPT_POLICY_TLSA
#define NPF  STS_TLSRPT_POLICY_NO_POLICY_FOUND

static const struct exp_report samples[] = {
    {"01-rfc8460-appendix-b.json",
     "Company-X",
     "sts-reporting@company-x.example",
     "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
     1459468800,
     1459555199,
     1,
     {{STS,
       "company-y.example",
       4,
       1,
       5326,
       303,
       3,
       {{"certificate-expired", 100}, {"starttls-not-supported", 200}, {"validation-failure", 3}}}},
     {"mx-host-string", "missing-failure-field"}},
    {"02-google-2022-sts-enforce.json",
     "Google Inc.",
     "smtp-tls-reporting@google.com",
     "2022-09-15T00:00:00Z_test.xmox.nl",
     1663200000,
     1663286399,
     1,
     {{STS, "test.xmox.nl", 4, 1, 3, 0, 0, {{NULL, 0}}}},
     {NULL}},
    {"03-microsoft-2023-datetime-without-timezone.json",
     "Microsoft Corporation",
     "tlsrpt-noreply@microsoft.com",
     "133198585438131172+test.xmox.nl",
     1673308800,
     1673395199,
     1,
     {{STS, "test.xmox.nl", 4, 0, 2, 0, 0, {{NULL, 0}}}},
     {"datetime-no-zone", "datetime-no-zone"}},
    {"04-google-2024-no-policy-found.json",
     "Google Inc.",
     "smtp-tls-reporting@google.com",
     "2024-09-03T00:00:00Z_cardinalhealth.ca",
     1725321600,
     1725407999,
     1,
     {{NPF, "cardinalhealth.ca", 0, 0, 48, 0, 0, {{NULL, 0}}}},
     {NULL}},
    {"05-mailru-2024-sts-fetch-error-http-status.json",
     "Mail.ru",
     "tls_support@corp.mail.ru",
     "b28254de-7b2e-be36-bb5c-4c3b92da8b25@mail.ru",
     1708560000,
     1708646399,
     1,
     {{STS,
       "example.com",
       0,
       0,
       0,
       1,
       2,
       {{"sts-policy-fetch-error", 1}, {"sts-policy-fetch-error", 1}}}},
     {"missing-failure-field", "missing-failure-field", "total-failure-mismatch",
      "end-datetime-next-midnight"}},
    {"06-mailru-2023-sts-fetch-timeout.json",
     "Mail.ru",
     "tls_support@corp.mail.ru",
     "c96d67df-0440-57f7-6e96-c83824d0fdf2@mail.ru",
     1674604800,
     1674691199,
     1,
     {{STS, "krvtz.net", 0, 0, 0, 1, 1, {{"sts-policy-fetch-error", 1}}}},
     {"missing-failure-field", "end-datetime-next-midnight"}},
    {"07-microsoft-2024-sts-and-tlsa.json",
     "Microsoft Corporation",
     "tlsrpt-noreply@microsoft.com",
     "133708152202987951+krvtz.net",
     1726185600,
     1726271999,
     2,
     {{STS, "krvtz.net", 4, 0, 2, 0, 0, {{NULL, 0}}},
      {TLSA, "krvtz.net", 13, 0, 2, 0, 0, {{NULL, 0}}}},
     {"policy-string-json-array"}},
    {"08-anonymized-google-style-validation-failure.json",
     "Example Inc.",
     "smtp-tls-reporting@example.com",
     "2024-01-09T00:00:00Z_example.com",
     1704758400,
     1704844799,
     1,
     {{STS, "example.com", 4, 0, 0, 3, 2, {{"validation-failure", 2}, {"validation-failure", 1}}}},
     {NULL}},
    {"09-microsoft-2025-sts-fetch-error-no-ip-no-mx.json",
     "Microsoft Corporation",
     "tlsrpt-noreply@microsoft.com",
     "133944884956529435+",
     1749859200,
     1749945599,
     1,
     {{STS, "xxxxxxxx.xx", 0, 0, 0, 3, 1, {{"sts-policy-fetch-error", 3}}}},
     {"missing-failure-field"}},
    {"10-unknown-mta-2026-contact-info-null.json",
     "refluxstop.de",
     NULL,
     "1768089600_5665667737528564296",
     1768089600,
     1768175999,
     1,
     {{STS, "hin.ch", 7, 4, 1, 0, 0, {{NULL, 0}}}},
     {"end-datetime-next-midnight", "contact-info-null"}},
    {"11-egressif-2024-no-policy-found-empty-arrays.json",
     "mx.egressif.io",
     NULL,
     "1730332800_11732957880687192466",
     1730332800,
     1730419199,
     1,
     {{NPF, "redacted.example.com", 0, 0, 1, 0, 0, {{NULL, 0}}}},
     {"end-datetime-next-midnight", "contact-info-null"}},
    {"12-postfix-tlsrpt-reporter-2025-no-policy-domain.json",
     "sonne.floppy.org",
     "smtp-tls-reporting@sonne.floppy.org",
     "2025-09-20T00:00:00Z_idx1_mpi-klsb.mpg.de",
     1758326400,
     1758412799,
     1,
     {{NPF, NULL, 0, 0, 1, 0, 0, {{NULL, 0}}}},
     {"missing-policy-domain"}},
    {"13-socketlabs-2020-host-mismatch-misspelled-key.json",
     "socketlabs.com",
     "tlsrpt-feedback@socketlabs.com",
     "13B8FEDF21D3DBD6997654968E563122",
     1582761600,
     1582847999,
     1, /* two entries for one policy, merged */
     {{STS, "test.mailflow.ovh", 4, 1, 12, 2, 1, {{"certificate-host-mismatch", 2}}}},
     {"misspelled-key", "duplicate-policy-entry", "end-datetime-next-midnight"}},
    {"14-google-2020-multi-policy-validation-failure.json",
     "Google Inc.",
     "smtp-tls-reporting@google.com",
     "2020-02-06T00:00:00Z_test.mailflow.ovh",
     1580947200,
     1581033599,
     3,
     {{NPF, "test.mailflow.ovh", 0, 0, 1, 0, 0, {{NULL, 0}}},
      {STS,
       "test.mailflow.ovh",
       6,
       0,
       0,
       3,
       3,
       {{"validation-failure", 1}, {"validation-failure", 1}, {"validation-failure", 1}}},
      {STS,
       "test.mailflow.ovh",
       6,
       0,
       0,
       10,
       5,
       {{"validation-failure", 1},
	{"validation-failure", 1},
	{"validation-failure", 4},
	{"validation-failure", 2},
	{"validation-failure", 2}}}},
     {NULL}},
};

static void check_sample(const struct exp_report *e, const struct sts_tlsrpt_report *rep)
{
	print_message("# %s\n", e->file);
	assert_string_equal(rep->organization, e->org);
	if (e->contact)
		assert_string_equal(rep->contact_info, e->contact);
	else
		assert_null(rep->contact_info);
	assert_string_equal(rep->report_id, e->report_id);
	assert_int_equal(rep->start, e->start);
	assert_int_equal(rep->end, e->end);
	assert_int_equal(rep->n_policies, e->n_policies);
	for (size_t i = 0; i < e->n_policies; i++) {
		const struct exp_policy *ep = &e->p[i];
		const struct sts_tlsrpt_policy *p = &rep->policies[i];
		assert_int_equal(p->type, ep->type);
		if (ep->domain)
			assert_string_equal(p->policy_domain, ep->domain);
		else
			assert_null(p->policy_domain);
		assert_int_equal(p->n_policy_string, ep->n_lines);
		assert_int_equal(p->n_mx_host, ep->n_mx);
		assert_int_equal(p->success_count, ep->success);
		assert_int_equal(p->failure_count, ep->failure);
		assert_int_equal(p->n_failures, ep->n_failures);
		int64_t sum = 0;
		for (size_t j = 0; j < ep->n_failures; j++) {
			assert_string_equal(p->failures[j].result_type, ep->f[j].type);
			assert_int_equal(p->failures[j].failed_session_count, ep->f[j].count);
			assert_int_not_equal(p->failures[j].category, STS_TLSRPT_CAT_UNKNOWN);
			sum += ep->f[j].count;
		}
		assert_int_equal(p->failure_detail_sum, sum);
	}
	assert_warnings(rep, e->warnings);
}

static void test_samples(void **state)
{
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		struct sts_buf b;
		struct sts_tlsrpt_report *rep = NULL;
		struct sts_diags d;
		read_sample(samples[i].file, &b);
		sts_diags_init(&d);
		assert_int_equal(sts_tlsrpt_parse_blob(b.data, b.len, &rep, &d), STS_OK);
		check_sample(&samples[i], rep);
		/* every warning is in diags too, as a warning, with its code */
		assert_int_equal(d.n_errors, 0);
		assert_int_equal(d.n_warnings, rep->n_warnings);
		for (size_t j = 0; j < d.n; j++) {
			assert_int_equal(d.v[j].severity, STS_SEV_WARNING);
			assert_true(strncmp(d.v[j].message, rep->warnings[j].code,
					    strlen(rep->warnings[j].code)) == 0);
		}
		sts_tlsrpt_report_free(rep);
		sts_diags_release(&d);
		sts_buf_release(&b);
	}
}

/* The same samples gzip-compressed go through sts_tlsrpt_parse_blob. */
static void test_samples_gzip(void **state)
{
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		struct sts_buf b;
		read_sample(samples[i].file, &b);
		z_stream zs;
		memset(&zs, 0, sizeof(zs));
		assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
		size_t cap = deflateBound(&zs, b.len) + 64;
		unsigned char *z = malloc(cap);
		zs.next_in = (Bytef *)b.data;
		zs.avail_in = (uInt)b.len;
		zs.next_out = z;
		zs.avail_out = (uInt)cap;
		assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
		struct sts_tlsrpt_report *rep = NULL;
		assert_int_equal(sts_tlsrpt_parse_blob(z, zs.total_out, &rep, NULL), STS_OK);
		check_sample(&samples[i], rep);
		sts_tlsrpt_report_free(rep);
		deflateEnd(&zs);
		free(z);
		sts_buf_release(&b);
	}
}

static void test_sample_details(void **state)
{
	struct sts_buf b;
	struct sts_tlsrpt_report *rep = NULL;

	/* 01: every failure field, IPv6 sending-mta-ip, mx-host string */
	read_sample("01-rfc8460-appendix-b.json", &b);
	assert_int_equal(sts_tlsrpt_parse_blob(b.data, b.len, &rep, NULL), STS_OK);
	const struct sts_tlsrpt_policy *p = &rep->policies[0];
	assert_string_equal(p->mx_host[0], "*.mail.company-y.example");
	assert_string_equal(p->policy_string[2], "mx: *.mail.company-y.example");
	assert_string_equal(p->failures[0].sending_mta_ip, "2001:db8:abcd:0012::1");
	assert_null(p->failures[0].receiving_ip);
	assert_string_equal(p->failures[1].receiving_ip, "203.0.113.56");
	assert_string_equal(p->failures[1].additional_information,
			    "https://reports.company-x.example/report_info?id=5065427c-23d3"
			    "#StarttlsNotSupported");
	assert_string_equal(p->failures[2].failure_reason_code,
			    "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
	assert_string_equal(p->failures[2].receiving_mx_hostname,
			    "mx-backup.mail.company-y.example");
	assert_null(p->failures[0].receiving_mx_helo);
	assert_string_equal(rep->start_raw, "2016-04-01T00:00:00Z");
	sts_tlsrpt_report_free(rep);
	sts_buf_release(&b);

	/* 07: Microsoft's JSON-in-a-string TLSA records, one per line */
	read_sample("07-microsoft-2024-sts-and-tlsa.json", &b);
	assert_int_equal(sts_tlsrpt_parse_blob(b.data, b.len, &rep, NULL), STS_OK);
	p = &rep->policies[1];
	assert_string_equal(p->policy_string[0], "2 1 1 025490860B498AB73C6A12F27A49AD5FE230FAFE3"
						 "AC8F6112C9B7D0AAD46941D");
	assert_string_equal(p->policy_string[12], "2 1 1 F1647A5EE3EFAC54C892E930584FE47979B7AC"
						  "D1C76C1271BCA1C5076D869888");
	assert_string_equal(rep->warnings[0].path, "policies[1].policy.policy-string[0]");
	sts_tlsrpt_report_free(rep);
	sts_buf_release(&b);

	/* 13: misspelled key read, merged entry keeps the mx-host union */
	read_sample("13-socketlabs-2020-host-mismatch-misspelled-key.json", &b);
	assert_int_equal(sts_tlsrpt_parse_blob(b.data, b.len, &rep, NULL), STS_OK);
	p = &rep->policies[0];
	assert_string_equal(p->failures[0].receiving_mx_hostname, "mta-sts.test.mailflow.ovh");
	assert_string_equal(p->failures[0].receiving_ip, "18.203.131.132");
	assert_int_equal(p->n_merged, 1);
	assert_string_equal(p->mx_host[0], "mta-sts.test.mailflow.ovh");
	assert_string_equal(rep->warnings[0].path,
			    "policies[1].failure-details[0].receiving-mx-host-name");
	assert_string_equal(rep->warnings[1].path, "policies[1]");
	assert_true(sts_tlsrpt_report_has_warning(rep, "duplicate-policy-entry"));
	assert_false(sts_tlsrpt_report_has_warning(rep, "datetime-no-zone"));
	sts_tlsrpt_report_free(rep);
	sts_buf_release(&b);

	/* 06: a long Go error string with quotes, verbatim */
	read_sample("06-mailru-2023-sts-fetch-timeout.json", &b);
	assert_int_equal(sts_tlsrpt_parse_blob(b.data, b.len, &rep, NULL), STS_OK);
	assert_string_equal(rep->policies[0].failures[0].failure_reason_code,
			    "unable to do http request: Get "
			    "\"https://mta-sts.krvtz.net/.well-known/mta-sts.txt\": context "
			    "deadline exceeded (Client.Timeout exceeded while awaiting headers)");
	assert_int_equal(rep->policies[0].failures[0].category, STS_TLSRPT_CAT_STS_POLICY);
	sts_tlsrpt_report_free(rep);
	sts_buf_release(&b);
}

/* ---- normalisation helpers -------------------------------------------- */

static void test_lines_equal(void **state)
{
	char *published[] = {"version: STSv1", "mode: enforce", "mx: a.example", "mx: b.example",
			     "max_age: 86400"};
	char *google[] = {"version: STSv1", "mode: enforce", "max_age: 86400", "mx: b.example",
			  "mx: a.example"};
	char *crlf[] = {"version: STSv1\r", "mode: enforce \t", "mx: a.example\r\n",
			"mx: b.example",    "max_age: 86400",	"",
			"mx: a.example"};
	char *other[] = {"version: STSv1", "mode: testing", "mx: a.example", "mx: b.example",
			 "max_age: 86400"};
	char *fewer[] = {"version: STSv1", "mode: enforce", "mx: a.example", "max_age: 86400"};
	char *lead[] = {" version: STSv1", "mode: enforce", "mx: a.example", "mx: b.example",
			"max_age: 86400"};

	assert_true(sts_tlsrpt_policy_lines_equal(published, 5, google, 5));
	assert_true(sts_tlsrpt_policy_lines_equal(google, 5, published, 5));
	assert_true(sts_tlsrpt_policy_lines_equal(published, 5, crlf, 7));
	assert_false(sts_tlsrpt_policy_lines_equal(published, 5, other, 5));
	assert_false(sts_tlsrpt_policy_lines_equal(published, 5, fewer, 4));
	assert_false(sts_tlsrpt_policy_lines_equal(fewer, 4, published, 5));
	/* leading white space is content */
	assert_false(sts_tlsrpt_policy_lines_equal(published, 5, lead, 5));
	assert_true(sts_tlsrpt_policy_lines_equal(NULL, 0, NULL, 0));
	assert_false(sts_tlsrpt_policy_lines_equal(NULL, 0, fewer, 4));
	/* case matters: the RFC's keys are case-sensitive */
	char *upper[] = {"VERSION: STSv1"};
	char *lower[] = {"version: STSv1"};
	assert_false(sts_tlsrpt_policy_lines_equal(upper, 1, lower, 1));
}

static void test_categories(void **state)
{
	static const struct {
		const char *t;
		enum sts_tlsrpt_category c;
	} v[] = {
	    {"starttls-not-supported", STS_TLSRPT_CAT_NEGOTIATION},
	    {"certificate-host-mismatch", STS_TLSRPT_CAT_NEGOTIATION},
	    {"certificate-expired", STS_TLSRPT_CAT_NEGOTIATION},
	    {"certificate-not-trusted", STS_TLSRPT_CAT_NEGOTIATION},
	    {"validation-failure", STS_TLSRPT_CAT_NEGOTIATION},
	    {"tlsa-invalid", STS_TLSRPT_CAT_DANE},
	    {"dnssec-invalid", STS_TLSRPT_CAT_DANE},
	    {"dane-required", STS_TLSRPT_CAT_DANE},
	    {"sts-policy-fetch-error", STS_TLSRPT_CAT_STS_POLICY},
	    {"sts-policy-invalid", STS_TLSRPT_CAT_STS_POLICY},
	    {"sts-webpki-invalid", STS_TLSRPT_CAT_STS_POLICY},
	    {"STS-WebPKI-Invalid", STS_TLSRPT_CAT_STS_POLICY},
	    {"certificate-revoked", STS_TLSRPT_CAT_UNKNOWN},
	    {"", STS_TLSRPT_CAT_UNKNOWN},
	    {NULL, STS_TLSRPT_CAT_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(sts_tlsrpt_result_category(v[i].t), v[i].c);
	assert_string_equal(sts_tlsrpt_category_name(STS_TLSRPT_CAT_STS_POLICY), "sts-policy");
	assert_string_equal(sts_tlsrpt_category_name(STS_TLSRPT_CAT_NEGOTIATION), "negotiation");
	assert_string_equal(sts_tlsrpt_category_name(STS_TLSRPT_CAT_DANE), "dane");
	assert_string_equal(sts_tlsrpt_category_name(STS_TLSRPT_CAT_UNKNOWN), "unknown");
	assert_string_equal(sts_tlsrpt_policy_type_name(STS_TLSRPT_POLICY_NO_POLICY_FOUND),
			    "no-policy-found");
	assert_string_equal(sts_tlsrpt_policy_type_name(STS_TLSRPT_POLICY_UNKNOWN), "unknown");
}

static void test_failed_sessions(void **state)
{
	struct sts_diags d;
	sts_diags_init(&d);
	/* non-exclusive types: sum 5 > total 3 -> the total counts */
	struct sts_tlsrpt_report *rep =
	    parse_ok(ONE_POLICY(STS_POLICY,
				",\"failure-details\":["
				"{\"result-type\":\"certificate-expired\","
				"\"sending-mta-ip\":\"192.0.2.1\",\"receiving-ip\":\"192.0.2.2\","
				"\"receiving-mx-hostname\":\"MX.Example.COM.\","
				"\"failed-session-count\":3},"
				"{\"result-type\":\"certificate-not-trusted\","
				"\"sending-mta-ip\":\"192.0.2.1\",\"receiving-ip\":\"192.0.2.2\","
				"\"receiving-mx-hostname\":\"mx.example.com\","
				"\"failed-session-count\":2}]"),
		     &d);
	struct sts_tlsrpt_policy *p = &rep->policies[0];
	assert_int_equal(p->failure_count, 0);
	assert_int_equal(p->failure_detail_sum, 5);
	/* total 0 is inconsistently low: raised to the largest detail */
	assert_int_equal(sts_tlsrpt_policy_failed_sessions(p), 3);
	p->failure_count = 4;
	assert_int_equal(sts_tlsrpt_policy_failed_sessions(p), 4);
	assert_string_equal(p->failures[0].receiving_mx_hostname, "mx.example.com");
	const char *const w[] = {"total-failure-mismatch", NULL};
	assert_warnings(rep, w);
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);
}

/* ---- deviations tolerated --------------------------------------------- */

static void tolerated(const char *json, const char *const *codes)
{
	struct sts_diags d;
	sts_diags_init(&d);
	struct sts_tlsrpt_report *rep = parse_ok(json, &d);
	assert_warnings(rep, codes);
	assert_int_equal(d.n_errors, 0);
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);
}

static void test_tolerated(void **state)
{
	struct sts_diags d;
	struct sts_tlsrpt_report *rep;

	/* an unknown key, a prose-name alias, a snake_case key */
	{
		const char *const w[] = {"unknown-key", "misspelled-key", "misspelled-key", NULL};
		tolerated(
		    ONE_POLICY(STS_POLICY ",\"x-vendor\":1",
			       ",\"failure-details\":[{\"result_type\":\"validation-failure\","
			       "\"sending-mta-ip\":\"192.0.2.1\",\"receiving-ip\":\"192.0.2.2\","
			       "\"receiving-mx-hostname\":\"mx.example.com\","
			       "\"failed-session-count\":0,"
			       "\"additional-info-uri\":\"https://x.example/\"}]"),
		    w);
	}
	/* date-only, offsets, fraction, lower-case t/z, leap second */
	sts_diags_init(&d);
	rep = parse_ok("{\"date-range\":{\"start-datetime\":\"2024-01-01T02:00:00.123+02:00\","
		       "\"end-datetime\":\"2024-01-01t23:59:60z\"},\"policies\":[]}",
		       &d);
	assert_int_equal(rep->start, 1704067200);
	assert_int_equal(rep->end, 1704153599);
	{
		const char *const w[] = {"empty-policies", "missing-organization-name",
					 "missing-contact-info", "missing-report-id", NULL};
		assert_warnings(rep, w);
	}
	sts_tlsrpt_report_free(rep);
	rep = parse_ok("{\"date-range\":{\"start-datetime\":\"2024-01-01\","
		       "\"end-datetime\":\"2024-01-01\"},\"policies\":[],"
		       "\"organization-name\":null,\"report-id\":\"\",\"contact-info\":\"nobody\"}",
		       &d);
	assert_int_equal(rep->start, 1704067200);
	assert_int_equal(rep->end, 1704153599);
	{
		/* report-id "" is empty-field */
		const char *const w[] = {"empty-policies",
					 "datetime-date-only",
					 "datetime-date-only",
					 "organization-name-null",
					 "empty-field",
					 "contact-info-invalid",
					 NULL};
		assert_warnings(rep, w);
	}
	assert_null(rep->organization);
	assert_null(rep->report_id);
	assert_string_equal(rep->contact_info, "nobody");
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);

	/* policy: U-label domain, upper case + trailing dot, unknown type, string
	 * policy-string, null mx-host; summary counts missing; BOM */
	sts_diags_init(&d);
	rep = parse_ok("\xef\xbb\xbf" HEAD "\"policies\":[{\"policy\":{\"policy-type\":\"STS\","
		       "\"policy-domain\":\"B\xc3\xbc"
		       "cher.Example.\",\"policy-string\":"
		       "\"version: STSv1\\r\\nmode: testing\\r\\nmx: a.example\\r\\nmax_age: "
		       "86400\\r\\n\",\"mx-host\":null},\"summary\":{}}]}",
		       &d);
	struct sts_tlsrpt_policy *p = &rep->policies[0];
	assert_int_equal(p->type, STS_TLSRPT_POLICY_STS);
	assert_string_equal(p->type_raw, "STS");
	assert_string_equal(p->policy_domain, "xn--bcher-kva.example");
	assert_int_equal(p->n_policy_string, 4);
	assert_string_equal(p->policy_string[1], "mode: testing\r");
	assert_int_equal(p->n_mx_host, 0);
	assert_int_equal(p->success_count, 0);
	{
		const char *const w[] = {"utf8-bom",
					 "policy-type-case",
					 "policy-domain-u-label",
					 "policy-string-string",
					 "null-field",
					 "missing-count",
					 "missing-count",
					 NULL};
		assert_warnings(rep, w);
	}
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);

	/* unknown policy type and result type are kept; invalid domain/ip */
	sts_diags_init(&d);
	rep =
	    parse_ok(ONE_POLICY("\"policy-type\":\"invalid-policy-type\",\"policy-domain\":"
				"\"bad domain\",\"mx-host\":[\"mx.example\",7,\"\"]",
				",\"failure-details\":[{\"result-type\":\"certificate-revoked\","
				"\"sending-mta-ip\":\"999.1.1.1\",\"receiving-ip\":\"::1\","
				"\"receiving-mx-hostname\":\"mx.example\",\"failed-session-count\":"
				"2.0},{\"failed-session-count\":1,\"sending-mta-ip\":null}]"),
		     &d);
	p = &rep->policies[0];
	assert_int_equal(p->type, STS_TLSRPT_POLICY_UNKNOWN);
	assert_string_equal(p->type_raw, "invalid-policy-type");
	assert_null(p->policy_domain);
	assert_int_equal(p->n_mx_host, 1);
	assert_string_equal(p->failures[0].result_type, "certificate-revoked");
	assert_int_equal(p->failures[0].category, STS_TLSRPT_CAT_UNKNOWN);
	assert_int_equal(p->failures[0].failed_session_count, 2);
	assert_string_equal(p->failures[0].sending_mta_ip, "999.1.1.1");
	assert_null(p->failures[1].result_type);
	assert_int_equal(p->failure_detail_sum, 3);
	{
		const char *const w[] = {"unknown-policy-type",
					 "invalid-policy-domain",
					 "wrong-type",
					 "empty-field",
					 "invalid-ip",
					 "count-real",
					 "unknown-result-type",
					 "null-field",
					 "missing-failure-field",
					 "missing-result-type",
					 "total-failure-mismatch",
					 NULL};
		assert_warnings(rep, w);
	}
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);
}

static void test_duplicate_entries(void **state)
{
	struct sts_diags d;
	sts_diags_init(&d);
	/* same policy (lines reordered, CR) split over 3 entries, one other */
	struct sts_tlsrpt_report *rep = parse_ok(
	    HEAD "\"policies\":["
		 "{\"policy\":{" STS_POLICY ",\"mx-host\":[\"mx.example.com\"]},\"summary\":"
		 "{\"total-successful-session-count\":10,\"total-failure-session-count\":0}},"
		 "{\"policy\":{\"policy-type\":\"tlsa\",\"policy-domain\":\"example.com\","
		 "\"policy-string\":[\"3 1 1 AA\"]},\"summary\":"
		 "{\"total-successful-session-count\":7,\"total-failure-session-count\":0}},"
		 "{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":\"EXAMPLE.com\","
		 "\"policy-string\":[\"max_age: 86400\",\"version: STSv1\\r\",\"mx: "
		 "mx.example.com\",\"mode: enforce\"],\"mx-host\":[\"MX.example.com\","
		 "\"mx2.example.com\"]},\"summary\":"
		 "{\"total-successful-session-count\":5,\"total-failure-session-count\":1},"
		 "\"failure-details\":[{\"result-type\":\"starttls-not-supported\","
		 "\"sending-mta-ip\":\"192.0.2.1\",\"receiving-ip\":\"192.0.2.2\","
		 "\"receiving-mx-hostname\":\"mx.example.com\",\"failed-session-count\":1}]},"
		 "{\"policy\":{" STS_POLICY "},\"summary\":"
		 "{\"total-successful-session-count\":1,\"total-failure-session-count\":2},"
		 "\"failure-details\":[{\"result-type\":\"certificate-expired\","
		 "\"sending-mta-ip\":\"192.0.2.1\",\"receiving-ip\":\"192.0.2.2\","
		 "\"receiving-mx-hostname\":\"mx.example.com\",\"failed-session-count\":2}]}]}",
	    &d);
	assert_int_equal(rep->n_policies, 2);
	struct sts_tlsrpt_policy *p = &rep->policies[0];
	assert_int_equal(p->type, STS_TLSRPT_POLICY_STS);
	assert_int_equal(p->success_count, 16);
	assert_int_equal(p->failure_count, 3);
	assert_int_equal(p->failure_detail_sum, 3);
	assert_int_equal(p->n_failures, 2);
	assert_string_equal(p->failures[0].result_type, "starttls-not-supported");
	assert_string_equal(p->failures[1].result_type, "certificate-expired");
	assert_int_equal(p->n_merged, 2);
	assert_int_equal(p->n_mx_host, 2);
	assert_string_equal(p->mx_host[1], "mx2.example.com");
	assert_string_equal(p->policy_string[0], "version: STSv1"); /* the first entry's */
	assert_int_equal(rep->policies[1].type, STS_TLSRPT_POLICY_TLSA);
	assert_int_equal(rep->policies[1].success_count, 7);
	const char *const w[] = {"duplicate-policy-entry", "duplicate-policy-entry", NULL};
	assert_warnings(rep, w);
	assert_string_equal(rep->warnings[0].path, "policies[2]");
	assert_string_equal(rep->warnings[1].path, "policies[3]");
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);
}

/* ---- rejected --------------------------------------------------------- */

static void test_reject_structure(void **state)
{
	expect_reject("", STS_EPARSE, "not valid I-JSON");
	expect_reject("not json", STS_EPARSE, "not valid I-JSON");
	expect_reject("{\"policies\":[]", STS_EPARSE, "not valid I-JSON");
	expect_reject("{} trailing", STS_EPARSE, "not valid I-JSON");
	expect_reject("[]", STS_EINVALID, "report is not a JSON object");
	expect_reject("\"policies\"", STS_EPARSE, "not valid I-JSON");
	expect_reject("{}", STS_EINVALID, "report has no 'policies' array");
	expect_reject("{\"policies\":{}}", STS_EINVALID, "report has no 'policies' array");
	expect_reject("{\"policies\":[1]}", STS_EINVALID, "policy entry is not an object");
	expect_reject("{\"policies\":[{}]}", STS_EINVALID, "no 'policy' object");
	expect_reject("{\"policies\":[{\"policy\":[]}]}", STS_EINVALID, "no 'policy' object");
	expect_reject(ONE_POLICY(STS_POLICY, ",\"failure-details\":{}"), STS_EINVALID,
		      "'failure-details' is not an array");
	expect_reject(ONE_POLICY(STS_POLICY, ",\"failure-details\":[\"x\"]"), STS_EINVALID,
		      "failure detail is not an object");
	expect_reject(ONE_POLICY("\"policy-string\":{}", ""), STS_EINVALID,
		      "'policy-string' is not an array");
	expect_reject(ONE_POLICY("\"mx-host\":1", ""), STS_EINVALID, "'mx-host' is not an array");
	expect_reject(HEAD "\"policies\":[{\"policy\":{},\"summary\":[]}]}", STS_EINVALID,
		      "'summary' is not an object");
	/* I-JSON: duplicate member names, also nested */
	expect_reject("{\"policies\":[],\"policies\":[]}", STS_EPARSE, "duplicate object key");
	expect_reject(ONE_POLICY(STS_POLICY ",\"policy-type\":\"tlsa\"", ""), STS_EPARSE,
		      "duplicate object key");
	/* NUL inside a string */
	expect_reject(ONE_POLICY("\"policy-domain\":\"a\\u0000b\"", ""), STS_EPARSE,
		      "not valid I-JSON");
}

static void test_reject_counts(void **state)
{
#define SUMMARY(s, f)                                                                              \
	HEAD "\"policies\":[{\"policy\":{},\"summary\":{\"total-successful-session-count\":" s     \
	     ",\"total-failure-session-count\":" f "}}]}"
	expect_reject(SUMMARY("-1", "0"), STS_EINVALID, "negative session count -1");
	expect_reject(SUMMARY("1", "1.5"), STS_EINVALID, "is not a non-negative integer");
	expect_reject(SUMMARY("1", "-0.5"), STS_EINVALID, "is not a non-negative integer");
	expect_reject(SUMMARY("9007199254740993", "0"), STS_EINVALID, "larger than 2^53");
	expect_reject(SUMMARY("1e300", "0"), STS_EINVALID, "is not a non-negative integer");
	expect_reject(SUMMARY("\"12\"", "0"), STS_EINVALID, "session count is not a number");
	expect_reject(SUMMARY("true", "0"), STS_EINVALID, "session count is not a number");
	expect_reject(SUMMARY("99999999999999999999999", "0"), STS_EPARSE, "too big integer");
	expect_reject(ONE_POLICY(STS_POLICY, ",\"failure-details\":[{\"result-type\":\"x\","
					     "\"failed-session-count\":-3}]"),
		      STS_EINVALID, "negative session count -3");
	/* 2^53 itself is fine, but sums past it are not */
	struct sts_diags d;
	sts_diags_init(&d);
	struct sts_tlsrpt_report *rep = parse_ok(SUMMARY("9007199254740992", "0"), &d);
	assert_int_equal(rep->policies[0].success_count, 9007199254740992LL);
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);
	expect_reject(HEAD "\"policies\":[{\"policy\":{},\"summary\":"
			   "{\"total-successful-session-count\":9007199254740992,"
			   "\"total-failure-session-count\":0}},{\"policy\":{},\"summary\":"
			   "{\"total-successful-session-count\":1,"
			   "\"total-failure-session-count\":0}}]}",
		      STS_EINVALID, "session counts add up past 2^53");
#undef SUMMARY
}

static void test_reject_dates(void **state)
{
#define DR(a, b)                                                                                   \
	"{\"date-range\":{\"start-datetime\":" a ",\"end-datetime\":" b "},\"policies\":[]}"
	expect_reject("{\"policies\":[]}", STS_EINVALID, "report has no 'date-range'");
	expect_reject("{\"date-range\":[],\"policies\":[]}", STS_EINVALID,
		      "'date-range' is not an object");
	expect_reject(DR("\"2024-01-01T00:00:00Z\"", "null"), STS_EINVALID,
		      "date-time is not a string");
	expect_reject("{\"date-range\":{\"start-datetime\":\"2024-01-01T00:00:00Z\"},"
		      "\"policies\":[]}",
		      STS_EINVALID, "date-time is missing");
	expect_reject(DR("\"yesterday\"", "\"2024-01-01T00:00:00Z\""), STS_EINVALID,
		      "cannot parse date-time 'yesterday'");
	expect_reject(DR("1704067200", "1704153599"), STS_EINVALID, "date-time is not a string");
	expect_reject(DR("\"2024-02-30T00:00:00Z\"", "\"2024-03-01T00:00:00Z\""), STS_EINVALID,
		      "cannot parse date-time '2024-02-30T00:00:00Z'");
	expect_reject(DR("\"2024-01-01T24:00:00Z\"", "\"2024-01-02T00:00:00Z\""), STS_EINVALID,
		      "cannot parse");
	expect_reject(DR("\"2024-01-01T00:00:00+0100\"", "\"2024-01-02T00:00:00Z\""), STS_EINVALID,
		      "cannot parse");
	expect_reject(DR("\"2024-01-01T00:00:00Z \"", "\"2024-01-02T00:00:00Z\""), STS_EINVALID,
		      "cannot parse");
	expect_reject(DR("\"2024-01-02T00:10:00Z\"", "\"2024-01-02T00:00:00Z\""), STS_EINVALID,
		      "date range ends ('2024-01-02T00:00:00Z') before it starts");
#undef DR
}

static void test_reject_utf8(void **state)
{
	static const char *const bad[] = {
	    "\xff",		/* never valid */
	    "\xc0\xaf",		/* overlong '/' */
	    "\xe0\x80\xaf",	/* overlong */
	    "\xed\xa0\x80",	/* UTF-16 surrogate */
	    "\xf4\x90\x80\x80", /* past U+10FFFF */
	    "\xc3",		/* truncated sequence */
	    "\x80",		/* lone continuation */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[256];
		int n = snprintf(json, sizeof(json),
				 "{\"organization-name\":\"x%sy\",\"policies\":[]}", bad[i]);
		expect_reject_n(json, (size_t)n, STS_EPARSE, "invalid UTF-8 byte");
	}
	/* the position is reported */
	struct sts_diags d;
	struct sts_tlsrpt_report *rep = NULL;
	sts_diags_init(&d);
	assert_int_equal(sts_tlsrpt_parse_json("{\n \"a\":\"\xff\"}", 11, &rep, &d), STS_EPARSE);
	assert_int_equal(d.v[0].line, 2);
	assert_int_equal(d.v[0].col, 7);
	assert_string_equal(d.v[0].message, "invalid UTF-8 byte 0xff at offset 8");
	sts_diags_release(&d);
	/* valid multi-byte text passes */
	sts_diags_init(&d);
	rep = parse_ok(HEAD "\"policies\":[],\"x\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7\"}", &d);
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);
}

static void test_reject_depth(void **state)
{
	size_t depth = 100000, n = 2 * depth;
	char *deep = malloc(n);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	expect_reject_n(deep, n, STS_ETOOLARGE, "JSON nesting deeper than 64 levels");
	memset(deep, '{', depth); /* not even valid JSON: the depth check comes first */
	expect_reject_n(deep, depth, STS_ETOOLARGE, "JSON nesting deeper than 64 levels");
	free(deep);
	/* brackets inside strings do not count */
	struct sts_buf b;
	sts_buf_init(&b, 1u << 20);
	sts_buf_puts(&b, HEAD "\"policies\":[],\"x\":\"");
	for (int i = 0; i < 1000; i++)
		sts_buf_puts(&b, "[{\\\"");
	sts_buf_puts(&b, "\"}");
	accepted(sts_buf_str(&b));
	/* 64 levels are allowed, 65 are not */
	sts_buf_reset(&b);
	sts_buf_puts(&b, HEAD "\"policies\":[],\"x\":");
	for (int i = 0; i < 63; i++)
		sts_buf_putc(&b, '[');
	for (int i = 0; i < 63; i++)
		sts_buf_putc(&b, ']');
	sts_buf_putc(&b, '}');
	accepted(sts_buf_str(&b));
	sts_buf_reset(&b);
	sts_buf_puts(&b, HEAD "\"policies\":[],\"x\":");
	for (int i = 0; i < 64; i++)
		sts_buf_putc(&b, '[');
	for (int i = 0; i < 64; i++)
		sts_buf_putc(&b, ']');
	sts_buf_putc(&b, '}');
	expect_reject(sts_buf_str(&b), STS_ETOOLARGE, "deeper than 64");
	sts_buf_release(&b);
}

/* jansson's memory per object/value: counted before it parses */
static void test_reject_amplification(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_REPORT);
	sts_buf_puts(&b, "{\"policies\":[],\"x\":[");
	for (int i = 0; i < STS_TLSRPT_MAX_CONTAINERS; i++) /* + the report object */
		sts_buf_puts(&b, i ? ",{}" : "{}");
	sts_buf_puts(&b, "]}");
	expect_reject(sts_buf_str(&b), STS_ETOOLARGE, "more than 200000 JSON objects and arrays");

	sts_buf_reset(&b);
	sts_buf_puts(&b, "{\"policies\":[],\"x\":[0");
	for (int i = 0; i < STS_TLSRPT_MAX_VALUES; i++)
		sts_buf_puts(&b, ",0");
	sts_buf_puts(&b, "]}");
	expect_reject(sts_buf_str(&b), STS_ETOOLARGE, "more than 1000000 JSON values");

	/* commas inside strings do not count */
	sts_buf_reset(&b);
	sts_buf_puts(&b, HEAD "\"policies\":[],\"x\":\"");
	for (int i = 0; i < STS_TLSRPT_MAX_VALUES + 10; i++)
		sts_buf_putc(&b, ',');
	sts_buf_puts(&b, "\"}");
	accepted(sts_buf_str(&b));
	sts_buf_release(&b);
}

static void test_reject_size(void **state)
{
	/* just over the cap in memory: refused before it is scanned */
	size_t n = STS_CAP_REPORT + 1;
	char *big = malloc(n);
	memset(big, ' ', n);
	big[0] = '{';
	expect_reject_n(big, n, STS_ETOOLARGE, "report is larger than 10485760 bytes");
	struct sts_tlsrpt_report *rep = NULL;
	assert_int_equal(sts_tlsrpt_parse_blob(big, n, &rep, NULL), STS_ETOOLARGE);
	assert_null(rep);
	free(big);
}

/* A 100 MB JSON document streamed through a pipe: reading stops at the cap. */
static void test_reject_stream(void **state)
{
	const size_t total = 100u * 1000u * 1000u;
	size_t *written =
	    mmap(NULL, sizeof(size_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fds[2];
	assert_true(written != MAP_FAILED);
	*written = 0;
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static char chunk[65536];
		signal(SIGPIPE, SIG_IGN);
		close(fds[0]);
		memset(chunk, 'x', sizeof(chunk));
		memcpy(chunk, "{\"policies\":[],\"pad\":\"", 22);
		while (*written < total) {
			ssize_t w = write(fds[1], chunk, sizeof(chunk));
			if (w <= 0)
				break;
			*written += (size_t)w;
			memset(chunk, 'x', 22);
		}
		_exit(0);
	}
	close(fds[1]);
	struct sts_tlsrpt_report *rep = NULL;
	struct sts_diags d;
	sts_diags_init(&d);
	assert_int_equal(sts_tlsrpt_parse_fd(fds[0], &rep, &d), STS_ETOOLARGE);
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_null(rep);
	assert_string_equal(d.v[0].message, "report is larger than 10485760 bytes");
	/* the writer was cut off near the cap, far from 100 MB */
	assert_true(*written < STS_CAP_REPORT_COMPRESSED + (2u << 20));
	sts_diags_release(&d);
	munmap(written, sizeof(size_t));
}

static void test_blob(void **state)
{
	struct sts_tlsrpt_report *rep = NULL;
	struct sts_diags d;
	sts_diags_init(&d);
	/* gzip inside gzip */
	const char *json = ONE_POLICY(STS_POLICY, "");
	unsigned char in1[2048], in2[2048];
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	zs.next_in = (Bytef *)(uintptr_t)json;
	zs.avail_in = (uInt)strlen(json);
	zs.next_out = in1;
	zs.avail_out = sizeof(in1);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t l1 = zs.total_out;
	deflateReset(&zs);
	zs.next_in = in1;
	zs.avail_in = (uInt)l1;
	zs.next_out = in2;
	zs.avail_out = sizeof(in2);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t l2 = zs.total_out;
	deflateEnd(&zs);
	assert_int_equal(sts_tlsrpt_parse_blob(in1, l1, &rep, &d), STS_OK);
	assert_int_equal(rep->n_policies, 1);
	sts_tlsrpt_report_free(rep);
	rep = NULL;
	assert_int_equal(sts_tlsrpt_parse_blob(in2, l2, &rep, &d), STS_EPARSE);
	assert_string_equal(d.v[d.n - 1].message, "report is gzip-compressed twice");
	/* truncated gzip */
	assert_int_equal(sts_tlsrpt_parse_blob(in1, l1 - 9, &rep, &d), STS_EPARSE);
	assert_string_equal(d.v[d.n - 1].message, "gzip stream is truncated");
	assert_null(rep);
	sts_diags_release(&d);
}

static void test_warning_cap(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, 1u << 20);
	sts_buf_puts(&b, HEAD "\"policies\":[]");
	for (int i = 0; i < 1500; i++)
		sts_buf_printf(&b, ",\"k%d\":0", i);
	sts_buf_putc(&b, '}');
	struct sts_diags d;
	sts_diags_init(&d);
	struct sts_tlsrpt_report *rep = parse_ok(sts_buf_str(&b), &d);
	assert_int_equal(rep->n_warnings, STS_TLSRPT_MAX_WARNINGS);
	assert_int_equal(rep->n_warnings_dropped, 501); /* 1500 unknown keys + empty-policies */
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);
	sts_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_samples),
	    cmocka_unit_test(test_samples_gzip),
	    cmocka_unit_test(test_sample_details),
	    cmocka_unit_test(test_lines_equal),
	    cmocka_unit_test(test_categories),
	    cmocka_unit_test(test_failed_sessions),
	    cmocka_unit_test(test_tolerated),
	    cmocka_unit_test(test_duplicate_entries),
	    cmocka_unit_test(test_reject_structure),
	    cmocka_unit_test(test_reject_counts),
	    cmocka_unit_test(test_reject_dates),
	    cmocka_unit_test(test_reject_utf8),
	    cmocka_unit_test(test_reject_depth),
	    cmocka_unit_test(test_reject_amplification),
	    cmocka_unit_test(test_reject_size),
	    cmocka_unit_test(test_reject_stream),
	    cmocka_unit_test(test_blob),
	    cmocka_unit_test(test_warning_cap),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
