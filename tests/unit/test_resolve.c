/* SPDX-License-Identifier: MIT */
/*
 * DNS lookups: the answer reader (TXT strings joined, CNAME chains through
 * the answer and out of it, NXDOMAIN / NODATA / SERVFAIL, MX order, null MX,
 * A and AAAA, loops, garbage) on packets built with ldns, then the resolver
 * against a fake authoritative server on 127.0.0.1: concurrent lookups, a
 * CNAME chain out of the server's data, a timeout, a bad server address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_net.h"
#include "sts_err.h"
#include "sts_resolve.h"

/* A response to (qname, type) with rcode and the given answer RRs. */
static uint8_t *response(const char *qname, ldns_rr_type type, ldns_pkt_rcode rcode,
			 const char *const *answers, size_t *ret_len)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), type, LDNS_RR_CLASS_IN, 0);
	assert_non_null(p);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (size_t i = 0; answers && answers[i]; i++) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, answers[i], 60, NULL, NULL),
				 LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	uint8_t *wire = NULL;
	assert_int_equal(ldns_pkt2wire(&wire, p, ret_len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return wire;
}

/* Parse a response to (qname, type) into q; returns the next name asked, or NULL. */
static char *parse(struct sts_dns_query *q, const char *qname, enum sts_dns_type type,
		   ldns_pkt_rcode rcode, const char *const *answers)
{
	size_t len;
	uint8_t *wire = response(qname, (ldns_rr_type)type, rcode, answers, &len);
	char *next = NULL;
	sts_dns_query_init(q, qname, type);
	assert_int_equal(sts_dns_parse(wire, len, qname, q, &next), STS_OK);
	free(wire);
	return next;
}

static void test_txt_strings_joined(void **state)
{
	(void)state;
	struct sts_dns_query q;
	const char *an[] = {"_mta-sts.a.test. 60 IN TXT \"v=STSv1; \" \"id=multi1;\"",
			    "_mta-sts.a.test. 60 IN TXT \"other\"", NULL};
	assert_null(parse(&q, "_mta-sts.a.test", STS_DNS_TXT, LDNS_RCODE_NOERROR, an));
	assert_int_equal(q.status, STS_DNS_OK);
	assert_int_equal(q.n_txt, 2);
	assert_string_equal(q.txt[0].data, "v=STSv1; id=multi1;");
	assert_int_equal(q.txt[0].len, 19);
	assert_string_equal(q.txt[1].data, "other");
	assert_null(q.canonical);
	assert_int_equal(q.n_cname, 0);
	sts_dns_query_release(&q);
}

static void test_cname_chain_in_answer(void **state)
{
	(void)state;
	struct sts_dns_query q;
	const char *an[] = {"_mta-sts.a.test. 60 IN CNAME X.b.test.",
			    "x.b.test. 60 IN CNAME y.b.test.",
			    "y.b.test. 60 IN TXT \"v=STSv1; id=2;\"",
			    "unrelated.test. 60 IN TXT \"v=STSv1; id=3;\"", NULL};
	assert_null(parse(&q, "_mta-sts.a.test", STS_DNS_TXT, LDNS_RCODE_NOERROR, an));
	assert_int_equal(q.status, STS_DNS_OK);
	assert_int_equal(q.n_txt, 1);
	assert_string_equal(q.txt[0].data, "v=STSv1; id=2;");
	assert_int_equal(q.n_cname, 2);
	assert_string_equal(q.cname, "x.b.test");
	assert_string_equal(q.canonical, "y.b.test");
	sts_dns_query_release(&q);
}

static void test_cname_leaves_answer(void **state)
{
	(void)state;
	struct sts_dns_query q;
	const char *an[] = {"_mta-sts.a.test. 60 IN CNAME _mta-sts.provider.test.", NULL};
	char *next = parse(&q, "_mta-sts.a.test", STS_DNS_TXT, LDNS_RCODE_NOERROR, an);
	assert_non_null(next);
	assert_string_equal(next, "_mta-sts.provider.test");
	assert_int_equal(q.n_cname, 1);
	free(next);
	sts_dns_query_release(&q);
	/* the chain ends at a name that does not exist */
	next = parse(&q, "_mta-sts.a.test", STS_DNS_TXT, LDNS_RCODE_NXDOMAIN, an);
	assert_null(next);
	assert_int_equal(q.status, STS_DNS_NXDOMAIN);
	sts_dns_query_release(&q);
}

static void test_rcodes(void **state)
{
	(void)state;
	struct sts_dns_query q;
	assert_null(parse(&q, "a.test", STS_DNS_MX, LDNS_RCODE_NXDOMAIN, NULL));
	assert_int_equal(q.status, STS_DNS_NXDOMAIN);
	sts_dns_query_release(&q);
	assert_null(parse(&q, "a.test", STS_DNS_MX, LDNS_RCODE_NOERROR, NULL));
	assert_int_equal(q.status, STS_DNS_NODATA);
	sts_dns_query_release(&q);
	assert_null(parse(&q, "a.test", STS_DNS_MX, LDNS_RCODE_SERVFAIL, NULL));
	assert_int_equal(q.status, STS_DNS_SERVFAIL);
	sts_dns_query_release(&q);
	/* records of another type only: no data */
	const char *an[] = {"a.test. 60 IN TXT \"x\"", NULL};
	assert_null(parse(&q, "a.test", STS_DNS_MX, LDNS_RCODE_NOERROR, an));
	assert_int_equal(q.status, STS_DNS_NODATA);
	sts_dns_query_release(&q);
}

static void test_mx_order_and_null_mx(void **state)
{
	(void)state;
	struct sts_dns_query q;
	const char *an[] = {"a.test. 60 IN MX 20 MX2.a.test.", "a.test. 60 IN MX 10 mx1.a.test.",
			    "a.test. 60 IN MX 10 mx0.a.test.", NULL};
	assert_null(parse(&q, "a.test", STS_DNS_MX, LDNS_RCODE_NOERROR, an));
	assert_int_equal(q.status, STS_DNS_OK);
	assert_int_equal(q.n_mx, 3);
	assert_int_equal(q.mx[0].pref, 10);
	assert_string_equal(q.mx[0].host, "mx0.a.test");
	assert_string_equal(q.mx[1].host, "mx1.a.test");
	assert_int_equal(q.mx[2].pref, 20);
	assert_string_equal(q.mx[2].host, "mx2.a.test");
	sts_dns_query_release(&q);
	const char *null_mx[] = {"a.test. 60 IN MX 0 .", NULL};
	assert_null(parse(&q, "a.test", STS_DNS_MX, LDNS_RCODE_NOERROR, null_mx));
	assert_int_equal(q.n_mx, 1);
	assert_string_equal(q.mx[0].host, "");
	sts_dns_query_release(&q);
}

static void test_addresses(void **state)
{
	(void)state;
	struct sts_dns_query q;
	const char *a[] = {"h.test. 60 IN A 192.0.2.1", "h.test. 60 IN A 192.0.2.2", NULL};
	assert_null(parse(&q, "h.test", STS_DNS_A, LDNS_RCODE_NOERROR, a));
	assert_int_equal(q.n_addr, 2);
	assert_string_equal(q.addr[0], "192.0.2.1");
	assert_string_equal(q.addr[1], "192.0.2.2");
	sts_dns_query_release(&q);
	const char *aaaa[] = {"h.test. 60 IN AAAA 2001:db8::1", NULL};
	assert_null(parse(&q, "h.test", STS_DNS_AAAA, LDNS_RCODE_NOERROR, aaaa));
	assert_int_equal(q.n_addr, 1);
	assert_string_equal(q.addr[0], "2001:db8::1");
	sts_dns_query_release(&q);
}

static void test_loop_and_garbage(void **state)
{
	(void)state;
	struct sts_dns_query q;
	const char *an[] = {"a.test. 60 IN CNAME b.test.", "b.test. 60 IN CNAME a.test.", NULL};
	assert_null(parse(&q, "a.test", STS_DNS_TXT, LDNS_RCODE_NOERROR, an));
	assert_int_equal(q.status, STS_DNS_ERROR);
	assert_non_null(strstr(q.error, "CNAME chain"));
	sts_dns_query_release(&q);
	char *next = NULL;
	sts_dns_query_init(&q, "a.test", STS_DNS_TXT);
	assert_int_equal(
	    sts_dns_parse((const unsigned char *)"\x01\x02\x03", 3, "a.test", &q, &next), STS_OK);
	assert_null(next);
	assert_int_equal(q.status, STS_DNS_ERROR);
	sts_dns_query_release(&q);
}

static struct sts_resolver *resolver_for(const struct fake_dns *s, long timeout_ms)
{
	char server[64];
	snprintf(server, sizeof(server), "127.0.0.1:%d", s->port);
	struct sts_resolver_opts o = {.server = server, .timeout_ms = timeout_ms, .tries = 1};
	struct sts_resolver *r = NULL;
	assert_int_equal(sts_resolver_new(&o, &r, NULL), STS_OK);
	return r;
}

static void test_resolver_live(void **state)
{
	(void)state;
	const char *zone[] = {
	    "_mta-sts.a.test. IN CNAME _mta-sts.provider.test.",
	    "_mta-sts.provider.test. IN TXT \"v=STSv1; id=prov1;\"",
	    "a.test. IN MX 10 mx.a.test.",
	    "mx.a.test. IN A 127.0.0.1",
	    "_smtp._tls.a.test. IN TXT \"v=TLSRPTv1; \" \"rua=mailto:r@a.test\"",
	    NULL,
	};
	/* no chasing: every CNAME link is the client's job */
	struct fake_dns *s = fake_dns_start_opts(zone, false, "dropped.a.test", "broken.a.test");
	struct sts_resolver *r = resolver_for(s, 600);
	struct sts_dns_query q[7];
	sts_dns_query_init(&q[0], "_mta-sts.a.test", STS_DNS_TXT);
	sts_dns_query_init(&q[1], "a.test", STS_DNS_MX);
	sts_dns_query_init(&q[2], "_smtp._tls.a.test", STS_DNS_TXT);
	sts_dns_query_init(&q[3], "mx.a.test", STS_DNS_A);
	sts_dns_query_init(&q[4], "nothere.a.test", STS_DNS_A);
	sts_dns_query_init(&q[5], "dropped.a.test", STS_DNS_TXT);
	sts_dns_query_init(&q[6], "broken.a.test", STS_DNS_TXT);
	assert_int_equal(sts_resolver_run(r, q, 7), STS_OK);
	assert_int_equal(q[0].status, STS_DNS_OK);
	assert_string_equal(q[0].txt[0].data, "v=STSv1; id=prov1;");
	assert_string_equal(q[0].cname, "_mta-sts.provider.test");
	assert_int_equal(q[0].n_cname, 1);
	assert_int_equal(q[1].status, STS_DNS_OK);
	assert_string_equal(q[1].mx[0].host, "mx.a.test");
	assert_string_equal(q[2].txt[0].data, "v=TLSRPTv1; rua=mailto:r@a.test");
	assert_string_equal(q[3].addr[0], "127.0.0.1");
	assert_int_equal(q[4].status, STS_DNS_NXDOMAIN);
	assert_int_equal(q[5].status, STS_DNS_TIMEOUT);
	assert_int_equal(q[6].status, STS_DNS_SERVFAIL);
	for (size_t i = 0; i < 7; i++)
		sts_dns_query_release(&q[i]);
	/* released queries run again */
	assert_int_equal(sts_resolver_run(r, q, 1), STS_OK);
	assert_int_equal(q[0].status, STS_DNS_OK);
	sts_dns_query_release(&q[0]);
	sts_resolver_free(r);
	fake_dns_stop(s);
}

static void test_resolver_bad_server(void **state)
{
	(void)state;
	struct sts_resolver_opts o = {.server = "not-an-address"};
	struct sts_resolver *r = NULL;
	const char *why = NULL;
	assert_int_equal(sts_resolver_new(&o, &r, &why), STS_EINVAL);
	assert_non_null(why);
	assert_null(r);
	assert_string_equal(sts_dns_status_name(STS_DNS_NXDOMAIN), "NXDOMAIN");
	assert_string_equal(sts_dns_status_name(STS_DNS_TIMEOUT), "timeout");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_txt_strings_joined),
	    cmocka_unit_test(test_cname_chain_in_answer),
	    cmocka_unit_test(test_cname_leaves_answer),
	    cmocka_unit_test(test_rcodes),
	    cmocka_unit_test(test_mx_order_and_null_mx),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_loop_and_garbage),
	    cmocka_unit_test(test_resolver_live),
	    cmocka_unit_test(test_resolver_bad_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
