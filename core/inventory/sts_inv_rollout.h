/* SPDX-License-Identifier: MIT */
#ifndef STS_INV_ROLLOUT_H
#define STS_INV_ROLLOUT_H

/*
 * The inventory's "rollout" section as typed settings (docs/rollout.md;
 * core/inventory/sts_inv_rollout.c): the stages and the gates' thresholds.
 * The inventory validates every "rollout" object with
 * sts_rollout_settings_from_json(); the rollout engine (sts_rollout.h)
 * and the watcher evaluate with the result.
 */
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_policy.h"

enum sts_stage {
	STS_STAGE_NONE,
	STS_STAGE_TESTING,
	STS_STAGE_ENFORCE,
	STS_STAGE_REMOVED, /* out of the inventory or state absent: plan/apply take it down */
	_STS_STAGE_MAX,
	STS_STAGE_INVALID = -1,
};

STS_API const char *sts_stage_name(enum sts_stage s); /* "none", ..., "removed"; NULL if invalid */
STS_API enum sts_stage sts_stage_from_string(const char *s);
/* The policy mode a stage publishes (removed: none). */
STS_API enum sts_mode sts_stage_mode(enum sts_stage s);

/* ---- settings: "rollout" of the domain -> tenant -> defaults ---- */

#define STS_ROLLOUT_MAX_TYPES 32

struct sts_rollout_ftype {
	char type[48]; /* a TLS-RPT result-type */
	double max_ratio;
};

struct sts_rollout_settings {
	enum sts_stage target;					/* default enforce */
	int min_days_in_testing;				/* 14 */
	int window_days;					/* 14 */
	double min_success_ratio;				/* 0.99 */
	long long min_sessions;					/* 100 */
	int min_reporting_orgs;					/* 2 */
	struct sts_rollout_ftype ftypes[STS_ROLLOUT_MAX_TYPES]; /* explicit ratios */
	size_t n_ftypes;
	double other_max_failure_ratio; /* every other result type ("*"): 0 */
	int cert_min_days_left;		/* 14 */
	bool auto_demote;		/* true */
	int demote_window_days;		/* 2: the spike window while in enforce */
};

#define STS_ROLLOUT_DEFAULT_WINDOW_DAYS	    14
#define STS_ROLLOUT_DEFAULT_MIN_DAYS	    14
#define STS_ROLLOUT_DEFAULT_SUCCESS_RATIO   0.99
#define STS_ROLLOUT_DEFAULT_MIN_SESSIONS    100
#define STS_ROLLOUT_DEFAULT_MIN_ORGS	    2
#define STS_ROLLOUT_DEFAULT_FETCH_ERR_RATIO 0.01
#define STS_ROLLOUT_DEFAULT_CERT_DAYS	    14
#define STS_ROLLOUT_DEFAULT_DEMOTE_WINDOW   2

STS_API void sts_rollout_settings_default(struct sts_rollout_settings *s);
/* The keys of a "rollout" object. */
#define STS_ROLLOUT_N_KEYS 10
STS_API extern const char *const sts_rollout_keys[STS_ROLLOUT_N_KEYS];
/*
 * Settings from a "rollout" object (NULL: the defaults); keys not given
 * keep their defaults. STS_OK or STS_EINVALID with *reterr (static text
 * naming the key).
 */
STS_API int sts_rollout_settings_from_json(const json_t *o, struct sts_rollout_settings *ret,
					   const char **reterr);

/* Internal to the inventory's section parsers: every key of object o is one of keys[n]. */
bool sts_inv_json_keys_known(const json_t *o, const char *const *keys, size_t n);

#endif
