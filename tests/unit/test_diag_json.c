/* SPDX-License-Identifier: MIT */
/* The diagnostics JSON schema of lint --json and validate --json (core/base/sts_diag_json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_diag_json.h"
#include "sts_err.h"

static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(s);
	return s;
}

static void test_finding(void **state)
{
	struct sts_diags d;
	sts_diags_init(&d);
	assert_int_equal(
	    sts_diags_add(&d, STS_SEV_ERROR, "B7", "inv.json", 1, 25, "domains[0]", "no 'mx'"),
	    STS_OK);
	assert_int_equal(sts_diags_add(&d, STS_SEV_WARNING, NULL, NULL, 0, 0, NULL, "plain"),
			 STS_OK);
	json_t *e = sts_diags_json(&d, STS_SEV_ERROR), *w = sts_diags_json(&d, STS_SEV_WARNING),
	       *i = sts_diags_json(&d, STS_SEV_INFO);
	char *se = dump(e), *sw = dump(w), *si = dump(i);
	assert_string_equal(se, "[{\"file\":\"inv.json\",\"line\":1,\"column\":25,\"path\":"
				"\"domains[0]\",\"message\":\"no 'mx'\",\"rule\":\"B7\"}]");
	/* unknown file and path are null, no rule is no key */
	assert_string_equal(sw, "[{\"file\":null,\"line\":0,\"column\":0,\"path\":null,"
				"\"message\":\"plain\"}]");
	assert_string_equal(si, "[]");
	free(se);
	free(sw);
	free(si);
	json_decref(e);
	json_decref(w);
	json_decref(i);
	sts_diags_release(&d);
}

static void test_doc(void **state)
{
	struct sts_diags d;
	sts_diags_init(&d);
	d.max = 1;
	assert_int_equal(sts_diags_error(&d, "T4", "one"), STS_OK);
	assert_int_equal(sts_diags_error(&d, "T4", "two"), STS_OK); /* dropped */
	json_t *doc = sts_diags_json_doc(&d, false);
	assert_non_null(doc);
	char *s = dump(doc);
	assert_string_equal(s,
			    "{\"valid\":false,\"errors\":[{\"file\":null,\"line\":0,\"column\":0,"
			    "\"path\":null,\"message\":\"one\",\"rule\":\"T4\"}],\"warnings\":[],"
			    "\"info\":[],\"not_shown\":1}");
	free(s);
	json_decref(doc);
	sts_diags_release(&d);
}

static void test_not_utf8(void **state)
{
	json_t *j = sts_json_string_lossy("mx.ex\xff"
					  "ample.com");
	assert_non_null(j);
	assert_string_equal(json_string_value(j), "mx.ex\\xffample.com");
	json_decref(j);
	j = sts_json_string_lossy("\xc3\xb1");
	assert_string_equal(json_string_value(j), "\xc3\xb1");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_finding),
	    cmocka_unit_test(test_doc),
	    cmocka_unit_test(test_not_utf8),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
