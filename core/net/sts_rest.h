/* SPDX-License-Identifier: MIT */
#ifndef STS_REST_H
#define STS_REST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_breaker.h"
#include "sts_http.h"
#include "sts_ratelimit.h"
#include "sts_secret.h"

/*
 * JSON requests to a provider's REST API, over sts_http (TLS always
 * verified, bodies capped, retries with backoff and Retry-After, one
 * deadline over all attempts). A REST plugin only maps its API:
 *
 *     struct sts_rest_opts o = {.base_url = "https://api.example/v4",
 *                               .auth_header = "Authorization",
 *                               .auth_prefix = "Bearer ", .secret = token,
 *                               .ratelimit = rl, .breaker = br};
 *     sts_rest_new(&o, &c);
 *     struct sts_rest_req q = {.method = "GET", .path = "/zones?name=example.com"};
 *     struct sts_rest_resp p;
 *     r = sts_rest_do(c, &q, &p);     (p.json: the parsed body; p.error when r < 0)
 *     sts_rest_resp_release(&p);
 *
 * Status -> result (the provider's own message kept in resp.error):
 *   2xx -> STS_OK                      401, 403 -> STS_EAUTH (credentials)
 *   404 -> STS_ENOENT                  409, 412 -> STS_ECONFLICT
 *   429, 5xx (after the retries) -> STS_EAGAIN (temporary; also: circuit
 *   open, no rate-limit slot in time)
 *   any other status -> STS_EPROVIDER; a 2xx body that is not JSON -> STS_EPARSE
 *   no answer: sts_http's STS_ENET, STS_ETIMEOUT, STS_ETLS, STS_ETOOLARGE;
 *   STS_EINVAL for a URL outside the base (or no base at all).
 *
 * Retries (sts_http's policy) for requests that are safe to repeat: GET,
 * HEAD, PUT, DELETE, and a POST or PATCH whose request says idempotent,
 * on no connection, a timeout, 429 and 5xx. Any other POST or PATCH is
 * sent again only when the server cannot have acted on it: 429, 503, or
 * no connection made.
 *
 * When configured, every attempt first takes a slot of the rate limiter
 * (waiting at most ratelimit_timeout_ms), and a 429 or 503 with
 * Retry-After pauses that limiter for every caller; every request passes
 * the circuit breaker (a request that got no answer, or a 5xx after the
 * retries, is its failure; anything else its success).
 *
 * Secrets: the auth header's value is auth_prefix + the secret's value; it
 * is built per request in a buffer wiped afterwards and never appears in
 * resp.error (a provider message that echoes it, or the value of a
 * request's own auth line, is replaced by "[secret]"). The auth header is
 * only ever sent below the base URL (redirects are not followed).
 *
 * Threads: one struct sts_rest may be used by any number of threads at
 * once (each request takes an idle HTTP handle or makes one); the rate
 * limiter and breaker may be shared by several clients.
 */
struct sts_rest;

struct sts_rest_opts {
	const char *base_url;	 /* "https://api.example/v4"; NULL = every request gives its base */
	const char *auth_header; /* "Authorization", "X-Auth-Key"; NULL = none */
	const char *auth_prefix; /* before the secret: "Bearer ", "Token "; NULL = "" */
	const struct sts_secret *secret; /* borrowed; outlives the client; NULL = no auth */
	const char *const *headers;	 /* more "Name: value", NULL-terminated; NULL = none */
	/* where the provider's error text is in an error body, first match wins;
	 * NULL = {"message", "error.message", "errors[0].message", "error",
	 * "detail", NULL}; each a path of sts_rest_json_at() */
	const char *const *error_paths;
	const struct sts_http_opts *http; /* NULL = sts_http's defaults */
	struct sts_ratelimit *ratelimit;  /* borrowed, may be NULL */
	struct sts_breaker *breaker;	  /* borrowed, may be NULL */
	long long ratelimit_timeout_ms;	  /* longest wait for a slot; 0 = 60000 */
};

/* Copies o (not the borrowed objects). STS_OK, STS_EINVAL (a base_url not http(s)), STS_ENOMEM. */
STS_API int sts_rest_new(const struct sts_rest_opts *o, struct sts_rest **ret);
/* NULL is fine; no request may be running. */
STS_API void sts_rest_free(struct sts_rest *c);

struct sts_rest_req {
	const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE"; NULL = "GET" */
	/* appended to base_url ("/zones/1/records?page=2": the caller escapes
	 * it, see sts_rest_escape), or a full URL that starts with base_url
	 * (a next-page link) */
	const char *path;
	const json_t *body; /* sent as JSON; NULL = no body */
	bool idempotent;    /* a POST/PATCH that is safe to repeat */
	/* Per request, for one client serving many APIs (the plugin host):
	 * each NULL or 0 = the client's. */
	const char *base;		 /* instead of base_url */
	const char *auth;		 /* a whole header line "Authorization: Bearer ...",
					    instead of the client's secret header */
	const char *const *headers;	 /* after the client's, NULL-terminated */
	const char *error_path;		 /* tried before the client's error_paths */
	struct sts_ratelimit *ratelimit; /* instead of the client's */
	struct sts_breaker *breaker;	 /* instead of the client's */
	long timeout_ms;		 /* per attempt */
	size_t max_response;		 /* body cap */
	unsigned max_attempts;		 /* 1 = no retry */
};

struct sts_rest_resp {
	long status;		   /* final HTTP status; 0 when none */
	json_t *json;		   /* the parsed body; NULL when empty or not JSON */
	char *error;		   /* when the result is < 0: what failed, in English; else NULL */
	struct sts_http_resp http; /* raw body and headers of the final response */
};

/*
 * Send req and wait for its answer. ret is initialised either way; release
 * it with sts_rest_resp_release(). Returns as the table above says;
 * ret->error then holds e.g. "HTTP 404 from GET /zones/9: Zone not found"
 * or "circuit open after 5 failures, retry in 23 s".
 */
STS_API int sts_rest_do(struct sts_rest *c, const struct sts_rest_req *req,
			struct sts_rest_resp *ret);
STS_API void sts_rest_resp_release(struct sts_rest_resp *r);

/*
 * Paging: req is the first page; after each page, next() gets its
 * response and sets *ret_next to the next page's path or URL (malloc'd;
 * the helper frees it) or NULL when that was the last. At most max_pages
 * pages (0 = 100): one more is STS_ETOOLARGE. A failed page or a negative
 * return of next() ends it with that result; ret_err (may be NULL) then
 * gets the error text (free()). Only GET is paged.
 */
STS_API int sts_rest_pages(struct sts_rest *c, const struct sts_rest_req *req, unsigned max_pages,
			   int (*next)(void *ud, const struct sts_rest_resp *page, char **ret_next),
			   void *ud, char **ret_err);

/*
 * The value at path in j, or NULL; borrowed from j. path is either names
 * and [N] indexes joined by '.' ("result.items[2].id") or, when it starts
 * with '/', a JSON pointer (RFC 6901: "/result/items/2/id"). "" is j.
 */
STS_API json_t *sts_rest_json_at(const json_t *j, const char *path);

/* s percent-encoded for one path segment or query value (RFC 3986 unreserved kept); free(). */
STS_API char *sts_rest_escape(const char *s);

#endif
