/* SPDX-License-Identifier: MIT */
/* One DNS exchange with the primary: TSIG, UDP or TCP, reply matching and verification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

#include "r2136.h"

#define UDP_MAX	    512 /* larger messages go over TCP (no EDNS on updates) */
#define QUERY_TRIES 3

static const struct {
	const char *setting, *name;
	bool own;
} algs[] = {
    {"hmac-md5", "hmac-md5.sig-alg.reg.int.", false},
    {"hmac-sha1", "hmac-sha1.", false},
    {"hmac-sha224", "hmac-sha224.", true},
    {"hmac-sha256", "hmac-sha256.", false},
    {"hmac-sha384", "hmac-sha384.", true},
    {"hmac-sha512", "hmac-sha512.", false},
};

const char *r2136_alg_name(const char *setting, bool *ret_own_hmac)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcasecmp(setting, algs[i].setting) == 0) {
			*ret_own_hmac = algs[i].own;
			return algs[i].name;
		}
	return NULL;
}

const char *r2136_rcode_name(int rcode)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
					    "NXRRSET", "NOTAUTH", "NOTZONE"};
	return rcode >= 0 && rcode < (int)(sizeof(names) / sizeof(names[0])) ? names[rcode]
									     : "unknown rcode";
}

const char *r2136_tsig_err_name(uint16_t err)
{
	switch (err) {
	case R2136_BADSIG:
		return "BADSIG";
	case R2136_BADKEY:
		return "BADKEY";
	case R2136_BADTIME:
		return "BADTIME";
	case R2136_BADTRUNC:
		return "BADTRUNC";
	default:
		return "unknown TSIG error";
	}
}

void r2136_reply_release(struct r2136_reply *r)
{
	ldns_pkt_free(r->pkt);
	memset(r, 0, sizeof(*r));
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int sign(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		ldns_pkt *q, ldns_rdf **ret_mac)
{
	*ret_mac = NULL;
	if (c->key.own_hmac) {
		int r = r2136_tsig_sign(&c->key, q, ret_mac);
		if (r < 0)
			sts_plugin_error(call, "cannot sign with TSIG key '%s'", c->key.name);
		return r;
	}
	ldns_status st = ldns_pkt_tsig_sign(q, c->key.name, c->key.b64, 300, c->key.alg, NULL);
	if (st != LDNS_STATUS_OK || !ldns_pkt_tsig(q)) {
		sts_plugin_error(call, "cannot sign with TSIG key '%s': %s", c->key.name,
				 ldns_get_errorstr_by_id(st));
		return STS_PLUGIN_EINVAL;
	}
	*ret_mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(q), 3));
	return *ret_mac ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* Is a the reply to q (id, QR, opcode, question)? */
static bool matches(const ldns_pkt *q, const ldns_pkt *a)
{
	if (ldns_pkt_id(a) != ldns_pkt_id(q) || !ldns_pkt_qr(a) ||
	    ldns_pkt_get_opcode(a) != ldns_pkt_get_opcode(q))
		return false;
	const ldns_rr_list *qq = ldns_pkt_question(q), *aq = ldns_pkt_question(a);
	if (ldns_rr_list_rr_count(aq) == 0)
		return true; /* FORMERR and some errors carry no question */
	if (ldns_rr_list_rr_count(aq) != ldns_rr_list_rr_count(qq))
		return false;
	const ldns_rr *x = ldns_rr_list_rr(qq, 0), *y = ldns_rr_list_rr(aq, 0);
	return ldns_dname_compare(ldns_rr_owner(x), ldns_rr_owner(y)) == 0 &&
	       ldns_rr_get_type(x) == ldns_rr_get_type(y);
}

static uint16_t tsig_error(const ldns_pkt *a)
{
	const ldns_rr *t = ldns_pkt_tsig(a);
	const ldns_rdf *e = t && ldns_rr_rd_count(t) >= 6 ? ldns_rr_rdf(t, 5) : NULL;
	return e && ldns_rdf_size(e) == 2 ? ldns_rdf2native_int16(e) : 0;
}

int r2136_exchange(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		   ldns_pkt *q, bool do_sign, struct r2136_reply *ret)
{
	memset(ret, 0, sizeof(*ret));
	ldns_rdf *mac = NULL;
	ldns_buffer *qb = NULL;
	uint8_t *wire = NULL;
	size_t wlen = 0;
	uint16_t id;
	int r;
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1) {
		sts_plugin_error(call, "no random query id");
		return STS_PLUGIN_EIO;
	}
	ldns_pkt_set_id(q, id);
	ldns_rr_free(ldns_pkt_tsig(q)); /* a packet sent before */
	ldns_pkt_set_tsig(q, NULL);
	if (do_sign && (r = sign(p, call, c, q, &mac)) < 0)
		return r;
	if (!(qb = ldns_buffer_new(LDNS_MAX_PACKETLEN)) ||
	    ldns_pkt2buffer_wire(qb, q) != LDNS_STATUS_OK) {
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	bool update = ldns_pkt_get_opcode(q) == LDNS_PACKET_UPDATE;
	bool tcp = c->tcp || ldns_buffer_position(qb) > UDP_MAX;
	unsigned udp_tries = update ? 1 : QUERY_TRIES, tries = 0;
	struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
	const char *why = "no reply";
	r = STS_PLUGIN_ETIMEOUT;
	for (;;) {
		long t0 = now_ms();
		free(wire);
		wire = NULL;
		ldns_status st = tcp ? ldns_tcp_send(&wire, qb, &c->addr, c->addr_len, tv, &wlen)
				     : ldns_udp_send(&wire, qb, &c->addr, c->addr_len, tv, &wlen);
		tries++;
		ldns_pkt *a = NULL;
		if (st == LDNS_STATUS_OK && ldns_wire2pkt(&a, wire, wlen) == LDNS_STATUS_OK &&
		    matches(q, a)) {
			if (!tcp && ldns_pkt_tc(a)) { /* truncated: the whole reply over TCP */
				ldns_pkt_free(a);
				tcp = true;
				tries = 0;
				continue;
			}
			ret->pkt = a;
			ret->tcp = tcp;
			r = STS_PLUGIN_OK;
			break;
		}
		ldns_pkt_free(a);
		if (st == LDNS_STATUS_OK) {
			why = "a reply that does not match the query";
			r = STS_PLUGIN_EPROVIDER;
		} else if (now_ms() - t0 + 50 >= c->timeout_ms) {
			why = "no reply in time";
			r = STS_PLUGIN_ETIMEOUT;
		} else {
			why = tcp ? "connection refused or reset" : "network error";
			r = STS_PLUGIN_ENET;
		}
		if (!tcp && tries < udp_tries)
			continue;
		if (!tcp && update) { /* a lost UDP reply: one try over TCP, never twice over UDP */
			tcp = true;
			tries = 0;
			continue;
		}
		break;
	}
	if (r < 0) {
		sts_plugin_error(call, "%s from DNS server '%s' port %u over %s (timeout %ld ms)",
				 why, c->server, c->port, tcp ? "TCP" : "UDP", c->timeout_ms);
		goto out;
	}
	ret->tsig_err = tsig_error(ret->pkt);
	if (do_sign && ldns_pkt_tsig(ret->pkt) && ret->tsig_err == 0) {
		ldns_rr *tsig = ldns_pkt_tsig(ret->pkt);
		uint16_t reply_id = ldns_pkt_id(ret->pkt);
		ret->tsig_ok = c->key.own_hmac ? r2136_tsig_verify(&c->key, wire, wlen, mac)
					       : ldns_pkt_tsig_verify(ret->pkt, wire, wlen,
								      c->key.name, c->key.b64, mac);
		/* when it cannot compute the MAC (an algorithm it does not know),
		 * ldns_pkt_tsig_verify returns without putting the TSIG RR and the
		 * id back: the RR would leak */
		if (!ldns_pkt_tsig(ret->pkt)) {
			ldns_pkt_set_tsig(ret->pkt, tsig);
			ldns_pkt_set_id(ret->pkt, reply_id);
		}
	}
out:
	free(wire);
	ldns_buffer_free(qb);
	ldns_rdf_deep_free(mac);
	return r;
}
