/* SPDX-License-Identifier: MIT */
/*
 * TLS-RPT ingestion, the "store" half (sts_ingest_int.h): the report
 * tables, deduplication, the compressed raw reports, the per-domain and
 * per-day aggregates (summed per batch in memory, then upserted), the
 * quarantine and retention. docs/stsctl-ingest.md describes the schema.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_gzip.h"
#include "sts_ingest_int.h"
#include "sts_reporters.h"

/* Append only: each step runs once, in order (sts_db_migrate). */
static const struct sts_db_migration migrations[] = {
    {1,
     "CREATE TABLE tlsrpt_reports ("
     " id INTEGER PRIMARY KEY,"
     " dedup_key TEXT NOT NULL UNIQUE,"
     " organization TEXT, report_id TEXT, contact_info TEXT,"
     " start INTEGER NOT NULL, end INTEGER NOT NULL, day TEXT NOT NULL,"
     " domains TEXT NOT NULL,"
     " received INTEGER NOT NULL, channel TEXT NOT NULL, source TEXT NOT NULL,"
     " authenticated INTEGER NOT NULL, auth_reason TEXT NOT NULL,"
     " successful INTEGER NOT NULL, failed INTEGER NOT NULL,"
     " warnings TEXT NOT NULL, raw_size INTEGER NOT NULL);"
     "CREATE TABLE tlsrpt_raw ("
     " report INTEGER PRIMARY KEY REFERENCES tlsrpt_reports(id) ON DELETE CASCADE,"
     " gz BLOB NOT NULL);"
     "CREATE TABLE tlsrpt_daily ("
     " domain TEXT NOT NULL, day TEXT NOT NULL, organization TEXT NOT NULL,"
     " policy_type TEXT NOT NULL, policy_digest TEXT NOT NULL,"
     " authenticated INTEGER NOT NULL,"
     " reports INTEGER NOT NULL, successful INTEGER NOT NULL, failed INTEGER NOT NULL,"
     " PRIMARY KEY (domain, day, organization, policy_type, policy_digest, authenticated)"
     ") WITHOUT ROWID;"
     "CREATE TABLE tlsrpt_failures ("
     " domain TEXT NOT NULL, day TEXT NOT NULL, organization TEXT NOT NULL,"
     " policy_type TEXT NOT NULL, policy_digest TEXT NOT NULL,"
     " authenticated INTEGER NOT NULL,"
     " result_type TEXT NOT NULL, sending_ip TEXT NOT NULL, receiving_mx TEXT NOT NULL,"
     " reports INTEGER NOT NULL, sessions INTEGER NOT NULL,"
     " PRIMARY KEY (domain, day, organization, policy_type, policy_digest, authenticated,"
     "  result_type, sending_ip, receiving_mx)) WITHOUT ROWID;"
     "CREATE TABLE tlsrpt_quarantine ("
     " id INTEGER PRIMARY KEY, qkey TEXT NOT NULL UNIQUE,"
     " received INTEGER NOT NULL, last_seen INTEGER NOT NULL, times INTEGER NOT NULL,"
     " channel TEXT NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL,"
     " size INTEGER NOT NULL, format TEXT, data BLOB);"
     "CREATE INDEX tlsrpt_quarantine_received ON tlsrpt_quarantine(received);",
     NULL},
    /* reporter identities (docs/rollout.md "Evidence"): who signed, per report
     * and as a dimension of the aggregates; pending DKIM verifications keep
     * their message. identity_v = 0 marks rows whose reporter ing_rederive()
     * has not derived yet; the aggregates start unattributed (reporter ''). */
    {2,
     "ALTER TABLE tlsrpt_reports ADD COLUMN reporter TEXT;"
     "ALTER TABLE tlsrpt_reports ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE tlsrpt_reports ADD COLUMN domain_hint TEXT;"
     "ALTER TABLE tlsrpt_reports ADD COLUMN identity_v INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX tlsrpt_reports_identity_v ON tlsrpt_reports(identity_v);"
     "CREATE TABLE tlsrpt_pending ("
     " report INTEGER PRIMARY KEY REFERENCES tlsrpt_reports(id) ON DELETE CASCADE,"
     " channel TEXT NOT NULL, source TEXT NOT NULL, msg BLOB NOT NULL);"
     "CREATE TABLE tlsrpt_daily_v2 ("
     " domain TEXT NOT NULL, day TEXT NOT NULL, organization TEXT NOT NULL,"
     " policy_type TEXT NOT NULL, policy_digest TEXT NOT NULL,"
     " authenticated INTEGER NOT NULL, reporter TEXT NOT NULL,"
     " reports INTEGER NOT NULL, successful INTEGER NOT NULL, failed INTEGER NOT NULL,"
     " PRIMARY KEY (domain, day, organization, policy_type, policy_digest, authenticated,"
     "  reporter)) WITHOUT ROWID;"
     "INSERT INTO tlsrpt_daily_v2 SELECT domain, day, organization, policy_type,"
     " policy_digest, authenticated, '', reports, successful, failed FROM tlsrpt_daily;"
     "DROP TABLE tlsrpt_daily;"
     "ALTER TABLE tlsrpt_daily_v2 RENAME TO tlsrpt_daily;"
     "CREATE TABLE tlsrpt_failures_v2 ("
     " domain TEXT NOT NULL, day TEXT NOT NULL, organization TEXT NOT NULL,"
     " policy_type TEXT NOT NULL, policy_digest TEXT NOT NULL,"
     " authenticated INTEGER NOT NULL, reporter TEXT NOT NULL,"
     " result_type TEXT NOT NULL, sending_ip TEXT NOT NULL, receiving_mx TEXT NOT NULL,"
     " reports INTEGER NOT NULL, sessions INTEGER NOT NULL,"
     " PRIMARY KEY (domain, day, organization, policy_type, policy_digest, authenticated,"
     "  reporter, result_type, sending_ip, receiving_mx)) WITHOUT ROWID;"
     "INSERT INTO tlsrpt_failures_v2 SELECT domain, day, organization, policy_type,"
     " policy_digest, authenticated, '', result_type, sending_ip, receiving_mx, reports,"
     " sessions FROM tlsrpt_failures;"
     "DROP TABLE tlsrpt_failures;"
     "ALTER TABLE tlsrpt_failures_v2 RENAME TO tlsrpt_failures;",
     NULL},
    /* the reporter identity in the deduplication key (docs/stsctl-ingest.md):
     * org_key keeps the organisation's key of every row; a signed row with a
     * reporter is keyed by it instead ("reporter-id\nREPORTER\nREPORT-ID",
     * "reporter-range\nREPORTER\nSTART\nEND\nDOMAIN..."), the first of rows
     * that would get the same key (the others keep theirs: nothing is merged,
     * so no count is lost or doubled). Rows whose key does not start with their
     * organisation as stsctl wrote it, or whose reporter is not derived yet,
     * keep the organisation's key (still found, see find_stored()). */
    {3,
     "ALTER TABLE tlsrpt_reports ADD COLUMN org_key TEXT;"
     "UPDATE tlsrpt_reports SET org_key = dedup_key;"
     "CREATE INDEX tlsrpt_reports_org_key ON tlsrpt_reports(org_key);"
     "UPDATE tlsrpt_reports SET dedup_key = n.k FROM ("
     " SELECT id, k, row_number() OVER (PARTITION BY k ORDER BY id) AS rn FROM ("
     "  SELECT id, CASE"
     "   WHEN substr(dedup_key, 1, length(pi)) = pi"
     "    THEN 'reporter-id' || char(10) || reporter || char(10) ||"
     "     substr(dedup_key, length(pi) + 1)"
     "   WHEN substr(dedup_key, 1, length(pr)) = pr"
     "    THEN 'reporter-range' || char(10) || reporter || char(10) ||"
     "     substr(dedup_key, length(pr) + 1) END AS k FROM ("
     "   SELECT id, dedup_key, reporter,"
     "    'id' || char(10) || lower(coalesce(organization, '')) || char(10) AS pi,"
     "    'range' || char(10) || lower(coalesce(organization, '')) || char(10) AS pr"
     "   FROM tlsrpt_reports WHERE authenticated = 1 AND pending = 0 AND identity_v = 1"
     "    AND reporter IS NOT NULL AND reporter <> ''))"
     " WHERE k IS NOT NULL) AS n"
     " WHERE tlsrpt_reports.id = n.id AND n.rn = 1;",
     NULL},
};

STS_API int sts_ingest_schema(struct sts_db *db)
{
	int r = sts_db_migrate(db, STS_INGEST_COMPONENT, migrations,
			       sizeof(migrations) / sizeof(migrations[0]));
	if (r == STS_OK && !sts_db_is_readonly(db))
		r = ing_rederive(db);
	return r;
}

/* "WHAT: the engine's message": without the statement call that sts_db_errmsg() names */
static int db_fail(struct sts_ingest *ing, const char *what)
{
	static const char *const calls[] = {"prepare: ", "bind: ", "step: "};
	const char *m = sts_db_errmsg(ing->db);
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (strncmp(m, calls[i], strlen(calls[i])) == 0) {
			m += strlen(calls[i]);
			break;
		}
	ing_set_err(ing, "%s: %s", what, m);
	return STS_EDB;
}

void ing_tune(struct sts_ingest *ing, const char *pragma)
{
	struct sts_db_stmt *st = NULL;
	sts_db_hold(ing->db);
	if (sts_db_prepare(ing->db, pragma, &st) == STS_OK)
		(void)sts_db_step(st);
	sts_db_finalize(st);
	sts_db_unhold(ing->db);
}

int ing_stmts_prepare(struct sts_ingest *ing)
{
	static const struct {
		size_t off;
		const char *sql;
	} s[] = {
	    {offsetof(struct sts_ingest, ins_report),
	     "INSERT INTO tlsrpt_reports (dedup_key, organization, report_id, contact_info,"
	     " start, end, day, domains, received, channel, source, authenticated, auth_reason,"
	     " successful, failed, warnings, raw_size, reporter, pending, domain_hint,"
	     " org_key, identity_v) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)"
	     " ON CONFLICT (dedup_key) DO NOTHING RETURNING id"},
	    {offsetof(struct sts_ingest, ins_raw),
	     "INSERT INTO tlsrpt_raw (report, gz) VALUES (?, ?)"},
	    {offsetof(struct sts_ingest, sel_dup),
	     "SELECT id, authenticated, pending, reporter, day, domain_hint, gz"
	     " FROM tlsrpt_reports LEFT JOIN tlsrpt_raw ON report = id WHERE dedup_key = ?"},
	    {offsetof(struct sts_ingest, sel_dup_org),
	     "SELECT id, authenticated, pending, reporter, day, domain_hint, gz"
	     " FROM tlsrpt_reports LEFT JOIN tlsrpt_raw ON report = id WHERE org_key = ?1"
	     " AND (?2 IS NULL OR dedup_key = org_key AND (authenticated = 0 OR pending = 1"
	     "  OR reporter IS NULL OR reporter = ?2))"
	     " ORDER BY dedup_key = org_key DESC, id LIMIT 1"},
	    {offsetof(struct sts_ingest, upd_auth),
	     "UPDATE tlsrpt_reports SET organization = ?2, report_id = ?3, contact_info = ?4,"
	     " start = ?5, end = ?6, day = ?7, domains = ?8, channel = ?10, source = ?11,"
	     " authenticated = ?12, auth_reason = ?13, successful = ?14, failed = ?15,"
	     " warnings = ?16, raw_size = ?17, reporter = ?18, pending = ?19,"
	     " domain_hint = ?20, org_key = ?21, dedup_key = coalesce(?22, dedup_key),"
	     " identity_v = 1 WHERE id = ?1"},
	    {offsetof(struct sts_ingest, upd_raw),
	     "INSERT OR REPLACE INTO tlsrpt_raw (report, gz) VALUES (?, ?)"},
	    {offsetof(struct sts_ingest, ins_pending),
	     "INSERT OR REPLACE INTO tlsrpt_pending (report, channel, source, msg)"
	     " VALUES (?, ?, ?, ?)"},
	    {offsetof(struct sts_ingest, del_pending),
	     "DELETE FROM tlsrpt_pending WHERE report = ?"},
	    {offsetof(struct sts_ingest, ins_quar),
	     "INSERT INTO tlsrpt_quarantine (qkey, received, last_seen, times, channel, source,"
	     " reason, size, format, data) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)"
	     " ON CONFLICT (qkey) DO UPDATE SET last_seen = excluded.last_seen,"
	     " times = times + 1 RETURNING id"},
	    {offsetof(struct sts_ingest, up_daily),
	     "INSERT INTO tlsrpt_daily VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET"
	     " reports = reports + excluded.reports,"
	     " successful = successful + excluded.successful,"
	     " failed = failed + excluded.failed"},
	    {offsetof(struct sts_ingest, up_fail),
	     "INSERT INTO tlsrpt_failures VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE"
	     " SET reports = reports + excluded.reports, sessions = sessions + excluded.sessions"},
	};
	sts_db_hold(ing->db);
	int r = STS_OK;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]) && r == STS_OK; i++) {
		struct sts_db_stmt **st = (struct sts_db_stmt **)((char *)ing + s[i].off);
		if (sts_db_prepare(ing->db, s[i].sql, st) != STS_OK)
			r = db_fail(ing, "prepare");
	}
	sts_db_unhold(ing->db);
	return r;
}

void ing_stmts_finalize(struct sts_ingest *ing)
{
	struct sts_db_stmt *v[] = {ing->ins_report,  ing->ins_raw,    ing->sel_dup,
				   ing->sel_dup_org, ing->upd_auth,   ing->ins_quar,
				   ing->up_daily,    ing->up_fail,    ing->upd_raw,
				   ing->ins_pending, ing->del_pending};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		sts_db_finalize(v[i]);
}

/* bytes, or NULL when p is NULL (sts_db_bind_blob binds an empty blob then) */
static void bind_blob(struct sts_db_stmt *st, int i, const void *p, size_t n)
{
	if (p)
		sts_db_bind_blob(st, i, p, n);
	else
		sts_db_bind_null(st, i);
}

/* ---- policy digest ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct line {
	const char *p;
	size_t n;
};

static int cmp_line(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
	return c ? c : x->n < y->n ? -1 : x->n > y->n;
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); /* once: fetching is the costly part */
}

STS_API void sts_ingest_policy_digest(char *const *lines, size_t n, char out[17])
{
	struct line stack[32], *v = n <= 32 ? stack : malloc(n * sizeof(*v));
	size_t k = 0;
	out[0] = '\0';
	if (!n || !v)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[i] ? lines[i] : "";
		size_t len = strlen(l);
		while (len && (l[len - 1] == '\r' || l[len - 1] == ' ' || l[len - 1] == '\t'))
			len--;
		if (len)
			v[k++] = (struct line){l, len};
	}
	qsort(v, k, sizeof(*v), cmp_line);
	pthread_once(&sha256_once, sha256_fetch);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	bool ok = c && sha256_md && EVP_DigestInit_ex(c, sha256_md, NULL);
	for (size_t i = 0; ok && i < k; i++)
		if (i == 0 || cmp_line(&v[i], &v[i - 1]) != 0)
			ok = EVP_DigestUpdate(c, v[i].p, v[i].n) && EVP_DigestUpdate(c, "\n", 1);
	if (ok && k && EVP_DigestFinal_ex(c, md, &mdlen) && mdlen >= 8)
		for (int i = 0; i < 8; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(c);
	if (v != stack)
		free(v);
}

/* ---- the batch aggregates ---- */

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

void ing_agg_release(struct agg_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->v[i].key);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int agg_grow(struct agg_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct agg_entry *v = calloc(cap, sizeof(*v));
	if (!v)
		return STS_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->v[i].key)
			continue;
		size_t j = m->v[i].hash & (cap - 1);
		while (v[j].key)
			j = (j + 1) & (cap - 1);
		v[j] = m->v[i];
	}
	free(m->v);
	m->v = v;
	m->cap = cap;
	return STS_OK;
}

static int agg_add(struct agg_map *m, const struct sts_buf *key, int64_t reports, int64_t a,
		   int64_t b)
{
	if ((m->n + 1) * 2 > m->cap && agg_grow(m) < 0)
		return STS_ENOMEM;
	uint64_t h = fnv1a(key->data, key->len);
	size_t j = h & (m->cap - 1);
	while (m->v[j].key && (m->v[j].hash != h || strcmp(m->v[j].key, key->data) != 0))
		j = (j + 1) & (m->cap - 1);
	struct agg_entry *e = &m->v[j];
	if (!e->key) {
		if (!(e->key = strdup(key->data)))
			return STS_ENOMEM;
		e->hash = h;
		m->n++;
	}
	e->reports += reports;
	e->a += a;
	e->b += b;
	if (reports < 0)
		m->negative = true;
	return STS_OK;
}

/* one dimension of a key: the separator cannot occur inside it */
static int put_dim(struct sts_buf *k, const char *s, bool first)
{
	int r = first ? STS_OK : sts_buf_append(k, "\x1f", 1);
	size_t at = k->len, n = s ? strlen(s) : 0;
	if (r == STS_OK && n)
		r = sts_buf_append(k, s, n);
	for (char *p = k->data ? k->data + at : NULL; r == STS_OK && p && *p; p++)
		if (*p == '\x1f')
			*p = '?';
	return r;
}

/* Add (sign +1) or take back (-1) the aggregates of one report. */
static int agg_report(struct sts_ingest *ing, const struct sts_tlsrpt_report *rep, const char *day,
		      const char *hint, bool auth, const char *reporter, int sign)
{
	struct sts_buf k;
	int r = STS_OK;
	const char *org = rep->organization ? rep->organization : "";
	sts_buf_init(&k, 4096);
	for (size_t i = 0; i < rep->n_policies && r == STS_OK; i++) {
		const struct sts_tlsrpt_policy *p = &rep->policies[i];
		const char *dom = p->policy_domain ? p->policy_domain : hint ? hint : "";
		/* "reports" counts a report once per domain: on its first entry */
		bool first = true;
		for (size_t j = 0; j < i && first; j++) {
			const char *d = rep->policies[j].policy_domain;
			first = strcmp(d ? d : hint ? hint : "", dom) != 0;
		}
		const char *type = p->type == STS_TLSRPT_POLICY_UNKNOWN && p->type_raw
				       ? p->type_raw
				       : sts_tlsrpt_policy_type_name(p->type);
		char digest[17];
		sts_ingest_policy_digest(p->policy_string, p->n_policy_string, digest);
		sts_buf_reset(&k);
		if (put_dim(&k, dom, true) < 0 || put_dim(&k, day, false) < 0 ||
		    put_dim(&k, org, false) < 0 || put_dim(&k, type, false) < 0 ||
		    put_dim(&k, digest, false) < 0 || put_dim(&k, auth ? "1" : "0", false) < 0 ||
		    put_dim(&k, auth && reporter ? reporter : "", false) < 0) {
			r = STS_ENOMEM;
			break;
		}
		size_t base = k.len;
		r = agg_add(&ing->daily, &k, first ? sign : 0, sign * p->success_count,
			    sign * sts_tlsrpt_policy_failed_sessions(p));
		if (sign < 0)
			ing->daily.negative = true;
		for (size_t j = 0; j < p->n_failures && r == STS_OK; j++) {
			const struct sts_tlsrpt_failure *f = &p->failures[j];
			k.len = base;
			k.data[base] = '\0';
			if (put_dim(&k, f->result_type, false) < 0 ||
			    put_dim(&k, f->sending_mta_ip, false) < 0 ||
			    put_dim(&k, f->receiving_mx_hostname, false) < 0)
				r = STS_ENOMEM;
			else
				r = agg_add(&ing->fail, &k, sign, sign * f->failed_session_count,
					    0);
		}
	}
	sts_buf_release(&k);
	return r;
}

/* split a key at '\x1f' in place */
static size_t split_key(char *key, char **f, size_t max)
{
	size_t n = 0;
	f[n++] = key;
	for (char *p = key; *p && n < max; p++)
		if (*p == '\x1f') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static int agg_flush(struct sts_ingest *ing, struct agg_map *m, struct sts_db_stmt *st, size_t nf,
		     const char *cleanup)
{
	int r = STS_OK;
	for (size_t i = 0; i < m->cap && r == STS_OK; i++) {
		struct agg_entry *e = &m->v[i];
		if (!e->key)
			continue;
		char *f[10];
		if (split_key(e->key, f, nf) != nf)
			continue;
		sts_db_reset(st);
		for (size_t j = 0; j < nf; j++)
			if (j == 5)
				sts_db_bind_int(st, 6, f[5][0] == '1');
			else
				sts_db_bind_text(st, (int)j + 1, f[j]);
		sts_db_bind_int(st, (int)nf + 1, e->reports);
		sts_db_bind_int(st, (int)nf + 2, e->a);
		if (nf == 7)
			sts_db_bind_int(st, (int)nf + 3, e->b);
		if (sts_db_step(st) != STS_DB_DONE)
			r = db_fail(ing, "aggregate");
		sts_db_reset(st);
	}
	if (r == STS_OK && m->negative && sts_db_execf(ing->db, cleanup, "") != STS_OK)
		r = db_fail(ing, "aggregate cleanup");
	ing_agg_release(m);
	return r;
}

/* ---- transactions ---- */

static int begin(struct sts_ingest *ing)
{
	if (ing->in_tx)
		return STS_OK;
	if (sts_db_begin(ing->db) < 0) {
		ing_set_err(ing, "begin: %s", sts_db_errmsg(ing->db));
		return STS_EDB;
	}
	ing->in_tx = true;
	ing->batch_n = 0;
	return STS_OK;
}

void ing_rollback(struct sts_ingest *ing)
{
	if (ing->in_tx)
		sts_db_rollback(ing->db);
	ing->in_tx = false;
	ing_agg_release(&ing->daily);
	ing_agg_release(&ing->fail);
	ing_paths_release(&ing->ren);
}

int ing_commit(struct sts_ingest *ing)
{
	if (!ing->in_tx)
		return STS_OK;
	int r = agg_flush(ing, &ing->daily, ing->up_daily, 7,
			  "DELETE FROM tlsrpt_daily"
			  " WHERE reports <= 0 AND successful <= 0 AND failed <= 0");
	if (r == STS_OK)
		r = agg_flush(ing, &ing->fail, ing->up_fail, 10,
			      "DELETE FROM tlsrpt_failures WHERE reports <= 0");
	if (r < 0) {
		ing_rollback(ing);
		return r;
	}
	ing->in_tx = false;
	if (sts_db_commit(ing->db) < 0) {
		ing_set_err(ing, "commit: %s", sts_db_errmsg(ing->db));
		ing_rollback(ing);
		return STS_EDB;
	}
	/* Maildir: the messages are marked processed only once they are stored */
	for (size_t i = 0; i < ing->ren.n; i++)
		if (rename(ing->ren.v[i], ing->ren.to[i]) < 0)
			ing_source_error(ing, ing->ren.v[i], -errno,
					 "cannot mark '%s' as processed: %s", ing->ren.v[i],
					 strerror(errno));
	ing_paths_release(&ing->ren);
	return STS_OK;
}

/* ---- one input ---- */

static void emit(struct sts_ingest *ing, const struct ing_prep *p, const struct ing_part *pt,
		 enum sts_ingest_outcome oc, int64_t row)
{
	if (!ing->o.on_event)
		return;
	struct sts_ingest_event ev = {
	    .outcome = oc,
	    .channel = p->ch,
	    .source = p->source,
	    .organization = pt && pt->rep ? pt->rep->organization : NULL,
	    .report_id = pt && pt->rep ? pt->rep->report_id : NULL,
	    .authenticated = p->authenticated,
	    .auth_reason = p->auth_reason,
	    .reason = pt ? pt->qreason : p->skip_reason,
	    .n_warnings = pt ? pt->n_warnings : 0,
	    .warnings = pt && pt->warnings ? pt->warnings : "",
	    .row = row,
	};
	ing->o.on_event(ing->o.ud, &ev);
}

static int store_quarantine(struct sts_ingest *ing, const struct ing_prep *p,
			    const struct ing_part *pt, int64_t *ret_row)
{
	struct sts_db_stmt *st = ing->ins_quar;
	int64_t now = sts_db_now(ing->db);
	sts_db_reset(st);
	sts_db_bind_text(st, 1, pt->qkey);
	sts_db_bind_int(st, 2, now);
	sts_db_bind_int(st, 3, now);
	sts_db_bind_text(st, 4, sts_ingest_channel_name(p->ch));
	sts_db_bind_text(st, 5, p->source);
	sts_db_bind_text(st, 6, pt->qreason);
	sts_db_bind_int(st, 7, (int64_t)pt->qsize);
	sts_db_bind_text(st, 8, pt->qdata ? pt->qformat : NULL);
	bind_blob(st, 9, pt->qdata, pt->qlen);
	int rc = sts_db_step(st);
	if (rc == STS_DB_ROW)
		*ret_row = sts_db_col_int(st, 0);
	while (rc == STS_DB_ROW)
		rc = sts_db_step(st);
	sts_db_reset(st);
	return rc == STS_DB_DONE ? STS_OK : db_fail(ing, "quarantine");
}

/*
 * The deduplication key: of the reporter (reporter != NULL), whoever the
 * report says it is; else of the organisation name, compared
 * case-insensitively. One reporter's report cannot take another's key.
 */
static int dedup_key(const struct sts_tlsrpt_report *rep, const char *reporter, struct sts_buf *k)
{
	const char *org = rep->organization ? rep->organization : "";
	int r = sts_buf_puts(k, reporter ? "reporter-" : "");
	if (r == STS_OK)
		r = sts_buf_puts(k, rep->report_id ? "id\n" : "range\n");
	if (reporter)
		r = r ? r : sts_buf_puts(k, reporter);
	for (const char *c = org; !reporter && r == STS_OK && *c; c++)
		r = sts_buf_putc(k, (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c));
	if (r < 0)
		return r;
	if (rep->report_id) {
		r = sts_buf_putc(k, '\n');
		return r ? r : sts_buf_puts(k, rep->report_id);
	}
	r = sts_buf_printf(k, "\n%lld\n%lld", (long long)rep->start, (long long)rep->end);
	/* policy domains, sorted and unique */
	const char **d = calloc(rep->n_policies + 1, sizeof(*d));
	size_t n = 0;
	if (!d)
		return STS_ENOMEM;
	for (size_t i = 0; i < rep->n_policies; i++)
		d[n++] = rep->policies[i].policy_domain ? rep->policies[i].policy_domain : "";
	qsort(d, n, sizeof(*d), cmp_str);
	for (size_t i = 0; r == STS_OK && i < n; i++)
		if ((i == 0 || strcmp(d[i], d[i - 1]) != 0) &&
		    (r = sts_buf_putc(k, '\n')) == STS_OK)
			r = sts_buf_puts(k, d[i]);
	free(d);
	return r;
}

/* the policy domains of a report, space-separated, in report order, unique */
static int domains_text(const struct sts_tlsrpt_report *rep, const char *hint, struct sts_buf *b)
{
	int r = sts_buf_puts(b, "");
	for (size_t i = 0; r == STS_OK && i < rep->n_policies; i++) {
		const char *d = rep->policies[i].policy_domain;
		if (!d)
			d = hint ? hint : "";
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *e = rep->policies[j].policy_domain;
			seen = strcmp(e ? e : hint ? hint : "", d) == 0;
		}
		if (!seen && *d && (r = b->len ? sts_buf_putc(b, ' ') : STS_OK) == STS_OK)
			r = sts_buf_puts(b, d);
	}
	return r;
}

/* how good a copy is: listed reporter > other signer > pending > unauthenticated */
static int copy_rank(const struct sts_ingest *ing, bool auth, bool pending, const char *reporter)
{
	if (auth)
		return sts_reporters_has(ing->conf->reporters, reporter) ? 3 : 2;
	return pending ? 1 : 0;
}

static void bind_report(struct sts_db_stmt *st, struct sts_ingest *ing, const struct ing_prep *p,
			const struct ing_part *pt, const char *key, const char *org_key,
			const char *day, const char *doms, int64_t succ, int64_t failed)
{
	const struct sts_tlsrpt_report *rep = pt->rep;
	sts_db_reset(st);
	if (key)
		sts_db_bind_text(st, 1, key);
	sts_db_bind_text(st, 2, rep->organization);
	sts_db_bind_text(st, 3, rep->report_id);
	sts_db_bind_text(st, 4, rep->contact_info);
	sts_db_bind_int(st, 5, rep->start);
	sts_db_bind_int(st, 6, rep->end);
	sts_db_bind_text(st, 7, day);
	sts_db_bind_text(st, 8, doms);
	sts_db_bind_int(st, 9, sts_db_now(ing->db));
	sts_db_bind_text(st, 10, sts_ingest_channel_name(p->ch));
	sts_db_bind_text(st, 11, p->source);
	sts_db_bind_int(st, 12, p->authenticated);
	sts_db_bind_text(st, 13, p->auth_reason);
	sts_db_bind_int(st, 14, succ);
	sts_db_bind_int(st, 15, failed);
	sts_db_bind_text(st, 16, pt->warnings ? pt->warnings : "");
	sts_db_bind_int(st, 17, (int64_t)pt->gz_len);
	sts_db_bind_text(st, 18, p->authenticated ? p->identity : NULL);
	sts_db_bind_int(st, 19, p->pending);
	sts_db_bind_text(st, 20, p->domain_hint);
	sts_db_bind_text(st, 21, org_key);
}

static int step_done(struct sts_ingest *ing, struct sts_db_stmt *st, const char *what)
{
	int r = sts_db_step(st) == STS_DB_DONE ? STS_OK : db_fail(ing, what);
	sts_db_reset(st);
	return r;
}

/* the message of a pending report, kept to verify it again */
static int keep_pending(struct sts_ingest *ing, const struct ing_prep *p, int64_t row)
{
	struct sts_db_stmt *st = p->pending ? ing->ins_pending : ing->del_pending;
	sts_db_reset(st);
	sts_db_bind_int(st, 1, row);
	if (p->pending) {
		sts_db_bind_text(st, 2, sts_ingest_channel_name(p->ch));
		sts_db_bind_text(st, 3, p->source);
		sts_db_bind_blob(st, 4, p->msg_gz, p->msg_gz_len);
	}
	return step_done(ing, st, "pending report");
}

struct stored_copy {
	int64_t row;
	bool auth, pending;
	char *reporter, *day, *hint;
	struct sts_tlsrpt_report *rep; /* NULL when its raw report is gone (retention) */
};

static void stored_copy_release(struct stored_copy *c)
{
	free(c->reporter);
	free(c->day);
	free(c->hint);
	sts_tlsrpt_report_free(c->rep);
}

static char *col_dup(struct sts_db_stmt *st, int i, int *r)
{
	const char *t = sts_db_col_text(st, i);
	char *s = t ? strdup(t) : NULL;
	if (t && !s)
		*r = STS_ENOMEM;
	return s;
}

/*
 * The stored copy of a report, if any: a signed copy with a reporter is
 * looked for under its reporter's key, then under its organisation's key
 * among the copies still keyed so that it may replace (unauthenticated,
 * pending, or of the same reporter); any other copy under its organisation's
 * key, first one still keyed so, then one of a reporter (c->row 0: none).
 */
static int read_stored(struct sts_ingest *ing, const char *key, const char *org_key,
		       const char *reporter, struct stored_copy *c)
{
	struct sts_db_stmt *st = reporter ? ing->sel_dup : ing->sel_dup_org;
	int r = STS_OK;
	memset(c, 0, sizeof(*c));
	sts_db_reset(st);
	sts_db_bind_text(st, 1, reporter ? key : org_key);
	if (!reporter)
		sts_db_bind_text(st, 2, NULL);
	int rc = sts_db_step(st);
	if (rc != STS_DB_ROW && reporter) {
		sts_db_reset(st);
		st = ing->sel_dup_org;
		sts_db_reset(st);
		sts_db_bind_text(st, 1, org_key);
		sts_db_bind_text(st, 2, reporter);
		rc = sts_db_step(st);
	}
	if (rc == STS_DB_ROW) {
		c->row = sts_db_col_int(st, 0);
		c->auth = sts_db_col_int(st, 1) != 0;
		c->pending = sts_db_col_int(st, 2) != 0;
		c->reporter = col_dup(st, 3, &r);
		c->day = col_dup(st, 4, &r);
		c->hint = col_dup(st, 5, &r);
		size_t n;
		const void *gz = sts_db_col_blob(st, 6, &n);
		if (gz && n > 0 &&
		    sts_tlsrpt_parse_blob(gz, (size_t)n, &c->rep, NULL) == STS_ENOMEM)
			r = STS_ENOMEM;
	} else if (rc != STS_DB_DONE)
		r = db_fail(ing, "find report");
	sts_db_reset(st);
	return r;
}

static int store_report(struct sts_ingest *ing, const struct ing_prep *p, const struct ing_part *pt,
			enum sts_ingest_outcome *oc, int64_t *ret_row)
{
	const struct sts_tlsrpt_report *rep = pt->rep;
	struct sts_buf key, okey, doms;
	struct stored_copy old = {0};
	char day[16];
	struct tm tm;
	time_t start = rep->start;
	int64_t succ = 0, failed = 0;
	int r;
	sts_buf_init(&key, 64 * 1024);
	sts_buf_init(&okey, 64 * 1024);
	sts_buf_init(&doms, 64 * 1024);
	gmtime_r(&start, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	for (size_t i = 0; i < rep->n_policies; i++) {
		succ += rep->policies[i].success_count;
		failed += sts_tlsrpt_policy_failed_sessions(&rep->policies[i]);
	}
	const char *reporter = p->authenticated ? p->identity : NULL;
	/* keyed by its reporter when it has one, else by its organisation */
	const char *keyed_by = reporter && *reporter ? reporter : NULL;
	if ((r = dedup_key(rep, NULL, &okey)) < 0 ||
	    (keyed_by && (r = dedup_key(rep, keyed_by, &key)) < 0) ||
	    (r = domains_text(rep, p->domain_hint, &doms)) < 0)
		goto out;
	const char *k = keyed_by ? key.data : okey.data;
	if ((r = read_stored(ing, k, okey.data, keyed_by, &old)) < 0)
		goto out;
	struct sts_db_stmt *st = ing->ins_report;
	if (!old.row) {
		bind_report(st, ing, p, pt, k, okey.data, day, sts_buf_str(&doms), succ, failed);
		/* one row: its id; none: the key is taken (a conflict, DO NOTHING) */
		if (sts_db_step(st) != STS_DB_ROW) {
			r = db_fail(ing, "store report");
			goto out;
		}
		*ret_row = sts_db_col_int(st, 0);
		if (sts_db_step(st) != STS_DB_DONE) {
			r = db_fail(ing, "store report");
			goto out;
		}
		sts_db_reset(st);
		*oc = STS_INGEST_STORED;
		st = ing->ins_raw;
		sts_db_reset(st);
		sts_db_bind_int(st, 1, *ret_row);
		bind_blob(st, 2, pt->gz, pt->gz_len);
		r = step_done(ing, st, "store raw report");
		if (r == STS_OK && p->pending)
			r = keep_pending(ing, p, *ret_row);
		if (r == STS_OK)
			r = agg_report(ing, rep, day, p->domain_hint, p->authenticated, reporter,
				       1);
		goto out;
	}
	/*
	 * Seen before: counted once, and the better copy is kept. A copy of a
	 * listed reporter replaces any other, a signed one an unsigned or
	 * pending one; a worse or equal copy never changes the stored one.
	 * (A copy of another reporter is another report: read_stored().)
	 */
	*oc = STS_INGEST_DUPLICATE;
	*ret_row = old.row;
	if (copy_rank(ing, p->authenticated, p->pending, reporter) <=
	    copy_rank(ing, old.auth, old.pending, old.reporter))
		goto out;
	if (!old.rep)
		goto out; /* its raw report is gone: its counts cannot be taken back */
	r = agg_report(ing, old.rep, old.day ? old.day : day, old.hint, old.auth, old.reporter, -1);
	if (r < 0)
		goto out;
	st = ing->upd_auth;
	bind_report(st, ing, p, pt, NULL, okey.data, day, sts_buf_str(&doms), succ, failed);
	sts_db_bind_int(st, 1, old.row);
	sts_db_bind_text(st, 22, keyed_by ? key.data : NULL); /* now its reporter's */
	if ((r = step_done(ing, st, "replace report")) < 0)
		goto out;
	st = ing->upd_raw;
	sts_db_reset(st);
	sts_db_bind_int(st, 1, old.row);
	bind_blob(st, 2, pt->gz, pt->gz_len);
	if ((r = step_done(ing, st, "replace raw report")) < 0)
		goto out;
	if (p->pending || old.pending)
		r = keep_pending(ing, p, old.row);
	if (r == STS_OK)
		r = agg_report(ing, rep, day, p->domain_hint, p->authenticated, reporter, 1);
	*oc = STS_INGEST_UPGRADED;
out:
	stored_copy_release(&old);
	sts_buf_release(&key);
	sts_buf_release(&okey);
	sts_buf_release(&doms);
	return r;
}

static int rank(enum sts_ingest_outcome o)
{
	switch (o) {
	case STS_INGEST_REFUSED:
		return 5;
	case STS_INGEST_QUARANTINED:
		return 4;
	case STS_INGEST_SKIPPED:
		return 3;
	case STS_INGEST_DUPLICATE:
		return 2;
	case STS_INGEST_UPGRADED:
		return 1;
	case STS_INGEST_STORED:
		break;
	}
	return 0;
}

STS_API int sts_ingest_quota_used(struct sts_db *db, long long *ret_n, long long *ret_bytes)
{
	static const char q[] =
	    "SELECT n + (SELECT count(*) FROM tlsrpt_quarantine),"
	    "       b + (SELECT COALESCE(SUM(size), 0) FROM tlsrpt_quarantine)"
	    "         + (SELECT COALESCE(SUM(length(msg)), 0) FROM tlsrpt_pending)"
	    " FROM (SELECT count(*) AS n, COALESCE(SUM(raw_size), 0) AS b FROM tlsrpt_reports"
	    "       WHERE authenticated = 0) AS u";
	struct sts_db_stmt *st = NULL;
	int r = STS_EDB;
	sts_db_hold(db);
	if (sts_db_prepare(db, q, &st) == STS_OK && sts_db_step(st) == STS_DB_ROW) {
		*ret_n = sts_db_col_int(st, 0);
		*ret_bytes = sts_db_col_int(st, 1);
		r = STS_OK;
	}
	sts_db_finalize(st);
	sts_db_unhold(db);
	return r;
}

/*
 * A pending input keeps its message (up to 20 MiB) for days: past the
 * storage quota for unauthenticated input (reports.https.quota_*, the
 * receiver's) it is refused, before anything is stored, and left in its
 * source for a later run, as the receiver answers 503. Counted at the first
 * pending input of the run (in the transaction: this run's batch included),
 * then what this run stores is added (ing_store()).
 */
static int quota_refuses(struct sts_ingest *ing, const struct ing_prep *p, bool *ret)
{
	*ret = false;
	if (!p->pending)
		return STS_OK;
	if (!ing->q_counted) {
		if (sts_ingest_quota_used(ing->db, &ing->q_n, &ing->q_bytes) < 0)
			return db_fail(ing, "storage quota");
		ing->q_counted = true;
	}
	long long maxr = ing->conf->https.quota_reports > 0 ? ing->conf->https.quota_reports
							    : STS_INGEST_QUOTA_REPORTS;
	long long maxb = ing->conf->https.quota_bytes > 0 ? ing->conf->https.quota_bytes
							  : STS_INGEST_QUOTA_BYTES;
	long long len = (long long)p->msg_gz_len;
	for (size_t i = 0; i < p->n_parts; i++)
		len += (long long)(p->parts[i].rep ? p->parts[i].gz_len : p->parts[i].qsize);
	*ret = ing->q_n >= maxr || ing->q_bytes + len > maxb;
	return STS_OK;
}

/* once counted, what is stored unauthenticated adds to the quota */
static void quota_add(struct sts_ingest *ing, const struct ing_prep *p, const struct ing_part *pt,
		      enum sts_ingest_outcome oc)
{
	if (!ing->q_counted)
		return;
	if (oc == STS_INGEST_QUARANTINED) {
		ing->q_n++;
		ing->q_bytes += (long long)pt->qsize;
	} else if (oc == STS_INGEST_STORED && !p->authenticated) {
		ing->q_n++;
		ing->q_bytes += (long long)pt->gz_len;
	}
	if (p->pending && (oc == STS_INGEST_STORED || oc == STS_INGEST_UPGRADED))
		ing->q_bytes += (long long)p->msg_gz_len;
}

int ing_store(struct sts_ingest *ing, struct ing_prep *p, enum sts_ingest_outcome *ret)
{
	enum sts_ingest_outcome worst = STS_INGEST_STORED;
	int r = STS_OK;
	bool refuse = false;
	if (p->skip_reason) {
		ing->st.skipped++;
		emit(ing, p, NULL, STS_INGEST_SKIPPED, 0);
		*ret = STS_INGEST_SKIPPED;
		return STS_OK;
	}
	if ((r = begin(ing)) < 0)
		return r;
	if ((r = quota_refuses(ing, p, &refuse)) < 0) {
		ing_rollback(ing);
		return r;
	}
	if (refuse) {
		/* not stored, not marked processed: read again by a later run */
		ing->st.refused++;
		struct ing_prep q = *p;
		q.skip_reason = "the storage quota for unauthenticated input is full (pending "
				"DKIM verification): left in its source for a later run";
		emit(ing, &q, NULL, STS_INGEST_REFUSED, 0);
		*ret = STS_INGEST_REFUSED;
		return STS_OK;
	}
	for (size_t i = 0; i < p->n_parts && r == STS_OK; i++) {
		struct ing_part *pt = &p->parts[i];
		enum sts_ingest_outcome oc = STS_INGEST_QUARANTINED;
		int64_t row = 0;
		r = pt->rep ? store_report(ing, p, pt, &oc, &row)
			    : store_quarantine(ing, p, pt, &row);
		if (r < 0)
			break;
		ing->batch_n++;
		switch (oc) {
		case STS_INGEST_STORED:
			ing->st.stored++;
			break;
		case STS_INGEST_DUPLICATE:
			ing->st.duplicates++;
			break;
		case STS_INGEST_UPGRADED:
			ing->st.upgraded++;
			break;
		default:
			ing->st.quarantined++;
		}
		if (rank(oc) > rank(worst))
			worst = oc;
		quota_add(ing, p, pt, oc);
		emit(ing, p, pt, oc, row);
	}
	if (r == STS_OK && p->done_from && p->done_to) {
		r = ing_paths_add(&ing->ren, p->done_from, p->done_to);
		p->done_from = p->done_to = NULL;
	}
	if (r == STS_OK && ing->batch_n >= ing->batch_max)
		r = ing_commit(ing);
	if (r < 0) {
		ing_rollback(ing);
		return r;
	}
	*ret = worst;
	return STS_OK;
}

/* ---- reporter identities of older reports, and pending verifications ---- */

/* the signing domain a stored auth_reason names ("dkim pass d=X s=..",
 * "authentication-results of trusted 'id': dkim=pass header.d=X"), or NULL */
static char *signer_of(const char *reason)
{
	static const char *const pre[] = {"dkim pass d=", "dkim=pass header.d="};
	for (size_t i = 0; reason && i < sizeof(pre) / sizeof(pre[0]); i++) {
		const char *d = strstr(reason, pre[i]);
		if (d && (i == 1 || d == reason)) {
			d += strlen(pre[i]);
			return strndup(d, strcspn(d, " ,;"));
		}
	}
	return NULL;
}

/* the domain_hint of an older report: its domain that no policy entry names */
static char *hint_of(const struct sts_tlsrpt_report *rep, const char *domains)
{
	bool unnamed = false;
	for (size_t i = 0; i < rep->n_policies; i++)
		unnamed |= !rep->policies[i].policy_domain;
	if (!unnamed || !domains)
		return NULL;
	for (const char *t = domains; *t;) {
		size_t n = strcspn(t, " ");
		bool named = false;
		for (size_t i = 0; i < rep->n_policies && !named; i++) {
			const char *d = rep->policies[i].policy_domain;
			named = d && strlen(d) == n && strncmp(d, t, n) == 0;
		}
		if (n && !named)
			return strndup(t, n);
		t += n + (t[n] == ' ');
	}
	return NULL;
}

static int ids_of(struct sts_db *db, const char *sql, int64_t **ret, size_t *ret_n)
{
	struct sts_db_stmt *st;
	int64_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	if (sts_db_prepare(db, sql, &st) != STS_OK)
		return STS_EDB;
	while ((rc = sts_db_step(st)) == STS_DB_ROW) {
		if (sts_array_grow(&v, n, &cap, sizeof(*v), 256) < 0) {
			rc = STS_ENOMEM;
			break;
		}
		v[n++] = sts_db_col_int(st, 0);
	}
	sts_db_finalize(st);
	if (rc != STS_DB_DONE) {
		free(v);
		return rc == STS_ENOMEM ? STS_ENOMEM : STS_EDB;
	}
	*ret = v;
	*ret_n = n;
	return STS_OK;
}

/* one older report: its reporter from its signature result, its counts moved to it */
static int rederive_one(struct sts_ingest *ing, struct sts_db_stmt *sel, struct sts_db_stmt *upd,
			int64_t id)
{
	int r = STS_OK;
	char *signer = NULL, *reporter = NULL, *day = NULL, *hint = NULL;
	struct sts_tlsrpt_report *rep = NULL;
	sts_db_reset(sel);
	sts_db_bind_int(sel, 1, id);
	if (sts_db_step(sel) != STS_DB_ROW) {
		sts_db_reset(sel);
		return STS_OK;
	}
	bool auth = sts_db_col_int(sel, 0) != 0;
	if (auth)
		signer = signer_of(sts_db_col_text(sel, 1));
	day = col_dup(sel, 2, &r);
	size_t n;
	const void *gz = sts_db_col_blob(sel, 4, &n);
	if (gz && n > 0 && sts_tlsrpt_parse_blob(gz, (size_t)n, &rep, NULL) == STS_ENOMEM)
		r = STS_ENOMEM;
	if (rep)
		hint = hint_of(rep, sts_db_col_text(sel, 3));
	sts_db_reset(sel);
	if (r == STS_OK && signer && rep && day)
		r = sts_reporters_orgdomain(signer, &reporter) == STS_ENOMEM ? STS_ENOMEM : STS_OK;
	/* attributed only when its counts can be moved: else it stops counting */
	if (r == STS_OK && reporter) {
		r = agg_report(ing, rep, day, hint, true, "", -1);
		if (r == STS_OK)
			r = agg_report(ing, rep, day, hint, true, reporter, 1);
	}
	if (r == STS_OK) {
		sts_db_reset(upd);
		sts_db_bind_text(upd, 1, reporter);
		sts_db_bind_text(upd, 2, hint);
		sts_db_bind_int(upd, 3, id);
		r = step_done(ing, upd, "re-derive reporter");
	}
	free(signer);
	free(reporter);
	free(day);
	free(hint);
	sts_tlsrpt_report_free(rep);
	return r;
}

int ing_rederive(struct sts_db *db)
{
	struct sts_ingest ing;
	struct sts_db_stmt *sel = NULL, *upd = NULL;
	int64_t *ids = NULL;
	size_t n = 0;
	memset(&ing, 0, sizeof(ing));
	ing.db = db;
	sts_db_hold(db);
	int r = ids_of(db, "SELECT id FROM tlsrpt_reports WHERE identity_v = 0", &ids, &n);
	sts_db_unhold(db);
	if (r < 0 || n == 0)
		goto out;
	if ((r = ing_stmts_prepare(&ing)) < 0)
		goto out;
	sts_db_hold(db);
	if (sts_db_prepare(db,
			   "SELECT authenticated, auth_reason, day, domains, gz FROM tlsrpt_reports"
			   " LEFT JOIN tlsrpt_raw ON report = id WHERE id = ?",
			   &sel) != STS_OK ||
	    sts_db_prepare(db,
			   "UPDATE tlsrpt_reports SET reporter = ?, domain_hint = ?,"
			   " identity_v = 1 WHERE id = ?",
			   &upd) != STS_OK)
		r = db_fail(&ing, "re-derive reporters");
	sts_db_unhold(db);
	if (r == STS_OK)
		r = begin(&ing);
	for (size_t i = 0; r == STS_OK && i < n; i++)
		r = rederive_one(&ing, sel, upd, ids[i]);
	if (r == STS_OK)
		r = ing_commit(&ing);
	else
		ing_rollback(&ing);
out:
	sts_db_finalize(sel);
	sts_db_finalize(upd);
	ing_stmts_finalize(&ing);
	free(ids);
	return r;
}

static enum sts_ingest_channel channel_of(const char *name)
{
	static const enum sts_ingest_channel v[] = {STS_CH_EML, STS_CH_MAILDIR, STS_CH_IMAP};
	for (size_t i = 0; name && i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(name, sts_ingest_channel_name(v[i])) == 0)
			return v[i];
	return STS_CH_EML;
}

/* verify one pending report's message again; *still: it stays pending */
static int recheck_one(struct sts_ingest *ing, struct sts_db_stmt *sel, int64_t id, bool *still)
{
	struct ing_prep p;
	char *msg = NULL, *source = NULL;
	size_t len = 0;
	int r = STS_OK;
	bool pending = false;
	enum sts_ingest_channel ch = STS_CH_EML;
	*still = false;
	memset(&p, 0, sizeof(p));
	sts_db_reset(sel);
	sts_db_bind_int(sel, 1, id);
	if (sts_db_step(sel) == STS_DB_ROW) {
		ch = channel_of(sts_db_col_text(sel, 0));
		source = col_dup(sel, 1, &r);
		pending = sts_db_col_int(sel, 3) != 0;
		size_t n;
		const void *gz = sts_db_col_blob(sel, 2, &n);
		if (pending && gz && n > 0 &&
		    sts_gzip_inflate(gz, (size_t)n, ING_MSG_CAP, &msg, &len, NULL) == STS_ENOMEM)
			r = STS_ENOMEM;
	}
	sts_db_reset(sel);
	if (r == STS_OK && pending && msg)
		r = ing_prep_message(ing, msg, len, ch, source, &p);
	if (r < 0)
		goto out;
	if (pending && msg && p.pending) {
		*still = true; /* the key lookup failed again for now */
		goto out;
	}
	if ((r = begin(ing)) < 0)
		goto out;
	if (pending && msg && p.authenticated) {
		enum sts_ingest_outcome oc;
		r = ing_store(ing, &p, &oc); /* the better copy replaces the pending one */
	}
	/* a permanent verdict (or nothing left to verify): no longer pending */
	struct sts_db_stmt *st = NULL;
	if (r == STS_OK &&
	    sts_db_prepare(ing->db,
			   "UPDATE tlsrpt_reports SET pending = 0,"
			   " auth_reason = coalesce(?, auth_reason) WHERE id = ? AND pending = 1",
			   &st) == STS_OK) {
		sts_db_bind_text(st, 1, p.authenticated ? NULL : p.auth_reason);
		sts_db_bind_int(st, 2, id);
		r = step_done(ing, st, "pending report");
	} else if (r == STS_OK) {
		r = db_fail(ing, "pending report");
	}
	sts_db_finalize(st);
	if (r == STS_OK) {
		st = ing->del_pending;
		sts_db_reset(st);
		sts_db_bind_int(st, 1, id);
		r = step_done(ing, st, "pending report");
	}
out:
	ing_prep_release(&p);
	free(msg);
	free(source);
	return r;
}

/*
 * A signer controls its own DNS and can make its key lookups fail for ever:
 * a pending report becomes unauthenticated after STS_PENDING_MAX_DAYS, and a
 * run verifies at most STS_PENDING_PER_RUN of them within
 * STS_PENDING_BUDGET_S seconds (the rest wait for the next run).
 */
static int expire_pending(struct sts_ingest *ing)
{
	struct sts_db_stmt *st = NULL;
	int r = begin(ing);
	if (r == STS_OK &&
	    sts_db_prepare(ing->db,
			   "UPDATE tlsrpt_reports SET pending = 0, auth_reason = auth_reason ||"
			   " '; still no key after ' || ?2 || ' days: not authenticated'"
			   " WHERE pending = 1 AND received < ?1",
			   &st) != STS_OK)
		r = db_fail(ing, "expire pending reports");
	if (r == STS_OK) {
		sts_db_bind_int(st, 1, sts_db_now(ing->db) - STS_PENDING_MAX_DAYS * 86400LL);
		sts_db_bind_int(st, 2, STS_PENDING_MAX_DAYS);
		r = step_done(ing, st, "expire pending reports");
	}
	sts_db_finalize(st);
	if (r == STS_OK && sts_db_execf(ing->db,
					"DELETE FROM tlsrpt_pending WHERE report IN"
					" (SELECT id FROM tlsrpt_reports WHERE pending = 0)",
					"") != STS_OK)
		r = db_fail(ing, "expire pending reports");
	return r;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

STS_API int sts_ingest_recheck_pending(struct sts_ingest *ing, size_t *ret_n)
{
	int64_t *ids = NULL;
	size_t n = 0;
	struct sts_db_stmt *sel = NULL;
	double t0 = mono_s();
	int r = expire_pending(ing);
	if (r == STS_OK)
		r = ing_commit(ing);
	if (r < 0)
		return r;
	sts_db_hold(ing->db);
	char sql[96];
	snprintf(sql, sizeof(sql), "SELECT report FROM tlsrpt_pending ORDER BY report LIMIT %d",
		 STS_PENDING_PER_RUN);
	r = ids_of(ing->db, sql, &ids, &n);
	if (r == STS_OK && n &&
	    sts_db_prepare(ing->db,
			   "SELECT p.channel, p.source, p.msg, r.pending FROM tlsrpt_pending p"
			   " JOIN tlsrpt_reports r ON r.id = p.report WHERE p.report = ?",
			   &sel) != STS_OK)
		r = db_fail(ing, "pending reports");
	sts_db_unhold(ing->db);
	/* DKIM alone decides: no source vouches for a message read back from the DB */
	bool trusted_files = ing->o.trusted_files, src_trusted = ing->src_trusted;
	ing->o.trusted_files = ing->src_trusted = false;
	for (size_t i = 0; r == STS_OK && i < n; i++) {
		bool still = false;
		if (mono_s() - t0 > STS_PENDING_BUDGET_S)
			break; /* the rest at the next run */
		r = recheck_one(ing, sel, ids[i], &still);
	}
	ing->o.trusted_files = trusted_files;
	ing->src_trusted = src_trusted;
	sts_db_finalize(sel);
	free(ids);
	if (r == STS_OK)
		r = ing_commit(ing);
	else
		ing_rollback(ing);
	/* what is left, the ones not read in this run included */
	if (r == STS_OK && ret_n) {
		int64_t *left = NULL;
		size_t k = 0;
		sts_db_hold(ing->db);
		r = ids_of(ing->db, "SELECT report FROM tlsrpt_pending", &left, &k);
		sts_db_unhold(ing->db);
		free(left);
		*ret_n = k;
	}
	return r;
}

/* ---- retention ---- */

static int count_or_delete(struct sts_db *db, const char *count_sql, const char *del_sql,
			   int64_t arg_i, const char *arg_s, bool dry_run, size_t *ret)
{
	struct sts_db_stmt *st;
	if (sts_db_prepare(db, dry_run ? count_sql : del_sql, &st) != STS_OK)
		return STS_EDB;
	if (arg_s)
		sts_db_bind_text(st, 1, arg_s);
	else
		sts_db_bind_int(st, 1, arg_i);
	int rc = sts_db_step(st);
	if (dry_run && rc == STS_DB_ROW)
		*ret = (size_t)sts_db_col_int(st, 0);
	else if (!dry_run && rc == STS_DB_DONE)
		*ret = (size_t)sts_db_changes(st);
	else
		rc = STS_EDB;
	sts_db_finalize(st);
	return rc == STS_EDB ? STS_EDB : STS_OK;
}

STS_API int sts_ingest_prune(struct sts_db *db, const struct sts_ingest_retention *keep,
			     bool dry_run, struct sts_ingest_pruned *ret)
{
	struct sts_ingest_pruned res = {0};
	int64_t now = sts_db_now(db);
	int r = sts_ingest_schema(db);
	if (r < 0)
		return r;
	if ((r = sts_db_begin(db)) < 0)
		return r;
	/* raw reports go with the shorter period (report rows take theirs along) */
	unsigned raw_days = keep->raw_days;
	if (keep->report_days && (!raw_days || keep->report_days < raw_days))
		raw_days = keep->report_days;
	if (raw_days)
		r = count_or_delete(db,
				    "SELECT count(*) FROM tlsrpt_raw WHERE report IN"
				    " (SELECT id FROM tlsrpt_reports WHERE end < ?)",
				    "DELETE FROM tlsrpt_raw WHERE report IN"
				    " (SELECT id FROM tlsrpt_reports WHERE end < ?)",
				    now - (int64_t)raw_days * 86400, NULL, dry_run, &res.raw);
	if (r == STS_OK && keep->report_days) {
		int64_t cut = now - (int64_t)keep->report_days * 86400;
		char day[16];
		time_t t = (time_t)cut;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		r = count_or_delete(db, "SELECT count(*) FROM tlsrpt_reports WHERE end < ?",
				    "DELETE FROM tlsrpt_reports WHERE end < ?", cut, NULL, dry_run,
				    &res.reports);
		if (r == STS_OK)
			r = count_or_delete(db, "SELECT count(*) FROM tlsrpt_daily WHERE day < ?",
					    "DELETE FROM tlsrpt_daily WHERE day < ?", 0, day,
					    dry_run, &res.daily);
		if (r == STS_OK)
			r = count_or_delete(db,
					    "SELECT count(*) FROM tlsrpt_failures WHERE day < ?",
					    "DELETE FROM tlsrpt_failures WHERE day < ?", 0, day,
					    dry_run, &res.failures);
	}
	if (r == STS_OK && keep->quarantine_days)
		r = count_or_delete(
		    db, "SELECT count(*) FROM tlsrpt_quarantine WHERE last_seen < ?",
		    "DELETE FROM tlsrpt_quarantine WHERE last_seen < ?",
		    now - (int64_t)keep->quarantine_days * 86400, NULL, dry_run, &res.quarantine);
	if (r < 0 || dry_run) {
		sts_db_rollback(db);
		if (r == STS_OK)
			*ret = res;
		return r;
	}
	if ((r = sts_db_commit(db)) == STS_OK)
		*ret = res;
	return r;
}

STS_API int sts_ingest_recheck_db(struct sts_db *db, const json_t *reports, const char *basedir,
				  size_t *ret_n)
{
	struct sts_ingest_conf *conf = NULL;
	struct sts_ingest *ing = NULL;
	char *err = NULL;
	int64_t *ids = NULL;
	size_t n = 0;
	/* nothing pending (the usual case): no DKIM library, no resolver */
	sts_db_hold(db);
	int r = ids_of(db, "SELECT report FROM tlsrpt_pending LIMIT 1", &ids, &n);
	sts_db_unhold(db);
	free(ids);
	if (r < 0 || n == 0) {
		if (ret_n)
			*ret_n = 0;
		return r == STS_EDB ? STS_OK : r; /* no report tables yet */
	}
	if ((r = sts_ingest_conf_from_json(reports, basedir, &conf, &err)) < 0)
		goto out;
	struct sts_ingest_opts o = {.conf = conf};
	if ((r = sts_ingest_new(db, &o, &ing)) == STS_OK)
		r = sts_ingest_recheck_pending(ing, ret_n);
out:
	sts_ingest_free(ing);
	sts_ingest_conf_free(conf);
	free(err);
	return r;
}
