/* SPDX-License-Identifier: MIT */
/* The diff (ownership, conflicts, ordering), plan output and plan files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state_fixture.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_inventory.h"
#include "sts_plan.h"
#include "sts_plugin.h"

#define POL_A "version: STSv1\r\nmode: testing\r\nmx: mx.a.example\r\nmax_age: 604800\r\n"
#define POL_B "version: STSv1\r\nmode: enforce\r\nmx: mx.a.example\r\nmax_age: 604800\r\n"
#define TXT_A "v=STSv1; id=aaa;"
#define TXT_B "v=STSv1; id=bbb;"
#define RPT   "v=TLSRPTv1; rua=mailto:tlsrpt@a.example"

static void add_rr(struct sts_rrsets *l, const char *name, const char *type, uint32_t ttl, ...)
{
	struct sts_rrset *rr = sts_rrsets_add(l, name, type, ttl);
	assert_non_null(rr);
	va_list ap;
	va_start(ap, ttl);
	for (const char *v; (v = va_arg(ap, const char *));)
		assert_int_equal(sts_rrset_add_value(rr, v, strlen(v)), STS_OK);
	va_end(ap);
}

static void dom_init(struct sts_plan_domain *d, const char *name, enum sts_phase ph,
		     const char *policy)
{
	memset(d, 0, sizeof(*d));
	d->name = strdup(name);
	d->zone = strdup(name);
	d->dns = strdup("dns");
	d->web = strdup("web");
	d->phase = ph;
	d->policy_text = policy ? strdup(policy) : NULL;
	sts_rrsets_init(&d->actual.rr);
}

static void have_policy(struct sts_plan_domain *d, const char *text)
{
	d->actual.have_policy = true;
	d->actual.policy = strdup(text);
}

/* the desired records of a.example (self hosting) */
static void want_std(struct sts_rrsets *w, const char *txt)
{
	sts_rrsets_init(w);
	add_rr(w, "_mta-sts.a.example.", "TXT", 3600, txt, NULL);
	add_rr(w, "_smtp._tls.a.example.", "TXT", 3600, RPT, NULL);
}

static void check_change(const struct sts_change *c, enum sts_object o, enum sts_action a,
			 const char *before, const char *after)
{
	assert_int_equal(c->object, o);
	assert_int_equal(c->action, a);
	if (before)
		assert_string_equal(c->before, before);
	else
		assert_null(c->before);
	if (after)
		assert_string_equal(c->after, after);
	else
		assert_null(c->after);
}

static void test_fresh(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	want_std(&w, TXT_A);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.err, STS_OK);
	assert_int_equal(d.n_changes, 3);
	/* the policy first, then the id naming it, then TLS-RPT */
	check_change(&d.changes[0], STS_OBJ_POLICY, STS_ACTION_CREATE, NULL, POL_A);
	assert_string_equal(d.changes[0].name, "mta-sts.a.example");
	assert_null(d.changes[0].type);
	check_change(&d.changes[1], STS_OBJ_STS_RECORD, STS_ACTION_CREATE, NULL, TXT_A);
	assert_int_equal(d.changes[1].rc.action, STS_CHANGE_CREATE);
	assert_null(d.changes[1].rc.old);
	assert_string_equal(d.changes[1].rc.rrset.name, "_mta-sts.a.example.");
	assert_int_equal(d.changes[1].rc.rrset.n_values, 1);
	assert_int_equal(d.changes[1].rc.rrset.ttl, 3600);
	check_change(&d.changes[2], STS_OBJ_TLSRPT_RECORD, STS_ACTION_CREATE, NULL, RPT);
	sts_rrsets_release(&w);
	sts_plan_domain_release(&d);
}

static void test_unchanged(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	have_policy(&d, POL_A);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 3600, TXT_A, NULL);
	add_rr(&d.actual.rr, "_smtp._tls.a.example.", "TXT", 3600, RPT, NULL);
	add_rr(&d.actual.rr, "a.example.", "MX", 3600, "10 mx.a.example.", NULL);
	want_std(&w, TXT_A);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.err, STS_OK);
	assert_int_equal(d.n_changes, 0);
	sts_rrsets_release(&w);
	sts_plan_domain_release(&d);
}

/* mode change: new policy and new id; foreign TXT values beside ours are kept */
static void test_update_keeps_foreign(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_B);
	have_policy(&d, POL_A);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 3600, "site-verification=xyz", TXT_A,
	       NULL);
	add_rr(&d.actual.rr, "_smtp._tls.a.example.", "TXT", 3600, RPT, NULL);
	want_std(&w, TXT_B);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.n_changes, 2);
	check_change(&d.changes[0], STS_OBJ_POLICY, STS_ACTION_UPDATE, POL_A, POL_B);
	const struct sts_change *c = &d.changes[1];
	check_change(c, STS_OBJ_STS_RECORD, STS_ACTION_UPDATE, TXT_A, TXT_B);
	assert_int_equal(c->rc.action, STS_CHANGE_REPLACE);
	assert_non_null(c->rc.old);
	assert_int_equal(c->rc.old->n_values, 2);
	/* the complete new content: the foreign value and ours */
	assert_int_equal(c->rc.rrset.n_values, 2);
	assert_string_equal(c->rc.rrset.values[0], "site-verification=xyz");
	assert_string_equal(c->rc.rrset.values[1], TXT_B);
	sts_rrsets_release(&w);
	sts_plan_domain_release(&d);
}

/* only a foreign TXT at the name: ours is created, the rrset replaced with both */
static void test_create_beside_foreign(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	have_policy(&d, POL_A);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 300, "hello", NULL);
	add_rr(&d.actual.rr, "_smtp._tls.a.example.", "TXT", 3600, RPT, NULL);
	want_std(&w, TXT_A);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.n_changes, 1);
	check_change(&d.changes[0], STS_OBJ_STS_RECORD, STS_ACTION_CREATE, NULL, TXT_A);
	assert_int_equal(d.changes[0].rc.action, STS_CHANGE_REPLACE);
	assert_int_equal(d.changes[0].rc.rrset.n_values, 2);
	/* the rrset is shared: it keeps its TTL, so the foreign record stays as it is */
	assert_int_equal(d.changes[0].rc.rrset.ttl, 300);
	sts_plan_domain_release(&d);

	/* and once ours is there, a TTL that differs from ours is no reason to change */
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	have_policy(&d, POL_A);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 300, "hello", TXT_A, NULL);
	add_rr(&d.actual.rr, "_smtp._tls.a.example.", "TXT", 3600, RPT, NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.n_changes, 0);
	sts_rrsets_release(&w);
	sts_plan_domain_release(&d);
}

/* two v=STSv1 records (senders ignore both) become exactly one; a TTL change alone is an update */
static void test_duplicates_and_ttl(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	have_policy(&d, POL_A);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 3600, TXT_A, TXT_B, NULL);
	add_rr(&d.actual.rr, "_smtp._tls.a.example.", "TXT", 60, RPT, NULL);
	want_std(&w, TXT_A);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.n_changes, 2);
	check_change(&d.changes[0], STS_OBJ_STS_RECORD, STS_ACTION_UPDATE, TXT_A ", " TXT_B, TXT_A);
	assert_int_equal(d.changes[0].rc.rrset.n_values, 1);
	check_change(&d.changes[1], STS_OBJ_TLSRPT_RECORD, STS_ACTION_UPDATE, RPT, RPT);
	assert_int_equal(d.changes[1].ttl_before, 60);
	assert_int_equal(d.changes[1].ttl_after, 3600);
	sts_rrsets_release(&w);
	sts_plan_domain_release(&d);
}

static void test_conflict_cname(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "CNAME", 3600, "elsewhere.example.", NULL);
	want_std(&w, TXT_A);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.err, STS_ECONFLICT);
	assert_non_null(strstr(d.errmsg, "'_mta-sts.a.example.'"));
	assert_non_null(strstr(d.errmsg, "CNAME"));
	assert_int_equal(d.n_changes, 0); /* nothing of a conflicting domain is touched */
	sts_plan_domain_release(&d);

	/* the same CNAME published by stsctl before (delegated then): replaced */
	json_t *prev = json_loads("{\"records\":[[\"_mta-sts.a.example.\",\"CNAME\"]]}", 0, NULL);
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	have_policy(&d, POL_A);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "CNAME", 3600, "elsewhere.example.", NULL);
	add_rr(&d.actual.rr, "_smtp._tls.a.example.", "TXT", 3600, RPT, NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, prev), STS_OK);
	assert_int_equal(d.err, STS_OK);
	assert_int_equal(d.n_changes, 2);
	check_change(&d.changes[0], STS_OBJ_CNAME, STS_ACTION_DELETE, "elsewhere.example.", NULL);
	assert_int_equal(d.changes[0].rc.action, STS_CHANGE_DELETE);
	check_change(&d.changes[1], STS_OBJ_STS_RECORD, STS_ACTION_CREATE, NULL, TXT_A);
	json_decref(prev);
	sts_rrsets_release(&w);
	sts_plan_domain_release(&d);
}

static void test_delegated(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	sts_rrsets_init(&w);
	add_rr(&w, "mta-sts.a.example.", "CNAME", 3600, "mta-sts.provider.example.", NULL);
	add_rr(&w, "_mta-sts.a.example.", "CNAME", 3600, "_mta-sts.provider.example.", NULL);
	/* our old TXT is in the way: deleted first */
	dom_init(&d, "a.example", STS_PHASE_PRESENT, NULL);
	d.hosting = STS_HOSTING_DELEGATED;
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 3600, TXT_A, NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.err, STS_OK);
	assert_int_equal(d.n_changes, 3);
	check_change(&d.changes[0], STS_OBJ_CNAME, STS_ACTION_CREATE, NULL,
		     "mta-sts.provider.example.");
	check_change(&d.changes[1], STS_OBJ_STS_RECORD, STS_ACTION_DELETE, TXT_A, NULL);
	check_change(&d.changes[2], STS_OBJ_CNAME, STS_ACTION_CREATE, NULL,
		     "_mta-sts.provider.example.");
	sts_plan_domain_release(&d);

	/* a foreign TXT cannot stay beside a CNAME: conflict */
	dom_init(&d, "a.example", STS_PHASE_PRESENT, NULL);
	d.hosting = STS_HOSTING_DELEGATED;
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 3600, TXT_A, "other", NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.err, STS_ECONFLICT);
	assert_int_equal(d.n_changes, 0);
	sts_plan_domain_release(&d);
	sts_rrsets_release(&w);
}

/* TLS-RPT no longer configured: deleted only when stsctl published it */
static void test_tlsrpt_ownership(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	sts_rrsets_init(&w);
	add_rr(&w, "_mta-sts.a.example.", "TXT", 3600, TXT_A, NULL);
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	have_policy(&d, POL_A);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 3600, TXT_A, NULL);
	add_rr(&d.actual.rr, "_smtp._tls.a.example.", "TXT", 3600, RPT, NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.n_changes, 0);
	json_t *prev = json_loads("{\"records\":[[\"_smtp._tls.a.example.\",\"TXT\"]]}", 0, NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, prev), STS_OK);
	assert_int_equal(d.n_changes, 1);
	check_change(&d.changes[0], STS_OBJ_TLSRPT_RECORD, STS_ACTION_DELETE, RPT, NULL);
	assert_int_equal(d.changes[0].rc.action, STS_CHANGE_DELETE);
	json_decref(prev);
	sts_plan_domain_release(&d);
	sts_rrsets_release(&w);
}

/* removal: mode none with a new id first; after the wait records first, the policy last */
static void test_removal(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	const char *none = "version: STSv1\r\nmode: none\r\nmx: mx.a.example\r\nmax_age: 86400\r\n";
	want_std(&w, TXT_B);
	dom_init(&d, "a.example", STS_PHASE_REMOVE_START, none);
	have_policy(&d, POL_A);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 3600, TXT_A, NULL);
	add_rr(&d.actual.rr, "_smtp._tls.a.example.", "TXT", 3600, "v=TLSRPTv1; rua=mailto:x@y",
	       NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.n_changes, 2); /* TLS-RPT is left alone until the end */
	check_change(&d.changes[0], STS_OBJ_POLICY, STS_ACTION_UPDATE, POL_A, none);
	check_change(&d.changes[1], STS_OBJ_STS_RECORD, STS_ACTION_UPDATE, TXT_A, TXT_B);
	sts_plan_domain_release(&d);

	json_t *prev = json_loads("{\"records\":[[\"mta-sts.a.example.\",\"A\"]]}", 0, NULL);
	dom_init(&d, "a.example", STS_PHASE_REMOVE_DELETE, NULL);
	have_policy(&d, none);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 3600, "keep-me", TXT_B, NULL);
	add_rr(&d.actual.rr, "_smtp._tls.a.example.", "TXT", 3600, RPT, NULL);
	add_rr(&d.actual.rr, "mta-sts.a.example.", "A", 3600, "192.0.2.1", NULL);
	add_rr(&d.actual.rr, "mta-sts.a.example.", "TXT", 3600, "not ours", NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, prev), STS_OK);
	assert_int_equal(d.err, STS_OK);
	assert_int_equal(d.n_changes, 4);
	check_change(&d.changes[0], STS_OBJ_STS_RECORD, STS_ACTION_DELETE, TXT_B, NULL);
	/* the foreign value stays: the rrset is replaced by it alone */
	assert_int_equal(d.changes[0].rc.action, STS_CHANGE_REPLACE);
	assert_int_equal(d.changes[0].rc.rrset.n_values, 1);
	assert_string_equal(d.changes[0].rc.rrset.values[0], "keep-me");
	check_change(&d.changes[1], STS_OBJ_TLSRPT_RECORD, STS_ACTION_DELETE, RPT, NULL);
	assert_int_equal(d.changes[1].rc.action, STS_CHANGE_DELETE);
	check_change(&d.changes[2], STS_OBJ_ADDRESS, STS_ACTION_DELETE, "192.0.2.1", NULL);
	check_change(&d.changes[3], STS_OBJ_POLICY, STS_ACTION_DELETE, none, NULL);
	json_decref(prev);
	sts_plan_domain_release(&d);

	/* waiting: the none policy stays as it is */
	dom_init(&d, "a.example", STS_PHASE_REMOVE_WAIT, none);
	have_policy(&d, none);
	add_rr(&d.actual.rr, "_mta-sts.a.example.", "TXT", 3600, TXT_B, NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.n_changes, 0);
	sts_plan_domain_release(&d);
	sts_rrsets_release(&w);
}

/* the policy host's address: published before the policy so HTTPS verification can reach it */
static void test_policy_host(void **state)
{
	(void)state;
	struct sts_plan_domain d;
	struct sts_rrsets w;
	want_std(&w, TXT_A);
	add_rr(&w, "mta-sts.a.example.", "A", 3600, "192.0.2.7", NULL);
	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	add_rr(&d.actual.rr, "mta-sts.a.example.", "A", 3600, "192.0.2.1", "192.0.2.2", NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.n_changes, 4);
	check_change(&d.changes[0], STS_OBJ_ADDRESS, STS_ACTION_UPDATE, "192.0.2.1, 192.0.2.2",
		     "192.0.2.7");
	assert_string_equal(d.changes[0].type, "A");
	assert_int_equal(d.changes[1].object, STS_OBJ_POLICY);
	assert_int_equal(d.changes[2].object, STS_OBJ_STS_RECORD);
	assert_int_equal(d.changes[3].object, STS_OBJ_TLSRPT_RECORD);
	sts_plan_domain_release(&d);

	dom_init(&d, "a.example", STS_PHASE_PRESENT, POL_A);
	add_rr(&d.actual.rr, "mta-sts.a.example.", "CNAME", 3600, "cdn.example.", NULL);
	assert_int_equal(sts_plan_diff_domain(&d, &w, NULL), STS_OK);
	assert_int_equal(d.err, STS_ECONFLICT);
	assert_non_null(strstr(d.errmsg, "mta-sts.a.example."));
	sts_plan_domain_release(&d);
	sts_rrsets_release(&w);
}

/* ---- output ---- */

static struct sts_plan *sample_plan(void)
{
	struct sts_plan *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->version = STS_PLAN_FORMAT;
	p->inventory_path = strdup("inv.json");
	strcpy(p->inventory_hash, "00ff");
	p->now = 1700000000;
	p->domains = calloc(3, sizeof(*p->domains));
	p->n_domains = 3;
	struct sts_rrsets w;
	want_std(&w, TXT_B);
	dom_init(&p->domains[0], "a.example", STS_PHASE_PRESENT, POL_B);
	have_policy(&p->domains[0], POL_A);
	add_rr(&p->domains[0].actual.rr, "_mta-sts.a.example.", "TXT", 3600, TXT_A, NULL);
	assert_int_equal(sts_plan_diff_domain(&p->domains[0], &w, NULL), STS_OK);
	strcpy(p->domains[0].fingerprint, "f0");
	dom_init(&p->domains[1], "b.example", STS_PHASE_REMOVE_WAIT, NULL);
	p->domains[1].removal_started = 1700000000 - 3600;
	p->domains[1].removal_deadline = 1700000000 + 2 * 86400 + 3 * 3600;
	strcpy(p->domains[1].fingerprint, "f1");
	dom_init(&p->domains[2], "c.example", STS_PHASE_PRESENT, POL_A);
	sts_plan_domain_fail(&p->domains[2], STS_ECONFLICT, "'%s' holds a CNAME",
			     "_mta-sts.c.example.");
	strcpy(p->domains[2].fingerprint, "f2");
	p->n_changes = p->domains[0].n_changes;
	p->n_errors = 1;
	sts_rrsets_release(&w);
	strcpy(p->fingerprint, "abc");
	return p;
}

static void test_json(void **state)
{
	(void)state;
	struct sts_plan *p = sample_plan();
	json_t *j = sts_plan_to_json(p);
	assert_non_null(j);
	json_t *ch = json_object_get(j, "changes");
	assert_int_equal(json_array_size(ch), 3);
	json_t *c0 = json_array_get(ch, 0);
	assert_string_equal(json_string_value(json_object_get(c0, "domain")), "a.example");
	assert_string_equal(json_string_value(json_object_get(c0, "object")), "policy");
	assert_string_equal(json_string_value(json_object_get(c0, "action")), "update");
	assert_string_equal(json_string_value(json_object_get(c0, "before")), POL_A);
	assert_string_equal(json_string_value(json_object_get(c0, "after")), POL_B);
	json_t *c1 = json_array_get(ch, 1);
	assert_string_equal(json_string_value(json_object_get(c1, "object")), "sts-record");
	assert_string_equal(json_string_value(json_object_get(c1, "after")), TXT_B);
	json_t *c2 = json_array_get(ch, 2);
	assert_string_equal(json_string_value(json_object_get(c2, "object")), "tlsrpt-record");
	assert_string_equal(json_string_value(json_object_get(c2, "action")), "create");
	assert_true(json_is_null(json_object_get(c2, "before")));
	json_t *pend = json_object_get(j, "pending");
	assert_int_equal(json_array_size(pend), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(pend, 0), "seconds_left")),
	    2 * 86400 + 3 * 3600);
	json_t *err = json_object_get(j, "errors");
	assert_int_equal(json_array_size(err), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(err, 0), "domain")),
			    "c.example");
	json_decref(j);
	sts_plan_free(p);
}

static void test_human(void **state)
{
	(void)state;
	struct sts_plan *p = sample_plan();
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	assert_int_equal(sts_plan_format(p, &b), STS_OK);
	const char *s = sts_buf_str(&b);
	assert_non_null(strstr(s, "a.example\n  ~ policy https://mta-sts.a.example/.well-known/"
				  "mta-sts.txt\n      - mode: testing\n      + mode: enforce\n"));
	assert_non_null(
	    strstr(s, "  ~ sts-record _mta-sts.a.example. TXT \"" TXT_A "\" -> \"" TXT_B "\"\n"));
	assert_non_null(strstr(s, "  + tlsrpt-record _smtp._tls.a.example. TXT \"" RPT "\"\n"));
	assert_non_null(strstr(s, "b.example (removal-wait)\n  ! removal waits 2d 3h 0m more"));
	assert_non_null(strstr(s, "c.example\n  ! error: '_mta-sts.c.example.' holds a CNAME\n"));
	assert_non_null(strstr(s, "Plan: 1 to create, 2 to update, 0 to delete in 1 of 3 domains; "
				  "1 waiting for removal; 1 with errors\n"));
	sts_buf_release(&b);
	sts_plan_free(p);
}

static void test_removal_share(void **state)
{
	(void)state;
	struct sts_plan p = {0};
	p.n_managed = 100;
	p.n_removal_starts = 10;
	assert_false(sts_plan_removal_excessive(&p));
	p.n_removal_starts = 11;
	assert_true(sts_plan_removal_excessive(&p));
	p.n_managed = 0;
	p.n_removal_starts = 0;
	assert_false(sts_plan_removal_excessive(&p));
	p.n_managed = 3;
	p.n_removal_starts = 1;
	assert_true(sts_plan_removal_excessive(&p));
	/* a scoped plan: against the managed domains of its scope */
	p.n_managed = 20;
	p.n_managed_scope = 10;
	p.n_removal_starts = 2;
	assert_true(sts_plan_removal_excessive(&p));
	p.n_managed_scope = 20;
	assert_false(sts_plan_removal_excessive(&p));
}

static void test_plan_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_plan.XXXXXX", path[64], other[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/plan.json", dir);
	snprintf(other, sizeof(other), "%s/inv.json", dir);
	struct sts_plan *p = sample_plan();
	mode_t um = umask(0);
	assert_int_equal(sts_plan_save(p, path), STS_OK);
	umask(um);
	struct stat pst; /* private whatever the umask (issue 12 §5) */
	assert_int_equal(stat(path, &pst), 0);
	assert_int_equal(pst.st_mode & 07777, 0600);
	assert_true(sts_plan_file_detect(path));
	FILE *f = fopen(other, "w");
	assert_non_null(f);
	fputs("{\"version\":1,\"domains\":[]}\n", f);
	fclose(f);
	assert_false(sts_plan_file_detect(other));

	struct sts_plan_file *pf = NULL;
	char *err = NULL;
	assert_int_equal(sts_plan_file_load(other, &pf, &err), STS_EPARSE);
	assert_non_null(strstr(err, "not a plan file"));
	free(err);
	assert_int_equal(sts_plan_file_load(path, &pf, &err), STS_OK);
	assert_string_equal(pf->inventory_path, "inv.json");
	assert_string_equal(pf->fingerprint, "abc");
	assert_int_equal(pf->n_targets, 3);
	assert_string_equal(pf->targets[2], "c.example");
	assert_int_equal(sts_plan_file_check(pf, p, &err), STS_OK);
	assert_null(err);
	/* the published state of one domain moved */
	strcpy(p->fingerprint, "abd");
	strcpy(p->domains[1].fingerprint, "changed");
	assert_int_equal(sts_plan_file_check(pf, p, &err), STS_ESTALE);
	assert_non_null(strstr(err, "'b.example'"));
	free(err);
	/* the inventory moved */
	strcpy(p->inventory_hash, "11");
	assert_int_equal(sts_plan_file_check(pf, p, &err), STS_ESTALE);
	assert_non_null(strstr(err, "inventory"));
	free(err);
	sts_plan_file_free(pf);
	sts_plan_free(p);
	unlink(path);
	unlink(other);
	rmdir(dir);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(sts_object_name(STS_OBJ_STS_RECORD), "sts-record");
	assert_string_equal(sts_object_name(STS_OBJ_TLSRPT_RECORD), "tlsrpt-record");
	assert_string_equal(sts_object_name(STS_OBJ_CNAME), "cname");
	assert_string_equal(sts_action_name(STS_ACTION_DELETE), "delete");
	assert_true(sts_txt_has_prefix("v=STSv1; id=1;", "v=STSv1"));
	assert_true(sts_txt_has_prefix("v=STSv1", "v=STSv1"));
	assert_false(sts_txt_has_prefix("v=STSv10; id=1;", "v=STSv1"));
	assert_false(sts_txt_has_prefix("x v=STSv1;", "v=STSv1"));
	assert_true(sts_name_eq("A.Example.", "a.example"));
	assert_false(sts_name_eq("a.example", "aa.example"));
}

/* ---- sts_plan_build with a parsed inventory, a state DB and a fake provider ---- */

struct pfake {
	struct sts_rrsets dns;
	const char *policy_host; /* the one policy published, or NULL */
	const char *policy;
	int dns_reads, web_gets;
};

static int pf_dns_read(void *ud, const char *prov, const char *zone, const char *const *names,
		       size_t n, struct sts_rrsets *ret, char **err)
{
	struct pfake *f = ud;
	f->dns_reads++;
	for (size_t i = 0; i < f->dns.n; i++)
		for (size_t k = 0; k < n; k++)
			if (sts_name_eq(f->dns.v[i].name, names[k])) {
				struct sts_rrset *rr = sts_rrsets_add(
				    ret, f->dns.v[i].name, f->dns.v[i].type, f->dns.v[i].ttl);
				for (size_t j = 0; j < f->dns.v[i].n_values; j++)
					sts_rrset_add_value(rr, f->dns.v[i].values[j],
							    strlen(f->dns.v[i].values[j]));
			}
	return STS_OK;
}

static int pf_web_get(void *ud, const char *prov, const char *host, struct sts_buf *ret, char **err)
{
	struct pfake *f = ud;
	f->web_gets++;
	if (f->policy_host && strcmp(host, f->policy_host) == 0)
		return sts_buf_puts(ret, f->policy);
	return STS_ENOENT;
}

static const struct sts_io_ops pf_ops = {.dns_read = pf_dns_read, .web_get = pf_web_get};

static const char INV[] =
    "{\"version\": 1,\n"
    " \"defaults\": {\"dns\": \"d\", \"web\": \"w\", \"mode\": \"enforce\", \"max_age\": 86400},\n"
    " \"providers\": {\"d\": {\"plugin\": \"zonefile\", \"directory\": \"z\", \"create\": true},\n"
    "               \"w\": {\"plugin\": \"local\", \"root\": \"r\"}},\n"
    " \"domains\": [{\"name\": \"b.example\", \"mx\": [\"mx.b.example\"]},\n"
    "             {\"name\": \"a.example\", \"mx\": [\"mx.a.example\"],\n"
    "              \"tlsrpt\": {\"rua\": [\"mailto:r@a.example\"]}}]}\n";

static time_t pf_now(void *ud)
{
	return *(time_t *)ud;
}

/* issue 15: a hosted domain is planned into the MSP zone, never as self-hosted
 * (the rest: test_plan_hosted.c) */
static void test_hosted_not_self(void **state)
{
	(void)state;
	static const char inv_text[] =
	    "{\"version\": 1,\n"
	    " \"providers\": {\"d\": {\"plugin\": \"zonefile\", \"directory\": \"z\", \"create\": "
	    "true}},\n"
	    " \"hosted\": {\"zone\": \"sts.msp.example\", \"dns\": \"d\", \"edge\": "
	    "\"edge.msp.example\",\n"
	    "  \"acme\": {\"directory\": \"https://127.0.0.1/dir\"}},\n"
	    " \"domains\": [{\"name\": \"h.example\", \"mx\": [\"mx.h.example\"], "
	    "\"hosting\": \"hosted\", \"dns\": \"d\"}]}\n";
	struct sts_inventory *inv = NULL;
	struct sts_diags dg;
	sts_diags_init(&dg);
	assert_int_equal(sts_inventory_parse(inv_text, strlen(inv_text), "inv.json", &inv, &dg),
			 STS_OK);
	struct sts_db *db = NULL;
	assert_int_equal(state_fixture_open("plan", ":memory:", 0, NULL, &db, NULL), STS_OK);
	struct pfake f = {0};
	sts_rrsets_init(&f.dns);
	struct sts_io io = {&pf_ops, &f};
	struct sts_plan *p = NULL;
	assert_int_equal(sts_plan_build(inv, db, &io, NULL, &p, &dg), STS_OK);
	assert_int_equal(p->n_domains, 1);
	assert_int_equal(p->domains[0].err, STS_OK);
	assert_string_equal(p->domains[0].zone, "sts.msp.example");
	assert_null(p->domains[0].web);
	assert_non_null(p->domains[0].hosted_txt);
	assert_int_equal(f.web_gets, 0);
	assert_int_equal(f.dns_reads, 1);
	sts_plan_free(p);
	sts_rrsets_release(&f.dns);
	sts_db_close(db);
	sts_inventory_free(inv);
	sts_diags_release(&dg);
}

static void test_build(void **state)
{
	(void)state;
	struct sts_inventory *inv = NULL;
	struct sts_diags dg;
	sts_diags_init(&dg);
	assert_int_equal(sts_inventory_parse(INV, strlen(INV), "inv.json", &inv, &dg), STS_OK);
	time_t now = 1700000000;
	struct sts_clock clk = {pf_now, &now};
	struct sts_db *db = NULL;
	assert_int_equal(state_fixture_open("plan", ":memory:", 0, &clk, &db, NULL), STS_OK);
	struct pfake f = {0};
	sts_rrsets_init(&f.dns);
	struct sts_io io = {&pf_ops, &f};
	struct sts_plan *p = NULL;

	/* fresh: everything to create, domains sorted by name, one read per zone */
	assert_int_equal(sts_plan_build(inv, db, &io, NULL, &p, &dg), STS_OK);
	assert_int_equal(p->n_domains, 2);
	assert_string_equal(p->domains[0].name, "a.example");
	assert_int_equal(p->domains[0].n_changes, 3);
	assert_int_equal(p->domains[1].n_changes, 2); /* no rua: no TLS-RPT record */
	assert_int_equal(p->n_changes, 5);
	assert_int_equal(f.dns_reads, 2);
	assert_int_equal(f.web_gets, 2);
	assert_null(p->domains[0].spec); /* only built for apply */
	assert_int_equal(strlen(p->fingerprint), 64);
	char fp[65];
	memcpy(fp, p->fingerprint, sizeof(fp));
	sts_plan_free(p);

	/* the same state gives the same fingerprint; a target narrows it */
	const char *t[] = {"B.Example."};
	struct sts_plan_opts o = {.targets = t, .n_targets = 1, .for_apply = true};
	assert_int_equal(sts_plan_build(inv, db, &io, NULL, &p, &dg), STS_OK);
	assert_string_equal(p->fingerprint, fp);
	sts_plan_free(p);
	assert_int_equal(sts_plan_build(inv, db, &io, &o, &p, &dg), STS_OK);
	assert_int_equal(p->n_domains, 1);
	assert_string_equal(p->domains[0].name, "b.example");
	assert_non_null(p->domains[0].spec);
	assert_non_null(strstr(p->domains[0].spec, "\"mx\":[\"mx.b.example\"]"));
	sts_plan_free(p);
	const char *bad[] = {"nope.example"};
	o.targets = bad;
	assert_int_equal(sts_plan_build(inv, db, &io, &o, &p, &dg), STS_ENOENT);
	assert_true(dg.n_errors > 0);

	/* a managed domain that left the inventory: removal starts, and counts for the 10% rule */
	assert_int_equal(
	    sts_db_domain_upsert(db, "gone.example",
				 "{\"zone\":\"gone.example\",\"dns\":\"d\",\"web\":\"w\","
				 "\"hosting\":\"self\",\"mx\":[\"mx.gone.example\"],"
				 "\"max_age\":604800,\"ttl\":300,\"records\":[]}"),
	    STS_OK);
	f.policy_host = "mta-sts.gone.example";
	f.policy = "version: STSv1\r\nmode: enforce\r\nmx: mx.gone.example\r\nmax_age: 604800\r\n";
	assert_int_equal(sts_plan_build(inv, db, &io, NULL, &p, &dg), STS_OK);
	assert_int_equal(p->n_domains, 3);
	struct sts_plan_domain *g = &p->domains[2];
	assert_string_equal(g->name, "gone.example");
	assert_int_equal(g->phase, STS_PHASE_REMOVE_START);
	assert_false(g->in_inventory);
	assert_non_null(strstr(g->policy_text, "mode: none\r\nmx: mx.gone.example\r\n"));
	assert_int_equal(g->changes[0].object, STS_OBJ_POLICY);
	assert_int_equal(g->changes[0].action, STS_ACTION_UPDATE);
	assert_int_equal(g->changes[1].object, STS_OBJ_STS_RECORD);
	assert_int_equal(p->n_managed, 1);
	assert_int_equal(p->n_removal_starts, 1);
	assert_true(sts_plan_removal_excessive(p));
	sts_plan_free(p);

	/* removal started: waiting until the largest max_age has passed, then deleting */
	assert_int_equal(sts_db_domain_removal_start(db, "gone.example"), STS_OK);
	assert_int_equal(sts_db_policy_served(db, "gone.example", "x", f.policy, "enforce", 604800),
			 STS_OK);
	now += 604799;
	assert_int_equal(sts_plan_build(inv, db, &io, NULL, &p, &dg), STS_OK);
	assert_int_equal(p->domains[2].phase, STS_PHASE_REMOVE_WAIT);
	assert_int_equal(p->domains[2].removal_deadline, 1700000000 + 604800);
	sts_plan_free(p);
	now += 1;
	assert_int_equal(sts_plan_build(inv, db, &io, NULL, &p, &dg), STS_OK);
	assert_int_equal(p->domains[2].phase, STS_PHASE_REMOVE_DELETE);
	assert_int_equal(p->domains[2].n_changes, 1);
	assert_int_equal(p->domains[2].changes[0].action, STS_ACTION_DELETE);
	assert_int_equal(p->domains[2].changes[0].object, STS_OBJ_POLICY);
	sts_plan_free(p);

	sts_rrsets_release(&f.dns);
	sts_db_close(db);
	sts_inventory_free(inv);
	sts_diags_release(&dg);
}

/* ---- many domains of one zone: read whole where the plugin can (caps.read_zone) ---- */

struct zfake {
	struct pfake f;
	bool read_zone;
	size_t whole, by_name; /* reads of each kind */
};

static int zf_dns_read(void *ud, const char *prov, const char *zone, const char *const *names,
		       size_t n, struct sts_rrsets *ret, char **err)
{
	struct zfake *z = ud;
	if (names) {
		z->by_name++;
		return pf_dns_read(&z->f, prov, zone, names, n, ret, err);
	}
	z->whole++; /* every rrset of the fake, foreign ones too */
	for (size_t i = 0; i < z->f.dns.n; i++) {
		const struct sts_rrset *s = &z->f.dns.v[i];
		struct sts_rrset *rr = sts_rrsets_add(ret, s->name, s->type, s->ttl);
		for (size_t j = 0; j < s->n_values; j++)
			sts_rrset_add_value(rr, s->values[j], strlen(s->values[j]));
	}
	return STS_OK;
}

static int zf_dns_caps(void *ud, const char *prov, struct sts_dns_caps *ret)
{
	const struct zfake *z = ud;
	memset(ret, 0, sizeof(*ret));
	ret->struct_size = sizeof(*ret);
	ret->read_zone = z->read_zone;
	return STS_OK;
}

static int zf_web_get(void *ud, const char *prov, const char *host, struct sts_buf *ret, char **err)
{
	return pf_web_get(&((struct zfake *)ud)->f, prov, host, ret, err);
}

static const struct sts_io_ops zf_ops = {
    .dns_read = zf_dns_read, .dns_caps = zf_dns_caps, .web_get = zf_web_get};

/* An inventory of n domains d0..d(n-1).z.example in zone z.example. */
static struct sts_inventory *zone_inv(size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fprintf(f, "{\"version\": 1, \"defaults\": {\"dns\": \"d\", \"web\": \"w\", "
		   "\"mode\": \"enforce\", \"max_age\": 86400, \"zone\": \"z.example\"},\n"
		   " \"providers\": {\"d\": {\"plugin\": \"zonefile\", \"directory\": \"z\", "
		   "\"create\": true},\n"
		   "  \"w\": {\"plugin\": \"local\", \"root\": \"r\"}},\n \"domains\": [");
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"%s{\"name\": \"d%zu.z.example\", \"zone\": \"z.example\", "
			"\"mx\": [\"mx.z.example\"]}",
			i ? ", " : "", i);
	fprintf(f, "]}\n");
	fclose(f);
	struct sts_inventory *inv = NULL;
	struct sts_diags dg;
	sts_diags_init(&dg);
	assert_int_equal(sts_inventory_parse(text, len, "inv.json", &inv, &dg), STS_OK);
	sts_diags_release(&dg);
	free(text);
	return inv;
}

static void test_read_zone(void **state)
{
	(void)state;
	struct zfake z = {.read_zone = true};
	sts_rrsets_init(&z.f.dns);
	/* one foreign TXT at a domain's _mta-sts (kept), one elsewhere (not read) */
	struct sts_rrset *rr = sts_rrsets_add(&z.f.dns, "_mta-sts.d3.z.example.", "TXT", 300);
	sts_rrset_add_value(rr, "foreign", 7);
	rr = sts_rrsets_add(&z.f.dns, "www.z.example.", "TXT", 300);
	sts_rrset_add_value(rr, "other", 5);
	struct sts_io io = {&zf_ops, &z};
	struct sts_diags dg;
	sts_diags_init(&dg);
	struct sts_plan *p = NULL;
	time_t now = 1700000000;
	struct sts_clock clk = {pf_now, &now};
	struct sts_db *db = NULL;
	assert_int_equal(state_fixture_open("plan", ":memory:", 0, &clk, &db, NULL), STS_OK);

	/* STS_PLAN_READ_ZONE_MIN domains: one whole read */
	struct sts_inventory *inv = zone_inv(STS_PLAN_READ_ZONE_MIN);
	assert_int_equal(sts_plan_build(inv, db, &io, NULL, &p, &dg), STS_OK);
	assert_int_equal(z.whole, 1);
	assert_int_equal(z.by_name, 0);
	for (size_t i = 0; i < p->n_domains; i++) {
		const struct sts_plan_domain *d = &p->domains[i];
		bool d3 = strcmp(d->name, "d3.z.example") == 0;
		assert_int_equal(d->actual.rr.n, d3 ? 1 : 0);
	}
	sts_plan_free(p);

	/* the plugin cannot: by name, as before */
	z.read_zone = false;
	assert_int_equal(sts_plan_build(inv, db, &io, NULL, &p, &dg), STS_OK);
	assert_int_equal(z.whole, 1);
	assert_int_equal(z.by_name, 1);
	sts_plan_free(p);
	sts_inventory_free(inv);

	/* fewer domains: by name though the plugin could */
	z.read_zone = true;
	inv = zone_inv(STS_PLAN_READ_ZONE_MIN - 1);
	assert_int_equal(sts_plan_build(inv, db, &io, NULL, &p, &dg), STS_OK);
	assert_int_equal(z.whole, 1);
	assert_int_equal(z.by_name, 2);
	sts_plan_free(p);
	sts_inventory_free(inv);
	sts_rrsets_release(&z.f.dns);
	sts_db_close(db);
	sts_diags_release(&dg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh),
	    cmocka_unit_test(test_unchanged),
	    cmocka_unit_test(test_update_keeps_foreign),
	    cmocka_unit_test(test_create_beside_foreign),
	    cmocka_unit_test(test_duplicates_and_ttl),
	    cmocka_unit_test(test_conflict_cname),
	    cmocka_unit_test(test_delegated),
	    cmocka_unit_test(test_tlsrpt_ownership),
	    cmocka_unit_test(test_removal),
	    cmocka_unit_test(test_policy_host),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_human),
	    cmocka_unit_test(test_removal_share),
	    cmocka_unit_test(test_plan_file),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_hosted_not_self),
	    cmocka_unit_test(test_read_zone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
