/* SPDX-License-Identifier: MIT */
/*
 * sts_https_fetch_policy(), apply's verification "as a sender would",
 * against a TLS server of this test on 127.0.0.1 (a thread, ephemeral
 * port) with a CA and leaf certificates made here: only a 200 counts, no
 * redirect is followed, Content-Type must be text/plain (parameters
 * allowed), the body is capped at 64 KiB, the certificate must chain to
 * the CA file and name the policy host, SNI carries the policy host,
 * resolve ("IP:PORT") replaces DNS, proxies from the environment are not
 * used (a sender connects directly), TLS below 1.2 is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sts_apply.h"
#include "sts_buf.h"
#include "sts_err.h"

#define HOST "mta-sts.example.test"
#define POL  "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n"

/* ---- a throwaway CA and leaf certificates ---- */

static EVP_PKEY *ca_key;
static X509 *ca_cert;
static char ca_file[] = "/tmp/sts-test-https-ca-XXXXXX";

static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, bool ca, long serial)
{
	X509 *x = X509_new();
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, ca ? nm : X509_get_subject_name(ca_cert));
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, ca ? x : ca_cert, x, NULL, NULL, 0);
	const char *ext[][2] = {
	    {"basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
	    {"keyUsage", ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
	    {"subjectAltName", san},
	};
	for (size_t i = 0; i < 3; i++) {
		if (!ext[i][1])
			continue;
		X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, ext[i][0], ext[i][1]);
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, ca ? key : ca_key, EVP_sha256()) > 0);
	return x;
}

/* A server context with a leaf for san ("DNS:a,DNS:b"), signed by the CA. */
static SSL_CTX *server_ctx(const char *san, bool tls11_only)
{
	static long serial = 2;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	X509 *leaf = make_cert(key, "leaf", san, false, serial++);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, leaf), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	if (tls11_only) {
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
	}
	X509_free(leaf);
	EVP_PKEY_free(key);
	return ctx;
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN); /* the server writes to clients that gave up */
	ca_key = EVP_EC_gen("P-256");
	ca_cert = make_cert(ca_key, "stsctl test CA", NULL, true, 1);
	int fd = mkstemp(ca_file);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	PEM_write_X509(f, ca_cert);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(ca_file);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	return 0;
}

/* ---- the server ---- */

struct server {
	int fd, port;
	pthread_t thr;
	volatile int stop;
	SSL_CTX *ctx;
	const char *head; /* status line and headers, without the blank line */
	const char *body;
	size_t body_len;
	int n;	       /* connections handled */
	char sni[256]; /* of the last handshake */
	char reqline[256];
};

static void serve_one(struct server *s, int c)
{
	SSL *ssl = SSL_new(s->ctx);
	SSL_set_fd(ssl, c);
	if (SSL_accept(ssl) == 1) {
		const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		snprintf(s->sni, sizeof(s->sni), "%s", sni ? sni : "");
		char buf[4096];
		int n = 0, k;
		while (n < (int)sizeof(buf) - 1 &&
		       (k = SSL_read(ssl, buf + n, (int)sizeof(buf) - 1 - n)) > 0) {
			n += k;
			buf[n] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		buf[n] = '\0';
		char *eol = strstr(buf, "\r\n");
		snprintf(s->reqline, sizeof(s->reqline), "%.*s", eol ? (int)(eol - buf) : n, buf);
		char head[1024];
		int hl = snprintf(head, sizeof(head),
				  "%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", s->head,
				  s->body_len);
		SSL_write(ssl, head, hl);
		for (size_t off = 0; off < s->body_len;) {
			size_t chunk = s->body_len - off < 16384 ? s->body_len - off : 16384;
			int w = SSL_write(ssl, s->body + off, (int)chunk);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	close(c);
}

static void *serve(void *arg)
{
	struct server *s = arg;
	while (!s->stop) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 20) <= 0)
			continue;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		s->n++;
		serve_one(s, c);
	}
	return NULL;
}

static struct server *start(const char *san, const char *head, const char *body, size_t body_len)
{
	struct server *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->ctx = server_ctx(san, false);
	s->head = head;
	s->body = body;
	s->body_len = body ? (body_len ? body_len : strlen(body)) : 0;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thr, NULL, serve, s), 0);
	return s;
}

static void stop(struct server *s)
{
	s->stop = 1;
	pthread_join(s->thr, NULL);
	close(s->fd);
	SSL_CTX_free(s->ctx);
	free(s);
}

/* Fetch HOST from s with the test CA; the body in b, the error text in *err. */
static int fetch(struct server *s, const char *ca, struct sts_buf *b, char **err)
{
	char resolve[64];
	snprintf(resolve, sizeof(resolve), "127.0.0.1:%d", s->port);
	sts_buf_init(b, STS_CAP_POLICY);
	*err = NULL;
	return sts_https_fetch_policy(HOST, ca, resolve, b, err);
}

#define OK_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/plain"

/* ---- tests ---- */

static void test_ok_sni_resolve(void **state)
{
	(void)state;
	struct server *s = start("DNS:" HOST, OK_HEAD, POL, 0);
	struct sts_buf b;
	char *err;
	assert_int_equal(fetch(s, ca_file, &b, &err), STS_OK);
	assert_null(err);
	assert_string_equal(sts_buf_str(&b), POL);
	assert_string_equal(s->sni, HOST);
	assert_string_equal(s->reqline, "GET /.well-known/mta-sts.txt HTTP/1.1");
	sts_buf_release(&b);
	stop(s);
}

static void test_content_types(void **state)
{
	(void)state;
	static const struct {
		const char *head;
		int want;
	} cases[] = {
	    {OK_HEAD "; charset=utf-8", STS_OK},
	    {"HTTP/1.1 200 OK\r\nContent-Type: TEXT/PLAIN", STS_OK},
	    {"HTTP/1.1 200 OK\r\nContent-Type: text/html", STS_EVERIFY},
	    {"HTTP/1.1 200 OK\r\nContent-Type: text/plainish", STS_EVERIFY},
	    {"HTTP/1.1 200 OK", STS_EVERIFY}, /* none at all */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct server *s = start("DNS:" HOST, cases[i].head, POL, 0);
		struct sts_buf b;
		char *err;
		int r = fetch(s, ca_file, &b, &err);
		if (r != cases[i].want)
			fail_msg("case %zu: %d, %s", i, r, err ? err : "");
		if (r == STS_EVERIFY)
			assert_non_null(strstr(err, "expected text/plain"));
		free(err);
		sts_buf_release(&b);
		stop(s);
	}
}

static void test_only_200_no_redirect(void **state)
{
	(void)state;
	static const char *heads[] = {
	    ("HTTP/1.1 301 Moved Permanently\r\nLocation: https://" HOST "/other\r\n"
	     "Content-Type: text/plain"),
	    ("HTTP/1.1 302 Found\r\nLocation: /.well-known/mta-sts.txt?x\r\n"
	     "Content-Type: text/plain"),
	    "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain",
	    "HTTP/1.1 204 No Content\r\nContent-Type: text/plain",
	    "HTTP/1.1 500 Oops\r\nContent-Type: text/plain",
	};
	static const char *codes[] = {"301", "302", "404", "204", "500"};
	for (size_t i = 0; i < 5; i++) {
		struct server *s = start("DNS:" HOST, heads[i], POL, 0);
		struct sts_buf b;
		char *err;
		assert_int_equal(fetch(s, ca_file, &b, &err), STS_EVERIFY);
		char want[64];
		snprintf(want, sizeof(want), "HTTP status %s, expected 200", codes[i]);
		assert_non_null(strstr(err, want));
		assert_int_equal(s->n, 1); /* the Location was not followed, no retry */
		free(err);
		sts_buf_release(&b);
		stop(s);
	}
}

static void test_size_cap(void **state)
{
	(void)state;
	size_t cap = STS_CAP_POLICY;
	char *big = malloc(cap + 1);
	assert_non_null(big);
	memset(big, 'x', cap + 1);
	/* exactly 64 KiB is fine */
	struct server *s = start("DNS:" HOST, OK_HEAD, big, cap);
	struct sts_buf b;
	char *err;
	assert_int_equal(fetch(s, ca_file, &b, &err), STS_OK);
	assert_int_equal(b.len, cap);
	sts_buf_release(&b);
	stop(s);
	/* one byte more is not */
	s = start("DNS:" HOST, OK_HEAD, big, cap + 1);
	assert_int_equal(fetch(s, ca_file, &b, &err), STS_ETOOLARGE);
	assert_non_null(strstr(err, "larger than 64 KiB"));
	free(err);
	sts_buf_release(&b);
	stop(s);
	free(big);
}

static void test_certificates(void **state)
{
	(void)state;
	/* a certificate for another name */
	struct server *s = start("DNS:mta-sts.other.test,DNS:example.test", OK_HEAD, POL, 0);
	struct sts_buf b;
	char *err;
	assert_int_equal(fetch(s, ca_file, &b, &err), STS_ETLS);
	assert_non_null(err);
	free(err);
	sts_buf_release(&b);
	stop(s);
	/* the right name, but no CA file: the system store does not know the test CA */
	s = start("DNS:" HOST, OK_HEAD, POL, 0);
	assert_int_equal(fetch(s, NULL, &b, &err), STS_ETLS);
	free(err);
	sts_buf_release(&b);
	/* a wildcard certificate covers the policy host */
	stop(s);
	s = start("DNS:*.example.test", OK_HEAD, POL, 0);
	assert_int_equal(fetch(s, ca_file, &b, &err), STS_OK);
	sts_buf_release(&b);
	stop(s);
}

static void test_tls_below_1_2_refused(void **state)
{
	(void)state;
	struct server *s = start("DNS:" HOST, OK_HEAD, POL, 0);
	SSL_CTX_free(s->ctx);
	s->ctx = server_ctx("DNS:" HOST, true);
	struct sts_buf b;
	char *err;
	assert_int_equal(fetch(s, ca_file, &b, &err), STS_ETLS);
	free(err);
	sts_buf_release(&b);
	stop(s);
}

/* A sender connects directly: proxies from the environment are not used. */
static void test_no_proxy_from_env(void **state)
{
	(void)state;
	static const char *vars[] = {"https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"};
	for (size_t i = 0; i < 4; i++)
		setenv(vars[i], "http://127.0.0.1:1", 1); /* nothing listens there */
	struct server *s = start("DNS:" HOST, OK_HEAD, POL, 0);
	struct sts_buf b;
	char *err;
	int r = fetch(s, ca_file, &b, &err);
	for (size_t i = 0; i < 4; i++)
		unsetenv(vars[i]);
	if (r != STS_OK)
		fail_msg("%s", err ? err : sts_strerror(r));
	assert_string_equal(sts_buf_str(&b), POL);
	sts_buf_release(&b);
	stop(s);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ok_sni_resolve),
	    cmocka_unit_test(test_content_types),
	    cmocka_unit_test(test_only_200_no_redirect),
	    cmocka_unit_test(test_size_cap),
	    cmocka_unit_test(test_certificates),
	    cmocka_unit_test(test_tls_below_1_2_refused),
	    cmocka_unit_test(test_no_proxy_from_env),
	};
	/* clang-format on */
	return cmocka_run_group_tests(tests, setup, teardown);
}
