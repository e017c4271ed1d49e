/* SPDX-License-Identifier: MIT */
#ifndef STS_SERVE_H
#define STS_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sts_api.h"
#include "sts_db.h"

/*
 * The hosted policy server (`stsctl serve`, docs/stsctl-serve.md): HTTPS
 * on libevent 2.1 with OpenSSL, one event loop in its own thread.
 *
 * - GET/HEAD /.well-known/mta-sts.txt on a hosted name: 200 text/plain with
 *   the exact stored bytes; another path 404; another method 405; a body
 *   413; a Host header naming another host than the SNI name 421.
 * - TLS 1.2 and 1.3 only. The certificate is chosen per SNI name in the
 *   ClientHello callback: on a name's first handshake one prepared query
 *   (sts_hosted_lookup) reads its policy, chain and key, parsed once into
 *   a bounded LRU cache (leaf, shared intermediates, key, policy bytes; no
 *   SSL_CTX per name). A name without a policy, without
 *   a valid certificate, or no SNI at all: the handshake is refused with
 *   the unrecognized_name alert; no certificate is ever sent for it.
 * - TLS-ALPN-01 (RFC 8737): sts_serve_alpn_challenge_set().
 * - HTTP-01 on an optional plain listener: sts_serve_http_challenge_set().
 * - Limits: connections in total and per client address (over them the
 *   connection is closed at accept, before TLS), a handshake deadline, an
 *   absolute deadline per connection, a cap on the request header size.
 * - The store's generation is read once a second; when it moved, cached
 *   cached entries are dropped and read again on the next handshake; a
 *   request answers with the policy of the entry its handshake took.
 * - A heartbeat with counters is written to serve_instances every
 *   heartbeat_s seconds.
 */

/* defaults of the limits below (docs/stsctl-serve.md) */
#define STS_SERVE_LISTEN	    "[::]:443"
#define STS_SERVE_MAX_CONNECTIONS   4096u
#define STS_SERVE_PER_IP_CONNS	    64u
#define STS_SERVE_HANDSHAKE_TIMEOUT 10u	   /* seconds */
#define STS_SERVE_REQUEST_TIMEOUT   30u	   /* seconds, absolute, from accept */
#define STS_SERVE_MAX_HEADER	    8192u  /* bytes of the request line and headers */
#define STS_SERVE_CACHE		    16384u /* names kept parsed (about 7 KiB each) */
#define STS_SERVE_HEARTBEAT	    5u	   /* seconds */
#define STS_SERVE_TOP_HOSTS	    256u   /* hosts counted one by one in the heartbeat */

#define STS_SERVE_POLICY_PATH "/.well-known/mta-sts.txt"
#define STS_SERVE_ACME_PATH   "/.well-known/acme-challenge/"

enum sts_serve_level { STS_SERVE_ERR, STS_SERVE_WARN, STS_SERVE_INFO, STS_SERVE_DEBUG };

struct sts_serve_opts {
	struct sts_db *db;	 /* with the hosted schema; used only by the loop's thread */
	const char *listen;	 /* "ADDR:PORT", "[ADDR]:PORT" or ":PORT"; NULL: STS_SERVE_LISTEN */
	const char *http_listen; /* the plain HTTP-01 listener, or NULL */
	unsigned max_connections;     /* 0: the default */
	unsigned per_ip_connections;  /* per IPv4 address or IPv6 /64; 0: the default */
	unsigned handshake_timeout_s; /* 0: the default */
	unsigned request_timeout_s;   /* 0: the default */
	size_t max_header;	      /* 0: the default */
	size_t cache;		      /* 0: the default */
	unsigned heartbeat_s;	      /* 0: the default */
	const char *instance;	      /* serve_instances key; NULL: "<hostname>:<pid>" */
	/* From the loop's thread: messages (the CLI logs them), and once a second (watchdog). */
	void (*on_log)(void *ud, enum sts_serve_level level, const char *msg);
	void (*on_tick)(void *ud);
	void *ud;
};

struct sts_serve;

/*
 * Bind the listeners and start the loop in a thread. STS_EINVAL (a bad
 * address), STS_EIO (cannot bind), STS_ETLS, STS_ENOMEM; *reterr (may be
 * NULL; malloc'd) says why.
 */
STS_API int sts_serve_start(const struct sts_serve_opts *o, struct sts_serve **ret, char **reterr);
/* The bound ports (the chosen ones for port 0); 0 without the HTTP listener. */
STS_API unsigned sts_serve_port(const struct sts_serve *s);
STS_API unsigned sts_serve_http_port(const struct sts_serve *s);
/* Stop (from any thread but the loop's), write the last heartbeat, free. NULL is fine. */
STS_API void sts_serve_stop(struct sts_serve *s);

/*
 * TLS-ALPN-01 (RFC 8737), from any thread: while set, a ClientHello for
 * host that offers "acme-tls/1" gets this certificate (PEM, with the
 * acmeIdentifier extension) and that protocol, and the connection is closed
 * after the handshake. "acme-tls/1" is never selected otherwise. Setting
 * again replaces. STS_EINVAL when the PEM does not parse or the key does
 * not match.
 */
STS_API int sts_serve_alpn_challenge_set(struct sts_serve *s, const char *host,
					 const char *cert_pem, const char *key_pem);
STS_API void sts_serve_alpn_challenge_clear(struct sts_serve *s, const char *host);

/*
 * HTTP-01, from any thread: GET /.well-known/acme-challenge/<token> on the
 * plain listener answers keyauth (application/octet-stream).
 */
STS_API int sts_serve_http_challenge_set(struct sts_serve *s, const char *token,
					 const char *keyauth);
STS_API void sts_serve_http_challenge_clear(struct sts_serve *s, const char *token);

#endif
