/* SPDX-License-Identifier: MIT */
#ifndef STS_ACME_H
#define STS_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_api.h"

/*
 * ACME client (RFC 8555), challenges tls-alpn-01 (RFC 8737) and http-01,
 * on sts_http (TLS always verified, every body capped, every request with
 * a deadline), OpenSSL 3 and jansson. One order per call, for one
 * identifier (mta-sts.<domain>). The library never sleeps for long: a 429
 * or 503 with Retry-After ends the call with the time to try again
 * (ret->retry_at), which the caller schedules (sts_acme_renew_at). Every
 * loop is bounded: badNonce retries, authorization and order polls.
 *
 * Keys travel as PEM strings: the caller stores the account key (the
 * hosted store's hosted_acme_account) and the certificate key. Nothing
 * here logs; no key ever reaches an error text.
 *
 *     struct sts_acme_opts o = {.directory_url = URL, .ca_file = CA};
 *     sts_acme_new(&o, account_key_pem_or_NULL, &a);
 *     sts_acme_account(a, contacts, true, &res);    (kid kept in a)
 *     sts_acme_issue(a, "mta-sts.example.com", prefs, &ops, NULL, &res);
 *     res.chain_pem, res.key_pem, res.not_before, res.not_after
 */

/* An RFC 7807 problem document as the server sent it. */
struct sts_acme_problem {
	char *type;   /* e.g. "urn:ietf:params:acme:error:badNonce"; NULL none */
	char *detail; /* NULL when none */
	long status;  /* the document's status, else the HTTP status; 0 none */
};

struct sts_acme_opts {
	const char *directory_url; /* https://…/directory */
	const char *ca_file;	   /* trust for the ACME server's API; NULL = system */
	const char *user_agent;	   /* NULL = sts_http's default */
	long timeout_ms;	   /* per request; 0 = 15000 */
	size_t max_response;	   /* body cap; 0 = 256 KiB (a chain fits) */
	unsigned max_bad_nonce;	   /* retries of one request on badNonce; 0 = 5 */
	unsigned max_polls;	   /* polls of an authorization or order; 0 = 30 */
	long poll_interval_ms;	   /* wait between polls without Retry-After; 0 = 1000 */
	long poll_max_ms;	   /* cap of one wait (Retry-After included); 0 = 10000 */
	long max_retry_after_s;	   /* Retry-After above this is clamped; 0 = 86400 */
};

/*
 * How the caller answers a challenge. present() makes it answerable:
 * http-01: serve keyauth at /.well-known/acme-challenge/<token>;
 * tls-alpn-01: serve cert_pem/key_pem (built here: SAN = identifier,
 * critical id-pe-acmeIdentifier) to a handshake for identifier with ALPN
 * "acme-tls/1". cert_pem and key_pem are NULL for http-01. Nonzero from
 * present() ends the order attempt. cleanup() (may be NULL) is called once
 * after every present() that succeeded, whatever the outcome.
 */
struct sts_acme_challenge_ops {
	int (*present)(void *ud, const char *type, const char *identifier, const char *token,
		       const char *keyauth, const char *cert_pem, const char *key_pem);
	void (*cleanup)(void *ud, const char *type, const char *identifier, const char *token);
	void *ud;
};

struct sts_acme_result {
	/* success (sts_acme_issue) */
	char *chain_pem;      /* leaf first, then the intermediates */
	char *key_pem;	      /* the certificate key (also kept on a resumable failure) */
	long long not_before; /* of the leaf, Unix time */
	long long not_after;
	char *challenge; /* the challenge type used, NULL when an authorization was reused */
	/* failure */
	struct sts_acme_problem problem; /* the server's problem, if any */
	char *error;			 /* one line naming the identifier: what failed and why */
	long long retry_at;	 /* 429/503 with Retry-After: not before this (Unix time); 0 none */
	char *order_url;	 /* interrupted: pass with key_pem to resume the same order */
	long long order_expires; /* of that order (Unix time); 0 unknown */
};

struct sts_acme;

/*
 * account_key_pem: the stored account key (PEM, P-256), or NULL to
 * generate one (read it with sts_acme_account_key_pem and store it).
 * Returns STS_OK, STS_EINVAL (bad options or key), STS_ENOMEM.
 */
STS_API int sts_acme_new(const struct sts_acme_opts *o, const char *account_key_pem,
			 struct sts_acme **ret);
STS_API void sts_acme_free(struct sts_acme *a);

/* The account key as PKCS#8 PEM (a secret: the caller stores it 0600). */
STS_API int sts_acme_account_key_pem(const struct sts_acme *a, char **ret);

/*
 * Find the account of this key (onlyReturnExisting) or, when there is none
 * and create is true, create it with contact ("mailto:…", NULL-terminated;
 * may be NULL) and termsOfServiceAgreed. The account URL (kid) is kept in
 * a. ret is initialised either way (release it). Returns STS_OK,
 * STS_ENOENT (no account and !create), STS_EPROVIDER (a problem document:
 * ret->problem), STS_EAGAIN (ret->retry_at), STS_ENET, STS_ETIMEOUT,
 * STS_ETLS, STS_ETOOLARGE, STS_EPARSE.
 */
STS_API int sts_acme_account(struct sts_acme *a, const char *const *contact, bool create,
			     struct sts_acme_result *ret);
STS_API const char *sts_acme_kid(const struct sts_acme *a); /* NULL before sts_acme_account */
/* How many badNonce answers were retried over the handle's life (counters). */
STS_API unsigned sts_acme_bad_nonces(const struct sts_acme *a);

/*
 * Order a certificate for identifier (a DNS name) and see it through:
 * authorization, the first challenge of prefs the server offers
 * ("tls-alpn-01", "http-01"; NULL-terminated; NULL = both in that order),
 * finalisation with a CSR from a new P-256 key, the chain download.
 * resume_order_url/resume_key_pem (both or neither) continue an order a
 * former call left in ret->order_url instead of a new one, while the
 * server still has it. Needs sts_acme_account first. Returns STS_OK, or
 * STS_EPROVIDER (a problem: ret->problem, ret->error; a failed challenge
 * too, with the problem the server gave it), STS_EAGAIN (ret->retry_at), STS_ETIMEOUT (polls
 * exhausted), STS_ENET/STS_ETLS (connection), STS_EPARSE, STS_ETOOLARGE,
 * STS_EINVAL; ret->error says what in every case.
 */
STS_API int sts_acme_issue(struct sts_acme *a, const char *identifier, const char *const *prefs,
			   const struct sts_acme_challenge_ops *ops, const char *resume_order_url,
			   const char *resume_key_pem, struct sts_acme_result *ret);
STS_API void sts_acme_result_release(struct sts_acme_result *r);
STS_API void sts_acme_problem_release(struct sts_acme_problem *p);

/* ---- renewal policy (pure) ---- */
struct sts_acme_renew_in {
	long long now;
	long long not_before, not_after; /* of the current certificate; 0,0 = none */
	unsigned failures;		 /* consecutive failed attempts */
	long long last_failure;		 /* time of the last of them */
	long long retry_after;		 /* the server's "not before" (Unix time), 0 none */
	uint64_t seed;			 /* jitter: e.g. a hash of the identifier */
};
/* Backoff after n failures: 60 s * 2^(n-1), capped at this. */
#define STS_ACME_BACKOFF_MAX 86400LL
/*
 * When to (re)order: at two thirds of the lifetime, earlier by a jitter of
 * up to 1/30 of the lifetime (deterministic in seed); now when there is no
 * certificate or it has expired; never before last_failure + the backoff
 * nor before retry_after.
 */
STS_API long long sts_acme_renew_at(const struct sts_acme_renew_in *in);

/* ---- the pieces, exposed for tests and fuzzing ---- */
struct sts_acme_directory {
	char *new_nonce, *new_account, *new_order, *terms_of_service;
};
struct sts_acme_challenge {
	char *type, *url, *token, *status;
};
/* status first in both: the client polls either by it */
struct sts_acme_authz {
	char *status, *identifier;
	struct sts_acme_challenge *chal;
	size_t n_chal;
	struct sts_acme_problem error; /* of the first invalid challenge */
};
struct sts_acme_order {
	char *status, *finalize, *certificate;
	char **authz;
	size_t n_authz;
	struct sts_acme_problem error;
	long long expires; /* Unix time; 0 when the server gave none */
};

/* Parsers of the server's JSON: STS_OK, STS_EPARSE (not JSON, not an
 * object, a required member missing or of the wrong type). */
STS_API int sts_acme_problem_parse(const char *body, size_t len, long http_status,
				   struct sts_acme_problem *ret);
STS_API int sts_acme_directory_parse(const char *body, size_t len, struct sts_acme_directory *ret);
STS_API void sts_acme_directory_release(struct sts_acme_directory *d);
STS_API int sts_acme_authz_parse(const char *body, size_t len, struct sts_acme_authz *ret);
STS_API void sts_acme_authz_release(struct sts_acme_authz *z);
STS_API int sts_acme_order_parse(const char *body, size_t len, struct sts_acme_order *ret);
STS_API void sts_acme_order_release(struct sts_acme_order *o);

/* base64url without padding of n bytes (malloc'd). */
STS_API char *sts_acme_b64url(const void *p, size_t n);
/* A P-256 key, new, as PKCS#8 PEM. */
STS_API int sts_acme_key_generate(char **ret_pem);
/* The public JWK of a P-256 key (PEM): {"crv","kty","x","y"}. */
STS_API int sts_acme_jwk(const char *key_pem, json_t **ret);
/* RFC 7638 thumbprint (base64url SHA-256) of a JWK (EC or RSA members). */
STS_API int sts_acme_jwk_thumbprint(const json_t *jwk, char **ret);
/*
 * Flattened JWS (RFC 7515) with ES256 over payload ("" = POST-as-GET),
 * protected header {alg, nonce, url} plus kid, or jwk when kid is NULL.
 * The signature is r||s, 64 bytes.
 */
STS_API int sts_acme_jws(const char *key_pem, const char *kid, const char *nonce, const char *url,
			 const char *payload, char **ret_json);
/*
 * The tls-alpn-01 certificate: self-signed, new P-256 key, SAN dNSName
 * identifier, critical extension 1.3.6.1.5.5.7.1.31 holding the DER OCTET
 * STRING of SHA-256(keyauth). Valid from an hour ago for 7 days.
 */
STS_API int sts_acme_alpn_cert(const char *identifier, const char *keyauth, char **ret_cert_pem,
			       char **ret_key_pem);
/* DER CSR for identifier (SAN and CN) signed by key_pem (malloc'd). */
STS_API int sts_acme_csr(const char *identifier, const char *key_pem, unsigned char **ret_der,
			 size_t *ret_len);
/* notBefore/notAfter of the first certificate of a PEM chain. */
STS_API int sts_acme_cert_dates(const char *pem, long long *ret_not_before,
				long long *ret_not_after);

#endif
