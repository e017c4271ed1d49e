/* SPDX-License-Identifier: MIT */
/*
 * Rollout state in the state DB (docs/rollout.md): the stage of each
 * domain, the transition in flight, the history with reason and
 * evidence, and the evidence read from the report aggregates.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_reporters.h"
#include "sts_rollout.h"

static const struct sts_db_migration migrations[] = {
    {1,
     "CREATE TABLE rollout_state ("
     " domain TEXT PRIMARY KEY, stage TEXT NOT NULL, since INTEGER NOT NULL,"
     " pending TEXT, pending_reason TEXT, pending_evidence TEXT, pending_at INTEGER,"
     " last_check INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE rollout_transitions ("
     " id INTEGER PRIMARY KEY, domain TEXT NOT NULL, time INTEGER NOT NULL,"
     " from_stage TEXT NOT NULL, to_stage TEXT NOT NULL,"
     " reason TEXT NOT NULL, evidence TEXT NOT NULL);"
     "CREATE INDEX rollout_transitions_domain ON rollout_transitions(domain, id);",
     NULL},
    /* the operator's controls (docs/rollout.md, "Start and ceiling") */
    {2,
     "ALTER TABLE rollout_state ADD COLUMN inventory_mode TEXT;"
     "ALTER TABLE rollout_state ADD COLUMN brake INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE rollout_state ADD COLUMN held INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE rollout_state ADD COLUMN hold_reason TEXT;",
     NULL},
};

/* The state columns, of schema 2 and of schema 1 (a read-only DB not migrated yet). */
#define STATE_COLS_2 "stage, since, pending, last_check, inventory_mode, brake, held, hold_reason"
#define STATE_COLS_1 "stage, since, pending, last_check, NULL, 0, 0, NULL"

/* A row of STATE_COLS_* from column `first` on. */
static void state_row(struct sts_db_stmt *st, int first, struct sts_rollout_state *ret)
{
	const char *hr = sts_db_col_text(st, first + 7);
	ret->stage = sts_stage_from_string(sts_db_col_text(st, first));
	ret->since = sts_db_col_int(st, first + 1);
	ret->pending = sts_stage_from_string(sts_db_col_text(st, first + 2));
	ret->last_check = sts_db_col_int(st, first + 3);
	const char *im = sts_db_col_text(st, first + 4);
	ret->inventory_mode = im ? sts_mode_from_string(im) : STS_MODE_INVALID;
	ret->brake = sts_db_col_int(st, first + 5) != 0;
	ret->held = sts_db_col_int(st, first + 6) != 0;
	snprintf(ret->hold_reason, sizeof(ret->hold_reason), "%s", hr ? hr : "");
}

STS_API int sts_rollout_schema(struct sts_db *db)
{
	return sts_db_migrate(db, STS_ROLLOUT_COMPONENT, migrations,
			      sizeof(migrations) / sizeof(migrations[0]));
}

static void col_text(struct sts_db_stmt *st, int i, char *out, size_t n)
{
	const char *s = sts_db_col_text(st, i);
	snprintf(out, n, "%s", s ? s : "");
}

/* ---- the reader: statements prepared once per cycle ---- */

struct sts_rollout_reader {
	struct sts_db *db;
	struct sts_db_stmt *state;			 /* NULL: table missing */
	struct sts_db_stmt *policies, *daily, *failures; /* NULL: table missing */
	bool in_txn; /* one read transaction over many domains (no lock per statement) */
	const struct sts_reporters *reporters; /* the allow-list; own_list by default */
	struct sts_reporters *own_list;
};

/*
 * Under sts_db_hold: open the read transaction unless one is open. A BEGIN
 * that fails is one inside a transaction already open on this DB (SQLite
 * refuses to nest): the reader then reads in that one and does not end it.
 */
static void reader_txn(struct sts_rollout_reader *rd)
{
	if (!rd->in_txn && sts_db_execf(rd->db, "BEGIN", "") == STS_OK)
		rd->in_txn = true;
}

STS_API void sts_rollout_reader_pause(struct sts_rollout_reader *rd)
{
	if (!rd || !rd->in_txn)
		return;
	sts_db_hold(rd->db);
	sts_db_execf(rd->db, "COMMIT", "");
	rd->in_txn = false;
	sts_db_unhold(rd->db);
}

/* A statement of the reader; NULL when it does not prepare (no such table yet). */
static struct sts_db_stmt *prep(struct sts_db *db, const char *sql)
{
	struct sts_db_stmt *st = NULL;
	return sts_db_prepare(db, sql, &st) == STS_OK ? st : NULL;
}

STS_API int sts_rollout_reader_new(struct sts_db *db, struct sts_rollout_reader **ret)
{
	struct sts_rollout_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return STS_ENOMEM;
	r->db = db;
	if (sts_reporters_from_json(NULL, &r->own_list) < 0) {
		free(r);
		return STS_ENOMEM;
	}
	r->reporters = r->own_list;
	sts_db_hold(db);
	if (sts_db_prepare(db, "SELECT " STATE_COLS_2 " FROM rollout_state WHERE domain = ?",
			   &r->state) < 0 &&
	    sts_db_prepare(db, "SELECT " STATE_COLS_1 " FROM rollout_state WHERE domain = ?",
			   &r->state) < 0)
		r->state = NULL;
	r->policies = prep(db, "SELECT text FROM served_policies WHERE domain = ?");
	/* which rows count is decided per reporter (the allow-list is not in the DB) */
	r->daily = prep(db, "SELECT organization, policy_digest, sum(reports), sum(successful),"
			    " sum(failed), authenticated, reporter FROM tlsrpt_daily"
			    " WHERE domain = ?1 AND day >= ?2 AND policy_type = 'sts'"
			    " GROUP BY organization, policy_digest, authenticated, reporter");
	r->failures =
	    prep(db, "SELECT result_type, policy_digest, sum(sessions), authenticated, reporter"
		     " FROM tlsrpt_failures WHERE domain = ?1 AND day >= ?2 AND policy_type = 'sts'"
		     " GROUP BY result_type, policy_digest, authenticated, reporter");
	sts_db_unhold(db);
	*ret = r;
	return STS_OK;
}

STS_API void sts_rollout_reader_free(struct sts_rollout_reader *r)
{
	if (!r)
		return;
	sts_rollout_reader_pause(r);
	sts_db_finalize(r->state);
	sts_db_finalize(r->policies);
	sts_db_finalize(r->daily);
	sts_db_finalize(r->failures);
	sts_reporters_free(r->own_list);
	free(r);
}

STS_API int sts_rollout_reader_state(struct sts_rollout_reader *rd, const char *domain,
				     struct sts_rollout_state *ret, bool *ret_found)
{
	struct sts_db_stmt *st = rd->state;
	int r = STS_OK, rc;

	*ret_found = false;
	if (!st)
		return STS_EDB; /* no rollout schema */
	sts_db_hold(rd->db);
	reader_txn(rd);
	sts_db_bind_text(st, 1, domain);
	rc = sts_db_step(st);
	*ret_found = rc == STS_DB_ROW;
	if (rc == STS_DB_ROW) {
		memset(ret, 0, sizeof(*ret));
		snprintf(ret->domain, sizeof(ret->domain), "%s", domain);
		state_row(st, 0, ret);
	} else if (rc != STS_DB_DONE)
		r = STS_EDB;
	sts_db_reset(st);
	sts_db_unhold(rd->db);
	return r;
}

STS_API int sts_rollout_get(struct sts_db *db, const char *domain, struct sts_rollout_state *ret,
			    bool *ret_found)
{
	struct sts_rollout_reader *rd = NULL;
	int r = sts_rollout_reader_new(db, &rd);
	if (r == STS_OK)
		r = sts_rollout_reader_state(rd, domain, ret, ret_found);
	sts_rollout_reader_free(rd);
	return r;
}

STS_API int sts_rollout_start(struct sts_db *db, const char *domain, enum sts_stage stage,
			      const char *reason)
{
	int64_t now = sts_db_now(db);
	int r = sts_db_begin(db);
	if (r < 0)
		return r;
	r = sts_db_execf(
	    db, "INSERT OR IGNORE INTO rollout_state (domain, stage, since) VALUES (?, ?, ?)",
	    "tti", domain, sts_stage_name(stage), now);
	if (r == STS_OK)
		r = sts_db_execf(
		    db,
		    "INSERT INTO rollout_transitions (domain, time, from_stage, to_stage,"
		    " reason, evidence) VALUES (?, ?, '', ?, ?, 'null')",
		    "titt", domain, now, sts_stage_name(stage), reason);
	if (r == STS_OK)
		return sts_db_commit(db);
	sts_db_rollback(db);
	return r;
}

STS_API int sts_rollout_begin(struct sts_db *db, const char *domain, enum sts_stage to,
			      const char *reason, const char *evidence)
{
	return sts_db_execf(
	    db,
	    "UPDATE rollout_state SET pending = ?, pending_reason = ?, pending_evidence = ?,"
	    " pending_at = ? WHERE domain = ?",
	    "tttit", sts_stage_name(to), reason, evidence ? evidence : "null",
	    (int64_t)sts_db_now(db), domain);
}

STS_API int sts_rollout_complete(struct sts_db *db, const char *domain)
{
	int64_t now = sts_db_now(db);
	int r = sts_db_begin(db);
	if (r < 0)
		return r;
	r = sts_db_execf(
	    db,
	    "INSERT INTO rollout_transitions (domain, time, from_stage, to_stage, reason,"
	    " evidence) SELECT domain, ?, stage, pending, pending_reason, pending_evidence"
	    " FROM rollout_state WHERE domain = ? AND pending IS NOT NULL",
	    "it", now, domain);
	if (r == STS_OK)
		r = sts_db_execf(
		    db,
		    "UPDATE rollout_state SET stage = pending, since = ?, pending = NULL,"
		    " pending_reason = NULL, pending_evidence = NULL, pending_at = NULL"
		    " WHERE domain = ? AND pending IS NOT NULL",
		    "it", now, domain);
	if (r == STS_OK)
		return sts_db_commit(db);
	sts_db_rollback(db);
	return r;
}

STS_API int sts_rollout_abort(struct sts_db *db, const char *domain)
{
	return sts_db_execf(db,
			    "UPDATE rollout_state SET pending = NULL, pending_reason = NULL,"
			    " pending_evidence = NULL, pending_at = NULL WHERE domain = ?",
			    "t", domain);
}

STS_API int sts_rollout_checked(struct sts_db *db, const char *domain, int64_t at)
{
	return sts_db_execf(db, "UPDATE rollout_state SET last_check = ? WHERE domain = ?", "it",
			    at, domain);
}

static int domain_row(struct sts_db_stmt *st, void *elem)
{
	char **d = elem;
	*d = strdup(sts_db_col_text(st, 0));
	return *d ? STS_OK : STS_ENOMEM;
}

static void domain_release(void *elem)
{
	free(*(char **)elem);
}

STS_API int sts_rollout_domains(struct sts_db *db, char ***ret, size_t *ret_n)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT domain FROM rollout_state ORDER BY domain",
	    .size = sizeof(**ret),
	    .row = domain_row,
	    .release = domain_release,
	    .what = "read rollout domains",
	    .optional = true, /* no schema: nobody */
	};
	return sts_db_read_rows(db, &q, ret, ret_n);
}

static int transition_row(struct sts_db_stmt *st, void *elem)
{
	struct sts_rollout_transition *t = elem;
	t->time = sts_db_col_int(st, 0);
	col_text(st, 1, t->from, sizeof(t->from));
	col_text(st, 2, t->to, sizeof(t->to));
	t->reason = strdup(sts_db_col_text(st, 3));
	t->evidence = strdup(sts_db_col_text(st, 4));
	return t->reason && t->evidence ? STS_OK : STS_ENOMEM;
}

static void transition_release(void *elem)
{
	struct sts_rollout_transition *t = elem;
	free(t->reason);
	free(t->evidence);
}

STS_API int sts_rollout_history(struct sts_db *db, const char *domain,
				struct sts_rollout_transition **ret, size_t *ret_n)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT time, from_stage, to_stage, reason, evidence"
		   " FROM rollout_transitions WHERE domain = ? ORDER BY id",
	    .key = domain,
	    .size = sizeof(**ret),
	    .row = transition_row,
	    .release = transition_release,
	    .what = "read rollout history",
	};
	return sts_db_read_rows(db, &q, ret, ret_n);
}

STS_API void sts_rollout_history_free(struct sts_rollout_transition *v, size_t n)
{
	STS_ARRAY_FREE(v, n, transition_release);
}

/* ---- modes for render, plan and apply ---- */

struct mode_entry {
	char *domain;
	struct sts_rollout_state st; /* stage: coalesce(pending, stage) */
};

struct sts_rollout_modes {
	struct mode_entry *v;
	size_t n;
};

static int mode_row(struct sts_db_stmt *st, void *elem)
{
	struct mode_entry *e = elem;
	state_row(st, 1, &e->st);
	snprintf(e->st.domain, sizeof(e->st.domain), "%s", sts_db_col_text(st, 0));
	e->domain = strdup(sts_db_col_text(st, 0));
	return e->domain ? STS_OK : STS_ENOMEM;
}

static void mode_release(void *elem)
{
	free(((struct mode_entry *)elem)->domain);
}

STS_API int sts_rollout_modes_load(struct sts_db *db, struct sts_rollout_modes **ret)
{
	struct sts_db_rows q = {
	    .sql = "SELECT domain, " STATE_COLS_2 " FROM rollout_state ORDER BY domain",
	    .size = sizeof(struct mode_entry),
	    .row = mode_row,
	    .release = mode_release,
	    .what = "read rollout modes",
	    .optional = true, /* no rollout schema: nobody is under rollout */
	};
	struct sts_rollout_modes *m = calloc(1, sizeof(*m));
	if (!m)
		return STS_ENOMEM;
	int r = sts_db_read_rows(db, &q, &m->v, &m->n);
	if (r < 0 || !m->n) {
		/* schema 1 (read-only, not migrated yet): no operator controls */
		q.sql = "SELECT domain, " STATE_COLS_1 " FROM rollout_state ORDER BY domain";
		r = sts_db_read_rows(db, &q, &m->v, &m->n);
	}
	if (r < 0) {
		free(m);
		return r;
	}
	*ret = m;
	return STS_OK;
}

static int mode_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct mode_entry *)e)->domain);
}

STS_API const struct sts_rollout_state *sts_rollout_modes_find(const struct sts_rollout_modes *m,
							       const char *domain)
{
	if (!m || !m->n)
		return NULL;
	const struct mode_entry *e = bsearch(domain, m->v, m->n, sizeof(*m->v), mode_cmp);
	return e ? &e->st : NULL;
}

STS_API enum sts_mode sts_rollout_modes_get(const struct sts_rollout_modes *m, const char *domain)
{
	const struct sts_rollout_state *st = sts_rollout_modes_find(m, domain);
	if (!st)
		return STS_MODE_INVALID;
	return sts_stage_mode(st->pending != STS_STAGE_INVALID ? st->pending : st->stage);
}

STS_API void sts_rollout_modes_free(struct sts_rollout_modes *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].domain);
	free(m->v);
	free(m);
}

/* ---- the operator's controls ---- */

/* A history row of domain from its current stage (or the one in flight) to `to`. */
static int history_row(struct sts_db *db, const char *domain, const char *to, const char *reason)
{
	return sts_db_execf(db,
			    "INSERT INTO rollout_transitions (domain, time, from_stage, to_stage,"
			    " reason, evidence) SELECT domain, ?, coalesce(pending, stage), ?, ?,"
			    " 'null' FROM rollout_state WHERE domain = ?",
			    "ittt", (int64_t)sts_db_now(db), to, reason, domain);
}

/* The stage becomes `to` now; a transition in flight is dropped. */
static int force_stage(struct sts_db *db, const char *domain, enum sts_stage to)
{
	return sts_db_execf(db,
			    "UPDATE rollout_state SET stage = ?, since = ?, pending = NULL,"
			    " pending_reason = NULL, pending_evidence = NULL, pending_at = NULL"
			    " WHERE domain = ?",
			    "tit", sts_stage_name(to), (int64_t)sts_db_now(db), domain);
}

STS_API int sts_rollout_record_mode(struct sts_db *db, const char *domain, enum sts_mode inv,
				    const struct sts_rollout_mode *m)
{
	int r = sts_db_execf(
	    db, "UPDATE rollout_state SET inventory_mode = ?, brake = ? WHERE domain = ?", "tit",
	    sts_mode_name(inv), (int64_t)m->brake, domain);
	if (r < 0 || m->demote_to == STS_STAGE_INVALID)
		return r;
	char reason[160];
	snprintf(reason, sizeof(reason), "operator demotion (%s): %s %s", m->why,
		 strcmp(m->why, "rollout.target") == 0 ? "rollout.target is"
						       : "the inventory mode was lowered to",
		 sts_stage_name(m->demote_to));
	if ((r = history_row(db, domain, sts_stage_name(m->demote_to), reason)) == STS_OK)
		r = force_stage(db, domain, m->demote_to);
	return r;
}

/* Run f in a transaction; STS_ENOENT when the domain is not under rollout. */
static int in_txn(struct sts_db *db, const char *domain,
		  int (*f)(struct sts_db *, const char *, const void *), const void *arg)
{
	struct sts_rollout_state st;
	bool found = false;
	int r = sts_rollout_get(db, domain, &st, &found);
	if (r < 0)
		return r;
	if (!found)
		return STS_ENOENT;
	if ((r = sts_db_begin(db)) < 0)
		return r;
	if ((r = f(db, domain, arg)) == STS_OK)
		return sts_db_commit(db);
	sts_db_rollback(db);
	return r;
}

struct hold_arg {
	bool held;
	const char *reason;
};

static int do_hold(struct sts_db *db, const char *domain, const void *arg)
{
	const struct hold_arg *h = arg;
	char why[240];
	snprintf(why, sizeof(why), "%s by the operator%s%s", h->held ? "held" : "released",
		 h->reason ? ": " : "", h->reason ? h->reason : "");
	int r =
	    sts_db_execf(db, "UPDATE rollout_state SET held = ?, hold_reason = ? WHERE domain = ?",
			 "itt", (int64_t)h->held, h->held ? why : NULL, domain);
	return r == STS_OK ? sts_db_execf(db,
					  "INSERT INTO rollout_transitions (domain, time,"
					  " from_stage, to_stage, reason, evidence) SELECT domain,"
					  " ?, stage, stage, ?, 'null' FROM rollout_state"
					  " WHERE domain = ?",
					  "itt", (int64_t)sts_db_now(db), why, domain)
			   : r;
}

STS_API int sts_rollout_hold(struct sts_db *db, const char *domain, bool held, const char *reason)
{
	const struct hold_arg h = {held, reason};
	return in_txn(db, domain, do_hold, &h);
}

struct set_arg {
	enum sts_stage to;
	const char *reason;
};

static int do_set(struct sts_db *db, const char *domain, const void *arg)
{
	const struct set_arg *a = arg;
	char why[240];
	snprintf(why, sizeof(why), "set by the operator%s%s", a->reason ? ": " : "",
		 a->reason ? a->reason : "");
	int r = history_row(db, domain, sts_stage_name(a->to), why);
	return r == STS_OK ? force_stage(db, domain, a->to) : r;
}

STS_API int sts_rollout_set(struct sts_db *db, const char *domain, enum sts_stage to,
			    const char *reason)
{
	const struct set_arg a = {to, reason};
	return in_txn(db, domain, do_set, &a);
}

/* ---- evidence from the report aggregates ---- */

#define MAX_SERVED 256 /* policies of one domain considered (newest kept) */

/* The digests of every policy the domain served, as the aggregates key them. */
static int served_digests(struct sts_rollout_reader *rd, const char *domain, char (*d)[17],
			  size_t *ret_n)
{
	struct sts_db_stmt *st = rd->policies;
	size_t n = 0;
	int rc;
	if (!st)
		return STS_EDB;
	sts_db_bind_text(st, 1, domain);
	while ((rc = sts_db_step(st)) == STS_DB_ROW) {
		const char *t = sts_db_col_text(st, 0);
		char *lines[64], *save = NULL, *text = strdup(t ? t : "");
		size_t k = 0;
		if (!text) {
			sts_db_reset(st);
			return STS_ENOMEM;
		}
		for (char *l = strtok_r(text, "\r\n", &save); l && k < 64;
		     l = strtok_r(NULL, "\r\n", &save))
			lines[k++] = l;
		sts_ingest_policy_digest(lines, k, d[n < MAX_SERVED ? n : MAX_SERVED - 1]);
		n += n < MAX_SERVED;
		free(text);
	}
	sts_db_reset(st);
	*ret_n = n;
	return rc == STS_DB_DONE ? STS_OK : STS_EDB;
}

static bool digest_in(char (*d)[17], size_t n, const char *x)
{
	for (size_t i = 0; x && *x && i < n; i++)
		if (strcmp(d[i], x) == 0)
			return true;
	return false;
}

STS_API void sts_rollout_reader_set_reporters(struct sts_rollout_reader *r,
					      const struct sts_reporters *l)
{
	if (r)
		r->reporters = l ? l : r->own_list;
}

/* a row of the aggregates: does it count, and as which reporter? */
static bool row_counts(const struct sts_rollout_reader *rd, bool all, bool auth,
		       const char *reporter, const char *org, char *ident, size_t ident_size,
		       char **ret_why)
{
	*ret_why = NULL;
	if (all) {
		/* the lab setting: a report without an identity counts by its name */
		if (auth && reporter && *reporter)
			snprintf(ident, ident_size, "%s", reporter);
		else
			snprintf(ident, ident_size, "org:%s", org ? org : "");
		for (char *p = ident; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		return true;
	}
	snprintf(ident, ident_size, "%s", reporter ? reporter : "");
	return sts_ingest_evidence(rd->reporters, false, auth, false, reporter,
				   "unsigned, failed or pending DKIM, or an untrusted source",
				   ret_why);
}

static void add_ignored(struct sts_rollout_evidence *e, char *why, long long reports)
{
	const char *w = why ? why : "not evidence";
	size_t i = 0;
	while (i < e->n_ignored && strcmp(e->ignored[i].why, w) != 0)
		i++;
	if (i == e->n_ignored) {
		if (i < STS_ROLLOUT_MAX_IGNORED - 1) {
			snprintf(e->ignored[i].why, sizeof(e->ignored[0].why), "%s", w);
			e->n_ignored++;
		} else {
			/* the last slot gathers the rest */
			i = STS_ROLLOUT_MAX_IGNORED - 1;
			if (e->n_ignored < STS_ROLLOUT_MAX_IGNORED) {
				snprintf(e->ignored[i].why, sizeof(e->ignored[0].why),
					 "other reasons (stsctl report --json lists each report)");
				e->n_ignored = STS_ROLLOUT_MAX_IGNORED;
			}
		}
	}
	e->ignored[i].reports += reports;
	free(why);
}

STS_API int sts_rollout_reader_evidence(struct sts_rollout_reader *rd, const char *domain,
					int window_days, int64_t now, bool all_reports,
					struct sts_rollout_evidence *ret)
{
	char dig[MAX_SERVED][17], first[11], orgs_seen[64][128], ident[128];
	size_t n_dig = 0, n_orgs = 0;
	time_t t = (time_t)(now - (int64_t)window_days * 86400);
	struct tm tm;
	struct sts_db_stmt *st;
	int r = STS_OK, rc;

	memset(ret, 0, sizeof(*ret));
	ret->window_days = window_days;
	ret->all = all_reports;
	gmtime_r(&t, &tm);
	strftime(first, sizeof(first), "%Y-%m-%d", &tm);
	if (!rd->daily || !rd->failures || !rd->policies)
		return STS_OK; /* no report tables: no evidence */
	sts_db_hold(rd->db);
	reader_txn(rd);
	if ((r = served_digests(rd, domain, dig, &n_dig)) < 0 || !n_dig)
		goto out;
	st = rd->daily;
	sts_db_bind_text(st, 1, domain);
	sts_db_bind_text(st, 2, first);
	while ((rc = sts_db_step(st)) == STS_DB_ROW) {
		const char *org = sts_db_col_text(st, 0);
		const char *rep = sts_db_col_text(st, 6);
		char *why = NULL;
		if (!digest_in(dig, n_dig, sts_db_col_text(st, 1)))
			continue;
		if (!row_counts(rd, all_reports, sts_db_col_int(st, 5) != 0, rep, org, ident,
				sizeof(ident), &why)) {
			add_ignored(ret, why, sts_db_col_int(st, 2));
			continue;
		}
		ret->reports += sts_db_col_int(st, 2);
		ret->successes += sts_db_col_int(st, 3);
		ret->failures += sts_db_col_int(st, 4);
		/* distinct reporters: who signed (or the trusted source), never the name */
		bool seen = false;
		for (size_t i = 0; i < n_orgs && !seen; i++)
			seen = strcmp(orgs_seen[i], ident) == 0;
		if (!seen && *ident && n_orgs < 64)
			snprintf(orgs_seen[n_orgs++], sizeof(orgs_seen[0]), "%s", ident);
		else if (!seen && *ident)
			ret->reporting_orgs++; /* past 64: counted, no longer told apart */
	}
	ret->reporting_orgs += n_orgs;
	sts_db_reset(st);
	if (rc != STS_DB_DONE) {
		r = STS_EDB;
		goto out;
	}
	st = rd->failures;
	sts_db_bind_text(st, 1, domain);
	sts_db_bind_text(st, 2, first);
	while ((rc = sts_db_step(st)) == STS_DB_ROW) {
		char *why = NULL;
		if (!digest_in(dig, n_dig, sts_db_col_text(st, 1)))
			continue;
		bool counts = row_counts(rd, all_reports, sts_db_col_int(st, 3) != 0,
					 sts_db_col_text(st, 4), NULL, ident, sizeof(ident), &why);
		free(why);
		if (counts)
			sts_rollout_evidence_add_failure(ret, sts_db_col_text(st, 0),
							 sts_db_col_int(st, 2));
	}
	sts_db_reset(st);
	if (rc != STS_DB_DONE)
		r = STS_EDB;
out:
	sts_db_unhold(rd->db);
	return r;
}

STS_API int sts_rollout_evidence_read(struct sts_db *db, const char *domain, int window_days,
				      int64_t now, bool all_reports,
				      struct sts_rollout_evidence *ret)
{
	struct sts_rollout_reader *rd = NULL;
	int r = sts_rollout_reader_new(db, &rd);
	if (r == STS_OK)
		r = sts_rollout_reader_evidence(rd, domain, window_days, now, all_reports, ret);
	sts_rollout_reader_free(rd);
	return r;
}
