/* SPDX-License-Identifier: MIT */
/*
 * The hosted store: policies, certificates, the ACME account and the serve
 * instances of the hosted MTA-STS service in the state DB (component
 * "hosted", docs/state.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "sts_buf.h"
#include "sts_diag_json.h"
#include "sts_err.h"
#include "sts_hosted_store.h"

/* The generation is bumped by triggers; a failure record does not change
 * what serve serves, so only a new chain or key bumps it for certificates.
 * SQLite's triggers hold the UPDATE; PostgreSQL's call one function. */
#define BUMP	" BEGIN UPDATE hosted_generation SET gen = gen + 1 WHERE id = 1; END;"
#define PG_BUMP " FOR EACH ROW EXECUTE FUNCTION hosted_bump();"
#define C	" COLLATE \"C\""

static const struct sts_db_migration migrations[] = {
    {1,
     "CREATE TABLE hosted_domains ("
     " domain TEXT PRIMARY KEY, label TEXT NOT NULL UNIQUE,"
     " since INTEGER NOT NULL, leaving_since INTEGER);"
     "CREATE TABLE hosted_policies ("
     " host TEXT PRIMARY KEY, domain TEXT NOT NULL, body BLOB NOT NULL,"
     " policy_id TEXT NOT NULL, sha256 TEXT NOT NULL, max_age INTEGER NOT NULL,"
     " max_age_ever INTEGER NOT NULL, updated INTEGER NOT NULL);"
     "CREATE TABLE hosted_certs ("
     " host TEXT PRIMARY KEY, chain_pem TEXT, key_pem TEXT, not_before INTEGER,"
     " not_after INTEGER, updated INTEGER NOT NULL, last_error TEXT,"
     " last_attempt INTEGER, next_attempt INTEGER, failures INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE hosted_acme_account ("
     " directory TEXT PRIMARY KEY, key_pem TEXT NOT NULL, kid TEXT, contact TEXT,"
     " created INTEGER NOT NULL);"
     "CREATE TABLE serve_instances ("
     " instance TEXT PRIMARY KEY, hostname TEXT, pid INTEGER, listen TEXT,"
     " started INTEGER NOT NULL, heartbeat INTEGER NOT NULL, counters TEXT);"
     "CREATE TABLE hosted_generation ("
     " id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL);"
     "INSERT INTO hosted_generation (id, gen) VALUES (1, 0);"
     "CREATE TRIGGER hosted_policies_ins AFTER INSERT ON hosted_policies" BUMP
     "CREATE TRIGGER hosted_policies_upd AFTER UPDATE ON hosted_policies" BUMP
     "CREATE TRIGGER hosted_policies_del AFTER DELETE ON hosted_policies" BUMP
     "CREATE TRIGGER hosted_certs_ins AFTER INSERT ON hosted_certs"
     " WHEN NEW.chain_pem IS NOT NULL" BUMP
     "CREATE TRIGGER hosted_certs_upd AFTER UPDATE OF chain_pem, key_pem ON hosted_certs" BUMP
     "CREATE TRIGGER hosted_certs_del AFTER DELETE ON hosted_certs" BUMP,
     "CREATE TABLE hosted_domains ("
     " domain TEXT" C " PRIMARY KEY, label TEXT" C " NOT NULL UNIQUE,"
     " since BIGINT NOT NULL, leaving_since BIGINT);"
     "CREATE TABLE hosted_policies ("
     " host TEXT" C " PRIMARY KEY, domain TEXT" C " NOT NULL, body BYTEA NOT NULL,"
     " policy_id TEXT" C " NOT NULL, sha256 TEXT" C " NOT NULL, max_age BIGINT NOT NULL,"
     " max_age_ever BIGINT NOT NULL, updated BIGINT NOT NULL);"
     "CREATE TABLE hosted_certs ("
     " host TEXT" C " PRIMARY KEY, chain_pem TEXT, key_pem TEXT, not_before BIGINT,"
     " not_after BIGINT, updated BIGINT NOT NULL, last_error TEXT,"
     " last_attempt BIGINT, next_attempt BIGINT, failures BIGINT NOT NULL DEFAULT 0);"
     "CREATE TABLE hosted_acme_account ("
     " directory TEXT" C " PRIMARY KEY, key_pem TEXT NOT NULL, kid TEXT, contact TEXT,"
     " created BIGINT NOT NULL);"
     "CREATE TABLE serve_instances ("
     " instance TEXT" C " PRIMARY KEY, hostname TEXT, pid BIGINT, listen TEXT,"
     " started BIGINT NOT NULL, heartbeat BIGINT NOT NULL, counters TEXT);"
     "CREATE TABLE hosted_generation ("
     " id BIGINT PRIMARY KEY CHECK (id = 1), gen BIGINT NOT NULL);"
     "INSERT INTO hosted_generation (id, gen) VALUES (1, 0);"
     "CREATE FUNCTION hosted_bump() RETURNS trigger LANGUAGE plpgsql AS"
     " 'BEGIN UPDATE hosted_generation SET gen = gen + 1 WHERE id = 1; RETURN NULL; END';"
     "CREATE TRIGGER hosted_policies_ins AFTER INSERT ON hosted_policies" PG_BUMP
     "CREATE TRIGGER hosted_policies_upd AFTER UPDATE ON hosted_policies" PG_BUMP
     "CREATE TRIGGER hosted_policies_del AFTER DELETE ON hosted_policies" PG_BUMP
     "CREATE TRIGGER hosted_certs_ins AFTER INSERT ON hosted_certs"
     " FOR EACH ROW WHEN (NEW.chain_pem IS NOT NULL) EXECUTE FUNCTION hosted_bump();"
     "CREATE TRIGGER hosted_certs_upd AFTER UPDATE OF chain_pem, key_pem ON hosted_certs" PG_BUMP
     "CREATE TRIGGER hosted_certs_del AFTER DELETE ON hosted_certs" PG_BUMP},
    /* the watcher's memory of the certificate condition it last posted */
    {2, "ALTER TABLE hosted_certs ADD COLUMN alerted TEXT;", NULL},
    /* an interrupted ACME order, resumed by the next renewal pass */
    {3,
     "ALTER TABLE hosted_certs ADD COLUMN order_url TEXT;"
     "ALTER TABLE hosted_certs ADD COLUMN order_key_pem TEXT;"
     "ALTER TABLE hosted_certs ADD COLUMN order_expires INTEGER;",
     "ALTER TABLE hosted_certs ADD COLUMN order_url TEXT;"
     "ALTER TABLE hosted_certs ADD COLUMN order_key_pem TEXT;"
     "ALTER TABLE hosted_certs ADD COLUMN order_expires BIGINT;"},
};

#undef C

STS_API int sts_hosted_schema(struct sts_db *db)
{
	return sts_db_migrate(db, STS_HOSTED_COMPONENT, migrations,
			      sizeof(migrations) / sizeof(migrations[0]));
}

/* a key PEM: wiped before it is freed */
static void free_key(char *pem)
{
	if (pem) {
		explicit_bzero(pem, strlen(pem));
		free(pem);
	}
}

/* a BLOB column's bytes, NUL-terminated for convenience; NULL when out of memory */
static unsigned char *blob_dup(struct sts_db_stmt *st, int i, size_t *ret_len)
{
	size_t n = 0;
	const void *b = sts_db_col_blob(st, i, &n);
	unsigned char *d = malloc(n + 1);
	if (d) {
		if (n)
			memcpy(d, b, n);
		d[n] = 0;
		*ret_len = n;
	}
	return d;
}

static char *col_dup(struct sts_db_stmt *st, int i, bool *oom)
{
	const char *s = sts_db_col_text(st, i);
	char *d;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* ---- policies ---- */

static bool sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
		return false;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return true;
}

STS_API int sts_hosted_policy_put(struct sts_db *db, const char *host, const char *domain,
				  const void *body, size_t body_len, const char *policy_id,
				  long long max_age)
{
	static const char sql[] =
	    "INSERT INTO hosted_policies (host, domain, body, policy_id, sha256, max_age,"
	    " max_age_ever, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)"
	    " ON CONFLICT (host) DO UPDATE SET domain = excluded.domain, body = excluded.body,"
	    " policy_id = excluded.policy_id, sha256 = excluded.sha256,"
	    " max_age = excluded.max_age, updated = excluded.updated,"
	    " max_age_ever = CASE WHEN hosted_policies.max_age_ever > excluded.max_age"
	    " THEN hosted_policies.max_age_ever ELSE excluded.max_age END";
	char hex[65];
	struct sts_db_stmt *st = NULL;
	int r = STS_EDB;

	if (!host || !*host || !domain || !*domain || !body || !policy_id || max_age < 0 ||
	    body_len > (size_t)INT32_MAX)
		return STS_EINVAL;
	if (!sha256_hex(body, body_len, hex))
		return STS_ENOMEM;
	sts_db_hold(db);
	if (sts_db_prepare(db, sql, &st) == STS_OK) {
		sts_db_bind_text(st, 1, host);
		sts_db_bind_text(st, 2, domain);
		sts_db_bind_blob(st, 3, body, body_len);
		sts_db_bind_text(st, 4, policy_id);
		sts_db_bind_text(st, 5, hex);
		sts_db_bind_int(st, 6, max_age);
		sts_db_bind_int(st, 7, (int64_t)sts_db_now(db));
		if (sts_db_step(st) == STS_DB_DONE)
			r = STS_OK;
	}
	sts_db_finalize(st);
	sts_db_unhold(db);
	return r;
}

static int policy_row(struct sts_db_stmt *st, void *elem)
{
	struct sts_hosted_policy *p = elem;
	bool oom = false;

	p->host = col_dup(st, 0, &oom);
	p->domain = col_dup(st, 1, &oom);
	p->body = blob_dup(st, 2, &p->body_len);
	p->policy_id = col_dup(st, 3, &oom);
	snprintf(p->sha256, sizeof(p->sha256), "%s",
		 sts_db_col_text(st, 4) ? sts_db_col_text(st, 4) : "");
	p->max_age = sts_db_col_int(st, 5);
	p->max_age_ever = sts_db_col_int(st, 6);
	p->updated = sts_db_col_int(st, 7);
	return oom || !p->body ? STS_ENOMEM : STS_OK;
}

STS_API void sts_hosted_policy_release(struct sts_hosted_policy *p)
{
	if (!p)
		return;
	free(p->host);
	free(p->domain);
	free(p->body);
	free(p->policy_id);
	memset(p, 0, sizeof(*p));
}

static void policy_release(void *elem)
{
	sts_hosted_policy_release(elem);
}

/* One row by key through sts_db_read_rows: the first element moved to ret. */
static int get_one(struct sts_db *db, const struct sts_db_rows *q, void *ret, bool *ret_found)
{
	void *v = NULL;
	size_t n = 0;
	int r = sts_db_read_rows(db, q, &v, &n);

	*ret_found = false;
	if (r < 0)
		return r;
	if (n > 0) {
		memcpy(ret, v, q->size);
		*ret_found = true;
		for (size_t i = 1; i < n; i++) /* a primary key: never more than one */
			q->release((char *)v + i * q->size);
	}
	free(v);
	return STS_OK;
}

STS_API int sts_hosted_policy_get(struct sts_db *db, const char *host,
				  struct sts_hosted_policy *ret, bool *ret_found)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT host, domain, body, policy_id, sha256, max_age, max_age_ever, updated"
		   " FROM hosted_policies WHERE host = ?1",
	    .key = host,
	    .size = sizeof(*ret),
	    .row = policy_row,
	    .release = policy_release,
	    .what = "read hosted policy",
	    .optional = true,
	};
	return get_one(db, &q, ret, ret_found);
}

STS_API int sts_hosted_policy_delete(struct sts_db *db, const char *host)
{
	return sts_db_execf(db, "DELETE FROM hosted_policies WHERE host = ?", "t", host);
}

/* ---- serve's lookup ---- */

struct sts_hosted_lookup {
	struct sts_db *db;
	struct sts_db_stmt *st; /* prepared on the first get (the tables may come later) */
};

STS_API int sts_hosted_lookup_new(struct sts_db *db, struct sts_hosted_lookup **ret)
{
	struct sts_hosted_lookup *l;
	if (!db)
		return STS_EINVAL;
	if (!(l = calloc(1, sizeof(*l))))
		return STS_ENOMEM;
	l->db = db;
	*ret = l;
	return STS_OK;
}

STS_API void sts_hosted_lookup_free(struct sts_hosted_lookup *l)
{
	if (!l)
		return;
	sts_db_hold(l->db);
	sts_db_finalize(l->st);
	sts_db_unhold(l->db);
	free(l);
}

STS_API int sts_hosted_lookup_get(struct sts_hosted_lookup *l, const char *host,
				  struct sts_hosted_served *ret, bool *ret_found)
{
	static const char sql[] = "SELECT p.body, c.chain_pem, c.key_pem FROM hosted_policies p"
				  " LEFT JOIN hosted_certs c ON c.host = p.host WHERE p.host = ?1";
	struct sts_hosted_served v = {0};
	bool oom = false;
	int rc, r = STS_EDB;

	*ret_found = false;
	if (!l || !host)
		return STS_EINVAL;
	sts_db_hold(l->db);
	if (!l->st && sts_db_prepare(l->db, sql, &l->st) != STS_OK)
		goto out;
	sts_db_bind_text(l->st, 1, host);
	if ((rc = sts_db_step(l->st)) == STS_DB_ROW) {
		v.body = blob_dup(l->st, 0, &v.body_len);
		v.chain_pem = col_dup(l->st, 1, &oom);
		v.key_pem = col_dup(l->st, 2, &oom);
		if (oom || !v.body) {
			sts_hosted_served_release(&v);
			r = STS_ENOMEM;
			goto out;
		}
		*ret = v;
		*ret_found = true;
		r = STS_OK;
	} else if (rc == STS_DB_DONE) {
		r = STS_OK;
	}
out:
	if (l->st) /* no read transaction left open between two handshakes */
		sts_db_reset(l->st);
	sts_db_unhold(l->db);
	return r;
}

STS_API void sts_hosted_served_release(struct sts_hosted_served *s)
{
	if (!s)
		return;
	free(s->body);
	free(s->chain_pem);
	free_key(s->key_pem);
	memset(s, 0, sizeof(*s));
}

/* ---- certificates ---- */

STS_API int sts_hosted_cert_put(struct sts_db *db, const char *host, const char *chain_pem,
				const char *key_pem, int64_t not_before, int64_t not_after,
				int64_t next_attempt)
{
	int64_t now = (int64_t)sts_db_now(db);
	if (!host || !*host || !chain_pem || !key_pem)
		return STS_EINVAL;
	return sts_db_execf(
	    db,
	    "INSERT INTO hosted_certs (host, chain_pem, key_pem, not_before, not_after, updated,"
	    " last_error, last_attempt, next_attempt, failures)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?6, ?7, 0)"
	    " ON CONFLICT (host) DO UPDATE SET chain_pem = excluded.chain_pem,"
	    " key_pem = excluded.key_pem, not_before = excluded.not_before,"
	    " not_after = excluded.not_after, updated = excluded.updated, last_error = NULL,"
	    " last_attempt = excluded.last_attempt, next_attempt = excluded.next_attempt,"
	    " failures = 0, order_url = NULL, order_key_pem = NULL, order_expires = NULL",
	    "tttiiii", host, chain_pem, key_pem, not_before, not_after, now, next_attempt);
}

/* A failed attempt; counted: failures + 1 (else kept). */
static int cert_failed(struct sts_db *db, const char *host, const char *error, int64_t next_attempt,
		       int64_t counted)
{
	int64_t now = (int64_t)sts_db_now(db);
	if (!host || !*host)
		return STS_EINVAL;
	return sts_db_execf(db,
			    "INSERT INTO hosted_certs (host, updated, last_error, last_attempt,"
			    " next_attempt, failures) VALUES (?1, ?2, ?3, ?2, ?4, ?5)"
			    " ON CONFLICT (host) DO UPDATE SET last_error = excluded.last_error,"
			    " last_attempt = excluded.last_attempt,"
			    " next_attempt = excluded.next_attempt,"
			    " failures = hosted_certs.failures + ?5",
			    "titii", host, now, error ? error : "unknown error", next_attempt,
			    counted);
}

STS_API int sts_hosted_cert_failure(struct sts_db *db, const char *host, const char *error,
				    int64_t next_attempt)
{
	return cert_failed(db, host, error, next_attempt, 1);
}

STS_API int sts_hosted_cert_retry(struct sts_db *db, const char *host, const char *error,
				  int64_t next_attempt)
{
	return cert_failed(db, host, error, next_attempt, 0);
}

static int cert_row(struct sts_db_stmt *st, void *elem)
{
	struct sts_hosted_cert *c = elem;
	bool oom = false;
	c->host = col_dup(st, 0, &oom);
	c->chain_pem = col_dup(st, 1, &oom);
	c->key_pem = col_dup(st, 2, &oom);
	c->not_before = sts_db_col_int(st, 3);
	c->not_after = sts_db_col_int(st, 4);
	c->updated = sts_db_col_int(st, 5);
	c->last_error = col_dup(st, 6, &oom);
	c->last_attempt = sts_db_col_int(st, 7);
	c->next_attempt = sts_db_col_int(st, 8);
	c->failures = sts_db_col_int(st, 9);
	return oom ? STS_ENOMEM : STS_OK;
}

STS_API void sts_hosted_cert_release(struct sts_hosted_cert *c)
{
	if (!c)
		return;
	free(c->host);
	free(c->chain_pem);
	free_key(c->key_pem);
	free(c->last_error);
	memset(c, 0, sizeof(*c));
}

static void cert_release(void *elem)
{
	sts_hosted_cert_release(elem);
}

STS_API int sts_hosted_cert_get(struct sts_db *db, const char *host, struct sts_hosted_cert *ret,
				bool *ret_found)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT host, chain_pem, key_pem, not_before, not_after, updated, last_error,"
		   " last_attempt, next_attempt, failures FROM hosted_certs WHERE host = ?1",
	    .key = host,
	    .size = sizeof(*ret),
	    .row = cert_row,
	    .release = cert_release,
	    .what = "read hosted certificate",
	    .optional = true,
	};
	return get_one(db, &q, ret, ret_found);
}

STS_API int sts_hosted_cert_delete(struct sts_db *db, const char *host)
{
	return sts_db_execf(db, "DELETE FROM hosted_certs WHERE host = ?", "t", host);
}

/* ---- an interrupted order ---- */

STS_API int sts_hosted_order_put(struct sts_db *db, const char *host, const char *order_url,
				 const char *key_pem, int64_t expires)
{
	if (!host || !*host || !order_url != !key_pem)
		return STS_EINVAL;
	return sts_db_execf(db,
			    "UPDATE hosted_certs SET order_url = ?2, order_key_pem = ?3,"
			    " order_expires = ?4 WHERE host = ?1",
			    "ttti", host, order_url, key_pem, order_url ? expires : (int64_t)0);
}

static int order_row(struct sts_db_stmt *st, void *elem)
{
	struct sts_hosted_order *o = elem;
	bool oom = false;
	o->url = col_dup(st, 0, &oom);
	o->key_pem = col_dup(st, 1, &oom);
	o->expires = sts_db_col_int(st, 2);
	return oom ? STS_ENOMEM : STS_OK;
}

STS_API void sts_hosted_order_release(struct sts_hosted_order *o)
{
	if (!o)
		return;
	free(o->url);
	free_key(o->key_pem);
	memset(o, 0, sizeof(*o));
}

static void order_release(void *elem)
{
	sts_hosted_order_release(elem);
}

STS_API int sts_hosted_order_get(struct sts_db *db, const char *host, struct sts_hosted_order *ret,
				 bool *ret_found)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT order_url, order_key_pem, order_expires FROM hosted_certs"
		   " WHERE host = ?1 AND order_url IS NOT NULL AND order_key_pem IS NOT NULL",
	    .key = host,
	    .size = sizeof(*ret),
	    .row = order_row,
	    .release = order_release,
	    .what = "read hosted order",
	};
	return get_one(db, &q, ret, ret_found);
}

/* ---- hosts ---- */

static int host_row(struct sts_db_stmt *st, void *elem)
{
	struct sts_hosted_host *h = elem;
	bool oom = false;
	h->host = col_dup(st, 0, &oom);
	h->domain = col_dup(st, 1, &oom);
	h->max_age_ever = sts_db_col_int(st, 2);
	h->has_cert = sts_db_col_int(st, 3) != 0;
	h->not_after = sts_db_col_int(st, 4);
	h->last_error = col_dup(st, 5, &oom);
	h->next_attempt = sts_db_col_int(st, 6);
	h->failures = sts_db_col_int(st, 7);
	return oom ? STS_ENOMEM : STS_OK;
}

static void host_release(void *elem)
{
	struct sts_hosted_host *h = elem;
	free(h->host);
	free(h->domain);
	free(h->last_error);
}

STS_API int sts_hosted_hosts(struct sts_db *db, struct sts_hosted_host **ret, size_t *ret_n)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT h.host, p.domain, p.max_age_ever,"
		   " CASE WHEN c.chain_pem IS NOT NULL THEN 1 ELSE 0 END,"
		   " c.not_after, c.last_error, c.next_attempt, c.failures"
		   " FROM (SELECT host FROM hosted_policies UNION SELECT host FROM hosted_certs) h"
		   " LEFT JOIN hosted_policies p ON p.host = h.host"
		   " LEFT JOIN hosted_certs c ON c.host = h.host ORDER BY h.host",
	    .size = sizeof(**ret),
	    .row = host_row,
	    .release = host_release,
	    .what = "read hosted hosts",
	    .optional = true,
	};
	return sts_db_read_rows(db, &q, ret, ret_n);
}

STS_API void sts_hosted_hosts_free(struct sts_hosted_host *v, size_t n)
{
	STS_ARRAY_FREE(v, n, host_release);
}

/* ---- the watcher's certificate alerts ---- */

static int alert_row(struct sts_db_stmt *st, void *elem)
{
	struct sts_hosted_alert *a = elem;
	bool oom = false;
	a->host = col_dup(st, 0, &oom);
	a->domain = col_dup(st, 1, &oom);
	a->has_cert = sts_db_col_int(st, 2) != 0;
	a->not_after = sts_db_col_int(st, 3);
	a->last_error = col_dup(st, 4, &oom);
	a->failures = sts_db_col_int(st, 5);
	a->alerted = col_dup(st, 6, &oom);
	return oom ? STS_ENOMEM : STS_OK;
}

static void alert_release(void *elem)
{
	struct sts_hosted_alert *a = elem;
	free(a->host);
	free(a->domain);
	free(a->last_error);
	free(a->alerted);
}

STS_API int sts_hosted_alerts(struct sts_db *db, struct sts_hosted_alert **ret, size_t *ret_n)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT c.host, p.domain, CASE WHEN c.chain_pem IS NOT NULL THEN 1 ELSE 0 END,"
		   " c.not_after, c.last_error,"
		   " c.failures, c.alerted FROM hosted_certs c"
		   " LEFT JOIN hosted_policies p ON p.host = c.host ORDER BY c.host",
	    .size = sizeof(**ret),
	    .row = alert_row,
	    .release = alert_release,
	    .what = "read hosted certificate alerts",
	};
	return sts_db_read_rows(db, &q, ret, ret_n);
}

STS_API void sts_hosted_alerts_free(struct sts_hosted_alert *v, size_t n)
{
	STS_ARRAY_FREE(v, n, alert_release);
}

STS_API int sts_hosted_alert_set(struct sts_db *db, const char *host, const char *condition)
{
	return sts_db_execf(db, "UPDATE hosted_certs SET alerted = ?2 WHERE host = ?1", "tt", host,
			    condition);
}

/* ---- the ACME account ---- */

STS_API int sts_hosted_account_put(struct sts_db *db, const char *directory, const char *key_pem,
				   const char *kid, const char *contact)
{
	if (!directory || !*directory || !key_pem)
		return STS_EINVAL;
	return sts_db_execf(db,
			    "INSERT INTO hosted_acme_account (directory, key_pem, kid, contact,"
			    " created) VALUES (?1, ?2, ?3, ?4, ?5)"
			    " ON CONFLICT (directory) DO UPDATE SET key_pem = excluded.key_pem,"
			    " kid = excluded.kid, contact = excluded.contact",
			    "tttti", directory, key_pem, kid, contact, (int64_t)sts_db_now(db));
}

static int account_row(struct sts_db_stmt *st, void *elem)
{
	struct sts_hosted_account *a = elem;
	bool oom = false;
	a->directory = col_dup(st, 0, &oom);
	a->key_pem = col_dup(st, 1, &oom);
	a->kid = col_dup(st, 2, &oom);
	a->contact = col_dup(st, 3, &oom);
	a->created = sts_db_col_int(st, 4);
	return oom ? STS_ENOMEM : STS_OK;
}

STS_API void sts_hosted_account_release(struct sts_hosted_account *a)
{
	if (!a)
		return;
	free(a->directory);
	free_key(a->key_pem);
	free(a->kid);
	free(a->contact);
	memset(a, 0, sizeof(*a));
}

static void account_release(void *elem)
{
	sts_hosted_account_release(elem);
}

STS_API int sts_hosted_account_get(struct sts_db *db, const char *directory,
				   struct sts_hosted_account *ret, bool *ret_found)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT directory, key_pem, kid, contact, created FROM hosted_acme_account"
		   " WHERE directory = ?1",
	    .key = directory,
	    .size = sizeof(*ret),
	    .row = account_row,
	    .release = account_release,
	    .what = "read acme account",
	    .optional = true,
	};
	return get_one(db, &q, ret, ret_found);
}

/* ---- serve instances ---- */

STS_API int sts_hosted_heartbeat(struct sts_db *db, const struct sts_serve_instance *i)
{
	if (!i || !i->instance || !*i->instance)
		return STS_EINVAL;
	return sts_db_execf(db,
			    "INSERT INTO serve_instances (instance, hostname, pid, listen, started,"
			    " heartbeat, counters) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
			    " ON CONFLICT (instance) DO UPDATE SET hostname = excluded.hostname,"
			    " pid = excluded.pid, listen = excluded.listen,"
			    " heartbeat = excluded.heartbeat, counters = excluded.counters",
			    "ttitiit", i->instance, i->hostname, i->pid, i->listen, i->started,
			    (int64_t)sts_db_now(db), i->counters);
}

static int instance_row(struct sts_db_stmt *st, void *elem)
{
	struct sts_serve_instance *i = elem;
	bool oom = false;
	i->instance = col_dup(st, 0, &oom);
	i->hostname = col_dup(st, 1, &oom);
	i->pid = sts_db_col_int(st, 2);
	i->listen = col_dup(st, 3, &oom);
	i->started = sts_db_col_int(st, 4);
	i->heartbeat = sts_db_col_int(st, 5);
	i->counters = col_dup(st, 6, &oom);
	return oom ? STS_ENOMEM : STS_OK;
}

static void instance_release(void *elem)
{
	struct sts_serve_instance *i = elem;
	free(i->instance);
	free(i->hostname);
	free(i->listen);
	free(i->counters);
}

STS_API int sts_hosted_instances(struct sts_db *db, struct sts_serve_instance **ret, size_t *ret_n)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT instance, hostname, pid, listen, started, heartbeat, counters"
		   " FROM serve_instances ORDER BY instance",
	    .size = sizeof(**ret),
	    .row = instance_row,
	    .release = instance_release,
	    .what = "read serve instances",
	    .optional = true,
	};
	return sts_db_read_rows(db, &q, ret, ret_n);
}

STS_API void sts_hosted_instances_free(struct sts_serve_instance *v, size_t n)
{
	STS_ARRAY_FREE(v, n, instance_release);
}

STS_API int sts_hosted_instances_prune(struct sts_db *db, int64_t before)
{
	return sts_db_execf(db, "DELETE FROM serve_instances WHERE heartbeat < ?", "i", before);
}

/* ---- the generation ---- */

static int gen_row(struct sts_db_stmt *st, void *elem)
{
	*(int64_t *)elem = sts_db_col_int(st, 0);
	return STS_OK;
}

static void gen_release(void *elem)
{
	(void)elem;
}

STS_API int sts_hosted_generation(struct sts_db *db, int64_t *ret)
{
	const struct sts_db_rows q = {
	    .sql = "SELECT gen FROM hosted_generation WHERE id = 1",
	    .size = sizeof(*ret),
	    .row = gen_row,
	    .release = gen_release,
	    .what = "read hosted generation",
	    .optional = true,
	};
	bool found;
	int64_t g = 0;
	int r = get_one(db, &q, &g, &found);
	if (r < 0)
		return r;
	*ret = found ? g : 0;
	return STS_OK;
}

/* ---- status ---- */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* RFC 3339 in UTC, as the rest of status writes times; null for 0 (none) */
static json_t *time_or_null(int64_t t)
{
	char out[32];
	if (!t)
		return json_null();
	sts_time_rfc3339(t, out);
	return json_string(out);
}

STS_API int sts_hosted_status_json(struct sts_db *db, json_t **ret)
{
	struct sts_serve_instance *in = NULL;
	struct sts_hosted_host *h = NULL;
	size_t n_in = 0, n_h = 0;
	json_t *o = NULL, *serve = json_array(), *hosts = json_array();
	int r;

	if ((r = sts_hosted_instances(db, &in, &n_in)) < 0 ||
	    (r = sts_hosted_hosts(db, &h, &n_h)) < 0)
		goto out;
	r = STS_ENOMEM;
	for (size_t i = 0; serve && i < n_in; i++) {
		json_t *c = in[i].counters ? json_loads(in[i].counters, 0, NULL) : NULL;
		json_array_append_new(
		    serve,
		    json_pack("{s:o,s:o,s:I,s:o,s:o,s:o,s:o}", "instance",
			      str_or_null(in[i].instance), "hostname", str_or_null(in[i].hostname),
			      "pid", (json_int_t)in[i].pid, "listen", str_or_null(in[i].listen),
			      "started", time_or_null(in[i].started), "heartbeat",
			      time_or_null(in[i].heartbeat), "counters", c ? c : json_object()));
	}
	for (size_t i = 0; hosts && i < n_h; i++) {
		json_t *cert = json_null();
		if (h[i].has_cert || h[i].last_error)
			cert = json_pack("{s:b,s:o,s:o,s:o,s:I}", "issued", h[i].has_cert,
					 "not_after", time_or_null(h[i].not_after), "last_error",
					 h[i].last_error ? sts_json_string_lossy(h[i].last_error)
							 : json_null(),
					 "next_attempt", time_or_null(h[i].next_attempt),
					 "failures", (json_int_t)h[i].failures);
		json_array_append_new(hosts,
				      json_pack("{s:s,s:o,s:I,s:o}", "host", h[i].host, "domain",
						str_or_null(h[i].domain), "max_age_ever",
						(json_int_t)h[i].max_age_ever, "certificate",
						cert ? cert : json_null()));
	}
	if (serve && hosts && (o = json_pack("{s:O,s:O}", "serve", serve, "hosts", hosts))) {
		*ret = o;
		r = STS_OK;
	}
out:
	json_decref(serve);
	json_decref(hosts);
	sts_hosted_instances_free(in, n_in);
	sts_hosted_hosts_free(h, n_h);
	return r;
}
