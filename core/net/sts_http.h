/* SPDX-License-Identifier: MIT */
#ifndef STS_HTTP_H
#define STS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "sts_api.h"
#include "sts_buf.h"

/*
 * HTTP client on one reusable libcurl easy handle (keep-alive). Used by the
 * plugin host (sts_plugin_http) and by anything in core/ that talks HTTP.
 *
 * Rules that no request can switch off: TLS peer and host verification
 * always on; protocols http and https only; every response body capped.
 * Retries: on 429, 502, 503, 504 (and any 5xx for idempotent methods) and
 * on connection failures, with exponential backoff plus jitter, honouring
 * Retry-After (seconds or HTTP-date), bounded by max_attempts and by
 * max_total_ms over all attempts. A Retry-After beyond the remaining
 * budget ends the retries at once. Requests with a body that are not
 * idempotent (POST, PATCH) are retried only on 429 and 503 and on
 * connection failures before anything was sent.
 *
 * These types are internal to libsts: plugins see the plugin SDK's own
 * struct sts_plugin_http_req/resp (include/stsctl/plugin.h, with
 * struct_size), which the host translates (core/plugin).
 */

struct sts_http_header {
	char *name;  /* as received */
	char *value; /* leading/trailing blanks removed */
};

struct sts_http_req {
	const char *method; /* NULL = "GET" (or "POST" when body is set) */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated; NULL = none */
	const void *body;	    /* NULL = no body */
	size_t body_len;
	long timeout_ms;       /* per attempt; 0 = client default */
	size_t max_response;   /* body cap; 0 = client default */
	unsigned max_attempts; /* 0 = client default; 1 = no retry */
	bool follow_redirects; /* default off; at most 3, never to another protocol */
};

struct sts_http_resp {
	long status; /* final HTTP status; 0 when none */
	struct sts_buf body;
	struct sts_http_header *headers; /* of the final response */
	size_t n_headers;
	unsigned attempts; /* how many requests were sent */
	char *effective_url;
};

struct sts_http_opts {
	const char *ca_file;	 /* NULL = the system store */
	const char *user_agent;	 /* NULL = "stsctl/VERSION" */
	long connect_timeout_ms; /* 0 = 10000 */
	long timeout_ms;	 /* 0 = 30000, per attempt */
	size_t max_response;	 /* 0 = 1 MiB */
	unsigned max_attempts;	 /* 0 = 4 */
	long max_total_ms;	 /* 0 = 120000, all attempts and waits */
	long backoff_base_ms;	 /* 0 = 500: wait base * 2^(n-1) + jitter */
	long backoff_max_ms;	 /* 0 = 30000: cap of one wait (not of Retry-After) */
	long retry_after_max_ms; /* 0 = 60000: longer Retry-After ends the retries */
	/* appended: an OpenSSL X509_STORE * that sts_http_do_ex verifies against
	 * instead of loading ca_file (shared by many handles: each takes a
	 * reference); NULL = load ca_file (or the system store) once per handle */
	void *trust_store;
};

struct sts_http;

/* o may be NULL (defaults). Copies what it keeps. */
STS_API int sts_http_new(const struct sts_http_opts *o, struct sts_http **ret);
STS_API void sts_http_free(struct sts_http *h);

/*
 * Send req, retrying as described above. Returns STS_OK when a response
 * was received (any status; after exhausted retries the last one), or
 * STS_EINVAL (bad request/URL/protocol), STS_ENET, STS_ETIMEOUT, STS_ETLS,
 * STS_ETOOLARGE (body over the cap), STS_ENOMEM. ret is initialised
 * either way; release it with sts_http_resp_release().
 */
STS_API int sts_http_do(struct sts_http *h, const struct sts_http_req *req,
			struct sts_http_resp *ret);
STS_API void sts_http_resp_release(struct sts_http_resp *r);

/*
 * Knobs of one request beyond struct sts_http_req (the policy fetch,
 * core/net/sts_fetch.c, and the REST helper use them). Zero-initialise.
 */
struct sts_http_peer {
	bool have_cert;	      /* the server sent a certificate */
	bool chain_ok;	      /* it chains to the trust store, dates included */
	int verify_error;     /* X509_V_ERR_* of the chain check, 0 when chain_ok */
	char verify_msg[96];  /* its text */
	bool name_ok;	      /* a SAN dNSName matches peer_name (RFC 6125, no CN fallback) */
	long long not_after;  /* of the leaf, Unix time; 0 unknown */
	char tls_version[16]; /* "TLSv1.3"; "" unknown */
};

struct sts_http_xreq {
	const char *const *resolve; /* "HOST:PORT:ADDR[,ADDR]" (CURLOPT_RESOLVE), NULL-terminated */
	bool https_only;	    /* refuse any other scheme */
	bool fresh;		    /* new connection, no TLS session reuse, closed afterwards */
	const char *peer_name;	    /* with ret_peer: the DNS-ID the certificate must carry */
	struct sts_http_peer *ret_peer; /* the server's certificate as seen in the handshake */
	/* appended (sts_fetch): as a sender connects: no proxy from the
	 * environment, TLS 1.2 or later */
	bool no_proxy;
	bool tls_min_1_2;
	/* appended (sts_rest): retry as an idempotent method would, whatever
	 * the method (a POST the API documents as safe to repeat) */
	bool idempotent;
	/* appended (sts_rest): called before every attempt (the rate limiter);
	 * a negative return ends the request with that error, nothing sent */
	int (*before_attempt)(void *ud, unsigned attempt);
	/* appended (sts_rest): called after every attempt with the response so
	 * far (status 0 when none) and the attempt's result */
	void (*after_attempt)(void *ud, const struct sts_http_resp *resp, int r);
	void *attempt_ud;
	/* appended (the plugin HTTP service): answers retried like a 503 although
	 * their status is not: "STATUS TEXT" (a body containing TEXT),
	 * NULL-terminated */
	const char *const *retry_on;
};

/* sts_http_do with the knobs above; x may be NULL (= sts_http_do). */
STS_API int sts_http_do_ex(struct sts_http *h, const struct sts_http_req *req,
			   const struct sts_http_xreq *x, struct sts_http_resp *ret);

/* Value of the first header called name (case-insensitive), or NULL. */
STS_API const char *sts_http_resp_header(const struct sts_http_resp *r, const char *name);

/*
 * Would url send in clear text off this machine: http:// (any case) to a
 * host that is not loopback (127.0.0.0/8, ::1, localhost)? Provider
 * settings and the watch webhook refuse such a URL unless "insecure_http"
 * is true, so an API key never travels in clear by accident.
 */
STS_API bool sts_http_url_cleartext_remote(const char *url);

/* Retry-After value -> milliseconds from now; -1 when unparsable. */
STS_API long sts_http_retry_after_ms(const char *value, time_t now);

#endif
