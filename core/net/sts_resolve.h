/* SPDX-License-Identifier: MIT */
#ifndef STS_RESOLVE_H
#define STS_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"

/*
 * DNS lookups for `stsctl check` and `stsctl onboard`.
 *
 * c-ares sends the queries: many in flight on one channel, a timeout and a
 * number of tries per lookup, the servers of /etc/resolv.conf or one given
 * server (tests aim it at the testbed). ldns parses the answers, so there
 * is no hand-written packet code: CNAME chains are followed through the
 * answer section and, when the chain leaves it, by asking for the target
 * (RFC 8461 §3.1, rule T15), at most STS_DNS_CNAME_MAX links; the
 * character-strings of one TXT record are joined without spaces (T14).
 *
 * One struct sts_resolver per thread: it is not thread-safe.
 */

#define STS_DNS_CNAME_MAX 8

enum sts_dns_type {
	STS_DNS_A = 1,
	STS_DNS_CNAME = 5,
	STS_DNS_MX = 15,
	STS_DNS_TXT = 16,
	STS_DNS_AAAA = 28,
};

enum sts_dns_status {
	STS_DNS_OK,	  /* records of the asked type were found */
	STS_DNS_NODATA,	  /* the name exists, no record of the type */
	STS_DNS_NXDOMAIN, /* the name (or the end of its CNAME chain) does not exist */
	STS_DNS_SERVFAIL, /* the server failed (SERVFAIL, REFUSED, ...) */
	STS_DNS_TIMEOUT,  /* no answer within the timeout and tries */
	STS_DNS_ERROR,	  /* anything else: bad response, CNAME loop or chain too long */
};

/* "ok", "no data", "NXDOMAIN", "server failure", "timeout", "error" */
STS_API const char *sts_dns_status_name(enum sts_dns_status s);

struct sts_dns_txt {
	char *data; /* the character-strings joined, NUL-terminated (may hold NULs) */
	size_t len;
};

struct sts_dns_mx {
	unsigned pref;
	char *host; /* lower case, no trailing dot; "" for the null MX "." (RFC 7505) */
};

/* One lookup: set name and type, the rest is the answer. */
struct sts_dns_query {
	const char *name; /* borrowed for the run; no trailing dot needed */
	enum sts_dns_type type;

	enum sts_dns_status status;
	char *canonical;  /* end of the CNAME chain (lower case) when there was one, else NULL */
	char *cname;	  /* target of the first CNAME link, else NULL */
	unsigned n_cname; /* CNAME links followed */
	struct sts_dns_txt *txt;
	size_t n_txt;
	struct sts_dns_mx *mx; /* sorted by preference, then name */
	size_t n_mx;
	char **addr; /* A / AAAA in text form */
	size_t n_addr;
	char *error; /* with STS_DNS_ERROR: what went wrong */

	/* private to sts_resolve.c */
	char *next_;
	bool pending_;
	void *r_;
};

struct sts_resolver_opts {
	/* "IP", "IP:PORT", "[IPv6]:PORT"; NULL: the servers of /etc/resolv.conf */
	const char *server;
	long timeout_ms; /* per lookup, all tries; 0 = 5000 */
	unsigned tries;	 /* 0 = 2 */
};

struct sts_resolver;

/*
 * STS_OK, STS_EINVAL (a bad server; *reterr says why, static text; reterr
 * may be NULL), STS_ENOMEM, STS_EIO (c-ares could not start).
 */
STS_API int sts_resolver_new(const struct sts_resolver_opts *o, struct sts_resolver **ret,
			     const char **reterr);
STS_API void sts_resolver_free(struct sts_resolver *r);

/*
 * Resolve q[0..n) concurrently and return when every one has an answer.
 * Each query must have been initialised with sts_dns_query_init() (or
 * released since its last run). Returns STS_OK (each query's status says
 * how it went) or STS_ENOMEM.
 */
STS_API int sts_resolver_run(struct sts_resolver *r, struct sts_dns_query *q, size_t n);

STS_API void sts_dns_query_init(struct sts_dns_query *q, const char *name, enum sts_dns_type type);
STS_API void sts_dns_query_release(struct sts_dns_query *q);

#ifdef STS_UNIT_TESTS
/*
 * Internal, for tests: read one DNS response (wire format) to a query for
 * qname/q->type into q (status, records, CNAME links). When the CNAME chain
 * from qname ends at a name without records of the type and without an
 * NXDOMAIN, *ret_next is set to that name (malloc'd) and the caller asks
 * again. STS_OK or STS_ENOMEM.
 */
STS_TESTABLE int sts_dns_parse(const unsigned char *buf, size_t len, const char *qname,
			       struct sts_dns_query *q, char **ret_next);
#endif

#endif
