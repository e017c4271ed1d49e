/* SPDX-License-Identifier: MIT */
/* Inside stsctl serve: what sts_serve.c (loop, HTTP) and sts_serve_tls.c (certificates) share. */
#ifndef STS_SERVE_INT_H
#define STS_SERVE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/decoder.h>
#include <openssl/ssl.h>

#include "sts_hosted_store.h"
#include "sts_serve.h"

#define ACME_ALPN     "acme-tls/1"
#define HOST_MAX      253
#define PEER_BUCKETS  4096u
#define MAX_TOKEN_LEN 256

/*
 * A hosted name as served: its certificate, parsed once, and its policy. Held
 * by the cache and by each connection handshaken with it (refs), so a flush
 * or an eviction never frees what a connection still answers from; a flushed
 * entry is stale, and a request on it reads the store again.
 */
struct cache_ent {
	char *host;
	X509 *leaf;
	STACK_OF(X509) * chain; /* the rest of the chain, shared with the intern table */
	EVP_PKEY *key;
	unsigned char *body; /* the policy's exact bytes */
	size_t body_len;
	time_t not_after;
	unsigned refs;
	bool stale;		       /* no longer in the cache */
	struct cache_ent *prev, *next; /* LRU list, most recent first */
	struct cache_ent *hnext;       /* hash chain */
};

/* a parsed chain certificate (an intermediate or root), shared by the names it issued */
#define INTERN_MAX 64
struct intern {
	char *pem;
	X509 *x;
};

struct peer {
	unsigned char key[8]; /* an IPv4 address, or the /64 of an IPv6 address */
	unsigned len;
	unsigned n;
	struct peer *next;
};

struct conn {
	struct sts_serve *s;
	SSL *ssl; /* the SSL that owns it */
	struct peer *peer;
	struct event *timer;
	time_t started;
	bool handshaken; /* the TLS handshake is done */
	bool challenge;	 /* an acme-tls/1 handshake: closed right after */
	bool close_now;
	struct cache_ent *ent;	 /* what the handshake chose; a reference */
	char host[HOST_MAX + 1]; /* the SNI name served on it */
};

struct alpn_chal {
	char *host;
	SSL_CTX *ctx;
	struct alpn_chal *next;
};

struct http_chal {
	char *token;
	char *keyauth;
	struct http_chal *next;
};

struct host_count {
	char *host;
	unsigned long long requests, not_found;
};

struct counters {
	unsigned long long connections, refused_connections, handshakes, refused_names, timeouts,
	    requests, ok, not_found, misdirected, bad_method, errors, challenges, http_challenges;
};

struct sts_serve {
	struct sts_serve_opts o;
	char *instance, *listen, *hostname;
	time_t started;
	unsigned port, http_port;

	struct event_base *base;
	struct evhttp *http, *plain;
	struct event *tick;
	SSL_CTX *dflt; /* no certificate: the ClientHello callback picks one */
	pthread_t thread;
	bool thread_started;

	/* the cache of parsed certificates */
	struct cache_ent **buckets;
	size_t n_buckets, n_cached;
	struct cache_ent *lru_head, *lru_tail;
	int64_t generation;
	unsigned ticks;
	struct intern interned[INTERN_MAX];
	size_t n_interned;
	/* made once: OpenSSL 3.0 builds a decoder per PEM key read (d2i_PrivateKey too) */
	OSSL_DECODER_CTX *dec;
	EVP_PKEY *dec_out;
	struct sts_hosted_lookup *lookup; /* a name's policy, chain and key: one prepared query */

	/* connections */
	struct peer *peers[PEER_BUCKETS];
	unsigned open;

	/* challenges, set from other threads */
	pthread_mutex_t mu;
	struct alpn_chal *alpn;
	struct http_chal *tokens;

	struct counters c;
	struct host_count *hosts;
	size_t n_hosts;
	unsigned long long hosts_other;
};

/* ex_data index of struct conn on each SSL */
extern int sts_serve_conn_idx;

void sts_serve_log(struct sts_serve *s, enum sts_serve_level lv, const char *fmt, ...)
    STS_PRINTF(3, 4);
/* lower case, no final dot, only LDH, '_' and dots: false when it is no host name */
bool sts_serve_norm_host(const char *in, size_t len, char out[HOST_MAX + 1]);
unsigned sts_serve_hash(const void *p, size_t n);
/* Shut the connection's socket down: evhttp sees EOF and frees it. */
void sts_serve_conn_close(struct conn *c);
/* The first ClientHello of a connection: count it for its client; false when over a limit. */
bool sts_serve_count_peer(struct sts_serve *s, struct conn *c);

/* sts_serve_tls.c */
SSL_CTX *sts_serve_ctx_new(void);
/*
 * The DER decoder of private keys that sts_serve_key_read() reuses (any key
 * type and structure, its key written to *out); NULL on failure.
 */
OSSL_DECODER_CTX *sts_serve_key_decoder(EVP_PKEY **out);
/*
 * A PEM private key: its base64 decoded here, the DER through dec (and out,
 * from sts_serve_key_decoder), or with a decoder of its own when dec is
 * NULL or cannot read it. A new key, or NULL.
 */
EVP_PKEY *sts_serve_key_read(OSSL_DECODER_CTX *dec, EVP_PKEY **out, const char *pem);
/* SSL_CTX_set_client_hello_cb of the default context (arg: the struct sts_serve) */
int sts_serve_client_hello(SSL *ssl, int *al, void *arg);
void sts_serve_cache_flush(struct sts_serve *s);
/* drop a connection's (or the cache's) reference */
void sts_serve_ent_put(struct cache_ent *e);
/* the cache and the TLS-ALPN-01 challenges, at stop */
void sts_serve_tls_release(struct sts_serve *s);

#endif
