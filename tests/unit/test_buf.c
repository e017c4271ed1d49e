/* SPDX-License-Identifier: MIT */
/* Bounded buffer (core/base/sts_buf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_err.h"

static void test_empty(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, 16);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal(sts_buf_str(&b), "");
	sts_buf_reset(&b); /* on an empty buffer */
	sts_buf_release(&b);
	sts_buf_release(&b);
	sts_buf_release(NULL);
}

static void test_append_cap(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, 8);
	assert_int_equal(sts_buf_puts(&b, "abcd"), STS_OK);
	assert_int_equal(sts_buf_append(&b, "efgh", 4), STS_OK);
	assert_int_equal(b.len, 8);
	assert_string_equal(sts_buf_str(&b), "abcdefgh");
	/* one more byte is over the cap; the buffer is unchanged */
	assert_int_equal(sts_buf_putc(&b, 'i'), STS_ETOOLARGE);
	assert_int_equal(b.len, 8);
	assert_string_equal(sts_buf_str(&b), "abcdefgh");
	assert_int_equal(sts_buf_append(&b, "", 0), STS_OK);
	sts_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(sts_buf_str(&b), "");
	assert_int_equal(sts_buf_append(&b, "123456789", 9), STS_ETOOLARGE);
	assert_int_equal(b.len, 0);
	/* a huge length does not wrap around */
	assert_int_equal(sts_buf_append(&b, "x", SIZE_MAX), STS_ETOOLARGE);
	sts_buf_release(&b);
}

static void test_growth(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, 100000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(sts_buf_putc(&b, (char)('a' + i % 26)), STS_OK);
	assert_int_equal(b.len, 10000);
	assert_int_equal(strlen(b.data), 10000);
	assert_int_equal(b.data[9999], 'a' + 9999 % 26);
	assert_true(b.cap > b.len);
	sts_buf_release(&b);
}

static void test_printf(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, 32);
	assert_int_equal(sts_buf_printf(&b, "%s=%d", "max_age", 86400), STS_OK);
	assert_int_equal(sts_buf_printf(&b, ";%c", 'x'), STS_OK);
	assert_string_equal(sts_buf_str(&b), "max_age=86400;x");
	assert_int_equal(b.len, 15);
	/* 15 + 17 = 32 fits exactly, one more does not */
	assert_int_equal(sts_buf_printf(&b, "%017d", 1), STS_OK);
	assert_int_equal(b.len, 32);
	assert_int_equal(sts_buf_printf(&b, "%d", 1), STS_ETOOLARGE);
	assert_int_equal(b.len, 32);
	assert_string_equal(sts_buf_str(&b), "max_age=86400;x00000000000000001");
	assert_int_equal(sts_buf_printf(&b, "%s", ""), STS_OK);
	sts_buf_release(&b);
}

static void test_steal(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, 64);
	assert_int_equal(sts_buf_puts(&b, "hello"), STS_OK);
	char *s = sts_buf_steal(&b);
	assert_string_equal(s, "hello");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 64); /* still usable */
	free(s);
	assert_int_equal(sts_buf_puts(&b, "again"), STS_OK);
	assert_string_equal(sts_buf_str(&b), "again");
	sts_buf_release(&b);

	/* stealing an empty buffer gives "" */
	sts_buf_init(&b, 64);
	s = sts_buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void test_read_file(void **state)
{
	char path[] = "/tmp/test_buf_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);

	struct sts_buf b;
	sts_buf_init(&b, 10);
	assert_int_equal(sts_buf_read_file(&b, path), STS_OK);
	assert_int_equal(b.len, 10);
	assert_string_equal(sts_buf_str(&b), "0123456789");
	sts_buf_release(&b);

	sts_buf_init(&b, 9);
	assert_int_equal(sts_buf_read_file(&b, path), STS_ETOOLARGE);
	sts_buf_release(&b);

	/* an empty file reads as "" with data set */
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	sts_buf_init(&b, 9);
	assert_int_equal(sts_buf_read_file(&b, path), STS_OK);
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	sts_buf_release(&b);
	unlink(path);

	sts_buf_init(&b, 9);
	assert_int_equal(sts_buf_read_file(&b, "/nonexistent/x"), STS_ENOENT);
	sts_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),  cmocka_unit_test(test_append_cap),
	    cmocka_unit_test(test_growth), cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_steal),  cmocka_unit_test(test_read_file),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
