/* SPDX-License-Identifier: MIT */
#ifndef STS_DKIM_H
#define STS_DKIM_H

#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"

/*
 * Is a TLS report e-mail really from its reporter? RFC 8460 §3 (docs/rfc-rules.md
 * E4): reports sent by SMTP MUST carry a valid DKIM signature by the
 * reporting domain and recipients MUST ignore the others; a signature
 * with l= does not count.
 *
 * Two ways to know, tried in this order:
 *  1. an Authentication-Results header field (RFC 8601) added by an MTA
 *     the configuration trusts (its authserv-id is in trusted_mtas) that
 *     says dkim=pass for the reporting domain; only the topmost
 *     Authentication-Results field of the message is read, and only when
 *     its authserv-id is trusted. Safe only when that MTA removes incoming
 *     fields carrying its authserv-id (RFC 8601 §5): otherwise a sender
 *     writes the verdict itself;
 *  2. our own verification with libopendkim. Public keys come from the
 *     configured keys (tests, pinning), then from DNS through c-ares
 *     (sts_resolve.h) unless dns is off; nothing else does a lookup.
 *
 * "The reporting domain" is TLS-Report-Submitter (E2), else the domain of
 * From. A signature counts when its d= equals it or one is a subdomain of
 * the other (the organisational alignment of DMARC, without a public
 * suffix list: d= needs two labels at least).
 */

struct sts_dkim_conf {
	/* "selector._domainkey.example.com" -> key record text ("v=DKIM1; k=rsa; p=...") */
	char *const *key_names;
	char *const *key_values;
	size_t n_keys;
	bool dns;		   /* look keys up in DNS when not configured */
	const char *resolver;	   /* "IP" / "IP:PORT"; NULL: /etc/resolv.conf */
	long timeout_ms;	   /* per key lookup; 0 = 5000 */
	char *const *trusted_mtas; /* authserv-ids whose Authentication-Results count */
	size_t n_trusted_mtas;
};

struct sts_dkim;

/* Copies what it keeps. STS_OK, STS_ENOMEM, STS_EIO (libopendkim failed). */
STS_API int sts_dkim_new(const struct sts_dkim_conf *conf, struct sts_dkim **ret);
STS_API void sts_dkim_free(struct sts_dkim *d);

struct sts_dkim_result {
	bool pass;	/* authenticated (evidence when its identity is listed) */
	bool temporary; /* not pass because a key lookup failed for now (SERVFAIL,
			   timeout): verify again later */
	char *domain;	/* the aligned d= (or header.d of the trusted result) when pass */
	char *reason;	/* always set on STS_OK: "dkim pass d=google.com s=20230601",
			   "no dkim signature", "dkim fail d=x: body hash mismatch", ... */
};

/*
 * Check one message: raw_headers is the exact header block (each field
 * with its line end; sts_mime.h), body the bytes after the empty line,
 * reporting_domain as above (NULL: no reporting domain, nothing passes).
 * Safe to call from several threads on one struct sts_dkim.
 * Returns STS_OK (ret says pass or why not; sts_dkim_result_release())
 * or STS_ENOMEM.
 */
STS_API int sts_dkim_check(struct sts_dkim *d, const char *raw_headers, size_t headers_len,
			   const void *body, size_t body_len, const char *reporting_domain,
			   struct sts_dkim_result *ret);
STS_API void sts_dkim_result_release(struct sts_dkim_result *r);

/*
 * 1 when d (a signing domain) is aligned with the reporting domain as
 * described above, else 0. Case-insensitive; a trailing dot is ignored.
 */
STS_API int sts_dkim_aligned(const char *d, const char *reporting_domain);

/*
 * The verdict of the topmost Authentication-Results field when its
 * authserv-id is in trusted[0..n): 1 dkim=pass with an aligned header.d (or
 * header.i domain), 0 no such field, a topmost field of another authserv-id,
 * or no aligned pass, and *ret_domain (malloc'd)
 * names the passing domain. Exposed for tests.
 */
STS_API int sts_dkim_trusted_ar(const char *raw_headers, size_t headers_len, char *const *trusted,
				size_t n, const char *reporting_domain, char **ret_domain,
				char **ret_authserv);

#endif
