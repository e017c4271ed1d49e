/* SPDX-License-Identifier: MIT */
/*
 * The reporter allow-list (core/rfc/sts_reporters.c): organisational domains
 * through the Public Suffix List, the built-in list adjusted by
 * reports.reporters and the names of trusted sources, and the inventory's
 * validation of those settings (positions, organisational domains only,
 * a name for every trusted source, the "evidence": "all" warning).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_diag.h"
#include "sts_err.h"
#include "sts_inventory.h"
#include "sts_reporters.h"

static void expect_org(const char *name, int want_r, const char *want)
{
	char *org = NULL;
	int r = sts_reporters_orgdomain(name, &org);
	if (r != want_r || (want && (!org || strcmp(org, want) != 0)))
		fail_msg("orgdomain('%s'): want %d '%s', got %d '%s'", name, want_r,
			 want ? want : "", r, org ? org : "");
	free(org);
}

static void test_orgdomain(void **state)
{
	(void)state;
	expect_org("google.com", STS_OK, "google.com");
	expect_org("mail.google.com", STS_OK, "google.com");
	expect_org("Corp.Mail.RU.", STS_OK, "mail.ru");
	expect_org("a.b.example.co.uk", STS_OK, "example.co.uk");
	expect_org("reporter-a.test", STS_OK, "reporter-a.test"); /* not in the list: '*' rule */
	expect_org("com", STS_EINVAL, NULL);			  /* a public suffix */
	expect_org("co.uk", STS_EINVAL, NULL);
	expect_org("", STS_EINVAL, NULL);
	expect_org("a..b.com", STS_EINVAL, NULL);
	expect_org("bad name.com", STS_EINVAL, NULL);
	expect_org(NULL, STS_EINVAL, NULL);
}

static void test_list(void **state)
{
	(void)state;
	struct sts_reporters *l = NULL;
	assert_int_equal(sts_reporters_from_json(NULL, &l), STS_OK);
	for (const struct sts_reporter_builtin *b = sts_reporters_builtin(); b->domain; b++) {
		assert_true(sts_reporters_has(l, b->domain));
		assert_non_null(b->source);
	}
	assert_true(sts_reporters_has(l, "Google.COM."));
	assert_false(sts_reporters_has(l, "attacker.example"));
	assert_false(sts_reporters_has(l, "mail.google.com")); /* identities are org domains */
	assert_false(sts_reporters_has(l, ""));
	assert_false(sts_reporters_has(l, NULL));
	sts_reporters_free(l);

	json_error_t je;
	json_t *j = json_loads(
	    "{\"reporters\": {\"add\": [\"reporter-a.test\"], \"remove\": [\"yahoo.com\"]},"
	    " \"sources\": [\"/x\", {\"source\": \"/y\", \"trusted\": true, \"name\": \"lab-mta\"},"
	    "  {\"source\": \"/z\", \"name\": \"not-trusted\"}],"
	    " \"https\": {\"trusted\": true, \"name\": \"proxy\"}}",
	    0, &je);
	assert_non_null(j);
	assert_int_equal(sts_reporters_from_json(j, &l), STS_OK);
	assert_true(sts_reporters_has(l, "reporter-a.test"));
	assert_false(sts_reporters_has(l, "yahoo.com"));
	assert_true(sts_reporters_has(l, "google.com"));
	assert_true(sts_reporters_has(l, "lab-mta"));
	assert_true(sts_reporters_has(l, "proxy"));
	assert_false(sts_reporters_has(l, "not-trusted"));
	size_t n = sts_reporters_count(l);
	assert_non_null(sts_reporters_get(l, n - 1));
	assert_null(sts_reporters_get(l, n));
	sts_reporters_free(l);
	json_decref(j);
	sts_reporters_free(NULL);
}

/* validate a "reports" section: the diagnostics */
static void validate(const char *reports, struct sts_diags *d)
{
	char text[2048];
	struct sts_inventory *inv = NULL;
	snprintf(text, sizeof(text), "{\"version\": 1,\n \"reports\": %s}", reports);
	sts_diags_init(d);
	sts_inventory_parse(text, strlen(text), "inv.json", &inv, d);
	sts_inventory_free(inv);
}

static void expect_diag(const struct sts_diags *d, enum sts_severity sev, const char *path,
			int line, const char *msg)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].severity == sev && d->v[i].path && strcmp(d->v[i].path, path) == 0 &&
		    (int)d->v[i].line == line && strstr(d->v[i].message, msg))
			return;
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "# have: %s:%u: %s\n", d->v[i].path ? d->v[i].path : "",
			d->v[i].line, d->v[i].message);
	fail_msg("no diagnostic at %s (line %d): %s", path, line, msg);
}

static void test_validate(void **state)
{
	(void)state;
	struct sts_diags d;
	validate("{\"reporters\": {\"add\": [\"reporter-a.test\", \"mail.google.com\",\n"
		 " \"com\"], \"remove\": [\"nobody.example\"]}}",
		 &d);
	assert_int_equal(d.n_errors, 2);
	expect_diag(&d, STS_SEV_ERROR, "reports.reporters.add[1]", 2,
		    "'mail.google.com' is not an organisational domain: reports signed by it "
		    "count as 'google.com'");
	expect_diag(&d, STS_SEV_ERROR, "reports.reporters.add[2]", 3,
		    "'com' is not a domain name under a public suffix");
	expect_diag(&d, STS_SEV_WARNING, "reports.reporters.remove[0]", 3,
		    "'nobody.example' is not a built-in reporter");
	sts_diags_release(&d);

	validate("{\"reporters\": {\"drop\": []}}", &d);
	assert_int_equal(d.n_errors, 1);
	sts_diags_release(&d);

	/* a trusted source is one reporter: its name is required */
	validate(
	    "{\"sources\": [{\"source\": \"/srv/in\", \"trusted\": true},\n"
	    " {\"source\": \"/srv/ok\", \"trusted\": true, \"name\": \"lab-mta\"}],\n"
	    " \"https\": {\"listen\": \":8443\", \"cert\": \"c\", \"key\": \"k\", \"trusted\": "
	    "true}}",
	    &d);
	assert_int_equal(d.n_errors, 2);
	expect_diag(&d, STS_SEV_ERROR, "reports.sources[0]", 2, "a trusted source needs \"name\"");
	expect_diag(&d, STS_SEV_ERROR, "reports.https", 4, "a trusted source needs \"name\"");
	sts_diags_release(&d);

	validate("{\"evidence\": \"all\"}", &d);
	assert_int_equal(d.n_errors, 0);
	expect_diag(&d, STS_SEV_WARNING, "reports.evidence", 2, "a lab setting");
	sts_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_orgdomain),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
