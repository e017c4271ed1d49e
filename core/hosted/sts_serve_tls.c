/* SPDX-License-Identifier: MIT */
/*
 * stsctl serve, the certificates (sts_serve.h): the ClientHello callback
 * that picks a context per SNI name (or the TLS-ALPN-01 challenge's), the
 * bounded LRU cache of contexts read lazily from the hosted store, and the
 * challenge certificates set from other threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_serve.h"
#include "sts_serve_int.h"

/* ---- the certificate cache ---- */

static void ent_free(struct cache_ent *e)
{
	SSL_CTX_free(e->ctx);
	free(e->host);
	free(e);
}

static void cache_unlink(struct sts_serve *s, struct cache_ent *e)
{
	struct cache_ent **pp =
	    &s->buckets[sts_serve_hash(e->host, strlen(e->host)) % s->n_buckets];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		s->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->lru_tail = e->prev;
	s->n_cached--;
}

void sts_serve_cache_flush(struct sts_serve *s)
{
	while (s->lru_head) {
		struct cache_ent *e = s->lru_head;
		cache_unlink(s, e);
		ent_free(e);
	}
}

static void lru_front(struct sts_serve *s, struct cache_ent *e)
{
	e->prev = NULL;
	e->next = s->lru_head;
	if (s->lru_head)
		s->lru_head->prev = e;
	s->lru_head = e;
	if (!s->lru_tail)
		s->lru_tail = e;
}

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	struct conn *c = SSL_get_ex_data(ssl, sts_serve_conn_idx);
	const char *want = c && c->challenge ? ACME_ALPN : "http/1.1";
	size_t wl = strlen(want);
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == wl && memcmp(in + i + 1, want, wl) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	/* acme-tls/1 offered without a challenge set: never selected */
	return c && c->challenge ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX *sts_serve_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	/* no resumption: a session must never carry one name's handshake to another */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	return ctx;
}

/* A context with this chain (leaf first) and key; NULL with *why set. */
static SSL_CTX *ctx_from_pem(const char *chain, const char *key, time_t *ret_not_after,
			     const char **why)
{
	SSL_CTX *ctx = NULL;
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	bool ok = false;

	*why = "out of memory";
	if (!(ctx = sts_serve_ctx_new()) || !(b = BIO_new_mem_buf(chain, -1)))
		goto out;
	*why = "the certificate does not parse";
	if (!(x = PEM_read_bio_X509(b, NULL, NULL, NULL)) || SSL_CTX_use_certificate(ctx, x) != 1)
		goto out;
	if (ret_not_after) {
		struct tm tm;
		if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
			goto out;
		*ret_not_after = timegm(&tm);
	}
	for (X509 *ca; (ca = PEM_read_bio_X509(b, NULL, NULL, NULL));)
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			goto out;
		}
	ERR_clear_error(); /* the end of the chain */
	BIO_free(b);
	*why = "the key does not parse";
	if (!(b = BIO_new_mem_buf(key, -1)) ||
	    !(k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) ||
	    SSL_CTX_use_PrivateKey(ctx, k) != 1)
		goto out;
	*why = "the key does not match the certificate";
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	*why = "the certificate is not valid now";
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0 ||
	    X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		goto out;
	ok = true;
out:
	ERR_clear_error();
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The context of a hosted name from the cache or the store; NULL: refuse the name. */
static SSL_CTX *cache_get(struct sts_serve *s, const char *host)
{
	unsigned h = sts_serve_hash(host, strlen(host));
	struct cache_ent *e = s->buckets[h % s->n_buckets];
	struct sts_hosted_policy p;
	struct sts_hosted_cert cert;
	bool found = false;
	const char *why = NULL;
	time_t not_after = 0;
	SSL_CTX *ctx;

	while (e && strcmp(e->host, host) != 0)
		e = e->hnext;
	if (e && e->not_after < time(NULL)) {
		sts_serve_log(s, STS_SERVE_WARN,
			      "serve: the certificate of '%s' expired, reading it again", host);
		cache_unlink(s, e);
		ent_free(e);
		e = NULL;
	}
	if (e) {
		if (e != s->lru_head) {
			cache_unlink(s, e);
			s->n_cached++;
			e->hnext = s->buckets[h % s->n_buckets];
			s->buckets[h % s->n_buckets] = e;
			lru_front(s, e);
		}
		return e->ctx;
	}
	if (sts_hosted_policy_get(s->o.db, host, &p, &found) < 0) {
		sts_serve_log(s, STS_SERVE_ERR, "serve: cannot read the policy of '%s': %s", host,
			      sts_db_errmsg(s->o.db));
		return NULL;
	}
	if (!found) {
		sts_serve_log(s, STS_SERVE_DEBUG, "serve: '%s' is not hosted, handshake refused",
			      host);
		return NULL;
	}
	sts_hosted_policy_release(&p);
	if (sts_hosted_cert_get(s->o.db, host, &cert, &found) < 0) {
		sts_serve_log(s, STS_SERVE_ERR, "serve: cannot read the certificate of '%s': %s",
			      host, sts_db_errmsg(s->o.db));
		return NULL;
	}
	if (!found || !cert.chain_pem || !cert.key_pem) {
		sts_serve_log(s, STS_SERVE_INFO,
			      "serve: '%s' has a policy but no certificate yet, handshake refused",
			      host);
		if (found)
			sts_hosted_cert_release(&cert);
		return NULL;
	}
	ctx = ctx_from_pem(cert.chain_pem, cert.key_pem, &not_after, &why);
	sts_hosted_cert_release(&cert);
	if (!ctx) {
		sts_serve_log(s, STS_SERVE_WARN,
			      "serve: certificate of '%s' unusable (%s), handshake refused", host,
			      why);
		return NULL;
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->host = strdup(host))) {
		free(e);
		SSL_CTX_free(ctx);
		return NULL;
	}
	e->ctx = ctx;
	e->not_after = not_after;
	if (s->n_cached >= s->o.cache) {
		struct cache_ent *old = s->lru_tail;
		cache_unlink(s, old);
		ent_free(old);
	}
	e->hnext = s->buckets[h % s->n_buckets];
	s->buckets[h % s->n_buckets] = e;
	lru_front(s, e);
	s->n_cached++;
	return ctx;
}

/* ---- the ClientHello: SNI and ALPN decide the certificate ---- */

static bool sni_of(SSL *ssl, char host[HOST_MAX + 1])
{
	const unsigned char *p;
	size_t len;
	/* server_name_list: len(2) { type(1) len(2) name } */
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 5)
		return false;
	size_t list = ((size_t)p[0] << 8) | p[1];
	if (list + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name)
		return false;
	size_t n = ((size_t)p[3] << 8) | p[4];
	if (n + 5 > len)
		return false;
	return sts_serve_norm_host((const char *)p + 5, n, host);
}

static bool offers_acme(SSL *ssl)
{
	const unsigned char *p;
	size_t len;
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
				       &len) ||
	    len < 2)
		return false;
	for (size_t i = 2; i < len;) {
		size_t n = p[i];
		if (i + 1 + n > len)
			return false;
		if (n == strlen(ACME_ALPN) && memcmp(p + i + 1, ACME_ALPN, n) == 0)
			return true;
		i += 1 + n;
	}
	return false;
}

int sts_serve_client_hello(SSL *ssl, int *al, void *arg)
{
	struct sts_serve *s = arg;
	struct conn *c = SSL_get_ex_data(ssl, sts_serve_conn_idx);
	char host[HOST_MAX + 1];
	SSL_CTX *ctx = NULL;

	if (!c)
		goto refuse;
	if (!c->peer && !sts_serve_count_peer(s, c)) {
		s->c.refused_connections++;
		sts_serve_conn_close(c); /* the alert below cannot be sent any more */
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (!sni_of(ssl, host)) {
		sts_serve_log(s, STS_SERVE_DEBUG,
			      "serve: a ClientHello without a usable name, refused");
		goto refuse;
	}
	if (offers_acme(ssl)) {
		pthread_mutex_lock(&s->mu);
		for (struct alpn_chal *a = s->alpn; a; a = a->next)
			if (strcmp(a->host, host) == 0) {
				SSL_set_SSL_CTX(ssl, a->ctx); /* holds a reference */
				c->challenge = true;
				break;
			}
		pthread_mutex_unlock(&s->mu);
		if (c->challenge) {
			sts_serve_log(s, STS_SERVE_INFO, "serve: tls-alpn-01 handshake for '%s'",
				      host);
			snprintf(c->host, sizeof(c->host), "%s", host);
			return SSL_CLIENT_HELLO_SUCCESS;
		}
	}
	if (!(ctx = cache_get(s, host)))
		goto refuse;
	SSL_set_SSL_CTX(ssl, ctx);
	snprintf(c->host, sizeof(c->host), "%s", host);
	return SSL_CLIENT_HELLO_SUCCESS;
refuse:
	s->c.refused_names++;
	*al = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_CLIENT_HELLO_ERROR;
}

/* ---- challenges ---- */

STS_API int sts_serve_alpn_challenge_set(struct sts_serve *s, const char *host,
					 const char *cert_pem, const char *key_pem)
{
	char norm[HOST_MAX + 1];
	const char *why;
	struct alpn_chal *a;
	SSL_CTX *ctx;

	if (!host || !sts_serve_norm_host(host, strlen(host), norm) || !cert_pem || !key_pem)
		return STS_EINVAL;
	if (!(ctx = ctx_from_pem(cert_pem, key_pem, NULL, &why)))
		return STS_EINVAL;
	pthread_mutex_lock(&s->mu);
	for (a = s->alpn; a && strcmp(a->host, norm) != 0; a = a->next)
		;
	if (a) {
		SSL_CTX_free(a->ctx);
		a->ctx = ctx;
	} else if ((a = calloc(1, sizeof(*a))) && (a->host = strdup(norm))) {
		a->ctx = ctx;
		a->next = s->alpn;
		s->alpn = a;
	} else {
		free(a);
		SSL_CTX_free(ctx);
		pthread_mutex_unlock(&s->mu);
		return STS_ENOMEM;
	}
	pthread_mutex_unlock(&s->mu);
	return STS_OK;
}

STS_API void sts_serve_alpn_challenge_clear(struct sts_serve *s, const char *host)
{
	char norm[HOST_MAX + 1];
	if (!host || !sts_serve_norm_host(host, strlen(host), norm))
		return;
	pthread_mutex_lock(&s->mu);
	for (struct alpn_chal **pp = &s->alpn; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->host, norm) == 0) {
			struct alpn_chal *a = *pp;
			*pp = a->next;
			SSL_CTX_free(a->ctx); /* handshakes using it hold their own reference */
			free(a->host);
			free(a);
			break;
		}
	pthread_mutex_unlock(&s->mu);
}

void sts_serve_tls_release(struct sts_serve *s)
{
	if (s->buckets)
		sts_serve_cache_flush(s);
	while (s->alpn) {
		struct alpn_chal *a = s->alpn;
		s->alpn = a->next;
		SSL_CTX_free(a->ctx);
		free(a->host);
		free(a);
	}
}
