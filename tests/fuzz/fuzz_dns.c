/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the live check's DNS answers, sts_dns_parse() in
 * core/net/sts_resolve.c (ldns reads the packet; stsctl follows the CNAME
 * chain, joins TXT strings, sorts MX, formats addresses).
 *
 * Input: one byte, then a DNS response in wire format. The byte's low three
 * bits select the query type (modulo 5: A, MX, TXT, AAAA, CNAME), bits 3-4
 * the name asked (example.com, _mta-sts.example.com, _smtp._tls.example.com,
 * mx.example.com). When the chain leaves the answer, the same packet is read
 * again for the chain's end, as the resolver would ask for it.
 *
 * Aborts when the result contradicts itself: a status other than ok with
 * records, ok without any, records of another type, an error status without
 * its message, a CNAME chain longer than the limit that is not an error, a
 * name to ask next together with records or without the chain's end, an
 * MX list out of order or with upper-case names, a TXT string not
 * NUL-terminated, an address inet_pton does not read back, a second answer
 * for the chain's end that again asks for another name or finds records.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum sts_dns_type types[] = {
    STS_DNS_A, STS_DNS_MX, STS_DNS_TXT, STS_DNS_AAAA, STS_DNS_CNAME,
};

static const char *const names[] = {
    "example.com",
    "_mta-sts.example.com",
    "_smtp._tls.example.com",
    "mx.example.com",
};

static void check(const struct sts_dns_query *q, const char *next)
{
	size_t n = q->n_txt + q->n_mx + q->n_addr;
	if (next) {
		if (n || !q->canonical || strcmp(next, q->canonical) != 0 || q->n_cname == 0)
			abort();
		return;
	}
	if ((q->status == STS_DNS_OK) != (n > 0))
		abort();
	if (q->status == STS_DNS_ERROR && !q->error)
		abort();
	if (q->status != STS_DNS_ERROR && q->n_cname > STS_DNS_CNAME_MAX)
		abort();
	if ((q->cname != NULL) != (q->n_cname > 0))
		abort();
	if (q->type != STS_DNS_TXT && q->n_txt)
		abort();
	if (q->type != STS_DNS_MX && q->n_mx)
		abort();
	if (q->type != STS_DNS_A && q->type != STS_DNS_AAAA && q->n_addr)
		abort();
	for (size_t i = 0; i < q->n_txt; i++)
		if (!q->txt[i].data || q->txt[i].data[q->txt[i].len] != '\0')
			abort();
	for (size_t i = 0; i < q->n_mx; i++) {
		if (!q->mx[i].host)
			abort();
		for (const char *p = q->mx[i].host; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
		if (i && (q->mx[i - 1].pref > q->mx[i].pref ||
			  (q->mx[i - 1].pref == q->mx[i].pref &&
			   strcmp(q->mx[i - 1].host, q->mx[i].host) > 0)))
			abort();
	}
	for (size_t i = 0; i < q->n_addr; i++) {
		unsigned char a[16];
		if (inet_pton(q->type == STS_DNS_A ? AF_INET : AF_INET6, q->addr[i], a) != 1)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct sts_dns_query q;
	sts_dns_query_init(&q, names[(data[0] >> 3) & 3], types[(data[0] & 7) % 5]);
	char *next = NULL;
	if (sts_dns_parse(data + 1, size - 1, q.name, &q, &next) == STS_OK) {
		check(&q, next);
		if (next) {
			/* the resolver asks for the chain's end; this packet has no
			 * records for it, so there is nothing to find there */
			char *again = NULL;
			if (sts_dns_parse(data + 1, size - 1, next, &q, &again) == STS_OK) {
				if (again || q.status == STS_DNS_OK)
					abort();
				check(&q, NULL);
			}
			free(again);
		}
	}
	free(next);
	sts_dns_query_release(&q);
	return 0;
}
