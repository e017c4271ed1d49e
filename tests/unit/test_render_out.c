/* SPDX-License-Identifier: MIT */
/*
 * Tests of sts_render_out.c: one domain as JSON, the JSON stream of an
 * inventory (stsctl render --json) and the tree writer (stsctl render -o).
 * Fixtures and golden files: render_fixtures.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_render.h"

#include "render_fixtures.h"

#define LONG_LABEL "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk" /* 63 */

/* ---- JSON stream ---------------------------------------------------------- */

static int collect(const char *p, size_t n, void *ud)
{
	return sts_buf_append(ud, p, n);
}

static int count_writes(const char *p, size_t n, void *ud)
{
	(*(size_t *)ud)++;
	return n > 0 ? STS_OK : STS_EINVAL;
}

static int failing_write(const char *p, size_t n, void *ud)
{
	return STS_EIO;
}

/* Four domains in two zones, out of order, and the inventory holding them. */
static struct sts_inventory four_domains(struct sts_domain d[4])
{
	d[0] = domain("zeta.example", STS_MODE_ENFORCE);
	d[1] = delegated("shop.example.com", "example.com", "mta-sts.provider.example");
	d[2] = domain("example.com", STS_MODE_TESTING);
	d[3] = domain("lists.example.com", STS_MODE_NONE);
	d[3].zone = "example.com";
	d[3].n_rua = 0;
	for (unsigned i = 0; i < 4; i++)
		d[i].line = 10 + i;
	return (struct sts_inventory){.path = "inv.json", .domains = d, .n_domains = 4};
}

static json_t *render_json(const struct sts_inventory *inv, const struct sts_render_opts *o,
			   int want, struct sts_buf *out, struct sts_diags *diags)
{
	sts_buf_init(out, STS_CAP_TEXT);
	assert_int_equal(sts_render_json(inv, o, collect, out, diags), want);
	json_error_t err;
	json_t *doc = json_loads(sts_buf_str(out), 0, &err);
	if (!doc)
		fail_msg("invalid JSON: %s at line %d", err.text, err.line);
	return doc;
}

static void test_json(void **state)
{
	struct sts_domain d[4];
	struct sts_inventory inv = four_domains(d);
	struct sts_buf out;
	struct sts_diags diags;
	sts_diags_init(&diags);
	json_t *doc = render_json(&inv, NULL, STS_OK, &out, &diags);
	assert_int_equal(diags.n, 0);
	golden_buf("render.json", &out);
	/* laid out exactly as jansson's JSON_INDENT(2), like the other commands */
	char *again = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	assert_non_null(again);
	assert_int_equal(strlen(again) + 1, out.len);
	assert_memory_equal(again, out.data, strlen(again));
	free(again);
	json_t *doms = json_object_get(doc, "domains");
	assert_int_equal(json_array_size(doms), 4);
	const char *order[] = {"example.com", "lists.example.com", "shop.example.com",
			       "zeta.example"};
	for (size_t i = 0; i < 4; i++) {
		json_t *x = json_array_get(doms, i);
		assert_string_equal(json_string_value(json_object_get(x, "domain")), order[i]);
		json_t *recs = json_object_get(x, "records");
		assert_true(json_array_size(recs) >= 1);
		for (size_t k = 0; k < json_array_size(recs); k++) {
			json_t *rec = json_array_get(recs, k);
			const char *name = json_string_value(json_object_get(rec, "name"));
			const char *value = json_string_value(json_object_get(rec, "value"));
			assert_int_equal(name[strlen(name) - 1], '.');
			assert_int_not_equal(value[0], '"');
			assert_true(json_is_integer(json_object_get(rec, "ttl")));
		}
		json_t *pol = json_object_get(x, "policy");
		if (i == 2) {
			assert_true(json_is_null(pol));
			continue;
		}
		char txt[64];
		snprintf(txt, sizeof(txt), "v=STSv1; id=%s;",
			 json_string_value(json_object_get(pol, "id")));
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(recs, 0), "value")), txt);
		assert_int_equal(json_integer_value(json_object_get(pol, "max_age")), 604800);
		assert_int_equal(json_array_size(json_object_get(pol, "mx")), 2);
		assert_int_equal(strncmp(json_string_value(json_object_get(pol, "text")),
					 "version: STSv1\r\n", 16),
				 0);
	}
	/* deterministic */
	struct sts_buf out2;
	json_t *doc2 = render_json(&inv, NULL, STS_OK, &out2, &diags);
	assert_int_equal(out.len, out2.len);
	assert_memory_equal(out.data, out2.data, out.len);
	json_decref(doc2);
	sts_buf_release(&out2);
	json_decref(doc);
	sts_buf_release(&out);
	sts_diags_release(&diags);
}

/* The rollout stage replaces the inventory mode, in JSON and in the tree alike. */
static enum sts_mode stage_of(const char *domain, void *ud)
{
	(void)ud;
	return strcmp(domain, "zeta.example") == 0 ? STS_MODE_TESTING : STS_MODE_INVALID;
}

static void test_mode_of_stage(void **state)
{
	struct sts_domain d[4];
	struct sts_inventory inv = four_domains(d);
	struct sts_render_opts o = {.mode_of = stage_of};
	struct sts_buf out;
	json_t *doc = render_json(&inv, &o, STS_OK, &out, NULL);
	json_t *doms = json_object_get(doc, "domains");
	/* zeta.example is enforce in the inventory, testing by its stage */
	json_t *zeta = json_object_get(json_array_get(doms, 3), "policy");
	assert_string_equal(json_string_value(json_object_get(zeta, "mode")), "testing");
	/* the others keep their inventory mode */
	json_t *ex = json_object_get(json_array_get(doms, 0), "policy");
	assert_string_equal(json_string_value(json_object_get(ex, "mode")), "testing");
	json_t *lists = json_object_get(json_array_get(doms, 1), "policy");
	assert_string_equal(json_string_value(json_object_get(lists, "mode")), "none");
	/* the id follows the text actually rendered */
	struct sts_rendered r = {0};
	assert_int_equal(sts_render_domain(&d[0], STS_MODE_TESTING, &r), STS_OK);
	assert_string_equal(json_string_value(json_object_get(zeta, "id")), r.id);
	assert_string_equal(json_string_value(json_object_get(zeta, "text")), r.policy_text);
	sts_rendered_release(&r);
	json_decref(doc);
	sts_buf_release(&out);
}

static void test_json_selection_and_errors(void **state)
{
	struct sts_domain d[4];
	struct sts_inventory inv = four_domains(d);
	struct sts_buf out;
	struct sts_diags diags;
	sts_diags_init(&diags);
	/* --domain: case and trailing dot do not matter */
	const char *only[] = {"SHOP.example.com."};
	struct sts_render_opts o = {.only = only, .n_only = 1};
	json_t *doc = render_json(&inv, &o, STS_OK, &out, &diags);
	assert_int_equal(json_array_size(json_object_get(doc, "domains")), 1);
	json_decref(doc);
	sts_buf_release(&out);
	/* a U-label in any case finds the A-label */
	d[0].name = "xn--bcher-kva.example";
	d[0].name_input = "b\xc3\xbc"
			  "cher.example";
	const char *ulabel[] = {"B\xc3\x9c"
				"CHER.Example."};
	o = (struct sts_render_opts){.only = ulabel, .n_only = 1};
	doc = render_json(&inv, &o, STS_OK, &out, &diags);
	assert_int_equal(json_array_size(json_object_get(doc, "domains")), 1);
	json_decref(doc);
	sts_buf_release(&out);
	d[0].name = "zeta.example";
	d[0].name_input = NULL;
	/* unknown name */
	const char *unknown[] = {"example.com", "nope.example"};
	o = (struct sts_render_opts){.only = unknown, .n_only = 2};
	sts_buf_init(&out, 1 << 20);
	assert_int_equal(sts_render_json(&inv, &o, collect, &out, &diags), STS_ENOENT);
	assert_int_equal(diags.n_errors, 1);
	assert_string_equal(diags.v[0].message, "unknown domain 'nope.example'");
	assert_int_equal(out.len, 0);
	sts_buf_release(&out);
	sts_diags_release(&diags);
	/* a domain that cannot be rendered is reported and left out */
	d[2].max_age = -5;
	doc = render_json(&inv, NULL, STS_EINVALID, &out, &diags);
	assert_int_equal(json_array_size(json_object_get(doc, "domains")), 3);
	assert_int_equal(diags.n_errors, 1);
	assert_string_equal(diags.v[0].file, "inv.json");
	assert_int_equal(diags.v[0].line, 12);
	assert_non_null(strstr(diags.v[0].message, "cannot render 'example.com': max_age"));
	json_decref(doc);
	sts_buf_release(&out);
	sts_diags_release(&diags);
	/* write errors stop the render */
	assert_int_equal(sts_render_json(&inv, NULL, failing_write, NULL, NULL), STS_EIO);
	/* empty inventory */
	inv.n_domains = 0;
	doc = render_json(&inv, NULL, STS_OK, &out, NULL);
	assert_string_equal(sts_buf_str(&out), "{\n  \"domains\": []\n}\n");
	json_decref(doc);
	sts_buf_release(&out);
}

static void test_json_streams_in_chunks(void **state)
{
	enum { N = 2000 };
	struct sts_domain *d = calloc(N, sizeof(*d));
	char(*names)[32] = calloc(N, 32);
	assert_non_null(d);
	assert_non_null(names);
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], 32, "d%zu.example", N - i);
		d[i] = domain(names[i], STS_MODE_ENFORCE);
	}
	struct sts_inventory inv = {.path = "inv.json", .domains = d, .n_domains = N};
	size_t writes = 0;
	assert_int_equal(sts_render_json(&inv, NULL, count_writes, &writes, NULL), STS_OK);
	assert_true(writes >= (N + 255) / 256 + 2); /* written block by block */
	struct sts_buf out;
	json_t *doc = render_json(&inv, NULL, STS_OK, &out, NULL);
	json_t *doms = json_object_get(doc, "domains");
	assert_int_equal(json_array_size(doms), N);
	assert_string_equal(json_string_value(json_object_get(json_array_get(doms, 0), "domain")),
			    "d1.example");
	json_decref(doc);
	sts_buf_release(&out);
	free(names);
	free(d);
}

/* ---- tree ----------------------------------------------------------------- */

static char *pathf(const char *fmt, ...) STS_PRINTF(1, 2);
static char *pathf(const char *fmt, ...)
{
	static char buf[4][4096];
	static int k;
	k = (k + 1) % 4;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf[k], sizeof(buf[k]), fmt, ap);
	va_end(ap);
	return buf[k];
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static void assert_file_is(const char *p, const char *want, size_t len)
{
	if (!sts_file_equals(p, want, len))
		fail_msg("'%s' does not hold the expected %zu bytes", p, len);
}

static void render_tree(const struct sts_inventory *inv, const char *out,
			const struct sts_render_opts *o, int want, struct sts_render_stats *st,
			struct sts_diags *diags)
{
	int r = sts_render_tree_opts(inv, out, o, st, diags);
	if (r != want && diags)
		for (size_t i = 0; i < diags->n; i++)
			print_error("diag: %s\n", diags->v[i].message);
	assert_int_equal(r, want);
}

static void test_tree(void **state)
{
	char *dir = tempdir();
	struct sts_domain d[4];
	struct sts_inventory inv = four_domains(d);
	struct sts_render_stats st;
	char out[4096];
	snprintf(out, sizeof(out), "%s/out", dir);
	render_tree(&inv, out, NULL, STS_OK, &st, NULL);
	assert_int_equal(st.domains, 4);
	assert_int_equal(st.zones, 2);
	assert_int_equal(st.written, 3 + 3 + 2);
	assert_int_equal(st.unchanged, 0);
	/* the files hold what the single-artifact functions render */
	struct sts_rendered r[4];
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(sts_render_domain(&d[i], STS_MODE_INVALID, &r[i]), STS_OK);
	assert_file_is(pathf("%s/mta-sts.zeta.example/.well-known/mta-sts.txt", out),
		       r[0].policy_text, strlen(r[0].policy_text));
	assert_file_is(pathf("%s/mta-sts.example.com/.well-known/mta-sts.txt", out),
		       r[2].policy_text, strlen(r[2].policy_text));
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	assert_int_equal(sts_render_zone("example.com", r + 1, 3, &b), STS_OK);
	assert_file_is(pathf("%s/zones/example.com.zone", out), b.data, b.len);
	sts_buf_reset(&b);
	assert_int_equal(sts_render_zone("zeta.example", r, 1, &b), STS_OK);
	assert_file_is(pathf("%s/zones/zeta.example.zone", out), b.data, b.len);
	sts_buf_reset(&b);
	assert_int_equal(sts_render_nginx(&r[3], &b), STS_OK);
	assert_file_is(pathf("%s/nginx/mta-sts.lists.example.com.conf", out), b.data, b.len);
	/* delegated hosting: no policy file, no server block */
	assert_false(exists(pathf("%s/mta-sts.shop.example.com", out)));
	assert_false(exists(pathf("%s/nginx/mta-sts.shop.example.com.conf", out)));
	/* a rerun writes nothing; a changed file is rewritten */
	render_tree(&inv, out, NULL, STS_OK, &st, NULL);
	assert_int_equal(st.written, 0);
	assert_int_equal(st.unchanged, 8);
	const char *p = pathf("%s/nginx/mta-sts.zeta.example.conf", out);
	assert_int_equal(sts_write_atomic(p, "edited", 6, 0644, false), STS_OK);
	render_tree(&inv, out, NULL, STS_OK, &st, NULL);
	assert_int_equal(st.written, 1);
	assert_int_equal(st.unchanged, 7);
	/* byte-identical in a fresh directory, also from the plain entry point */
	assert_int_equal(sts_render_tree(&inv, pathf("%s/again", dir), NULL), STS_OK);
	assert_int_equal(run_quiet("diff -r %s/out %s/again >&2", dir, dir), 0);
	/* only one domain: its files, and its zone file still complete */
	const char *only[] = {"lists.example.com"};
	struct sts_render_opts o = {.only = only, .n_only = 1, .no_sync = true};
	render_tree(&inv, pathf("%s/one", dir), &o, STS_OK, &st, NULL);
	assert_int_equal(st.domains, 1);
	assert_int_equal(st.zones, 1);
	assert_int_equal(st.written, 3);
	assert_int_equal(
	    run_quiet("cmp -s %s/out/zones/example.com.zone %s/one/zones/example.com.zone", dir,
		      dir),
	    0);
	assert_false(exists(pathf("%s/one/mta-sts.example.com", dir)));
	assert_false(exists(pathf("%s/one/zones/zeta.example.zone", dir)));
	/* custom nginx paths; unusable ones are refused before anything is written */
	o = (struct sts_render_opts){.web_root = "/srv/sts", .cert_dir = "/etc/x"};
	render_tree(&inv, pathf("%s/paths", dir), &o, STS_OK, &st, NULL);
	assert_int_equal(run_quiet("grep -q 'root /srv/sts/mta-sts.example.com;' "
				   "%s/paths/nginx/mta-sts.example.com.conf",
				   dir),
			 0);
	o.web_root = "/srv/a b";
	struct sts_diags diags;
	sts_diags_init(&diags);
	render_tree(&inv, pathf("%s/badpath", dir), &o, STS_EINVAL, &st, &diags);
	assert_int_equal(diags.n_errors, 1);
	assert_false(exists(pathf("%s/badpath", dir)));
	sts_diags_release(&diags);
	for (size_t i = 0; i < 4; i++)
		sts_rendered_release(&r[i]);
	sts_buf_release(&b);
	rmtree(dir);
}

/*
 * Domain names of 235-242 octets (issue 12 §5): ".mta-sts.D.conf.XXXXXX",
 * the temporary name of the nginx file, is longer than NAME_MAX although
 * the file's own name is not. Each is written, and so are the others.
 */
static void test_tree_long_names(void **state)
{
	char *dir = tempdir();
	char names[3][320];
	struct sts_domain d[4];
	struct sts_inventory inv = four_domains(d);
	const size_t len[3] = {235, 240, 242};
	for (size_t k = 0; k < 3; k++) {
		/* 62.62.62.x.test, x filling up to len */
		size_t x = len[k] - 3 * 63 - 5;
		snprintf(names[k], sizeof(names[k]), "%.62s.%.62s.%.62s.%.*s.test", LONG_LABEL,
			 LONG_LABEL, LONG_LABEL, (int)x, LONG_LABEL);
		assert_int_equal(strlen(names[k]), len[k]);
	}
	struct sts_render_stats st;
	struct sts_diags diags;
	sts_diags_init(&diags);
	for (size_t k = 0; k < 3; k++) {
		d[0] = domain(names[k], STS_MODE_ENFORCE);
		char out[4096];
		snprintf(out, sizeof(out), "%s/out%zu", dir, k);
		render_tree(&inv, out, NULL, STS_OK, &st, &diags);
		assert_int_equal(diags.n, 0);
		assert_int_equal(st.domains, 4);
		assert_true(exists(pathf("%s/nginx/mta-sts.%s.conf", out, names[k])));
		assert_true(exists(pathf("%s/mta-sts.%s/.well-known/mta-sts.txt", out, names[k])));
		assert_true(exists(pathf("%s/zones/%s.zone", out, names[k])));
		assert_true(exists(pathf("%s/nginx/mta-sts.lists.example.com.conf", out)));
		/* no temporary file left behind */
		assert_int_equal(run_quiet("test -z \"$(ls -A %s/nginx | grep '^\\.')\"", out), 0);
	}
	sts_diags_release(&diags);
	rmtree(dir);
}

static void test_tree_errors(void **state)
{
	char *dir = tempdir();
	struct sts_domain d[4];
	struct sts_inventory inv = four_domains(d);
	struct sts_render_stats st;
	struct sts_diags diags;
	sts_diags_init(&diags);
	/* I/O: a file where the zones directory should be */
	char out[4096];
	snprintf(out, sizeof(out), "%s/out", dir);
	assert_int_equal(sts_write_atomic(pathf("%s/zones", out), "x", 1, 0644, false), STS_OK);
	render_tree(&inv, out, NULL, -ENOTDIR, &st, &diags);
	assert_int_equal(diags.n_errors, 1);
	assert_non_null(strstr(diags.v[0].message, "cannot write '"));
	assert_non_null(strstr(diags.v[0].message, "/out/zones': Not a directory"));
	assert_int_equal(st.written, 0); /* found before anything was written */
	sts_diags_release(&diags);
	/* ... and a file where a policy host directory should be: that domain fails,
	 * the others are written (issue 12 §5) */
	snprintf(out, sizeof(out), "%s/out1", dir);
	assert_int_equal(
	    sts_write_atomic(pathf("%s/mta-sts.example.com", out), "x", 1, 0644, false), STS_OK);
	render_tree(&inv, out, NULL, STS_EINVALID, &st, &diags);
	assert_int_equal(diags.n_errors, 1);
	assert_non_null(strstr(diags.v[0].message, "/out1/mta-sts.example.com': Not a directory"));
	assert_true(exists(pathf("%s/mta-sts.zeta.example/.well-known/mta-sts.txt", out)));
	assert_true(exists(pathf("%s/nginx/mta-sts.lists.example.com.conf", out)));
	assert_true(exists(pathf("%s/zones/example.com.zone", out)));
	assert_true(exists(pathf("%s/zones/zeta.example.zone", out)));
	sts_diags_release(&diags);
	/* a domain that cannot be rendered: reported, its zone file not written
	 * (it would lose the domain's records), everything else written */
	d[3].mode = STS_MODE_ENFORCE;
	d[3].n_mx = 0;
	snprintf(out, sizeof(out), "%s/out2", dir);
	render_tree(&inv, out, NULL, STS_EINVALID, &st, &diags);
	assert_int_equal(diags.n_errors, 1);
	assert_string_equal(diags.v[0].file, "inv.json");
	assert_int_equal(diags.v[0].line, 13);
	assert_string_equal(
	    diags.v[0].message,
	    "cannot render 'lists.example.com': mode enforce or testing without mx");
	assert_false(exists(pathf("%s/zones/example.com.zone", out)));
	assert_true(exists(pathf("%s/zones/zeta.example.zone", out)));
	assert_true(exists(pathf("%s/mta-sts.example.com/.well-known/mta-sts.txt", out)));
	assert_int_equal(st.zones, 1);
	sts_diags_release(&diags);
	/* unknown --domain: nothing written */
	const char *only[] = {"missing.example"};
	struct sts_render_opts o = {.only = only, .n_only = 1};
	render_tree(&inv, pathf("%s/out3", dir), &o, STS_ENOENT, &st, &diags);
	assert_false(exists(pathf("%s/out3", dir)));
	sts_diags_release(&diags);
	rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_mode_of_stage),
	    cmocka_unit_test(test_json_selection_and_errors),
	    cmocka_unit_test(test_json_streams_in_chunks),
	    cmocka_unit_test(test_tree),
	    cmocka_unit_test(test_tree_errors),
	    cmocka_unit_test(test_tree_long_names),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
