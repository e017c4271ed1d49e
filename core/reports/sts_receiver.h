/* SPDX-License-Identifier: MIT */
#ifndef STS_RECEIVER_H
#define STS_RECEIVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"
#include "sts_ingest.h"

/*
 * HTTPS receiver for TLS reports POSTed to an https: rua (RFC 8460 §5.4,
 * docs/rfc-rules.md H1-H4), on libmicrohttpd (which speaks TLS through GnuTLS: the
 * certificate and key are handed over as PEM text).
 *
 * Only POST on the configured path is accepted: another method there is
 * 405 (Allow: POST), another path 404. The body must be
 * application/tlsrpt+json or application/tlsrpt+gzip (415 otherwise) and
 * at most max_body bytes (413, refused from Content-Length before it is
 * read, or as soon as a chunked body grows past it). Then the handler
 * decides: the store handler below answers 201 for a new report, 200 for a
 * duplicate, 400 for a report that cannot be used (quarantined), 503 with
 * Retry-After when the state is locked or the DB fails, or the quota for
 * unauthenticated input is used up.
 *
 * Abuse limits (each answered with Retry-After): an absolute deadline per
 * request (the connection is cut), a budget for bodies held in memory
 * (503), per-client connections and requests per minute (429).
 *
 * It runs in its own threads: `stsctl receive` starts it and waits for a
 * signal; the watcher embeds it the same way.
 */

struct sts_receiver_request {
	const char *peer;	  /* client address ("192.0.2.1", "2001:db8::1") */
	const char *content_type; /* "application/tlsrpt+gzip" or "+json", lower case */
	const void *body;
	size_t len;
};

struct sts_receiver_reply {
	unsigned status;      /* HTTP status */
	char message[256];    /* text/plain body (a newline is added) */
	unsigned retry_after; /* seconds, sent with 503; 0 = none */
};

typedef void (*sts_receiver_handler)(void *ud, const struct sts_receiver_request *req,
				     struct sts_receiver_reply *reply);

/* defaults of the limits below (docs/stsctl-receive.md) */
#define STS_RECEIVER_MAX_CONNECTIONS 64u
#define STS_RECEIVER_PER_IP_CONNS    16u
#define STS_RECEIVER_PER_IP_REQUESTS 300u /* per minute */
#define STS_RECEIVER_IDLE_TIMEOUT    30u  /* seconds */
#define STS_RECEIVER_REQUEST_TIMEOUT 60u  /* seconds, absolute */
#define STS_RECEIVER_BODY_MEMORY     (64u * 1024u * 1024u)
#define STS_RECEIVER_QUOTA_REPORTS   STS_INGEST_QUOTA_REPORTS
#define STS_RECEIVER_QUOTA_BYTES     STS_INGEST_QUOTA_BYTES

struct sts_receiver_opts {
	const char *listen;   /* "ADDR:PORT", "[ADDR]:PORT" or ":PORT" (IPv4 any); port 0 = any */
	const char *path;     /* NULL = STS_RECEIVER_DEFAULT_PATH */
	const char *cert_pem; /* PEM text of the certificate chain (required) */
	const char *key_pem;  /* PEM text of its key (required) */
	size_t max_body;      /* 0 = STS_RECEIVER_MAX_BODY */
	unsigned max_connections; /* 0 = 64 */
	/*
	 * Per client (an IPv4 address, or the /64 of an IPv6 address): open
	 * connections beyond this get 429 (0 = 16; libmicrohttpd drops a
	 * connection beyond twice as many before it is read), and requests
	 * beyond per_ip_requests in a minute get 429 (0 = 300), both with
	 * Retry-After.
	 */
	unsigned per_ip_connections;
	unsigned per_ip_requests;
	unsigned timeout_s; /* idle connection timeout; 0 = 30 */
	/*
	 * Absolute deadline of each request, from the connection's start (or
	 * the end of the previous request on it) to the complete body: TLS
	 * handshake, headers and body together. A client past it is cut off,
	 * however slowly it keeps sending. 0 = 60 s.
	 */
	unsigned request_timeout_s;
	/* bodies of all requests held in memory together; past it 503. 0 = 64 MiB */
	size_t body_memory;
	unsigned threads; /* 0 = 2 */
	sts_receiver_handler handler;
	void *ud;
	/*
	 * Every answered request, for an access log, and every connection cut
	 * at its deadline (method and path "-", status 408). Called from the
	 * receiver's threads, one call at a time (under the receiver's lock).
	 */
	void (*on_access)(void *ud, const char *peer, const char *method, const char *path,
			  unsigned status, const char *message);
	void *access_ud; /* on_access's ud */
};

struct sts_receiver;

/*
 * Start listening. Returns STS_OK, STS_EINVAL (bad listen address or
 * missing PEM; *reterr says why), STS_EIO (libmicrohttpd could not start:
 * port in use, bad certificate; *reterr has its reason) or STS_ENOMEM.
 * reterr (may be NULL) is malloc'd.
 */
STS_API int sts_receiver_start(const struct sts_receiver_opts *o, struct sts_receiver **ret,
			       char **reterr);
/* The port it listens on (the chosen one when listen asked for port 0). */
STS_API unsigned sts_receiver_port(const struct sts_receiver *r);
/* Stop accepting, finish the requests in flight, free. NULL is fine. */
STS_API void sts_receiver_stop(struct sts_receiver *r);

/* ---- the handler that stores into the state DB ---- */

struct sts_receiver_store {
	struct sts_ingest *ing;
	bool trusted;	     /* reports.https.trusted: posted reports are evidence */
	const char *db_path; /* take "<db_path>.lock" for each write; NULL: the caller holds it */
	long lock_wait_ms;   /* how long to wait for the lock; 0 = 5000 */
	/*
	 * Storage quota for what nobody authenticated: unauthenticated reports
	 * stored plus quarantined inputs, in count and bytes (0 = STS_RECEIVER_QUOTA_REPORTS /
	 * _BYTES). Past it an untrusted POST gets 503 with Retry-After before anything is stored;
	 * a trusted receiver is never refused because of it.
	 */
	long long quota_reports, quota_bytes;
	struct sts_db *db;	      /* where the quota is counted (the ingester's) */
	long long q_reports, q_bytes; /* the count as of q_at, plus what was stored since */
	long long q_at;		      /* monotonic ms of the last count; 0 = never */
	pthread_mutex_t mu;	      /* one write at a time */
};

STS_API void sts_receiver_store_init(struct sts_receiver_store *s, struct sts_ingest *ing,
				     bool trusted, const char *db_path);
/*
 * Count the quota in db (the database ing writes to); max_* 0 = the
 * defaults. Without this call there is no quota (the caller limits). May
 * be called while the receiver runs (the count starts again).
 */
STS_API void sts_receiver_store_quota(struct sts_receiver_store *s, struct sts_db *db,
				      long long max_reports, long long max_bytes);
STS_API void sts_receiver_store_release(struct sts_receiver_store *s);
/* ud is a struct sts_receiver_store *. */
STS_API void sts_receiver_store_handler(void *ud, const struct sts_receiver_request *req,
					struct sts_receiver_reply *reply);

#endif
