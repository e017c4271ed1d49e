/* SPDX-License-Identifier: MIT */
/*
 * The rollout engine: settings, gates, persisted transitions, a 90-day
 * simulation over six synthetic report streams with recorded live checks,
 * and a crash in the middle of a transition.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "state_fixture.h"
#include "sts_check.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_inventory.h"
#include "sts_lease.h"
#include "sts_render.h"
#include "sts_rollout.h"
#include "sts_watch.h"

#define DAY   86400LL
#define START 1767225600LL /* 2026-01-01T00:00:00Z */

static int64_t sim_now;

static time_t sim_clock(void *ud)
{
	(void)ud;
	return (time_t)sim_now;
}

static const struct sts_clock clock_sim = {sim_clock, NULL};

/* ---- pure gates ---- */

static void healthy_ev(struct sts_rollout_evidence *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->window_days = 14;
	ev->reports = 30;
	ev->successes = 1000;
	ev->reporting_orgs = 2;
}

static void passing_check(struct sts_rollout_check *c)
{
	sts_rollout_check_init(c);
	c->ran = true;
	c->policy_ok = c->txt_ok = c->tlsrpt_ok = c->ph_cert_ok = c->mx_ok = true;
	c->ph_days_left = c->mx_min_days_left = 60;
}

static bool has_gate(const struct sts_rollout_decision *d, const char *gate)
{
	for (size_t i = 0; i < d->n_blocking; i++)
		if (strcmp(d->blocking[i].gate, gate) == 0)
			return true;
	return false;
}

static void test_settings(void **state)
{
	(void)state;
	struct sts_rollout_settings s;
	const char *why = NULL;
	json_error_t e;

	assert_int_equal(sts_rollout_settings_from_json(NULL, &s, &why), STS_OK);
	assert_int_equal(s.target, STS_STAGE_ENFORCE);
	assert_int_equal(s.min_days_in_testing, 14);
	assert_int_equal(s.window_days, 14);
	assert_int_equal(s.min_sessions, 100);
	assert_int_equal(s.min_reporting_orgs, 2);
	assert_int_equal(s.cert_min_days_left, 14);
	assert_true(s.auto_demote);
	assert_true(sts_rollout_max_ratio(&s, "sts-policy-fetch-error") == 0.01);
	assert_true(sts_rollout_max_ratio(&s, "certificate-expired") == 0);

	json_t *o = json_loads("{\"target\":\"testing\",\"min_sessions\":5,"
			       "\"max_failure_ratio_by_type\":{\"*\":0.5,\"tlsa-invalid\":0.2}}",
			       0, &e);
	assert_int_equal(sts_rollout_settings_from_json(o, &s, &why), STS_OK);
	assert_int_equal(s.target, STS_STAGE_TESTING);
	assert_int_equal(s.min_sessions, 5);
	assert_true(sts_rollout_max_ratio(&s, "validation-failure") == 0.5);
	assert_true(sts_rollout_max_ratio(&s, "tlsa-invalid") == 0.2);
	assert_true(sts_rollout_max_ratio(&s, "sts-policy-fetch-error") == 0.01);
	json_decref(o);

	static const char *const bad[] = {
	    "{\"target\":\"removed\"}",
	    "{\"window_days\":0}",
	    "{\"min_success_ratio\":1.5}",
	    "{\"auto_demote\":1}",
	    "{\"nope\":1}",
	    "{\"max_failure_ratio_by_type\":{\"x\":-1}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = json_loads(bad[i], 0, &e);
		assert_non_null(o);
		why = NULL;
		assert_int_equal(sts_rollout_settings_from_json(o, &s, &why), STS_EINVALID);
		assert_non_null(why);
		json_decref(o);
	}
}

static void test_gates(void **state)
{
	(void)state;
	struct sts_rollout_settings s;
	struct sts_rollout_evidence ev;
	struct sts_rollout_check c;
	struct sts_rollout_decision d;
	int64_t since = START, now = START + 14 * DAY;

	sts_rollout_settings_default(&s);
	passing_check(&c);

	/* none -> testing on a passing check; without one, a check is needed */
	sts_rollout_evaluate(&s, STS_STAGE_NONE, since, now, NULL, NULL, &d);
	assert_int_equal(d.to, STS_STAGE_NONE);
	assert_true(d.needs_check);
	sts_rollout_evaluate(&s, STS_STAGE_NONE, since, now, NULL, &c, &d);
	assert_int_equal(d.to, STS_STAGE_TESTING);
	c.tlsrpt_ok = false;
	sts_rollout_evaluate(&s, STS_STAGE_NONE, since, now, NULL, &c, &d);
	assert_int_equal(d.to, STS_STAGE_NONE);
	assert_true(has_gate(&d, "live-check"));
	passing_check(&c);

	/* testing -> enforce */
	healthy_ev(&ev);
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, NULL, &d);
	assert_int_equal(d.to, STS_STAGE_TESTING);
	assert_true(d.needs_check);
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_ENFORCE);
	assert_int_equal(d.n_blocking, 0);

	/* each gate on its own */
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now - 1, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_TESTING);
	assert_true(has_gate(&d, "min-days"));
	assert_int_equal(d.next_promotion_at, now);

	ev.reporting_orgs = 1;
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, &c, &d);
	assert_true(has_gate(&d, "reporting-orgs"));
	assert_int_equal(d.to, STS_STAGE_TESTING);
	healthy_ev(&ev);

	ev.successes = 99;
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, &c, &d);
	assert_true(has_gate(&d, "sessions"));
	healthy_ev(&ev);

	ev.failures = 20; /* 1000 / 1020 < 0.99 */
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, &c, &d);
	assert_true(has_gate(&d, "success-ratio"));
	healthy_ev(&ev);

	/* fetch errors tolerated up to 1 %, certificate failures not at all */
	ev.failures = 5;
	sts_rollout_evidence_add_failure(&ev, "sts-policy-fetch-error", 5);
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_ENFORCE);
	ev.failures = 6;
	sts_rollout_evidence_add_failure(&ev, "certificate-expired", 1);
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_TESTING);
	assert_true(has_gate(&d, "failures"));
	assert_non_null(strstr(d.reason, "certificate-expired"));
	healthy_ev(&ev);

	memset(&ev, 0, sizeof(ev));
	ev.window_days = 14;
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, &c, &d);
	assert_true(has_gate(&d, "reports"));
	assert_non_null(strstr(d.reason, "never promoted"));
	healthy_ev(&ev);

	/* an MX certificate that expires too soon blocks */
	c.mx_min_days_left = 13;
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_TESTING);
	assert_true(has_gate(&d, "live-check"));
	passing_check(&c);

	/* enforce: spike or a failed MX check demotes; auto_demote off keeps */
	memset(&ev, 0, sizeof(ev));
	ev.window_days = 2;
	ev.successes = 100;
	ev.failures = 3;
	sts_rollout_evidence_add_failure(&ev, "sts-policy-fetch-error", 3);
	sts_rollout_evaluate(&s, STS_STAGE_ENFORCE, since, now, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_TESTING);
	assert_non_null(strstr(d.reason, "failure spike"));
	s.auto_demote = false;
	sts_rollout_evaluate(&s, STS_STAGE_ENFORCE, since, now, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_ENFORCE);
	s.auto_demote = true;
	memset(&ev, 0, sizeof(ev));
	c.mx_ok = false;
	snprintf(c.problem, sizeof(c.problem), "mx2.example: certificate has expired");
	sts_rollout_evaluate(&s, STS_STAGE_ENFORCE, since, now, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_TESTING);
	assert_non_null(strstr(d.reason, "mx2.example"));

	/* target testing holds there */
	s.target = STS_STAGE_TESTING;
	healthy_ev(&ev);
	passing_check(&c);
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, since, now, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_TESTING);
	assert_true(has_gate(&d, "target"));
}

/* ---- the simulation ---- */

enum stream { HEALTHY, CHRONIC_MX, SINGLE, SPIKE, SILENT, EXPIRING, N_STREAMS };

static const char *const names[N_STREAMS] = {"healthy.example", "chronic.example",
					     "single.example",	"spike.example",
					     "silent.example",	"expiring.example"};

#define SIM_INV                                                                                    \
	"{\"version\": 1,\n"                                                                       \
	" \"defaults\": {\"dns\": \"d\", \"web\": \"w\", \"mode\": \"none\", \"max_age\": "        \
	"86400,\n"                                                                                 \
	"   \"tlsrpt\": {\"rua\": [\"mailto:r@example.net\"]}},\n"                                 \
	" \"providers\": {\"d\": {\"plugin\": \"zonefile\", \"directory\": \"z\", \"create\": "    \
	"true},\n"                                                                                 \
	"               \"w\": {\"plugin\": \"local\", \"root\": \"r\"}},\n"                       \
	" \"domains\": [\n"                                                                        \
	"  {\"name\": \"healthy.example\", \"mx\": [\"mx1.healthy.example\"]},\n"                  \
	"  {\"name\": \"chronic.example\", \"mx\": [\"mx1.chronic.example\", "                     \
	"\"mx2.chronic.example\"]},\n"                                                             \
	"  {\"name\": \"single.example\", \"mx\": [\"mx1.single.example\"]},\n"                    \
	"  {\"name\": \"spike.example\", \"mx\": [\"mx1.spike.example\"]},\n"                      \
	"  {\"name\": \"silent.example\", \"mx\": [\"mx1.silent.example\"]},\n"                    \
	"  {\"name\": \"expiring.example\", \"mx\": [\"mx1.expiring.example\"]}]}\n"

#define SPIKE_DAY    30
#define EXPIRY_DAY   50
#define SIM_DAYS     90
#define CYCLE_OFFSET (12 * 3600)

struct sim {
	struct sts_db *db;
	struct sts_inventory *inv;
	unsigned applies[N_STREAMS];
	const char *crash_step; /* SIGKILL after this step (in a child) */
};

static int stream_of(const char *domain)
{
	for (int i = 0; i < N_STREAMS; i++)
		if (strcmp(names[i], domain) == 0)
			return i;
	return -1;
}

static int sim_check(void *ud, const struct sts_domain *d, struct sts_rollout_check *c)
{
	(void)ud;
	int s = stream_of(d->name);
	sts_rollout_check_init(c);
	c->ran = true;
	c->policy_ok = c->txt_ok = c->tlsrpt_ok = c->ph_cert_ok = c->mx_ok = true;
	c->ph_days_left = 80;
	c->mx_min_days_left = 80;
	if (s == CHRONIC_MX) {
		c->mx_ok = false;
		snprintf(c->problem, sizeof(c->problem),
			 "mx2.chronic.example: certificate has expired");
	} else if (s == EXPIRING) {
		int64_t left = START + EXPIRY_DAY * DAY - sim_now;
		c->mx_min_days_left = (long)(left >= 0 ? left / DAY : -1 - (-left) / DAY);
		if (left < 0) {
			c->mx_ok = false;
			snprintf(c->problem, sizeof(c->problem),
				 "mx1.expiring.example: certificate has expired");
		}
	}
	return STS_OK;
}

static void policy_text(const struct sts_domain *d, enum sts_mode mode, struct sts_rendered *rd)
{
	memset(rd, 0, sizeof(*rd));
	assert_int_equal(sts_render_domain(d, mode, rd), STS_OK);
	assert_non_null(rd->policy_text);
}

/* What apply records: the policy now served (the id bump follows it). */
static int sim_apply(void *ud, const struct sts_domain *d, enum sts_mode mode, char **reterr)
{
	struct sim *sm = ud;
	struct sts_rendered rd;
	(void)reterr;
	policy_text(d, mode, &rd);
	int r = sts_db_policy_served(sm->db, d->name, rd.id, rd.policy_text, sts_mode_name(mode),
				     rd.max_age);
	sts_rendered_release(&rd);
	sm->applies[stream_of(d->name)]++;
	return r;
}

static void sim_hook(void *ud, const char *step, const char *domain)
{
	struct sim *sm = ud;
	(void)domain;
	if (sm->crash_step && strcmp(step, sm->crash_step) == 0)
		kill(getpid(), SIGKILL); /* a crash: no cleanup, no atexit */
}

static void day_of(int64_t t, char out[11])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* the reporter identity of the rows put_daily/put_failure write ("" for none) */
static const char *row_reporter;

static void put_daily(struct sts_db *db, const char *dom, const char *day, const char *org,
		      const char *type, const char *digest, int auth, long long ok,
		      long long failed)
{
	sqlite3_stmt *st;
	/* the reporter is who signed; by default the test's organisation names are domains */
	const char *reporter = row_reporter ? row_reporter : auth ? org : "";
	assert_int_equal(
	    sqlite3_prepare_v2(sts_db_handle(db),
			       "INSERT INTO tlsrpt_daily VALUES (?,?,?,?,?,?,?9,1,?7,?8)"
			       " ON CONFLICT DO UPDATE SET reports = reports + 1,"
			       " successful = successful + excluded.successful,"
			       " failed = failed + excluded.failed",
			       -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, dom, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, digest, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, auth);
	sqlite3_bind_int64(st, 7, ok);
	sqlite3_bind_int64(st, 8, failed);
	sqlite3_bind_text(st, 9, reporter, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static void put_failure(struct sts_db *db, const char *dom, const char *day, const char *org,
			const char *type, const char *digest, int auth, const char *rt, long long n)
{
	sqlite3_stmt *st;
	const char *reporter = row_reporter ? row_reporter : auth ? org : "";
	assert_int_equal(sqlite3_prepare_v2(sts_db_handle(db),
					    "INSERT INTO tlsrpt_failures VALUES"
					    " (?,?,?,?,?,?,?9,?7,'192.0.2.1','mx',1,?8)",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, dom, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, digest, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, auth);
	sqlite3_bind_text(st, 7, rt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, n);
	sqlite3_bind_text(st, 9, reporter, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

/* One report per organisation: ok successes, failures of rt (sts entries). */
static void report(struct sts_db *db, const char *dom, const char *day, const char *org,
		   const char *digest, int auth, long long ok, const char *rt, long long n)
{
	put_daily(db, dom, day, org, "sts", digest, auth, ok, rt ? n : 0);
	if (rt)
		put_failure(db, dom, day, org, "sts", digest, auth, rt, n);
}

/* The digest of the policy senders fetch now (the published stage). */
static void served_digest(struct sim *sm, const struct sts_domain *d, char out[17])
{
	struct sts_rollout_modes *m = NULL;
	struct sts_rendered rd;
	char *lines[16], *save = NULL;
	size_t n = 0;
	assert_int_equal(sts_rollout_modes_load(sm->db, &m), STS_OK);
	enum sts_mode mode = sts_rollout_modes_get(m, d->name);
	sts_rollout_modes_free(m);
	policy_text(d, mode == STS_MODE_INVALID ? d->mode : mode, &rd);
	for (char *l = strtok_r(rd.policy_text, "\r\n", &save); l && n < 16;
	     l = strtok_r(NULL, "\r\n", &save))
		lines[n++] = l;
	/* senders reorder the lines: the digest is of the set */
	for (size_t i = 0; i < n / 2; i++) {
		char *t = lines[i];
		lines[i] = lines[n - 1 - i];
		lines[n - 1 - i] = t;
	}
	sts_ingest_policy_digest(lines, n, out);
	sts_rendered_release(&rd);
}

/* The reports senders send about day `day` (index from START). */
static void day_reports(struct sim *sm, int day)
{
	char dstr[11], dig[17];
	day_of(START + day * DAY, dstr);
	for (int s = 0; s < N_STREAMS; s++) {
		const struct sts_domain *d = sts_inventory_find(sm->inv, names[s]);
		const char *n = names[s];
		served_digest(sm, d, dig);
		switch (s) {
		case HEALTHY:
		case SPIKE:
		case EXPIRING:
			report(sm->db, n, dstr, "google.com", dig, 1, 80, NULL, 0);
			report(sm->db, n, dstr, "microsoft.com", dig, 1, 59,
			       "sts-policy-fetch-error", 1);
			/* none of these may count: forged, no policy, another policy */
			report(sm->db, n, dstr, "forged.example", dig, 0, 0, "certificate-expired",
			       500);
			/* signed, but by an unlisted domain that calls itself Google */
			row_reporter = "attacker.example";
			report(sm->db, n, dstr, "Google Inc.", dig, 1, 0, "certificate-expired",
			       500);
			row_reporter = NULL;
			put_daily(sm->db, n, dstr, "google.com", "no-policy-found", "", 1, 0, 40);
			put_failure(sm->db, n, dstr, "google.com", "no-policy-found", "", 1,
				    "validation-failure", 40);
			report(sm->db, n, dstr, "yahoo.com", "0123456789abcdef", 1, 0,
			       "sts-policy-invalid", 30);
			if (s == SPIKE && day == SPIKE_DAY)
				report(sm->db, n, dstr, "yahoo.com", dig, 1, 10,
				       "sts-webpki-invalid", 90);
			break;
		case CHRONIC_MX:
			report(sm->db, n, dstr, "google.com", dig, 1, 70, "certificate-expired",
			       10);
			report(sm->db, n, dstr, "microsoft.com", dig, 1, 60, NULL, 0);
			break;
		case SINGLE:
			report(sm->db, n, dstr, "google.com", dig, 1, 300, NULL, 0);
			/* one reporter under another name is still one reporter, and an
			 * unlisted signer is none */
			row_reporter = "google.com";
			report(sm->db, n, dstr, "Microsoft Corporation", dig, 1, 300, NULL, 0);
			row_reporter = "invented.example";
			report(sm->db, n, dstr, "Yahoo Inc.", dig, 1, 300, NULL, 0);
			row_reporter = NULL;
			break;
		default: /* SILENT */
			break;
		}
	}
}

struct expect {
	int stream;
	int day;
	const char *from, *to;
	const char *reason; /* substring */
};

static const struct expect expected[] = {
    {HEALTHY, 0, "", "none", "rollout started"},
    {HEALTHY, 0, "none", "testing", "live check passed"},
    {HEALTHY, 14, "testing", "enforce", "promoted"},
    {CHRONIC_MX, 0, "", "none", "rollout started"},
    {CHRONIC_MX, 0, "none", "testing", "live check passed"},
    {SINGLE, 0, "", "none", "rollout started"},
    {SINGLE, 0, "none", "testing", "live check passed"},
    {SPIKE, 0, "", "none", "rollout started"},
    {SPIKE, 0, "none", "testing", "live check passed"},
    {SPIKE, 14, "testing", "enforce", "promoted"},
    {SPIKE, SPIKE_DAY, "enforce", "testing", "sts-webpki-invalid"},
    {SPIKE, SPIKE_DAY + 15, "testing", "enforce", "promoted"},
    {SILENT, 0, "", "none", "rollout started"},
    {SILENT, 0, "none", "testing", "live check passed"},
    {EXPIRING, 0, "", "none", "rollout started"},
    {EXPIRING, 0, "none", "testing", "live check passed"},
    {EXPIRING, 14, "testing", "enforce", "promoted"},
    {EXPIRING, EXPIRY_DAY, "enforce", "testing", "mx1.expiring.example"},
};

static void sim_open(struct sim *sm, const char *path)
{
	struct sts_diags dg;
	char *err = NULL;
	memset(sm, 0, sizeof(*sm));
	sts_diags_init(&dg);
	assert_int_equal(sts_inventory_parse(SIM_INV, strlen(SIM_INV), "inv.json", &sm->inv, &dg),
			 STS_OK);
	sts_diags_release(&dg);
	assert_int_equal(state_fixture_open("rollout", path, 0, &clock_sim, &sm->db, &err), STS_OK);
	assert_int_equal(sts_ingest_schema(sm->db), STS_OK);
}

static void sim_close(struct sim *sm)
{
	sts_inventory_free(sm->inv);
	sts_db_close(sm->db);
}

static void sim_cycle(struct sim *sm, struct sts_watch_result *res)
{
	const struct sts_watch_ops ops = {sim_check, sim_apply, sim_hook, sm, NULL};
	const struct sts_watch_opts o = {.ops = &ops};
	int rc_ = sts_watch_cycle(sm->inv, sm->db, &o, res);
	if (rc_)
		fail_msg("cycle: %d %s", rc_, sts_db_errmsg(sm->db));
}

/* Does status block domain at gate ("" : is it blocked at all)? */
static bool blocked_at(json_t *status, const char *domain, const char *gate)
{
	json_t *d, *b;
	size_t i, j;
	json_array_foreach(json_object_get(status, "domains"), i, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "domain")), domain) != 0)
			continue;
		json_array_foreach(json_object_get(d, "blocking"), j, b)
		{
			if (!*gate || !strcmp(json_string_value(json_object_get(b, "gate")), gate))
				return true;
		}
	}
	return false;
}

static void test_simulation(void **state)
{
	(void)state;
	struct sim sm;
	sim_open(&sm, ":memory:");
	/* every domain was applied at its inventory mode (none) before the watcher */
	for (int s = 0; s < N_STREAMS; s++)
		assert_int_equal(
		    sim_apply(&sm, sts_inventory_find(sm.inv, names[s]), STS_MODE_NONE, NULL),
		    STS_OK);

	for (int day = 0; day < SIM_DAYS; day++) {
		struct sts_watch_result res;
		sim_now = START + day * DAY + CYCLE_OFFSET;
		day_reports(&sm, day);
		sim_cycle(&sm, &res);
		assert_int_equal(res.n_failed, 0);
		assert_int_equal(res.n, N_STREAMS);
		sts_watch_result_release(&res);
	}

	size_t total = 0;
	for (int s = 0; s < N_STREAMS; s++) {
		struct sts_rollout_transition *h = NULL;
		size_t n = 0, k = 0;
		assert_int_equal(sts_rollout_history(sm.db, names[s], &h, &n), STS_OK);
		for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
			const struct expect *e = &expected[i];
			if (e->stream != s)
				continue;
			assert_true(k < n);
			if (h[k].time != START + e->day * DAY + CYCLE_OFFSET ||
			    strcmp(h[k].from, e->from) || strcmp(h[k].to, e->to) ||
			    !strstr(h[k].reason, e->reason))
				fail_msg(
				    "%s #%zu: got day %lld %s -> %s (%s), want day %d %s -> %s",
				    names[s], k, (long long)((h[k].time - START) / DAY), h[k].from,
				    h[k].to, h[k].reason, e->day, e->from, e->to);
			k++;
		}
		if (k != n)
			fail_msg("%s: %zu transitions, want %zu (extra: %s -> %s, %s)", names[s], n,
				 k, h[k].from, h[k].to, h[k].reason);
		total += n;
		sts_rollout_history_free(h, n);
	}
	assert_int_equal(total, sizeof(expected) / sizeof(expected[0]));
	/* applies: the initial none, then once per transition */
	assert_int_equal(sm.applies[HEALTHY], 3);
	assert_int_equal(sm.applies[SPIKE], 5);
	assert_int_equal(sm.applies[SILENT], 2);

	/* status explains every held domain; plan and apply publish the stage */
	json_t *st = NULL;
	assert_int_equal(sts_watch_status(sm.inv, sm.db, false, &st), STS_OK);
	assert_true(blocked_at(st, "silent.example", "reports"));
	assert_true(blocked_at(st, "single.example", "reporting-orgs"));
	assert_false(blocked_at(st, "single.example", "sessions"));
	assert_true(blocked_at(st, "chronic.example", "failures"));
	assert_false(blocked_at(st, "healthy.example", ""));
	assert_false(blocked_at(st, "spike.example", ""));
	json_t *h = json_array_get(json_object_get(st, "domains"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "stage")), "enforce");
	json_t *hh = json_object_get(h, "health");
	assert_int_equal(json_integer_value(json_object_get(hh, "reporting_orgs")), 2);
	/* two days of 140 matching sessions; forged, no-policy and foreign ones not counted */
	assert_int_equal(json_integer_value(json_object_get(hh, "sessions")), 3 * 140);
	/* the forger's reports are named with why they do not count */
	json_t *ne = json_array_get(json_object_get(hh, "not_evidence"), 0);
	assert_false(json_is_true(json_object_get(ne, "evidence")));
	assert_non_null(ne);
	bool named = false;
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(hh, "not_evidence"), i, x)
	{
		const char *why = json_string_value(json_object_get(x, "why"));
		named = named ||
			strcmp(why, "reporter attacker.example is not in reports.reporters") == 0;
	}
	assert_true(named);
	assert_null(json_object_get(h, "evidence_all"));
	json_decref(st);
	/* "evidence": "all" (a lab setting) marks every domain it affects */
	assert_int_equal(sts_watch_status(sm.inv, sm.db, true, &st), STS_OK);
	json_array_foreach(json_object_get(st, "domains"), i, x)
	{
		const char *lab = json_string_value(json_object_get(x, "evidence_all"));
		assert_non_null(lab);
		assert_non_null(strstr(lab, "lab setting"));
	}
	json_decref(st);

	struct sts_rollout_modes *m = NULL;
	assert_int_equal(sts_rollout_modes_load(sm.db, &m), STS_OK);
	assert_int_equal(sts_rollout_modes_get(m, "healthy.example"), STS_MODE_ENFORCE);
	assert_int_equal(sts_rollout_modes_get(m, "silent.example"), STS_MODE_TESTING);
	assert_int_equal(sts_rollout_modes_get(m, "expiring.example"), STS_MODE_TESTING);
	assert_int_equal(sts_rollout_modes_get(m, "other.example"), STS_MODE_INVALID);
	sts_rollout_modes_free(m);
	sim_close(&sm);
}

/* Crash after a step of the promotion, in a child; the next cycle resumes. */
static void crash_at(const char *step)
{
	char dir[] = "/tmp/test_rollout_XXXXXX", path[64];
	struct sim sm;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.db", dir);
	char *loc = state_fixture_location("rollout", path); /* opened three times */
	assert_non_null(loc);

	sim_open(&sm, loc);
	for (int day = 0; day < 14; day++) {
		struct sts_watch_result res;
		sim_now = START + day * DAY + CYCLE_OFFSET;
		day_reports(&sm, day);
		sim_cycle(&sm, &res);
		sts_watch_result_release(&res);
	}
	sim_now = START + 14 * DAY + CYCLE_OFFSET;
	day_reports(&sm, 14);
	sim_close(&sm);

	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sts_watch_result res;
		sim_open(&sm, loc);
		sm.crash_step = step;
		sim_cycle(&sm, &res);
		_exit(3); /* the crash did not happen */
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	sim_open(&sm, loc);
	free(loc);
	struct sts_rollout_state rs;
	bool found = false;
	assert_int_equal(sts_rollout_get(sm.db, "healthy.example", &rs, &found), STS_OK);
	assert_true(found);
	bool completed = strcmp(step, "complete") == 0;
	assert_int_equal(rs.stage, completed ? STS_STAGE_ENFORCE : STS_STAGE_TESTING);
	assert_int_equal(rs.pending, completed ? STS_STAGE_INVALID : STS_STAGE_ENFORCE);
	/* while in flight, plan/apply already publish the pending stage */
	struct sts_rollout_modes *m = NULL;
	assert_int_equal(sts_rollout_modes_load(sm.db, &m), STS_OK);
	assert_int_equal(sts_rollout_modes_get(m, "healthy.example"), STS_MODE_ENFORCE);
	sts_rollout_modes_free(m);

	struct sts_watch_result res;
	sim_now += 3600;
	sim_cycle(&sm, &res);
	assert_int_equal(res.n_failed, 0);
	const struct sts_watch_decision *d = &res.decisions[0];
	assert_string_equal(d->domain, "healthy.example");
	assert_int_equal(d->from, completed ? STS_STAGE_ENFORCE : STS_STAGE_TESTING);
	assert_int_equal(d->to, STS_STAGE_ENFORCE);
	if (!completed)
		assert_non_null(strstr(d->reason, "resumed"));
	assert_int_equal(sm.applies[HEALTHY], completed ? 0 : 1);
	sts_watch_result_release(&res);

	assert_int_equal(sts_rollout_get(sm.db, "healthy.example", &rs, &found), STS_OK);
	assert_int_equal(rs.stage, STS_STAGE_ENFORCE);
	assert_int_equal(rs.pending, STS_STAGE_INVALID);
	struct sts_rollout_transition *h = NULL;
	size_t n = 0;
	assert_int_equal(sts_rollout_history(sm.db, "healthy.example", &h, &n), STS_OK);
	assert_int_equal(n, 3); /* "" -> none -> testing -> enforce: recorded once */
	assert_string_equal(h[2].to, "enforce");
	assert_non_null(strstr(h[2].reason, "promoted"));
	assert_non_null(strstr(h[2].evidence, "\"reporting_orgs\":2"));
	sts_rollout_history_free(h, n);

	/* the enforce policy is the one recorded as served */
	struct sts_db_policy *p = NULL;
	assert_int_equal(sts_db_policy_history(sm.db, "healthy.example", &p, &n), STS_OK);
	bool enforce_current = false;
	for (size_t i = 0; i < n; i++)
		enforce_current =
		    enforce_current || (p[i].current && !strcmp(p[i].mode, "enforce"));
	assert_true(enforce_current);
	sts_db_policies_free(p, n);
	sim_close(&sm);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_crash_after_begin(void **state)
{
	(void)state;
	crash_at("begin");
}

static void test_crash_after_apply(void **state)
{
	(void)state;
	crash_at("apply");
}

static void test_crash_after_complete(void **state)
{
	(void)state;
	crash_at("complete");
}

static void test_dry_run_and_removal(void **state)
{
	(void)state;
	struct sim sm;
	struct sts_watch_result res;
	sim_open(&sm, ":memory:");
	sim_now = START + CYCLE_OFFSET;
	const struct sts_watch_ops ops = {sim_check, sim_apply, NULL, &sm, NULL};
	struct sts_watch_opts o = {.ops = &ops, .dry_run = true};
	assert_int_equal(sts_rollout_schema(sm.db), STS_OK);
	assert_int_equal(sts_watch_cycle(sm.inv, sm.db, &o, &res), STS_OK);
	assert_int_equal(res.n, N_STREAMS);
	assert_int_equal(res.decisions[0].to, STS_STAGE_TESTING); /* would */
	json_t *j = sts_watch_result_json(&res);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(j, "decisions"), 0), "to")),
			    "testing");
	json_decref(j);
	sts_watch_result_release(&res);
	char **names_db = NULL;
	size_t n = 0;
	assert_int_equal(sts_rollout_domains(sm.db, &names_db, &n), STS_OK);
	assert_int_equal(n, 0); /* nothing recorded */
	free(names_db);
	assert_int_equal(sm.applies[HEALTHY], 0);

	/* a domain under rollout that leaves the inventory is recorded as removed */
	assert_int_equal(sts_rollout_start(sm.db, "gone.example", STS_STAGE_ENFORCE, "test"),
			 STS_OK);
	o.dry_run = false;
	assert_int_equal(sts_watch_cycle(sm.inv, sm.db, &o, &res), STS_OK);
	assert_int_equal(res.n, N_STREAMS + 1);
	assert_string_equal(res.decisions[N_STREAMS].domain, "gone.example");
	assert_int_equal(res.decisions[N_STREAMS].to, STS_STAGE_REMOVED);
	sts_watch_result_release(&res);
	struct sts_rollout_modes *m = NULL;
	assert_int_equal(sts_rollout_modes_load(sm.db, &m), STS_OK);
	assert_int_equal(sts_rollout_modes_get(m, "gone.example"), STS_MODE_NONE);
	sts_rollout_modes_free(m);
	sim_close(&sm);
}

static void test_watch_conf(void **state)
{
	(void)state;
	struct sts_watch_conf c;
	const char *why = NULL;
	json_error_t e;
	assert_int_equal(sts_watch_conf_from_json(NULL, &c, &why), STS_OK);
	assert_int_equal(c.interval, 3600);
	assert_int_equal(c.check_interval, 86400);
	assert_null(c.webhook);
	json_t *o = json_loads("{\"interval\": 600, \"webhook\": \"https://h.example/x\"}", 0, &e);
	assert_int_equal(sts_watch_conf_from_json(o, &c, &why), STS_OK);
	assert_int_equal(c.interval, 600);
	assert_string_equal(c.webhook, "https://h.example/x");
	json_decref(o);
	static const char *const bad[] = {"{\"interval\": 5}", "{\"webhook\": \"ftp://x\"}",
					  "{\"schedule\": 1}", "{\"check_interval\": \"1d\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = json_loads(bad[i], 0, &e);
		why = NULL;
		assert_int_equal(sts_watch_conf_from_json(o, &c, &why), STS_EINVALID);
		assert_non_null(why);
		json_decref(o);
	}
}

/* What the gates see of a check result. */
static void test_check_convert(void **state)
{
	(void)state;
	struct sts_check_mx mx[2];
	struct sts_check_domain cd;
	struct sts_rollout_check c;
	memset(&cd, 0, sizeof(cd));
	memset(mx, 0, sizeof(mx));
	cd.domain = "a.example";
	cd.txt_valid = cd.policy_usable = cd.tlsrpt_valid = cd.ph_cert_valid = true;
	cd.ph_have_days = true;
	cd.ph_days_left = 50;
	mx[0].host = "mx1.a.example";
	mx[1].host = "mx2.a.example";
	for (int i = 0; i < 2; i++) {
		mx[i].probed = mx[i].starttls = mx[i].cert_valid = mx[i].matches_policy = true;
		mx[i].have_days = true;
		mx[i].cert_days_left = 40 - 30 * i;
	}
	cd.mx = mx;
	cd.n_mx = 2;
	sts_watch_check_convert(&cd, 123, &c);
	assert_true(c.ran && c.mx_ok && c.policy_ok);
	assert_int_equal(c.at, 123);
	assert_int_equal(c.mx_min_days_left, 10);
	assert_int_equal(c.ph_days_left, 50);

	mx[1].cert_valid = false;
	mx[1].cert_error = "certificate has expired";
	sts_watch_check_convert(&cd, 123, &c);
	assert_false(c.mx_ok);
	assert_string_equal(c.problem, "MX 'mx2.a.example': certificate has expired");
	mx[1].cert_valid = true;
	mx[0].starttls = false;
	sts_watch_check_convert(&cd, 123, &c);
	assert_false(c.mx_ok);
	assert_string_equal(c.problem, "MX 'mx1.a.example': no STARTTLS");
	cd.n_mx = 0;
	sts_watch_check_convert(&cd, 123, &c);
	assert_false(c.mx_ok);
	assert_string_equal(c.problem, "no MX record");

	/* a hosted domain whose customer's CNAME is not in place is not promoted (issue 15) */
	mx[0].starttls = true;
	cd.n_mx = 2;
	sts_diags_init(&cd.findings);
	assert_int_equal(sts_diags_add(&cd.findings, STS_SEV_ERROR, "HOSTED-2", NULL, 0, 0, NULL,
				       "hosted domain, 'mta-sts.a.example.': missing: add it"),
			 STS_OK);
	sts_watch_check_convert(&cd, 123, &c);
	assert_true(c.mx_ok);
	assert_false(c.policy_ok);
	assert_string_equal(c.problem,
			    "HOSTED-2: hosted domain, 'mta-sts.a.example.': missing: add it");
	struct sts_rollout_settings s;
	struct sts_rollout_decision d;
	struct sts_rollout_evidence ev; /* evidence that passes every other gate */
	memset(&ev, 0, sizeof(ev));
	sts_rollout_settings_default(&s);
	ev.window_days = s.window_days;
	ev.reports = 1000;
	ev.successes = 1000000;
	ev.reporting_orgs = 100;
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, 0, 86400LL * 365, &ev, &c, &d);
	assert_int_equal(d.to, d.from);
	bool blocked = false;
	for (size_t i = 0; i < d.n_blocking; i++)
		blocked = blocked || (strcmp(d.blocking[i].gate, "live-check") == 0 &&
				      strstr(d.blocking[i].message, "HOSTED-2") != NULL);
	assert_true(blocked);
	sts_diags_release(&cd.findings);
	sts_diags_init(&cd.findings); /* the CNAMEs in place: promoted */
	mx[1].cert_days_left = 40;
	sts_watch_check_convert(&cd, 123, &c);
	sts_rollout_evaluate(&s, STS_STAGE_TESTING, 0, 86400LL * 365, &ev, &c, &d);
	assert_int_equal(d.to, STS_STAGE_ENFORCE);
}

/* Parse inventory text and open a fresh state for it. */
static void inv_db_open(const char *text, struct sts_inventory **inv, struct sts_db **db)
{
	struct sts_diags dg;
	char *err = NULL;
	sts_diags_init(&dg);
	assert_int_equal(sts_inventory_parse(text, strlen(text), "i.json", inv, &dg), STS_OK);
	sts_diags_release(&dg);
	assert_int_equal(state_fixture_open("rollout", ":memory:", 0, &clock_sim, db, &err),
			 STS_OK);
}

/* Delegated hosting: the provider picks the mode, nothing is under rollout. */
static void test_delegated(void **state)
{
	(void)state;
	static const char inv_text[] =
	    "{\"version\": 1, \"domains\": [{\"name\": \"d.example\", \"mx\": [\"mx.d.example\"],"
	    " \"hosting\": {\"delegate\": {\"sts\": \"_mta-sts.p.example.\"}}}]}";
	struct sts_inventory *inv = NULL;
	struct sts_db *db = NULL;
	struct sts_watch_result res;
	json_t *st = NULL;
	inv_db_open(inv_text, &inv, &db);
	const struct sts_watch_ops ops = {sim_check, NULL, NULL, NULL, NULL};
	const struct sts_watch_opts o = {.ops = &ops};
	assert_int_equal(sts_watch_cycle(inv, db, &o, &res), STS_OK);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.n_checks, 0);
	assert_int_equal(res.decisions[0].from, res.decisions[0].to);
	assert_non_null(strstr(res.decisions[0].reason, "delegated"));
	sts_watch_result_release(&res);
	assert_int_equal(sts_watch_status(inv, db, false, &st), STS_OK);
	assert_true(blocked_at(st, "d.example", "hosting"));
	json_decref(st);
	char **names_db = NULL;
	size_t n = 0;
	assert_int_equal(sts_rollout_domains(db, &names_db, &n), STS_OK);
	assert_int_equal(n, 0);
	free(names_db);
	sts_db_close(db);
	sts_inventory_free(inv);
}

/* ---- live checks run concurrently (issue 12 §4) ---- */

struct slow {
	pthread_mutex_t mu;
	int running, max_running, calls, ticks;
};

/* A passing check that takes 300 ms and counts how many run at once. */
static int slow_check(void *ud, const struct sts_domain *d, struct sts_rollout_check *c)
{
	struct slow *sl = ud;
	(void)d;
	pthread_mutex_lock(&sl->mu);
	sl->calls++;
	if (++sl->running > sl->max_running)
		sl->max_running = sl->running;
	pthread_mutex_unlock(&sl->mu);
	usleep(300000);
	sts_rollout_check_init(c);
	c->ran = true;
	c->policy_ok = c->txt_ok = c->tlsrpt_ok = c->ph_cert_ok = c->mx_ok = true;
	c->ph_days_left = c->mx_min_days_left = 80;
	pthread_mutex_lock(&sl->mu);
	sl->running--;
	pthread_mutex_unlock(&sl->mu);
	return STS_OK;
}

static void slow_tick(void *ud)
{
	struct slow *sl = ud;
	pthread_mutex_lock(&sl->mu);
	sl->ticks++;
	pthread_mutex_unlock(&sl->mu);
}

static void test_concurrent_checks(void **state)
{
	(void)state;
	enum { N = 20 };
	char inv_text[4096];
	size_t off =
	    (size_t)snprintf(inv_text, sizeof(inv_text), "{\"version\": 1, \"domains\": [");
	for (int i = 0; i < N; i++)
		off += (size_t)snprintf(inv_text + off, sizeof(inv_text) - off,
					"%s{\"name\": \"d%02d.example\", \"mode\": \"none\", "
					"\"mx\": [\"mx.d%02d.example\"]}",
					i ? "," : "", i, i);
	snprintf(inv_text + off, sizeof(inv_text) - off, "]}");
	struct sts_inventory *inv = NULL;
	struct sts_db *db = NULL;
	struct sts_watch_result res;
	struct slow sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
	inv_db_open(inv_text, &inv, &db);
	assert_int_equal(sts_ingest_schema(db), STS_OK);
	sim_now = START;
	const struct sts_watch_ops ops = {.check = slow_check, .tick = slow_tick, .ud = &sl};
	const struct sts_watch_opts o = {.ops = &ops, .concurrency = 5};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sts_watch_cycle(inv, db, &o, &res), STS_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
	/* one at a time: 20 x 300 ms = 6 s; five at a time: 1.2 s */
	assert_true(ms < 3000);
	assert_int_equal(sl.calls, N);
	assert_int_equal(sl.max_running, 5);
	assert_true(sl.ticks >= 1);
	assert_int_equal(res.n, N);
	assert_int_equal(res.n_checks, N);
	assert_int_equal(res.n_changed, N);
	for (int i = 0; i < N; i++) { /* concluded in inventory order */
		char name[32];
		snprintf(name, sizeof(name), "d%02d.example", i);
		assert_string_equal(res.decisions[i].domain, name);
		assert_int_equal(res.decisions[i].from, STS_STAGE_NONE);
		assert_int_equal(res.decisions[i].to, STS_STAGE_TESTING);
		assert_non_null(strstr(res.decisions[i].reason, "live check passed"));
	}
	sts_watch_result_release(&res);
	struct sts_rollout_state st;
	bool found = false;
	assert_int_equal(sts_rollout_get(db, "d19.example", &st, &found), STS_OK);
	assert_true(found);
	assert_int_equal(st.stage, STS_STAGE_TESTING);
	assert_int_equal(st.last_check, START);
	sts_db_close(db);
	sts_inventory_free(inv);
}

/* ---- leases (issue 18): a domain another watcher holds is skipped ---- */

static int pass_check(void *ud, const struct sts_domain *d, struct sts_rollout_check *c)
{
	(void)ud;
	(void)d;
	sts_rollout_check_init(c);
	c->ran = true;
	c->policy_ok = c->txt_ok = c->tlsrpt_ok = c->ph_cert_ok = c->mx_ok = true;
	c->ph_days_left = c->mx_min_days_left = 80;
	return STS_OK;
}

static void test_lease_held(void **state)
{
	(void)state;
	static const char inv_text[] =
	    "{\"version\": 1, \"domains\": ["
	    "{\"name\": \"d00.example\", \"mode\": \"none\", \"mx\": [\"mx.d00.example\"]},"
	    "{\"name\": \"d01.example\", \"mode\": \"none\", \"mx\": [\"mx.d01.example\"]}]}";
	struct sts_inventory *inv = NULL;
	struct sts_db *db = NULL;
	struct sts_watch_result res;
	struct sts_rollout_state st;
	bool found = true, ok = false;
	int64_t fence = 0;
	inv_db_open(inv_text, &inv, &db);
	assert_int_equal(sts_ingest_schema(db), STS_OK);
	assert_int_equal(sts_lease_schema(db), STS_OK);
	sim_now = START;
	/* another watcher works on d01 for the next 10 minutes */
	assert_int_equal(sts_lease_claim(db, "watch:d01.example", "other", 600, &fence, &ok),
			 STS_OK);
	assert_true(ok);
	const struct sts_watch_ops ops = {.check = pass_check};
	const struct sts_watch_opts o = {.ops = &ops, .lease_holder = "me", .leases = true};
	assert_int_equal(sts_watch_cycle(inv, db, &o, &res), STS_OK);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.n_held, 1);
	assert_int_equal(res.n_failed, 0);
	assert_int_equal(res.n_changed, 1);
	assert_string_equal(res.decisions[0].domain, "d00.example");
	assert_int_equal(res.decisions[0].to, STS_STAGE_TESTING);
	assert_false(res.decisions[0].held);
	assert_string_equal(res.decisions[1].domain, "d01.example");
	assert_true(res.decisions[1].held);
	assert_false(res.decisions[1].changed);
	assert_int_equal(res.decisions[1].from, STS_STAGE_NONE);
	assert_int_equal(res.decisions[1].to, STS_STAGE_NONE);
	assert_string_equal(res.decisions[1].reason, "held by another watcher");
	json_t *j = sts_watch_result_json(&res);
	assert_int_equal(json_integer_value(json_object_get(j, "held_by_another_watcher")), 1);
	assert_true(json_is_true(
	    json_object_get(json_array_get(json_object_get(j, "decisions"), 1), "held")));
	assert_null(json_object_get(json_array_get(json_object_get(j, "decisions"), 0), "held"));
	json_decref(j);
	sts_watch_result_release(&res);
	/* nothing was written for d01; d00's lease was released after its work */
	assert_int_equal(sts_rollout_get(db, "d01.example", &st, &found), STS_OK);
	assert_false(found);
	assert_int_equal(sts_rollout_get(db, "d00.example", &st, &found), STS_OK);
	assert_true(found);
	assert_int_equal(st.stage, STS_STAGE_TESTING);
	assert_int_equal(sts_lease_claim(db, "watch:d00.example", "other", 600, &fence, &ok),
			 STS_OK);
	assert_true(ok);
	assert_int_equal(fence, 1); /* a new lease: the watcher's was gone */
	assert_int_equal(sts_lease_release(db, "watch:d00.example", "other", 1, &ok), STS_OK);
	assert_true(ok);

	/* the other watcher died: after the expiry, the next cycle does d01 */
	sim_now += 601;
	assert_int_equal(sts_watch_cycle(inv, db, &o, &res), STS_OK);
	assert_int_equal(res.n_held, 0);
	assert_int_equal(res.n, 2);
	assert_false(res.decisions[1].held);
	assert_int_equal(res.decisions[1].to, STS_STAGE_TESTING);
	sts_watch_result_release(&res);
	assert_int_equal(sts_rollout_get(db, "d01.example", &st, &found), STS_OK);
	assert_true(found);
	assert_int_equal(st.stage, STS_STAGE_TESTING);
	/* its stale fence is refused; nobody holds d01 after the cycle */
	assert_int_equal(sts_lease_valid(db, "watch:d01.example", "other", 1, &ok), STS_OK);
	assert_false(ok);
	assert_int_equal(sts_lease_claim(db, "watch:d01.example", "other", 600, &fence, &ok),
			 STS_OK);
	assert_true(ok);
	assert_int_equal(fence, 1);
	sts_db_close(db);
	sts_inventory_free(inv);
}

/*
 * Without .leases (a SQLite state: one watcher at a time) a cycle claims
 * nothing: not even the leases table is made.
 */
static void test_no_leases_unless_shared(void **state)
{
	(void)state;
	const char *inv_text = "{\"version\": 1, \"domains\": ["
			       "{\"name\": \"d00.example\", \"mode\": \"none\", "
			       "\"mx\": [\"mx.d00.example\"]}]}";
	struct sts_inventory *inv = NULL;
	struct sts_db *db = NULL;
	struct sts_watch_result res;
	bool has = true;
	inv_db_open(inv_text, &inv, &db);
	assert_int_equal(sts_ingest_schema(db), STS_OK);
	sim_now = START;
	const struct sts_watch_ops ops = {.check = pass_check};
	const struct sts_watch_opts o = {.ops = &ops};
	assert_int_equal(sts_watch_cycle(inv, db, &o, &res), STS_OK);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.n_held, 0);
	assert_int_equal(res.decisions[0].to, STS_STAGE_TESTING);
	sts_watch_result_release(&res);
	assert_int_equal(sts_db_has_table(db, "leases", &has), STS_OK);
	assert_false(has);
	sts_db_close(db);
	sts_inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_settings),
	    cmocka_unit_test(test_gates),
	    cmocka_unit_test(test_simulation),
	    cmocka_unit_test(test_crash_after_begin),
	    cmocka_unit_test(test_crash_after_apply),
	    cmocka_unit_test(test_crash_after_complete),
	    cmocka_unit_test(test_dry_run_and_removal),
	    cmocka_unit_test(test_watch_conf),
	    cmocka_unit_test(test_check_convert),
	    cmocka_unit_test(test_delegated),
	    cmocka_unit_test(test_concurrent_checks),
	    cmocka_unit_test(test_lease_held),
	    cmocka_unit_test(test_no_leases_unless_shared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
