/* SPDX-License-Identifier: MIT */
/*
 * The one escaping function for terminals and logs (core/base/sts_escape.c):
 * control bytes, C1 controls and invalid UTF-8 come out as visible text,
 * valid UTF-8 stays as it is, and a failed append leaves the buffer alone.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_escape.h"

static void expect(const char *in, size_t n, const char *want)
{
	struct sts_buf b;
	sts_buf_init(&b, 4096);
	assert_int_equal(sts_escape_append(&b, in, n), STS_OK);
	assert_string_equal(sts_buf_str(&b), want);
	bool same = strlen(want) == n && memcmp(in, want, n) == 0;
	assert_int_equal(sts_escape_needed(in, n), !same);
	sts_buf_release(&b);
}

/* a string literal with its exact length (NULs inside included) */
#define EXPECT(lit, want) expect(lit, sizeof(lit) - 1, want)

static void test_plain_text_unchanged(void **state)
{
	(void)state;
	EXPECT("", "");
	EXPECT("mx1.example.com", "mx1.example.com");
	EXPECT("back\\slash ~", "back\\slash ~");
	/* UTF-8: Latin, CJK, emoji */
	EXPECT("Gr\xc3\xbc\xc3\x9f \xe6\x97\xa5 \xf0\x9f\x93\xa7",
	       "Gr\xc3\xbc\xc3\x9f \xe6\x97\xa5 \xf0\x9f\x93\xa7");
	assert_false(sts_escape_needed("Gr\xc3\xbc\xc3\x9f", 6));
}

static void test_controls_escaped(void **state)
{
	(void)state;
	/* a forged journal entry: newline, then "<3>" */
	const char *forged = "/x\n<3>stsctl: error: FORGED";
	expect(forged, strlen(forged), "/x\\x0a<3>stsctl: error: FORGED");
	/* a terminal escape sequence (clear screen, set title) */
	EXPECT("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07");
	EXPECT("a\rb\tc\x7f", "a\\x0db\\x09c\\x7f");
	/* NUL inside the value is shown, not a terminator */
	EXPECT("a\0b", "a\\x00b");
	/* C1 CSI (U+009B) as UTF-8 */
	EXPECT("x\xc2\x9b"
	       "31m",
	       "x\\u009b31m");
	EXPECT("\xc2\x80\xc2\x9f\xc2\xa0", "\\u0080\\u009f\xc2\xa0");
	assert_true(sts_escape_needed("\x1b", 1));
}

static void test_invalid_utf8_escaped(void **state)
{
	(void)state;
	EXPECT("\x9b", "\\x9b"); /* 8-bit CSI */
	EXPECT("\xff\xfe", "\\xff\\xfe");
	EXPECT("\xc0\xaf", "\\xc0\\xaf");		    /* overlong '/' */
	EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80");	    /* a surrogate */
	EXPECT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
	EXPECT("ab\xe6\x97", "ab\\xe6\\x97");		    /* truncated at the end */
	EXPECT("\xe6z", "\\xe6z");
}

static void test_cap_leaves_buffer(void **state)
{
	(void)state;
	struct sts_buf b;
	sts_buf_init(&b, 8);
	assert_int_equal(sts_buf_puts(&b, "ab"), STS_OK);
	assert_int_equal(sts_escape_append(&b, "\x01\x02\x03", 3), STS_ETOOLARGE);
	assert_string_equal(sts_buf_str(&b), "ab");
	assert_int_equal(b.len, 2);
	assert_int_equal(sts_escape_append(&b, "c\x01", 2), STS_OK);
	assert_string_equal(sts_buf_str(&b), "abc\\x01");
	sts_buf_release(&b);
}

static void test_escape_str(void **state)
{
	(void)state;
	struct sts_buf tmp;
	sts_buf_init(&tmp, 16);
	const char *clean = "mx.example";
	assert_ptr_equal(sts_escape_str(&tmp, clean), clean); /* no copy when clean */
	assert_string_equal(sts_escape_str(&tmp, "a\x1b[2J"), "a\\x1b[2J");
	assert_string_equal(sts_escape_str(&tmp, "\x01\x02\x03\x04\x05"), "(unprintable)");
	sts_buf_release(&tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_text_unchanged), cmocka_unit_test(test_controls_escaped),
	    cmocka_unit_test(test_invalid_utf8_escaped), cmocka_unit_test(test_cap_leaves_buffer),
	    cmocka_unit_test(test_escape_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
