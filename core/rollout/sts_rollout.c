/* SPDX-License-Identifier: MIT */
/*
 * The rollout state machine: settings, evidence, and the gates
 * (docs/rollout.md). Pure: no DB, no network, no clock of its own.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sts_err.h"
#include "sts_rollout.h"

#define DAY 86400LL

static const char *const stage_names[_STS_STAGE_MAX] = {"none", "testing", "enforce", "removed"};

STS_API const char *sts_stage_name(enum sts_stage s)
{
	return s >= 0 && s < _STS_STAGE_MAX ? stage_names[s] : NULL;
}

STS_API enum sts_stage sts_stage_from_string(const char *s)
{
	for (int i = 0; s && i < _STS_STAGE_MAX; i++)
		if (strcmp(s, stage_names[i]) == 0)
			return (enum sts_stage)i;
	return STS_STAGE_INVALID;
}

STS_API enum sts_mode sts_stage_mode(enum sts_stage s)
{
	switch (s) {
	case STS_STAGE_TESTING:
		return STS_MODE_TESTING;
	case STS_STAGE_ENFORCE:
		return STS_MODE_ENFORCE;
	case STS_STAGE_NONE:
	case STS_STAGE_REMOVED:
		return STS_MODE_NONE;
	default:
		return STS_MODE_INVALID;
	}
}

/* ---- settings ---- */

STS_API void sts_rollout_settings_default(struct sts_rollout_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->target = STS_STAGE_ENFORCE;
	s->min_days_in_testing = STS_ROLLOUT_DEFAULT_MIN_DAYS;
	s->window_days = STS_ROLLOUT_DEFAULT_WINDOW_DAYS;
	s->min_success_ratio = STS_ROLLOUT_DEFAULT_SUCCESS_RATIO;
	s->min_sessions = STS_ROLLOUT_DEFAULT_MIN_SESSIONS;
	s->min_reporting_orgs = STS_ROLLOUT_DEFAULT_MIN_ORGS;
	snprintf(s->ftypes[0].type, sizeof(s->ftypes[0].type), "sts-policy-fetch-error");
	s->ftypes[0].max_ratio = STS_ROLLOUT_DEFAULT_FETCH_ERR_RATIO;
	s->n_ftypes = 1;
	s->other_max_failure_ratio = 0;
	s->cert_min_days_left = STS_ROLLOUT_DEFAULT_CERT_DAYS;
	s->auto_demote = true;
	s->demote_window_days = STS_ROLLOUT_DEFAULT_DEMOTE_WINDOW;
}

static bool get_int(const json_t *o, const char *k, long long lo, long long hi, long long *v)
{
	const json_t *x = json_object_get(o, k);
	if (!x)
		return true;
	if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi)
		return false;
	*v = json_integer_value(x);
	return true;
}

static bool ratio_ok(const json_t *x)
{
	return json_is_number(x) && json_number_value(x) >= 0 && json_number_value(x) <= 1;
}

static int set_ftype(struct sts_rollout_settings *s, const char *type, double v)
{
	if (strcmp(type, "*") == 0) {
		s->other_max_failure_ratio = v;
		return STS_OK;
	}
	if (strlen(type) >= sizeof(s->ftypes[0].type) || !*type)
		return STS_EINVALID;
	for (size_t i = 0; i < s->n_ftypes; i++)
		if (strcmp(s->ftypes[i].type, type) == 0) {
			s->ftypes[i].max_ratio = v;
			return STS_OK;
		}
	if (s->n_ftypes >= STS_ROLLOUT_MAX_TYPES)
		return STS_EINVALID;
	snprintf(s->ftypes[s->n_ftypes].type, sizeof(s->ftypes[0].type), "%s", type);
	s->ftypes[s->n_ftypes++].max_ratio = v;
	return STS_OK;
}

STS_API const char *const sts_rollout_keys[STS_ROLLOUT_N_KEYS] = {"target",
								  "min_days_in_testing",
								  "window_days",
								  "min_success_ratio",
								  "min_sessions",
								  "min_reporting_orgs",
								  "max_failure_ratio_by_type",
								  "cert_min_days_left",
								  "auto_demote",
								  "demote_window_days"};

STS_API int sts_rollout_settings_from_json(const json_t *o, struct sts_rollout_settings *ret,
					   const char **reterr)
{
	struct sts_rollout_settings s;
	long long v;
	const char *k;
	json_t *x;

	sts_rollout_settings_default(&s);
	if (!o)
		goto done;
	if (!json_is_object(o))
		return *reterr = "rollout: not an object", STS_EINVALID;
	json_object_foreach((json_t *)o, k, x)
	{
		bool known = false;
		for (size_t i = 0; i < STS_ROLLOUT_N_KEYS; i++)
			known = known || strcmp(k, sts_rollout_keys[i]) == 0;
		if (!known)
			return *reterr = "rollout: unknown key", STS_EINVALID;
	}
	if ((x = json_object_get(o, "target"))) {
		s.target = sts_stage_from_string(json_string_value(x));
		if (s.target == STS_STAGE_INVALID || s.target == STS_STAGE_REMOVED)
			return *reterr = "rollout.target: not none, testing or enforce",
			       STS_EINVALID;
	}
	v = s.min_days_in_testing;
	if (!get_int(o, "min_days_in_testing", 0, 3650, &v))
		return *reterr = "rollout.min_days_in_testing: not an integer in 0..3650",
		       STS_EINVALID;
	s.min_days_in_testing = (int)v;
	v = s.window_days;
	if (!get_int(o, "window_days", 1, 365, &v))
		return *reterr = "rollout.window_days: not an integer in 1..365", STS_EINVALID;
	s.window_days = (int)v;
	v = s.demote_window_days;
	if (!get_int(o, "demote_window_days", 1, 365, &v))
		return *reterr = "rollout.demote_window_days: not an integer in 1..365",
		       STS_EINVALID;
	s.demote_window_days = (int)v;
	if (!get_int(o, "min_sessions", 0, LLONG_MAX, &s.min_sessions))
		return *reterr = "rollout.min_sessions: not a non-negative integer", STS_EINVALID;
	v = s.min_reporting_orgs;
	if (!get_int(o, "min_reporting_orgs", 0, 1000, &v))
		return *reterr = "rollout.min_reporting_orgs: not an integer in 0..1000",
		       STS_EINVALID;
	s.min_reporting_orgs = (int)v;
	v = s.cert_min_days_left;
	if (!get_int(o, "cert_min_days_left", 0, 3650, &v))
		return *reterr = "rollout.cert_min_days_left: not an integer in 0..3650",
		       STS_EINVALID;
	s.cert_min_days_left = (int)v;
	if ((x = json_object_get(o, "min_success_ratio"))) {
		if (!ratio_ok(x))
			return *reterr = "rollout.min_success_ratio: not a number in 0..1",
			       STS_EINVALID;
		s.min_success_ratio = json_number_value(x);
	}
	if ((x = json_object_get(o, "auto_demote"))) {
		if (!json_is_boolean(x))
			return *reterr = "rollout.auto_demote: not a boolean", STS_EINVALID;
		s.auto_demote = json_is_true(x);
	}
	if ((x = json_object_get(o, "max_failure_ratio_by_type"))) {
		json_t *y;
		if (!json_is_object(x))
			return *reterr = "rollout.max_failure_ratio_by_type: not an object",
			       STS_EINVALID;
		json_object_foreach(x, k, y)
		{
			if (!ratio_ok(y))
				return *reterr = "rollout.max_failure_ratio_by_type: a value is "
						 "not a number in 0..1",
				       STS_EINVALID;
			if (set_ftype(&s, k, json_number_value(y)) < 0)
				return *reterr = "rollout.max_failure_ratio_by_type: bad or too "
						 "many result types",
				       STS_EINVALID;
		}
	}
done:
	*ret = s;
	return STS_OK;
}

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
