/* SPDX-License-Identifier: MIT */
/* Hosted domains' labels (core/hosted/sts_hosted_label.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "state_fixture.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_hosted_label.h"
#include "sts_hosted_store.h"

/*
 * Vectors computed independently:
 *   python3 -c 'import hashlib, base64, sys
 *   print(base64.b32encode(hashlib.sha256(sys.argv[1].encode()).digest())
 *         .decode()[:26].lower())' example.com
 */
#define L_EXAMPLE   "un42n5xov642kxrxrqiyanhcou" /* example.com */
#define L_EXAMPLE_1 "4l7cntskj4uc537z5thmtvlaru" /* example.com#1 */
#define L_BUCHER    "s4gknnz6v4tdbjvy22vft4igim" /* xn--bcher-kva.example */

static void test_vectors(void **state)
{
	(void)state;
	char out[STS_HOSTED_LABEL_LEN + 1];
	assert_int_equal(sts_hosted_label("example.com", out), STS_OK);
	assert_string_equal(out, L_EXAMPLE);
	/* upper case, a trailing dot: the same name */
	assert_int_equal(sts_hosted_label("Example.COM.", out), STS_OK);
	assert_string_equal(out, L_EXAMPLE);
	/* a U-label hashes as its A-label */
	assert_int_equal(sts_hosted_label("b\xc3\xbc"
					  "cher.example",
					  out),
			 STS_OK);
	assert_string_equal(out, L_BUCHER);
	assert_int_equal(sts_hosted_label_nth("example.com", 1, out), STS_OK);
	assert_string_equal(out, L_EXAMPLE_1);
	assert_int_equal(strlen(out), 26);
	assert_int_equal(sts_hosted_label("bad..name", out), STS_EINVAL);
}

static struct sts_db *open_db(void)
{
	struct sts_db *db = NULL;
	assert_int_equal(state_fixture_open("hosted_label", ":memory:", 0, NULL, &db, NULL),
			 STS_OK);
	assert_int_equal(sts_hosted_schema(db), STS_OK);
	return db;
}

static void test_alloc(void **state)
{
	(void)state;
	struct sts_db *db = open_db();
	char label[STS_HOSTED_LABEL_LEN + 1];
	bool fresh = false, found = true;
	assert_int_equal(sts_hosted_label_get(db, "example.com", label, &found), STS_OK);
	assert_false(found);
	assert_int_equal(sts_hosted_label_alloc(db, "Example.com", 100, label, &fresh), STS_OK);
	assert_string_equal(label, L_EXAMPLE);
	assert_true(fresh);
	/* the stored one, not allocated again */
	assert_int_equal(sts_hosted_label_alloc(db, "example.com.", 200, label, &fresh), STS_OK);
	assert_string_equal(label, L_EXAMPLE);
	assert_false(fresh);
	assert_int_equal(sts_hosted_label_get(db, "EXAMPLE.com", label, &found), STS_OK);
	assert_true(found);
	assert_string_equal(label, L_EXAMPLE);
	sts_db_close(db);
}

static void test_collision(void **state)
{
	(void)state;
	struct sts_db *db = open_db();
	char label[STS_HOSTED_LABEL_LEN + 1];
	bool fresh = false;
	/* another domain already holds example.com's hash label */
	assert_int_equal(sts_db_execf(db,
				      "INSERT INTO hosted_domains (domain, label, since)"
				      " VALUES ('other.example', ?, 1)",
				      "t", L_EXAMPLE),
			 STS_OK);
	assert_int_equal(sts_hosted_label_alloc(db, "example.com", 100, label, &fresh), STS_OK);
	assert_string_equal(label, L_EXAMPLE_1);
	assert_true(fresh);
	/* every candidate taken: refused, nothing inserted */
	for (unsigned n = 1; n <= STS_HOSTED_LABEL_TRIES; n++) {
		char cand[STS_HOSTED_LABEL_LEN + 1];
		assert_int_equal(sts_hosted_label_nth("taken.example", n, cand), STS_OK);
		assert_int_equal(sts_db_execf(db,
					      "INSERT INTO hosted_domains (domain, label, since)"
					      " VALUES (?, ?, 1)",
					      "tt", cand, cand),
				 STS_OK);
	}
	assert_int_equal(sts_hosted_label("taken.example", label), STS_OK);
	assert_int_equal(sts_db_execf(db,
				      "INSERT INTO hosted_domains (domain, label, since)"
				      " VALUES ('x.example', ?, 1)",
				      "t", label),
			 STS_OK);
	assert_int_equal(sts_hosted_label_alloc(db, "taken.example", 100, label, NULL), STS_EEXIST);
	bool found = true;
	assert_int_equal(sts_hosted_label_get(db, "taken.example", label, &found), STS_OK);
	assert_false(found);
	sts_db_close(db);
}

static void test_no_table(void **state)
{
	(void)state;
	struct sts_db *db = NULL;
	char label[STS_HOSTED_LABEL_LEN + 1];
	bool found = true;
	assert_int_equal(state_fixture_open("hosted_label", ":memory:", 0, NULL, &db, NULL),
			 STS_OK);
	assert_int_equal(sts_hosted_label_get(db, "example.com", label, &found), STS_OK);
	assert_false(found);
	assert_int_equal(sts_hosted_label_alloc(db, "example.com", 1, label, NULL), STS_EDB);
	sts_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_alloc),
	    cmocka_unit_test(test_collision),
	    cmocka_unit_test(test_no_table),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
