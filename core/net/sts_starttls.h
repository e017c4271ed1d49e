/* SPDX-License-Identifier: MIT */
#ifndef STS_STARTTLS_H
#define STS_STARTTLS_H

#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"

/*
 * SMTP STARTTLS probe of one MX host, as a sending MTA sees it (RFC 8461
 * §4.2, §7): banner, EHLO, STARTTLS, a TLS handshake with SNI = the MX
 * host name, then QUIT. Nothing is ever sent but EHLO, STARTTLS and QUIT.
 *
 * The handshake offers every TLS version from 1.0 up and every cipher
 * (OpenSSL security level 0), so a server that only speaks TLS 1.0 or 1.1
 * still completes it and its version is reported (rule M6 then flags it);
 * the certificate is checked afterwards, on its own: chain to the trust
 * store (web PKI strength, auth level 1), the host name against the SAN
 * dNSNames only (RFC 6125 as RFC 8461 §4.2 asks: no CN fallback, `*` only
 * as the whole left-most label), and the validity dates.
 */

struct sts_starttls_opts {
	unsigned port;	     /* 0 = 25 */
	long timeout_ms;     /* per connection: connect, dialogue and handshake; 0 = 15000 */
	const char *ca_file; /* trust anchors; NULL = the system store */
	const char *helo;    /* EHLO name; NULL = "localhost" */
	void *trust_store;   /* an X509_STORE * to use instead of ca_file (referenced), or NULL */
};

/* How far the probe got. */
enum sts_starttls_stage {
	STS_STARTTLS_CONNECT,	/* no address could be connected */
	STS_STARTTLS_BANNER,	/* no 220 greeting */
	STS_STARTTLS_EHLO,	/* EHLO refused or no answer */
	STS_STARTTLS_NOTLS,	/* STARTTLS not offered, or refused */
	STS_STARTTLS_HANDSHAKE, /* the TLS handshake failed */
	STS_STARTTLS_DONE,	/* TLS established: version and certificate below */
};

struct sts_starttls_result {
	enum sts_starttls_stage stage;
	char address[64];      /* the address that answered ("" when none) */
	bool starttls_offered; /* STARTTLS was in the EHLO response */
	char tls_version[16];  /* "TLSv1.3", "TLSv1", ...; "" before DONE */
	bool have_cert;	       /* the server sent a certificate */
	bool chain_ok;	       /* it chains to a trust anchor (dates included) */
	int verify_error;      /* X509_V_ERR_* of the chain check, 0 when chain_ok */
	char verify_msg[96];   /* its text */
	bool name_ok;	       /* a SAN dNSName matches the host name */
	long long not_before;  /* of the leaf, Unix time */
	long long not_after;
	char error[192]; /* before DONE: what went wrong, lower case */
};

struct sts_starttls;

/* STS_OK, STS_ENOMEM, STS_ETLS (OpenSSL could not be set up), STS_EIO (bad ca_file). */
STS_API int sts_starttls_new(const struct sts_starttls_opts *o, struct sts_starttls **ret);
STS_API void sts_starttls_free(struct sts_starttls *s);

/*
 * Probe host at the first of addrs[0..n) that accepts a connection. Safe to
 * call from several threads at once on one struct sts_starttls. Returns
 * STS_OK whenever a result was produced (ret->stage says how far it got),
 * STS_EINVAL with no address, STS_ENOMEM.
 */
STS_API int sts_starttls_probe(struct sts_starttls *s, const char *host, const char *const *addrs,
			       size_t n, struct sts_starttls_result *ret);

/*
 * Trust anchors loaded once, to share between threads and handles (an
 * OpenSSL X509_STORE *): ca_file, or NULL for OpenSSL's default file and
 * directory. STS_OK, STS_EIO (unreadable), STS_ENOMEM. Free with
 * sts_trust_store_free(), which drops one reference (NULL is fine).
 */
STS_API int sts_trust_store_new(const char *ca_file, void **ret);
STS_API void sts_trust_store_free(void *store);

/* Is the negotiated version TLS 1.2 or newer (RFC 8461 §7.2)? */
STS_API bool sts_tls_version_ok(const char *version);

#ifdef STS_UNIT_TESTS
/*
 * Internal, for tests: read one SMTP reply from buf[0..len) (lines
 * "ddd-text" then "ddd text", CRLF or LF). Returns the bytes used (0 when
 * the reply is not complete yet, -1 when it is not SMTP), sets *ret_code
 * and *ret_starttls (a continuation or last line is the STARTTLS keyword).
 */
STS_TESTABLE long sts_smtp_reply(const char *buf, size_t len, int *ret_code, bool *ret_starttls);
#endif

#endif
