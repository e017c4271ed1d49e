/* SPDX-License-Identifier: MIT */
/*
 * The inventory's top-level "reports" section (TLS-RPT ingestion,
 * docs/inventory.md): validated here with positions like every other
 * section; core/reports/sts_ingest_conf.c reads the validated values.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_err.h"
#include "sts_gzip.h"
#include "sts_inventory_int.h"
#include "sts_reporters.h"
#include "sts_secret.h"

static const char *const reports_keys[] = {"sources",  "https",	    "dkim",	"trusted_mtas",
					   "evidence", "retention", "reporters"};
static const char *const source_keys[] = {"source",  "user",	     "password",
					  "ca_file", "processed",    "move_to",
					  "trusted", "max_messages", "name"};
static const char *const https_keys[] = {"listen",
					 "path",
					 "cert",
					 "key",
					 "max_body",
					 "trusted",
					 "max_connections",
					 "timeout",
					 "name",
					 "request_timeout",
					 "max_body_memory",
					 "per_ip_connections",
					 "per_ip_requests",
					 "quota_reports",
					 "quota_bytes"};
static const char *const reporters_keys[] = {"add", "remove"};
static const char *const dkim_keys[] = {"keys", "dns", "resolver", "timeout"};
static const char *const retention_keys[] = {"raw_days", "report_days", "quarantine_days"};
static const char *const evidence_names[] = {"authenticated", "all"};
static const char *const processed_names[] = {"seen", "move"};

static void want_int(struct vctx *c, const struct pctx *p, const struct sts_jval *v, long long lo,
		     long long hi)
{
	if (v->type != STS_JINT)
		ERR(c, p, v->off, "expected an integer, got %s", sts_jtype_name(v->type));
	else if (v->u.i < lo || v->u.i > hi)
		ERR(c, p, v->off, "%lld is out of range %lld..%lld", v->u.i, lo, hi);
}

static bool want_text(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	if (!sts_inv_want(c, p, v, STS_JSTRING))
		return false;
	if (v->u.s.len == 0) {
		ERR(c, p, v->off, "must not be empty");
		return false;
	}
	return true;
}

/* a secret reference is checked, never resolved; clear text gets a warning */
bool sts_inv_secret_value(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			  bool path_ok)
{
	const char *why;
	if (!want_text(c, p, v))
		return false;
	if (sts_secret_is_ref(v->u.s.p) || strncmp(v->u.s.p, "${", 2) == 0) {
		if (sts_secret_check(v->u.s.p, &why) != STS_OK) {
			ERR(c, p, v->off, "invalid secret reference: %s", why);
			return false;
		}
	} else if (!path_ok) {
		sts_inv_diag(c, STS_SEV_WARNING, NULL, p, v->off,
			     "a password in clear text: write ${env:NAME} or ${file:PATH}");
	}
	return true;
}

/*
 * A trusted source stands for one reporter: "name" is required with
 * "trusted": true (docs/inventory.md#reports), and names it.
 */
static void trusted_name(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	const struct sts_jval *t = sts_jobj_get(v, "trusted");
	const struct sts_jval *n = sts_jobj_get(v, "name");
	if (t && t->type == STS_JTRUE && !n)
		ERR(c, p, v->off,
		    "a trusted source needs \"name\": the reporter its reports count as "
		    "(reports.reporters)");
	if (n) {
		struct pctx np = {p, "name", 0};
		want_text(c, &np, n);
	}
}

static bool is_imap(const char *s)
{
	return strncmp(s, "imap://", 7) == 0 || strncmp(s, "imaps://", 8) == 0;
}

/* imap://user:pass@host/...: userinfo with a ':' before the '@' of the authority */
static bool url_has_password(const char *s)
{
	const char *a = strstr(s, "://") + 3;
	size_t n = strcspn(a, "/?#");
	const char *at = memchr(a, '@', n);
	return at && memchr(a, ':', (size_t)(at - a));
}

static void source_spec(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	if (!want_text(c, p, v))
		return;
	const char *s = v->u.s.p;
	if (strncmp(s, "maildir:", 8) == 0 && !s[8])
		ERR(c, p, v->off, "'maildir:' needs a path: maildir:/var/mail/tlsrpt");
	else if (is_imap(s) && url_has_password(s))
		sts_inv_diag(c, STS_SEV_WARNING, NULL, p, v->off,
			     "a password in the URL: use \"user\" and \"password\" with a secret");
	else if (strstr(s, "://") && !is_imap(s))
		ERR(c, p, v->off, "unsupported source: a path, maildir:PATH, imap:// or imaps://");
}

static void source_object(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	if (sts_inv_object_keys(c, p, v, source_keys, N_OF(source_keys)) < 0)
		return;
	const struct sts_jval *spec = sts_jobj_get(v, "source");
	const struct sts_jval *pr = sts_jobj_get(v, "processed");
	bool imap = spec && spec->type == STS_JSTRING && is_imap(spec->u.s.p);
	int processed = 0;
	if (!spec)
		ERR(c, p, v->off, "missing 'source' (a path, maildir:PATH, imap:// or imaps://)");
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		const char *k = m->key;
		bool imap_only = strcmp(k, "user") == 0 || strcmp(k, "password") == 0 ||
				 strcmp(k, "ca_file") == 0 || strcmp(k, "processed") == 0 ||
				 strcmp(k, "move_to") == 0 || strcmp(k, "max_messages") == 0;
		if (imap_only && spec && !imap)
			ERR(c, &mp, m->key_off, "'%s' is only for imap:// and imaps:// sources", k);
		else if (strcmp(k, "source") == 0)
			source_spec(c, &mp, &m->val);
		else if (strcmp(k, "password") == 0)
			sts_inv_secret_value(c, &mp, &m->val, false);
		else if (strcmp(k, "user") == 0 || strcmp(k, "ca_file") == 0 ||
			 strcmp(k, "move_to") == 0)
			want_text(c, &mp, &m->val);
		else if (strcmp(k, "processed") == 0)
			sts_inv_parse_enum(c, &mp, &m->val, "processed", processed_names,
					   N_OF(processed_names), &processed);
		else if (strcmp(k, "trusted") == 0)
			sts_inv_want(c, &mp, &m->val, STS_JTRUE);
		else if (strcmp(k, "max_messages") == 0)
			want_int(c, &mp, &m->val, 1, 1000000);
	}
	trusted_name(c, p, v);
	if (imap && pr && processed == 1 && !sts_jobj_get(v, "move_to")) {
		struct pctx pp = {p, "processed", 0};
		ERR(c, &pp, pr->off, "\"processed\": \"move\" needs \"move_to\" (a mailbox)");
	}
}

static void parse_sources(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	if (!sts_inv_want(c, p, v, STS_JARRAY))
		return;
	for (uint32_t i = 0; i < v->u.a.n; i++) {
		struct pctx ep = {p, NULL, i};
		const struct sts_jval *e = &v->u.a.v[i];
		if (e->type == STS_JSTRING)
			source_spec(c, &ep, e);
		else if (e->type == STS_JOBJECT)
			source_object(c, &ep, e);
		else
			ERR(c, &ep, e->off, "expected a string or an object, got %s",
			    sts_jtype_name(e->type));
	}
}

/* "ADDR:PORT", "[IPv6]:PORT" or ":PORT" */
bool sts_inv_listen_value(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	if (!want_text(c, p, v))
		return false;
	const char *s = v->u.s.p, *colon = strrchr(s, ':');
	char *end = NULL;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	bool v6 = s[0] == '[';
	if (!colon || !end || *end || port < 1 || port > 65535 || colon[1] == '\0' ||
	    (v6 && (colon == s || colon[-1] != ']'))) {
		ERR(c, p, v->off, "expected ADDR:PORT, [ADDR]:PORT or :PORT (port 1..65535)");
		return false;
	}
	return true;
}

/* the receiver's integer settings and their ranges */
static const struct {
	const char *key;
	long long lo, hi;
} https_ints[] = {
    {"max_body", 1, STS_CAP_REPORT_COMPRESSED},
    {"max_connections", 1, 100000},
    {"timeout", 1, 86400},
    {"request_timeout", 1, 3600},
    {"max_body_memory", 1024, 1LL << 32},
    {"per_ip_connections", 1, 100000},
    {"per_ip_requests", 1, 1000000},
    {"quota_reports", 1, 1000000000},
    {"quota_bytes", 1024, 1LL << 50},
};

static void parse_https(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	if (sts_inv_object_keys(c, p, v, https_keys, N_OF(https_keys)) < 0)
		return;
	static const char *const required[] = {"listen", "cert", "key"};
	for (size_t i = 0; i < N_OF(required); i++)
		if (!sts_jobj_get(v, required[i]))
			ERR(c, p, v->off, "missing '%s'", required[i]);
	trusted_name(c, p, v);
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		const char *k = m->key;
		if (strcmp(k, "listen") == 0)
			sts_inv_listen_value(c, &mp, &m->val);
		else if (strcmp(k, "path") == 0 && want_text(c, &mp, &m->val) &&
			 m->val.u.s.p[0] != '/')
			ERR(c, &mp, m->val.off, "a path starts with '/'");
		else if (strcmp(k, "cert") == 0)
			want_text(c, &mp, &m->val);
		else if (strcmp(k, "key") == 0)
			sts_inv_secret_value(c, &mp, &m->val, true);
		else if (strcmp(k, "trusted") == 0)
			sts_inv_want(c, &mp, &m->val, STS_JTRUE);
		else
			for (size_t j = 0; j < N_OF(https_ints); j++)
				if (strcmp(k, https_ints[j].key) == 0)
					want_int(c, &mp, &m->val, https_ints[j].lo,
						 https_ints[j].hi);
	}
}

static void parse_dkim(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	if (sts_inv_object_keys(c, p, v, dkim_keys, N_OF(dkim_keys)) < 0)
		return;
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		if (strcmp(m->key, "dns") == 0)
			sts_inv_want(c, &mp, &m->val, STS_JTRUE);
		else if (strcmp(m->key, "resolver") == 0)
			want_text(c, &mp, &m->val);
		else if (strcmp(m->key, "timeout") == 0)
			want_int(c, &mp, &m->val, 1, 600);
		else if (strcmp(m->key, "keys") == 0 && sts_inv_want(c, &mp, &m->val, STS_JOBJECT))
			for (uint32_t j = 0; j < m->val.u.o.n; j++) {
				const struct sts_jmember *k = &m->val.u.o.m[j];
				struct pctx kp = {&mp, k->key, 0};
				if (!strstr(k->key, "._domainkey."))
					ERR(c, &kp, k->key_off,
					    "expected SELECTOR._domainkey.DOMAIN as the name");
				if (want_text(c, &kp, &k->val) && !strstr(k->val.u.s.p, "p="))
					ERR(c, &kp, k->val.off,
					    "expected a DKIM key record (\"v=DKIM1; k=rsa; "
					    "p=...\")");
			}
	}
}

static bool builtin_reporter(const char *s)
{
	for (const struct sts_reporter_builtin *b = sts_reporters_builtin(); b->domain; b++)
		if (strcasecmp(b->domain, s) == 0)
			return true;
	return false;
}

/* "reporters": {"add": [ORGDOMAIN...], "remove": [ORGDOMAIN...]} */
static void parse_reporters(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	if (sts_inv_object_keys(c, p, v, reporters_keys, N_OF(reporters_keys)) < 0)
		return;
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		bool add = strcmp(m->key, "add") == 0;
		if (!sts_inv_want(c, &mp, &m->val, STS_JARRAY))
			continue;
		for (uint32_t j = 0; j < m->val.u.a.n; j++) {
			struct pctx ep = {&mp, NULL, j};
			const struct sts_jval *e = &m->val.u.a.v[j];
			char *org = NULL;
			if (!want_text(c, &ep, e))
				continue;
			int r = sts_reporters_orgdomain(e->u.s.p, &org);
			if (r == STS_ENOMEM)
				sts_inv_oom(c, r);
			else if (r < 0)
				ERR(c, &ep, e->off,
				    "'%s' is not a domain name under a public suffix (a reporter "
				    "is the organisational domain of its DKIM d=)",
				    e->u.s.p);
			else if (strcasecmp(org, e->u.s.p) != 0)
				ERR(c, &ep, e->off,
				    "'%s' is not an organisational domain: reports signed by it "
				    "count as '%s'",
				    e->u.s.p, org);
			else if (!add && !builtin_reporter(e->u.s.p))
				sts_inv_diag(c, STS_SEV_WARNING, NULL, &ep, e->off,
					     "'%s' is not a built-in reporter: nothing to remove",
					     e->u.s.p);
			free(org);
		}
	}
}

void sts_inv_parse_reports(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	int e;
	if (sts_inv_object_keys(c, p, v, reports_keys, N_OF(reports_keys)) < 0)
		return;
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		const char *k = m->key;
		if (strcmp(k, "sources") == 0) {
			parse_sources(c, &mp, &m->val);
		} else if (strcmp(k, "https") == 0) {
			parse_https(c, &mp, &m->val);
		} else if (strcmp(k, "dkim") == 0) {
			parse_dkim(c, &mp, &m->val);
		} else if (strcmp(k, "reporters") == 0) {
			parse_reporters(c, &mp, &m->val);
		} else if (strcmp(k, "evidence") == 0) {
			if (sts_inv_parse_enum(c, &mp, &m->val, "evidence", evidence_names,
					       N_OF(evidence_names), &e) &&
			    e == 1)
				sts_inv_diag(
				    c, STS_SEV_WARNING, NULL, &mp, m->val.off,
				    "\"evidence\": \"all\" lets unauthenticated reports and "
				    "unlisted reporters promote and demote domains: a lab "
				    "setting, never for production");
		} else if (strcmp(k, "trusted_mtas") == 0 &&
			   sts_inv_want(c, &mp, &m->val, STS_JARRAY)) {
			for (uint32_t j = 0; j < m->val.u.a.n; j++) {
				struct pctx ep = {&mp, NULL, j};
				want_text(c, &ep, &m->val.u.a.v[j]);
			}
		} else if (strcmp(k, "retention") == 0 &&
			   sts_inv_object_keys(c, &mp, &m->val, retention_keys,
					       N_OF(retention_keys)) >= 0) {
			for (uint32_t j = 0; j < m->val.u.o.n; j++) {
				const struct sts_jmember *r = &m->val.u.o.m[j];
				struct pctx rp = {&mp, r->key, 0};
				if (sts_inv_key_index(r->key, retention_keys,
						      N_OF(retention_keys)) >= 0)
					want_int(c, &rp, &r->val, 0, 100000);
			}
		}
	}
}
