/* SPDX-License-Identifier: MIT */
#ifndef R2136_H
#define R2136_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ldns/ldns.h>

#include <stsctl/plugin.h>

/* TSIG error codes (RFC 8945 §5.3) carried in the TSIG RR of a reply. */
#define R2136_BADSIG   16
#define R2136_BADKEY   17
#define R2136_BADTIME  18
#define R2136_BADTRUNC 22

struct r2136_key {
	char *name;   /* "testbed-key." */
	char *alg;    /* ldns/DNS name of the algorithm: "hmac-sha256." */
	char *b64;    /* the secret, base64 (wiped at unload) */
	uint8_t *raw; /* the secret, decoded (wiped at unload) */
	size_t raw_len;
	bool own_hmac; /* ldns 1.8 cannot sign with it: our HMAC (r2136_tsig.c) */
};

struct r2136 {
	char *server; /* as configured, for messages */
	unsigned port;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	long timeout_ms;
	bool tcp;	   /* every exchange over TCP */
	bool sign_queries; /* TSIG on the read queries too */
	unsigned concurrency;
	struct r2136_key key;
	char **zones; /* the "zones" setting: what zones() lists and probe() checks */
	size_t n_zones;
};

/* One exchange's result: the reply, or why there is none. */
struct r2136_reply {
	ldns_pkt *pkt;	   /* NULL on a transport failure */
	uint16_t tsig_err; /* TSIG error of the reply (0 = none) */
	bool tsig_ok;	   /* the reply's TSIG verified (false when unsigned) */
	bool tcp;	   /* it came over TCP */
};

/* Algorithm setting -> DNS name of the algorithm; NULL when unknown. */
const char *r2136_alg_name(const char *setting, bool *ret_own_hmac);

/*
 * Sign q (when sign), send it (UDP unless c->tcp or the message is over
 * 512 octets; TCP again when the UDP reply is truncated), wait at most
 * c->timeout_ms per try, match the reply's id and question, and verify its
 * TSIG. UDP queries are tried up to 3 times; an UPDATE is never sent twice
 * over UDP (a lost reply is followed by one try over TCP, and the caller
 * re-reads on a prerequisite failure). Transport failures are STS_PLUGIN_ETIMEOUT
 * or STS_PLUGIN_ENET with sts_plugin_error(); a reply is returned in ret whatever
 * its rcode (the caller maps it). Release ret with r2136_reply_release().
 */
int r2136_exchange(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		   ldns_pkt *q, bool sign, struct r2136_reply *ret);
void r2136_reply_release(struct r2136_reply *r);

/* TSIG with our own HMAC for the algorithms ldns 1.8 lacks (r2136_tsig.c). */
int r2136_tsig_sign(const struct r2136_key *k, ldns_pkt *q, ldns_rdf **ret_mac);
bool r2136_tsig_verify(const struct r2136_key *k, const uint8_t *wire, size_t len,
		       const ldns_rdf *req_mac);

/* ---- r2136_query.c ---- */

/* Map a reply that is not a success (rcode, TSIG error) to an error + message. */
int r2136_reply_error(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		      const struct r2136_reply *rep, const char *what);
/* A NOERROR reply to a signed message whose TSIG did not verify. */
int r2136_unverified(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		     const char *what);
/*
 * Query name/type at the primary (signed when c->sign_queries): *ret gets
 * the records at exactly name of that type, or a CNAME there. NXDOMAIN is
 * an empty list (*ret_nxdomain set when not NULL). A reply without the AA
 * bit is STS_PLUGIN_ENOENT (the server does not serve the zone).
 */
int r2136_query(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		const char *name, ldns_rr_type type, ldns_rr_list **ret, bool *ret_nxdomain);
/* TXT: the strings concatenated; others: the rdata in presentation form. malloc'd. */
char *r2136_value_of(const ldns_rr *rr, size_t *ret_len);

/* apply() of one zone (r2136_update.c); zone_dot ends in '.'. */
int r2136_apply(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		const char *zone_dot, const struct sts_rrset_change *const *changes, size_t n);

/* "NOERROR", "REFUSED", ... and "BADSIG", ... for messages. */
const char *r2136_rcode_name(int rcode);
const char *r2136_tsig_err_name(uint16_t err);

#endif
