/* SPDX-License-Identifier: MIT */
/*
 * The rollout state machine: evidence and the gates (docs/rollout.md;
 * the settings are parsed with the inventory, sts_inv_rollout.c). Pure:
 * no DB, no network, no clock of its own.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sts_err.h"
#include "sts_inventory.h"
#include "sts_rollout.h"

#define DAY 86400LL

STS_API double sts_rollout_max_ratio(const struct sts_rollout_settings *s, const char *type)
{
	for (size_t i = 0; i < s->n_ftypes; i++)
		if (strcmp(s->ftypes[i].type, type) == 0)
			return s->ftypes[i].max_ratio;
	return s->other_max_failure_ratio;
}

/* ---- evidence and check ---- */

STS_API int sts_rollout_evidence_add_failure(struct sts_rollout_evidence *e, const char *type,
					     long long n)
{
	const char *t = strlen(type) < sizeof(e->by_type[0].type) ? type : "unknown";
	for (size_t i = 0; i < e->n_types; i++)
		if (strcmp(e->by_type[i].type, t) == 0) {
			e->by_type[i].sessions += n;
			return STS_OK;
		}
	if (e->n_types >= STS_ROLLOUT_MAX_TYPES)
		t = "other";
	for (size_t i = 0; i < e->n_types; i++)
		if (strcmp(e->by_type[i].type, t) == 0) {
			e->by_type[i].sessions += n;
			return STS_OK;
		}
	size_t i = e->n_types < STS_ROLLOUT_MAX_TYPES ? e->n_types++ : STS_ROLLOUT_MAX_TYPES - 1;
	snprintf(e->by_type[i].type, sizeof(e->by_type[i].type), "%s", t);
	e->by_type[i].sessions = n;
	return STS_OK;
}

static double ratio(long long a, long long b)
{
	return b > 0 ? (double)a / (double)b : 0;
}

STS_API json_t *sts_rollout_evidence_json(const struct sts_rollout_evidence *e)
{
	json_t *ft = json_object();
	for (size_t i = 0; ft && i < e->n_types; i++)
		json_object_set_new(ft, e->by_type[i].type, json_integer(e->by_type[i].sessions));
	long long sessions = e->successes + e->failures;
	return json_pack("{s:i,s:I,s:I,s:f,s:I,s:o*}", "window_days", e->window_days, "reports",
			 (json_int_t)e->reports, "sessions", (json_int_t)sessions, "success_ratio",
			 ratio(e->successes, sessions), "reporting_orgs",
			 (json_int_t)e->reporting_orgs, "failures_by_type", ft);
}

STS_API void sts_rollout_check_init(struct sts_rollout_check *c)
{
	memset(c, 0, sizeof(*c));
	c->ph_days_left = LONG_MAX;
	c->mx_min_days_left = LONG_MAX;
}

static json_t *days_json(long d)
{
	return d == LONG_MAX ? json_null() : json_integer(d);
}

STS_API json_t *sts_rollout_check_json(const struct sts_rollout_check *c)
{
	if (!c || !c->ran)
		return json_null();
	return json_pack("{s:I,s:b,s:b,s:b,s:b,s:o,s:b,s:o,s:s?}", "at", (json_int_t)c->at,
			 "policy_ok", c->policy_ok, "txt_ok", c->txt_ok, "tlsrpt_ok", c->tlsrpt_ok,
			 "policy_host_cert_ok", c->ph_cert_ok, "policy_host_days_left",
			 days_json(c->ph_days_left), "mx_ok", c->mx_ok, "mx_min_days_left",
			 days_json(c->mx_min_days_left), "problem",
			 c->problem[0] ? c->problem : NULL);
}

/* ---- evaluation ---- */

static void block(struct sts_rollout_decision *d, const char *gate, const char *fmt, ...)
    STS_PRINTF(3, 4);

static void block(struct sts_rollout_decision *d, const char *gate, const char *fmt, ...)
{
	if (d->n_blocking >= STS_ROLLOUT_MAX_BLOCKING)
		return;
	struct sts_rollout_block *b = &d->blocking[d->n_blocking++];
	va_list ap;
	snprintf(b->gate, sizeof(b->gate), "%s", gate);
	va_start(ap, fmt);
	vsnprintf(b->message, sizeof(b->message), fmt, ap);
	va_end(ap);
}

static int reason(struct sts_rollout_decision *d, const char *fmt, ...) STS_PRINTF(2, 3);

static int reason(struct sts_rollout_decision *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	return 0;
}

/* "held: " and the blocking messages joined */
static int held(struct sts_rollout_decision *d)
{
	size_t n = (size_t)snprintf(d->reason, sizeof(d->reason), "held:");
	for (size_t i = 0; i < d->n_blocking && n < sizeof(d->reason); i++)
		n += (size_t)snprintf(d->reason + n, sizeof(d->reason) - n, "%s %s", i ? ";" : "",
				      d->blocking[i].message);
	return 0;
}

/* Failures per type above their thresholds; returns how many. */
static size_t failure_gates(const struct sts_rollout_settings *s,
			    const struct sts_rollout_evidence *ev, struct sts_rollout_decision *d,
			    char *first, size_t first_len)
{
	long long sessions = ev->successes + ev->failures;
	size_t n = 0;
	for (size_t i = 0; i < ev->n_types; i++) {
		const struct sts_rollout_ftcount *f = &ev->by_type[i];
		double max = sts_rollout_max_ratio(s, f->type), r = ratio(f->sessions, sessions);
		if (f->sessions <= 0 || r <= max)
			continue;
		if (!n++ && first)
			snprintf(first, first_len,
				 "%lld %s failures (%.4f of %lld sessions, at most %g)",
				 f->sessions, f->type, r, sessions, max);
		if (d)
			block(d, "failures", "%lld '%s' failures: %.4f of sessions, at most %g",
			      f->sessions, f->type, r, max);
	}
	return n;
}

/* The live-check gate of a promotion; true when it passes. */
static bool check_gate(const struct sts_rollout_settings *s, enum sts_stage stage,
		       const struct sts_rollout_check *c, struct sts_rollout_decision *d)
{
	if (!c || !c->ran) {
		d->needs_check = true;
		block(d, "live-check", "no live check yet");
		return false;
	}
	size_t before = d->n_blocking;
	if (!c->txt_ok)
		block(d, "live-check", "the _mta-sts TXT record is not valid");
	if (!c->policy_ok)
		block(d, "live-check", "the policy is not served correctly%s%s",
		      c->problem[0] ? ": " : "", c->problem);
	if (!c->tlsrpt_ok)
		block(d, "live-check", "no valid TLS-RPT record");
	if (stage == STS_STAGE_TESTING) {
		if (!c->ph_cert_ok)
			block(d, "live-check", "the policy host certificate is not valid");
		else if (c->ph_days_left < s->cert_min_days_left)
			block(d, "live-check", "the policy host certificate expires in %ld days",
			      c->ph_days_left);
		if (!c->mx_ok)
			block(d, "live-check", "an MX failed: %s",
			      c->problem[0] ? c->problem : "STARTTLS or certificate");
		else if (c->mx_min_days_left < s->cert_min_days_left)
			block(d, "live-check", "an MX certificate expires in %ld days",
			      c->mx_min_days_left);
	}
	return d->n_blocking == before;
}

static int eval_testing(const struct sts_rollout_settings *s, int64_t since, int64_t now,
			const struct sts_rollout_evidence *ev, const struct sts_rollout_check *c,
			struct sts_rollout_decision *d)
{
	long long sessions = ev->successes + ev->failures;
	int64_t ready = since + (int64_t)s->min_days_in_testing * DAY;
	double sr = ratio(ev->successes, sessions);

	d->next_promotion_at = ready > now ? ready : now;
	if (ev->reports == 0 || sessions == 0)
		block(d, "reports",
		      "no reports in the last %d days: never promoted without evidence",
		      ev->window_days);
	else {
		if (sessions < s->min_sessions)
			block(d, "sessions", "%lld sessions in %d days, at least %lld needed",
			      sessions, ev->window_days, s->min_sessions);
		if (sr < s->min_success_ratio)
			block(d, "success-ratio", "success ratio %.4f, at least %g needed", sr,
			      s->min_success_ratio);
		if (ev->reporting_orgs < (size_t)s->min_reporting_orgs)
			block(d, "reporting-orgs",
			      "%zu reporting organisations, at least %d needed", ev->reporting_orgs,
			      s->min_reporting_orgs);
		failure_gates(s, ev, d, NULL, 0);
	}
	if (now < ready)
		block(d, "min-days", "in testing for %lld of %d days",
		      (long long)((now - since) / DAY), s->min_days_in_testing);
	if (d->n_blocking == 0 && check_gate(s, STS_STAGE_TESTING, c, d)) {
		d->to = STS_STAGE_ENFORCE;
		reason(d,
		       "promoted: %lld sessions, success ratio %.4f, %zu reporting organisations "
		       "in %d days; %lld days in testing; live check passed",
		       sessions, sr, ev->reporting_orgs, ev->window_days,
		       (long long)((now - since) / DAY));
		return 0;
	}
	return held(d);
}

static int eval_enforce(const struct sts_rollout_settings *s, const struct sts_rollout_evidence *ev,
			const struct sts_rollout_check *c, struct sts_rollout_decision *d)
{
	char what[200];
	if (!s->auto_demote)
		return reason(d, "enforce: auto_demote is off");
	if (failure_gates(s, ev, NULL, what, sizeof(what))) {
		d->to = STS_STAGE_TESTING;
		return reason(d, "demoted: failure spike in the last %d days: %s", ev->window_days,
			      what);
	}
	if (c && c->ran && (!c->mx_ok || !c->policy_ok || !c->ph_cert_ok)) {
		d->to = STS_STAGE_TESTING;
		return reason(d, "demoted: live check failed: %s",
			      c->problem[0] ? c->problem : "policy host or MX");
	}
	return reason(d, "enforce: healthy");
}

static int evaluate(const struct sts_rollout_settings *s, enum sts_stage stage, int64_t since,
		    int64_t now, const struct sts_rollout_evidence *ev,
		    const struct sts_rollout_check *check, struct sts_rollout_decision *d)
{
	switch (stage) {
	case STS_STAGE_NONE:
		if (s->target == STS_STAGE_NONE) {
			block(d, "target", "target is none");
			return held(d);
		}
		d->next_promotion_at = now;
		if (check_gate(s, STS_STAGE_NONE, check, d)) {
			d->to = STS_STAGE_TESTING;
			return reason(d, "started testing: live check passed (policy served, TXT "
					 "valid, TLS-RPT record present)");
		}
		return held(d);
	case STS_STAGE_TESTING:
		if (s->target != STS_STAGE_ENFORCE) {
			block(d, "target", "target is %s", sts_stage_name(s->target));
			return held(d);
		}
		return eval_testing(s, since, now, ev, check, d);
	case STS_STAGE_ENFORCE:
		return eval_enforce(s, ev, check, d);
	default:
		return reason(d, "removed");
	}
}

STS_API void sts_rollout_evaluate(const struct sts_rollout_settings *s, enum sts_stage stage,
				  int64_t since, int64_t now, const struct sts_rollout_evidence *ev,
				  const struct sts_rollout_check *check,
				  struct sts_rollout_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->from = d->to = stage;
	evaluate(s, stage, since, now, ev, check, d);
}

/* ---- start and ceiling: the operator's controls ---- */

static enum sts_stage stage_of(enum sts_mode m)
{
	switch (m) {
	case STS_MODE_NONE:
		return STS_STAGE_NONE;
	case STS_MODE_ENFORCE:
		return STS_STAGE_ENFORCE;
	default:
		return STS_STAGE_TESTING;
	}
}

static enum sts_stage ceiling(enum sts_stage target)
{
	return target >= STS_STAGE_NONE && target <= STS_STAGE_ENFORCE ? target : STS_STAGE_ENFORCE;
}

STS_API enum sts_stage sts_rollout_start_stage(enum sts_mode inv, enum sts_stage target)
{
	enum sts_stage s = inv == STS_MODE_NONE ? STS_STAGE_NONE : STS_STAGE_TESTING;
	return s > ceiling(target) ? ceiling(target) : s;
}

STS_API void sts_rollout_mode_of(const struct sts_rollout_state *st, enum sts_mode inv,
				 enum sts_stage target, struct sts_rollout_mode *ret)
{
	enum sts_stage cap = ceiling(target), at;
	memset(ret, 0, sizeof(*ret));
	ret->demote_to = STS_STAGE_INVALID;
	if (!st) {
		at = stage_of(inv);
		ret->why = "inventory mode";
	} else {
		enum sts_stage cur = st->pending != STS_STAGE_INVALID ? st->pending : st->stage;
		ret->why = "rollout stage";
		if (cur < STS_STAGE_NONE || cur > STS_STAGE_ENFORCE) {
			ret->mode = sts_stage_mode(cur); /* removed: plan/apply take it down */
			return;
		}
		bool known = st->inventory_mode != STS_MODE_INVALID && inv != STS_MODE_INVALID;
		ret->brake = (known && inv < st->inventory_mode) ||
			     (st->brake && !(known && inv > st->inventory_mode));
		ret->store = st->inventory_mode != inv || ret->brake != st->brake;
		at = cur;
		if (ret->brake && stage_of(inv) < at) {
			at = stage_of(inv);
			ret->why = "inventory brake";
		}
		if (at > cap) {
			at = cap;
			ret->why = "rollout.target";
		}
		if (at < cur)
			ret->demote_to = at;
		ret->mode = sts_stage_mode(at);
		return;
	}
	if (at > cap) {
		at = cap;
		ret->why = "rollout.target";
	}
	ret->mode = sts_stage_mode(at);
}

STS_API int sts_rollout_domain_settings(const struct sts_domain *dom,
					struct sts_rollout_settings *ret, const char **reterr)
{
	if (dom->rollout_settings) {
		*ret = *dom->rollout_settings;
		return STS_OK;
	}
	return sts_rollout_settings_from_json(dom->rollout, ret, reterr);
}

STS_API const struct sts_rollout_state *sts_rollout_domain_mode(const struct sts_rollout_modes *m,
								const struct sts_domain *dom,
								struct sts_rollout_mode *ret)
{
	const struct sts_rollout_state *st = sts_rollout_modes_find(m, dom->name);
	struct sts_rollout_settings s;
	const char *why = NULL;
	if (sts_rollout_domain_settings(dom, &s, &why) < 0)
		s.target = STS_STAGE_ENFORCE; /* validate reported it */
	sts_rollout_mode_of(st, dom->mode, s.target, ret);
	return st;
}
