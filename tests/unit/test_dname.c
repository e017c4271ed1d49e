/* SPDX-License-Identifier: MIT */
/* Domain names: normalisation, label syntax, comparison, zones (core/rfc/sts_dname.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_dname.h"
#include "sts_err.h"

static void norm(const char *in, unsigned flags, const char *want)
{
	char *out = NULL;
	const char *why = NULL;
	int r = sts_dname_normalize(in, flags, &out, &why);
	if (r != STS_OK)
		fail_msg("'%s': %d (%s)", in, r, why ? why : "");
	assert_string_equal(out, want);
	free(out);
}

static void test_normalize(void **state)
{
	(void)state;
	norm("Mail.Example.COM.", 0, "mail.example.com");
	norm("mail.example.com..", 0, "mail.example.com."); /* one dot only */
	norm("b\xc3\xbc"
	     "cher.Example",
	     0, "xn--bcher-kva.example");
	norm("X.\xc3\x91"
	     "ACA.COM.",
	     0, "x.xn--aca-6ma.com");
	norm("*.\xc3\xb1"
	     "aca.com",
	     STS_DNAME_WILDCARD, "*.xn--aca-6ma.com");
	norm("*.Example.com", 0, "*.example.com"); /* ASCII: only lowered */
	norm("Example.COM", STS_DNAME_ABSOLUTE, "example.com.");
	norm("example.com.", STS_DNAME_ABSOLUTE, "example.com.");
	norm(".", STS_DNAME_ABSOLUTE, ".");
	norm("_MTA-STS.example.com", 0, "_mta-sts.example.com");
}

static void test_normalize_invalid(void **state)
{
	(void)state;
	const char *bad[] = {"x.-\xc3\xb1.com", "mail.\xff.com", "\xe2\x98\x83.example", NULL};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *out = (char *)"untouched";
		const char *why = NULL;
		assert_int_equal(sts_dname_normalize(bad[i], 0, &out, &why), STS_EINVALID);
		assert_non_null(why);
		assert_string_equal(out, "untouched");
	}
}

/* the U-label form, for messages that name a domain both ways */
static void test_to_unicode(void **state)
{
	(void)state;
	char *u = NULL;
	assert_int_equal(sts_dname_to_unicode("xn--bcher-kva.example", &u), STS_OK);
	assert_string_equal(u, "b\xc3\xbc"
			       "cher.example");
	free(u);
	assert_int_equal(sts_dname_to_unicode("mail.example.com", &u), STS_OK);
	assert_string_equal(u, "mail.example.com");
	free(u);
	u = (char *)"untouched";
	assert_int_equal(sts_dname_to_unicode("xn--zz-.example", &u), STS_EINVALID);
	assert_string_equal(u, "untouched");
}

static void test_check(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned flags;
		enum sts_dname_problem want;
	} cases[] = {
	    {"example.com", STS_DNAME_DOMAIN, STS_DNAME_OK},
	    {"xn--bcher-kva.example", STS_DNAME_DOMAIN, STS_DNAME_OK},
	    {"", 0, STS_DNAME_EMPTY},
	    {"a..b", 0, STS_DNAME_EMPTY_LABEL},
	    {".a", 0, STS_DNAME_EMPTY_LABEL},
	    {"a.", 0, STS_DNAME_EMPTY_LABEL},
	    {"-a.com", 0, STS_DNAME_HYPHEN},
	    {"a-.com", 0, STS_DNAME_HYPHEN},
	    {"a.*.com", STS_DNAME_WILDCARD, STS_DNAME_STAR},
	    {"*.example.com", 0, STS_DNAME_STAR},
	    {"*.example.com", STS_DNAME_WILDCARD, STS_DNAME_OK},
	    {"_mta-sts.example.com", 0, STS_DNAME_UNDERSCORE_CHAR},
	    {"_mta-sts.example.com", STS_DNAME_UNDERSCORE, STS_DNAME_OK},
	    {"a b.com", 0, STS_DNAME_BAD_CHAR},
	    {"1.2.3.4", 0, STS_DNAME_OK},
	    {"1.2.3.4", STS_DNAME_DOMAIN, STS_DNAME_NUMERIC},
	    {"a.123", STS_DNAME_DOMAIN, STS_DNAME_NUMERIC},
	    {"localhost", 0, STS_DNAME_OK},
	    {"localhost", STS_DNAME_DOMAIN, STS_DNAME_ONE_LABEL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		enum sts_dname_problem p = sts_dname_check(cases[i].name, cases[i].flags);
		if (p != cases[i].want)
			fail_msg("'%s' %#x: %d (%s), want %d", cases[i].name, cases[i].flags, p,
				 sts_dname_problem_str(p), cases[i].want);
	}
	char name[300];
	memset(name, 'a', 64);
	memcpy(name + 64, ".com", 5);
	assert_int_equal(sts_dname_check(name, 0), STS_DNAME_LABEL_TOO_LONG);
	memset(name, 'a', 255); /* four labels of 63: 255 octets */
	name[63] = name[127] = name[191] = '.';
	name[255] = '\0';
	assert_int_equal(sts_dname_check(name, 0), STS_DNAME_TOO_LONG);
	name[253] = '\0';
	assert_int_equal(sts_dname_check(name, 0), STS_DNAME_OK);
	assert_string_equal(sts_dname_problem_str(STS_DNAME_LABEL_TOO_LONG),
			    "label longer than 63 octets");
	assert_string_equal(sts_dname_problem_str(STS_DNAME_OK), "");
	assert_string_equal(sts_dname_problem_str(_STS_DNAME_PROBLEM_MAX), "invalid name");
}

static void test_eq_zone(void **state)
{
	(void)state;
	size_t rel = 99;
	assert_true(sts_dname_eq("Example.COM.", "example.com"));
	assert_false(sts_dname_eq("example.com", "example.co"));
	assert_true(sts_dname_in_zone("_mta-sts.Example.com.", "example.com", &rel));
	assert_int_equal(rel, 8);
	assert_true(sts_dname_in_zone("example.com", "EXAMPLE.com.", &rel));
	assert_int_equal(rel, 0);
	assert_false(sts_dname_in_zone("badexample.com", "example.com", &rel));
	assert_false(sts_dname_in_zone("example.com", "a.example.com", NULL));
	assert_true(sts_dname_in_zone("a.b.", ".", &rel));
	assert_int_equal(rel, 3);
}

/* Many threads at once: no shared state. */
static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		char *out = NULL;
		const char *why;
		if (sts_dname_normalize("b\xc3\xbc"
					"cher.example",
					0, &out, &why) != STS_OK ||
		    strcmp(out, "xn--bcher-kva.example") != 0) {
			free(out);
			return (void *)1;
		}
		free(out);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_null(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalize), cmocka_unit_test(test_normalize_invalid),
	    cmocka_unit_test(test_check),     cmocka_unit_test(test_eq_zone),
	    cmocka_unit_test(test_threads),   cmocka_unit_test(test_to_unicode),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
