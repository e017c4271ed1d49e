/* SPDX-License-Identifier: MIT */
#ifndef STS_FETCH_H
#define STS_FETCH_H

/*
 * The MTA-STS policy fetch over HTTPS as a sender does it (RFC 8461 §3.3;
 * core/net/sts_fetch.c), shared by apply's verification (sts_apply.c) and
 * stsctl check (sts_check_domain.c): GET https://HOST[:PORT]/.well-known/
 * mta-sts.txt, https only, one attempt, no redirect followed, no proxy
 * from the environment, TLS 1.2 or later, a fresh connection, the
 * certificate verified and required to name HOST (SNI HOST), the body
 * capped at STS_CAP_POLICY (64 KiB). Timeouts and trust anchors are those
 * of the sts_http handle the caller passes.
 */
#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"
#include "sts_buf.h"
#include "sts_http.h"

struct sts_policy_fetch {
	long status;		   /* final HTTP status; 0 when no response */
	char *content_type;	   /* the Content-Type header, or NULL */
	char *location;		   /* the Location header, or NULL */
	struct sts_buf body;	   /* capped at STS_CAP_POLICY */
	struct sts_http_peer peer; /* the certificate as seen in the handshake */
};

STS_API void sts_policy_fetch_release(struct sts_policy_fetch *f);

/*
 * Fetch the policy of HOST (the policy host, "mta-sts.example.com") on h.
 * port 0 is 443. addrs (n_addrs of them, IPv4 or IPv6 text) are connected
 * to instead of resolving HOST; n_addrs 0: DNS. Returns STS_OK when a
 * response was received (any status: see sts_policy_fetch_accept()), or
 * STS_ENET, STS_ETIMEOUT, STS_ETLS, STS_ETOOLARGE, STS_EINVAL, STS_ENOMEM.
 * ret is initialised either way (ret->peer also on STS_ETLS); release it.
 */
STS_API int sts_fetch_policy(struct sts_http *h, const char *host, unsigned port,
			     const char *const *addrs, size_t n_addrs,
			     struct sts_policy_fetch *ret);

/* RFC 8461 §3.2 media type: "text/plain", any case, parameters allowed. */
STS_API bool sts_fetch_text_plain(const char *content_type);

/*
 * Would a sender take the answer: status 200 and text/plain? STS_OK, or
 * STS_EVERIFY with a malloc'd message in *reterr ("HTTP status 404,
 * expected 200", "Content-Type 'text/html', expected text/plain").
 */
STS_API int sts_policy_fetch_accept(const struct sts_policy_fetch *f, char **reterr);

/*
 * Apply's verification in one call: a handle of its own (ca_file, or the
 * system store; 10 s to connect, 30 s in all), then sts_fetch_policy() and
 * sts_policy_fetch_accept(). resolve ("IP", "IP:PORT", "[IPv6]:PORT",
 * bare IPv6) connects there instead of resolving HOST. The body is
 * appended to ret. Errors: STS_ENET, STS_ETLS, STS_ETIMEOUT,
 * STS_ETOOLARGE, STS_EVERIFY, STS_ENOMEM, each with a message in *reterr
 * (malloc'd; may be NULL on STS_ENOMEM).
 */
STS_API int sts_https_fetch_policy(const char *host, const char *ca_file, const char *resolve,
				   struct sts_buf *ret, char **reterr);

#endif
