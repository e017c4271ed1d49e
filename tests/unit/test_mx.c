/* SPDX-License-Identifier: MIT */
/* MX pattern matcher and checker (RFC 8461 §4.1, docs/rfc-rules.md B7 and M2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_err.h"
#include "sts_mx.h"
#include "sts_policy.h"
#include "sts_record.h"

static void test_match_exact(void **state)
{
	assert_true(sts_mx_match("mail.example.com", "mail.example.com"));
	assert_false(sts_mx_match("mail.example.com", "mail2.example.com"));
	assert_false(sts_mx_match("mail.example.com", "example.com"));
	assert_false(sts_mx_match("mail.example.com", "x.mail.example.com"));
	assert_false(sts_mx_match("mail.example.com", "mail.example.co"));
}

static void test_match_case_insensitive(void **state)
{
	assert_true(sts_mx_match("MAIL.Example.COM", "mail.example.com"));
	assert_true(sts_mx_match("mail.example.com", "Mail.EXAMPLE.com"));
	assert_true(sts_mx_match("*.EXAMPLE.com", "MX1.example.COM"));
}

static void test_match_trailing_dot(void **state)
{
	assert_true(sts_mx_match("mail.example.com.", "mail.example.com"));
	assert_true(sts_mx_match("mail.example.com", "mail.example.com."));
	assert_true(sts_mx_match("mail.example.com.", "mail.example.com."));
	assert_true(sts_mx_match("*.example.com", "mx.example.com."));
	assert_true(sts_mx_match("*.example.com.", "mx.example.com"));
	/* only one root dot is ignored */
	assert_false(sts_mx_match("mail.example.com", "mail.example.com.."));
}

static void test_match_wildcard_one_label(void **state)
{
	assert_true(sts_mx_match("*.example.com", "mail.example.com"));
	assert_true(sts_mx_match("*.example.net", "a.example.net"));
	/* not the parent itself */
	assert_false(sts_mx_match("*.example.com", "example.com"));
	/* not two labels */
	assert_false(sts_mx_match("*.example.com", "a.b.example.com"));
	/* not an empty label */
	assert_false(sts_mx_match("*.example.com", ".example.com"));
	/* not a suffix inside a label */
	assert_false(sts_mx_match("*.example.com", "mail.badexample.com"));
	assert_false(sts_mx_match("*.example.com", "mailexample.com"));
	/* a different parent */
	assert_false(sts_mx_match("*.example.com", "mail.example.org"));
	assert_false(sts_mx_match("*.example.com", "mail.example.co"));
	assert_false(sts_mx_match("*.example.com", "mail.example.comm"));
}

static void test_match_wildcard_literal_only_left(void **state)
{
	/* '*' elsewhere is not a wildcard: compared literally */
	assert_false(sts_mx_match("mail.*.com", "mail.example.com"));
	assert_false(sts_mx_match("*example.com", "mailexample.com"));
	assert_false(sts_mx_match("*", "com"));
	assert_false(sts_mx_match("*.", "a"));
}

static void test_match_null_empty(void **state)
{
	assert_false(sts_mx_match(NULL, "a.example"));
	assert_false(sts_mx_match("a.example", NULL));
	assert_false(sts_mx_match("", ""));
	assert_false(sts_mx_match(".", "."));
	assert_false(sts_mx_match("", "a.example"));
}

/* Appendix B of RFC 8461 compares with the policy's B11 patterns. */
static void test_match_rfc_example(void **state)
{
	const char *mx[] = {"mail.example.com", "*.example.net", "backupmx.example.com"};
	const char *yes[] = {"mail.example.com", "mx1.example.net", "backupmx.example.com"};
	const char *no[] = {"example.net", "a.b.example.net", "mail.example.net.evil",
			    "other.example.com"};
	for (size_t i = 0; i < 3; i++) {
		bool any = false;
		for (size_t j = 0; j < 3; j++)
			any |= sts_mx_match(mx[j], yes[i]);
		assert_true(any);
	}
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 3; j++)
			assert_false(sts_mx_match(mx[j], no[i]));
}

static void assert_pattern_ok(const char *p)
{
	const char *why = "unset";
	assert_int_equal(sts_mx_pattern_check(p, &why), STS_OK);
}

static void assert_pattern_bad(const char *p, const char *why_part)
{
	const char *why = NULL;
	assert_int_equal(sts_mx_pattern_check(p, &why), STS_EINVALID);
	assert_non_null(why);
	if (!strstr(why, why_part))
		fail_msg("'%s': message '%s' lacks '%s'", p, why, why_part);
}

static void test_pattern_valid(void **state)
{
	assert_pattern_ok("mail.example.com");
	assert_pattern_ok("*.example.net");
	assert_pattern_ok("backupmx.example.com");
	assert_pattern_ok("mx-1.example.com");
	assert_pattern_ok("xn--bcher-kva.example");
	assert_pattern_ok("*.xn--bcher-kva.example");
	assert_pattern_ok("localhost");
	assert_pattern_ok("a1.b2.c3");
	assert_int_equal(sts_mx_pattern_check("mail.example.com", NULL), STS_OK);
}

static void test_pattern_wildcards(void **state)
{
	assert_pattern_bad("*", "'*'");
	assert_pattern_bad("*.", "'*'");
	assert_pattern_bad("**.example.com", "'*'");
	assert_pattern_bad("*.*.example.com", "'*'");
	assert_pattern_bad("*example.com", "'*'");
	assert_pattern_bad("mail.*.com", "'*'");
	assert_pattern_bad("mail*.example.com", "'*'");
	assert_pattern_bad("mail.example.*", "'*'");
	assert_pattern_bad("*mail.example.com", "'*'");
}

static void test_pattern_ip(void **state)
{
	assert_pattern_bad("192.0.2.1", "IP address");
	assert_pattern_bad("2001:db8::1", "IP address");
	assert_pattern_bad("::1", "IP address");
	assert_pattern_bad("[192.0.2.1]", "address literal");
	assert_pattern_bad("[IPv6:2001:db8::1]", "address literal");
	assert_pattern_bad("[::1]", "address literal");
	assert_pattern_bad("1.2.3", "IP address");
}

static void test_pattern_labels(void **state)
{
	char label63[64], label64[65], name[300];
	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	snprintf(name, sizeof(name), "%s.example", label63);
	assert_pattern_ok(name);
	snprintf(name, sizeof(name), "%s.example", label64);
	assert_pattern_bad(name, "63");

	/* 253 octets: 63+1+63+1+63+1+61 */
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", label63, label63, label63, label63);
	assert_int_equal(strlen(name), 253);
	assert_pattern_ok(name);
	snprintf(name, sizeof(name), "%s.%s.%s.%.62s", label63, label63, label63, label63);
	assert_int_equal(strlen(name), 254);
	assert_pattern_bad(name, "253");

	assert_pattern_bad("", "empty");
	assert_pattern_bad(NULL, "empty");
	assert_pattern_bad(".example.com", "empty label");
	assert_pattern_bad("mail..example.com", "empty label");
	assert_pattern_bad("*..example.com", "empty label");
	assert_pattern_bad("mail.example.com.", "trailing dot");
	assert_pattern_bad("-mail.example.com", "'-'");
	assert_pattern_bad("mail-.example.com", "'-'");
	assert_pattern_bad("mail.example.com-", "'-'");
	assert_pattern_bad("_mta-sts.example.com", "'_'");
	assert_pattern_bad("mail_1.example.com", "'_'");
	assert_pattern_bad("mail example.com", "invalid character");
	assert_pattern_bad("mail.example.com/x", "invalid character");
}

static void test_pattern_non_ascii(void **state)
{
	assert_pattern_bad("b\xc3\xbc"
			   "cher.example",
			   "A-label");
	assert_pattern_bad("*.b\xc3\xbc"
			   "cher.example",
			   "A-label");
	assert_pattern_bad("mail.\xff", "A-label");
}

static void assert_alabel(const char *in, const char *want)
{
	char *out = NULL;
	const char *why = NULL;
	int r = sts_mx_name_alabel(in, &out, &why);
	if (r != STS_OK)
		fail_msg("'%s': %d (%s)", in, r, why ? why : "");
	assert_string_equal(out, want);
	free(out);
}

static void assert_alabel_bad(const char *in)
{
	char *out = (char *)"untouched";
	const char *why = NULL;
	assert_int_equal(sts_mx_name_alabel(in, &out, &why), STS_EINVALID);
	assert_non_null(why);
	assert_string_equal(out, "untouched");
}

/* U-labels become A-labels as in the inventory; "*." is kept. */
static void test_alabel_convert(void **state)
{
	assert_alabel("x.\xc3\xb1"
		      "aca.com",
		      "x.xn--aca-6ma.com");
	assert_alabel("*.\xc3\xb1"
		      "aca.com",
		      "*.xn--aca-6ma.com");
	assert_alabel("X.\xc3\x91"
		      "ACA.COM.",
		      "x.xn--aca-6ma.com"); /* upper case Ñ, trailing dot */
	assert_alabel("b\xc3\xbc"
		      "cher.example",
		      "xn--bcher-kva.example");
	/* ASCII: lower case and one trailing dot dropped, nothing else */
	assert_alabel("X.XN--ACA-6MA.com.", "x.xn--aca-6ma.com");
	assert_alabel("*.Example.COM", "*.example.com");
	assert_alabel("mail.example.com..", "mail.example.com.");
}

static void test_alabel_invalid(void **state)
{
	assert_alabel_bad("x.-\xc3\xb1.com");	   /* hyphen at a label's edge */
	assert_alabel_bad("mail.\xff.com");	   /* not UTF-8 */
	assert_alabel_bad("\xe2\x98\x83.example"); /* U+2603 is disallowed in IDNA2008 */
	assert_alabel_bad(NULL);
}

/* What lint mx-match does: convert both, then match the A-labels. */
static bool match_u(const char *pattern, const char *host)
{
	char *p = NULL, *h = NULL;
	const char *why;
	assert_int_equal(sts_mx_name_alabel(pattern, &p, &why), STS_OK);
	assert_int_equal(sts_mx_name_alabel(host, &h, &why), STS_OK);
	assert_int_equal(sts_mx_pattern_check(p, &why), STS_OK);
	bool m = sts_mx_match(p, h);
	free(p);
	free(h);
	return m;
}

static void test_alabel_match(void **state)
{
	const char *u = "x.\xc3\xb1"
			"aca.com";
	assert_true(match_u("x.xn--aca-6ma.com", u));
	assert_true(match_u(u, "x.xn--aca-6ma.com"));
	assert_true(match_u(u, u));
	assert_true(match_u("*.\xc3\xb1"
			    "aca.com",
			    "x.xn--aca-6ma.com"));
	assert_true(match_u("*.xn--aca-6ma.com", u));
	assert_true(match_u("*.\xc3\xb1"
			    "aca.com",
			    "mx.\xc3\xb1"
			    "aca.com."));
	assert_false(match_u("*.\xc3\xb1"
			     "aca.com",
			     "a.b.xn--aca-6ma.com"));
	assert_false(match_u("*.\xc3\xb1"
			     "aca.com",
			     "xn--aca-6ma.com"));
	assert_false(match_u("x.naca.com", u));
	/* without the conversion the U-label never matches */
	assert_false(sts_mx_match("x.xn--aca-6ma.com", u));
}

static void test_id_valid(void **state)
{
	assert_true(sts_id_valid("20160831085700Z"));
	assert_true(sts_id_valid("x"));
	assert_true(sts_id_valid("12345678901234567890123456789012"));	 /* 32 */
	assert_false(sts_id_valid("123456789012345678901234567890123")); /* 33 */
	assert_false(sts_id_valid(""));
	assert_false(sts_id_valid(NULL));
	assert_false(sts_id_valid("2016-08-31"));
	assert_false(sts_id_valid("a.b"));
	assert_false(sts_id_valid("a_b"));
	assert_false(sts_id_valid("a b"));
	assert_false(sts_id_valid("2016-08-31T08:57:00Z"));
	assert_false(sts_id_valid("\xc3\xa9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match_exact),
	    cmocka_unit_test(test_match_case_insensitive),
	    cmocka_unit_test(test_match_trailing_dot),
	    cmocka_unit_test(test_match_wildcard_one_label),
	    cmocka_unit_test(test_match_wildcard_literal_only_left),
	    cmocka_unit_test(test_match_null_empty),
	    cmocka_unit_test(test_match_rfc_example),
	    cmocka_unit_test(test_pattern_valid),
	    cmocka_unit_test(test_pattern_wildcards),
	    cmocka_unit_test(test_pattern_ip),
	    cmocka_unit_test(test_pattern_labels),
	    cmocka_unit_test(test_pattern_non_ascii),
	    cmocka_unit_test(test_alabel_convert),
	    cmocka_unit_test(test_alabel_invalid),
	    cmocka_unit_test(test_alabel_match),
	    cmocka_unit_test(test_id_valid),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
