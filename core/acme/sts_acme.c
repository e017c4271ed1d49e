/* SPDX-License-Identifier: MIT */
/*
 * The ACME client's conversation (RFC 8555 §7): directory, nonces, account,
 * order, authorization and challenge, finalisation and download. Every
 * request goes through post() (signed, badNonce retried a bounded number
 * of times) or the directory/nonce GETs; every poll loop is bounded by
 * opts.max_polls and each wait by opts.poll_max_ms.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts_acme.h"
#include "sts_acme_int.h"
#include "sts_err.h"
#include "sts_http.h"

#define BAD_NONCE  "urn:ietf:params:acme:error:badNonce"
#define NO_ACCOUNT "urn:ietf:params:acme:error:accountDoesNotExist"
#define NOT_READY  "urn:ietf:params:acme:error:orderNotReady"

struct sts_acme {
	struct sts_acme_opts o;
	char *directory_url, *ca_file, *user_agent;
	struct sts_http *http;
	EVP_PKEY *key;
	char *thumb; /* JWK thumbprint of key */
	char *kid;
	char *nonce;
	struct sts_acme_directory dir;
	unsigned bad_nonces; /* badNonce answers retried, over the handle's life */
};

/* ---- results ---- */

void sts_acme_result_release(struct sts_acme_result *r)
{
	if (!r)
		return;
	free(r->chain_pem);
	if (r->key_pem) {
		explicit_bzero(r->key_pem, strlen(r->key_pem));
		free(r->key_pem);
	}
	free(r->challenge);
	sts_acme_problem_release(&r->problem);
	free(r->error);
	free(r->order_url);
	memset(r, 0, sizeof *r);
}

/* The first failure's text wins: ret->error = "IDENT: what". Returns err. */
static int STS_PRINTF(4, 5)
    fail(struct sts_acme_result *ret, int err, const char *ident, const char *fmt, ...)
{
	if (ret->error)
		return err;
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg && asprintf(&ret->error, "%s: %s", ident ? ident : "acme", msg) < 0)
		ret->error = NULL;
	free(msg);
	return err;
}

/* ---- lifecycle ---- */

void sts_acme_free(struct sts_acme *a)
{
	if (!a)
		return;
	sts_http_free(a->http);
	EVP_PKEY_free(a->key);
	STS_FREE_ALL(a->directory_url, a->ca_file, a->user_agent, a->thumb, a->kid, a->nonce);
	sts_acme_directory_release(&a->dir);
	free(a);
}

static char *dup_or_null(const char *s, int *r)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*r = STS_ENOMEM;
	return d;
}

int sts_acme_new(const struct sts_acme_opts *o, const char *account_key_pem, struct sts_acme **ret)
{
	if (!o || !o->directory_url || strncmp(o->directory_url, "https://", 8) != 0)
		return STS_EINVAL;
	struct sts_acme *a = calloc(1, sizeof *a);
	if (!a)
		return STS_ENOMEM;
	int r = STS_OK;
	a->o = *o;
	a->directory_url = dup_or_null(o->directory_url, &r);
	a->ca_file = dup_or_null(o->ca_file, &r);
	a->user_agent = dup_or_null(o->user_agent, &r);
	if (!a->o.timeout_ms)
		a->o.timeout_ms = 15000;
	if (!a->o.max_response)
		a->o.max_response = 256 * 1024;
	if (!a->o.max_bad_nonce)
		a->o.max_bad_nonce = 5;
	if (!a->o.max_polls)
		a->o.max_polls = 30;
	if (!a->o.poll_interval_ms)
		a->o.poll_interval_ms = 1000;
	if (!a->o.poll_max_ms)
		a->o.poll_max_ms = 10000;
	if (!a->o.max_retry_after_s)
		a->o.max_retry_after_s = 86400;
	if (r < 0)
		goto out;
	if (account_key_pem) {
		if (!(a->key = sts_acme_key_load(account_key_pem))) {
			r = STS_EINVAL;
			goto out;
		}
	} else {
		char *pem = NULL;
		if ((r = sts_acme_key_generate(&pem)) < 0)
			goto out;
		a->key = sts_acme_key_load(pem);
		explicit_bzero(pem, strlen(pem));
		free(pem);
		if (!a->key) {
			r = STS_ENOMEM;
			goto out;
		}
	}
	json_t *jwk = sts_acme_jwk_of(a->key);
	r = jwk ? sts_acme_jwk_thumbprint(jwk, &a->thumb) : STS_EINVAL;
	json_decref(jwk);
	if (r < 0)
		goto out;
	/* one attempt per request: a signed POST cannot be replayed (its
	 * nonce is spent), and 429/503 go back to the caller */
	struct sts_http_opts ho = {.ca_file = a->ca_file,
				   .user_agent = a->user_agent,
				   .timeout_ms = a->o.timeout_ms,
				   .connect_timeout_ms = a->o.timeout_ms,
				   .max_response = a->o.max_response,
				   .max_attempts = 1,
				   .max_total_ms = a->o.timeout_ms};
	r = sts_http_new(&ho, &a->http);
out:
	if (r < 0) {
		sts_acme_free(a);
		return r;
	}
	*ret = a;
	return STS_OK;
}

int sts_acme_account_key_pem(const struct sts_acme *a, char **ret)
{
	return sts_acme_key_pem(a->key, ret);
}

unsigned sts_acme_bad_nonces(const struct sts_acme *a)
{
	return a->bad_nonces;
}

const char *sts_acme_kid(const struct sts_acme *a)
{
	return a ? a->kid : NULL;
}

/* ---- requests ---- */

static void take_nonce(struct sts_acme *a, const struct sts_http_resp *p)
{
	const char *n = sts_http_resp_header(p, "Replay-Nonce");
	if (n && *n && strlen(n) < 256) {
		char *d = strdup(n);
		if (d) {
			free(a->nonce);
			a->nonce = d;
		}
	}
}

static int net_fail(struct sts_acme_result *ret, int r, const char *ident, const char *what,
		    const char *url)
{
	return fail(ret, r, ident, "%s: %s (%s)", what, sts_strerror(r), url);
}

static int get(struct sts_acme *a, const char *method, const char *url, const char *ident,
	       struct sts_http_resp *p, struct sts_acme_result *ret)
{
	struct sts_http_req q = {.method = method, .url = url};
	int r = sts_http_do(a->http, &q, p);
	if (r < 0)
		return net_fail(ret, r, ident, "request failed", url);
	take_nonce(a, p);
	return STS_OK;
}

static int directory(struct sts_acme *a, const char *ident, struct sts_acme_result *ret)
{
	if (a->dir.new_order)
		return STS_OK;
	struct sts_http_resp p;
	int r = get(a, "GET", a->directory_url, ident, &p, ret);
	if (r == STS_OK && p.status != 200)
		r = fail(ret, STS_EPROVIDER, ident, "directory %s answered HTTP %ld",
			 a->directory_url, p.status);
	if (r == STS_OK && sts_acme_directory_parse(sts_buf_str(&p.body), p.body.len, &a->dir) < 0)
		r = fail(ret, STS_EPARSE, ident, "directory %s is not an ACME directory",
			 a->directory_url);
	sts_http_resp_release(&p);
	return r;
}

static int fresh_nonce(struct sts_acme *a, const char *ident, struct sts_acme_result *ret)
{
	free(a->nonce);
	a->nonce = NULL;
	struct sts_http_resp p;
	int r = get(a, "HEAD", a->dir.new_nonce, ident, &p, ret);
	if (r == STS_OK && !a->nonce)
		r = fail(ret, STS_EPROVIDER, ident, "newNonce gave no Replay-Nonce (HTTP %ld)",
			 p.status);
	sts_http_resp_release(&p);
	return r;
}

static bool is_bad_nonce(const struct sts_http_resp *p)
{
	if (p->status != 400)
		return false;
	struct sts_acme_problem pr;
	sts_acme_problem_parse(sts_buf_str(&p->body), p->body.len, p->status, &pr);
	bool bad = pr.type && strcmp(pr.type, BAD_NONCE) == 0;
	sts_acme_problem_release(&pr);
	return bad;
}

/*
 * A signed POST (payload "" = POST-as-GET), with the account's kid once
 * known, its jwk before. badNonce is retried with the nonce that came with
 * it, at most max_bad_nonce times. p holds the final answer.
 */
static int post(struct sts_acme *a, const char *url, const char *payload, const char *accept,
		const char *ident, struct sts_http_resp *p, struct sts_acme_result *ret)
{
	const char *hdrs[] = {"Content-Type: application/jose+json", accept, NULL};
	for (unsigned i = 0;; i++) {
		int r;
		if (!a->nonce && (r = fresh_nonce(a, ident, ret)) < 0)
			return r;
		char *jws = NULL;
		r = sts_acme_jws_key(a->key, a->kid, a->nonce, url, payload, &jws);
		free(a->nonce); /* spent */
		a->nonce = NULL;
		if (r < 0)
			return fail(ret, r, ident, "cannot sign a request: %s", sts_strerror(r));
		struct sts_http_req q = {.method = "POST",
					 .url = url,
					 .headers = hdrs,
					 .body = jws,
					 .body_len = strlen(jws)};
		r = sts_http_do(a->http, &q, p);
		free(jws);
		if (r < 0) {
			sts_http_resp_release(p);
			return net_fail(ret, r, ident, "request failed", url);
		}
		take_nonce(a, p);
		if (!is_bad_nonce(p) || i >= a->o.max_bad_nonce)
			return STS_OK;
		a->bad_nonces++;
		sts_http_resp_release(p);
	}
}

/*
 * Map a non-2xx answer to a result: the problem document kept, 429/503
 * with Retry-After -> STS_EAGAIN and ret->retry_at.
 */
static int answer(struct sts_acme *a, const struct sts_http_resp *p, const char *ident,
		  const char *what, struct sts_acme_result *ret)
{
	if (p->status >= 200 && p->status < 300)
		return STS_OK;
	sts_acme_problem_release(&ret->problem);
	sts_acme_problem_parse(sts_buf_str(&p->body), p->body.len, p->status, &ret->problem);
	int r = STS_EPROVIDER;
	if (p->status == 429 || p->status == 503) {
		r = STS_EAGAIN;
		const char *ra = sts_http_resp_header(p, "Retry-After");
		time_t now = time(NULL);
		long ms = ra ? sts_http_retry_after_ms(ra, now) : -1;
		if (ms >= 0) {
			long long s = (ms + 999) / 1000;
			if (s > a->o.max_retry_after_s)
				s = a->o.max_retry_after_s;
			ret->retry_at = (long long)now + s;
		}
	}
	const char *type = ret->problem.type ? ret->problem.type : "no problem document";
	return fail(ret, r, ident, "%s: %s: %s (HTTP %ld)%s", what, type,
		    ret->problem.detail ? ret->problem.detail : "", p->status,
		    r == STS_EAGAIN ? ", try again later" : "");
}

static void wait_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* the wait before the next poll: Retry-After when given, capped */
static long poll_wait(const struct sts_acme *a, const struct sts_http_resp *p)
{
	const char *ra = sts_http_resp_header(p, "Retry-After");
	long ms = ra ? sts_http_retry_after_ms(ra, time(NULL)) : -1;
	if (ms < 0)
		ms = a->o.poll_interval_ms;
	return ms > a->o.poll_max_ms ? a->o.poll_max_ms : ms;
}

/* ---- account ---- */

static int account_post(struct sts_acme *a, json_t *payload, struct sts_http_resp *p,
			struct sts_acme_result *ret)
{
	char *s = json_dumps(payload, JSON_COMPACT);
	json_decref(payload);
	if (!s)
		return fail(ret, STS_ENOMEM, NULL, "out of memory");
	int r = post(a, a->dir.new_account, s, NULL, NULL, p, ret);
	free(s);
	return r;
}

static int keep_kid(struct sts_acme *a, const struct sts_http_resp *p, struct sts_acme_result *ret)
{
	const char *loc = sts_http_resp_header(p, "Location");
	if (!loc || !*loc)
		return fail(ret, STS_EPROVIDER, NULL, "newAccount answered without a Location");
	if (!(a->kid = strdup(loc)))
		return STS_ENOMEM;
	return STS_OK;
}

int sts_acme_account(struct sts_acme *a, const char *const *contact, bool create,
		     struct sts_acme_result *ret)
{
	memset(ret, 0, sizeof *ret);
	free(a->kid);
	a->kid = NULL;
	int r = directory(a, NULL, ret);
	if (r < 0)
		return r;
	struct sts_http_resp p;
	r = account_post(a, json_pack("{s:b}", "onlyReturnExisting", 1), &p, ret);
	if (r < 0)
		return r;
	if (p.status == 200) {
		r = keep_kid(a, &p, ret);
		sts_http_resp_release(&p);
		return r;
	}
	struct sts_acme_problem pr;
	sts_acme_problem_parse(sts_buf_str(&p.body), p.body.len, p.status, &pr);
	bool none = pr.type && strcmp(pr.type, NO_ACCOUNT) == 0;
	sts_acme_problem_release(&pr);
	if (!none) {
		r = answer(a, &p, NULL, "looking up the account", ret);
		if (r == STS_OK)
			r = fail(ret, STS_EPROVIDER, NULL, "newAccount answered HTTP %ld",
				 p.status);
		sts_http_resp_release(&p);
		return r;
	}
	sts_http_resp_release(&p);
	if (!create)
		return fail(ret, STS_ENOENT, NULL, "no account for this key");
	json_t *c = json_array();
	for (size_t i = 0; contact && contact[i]; i++)
		json_array_append_new(c, json_string(contact[i]));
	r = account_post(a, json_pack("{s:b,s:o}", "termsOfServiceAgreed", 1, "contact", c), &p,
			 ret);
	if (r < 0)
		return r;
	r = answer(a, &p, NULL, "creating the account", ret);
	if (r == STS_OK)
		r = keep_kid(a, &p, ret);
	sts_http_resp_release(&p);
	return r;
}

/* ---- authorization ---- */

/* POST-as-GET url, its answer parsed by parse into obj; ret_wait: the wait
 * before polling it again */
static int get_parsed(struct sts_acme *a, const char *url, const char *ident, const char *what,
		      int (*parse)(const char *, size_t, void *), void *obj, long *ret_wait,
		      struct sts_acme_result *ret)
{
	struct sts_http_resp p;
	int r = post(a, url, "", NULL, ident, &p, ret);
	if (r < 0)
		return r;
	r = answer(a, &p, ident, what, ret);
	if (r == STS_OK && parse(sts_buf_str(&p.body), p.body.len, obj) < 0)
		r = fail(ret, STS_EPARSE, ident, "%s: %s is not the JSON expected", what, url);
	if (ret_wait)
		*ret_wait = poll_wait(a, &p);
	sts_http_resp_release(&p);
	return r;
}

static int parse_authz(const char *body, size_t len, void *obj)
{
	return sts_acme_authz_parse(body, len, obj);
}

static int parse_order(const char *body, size_t len, void *obj)
{
	return sts_acme_order_parse(body, len, obj);
}

static int get_authz(struct sts_acme *a, const char *url, const char *ident,
		     struct sts_acme_authz *z, long *ret_wait, struct sts_acme_result *ret)
{
	return get_parsed(a, url, ident, "reading the authorization", parse_authz, z, ret_wait,
			  ret);
}

static int get_order(struct sts_acme *a, const char *url, const char *ident,
		     struct sts_acme_order *o, long *ret_wait, struct sts_acme_result *ret)
{
	return get_parsed(a, url, ident, "reading the order", parse_order, o, ret_wait, ret);
}

static void release_authz(void *obj)
{
	sts_acme_authz_release(obj);
}

static void release_order(void *obj)
{
	sts_acme_order_release(obj);
}

/*
 * Poll url while its status is one of `busy` ("a|b"), at most max_polls
 * times, each wait as poll_wait says. obj (an authorization or an order,
 * both with their status as the first member) holds the last state.
 */
static int poll(struct sts_acme *a, const char *url, const char *ident, const char *what,
		int (*parse)(const char *, size_t, void *), void (*release)(void *), void *obj,
		const char *busy, struct sts_acme_result *ret)
{
	for (unsigned i = 0; i < a->o.max_polls; i++) {
		long w = 0;
		release(obj);
		int r = get_parsed(a, url, ident, what, parse, obj, &w, ret);
		if (r < 0)
			return r;
		const char *status = *(char **)obj;
		if (!strstr(busy, status))
			return STS_OK;
		wait_ms(w);
	}
	return fail(ret, STS_ETIMEOUT, ident, "%s: still %s after %u polls", what, *(char **)obj,
		    a->o.max_polls);
}

static const struct sts_acme_challenge *pick(const struct sts_acme_authz *z,
					     const char *const *prefs)
{
	static const char *const dflt[] = {"tls-alpn-01", "http-01", NULL};
	for (const char *const *t = prefs ? prefs : dflt; *t; t++)
		for (size_t i = 0; i < z->n_chal; i++)
			if (strcmp(z->chal[i].type, *t) == 0 && z->chal[i].token &&
			    *z->chal[i].token)
				return &z->chal[i];
	return NULL;
}

static int respond(struct sts_acme *a, const struct sts_acme_challenge *c, const char *ident,
		   struct sts_acme_result *ret)
{
	struct sts_http_resp p;
	int r = post(a, c->url, "{}", NULL, ident, &p, ret);
	if (r < 0)
		return r;
	r = answer(a, &p, ident, "responding to the challenge", ret);
	sts_http_resp_release(&p);
	return r;
}

static int authorize(struct sts_acme *a, const char *url, const char *ident,
		     const char *const *prefs, const struct sts_acme_challenge_ops *ops,
		     struct sts_acme_result *ret)
{
	struct sts_acme_authz z;
	int r = get_authz(a, url, ident, &z, NULL, ret);
	if (r < 0)
		return r;
	if (strcmp(z.status, "valid") == 0)
		goto out; /* reused */
	if (strcmp(z.status, "pending") != 0) {
		r = fail(ret, STS_EPROVIDER, ident, "the authorization is %s", z.status);
		goto out;
	}
	const struct sts_acme_challenge *c = pick(&z, prefs);
	if (!c) {
		r = fail(ret, STS_EUNSUPPORTED, ident,
			 "the server offers none of the challenge types asked for");
		goto out;
	}
	char *type = strdup(c->type), *token = strdup(c->token), *curl = strdup(c->url);
	char *keyauth = NULL, *cert = NULL, *key = NULL;
	if (!type || !token || !curl || asprintf(&keyauth, "%s.%s", token, a->thumb) < 0) {
		keyauth = NULL;
		r = fail(ret, STS_ENOMEM, ident, "out of memory");
		goto chal_out;
	}
	if (strcmp(type, "tls-alpn-01") == 0 &&
	    (r = sts_acme_alpn_cert(ident, keyauth, &cert, &key)) < 0) {
		r = fail(ret, r, ident, "cannot build the tls-alpn-01 certificate");
		goto chal_out;
	}
	if (ops->present(ops->ud, type, ident, token, keyauth, cert, key) != 0) {
		r = fail(ret, STS_EIO, ident, "cannot present the %s challenge", type);
		goto chal_out;
	}
	free(ret->challenge);
	ret->challenge = strdup(type);
	struct sts_acme_challenge chal = {.type = type, .url = curl, .token = token};
	r = respond(a, &chal, ident, ret);
	if (r == STS_OK)
		r = poll(a, url, ident, "reading the authorization", parse_authz, release_authz, &z,
			 "pending", ret);
	if (ops->cleanup)
		ops->cleanup(ops->ud, type, ident, token);
	if (r == STS_OK && strcmp(z.status, "valid") != 0) {
		ret->problem = z.error;
		memset(&z.error, 0, sizeof z.error);
		r = fail(ret, STS_EPROVIDER, ident,
			 "challenge %s failed (authorization %s): %s: %s", type, z.status,
			 ret->problem.type ? ret->problem.type : "no reason given",
			 ret->problem.detail ? ret->problem.detail : "");
	}
chal_out:
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	STS_FREE_ALL(cert, keyauth, type, token, curl);
out:
	sts_acme_authz_release(&z);
	return r;
}

/* ---- order ---- */

static int new_order(struct sts_acme *a, const char *ident, struct sts_acme_order *o,
		     char **ret_url, struct sts_acme_result *ret)
{
	json_t *j = json_pack("{s:[{s:s,s:s}]}", "identifiers", "type", "dns", "value", ident);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return fail(ret, STS_ENOMEM, ident, "out of memory");
	struct sts_http_resp p;
	int r = post(a, a->dir.new_order, s, NULL, ident, &p, ret);
	free(s);
	if (r < 0)
		return r;
	r = answer(a, &p, ident, "creating the order", ret);
	const char *loc = sts_http_resp_header(&p, "Location");
	if (r == STS_OK && (!loc || !*loc))
		r = fail(ret, STS_EPROVIDER, ident, "newOrder answered without a Location");
	if (r == STS_OK && sts_acme_order_parse(sts_buf_str(&p.body), p.body.len, o) < 0)
		r = fail(ret, STS_EPARSE, ident, "the new order is not valid JSON");
	if (r == STS_OK && !(*ret_url = strdup(loc)))
		r = STS_ENOMEM;
	sts_http_resp_release(&p);
	return r;
}

static int finalize(struct sts_acme *a, const char *ident, const char *key_pem,
		    struct sts_acme_order *o, struct sts_acme_result *ret)
{
	unsigned char *der = NULL;
	size_t n = 0;
	int r = sts_acme_csr(ident, key_pem, &der, &n);
	if (r < 0)
		return fail(ret, r, ident, "cannot build the CSR");
	char *csr = sts_acme_b64url(der, n);
	OPENSSL_free(der);
	json_t *j = csr ? json_pack("{s:s}", "csr", csr) : NULL;
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	free(csr);
	if (!s)
		return fail(ret, STS_ENOMEM, ident, "out of memory");
	struct sts_http_resp p;
	r = post(a, o->finalize, s, NULL, ident, &p, ret);
	free(s);
	if (r < 0)
		return r;
	r = answer(a, &p, ident, "finalizing the order", ret);
	struct sts_acme_order n2;
	if (r == STS_OK && sts_acme_order_parse(sts_buf_str(&p.body), p.body.len, &n2) == STS_OK) {
		sts_acme_order_release(o);
		*o = n2;
	}
	sts_http_resp_release(&p);
	return r;
}

static int download(struct sts_acme *a, const char *url, const char *ident,
		    struct sts_acme_result *ret)
{
	struct sts_http_resp p;
	int r = post(a, url, "", "Accept: application/pem-certificate-chain", ident, &p, ret);
	if (r < 0)
		return r;
	r = answer(a, &p, ident, "downloading the certificate", ret);
	if (r == STS_OK && (p.body.len == 0 || strlen(sts_buf_str(&p.body)) != p.body.len ||
			    !strstr(sts_buf_str(&p.body), "-----BEGIN CERTIFICATE-----")))
		r = fail(ret, STS_EPARSE, ident, "the certificate download is not a PEM chain");
	if (r == STS_OK &&
	    sts_acme_cert_dates(sts_buf_str(&p.body), &ret->not_before, &ret->not_after) < 0)
		r = fail(ret, STS_EPARSE, ident, "the downloaded certificate does not parse");
	if (r == STS_OK && !(ret->chain_pem = sts_buf_steal(&p.body)))
		r = STS_ENOMEM;
	sts_http_resp_release(&p);
	return r;
}

static int problem_fail(struct sts_acme_result *ret, int err, const char *ident, const char *what,
			struct sts_acme_problem *pr)
{
	sts_acme_problem_release(&ret->problem);
	ret->problem = *pr;
	memset(pr, 0, sizeof *pr);
	return fail(ret, err, ident, "%s: %s: %s", what,
		    ret->problem.type ? ret->problem.type : "no reason given",
		    ret->problem.detail ? ret->problem.detail : "");
}

/*
 * finalize answered orderNotReady: when the order has moved on (our own
 * finalize got through before its answer was lost, and libcurl re-sent it
 * on a fresh connection), carry on with it; else keep the failure.
 */
static int finalized_already(struct sts_acme *a, const char *url, const char *ident,
			     struct sts_acme_order *o, struct sts_acme_result *ret)
{
	struct sts_acme_result scratch = {0};
	struct sts_acme_order now;
	int r = get_order(a, url, ident, &now, NULL, &scratch);
	sts_acme_result_release(&scratch);
	if (r < 0)
		return STS_EPROVIDER;
	if (strcmp(now.status, "processing") != 0 && strcmp(now.status, "valid") != 0) {
		sts_acme_order_release(&now);
		return STS_EPROVIDER;
	}
	sts_acme_order_release(o);
	*o = now;
	sts_acme_problem_release(&ret->problem);
	free(ret->error);
	ret->error = NULL;
	return STS_OK;
}

/* order states in which the same order can be picked up again (pending: its
 * authorizations are answered again, no new order counts against the CA's limits) */
static bool resumable(const char *st)
{
	return !strcmp(st, "pending") || !strcmp(st, "ready") || !strcmp(st, "processing") ||
	       !strcmp(st, "valid");
}

int sts_acme_issue(struct sts_acme *a, const char *identifier, const char *const *prefs,
		   const struct sts_acme_challenge_ops *ops, const char *resume_order_url,
		   const char *resume_key_pem, struct sts_acme_result *ret)
{
	memset(ret, 0, sizeof *ret);
	const char *id = identifier;
	if (!id || !*id || !ops || !ops->present || !resume_order_url != !resume_key_pem)
		return fail(ret, STS_EINVAL, id, "invalid arguments");
	if (!a->kid)
		return fail(ret, STS_EINVAL, id, "no ACME account (sts_acme_account first)");
	int r = directory(a, id, ret);
	if (r < 0)
		return r;
	struct sts_acme_order o = {0};
	char *url = NULL;
	bool have = false;
	if (resume_order_url) {
		struct sts_acme_result scratch = {0};
		if (get_order(a, resume_order_url, id, &o, NULL, &scratch) == STS_OK &&
		    strcmp(o.status, "invalid") != 0 && (url = strdup(resume_order_url)) &&
		    (ret->key_pem = strdup(resume_key_pem)))
			have = true;
		sts_acme_result_release(&scratch);
		if (!have) {
			sts_acme_order_release(&o);
			free(url);
			url = NULL;
			free(ret->key_pem);
			ret->key_pem = NULL;
		}
	}
	if (!have) {
		if ((r = new_order(a, id, &o, &url, ret)) < 0)
			goto out;
		if ((r = sts_acme_key_generate(&ret->key_pem)) < 0) {
			r = fail(ret, r, id, "cannot generate the certificate key");
			goto out;
		}
	}
	if (!strcmp(o.status, "pending")) {
		for (size_t i = 0; i < o.n_authz; i++)
			if ((r = authorize(a, o.authz[i], id, prefs, ops, ret)) < 0)
				goto out;
		if ((r = poll(a, url, id, "reading the order", parse_order, release_order, &o,
			      "pending", ret)) < 0)
			goto out;
	}
	if (!strcmp(o.status, "ready")) {
		r = finalize(a, id, ret->key_pem, &o, ret);
		if (r < 0 && ret->problem.type && !strcmp(ret->problem.type, NOT_READY))
			r = finalized_already(a, url, id, &o, ret);
		if (r < 0)
			goto out;
	}
	if (!strcmp(o.status, "processing") || (!strcmp(o.status, "valid") && !o.certificate)) {
		if ((r = poll(a, url, id, "reading the order", parse_order, release_order, &o,
			      "processing|ready", ret)) < 0)
			goto out;
	}
	if (!strcmp(o.status, "valid") && o.certificate) {
		r = download(a, o.certificate, id, ret);
		goto out;
	}
	if (!strcmp(o.status, "invalid"))
		r = problem_fail(ret, STS_EPROVIDER, id, "the order is invalid", &o.error);
	else
		r = fail(ret, STS_EPROVIDER, id, "the order ended %s", o.status);
out:
	if (r < 0 && url && o.status && resumable(o.status) && r != STS_EPARSE) {
		/* interrupted: the same order can be picked up */
		ret->order_url = url;
		ret->order_expires = o.expires;
		url = NULL;
	} else if (r < 0 && ret->key_pem) {
		explicit_bzero(ret->key_pem, strlen(ret->key_pem));
		free(ret->key_pem);
		ret->key_pem = NULL;
	}
	free(url);
	sts_acme_order_release(&o);
	return r;
}
