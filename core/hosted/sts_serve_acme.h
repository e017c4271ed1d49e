/* SPDX-License-Identifier: MIT */
#ifndef STS_SERVE_ACME_H
#define STS_SERVE_ACME_H

#include "sts_acme.h"
#include "sts_api.h"
#include "sts_db.h"
#include "sts_resolve.h"
#include "sts_serve.h"

/*
 * The certificates of `stsctl serve`: one renewal pass over the hosted
 * store. Every host with a policy whose certificate is due
 * (sts_acme_renew_at over the stored dates, failures and next attempt) is
 * ordered from the ACME server, its challenge answered by the running
 * server (sts_serve_alpn_challenge_set / sts_serve_http_challenge_set), and
 * the chain and key installed with sts_hosted_cert_put (serve picks them up
 * by the store's generation); a failure is recorded with
 * sts_hosted_cert_failure and its next attempt (backoff, Retry-After). The
 * account key is created on first use and kept in hosted_acme_account
 * before it is registered. Blocking (seconds per order): run it in a thread
 * of its own, never in serve's loop, with a DB connection of its own.
 */
struct sts_serve_acme_opts {
	struct sts_db *db;	     /* the pass's own connection */
	struct sts_serve *srv;	     /* answers the challenges */
	const char *directory_url;   /* https://…/directory */
	const char *contact;	     /* "mailto:…", or NULL */
	const char *const *contacts; /* every contact, NULL-terminated; NULL: contact alone */
	const char *const *prefs;    /* challenge types; NULL: tls-alpn-01, http-01 */
	unsigned max_orders;	     /* orders per pass; 0 = 10 */
	const struct sts_acme_opts
	    *acme; /* ca_file, timeouts, polls (directory_url ignored); NULL: defaults */
	/*
	 * The edge host (inventory hosted.edge): a host is ordered only when a
	 * lookup of it finds a CNAME to edge; otherwise the failure "not
	 * delegated: HOST does not point at EDGE" is recorded with a backoff and
	 * the CA is not asked. NULL: no check.
	 */
	const char *edge;
	/*
	 * A lookup that fails (timeout, SERVFAIL, a broken answer) says nothing
	 * about the delegation: "DNS lookup of HOST failed: STATUS" is recorded
	 * with sts_hosted_cert_retry (the failures not counted) and the next
	 * attempt STS_SERVE_ACME_DNS_RETRY seconds later.
	 */
	const struct sts_resolver_opts *resolve; /* those lookups; NULL: resolv.conf */
};

#define STS_SERVE_ACME_DNS_RETRY 300

struct sts_serve_acme_report {
	unsigned hosts, due, issued, failed;
	/* appended: when the next host is due (a retry after a failure, a
	 * renewal; now when hosts were left for the next pass); 0: none */
	long long next;
};

/*
 * STS_OK when the pass ran (per-host failures are in the store and the
 * report), else the error that stopped it (the store, the account).
 */
STS_API int sts_serve_acme_pass(const struct sts_serve_acme_opts *o, long long now,
				struct sts_serve_acme_report *ret);

#endif
