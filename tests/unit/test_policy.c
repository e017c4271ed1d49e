/* SPDX-License-Identifier: MIT */
/* Policy body parser (RFC 8461 §3.2, docs/rfc-rules.md B1-B13). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_policy.h"

struct res {
	int r;
	struct sts_policy pol;
	struct sts_diags d;
};

static void parse_n(struct res *x, const char *text, size_t len)
{
	sts_diags_init(&x->d);
	x->r = sts_policy_parse(text, len, &x->pol, &x->d);
}

static void parse(struct res *x, const char *text)
{
	parse_n(x, text, strlen(text));
}

static void done(struct res *x)
{
	sts_policy_release(&x->pol);
	sts_diags_release(&x->d);
}

/* The finding with this severity and rule (and message part), or NULL. */
static const struct sts_diag *find(const struct res *x, enum sts_severity sev, const char *rule,
				   const char *part)
{
	for (size_t i = 0; i < x->d.n; i++) {
		const struct sts_diag *g = &x->d.v[i];
		if (g->severity == sev && g->rule && strcmp(g->rule, rule) == 0 &&
		    (!part || strstr(g->message, part)))
			return g;
	}
	return NULL;
}

static void dump(const struct res *x)
{
	for (size_t i = 0; i < x->d.n; i++)
		fprintf(stderr, "# %u:%u %s [%s] %s\n", x->d.v[i].line, x->d.v[i].col,
			sts_severity_name(x->d.v[i].severity), x->d.v[i].rule, x->d.v[i].message);
}

#define assert_error(x, rule, part)                                                                \
	do {                                                                                       \
		if (!find(x, STS_SEV_ERROR, rule, part)) {                                         \
			dump(x);                                                                   \
			fail_msg("no error %s '%s'", rule, part ? part : "");                      \
		}                                                                                  \
	} while (0)
#define assert_warning(x, rule, part)                                                              \
	do {                                                                                       \
		if (!find(x, STS_SEV_WARNING, rule, part)) {                                       \
			dump(x);                                                                   \
			fail_msg("no warning %s '%s'", rule, part ? part : "");                    \
		}                                                                                  \
	} while (0)

#define HEAD "version: STSv1\nmode: enforce\nmx: mail.example.com\n"

/* B11: the §3.2 example. */
static void test_rfc_example(void **state)
{
	struct res x;
	parse(&x, "version: STSv1\n"
		  "mode: enforce\n"
		  "mx: mail.example.com\n"
		  "mx: *.example.net\n"
		  "mx: backupmx.example.com\n"
		  "max_age: 604800\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.d.n, 0);
	assert_string_equal(x.pol.version, "STSv1");
	assert_int_equal(x.pol.mode, STS_MODE_ENFORCE);
	assert_int_equal(x.pol.max_age, 604800);
	assert_int_equal(x.pol.n_mx, 3);
	assert_string_equal(x.pol.mx[0], "mail.example.com");
	assert_string_equal(x.pol.mx[1], "*.example.net");
	assert_string_equal(x.pol.mx[2], "backupmx.example.com");
	assert_int_equal(x.pol.n_ext, 0);
	done(&x);
}

/* Appendix A: the testing policy, CRLF as generators should emit. */
static void test_appendix_a(void **state)
{
	struct res x;
	parse(&x, "version: STSv1\r\n"
		  "mode: testing\r\n"
		  "mx: mx1.example.com\r\n"
		  "mx: mx2.example.com\r\n"
		  "mx: mx.backup-example.com\r\n"
		  "max_age: 1296000\r\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.d.n, 0);
	assert_int_equal(x.pol.mode, STS_MODE_TESTING);
	assert_int_equal(x.pol.max_age, 1296000);
	assert_int_equal(x.pol.n_mx, 3);
	assert_string_equal(x.pol.mx[2], "mx.backup-example.com");
	done(&x);
}

/* B1: LF, CRLF, mixed, no final terminator; a lone CR is not a terminator. */
static void test_line_endings(void **state)
{
	struct res x;
	parse(&x, "version: STSv1\nmode: enforce\r\nmx: a.example\nmax_age: 86400");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.pol.max_age, 86400);
	done(&x);

	parse(&x, "version: STSv1\rmode: enforce\rmx: a.example\rmax_age: 86400\r");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B1", "lone CR");
	assert_int_equal(x.d.v[0].line, 1);
	assert_int_equal(x.d.v[0].col, 15);
	assert_null(x.pol.version);
	done(&x);

	parse(&x, HEAD "max_age: 86400\r\r\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B1", NULL);
	done(&x);
}

static void test_whitespace(void **state)
{
	struct res x;
	/* B2: leading whitespace */
	parse(&x, HEAD " max_age: 86400\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B2", "leading whitespace");
	assert_int_equal(find(&x, STS_SEV_ERROR, "B2", NULL)->line, 4);
	assert_error(&x, "B6", "missing");
	done(&x);

	parse(&x, "\tversion: STSv1\nmode: none\nmax_age: 86400\n");
	assert_error(&x, "B2", "leading whitespace");
	done(&x);

	/* B2: whitespace before ':' */
	parse(&x, HEAD "max_age : 86400\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B2", "before ':'");
	assert_int_equal(find(&x, STS_SEV_ERROR, "B2", NULL)->col, 8);
	done(&x);

	/* no space after ':' and trailing WSP are fine */
	parse(&x, "version:STSv1 \t\nmode:\tenforce\nmx:  a.example  \nmax_age:86400\t\n");
	assert_int_equal(x.r, STS_OK);
	assert_string_equal(x.pol.mx[0], "a.example");
	assert_int_equal(x.pol.mode, STS_MODE_ENFORCE);
	done(&x);
}

static void test_blank_lines(void **state)
{
	struct res x;
	parse(&x, "version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 86400\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B2", "blank line");
	assert_int_equal(find(&x, STS_SEV_ERROR, "B2", NULL)->line, 2);
	assert_int_equal(x.pol.mode, STS_MODE_ENFORCE); /* the rest still parsed */
	done(&x);

	parse(&x, HEAD "max_age: 86400\n\n");
	assert_error(&x, "B2", "blank line");
	done(&x);

	parse(&x, HEAD "max_age: 86400\r\n\r\n");
	assert_error(&x, "B2", "blank line");
	done(&x);

	parse(&x, "\n" HEAD "max_age: 86400\n");
	assert_error(&x, "B2", "blank line");
	done(&x);
}

/* B3: keys and values are case-sensitive. */
static void test_case_sensitive(void **state)
{
	struct res x;
	parse(&x, "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 86400\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B5", "Enforce");
	assert_int_equal(x.pol.mode, STS_MODE_INVALID);
	assert_int_equal(find(&x, STS_SEV_ERROR, "B5", NULL)->line, 2);
	done(&x);

	parse(&x, "version: STSv1\nMode: enforce\nmx: a.example\nmax_age: 86400\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B5", "missing 'mode'");
	assert_error(&x, "B5", "'Mode' on line 2");
	assert_int_equal(x.pol.mode, STS_MODE_INVALID);
	assert_int_equal(x.pol.n_ext, 1);
	assert_string_equal(x.pol.ext[0].key, "Mode");
	assert_string_equal(x.pol.ext[0].value, "enforce");
	done(&x);

	parse(&x, "version: stsv1\nmode: enforce\nmx: a.example\nmax_age: 86400\n");
	assert_error(&x, "B4", "stsv1");
	assert_null(x.pol.version);
	done(&x);

	parse(&x, "Version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 86400\n");
	assert_error(&x, "B4", "missing");
	done(&x);

	parse(&x, "version: STSv1\nmode: enforce\nMX: a.example\nmax_age: 86400\n");
	assert_error(&x, "B7", "missing 'mx'");
	done(&x);
}

static void test_required(void **state)
{
	struct res x;
	parse(&x, "mode: enforce\nmx: a.example\nmax_age: 86400\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B4", "missing");
	done(&x);

	parse(&x, "version: STSv1\nmx: a.example\nmax_age: 86400\n");
	assert_error(&x, "B5", "missing");
	done(&x);

	parse(&x, HEAD);
	assert_error(&x, "B6", "missing");
	assert_int_equal(x.pol.max_age, -1);
	done(&x);

	parse(&x, "version: STSv1\nmode: testing\nmax_age: 86400\n");
	assert_error(&x, "B7", "missing");
	done(&x);

	parse(&x, "");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B2", "empty");
	assert_error(&x, "B4", NULL);
	assert_error(&x, "B5", NULL);
	assert_error(&x, "B6", NULL);
	done(&x);

	/* diags may be NULL */
	struct sts_policy p;
	assert_int_equal(sts_policy_parse("mode: none\n", 11, &p, NULL), STS_EINVALID);
	assert_int_equal(p.mode, STS_MODE_NONE);
	sts_policy_release(&p);
	assert_int_equal(sts_policy_parse(HEAD "max_age: 1\n", strlen(HEAD) + 11, &p, NULL),
			 STS_OK);
	sts_policy_release(&p);
}

/* B7 / B12: mx optional only with mode none, and then a warning. */
static void test_mode_none(void **state)
{
	struct res x;
	parse(&x, "version: STSv1\nmode: none\nmax_age: 86400\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.pol.mode, STS_MODE_NONE);
	assert_int_equal(x.pol.n_mx, 0);
	assert_warning(&x, "B12", "mode: none");
	done(&x);

	parse(&x, "version: STSv1\nmode: none\nmx: a.example\nmax_age: 86400\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.d.n, 0);
	done(&x);
}

static void test_max_age(void **state)
{
	struct res x;
	parse(&x, HEAD "max_age: 31557600\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.pol.max_age, 31557600);
	assert_int_equal(x.d.n, 0);
	done(&x);

	parse(&x, HEAD "max_age: 31557601\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B6", "31557600");
	assert_int_equal(x.pol.max_age, -1);
	done(&x);

	/* 10 digits: grammatical, over the maximum */
	parse(&x, HEAD "max_age: 9999999999\n");
	assert_error(&x, "B6", "exceeds");
	done(&x);

	/* 10 digits with leading zeros: grammatical and in range */
	parse(&x, HEAD "max_age: 0000604800\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.pol.max_age, 604800);
	done(&x);

	/* 11 digits: not grammatical */
	parse(&x, HEAD "max_age: 00000604800\n");
	assert_error(&x, "B6", "1 to 10 digits");
	done(&x);

	/* 0: valid, with a warning */
	parse(&x, HEAD "max_age: 0\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.pol.max_age, 0);
	assert_warning(&x, "B13", "0");
	assert_int_equal(x.d.n_errors, 0);
	done(&x);

	parse(&x, HEAD "max_age: 3600\n");
	assert_int_equal(x.r, STS_OK);
	assert_warning(&x, "B6", "under one day");
	done(&x);

	const char *bad[] = {"-1", "+86400", "86400s", "8.64e4", "", "1 2", "0x10"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[128];
		snprintf(buf, sizeof(buf), HEAD "max_age: %s\n", bad[i]);
		parse(&x, buf);
		assert_int_equal(x.r, STS_EINVALID);
		assert_error(&x, "B6", NULL);
		done(&x);
	}
}

/* B9: first wins for every key but mx. */
static void test_duplicates(void **state)
{
	struct res x;
	parse(&x, "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\n"
		  "max_age: 86400\nmax_age: 604800\nmx: b.example\nfoo: 1\nfoo: 2\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.pol.mode, STS_MODE_TESTING);
	assert_int_equal(x.pol.max_age, 86400);
	assert_int_equal(x.pol.n_mx, 2);
	assert_string_equal(x.pol.mx[1], "b.example");
	assert_int_equal(x.pol.n_ext, 1);
	assert_string_equal(x.pol.ext[0].value, "1");
	assert_warning(&x, "B9", "duplicate key 'mode': first wins");
	assert_warning(&x, "B9", "duplicate key 'max_age': first wins");
	assert_warning(&x, "B9", "duplicate key 'foo': first wins");
	assert_int_equal(find(&x, STS_SEV_WARNING, "B9", "'mode'")->line, 3);
	assert_int_equal(x.d.n_warnings, 3);
	done(&x);

	/* first wins even when the later one is invalid */
	parse(&x, HEAD "max_age: 86400\nmax_age: bogus\nversion: STSv2\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.pol.max_age, 86400);
	assert_string_equal(x.pol.version, "STSv1");
	assert_warning(&x, "B9", "'version'");
	done(&x);

	/* and an invalid first is not rescued by a later valid one */
	parse(&x, "version: STSv1\nmode: Enforce\nmode: enforce\nmx: a.example\nmax_age: 1\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_int_equal(x.pol.mode, STS_MODE_INVALID);
	done(&x);
}

static void test_mx_values(void **state)
{
	struct res x;
	parse(&x, "version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmx: *.*.example\n"
		  "mx: mail.example.com.\nmx: b\xc3\xbc"
		  "cher.example\nmx: ok.example\nmax_age: 86400\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B7", "IP address");
	assert_error(&x, "B7", "'*'");
	assert_error(&x, "B7", "trailing dot");
	assert_error(&x, "B7", "A-label");
	assert_int_equal(find(&x, STS_SEV_ERROR, "B7", "A-label")->line, 6);
	assert_int_equal(x.pol.n_mx, 1);
	assert_string_equal(x.pol.mx[0], "ok.example");
	done(&x);

	parse(&x, "version: STSv1\nmode: enforce\nmx:\nmax_age: 86400\n");
	assert_error(&x, "B7", "empty");
	done(&x);
}

/* B8: extension names and values. */
static void test_extensions(void **state)
{
	struct res x;
	parse(&x, HEAD "max_age: 86400\nx-note: caf\xc3\xa9 au lait \xe2\x82\xac\xf0\x9f\x93\xa7\n"
		       "a.b_c-d: v\n");
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(x.pol.n_ext, 2);
	assert_string_equal(x.pol.ext[0].key, "x-note");
	assert_string_equal(x.pol.ext[0].value, "caf\xc3\xa9 au lait \xe2\x82\xac\xf0\x9f\x93\xa7");
	done(&x);

	/* 32-character name ok, 33 not */
	parse(&x, HEAD "max_age: 1\nabcdefghijabcdefghijabcdefghij12: v\n");
	assert_int_equal(x.r, STS_OK);
	done(&x);
	parse(&x, HEAD "max_age: 1\nabcdefghijabcdefghijabcdefghij123: v\n");
	assert_error(&x, "B8", "invalid field name");
	done(&x);

	const char *bad[] = {
	    "_x: v",		   /* must start alnum */
	    "x y: v",		   /* space in name */
	    ": v",		   /* empty name */
	    "x: ",		   /* empty value */
	    "x: a\tb",		   /* tab inside */
	    "x: a\x01z",	   /* CTL */
	    "x: a\x7f",		   /* DEL */
	    "x: \xc3",		   /* truncated UTF-8 */
	    "x: \xc0\xaf",	   /* overlong */
	    "x: \xed\xa0\x80",	   /* surrogate */
	    "x: \xf4\x90\x80\x80", /* > U+10FFFF */
	    "x: \xff",
	    "no colon here",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[256];
		snprintf(buf, sizeof(buf), HEAD "max_age: 1\n%s\n", bad[i]);
		parse(&x, buf);
		if (x.r != STS_EINVALID)
			fail_msg("accepted extension line '%s'", bad[i]);
		assert_int_equal(x.d.n_errors, 1);
		assert_int_equal(x.d.v[x.d.n - 1].line, 5);
		done(&x);
	}

	/* a byte order mark makes the first key unknown */
	parse(&x, "\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 86400\n");
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B8", "byte order mark");
	assert_error(&x, "B4", "missing");
	done(&x);

	/* NUL byte in a value */
	const char nul[] = HEAD "max_age: 1\nx: a\0b\n";
	parse_n(&x, nul, sizeof(nul) - 1);
	assert_int_equal(x.r, STS_EINVALID);
	assert_error(&x, "B8", "\\x00");
	done(&x);
}

static void test_oversize(void **state)
{
	struct res x;
	size_t n = STS_CAP_POLICY + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, 'a', n);
	parse_n(&x, big, n);
	assert_int_equal(x.r, STS_ETOOLARGE);
	assert_error(&x, "P6", "larger");
	done(&x);

	/* exactly the cap is parsed (here: valid head plus one long extension) */
	size_t head = strlen(HEAD "max_age: 1\nx: ");
	memcpy(big, HEAD "max_age: 1\nx: ", head);
	big[STS_CAP_POLICY - 1] = '\n';
	parse_n(&x, big, STS_CAP_POLICY);
	assert_int_equal(x.r, STS_OK);
	assert_int_equal(strlen(x.pol.ext[0].value), STS_CAP_POLICY - head - 1);
	done(&x);
	free(big);
}

static void test_modes(void **state)
{
	assert_string_equal(sts_mode_name(STS_MODE_NONE), "none");
	assert_string_equal(sts_mode_name(STS_MODE_TESTING), "testing");
	assert_string_equal(sts_mode_name(STS_MODE_ENFORCE), "enforce");
	assert_null(sts_mode_name(STS_MODE_INVALID));
	assert_null(sts_mode_name(_STS_MODE_MAX));
	assert_int_equal(sts_mode_from_string("enforce"), STS_MODE_ENFORCE);
	assert_int_equal(sts_mode_from_string("testing"), STS_MODE_TESTING);
	assert_int_equal(sts_mode_from_string("none"), STS_MODE_NONE);
	assert_int_equal(sts_mode_from_string("Enforce"), STS_MODE_INVALID);
	assert_int_equal(sts_mode_from_string("enforce "), STS_MODE_INVALID);
	assert_int_equal(sts_mode_from_string(""), STS_MODE_INVALID);
	assert_int_equal(sts_mode_from_string(NULL), STS_MODE_INVALID);
}

static void test_init_release(void **state)
{
	struct sts_policy p;
	sts_policy_init(&p);
	assert_null(p.version);
	assert_int_equal(p.mode, STS_MODE_INVALID);
	assert_int_equal(p.max_age, -1);
	assert_int_equal(p.n_mx, 0);
	sts_policy_release(&p);
	sts_policy_release(&p); /* twice is fine */
	sts_policy_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc_example),	 cmocka_unit_test(test_appendix_a),
	    cmocka_unit_test(test_line_endings), cmocka_unit_test(test_whitespace),
	    cmocka_unit_test(test_blank_lines),	 cmocka_unit_test(test_case_sensitive),
	    cmocka_unit_test(test_required),	 cmocka_unit_test(test_mode_none),
	    cmocka_unit_test(test_max_age),	 cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_mx_values),	 cmocka_unit_test(test_extensions),
	    cmocka_unit_test(test_oversize),	 cmocka_unit_test(test_modes),
	    cmocka_unit_test(test_init_release),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
