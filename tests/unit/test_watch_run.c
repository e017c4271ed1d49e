/* SPDX-License-Identifier: MIT */
/* What stsctl watch does around a cycle (core/watch/sts_watch_run.c): the webhook document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_err.h"
#include "sts_watch_run.h"

static void test_webhook_doc(void **state)
{
	struct sts_watch_decision d[] = {
	    {.domain = "a.test",
	     .from = STS_STAGE_TESTING,
	     .to = STS_STAGE_ENFORCE,
	     .reason = "evidence",
	     .changed = true},
	    {.domain = "b.test",
	     .from = STS_STAGE_TESTING,
	     .to = STS_STAGE_TESTING,
	     .reason = "held"},
	    {.domain = "c.test",
	     .from = STS_STAGE_NONE,
	     .to = STS_STAGE_NONE,
	     .reason = "begin",
	     .err = STS_EPROVIDER,
	     .error = "apply failed"},
	};
	struct sts_watch_result res = {.decisions = d, .n = 3, .n_changed = 1, .n_failed = 1};
	size_t n = 99;
	json_t *doc = sts_watch_webhook_doc(&res, 1767268800, &n);
	assert_non_null(doc);
	assert_int_equal(n, 2); /* the held domain is left out, the failed one is not */
	char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(
	    s, "{\"source\":\"stsctl watch\",\"time\":\"2026-01-01T12:00:00Z\",\"decisions\":["
	       "{\"domain\":\"a.test\",\"from\":\"testing\",\"to\":\"enforce\",\"reason\":"
	       "\"evidence\"},{\"domain\":\"c.test\",\"from\":\"none\",\"to\":\"none\",\"reason\":"
	       "\"begin\",\"error\":\"apply failed\"}]}");
	free(s);
	json_decref(doc);

	/* nothing changed: nothing to send */
	res.n_changed = 0;
	n = 99;
	assert_null(sts_watch_webhook_doc(&res, 1767268800, &n));
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_webhook_doc),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
