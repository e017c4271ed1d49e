/* SPDX-License-Identifier: MIT */
/* JSON with positions (core/base/sts_jsonpos.c): tree, offsets, line:column, paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_err.h"
#include "sts_jsonpos.h"

/* line:column of a byte offset, as "L:C" */
static const char *lc(const char *text, size_t off)
{
	static char out[32];
	struct sts_jlines l;
	unsigned line, col;
	sts_jlines_init(&l, text, strlen(text));
	assert_int_equal(sts_jlines_pos(&l, off, &line, &col), STS_OK);
	sts_jlines_release(&l);
	snprintf(out, sizeof(out), "%u:%u", line, col);
	return out;
}

static void parse_ok(const char *text, struct sts_jdoc *doc)
{
	struct sts_jerr e;
	int r = sts_jdoc_parse(text, strlen(text), doc, &e);
	if (r != STS_OK)
		fail_msg("unexpected parse error at %u: %s", e.off, e.message);
}

/* Parse must fail: returns "L:C message [path]". */
static const char *parse_err(const char *text, size_t len)
{
	static char out[256];
	struct sts_jdoc doc;
	struct sts_jerr e;
	assert_int_equal(sts_jdoc_parse(text, len, &doc, &e), STS_EPARSE);
	struct sts_jlines l;
	unsigned line, col;
	sts_jlines_init(&l, text, len);
	assert_int_equal(sts_jlines_pos(&l, e.off, &line, &col), STS_OK);
	snprintf(out, sizeof(out), "%u:%u %s%s%s", line, col, e.message, e.path ? " @" : "",
		 e.path ? e.path : "");
	sts_jlines_release(&l);
	free(e.path);
	sts_jdoc_release(&doc);
	return out;
}

static void test_types_and_offsets(void **state)
{
	const char *t = "{\"a\": [1, -2, 3.5, true, false, null, \"s\"], \"b\": {}}";
	struct sts_jdoc doc;
	parse_ok(t, &doc);
	const struct sts_jval *r = &doc.root;
	assert_int_equal(r->type, STS_JOBJECT);
	assert_int_equal(r->off, 0);
	assert_int_equal(r->end, strlen(t));
	assert_int_equal(r->u.o.n, 2);
	const struct sts_jmember *a = sts_jobj_member(r, "a");
	assert_non_null(a);
	assert_int_equal(a->key_off, 1);
	assert_int_equal(a->val.off, 6);
	assert_int_equal(a->val.u.a.n, 7);
	const struct sts_jval *v = a->val.u.a.v;
	assert_int_equal(v[0].type, STS_JINT);
	assert_int_equal(v[0].u.i, 1);
	assert_int_equal(v[1].u.i, -2);
	assert_int_equal(v[1].off, 10);
	assert_int_equal(v[1].end, 12);
	assert_int_equal(v[2].type, STS_JREAL);
	assert_true(v[2].u.d == 3.5);
	assert_int_equal(v[3].type, STS_JTRUE);
	assert_int_equal(v[4].type, STS_JFALSE);
	assert_int_equal(v[5].type, STS_JNULL);
	assert_int_equal(v[6].type, STS_JSTRING);
	assert_string_equal(v[6].u.s.p, "s");
	assert_int_equal(v[6].off, 38);
	assert_int_equal(v[6].end, 41);
	const struct sts_jval *b = sts_jobj_get(r, "b");
	assert_int_equal(b->type, STS_JOBJECT);
	assert_int_equal(b->u.o.n, 0);
	assert_int_equal(b->off, 49);
	assert_null(sts_jobj_get(r, "c"));
	assert_null(sts_jobj_get(&v[0], "x")); /* not an object */
	assert_string_equal(sts_jtype_name(STS_JARRAY), "an array");
	sts_jdoc_release(&doc);
}

static void test_escapes_and_unicode(void **state)
{
	/* escapes decode; offsets and columns count bytes of the raw text */
	const char *t = "[\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\ud83d\\ude00\", \"b\xc3\xbc"
			"cher\", 7]";
	struct sts_jdoc doc;
	parse_ok(t, &doc);
	const struct sts_jval *v = doc.root.u.a.v;
	assert_string_equal(v[0].u.s.p, "q\"b\\s/\b\f\n\r\t");
	assert_int_equal(v[0].u.s.len, 11);
	assert_string_equal(v[1].u.s.p, "\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(v[1].u.s.len, 6);
	assert_string_equal(v[2].u.s.p, "b\xc3\xbc"
					"cher");
	/* the 7 after a two-byte character: column counts bytes */
	const char *seven = strchr(t, '7');
	assert_int_equal(v[3].off, (size_t)(seven - t));
	assert_string_equal(lc(t, v[3].off), "1:58");
	sts_jdoc_release(&doc);
}

static void test_crlf_tabs_nested(void **state)
{
	const char *t = "{\r\n\t\"a\": [[1,\r\n\t\t[2, [3]]]],\r\n  \"k\":\t\"v\"\r\n}\r\n";
	struct sts_jdoc doc;
	parse_ok(t, &doc);
	const struct sts_jval *a = sts_jobj_get(&doc.root, "a");
	const struct sts_jval *inner = &a->u.a.v[0];
	assert_string_equal(lc(t, a->off), "2:7");
	assert_string_equal(lc(t, inner->off), "2:8");
	assert_string_equal(lc(t, inner->u.a.v[0].off), "2:9");
	const struct sts_jval *two = &inner->u.a.v[1];
	assert_string_equal(lc(t, two->off), "3:3");
	assert_string_equal(lc(t, two->u.a.v[0].off), "3:4");
	const struct sts_jval *three = &two->u.a.v[1].u.a.v[0];
	assert_int_equal(three->u.i, 3);
	assert_string_equal(lc(t, three->off), "3:8");
	const struct sts_jmember *k = sts_jobj_member(&doc.root, "k");
	assert_string_equal(lc(t, k->key_off), "4:3");
	assert_string_equal(lc(t, k->val.off), "4:8");
	assert_string_equal(lc(t, doc.root.end - 1), "5:1");
	sts_jdoc_release(&doc);
}

static void test_lines(void **state)
{
	const char *t = "ab\ncd\r\n\nx";
	struct sts_jlines l;
	unsigned line, col;
	sts_jlines_init(&l, t, strlen(t));
	/* forward queries, then a backward one builds the index */
	const unsigned want[][3] = {{0, 1, 1}, {2, 1, 3},  {3, 2, 1}, {5, 2, 3}, {7, 3, 1},
				    {8, 4, 1}, {99, 4, 2}, {4, 2, 2}, {0, 1, 1}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(sts_jlines_pos(&l, want[i][0], &line, &col), STS_OK);
		assert_int_equal(line, want[i][1]);
		assert_int_equal(col, want[i][2]);
	}
	assert_non_null(l.starts);
	sts_jlines_release(&l);
	sts_jlines_release(&l);
}

static void test_syntax_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"", "1:1 empty input"},
	    {"  \n ", "2:2 empty input"},
	    {"{\"a\": 1,}", "1:9 expected a key in double quotes"},
	    {"[1, 2,]", "1:7 expected a value @[2]"},
	    {"{\"a\" 1}", "1:6 expected ':' after the key"},
	    {"{\"a\": 1 \"b\": 2}", "1:9 expected ',' or '}'"},
	    {"{\"a\": [1 2]}", "1:10 expected ',' or ']' @a"},
	    {"{\"a\": {\"b\": tru}}", "1:13 invalid literal (expected true, false or null) @a.b"},
	    {"{\"a\": \"x\n\"}", "1:9 string not closed before the end of the line @a"},
	    {"[\"a\tb\"]", "1:4 control character in string (escape it as \\u00XX) @[0]"},
	    {"[\"\\x\"]", "1:3 invalid escape in string @[0]"},
	    {"[\"\\u12\"]", "1:3 invalid \\u escape (four hex digits expected) @[0]"},
	    {"[\"\\ud800x\"]", "1:3 lone surrogate in \\u escape @[0]"},
	    {"[\"\\udc00\"]", "1:3 lone surrogate in \\u escape @[0]"},
	    {"[\"\\u0000\"]", "1:3 \\u0000 is not allowed in strings @[0]"},
	    {"[\"\xc3\"]", "1:3 invalid UTF-8 in string @[0]"},
	    {"[\"\xed\xa0\x80\"]", "1:3 invalid UTF-8 in string @[0]"},
	    {"[\"\xc0\xaf\"]", "1:3 invalid UTF-8 in string @[0]"},
	    {"[01]", "1:3 expected ',' or ']'"},
	    {"[1.]", "1:2 invalid number (digits expected after '.') @[0]"},
	    {"[1e+]", "1:2 invalid number (digits expected in the exponent) @[0]"},
	    {"[-]", "1:2 invalid number @[0]"},
	    {"[9223372036854775808]", "1:2 integer out of range @[0]"},
	    {"[1e999]", "1:2 number out of range @[0]"},
	    {"{} x", "1:4 unexpected data after the JSON document"},
	    {"{\"a\": [", "1:8 unexpected end of input @a[0]"},
	    {"\"abc", "1:5 unterminated string"},
	    {"\xef\xbb\xbf{}", "1:1 byte order mark at the start (save as UTF-8 without BOM)"},
	    {"{\"a\":\r\n  x}", "2:3 expected a value @a"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = parse_err(cases[i].text, strlen(cases[i].text));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
	}
	/* a NUL byte in the text is a control character, not the end */
	assert_string_equal(parse_err("[\"a\0\"]", 6), "1:4 control character in string (escape "
						       "it as \\u00XX) @[0]");
}

static void test_limits(void **state)
{
	struct sts_jdoc doc;
	/* extremes that fit */
	parse_ok("[-9223372036854775808, 9223372036854775807, 1e308, -0, 0.5e-3]", &doc);
	assert_true(doc.root.u.a.v[0].u.i == INT64_MIN);
	assert_true(doc.root.u.a.v[1].u.i == INT64_MAX);
	assert_int_equal(doc.root.u.a.v[3].type, STS_JINT);
	sts_jdoc_release(&doc);
	/* nesting: STS_JSON_MAX_DEPTH levels parse, one more does not */
	size_t n = STS_JSON_MAX_DEPTH + 1;
	char *deep = malloc(2 * n + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	const char *got = parse_err(deep, 2 * n);
	assert_int_equal(strncmp(got, "1:513 nesting too deep @[0][0][0]", 33), 0);
	deep[n - 1] = ' ';
	deep[n] = ' ';
	parse_ok(deep, &doc);
	sts_jdoc_release(&doc);
	free(deep);
}

static void test_duplicates(void **state)
{
	struct sts_jdoc doc;
	const char *t =
	    "{\"p\": {\"dns\": 1, \"web\": 2,\n \"dns\": 3}, \"q\": [{\"x\": 1, \"x\": 2}]}";
	parse_ok(t, &doc);
	assert_int_equal(doc.n_dups, 2);
	assert_string_equal(doc.dups[0].path, "p.dns");
	assert_string_equal(lc(t, doc.dups[0].key_off), "2:2");
	assert_string_equal(lc(t, doc.dups[0].first_off), "1:8");
	assert_string_equal(doc.dups[1].path, "q[0].x");
	/* the last one wins, as in jansson */
	assert_int_equal(sts_jobj_get(sts_jobj_get(&doc.root, "p"), "dns")->u.i, 3);
	sts_jdoc_release(&doc);

	/* a big object takes the hashed path; keys that need quoting in paths */
	char buf[4096];
	size_t o = 0;
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{\"my dns\": {");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"k%d\": %d, ", i, i);
	snprintf(buf + o, sizeof(buf) - o, "\"k7\": 0, \"a\\\"b\": 1, \"a\\\"b\": 2}}");
	parse_ok(buf, &doc);
	assert_int_equal(doc.n_dups, 2);
	assert_string_equal(doc.dups[0].path, "[\"my dns\"].k7");
	assert_string_equal(doc.dups[1].path, "[\"my dns\"][\"a\\\"b\"]");
	sts_jdoc_release(&doc);
}

static void test_paths(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, 1024);
	assert_int_equal(sts_jsonpath_key(&b, "domains", 7), STS_OK);
	assert_int_equal(sts_jsonpath_index(&b, 3), STS_OK);
	assert_int_equal(sts_jsonpath_key(&b, "mx", 2), STS_OK);
	assert_int_equal(sts_jsonpath_index(&b, 0), STS_OK);
	assert_string_equal(sts_buf_str(&b), "domains[3].mx[0]");
	sts_buf_reset(&b);
	sts_jsonpath_key(&b, "providers", 9);
	sts_jsonpath_key(&b, "dns-1_a", 7);
	sts_jsonpath_key(&b, "my dns", 6);
	sts_jsonpath_key(&b, "1x", 2);
	sts_jsonpath_key(&b, "", 0);
	sts_jsonpath_key(&b, "q\"\\\n", 4);
	sts_jsonpath_key(&b, "b\xc3\xbc", 3);
	assert_string_equal(sts_buf_str(&b), "providers.dns-1_a[\"my dns\"][\"1x\"][\"\"]"
					     "[\"q\\\"\\\\\\u000a\"][\"b\xc3\xbc\"]");
	sts_buf_reset(&b);
	sts_jsonpath_key(&b, "my dns", 6); /* first component: no dot either way */
	sts_jsonpath_key(&b, "x", 1);
	assert_string_equal(sts_buf_str(&b), "[\"my dns\"].x");
	sts_buf_release(&b);
}

static void test_arena(void **state)
{
	struct sts_arena a;
	sts_arena_init(&a);
	char *small = sts_arena_strndup(&a, "hello", 3);
	assert_string_equal(small, "hel");
	char *big = sts_arena_alloc(&a, 1u << 20);
	assert_non_null(big);
	memset(big, 'x', 1u << 20);
	char *after = sts_arena_alloc(&a, 5);
	assert_int_equal((uintptr_t)after % 8, 0);
	memcpy(after, "abcd", 5);
	assert_string_equal(small, "hel");
	for (int i = 0; i < 100000; i++)
		assert_non_null(sts_arena_alloc(&a, 24));
	assert_true(a.total >= (1u << 20) + 100000u * 24u);
	sts_arena_release(&a);
	sts_arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_types_and_offsets),
	    cmocka_unit_test(test_escapes_and_unicode),
	    cmocka_unit_test(test_crlf_tabs_nested),
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_arena),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
