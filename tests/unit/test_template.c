/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_err.h"
#include "sts_template.h"

/* Parse and render text with vars (JSON text); returns the error code. */
static int run(const char *text, const char *vars_json, struct sts_buf *out,
	       struct sts_diags *diags)
{
	struct sts_tmpl *t = NULL;
	int r = sts_tmpl_parse(text, strlen(text), "t.tmpl", &t, diags);
	if (r < 0)
		return r;
	json_error_t err;
	json_t *vars = json_loads(vars_json, 0, &err);
	assert_non_null(vars);
	r = sts_tmpl_render(t, vars, out, diags);
	json_decref(vars);
	sts_tmpl_free(t);
	return r;
}

/* Render and compare with the expected output. */
static void expect(const char *text, const char *vars, const char *want)
{
	struct sts_buf out;
	struct sts_diags d;
	sts_buf_init(&out, 1 << 20);
	sts_diags_init(&d);
	assert_int_equal(run(text, vars, &out, &d), STS_OK);
	assert_int_equal(d.n, 0);
	assert_string_equal(sts_buf_str(&out), want);
	sts_buf_release(&out);
	sts_diags_release(&d);
}

/* Expect an error code, one diag at line:col whose message contains msg. */
static void expect_error(const char *text, const char *vars, int err, unsigned line, unsigned col,
			 const char *msg)
{
	struct sts_buf out;
	struct sts_diags d;
	sts_buf_init(&out, 1 << 20);
	sts_diags_init(&d);
	assert_int_equal(run(text, vars, &out, &d), err);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(d.v[0].file, "t.tmpl");
	assert_int_equal(d.v[0].line, line);
	assert_int_equal(d.v[0].col, col);
	if (!strstr(d.v[0].message, msg))
		fail_msg("message '%s' lacks '%s'", d.v[0].message, msg);
	sts_buf_release(&out);
	sts_diags_release(&d);
}

static void test_text_only(void **state)
{
	expect("", "{}", "");
	expect("plain { text } with } braces\n", "{}", "plain { text } with } braces\n");
}

static void test_variables(void **state)
{
	expect("a {{s}} b {{n}} c {{ s }}", "{\"s\":\"x<&>\\\"y\", \"n\":-42}",
	       "a x<&>\"y b -42 c x<&>\"y");
	expect("{{a.b.c}}/{{a.d}}", "{\"a\":{\"b\":{\"c\":\"deep\"},\"d\":7}}", "deep/7");
	expect("{{x-y_z}}", "{\"x-y_z\":\"ok\"}", "ok");
}

static void test_each(void **state)
{
	expect("{{#each l}}[{{.}}]{{/each}}", "{\"l\":[\"a\",\"b\",3]}", "[a][b][3]");
	expect("{{#each l}}x{{/each}}", "{\"l\":[]}", "");
	/* keys look in the element first, then outwards */
	expect("{{#each l}}{{name}}@{{zone}};{{/each}}",
	       "{\"zone\":\"z\",\"l\":[{\"name\":\"a\"},{\"name\":\"b\",\"zone\":\"y\"}]}",
	       "a@z;b@y;");
	/* nested each, the inner element shadows */
	expect("{{#each o}}{{k}}:{{#each v}}{{.}}{{k}},{{/each}}|{{/each}}",
	       "{\"o\":[{\"k\":\"A\",\"v\":[1,2]},{\"k\":\"B\",\"v\":[]}]}", "A:1A,2A,|B:|");
}

static void test_if_else(void **state)
{
	const char *t = "{{#if v}}T{{else}}F{{/if}}";
	expect(t, "{\"v\":\"x\"}", "T");
	expect(t, "{\"v\":\"\"}", "F");
	expect(t, "{\"v\":[0]}", "T");
	expect(t, "{\"v\":[]}", "F");
	expect(t, "{\"v\":true}", "T");
	expect(t, "{\"v\":false}", "F");
	expect(t, "{\"v\":1}", "T");
	expect(t, "{\"v\":0}", "F");
	expect(t, "{\"v\":null}", "F");
	expect(t, "{\"v\":{}}", "F");
	expect(t, "{\"v\":{\"a\":1}}", "T");
	expect("{{#if v}}only{{/if}}.", "{\"v\":false}", ".");
	expect("{{#if a}}{{#if b}}ab{{else}}a{{/if}}{{else}}-{{/if}}", "{\"a\":1,\"b\":0}", "a");
}

static void test_comment(void **state)
{
	expect("a{{! a comment with {braces} }}b", "{}", "ab");
	expect("{{!\n multi\n line\n}}\nx\n", "{}", "x\n");
}

static void test_standalone_lines(void **state)
{
	/* block tags alone on their lines leave no blank lines */
	expect("head\n{{#each l}}\n  - {{.}}\n{{/each}}\ntail\n", "{\"l\":[1,2]}",
	       "head\n  - 1\n  - 2\ntail\n");
	expect("{{#if x}}\nyes\n\t{{else}}  \nno\n{{/if}}\n", "{\"x\":0}", "no\n");
	/* CRLF line ends too */
	expect("a\r\n{{#if x}}\r\nb\r\n{{/if}}\r\nc\r\n", "{\"x\":1}", "a\r\nb\r\nc\r\n");
	/* not standalone: text or another tag on the line, or a variable tag */
	expect("- {{#if x}}y{{/if}}\n", "{\"x\":1}", "- y\n");
	expect("{{v}}\n", "{\"v\":\"w\"}", "w\n");
	expect("{{#if x}}{{/if}}\nz", "{\"x\":1}", "\nz");
	/* standalone at the end of the text without a newline */
	expect("a\n  {{! end }}", "{}", "a\n");
}

static void test_missing_variable(void **state)
{
	expect_error("line1\n  {{nope}}", "{}", STS_EINVALID, 2, 3, "missing variable 'nope'");
	expect_error("{{a.b}}", "{\"a\":{}}", STS_EINVALID, 1, 1, "missing variable 'a.b'");
	expect_error("{{a.b}}", "{\"a\":\"str\"}", STS_EINVALID, 1, 1, "missing variable 'a.b'");
	expect_error("x{{#each l}}{{/each}}", "{}", STS_EINVALID, 1, 2, "missing variable 'l'");
	expect_error("{{#if c}}{{/if}}", "{}", STS_EINVALID, 1, 1, "missing variable 'c'");
	/* a missing variable inside a block that is not rendered is fine */
	expect("{{#if f}}{{nope}}{{/if}}", "{\"f\":false}", "");
}

static void test_wrong_types(void **state)
{
	expect_error("{{v}}", "{\"v\":[1]}", STS_EINVALID, 1, 1, "not a string or integer");
	expect_error("{{v}}", "{\"v\":1.5}", STS_EINVALID, 1, 1, "not a string or integer");
	expect_error("{{v}}", "{\"v\":null}", STS_EINVALID, 1, 1, "not a string or integer");
	expect_error("{{#each v}}{{/each}}", "{\"v\":\"s\"}", STS_EINVALID, 1, 1,
		     "'v' is not an array");
}

static void test_unterminated_tag(void **state)
{
	expect_error("ab\ncd {{x", "{}", STS_EPARSE, 2, 4, "unterminated tag");
	expect_error("{{#each l}}\n{{.}\n{{/each}", "{\"l\":[]}", STS_EPARSE, 2, 1,
		     "unterminated tag");
}

static void test_block_errors(void **state)
{
	expect_error("x\n {{#each l}}\n", "{}", STS_EPARSE, 2, 2, "unclosed '{{#each l}}'");
	expect_error("{{#if a}}{{/each}}", "{}", STS_EPARSE, 1, 10,
		     "'{{/each}}' closes '{{#if}}' opened at line 1, column 1");
	expect_error("{{/if}}", "{}", STS_EPARSE, 1, 1, "without an opening block");
	expect_error("{{#each l}}{{else}}{{/each}}", "{}", STS_EPARSE, 1, 12,
		     "'{{else}}' outside '{{#if}}'");
	expect_error("{{#if a}}{{else}}{{else}}{{/if}}", "{}", STS_EPARSE, 1, 18,
		     "second '{{else}}'");
	expect_error("{{#with a}}{{/with}}", "{}", STS_EPARSE, 1, 1, "unknown block '{{#with}}'");
	expect_error("{{#if}}{{/if}}", "{}", STS_EPARSE, 1, 1, "needs a variable name");
	expect_error("{{/unless}}", "{}", STS_EPARSE, 1, 1, "unknown closing tag");
	expect_error("a {{ }}", "{}", STS_EPARSE, 1, 3, "empty tag");
	expect_error("{{a..b}}", "{}", STS_EPARSE, 1, 1, "invalid variable name 'a..b'");
	expect_error("{{a b}}", "{}", STS_EPARSE, 1, 1, "invalid variable name 'a b'");
	expect_error("{{#each .x}}{{/each}}", "{}", STS_EPARSE, 1, 1, "invalid variable name '.x'");
}

static void test_depth_limit(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	for (int i = 0; i < STS_TMPL_MAX_DEPTH; i++)
		assert_int_equal(sts_buf_puts(&b, "{{#if a}}"), STS_OK);
	sts_buf_puts(&b, "deep");
	for (int i = 0; i < STS_TMPL_MAX_DEPTH; i++)
		assert_int_equal(sts_buf_puts(&b, "{{/if}}"), STS_OK);
	char *ok = sts_buf_steal(&b);
	expect(ok, "{\"a\":1}", "deep");
	sts_buf_init(&b, 1 << 20);
	for (int i = 0; i <= STS_TMPL_MAX_DEPTH; i++)
		assert_int_equal(sts_buf_puts(&b, "{{#if a}}"), STS_OK);
	expect_error(sts_buf_str(&b), "{}", STS_EPARSE, 1, 9 * STS_TMPL_MAX_DEPTH + 1,
		     "nested deeper");
	sts_buf_release(&b);
	free(ok);
}

static void test_output_cap(void **state)
{
	struct sts_buf out;
	sts_buf_init(&out, 4);
	assert_int_equal(run("{{#each l}}{{.}}{{/each}}", "{\"l\":[\"abc\",\"de\"]}", &out, NULL),
			 STS_ETOOLARGE);
	sts_buf_release(&out);
}

static void test_null_diags_and_vars(void **state)
{
	struct sts_tmpl *t = NULL;
	assert_int_equal(sts_tmpl_parse("{{x", 3, NULL, &t, NULL), STS_EPARSE);
	assert_null(t);
	assert_int_equal(sts_tmpl_parse("{{x}}", 5, NULL, &t, NULL), STS_OK);
	struct sts_buf out;
	sts_buf_init(&out, 100);
	assert_int_equal(sts_tmpl_render(t, NULL, &out, NULL), STS_EINVALID);
	sts_tmpl_free(t);
	sts_tmpl_free(NULL);
	sts_buf_release(&out);
}

static void test_builtin(void **state)
{
	size_t len = 0;
	const char *z = sts_tmpl_builtin("zone.tmpl", &len);
	assert_non_null(z);
	assert_int_equal(strlen(z), len);
	assert_non_null(strstr(z, "{{#each domains}}"));
	assert_non_null(sts_tmpl_builtin("nginx-policy-host.conf.tmpl", NULL));
	assert_null(sts_tmpl_builtin("nope.tmpl", NULL));
	struct sts_tmpl *t = NULL;
	assert_int_equal(sts_tmpl_load_builtin("nope.tmpl", &t, NULL), STS_ENOENT);
	assert_int_equal(sts_tmpl_load_builtin("zone.tmpl", &t, NULL), STS_OK);
	sts_tmpl_free(t);
	/* every built-in template matches its source file in templates/ */
	const char *root = getenv("STS_SOURCE_ROOT");
	if (!root)
		skip();
	const char *names[] = {"zone.tmpl", "nginx-policy-host.conf.tmpl"};
	for (size_t i = 0; i < 2; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/templates/%s", root, names[i]);
		struct sts_buf f;
		sts_buf_init(&f, 1 << 20);
		assert_int_equal(sts_buf_read_file(&f, path), STS_OK);
		const char *text = sts_tmpl_builtin(names[i], &len);
		assert_int_equal(len, f.len);
		assert_memory_equal(text, f.data, len);
		sts_buf_release(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_only),
	    cmocka_unit_test(test_variables),
	    cmocka_unit_test(test_each),
	    cmocka_unit_test(test_if_else),
	    cmocka_unit_test(test_comment),
	    cmocka_unit_test(test_standalone_lines),
	    cmocka_unit_test(test_missing_variable),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_unterminated_tag),
	    cmocka_unit_test(test_block_errors),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_output_cap),
	    cmocka_unit_test(test_null_diags_and_vars),
	    cmocka_unit_test(test_builtin),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
