/* SPDX-License-Identifier: MIT */
/*
 * The renewal pass of serve (core/hosted/sts_serve_acme.c) before the CA:
 * the delegation check against a fake DNS server on 127.0.0.1. A name
 * that does not exist is "not delegated" (the customer's doing: counted,
 * backed off); a lookup that times out or gets SERVFAIL is a DNS failure
 * (not counted, tried again soon). No ACME server is ever contacted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_net.h"
#include "state_fixture.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_serve_acme.h"

static time_t now_v = 1767225600; /* 2026-01-01 */

static time_t fake_now(void *ud)
{
	(void)ud;
	return now_v;
}

static const struct sts_clock fake_clock = {fake_now, NULL};

static void expect_cert(struct sts_db *db, const char *host, const char *error, long long failures,
			int64_t next_attempt)
{
	struct sts_hosted_cert c;
	bool found = false;
	assert_int_equal(sts_hosted_cert_get(db, host, &c, &found), STS_OK);
	assert_true(found);
	assert_string_equal(c.last_error, error);
	assert_int_equal(c.failures, failures);
	assert_int_equal(c.next_attempt, next_attempt);
	sts_hosted_cert_release(&c);
}

static void test_dns_failure_is_not_undelegated(void **state)
{
	(void)state;
	static const char *const zone[] = {"edge.msp.example. IN A 192.0.2.1", NULL};
	struct fake_dns *s =
	    fake_dns_start_opts(zone, false, "mta-sts.drop.example", "mta-sts.broken.example");
	struct sts_db *db = NULL;
	assert_int_equal(state_fixture_open("serve_acme", ":memory:", 0, &fake_clock, &db, NULL),
			 STS_OK);
	assert_int_equal(sts_hosted_schema(db), STS_OK);
	static const char *const hosts[] = {"mta-sts.drop.example", "mta-sts.broken.example",
					    "mta-sts.nx.example"};
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(
		    sts_hosted_policy_put(db, hosts[i], hosts[i] + 8, "p", 1, "id", 86400), STS_OK);
	char server[64];
	snprintf(server, sizeof(server), "127.0.0.1:%d", s->port);
	struct sts_resolver_opts ro = {.server = server, .timeout_ms = 300, .tries = 1};
	char never_used; /* no host is delegated: serve never answers a challenge */
	struct sts_serve_acme_opts o = {.db = db,
					.srv = (struct sts_serve *)(void *)&never_used,
					.directory_url = "https://127.0.0.1:1/directory",
					.edge = "edge.msp.example",
					.resolve = &ro};
	struct sts_serve_acme_report rep;
	assert_int_equal(sts_serve_acme_pass(&o, now_v, &rep), STS_OK);
	assert_int_equal(rep.due, 3);
	assert_int_equal(rep.failed, 3);
	assert_int_equal(rep.issued, 0);
	int64_t soon = now_v + STS_SERVE_ACME_DNS_RETRY;
	expect_cert(db, "mta-sts.drop.example",
		    "DNS lookup of mta-sts.drop.example failed: timeout", 0, soon);
	expect_cert(db, "mta-sts.broken.example",
		    "DNS lookup of mta-sts.broken.example failed: server failure", 0, soon);
	expect_cert(db, "mta-sts.nx.example",
		    "not delegated: mta-sts.nx.example does not point at edge.msp.example", 1,
		    now_v + 60);
	/* serve's next pass: the earliest next attempt, not its hourly interval */
	assert_int_equal(rep.next, now_v + 60);

	/* the next attempt is honoured: nothing due before it, the DNS failures again after */
	assert_int_equal(sts_serve_acme_pass(&o, now_v + 30, &rep), STS_OK);
	assert_int_equal(rep.due, 0);
	assert_int_equal(rep.next, now_v + 60);
	now_v += STS_SERVE_ACME_DNS_RETRY;
	assert_int_equal(sts_serve_acme_pass(&o, now_v, &rep), STS_OK);
	assert_int_equal(rep.due, 3);
	expect_cert(db, "mta-sts.drop.example",
		    "DNS lookup of mta-sts.drop.example failed: timeout", 0,
		    now_v + STS_SERVE_ACME_DNS_RETRY);
	expect_cert(db, "mta-sts.nx.example",
		    "not delegated: mta-sts.nx.example does not point at edge.msp.example", 2,
		    now_v + 120);
	sts_db_close(db);
	fake_dns_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dns_failure_is_not_undelegated),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
