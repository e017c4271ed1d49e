/* SPDX-License-Identifier: MIT */
/*
 * STARTTLS probe: the SMTP reply reader, then probes of fake SMTP servers on
 * 127.0.0.1 with certificates of a throwaway CA: a good server, no STARTTLS,
 * TLS 1.0 only, a certificate for another name, an expired one, one from
 * another CA, a 554 greeting, a silent server (timeout), a closed port, and
 * the next address after one that refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_net.h"
#include "sts_err.h"
#include "sts_starttls.h"

static void test_reply_reader(void **state)
{
	(void)state;
	int code = 0;
	bool tls = false;
	const char *ehlo = "250-mx.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\nrest";
	assert_int_equal(sts_smtp_reply(ehlo, strlen(ehlo), &code, &tls), (long)strlen(ehlo) - 4);
	assert_int_equal(code, 250);
	assert_true(tls);
	const char *lf = "220 hello\n";
	assert_int_equal(sts_smtp_reply(lf, strlen(lf), &code, &tls), 10);
	assert_int_equal(code, 220);
	assert_false(tls);
	const char *partial = "250-mx.test\r\n250-STARTTLS\r\n";
	assert_int_equal(sts_smtp_reply(partial, strlen(partial), &code, &tls), 0);
	const char *bare = "250\r\n";
	assert_int_equal(sts_smtp_reply(bare, strlen(bare), &code, &tls), 5);
	const char *starttlsx = "250 STARTTLSX\r\n";
	assert_int_equal(sts_smtp_reply(starttlsx, strlen(starttlsx), &code, &tls), 15);
	assert_false(tls);
	const char *http = "HTTP/1.1 400 Bad Request\r\n";
	assert_int_equal(sts_smtp_reply(http, strlen(http), &code, &tls), -1);
	assert_true(sts_tls_version_ok("TLSv1.2"));
	assert_true(sts_tls_version_ok("TLSv1.3"));
	assert_false(sts_tls_version_ok("TLSv1"));
	assert_false(sts_tls_version_ok("TLSv1.1"));
	assert_false(sts_tls_version_ok("SSLv3"));
	assert_false(sts_tls_version_ok(NULL));
}

struct fx {
	struct fake_ca ca;
	struct sts_starttls *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	fake_ca_init(&f->ca);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sts_starttls_free(f->s);
	fake_ca_release(&f->ca);
	free(f);
	return 0;
}

/* Probe host on srv's port at 127.0.0.1. */
static void probe(struct fx *f, const struct fake_srv *srv, int port, const char *host,
		  long timeout_ms, struct sts_starttls_result *res)
{
	sts_starttls_free(f->s);
	f->s = NULL;
	struct sts_starttls_opts o = {.port = (unsigned)(srv ? srv->port : port),
				      .timeout_ms = timeout_ms,
				      .ca_file = f->ca.pem,
				      .helo = "probe.test"};
	assert_int_equal(sts_starttls_new(&o, &f->s), STS_OK);
	const char *addrs[] = {"127.0.0.1"};
	assert_int_equal(sts_starttls_probe(f->s, host, addrs, 1, res), STS_OK);
}

static void test_good(void **state)
{
	struct fx *f = *state;
	struct fake_srv *srv = fake_srv_start(FAKE_SMTP_TLS, &f->ca, "DNS:mx.test,DNS:*.mx2.test",
					      -3600, 86400L * 40, 0);
	struct sts_starttls_result res;
	probe(f, srv, 0, "mx.test", 10000, &res);
	assert_int_equal(res.stage, STS_STARTTLS_DONE);
	assert_string_equal(res.address, "127.0.0.1");
	assert_true(res.starttls_offered);
	assert_true(sts_tls_version_ok(res.tls_version));
	assert_true(res.have_cert);
	assert_true(res.chain_ok);
	assert_true(res.name_ok);
	assert_int_equal(res.verify_error, 0);
	long long left = res.not_after - (long long)time(NULL);
	assert_true(left > 86400L * 39 && left <= 86400L * 40);
	/* a wildcard SAN covers exactly one label */
	probe(f, srv, 0, "a.mx2.test", 10000, &res);
	assert_true(res.name_ok);
	probe(f, srv, 0, "a.b.mx2.test", 10000, &res);
	assert_false(res.name_ok);
	assert_true(res.chain_ok);
	fake_srv_stop(srv);
}

static void test_no_starttls(void **state)
{
	struct fx *f = *state;
	struct fake_srv *srv = fake_srv_start(FAKE_SMTP_NOTLS, NULL, NULL, 0, 0, 0);
	struct sts_starttls_result res;
	probe(f, srv, 0, "mx.test", 10000, &res);
	assert_int_equal(res.stage, STS_STARTTLS_NOTLS);
	assert_false(res.starttls_offered);
	assert_string_equal(res.error, "STARTTLS is not offered");
	assert_string_equal(res.tls_version, "");
	fake_srv_stop(srv);
}

static void test_tls10_only(void **state)
{
	struct fx *f = *state;
	struct fake_srv *srv =
	    fake_srv_start(FAKE_SMTP_TLS, &f->ca, "DNS:mx.test", -3600, 86400L * 40, TLS1_VERSION);
	struct sts_starttls_result res;
	probe(f, srv, 0, "mx.test", 10000, &res);
	assert_int_equal(res.stage, STS_STARTTLS_DONE);
	assert_string_equal(res.tls_version, "TLSv1");
	assert_false(sts_tls_version_ok(res.tls_version));
	assert_true(res.chain_ok);
	assert_true(res.name_ok);
	fake_srv_stop(srv);
}

static void test_bad_certificates(void **state)
{
	struct fx *f = *state;
	struct sts_starttls_result res;
	/* another name only: chain fine, name not (and no CN fallback) */
	struct fake_srv *srv =
	    fake_srv_start(FAKE_SMTP_TLS, &f->ca, "DNS:other.test", -3600, 86400L * 40, 0);
	probe(f, srv, 0, "mx.test", 10000, &res);
	assert_int_equal(res.stage, STS_STARTTLS_DONE);
	assert_true(res.chain_ok);
	assert_false(res.name_ok);
	fake_srv_stop(srv);
	/* expired ten days ago */
	srv = fake_srv_start(FAKE_SMTP_TLS, &f->ca, "DNS:mx.test", -86400L * 40, -86400L * 10, 0);
	probe(f, srv, 0, "mx.test", 10000, &res);
	assert_int_equal(res.stage, STS_STARTTLS_DONE);
	assert_false(res.chain_ok);
	assert_int_equal(res.verify_error, X509_V_ERR_CERT_HAS_EXPIRED);
	assert_true(res.name_ok);
	assert_true(res.not_after < (long long)time(NULL));
	fake_srv_stop(srv);
	/* signed by a CA that is not the trust anchor */
	struct fake_ca other;
	fake_ca_init(&other);
	srv = fake_srv_start(FAKE_SMTP_TLS, &other, "DNS:mx.test", -3600, 86400L * 40, 0);
	probe(f, srv, 0, "mx.test", 10000, &res);
	assert_int_equal(res.stage, STS_STARTTLS_DONE);
	assert_false(res.chain_ok);
	assert_true(res.verify_error != 0);
	assert_true(strlen(res.verify_msg) > 0);
	fake_srv_stop(srv);
	fake_ca_release(&other);
}

static void test_failures(void **state)
{
	struct fx *f = *state;
	struct sts_starttls_result res;
	struct fake_srv *srv = fake_srv_start(FAKE_SMTP_554, NULL, NULL, 0, 0, 0);
	probe(f, srv, 0, "mx.test", 10000, &res);
	assert_int_equal(res.stage, STS_STARTTLS_BANNER);
	assert_string_equal(res.error, "greeting 554 instead of 220");
	fake_srv_stop(srv);
	srv = fake_srv_start(FAKE_SMTP_SILENT, NULL, NULL, 0, 0, 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	probe(f, srv, 0, "mx.test", 300, &res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(res.stage, STS_STARTTLS_BANNER);
	assert_string_equal(res.error, "no greeting: timed out");
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	fake_srv_stop(srv);
	int port = fake_closed_port();
	probe(f, NULL, port, "mx.test", 2000, &res);
	assert_int_equal(res.stage, STS_STARTTLS_CONNECT);
	assert_non_null(strstr(res.error, "Connection refused"));
	assert_string_equal(res.address, "");
}

static void test_next_address(void **state)
{
	struct fx *f = *state;
	struct fake_srv *srv =
	    fake_srv_start(FAKE_SMTP_TLS, &f->ca, "DNS:mx.test", -3600, 86400L * 40, 0);
	struct sts_starttls_opts o = {.port = (unsigned)srv->port, .ca_file = f->ca.pem};
	struct sts_starttls *s = NULL;
	assert_int_equal(sts_starttls_new(&o, &s), STS_OK);
	/* 127.0.0.2 is loopback too but nothing listens there on this port */
	const char *addrs[] = {"not-an-ip", "127.0.0.2", "127.0.0.1"};
	struct sts_starttls_result res;
	assert_int_equal(sts_starttls_probe(s, "mx.test", addrs, 3, &res), STS_OK);
	assert_int_equal(res.stage, STS_STARTTLS_DONE);
	assert_string_equal(res.address, "127.0.0.1");
	assert_int_equal(sts_starttls_probe(s, "mx.test", addrs, 0, &res), STS_EINVAL);
	sts_starttls_free(s);
	fake_srv_stop(srv);
	/* an unreadable CA file */
	struct sts_starttls_opts bad = {.ca_file = "/nonexistent/ca.pem"};
	assert_int_equal(sts_starttls_new(&bad, &s), STS_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply_reader),     cmocka_unit_test(test_good),
	    cmocka_unit_test(test_no_starttls),	     cmocka_unit_test(test_tls10_only),
	    cmocka_unit_test(test_bad_certificates), cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_next_address),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
