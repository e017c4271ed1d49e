/* SPDX-License-Identifier: MIT */
/*
 * stsctl check end to end on 127.0.0.1: a fake DNS server, a fake HTTPS
 * policy host and a fake SMTP server with certificates of a throwaway CA.
 * Verdicts, sender views, rule ids, the MX probe cache, drift with an
 * inventory, the JSON and text reports, name normalisation, bad options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_net.h"
#include "sts_check.h"
#include "sts_err.h"

#define GOOD_POLICY "version: STSv1\r\nmode: enforce\r\nmx: mx.a.test\r\nmax_age: 86400\r\n"

static const char *const base_zone[] = {
    "_mta-sts.a.test. IN TXT \"v=STSv1; id=1;\"",
    "mta-sts.a.test. IN A 127.0.0.1",
    "a.test. IN MX 10 mx.a.test.",
    "mx.a.test. IN A 127.0.0.1",
    "_smtp._tls.a.test. IN TXT \"v=TLSRPTv1; rua=mailto:r@a.test\"",
    "b.test. IN MX 10 mx.a.test.",
    "_mta-sts.c.test. IN TXT \"v=STSv1; id=1;\"",
    "_mta-sts.c.test. IN TXT \"v=STSv1; id=2;\"",
    "c.test. IN MX 10 mx.a.test.",
    "_mta-sts.d.test. IN TXT \"v=STSv1; id=1;\"",
    "mta-sts.d.test. IN A 127.0.0.1",
    "d.test. IN MX 10 mx.a.test.",
    "d.test. IN MX 20 other.a.test.",
    "other.a.test. IN A 127.0.0.1",
    "_smtp._tls.d.test. IN TXT \"v=TLSRPTv1; rua=mailto:r@d.test\"",
    NULL,
};

static struct world *world_good(void)
{
	return world_new(base_zone, 200, "text/plain", GOOD_POLICY,
			 "DNS:mta-sts.a.test,DNS:mta-sts.d.test", "DNS:mx.a.test,DNS:other.a.test",
			 40);
}

static const struct sts_check_domain *run1(struct world *w, const char *domain)
{
	const char *names[] = {domain};
	sts_check_report_release(&w->rep);
	assert_int_equal(sts_check_run(names, 1, &w->o, &w->rep, NULL), STS_OK);
	assert_int_equal(w->rep.n, 1);
	return &w->rep.domains[0];
}

/* Does a finding with this rule and severity exist? */
static bool has(const struct sts_check_domain *d, const char *rule, enum sts_severity sev)
{
	for (size_t i = 0; i < d->findings.n; i++)
		if (d->findings.v[i].rule && strcmp(d->findings.v[i].rule, rule) == 0 &&
		    d->findings.v[i].severity == sev)
			return true;
	return false;
}

static void test_pass(void **state)
{
	(void)state;
	struct world *w = world_good();
	const char *names[] = {"a.test", "b.test"};
	assert_int_equal(sts_check_run(names, 2, &w->o, &w->rep, NULL), STS_OK);
	const struct sts_check_domain *a = &w->rep.domains[0], *b = &w->rep.domains[1];
	assert_string_equal(a->domain, "a.test");
	assert_int_equal(a->verdict, STS_VERDICT_PASS);
	assert_int_equal(a->view, STS_VIEW_ENFORCE);
	assert_int_equal(a->findings.n_errors + a->findings.n_warnings, 0);
	assert_string_equal(a->id, "1");
	assert_true(a->policy_usable);
	assert_int_equal(a->http_status, 200);
	assert_true(a->ph_cert_valid);
	assert_true(a->ph_days_left >= 59 && a->ph_days_left <= 60);
	assert_int_equal(a->n_mx, 1);
	assert_true(a->mx[0].matches_policy);
	assert_true(a->mx[0].starttls);
	assert_true(a->mx[0].cert_valid);
	assert_true(a->mx[0].cert_days_left >= 39 && a->mx[0].cert_days_left <= 40);
	assert_string_equal(a->mx[0].address, "127.0.0.1");
	assert_int_equal(a->n_rua, 1);
	assert_string_equal(a->rua[0], "mailto:r@a.test");
	/* b.test: no MTA-STS at all, no TLS-RPT: warnings, no policy */
	assert_int_equal(b->verdict, STS_VERDICT_WARN);
	assert_int_equal(b->view, STS_VIEW_NO_POLICY);
	assert_true(has(b, "T1", STS_SEV_WARNING));
	assert_true(has(b, "R1", STS_SEV_WARNING));
	assert_true(has(b, "P1", STS_SEV_INFO));
	assert_true(b->mx[0].starttls);
	/* the MX host both domains share was probed once */
	assert_int_equal(__atomic_load_n(&w->smtp->connections, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(w->rep.n_pass, 1);
	assert_int_equal(w->rep.n_warn, 1);
	assert_int_equal(w->rep.n_fail, 0);

	/* the JSON document */
	json_t *doc = sts_check_json(&w->rep);
	assert_non_null(doc);
	json_t *d0 = json_array_get(json_object_get(doc, "domains"), 0);
	assert_string_equal(json_string_value(json_object_get(d0, "verdict")), "pass");
	assert_string_equal(json_string_value(json_object_get(d0, "sender_view")), "enforce");
	json_t *m0 = json_array_get(json_object_get(d0, "mx"), 0);
	assert_string_equal(json_string_value(json_object_get(m0, "host")), "mx.a.test");
	assert_true(json_is_true(json_object_get(m0, "matches_policy")));
	assert_true(json_is_true(json_object_get(m0, "starttls")));
	assert_true(json_is_true(json_object_get(m0, "cert_valid")));
	assert_true(json_is_integer(json_object_get(m0, "cert_days_left")));
	assert_non_null(json_string_value(json_object_get(m0, "tls_version")));
	json_t *ph = json_object_get(d0, "policy_host");
	assert_true(json_is_true(json_object_get(ph, "cert_valid")));
	json_t *pol = json_object_get(d0, "policy");
	assert_string_equal(json_string_value(json_object_get(pol, "mode")), "enforce");
	assert_int_equal(json_integer_value(json_object_get(pol, "max_age")), 86400);
	json_t *d1 = json_array_get(json_object_get(doc, "domains"), 1);
	assert_string_equal(json_string_value(json_object_get(d1, "sender_view")), "no-policy");
	assert_true(json_is_null(json_object_get(json_object_get(d1, "policy"), "txt")));
	assert_true(json_is_null(
	    json_object_get(json_array_get(json_object_get(d1, "mx"), 0), "matches_policy")));
	json_t *f0 = json_array_get(json_object_get(d1, "findings"), 0);
	assert_non_null(json_string_value(json_object_get(f0, "rule")));
	assert_non_null(json_string_value(json_object_get(f0, "severity")));
	json_decref(doc);

	/* the text report */
	struct sts_buf t;
	sts_buf_init(&t, 1u << 20);
	assert_int_equal(sts_check_text(&w->rep, &t), STS_OK);
	assert_non_null(strstr(sts_buf_str(&t), "a.test: pass, senders see enforce\n"));
	assert_non_null(
	    strstr(sts_buf_str(&t), "  mx 10 mx.a.test: covered by the policy, STARTTLS"));
	assert_non_null(strstr(sts_buf_str(&t), "b.test: warn, senders see no-policy\n"));
	sts_buf_release(&t);
	world_free(w);
}

static void test_policy_failures(void **state)
{
	(void)state;
	static const struct {
		int status;
		const char *ctype;
		const char *body;
		const char *rule;
	} cases[] = {
	    {404, "text/plain", "nope", "P3"},
	    {301, "text/html", "moved", "P4"},
	    {200, "text/html", GOOD_POLICY, "P2"},
	    {200, "text/plain",
	     "version: STSv1\r\nmode: Enforce\r\nmx: mx.a.test\r\nmax_age: 1\r\n", "B5"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct world *w =
		    world_new(base_zone, cases[i].status, cases[i].ctype, cases[i].body,
			      "DNS:mta-sts.a.test", "DNS:mx.a.test", 40);
		const struct sts_check_domain *d = run1(w, "a.test");
		assert_int_equal(d->verdict, STS_VERDICT_FAIL);
		assert_int_equal(d->view, STS_VIEW_NO_POLICY);
		assert_true(has(d, cases[i].rule, STS_SEV_ERROR));
		world_free(w);
	}
	/* two v=STSv1 records (T11); no policy host at all (P1) */
	struct world *w = world_good();
	const struct sts_check_domain *d = run1(w, "c.test");
	assert_int_equal(d->verdict, STS_VERDICT_FAIL);
	assert_int_equal(d->n_sts_txt, 2);
	assert_true(has(d, "T11", STS_SEV_ERROR));
	assert_true(has(d, "P1", STS_SEV_ERROR));
	assert_int_equal(__atomic_load_n(&w->https->connections, __ATOMIC_SEQ_CST), 0);
	world_free(w);
	/* a policy host certificate for another name (C2), then no trust (C1) */
	w = world_new(base_zone, 200, "text/plain", GOOD_POLICY, "DNS:www.a.test", "DNS:mx.a.test",
		      40);
	d = run1(w, "a.test");
	assert_int_equal(d->view, STS_VIEW_NO_POLICY);
	assert_true(has(d, "C2", STS_SEV_ERROR));
	assert_false(d->ph_cert_valid);
	assert_true(d->ph_have_cert);
	w->o.ca_file = NULL; /* the system store does not know the fake CA */
	d = run1(w, "a.test");
	assert_true(has(d, "C1", STS_SEV_ERROR));
	world_free(w);
}

static void test_mx_findings(void **state)
{
	(void)state;
	/* d.test: the second MX is not in the policy (M2); certificates expire in 5 days */
	struct world *w =
	    world_new(base_zone, 200, "text/plain", GOOD_POLICY,
		      "DNS:mta-sts.a.test,DNS:mta-sts.d.test", "DNS:mx.a.test,DNS:other.a.test", 5);
	const struct sts_check_domain *d = run1(w, "d.test");
	assert_int_equal(d->verdict, STS_VERDICT_FAIL);
	assert_int_equal(d->view, STS_VIEW_ENFORCE);
	assert_int_equal(d->n_mx, 2);
	assert_true(d->mx[0].matches_policy);
	assert_false(d->mx[1].matches_policy);
	assert_string_equal(d->mx[1].host, "other.a.test");
	assert_true(has(d, "M2", STS_SEV_ERROR));
	assert_true(has(d, "M3", STS_SEV_WARNING)); /* expires in 5 days */
	assert_true(has(d, "C1", STS_SEV_WARNING) == false);
	w->o.warn_days = -1;
	d = run1(w, "d.test");
	assert_false(has(d, "M3", STS_SEV_WARNING));
	/* --no-smtp: nothing probed, coverage still judged */
	w->o.no_smtp = true;
	int before = __atomic_load_n(&w->smtp->connections, __ATOMIC_SEQ_CST);
	d = run1(w, "d.test");
	assert_int_equal(__atomic_load_n(&w->smtp->connections, __ATOMIC_SEQ_CST), before);
	assert_false(d->mx[0].probed);
	assert_true(has(d, "M2", STS_SEV_ERROR));
	world_free(w);
	/* the MX certificate names another host: M3 error, cert_error says why */
	w = world_new(base_zone, 200, "text/plain", GOOD_POLICY, "DNS:mta-sts.a.test",
		      "DNS:elsewhere.test", 40);
	d = run1(w, "a.test");
	assert_true(has(d, "M3", STS_SEV_ERROR));
	assert_false(d->mx[0].cert_valid);
	assert_string_equal(d->mx[0].cert_error, "not valid for the name 'mx.a.test'");
	world_free(w);
}

/* A zone where many.test has n MX hosts mx0..mx(n-1).many.test, all at 127.0.0.1. */
static char **many_mx_zone(size_t n)
{
	char **z = calloc(n * 2 + 64, sizeof(char *)); /* base_zone has fewer than 60 */
	size_t k = 0;
	for (size_t i = 0; base_zone[i]; i++)
		z[k++] = strdup(base_zone[i]);
	z[k++] = strdup("_mta-sts.many.test. IN TXT \"v=STSv1; id=1;\"");
	z[k++] = strdup("mta-sts.many.test. IN A 127.0.0.1");
	for (size_t i = 0; i < n; i++) {
		char buf[128];
		snprintf(buf, sizeof(buf), "many.test. IN MX %zu mx%zu.many.test.", i + 1, i);
		z[k++] = strdup(buf);
		snprintf(buf, sizeof(buf), "mx%zu.many.test. IN A 127.0.0.1", i);
		z[k++] = strdup(buf);
	}
	z[k] = NULL;
	return z;
}

static void zone_free(char **z)
{
	for (size_t i = 0; z[i]; i++)
		free(z[i]);
	free(z);
}

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * A hostile domain cannot stretch the check (issue 12 §4): 40 MX hosts, only
 * max_mx (32) probed, the rest fail the domain (limit-mx); against silent MX
 * hosts, the domain deadline stops the probes (limit-deadline). Fail closed:
 * every MX host left unprobed says why and the verdict is fail.
 */
static void test_mx_limits(void **state)
{
	(void)state;
	char **zone = many_mx_zone(40);
	struct world *w =
	    world_new((const char *const *)zone, 200, "text/plain",
		      "version: STSv1\r\nmode: enforce\r\nmx: *.many.test\r\nmax_age: 86400\r\n",
		      "DNS:mta-sts.many.test", "DNS:*.many.test", 40);
	const struct sts_check_domain *d = run1(w, "many.test");
	assert_int_equal(d->n_mx, 40);
	assert_int_equal(__atomic_load_n(&w->smtp->connections, __ATOMIC_SEQ_CST), 32);
	assert_true(has(d, "limit-mx", STS_SEV_ERROR));
	assert_false(has(d, "limit-deadline", STS_SEV_ERROR));
	assert_int_equal(d->verdict, STS_VERDICT_FAIL);
	assert_true(d->mx[31].probed && d->mx[31].starttls);
	assert_false(d->mx[32].probed);
	assert_true(d->mx[39].skipped);
	assert_string_equal(d->mx[39].error, "not probed: over the MX limit");
	/* a lower limit from the options */
	w->o.max_mx = 2;
	d = run1(w, "many.test");
	assert_int_equal(__atomic_load_n(&w->smtp->connections, __ATOMIC_SEQ_CST), 34);
	assert_true(d->mx[38].skipped);
	/* silent MX hosts (each probe waits --timeout): the deadline cuts the domain short */
	fake_srv_stop(w->smtp);
	w->smtp = fake_srv_start(FAKE_SMTP_SILENT, NULL, NULL, 0, 0, 0);
	w->o.smtp_port = (unsigned)w->smtp->port;
	w->o.max_mx = 0;
	w->o.timeout_ms = 200;
	w->o.domain_timeout_ms = 1000;
	long t0 = mono_ms();
	d = run1(w, "many.test");
	long took = mono_ms() - t0;
	/* without the deadline: 32 probes of 200 ms = 6.4 s */
	assert_true(took < 2500);
	assert_true(has(d, "limit-deadline", STS_SEV_ERROR));
	assert_true(has(d, "limit-mx", STS_SEV_ERROR));
	assert_int_equal(d->verdict, STS_VERDICT_FAIL);
	assert_true(d->mx[0].probed);
	assert_true(d->mx[20].skipped);
	assert_string_equal(d->mx[20].error, "not probed: domain deadline reached");
	/* out of range */
	w->o.max_mx = STS_CHECK_MAX_MX_MAX + 1;
	const char *names[] = {"many.test"};
	sts_check_report_release(&w->rep);
	assert_int_equal(sts_check_run(names, 1, &w->o, &w->rep, NULL), STS_EINVAL);
	world_free(w);
	zone_free(zone);
}

/* policy_address (apply's verify.resolve) decides where the fetch connects */
static void test_policy_address(void **state)
{
	(void)state;
	static const char *const zone[] = {
	    "_mta-sts.e.test. IN TXT \"v=STSv1; id=1;\"",
	    "mta-sts.e.test. IN A 127.0.0.2", /* nothing listens there */
	    "e.test. IN MX 10 mx.a.test.",
	    "mx.a.test. IN A 127.0.0.1",
	    "_smtp._tls.e.test. IN TXT \"v=TLSRPTv1; rua=mailto:r@e.test\"",
	    NULL,
	};
	struct world *w = world_new(zone, 200, "text/plain", GOOD_POLICY, "DNS:mta-sts.e.test",
				    "DNS:mx.a.test", 40);
	const struct sts_check_domain *e = run1(w, "e.test");
	assert_false(e->policy_usable);
	assert_int_equal(e->verdict, STS_VERDICT_FAIL);
	w->o.policy_address = "127.0.0.1";
	e = run1(w, "e.test");
	assert_true(e->policy_usable);
	assert_int_equal(e->http_status, 200);
	assert_int_equal(e->verdict, STS_VERDICT_PASS);
	world_free(w);
}

static void test_drift(void **state)
{
	(void)state;
	struct world *w = world_good();
	const char *inv_text = "{\"version\": 1, \"domains\": [\n"
			       " {\"name\": \"a.test\", \"mx\": [\"mx.a.test\"], \"mode\": "
			       "\"testing\", \"max_age\": 86400,"
			       "  \"tlsrpt\": {\"rua\": [\"mailto:other@a.test\"]}}]}\n";
	struct sts_inventory *inv = NULL;
	struct sts_diags diags;
	sts_diags_init(&diags);
	assert_int_equal(sts_inventory_parse(inv_text, strlen(inv_text), "inv.json", &inv, &diags),
			 STS_OK);
	sts_diags_release(&diags);
	w->o.inventory = inv;
	const char *names[] = {"a.test", "b.test"};
	assert_int_equal(sts_check_run(names, 2, &w->o, &w->rep, NULL), STS_OK);
	const struct sts_check_domain *a = &w->rep.domains[0], *b = &w->rep.domains[1];
	assert_true(has(a, "drift-mode", STS_SEV_ERROR));
	assert_true(has(a, "drift-id", STS_SEV_ERROR));
	assert_true(has(a, "drift-policy", STS_SEV_ERROR));
	assert_true(has(a, "drift-tlsrpt", STS_SEV_ERROR));
	assert_int_equal(a->verdict, STS_VERDICT_FAIL);
	assert_true(has(b, "drift", STS_SEV_INFO)); /* not in the inventory */
	sts_inventory_free(inv);
	world_free(w);
}

static void test_names_and_options(void **state)
{
	(void)state;
	char *n = NULL;
	const char *why = NULL;
	assert_int_equal(sts_check_domain_name("Example.COM.", &n, &why), STS_OK);
	assert_string_equal(n, "example.com");
	free(n);
	assert_int_equal(sts_check_domain_name("b\xc3\xbc"
					       "cher.example",
					       &n, &why),
			 STS_OK);
	assert_string_equal(n, "xn--bcher-kva.example");
	free(n);
	const char *bad[] = {"",	 "localhost", "a..b",	   "-a.test", "a-.test",
			     "a_b.test", "a b.test",  "1.2.3.4x.", NULL};
	for (size_t i = 0; bad[i]; i++) {
		n = NULL;
		int r = sts_check_domain_name(bad[i], &n, &why);
		if (i == 7) { /* digits are fine in labels */
			assert_int_equal(r, STS_OK);
			free(n);
			continue;
		}
		assert_int_equal(r, STS_EINVAL);
		assert_non_null(why);
	}
	assert_string_equal(sts_verdict_name(STS_VERDICT_WARN), "warn");
	assert_string_equal(sts_view_name(STS_VIEW_NO_POLICY), "no-policy");
	assert_string_equal(sts_view_name(STS_VIEW_TESTING), "testing");

	struct sts_check_report rep;
	struct sts_check_opts o = {.concurrency = STS_CHECK_CONCURRENCY_MAX + 1};
	const char *names[] = {"a.test"};
	assert_int_equal(sts_check_run(names, 1, &o, &rep, &why), STS_EINVAL);
	sts_check_report_release(&rep);
	struct sts_check_opts o2 = {.resolver = "bogus"};
	assert_int_equal(sts_check_run(names, 1, &o2, &rep, &why), STS_EINVAL);
	assert_non_null(why);
	sts_check_report_release(&rep);
	struct sts_check_opts o3 = {.ca_file = "/nonexistent/ca.pem"};
	assert_int_equal(sts_check_run(names, 1, &o3, &rep, &why), STS_EIO);
	sts_check_report_release(&rep);
	assert_int_equal(sts_check_run(names, 0, &o, &rep, &why) == STS_EINVAL, 1);
	sts_check_report_release(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pass),
	    cmocka_unit_test(test_policy_failures),
	    cmocka_unit_test(test_mx_findings),
	    cmocka_unit_test(test_policy_address),
	    cmocka_unit_test(test_mx_limits),
	    cmocka_unit_test(test_drift),
	    cmocka_unit_test(test_names_and_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
