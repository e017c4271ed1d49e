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

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_serve.h"
#include "sts_serve_int.h"

/* ---- the certificate cache ---- */

void sts_serve_ent_put(struct cache_ent *e)
{
	if (!e || --e->refs > 0)
		return;
	X509_free(e->leaf);
	sk_X509_pop_free(e->chain, X509_free);
	EVP_PKEY_free(e->key);
	STS_FREE_ALL(e->body, e->host, e);
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

/* out of the cache: connections holding it answer from the store from now on */
static void cache_drop(struct sts_serve *s, struct cache_ent *e)
{
	cache_unlink(s, e);
	e->stale = true;
	sts_serve_ent_put(e);
}

void sts_serve_cache_flush(struct sts_serve *s)
{
	while (s->lru_head)
		cache_drop(s, s->lru_head);
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

/*
 * A chain certificate: parsed once and shared when s has seen the same PEM
 * block before (the few intermediates that issue every hosted name), else
 * parsed. A new reference, or NULL.
 */
static X509 *chain_cert(struct sts_serve *s, const char *pem, size_t len)
{
	BIO *b;
	X509 *x;
	for (size_t i = 0; s && i < s->n_interned; i++)
		if (strlen(s->interned[i].pem) == len && memcmp(s->interned[i].pem, pem, len) == 0)
			return X509_up_ref(s->interned[i].x) == 1 ? s->interned[i].x : NULL;
	if (!(b = BIO_new_mem_buf(pem, (int)len)))
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x && s && s->n_interned < INTERN_MAX && X509_up_ref(x) == 1) {
		struct intern *in = &s->interned[s->n_interned];
		if ((in->pem = strndup(pem, len))) {
			in->x = x;
			s->n_interned++;
		} else {
			X509_free(x);
		}
	}
	return x;
}

/* the next PEM block of chain from *p on: its start and length; false at the end */
static bool next_block(const char **p, const char **start, size_t *len)
{
	static const char end[] = "-----END CERTIFICATE-----";
	const char *b = strstr(*p, "-----BEGIN CERTIFICATE-----"), *e;
	if (!b || !(e = strstr(b, end)))
		return false;
	*start = b;
	*len = (size_t)(e - b) + strlen(end);
	*p = b + *len;
	return true;
}

OSSL_DECODER_CTX *sts_serve_key_decoder(EVP_PKEY **out)
{
	return OSSL_DECODER_CTX_new_for_pkey(out, "DER", NULL, NULL, OSSL_KEYMGMT_SELECT_KEYPAIR,
					     NULL, NULL);
}

/* an encrypted key: refused, never a password prompt on a terminal */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/*
 * Through dec, the DER of the PEM block: about 25 us per EC key here,
 * against 50 through a PEM decoder made once and 400 for
 * PEM_read_bio_PrivateKey, which builds a decoder per key
 * (docs/performance.md, "Hosted policy server").
 */
EVP_PKEY *sts_serve_key_read(OSSL_DECODER_CTX *dec, EVP_PKEY **out, const char *pem)
{
	EVP_PKEY *k = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	BIO *b = BIO_new_mem_buf(pem, -1);

	if (!b)
		return NULL;
	if (dec && PEM_read_bio(b, &name, &header, &der, &len) == 1 && !header[0]) {
		const unsigned char *p = der;
		size_t l = (size_t)len;
		*out = NULL;
		if (OSSL_DECODER_from_data(dec, &p, &l) == 1 && l == 0)
			k = *out;
		else
			EVP_PKEY_free(*out);
		*out = NULL;
	}
	if (der) {
		OPENSSL_clear_free(der, (size_t)len);
		OPENSSL_free(name);
		OPENSSL_free(header);
	}
	/* no shared decoder, or a key it cannot read (an encrypted one): one of its own */
	if (!k && BIO_reset(b) == 1)
		k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
	BIO_free(b);
	return k;
}

/*
 * Parse a chain (leaf first) and its key into e (leaf, chain, key,
 * not_after); s (NULL from other threads) shares the chain certificates and
 * the key decoder. false with *why set.
 */
static bool parse_cert(struct sts_serve *s, const char *chain, const char *key, struct cache_ent *e,
		       const char **why)
{
	const char *p = chain, *blk;
	size_t len;
	struct tm tm;
	BIO *b = NULL;

	*why = "the certificate does not parse";
	if (!next_block(&p, &blk, &len) || !(b = BIO_new_mem_buf(blk, (int)len)) ||
	    !(e->leaf = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		goto err;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(e->leaf), &tm) != 1)
		goto err;
	e->not_after = timegm(&tm);
	*why = "out of memory";
	if (!(e->chain = sk_X509_new_null()))
		goto err;
	*why = "the certificate does not parse";
	while (next_block(&p, &blk, &len)) {
		X509 *x = chain_cert(s, blk, len);
		if (!x || !sk_X509_push(e->chain, x)) {
			X509_free(x);
			goto err;
		}
	}
	*why = "the key does not parse";
	if (!(e->key = sts_serve_key_read(s ? s->dec : NULL, s ? &s->dec_out : NULL, key)))
		goto err;
	*why = "the key does not match the certificate";
	if (X509_check_private_key(e->leaf, e->key) != 1)
		goto err;
	*why = "the certificate is not valid now";
	if (X509_cmp_current_time(X509_get0_notBefore(e->leaf)) > 0 ||
	    X509_cmp_current_time(X509_get0_notAfter(e->leaf)) < 0)
		goto err;
	BIO_free(b);
	ERR_clear_error();
	return true;
err:
	BIO_free(b);
	ERR_clear_error();
	X509_free(e->leaf);
	sk_X509_pop_free(e->chain, X509_free);
	EVP_PKEY_free(e->key);
	e->leaf = NULL, e->chain = NULL, e->key = NULL;
	return false;
}

/* A context with this chain (leaf first) and key (a TLS-ALPN-01 challenge's); NULL with *why set.
 */
static SSL_CTX *ctx_from_pem(const char *chain, const char *key, const char **why)
{
	struct cache_ent e = {0};
	SSL_CTX *ctx;
	if (!parse_cert(NULL, chain, key, &e, why))
		return NULL;
	*why = "out of memory";
	if ((ctx = sts_serve_ctx_new()) &&
	    SSL_CTX_use_cert_and_key(ctx, e.leaf, e.key, e.chain, 1) != 1) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	ERR_clear_error();
	X509_free(e.leaf);
	sk_X509_pop_free(e.chain, X509_free);
	EVP_PKEY_free(e.key);
	return ctx;
}

/* A hosted name from the cache or the store, with a reference for the caller; NULL: refuse it. */
static struct cache_ent *cache_get(struct sts_serve *s, const char *host)
{
	unsigned h = sts_serve_hash(host, strlen(host));
	struct cache_ent *e = s->buckets[h % s->n_buckets];
	struct sts_hosted_served v;
	bool found = false;
	const char *why = NULL;

	while (e && strcmp(e->host, host) != 0)
		e = e->hnext;
	if (e && e->not_after < time(NULL)) {
		sts_serve_log(s, STS_SERVE_WARN,
			      "serve: the certificate of '%s' expired, reading it again", host);
		cache_drop(s, e);
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
		e->refs++;
		return e;
	}
	if (sts_hosted_lookup_get(s->lookup, host, &v, &found) < 0) {
		sts_serve_log(s, STS_SERVE_ERR, "serve: cannot read '%s' from the store: %s", host,
			      sts_db_errmsg(s->o.db));
		return NULL;
	}
	if (!found) {
		sts_serve_log(s, STS_SERVE_DEBUG, "serve: '%s' is not hosted, handshake refused",
			      host);
		return NULL;
	}
	if (!v.chain_pem || !v.key_pem) {
		sts_serve_log(s, STS_SERVE_INFO,
			      "serve: '%s' has a policy but no certificate yet, handshake refused",
			      host);
		sts_hosted_served_release(&v);
		return NULL;
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->host = strdup(host))) {
		free(e);
		sts_hosted_served_release(&v);
		return NULL;
	}
	e->refs = 1;
	e->body = v.body; /* taken over */
	e->body_len = v.body_len;
	v.body = NULL;
	if (!parse_cert(s, v.chain_pem, v.key_pem, e, &why)) {
		sts_hosted_served_release(&v);
		sts_serve_log(s, STS_SERVE_WARN,
			      "serve: certificate of '%s' unusable (%s), handshake refused", host,
			      why);
		sts_serve_ent_put(e);
		return NULL;
	}
	sts_hosted_served_release(&v);
	if (s->n_cached >= s->o.cache)
		cache_drop(s, s->lru_tail);
	e->hnext = s->buckets[h % s->n_buckets];
	s->buckets[h % s->n_buckets] = e;
	lru_front(s, e);
	s->n_cached++;
	e->refs++; /* the caller's */
	return e;
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
	struct cache_ent *e;

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
	if (!(e = cache_get(s, host)))
		goto refuse;
	if (SSL_use_cert_and_key(ssl, e->leaf, e->key, e->chain, 1) != 1) {
		sts_serve_ent_put(e);
		ERR_clear_error();
		goto refuse;
	}
	sts_serve_ent_put(c->ent); /* a second ClientHello (HelloRetryRequest) */
	c->ent = e;
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
	if (!(ctx = ctx_from_pem(cert_pem, key_pem, &why)))
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
	for (size_t i = 0; i < s->n_interned; i++) {
		X509_free(s->interned[i].x);
		free(s->interned[i].pem);
	}
	s->n_interned = 0;
	OSSL_DECODER_CTX_free(s->dec);
	s->dec = NULL;
	sts_hosted_lookup_free(s->lookup);
	s->lookup = NULL;
	while (s->alpn) {
		struct alpn_chal *a = s->alpn;
		s->alpn = a->next;
		SSL_CTX_free(a->ctx);
		free(a->host);
		free(a);
	}
}
