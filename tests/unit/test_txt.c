/* SPDX-License-Identifier: MIT */
/*
 * The TXT codec (core/rfc/sts_txt.c): splitting at 255 octets, the
 * presentation format written (byte for byte what render's zone fragments
 * hold) and read back, its errors, and round trips over every octet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_err.h"
#include "sts_txt.h"

static void presentation(const char *value, struct sts_buf *out)
{
	sts_buf_reset(out);
	assert_int_equal(sts_txt_encode_buf(value, strlen(value), out), STS_OK);
}

static void test_encode(void **state)
{
	(void)state;
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	presentation("v=STSv1; id=abc;", &b);
	assert_string_equal(sts_buf_str(&b), "\"v=STSv1; id=abc;\"");
	presentation("", &b);
	assert_string_equal(sts_buf_str(&b), "\"\"");
	presentation("q\"b\\s\tc\x7f\xc3\xa9", &b);
	assert_string_equal(sts_buf_str(&b), "\"q\\\"b\\\\s\\009c\\127\\195\\169\"");
	char v[600];
	/* exactly 255 octets: one string; 256: 255 + 1 */
	memset(v, 'x', sizeof(v));
	v[255] = '\0';
	presentation(v, &b);
	assert_int_equal(b.len, 257);
	assert_null(strchr(sts_buf_str(&b), ' '));
	v[255] = 'y';
	v[256] = '\0';
	presentation(v, &b);
	assert_int_equal(b.len, 257 + 1 + 3);
	assert_string_equal(sts_buf_str(&b) + 257, " \"y\"");
	/* 510 = 2 full strings, 511 = 3 strings */
	memset(v, 'x', sizeof(v));
	v[510] = '\0';
	presentation(v, &b);
	assert_int_equal(b.len, 2 * 257 + 1);
	v[510] = 'x';
	v[511] = '\0';
	presentation(v, &b);
	assert_int_equal(b.len, 2 * 257 + 1 + 1 + 3);
	/* escapes do not count towards the 255 octets; a split never cuts one */
	memset(v, '"', 256);
	v[256] = '\0';
	presentation(v, &b);
	assert_int_equal(b.len, 2 + 2 * 255 + 1 + 2 + 2);
	assert_string_equal(sts_buf_str(&b) + 1 + 2 * 255, "\" \"\\\"\"");
	sts_buf_release(&b);
}

static void test_encode_alloc(void **state)
{
	(void)state;
	char *s = NULL;
	size_t n = 0;
	assert_int_equal(sts_txt_encode("a\0b", 3, &s, &n), STS_OK);
	assert_string_equal(s, "\"a\\000b\"");
	assert_int_equal(n, 8);
	free(s);
	assert_int_equal(sts_txt_encode("", 0, &s, NULL), STS_OK);
	assert_string_equal(s, "\"\"");
	free(s);
}

static void test_split(void **state)
{
	(void)state;
	struct sts_txt_strings t;
	assert_int_equal(sts_txt_split("", 0, &t), STS_OK);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.len[0], 0);
	assert_string_equal(t.s[0], "");
	sts_txt_strings_release(&t);
	assert_int_equal(t.n, 0);
	sts_txt_strings_release(&t); /* twice is fine */
	sts_txt_strings_release(NULL);

	char v[600];
	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (char)('a' + i % 26);
	static const size_t lens[] = {1, 255, 256, 510, 511, 600};
	static const size_t want[] = {1, 1, 2, 2, 3, 3};
	for (size_t k = 0; k < 6; k++) {
		assert_int_equal(sts_txt_split(v, lens[k], &t), STS_OK);
		assert_int_equal(t.n, want[k]);
		size_t off = 0;
		for (size_t i = 0; i < t.n; i++) {
			assert_true(t.len[i] <= STS_TXT_STRING_MAX);
			assert_true(i + 1 == t.n || t.len[i] == STS_TXT_STRING_MAX);
			assert_memory_equal(t.s[i], v + off, t.len[i]);
			assert_int_equal(t.s[i][t.len[i]], '\0');
			off += t.len[i];
		}
		assert_int_equal(off, lens[k]);
		sts_txt_strings_release(&t);
	}
}

static void decode_ok(const char *text, const char *want, size_t want_len)
{
	char *v = NULL;
	size_t n = 0;
	struct sts_txt_error e = {0, NULL};
	int r = sts_txt_decode(text, strlen(text), &v, &n, &e);
	if (r != STS_OK)
		fail_msg("'%s': %s at %zu", text, e.msg, e.offset);
	assert_int_equal(n, want_len);
	assert_memory_equal(v, want, want_len);
	assert_int_equal(v[n], '\0');
	free(v);
}

static void decode_bad(const char *text, size_t len, size_t at, const char *msg)
{
	char *v = (char *)"untouched";
	size_t n = 7;
	struct sts_txt_error e = {0, NULL};
	assert_int_equal(sts_txt_decode(text, len, &v, &n, &e), STS_EPARSE);
	assert_string_equal(v, "untouched");
	assert_int_equal(n, 7);
	assert_non_null(e.msg);
	assert_non_null(strstr(e.msg, msg));
	assert_int_equal(e.offset, at);
	assert_int_equal(sts_txt_decode(text, len, &v, &n, NULL), STS_EPARSE); /* reterr optional */
}

static void test_decode(void **state)
{
	(void)state;
	decode_ok("", "", 0);
	decode_ok(" \t\r\n", "", 0);
	decode_ok("\"v=STSv1; id=1;\"", "v=STSv1; id=1;", 14);
	decode_ok("\"ab\" \"cd\"", "abcd", 4);
	decode_ok("  \"ab\"\t\"cd\"  ", "abcd", 4);
	decode_ok("\"ab\"\"cd\"", "abcd", 4);
	decode_ok("abc def", "abcdef", 6);
	decode_ok("abc\"def\"", "abcdef", 6); /* an unquoted string ends at a quote */
	decode_ok("\"\"", "", 0);
	decode_ok("\"q\\\"b\\\\s\\009c\\127\\195\\169\"", "q\"b\\s\tc\x7f\xc3\xa9", 10);
	decode_ok("a\\ b", "a b", 3);
	decode_ok("\"\\a\\;\"", "a;", 2);
	decode_ok("\"\\000\\255\"", "\0\xff", 2);
	decode_ok("\"caf\xc3\xa9\"", "caf\xc3\xa9", 5); /* UTF-8 as it is */
	decode_ok("\"\\0001\"",
		  "\0"
		  "1",
		  2); /* three digits, then a 1 */

	decode_bad("\"abc", 4, 0, "unterminated quoted string");
	decode_bad("\"ok\" \"abc", 9, 5, "unterminated quoted string");
	decode_bad("abc\\", 4, 3, "backslash at the end");
	decode_bad("\"\\25\"", 5, 1, "three decimal digits");
	decode_bad("\"\\2\"", 4, 1, "three decimal digits");
	decode_bad("\\25", 3, 0, "three decimal digits");
	decode_bad("\"\\256\"", 6, 1, "above 255");
	decode_bad("\"\\999\"", 6, 1, "above 255");

	/* 255 octets in one string is fine, 256 is not, quoted or not */
	char t[600];
	memset(t, 'x', sizeof(t));
	t[0] = '"';
	t[256] = '"';
	t[257] = '\0';
	decode_ok(t, t + 1, 255);
	t[256] = 'x';
	t[257] = '"';
	t[258] = '\0';
	decode_bad(t, 258, 0, "longer than 255 octets");
	memset(t, 'x', sizeof(t));
	decode_bad(t, 256, 0, "longer than 255 octets");
	t[255] = ' ';
	char *v = NULL;
	size_t n = 0;
	assert_int_equal(sts_txt_decode(t, 300, &v, &n, NULL), STS_OK);
	assert_int_equal(n, 299);
	free(v);
	/* escapes count as one octet each */
	char e[2 + 4 * 255 + 1];
	e[0] = '"';
	for (int i = 0; i < 255; i++)
		memcpy(e + 1 + 4 * i, "\\065", 4);
	e[1 + 4 * 255] = '"';
	e[2 + 4 * 255] = '\0';
	assert_int_equal(sts_txt_decode(e, strlen(e), &v, &n, NULL), STS_OK);
	assert_int_equal(n, 255);
	assert_int_equal(v[254], 'A');
	free(v);
	/* text with NUL octets: len counts, not strlen */
	decode_bad("\"a\0", 3, 0, "unterminated");
}

/* Every octet, every length around the 255 boundaries: decode(encode(v)) == v. */
static void test_round_trip(void **state)
{
	(void)state;
	unsigned char v[800];
	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (unsigned char)(i * 7 + 3);
	static const size_t lens[] = {0, 1, 254, 255, 256, 509, 510, 511, 765, 766, 800};
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		char *enc = NULL, *dec = NULL;
		size_t el = 0, dl = 0;
		assert_int_equal(sts_txt_encode(v, lens[k], &enc, &el), STS_OK);
		assert_int_equal(strlen(enc), el);
		for (size_t i = 0; i < el; i++) /* printable ASCII only */
			assert_true(enc[i] >= 0x20 && enc[i] < 0x7f);
		assert_int_equal(sts_txt_decode(enc, el, &dec, &dl, NULL), STS_OK);
		assert_int_equal(dl, lens[k]);
		assert_memory_equal(dec, v, dl);
		free(enc);
		free(dec);
	}
}

static void test_encode_cap(void **state)
{
	(void)state;
	struct sts_buf b;
	sts_buf_init(&b, 8);
	assert_int_equal(sts_txt_encode_buf("0123456789", 10, &b), STS_ETOOLARGE);
	sts_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode),     cmocka_unit_test(test_encode_alloc),
	    cmocka_unit_test(test_split),      cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_round_trip), cmocka_unit_test(test_encode_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
