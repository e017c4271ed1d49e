/* SPDX-License-Identifier: MIT */
/* Plan and apply of hosted domains: the hosted store and the MSP zone (issue 15). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "state_fixture.h"
#include "sts_apply.h"
#include "sts_err.h"
#include "sts_hosted_label.h"
#include "sts_hosted_store.h"
#include "sts_inventory.h"
#include "sts_plan.h"

/* ---- a fake MSP zone; the HTTPS fetch stands for stsctl serve ---- */

struct fake {
	struct sts_rrsets dns;
	unsigned reads, applies;
	char applied[512];	   /* names of the last apply */
	struct sts_db *db;	   /* what "serve" serves */
	const char *serve_instead; /* serve this body instead of the stored one */
	unsigned fetches;
	char *cached;	   /* serve this body for the next n_cached fetches: */
	unsigned n_cached; /* serve's cache before its once-a-second check */
};

static int f_dns_read(void *ud, const char *prov, const char *zone, const char *const *names,
		      size_t n, struct sts_rrsets *ret, char **err)
{
	struct fake *f = ud;
	f->reads++;
	assert_string_equal(prov, "msp");
	assert_string_equal(zone, "sts.msp.example");
	for (size_t i = 0; i < f->dns.n; i++)
		for (size_t k = 0; k < n; k++)
			if (sts_name_eq(f->dns.v[i].name, names[k])) {
				const struct sts_rrset *s = &f->dns.v[i];
				struct sts_rrset *rr =
				    sts_rrsets_add(ret, s->name, s->type, s->ttl);
				for (size_t j = 0; j < s->n_values; j++)
					sts_rrset_add_value(rr, s->values[j], strlen(s->values[j]));
			}
	return STS_OK;
}

static int f_dns_apply(void *ud, const char *prov, const char *zone, const struct sts_dns_change *c,
		       size_t n, char **err)
{
	struct fake *f = ud;
	f->applies++;
	f->applied[0] = '\0';
	assert_string_equal(prov, "msp");
	for (size_t i = 0; i < n; i++) {
		strncat(f->applied, c[i].rrset.name, sizeof(f->applied) - strlen(f->applied) - 1);
		for (size_t k = 0; k < f->dns.n; k++)
			if (sts_name_eq(f->dns.v[k].name, c[i].rrset.name) &&
			    strcmp(f->dns.v[k].type, c[i].rrset.type) == 0) {
				sts_rrset_release(&f->dns.v[k]);
				f->dns.v[k] = f->dns.v[--f->dns.n];
				break;
			}
		if (c[i].action == STS_CHANGE_DELETE)
			continue;
		struct sts_rrset *rr =
		    sts_rrsets_add(&f->dns, c[i].rrset.name, c[i].rrset.type, c[i].rrset.ttl);
		for (size_t k = 0; k < c[i].rrset.n_values; k++)
			sts_rrset_add_value(rr, c[i].rrset.values[k], strlen(c[i].rrset.values[k]));
	}
	return STS_OK;
}

static int f_dns_caps(void *ud, const char *prov, struct sts_dns_caps *ret)
{
	ret->batch = true;
	ret->max_concurrency = 1;
	return STS_OK;
}

static int f_web_fails(void *ud, const char *prov, const char *host, struct sts_buf *ret,
		       char **err)
{
	fail_msg("a hosted domain has no web provider (asked '%s' for '%s')", prov, host);
	return STS_EIO;
}

static const struct sts_io_ops fake_ops = {
    .dns_read = f_dns_read,
    .dns_apply = f_dns_apply,
    .dns_caps = f_dns_caps,
    .web_get = f_web_fails,
};

/* stsctl serve: the stored body of mta-sts.D (or serve_instead) */
static int f_fetch(void *ud, const struct sts_plan_domain *d, struct sts_buf *ret, char **err)
{
	struct fake *f = ud;
	char host[300];
	struct sts_hosted_policy hp = {0};
	bool found = false;
	f->fetches++;
	assert_true(d->verify_https);
	if (f->serve_instead)
		return sts_buf_puts(ret, f->serve_instead);
	if (f->n_cached) {
		f->n_cached--;
		return sts_buf_puts(ret, f->cached);
	}
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	int r = sts_hosted_policy_get(f->db, host, &hp, &found);
	if (r == STS_OK && !found)
		r = STS_ENOENT;
	if (r == STS_OK)
		r = sts_buf_append(ret, hp.body, hp.body_len);
	sts_hosted_policy_release(&hp);
	return r;
}

#define INV_HEAD                                                                                   \
	"{\"version\": 1,\n"                                                                       \
	" \"defaults\": {\"mode\": \"enforce\", \"max_age\": 86400},\n"                            \
	" \"providers\": {\"msp\": {\"plugin\": \"zonefile\", \"directory\": \"z\", \"create\": "  \
	"true},\n"                                                                                 \
	"               \"d\": {\"plugin\": \"zonefile\", \"directory\": \"y\", \"create\": "      \
	"true}},\n"

/* the MSP's hosted section, and an inventory of one hosted domain h.example */
#define INV_HOSTED                                                                                 \
	INV_HEAD " \"hosted\": {\"zone\": \"sts.msp.example\", \"dns\": \"msp\", \"edge\": "       \
		 "\"edge.msp.example\",\n"                                                         \
		 "  \"acme\": {\"directory\": \"https://127.0.0.1/dir\"}},\n"
#define INV_H(extra)                                                                               \
	INV_HOSTED " \"domains\": [{\"name\": \"h.example\", \"mx\": [\"mx.h.example\"], "         \
		   "\"hosting\": \"hosted\", \"dns\": \"d\"" extra "}]}\n"

static const char INV[] = INV_H(",\n  \"tlsrpt\": {\"rua\": [\"mailto:r@h.example\"]}");

struct env {
	struct sts_inventory *inv;
	struct sts_db *db;
	struct fake f;
	struct sts_io io;
	struct sts_diags dg;
	char label[STS_HOSTED_LABEL_LEN + 1];
	char txt[300];
	time_t now;
	struct sts_clock clock;
};

static time_t env_now(void *ud)
{
	return *(time_t *)ud;
}

static void env_init(struct env *e, const char *inv)
{
	memset(e, 0, sizeof(*e));
	sts_diags_init(&e->dg);
	assert_int_equal(sts_inventory_parse(inv, strlen(inv), "inv.json", &e->inv, &e->dg),
			 STS_OK);
	e->now = 1700000000;
	e->clock = (struct sts_clock){env_now, &e->now};
	assert_int_equal(state_fixture_open("plan_hosted", ":memory:", 0, &e->clock, &e->db, NULL),
			 STS_OK);
	sts_rrsets_init(&e->f.dns);
	e->f.db = e->db;
	e->io = (struct sts_io){&fake_ops, &e->f};
	assert_int_equal(sts_hosted_label("h.example", e->label), STS_OK);
	snprintf(e->txt, sizeof(e->txt), "%s._mta-sts.sts.msp.example.", e->label);
	/* serve holds the certificate of mta-sts.h.example (the wait for it:
	 * test_cert_wait_*) */
	assert_int_equal(sts_hosted_schema(e->db), STS_OK);
	assert_int_equal(sts_hosted_cert_put(e->db, "mta-sts.h.example", "chain", "key", e->now,
					     e->now + 86400 * 90, 0),
			 STS_OK);
}

static void env_release(struct env *e)
{
	sts_rrsets_release(&e->f.dns);
	sts_db_close(e->db);
	sts_inventory_free(e->inv);
	sts_diags_release(&e->dg);
}

static struct sts_plan *plan(struct env *e)
{
	struct sts_plan *p = NULL;
	struct sts_plan_opts o = {.for_apply = true, .concurrency = 1};
	assert_int_equal(sts_plan_build(e->inv, e->db, &e->io, &o, &p, &e->dg), STS_OK);
	assert_true(p->n_domains >= 1);
	return p;
}

static void apply(struct env *e, const struct sts_plan *p, struct sts_apply_result *res)
{
	struct sts_apply_opts o = {
	    .https_fetch = f_fetch, .ud = &e->f, .concurrency = 1, .allow_removal = true};
	assert_int_equal(sts_apply_run(p, e->db, &e->io, &o, res), STS_OK);
}

static const struct sts_rrset *txt_at(struct env *e)
{
	return sts_rrsets_find(&e->f.dns, e->txt, "TXT");
}

/* plan: the policy into the store, the TXT at <label>._mta-sts.<zone>; apply
 * stores it, verifies it over HTTPS, then publishes the TXT; a second run
 * changes nothing */
/* INV planned and applied without a failure, then the inventory replaced by next */
static void applied_then(struct env *e, const char *next)
{
	struct sts_apply_result res;
	env_init(e, INV);
	struct sts_plan *p = plan(e);
	apply(e, p, &res);
	assert_int_equal(res.n_failed, 0);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	struct sts_diags dg;
	sts_diags_init(&dg);
	sts_inventory_free(e->inv);
	assert_int_equal(sts_inventory_parse(next, strlen(next), "inv.json", &e->inv, &dg), STS_OK);
	sts_diags_release(&dg);
}

static void test_plan_apply(void **state)
{
	(void)state;
	struct env e;
	env_init(&e, INV);
	struct sts_plan *p = plan(&e);
	const struct sts_plan_domain *d = &p->domains[0];
	assert_int_equal(d->err, STS_OK);
	assert_string_equal(d->zone, "sts.msp.example");
	assert_string_equal(d->dns, "msp");
	assert_null(d->web);
	assert_false(d->label_stored);
	assert_string_equal(d->label, e.label);
	assert_int_equal(d->n_changes, 2);
	assert_int_equal(d->changes[0].object, STS_OBJ_POLICY);
	assert_int_equal(d->changes[0].action, STS_ACTION_CREATE);
	assert_string_equal(d->changes[0].name, "mta-sts.h.example");
	assert_int_equal(d->changes[1].object, STS_OBJ_STS_RECORD);
	assert_string_equal(d->changes[1].name, e.txt);
	char want[64];
	snprintf(want, sizeof(want), "v=STSv1; id=%s;", d->id);
	assert_string_equal(d->changes[1].after, want);

	/* text and JSON say where it goes */
	struct sts_buf out;
	sts_buf_init(&out, 1 << 16);
	assert_int_equal(sts_plan_format(p, &out), STS_OK);
	assert_non_null(strstr(sts_buf_str(&out),
			       "policy https://mta-sts.h.example/.well-known/mta-sts.txt "
			       "(hosted store)"));
	assert_non_null(strstr(sts_buf_str(&out), "(computed, allocated by apply)"));
	assert_non_null(strstr(sts_buf_str(&out), e.txt));
	assert_null(strstr(sts_buf_str(&out), "_smtp._tls"));
	sts_buf_release(&out);
	json_t *j = sts_plan_to_json(p);
	json_t *h = json_object_get(json_array_get(json_object_get(j, "changes"), 1), "hosted");
	assert_string_equal(json_string_value(json_object_get(h, "label")), e.label);
	assert_true(json_is_false(json_object_get(h, "label_stored")));
	json_decref(j);

	struct sts_apply_result res;
	apply(&e, p, &res);
	assert_int_equal(res.n_failed, 0);
	assert_int_equal(res.n_changed, 1);
	assert_int_equal(e.f.fetches, 1);
	struct sts_hosted_policy hp = {0};
	bool found = false;
	assert_int_equal(sts_hosted_policy_get(e.db, "mta-sts.h.example", &hp, &found), STS_OK);
	assert_true(found);
	assert_string_equal((const char *)hp.body, d->policy_text);
	assert_string_equal(hp.policy_id, d->id);
	assert_int_equal(hp.max_age_ever, 86400);
	sts_hosted_policy_release(&hp);
	const struct sts_rrset *rr = txt_at(&e);
	assert_non_null(rr);
	assert_int_equal(rr->n_values, 1);
	assert_string_equal(rr->values[0], want);
	assert_int_equal(e.f.dns.n, 1); /* nothing in the customer's zone */
	char label[STS_HOSTED_LABEL_LEN + 1];
	assert_int_equal(sts_hosted_label_get(e.db, "h.example", label, &found), STS_OK);
	assert_true(found);
	assert_string_equal(label, e.label);
	sts_apply_result_release(&res);
	sts_plan_free(p);

	/* second run: nothing to do, nothing written */
	p = plan(&e);
	assert_true(p->domains[0].label_stored);
	assert_int_equal(p->domains[0].n_changes, 0);
	unsigned applies = e.f.applies;
	apply(&e, p, &res);
	assert_int_equal(res.n_unchanged, 1);
	assert_int_equal(res.n_changes, 0);
	assert_int_equal(e.f.applies, applies);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	env_release(&e);
}

/* serve does not answer with the new body: the policy is stored, the TXT not touched */
static void test_verify_failure(void **state)
{
	(void)state;
	struct env e;
	env_init(&e, INV);
	/* the TXT an earlier apply published stays */
	struct sts_rrset *old = sts_rrsets_add(&e.f.dns, e.txt, "TXT", 3600);
	sts_rrset_add_value(old, "v=STSv1; id=old;", 16);
	struct sts_plan *p = plan(&e);
	assert_int_equal(p->domains[0].n_changes, 2);
	assert_int_equal(p->domains[0].changes[1].action, STS_ACTION_UPDATE);
	e.f.serve_instead = "version: STSv1\r\nmode: testing\r\n";
	struct sts_apply_result res;
	apply(&e, p, &res);
	assert_int_equal(res.n_failed, 1);
	assert_int_equal(res.failures[0].err, STS_EVERIFY);
	assert_string_equal(res.failures[0].step, "policy-verify");
	assert_int_equal(e.f.applies, 0);
	const struct sts_rrset *rr = txt_at(&e);
	assert_non_null(rr);
	assert_string_equal(rr->values[0], "v=STSv1; id=old;");
	sts_apply_result_release(&res);
	sts_plan_free(p);
	env_release(&e);
}

/* serve answers from its cache for up to a second after a write: apply
 * fetches again while the previous policy is served, then publishes */
static void test_verify_waits_for_serve(void **state)
{
	(void)state;
	static const char testing[] = INV_H(", \"mode\": \"testing\"");
	struct env e;
	struct sts_apply_result res;
	applied_then(&e, testing);
	struct sts_hosted_policy hp = {0};
	bool found = false;
	assert_int_equal(sts_hosted_policy_get(e.db, "mta-sts.h.example", &hp, &found), STS_OK);
	assert_true(found);
	e.f.cached = strndup((const char *)hp.body, hp.body_len);
	sts_hosted_policy_release(&hp);
	e.f.n_cached = 3;
	e.f.fetches = 0;
	e.f.applies = 0;
	struct sts_plan *p = plan(&e);
	apply(&e, p, &res);
	assert_int_equal(res.n_failed, 0);
	assert_int_equal(e.f.fetches, 4); /* three times the cached body, then the new one */
	assert_int_equal(e.f.applies, 1);
	const struct sts_rrset *rr = txt_at(&e);
	assert_non_null(rr);
	char want[64];
	snprintf(want, sizeof(want), "v=STSv1; id=%s;", p->domains[0].id);
	assert_string_equal(rr->values[0], want);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	free(e.f.cached);
	env_release(&e);
}

/* leaving (RFC 8461 §8.3): mode none with a new id into the store and the
 * TXT, a wait of the largest max_age served, then the TXT and the policy go */
static void test_removal(void **state)
{
	(void)state;
	static const char absent[] = INV_H(", \"state\": \"absent\"");
	struct env e;
	struct sts_apply_result res;
	applied_then(&e, absent);
	e.now += 60;
	struct sts_plan *p = plan(&e);
	assert_int_equal(p->domains[0].err, STS_OK);
	assert_int_equal(p->domains[0].phase, STS_PHASE_REMOVE_START);
	assert_int_equal(p->domains[0].n_changes, 2);
	apply(&e, p, &res);
	assert_int_equal(res.n_failed, 0);
	struct sts_hosted_policy hp = {0};
	bool found = false;
	assert_int_equal(sts_hosted_policy_get(e.db, "mta-sts.h.example", &hp, &found), STS_OK);
	assert_true(found);
	assert_non_null(strstr((const char *)hp.body, "mode: none"));
	char want[64];
	snprintf(want, sizeof(want), "v=STSv1; id=%s;", hp.policy_id);
	assert_string_equal(txt_at(&e)->values[0], want);
	sts_hosted_policy_release(&hp);
	sts_apply_result_release(&res);
	sts_plan_free(p);

	e.now += 3600; /* the wait: nothing changes */
	p = plan(&e);
	assert_int_equal(p->domains[0].phase, STS_PHASE_REMOVE_WAIT);
	assert_int_equal(p->domains[0].n_changes, 0);
	sts_plan_free(p);

	e.now += 86400; /* max_age_ever has passed */
	p = plan(&e);
	assert_int_equal(p->domains[0].phase, STS_PHASE_REMOVE_DELETE);
	assert_int_equal(p->domains[0].n_changes, 2);
	assert_int_equal(p->domains[0].changes[0].object, STS_OBJ_STS_RECORD);
	assert_int_equal(p->domains[0].changes[1].object, STS_OBJ_POLICY);
	apply(&e, p, &res);
	assert_int_equal(res.n_failed, 0);
	assert_null(txt_at(&e));
	assert_int_equal(sts_hosted_policy_get(e.db, "mta-sts.h.example", &hp, &found), STS_OK);
	assert_false(found);
	sts_apply_result_release(&res);
	sts_plan_free(p);

	p = plan(&e); /* gone */
	assert_int_equal(p->n_changes, 0);
	sts_plan_free(p);
	env_release(&e);
}

/* a hosted domain dropped from the inventory is removed from the MSP zone and
 * the store, as its state says, never as a self-hosted domain */
static void test_removed_from_inventory(void **state)
{
	(void)state;
	static const char none[] =
	    INV_HOSTED " \"domains\": [{\"name\": \"g.example\", "
		       "\"mx\": [\"mx.g.example\"], \"hosting\": \"hosted\"}]}\n";
	struct env e;
	applied_then(&e, none);
	struct sts_plan *p = plan(&e);
	assert_int_equal(p->n_domains, 2);
	const struct sts_plan_domain *d = &p->domains[1];
	assert_string_equal(d->name, "h.example");
	assert_int_equal(d->err, STS_OK);
	assert_false(d->in_inventory);
	assert_int_equal(d->hosting, STS_HOSTING_HOSTED);
	assert_int_equal(d->phase, STS_PHASE_REMOVE_START);
	assert_string_equal(d->zone, "sts.msp.example");
	assert_null(d->web);
	assert_int_equal(d->n_changes, 2);
	assert_int_equal(d->changes[0].object, STS_OBJ_POLICY);
	assert_non_null(strstr(d->changes[0].after, "mode: none"));
	assert_string_equal(d->changes[1].name, e.txt);
	sts_plan_free(p);
	env_release(&e);
}

/* ---- a new customer: apply waits for serve's first certificate ---- */

#define INV_WAIT(w)                                                                                \
	INV_HEAD " \"hosted\": {\"zone\": \"sts.msp.example\", \"dns\": \"msp\", \"edge\": "       \
		 "\"edge.msp.example\", \"certificate_wait\": " w ",\n"                            \
		 "  \"acme\": {\"directory\": \"https://127.0.0.1/dir\"}},\n"                      \
		 " \"domains\": [{\"name\": \"h.example\", \"mx\": [\"mx.h.example\"], "           \
		 "\"hosting\": \"hosted\"}]}\n"

struct serve_later {
	struct env *e;
	unsigned ms; /* the certificate appears this much later */
	pthread_t th;
	unsigned notes;
	char note[200];
};

static void *issue_later(void *ud)
{
	struct serve_later *s = ud;
	struct timespec ts = {s->ms / 1000, (long)(s->ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	assert_int_equal(sts_hosted_cert_put(s->e->db, "mta-sts.h.example", "chain", "key",
					     s->e->now, s->e->now + 86400 * 90, 0),
			 STS_OK);
	return NULL;
}

static void on_note(void *ud, const char *domain, const char *text)
{
	struct serve_later *s = ud;
	assert_string_equal(domain, "h.example");
	s->notes++;
	snprintf(s->note, sizeof(s->note), "%s", text);
}

static int f_fetch_later(void *ud, const struct sts_plan_domain *d, struct sts_buf *ret, char **err)
{
	struct serve_later *s = ud;
	return f_fetch(&s->e->f, d, ret, err);
}

/*
 * A run of INV_WAIT(wait) without a certificate: it is written ms later
 * (0: never) and, with error, a failure is recorded first whose next
 * attempt is next_in seconds later. The elapsed ms in *took.
 */
static void run_waiting(struct env *e, struct serve_later *s, const char *inv, unsigned ms,
			const char *error, long long next_in, struct sts_apply_result *res,
			long long *took)
{
	env_init(e, inv);
	assert_int_equal(sts_hosted_cert_delete(e->db, "mta-sts.h.example"), STS_OK);
	if (error)
		assert_int_equal(
		    sts_hosted_cert_failure(e->db, "mta-sts.h.example", error, e->now + next_in),
		    STS_OK);
	*s = (struct serve_later){.e = e, .ms = ms};
	struct sts_plan *p = plan(e);
	struct sts_apply_opts o = {
	    .https_fetch = f_fetch_later, .note = on_note, .ud = s, .concurrency = 1};
	struct timespec t0, t1;
	if (ms)
		assert_int_equal(pthread_create(&s->th, NULL, issue_later, s), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sts_apply_run(p, e->db, &e->io, &o, res), STS_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*took = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (ms)
		pthread_join(s->th, NULL);
	sts_plan_free(p);
}

/* serve installs the certificate 600 ms after the policy went into the
 * store: one apply waits for it, verifies and publishes the TXT */
static void test_cert_wait_appears(void **state)
{
	(void)state;
	struct env e;
	struct serve_later s;
	struct sts_apply_result res;
	long long took;
	run_waiting(&e, &s, INV_WAIT("5"), 600, NULL, 0, &res, &took);
	assert_int_equal(res.n_failed, 0);
	assert_int_equal(res.n_changed, 1);
	assert_true(took >= 600 && took < 5000);
	assert_int_equal(s.notes, 1);
	assert_string_equal(s.note,
			    "waiting for serve's certificate for mta-sts.h.example (up to 5 s)");
	assert_int_equal(e.f.fetches, 1);
	assert_non_null(txt_at(&e));
	sts_apply_result_release(&res);
	env_release(&e);
}

/* it never comes: the domain fails when the wait runs out, naming the
 * store's last error, and nothing is published */
static void test_cert_wait_timeout(void **state)
{
	(void)state;
	struct env e;
	struct serve_later s;
	struct sts_apply_result res;
	long long took;
	run_waiting(&e, &s, INV_WAIT("1"), 0,
		    "not delegated: mta-sts.h.example does not point at edge.msp.example", 0, &res,
		    &took);
	assert_int_equal(res.n_failed, 1);
	assert_string_equal(res.failures[0].step, "policy-verify");
	assert_int_equal(res.failures[0].err, STS_ETIMEOUT);
	assert_non_null(strstr(res.failures[0].message,
			       "no certificate for mta-sts.h.example after 1 s: serve's last "
			       "attempt failed: not delegated: mta-sts.h.example does not point"));
	assert_true(took >= 1000 && took < 3000);
	assert_int_equal(s.notes, 1);
	assert_int_equal(e.f.fetches, 0);
	assert_null(txt_at(&e));
	sts_apply_result_release(&res);
	env_release(&e);

	/* serve never tried: says so */
	run_waiting(&e, &s, INV_WAIT("1"), 0, NULL, 0, &res, &took);
	assert_int_equal(res.n_failed, 1);
	assert_non_null(strstr(res.failures[0].message, "serve has not tried to get one"));
	sts_apply_result_release(&res);
	env_release(&e);
}

/* serve's next attempt comes after the wait: no use waiting, the domain
 * fails at once; a rerun once it has the certificate publishes */
static void test_cert_wait_later(void **state)
{
	(void)state;
	struct env e;
	struct serve_later s;
	struct sts_apply_result res;
	long long took;
	run_waiting(&e, &s, INV_WAIT("5"), 0, "urn:ietf:params:acme:error:rateLimited", 3600, &res,
		    &took);
	assert_int_equal(res.n_failed, 1);
	assert_non_null(strstr(res.failures[0].message, "rateLimited; its next attempt ("));
	assert_non_null(strstr(res.failures[0].message, "is after hosted.certificate_wait (5 s)"));
	assert_true(took < 1000);
	assert_int_equal(s.notes, 0);
	sts_apply_result_release(&res);

	/* the rerun continues: serve got it since */
	assert_int_equal(sts_hosted_cert_put(e.db, "mta-sts.h.example", "chain", "key", e.now,
					     e.now + 86400 * 90, 0),
			 STS_OK);
	struct sts_plan *p = plan(&e);
	apply(&e, p, &res);
	assert_int_equal(res.n_failed, 0);
	assert_non_null(txt_at(&e));
	sts_apply_result_release(&res);
	sts_plan_free(p);
	env_release(&e);
}

int main(void)
{
	cmocka_set_message_output(CM_OUTPUT_TAP);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_apply),
	    cmocka_unit_test(test_verify_failure),
	    cmocka_unit_test(test_verify_waits_for_serve),
	    cmocka_unit_test(test_removal),
	    cmocka_unit_test(test_removed_from_inventory),
	    cmocka_unit_test(test_cert_wait_appears),
	    cmocka_unit_test(test_cert_wait_timeout),
	    cmocka_unit_test(test_cert_wait_later),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
