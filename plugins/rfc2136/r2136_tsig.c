/* SPDX-License-Identifier: MIT */
/*
 * TSIG (RFC 8945) for hmac-sha224 and hmac-sha384, which ldns 1.8 cannot
 * compute (its digest table lacks sha224 and misspells "hmac-shac384.").
 * The message and the TSIG RR are still built and parsed by ldns; only the
 * MAC is ours, with OpenSSL's HMAC. The other algorithms use ldns's
 * ldns_pkt_tsig_sign() and ldns_pkt_tsig_verify().
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "r2136.h"

#define FUDGE 300

static const EVP_MD *md_of(const char *alg)
{
	if (strcasecmp(alg, "hmac-sha224.") == 0)
		return EVP_sha224();
	if (strcasecmp(alg, "hmac-sha384.") == 0)
		return EVP_sha384();
	return NULL;
}

/* Append a name in canonical form (lower case, uncompressed). */
static bool put_name(ldns_buffer *b, const ldns_rdf *name)
{
	ldns_rdf *c = ldns_rdf_clone(name);
	if (!c)
		return false;
	ldns_dname2canonical(c);
	ldns_buffer_write(b, ldns_rdf_data(c), ldns_rdf_size(c));
	ldns_rdf_deep_free(c);
	return true;
}

/* The TSIG variables (RFC 8945 §4.3.3) after the message in b. */
static bool put_vars(ldns_buffer *b, const ldns_rdf *key, const ldns_rdf *alg,
		     const uint8_t time48[6], uint16_t fudge, uint16_t error, const uint8_t *other,
		     uint16_t other_len)
{
	if (!put_name(b, key))
		return false;
	ldns_buffer_write_u16(b, LDNS_RR_CLASS_ANY);
	ldns_buffer_write_u32(b, 0);
	if (!put_name(b, alg))
		return false;
	ldns_buffer_write(b, time48, 6);
	ldns_buffer_write_u16(b, fudge);
	ldns_buffer_write_u16(b, error);
	ldns_buffer_write_u16(b, other_len);
	if (other_len)
		ldns_buffer_write(b, other, other_len);
	return ldns_buffer_status_ok(b);
}

static bool hmac(const struct r2136_key *k, const ldns_buffer *b, uint8_t *out, unsigned *out_len)
{
	const EVP_MD *md = md_of(k->alg);
	return md && HMAC(md, k->raw, (int)k->raw_len, ldns_buffer_begin(b),
			  ldns_buffer_position(b), out, out_len) != NULL;
}

int r2136_tsig_sign(const struct r2136_key *k, ldns_pkt *q, ldns_rdf **ret_mac)
{
	ldns_buffer *b = ldns_buffer_new(LDNS_MAX_PACKETLEN);
	ldns_rdf *key = ldns_dname_new_frm_str(k->name);
	ldns_rdf *alg = ldns_dname_new_frm_str(k->alg);
	ldns_rr *rr = NULL;
	int r = STS_PLUGIN_ENOMEM;
	if (!b || !key || !alg || ldns_pkt2buffer_wire(b, q) != LDNS_STATUS_OK)
		goto out;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t t48[6];
	for (int i = 0; i < 6; i++)
		t48[i] = (uint8_t)(now >> (8 * (5 - i)));
	uint8_t mac[EVP_MAX_MD_SIZE + 2];
	unsigned mac_len = 0;
	if (!put_vars(b, key, alg, t48, FUDGE, 0, NULL, 0) || !hmac(k, b, mac + 2, &mac_len)) {
		r = STS_PLUGIN_EINVAL;
		goto out;
	}
	mac[0] = (uint8_t)(mac_len >> 8);
	mac[1] = (uint8_t)mac_len;
	if (!(rr = ldns_rr_new()))
		goto out;
	ldns_rr_set_owner(rr, key);
	key = NULL;
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TSIG);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_ANY);
	ldns_rr_set_ttl(rr, 0);
	ldns_rdf *f[7] = {
	    alg,
	    ldns_rdf_new_frm_data(LDNS_RDF_TYPE_TSIGTIME, 6, t48),
	    ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, FUDGE),
	    ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, mac_len + 2, mac),
	    ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, ldns_pkt_id(q)),
	    ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 0),
	    ldns_native2rdf_int16_data(0, NULL),
	};
	alg = NULL;
	bool ok = true;
	for (int i = 0; i < 7; i++) {
		if (ok && f[i] && ldns_rr_push_rdf(rr, f[i]))
			continue;
		ldns_rdf_deep_free(f[i]);
		ok = false;
	}
	if (!ok || !(*ret_mac = ldns_rdf_clone(f[3])))
		goto out;
	OPENSSL_cleanse(mac, sizeof(mac));
	ldns_pkt_set_tsig(q, rr);
	rr = NULL;
	r = STS_PLUGIN_OK;
out:
	ldns_rr_free(rr);
	ldns_rdf_deep_free(key);
	ldns_rdf_deep_free(alg);
	ldns_buffer_free(b);
	return r;
}

static uint16_t u16_of(const ldns_rdf *f)
{
	return f && ldns_rdf_size(f) == 2 ? ldns_rdf2native_int16(f) : 0;
}

bool r2136_tsig_verify(const struct r2136_key *k, const uint8_t *wire, size_t len,
		       const ldns_rdf *req_mac)
{
	if (len < LDNS_HEADER_SIZE || !req_mac)
		return false;
	size_t counts[4];
	for (int i = 0; i < 4; i++)
		counts[i] = (size_t)wire[4 + 2 * i] << 8 | wire[5 + 2 * i];
	if (counts[3] == 0)
		return false;
	/* walk to the last RR of the additional section: the TSIG */
	size_t pos = LDNS_HEADER_SIZE, n_rr = counts[1] + counts[2] + counts[3] - 1;
	ldns_rr *rr = NULL;
	for (size_t i = 0; i < counts[0] + n_rr; i++) {
		ldns_pkt_section sec = i < counts[0] ? LDNS_SECTION_QUESTION : LDNS_SECTION_ANSWER;
		if (ldns_wire2rr(&rr, wire, len, &pos, sec) != LDNS_STATUS_OK)
			return false;
		ldns_rr_free(rr);
		rr = NULL;
	}
	size_t tsig_at = pos;
	if (ldns_wire2rr(&rr, wire, len, &pos, LDNS_SECTION_ADDITIONAL) != LDNS_STATUS_OK)
		return false;
	bool ok =
	    pos == len && ldns_rr_get_type(rr) == LDNS_RR_TYPE_TSIG && ldns_rr_rd_count(rr) == 7;
	ldns_buffer *b = ok ? ldns_buffer_new(len + 1024) : NULL;
	ldns_rdf *key = ldns_dname_new_frm_str(k->name);
	ldns_rdf *alg = ldns_dname_new_frm_str(k->alg);
	if (!b || !key || !alg || ldns_dname_compare(ldns_rr_owner(rr), key) != 0 ||
	    ldns_dname_compare(ldns_rr_rdf(rr, 0), alg) != 0) {
		ok = false;
		goto out;
	}
	const ldns_rdf *t = ldns_rr_rdf(rr, 1), *mac = ldns_rr_rdf(rr, 3),
		       *other = ldns_rr_rdf(rr, 6);
	if (ldns_rdf_size(t) != 6 || ldns_rdf_size(mac) < 2 || ldns_rdf_size(other) < 2) {
		ok = false;
		goto out;
	}
	/* request MAC (size + MAC), the message without the TSIG (original id), the variables */
	ldns_buffer_write(b, ldns_rdf_data(req_mac), ldns_rdf_size(req_mac));
	size_t msg_at = ldns_buffer_position(b);
	ldns_buffer_write(b, wire, tsig_at);
	uint8_t *msg = ldns_buffer_at(b, msg_at);
	uint16_t id = u16_of(ldns_rr_rdf(rr, 4)), ar = (uint16_t)(counts[3] - 1);
	msg[0] = (uint8_t)(id >> 8);
	msg[1] = (uint8_t)id;
	msg[10] = (uint8_t)(ar >> 8);
	msg[11] = (uint8_t)ar;
	ok = put_vars(b, key, alg, ldns_rdf_data(t), u16_of(ldns_rr_rdf(rr, 2)),
		      u16_of(ldns_rr_rdf(rr, 5)), ldns_rdf_data(other) + 2,
		      (uint16_t)(ldns_rdf_size(other) - 2));
	uint8_t want[EVP_MAX_MD_SIZE];
	unsigned want_len = 0;
	size_t got_len = ldns_rdf_size(mac) - 2;
	ok = ok && hmac(k, b, want, &want_len) && got_len == want_len &&
	     CRYPTO_memcmp(ldns_rdf_data(mac) + 2, want, want_len) == 0;
out:
	ldns_rdf_deep_free(key);
	ldns_rdf_deep_free(alg);
	ldns_buffer_free(b);
	ldns_rr_free(rr);
	return ok;
}
