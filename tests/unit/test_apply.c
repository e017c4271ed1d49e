/* SPDX-License-Identifier: MIT */
/* Apply order, failure isolation and bookkeeping, with a fake provider. */
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
#include "sts_plan.h"
#include "sts_plugin.h"

#define POL(m) "version: STSv1\r\nmode: " m "\r\nmx: mx.example\r\nmax_age: 604800\r\n"

/* ---- the fake provider: an in-memory web root and zone, and a call log ---- */

struct fake {
	pthread_mutex_t mu;
	char *web_host[512];
	char *web_text[512];
	size_t n_web;
	struct sts_rrsets dns;
	char *log[8192];
	size_t n_log;
	const char *corrupt_get; /* get returns something else for this host */
	const char *fail_put;	 /* put fails for this host */
	const char *fail_name;	 /* any dns apply touching this name fails */
	unsigned dns_calls;
	bool batch;
};

static void logf_(struct fake *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	f->log[f->n_log++] = s;
}

static int find_web(struct fake *f, const char *host)
{
	for (size_t i = 0; i < f->n_web; i++)
		if (strcmp(f->web_host[i], host) == 0)
			return (int)i;
	return -1;
}

static int f_web_get(void *ud, const char *prov, const char *host, struct sts_buf *ret, char **err)
{
	struct fake *f = ud;
	pthread_mutex_lock(&f->mu);
	logf_(f, "get %s", host);
	int i = find_web(f, host);
	int r = STS_ENOENT;
	if (i >= 0) {
		const char *t = f->corrupt_get && strcmp(host, f->corrupt_get) == 0
				    ? "version: STSv1\r\nmode: other\r\n"
				    : f->web_text[i];
		r = sts_buf_puts(ret, t);
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

static int f_web_put(void *ud, const char *prov, const char *host, const void *data, size_t len,
		     char **err)
{
	struct fake *f = ud;
	pthread_mutex_lock(&f->mu);
	logf_(f, "put %s", host);
	int r = STS_OK;
	if (f->fail_put && strcmp(host, f->fail_put) == 0) {
		*err = strdup("disk on fire");
		r = STS_EPROVIDER;
	} else {
		int i = find_web(f, host);
		if (i < 0) {
			i = (int)f->n_web++;
			f->web_host[i] = strdup(host);
		} else {
			free(f->web_text[i]);
		}
		f->web_text[i] = strndup(data, len);
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

static int f_web_del(void *ud, const char *prov, const char *host, char **err)
{
	struct fake *f = ud;
	pthread_mutex_lock(&f->mu);
	logf_(f, "del %s", host);
	int i = find_web(f, host);
	if (i >= 0) {
		free(f->web_text[i]);
		f->web_text[i] = strdup(""); /* keep the slot, mark gone */
		free(f->web_host[i]);
		f->web_host[i] = strdup("-");
	}
	pthread_mutex_unlock(&f->mu);
	return i >= 0 ? STS_OK : STS_ENOENT;
}

static int f_web_caps(void *ud, const char *prov, struct sts_web_caps *ret)
{
	ret->verify_https = false;
	ret->max_concurrency = 4;
	return STS_OK;
}

static int f_dns_read(void *ud, const char *prov, const char *zone, const char *const *names,
		      size_t n, struct sts_rrsets *ret, char **err)
{
	return STS_OK;
}

static void rr_remove(struct sts_rrsets *l, const char *name, const char *type)
{
	for (size_t i = 0; i < l->n; i++)
		if (sts_name_eq(l->v[i].name, name) && strcmp(l->v[i].type, type) == 0) {
			sts_rrset_release(&l->v[i]);
			l->v[i] = l->v[--l->n];
			return;
		}
}

static int f_dns_apply(void *ud, const char *prov, const char *zone, const struct sts_dns_change *c,
		       size_t n, char **err)
{
	struct fake *f = ud;
	pthread_mutex_lock(&f->mu);
	f->dns_calls++;
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	sts_buf_printf(&b, "dns %s", zone);
	for (size_t i = 0; i < n; i++)
		sts_buf_printf(&b, " %s%s/%s",
			       c[i].action == STS_CHANGE_DELETE	  ? "-"
			       : c[i].action == STS_CHANGE_CREATE ? "+"
								  : "~",
			       c[i].rrset.name, c[i].rrset.type);
	logf_(f, "%s", sts_buf_str(&b));
	sts_buf_release(&b);
	int r = STS_OK;
	for (size_t i = 0; i < n; i++)
		if (f->fail_name && strcmp(c[i].rrset.name, f->fail_name) == 0) {
			*err = strdup("refused by the fake");
			r = STS_EPROVIDER;
		}
	for (size_t i = 0; r == STS_OK && i < n; i++) {
		rr_remove(&f->dns, c[i].rrset.name, c[i].rrset.type);
		if (c[i].action == STS_CHANGE_DELETE)
			continue;
		struct sts_rrset *rr =
		    sts_rrsets_add(&f->dns, c[i].rrset.name, c[i].rrset.type, c[i].rrset.ttl);
		for (size_t k = 0; k < c[i].rrset.n_values; k++)
			sts_rrset_add_value(rr, c[i].rrset.values[k], strlen(c[i].rrset.values[k]));
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

static int f_dns_caps(void *ud, const char *prov, struct sts_dns_caps *ret)
{
	struct fake *f = ud;
	ret->batch = f->batch;
	ret->max_concurrency = 4;
	return STS_OK;
}

static const struct sts_io_ops fake_ops = {
    .dns_read = f_dns_read,
    .dns_apply = f_dns_apply,
    .dns_caps = f_dns_caps,
    .web_get = f_web_get,
    .web_put = f_web_put,
    .web_del = f_web_del,
    .web_caps = f_web_caps,
};

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	pthread_mutex_init(&f->mu, NULL);
	sts_rrsets_init(&f->dns);
	f->batch = true;
	return f;
}

static void fake_free(struct fake *f)
{
	for (size_t i = 0; i < f->n_web; i++) {
		free(f->web_host[i]);
		free(f->web_text[i]);
	}
	for (size_t i = 0; i < f->n_log; i++)
		free(f->log[i]);
	sts_rrsets_release(&f->dns);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* index of the first log line equal to s, or -1 */
static int logpos(const struct fake *f, const char *s)
{
	for (size_t i = 0; i < f->n_log; i++)
		if (strcmp(f->log[i], s) == 0)
			return (int)i;
	return -1;
}

/* index of the first dns line mentioning name */
static int dnspos(const struct fake *f, const char *name)
{
	for (size_t i = 0; i < f->n_log; i++)
		if (strncmp(f->log[i], "dns ", 4) == 0 && strstr(f->log[i], name))
			return (int)i;
	return -1;
}

/* ---- plans built with the real diff ---- */

static void add_rr(struct sts_rrsets *l, const char *name, const char *type, const char *v)
{
	struct sts_rrset *rr = sts_rrsets_add(l, name, type, 3600);
	assert_non_null(rr);
	assert_int_equal(sts_rrset_add_value(rr, v, strlen(v)), STS_OK);
}

/* A domain of zone, diffed against what the fake publishes now. */
static void plan_domain(struct sts_plan_domain *d, struct fake *f, const char *name,
			const char *zone, enum sts_phase ph, const char *policy, const char *id)
{
	char n1[300], n2[300], host[300], txt[100];
	memset(d, 0, sizeof(*d));
	d->name = strdup(name);
	d->zone = strdup(zone);
	d->dns = strdup("dns");
	d->web = strdup("web");
	d->phase = ph;
	d->mode = STS_MODE_ENFORCE;
	d->max_age = 604800;
	d->managed = ph != STS_PHASE_PRESENT;
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->policy_text = policy ? strdup(policy) : NULL;
	d->spec = strdup("{\"v\":1}");
	sts_rrsets_init(&d->actual.rr);
	snprintf(n1, sizeof(n1), "_mta-sts.%s.", name);
	snprintf(n2, sizeof(n2), "_smtp._tls.%s.", name);
	snprintf(host, sizeof(host), "mta-sts.%s", name);
	int i = find_web(f, host);
	if (i >= 0) {
		d->actual.have_policy = true;
		d->actual.policy = strdup(f->web_text[i]);
	}
	for (size_t k = 0; k < f->dns.n; k++)
		if (sts_name_eq(f->dns.v[k].name, n1) || sts_name_eq(f->dns.v[k].name, n2)) {
			struct sts_rrset *rr = sts_rrsets_add(&d->actual.rr, f->dns.v[k].name,
							      f->dns.v[k].type, f->dns.v[k].ttl);
			for (size_t j = 0; j < f->dns.v[k].n_values; j++)
				sts_rrset_add_value(rr, f->dns.v[k].values[j],
						    strlen(f->dns.v[k].values[j]));
		}
	struct sts_rrsets w;
	sts_rrsets_init(&w);
	snprintf(txt, sizeof(txt), "v=STSv1; id=%s;", id);
	add_rr(&w, n1, "TXT", txt);
	add_rr(&w, n2, "TXT", "v=TLSRPTv1; rua=mailto:r@example.net");
	assert_int_equal(sts_plan_diff_domain(d, &w, NULL), STS_OK);
	sts_rrsets_release(&w);
}

static struct sts_plan *plan_new(size_t n)
{
	struct sts_plan *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->domains = calloc(n, sizeof(*p->domains));
	p->inventory_path = strdup("inv.json");
	return p;
}

static void plan_total(struct sts_plan *p)
{
	for (size_t i = 0; i < p->n_domains; i++)
		p->n_changes += p->domains[i].n_changes;
}

static struct sts_io fake_io(struct fake *f)
{
	return (struct sts_io){&fake_ops, f};
}

struct hooks {
	pthread_mutex_t mu;
	char *v[4096];
	size_t n;
};

static void on_step(void *ud, const char *step, const char *domain)
{
	struct hooks *h = ud;
	pthread_mutex_lock(&h->mu);
	char *s = NULL;
	if (asprintf(&s, "%s %s", step, domain ? domain : "*") >= 0)
		h->v[h->n++] = s;
	pthread_mutex_unlock(&h->mu);
}

static int hookpos(const struct hooks *h, const char *s)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i], s) == 0)
			return (int)i;
	return -1;
}

static void hooks_release(struct hooks *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i]);
}

/* ---- tests ---- */

static void test_fresh_order(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct sts_db *db = NULL;
	assert_int_equal(state_fixture_open("apply", ":memory:", 0, NULL, &db, NULL), STS_OK);
	struct sts_plan *p = plan_new(2);
	plan_domain(&p->domains[p->n_domains++], f, "a.example", "example", STS_PHASE_PRESENT,
		    POL("enforce"), "ida");
	plan_domain(&p->domains[p->n_domains++], f, "b.example", "example", STS_PHASE_PRESENT,
		    POL("testing"), "idb");
	plan_total(p);
	struct sts_io io = fake_io(f);
	struct hooks h = {.n = 0};
	pthread_mutex_init(&h.mu, NULL);
	struct sts_apply_opts o = {.step_hook = on_step, .ud = &h};
	struct sts_apply_result res;
	assert_int_equal(sts_apply_run(p, db, &io, &o, &res), STS_OK);
	assert_int_equal(res.n_failed, 0);
	assert_int_equal(res.n_changed, 2);
	assert_int_equal(res.n_changes, 6);
	/* policy written and read back before any record; one DNS call for the zone */
	int put_a = logpos(f, "put mta-sts.a.example"), get_a = logpos(f, "get mta-sts.a.example");
	int put_b = logpos(f, "put mta-sts.b.example"), get_b = logpos(f, "get mta-sts.b.example");
	int dns = dnspos(f, "_mta-sts.a.example.");
	assert_true(put_a >= 0 && get_a > put_a && put_b >= 0 && get_b > put_b);
	assert_true(dns > get_a && dns > get_b);
	assert_int_equal(f->dns_calls, 1);
	assert_string_equal(f->log[dns], "dns example +_mta-sts.a.example./TXT "
					 "+_smtp._tls.a.example./TXT +_mta-sts.b.example./TXT "
					 "+_smtp._tls.b.example./TXT");
	/* the served policy is committed before the TXT goes out */
	int rec = hookpos(&h, "db-record *"), hdns = hookpos(&h, "dns *");
	assert_true(hookpos(&h, "policy-verify a.example") < rec);
	assert_true(rec >= 0 && hdns > rec);
	assert_true(hookpos(&h, "db-commit *") > hdns);
	/* the state DB */
	struct sts_db_policy *hist = NULL;
	size_t n = 0;
	assert_int_equal(sts_db_policy_history(db, "b.example", &hist, &n), STS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(hist[0].policy_id, "idb");
	assert_string_equal(hist[0].text, POL("testing"));
	assert_true(hist[0].current);
	sts_db_policies_free(hist, n);
	struct sts_db_domain *dv = NULL;
	assert_int_equal(sts_db_domains_list(db, &dv, &n), STS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(dv[0].spec, "{\"v\":1}");
	assert_true(dv[0].last_applied > 0);
	sts_db_domains_free(dv, n);
	sts_apply_result_release(&res);
	sts_plan_free(p);

	/* a second plan against the new state has nothing to do */
	p = plan_new(2);
	plan_domain(&p->domains[p->n_domains++], f, "a.example", "example", STS_PHASE_PRESENT,
		    POL("enforce"), "ida");
	plan_domain(&p->domains[p->n_domains++], f, "b.example", "example", STS_PHASE_PRESENT,
		    POL("testing"), "idb");
	assert_int_equal(p->domains[0].n_changes + p->domains[1].n_changes, 0);
	size_t calls = f->n_log;
	assert_int_equal(sts_apply_run(p, db, &io, NULL, &res), STS_OK);
	assert_int_equal(res.n_unchanged, 2);
	assert_int_equal(f->n_log, calls);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	hooks_release(&h);
	sts_db_close(db);
	fake_free(f);
}

/* a policy that does not read back as written: no id for it, the other domain goes on */
static void test_verify_failure(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct sts_db *db = NULL;
	assert_int_equal(state_fixture_open("apply", ":memory:", 0, NULL, &db, NULL), STS_OK);
	f->corrupt_get = "mta-sts.b.example";
	struct sts_plan *p = plan_new(2);
	plan_domain(&p->domains[p->n_domains++], f, "a.example", "example", STS_PHASE_PRESENT,
		    POL("enforce"), "ida");
	plan_domain(&p->domains[p->n_domains++], f, "b.example", "example", STS_PHASE_PRESENT,
		    POL("testing"), "idb");
	struct sts_io io = fake_io(f);
	struct sts_apply_result res;
	assert_int_equal(sts_apply_run(p, db, &io, NULL, &res), STS_OK);
	assert_int_equal(res.n_failed, 1);
	assert_int_equal(res.n_changed, 1);
	assert_int_equal(res.n_failures, 1);
	assert_string_equal(res.failures[0].domain, "b.example");
	assert_string_equal(res.failures[0].step, "policy-verify");
	assert_int_equal(res.failures[0].err, STS_EVERIFY);
	assert_non_null(strstr(res.failures[0].message, "differs"));
	assert_int_equal(dnspos(f, "b.example"), -1); /* nothing of b in DNS */
	assert_true(dnspos(f, "_mta-sts.a.example.") >= 0);
	long long ma;
	bool found = true;
	assert_int_equal(sts_db_policy_max_age(db, "b.example", &ma, &found), STS_OK);
	assert_false(found);
	sts_apply_result_release(&res);
	sts_plan_free(p);

	/* a failing put: no verify, no DNS */
	f->corrupt_get = NULL;
	f->fail_put = "mta-sts.c.example";
	p = plan_new(1);
	plan_domain(&p->domains[p->n_domains++], f, "c.example", "c.example", STS_PHASE_PRESENT,
		    POL("enforce"), "idc");
	assert_int_equal(sts_apply_run(p, db, &io, NULL, &res), STS_OK);
	assert_int_equal(res.n_failed, 1);
	assert_string_equal(res.failures[0].step, "policy-put");
	assert_non_null(strstr(res.failures[0].message, "disk on fire"));
	assert_int_equal(logpos(f, "get mta-sts.c.example"), -1);
	assert_int_equal(dnspos(f, "c.example"), -1);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	sts_db_close(db);
	fake_free(f);
}

/* a DNS batch that fails is retried domain by domain: only the bad one fails */
static void test_dns_isolation(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	f->fail_name = "_smtp._tls.b.example.";
	struct sts_plan *p = plan_new(3);
	const char *names[] = {"a.example", "b.example", "c.example"};
	for (int i = 0; i < 3; i++)
		plan_domain(&p->domains[p->n_domains++], f, names[i], "example", STS_PHASE_PRESENT,
			    POL("enforce"), "id1");
	struct sts_io io = fake_io(f);
	struct sts_apply_result res;
	assert_int_equal(sts_apply_run(p, NULL, &io, NULL, &res), STS_OK);
	assert_int_equal(f->dns_calls, 4); /* the batch, then one per domain */
	assert_int_equal(res.n_failed, 1);
	assert_int_equal(res.n_changed, 2);
	assert_string_equal(res.failures[0].domain, "b.example");
	assert_string_equal(res.failures[0].step, "dns");
	assert_non_null(strstr(res.failures[0].message, "refused by the fake"));
	assert_non_null(sts_rrsets_find(&f->dns, "_mta-sts.c.example.", "TXT"));
	assert_null(sts_rrsets_find(&f->dns, "_mta-sts.b.example.", "TXT"));
	sts_apply_result_release(&res);
	sts_plan_free(p);
	fake_free(f);
}

static int fetch_ok(void *ud, const struct sts_plan_domain *d, struct sts_buf *ret, char **err)
{
	int *calls = ud;
	(*calls)++;
	if (strcmp(d->name, "bad.example") == 0) {
		*err = strdup("certificate verify failed");
		return STS_ETLS;
	}
	return sts_buf_puts(ret, d->policy_text);
}

static void test_https_verify(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct sts_plan *p = plan_new(2);
	plan_domain(&p->domains[p->n_domains++], f, "bad.example", "bad.example", STS_PHASE_PRESENT,
		    POL("enforce"), "x1");
	plan_domain(&p->domains[p->n_domains++], f, "good.example", "good.example",
		    STS_PHASE_PRESENT, POL("enforce"), "x2");
	p->domains[0].verify_https = true;
	p->domains[1].verify_https = true;
	int calls = 0;
	struct sts_io io = fake_io(f);
	struct sts_apply_opts o = {.https_fetch = fetch_ok, .ud = &calls, .concurrency = 1};
	struct sts_apply_result res;
	assert_int_equal(sts_apply_run(p, NULL, &io, &o, &res), STS_OK);
	assert_int_equal(calls, 2);
	assert_int_equal(res.n_failed, 1);
	assert_string_equal(res.failures[0].domain, "bad.example");
	assert_int_equal(res.failures[0].err, STS_ETLS);
	assert_non_null(strstr(res.failures[0].message, "certificate verify failed"));
	assert_int_equal(dnspos(f, "bad.example"), -1);
	assert_true(dnspos(f, "good.example") >= 0);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	fake_free(f);
}

/* what a misconfigured web server sends: trailing bytes after a NUL, or a stale policy */
static int fetch_wrong(void *ud, const struct sts_plan_domain *d, struct sts_buf *ret, char **err)
{
	(void)ud;
	(void)err;
	if (strcmp(d->name, "nul.example") == 0)
		return sts_buf_append(ret, POL("enforce") "\0junk",
				      sizeof(POL("enforce") "\0junk") - 1);
	return sts_buf_puts(ret, POL("testing"));
}

static void test_https_verify_exact(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct sts_plan *p = plan_new(2);
	plan_domain(&p->domains[p->n_domains++], f, "nul.example", "nul.example", STS_PHASE_PRESENT,
		    POL("enforce"), "x1");
	plan_domain(&p->domains[p->n_domains++], f, "stale.example", "stale.example",
		    STS_PHASE_PRESENT, POL("enforce"), "x2");
	p->domains[0].verify_https = true;
	p->domains[1].verify_https = true;
	struct sts_io io = fake_io(f);
	struct sts_apply_opts o = {.https_fetch = fetch_wrong, .concurrency = 1};
	struct sts_apply_result res;
	assert_int_equal(sts_apply_run(p, NULL, &io, &o, &res), STS_OK);
	assert_int_equal(res.n_failed, 2);
	assert_string_equal(res.failures[0].domain, "nul.example");
	assert_int_equal(res.failures[0].err, STS_EVERIFY);
	assert_non_null(strstr(res.failures[0].message, "serves another policy: 69 bytes, "
							"expected 64: more after the policy"));
	assert_string_equal(res.failures[1].domain, "stale.example");
	assert_non_null(strstr(res.failures[1].message,
			       "serves another policy: line 2 is 'mode: testing', expected 'mode: "
			       "enforce'"));
	assert_int_equal(dnspos(f, "nul.example"), -1);
	assert_int_equal(dnspos(f, "stale.example"), -1);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	fake_free(f);
}

/* the id changes while the policy already matches (a crash after the put): verify first */
static void test_rerun_after_crash(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	f->web_host[0] = strdup("mta-sts.a.example");
	f->web_text[0] = strdup(POL("enforce"));
	f->n_web = 1;
	add_rr(&f->dns, "_mta-sts.a.example.", "TXT", "v=STSv1; id=old;");
	struct sts_plan *p = plan_new(1);
	plan_domain(&p->domains[p->n_domains++], f, "a.example", "example", STS_PHASE_PRESENT,
		    POL("enforce"), "new");
	assert_int_equal(p->domains[0].n_changes, 2); /* sts-record update, tlsrpt create */
	struct sts_io io = fake_io(f);
	struct sts_apply_result res;
	assert_int_equal(sts_apply_run(p, NULL, &io, NULL, &res), STS_OK);
	assert_int_equal(res.n_failed, 0);
	assert_int_equal(logpos(f, "put mta-sts.a.example"), -1);
	int get = logpos(f, "get mta-sts.a.example");
	assert_true(get >= 0 && dnspos(f, "_mta-sts.a.example.") > get);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	fake_free(f);
}

struct fake_clock {
	time_t t;
};

static time_t clock_now(void *ud)
{
	return ((struct fake_clock *)ud)->t;
}

static void test_removal_bookkeeping(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct fake_clock fc = {1700000000};
	struct sts_clock clock = {clock_now, &fc};
	struct sts_db *db = NULL;
	assert_int_equal(state_fixture_open("apply", ":memory:", 0, &clock, &db, NULL), STS_OK);
	struct sts_io io = fake_io(f);
	struct sts_apply_result res;
	/* published and managed */
	struct sts_plan *p = plan_new(1);
	plan_domain(&p->domains[p->n_domains++], f, "a.example", "example", STS_PHASE_PRESENT,
		    POL("enforce"), "e1");
	assert_int_equal(sts_apply_run(p, db, &io, NULL, &res), STS_OK);
	sts_apply_result_release(&res);
	sts_plan_free(p);

	/* removal starts: mode none with a new id, then the clock starts */
	fc.t += 100;
	p = plan_new(1);
	plan_domain(&p->domains[p->n_domains++], f, "a.example", "example", STS_PHASE_REMOVE_START,
		    POL("none"), "n1");
	p->n_managed = 20;
	p->n_removal_starts = 1;
	assert_int_equal(sts_apply_run(p, db, &io, NULL, &res), STS_OK);
	assert_int_equal(res.n_failed, 0);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	int64_t dl = 0;
	assert_int_equal(sts_db_removal_deadline(db, "a.example", &dl), STS_OK);
	assert_int_equal(dl, 1700000100 + 604800); /* the largest max_age served */

	/* after the wait: records, then the policy file, then forgotten */
	p = plan_new(1);
	plan_domain(&p->domains[p->n_domains++], f, "a.example", "example", STS_PHASE_REMOVE_DELETE,
		    NULL, "n1");
	assert_int_equal(p->domains[0].n_changes, 3);
	assert_int_equal(sts_apply_run(p, db, &io, NULL, &res), STS_OK);
	assert_int_equal(res.n_failed, 0);
	int dns = dnspos(f, "-_mta-sts.a.example./TXT");
	int del = logpos(f, "del mta-sts.a.example");
	assert_true(dns >= 0 && del > dns);
	assert_null(sts_rrsets_find(&f->dns, "_mta-sts.a.example.", "TXT"));
	assert_null(sts_rrsets_find(&f->dns, "_smtp._tls.a.example.", "TXT"));
	struct sts_db_domain d;
	bool found = true;
	assert_int_equal(sts_db_domain_get(db, "a.example", &d, &found), STS_OK);
	assert_false(found);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	sts_db_close(db);
	fake_free(f);
}

static void test_removal_refused(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct sts_plan *p = plan_new(1);
	plan_domain(&p->domains[p->n_domains++], f, "a.example", "example", STS_PHASE_REMOVE_START,
		    POL("none"), "n1");
	p->n_managed = 5;
	p->n_removal_starts = 1;
	struct sts_io io = fake_io(f);
	struct sts_apply_result res;
	assert_int_equal(sts_apply_run(p, NULL, &io, NULL, &res), STS_EREFUSED);
	assert_int_equal(f->n_log, 0);
	struct sts_apply_opts o = {.allow_removal = true};
	assert_int_equal(sts_apply_run(p, NULL, &io, &o, &res), STS_OK);
	assert_true(f->n_log > 0);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	fake_free(f);
}

/* plan errors (conflicts) are failures of the run; the others still apply */
static void test_plan_errors(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct sts_plan *p = plan_new(2);
	plan_domain(&p->domains[p->n_domains++], f, "a.example", "example", STS_PHASE_PRESENT,
		    POL("enforce"), "i");
	plan_domain(&p->domains[p->n_domains++], f, "b.example", "example", STS_PHASE_PRESENT,
		    POL("enforce"), "i");
	sts_plan_domain_fail(&p->domains[1], STS_ECONFLICT, "'%s' holds a CNAME", "x");
	struct sts_io io = fake_io(f);
	struct sts_apply_result res;
	assert_int_equal(sts_apply_run(p, NULL, &io, NULL, &res), STS_OK);
	assert_int_equal(res.n_failed, 1);
	assert_string_equal(res.failures[0].step, "plan");
	assert_int_equal(res.failures[0].err, STS_ECONFLICT);
	assert_int_equal(logpos(f, "put mta-sts.b.example"), -1);
	assert_true(logpos(f, "put mta-sts.a.example") >= 0);
	sts_apply_result_release(&res);
	sts_plan_free(p);
	fake_free(f);
}

/* many zones in parallel: per domain the order still holds */
static void test_parallel_zones(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	enum { Z = 20, D = 6 };
	struct sts_plan *p = plan_new(Z * D);
	char name[64], zone[64];
	for (int z = 0; z < Z; z++)
		for (int i = 0; i < D; i++) {
			snprintf(zone, sizeof(zone), "z%d.example", z);
			snprintf(name, sizeof(name), "d%d.z%d.example", i, z);
			plan_domain(&p->domains[p->n_domains++], f, name, zone, STS_PHASE_PRESENT,
				    POL("testing"), "p1");
		}
	struct sts_io io = fake_io(f);
	struct sts_apply_opts o = {.concurrency = 8};
	struct sts_apply_result res;
	assert_int_equal(sts_apply_run(p, NULL, &io, &o, &res), STS_OK);
	assert_int_equal(res.n_changed, Z * D);
	assert_int_equal(f->dns_calls, Z);
	char put[96], get[96], txt[96];
	for (size_t i = 0; i < p->n_domains; i++) {
		snprintf(put, sizeof(put), "put mta-sts.%s", p->domains[i].name);
		snprintf(get, sizeof(get), "get mta-sts.%s", p->domains[i].name);
		snprintf(txt, sizeof(txt), "+_mta-sts.%s./TXT", p->domains[i].name);
		int a = logpos(f, put), b = logpos(f, get), c = dnspos(f, txt);
		assert_true(a >= 0 && b > a && c > b);
	}
	sts_apply_result_release(&res);
	sts_plan_free(p);
	fake_free(f);
}

static void test_https_fetch_errors(void **state)
{
	(void)state;
	struct sts_buf b;
	char *err = NULL;
	sts_buf_init(&b, STS_CAP_POLICY);
	/* nothing listens on port 1 of loopback */
	int r = sts_https_fetch_policy("mta-sts.example.test", NULL, "127.0.0.1:1", &b, &err);
	assert_int_equal(r, STS_ENET);
	assert_non_null(err);
	free(err);
	sts_buf_release(&b);
}

static void test_limits(void **state)
{
	(void)state;
	struct sts_limits *l = NULL;
	assert_int_equal(sts_limits_new(&l), STS_OK);
	assert_int_equal(sts_limits_set(l, "p", 2), STS_OK);
	assert_int_equal(sts_limits_set_rate(l, "p", 20), STS_OK);
	assert_int_equal(sts_limits_set_rate(l, "nope", 20), STS_ENOENT);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 5; i++) {
		sts_limits_acquire(l, "p");
		sts_limits_release(l, "p");
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	/* 5 calls at 20/s: the 5th starts 4 x 50 ms after the first */
	assert_true(s >= 0.19 && s < 2.0);
	sts_limits_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh_order),		cmocka_unit_test(test_verify_failure),
	    cmocka_unit_test(test_dns_isolation),	cmocka_unit_test(test_https_verify),
	    cmocka_unit_test(test_https_verify_exact),	cmocka_unit_test(test_rerun_after_crash),
	    cmocka_unit_test(test_removal_bookkeeping), cmocka_unit_test(test_removal_refused),
	    cmocka_unit_test(test_plan_errors),		cmocka_unit_test(test_parallel_zones),
	    cmocka_unit_test(test_https_fetch_errors),	cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
