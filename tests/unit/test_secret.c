/* SPDX-License-Identifier: MIT */
/* Secret references ${env:NAME} / ${file:PATH} (core/sts_secret.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_secret.h"

static char dir[] = "/tmp/sts-test-secret-XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static const char *const files[] = {"lf", "crlf", "two", "cr", "none", "empty", "max", "over"};

static int teardown(void **state)
{
	char path[256];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	return rmdir(dir);
}

static void put(const char *name, const void *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(sts_write_atomic(path, data, len, 0600, false), STS_OK);
}

static void test_is_ref(void **state)
{
	assert_true(sts_secret_is_ref("${env:X}"));
	assert_true(sts_secret_is_ref("${file:/run/x}"));
	assert_true(sts_secret_is_ref("${env:")); /* a reference, if a broken one */
	assert_false(sts_secret_is_ref("${ENV:X}"));
	assert_false(sts_secret_is_ref("x${env:X}"));
	assert_false(sts_secret_is_ref("$env:X"));
	assert_false(sts_secret_is_ref(""));
	assert_false(sts_secret_is_ref(NULL));
}

static void test_check(void **state)
{
	static const char *const good[] = {"${env:A}",
					   "${env:API_TOKEN_2}",
					   "${env:_x}",
					   "${file:/etc/stsctl/key}",
					   "${file:keys/a b.txt}",
					   "${file:c:\\x}"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why = NULL;
		if (sts_secret_check(good[i], &why) != STS_OK)
			fail_msg("'%s' refused: %s", good[i], why);
	}
	static const struct {
		const char *ref;
		const char *why;
	} bad[] = {
	    {"${vault:x}", "not a secret reference: write ${env:NAME} or ${file:PATH}"},
	    {"plain", "not a secret reference: write ${env:NAME} or ${file:PATH}"},
	    {NULL, "not a secret reference: write ${env:NAME} or ${file:PATH}"},
	    {"${env:}", "secret reference must end with '}' and name a variable or file"},
	    {"${file:}", "secret reference must end with '}' and name a variable or file"},
	    {"${env:ABC", "secret reference must end with '}' and name a variable or file"},
	    {"${env:A}x", "secret reference must end with '}' and name a variable or file"},
	    {"${file:a}b}", "invalid character in secret reference"},
	    {"${file:a\nb}", "invalid character in secret reference"},
	    {"${env:A-B}", "environment variable names are letters, digits and '_'"},
	    {"${env:A B}", "environment variable names are letters, digits and '_'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		assert_int_equal(sts_secret_check(bad[i].ref, &why), STS_EINVALID);
		assert_string_equal(why, bad[i].why);
	}
}

static void test_resolve_env(void **state)
{
	struct sts_secret *s = NULL;
	const char *why = NULL;
	setenv("STS_TEST_SECRET", "hunter2", 1);
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_SECRET}", NULL, &s, &why), STS_OK);
	assert_string_equal(sts_secret_value(s), "hunter2");
	assert_int_equal(sts_secret_len(s), 7);
	sts_secret_free(s);

	setenv("STS_TEST_EMPTY", "", 1);
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_EMPTY}", NULL, &s, &why), STS_OK);
	assert_int_equal(sts_secret_len(s), 0);
	sts_secret_free(s);

	s = NULL;
	unsetenv("STS_TEST_UNSET");
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_UNSET}", NULL, &s, &why), STS_ESECRET);
	assert_string_equal(why, "environment variable is not set");
	assert_null(s);

	char *big = malloc(64 * 1024 + 2);
	memset(big, 'x', 64 * 1024 + 1);
	big[64 * 1024 + 1] = '\0';
	setenv("STS_TEST_BIG", big, 1);
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_BIG}", NULL, &s, &why), STS_ESECRET);
	assert_string_equal(why, "secret is larger than 64 KiB");
	big[64 * 1024] = '\0';
	setenv("STS_TEST_BIG", big, 1);
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_BIG}", NULL, &s, &why), STS_OK);
	assert_int_equal(sts_secret_len(s), 64 * 1024);
	sts_secret_free(s);
	free(big);

	assert_int_equal(sts_secret_resolve("${env:A-B}", NULL, &s, &why), STS_ESECRET);
	assert_string_equal(why, "environment variable names are letters, digits and '_'");
	sts_secret_free(NULL);
}

static void test_resolve_file(void **state)
{
	struct sts_secret *s = NULL;
	const char *why = NULL;
	char ref[512];
	put("lf", "k3y\n", 4);
	put("crlf", "k3y\r\n", 5);
	put("two", "k3y\n\n", 5);
	put("cr", "k3y\r", 4);
	put("none", "k3y", 3);
	put("empty", "", 0);

	/* relative to basedir; one trailing LF or CRLF dropped */
	static const struct {
		const char *name;
		const char *value;
	} cases[] = {
	    {"lf", "k3y"},   {"crlf", "k3y"}, {"two", "k3y\n"},
	    {"cr", "k3y\r"}, {"none", "k3y"}, {"empty", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(ref, sizeof(ref), "${file:%s}", cases[i].name);
		assert_int_equal(sts_secret_resolve(ref, dir, &s, &why), STS_OK);
		assert_int_equal(sts_secret_len(s), strlen(cases[i].value));
		assert_memory_equal(sts_secret_value(s), cases[i].value, strlen(cases[i].value));
		assert_int_equal(sts_secret_value(s)[sts_secret_len(s)], '\0');
		sts_secret_free(s);
	}

	/* absolute paths ignore basedir */
	snprintf(ref, sizeof(ref), "${file:%s/lf}", dir);
	assert_int_equal(sts_secret_resolve(ref, "/nonexistent", &s, &why), STS_OK);
	assert_string_equal(sts_secret_value(s), "k3y");
	sts_secret_free(s);

	/* 64 KiB fits, one byte more does not */
	char *big = malloc(64 * 1024 + 1);
	memset(big, 'y', 64 * 1024 + 1);
	put("max", big, 64 * 1024);
	put("over", big, 64 * 1024 + 1);
	free(big);
	assert_int_equal(sts_secret_resolve("${file:max}", dir, &s, &why), STS_OK);
	assert_int_equal(sts_secret_len(s), 64 * 1024);
	sts_secret_free(s);
	s = NULL;
	assert_int_equal(sts_secret_resolve("${file:over}", dir, &s, &why), STS_ESECRET);
	assert_string_equal(why, "secret file is larger than 64 KiB");
	assert_null(s);

	/* messages never carry a path or a value */
	assert_int_equal(sts_secret_resolve("${file:missing}", dir, &s, &why), STS_ESECRET);
	assert_string_equal(why, "secret file cannot be read");
	assert_int_equal(sts_secret_resolve("${file:.}", dir, &s, &why), STS_ESECRET);
	assert_string_equal(why, "secret file cannot be read");
	assert_int_equal(sts_secret_resolve("${file:x", dir, &s, &why), STS_ESECRET);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_is_ref),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_resolve_env),
	    cmocka_unit_test(test_resolve_file),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, setup, teardown);
}
