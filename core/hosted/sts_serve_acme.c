/* SPDX-License-Identifier: MIT */
/* One renewal pass of serve's certificates over the hosted store (sts_serve_acme.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_serve_acme.h"

/* FNV-1a: a stable jitter seed per host */
static uint64_t seed_of(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int present(void *ud, const char *type, const char *ident, const char *token,
		   const char *keyauth, const char *cert_pem, const char *key_pem)
{
	struct sts_serve *srv = ud;
	if (strcmp(type, "tls-alpn-01") == 0)
		return sts_serve_alpn_challenge_set(srv, ident, cert_pem, key_pem) < 0 ? -1 : 0;
	return sts_serve_http_challenge_set(srv, token, keyauth) < 0 ? -1 : 0;
}

static void cleanup(void *ud, const char *type, const char *ident, const char *token)
{
	struct sts_serve *srv = ud;
	if (strcmp(type, "tls-alpn-01") == 0)
		sts_serve_alpn_challenge_clear(srv, ident);
	else
		sts_serve_http_challenge_clear(srv, token);
}

/* The contacts as the account row keeps them: comma-separated (malloc'd; NULL: none). */
static int contact_text(const char *const *v, char **ret)
{
	struct sts_buf b;
	int r = STS_OK;
	sts_buf_init(&b, 4096);
	for (size_t i = 0; v[i] && r == STS_OK; i++)
		r = sts_buf_printf(&b, "%s%s", i ? "," : "", v[i]);
	bool some = b.len > 0;
	*ret = r == STS_OK && some ? sts_buf_steal(&b) : NULL;
	sts_buf_release(&b);
	return r < 0 ? r : some && !*ret ? STS_ENOMEM : STS_OK;
}

/* the account of this directory: the stored key, else a new one stored first */
static int account(const struct sts_serve_acme_opts *o, struct sts_acme **ret)
{
	struct sts_hosted_account acc = {0};
	bool found = false;
	int r = sts_hosted_account_get(o->db, o->directory_url, &acc, &found);
	if (r < 0)
		return r;
	struct sts_acme_opts ao = o->acme ? *o->acme : (struct sts_acme_opts){0};
	ao.directory_url = o->directory_url;
	/* every contact goes into the account's contact array */
	const char *one[] = {o->contact, NULL};
	const char *const *contact = o->contacts ? o->contacts : one;
	char *ctext = NULL;
	if ((r = contact_text(contact, &ctext)) < 0) {
		sts_hosted_account_release(&acc);
		return r;
	}
	struct sts_acme *a = NULL;
	r = sts_acme_new(&ao, found ? acc.key_pem : NULL, &a);
	char *pem = NULL;
	if (r == STS_OK && !found && (r = sts_acme_account_key_pem(a, &pem)) == STS_OK)
		r = sts_hosted_account_put(o->db, o->directory_url, pem, NULL, ctext);
	if (pem) {
		explicit_bzero(pem, strlen(pem));
		free(pem);
	}
	struct sts_acme_result res = {0};
	if (r == STS_OK && (r = sts_acme_account(a, contact, true, &res)) == STS_OK &&
	    (!acc.kid || strcmp(acc.kid, sts_acme_kid(a)) != 0)) {
		char *key = NULL;
		if ((r = sts_acme_account_key_pem(a, &key)) == STS_OK)
			r = sts_hosted_account_put(o->db, o->directory_url, key, sts_acme_kid(a),
						   ctext);
		if (key) {
			explicit_bzero(key, strlen(key));
			free(key);
		}
	}
	sts_acme_result_release(&res);
	sts_hosted_account_release(&acc);
	free(ctext);
	if (r < 0) {
		sts_acme_free(a);
		return r;
	}
	*ret = a;
	return STS_OK;
}

static long long next_after_failure(const struct sts_hosted_cert *c, long long now,
				    long long retry_at, const char *host)
{
	struct sts_acme_renew_in in = {.now = now,
				       .not_before = c->chain_pem ? c->not_before : 0,
				       .not_after = c->chain_pem ? c->not_after : 0,
				       .failures = (unsigned)c->failures + 1,
				       .last_failure = now,
				       .retry_after = retry_at,
				       .seed = seed_of(host)};
	/* the failure itself makes it due now: what counts is the backoff */
	long long at = sts_acme_renew_at(&in);
	return at > now ? at : now + 60;
}

static int one(const struct sts_serve_acme_opts *o, struct sts_acme *a, const char *host,
	       const struct sts_hosted_cert *c, long long now, struct sts_serve_acme_report *rep)
{
	struct sts_acme_challenge_ops ops = {.present = present, .cleanup = cleanup, .ud = o->srv};
	struct sts_acme_result res;
	struct sts_hosted_order ord = {0};
	bool have = false, stored;
	/* an order a former pass left unfinished is resumed while the CA keeps it */
	int r = sts_hosted_order_get(o->db, host, &ord, &have);
	if (r < 0)
		return r;
	stored = have;
	if (have && ord.expires && ord.expires <= now)
		have = false;
	r = sts_acme_issue(a, host, o->prefs, &ops, have ? ord.url : NULL,
			   have ? ord.key_pem : NULL, &res);
	sts_hosted_order_release(&ord);
	if (r == STS_OK) {
		struct sts_acme_renew_in in = {.now = now,
					       .not_before = res.not_before,
					       .not_after = res.not_after,
					       .seed = seed_of(host)};
		r = sts_hosted_cert_put(o->db, host, res.chain_pem, res.key_pem, res.not_before,
					res.not_after, sts_acme_renew_at(&in));
		if (r == STS_OK)
			rep->issued++;
	} else {
		rep->failed++;
		r = sts_hosted_cert_failure(o->db, host, res.error ? res.error : sts_strerror(r),
					    next_after_failure(c, now, res.retry_at, host));
		bool keep = res.order_url && res.key_pem;
		if (r == STS_OK && (keep || stored))
			r = sts_hosted_order_put(o->db, host, keep ? res.order_url : NULL,
						 keep ? res.key_pem : NULL, res.order_expires);
	}
	sts_acme_result_release(&res);
	return r;
}

/*
 * Does host CNAME to o->edge? *ok false when not (or no check); *dns_failed
 * set when the lookup itself failed (timeout, SERVFAIL...), which says
 * nothing about the delegation. STS_OK or the error.
 */
static int delegated(const struct sts_serve_acme_opts *o, struct sts_resolver **res,
		     const char *host, bool *ok, enum sts_dns_status *dns_failed)
{
	static const struct sts_resolver_opts defaults = {0};
	*ok = true;
	*dns_failed = STS_DNS_OK;
	if (!o->edge)
		return STS_OK;
	int r = *res ? STS_OK : sts_resolver_new(o->resolve ? o->resolve : &defaults, res, NULL);
	if (r < 0)
		return r;
	struct sts_dns_query q;
	sts_dns_query_init(&q, host, STS_DNS_A);
	r = sts_resolver_run(*res, &q, 1);
	*ok = r == STS_OK && q.cname && strcasecmp(q.cname, o->edge) == 0;
	if (r == STS_OK && !*ok &&
	    (q.status == STS_DNS_SERVFAIL || q.status == STS_DNS_TIMEOUT ||
	     q.status == STS_DNS_ERROR))
		*dns_failed = q.status;
	sts_dns_query_release(&q);
	return r;
}

/* The host is due: ordered when delegated, else the failure recorded. */
static int due(const struct sts_serve_acme_opts *o, struct sts_acme **a, struct sts_resolver **res,
	       const char *host, const struct sts_hosted_cert *c, long long now,
	       struct sts_serve_acme_report *rep)
{
	bool ok = true;
	enum sts_dns_status dns = STS_DNS_OK;
	int r = delegated(o, res, host, &ok, &dns);
	if (r == STS_OK && !ok) {
		/* a DNS failure is nobody's verdict on the customer: not counted, soon again */
		char *why = NULL;
		if ((dns != STS_DNS_OK ? asprintf(&why, "DNS lookup of %s failed: %s", host,
						  sts_dns_status_name(dns))
				       : asprintf(&why, "not delegated: %s does not point at %s",
						  host, o->edge)) < 0)
			return STS_ENOMEM;
		rep->failed++;
		r = dns != STS_DNS_OK
			? sts_hosted_cert_retry(o->db, host, why, now + STS_SERVE_ACME_DNS_RETRY)
			: sts_hosted_cert_failure(o->db, host, why,
						  next_after_failure(c, now, 0, host));
		free(why);
		return r;
	}
	if (r == STS_OK && !*a)
		r = account(o, a);
	if (r == STS_OK)
		r = one(o, *a, host, c, now, rep);
	return r;
}

/* when host (its row c, if found) is due next */
static long long due_at(const struct sts_hosted_cert *c, bool found, const char *host,
			long long now)
{
	struct sts_acme_renew_in in = {
	    .now = now,
	    .not_before = found && c->chain_pem ? c->not_before : 0,
	    .not_after = found && c->chain_pem ? c->not_after : 0,
	    .failures = found ? (unsigned)c->failures : 0,
	    .last_failure = found ? c->last_attempt : 0,
	    .retry_after = found && (c->failures || c->last_error) ? c->next_attempt : 0,
	    .seed = seed_of(host)};
	return sts_acme_renew_at(&in);
}

/* the host's next due time after this pass (its row as the pass left it) */
static int due_next(const struct sts_serve_acme_opts *o, const char *host, long long now,
		    long long *next)
{
	struct sts_hosted_cert c = {0};
	bool found = false;
	int r = sts_hosted_cert_get(o->db, host, &c, &found);
	long long at = due_at(&c, found, host, now);
	if (r == STS_OK && (!*next || at < *next))
		*next = at;
	sts_hosted_cert_release(&c);
	return r;
}

int sts_serve_acme_pass(const struct sts_serve_acme_opts *o, long long now,
			struct sts_serve_acme_report *ret)
{
	memset(ret, 0, sizeof *ret);
	if (!o || !o->db || !o->srv || !o->directory_url)
		return STS_EINVAL;
	struct sts_hosted_host *hosts = NULL;
	size_t n = 0;
	int r = sts_hosted_hosts(o->db, &hosts, &n);
	if (r < 0)
		return r;
	struct sts_acme *a = NULL;
	struct sts_resolver *res = NULL;
	unsigned max = o->max_orders ? o->max_orders : 10;
	ret->hosts = (unsigned)n;
	for (size_t i = 0; i < n && r == STS_OK; i++) {
		if (!hosts[i].domain) /* a certificate without a policy: not renewed */
			continue;
		struct sts_hosted_cert c = {0};
		bool found = false;
		if ((r = sts_hosted_cert_get(o->db, hosts[i].host, &c, &found)) < 0)
			break;
		long long at = due_at(&c, found, hosts[i].host, now);
		if (at <= now && ret->due++ < max) {
			r = due(o, &a, &res, hosts[i].host, &c, now, ret);
			if (r == STS_OK)
				r = due_next(o, hosts[i].host, now, &ret->next);
		} else if (!ret->next || at < ret->next) { /* over max_orders: at <= now */
			ret->next = at;
		}
		sts_hosted_cert_release(&c);
	}
	sts_resolver_free(res);
	sts_acme_free(a);
	sts_hosted_hosts_free(hosts, n);
	return r;
}
