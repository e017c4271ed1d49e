/* SPDX-License-Identifier: MIT */
#ifndef STS_ROLLOUT_H
#define STS_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_db.h"
#include "sts_inv_rollout.h"
#include "sts_policy.h"

/*
 * The rollout engine (docs/rollout.md): one explicit state machine per
 * domain, none -> testing -> enforce (and back to testing on a failure
 * spike or a failed MX check), driven by TLS-RPT evidence over a window
 * and by live checks. Evaluation is pure: settings, the current stage,
 * the time, the evidence and a (possibly recorded) check result in, a
 * decision with its reason and every blocking gate out. Transitions are
 * persisted in the state DB (component "rollout") with time, reason and
 * evidence, in two steps so that a crash between them resumes: the
 * pending stage is written first, the caller applies it, then the
 * transition is completed.
 */

/* enum sts_stage and struct sts_rollout_settings: sts_inv_rollout.h (the
 * inventory parses its "rollout" sections into them). */

/* The threshold for one result type. */
STS_API double sts_rollout_max_ratio(const struct sts_rollout_settings *s, const char *type);

/* ---- evidence: the report figures of one domain over one window ---- */

struct sts_rollout_ftcount {
	char type[48];
	long long sessions;
};

/* reports of the window that do not count, grouped by why (sts_ingest_evidence) */
struct sts_rollout_ignored {
	char why[160];
	long long reports;
};
#define STS_ROLLOUT_MAX_IGNORED 8

struct sts_rollout_evidence {
	int window_days;
	long long reports;     /* report entries counted */
	long long successes;   /* successful sessions */
	long long failures;    /* failed sessions */
	size_t reporting_orgs; /* distinct reporter identities (sts_reporters.h), not names */
	bool all;	       /* "evidence": "all": unauthenticated reports counted too */
	struct sts_rollout_ignored ignored[STS_ROLLOUT_MAX_IGNORED]; /* the last one: "other" */
	size_t n_ignored;
	struct sts_rollout_ftcount by_type[STS_ROLLOUT_MAX_TYPES]; /* failed sessions per type */
	size_t n_types;
};

/* Add n failed sessions of type (merged with an existing entry). */
STS_API int sts_rollout_evidence_add_failure(struct sts_rollout_evidence *e, const char *type,
					     long long n);
STS_API json_t *sts_rollout_evidence_json(const struct sts_rollout_evidence *e);

/* ---- a live check result, as the gates need it ---- */

struct sts_rollout_check {
	bool ran;
	int64_t at;
	bool policy_ok; /* the policy is served correctly (TXT, HTTPS, body) */
	bool txt_ok;
	bool tlsrpt_ok;
	bool ph_cert_ok;       /* the policy host's certificate is valid */
	long ph_days_left;     /* of the policy host's certificate; LONG_MAX unknown */
	bool mx_ok;	       /* every MX: STARTTLS and a valid certificate */
	long mx_min_days_left; /* the soonest MX certificate expiry; LONG_MAX unknown */
	char problem[320];     /* the first problem found, "" when none */
};

STS_API void sts_rollout_check_init(struct sts_rollout_check *c);
STS_API json_t *sts_rollout_check_json(const struct sts_rollout_check *c);

/* ---- evaluation ---- */

#define STS_ROLLOUT_MAX_BLOCKING 16

struct sts_rollout_block {
	char gate[32]; /* "reports", "sessions", "success-ratio", "reporting-orgs",
			  "failures", "min-days", "live-check", "target" */
	char message[200];
};

struct sts_rollout_decision {
	enum sts_stage from, to; /* equal: held */
	char reason[400];
	struct sts_rollout_block blocking[STS_ROLLOUT_MAX_BLOCKING];
	size_t n_blocking;
	bool needs_check;	   /* the decision depends on a live check not given */
	int64_t next_promotion_at; /* earliest possible promotion; 0 none (target reached) */
};

/*
 * Decide for one domain at time now, in stage since `since`. ev: the
 * figures over s->window_days (testing) or s->demote_window_days
 * (enforce); check: a live check result or NULL/!ran. Without a check,
 * a promotion whose other gates pass returns needs_check (run one and
 * evaluate again); a demotion needs the evidence only.
 */
STS_API void sts_rollout_evaluate(const struct sts_rollout_settings *s, enum sts_stage stage,
				  int64_t since, int64_t now, const struct sts_rollout_evidence *ev,
				  const struct sts_rollout_check *check,
				  struct sts_rollout_decision *ret);

/* ---- persisted state (component "rollout", docs/rollout.md) ---- */

#define STS_ROLLOUT_COMPONENT "rollout"
STS_API int sts_rollout_schema(struct sts_db *db);

struct sts_rollout_state {
	char domain[256];
	enum sts_stage stage;
	int64_t since;
	enum sts_stage pending; /* STS_STAGE_INVALID when no transition is in flight */
	int64_t last_check;	/* 0: never */
	/* appended (schema 2): the operator's controls */
	enum sts_mode inventory_mode; /* the inventory mode last seen; STS_MODE_INVALID unknown */
	bool brake;		      /* the inventory mode was lowered: held at it until raised */
	bool held;		      /* stsctl rollout hold: no promotion */
	char hold_reason[200];
};

/*
 * The mode plan and apply publish for one domain (docs/rollout.md, "Start
 * and ceiling"), pure. st: its rollout state, NULL when it is not under
 * rollout; inv: its inventory mode now; target: its rollout.target. The
 * published mode is the stage (its pending stage while a transition is in
 * flight; the inventory mode when not under rollout), never above target,
 * and never above inv once inv was lowered below the mode last seen (the
 * inventory brake, which holds until inv is raised again).
 */
struct sts_rollout_mode {
	enum sts_mode mode;	  /* to publish */
	const char *why;	  /* "rollout stage", "inventory mode", "inventory brake",
				     "rollout.target" */
	enum sts_stage demote_to; /* the stage apply records as an operator demotion;
				     STS_STAGE_INVALID: none */
	bool brake;		  /* the brake holds (to be stored) */
	bool store;		  /* the inventory mode seen or the brake changed: store them */
};
STS_API void sts_rollout_mode_of(const struct sts_rollout_state *st, enum sts_mode inv,
				 enum sts_stage target, struct sts_rollout_mode *ret);
/* The stage a domain starts at when it comes under rollout: its inventory
 * mode, never above testing (enforce is earned) nor above target. */
STS_API enum sts_stage sts_rollout_start_stage(enum sts_mode inv, enum sts_stage target);
/* A domain's rollout settings as the inventory parsed them (a domain made by
 * hand, without rollout_settings: parsed here); STS_EINVALID with *reterr. */
struct sts_domain;
STS_API int sts_rollout_domain_settings(const struct sts_domain *dom,
					struct sts_rollout_settings *ret, const char **reterr);

/*
 * What plan and apply decided for a domain under rollout, recorded in one
 * write (inside the caller's transaction, no transaction of its own):
 * the inventory mode seen and the brake; when m->demote_to is a stage, the
 * stage becomes it (a transition in flight is dropped) with a history row
 * "operator demotion: ..." (why says which control).
 */
STS_API int sts_rollout_record_mode(struct sts_db *db, const char *domain, enum sts_mode inv,
				    const struct sts_rollout_mode *m);

/* stsctl rollout hold/release (held with reason, recorded in the history). */
STS_API int sts_rollout_hold(struct sts_db *db, const char *domain, bool held, const char *reason);
/* stsctl rollout set: the stage becomes `to` now (a transition in flight is
 * dropped), recorded in the history with reason. */
STS_API int sts_rollout_set(struct sts_db *db, const char *domain, enum sts_stage to,
			    const char *reason);

/* *ret_found false when the domain is not under rollout yet. */
STS_API int sts_rollout_get(struct sts_db *db, const char *domain, struct sts_rollout_state *ret,
			    bool *ret_found);
/* Put a domain under rollout at stage (recorded as a transition from ""). */
STS_API int sts_rollout_start(struct sts_db *db, const char *domain, enum sts_stage stage,
			      const char *reason);
/*
 * Step 1 of a transition: remember to, reason and evidence (JSON text)
 * as pending. Render/plan/apply publish the pending stage from then on.
 */
STS_API int sts_rollout_begin(struct sts_db *db, const char *domain, enum sts_stage to,
			      const char *reason, const char *evidence);
/* Step 2, after the apply succeeded: stage = pending, since = now, history row. */
STS_API int sts_rollout_complete(struct sts_db *db, const char *domain);
/* The apply failed: drop the pending stage (nothing is recorded as done). */
STS_API int sts_rollout_abort(struct sts_db *db, const char *domain);
STS_API int sts_rollout_checked(struct sts_db *db, const char *domain, int64_t at);

struct sts_rollout_transition {
	int64_t time;
	char from[16], to[16];
	char *reason;
	char *evidence; /* JSON text */
};
/* Every domain under rollout, sorted (malloc'd strings in a malloc'd array). */
STS_API int sts_rollout_domains(struct sts_db *db, char ***ret, size_t *ret_n);

/* Oldest first. */
STS_API int sts_rollout_history(struct sts_db *db, const char *domain,
				struct sts_rollout_transition **ret, size_t *ret_n);
STS_API void sts_rollout_history_free(struct sts_rollout_transition *v, size_t n);

/*
 * The mode each domain under rollout publishes (its pending stage while a
 * transition is in flight, else its stage), for render, plan and apply.
 * A DB without the rollout schema gives an empty map.
 */
struct sts_rollout_modes;
STS_API int sts_rollout_modes_load(struct sts_db *db, struct sts_rollout_modes **ret);
/* STS_MODE_INVALID when the domain is not under rollout (m may be NULL). */
STS_API enum sts_mode sts_rollout_modes_get(const struct sts_rollout_modes *m, const char *domain);
/* The domain's state (stage: its pending stage while one is in flight); NULL when
 * it is not under rollout (m may be NULL). Borrowed from m. */
STS_API const struct sts_rollout_state *sts_rollout_modes_find(const struct sts_rollout_modes *m,
							       const char *domain);
STS_API void sts_rollout_modes_free(struct sts_rollout_modes *m);
/*
 * The mode plan, apply and render publish for dom (present): its state in m
 * (not under rollout when m has none; m may be NULL) under its
 * rollout.target and the inventory brake (sts_rollout_mode_of). Returns its
 * state, borrowed from m, or NULL when it is not under rollout.
 */
STS_API const struct sts_rollout_state *sts_rollout_domain_mode(const struct sts_rollout_modes *m,
								const struct sts_domain *dom,
								struct sts_rollout_mode *ret);

/*
 * Fill ev from the report aggregates of the state DB (sts_ingest.h
 * tables): the `window_days` days up to now's day, only "sts" entries
 * whose policy-string matches a policy the domain served, authenticated
 * reports of listed reporters (the built-in list here) only unless
 * all_reports. A DB without the report tables gives
 * empty evidence.
 */
STS_API int sts_rollout_evidence_read(struct sts_db *db, const char *domain, int window_days,
				      int64_t now, bool all_reports,
				      struct sts_rollout_evidence *ret);

/*
 * The same reads with statements prepared once (a cycle over many
 * domains): sts_rollout_get and sts_rollout_evidence_read through r.
 * Tables missing when r was made stay missing for r.
 */
struct sts_rollout_reader;
STS_API int sts_rollout_reader_new(struct sts_db *db, struct sts_rollout_reader **ret);
/*
 * The reporter allow-list the evidence is read with (borrowed; it must
 * outlive r). Without one, the built-in list.
 */
struct sts_reporters;
STS_API void sts_rollout_reader_set_reporters(struct sts_rollout_reader *r,
					      const struct sts_reporters *l);
STS_API void sts_rollout_reader_free(struct sts_rollout_reader *r);
/*
 * The reads of r share one read transaction until this (or free): call it
 * before any write to the DB, and before anything slow (a live check).
 */
STS_API void sts_rollout_reader_pause(struct sts_rollout_reader *r);
STS_API int sts_rollout_reader_state(struct sts_rollout_reader *r, const char *domain,
				     struct sts_rollout_state *ret, bool *ret_found);
STS_API int sts_rollout_reader_evidence(struct sts_rollout_reader *r, const char *domain,
					int window_days, int64_t now, bool all_reports,
					struct sts_rollout_evidence *ret);

#endif
