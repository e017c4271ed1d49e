/* SPDX-License-Identifier: MIT */
/*
 * TLS-RPT ingestion (core/reports/sts_ingest*.c): every sample through the file,
 * .eml, Maildir and POST-body channels with the aggregates asserted,
 * duplicates, upgrades, hostile input, retention, the policy digest and
 * the inventory's reports section.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>
#include <sqlite3.h>

#ifndef __has_include
#define __has_include(x) 0
#endif
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

#include "sts_buf.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_ingest.h"
#include "sts_inventory.h"
#include "tlsrpt_fixtures.h"

/* ---- helpers ---- */

/*
 * Whether this process's peak RSS measures stsctl's own memory: not under a
 * sanitizer (its shadow memory and quarantine add tens of MB: ASan peaks
 * at 228 MB in test_hostile) and not under valgrind (ru_maxrss is then
 * valgrind's). Where it does not, the RSS bound is not asserted at all.
 */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) ||                               \
    __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define STS_TEST_SANITIZED 1
#else
#define STS_TEST_SANITIZED 0
#endif

static bool rss_is_meaningful(void)
{
	if (STS_TEST_SANITIZED)
		return false;
#ifdef RUNNING_ON_VALGRIND
	if (RUNNING_ON_VALGRIND)
		return false;
#endif
	/* built without valgrind.h: valgrind preloads its vgpreload_*.so */
	const char *pre = getenv("LD_PRELOAD");
	return !(pre && strstr(pre, "vgpreload"));
}

struct fx {
	struct tdb t;
	struct sts_ingest_conf *conf;
	size_t events[5];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || tdb_open(&f->t, "test_ingest") < 0)
		return -1;
	f->conf = offline_conf(f->t.dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sts_ingest_conf_free(f->conf);
	int rc = tdb_close(&f->t);
	free(f);
	return rc;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

static void count_event(void *ud, const struct sts_ingest_event *ev)
{
	struct fx *f = ud;
	f->events[ev->outcome]++;
}

static struct sts_ingest *new_ing(struct fx *f, bool trusted)
{
	struct sts_ingest *ing = NULL;
	struct sts_ingest_opts o = {
	    .conf = f->conf, .trusted_files = trusted, .on_event = count_event, .ud = f};
	assert_int_equal(sts_ingest_new(f->t.db, &o, &ing), STS_OK);
	return ing;
}

static char *q_text(struct fx *f, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(sts_db_handle(f->t.db), sql, -1, &st, NULL), SQLITE_OK);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	char *v = NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* what the 14 JSON samples add up to, per policy domain */
static const struct expect {
	const char *domain;
	int64_t ok, bad;
} all_json[] = {
    {"company-y.example", 5326, 303},
    {"test.xmox.nl", 5, 0},
    {"cardinalhealth.ca", 48, 0},
    {"example.com", 0, 4},
    {"krvtz.net", 4, 1},
    {"xxxxxxxx.xx", 0, 3},
    {"hin.ch", 1, 0},
    {"redacted.example.com", 1, 0},
    {"", 1, 0}, /* sample 12: no policy-domain */
    {"test.mailflow.ovh", 13, 15},
};

static const struct expect_rt {
	const char *domain, *type;
	int64_t n;
} all_rt[] = {
    {"company-y.example", "starttls-not-supported", 200},
    {"company-y.example", "certificate-expired", 100},
    {"company-y.example", "validation-failure", 3},
    {"example.com", "sts-policy-fetch-error", 2},
    {"example.com", "validation-failure", 3},
    {"krvtz.net", "sts-policy-fetch-error", 1},
    {"xxxxxxxx.xx", "sts-policy-fetch-error", 3},
    {"test.mailflow.ovh", "certificate-host-mismatch", 2},
    {"test.mailflow.ovh", "validation-failure", 13},
};

static void check_domain(struct fx *f, const char *dom, int64_t ok, int64_t bad)
{
	int64_t got_ok = q_int(f->t.db,
			       "SELECT coalesce(sum(successful), 0) FROM tlsrpt_daily"
			       " WHERE domain = ?",
			       dom, NULL);
	int64_t got_bad =
	    q_int(f->t.db, "SELECT coalesce(sum(failed), 0) FROM tlsrpt_daily WHERE domain = ?",
		  dom, NULL);
	if (got_ok != ok || got_bad != bad)
		fail_msg("domain '%s': want %lld/%lld, got %lld/%lld", dom, (long long)ok,
			 (long long)bad, (long long)got_ok, (long long)got_bad);
}

static void check_rt(struct fx *f, const struct expect_rt *e)
{
	int64_t n = q_int(f->t.db,
			  "SELECT coalesce(sum(sessions), 0) FROM tlsrpt_failures"
			  " WHERE domain = ? AND result_type = ?",
			  e->domain, e->type);
	if (n != e->n)
		fail_msg("'%s' %s: want %lld, got %lld", e->domain, e->type, (long long)e->n,
			 (long long)n);
}

static void check_all_json(struct fx *f)
{
	for (size_t i = 0; i < sizeof(all_json) / sizeof(all_json[0]); i++)
		check_domain(f, all_json[i].domain, all_json[i].ok, all_json[i].bad);
	for (size_t i = 0; i < sizeof(all_rt) / sizeof(all_rt[0]); i++)
		check_rt(f, &all_rt[i]);
}

/* ---- the channels ---- */

static void test_files_each_sample(void **state)
{
	struct fx *f = *state;
	struct sts_ingest *ing = new_ing(f, false);
	for (size_t i = 0; i < N_JSON; i++) {
		char *p = sample_path(json_samples[i]);
		assert_int_equal(sts_ingest_source(ing, p), STS_OK);
		free(p);
	}
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	const struct sts_ingest_stats *st = sts_ingest_get_stats(ing);
	assert_int_equal(st->inputs, N_JSON);
	assert_int_equal(st->stored, N_JSON);
	assert_int_equal(st->quarantined, 0);
	assert_int_equal(f->events[STS_INGEST_STORED], N_JSON);
	check_all_json(f);
	/* files have no authentication of their own */
	assert_int_equal(q_int(f->t.db,
			       "SELECT count(*) FROM tlsrpt_reports WHERE authenticated = 0", NULL,
			       NULL),
			 N_JSON);
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_raw", NULL, NULL), N_JSON);
	/* the stored raw report replays to the same report */
	char *org = q_text(f,
			   "SELECT organization FROM tlsrpt_reports WHERE report_id ="
			   " '5065427c-23d3-47ca-b6e0-946ea0e8c4be'",
			   NULL);
	assert_string_equal(org, "Company-X");
	free(org);
	sqlite3_stmt *st2;
	assert_int_equal(sqlite3_prepare_v2(sts_db_handle(f->t.db),
					    "SELECT gz FROM tlsrpt_raw JOIN tlsrpt_reports ON id ="
					    " report WHERE report_id LIKE '5065427c%'",
					    -1, &st2, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st2), SQLITE_ROW);
	struct sts_tlsrpt_report *rep = NULL;
	assert_int_equal(sts_tlsrpt_parse_blob(sqlite3_column_blob(st2, 0),
					       (size_t)sqlite3_column_bytes(st2, 0), &rep, NULL),
			 STS_OK);
	assert_string_equal(rep->organization, "Company-X");
	assert_int_equal(rep->policies[0].success_count, 5326);
	sts_tlsrpt_report_free(rep);
	sqlite3_finalize(st2);
	/* warnings kept with the report */
	char *w =
	    q_text(f, "SELECT warnings FROM tlsrpt_reports WHERE organization = 'Mail.ru'", NULL);
	assert_non_null(strstr(w, "total-failure-mismatch"));
	free(w);
	sts_ingest_free(ing);
}

static void test_directory_and_duplicates(void **state)
{
	struct fx *f = *state;
	char *dir = sample_path("");
	struct sts_ingest *ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, dir), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	const struct sts_ingest_stats *st = sts_ingest_get_stats(ing);
	/* 14 .json + 5 .eml carrying 5 of the same reports; SOURCES.md skipped */
	assert_int_equal(st->stored, N_JSON);
	assert_int_equal(st->duplicates, N_EML);
	assert_int_equal(st->skipped, 1);
	assert_int_equal(st->quarantined, 0);
	check_all_json(f);
	sts_ingest_free(ing);
	/* the whole directory again: nothing is counted twice */
	ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, dir), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	st = sts_ingest_get_stats(ing);
	assert_int_equal(st->stored, 0);
	assert_int_equal(st->duplicates, N_JSON + N_EML);
	check_all_json(f);
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_reports", NULL, NULL), N_JSON);
	sts_ingest_free(ing);
	free(dir);
}

static void test_eml_each_sample(void **state)
{
	struct fx *f = *state;
	struct sts_ingest *ing = new_ing(f, false);
	for (size_t i = 0; i < N_EML; i++) {
		char *p = sample_path(eml_samples[i]);
		assert_int_equal(sts_ingest_source(ing, p), STS_OK);
		free(p);
	}
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	assert_int_equal(sts_ingest_get_stats(ing)->stored, N_EML);
	check_domain(f, "test.xmox.nl", 5, 0);
	check_domain(f, "cardinalhealth.ca", 48, 0);
	check_domain(f, "krvtz.net", 4, 1);
	check_rt(f, &(struct expect_rt){"krvtz.net", "sts-policy-fetch-error", 1});
	/* the real signatures cannot be verified offline: stored, never evidence */
	assert_int_equal(q_int(f->t.db,
			       "SELECT count(*) FROM tlsrpt_reports WHERE authenticated = 0"
			       " AND channel = 'eml' AND auth_reason LIKE 'dkim%'",
			       NULL, NULL),
			 N_EML);
	assert_int_equal(
	    q_int(f->t.db, "SELECT count(*) FROM tlsrpt_daily WHERE authenticated = 1", NULL, NULL),
	    0);
	char *why = q_text(f,
			   "SELECT auth_reason FROM tlsrpt_reports WHERE report_id ="
			   " '133198585438131172+test.xmox.nl'",
			   NULL);
	assert_non_null(strstr(why, "selector2._domainkey.microsoft.com"));
	assert_non_null(strstr(why, "DNS lookups are off"));
	free(why);
	sts_ingest_free(ing);
}

static void test_maildir(void **state)
{
	struct fx *f = *state;
	char md[128], p[256];
	snprintf(md, sizeof(md), "%s/Maildir", f->t.dir);
	for (const char *sub = "new"; sub; sub = strcmp(sub, "new") == 0   ? "cur"
						 : strcmp(sub, "cur") == 0 ? "tmp"
									   : NULL) {
		snprintf(p, sizeof(p), "%s/%s", md, sub);
		assert_int_equal(sts_mkdir_p(p, 0700), STS_OK);
	}
	for (size_t i = 0; i < N_EML; i++) {
		char *src = sample_path(eml_samples[i]);
		size_t n;
		unsigned char *m = read_all(src, &n);
		snprintf(p, sizeof(p), "%s/new/17000000%02zu.M%zuP1.host", md, i, i);
		write_file(p, m, n);
		free(m);
		free(src);
	}
	/* one already seen in cur/: not read again */
	snprintf(p, sizeof(p), "%s/cur/1600000000.M9P9.host:2,S", md);
	write_file(p, "garbage", 7);
	char spec[160];
	snprintf(spec, sizeof(spec), "maildir:%s", md);
	struct sts_ingest *ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, spec), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	assert_int_equal(sts_ingest_get_stats(ing)->inputs, N_EML);
	assert_int_equal(sts_ingest_get_stats(ing)->stored, N_EML);
	check_domain(f, "krvtz.net", 4, 1);
	check_domain(f, "test.xmox.nl", 5, 0);
	assert_int_equal(q_int(f->t.db,
			       "SELECT count(*) FROM tlsrpt_reports WHERE channel = 'maildir'",
			       NULL, NULL),
			 N_EML);
	sts_ingest_free(ing);
	/* processed: moved to cur/ with the S flag */
	snprintf(p, sizeof(p), "%s/cur/1700000003.M3P1.host:2,S", md);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/new/1700000003.M3P1.host", md);
	assert_int_not_equal(access(p, F_OK), 0);
	/* a second run reads nothing */
	ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, spec), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	assert_int_equal(sts_ingest_get_stats(ing)->inputs, 0);
	sts_ingest_free(ing);
}

static void test_blob_channel(void **state)
{
	struct fx *f = *state;
	struct sts_ingest *ing = new_ing(f, false);
	for (size_t i = 0; i < N_JSON; i++) {
		char *p = sample_path(json_samples[i]);
		size_t n, zn;
		unsigned char *j = read_all(p, &n);
		unsigned char *z = gz(j, n, &zn);
		enum sts_ingest_outcome oc = STS_INGEST_SKIPPED;
		const char *why = NULL;
		/* odd ones gzip (application/tlsrpt+gzip), even ones plain JSON */
		assert_int_equal(sts_ingest_blob(ing, i % 2 ? z : j, i % 2 ? zn : n, STS_CH_HTTPS,
						 "https 127.0.0.1", i == 0, "test", &oc, &why),
				 STS_OK);
		assert_int_equal(oc, STS_INGEST_STORED);
		/* posted again: a duplicate */
		assert_int_equal(sts_ingest_blob(ing, z, zn, STS_CH_HTTPS, "https 127.0.0.1", false,
						 "test", &oc, &why),
				 STS_OK);
		assert_int_equal(oc, STS_INGEST_DUPLICATE);
		free(j);
		free(z);
		free(p);
	}
	check_all_json(f);
	/* authenticated flag follows the caller: only the first was */
	assert_int_equal(q_int(f->t.db,
			       "SELECT sum(successful) FROM tlsrpt_daily WHERE authenticated = 1",
			       NULL, NULL),
			 5326);
	/* raw kept compressed even when posted plain */
	assert_int_equal(q_int(f->t.db,
			       "SELECT count(*) FROM tlsrpt_raw WHERE hex(substr(gz, 1, 2)) ="
			       " '1F8B'",
			       NULL, NULL),
			 N_JSON);
	enum sts_ingest_outcome oc;
	const char *why = NULL;
	assert_int_equal(sts_ingest_blob(ing, "{\"policies\": 3}", 15, STS_CH_HTTPS, "https x",
					 false, "test", &oc, &why),
			 STS_OK);
	assert_int_equal(oc, STS_INGEST_QUARANTINED);
	assert_non_null(strstr(why, "policies"));
	sts_ingest_free(ing);
}

/* a report attachment in quoted-printable (E1) */
static void test_quoted_printable(void **state)
{
	struct fx *f = *state;
	struct sts_ingest *ing = new_ing(f, false);
	static const char msg[] =
	    "From: noreply@qp.example\r\nTo: r@example.net\r\nSubject: Report Domain: qp.example "
	    "Submitter: qp.example Report-ID: <qp-1>\r\nTLS-Report-Domain: qp.example\r\n"
	    "TLS-Report-Submitter: qp.example\r\nMIME-Version: 1.0\r\nContent-Type: "
	    "multipart/report;"
	    " report-type=tlsrpt; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
	    "report\r\n--b\r\nContent-Type: application/tlsrpt+json\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "{\"organization-name\":\"QP =3D "
	    "Org\",\"date-range\":{\"start-datetime\":\"2026-04-0=\r\n"
	    "1T00:00:00Z\",\"end-datetime\":\"2026-04-01T23:59:59Z\"},\"report-id\":\"qp-1\",\"po="
	    "\r\n"
	    "licies\":[{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":\"qp.example\"},\"su="
	    "\r\n"
	    "mmary\":{\"total-successful-session-count\":41,\"total-failure-session-count\":0}}]}"
	    "\r\n"
	    "--b--\r\n";
	enum sts_ingest_outcome oc;
	assert_int_equal(
	    sts_ingest_message(ing, msg, sizeof(msg) - 1, STS_CH_EML, "qp.eml", &oc, NULL), STS_OK);
	assert_int_equal(oc, STS_INGEST_STORED);
	check_domain(f, "qp.example", 41, 0);
	char *org = q_text(f, "SELECT organization FROM tlsrpt_reports", NULL);
	assert_string_equal(org, "QP = Org");
	free(org);
	sts_ingest_free(ing);
}

/* ---- duplicates and upgrades ---- */

static void test_upgrade_to_authenticated(void **state)
{
	struct fx *f = *state;
	char *p = sample_path(json_samples[0]);
	struct sts_ingest *ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, p), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	sts_ingest_free(ing);
	assert_int_equal(q_int(f->t.db,
			       "SELECT sum(successful) FROM tlsrpt_daily WHERE authenticated = 0",
			       NULL, NULL),
			 5326);
	/* the same report, now vouched for: upgraded, counted once */
	ing = new_ing(f, true);
	assert_int_equal(sts_ingest_source(ing, p), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	assert_int_equal(sts_ingest_get_stats(ing)->upgraded, 1);
	sts_ingest_free(ing);
	assert_int_equal(
	    q_int(f->t.db, "SELECT count(*) FROM tlsrpt_daily WHERE authenticated = 0", NULL, NULL),
	    0);
	assert_int_equal(q_int(f->t.db,
			       "SELECT count(*) FROM tlsrpt_failures WHERE authenticated = 0", NULL,
			       NULL),
			 0);
	assert_int_equal(q_int(f->t.db,
			       "SELECT sum(successful) FROM tlsrpt_daily WHERE authenticated = 1",
			       NULL, NULL),
			 5326);
	check_domain(f, "company-y.example", 5326, 303);
	check_rt(f, &all_rt[0]);
	char *why = q_text(f, "SELECT auth_reason FROM tlsrpt_reports", NULL);
	assert_string_equal(why, "ingest --trusted");
	free(why);
	/* and again: a plain duplicate, no downgrade */
	ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, p), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	assert_int_equal(sts_ingest_get_stats(ing)->duplicates, 1);
	sts_ingest_free(ing);
	assert_int_equal(q_int(f->t.db, "SELECT authenticated FROM tlsrpt_reports", NULL, NULL), 1);
	free(p);
}

static const char no_id_fmt[] =
    "{\"organization-name\":\"%s\",\"date-range\":{\"start-datetime\":\"2024-05-01T00:00:00Z\","
    "\"end-datetime\":\"2024-05-01T23:59:59Z\"},\"policies\":[{\"policy\":{\"policy-type\":"
    "\"sts\",\"policy-domain\":\"%s\"},\"summary\":{\"total-successful-session-count\":10,"
    "\"total-failure-session-count\":0}}]}";

static void test_dedup_without_report_id(void **state)
{
	struct fx *f = *state;
	struct sts_ingest *ing = new_ing(f, false);
	char buf[1024];
	enum sts_ingest_outcome oc;
	static const struct {
		const char *org, *dom;
		enum sts_ingest_outcome want;
	} v[] = {
	    {"Org A", "a.example", STS_INGEST_STORED},
	    {"Org A", "a.example", STS_INGEST_DUPLICATE},
	    {"ORG a", "a.example", STS_INGEST_DUPLICATE}, /* organisation: any case */
	    {"Org A", "b.example", STS_INGEST_STORED},	  /* other policy domain */
	    {"Org B", "a.example", STS_INGEST_STORED},	  /* other organisation */
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int n = snprintf(buf, sizeof(buf), no_id_fmt, v[i].org, v[i].dom);
		assert_int_equal(
		    sts_ingest_blob(ing, buf, (size_t)n, STS_CH_FILE, "x", false, "t", &oc, NULL),
		    STS_OK);
		assert_int_equal(oc, v[i].want);
	}
	check_domain(f, "a.example", 20, 0);
	check_domain(f, "b.example", 10, 0);
	sts_ingest_free(ing);
}

/* ---- hostile input ---- */

static void put(struct fx *f, const char *name, const void *p, size_t n)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/in/%s", f->t.dir, name);
	write_file(path, p, n);
}

static char *quarantine_reason(struct fx *f, const char *name)
{
	char like[128];
	snprintf(like, sizeof(like), "%%/%s", name);
	return q_text(f, "SELECT reason FROM tlsrpt_quarantine WHERE source LIKE ?", like);
}

static void expect_reason(struct fx *f, const char *name, const char *want)
{
	char *why = quarantine_reason(f, name);
	if (!why || !strstr(why, want))
		fail_msg("'%s': want '%s' in the reason, got '%s'", name, want,
			 why ? why : "(not quarantined)");
	free(why);
}

static void test_hostile_input(void **state)
{
	struct fx *f = *state;
	char path[256];
	snprintf(path, sizeof(path), "%s/in", f->t.dir);
	assert_int_equal(sts_mkdir_p(path, 0700), STS_OK);
	/* two good reports among them */
	size_t n, zn;
	char *sp = sample_path(json_samples[0]);
	unsigned char *j = read_all(sp, &n);
	unsigned char *z = gz(j, n, &zn);
	put(f, "good1.json.gz", z, zn);
	free(sp);
	sp = sample_path(json_samples[7]);
	unsigned char *j8 = read_all(sp, &n);
	put(f, "good2.json", j8, n);
	free(sp);
	free(z);
	/* truncated gzip */
	z = gz(j8, n, &zn);
	put(f, "truncated.json.gz", z, zn / 2);
	free(z);
	free(j8);
	/* a gzip bomb: 64 MiB of zeros in ~64 KiB */
	size_t big = 64u << 20;
	char *zeros = calloc(1, big);
	assert_non_null(zeros);
	z = gz(zeros, big, &zn);
	assert_true(zn < 200000);
	put(f, "bomb.json.gz", z, zn);
	free(z);
	free(zeros);
	/* a 100 MB JSON report */
	snprintf(path, sizeof(path), "%s/in/huge.json", f->t.dir);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs("{\"organization-name\":\"x\",\"policies\":[", fp);
	static char chunk[1 << 20];
	memset(chunk, ' ', sizeof(chunk));
	for (int i = 0; i < 100; i++)
		assert_int_equal(fwrite(chunk, 1, sizeof(chunk), fp), sizeof(chunk));
	fputs("]}", fp);
	assert_int_equal(fclose(fp), 0);
	/* deep nesting */
	size_t depth = 100000;
	char *deep = malloc(2 * depth);
	assert_non_null(deep);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	put(f, "deep.json", deep, 2 * depth);
	free(deep);
	/* invalid UTF-8 inside a string of a good report */
	char *bad = malloc(n + 1);
	memcpy(bad, j, n);
	char *org = strstr(bad, "Company-X");
	assert_non_null(org);
	org[3] = (char)0xff;
	put(f, "badutf8.json", bad, n);
	free(bad);
	free(j);
	/* a multipart e-mail without a report */
	static const char noreport[] =
	    "From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
	    "Content-Type: text/plain\r\n\r\nno report here\r\n--b1--\r\n";
	put(f, "noreport.eml", noreport, sizeof(noreport) - 1);
	put(f, "notes.txt", "not a report", 12);

	snprintf(path, sizeof(path), "%s/in", f->t.dir);
	struct sts_ingest *ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, path), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	const struct sts_ingest_stats *st = sts_ingest_get_stats(ing);
	assert_int_equal(st->stored, 2);
	assert_int_equal(st->quarantined, 6);
	assert_int_equal(st->skipped, 1);
	sts_ingest_free(ing);
	/* nothing else lost */
	check_domain(f, "company-y.example", 5326, 303);
	check_domain(f, "example.com", 0, 3);
	expect_reason(f, "truncated.json.gz", "truncated");
	expect_reason(f, "bomb.json.gz", "bomb");
	expect_reason(f, "huge.json", "larger than");
	expect_reason(f, "deep.json", "nesting");
	expect_reason(f, "badutf8.json", "UTF-8");
	expect_reason(f, "noreport.eml", "no application/tlsrpt");
	/* small inputs are kept for replay, the 100 MB one is not */
	assert_int_equal(q_int(f->t.db,
			       "SELECT data IS NULL FROM tlsrpt_quarantine WHERE source LIKE ?",
			       "%/huge.json", NULL),
			 1);
	assert_int_equal(q_int(f->t.db,
			       "SELECT length(data) > 0 FROM tlsrpt_quarantine WHERE source"
			       " LIKE ?",
			       "%/truncated.json.gz", NULL),
			 1);
	/* the bomb never bloated the process (measured only where RSS is stsctl's own) */
	if (rss_is_meaningful()) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		assert_true(ru.ru_maxrss < 200 * 1024);
	}
	/* again: quarantined once, seen twice */
	ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, path), STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	sts_ingest_free(ing);
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_quarantine", NULL, NULL), 6);
	assert_int_equal(q_int(f->t.db, "SELECT min(times) FROM tlsrpt_quarantine", NULL, NULL), 2);
}

static void test_unreadable_source(void **state)
{
	struct fx *f = *state;
	struct sts_ingest *ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, "/nonexistent/tlsrpt"), STS_ENOENT);
	assert_int_equal(sts_ingest_source(ing, "maildir:/nonexistent/md"), STS_ENOENT);
	assert_int_equal(sts_ingest_source(ing, "maildir:"), STS_EINVAL);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	sts_ingest_free(ing);
}

/* ---- retention ---- */

static void test_prune(void **state)
{
	struct fx *f = *state;
	char *dir = sample_path("");
	struct sts_ingest *ing = new_ing(f, false);
	assert_int_equal(sts_ingest_source(ing, dir), STS_OK);
	assert_int_equal(sts_ingest_blob(ing, "junk", 4, STS_CH_HTTPS, "x", false, "t", NULL, NULL),
			 STS_OK);
	assert_int_equal(sts_ingest_finish(ing), STS_OK);
	sts_ingest_free(ing);
	free(dir);
	struct sts_ingest_pruned res;
	/* now = 2026-06-01: 11 of the 14 reports ended more than 365 days ago */
	struct sts_ingest_retention keep = {.raw_days = 365};
	assert_int_equal(sts_ingest_prune(f->t.db, &keep, true, &res), STS_OK);
	assert_int_equal(res.raw, 11);
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_raw", NULL, NULL), 14);
	assert_int_equal(sts_ingest_prune(f->t.db, &keep, false, &res), STS_OK);
	assert_int_equal(res.raw, 11);
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_raw", NULL, NULL), 3);
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_reports", NULL, NULL), 14);
	check_all_json(f);
	keep.report_days = 365;
	assert_int_equal(sts_ingest_prune(f->t.db, &keep, false, &res), STS_OK);
	assert_int_equal(res.reports, 11);
	assert_true(res.daily >= 11);
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_reports", NULL, NULL), 3);
	assert_int_equal(q_int(f->t.db,
			       "SELECT count(*) FROM tlsrpt_daily WHERE day < '2025-06-01'", NULL,
			       NULL),
			 0);
	check_domain(f, "hin.ch", 1, 0);
	check_domain(f, "company-y.example", 0, 0);
	/* quarantine: by when it was last seen */
	keep = (struct sts_ingest_retention){.quarantine_days = 1};
	assert_int_equal(sts_ingest_prune(f->t.db, &keep, false, &res), STS_OK);
	assert_int_equal(res.quarantine, 0);
	f->t.now += 2 * 86400;
	assert_int_equal(sts_ingest_prune(f->t.db, &keep, false, &res), STS_OK);
	assert_int_equal(res.quarantine, 1);
	/* 0 keeps forever */
	keep = (struct sts_ingest_retention){0};
	f->t.now += 100000LL * 86400;
	assert_int_equal(sts_ingest_prune(f->t.db, &keep, false, &res), STS_OK);
	assert_int_equal(res.raw + res.reports + res.daily + res.failures, 0);
}

/* ---- policy digest ---- */

static void test_policy_digest(void **state)
{
	(void)state;
	char *a[] = {"version: STSv1", "mode: enforce", "mx: mx1.example.com", "max_age: 86400"};
	char *b[] = {"max_age: 86400\r", "mx: mx1.example.com  ", "",
		     "version: STSv1",	 "mode: enforce",	  "mode: enforce"};
	char *c[] = {"version: STSv1", "mode: testing", "mx: mx1.example.com", "max_age: 86400"};
	char da[17], db[17], dc[17], de[17];
	sts_ingest_policy_digest(a, 4, da);
	sts_ingest_policy_digest(b, 6, db);
	sts_ingest_policy_digest(c, 4, dc);
	sts_ingest_policy_digest(NULL, 0, de);
	assert_int_equal(strlen(da), 16);
	assert_string_equal(da, db);
	assert_string_not_equal(da, dc);
	assert_string_equal(de, "");
}

/* ---- the inventory's reports section ---- */

static int load_inv(const char *reports, struct sts_inventory **inv, struct sts_diags *d)
{
	char text[4096];
	snprintf(text, sizeof(text), "{\"version\": 1, \"reports\": %s}", reports);
	sts_diags_init(d);
	return sts_inventory_parse(text, strlen(text), "inv.json", inv, d);
}

static bool has_diag(const struct sts_diags *d, const char *path, const char *msg)
{
	for (size_t i = 0; i < d->n; i++)
		if ((!path || (d->v[i].path && strcmp(d->v[i].path, path) == 0)) &&
		    strstr(d->v[i].message, msg))
			return true;
	return false;
}

static void test_inventory_reports(void **state)
{
	(void)state;
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	int r = load_inv(
	    "{\"sources\": [\"/srv/in\", \"maildir:md\", {\"source\": \"imaps://imap.example/R\","
	    " \"user\": \"u\", \"password\": \"${env:PW}\", \"processed\": \"move\","
	    " \"move_to\": \"Done\", \"max_messages\": 5}],"
	    " \"https\": {\"listen\": \"127.0.0.1:8443\", \"cert\": \"c.pem\", \"key\": \"k.pem\","
	    " \"trusted\": true, \"name\": \"proxy\", \"max_body\": 1000},"
	    " \"dkim\": {\"dns\": false, \"keys\": {\"s._domainkey.r.example\": \"v=DKIM1; "
	    "p=AB\"}},"
	    " \"trusted_mtas\": [\"mx.example\"], \"evidence\": \"all\","
	    " \"retention\": {\"raw_days\": 10, \"report_days\": 0}}",
	    &inv, &d);
	assert_int_equal(r, STS_OK);
	assert_int_equal(d.n_errors, 0);
	/* "evidence": "all" is a lab setting: validation says so */
	assert_true(has_diag(&d, NULL, "a lab setting, never for production"));
	struct sts_ingest_conf *c = NULL;
	char *err = NULL;
	assert_int_equal(
	    sts_ingest_conf_from_json(json_object_get(inv->root, "reports"), "/etc/st", &c, &err),
	    STS_OK);
	assert_int_equal(c->n_sources, 3);
	assert_string_equal(c->sources[0].spec, "/srv/in");
	assert_string_equal(c->sources[1].spec, "maildir:/etc/st/md");
	assert_int_equal(c->sources[2].processed, STS_IMAP_MOVE);
	assert_string_equal(c->sources[2].move_to, "Done");
	assert_int_equal(c->sources[2].max_messages, 5);
	assert_ptr_equal(sts_ingest_conf_source(c, "imaps://imap.example/R/"), &c->sources[2]);
	assert_true(c->https.present && c->https.trusted);
	assert_string_equal(c->https.name, "proxy");
	assert_true(sts_reporters_has(c->reporters, "proxy")); /* a trusted source is listed */
	assert_true(sts_reporters_has(c->reporters, "google.com"));
	assert_string_equal(c->https.cert, "/etc/st/c.pem");
	assert_string_equal(c->https.path, STS_RECEIVER_DEFAULT_PATH);
	assert_int_equal(c->https.max_body, 1000);
	assert_false(c->dkim_dns);
	assert_int_equal(c->n_keys, 1);
	assert_true(c->evidence_all);
	assert_int_equal(c->retention.raw_days, 10);
	assert_int_equal(c->retention.report_days, 0);
	assert_int_equal(c->retention.quarantine_days, STS_RETENTION_QUARANTINE_DAYS);
	sts_ingest_conf_free(c);
	sts_inventory_free(inv);
	sts_diags_release(&d);

	inv = NULL;
	r = load_inv("{\"sourcez\": [], \"sources\": [3, \"ftp://x\", {\"source\": \"/d\","
		     " \"user\": \"u\"}, {\"source\": \"imap://h/I\", \"processed\": \"move\","
		     " \"password\": \"hunter2\"}],"
		     " \"https\": {\"listen\": \"localhost\", \"path\": \"x\"},"
		     " \"dkim\": {\"keys\": {\"bad\": \"v=DKIM1\"}}, \"evidence\": \"some\","
		     " \"retention\": {\"raw_days\": -1}}",
		     &inv, &d);
	assert_int_equal(r, STS_EINVALID);
	assert_null(inv);
	assert_true(has_diag(&d, "reports.sourcez", "unknown key"));
	assert_true(has_diag(&d, "reports.sources[0]", "expected a string or an object"));
	assert_true(has_diag(&d, "reports.sources[1]", "unsupported source"));
	assert_true(has_diag(&d, "reports.sources[2].user", "only for imap"));
	assert_true(has_diag(&d, "reports.sources[3].processed", "needs \"move_to\""));
	assert_true(has_diag(&d, "reports.sources[3].password", "clear text"));
	assert_true(has_diag(&d, "reports.https", "missing 'cert'"));
	assert_true(has_diag(&d, "reports.https.listen", "ADDR:PORT"));
	assert_true(has_diag(&d, "reports.https.path", "starts with '/'"));
	assert_true(has_diag(&d, "reports.dkim.keys.bad", "SELECTOR._domainkey.DOMAIN"));
	assert_true(has_diag(&d, "reports.dkim.keys.bad", "DKIM key record"));
	assert_true(has_diag(&d, "reports.evidence", "some"));
	assert_true(has_diag(&d, "reports.retention.raw_days", "out of range"));
	for (size_t i = 0; i < d.n; i++)
		assert_true(d.v[i].line > 0);
	sts_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_files_each_sample, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_directory_and_duplicates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eml_each_sample, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maildir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blob_channel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quoted_printable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upgrade_to_authenticated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_without_report_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test(test_policy_digest),
	    cmocka_unit_test(test_inventory_reports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
