/* SPDX-License-Identifier: MIT */
/* _mta-sts (docs/rfc-rules.md T1-T17) and _smtp._tls (R1-R11) TXT record parsers. */
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
#include "sts_record.h"

static struct sts_diags D;

static int sts(const char *text, struct sts_sts_record *rec)
{
	sts_diags_release(&D);
	return sts_sts_record_parse(text, strlen(text), rec, &D);
}

static int rpt(const char *text, struct sts_tlsrpt_record *rec)
{
	sts_diags_release(&D);
	return sts_tlsrpt_record_parse(text, strlen(text), rec, &D);
}

static const struct sts_diag *find(enum sts_severity sev, const char *rule, const char *part)
{
	for (size_t i = 0; i < D.n; i++) {
		const struct sts_diag *g = &D.v[i];
		if (g->severity == sev && g->rule && strcmp(g->rule, rule) == 0 &&
		    (!part || strstr(g->message, part)))
			return g;
	}
	return NULL;
}

static void dump(void)
{
	for (size_t i = 0; i < D.n; i++)
		fprintf(stderr, "# %u:%u %s [%s] %s\n", D.v[i].line, D.v[i].col,
			sts_severity_name(D.v[i].severity), D.v[i].rule, D.v[i].message);
}

#define assert_error(rule, part)                                                                   \
	do {                                                                                       \
		if (!find(STS_SEV_ERROR, rule, part)) {                                            \
			dump();                                                                    \
			fail_msg("no error %s '%s'", rule, part ? part : "");                      \
		}                                                                                  \
	} while (0)
#define assert_warning(rule, part)                                                                 \
	do {                                                                                       \
		if (!find(STS_SEV_WARNING, rule, part)) {                                          \
			dump();                                                                    \
			fail_msg("no warning %s '%s'", rule, part ? part : "");                    \
		}                                                                                  \
	} while (0)

static int teardown(void **state)
{
	sts_diags_release(&D);
	return 0;
}

/* ---- _mta-sts ---- */

static void test_sts_rfc_example(void **state)
{
	struct sts_sts_record r;
	assert_int_equal(sts("v=STSv1; id=20160831085700Z;", &r), STS_OK);
	assert_int_equal(D.n, 0);
	assert_string_equal(r.id, "20160831085700Z");
	assert_int_equal(r.n_ext, 0);
	sts_sts_record_release(&r);
}

static void test_sts_valid_forms(void **state)
{
	struct sts_sts_record r;
	const char *ok[] = {
	    "v=STSv1; id=x;",	      "v=STSv1; id=x",
	    "v=STSv1;id=x",	      "v=STSv1;\tid=x;\t",
	    "v=STSv1;  id=x  ;  ",    "v=STSv1; id=x; foo=bar",
	    "v=STSv1; foo=bar; id=x", "v=STSv1; id=12345678901234567890123456789012",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (sts(ok[i], &r) != STS_OK) {
			dump();
			fail_msg("rejected '%s'", ok[i]);
		}
		assert_non_null(r.id);
		assert_int_equal(D.n_warnings, 0);
		sts_sts_record_release(&r);
	}
	assert_int_equal(sts("v=STSv1; foo=bar; id=x", &r), STS_OK);
	assert_int_equal(r.n_ext, 1);
	assert_string_equal(r.ext[0].key, "foo");
	assert_string_equal(r.ext[0].value, "bar");
	sts_sts_record_release(&r);
}

static void test_sts_id(void **state)
{
	struct sts_sts_record r;
	assert_int_equal(sts("v=STSv1; id=123456789012345678901234567890123;", &r), STS_EINVALID);
	assert_error("T4", "1 to 32");
	assert_null(r.id);
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1; id=;", &r), STS_EINVALID);
	assert_error("T4", "empty id");
	sts_sts_record_release(&r);

	const char *bad[] = {"v=STSv1; id=2016-08-31;", "v=STSv1; id=a.b;", "v=STSv1; id=a_b;",
			     "v=STSv1; id=2016-08-31T08:57:00Z;", "v=STSv1; id=caf\xc3\xa9;"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sts(bad[i], &r), STS_EINVALID);
		assert_error("T4", "invalid id");
		assert_int_equal(find(STS_SEV_ERROR, "T4", NULL)->col, 10);
		sts_sts_record_release(&r);
	}

	/* ID= is an extension, so id is missing */
	assert_int_equal(sts("v=STSv1; ID=abc", &r), STS_EINVALID);
	assert_error("T4", "missing 'id='");
	assert_error("T4", "case-sensitive");
	assert_int_equal(r.n_ext, 1);
	assert_string_equal(r.ext[0].key, "ID");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1; foo=bar", &r), STS_EINVALID);
	assert_error("T4", "missing");
	sts_sts_record_release(&r);
}

static void test_sts_version(void **state)
{
	struct sts_sts_record r;
	assert_int_equal(sts("V=STSv1; id=x", &r), STS_EINVALID);
	assert_error("T3", "case-sensitive");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=stsv1; id=x", &r), STS_EINVALID);
	assert_error("T3", NULL);
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv12; id=x", &r), STS_EINVALID);
	assert_error("T6", "must begin");
	sts_sts_record_release(&r);

	assert_int_equal(sts("id=x; v=STSv1", &r), STS_EINVALID);
	assert_error("T6", "must begin");
	sts_sts_record_release(&r);

	assert_int_equal(sts(" v=STSv1; id=x", &r), STS_EINVALID);
	assert_error("T6", "whitespace");
	sts_sts_record_release(&r);

	assert_int_equal(sts("", &r), STS_EINVALID);
	assert_error("T6", "empty");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=TLSRPTv1; rua=mailto:a@b.example", &r), STS_EINVALID);
	assert_error("T6", NULL);
	sts_sts_record_release(&r);
}

static void test_sts_syntax(void **state)
{
	struct sts_sts_record r;
	assert_int_equal(sts("v=STSv1", &r), STS_EINVALID);
	assert_error("T10", "no field");
	assert_error("T4", "missing");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1;", &r), STS_EINVALID);
	assert_error("T10", "no field");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1;;id=x", &r), STS_EINVALID);
	assert_error("T10", ";;");
	assert_int_equal(find(STS_SEV_ERROR, "T10", NULL)->col, 9);
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1; id=x;; foo=1", &r), STS_EINVALID);
	assert_error("T10", ";;");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1; id=x;;", &r), STS_EINVALID);
	assert_error("T10", ";;");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1 id=x", &r), STS_EINVALID);
	assert_error("T10", "expected ';'");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1; id=x y", &r), STS_EINVALID);
	assert_error("T10", "expected ';'");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1; id=x ", &r), STS_EINVALID);
	assert_error("T10", "trailing whitespace");
	sts_sts_record_release(&r);
}

static void test_sts_ws_before_semicolon(void **state)
{
	struct sts_sts_record r;
	/* T12: grammatical, but warn */
	assert_int_equal(sts("v=STSv1 ; id=x", &r), STS_OK);
	assert_warning("T12", "v=STSv1;");
	assert_int_equal(find(STS_SEV_WARNING, "T12", NULL)->col, 8);
	assert_string_equal(r.id, "x");
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1\t;id=x", &r), STS_OK);
	assert_warning("T12", NULL);
	sts_sts_record_release(&r);

	/* only the first delimiter matters */
	assert_int_equal(sts("v=STSv1; id=x ; foo=1", &r), STS_OK);
	assert_int_equal(D.n, 0);
	sts_sts_record_release(&r);
}

static void test_sts_duplicates(void **state)
{
	struct sts_sts_record r;
	assert_int_equal(sts("v=STSv1; id=first; id=second;", &r), STS_OK);
	assert_string_equal(r.id, "first");
	assert_warning("T9", "duplicate key 'id': first wins");
	sts_sts_record_release(&r);

	/* first wins even if it is the invalid one */
	assert_int_equal(sts("v=STSv1; id=bad-id; id=good", &r), STS_EINVALID);
	assert_null(r.id);
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1; id=x; v=STSv1; foo=1; foo=2", &r), STS_OK);
	assert_warning("T9", "'v'");
	assert_warning("T9", "'foo'");
	assert_int_equal(r.n_ext, 1);
	assert_string_equal(r.ext[0].value, "1");
	sts_sts_record_release(&r);
}

static void test_sts_extensions(void **state)
{
	struct sts_sts_record r;
	const char *bad[] = {
	    "v=STSv1; id=x; foo",
	    "v=STSv1; id=x; foo=",
	    "v=STSv1; id=x; foo=a=b",
	    "v=STSv1; id=x; _foo=1",
	    "v=STSv1; id=x; abcdefghijabcdefghijabcdefghij123=1",
	    "v=STSv1; id=x; foo=\x01",
	    "v=STSv1; id=x; =1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sts(bad[i], &r) != STS_EINVALID)
			fail_msg("accepted '%s'", bad[i]);
		assert_error("T7", NULL);
		sts_sts_record_release(&r);
	}
	assert_int_equal(sts("v=STSv1; id=x; foo=caf\xc3\xa9", &r), STS_EINVALID);
	assert_error("T2", NULL);
	sts_sts_record_release(&r);

	assert_int_equal(sts("v=STSv1; id=x; abcdefghijabcdefghijabcdefghij12=!~:<>", &r), STS_OK);
	sts_sts_record_release(&r);
}

static void test_sts_oversize_and_nul(void **state)
{
	struct sts_sts_record r;
	size_t n = STS_CAP_POLICY + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, 'a', n);
	sts_diags_release(&D);
	assert_int_equal(sts_sts_record_parse(big, n, &r, &D), STS_ETOOLARGE);
	assert_error("T14", NULL);
	sts_sts_record_release(&r);
	free(big);

	const char nul[] = "v=STSv1; id=x\0y";
	sts_diags_release(&D);
	assert_int_equal(sts_sts_record_parse(nul, sizeof(nul) - 1, &r, &D), STS_EINVALID);
	sts_sts_record_release(&r);

	assert_int_equal(sts_sts_record_parse("v=STSv1; id=x", 13, &r, NULL), STS_OK);
	sts_sts_record_release(&r);
	sts_sts_record_release(NULL);
}

/* ---- _smtp._tls ---- */

static void test_rpt_rfc_examples(void **state)
{
	struct sts_tlsrpt_record r;
	assert_int_equal(rpt("v=TLSRPTv1;rua=mailto:reports@example.com", &r), STS_OK);
	assert_int_equal(D.n, 0);
	assert_int_equal(r.n_rua, 1);
	assert_string_equal(r.rua[0], "mailto:reports@example.com");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", &r),
			 STS_OK);
	assert_int_equal(D.n, 0);
	assert_string_equal(r.rua[0], "https://reporting.example.com/v1/tlsrpt");
	sts_tlsrpt_record_release(&r);
}

static void test_rpt_two_uris(void **state)
{
	struct sts_tlsrpt_record r;
	const char *ok[] = {
	    "v=TLSRPTv1; rua=mailto:a@x.example,https://r.x.example/v1",
	    "v=TLSRPTv1; rua=mailto:a@x.example , https://r.x.example/v1;",
	    "v=TLSRPTv1; rua=mailto:a@x.example\t,\thttps://r.x.example/v1 ; ",
	};
	for (size_t i = 0; i < 3; i++) {
		if (rpt(ok[i], &r) != STS_OK) {
			dump();
			fail_msg("rejected '%s'", ok[i]);
		}
		assert_int_equal(r.n_rua, 2);
		assert_string_equal(r.rua[0], "mailto:a@x.example");
		assert_string_equal(r.rua[1], "https://r.x.example/v1");
		sts_tlsrpt_record_release(&r);
	}
}

static void test_rpt_bad_uris(void **state)
{
	struct sts_tlsrpt_record r;
	/* unencoded comma splits the URI */
	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a,b@x.example", &r), STS_EINVALID);
	assert_error("R4", "','");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a%2Cb@x.example", &r), STS_OK);
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a!b@x.example", &r), STS_EINVALID);
	assert_error("R4", "'!'");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; rua=http://r.example/x", &r), STS_EINVALID);
	assert_error("R3", "https");
	assert_int_equal(r.n_rua, 0);
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; rua=ftp://r.example/x", &r), STS_EINVALID);
	assert_error("R3", "scheme");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a@x.example,", &r), STS_EINVALID);
	assert_error("R3", "empty URI");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; rua=", &r), STS_EINVALID);
	assert_error("R3", "empty URI");
	sts_tlsrpt_record_release(&r);
}

static void test_rpt_missing_rua(void **state)
{
	struct sts_tlsrpt_record r;
	assert_int_equal(rpt("v=TLSRPTv1;", &r), STS_EINVALID);
	assert_error("R3", "missing 'rua='");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; foo=bar", &r), STS_EINVALID);
	assert_error("R3", "missing 'rua='");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; RUA=mailto:a@x.example", &r), STS_EINVALID);
	assert_error("R3", "case-sensitive");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1", &r), STS_EINVALID);
	assert_error("R3", "no field");
	sts_tlsrpt_record_release(&r);
}

static void test_rpt_version(void **state)
{
	struct sts_tlsrpt_record r;
	assert_int_equal(rpt("v=tlsrptv1; rua=mailto:a@x.example", &r), STS_EINVALID);
	assert_error("R2", "case-sensitive");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=STSv1; id=x", &r), STS_EINVALID);
	assert_error("R2", "must begin");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1 ; rua=mailto:a@x.example", &r), STS_OK);
	assert_warning("R7", NULL);
	sts_tlsrpt_record_release(&r);
}

static void test_rpt_duplicate_rua(void **state)
{
	struct sts_tlsrpt_record r;
	assert_int_equal(
	    rpt("v=TLSRPTv1 ; rua=mailto:x@x.example; rua=mailto:y@x.example,https://h.example/",
		&r),
	    STS_OK);
	assert_warning("R5", "'rua'");
	assert_int_equal(r.n_rua, 3);
	assert_string_equal(r.rua[0], "mailto:x@x.example");
	assert_string_equal(r.rua[1], "mailto:y@x.example");
	assert_string_equal(r.rua[2], "https://h.example/");
	sts_tlsrpt_record_release(&r);
}

static void test_rpt_extensions(void **state)
{
	struct sts_tlsrpt_record r;
	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a@x.example; ext=1; ext=2", &r), STS_OK);
	assert_int_equal(r.n_ext, 2);
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a@x.example; ext=a b", &r), STS_EINVALID);
	assert_error("R3", "expected ';'");
	sts_tlsrpt_record_release(&r);

	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a@x.example; -e=1", &r), STS_EINVALID);
	assert_error("R6", NULL);
	sts_tlsrpt_record_release(&r);
}

/* Found by fuzzing: an empty extension value at the very end of an
 * unterminated buffer was read one byte past the end (ASan/valgrind). */
static void test_empty_value_at_end(void **state)
{
	const char *t[] = {"v=TLSRPTv1;rua=mailto:a@x.example;foo=", "v=STSv1;id=x;foo="};
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(t[i]);
		char *exact = malloc(n);
		assert_non_null(exact);
		memcpy(exact, t[i], n);
		sts_diags_release(&D);
		if (i == 0) {
			struct sts_tlsrpt_record r;
			assert_int_equal(sts_tlsrpt_record_parse(exact, n, &r, &D), STS_EINVALID);
			sts_tlsrpt_record_release(&r);
			assert_error("R6", "empty value");
		} else {
			struct sts_sts_record r;
			assert_int_equal(sts_sts_record_parse(exact, n, &r, &D), STS_EINVALID);
			sts_sts_record_release(&r);
			assert_error("T7", "empty value");
		}
		free(exact);
	}
}

static void test_rua_check(void **state)
{
	const char *why;
	const char *ok[] = {"mailto:a@example.com",	   "MAILTO:a@example.com",
			    "https://r.example/v1/tlsrpt", "https://r.example:8443/a?b=c#d",
			    "mailto:a%21b@example.com",	   "mailto:a@example.com?subject=x"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		why = "unset";
		if (sts_rua_check(ok[i], &why) != STS_OK)
			fail_msg("rejected '%s': %s", ok[i], why);
	}
	const char *bad[] = {"",
			     "mailto:",
			     "mailto:@example.com",
			     "mailto:a@",
			     "mailto:a",
			     "https:",
			     "https://",
			     "https:///x",
			     "https:r.example",
			     "http://r.example/",
			     "ftp://r.example/",
			     "a@example.com",
			     "mailto:a,b@example.com",
			     "mailto:a;b@example.com",
			     "mailto:a!b@example.com",
			     "mailto:a b@example.com",
			     "mailto:a\x01@example.com",
			     "mailto:caf\xc3\xa9@example.com",
			     "mailto:a%2@example.com",
			     "mailto:a%zz@example.com",
			     "https://r.example/<x>",
			     "https://r.example/{x}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (sts_rua_check(bad[i], &why) != STS_EINVALID)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(sts_rua_check(NULL, NULL), STS_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_sts_rfc_example, teardown),
	    cmocka_unit_test_teardown(test_sts_valid_forms, teardown),
	    cmocka_unit_test_teardown(test_sts_id, teardown),
	    cmocka_unit_test_teardown(test_sts_version, teardown),
	    cmocka_unit_test_teardown(test_sts_syntax, teardown),
	    cmocka_unit_test_teardown(test_sts_ws_before_semicolon, teardown),
	    cmocka_unit_test_teardown(test_sts_duplicates, teardown),
	    cmocka_unit_test_teardown(test_sts_extensions, teardown),
	    cmocka_unit_test_teardown(test_sts_oversize_and_nul, teardown),
	    cmocka_unit_test_teardown(test_rpt_rfc_examples, teardown),
	    cmocka_unit_test_teardown(test_rpt_two_uris, teardown),
	    cmocka_unit_test_teardown(test_rpt_bad_uris, teardown),
	    cmocka_unit_test_teardown(test_rpt_missing_rua, teardown),
	    cmocka_unit_test_teardown(test_rpt_version, teardown),
	    cmocka_unit_test_teardown(test_rpt_duplicate_rua, teardown),
	    cmocka_unit_test_teardown(test_rpt_extensions, teardown),
	    cmocka_unit_test_teardown(test_empty_value_at_end, teardown),
	    cmocka_unit_test_teardown(test_rua_check, teardown),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
