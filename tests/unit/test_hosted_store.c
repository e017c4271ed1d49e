/* SPDX-License-Identifier: MIT */
/*
 * The hosted store: policies (exact bytes, sha256, max_age_ever), the
 * certificates and their failures, the host list, the ACME account, the
 * serve heartbeat, the change generation and serve's lookup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "state_fixture.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_hosted_store.h"

static time_t now_v = 1767225600; /* 2026-01-01 */

static time_t fake_now(void *ud)
{
	(void)ud;
	return now_v;
}

static const struct sts_clock fake_clock = {fake_now, NULL};

static int setup(void **state)
{
	struct sts_db *db = NULL;
	if (state_fixture_open("hosted_store", ":memory:", 0, &fake_clock, &db, NULL) != STS_OK)
		return -1;
	if (sts_hosted_schema(db) != STS_OK) {
		sts_db_close(db);
		return -1;
	}
	*state = db;
	return 0;
}

static int teardown(void **state)
{
	sts_db_close(*state);
	return 0;
}

static int64_t gen(struct sts_db *db)
{
	int64_t g = -1;
	assert_int_equal(sts_hosted_generation(db, &g), STS_OK);
	return g;
}

static void test_schema_idempotent(void **state)
{
	struct sts_db *db = *state;
	int v = 0;
	assert_int_equal(sts_hosted_schema(db), STS_OK);
	assert_int_equal(sts_db_schema_version(db, STS_HOSTED_COMPONENT, &v), STS_OK);
	assert_int_equal(v, STS_HOSTED_SCHEMA_VERSION);
	assert_int_equal(gen(db), 0);
}

static void test_policy(void **state)
{
	struct sts_db *db = *state;
	static const char body[] = "version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\n"
				   "max_age: 604800\r\n";
	struct sts_hosted_policy p;
	bool found = true;
	int64_t g0 = gen(db);

	assert_int_equal(sts_hosted_policy_get(db, "mta-sts.example.com", &p, &found), STS_OK);
	assert_false(found);
	assert_int_equal(sts_hosted_policy_put(db, "mta-sts.example.com", "example.com", body,
					       sizeof(body) - 1, "id1", 604800),
			 STS_OK);
	assert_true(gen(db) > g0);
	assert_int_equal(sts_hosted_policy_get(db, "mta-sts.example.com", &p, &found), STS_OK);
	assert_true(found);
	assert_int_equal(p.body_len, sizeof(body) - 1);
	assert_memory_equal(p.body, body, sizeof(body) - 1);
	assert_string_equal(p.domain, "example.com");
	assert_string_equal(p.policy_id, "id1");
	assert_int_equal(strlen(p.sha256), 64);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.max_age_ever, 604800);
	assert_int_equal(p.updated, now_v);
	sts_hosted_policy_release(&p);

	/* a smaller max_age keeps the largest ever served; a larger one raises it */
	g0 = gen(db);
	assert_int_equal(
	    sts_hosted_policy_put(db, "mta-sts.example.com", "example.com", "x", 1, "id2", 86400),
	    STS_OK);
	assert_true(gen(db) > g0);
	assert_int_equal(sts_hosted_policy_get(db, "mta-sts.example.com", &p, &found), STS_OK);
	assert_int_equal(p.max_age, 86400);
	assert_int_equal(p.max_age_ever, 604800);
	assert_string_equal(p.policy_id, "id2");
	assert_string_equal(p.sha256,
			    "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
	sts_hosted_policy_release(&p);
	assert_int_equal(sts_hosted_policy_put(db, "mta-sts.example.com", "example.com", "x", 1,
					       "id3", 31557600),
			 STS_OK);
	assert_int_equal(sts_hosted_policy_get(db, "mta-sts.example.com", &p, &found), STS_OK);
	assert_int_equal(p.max_age_ever, 31557600);
	sts_hosted_policy_release(&p);

	assert_int_equal(sts_hosted_policy_put(db, "", "example.com", "x", 1, "i", 1), STS_EINVAL);
	assert_int_equal(sts_hosted_policy_put(db, "h", "d", NULL, 0, "i", 1), STS_EINVAL);

	g0 = gen(db);
	assert_int_equal(sts_hosted_policy_delete(db, "mta-sts.example.com"), STS_OK);
	assert_true(gen(db) > g0);
	assert_int_equal(sts_hosted_policy_get(db, "mta-sts.example.com", &p, &found), STS_OK);
	assert_false(found);
	assert_int_equal(sts_hosted_policy_delete(db, "mta-sts.example.com"), STS_OK);
}

static void test_cert(void **state)
{
	struct sts_db *db = *state;
	struct sts_hosted_cert c;
	struct sts_hosted_host *h = NULL;
	size_t n = 0;
	bool found;
	int64_t g0 = gen(db);

	/* a failure before any certificate: a row without one, no generation bump */
	assert_int_equal(sts_hosted_cert_failure(db, "mta-sts.a.example", "cname missing", 100),
			 STS_OK);
	assert_int_equal(gen(db), g0);
	assert_int_equal(sts_hosted_cert_failure(db, "mta-sts.a.example", "again", 200), STS_OK);
	assert_int_equal(sts_hosted_cert_get(db, "mta-sts.a.example", &c, &found), STS_OK);
	assert_true(found);
	assert_null(c.chain_pem);
	assert_int_equal(c.failures, 2);
	assert_string_equal(c.last_error, "again");
	assert_int_equal(c.next_attempt, 200);
	sts_hosted_cert_release(&c);

	assert_int_equal(sts_hosted_cert_put(db, "mta-sts.a.example", "CHAIN", "KEY", 10, 20, 15),
			 STS_OK);
	assert_true(gen(db) > g0);
	assert_int_equal(sts_hosted_cert_get(db, "mta-sts.a.example", &c, &found), STS_OK);
	assert_string_equal(c.chain_pem, "CHAIN");
	assert_string_equal(c.key_pem, "KEY");
	assert_int_equal(c.not_after, 20);
	assert_int_equal(c.failures, 0);
	assert_null(c.last_error);
	sts_hosted_cert_release(&c);

	/* a failed renewal keeps the certificate and does not invalidate serve's cache */
	g0 = gen(db);
	assert_int_equal(sts_hosted_cert_failure(db, "mta-sts.a.example", "429", 300), STS_OK);
	assert_int_equal(gen(db), g0);
	assert_int_equal(sts_hosted_cert_get(db, "mta-sts.a.example", &c, &found), STS_OK);
	assert_string_equal(c.chain_pem, "CHAIN");
	assert_int_equal(c.failures, 1);
	sts_hosted_cert_release(&c);

	assert_int_equal(
	    sts_hosted_policy_put(db, "mta-sts.b.example", "b.example", "p", 1, "i", 86400),
	    STS_OK);
	assert_int_equal(sts_hosted_hosts(db, &h, &n), STS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].host, "mta-sts.a.example");
	assert_null(h[0].domain);
	assert_true(h[0].has_cert);
	assert_int_equal(h[0].not_after, 20);
	assert_string_equal(h[0].last_error, "429");
	assert_string_equal(h[1].host, "mta-sts.b.example");
	assert_string_equal(h[1].domain, "b.example");
	assert_false(h[1].has_cert);
	assert_int_equal(h[1].max_age_ever, 86400);
	sts_hosted_hosts_free(h, n);

	g0 = gen(db);
	assert_int_equal(sts_hosted_cert_delete(db, "mta-sts.a.example"), STS_OK);
	assert_true(gen(db) > g0);
}

/* serve's lookup: one prepared query, reused; no transaction left open between calls */
static void test_lookup(void **state)
{
	struct sts_db *db = *state;
	struct sts_hosted_lookup *l = NULL;
	struct sts_hosted_served v;
	bool found = true;

	assert_int_equal(sts_hosted_lookup_new(db, &l), STS_OK);
	assert_int_equal(sts_hosted_lookup_get(l, "mta-sts.a.example", &v, &found), STS_OK);
	assert_false(found);
	/* a certificate alone is not served */
	assert_int_equal(sts_hosted_cert_put(db, "mta-sts.a.example", "CHAIN", "KEY", 10, 20, 15),
			 STS_OK);
	assert_int_equal(sts_hosted_lookup_get(l, "mta-sts.a.example", &v, &found), STS_OK);
	assert_false(found);
	/* a policy without a certificate yet (bytes with a NUL kept) */
	assert_int_equal(
	    sts_hosted_policy_put(db, "mta-sts.b.example", "b.example", "p\0q", 3, "i", 86400),
	    STS_OK);
	assert_int_equal(sts_hosted_lookup_get(l, "mta-sts.b.example", &v, &found), STS_OK);
	assert_true(found);
	assert_int_equal(v.body_len, 3);
	assert_memory_equal(v.body, "p\0q", 3);
	assert_null(v.chain_pem);
	assert_null(v.key_pem);
	sts_hosted_served_release(&v);
	/* both; a write between two reads is seen by the next */
	assert_int_equal(
	    sts_hosted_policy_put(db, "mta-sts.a.example", "a.example", "pol", 3, "i", 86400),
	    STS_OK);
	assert_int_equal(sts_hosted_lookup_get(l, "mta-sts.a.example", &v, &found), STS_OK);
	assert_true(found);
	assert_string_equal((char *)v.body, "pol");
	assert_string_equal(v.chain_pem, "CHAIN");
	assert_string_equal(v.key_pem, "KEY");
	sts_hosted_served_release(&v);
	assert_int_equal(sts_hosted_cert_put(db, "mta-sts.a.example", "CHAIN2", "KEY2", 10, 20, 15),
			 STS_OK);
	assert_int_equal(sts_hosted_lookup_get(l, "mta-sts.a.example", &v, &found), STS_OK);
	assert_string_equal(v.chain_pem, "CHAIN2");
	assert_string_equal(v.key_pem, "KEY2");
	sts_hosted_served_release(&v);
	assert_int_equal(sts_hosted_policy_delete(db, "mta-sts.a.example"), STS_OK);
	assert_int_equal(sts_hosted_lookup_get(l, "mta-sts.a.example", &v, &found), STS_OK);
	assert_false(found);
	sts_hosted_lookup_free(l);
	sts_hosted_lookup_free(NULL);
}

/* without the hosted tables: an error, not a crash, and the lookup still frees */
static void test_lookup_no_schema(void **state)
{
	struct sts_db *db = NULL;
	struct sts_hosted_lookup *l = NULL;
	struct sts_hosted_served v;
	bool found = true;
	(void)state;
	assert_int_equal(state_fixture_open("hosted_store", ":memory:", 0, NULL, &db, NULL),
			 STS_OK);
	assert_int_equal(sts_hosted_lookup_new(db, &l), STS_OK);
	assert_int_equal(sts_hosted_lookup_get(l, "mta-sts.a.example", &v, &found), STS_EDB);
	assert_false(found);
	sts_hosted_lookup_free(l);
	sts_db_close(db);
}

static void test_account(void **state)
{
	struct sts_db *db = *state;
	struct sts_hosted_account a;
	bool found;
	assert_int_equal(sts_hosted_account_put(db, "https://ca/dir", "K1", NULL, "mailto:x"),
			 STS_OK);
	now_v += 10;
	assert_int_equal(sts_hosted_account_put(db, "https://ca/dir", "K1", "kid1", "mailto:x"),
			 STS_OK);
	assert_int_equal(sts_hosted_account_get(db, "https://ca/dir", &a, &found), STS_OK);
	assert_true(found);
	assert_string_equal(a.kid, "kid1");
	assert_int_equal(a.created, now_v - 10);
	sts_hosted_account_release(&a);
	assert_int_equal(sts_hosted_account_get(db, "https://other", &a, &found), STS_OK);
	assert_false(found);
}

static void test_instances(void **state)
{
	struct sts_db *db = *state;
	struct sts_serve_instance i = {.instance = "h:1:5",
				       .hostname = "h",
				       .pid = 1,
				       .listen = "127.0.0.1:443",
				       .started = 5,
				       .counters = "{\"requests\":1}"};
	struct sts_serve_instance *v = NULL;
	size_t n = 0;

	assert_int_equal(sts_hosted_heartbeat(db, &i), STS_OK);
	now_v += 5;
	i.counters = "{\"requests\":2}";
	assert_int_equal(sts_hosted_heartbeat(db, &i), STS_OK);
	assert_int_equal(sts_hosted_instances(db, &v, &n), STS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].counters, "{\"requests\":2}");
	assert_int_equal(v[0].heartbeat, now_v);
	assert_int_equal(v[0].started, 5);
	sts_hosted_instances_free(v, n);
	assert_int_equal(sts_hosted_instances_prune(db, now_v + 1), STS_OK);
	assert_int_equal(sts_hosted_instances(db, &v, &n), STS_OK);
	assert_int_equal(n, 0);
	sts_hosted_instances_free(v, n);
}

static void test_status_json(void **state)
{
	struct sts_db *db = *state;
	struct sts_serve_instance i = {
	    .instance = "e:1", .pid = 1, .started = 5, .counters = "{\"ok\":3}"};
	json_t *o = NULL, *h;
	assert_int_equal(sts_hosted_heartbeat(db, &i), STS_OK);
	assert_int_equal(
	    sts_hosted_policy_put(db, "mta-sts.a.example", "a.example", "p", 1, "i", 600), STS_OK);
	assert_int_equal(sts_hosted_cert_failure(db, "mta-sts.b.example", "cname missing", 9),
			 STS_OK);
	assert_int_equal(sts_hosted_status_json(db, &o), STS_OK);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_array_get(json_object_get(o, "serve"), 0), "counters"), "ok")),
	    3);
	h = json_object_get(o, "hosts");
	assert_int_equal(json_array_size(h), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "max_age_ever")),
			 600);
	assert_true(json_is_null(json_object_get(json_array_get(h, 0), "certificate")));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(json_array_get(h, 1), "certificate"),
					      "last_error")),
	    "cname missing");
	assert_true(json_is_null(json_object_get(json_array_get(h, 1), "domain")));
	/* times in RFC 3339, as the rest of status; none: null */
	json_t *c = json_object_get(json_array_get(h, 1), "certificate");
	assert_string_equal(json_string_value(json_object_get(c, "next_attempt")),
			    "1970-01-01T00:00:09Z");
	assert_true(json_is_null(json_object_get(c, "not_after")));
	char hb[32];
	struct tm tm;
	strftime(hb, sizeof(hb), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now_v, &tm));
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(o, "serve"), 0), "heartbeat")),
			    hb);
	json_decref(o);
}

/* A DB without the hosted schema reads as empty (status on an old DB). */
static void test_no_schema(void **state)
{
	struct sts_db *db = NULL;
	struct sts_serve_instance *v = NULL;
	size_t n = 9;
	int64_t g = -1;
	(void)state;
	assert_int_equal(state_fixture_open("hosted_store", ":memory:", 0, NULL, &db, NULL),
			 STS_OK);
	assert_int_equal(sts_hosted_generation(db, &g), STS_OK);
	assert_int_equal(g, 0);
	assert_int_equal(sts_hosted_instances(db, &v, &n), STS_OK);
	assert_int_equal(n, 0);
	sts_db_close(db);
}

/* the watcher's memory of what it posted: per certificate row, no generation bump */
static void test_alerts(void **state)
{
	struct sts_db *db = *state;
	struct sts_hosted_alert *v = NULL;
	size_t n = 0;
	assert_int_equal(sts_hosted_cert_put(db, "mta-sts.a.example", "C", "K", 10, 20, 15),
			 STS_OK);
	assert_int_equal(sts_hosted_cert_failure(db, "mta-sts.b.example", "boom", 9), STS_OK);
	int64_t g0 = gen(db);
	assert_int_equal(sts_hosted_alert_set(db, "mta-sts.b.example", "failing"), STS_OK);
	assert_int_equal(gen(db), g0);
	assert_int_equal(sts_hosted_alerts(db, &v, &n), STS_OK);
	assert_int_equal(n, 2);
	assert_true(v[0].has_cert);
	assert_int_equal(v[0].not_after, 20);
	assert_null(v[0].alerted);
	assert_false(v[1].has_cert);
	assert_string_equal(v[1].last_error, "boom");
	assert_int_equal(v[1].failures, 1);
	assert_string_equal(v[1].alerted, "failing");
	sts_hosted_alerts_free(v, n);
}

/* an interrupted order: kept with its key until a certificate is installed */
static void test_order(void **state)
{
	struct sts_db *db = *state;
	struct sts_hosted_order o;
	bool found = true;
	const char *h = "mta-sts.a.example";
	assert_int_equal(sts_hosted_order_get(db, h, &o, &found), STS_OK);
	assert_false(found);
	assert_int_equal(sts_hosted_order_put(db, h, "https://ca/order/1", NULL, 5), STS_EINVAL);
	assert_int_equal(sts_hosted_cert_failure(db, h, "dropped", 100), STS_OK);
	int64_t g0 = gen(db);
	assert_int_equal(sts_hosted_order_put(db, h, "https://ca/order/1", "OKEY", 500), STS_OK);
	assert_int_equal(gen(db), g0);
	assert_int_equal(sts_hosted_order_get(db, h, &o, &found), STS_OK);
	assert_true(found);
	assert_string_equal(o.url, "https://ca/order/1");
	assert_string_equal(o.key_pem, "OKEY");
	assert_int_equal(o.expires, 500);
	sts_hosted_order_release(&o);
	assert_int_equal(sts_hosted_cert_put(db, h, "C", "OKEY", 10, 20, 15), STS_OK);
	assert_int_equal(sts_hosted_order_get(db, h, &o, &found), STS_OK);
	assert_false(found);
	assert_int_equal(sts_hosted_order_put(db, h, "https://ca/order/2", "K2", 0), STS_OK);
	assert_int_equal(sts_hosted_order_put(db, h, NULL, NULL, 0), STS_OK);
	assert_int_equal(sts_hosted_order_get(db, h, &o, &found), STS_OK);
	assert_false(found);
}

/* a failure outside the domain (DNS) is recorded without counting */
static void test_retry(void **state)
{
	struct sts_db *db = *state;
	struct sts_hosted_cert c;
	bool found;
	const char *h = "mta-sts.a.example";
	assert_int_equal(sts_hosted_cert_retry(db, h, "DNS lookup failed", 300), STS_OK);
	assert_int_equal(sts_hosted_cert_failure(db, h, "not delegated", 400), STS_OK);
	assert_int_equal(sts_hosted_cert_retry(db, h, "timeout", 500), STS_OK);
	assert_int_equal(sts_hosted_cert_get(db, h, &c, &found), STS_OK);
	assert_int_equal(c.failures, 1);
	assert_string_equal(c.last_error, "timeout");
	assert_int_equal(c.next_attempt, 500);
	sts_hosted_cert_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schema_idempotent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cert, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alerts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
	    cmocka_unit_test(test_lookup_no_schema),
	    cmocka_unit_test_setup_teardown(test_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_instances, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
	    cmocka_unit_test(test_no_schema),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
