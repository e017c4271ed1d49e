/* SPDX-License-Identifier: MIT */
/* Apply: run a plan in the safe order, zone by zone, journaling every step. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "sts_apply.h"
#include "sts_err.h"
#include "sts_mclock.h"
#include "sts_plan_hosted.h"
#include "sts_plan_tenants.h"
#include "sts_plugin.h"
#include "sts_policy.h"

struct jrec {
	const char *step;
	const char *status;
	char *detail;
};

struct dstate {
	const struct sts_plan_domain *d;
	bool failed;
	const char *fail_step;
	int err;
	char *msg;
	bool verified;	  /* the desired policy was read back (and fetched) in place */
	bool not_started; /* its zone was not started: the run was stopped */
	bool policy_written;
	size_t n_done; /* changes applied */
	struct jrec *j;
	size_t nj;
};

struct group {
	size_t first, n; /* into order[] */
};

struct run {
	const struct sts_plan *plan;
	struct sts_db *db;
	const struct sts_io *io;
	const struct sts_apply_opts *o;
	int64_t run;
	struct dstate *ds; /* parallel to plan->domains */
	size_t *order;	   /* domains with work, sorted by (dns, zone, name) */
	size_t n_order;
	struct group *groups;
	size_t n_groups;
	struct sts_limits *lim;
	pthread_mutex_t mu;
	size_t done, total, failed; /* domains with work: done, of them failed */
	int fatal;		    /* STS_EDB / STS_ENOMEM: stop publishing */
	bool stopped;		    /* opts->stop said stop: no further zone starts */
};

static const struct sts_apply_opts no_opts;

/* ---- bookkeeping helpers ---- */

static void journal(struct dstate *s, const char *step, const char *status, const char *detail)
{
	struct jrec *v = realloc(s->j, (s->nj + 1) * sizeof(*v));
	if (!v)
		return; /* the journal is best effort; the DB state is not */
	s->j = v;
	v[s->nj++] = (struct jrec){step, status, detail ? strdup(detail) : NULL};
}

static void fail(struct dstate *s, const char *step, int err, const char *fmt, ...)
    STS_PRINTF(4, 5);
static void fail(struct dstate *s, const char *step, int err, const char *fmt, ...)
{
	if (s->failed)
		return;
	s->failed = true;
	s->fail_step = step;
	s->err = err;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s->msg, fmt, ap) < 0)
		s->msg = NULL;
	va_end(ap);
	journal(s, step, "failed", s->msg);
}

static void hook(struct run *R, const char *step, const char *domain)
{
	if (R->o->step_hook)
		R->o->step_hook(R->o->ud, step, domain);
}

static bool fatal(struct run *R)
{
	pthread_mutex_lock(&R->mu);
	bool f = R->fatal < 0;
	pthread_mutex_unlock(&R->mu);
	return f;
}

static void set_fatal(struct run *R, int err)
{
	pthread_mutex_lock(&R->mu);
	if (R->fatal == STS_OK)
		R->fatal = err;
	pthread_mutex_unlock(&R->mu);
}

static bool is_host_change(const struct sts_plan_domain *d, const struct sts_change *c)
{
	return c->type && strncasecmp(c->name, "mta-sts.", 8) == 0 &&
	       d->phase != STS_PHASE_REMOVE_DELETE;
}

static const struct sts_change *policy_change(const struct sts_plan_domain *d)
{
	for (size_t i = 0; i < d->n_changes; i++)
		if (d->changes[i].object == STS_OBJ_POLICY)
			return &d->changes[i];
	return NULL;
}

/* Will this run publish an _mta-sts TXT (which needs the policy verified in place)? */
static bool publishes_id(const struct sts_plan_domain *d)
{
	for (size_t i = 0; i < d->n_changes; i++)
		if (d->changes[i].object == STS_OBJ_STS_RECORD &&
		    d->changes[i].action != STS_ACTION_DELETE)
			return true;
	return false;
}

static bool has_work(const struct sts_plan_domain *d)
{
	return d->err == STS_OK && d->n_changes > 0;
}

/* ---- DNS ---- */

struct batch {
	struct sts_dns_change *c;
	size_t *owner; /* dstate index per change */
	size_t n;
};

static bool dns_selected(struct dstate *s, const struct sts_change *c, bool pre)
{
	const struct sts_plan_domain *d = s->d;
	if (!c->type || is_host_change(d, c) != pre)
		return false;
	/* the invariant: no id for a policy that did not verify in place */
	if (c->object == STS_OBJ_STS_RECORD && c->action != STS_ACTION_DELETE && d->policy_text &&
	    !s->verified) {
		fail(s, "dns", STS_EVERIFY, "not publishing the id of an unverified policy");
		return false;
	}
	return true;
}

static int apply_dns(struct run *R, const char *dns, const char *zone, struct batch *b, size_t from,
		     size_t to, char **err)
{
	sts_limits_acquire(R->lim, dns);
	int r = R->io->ops->dns_apply(R->io->ud, dns, zone, b->c + from, to - from, err);
	sts_limits_release(R->lim, dns);
	return r;
}

static void dns_done(struct run *R, struct batch *b, size_t from, size_t to, int r, const char *err,
		     const char *step)
{
	for (size_t i = from; i < to; i++) {
		struct dstate *s = &R->ds[b->owner[i]];
		if (r < 0) {
			fail(s, step, r, "cannot update zone '%s': %s", s->d->zone,
			     err ? err : sts_strerror(r));
			continue;
		}
		s->n_done++;
		if (i + 1 == to || b->owner[i + 1] != b->owner[i])
			journal(s, step, "ok", NULL);
	}
}

/* One DNS apply per zone (chunked by max_batch); on failure, domain by domain. */
static void dns_step(struct run *R, const struct group *g, bool pre, const char *step)
{
	struct batch b = {0};
	size_t cap = 0;
	const struct sts_plan_domain *d0 = R->ds[R->order[g->first]].d;
	for (size_t k = 0; k < g->n; k++) {
		size_t di = R->order[g->first + k];
		struct dstate *s = &R->ds[di];
		for (size_t i = 0; i < s->d->n_changes && !s->failed; i++) {
			const struct sts_change *c = &s->d->changes[i];
			if (!dns_selected(s, c, pre))
				continue;
			if (b.n == cap) {
				cap = cap ? cap * 2 : 64;
				struct sts_dns_change *nc = realloc(b.c, cap * sizeof(*nc));
				size_t *no = realloc(b.owner, cap * sizeof(*no));
				if (nc)
					b.c = nc;
				if (no)
					b.owner = no;
				if (!nc || !no) {
					set_fatal(R, STS_ENOMEM);
					goto out;
				}
			}
			b.c[b.n] = c->rc;
			b.owner[b.n++] = di;
		}
	}
	/* drop changes of domains that failed while collecting */
	size_t w = 0;
	for (size_t i = 0; i < b.n; i++)
		if (!R->ds[b.owner[i]].failed) {
			b.c[w] = b.c[i];
			b.owner[w++] = b.owner[i];
		}
	b.n = w;
	if (b.n == 0)
		goto out;
	struct sts_dns_caps caps = {0};
	if (R->io->ops->dns_caps)
		R->io->ops->dns_caps(R->io->ud, d0->dns, &caps);
	size_t max = caps.batch ? (caps.max_batch ? caps.max_batch : b.n) : b.n;
	for (size_t from = 0; from < b.n;) {
		size_t to = from + max < b.n ? from + max : b.n;
		while (to < b.n && to > from + 1 && b.owner[to] == b.owner[to - 1])
			to--; /* keep a domain's changes in one call */
		char *err = NULL;
		int r = apply_dns(R, d0->dns, d0->zone, &b, from, to, &err);
		if (r < 0 && b.owner[from] != b.owner[to - 1]) {
			/* isolate the failing domain(s): one call per domain */
			for (size_t i = from; i < to;) {
				size_t j = i + 1;
				while (j < to && b.owner[j] == b.owner[i])
					j++;
				char *e2 = NULL;
				int r2 = apply_dns(R, d0->dns, d0->zone, &b, i, j, &e2);
				dns_done(R, &b, i, j, r2, e2, step);
				free(e2);
				i = j;
			}
		} else {
			dns_done(R, &b, from, to, r, err, step);
		}
		free(err);
		from = to;
	}
	hook(R, step, NULL);
out:
	free(b.c);
	free(b.owner);
}

/* ---- policy ---- */

#define HOSTED_SETTLE_MS 2500 /* serve: a second; see verify_policy */

static int default_fetch(const struct sts_plan_domain *d, struct sts_buf *out, char **err)
{
	char host[300];
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	return sts_https_fetch_policy(host, d->ca_file, d->resolve, out, err);
}

/*
 * Is got exactly the policy text (byte for byte, length included: a body
 * with a NUL or trailing bytes is another policy)? If not, say where they
 * part: "line 2 is 'mode: testing', expected 'mode: enforce'".
 */
static bool same_policy(const struct sts_buf *got, const char *want, char *why, size_t n)
{
	const char *g = sts_buf_str(got);
	size_t wl = strlen(want), i = 0, line = 1, bol = 0;
	if (got->len == wl && memcmp(g, want, wl) == 0)
		return true;
	while (i < got->len && i < wl && g[i] == want[i]) {
		if (want[i] == '\n') {
			line++;
			bol = i + 1;
		}
		i++;
	}
	size_t ge = bol, we = bol;
	while (ge < got->len && g[ge] != '\n' && g[ge] != '\r' && ge - bol < 60)
		ge++;
	while (we < wl && want[we] != '\n' && want[we] != '\r' && we - bol < 60)
		we++;
	char gl[80], wln[80];
	snprintf(gl, sizeof(gl), "%.*s", (int)(ge - bol), g + bol);
	snprintf(wln, sizeof(wln), "%.*s", (int)(we - bol), want + bol);
	for (char *c = gl; *c; c++)
		if ((unsigned char)*c < ' ')
			*c = '?';
	if (i >= got->len)
		snprintf(why, n, "%zu bytes, expected %zu: it ends in line %zu", got->len, wl,
			 line);
	else if (i >= wl)
		snprintf(why, n, "%zu bytes, expected %zu: more after the policy", got->len, wl);
	else
		snprintf(why, n, "line %zu is '%s', expected '%s'", line, gl, wln);
	return false;
}

static void verify_policy(struct run *R, struct dstate *s, const char *host)
{
	const struct sts_plan_domain *d = s->d;
	struct sts_buf buf;
	char *err = NULL;
	sts_buf_init(&buf, STS_CAP_POLICY);
	int r;
	if (d->hosted_txt) { /* hosted: read back from the store */
		r = sts_apply_hosted_get(R->db, d, &buf);
	} else {
		sts_limits_acquire(R->lim, d->web);
		r = R->io->ops->web_get(R->io->ud, d->web, host, &buf, &err);
		sts_limits_release(R->lim, d->web);
	}
	if (r < 0) {
		fail(s, "policy-verify", r, "cannot read back the policy of '%s': %s", host,
		     err ? err : sts_strerror(r));
		goto out;
	}
	char why[256];
	if (!same_policy(&buf, d->policy_text, why, sizeof(why))) {
		fail(s, "policy-verify", STS_EVERIFY,
		     "the policy read back from '%s' differs from the one written: %s", host, why);
		goto out;
	}
	/* stsctl serve answers from a cache it checks against the store once a
	 * second (stsctl-serve.md): a hosted policy just written may still be
	 * served as it was for that long, so while the previous body is served
	 * it is fetched again, for up to HOSTED_SETTLE_MS */
	/* a new hosted customer: serve orders its certificate once the policy
	 * is in the store; wait for it (hosted.certificate_wait) */
	if (d->hosted_txt && d->verify_https &&
	    (r = sts_apply_hosted_cert_wait(R->db, d, R->o->note, R->o->ud, &err)) < 0) {
		fail(s, "policy-verify", r, "%s", err ? err : sts_strerror(r));
		goto out;
	}
	long long t0 = sts_mclock_now_ns(NULL);
	while (d->verify_https) {
		sts_buf_reset(&buf);
		free(err);
		err = NULL;
		r = R->o->https_fetch ? R->o->https_fetch(R->o->ud, d, &buf, &err)
				      : default_fetch(d, &buf, &err);
		if (r < 0) {
			fail(s, "policy-verify", r, "https://%s/.well-known/mta-sts.txt: %s", host,
			     err ? err : sts_strerror(r));
			goto out;
		}
		if (same_policy(&buf, d->policy_text, why, sizeof(why)))
			break;
		if (d->hosted_txt && d->actual.policy && buf.len == strlen(d->actual.policy) &&
		    memcmp(sts_buf_str(&buf), d->actual.policy, buf.len) == 0 &&
		    sts_mclock_now_ns(NULL) - t0 < HOSTED_SETTLE_MS * STS_NS_PER_MS) {
			sts_mclock_sleep_ns(NULL, 100 * STS_NS_PER_MS);
			continue;
		}
		fail(s, "policy-verify", STS_EVERIFY,
		     "https://%s/.well-known/mta-sts.txt serves another policy: %s", host, why);
		goto out;
	}
	s->verified = true;
	journal(s, "policy-verify", "ok", d->verify_https ? "https" : "web");
	hook(R, "policy-verify", d->name);
out:
	free(err);
	sts_buf_release(&buf);
}

static void policy_step(struct run *R, struct dstate *s)
{
	const struct sts_plan_domain *d = s->d;
	const struct sts_change *pc = policy_change(d);
	bool put = pc && pc->action != STS_ACTION_DELETE;
	if (s->failed || !d->policy_text || (!put && !publishes_id(d)))
		return;
	char host[300];
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	if (put) {
		char *err = NULL;
		int r;
		if (d->hosted_txt) { /* hosted: into the store that serve reads */
			r = sts_apply_hosted_put(R->db, d, &err);
		} else {
			sts_limits_acquire(R->lim, d->web);
			r = R->io->ops->web_put(R->io->ud, d->web, host, d->policy_text,
						strlen(d->policy_text), &err);
			sts_limits_release(R->lim, d->web);
		}
		if (r < 0) {
			fail(s, "policy-put", r, "cannot write the policy of '%s': %s", host,
			     err ? err : sts_strerror(r));
			free(err);
			return;
		}
		free(err);
		s->policy_written = true;
		s->n_done++;
		journal(s, "policy-put", "ok", d->id);
		hook(R, "policy-put", d->name);
	}
	verify_policy(R, s, host);
}

static void policy_delete_step(struct run *R, struct dstate *s)
{
	const struct sts_plan_domain *d = s->d;
	const struct sts_change *pc = policy_change(d);
	if (s->failed || !pc || pc->action != STS_ACTION_DELETE)
		return;
	char host[300];
	char *err = NULL;
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	int r;
	if (d->hosted_txt) { /* hosted: serve stops serving it */
		r = sts_apply_hosted_delete(R->db, d);
	} else {
		sts_limits_acquire(R->lim, d->web);
		r = R->io->ops->web_del(R->io->ud, d->web, host, &err);
		sts_limits_release(R->lim, d->web);
	}
	if (r < 0 && r != STS_ENOENT) {
		fail(s, "policy-delete", r, "cannot delete the policy of '%s': %s", host,
		     err ? err : sts_strerror(r));
	} else {
		s->n_done++;
		journal(s, "policy-delete", "ok", NULL);
		hook(R, "policy-delete", d->name);
	}
	free(err);
}

/* ---- state DB ---- */

/* The policy stsctl replaces, when it did not publish it: history for the removal wait. */
static int record_adopted(struct run *R, const struct sts_plan_domain *d)
{
	if (!d->actual.have_policy || d->managed)
		return STS_OK;
	struct sts_policy pol;
	sts_policy_init(&pol);
	int r = STS_OK;
	if (sts_policy_parse(d->actual.policy, strlen(d->actual.policy), &pol, NULL) !=
		STS_ENOMEM &&
	    pol.max_age > 0) {
		const char *mode = sts_mode_name(pol.mode);
		r = sts_db_policy_seen(R->db, d->name, "adopted", d->actual.policy,
				       mode ? mode : "unknown", pol.max_age);
	}
	sts_policy_release(&pol);
	return r;
}

/* Served policies of the verified domains, committed before any TXT is published. */
static void record_step(struct run *R, const struct group *g)
{
	if (!R->db)
		return;
	bool any = false;
	for (size_t k = 0; k < g->n; k++) {
		struct dstate *s = &R->ds[R->order[g->first + k]];
		any = any || (s->verified && !s->failed);
	}
	if (!any)
		return;
	int r = sts_db_begin(R->db);
	for (size_t k = 0; k < g->n && r == STS_OK; k++) {
		struct dstate *s = &R->ds[R->order[g->first + k]];
		const struct sts_plan_domain *d = s->d;
		if (!s->verified || s->failed)
			continue;
		if (s->policy_written)
			r = record_adopted(R, d);
		if (r == STS_OK)
			r = sts_db_policy_served(R->db, d->name, d->id, d->policy_text,
						 sts_mode_name(d->mode), d->max_age);
	}
	r = r == STS_OK ? sts_db_commit(R->db) : (sts_db_rollback(R->db), r);
	if (r < 0) {
		set_fatal(R, STS_EDB);
		for (size_t k = 0; k < g->n; k++)
			fail(&R->ds[R->order[g->first + k]], "db-record", STS_EDB,
			     "cannot record the served policy: %s", sts_db_errmsg(R->db));
		return;
	}
	hook(R, "db-record", NULL);
}

/* Managed-domain state and journal of one domain (inside a transaction). */
static int book(struct run *R, struct dstate *s)
{
	const struct sts_plan_domain *d = s->d;
	int r = STS_OK;
	for (size_t i = 0; i < s->nj && r == STS_OK; i++)
		r = sts_db_journal_add(R->db, R->run, d->name, s->j[i].step, s->j[i].status,
				       s->j[i].detail);
	if (r < 0 || d->err < 0 || d->phase == STS_PHASE_GONE)
		return r;
	if (d->spec || !d->managed)
		r = sts_db_domain_upsert(R->db, d->name, d->spec);
	/* its tenant, from the inventory applied (a removed domain keeps its own) */
	if (r == STS_OK && d->in_inventory)
		r = sts_plan_tenant_set(R->db, d->name, d->tenant);
	if (r < 0 || s->failed)
		return r;
	switch (d->phase) {
	case STS_PHASE_PRESENT:
		if (d->removal_started)
			r = sts_db_domain_removal_cancel(R->db, d->name);
		if (r == STS_OK && d->n_changes)
			r = sts_db_domain_applied(R->db, d->name);
		/* the inventory mode seen, the brake, an operator demotion (docs/rollout.md) */
		if (r == STS_OK && d->under_rollout &&
		    (d->rollout.store || d->rollout.demote_to != STS_STAGE_INVALID))
			r = sts_rollout_record_mode(R->db, d->name, d->inventory_mode, &d->rollout);
		break;
	case STS_PHASE_REMOVE_START:
		r = sts_db_domain_removal_start(R->db, d->name);
		break;
	case STS_PHASE_REMOVE_WAIT:
		break;
	case STS_PHASE_REMOVE_DELETE:
		r = sts_db_domain_forget(R->db, d->name);
		if (r == STS_OK)
			r = sts_plan_tenant_set(R->db, d->name, NULL);
		break;
	case STS_PHASE_GONE:
		break;
	}
	return r;
}

static void book_step(struct run *R, const size_t *idx, size_t n, bool via_order)
{
	if (!R->db || n == 0)
		return;
	int r = sts_db_begin(R->db);
	for (size_t k = 0; k < n && r == STS_OK; k++)
		r = book(R, &R->ds[via_order ? R->order[idx[0] + k] : idx[k]]);
	r = r == STS_OK ? sts_db_commit(R->db) : (sts_db_rollback(R->db), r);
	if (r < 0)
		set_fatal(R, STS_EDB);
	else
		hook(R, "db-commit", NULL);
}

/* ---- one zone ---- */

/* Should this zone be left alone (the run was told to stop)? */
static bool stop_before(struct run *R, const struct group *g)
{
	pthread_mutex_lock(&R->mu);
	if (!R->stopped && R->o->stop && R->o->stop(R->o->ud))
		R->stopped = true;
	bool stop = R->stopped;
	pthread_mutex_unlock(&R->mu);
	for (size_t k = 0; stop && k < g->n; k++)
		R->ds[R->order[g->first + k]].not_started = true;
	return stop;
}

static void run_group(void *ud, size_t gi)
{
	struct run *R = ud;
	const struct group *g = &R->groups[gi];
	if (stop_before(R, g))
		return;
	if (!fatal(R))
		dns_step(R, g, true, "dns-host");
	for (size_t k = 0; k < g->n && !fatal(R); k++)
		policy_step(R, &R->ds[R->order[g->first + k]]);
	if (!fatal(R))
		record_step(R, g);
	if (!fatal(R))
		dns_step(R, g, false, "dns");
	for (size_t k = 0; k < g->n && !fatal(R); k++)
		policy_delete_step(R, &R->ds[R->order[g->first + k]]);
	if (fatal(R)) {
		for (size_t k = 0; k < g->n; k++)
			fail(&R->ds[R->order[g->first + k]], "aborted", R->fatal,
			     "the run stopped: %s", sts_strerror(R->fatal));
	}
	size_t first = g->first;
	book_step(R, &first, g->n, true);
	pthread_mutex_lock(&R->mu);
	R->done += g->n;
	for (size_t k = 0; k < g->n; k++)
		R->failed += R->ds[R->order[g->first + k]].failed;
	if (R->o->progress)
		R->o->progress(R->o->ud, R->done, R->total, R->failed);
	pthread_mutex_unlock(&R->mu);
}

STS_API void sts_apply_result_release(struct sts_apply_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_failures; i++)
		STS_FREE_ALL(r->failures[i].domain, r->failures[i].step, r->failures[i].message);
	free(r->failures);
	sts_plan_down_free(r->down, r->n_down);
	memset(r, 0, sizeof(*r));
}

static int add_failure(struct sts_apply_result *res, const char *domain, const char *step, int err,
		       const char *msg)
{
	struct sts_apply_failure *v = realloc(res->failures, (res->n_failures + 1) * sizeof(*v));
	if (!v)
		return STS_ENOMEM;
	res->failures = v;
	struct sts_apply_failure *f = &v[res->n_failures++];
	f->domain = strdup(domain);
	f->step = strdup(step);
	f->err = err;
	f->message = msg ? strdup(msg) : NULL;
	return STS_OK;
}

static int prepare(struct run *R)
{
	const struct sts_plan *p = R->plan;
	int r = sts_limits_new(&R->lim);
	if (r < 0)
		return r;
	R->ds = calloc(p->n_domains + 1, sizeof(*R->ds));
	R->order = calloc(p->n_domains + 1, sizeof(*R->order));
	R->groups = calloc(p->n_domains + 1, sizeof(*R->groups));
	if (!R->ds || !R->order || !R->groups)
		return STS_ENOMEM;
	for (size_t i = 0; i < p->n_domains; i++) {
		R->ds[i].d = &p->domains[i];
		if (has_work(&p->domains[i]))
			R->order[R->n_order++] = i;
	}
	sts_plan_order(p, R->order, R->n_order);
	for (size_t i = 0; i < R->n_order;) {
		size_t j = sts_plan_group_end(p, R->order, R->n_order, i);
		R->groups[R->n_groups++] = (struct group){i, j - i};
		if ((r = sts_limits_set_dns(R->lim, R->io, p->domains[R->order[i]].dns)) < 0)
			return r;
		for (size_t k = i; k < j; k++) {
			const char *web = p->domains[R->order[k]].web;
			if (web && (r = sts_limits_set_web(R->lim, R->io, web)) < 0)
				return r;
		}
		i = j;
	}
	R->total = R->n_order;
	return STS_OK;
}

STS_API int sts_apply_run(const struct sts_plan *plan, struct sts_db *db, const struct sts_io *io,
			  const struct sts_apply_opts *opts, struct sts_apply_result *ret)
{
	struct run R = {.plan = plan, .db = db, .io = io, .o = opts ? opts : &no_opts};
	int r;
	memset(ret, 0, sizeof(*ret));
	ret->n_domains = plan->n_domains;
	if (sts_plan_removal_excessive(plan) && !R.o->allow_removal)
		return STS_EREFUSED;
	pthread_mutex_init(&R.mu, NULL);
	if ((r = prepare(&R)) < 0)
		goto out;
	/* what book() records for domains under rollout needs the rollout schema's latest */
	bool rollout = false;
	for (size_t i = 0; i < plan->n_domains; i++)
		rollout = rollout || plan->domains[i].under_rollout;
	if (db && rollout && (r = sts_rollout_schema(db)) < 0)
		goto out;
	if (db && (r = sts_plan_schema(db)) < 0) /* the tenants book() records */
		goto out;
	bool https = false;
	for (size_t i = 0; i < R.n_order; i++)
		https = https || plan->domains[R.order[i]].verify_https;
	if (https && !R.o->https_fetch)
		curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread */
	if (db && (r = sts_db_run_begin(db, "apply", &R.run)) < 0)
		goto out;
	ret->run = R.run;
	r = sts_pool_run(R.n_groups, R.o->concurrency ? R.o->concurrency : 4, run_group, &R);
	if (r < 0)
		goto out;
	/* domains without published changes: only the state DB moves */
	size_t *rest = calloc(plan->n_domains + 1, sizeof(*rest));
	size_t n_rest = 0;
	if (!rest) {
		r = STS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < plan->n_domains; i++)
		if (!has_work(&plan->domains[i]))
			rest[n_rest++] = i;
	if (!fatal(&R) && !R.stopped)
		book_step(&R, rest, n_rest, false);
	free(rest);
	for (size_t i = 0; i < plan->n_domains && r == STS_OK; i++) {
		const struct sts_plan_domain *d = &plan->domains[i];
		struct dstate *s = &R.ds[i];
		size_t nf = ret->n_failures;
		if (d->err < 0) {
			ret->n_failed++;
			r = add_failure(ret, d->name, "plan", d->err, d->errmsg);
		} else if (s->not_started) {
			ret->n_not_started++;
		} else if (s->failed) {
			ret->n_failed++;
			ret->n_changes_failed +=
			    d->n_changes > s->n_done ? d->n_changes - s->n_done : 0;
			r = add_failure(ret, d->name, s->fail_step, s->err, s->msg);
		} else if (d->n_changes) {
			ret->n_changed++;
		} else {
			ret->n_unchanged++;
		}
		ret->n_changes += s->n_done;
		if (r == STS_OK && ret->n_failures > nf) /* its provider may be down */
			r = sts_plan_down_add(&ret->down, &ret->n_down, io, d,
					      &ret->failures[nf].down);
	}
	sts_plan_down_sort(ret->down, ret->n_down);
	ret->interrupted = ret->n_not_started > 0;
	if (r == STS_OK && db)
		r = sts_db_run_end(db, R.run,
				   ret->interrupted ? "interrupted"
				   : ret->n_failed  ? "failed"
						    : "ok",
				   ret->n_changed, ret->n_failed);
	if (r == STS_OK && R.fatal < 0)
		r = R.fatal;
out:
	for (size_t i = 0; R.ds && i < plan->n_domains; i++) {
		free(R.ds[i].msg);
		for (size_t k = 0; k < R.ds[i].nj; k++)
			free(R.ds[i].j[k].detail);
		free(R.ds[i].j);
	}
	STS_FREE_ALL(R.ds, R.order, R.groups);
	sts_limits_free(R.lim);
	pthread_mutex_destroy(&R.mu);
	if (r < 0 && r != STS_EDB)
		sts_apply_result_release(ret);
	return r;
}
