/* SPDX-License-Identifier: MIT */
/*
 * HTTP client: retries (429 + Retry-After, 503, bounded attempts and total
 * time), response cap, timeout, protocol restrictions. Against a tiny
 * scripted HTTP/1.1 server on 127.0.0.1 with an ephemeral port, run in a
 * thread of this test; nothing else is ever contacted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sts_config.h"
#include "sts_err.h"
#include "sts_http.h"
#include "sts_plugin.h"

#define SCRIPT_MAX 8

struct reply {
	int status;
	const char *headers; /* extra header lines, each ending in \r\n */
	size_t body_len;     /* body of 'x' bytes */
	int delay_ms;	     /* before answering */
};

struct server {
	int fd;
	int port;
	pthread_t thr;
	volatile int stop;
	struct reply script[SCRIPT_MAX];
	int n_script;
	_Atomic int n_requests; /* requests answered (counted before the reply is sent,
				  so the client never sees a reply not yet counted) */
	char last_method[16];
	SSL_CTX *tls; /* NULL: plain HTTP */
};

static void read_request(int c, struct server *s)
{
	char buf[8192] = "";
	size_t n = 0;
	while (n < sizeof(buf) - 1) {
		struct pollfd p = {.fd = c, .events = POLLIN};
		if (poll(&p, 1, 2000) <= 0)
			break;
		ssize_t k = read(c, buf + n, sizeof(buf) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = '\0';
		if ((unsigned char)buf[0] == 0x16)
			break; /* a TLS ClientHello: answer in plain text at once */
		char *end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		const char *cl = strcasestr(buf, "\r\nContent-Length:");
		size_t want = cl ? (size_t)atol(cl + 17) : 0;
		if (n - (size_t)(end + 4 - buf) >= want)
			break;
	}
	sscanf(buf, "%15s", s->last_method);
}

/* One HTTPS exchange: handshake, read the request head, answer 200. */
static void serve_tls(struct server *s, int c)
{
	SSL *ssl = SSL_new(s->tls);
	SSL_set_fd(ssl, c);
	if (SSL_accept(ssl) == 1) {
		char buf[4096];
		size_t n = 0;
		int k;
		while (n < sizeof(buf) - 1 &&
		       (k = SSL_read(ssl, buf + n, (int)(sizeof(buf) - 1 - n))) > 0) {
			n += (size_t)k;
			buf[n] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		const char *resp =
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
		s->n_requests++;
		SSL_write(ssl, resp, (int)strlen(resp));
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
}

static void *serve(void *arg)
{
	struct server *s = arg;
	while (!s->stop) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		if (s->tls) {
			serve_tls(s, c);
			close(c);
			continue;
		}
		read_request(c, s);
		int nth = s->n_requests++;
		int i = nth < s->n_script ? nth : s->n_script - 1;
		const struct reply *r = &s->script[i];
		if (r->delay_ms) {
			struct timespec ts = {r->delay_ms / 1000, (r->delay_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		char head[1024];
		int hl = snprintf(head, sizeof(head),
				  "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n"
				  "X-Test: yes\r\n%s\r\n",
				  r->status, r->body_len, r->headers ? r->headers : "");
		ssize_t w = send(c, head, (size_t)hl, MSG_NOSIGNAL);
		char *body = malloc(r->body_len + 1);
		memset(body, 'x', r->body_len);
		for (size_t off = 0; w >= 0 && off < r->body_len; off += (size_t)w)
			w = send(c, body + off, r->body_len - off, MSG_NOSIGNAL);
		free(body);
		close(c);
	}
	return NULL;
}

static struct server *server_start(const struct reply *script, int n)
{
	struct server *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	memcpy(s->script, script, (size_t)n * sizeof(*script));
	s->n_script = n;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 16), 0);
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thr, NULL, serve, s), 0);
	return s;
}

static void server_stop(struct server *s)
{
	s->stop = 1;
	pthread_join(s->thr, NULL);
	close(s->fd);
	free(s);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

static struct sts_http *client(long total_ms)
{
	struct sts_http_opts o = {
	    .backoff_base_ms = 20,
	    .backoff_max_ms = 100,
	    .max_total_ms = total_ms,
	    .retry_after_max_ms = 5000,
	    .connect_timeout_ms = 20000, /* covers the TLS handshake: slow under valgrind */
	    .timeout_ms = 20000,
	};
	struct sts_http *h = NULL;
	assert_int_equal(sts_http_new(&o, &h), STS_OK);
	return h;
}

static char *url_of(const struct server *s, const char *path)
{
	char *u = NULL;
	assert_true(asprintf(&u, "http://127.0.0.1:%d%s", s->port, path) > 0);
	return u;
}

static void test_ok(void **state)
{
	(void)state;
	struct reply r[] = {{200, "Content-Type: text/plain\r\n", 5, 0}};
	struct server *s = server_start(r, 1);
	struct sts_http *h = client(0);
	char *u = url_of(s, "/.well-known/mta-sts.txt");
	struct sts_http_req req = {.url = u};
	struct sts_http_resp resp;
	assert_int_equal(sts_http_do(h, &req, &resp), STS_OK);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 1);
	assert_string_equal(sts_buf_str(&resp.body), "xxxxx");
	assert_string_equal(sts_http_resp_header(&resp, "content-type"), "text/plain");
	assert_string_equal(sts_http_resp_header(&resp, "X-TEST"), "yes");
	assert_null(sts_http_resp_header(&resp, "X-None"));
	assert_string_equal(resp.effective_url, u);
	assert_string_equal(s->last_method, "GET");
	sts_http_resp_release(&resp);
	free(u);
	sts_http_free(h);
	server_stop(s);
}

static void test_retry_after_429(void **state)
{
	(void)state;
	struct reply r[] = {{429, "Retry-After: 1\r\n", 0, 0}, {200, NULL, 2, 0}};
	struct server *s = server_start(r, 2);
	struct sts_http *h = client(0);
	char *u = url_of(s, "/");
	struct sts_http_req req = {.url = u};
	struct sts_http_resp resp;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sts_http_do(h, &req, &resp), STS_OK);
	long took = ms_since(&t0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(s->n_requests, 2);
	assert_true(took >= 950); /* honoured Retry-After: 1 */
	assert_true(took < 3000); /* not the backoff of a longer schedule */
	sts_http_resp_release(&resp);
	free(u);
	sts_http_free(h);
	server_stop(s);
}

static void test_503_bounded(void **state)
{
	(void)state;
	struct reply r[] = {{503, NULL, 0, 0}};
	struct server *s = server_start(r, 1);
	struct sts_http *h = client(0);
	char *u = url_of(s, "/");
	struct sts_http_req req = {.url = u, .max_attempts = 3};
	struct sts_http_resp resp;
	assert_int_equal(sts_http_do(h, &req, &resp), STS_OK);
	assert_int_equal(resp.status, 503); /* the last response is handed back */
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(s->n_requests, 3);
	sts_http_resp_release(&resp);

	/* a Retry-After beyond the limit ends the retries at once */
	s->n_requests = 0;
	s->script[0] = (struct reply){429, "Retry-After: 120\r\n", 0, 0};
	assert_int_equal(sts_http_do(h, &req, &resp), STS_OK);
	assert_int_equal(resp.status, 429);
	assert_int_equal(resp.attempts, 1);
	sts_http_resp_release(&resp);

	/* and so does one beyond the total time budget */
	struct sts_http *h2 = client(500);
	s->n_requests = 0;
	s->script[0] = (struct reply){429, "Retry-After: 1\r\n", 0, 0};
	assert_int_equal(sts_http_do(h2, &req, &resp), STS_OK);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(s->n_requests, 1);
	sts_http_resp_release(&resp);

	/* 500 is retried for PUT, not for POST */
	s->n_requests = 0;
	s->script[0] = (struct reply){500, NULL, 0, 0};
	struct sts_http_req put = {
	    .url = u, .method = "PUT", .body = "a", .body_len = 1, .max_attempts = 2};
	assert_int_equal(sts_http_do(h, &put, &resp), STS_OK);
	assert_int_equal(resp.attempts, 2);
	assert_string_equal(s->last_method, "PUT");
	sts_http_resp_release(&resp);
	struct sts_http_req post = {.url = u, .body = "a", .body_len = 1, .max_attempts = 2};
	assert_int_equal(sts_http_do(h, &post, &resp), STS_OK);
	assert_int_equal(resp.status, 500);
	assert_int_equal(resp.attempts, 1);
	assert_string_equal(s->last_method, "POST");
	sts_http_resp_release(&resp);
	free(u);
	sts_http_free(h);
	sts_http_free(h2);
	server_stop(s);
}

static void test_size_cap_and_redirect(void **state)
{
	(void)state;
	struct reply r[] = {{200, NULL, 5000, 0}};
	struct server *s = server_start(r, 1);
	struct sts_http *h = client(0);
	char *u = url_of(s, "/");
	struct sts_http_req req = {.url = u, .max_response = 1000};
	struct sts_http_resp resp;
	assert_int_equal(sts_http_do(h, &req, &resp), STS_ETOOLARGE);
	assert_int_equal(resp.attempts, 1);
	sts_http_resp_release(&resp);
	req.max_response = 5000;
	assert_int_equal(sts_http_do(h, &req, &resp), STS_OK);
	assert_int_equal(resp.body.len, 5000);
	sts_http_resp_release(&resp);

	/* redirects are not followed unless asked for */
	s->script[0] = (struct reply){301, "Location: /elsewhere\r\n", 0, 0};
	req.max_response = 0;
	assert_int_equal(sts_http_do(h, &req, &resp), STS_OK);
	assert_int_equal(resp.status, 301);
	assert_string_equal(sts_http_resp_header(&resp, "Location"), "/elsewhere");
	sts_http_resp_release(&resp);
	free(u);
	sts_http_free(h);
	server_stop(s);
}

static void test_timeout_and_errors(void **state)
{
	(void)state;
	struct reply r[] = {{200, NULL, 1, 2000}};
	struct server *s = server_start(r, 1);
	struct sts_http *h = client(0);
	char *u = url_of(s, "/");
	struct sts_http_req req = {.url = u, .timeout_ms = 300, .max_attempts = 1};
	struct sts_http_resp resp;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sts_http_do(h, &req, &resp), STS_ETIMEOUT);
	assert_true(ms_since(&t0) < 1500);
	sts_http_resp_release(&resp);
	free(u);
	int port = s->port;
	server_stop(s);

	/* nothing listens any more: connection refused, retried, bounded */
	char *dead = NULL;
	assert_true(asprintf(&dead, "http://127.0.0.1:%d/", port) > 0);
	struct sts_http_req rq = {.url = dead, .max_attempts = 3};
	assert_int_equal(sts_http_do(h, &rq, &resp), STS_ENET);
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(resp.status, 0);
	sts_http_resp_release(&resp);
	free(dead);

	/* only http and https */
	const char *bad[] = {"ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/",
			     "not a url"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sts_http_req b = {.url = bad[i], .max_attempts = 1};
		assert_int_equal(sts_http_do(h, &b, &resp), STS_EINVAL);
		sts_http_resp_release(&resp);
	}
	sts_http_free(h);
}

/* A self-signed certificate for IP 127.0.0.1; PEM written to pem_path. */
static SSL_CTX *tls_ctx(const char *pem_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"stsctl test", -1,
				   -1, 0);
	X509_set_issuer_name(x, nm);
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	FILE *f = fopen(pem_path, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static void test_tls_always_verified(void **state)
{
	(void)state;
	/* https to a plain-http listener: the TLS handshake fails, no retry */
	struct reply r[] = {{200, NULL, 1, 0}};
	struct server *s = server_start(r, 1);
	struct sts_http *h = client(0);
	char *u = NULL;
	assert_true(asprintf(&u, "https://127.0.0.1:%d/", s->port) > 0);
	struct sts_http_req req = {.url = u, .max_attempts = 3};
	struct sts_http_resp resp;
	assert_int_equal(sts_http_do(h, &req, &resp), STS_ETLS);
	assert_int_equal(resp.attempts, 1);
	sts_http_resp_release(&resp);
	server_stop(s);
	free(u);

	/* a certificate nobody vouches for is refused... */
	char pem[] = "/tmp/sts-test-http-XXXXXX";
	int fd = mkstemp(pem);
	assert_true(fd >= 0);
	close(fd);
	s = server_start(r, 1);
	s->tls = tls_ctx(pem);
	assert_true(asprintf(&u, "https://127.0.0.1:%d/", s->port) > 0);
	req.url = u;
	assert_int_equal(sts_http_do(h, &req, &resp), STS_ETLS);
	assert_int_equal(resp.attempts, 1);
	sts_http_resp_release(&resp);

	/* ...and accepted once its CA file is configured */
	struct sts_http_opts o = {.ca_file = pem};
	struct sts_http *hc = NULL;
	assert_int_equal(sts_http_new(&o, &hc), STS_OK);
	assert_int_equal(sts_http_do(hc, &req, &resp), STS_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(sts_buf_str(&resp.body), "ok");
	sts_http_resp_release(&resp);
	/* the name is checked too: the certificate is for 127.0.0.1 only */
	char *byname = NULL;
	assert_true(asprintf(&byname, "https://localhost:%d/", s->port) > 0);
	req.url = byname;
	assert_int_equal(sts_http_do(hc, &req, &resp), STS_ETLS);
	sts_http_resp_release(&resp);
	free(byname);
	sts_http_free(hc);
	SSL_CTX *ctx = s->tls;
	server_stop(s);
	SSL_CTX_free(ctx);
	unlink(pem);
	free(u);
	sts_http_free(h);
}

static void test_retry_after_parse(void **state)
{
	(void)state;
	assert_int_equal(sts_http_retry_after_ms("120", 0), 120000);
	assert_int_equal(sts_http_retry_after_ms(" 5 ", 0), 5000);
	assert_int_equal(sts_http_retry_after_ms("0", 0), 0);
	assert_int_equal(sts_http_retry_after_ms("5s", 0), -1);
	assert_int_equal(sts_http_retry_after_ms("abc", 0), -1);
	assert_int_equal(sts_http_retry_after_ms(NULL, 0), -1);
	/* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
	assert_int_equal(sts_http_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470),
			 10000);
	assert_int_equal(sts_http_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
}

/* retry_on: a 400 whose body holds a listed text is retried like a 503; others are final. */
static void test_retry_on(void **state)
{
	(void)state;
	struct reply r[] = {{400, NULL, 4, 0}, {200, NULL, 2, 0}};
	struct server *s = server_start(r, 2);
	struct sts_http *h = client(0);
	char *u = url_of(s, "/");
	struct sts_http_req req = {.url = u, .method = "POST", .body = "<x/>", .body_len = 4};
	const char *const other[] = {"400 yy", "401 xx", "400", NULL};
	struct sts_http_xreq x = {.retry_on = other};
	struct sts_http_resp resp;
	assert_int_equal(sts_http_do_ex(h, &req, &x, &resp), STS_OK);
	assert_int_equal(resp.status, 400); /* no listed text: final */
	assert_int_equal(resp.attempts, 1);
	sts_http_resp_release(&resp);
	server_stop(s);
	const char *const slow_down[] = {"400 xxx", NULL};
	x.retry_on = slow_down;
	s = server_start(r, 2);
	free(u);
	u = url_of(s, "/");
	req.url = u;
	assert_int_equal(sts_http_do_ex(h, &req, &x, &resp), STS_OK);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(s->n_requests, 2);
	sts_http_resp_release(&resp);
	free(u);
	sts_http_free(h);
	server_stop(s);
}

/* The host's HTTP service, reached by a plugin through the ABI. */
static void test_plugin_http_service(void **state)
{
	(void)state;
	struct reply r[] = {{503, "Retry-After: 0\r\n", 0, 0}, {200, NULL, 3, 0}};
	struct server *s = server_start(r, 2);
	struct sts_plugin_host *host = NULL;
	assert_int_equal(sts_plugin_host_new(&host), STS_OK);
	const char *dirs[] = {STS_TEST_PLUGIN_DIR};
	assert_int_equal(sts_plugin_host_set_path(host, dirs, 1), STS_OK);
	struct sts_http_opts o = {.backoff_base_ms = 10};
	assert_int_equal(sts_plugin_host_set_http(host, &o), STS_OK);
	char *u = url_of(s, "/zone");
	json_t *set =
	    json_pack("{s:s, s:s, s:s}", "plugin", "fakedns", "zone", "example.com", "url", u);
	struct sts_diags d;
	sts_diags_init(&d);
	struct sts_plugin *p = NULL;
	assert_int_equal(sts_plugin_open(host, "fd", set, &p, &d), STS_OK);
	struct sts_rrsets l;
	sts_rrsets_init(&l);
	const char *names[] = {"x.example.com."};
	assert_int_equal(sts_plugin_dns_read(p, "example.com", names, 1, &l, NULL), STS_OK);
	const struct sts_rrset *rr = sts_rrsets_find(&l, "http.example.com.", "TXT");
	assert_non_null(rr);
	assert_string_equal(rr->values[0], "xxx");
	assert_int_equal(s->n_requests, 2);
	sts_rrsets_release(&l);
	sts_plugin_close(p);
	json_decref(set);
	sts_diags_release(&d);
	free(u);
	sts_plugin_host_free(host);
	server_stop(s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the test server writes to clients that gave up */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ok),
	    cmocka_unit_test(test_retry_after_429),
	    cmocka_unit_test(test_503_bounded),
	    cmocka_unit_test(test_size_cap_and_redirect),
	    cmocka_unit_test(test_timeout_and_errors),
	    cmocka_unit_test(test_tls_always_verified),
	    cmocka_unit_test(test_retry_after_parse),
	    cmocka_unit_test(test_retry_on),
	    cmocka_unit_test(test_plugin_http_service),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
