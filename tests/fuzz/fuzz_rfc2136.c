/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: DNS replies to the rfc2136 plugin, through its own read()
 * and apply() (plugins/rfc2136/ sources compiled in, with the fake host of
 * plugin_host.c). This file defines ldns_udp_send and ldns_tcp_send, so
 * the plugin's exchanges get their replies from the input instead of the
 * network: query answers (SOA of the zone, then CNAME, TXT, A, AAAA at
 * each name), the UPDATE response and the queries that check it.
 *
 * Input: one byte of settings (bit 0: sign_queries, bit 1: tcp), then
 * replies, each one byte of flags, a 2-byte big-endian length and the
 * DNS message. Flags: bit 0 keep the message's own id (else it gets the
 * query's), bit 1 sign it with TSIG as the server would (the fuzzer cannot
 * forge an HMAC; the message must parse for that). No more replies: a
 * network error. Besides memory errors it aborts when read() succeeds
 * with an rrset at a name it did not ask for, and when a failure records
 * no message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "plugin_host.h"
#include "sts_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct sts_plugin_api sts_plugin_api;

#define KEY_NAME   "stsctl-key."
#define KEY_SECRET "c3RzY3RsIGZ1enogVFNJRyBrZXkgb2YgMzIgYnl0ZXM="

static const char *const settings[] = {
    "{\"server\": \"127.0.0.1\", \"port\": 53, \"key_name\": \"stsctl-key\", "
    "\"key_algorithm\": \"hmac-sha256\", \"key_secret\": \"${env:STS_FUZZ_SECRET}\", "
    "\"timeout\": 1, \"tcp\": false, \"sign_queries\": false, \"max_concurrency\": 1}",
    "{\"server\": \"127.0.0.1\", \"port\": 53, \"key_name\": \"stsctl-key\", "
    "\"key_algorithm\": \"hmac-sha256\", \"key_secret\": \"${env:STS_FUZZ_SECRET}\", "
    "\"timeout\": 1, \"tcp\": false, \"sign_queries\": true, \"max_concurrency\": 1}",
    "{\"server\": \"127.0.0.1\", \"port\": 53, \"key_name\": \"stsctl-key\", "
    "\"key_algorithm\": \"hmac-sha256\", \"key_secret\": \"${env:STS_FUZZ_SECRET}\", "
    "\"timeout\": 1, \"tcp\": true, \"sign_queries\": false, \"max_concurrency\": 1}",
    "{\"server\": \"127.0.0.1\", \"port\": 53, \"key_name\": \"stsctl-key\", "
    "\"key_algorithm\": \"hmac-sha256\", \"key_secret\": \"${env:STS_FUZZ_SECRET}\", "
    "\"timeout\": 1, \"tcp\": true, \"sign_queries\": true, \"max_concurrency\": 1}",
};

static const char *const names[] = {"_mta-sts.example.com.", "_smtp._tls.example.com."};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static const uint8_t *in;
static size_t in_size, in_pos;

/* The reply signed as the server signs it: over the query's MAC. */
static ldns_status sign(const uint8_t *msg, size_t len, ldns_buffer *qbin, uint8_t **ret,
			size_t *ret_len)
{
	ldns_pkt *q = NULL, *a = NULL;
	ldns_status st = ldns_buffer2pkt_wire(&q, qbin);
	if (st == LDNS_STATUS_OK)
		st = ldns_wire2pkt(&a, msg, len);
	if (st == LDNS_STATUS_OK) {
		const ldns_rr *qt = ldns_pkt_tsig(q);
		ldns_pkt_set_id(a, ldns_pkt_id(q));
		ldns_rr_free(ldns_pkt_tsig(a));
		ldns_pkt_set_tsig(a, NULL);
		st = ldns_pkt_tsig_sign_next(a, KEY_NAME, KEY_SECRET, 300, "hmac-sha256.",
					     qt ? ldns_rr_rdf(qt, 3) : NULL, 0);
	}
	if (st == LDNS_STATUS_OK)
		st = ldns_pkt2wire(ret, a, ret_len);
	ldns_pkt_free(q);
	ldns_pkt_free(a);
	return st;
}

/* The next reply of the input, as ldns_udp_send/ldns_tcp_send return it. */
static ldns_status next_reply(uint8_t **result, ldns_buffer *qbin, size_t *answersize)
{
	*result = NULL;
	*answersize = 0;
	if (in_pos + 3 > in_size)
		return LDNS_STATUS_NETWORK_ERR;
	uint8_t flags = in[in_pos];
	size_t len = (size_t)in[in_pos + 1] << 8 | in[in_pos + 2];
	in_pos += 3;
	if (len > in_size - in_pos)
		len = in_size - in_pos;
	const uint8_t *msg = in + in_pos;
	in_pos += len;
	if (flags & 2 && sign(msg, len, qbin, result, answersize) == LDNS_STATUS_OK)
		return LDNS_STATUS_OK;
	if (!(*result = malloc(len ? len : 1)))
		return LDNS_STATUS_MEM_ERR;
	memcpy(*result, msg, len);
	*answersize = len;
	if (!(flags & 1) && len >= 2 && ldns_buffer_position(qbin) >= 2)
		memcpy(*result, ldns_buffer_begin(qbin), 2);
	return LDNS_STATUS_OK;
}

ldns_status ldns_udp_send(uint8_t **result, ldns_buffer *qbin, const struct sockaddr_storage *to,
			  socklen_t tolen, struct timeval timeout, size_t *answersize)
{
	(void)to;
	(void)tolen;
	(void)timeout;
	return next_reply(result, qbin, answersize);
}

ldns_status ldns_tcp_send(uint8_t **result, ldns_buffer *qbin, const struct sockaddr_storage *to,
			  socklen_t tolen, struct timeval timeout, size_t *answersize)
{
	(void)to;
	(void)tolen;
	(void)timeout;
	return next_reply(result, qbin, answersize);
}

static void apply(struct fz_host *h, const struct sts_rrsets *got)
{
	static char *v_sts[] = {(char *)"v=STSv1; id=20261206T210000"};
	static char *v_rpt[] = {(char *)"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"};
	struct sts_dns_change ch[2];
	memset(ch, 0, sizeof(ch));
	ch[0].action = STS_CHANGE_REPLACE;
	ch[0].rrset = (struct sts_rrset){.name = (char *)names[0],
					 .type = (char *)"TXT",
					 .ttl = 300,
					 .values = v_sts,
					 .n_values = 1};
	ch[0].old = sts_rrsets_find(got, names[0], "TXT");
	ch[1].action = STS_CHANGE_CREATE;
	ch[1].rrset = (struct sts_rrset){.name = (char *)names[1],
					 .type = (char *)"TXT",
					 .ttl = 3600,
					 .values = v_rpt,
					 .n_values = 1};
	fz_host_apply(h, &sts_plugin_api, "example.com", ch, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	in = data + 1;
	in_size = size - 1;
	in_pos = 0;
	struct fz_host h;
	fz_host_init(&h, data, size);
	setenv("STS_FUZZ_SECRET", KEY_SECRET, 0);
	if (fz_host_load(&h, &sts_plugin_api, settings[data[0] & 3]) < 0)
		abort();
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	fz_host_read(&h, &sts_plugin_api, "example.com", names, N_NAMES, &got);
	apply(&h, &got);
	sts_rrsets_release(&got);
	fz_host_unload(&h, &sts_plugin_api);
	return 0;
}
