/* SPDX-License-Identifier: MIT */
/*
 * The watcher cycle and the status view (docs/stsctl-watch.md,
 * docs/stsctl-status.md) over the rollout engine (sts_rollout.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_lease.h"
#include "sts_pool.h"
#include "sts_reporters.h"
#include "sts_watch.h"

STS_API void sts_watch_result_release(struct sts_watch_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		STS_FREE_ALL(r->decisions[i].domain, r->decisions[i].reason, r->decisions[i].error);
	free(r->decisions);
	memset(r, 0, sizeof(*r));
}

static struct sts_watch_decision *add(struct sts_watch_result *r, const char *domain,
				      enum sts_stage from, enum sts_stage to, const char *reason)
{
	struct sts_watch_decision *v = realloc(r->decisions, (r->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	r->decisions = v;
	struct sts_watch_decision *d = &v[r->n];
	memset(d, 0, sizeof(*d));
	d->from = from;
	d->to = to;
	d->changed = from != to;
	if (!(d->domain = strdup(domain)) || !(d->reason = strdup(reason))) {
		free(d->domain);
		free(d->reason);
		return NULL;
	}
	r->n++;
	return d;
}

/* The stage a domain comes under rollout at: its inventory mode, never above
 * testing nor its target (enforce is earned: docs/rollout.md). */
static enum sts_stage start_stage(const struct sts_domain *d, const struct sts_rollout_settings *s)
{
	if (d->state == STS_STATE_ABSENT)
		return STS_STAGE_REMOVED;
	return sts_rollout_start_stage(d->mode, s->target);
}

/* The stage of the inventory's mode (a domain not under rollout). */
static enum sts_stage inventory_stage(const struct sts_domain *d)
{
	switch (d->mode) {
	case STS_MODE_TESTING:
		return STS_STAGE_TESTING;
	case STS_MODE_ENFORCE:
		return STS_STAGE_ENFORCE;
	default:
		return STS_STAGE_NONE;
	}
}

static void hook(const struct sts_watch_opts *o, const char *step, const char *domain)
{
	if (o->ops && o->ops->step_hook)
		o->ops->step_hook(o->ops->ud, step, domain);
}

/* ---- leases (issue 18): a domain is worked on by one watcher at a time ---- */

#define HELD_REASON "held by another watcher"

struct held_lease {
	char name[300]; /* "watch:<domain>" */
	int64_t fence;
};

/* A cycle's options as the caller gave them, and the leases it holds. */
struct cycle {
	struct sts_watch_opts o; /* first: the functions below get &c->o */
	struct sts_db *db;
	bool leases; /* not with dry_run nor on a read-only state */
	const char *holder;
	int64_t ttl;
	struct held_lease *held; /* a batch of deferred domains + the current one */
	size_t n_held, cap;
};

static struct cycle *cycle_of(const struct sts_watch_opts *o)
{
	return (struct cycle *)(void *)o;
}

static struct held_lease *lease_find(struct cycle *c, const char *domain)
{
	char name[300];
	snprintf(name, sizeof(name), "watch:%s", domain);
	for (size_t i = 0; i < c->n_held; i++)
		if (strcmp(c->held[i].name, name) == 0)
			return &c->held[i];
	return NULL;
}

/* Claim domain's lease: *ret_ok false when another watcher holds it. */
static int lease_claim(const struct sts_watch_opts *o, const char *domain, bool *ret_ok)
{
	struct cycle *c = cycle_of(o);
	*ret_ok = true;
	if (!c->leases)
		return STS_OK;
	if (c->n_held == c->cap)
		return STS_ENOMEM; /* more than a batch: a bug */
	struct held_lease *l = &c->held[c->n_held];
	snprintf(l->name, sizeof(l->name), "watch:%s", domain);
	int r = sts_lease_claim(c->db, l->name, c->holder, c->ttl, &l->fence, ret_ok);
	if (r == STS_OK && *ret_ok)
		c->n_held++;
	return r;
}

/* The lease this cycle holds for domain; NULL: none (*ret_ok false). */
static struct held_lease *held_of(const struct sts_watch_opts *o, const char *domain, bool *ret_ok)
{
	struct cycle *c = cycle_of(o);
	struct held_lease *l = c->leases ? lease_find(c, domain) : NULL;
	*ret_ok = !c->leases || l;
	return l;
}

/*
 * Before a transition is recorded: renew the lease (a new fence, a new
 * expiry for the apply). *ret_ok false: it expired and another watcher has
 * it now, nothing may be written for the domain.
 */
static int lease_renew(const struct sts_watch_opts *o, const char *domain, bool *ret_ok)
{
	struct cycle *c = cycle_of(o);
	struct held_lease *l = held_of(o, domain, ret_ok);
	return l ? sts_lease_claim(c->db, l->name, c->holder, c->ttl, &l->fence, ret_ok) : STS_OK;
}

/* The fencing check right before a write: still ours, not expired. */
static int lease_valid(const struct sts_watch_opts *o, const char *domain, bool *ret_ok)
{
	struct cycle *c = cycle_of(o);
	struct held_lease *l = held_of(o, domain, ret_ok);
	return l ? sts_lease_valid(c->db, l->name, c->holder, l->fence, ret_ok) : STS_OK;
}

/* Release the leases held, except those of the domains still in the batch. */
static int lease_release_done(const struct sts_watch_opts *o, const struct sts_domain *const *keep,
			      size_t n_keep)
{
	struct cycle *c = cycle_of(o);
	int r = STS_OK;
	size_t j = 0;
	for (size_t i = 0; i < c->n_held; i++) {
		struct held_lease *l = &c->held[i];
		bool kept = false;
		for (size_t k = 0; k < n_keep && !kept; k++)
			kept = strcmp(l->name + 6, keep[k]->name) == 0;
		if (kept) {
			c->held[j++] = *l;
			continue;
		}
		bool ok = false;
		int rr = sts_lease_release(c->db, l->name, c->holder, l->fence, &ok);
		if (rr < 0 && r == STS_OK)
			r = rr;
	}
	c->n_held = j;
	return r;
}

/* The decision of a domain another watcher holds: skipped, its stage as last read. */
static int add_held(struct sts_watch_result *res, struct sts_rollout_reader *rd, const char *domain,
		    enum sts_stage fallback)
{
	struct sts_rollout_state st;
	bool found = false;
	if (sts_rollout_reader_state(rd, domain, &st, &found) < 0 || !found)
		st.stage = fallback;
	struct sts_watch_decision *d = add(res, domain, st.stage, st.stage, HELD_REASON);
	if (!d)
		return STS_ENOMEM;
	d->held = true;
	res->n_held++;
	return STS_OK;
}

/* The lease was lost before a write: nothing recorded, the stage is kept. */
static int lease_lost(struct sts_watch_decision *d, const char *what)
{
	d->to = d->from;
	d->err = STS_ELOCKED;
	free(d->error);
	d->error = strdup(what);
	return d->error ? STS_OK : STS_ENOMEM;
}

/*
 * sts_rollout_begin() under the domain's lease: 1 when the lease was lost
 * (d says so, nothing written).
 */
static int begin_leased(struct sts_db *db, const struct sts_watch_opts *o, const char *domain,
			enum sts_stage to, const char *reason, const char *evidence,
			struct sts_watch_decision *d)
{
	bool ok = false;
	int r = lease_renew(o, domain, &ok);
	if (r < 0)
		return r;
	if (!ok)
		return (r = lease_lost(d, "lease lost to another watcher: transition not "
					  "recorded")) < 0
			   ? r
			   : 1;
	return sts_rollout_begin(db, domain, to, reason, evidence);
}

/*
 * Publish dom at stage to through the apply operation: STS_OK (applied, or
 * failed with d->err and d->error set: 1), or a fatal STS_ENOMEM/STS_EDB.
 */
static int apply_to(const struct sts_domain *dom, enum sts_stage to, const struct sts_watch_opts *o,
		    struct sts_watch_decision *d)
{
	char *msg = NULL;
	int r = STS_OK;
	if (to != STS_STAGE_REMOVED && o->ops && o->ops->apply)
		r = o->ops->apply(o->ops->ud, dom, sts_stage_mode(to), &msg);
	hook(o, "apply", dom->name);
	if (r == STS_ENOMEM || r == STS_EDB) {
		free(msg);
		return r;
	}
	if (r < 0) {
		d->err = r;
		d->error = msg ? msg : strdup(sts_strerror(r));
		return 1;
	}
	free(msg);
	return STS_OK;
}

/* Apply the pending stage and complete the transition; on failure abort it. */
static int carry_out(struct sts_db *db, const struct sts_domain *dom, enum sts_stage to,
		     const struct sts_watch_opts *o, struct sts_watch_decision *d)
{
	int r = apply_to(dom, to, o, d);
	if (r < 0)
		return r;
	bool ok = false;
	if ((r == STS_OK || r > 0) && lease_valid(o, dom->name, &ok) == STS_OK && !ok)
		/* the transition stays in flight: the watcher holding the domain resumes it */
		return lease_lost(d, "lease lost to another watcher during the apply: the "
				     "transition is left for it to finish");
	if (r > 0) {
		d->to = d->from;
		return sts_rollout_abort(db, dom->name);
	}
	r = sts_rollout_complete(db, dom->name);
	hook(o, "complete", dom->name);
	return r;
}

static json_t *evidence_doc(const struct sts_rollout_evidence *ev,
			    const struct sts_rollout_check *c)
{
	return json_pack("{s:o,s:o}", "reports", sts_rollout_evidence_json(ev), "check",
			 sts_rollout_check_json(c));
}

/*
 * Live checks run concurrently: a domain that needs one is deferred (its
 * decision keeps its place in the result), and each batch of deferred
 * domains is checked on up to o->concurrency threads, then concluded in
 * inventory order. A batch holds at most BATCH_PER_THREAD per thread.
 */
#define BATCH_PER_THREAD 4

struct deferred {
	const struct sts_domain *dom;
	size_t at; /* its decision in the result */
	struct sts_rollout_settings s;
	struct sts_rollout_state st;
	struct sts_rollout_evidence ev;
	struct sts_rollout_check chk;
	int r; /* of the check */
};

struct batch {
	struct deferred *v;
	size_t n, cap;
	const struct sts_watch_opts *o; /* while the checks run */
};

static size_t concurrency(const struct sts_watch_opts *o)
{
	return o->concurrency ? o->concurrency : STS_WATCH_DEFAULT_CONCURRENCY;
}

static void check_one(void *ud, size_t i)
{
	struct batch *b = ud;
	struct deferred *d = &b->v[i];
	d->r = b->o->ops->check(b->o->ops->ud, d->dom, &d->chk);
}

static void tick(void *ud)
{
	const struct sts_watch_opts *o = ud;
	if (o->ops->tick)
		o->ops->tick(o->ops->ud);
}

/* Run the batch's checks on up to concurrency threads; tick every second meanwhile. */
static void run_checks(struct batch *b, const struct sts_watch_opts *o)
{
	struct sts_pool_opts po = {
	    .threads = (unsigned)concurrency(o), .tick = tick, .tick_ud = (void *)o};
	b->o = o;
	sts_pool_run_opts(b->n, &po, check_one, b);
}

static int conclude(const struct sts_domain *dom, struct sts_db *db, struct sts_rollout_reader *rd,
		    const struct sts_watch_opts *o, int64_t now, struct sts_watch_result *res,
		    size_t at, const struct sts_rollout_decision *dec,
		    const struct sts_rollout_evidence *ev, const struct sts_rollout_check *chk);

/* Check the batch's domains, then conclude each one in order. */
static int flush_batch(struct batch *b, struct sts_db *db, struct sts_rollout_reader *rd,
		       const struct sts_watch_opts *o, int64_t now, struct sts_watch_result *res)
{
	int r = STS_OK;
	if (!b->n)
		return STS_OK;
	sts_rollout_reader_pause(rd); /* no read transaction held while the checks run */
	run_checks(b, o);
	for (size_t i = 0; i < b->n && r == STS_OK; i++) {
		struct deferred *d = &b->v[i];
		struct sts_rollout_decision dec;
		if (d->r == STS_ENOMEM) {
			r = STS_ENOMEM;
			break;
		}
		d->chk.ran = d->chk.ran || d->r == STS_OK;
		d->chk.at = now;
		res->n_checks++;
		if (!o->dry_run && (r = sts_rollout_checked(db, d->dom->name, now)) < 0)
			break;
		sts_rollout_evaluate(&d->s, d->st.stage, d->st.since, now, &d->ev, &d->chk, &dec);
		r = conclude(d->dom, db, rd, o, now, res, d->at, &dec, &d->ev, &d->chk);
	}
	b->n = 0;
	return r;
}

#define domain_settings sts_rollout_domain_settings

/*
 * The operator's controls (docs/rollout.md, "Start and ceiling"): the
 * inventory mode seen and the brake are stored; a lowered inventory mode or
 * target demotes at once (through the apply path). *ret_done: a decision
 * was made for the domain this cycle.
 */
static int operator_controls(const struct sts_domain *dom, struct sts_db *db,
			     struct sts_rollout_reader *rd, const struct sts_watch_opts *o,
			     struct sts_rollout_settings *s, struct sts_rollout_state *st,
			     struct sts_watch_result *res, bool *ret_done)
{
	struct sts_rollout_mode m;
	struct sts_watch_decision *d;
	int r = STS_OK;
	*ret_done = false;
	sts_rollout_mode_of(st, dom->mode, s->target, &m);
	if (!m.store && m.demote_to == STS_STAGE_INVALID && !m.brake && !st->held)
		return STS_OK;
	if (m.store || m.demote_to != STS_STAGE_INVALID) {
		struct sts_rollout_mode only_seen = m;
		only_seen.demote_to = STS_STAGE_INVALID;
		sts_rollout_reader_pause(rd);
		if (!o->dry_run &&
		    (r = sts_rollout_record_mode(db, dom->name, dom->mode, &only_seen)) < 0)
			return r;
		st->inventory_mode = dom->mode;
		st->brake = m.brake;
	}
	enum sts_stage inv = inventory_stage(dom);
	if (m.demote_to != STS_STAGE_INVALID) {
		char why[160];
		snprintf(why, sizeof(why), "operator demotion (%s): %s %s", m.why,
			 strcmp(m.why, "rollout.target") == 0 ? "rollout.target is"
							      : "the inventory mode was lowered to",
			 sts_stage_name(m.demote_to));
		*ret_done = true;
		if (!(d = add(res, dom->name, st->stage, m.demote_to, why)))
			return STS_ENOMEM;
		res->n_changed++;
		if (o->dry_run)
			return STS_OK;
		if ((r = begin_leased(db, o, dom->name, m.demote_to, why, "null", d)) != 0) {
			res->n_failed += d->err != 0;
			return r < 0 ? r : STS_OK;
		}
		hook(o, "begin", dom->name);
		r = carry_out(db, dom, m.demote_to, o, d);
		res->n_failed += d->err != 0;
		return r;
	}
	if (m.brake && inv < s->target)
		s->target = inv; /* the brake is the ceiling until the mode is raised */
	if (m.brake && st->stage >= inv) {
		*ret_done = true;
		char why[200];
		snprintf(
		    why, sizeof(why),
		    "held: the inventory mode was lowered to %s (inventory brake); raise it to "
		    "resume",
		    sts_mode_name(dom->mode));
		return add(res, dom->name, st->stage, st->stage, why) ? STS_OK : STS_ENOMEM;
	}
	if (st->held && st->stage != STS_STAGE_ENFORCE) {
		*ret_done = true;
		char why[260];
		snprintf(why, sizeof(why), "held: %s (stsctl rollout release resumes)",
			 st->hold_reason[0] ? st->hold_reason : "held by the operator");
		return add(res, dom->name, st->stage, st->stage, why) ? STS_OK : STS_ENOMEM;
	}
	return STS_OK;
}

static int one_domain(const struct sts_domain *dom, struct sts_db *db,
		      struct sts_rollout_reader *rd, const struct sts_watch_opts *o, int64_t now,
		      struct sts_watch_result *res, struct batch *b)
{
	struct sts_rollout_settings s;
	struct sts_rollout_state st;
	struct sts_rollout_evidence ev;
	struct sts_rollout_check chk;
	struct sts_rollout_decision dec;
	struct sts_watch_decision *d;
	const char *why = NULL;
	bool found = false;
	int r;

	if (domain_settings(dom, &s, &why) < 0) {
		if (!(d = add(res, dom->name, STS_STAGE_INVALID, STS_STAGE_INVALID, why)))
			return STS_ENOMEM;
		d->err = STS_EINVALID;
		d->error = strdup(why);
		res->n_failed++;
		return STS_OK;
	}
	if (dom->hosting == STS_HOSTING_DELEGATED && dom->state != STS_STATE_ABSENT) {
		/* the provider serves the policy: its mode is not ours to move */
		enum sts_stage at = inventory_stage(dom);
		return add(res, dom->name, at, at, "not under rollout: delegated hosting")
			   ? STS_OK
			   : STS_ENOMEM;
	}
	bool mine = false;
	if ((r = lease_claim(o, dom->name, &mine)) < 0)
		return r;
	if (!mine) /* another watcher works on it: skipped, not failed */
		return add_held(res, rd, dom->name, inventory_stage(dom));
	if ((r = sts_rollout_reader_state(rd, dom->name, &st, &found)) < 0 && !o->dry_run)
		return r;
	bool quiet = found && st.pending == STS_STAGE_INVALID && st.stage != STS_STAGE_REMOVED &&
		     dom->state != STS_STATE_ABSENT;
	if (!quiet) /* writes follow */
		sts_rollout_reader_pause(rd);
	if (!found) {
		memset(&st, 0, sizeof(st));
		st.stage = start_stage(dom, &s);
		st.since = now;
		st.pending = STS_STAGE_INVALID;
		st.inventory_mode = dom->mode;
		const struct sts_rollout_mode seen = {.demote_to = STS_STAGE_INVALID};
		bool below = st.stage != STS_STAGE_REMOVED && sts_stage_mode(st.stage) < dom->mode;
		char started[160];
		snprintf(started, sizeof(started), "rollout started at %s%s",
			 sts_stage_name(st.stage),
			 below ? " (below the inventory mode: enforce is earned through the gates)"
			       : " (the inventory's mode)");
		bool ok = false;
		if ((r = lease_valid(o, dom->name, &ok)) < 0)
			return r;
		if (!ok)
			return add_held(res, rd, dom->name, inventory_stage(dom));
		if (!o->dry_run &&
		    ((r = sts_rollout_start(db, dom->name, st.stage, started)) < 0 ||
		     (r = sts_rollout_record_mode(db, dom->name, dom->mode, &seen)) < 0))
			return r;
		if (below) {
			/* apply may have published the inventory's mode before: publish the start
			 */
			if (!(d = add(res, dom->name, inventory_stage(dom), st.stage, started)))
				return STS_ENOMEM;
			res->n_changed++;
			r = o->dry_run ? STS_OK : apply_to(dom, st.stage, o, d);
			r = r > 0 ? STS_OK : r; /* failed: told in d */
			res->n_failed += d->err != 0;
			return r;
		}
	}
	if (st.stage == STS_STAGE_REMOVED && dom->state != STS_STATE_ABSENT) {
		/* back in the inventory: starts again from its mode */
		enum sts_stage to = start_stage(dom, &s);
		if (!(d = add(res, dom->name, st.stage, to, "back in the inventory")))
			return STS_ENOMEM;
		if (!o->dry_run &&
		    (r = begin_leased(db, o, dom->name, to, d->reason, "null", d)) == 0)
			r = carry_out(db, dom, to, o, d);
		res->n_changed += d->to != d->from;
		res->n_failed += d->err != 0;
		return r < 0 ? r : STS_OK;
	}
	if (st.pending != STS_STAGE_INVALID) {
		/* a crash left this transition in flight: finish it */
		if (!(d = add(res, dom->name, st.stage, st.pending,
			      "resumed the transition a previous cycle left in flight")))
			return STS_ENOMEM;
		if (!o->dry_run && (r = carry_out(db, dom, st.pending, o, d)) < 0)
			return r;
		res->n_changed += d->to != d->from;
		res->n_failed += d->err != 0;
		return STS_OK;
	}
	if (dom->state == STS_STATE_ABSENT) {
		if (st.stage == STS_STAGE_REMOVED)
			return add(res, dom->name, st.stage, st.stage, "removed") ? STS_OK
										  : STS_ENOMEM;
		if (!(d = add(res, dom->name, st.stage, STS_STAGE_REMOVED, "state absent")))
			return STS_ENOMEM;
		if (!o->dry_run && (r = begin_leased(db, o, dom->name, STS_STAGE_REMOVED, d->reason,
						     "null", d)) == 0)
			r = carry_out(db, dom, STS_STAGE_REMOVED, o, d);
		res->n_changed += d->to != d->from;
		res->n_failed += d->err != 0;
		return r < 0 ? r : STS_OK;
	}

	bool done = false;
	if ((r = operator_controls(dom, db, rd, o, &s, &st, res, &done)) < 0 || done)
		return r;
	int window = st.stage == STS_STAGE_ENFORCE ? s.demote_window_days : s.window_days;
	if ((r = sts_rollout_reader_evidence(rd, dom->name, window, now, o->all_reports, &ev)) < 0)
		return r;
	sts_rollout_check_init(&chk);
	sts_rollout_evaluate(&s, st.stage, st.since, now, &ev, NULL, &dec);
	int64_t every = o->check_every > 0 ? o->check_every : 86400;
	bool due = now - st.last_check >= every;
	bool want = st.stage == STS_STAGE_TESTING
			? dec.needs_check
			: (dec.needs_check || st.stage == STS_STAGE_ENFORCE) && due;
	if (dec.to == dec.from && want && !o->no_check && o->ops && o->ops->check) {
		/* deferred: checked with others of its batch, concluded in order */
		if (b->n == b->cap) {
			size_t cap = concurrency(o) * BATCH_PER_THREAD;
			struct deferred *v = b->v ? NULL : calloc(cap, sizeof(*v));
			if (!v)
				return STS_ENOMEM;
			b->v = v;
			b->cap = cap;
		}
		if (!add(res, dom->name, dec.from, dec.from, "live check pending"))
			return STS_ENOMEM;
		struct deferred *df = &b->v[b->n++];
		df->dom = dom;
		df->at = res->n - 1;
		df->s = s;
		df->st = st;
		df->ev = ev;
		df->r = STS_OK;
		sts_rollout_check_init(&df->chk);
		return b->n == b->cap ? flush_batch(b, db, rd, o, now, res) : STS_OK;
	}
	return conclude(dom, db, rd, o, now, res, SIZE_MAX, &dec, &ev, &chk);
}

/* Record the decision (at index at, or a new one) and carry out its transition. */
static int conclude(const struct sts_domain *dom, struct sts_db *db, struct sts_rollout_reader *rd,
		    const struct sts_watch_opts *o, int64_t now, struct sts_watch_result *res,
		    size_t at, const struct sts_rollout_decision *dec,
		    const struct sts_rollout_evidence *ev, const struct sts_rollout_check *chk)
{
	struct sts_watch_decision *d;
	int r;
	(void)now;
	if (at == SIZE_MAX) {
		if (!(d = add(res, dom->name, dec->from, dec->to, dec->reason)))
			return STS_ENOMEM;
	} else {
		char *reason = strdup(dec->reason);
		if (!reason)
			return STS_ENOMEM;
		d = &res->decisions[at];
		free(d->reason);
		d->reason = reason;
		d->from = dec->from;
		d->to = dec->to;
		d->changed = dec->from != dec->to;
	}
	if (dec->to == dec->from || o->dry_run) {
		res->n_changed += dec->to != dec->from;
		return STS_OK;
	}
	sts_rollout_reader_pause(rd);
	json_t *evj = evidence_doc(ev, chk);
	char *evs = evj ? json_dumps(evj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(evj);
	if (!evs)
		return STS_ENOMEM;
	r = begin_leased(db, o, dom->name, dec->to, dec->reason, evs, d);
	free(evs);
	if (r != 0) {
		res->n_failed += d->err != 0;
		return r < 0 ? r : STS_OK;
	}
	hook(o, "begin", dom->name);
	if ((r = carry_out(db, dom, dec->to, o, d)) < 0)
		return r;
	res->n_changed += d->to != d->from;
	res->n_failed += d->err != 0;
	return STS_OK;
}

/* Domains under rollout that left the inventory. */
static int removed_ones(const struct sts_inventory *inv, struct sts_db *db,
			struct sts_rollout_reader *rd, const struct sts_watch_opts *o,
			struct sts_watch_result *res)
{
	char **names = NULL;
	size_t n = 0;
	int r = sts_rollout_domains(db, &names, &n);
	for (size_t i = 0; r == STS_OK && i < n; i++) {
		struct sts_rollout_state st;
		bool found = false;
		if (sts_inventory_find(inv, names[i]) ||
		    (o->in_scope && !o->in_scope(o->scope_ud, names[i])))
			continue;
		if ((r = sts_rollout_reader_state(rd, names[i], &st, &found)) < 0 || !found ||
		    st.stage == STS_STAGE_REMOVED)
			continue;
		bool mine = false;
		if ((r = lease_claim(o, names[i], &mine)) < 0)
			break;
		if (!mine) {
			r = add_held(res, rd, names[i], st.stage);
			continue;
		}
		struct sts_watch_decision *d =
		    add(res, names[i], st.stage, STS_STAGE_REMOVED, "no longer in the inventory");
		if (!d) {
			r = STS_ENOMEM;
			break;
		}
		sts_rollout_reader_pause(rd);
		if (!o->dry_run && (r = begin_leased(db, o, names[i], STS_STAGE_REMOVED, d->reason,
						     "null", d)) == 0)
			r = sts_rollout_complete(db, names[i]);
		r = r > 0 ? STS_OK : r; /* lease lost: told in d */
		res->n_changed += d->to != d->from;
		res->n_failed += d->err != 0;
		int rr = lease_release_done(o, NULL, 0);
		r = r < 0 ? r : rr;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* The domains of the batch, whose leases stay held until it is concluded. */
static int release_unbatched(const struct sts_watch_opts *o, const struct batch *b)
{
	const struct sts_domain **keep = b->n ? calloc(b->n, sizeof(*keep)) : NULL;
	if (b->n && !keep)
		return STS_ENOMEM;
	for (size_t i = 0; i < b->n; i++)
		keep[i] = b->v[i].dom;
	int r = lease_release_done(o, keep, b->n);
	free(keep);
	return r;
}

STS_API int sts_watch_cycle(const struct sts_inventory *inv, struct sts_db *db,
			    const struct sts_watch_opts *opts, struct sts_watch_result *ret)
{
	int64_t now = sts_db_now(db);
	int r = STS_OK;
	struct cycle *c = calloc(1, sizeof(*c));
	if (!c)
		return STS_ENOMEM;
	c->o = *opts;
	c->db = db;
	c->leases = opts->leases && !opts->dry_run && !sts_db_is_readonly(db);
	c->holder = opts->lease_holder ? opts->lease_holder : sts_lease_holder_id();
	c->ttl = opts->lease_ttl > 0 ? opts->lease_ttl : STS_WATCH_LEASE_TTL;
	const struct sts_watch_opts *o = &c->o;

	memset(ret, 0, sizeof(*ret));
	c->cap = concurrency(o) * BATCH_PER_THREAD + 1;
	if (!(c->held = calloc(c->cap, sizeof(*c->held)))) {
		free(c);
		return STS_ENOMEM;
	}
	if (!sts_db_is_readonly(db) &&
	    ((r = sts_rollout_schema(db)) < 0 || (c->leases && (r = sts_lease_schema(db)) < 0))) {
		free(c->held);
		free(c);
		return r;
	}
	/* reports stored by an older stsctl get their reporter identities first, and
	 * reports a temporary DKIM failure left pending are verified again */
	const json_t *reports = json_object_get(inv->root, "reports");
	if (!sts_db_is_readonly(db) && !o->dry_run &&
	    ((r = sts_ingest_schema(db)) < 0 ||
	     (r = sts_ingest_recheck_db(db, reports, inv->dir, NULL)) < 0))
		return r;
	struct sts_reporters *list = NULL;
	if ((r = sts_reporters_from_json(reports, &list)) < 0) {
		free(c->held);
		free(c);
		return r;
	}
	struct sts_rollout_reader *rd = NULL;
	if ((r = sts_rollout_reader_new(db, &rd)) < 0) {
		sts_reporters_free(list);
		free(c->held);
		free(c);
		return r;
	}
	sts_rollout_reader_set_reporters(rd, list);
	struct batch b = {0};
	for (size_t i = 0; i < inv->n_domains && r == STS_OK; i++)
		if (!o->in_scope || o->in_scope(o->scope_ud, inv->domains[i].name)) {
			r = one_domain(&inv->domains[i], db, rd, o, now, ret, &b);
			if (r == STS_OK)
				r = release_unbatched(o, &b);
		}
	if (r == STS_OK)
		r = flush_batch(&b, db, rd, o, now, ret);
	free(b.v);
	int rr = lease_release_done(o, NULL, 0); /* also after a failure */
	r = r < 0 ? r : rr;
	if (r == STS_OK)
		r = removed_ones(inv, db, rd, o, ret);
	sts_rollout_reader_free(rd);
	sts_reporters_free(list);
	free(c->held);
	free(c);
	if (r < 0)
		sts_watch_result_release(ret);
	return r;
}

STS_API json_t *sts_watch_result_json(const struct sts_watch_result *r)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->n; i++) {
		const struct sts_watch_decision *d = &r->decisions[i];
		json_t *o = json_pack("{s:s,s:s?,s:s?,s:s}", "domain", d->domain, "from",
				      sts_stage_name(d->from), "to", sts_stage_name(d->to),
				      "reason", d->reason);
		if (o && d->error)
			json_object_set_new(o, "error", json_string(d->error));
		if (o && d->held)
			json_object_set_new(o, "held", json_true());
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	json_t *doc = a ? json_pack("{s:o}", "decisions", a) : NULL;
	if (doc && r->n_held)
		json_object_set_new(doc, "held_by_another_watcher",
				    json_integer((json_int_t)r->n_held));
	return doc;
}

/* ---- status ---- */

/* the reports of the window that do not count, grouped by why */
static json_t *not_evidence_json(const struct sts_rollout_evidence *ev)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < ev->n_ignored; i++)
		json_array_append_new(a, json_pack("{s:I,s:b,s:s}", "reports",
						   (json_int_t)ev->ignored[i].reports, "evidence",
						   0, "why", ev->ignored[i].why));
	return a;
}

static json_t *health_json(const struct sts_rollout_evidence *ev)
{
	json_t *ft = json_object();
	long long sessions = ev->successes + ev->failures;
	for (size_t i = 0; ft && i < ev->n_types; i++)
		json_object_set_new(ft, ev->by_type[i].type, json_integer(ev->by_type[i].sessions));
	return json_pack("{s:i,s:I,s:I,s:f,s:I,s:o*,s:o*}", "window_days", ev->window_days,
			 "evidence_reports", (json_int_t)ev->reports, "sessions",
			 (json_int_t)sessions, "success_ratio",
			 sessions ? (double)ev->successes / (double)sessions : 0.0,
			 "reporting_orgs", (json_int_t)ev->reporting_orgs, "failures_by_type", ft,
			 "not_evidence", not_evidence_json(ev));
}

static json_t *status_fields(const struct sts_domain *dom, struct sts_rollout_reader *rd, bool all,
			     int64_t now)
{
	struct sts_rollout_settings s;
	struct sts_rollout_state st;
	struct sts_rollout_evidence ev;
	struct sts_rollout_decision dec;
	const char *why = NULL;
	bool found = false;
	char since[32], next[32];

	if (domain_settings(dom, &s, &why) < 0)
		return json_pack("{s:s,s:s}", "domain", dom->name, "error", why);
	if (sts_rollout_reader_state(rd, dom->name, &st, &found) < 0 || !found) {
		memset(&st, 0, sizeof(st));
		st.stage = start_stage(dom, &s);
		st.since = now;
		st.inventory_mode = STS_MODE_INVALID;
	}
	struct sts_rollout_mode m;
	sts_rollout_mode_of(found ? &st : NULL, dom->mode, s.target, &m);
	int window = st.stage == STS_STAGE_ENFORCE ? s.demote_window_days : s.window_days;
	if (sts_rollout_reader_evidence(rd, dom->name, window, now, all, &ev) < 0)
		memset(&ev, 0, sizeof(ev));
	if (dom->hosting == STS_HOSTING_DELEGATED) {
		sts_rollout_evaluate(&s, STS_STAGE_REMOVED, now, now, &ev, NULL, &dec);
		dec.n_blocking = 1;
		snprintf(dec.blocking[0].gate, sizeof(dec.blocking[0].gate), "hosting");
		snprintf(dec.blocking[0].message, sizeof(dec.blocking[0].message),
			 "delegated hosting: not under rollout");
	} else
		sts_rollout_evaluate(&s, st.stage, st.since, now, &ev, NULL, &dec);
	json_t *bl = json_array();
	for (size_t i = 0; bl && i < dec.n_blocking; i++) {
		const struct sts_rollout_block *b = &dec.blocking[i];
		bool only_check = strcmp(b->gate, "live-check") == 0 && dec.needs_check;
		json_array_append_new(
		    bl, json_pack("{s:s,s:s}", "gate", b->gate, "message",
				  only_check ? "a live check runs at the next cycle" : b->message));
	}
	sts_time_rfc3339(st.since, since);
	bool reports_block = false;
	for (size_t i = 0; i < dec.n_blocking; i++)
		reports_block = reports_block || (strcmp(dec.blocking[i].gate, "min-days") != 0 &&
						  strcmp(dec.blocking[i].gate, "live-check") != 0);
	json_t *np = json_null();
	if (dec.next_promotion_at && !reports_block) {
		sts_time_rfc3339(dec.next_promotion_at, next);
		np = json_string(next);
	}
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "domain", dom->name, "stage",
			      sts_stage_name(st.stage), "since", since, "target",
			      sts_stage_name(s.target), "health", health_json(&ev), "blocking",
			      bl ? bl : json_array(), "next_promotion_at", np);
	/* the operator's controls: a hold (stsctl rollout hold), the inventory brake */
	if (o && found && st.held)
		json_object_set_new(
		    o, "held",
		    json_string(st.hold_reason[0] ? st.hold_reason : "held by the operator"));
	if (o && found && m.brake)
		json_object_set_new(o, "brake", json_string(sts_mode_name(dom->mode)));
	if (o && m.mode != sts_stage_mode(st.stage))
		json_object_set_new(
		    o, "published",
		    json_pack("{s:s?,s:s}", "mode", sts_mode_name(m.mode), "why", m.why));
	return o;
}

static json_t *status_one(const struct sts_domain *dom, struct sts_rollout_reader *rd, bool all,
			  int64_t now)
{
	json_t *o = status_fields(dom, rd, all, now);
	/* "evidence": "all" is a lab setting: every domain it affects says so */
	if (o && all && !json_object_get(o, "error"))
		json_object_set_new(
		    o, "evidence_all",
		    json_string("reports.evidence is \"all\": unauthenticated reports and "
				"unlisted reporters count (a lab setting, never for production)"));
	return o;
}

STS_API int sts_watch_status(const struct sts_inventory *inv, struct sts_db *db, bool all_reports,
			     json_t **ret)
{
	int64_t now = sts_db_now(db);
	struct sts_rollout_reader *rd = NULL;
	struct sts_reporters *list = NULL;
	if (sts_reporters_from_json(json_object_get(inv->root, "reports"), &list) < 0)
		return STS_ENOMEM;
	if (sts_rollout_reader_new(db, &rd) < 0) {
		sts_reporters_free(list);
		return STS_ENOMEM;
	}
	sts_rollout_reader_set_reporters(rd, list);
	json_t *a = json_array();
	for (size_t i = 0; a && i < inv->n_domains; i++) {
		json_t *o = status_one(&inv->domains[i], rd, all_reports, now);
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	sts_rollout_reader_free(rd);
	sts_reporters_free(list);
	if (!a)
		return STS_ENOMEM;
	if (!a || !(*ret = json_pack("{s:o}", "domains", a)))
		return STS_ENOMEM;
	return STS_OK;
}
