/* SPDX-License-Identifier: MIT */
/*
 * The inventory's "rollout" section: stages, the settings' defaults and
 * their parsing from JSON (sts_inv_rollout.h, docs/rollout.md).
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sts_err.h"
#include "sts_inv_rollout.h"

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

bool sts_inv_json_keys_known(const json_t *o, const char *const *keys, size_t n)
{
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)o, k, x)
	{
		bool known = false;
		for (size_t i = 0; i < n; i++)
			known = known || strcmp(k, keys[i]) == 0;
		if (!known)
			return false;
	}
	return true;
}

/* the int settings, each with its range and its message (a static string) */
static const struct {
	const char *key;
	size_t off;
	int lo, hi;
	const char *err;
} int_settings[] = {
    {"min_days_in_testing", offsetof(struct sts_rollout_settings, min_days_in_testing), 0, 3650,
     "rollout.min_days_in_testing: not an integer in 0..3650"},
    {"window_days", offsetof(struct sts_rollout_settings, window_days), 1, 365,
     "rollout.window_days: not an integer in 1..365"},
    {"demote_window_days", offsetof(struct sts_rollout_settings, demote_window_days), 1, 365,
     "rollout.demote_window_days: not an integer in 1..365"},
    {"min_reporting_orgs", offsetof(struct sts_rollout_settings, min_reporting_orgs), 0, 1000,
     "rollout.min_reporting_orgs: not an integer in 0..1000"},
    {"cert_min_days_left", offsetof(struct sts_rollout_settings, cert_min_days_left), 0, 3650,
     "rollout.cert_min_days_left: not an integer in 0..3650"},
};

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
	if (!sts_inv_json_keys_known(o, sts_rollout_keys, STS_ROLLOUT_N_KEYS))
		return *reterr = "rollout: unknown key", STS_EINVALID;
	if ((x = json_object_get(o, "target"))) {
		s.target = sts_stage_from_string(json_string_value(x));
		if (s.target == STS_STAGE_INVALID || s.target == STS_STAGE_REMOVED)
			return *reterr = "rollout.target: not none, testing or enforce",
			       STS_EINVALID;
	}
	for (size_t i = 0; i < sizeof(int_settings) / sizeof(int_settings[0]); i++) {
		int *field = (int *)((char *)&s + int_settings[i].off);
		v = *field;
		if (!get_int(o, int_settings[i].key, int_settings[i].lo, int_settings[i].hi, &v))
			return *reterr = int_settings[i].err, STS_EINVALID;
		*field = (int)v;
	}
	if (!get_int(o, "min_sessions", 0, LLONG_MAX, &s.min_sessions))
		return *reterr = "rollout.min_sessions: not a non-negative integer", STS_EINVALID;
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
