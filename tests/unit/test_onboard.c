/* SPDX-License-Identifier: MIT */
/*
 * stsctl onboard: proposals from a live check on 127.0.0.1 (fake DNS,
 * HTTPS and SMTP), flagged and present domains, the tenant's inherited
 * rua; the one-line entry JSON, the printed document and the merge into
 * an inventory's text (every other byte kept), each accepted by the
 * inventory validator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_net.h"
#include "state_fixture.h"
#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_onboard.h"

#define POLICY "version: STSv1\r\nmode: enforce\r\nmx: *.a.test\r\nmax_age: 1209600\r\n"

static const char *const zone[] = {
    "_mta-sts.a.test. IN TXT \"v=STSv1; id=1;\"",
    "mta-sts.a.test. IN A 127.0.0.1",
    "a.test. IN MX 10 mx.a.test.",
    "a.test. IN MX 20 mx2.a.test.",
    "mx.a.test. IN A 127.0.0.1",
    "mx2.a.test. IN A 127.0.0.1",
    "_smtp._tls.a.test. IN TXT \"v=TLSRPTv1; rua=mailto:r@a.test\"",
    "b.test. IN MX 20 mx2.a.test.",
    "b.test. IN MX 10 mx.a.test.",
    "_smtp._tls.b.test. IN TXT \"v=TLSRPTv1; rua=mailto:r@b.test\"",
    "noaddr.test. IN MX 10 gone.noaddr.test.",
    "nomx.test. IN A 127.0.0.1",
    NULL,
};

static bool validates(const char *text)
{
	struct sts_diags d;
	sts_diags_init(&d);
	int r = sts_inventory_validate_text(text, strlen(text), "t.json", NULL, &d);
	for (size_t i = 0; r < 0 && i < d.n; i++)
		fprintf(stderr, "# %u:%u %s\n", d.v[i].line, d.v[i].col, d.v[i].message);
	sts_diags_release(&d);
	return r == STS_OK;
}

static void test_run(void **state)
{
	(void)state;
	struct world *w = world_new(zone, 200, "text/plain", POLICY, "DNS:mta-sts.a.test",
				    "DNS:mx.a.test,DNS:mx2.a.test", 40);
	const char *inv_text =
	    "{\"version\": 1,\n"
	    " \"tenants\": {\"acme\": {\"tlsrpt\": {\"rua\": [\"mailto:t@acme.test\"]}},"
	    " \"other\": {}},\n"
	    " \"domains\": [{\"name\": \"present.test\", \"mx\": [\"mx.present.test\"]}]}\n";
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	sts_diags_init(&d);
	assert_int_equal(sts_inventory_parse(inv_text, strlen(inv_text), "inv", &inv, &d), STS_OK);
	sts_diags_release(&d);
	const struct sts_onboard_input in[] = {
	    {"a.test", "other"}, {"b.test", "acme"},	   {"noaddr.test", NULL},
	    {"nomx.test", NULL}, {"present.test", "acme"},
	};
	struct sts_onboard ob;
	assert_int_equal(sts_onboard_run(in, 5, &w->o, inv, &ob, NULL), STS_OK);
	assert_int_equal(ob.n, 5);
	/* a.test: its usable policy's pattern, mode and max_age; no rua from "other": its own */
	const struct sts_onboard_entry *e = &ob.v[0];
	assert_int_equal(e->status, STS_ONBOARD_PROPOSED);
	assert_int_equal(e->found, STS_VIEW_ENFORCE);
	assert_int_equal(e->n_mx, 1);
	assert_string_equal(e->mx[0], "*.a.test");
	assert_int_equal(e->mode, STS_MODE_ENFORCE);
	assert_int_equal(e->max_age, 1209600);
	assert_int_equal(e->n_rua, 1);
	assert_string_equal(e->rua[0], "mailto:r@a.test");
	/* b.test: no policy: its MX hosts in preference order, testing, acme's rua inherited */
	e = &ob.v[1];
	assert_int_equal(e->status, STS_ONBOARD_PROPOSED);
	assert_int_equal(e->n_mx, 2);
	assert_string_equal(e->mx[0], "mx.a.test");
	assert_string_equal(e->mx[1], "mx2.a.test");
	assert_int_equal(e->mode, STS_MODE_TESTING);
	assert_int_equal(e->max_age, -1);
	assert_int_equal(e->n_rua, 0);
	/* flagged */
	assert_int_equal(ob.v[2].status, STS_ONBOARD_FLAGGED);
	assert_string_equal(ob.v[2].reasons[0], "MX host 'gone.noaddr.test' has no address");
	assert_int_equal(ob.v[3].status, STS_ONBOARD_FLAGGED);
	assert_string_equal(ob.v[3].reasons[0], "MX lookup: no MX records");
	assert_int_equal(ob.v[4].status, STS_ONBOARD_PRESENT);
	assert_int_equal(ob.n_proposed, 2);
	assert_int_equal(ob.n_flagged, 2);
	assert_int_equal(ob.n_present, 1);

	/* entry JSON, document, merge */
	struct sts_buf b;
	sts_buf_init(&b, 1u << 20);
	assert_int_equal(sts_onboard_entry_json(&ob.v[0], &b), STS_OK);
	assert_string_equal(sts_buf_str(&b),
			    "{\"name\": \"a.test\", \"tenant\": \"other\", \"mx\": [\"*.a.test\"], "
			    "\"mode\": \"enforce\", \"max_age\": 1209600, \"tlsrpt\": {\"rua\": "
			    "[\"mailto:r@a.test\"]}}");
	sts_buf_reset(&b);
	assert_int_equal(sts_onboard_document(&ob, &b), STS_OK);
	assert_true(validates(sts_buf_str(&b)));
	assert_non_null(
	    strstr(sts_buf_str(&b), "\"tenants\": {\n    \"other\": {},\n    \"acme\": {}\n  }"));
	assert_null(strstr(sts_buf_str(&b), "noaddr.test"));
	sts_buf_reset(&b);
	const char *why = NULL;
	assert_int_equal(sts_onboard_merge(inv_text, strlen(inv_text), &ob, &b, &why), STS_OK);
	assert_true(validates(sts_buf_str(&b)));
	assert_int_equal(strncmp(sts_buf_str(&b), inv_text, strlen(inv_text) - 3), 0);
	sts_buf_release(&b);
	sts_onboard_release(&ob);
	sts_inventory_free(inv);
	world_free(w);
}

/* A hand-made result with one proposed and one flagged entry. */
static void fake_result(struct sts_onboard *ob)
{
	memset(ob, 0, sizeof(*ob));
	ob->v = calloc(2, sizeof(*ob->v));
	ob->n = 2;
	struct sts_onboard_entry *e = &ob->v[0];
	e->name = strdup("new.test");
	e->mode = STS_MODE_TESTING;
	e->max_age = -1;
	assert_int_equal(sts_strv_push(&e->mx, &e->n_mx, "mx.new.test", 11), STS_OK);
	ob->v[1].name = strdup("bad.test");
	ob->v[1].status = STS_ONBOARD_FLAGGED;
	ob->n_proposed = 1;
	ob->n_flagged = 1;
}

static char *merged(const char *text, const struct sts_onboard *ob)
{
	struct sts_buf b;
	const char *why = NULL;
	sts_buf_init(&b, 1u << 20);
	assert_int_equal(sts_onboard_merge(text, strlen(text), ob, &b, &why), STS_OK);
	assert_true(validates(sts_buf_str(&b)));
	return sts_buf_steal(&b);
}

static void test_merge(void **state)
{
	(void)state;
	struct sts_onboard ob;
	fake_result(&ob);
	/* after the last entry, in its indentation */
	char *m = merged("{\n  \"version\": 1,\n  \"domains\": [\n    {\"name\": \"old.test\", "
			 "\"mx\": [\"mx.old.test\"]}\n  ]\n}\n",
			 &ob);
	assert_string_equal(m,
			    "{\n  \"version\": 1,\n  \"domains\": [\n    {\"name\": \"old.test\", "
			    "\"mx\": [\"mx.old.test\"]},\n    {\"name\": \"new.test\", \"mx\": "
			    "[\"mx.new.test\"], \"mode\": \"testing\"}\n  ]\n}\n");
	free(m);
	/* an empty array */
	m = merged("{\n  \"version\": 1,\n  \"domains\": []\n}", &ob);
	assert_string_equal(m,
			    "{\n  \"version\": 1,\n  \"domains\": [\n    {\"name\": \"new.test\", "
			    "\"mx\": [\"mx.new.test\"], \"mode\": \"testing\"}\n  ]\n}");
	free(m);
	/* no "domains" */
	m = merged("{\"version\": 1}\n", &ob);
	assert_string_equal(
	    m, "{\"version\": 1,\n  \"domains\": [\n    {\"name\": \"new.test\", \"mx\": "
	       "[\"mx.new.test\"], \"mode\": \"testing\"}\n  ]}\n");
	free(m);
	/* one line: the new entry still on a line of its own */
	m = merged("{\"version\":1,\"domains\":[{\"name\":\"old.test\",\"mx\":[\"m.old.test\"]}]}",
		   &ob);
	assert_non_null(strstr(m, "\"m.old.test\"]},\n    {\"name\": \"new.test\""));
	free(m);
	/* errors */
	struct sts_buf b;
	const char *why = NULL;
	sts_buf_init(&b, 1u << 20);
	assert_int_equal(sts_onboard_merge("[1]", 3, &ob, &b, &why), STS_EPARSE);
	assert_string_equal(why, "the inventory is not a JSON object");
	assert_int_equal(sts_onboard_merge("{\"domains\": 1}", 14, &ob, &b, &why), STS_EPARSE);
	assert_string_equal(why, "'domains' is not an array");
	assert_int_equal(sts_onboard_merge("{\"version\": ", 12, &ob, &b, &why), STS_EPARSE);
	assert_non_null(why);
	/* nothing proposed: the text as it was */
	ob.v[0].status = STS_ONBOARD_PRESENT;
	ob.n_proposed = 0;
	sts_buf_reset(&b);
	const char *same = "{\n  \"version\": 1,\n  \"domains\": []\n}\n";
	assert_int_equal(sts_onboard_merge(same, strlen(same), &ob, &b, &why), STS_OK);
	assert_string_equal(sts_buf_str(&b), same);
	sts_buf_reset(&b);
	assert_int_equal(sts_onboard_document(&ob, &b), STS_OK);
	assert_string_equal(sts_buf_str(&b), "{\n  \"version\": 1,\n  \"domains\": []\n}\n");
	assert_true(validates(sts_buf_str(&b)));
	sts_buf_release(&b);
	sts_onboard_release(&ob);
}

/* ---- --hosted: the customer's two CNAMEs, and check's HOSTED-1/2 ---- */

/* labels: python3 base32(sha256(name))[:26].lower(), see test_hosted_label.c */
#define L_OK "fu7wpzisgdbtfstwzqlb5adk4a"

static const char *const zone_h[] = {
    "_mta-sts.ok.test. IN CNAME " L_OK "._mta-sts.sts.msp.test.",
    L_OK "._mta-sts.sts.msp.test. IN TXT \"v=STSv1; id=1;\"",
    "mta-sts.ok.test. IN CNAME edge.msp.test.",
    "edge.msp.test. IN A 127.0.0.1",
    "_mta-sts.else.test. IN CNAME _mta-sts.other.test.",
    "_mta-sts.other.test. IN TXT \"v=STSv1; id=2;\"",
    "mta-sts.else.test. IN CNAME other.test.",
    "other.test. IN A 127.0.0.1",
    "_mta-sts.txt.test. IN TXT \"v=STSv1; id=3;\"",
    "mta-sts.txt.test. IN A 127.0.0.1",
    "none.test. IN A 127.0.0.1",
    NULL,
};

static const char inv_h[] =
    "{\"version\": 1, \"providers\": {\"z\": {\"plugin\": \"zonefile\"}},\n"
    " \"hosted\": {\"zone\": \"sts.msp.test\", \"dns\": \"z\", \"edge\": \"edge.msp.test\",\n"
    "  \"acme\": {\"directory\": \"https://127.0.0.1/dir\"}},\n"
    " \"defaults\": {\"mx\": [\"mx.a.test\"], \"hosting\": \"hosted\"},\n"
    " \"domains\": [{\"name\": \"ok.test\"}, {\"name\": \"else.test\"},"
    " {\"name\": \"txt.test\"}, {\"name\": \"none.test\"}]}\n";

static void test_hosted(void **state)
{
	(void)state;
	struct world *w = world_new(zone_h, 404, "text/plain", "", "DNS:x.test", "DNS:x.test", 40);
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	struct sts_db *db = NULL;
	sts_diags_init(&d);
	assert_int_equal(sts_inventory_parse(inv_h, strlen(inv_h), "inv", &inv, &d), STS_OK);
	sts_diags_release(&d);
	assert_int_equal(state_fixture_open("onboard", ":memory:", 0, NULL, &db, NULL), STS_OK);
	assert_int_equal(sts_hosted_schema(db), STS_OK);
	const char *const names[] = {"ok.test", "else.test", "txt.test", "none.test", "new.test"};
	struct sts_onboard_hosted ob;
	assert_int_equal(
	    sts_onboard_hosted_run(names, 5, inv->hosted, inv, db, true, &w->o, &ob, NULL), STS_OK);
	assert_int_equal(ob.n, 5);
	assert_int_equal(ob.n_ready, 1);
	const struct sts_onboard_hosted_entry *e = &ob.v[0];
	assert_string_equal(e->label, L_OK);
	assert_int_equal(e->label_source, STS_ONBOARD_LABEL_ALLOCATED);
	assert_string_equal(e->rec[0].name, "_mta-sts.ok.test.");
	assert_string_equal(e->rec[0].target, L_OK "._mta-sts.sts.msp.test.");
	assert_string_equal(e->rec[1].target, "edge.msp.test.");
	assert_int_equal(e->rec[0].state, STS_HOSTED_REC_PRESENT);
	assert_int_equal(e->rec[1].state, STS_HOSTED_REC_PRESENT);
	e = &ob.v[1]; /* CNAMEs to other names */
	assert_int_equal(e->rec[0].state, STS_HOSTED_REC_ELSEWHERE);
	assert_string_equal(e->rec[0].found, "_mta-sts.other.test");
	assert_int_equal(e->rec[1].state, STS_HOSTED_REC_ELSEWHERE);
	assert_string_equal(e->rec[1].found, "other.test");
	e = &ob.v[2]; /* a TXT and an A where the CNAMEs go */
	assert_int_equal(e->rec[0].state, STS_HOSTED_REC_CONFLICT);
	assert_string_equal(e->rec[0].found, "TXT");
	assert_int_equal(e->rec[1].state, STS_HOSTED_REC_CONFLICT);
	assert_string_equal(e->rec[1].found, "A");
	e = &ob.v[3];
	assert_int_equal(e->rec[0].state, STS_HOSTED_REC_MISSING);
	assert_int_equal(e->rec[1].state, STS_HOSTED_REC_MISSING);
	assert_null(ob.v[4].inv); /* a prospective customer */
	assert_non_null(ob.v[3].inv);
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	assert_int_equal(sts_onboard_hosted_text(&ob, &b), STS_OK);
	assert_non_null(strstr(sts_buf_str(&b), "new.test (label "));
	assert_non_null(strstr(sts_buf_str(&b), "): not in the inventory\n"));
	assert_non_null(strstr(sts_buf_str(&b), "    an A record is there instead"));
	sts_buf_release(&b);
	json_t *j = sts_onboard_hosted_json(&ob);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "pending")), 4);
	json_decref(j);
	sts_onboard_hosted_release(&ob);

	/* the label is stored: a second run reads it, read-only too */
	assert_int_equal(
	    sts_onboard_hosted_run(names, 1, inv->hosted, inv, db, false, &w->o, &ob, NULL),
	    STS_OK);
	assert_int_equal(ob.v[0].label_source, STS_ONBOARD_LABEL_STORED);
	sts_onboard_hosted_release(&ob);

	/* check: HOSTED-1 and HOSTED-2 for every domain but ok.test */
	w->o.inventory = inv;
	w->o.no_smtp = true;
	assert_int_equal(sts_check_run(names, 4, &w->o, &w->rep, NULL), STS_OK);
	for (size_t i = 0; i < 4; i++) {
		const struct sts_diags *f = &w->rep.domains[i].findings;
		int h1 = 0, h2 = 0;
		for (size_t k = 0; k < f->n; k++) {
			h1 += f->v[k].rule && strcmp(f->v[k].rule, "HOSTED-1") == 0;
			h2 += f->v[k].rule && strcmp(f->v[k].rule, "HOSTED-2") == 0;
		}
		assert_int_equal(h1, i ? 1 : 0);
		assert_int_equal(h2, i ? 1 : 0);
	}
	sts_db_close(db);
	sts_inventory_free(inv);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_run),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_hosted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
