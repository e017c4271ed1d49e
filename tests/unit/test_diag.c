/* SPDX-License-Identifier: MIT */
/* Diagnostics (core/base/sts_diag.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_diag.h"
#include "sts_err.h"

static void assert_format(const struct sts_diag *d, const char *want)
{
	struct sts_buf b;
	sts_buf_init(&b, 4096);
	assert_int_equal(sts_diag_format(d, &b), STS_OK);
	assert_string_equal(sts_buf_str(&b), want);
	sts_buf_release(&b);
}

static void test_format(void **state)
{
	struct sts_diags d;
	sts_diags_init(&d);
	assert_int_equal(sts_diags_add(&d, STS_SEV_ERROR, "B9", "inv.json", 3, 7,
				       "domains[3].mx[0]", "bad '%s'", "x"),
			 STS_OK);
	assert_int_equal(sts_diags_add(&d, STS_SEV_WARNING, NULL, NULL, 0, 0, NULL, "plain"),
			 STS_OK);
	assert_int_equal(sts_diags_add(&d, STS_SEV_INFO, "T4", NULL, 2, 5, NULL, "m"), STS_OK);
	assert_int_equal(sts_diags_add(&d, STS_SEV_ERROR, NULL, "f", 0, 0, "p", "m"), STS_OK);
	assert_int_equal(sts_diags_add(&d, STS_SEV_ERROR, NULL, "f", 4, 0, NULL, "m"), STS_OK);
	assert_int_equal(sts_diags_error(&d, "R3", "missing %s", "rua"), STS_OK);
	assert_int_equal(sts_diags_warn(&d, NULL, "w%d", 1), STS_OK);
	assert_int_equal(d.n, 7);
	assert_int_equal(d.n_errors, 4);
	assert_int_equal(d.n_warnings, 2);

	assert_format(&d.v[0], "inv.json:3:7: error: domains[3].mx[0]: [B9] bad 'x'");
	assert_format(&d.v[1], "warning: plain");
	assert_format(&d.v[2], "2:5: info: [T4] m");
	assert_format(&d.v[3], "f: error: p: m");
	/* an unknown column is left out */
	assert_format(&d.v[4], "f:4: error: m");
	assert_format(&d.v[5], "error: [R3] missing rua");
	assert_format(&d.v[6], "warning: w1");
	assert_string_equal(d.v[0].path, "domains[3].mx[0]");
	assert_null(d.v[1].rule);
	sts_diags_release(&d);
	assert_int_equal(d.n, 0);
	assert_null(d.v);
}

static void test_format_cap(void **state)
{
	struct sts_diags d;
	struct sts_buf b;
	sts_diags_init(&d);
	assert_int_equal(sts_diags_error(&d, "B1", "%s", "a long message"), STS_OK);
	sts_buf_init(&b, 8);
	assert_int_equal(sts_diag_format(&d.v[0], &b), STS_ETOOLARGE);
	sts_buf_release(&b);
	sts_diags_release(&d);
}

static void test_severity_name(void **state)
{
	assert_string_equal(sts_severity_name(STS_SEV_ERROR), "error");
	assert_string_equal(sts_severity_name(STS_SEV_WARNING), "warning");
	assert_string_equal(sts_severity_name(STS_SEV_INFO), "info");
	assert_string_equal(sts_severity_name((enum sts_severity)42), "unknown");
}

static void test_sort(void **state)
{
	struct sts_diags d;
	sts_diags_init(&d);
	sts_diags_add(&d, STS_SEV_ERROR, NULL, "b", 1, 1, NULL, "b1");
	sts_diags_add(&d, STS_SEV_ERROR, NULL, "a", 5, 2, NULL, "a5.2");
	sts_diags_add(&d, STS_SEV_ERROR, NULL, "a", 5, 1, NULL, "a5.1");
	sts_diags_add(&d, STS_SEV_ERROR, NULL, "a", 2, 9, NULL, "a2 first");
	sts_diags_add(&d, STS_SEV_WARNING, NULL, "a", 2, 9, NULL, "a2 second");
	sts_diags_add(&d, STS_SEV_ERROR, NULL, NULL, 3, 0, NULL, "nofile");
	sts_diags_sort(&d);
	const char *want[] = {"nofile", "a2 first", "a2 second", "a5.1", "a5.2", "b1"};
	assert_int_equal(d.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(d.v[i].message, want[i]);
	sts_diags_release(&d);

	/* empty and single lists */
	sts_diags_sort(&d);
	sts_diags_add(&d, STS_SEV_ERROR, NULL, NULL, 0, 0, NULL, "one");
	sts_diags_sort(&d);
	assert_string_equal(d.v[0].message, "one");
	sts_diags_release(&d);
}

static void test_max(void **state)
{
	struct sts_diags d;
	sts_diags_init(&d);
	d.max = 2;
	for (int i = 0; i < 5; i++)
		assert_int_equal(sts_diags_error(&d, NULL, "e%d", i), STS_OK);
	sts_diags_warn(&d, NULL, "w");
	assert_int_equal(d.n, 2);
	assert_int_equal(d.dropped, 4);
	assert_int_equal(d.n_errors, 5);
	assert_int_equal(d.n_warnings, 1);
	assert_string_equal(d.v[1].message, "e1");
	sts_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),	  cmocka_unit_test(test_format_cap),
	    cmocka_unit_test(test_severity_name), cmocka_unit_test(test_sort),
	    cmocka_unit_test(test_max),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
