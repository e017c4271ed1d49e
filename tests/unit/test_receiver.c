/* SPDX-License-Identifier: MIT */
/*
 * HTTPS receiver (core/reports/sts_receiver.c) on 127.0.0.1 with a throwaway CA:
 * every sample POSTed (gzip and JSON) with the aggregates asserted, the
 * status codes (201, 200, 400, 404, 405, 413 by Content-Length and
 * chunked, 415, 503 while the state is locked), trusted receivers, start
 * errors and stopping; and the receiver under abuse: the absolute deadline
 * per request (slow handshake, slow headers, slow body), per-client
 * connection and request limits (429), the body memory budget and the
 * storage quota for unauthenticated input (503), all with Retry-After, and
 * one access-log call at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <sqlite3.h>
#include <zlib.h>

#include "fake_net.h"
#include "sts_buf.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_receiver.h"
#include "tlsrpt_fixtures.h"

struct fx {
	struct tdb t;
	struct fake_ca ca;
	char *cert_pem, *key_pem;
	struct sts_ingest_conf *conf;
	struct sts_ingest *ing;
	struct sts_receiver_store store;
	struct sts_receiver *rv;
	char url[128];
	unsigned accesses;
	unsigned timeouts;	 /* 408: cut at the deadline */
	int in_access, overlaps; /* on_access calls running at once */
};

static char *pem_of(X509 *x, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (x)
		PEM_write_bio_X509(b, x);
	else
		PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *s = strndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

static void on_access(void *ud, const char *peer, const char *method, const char *path,
		      unsigned status, const char *message)
{
	struct fx *f = ud;
	(void)peer, (void)method, (void)path, (void)message;
	/* the receiver promises one call at a time: notice two running together */
	if (__atomic_add_fetch(&f->in_access, 1, __ATOMIC_SEQ_CST) > 1)
		__atomic_add_fetch(&f->overlaps, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&f->accesses, 1, __ATOMIC_SEQ_CST);
	if (status == 408)
		__atomic_add_fetch(&f->timeouts, 1, __ATOMIC_SEQ_CST);
	struct timespec ts = {0, 2 * 1000000L};
	nanosleep(&ts, NULL);
	__atomic_sub_fetch(&f->in_access, 1, __ATOMIC_SEQ_CST);
}

/* start with ro's limits (listen, PEMs, handler and access log filled in) */
static void start_with(struct fx *f, bool trusted, struct sts_receiver_opts ro)
{
	struct sts_ingest_opts o = {.conf = f->conf};
	assert_int_equal(sts_ingest_new(f->t.db, &o, &f->ing), STS_OK);
	sts_receiver_store_init(&f->store, f->ing, trusted, f->t.db_path);
	f->store.lock_wait_ms = 200;
	ro.listen = "127.0.0.1:0";
	ro.cert_pem = f->cert_pem;
	ro.key_pem = f->key_pem;
	ro.handler = sts_receiver_store_handler;
	ro.ud = &f->store;
	ro.on_access = on_access;
	ro.access_ud = f;
	char *err = NULL;
	int r = sts_receiver_start(&ro, &f->rv, &err);
	if (r != STS_OK)
		fail_msg("receiver: %s", err ? err : "?");
	assert_true(sts_receiver_port(f->rv) > 0);
	snprintf(f->url, sizeof(f->url), "https://127.0.0.1:%u", sts_receiver_port(f->rv));
}

static void start(struct fx *f, bool trusted, size_t max_body)
{
	start_with(f, trusted, (struct sts_receiver_opts){.max_body = max_body});
}

static void stop(struct fx *f)
{
	sts_receiver_stop(f->rv);
	f->rv = NULL;
	sts_receiver_store_release(&f->store);
	sts_ingest_free(f->ing);
	f->ing = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || tdb_open(&f->t, "test_receiver") < 0)
		return -1;
	fake_ca_init(&f->ca);
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = fake_cert(k, "127.0.0.1", "IP:127.0.0.1,DNS:localhost", -60, 86400, &f->ca);
	f->cert_pem = pem_of(x, NULL);
	f->key_pem = pem_of(NULL, k);
	X509_free(x);
	EVP_PKEY_free(k);
	f->conf = offline_conf(f->t.dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->rv)
		stop(f);
	sts_ingest_conf_free(f->conf);
	fake_ca_release(&f->ca);
	free(f->cert_pem);
	free(f->key_pem);
	int rc = tdb_close(&f->t);
	free(f);
	return rc;
}

struct resp {
	long status;
	struct sts_buf body;
	char retry_after[16];
	char allow[16];
};

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
	struct resp *r = ud;
	sts_buf_append(&r->body, p, s * n);
	return s * n;
}

static size_t on_header(char *p, size_t s, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = s * n;
	if (len > 13 && strncasecmp(p, "Retry-After: ", 13) == 0)
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s",
			 (int)strcspn(p + 13, "\r\n"), p + 13);
	if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0)
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)strcspn(p + 7, "\r\n"), p + 7);
	return len;
}

struct chunked {
	size_t left;
};

static size_t on_read(char *p, size_t s, size_t n, void *ud)
{
	struct chunked *c = ud;
	size_t k = s * n < c->left ? s * n : c->left;
	memset(p, '{', k);
	c->left -= k;
	return k;
}

/* method NULL = POST; ctype NULL = none; chunked_len > 0: a chunked body of that size */
static struct resp http(struct fx *f, const char *method, const char *path, const char *ctype,
			const void *body, size_t len, size_t chunked_len)
{
	struct resp r = {0};
	sts_buf_init(&r.body, 1 << 20);
	CURL *c = curl_easy_init();
	char url[256], ct[128];
	snprintf(url, sizeof(url), "%s%s", f->url, path);
	struct curl_slist *h = NULL;
	if (ctype) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		h = curl_slist_append(h, ct);
	}
	struct chunked ch = {chunked_len};
	if (chunked_len) {
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &ch);
	} else if (!method) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CAINFO, f->ca.pem);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK && rc != CURLE_SEND_ERROR)
		fail_msg("%s %s: %s", method ? method : "POST", path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r;
}

static void expect_status(struct fx *f, struct resp r, long status, const char *body)
{
	(void)f;
	if (r.status != status || (body && !strstr(sts_buf_str(&r.body), body)))
		fail_msg("want %ld '%s', got %ld '%s'", status, body ? body : "", r.status,
			 sts_buf_str(&r.body));
	sts_buf_release(&r.body);
}

static void test_every_sample_posted(void **state)
{
	struct fx *f = *state;
	start(f, false, 0);
	size_t len;
	unsigned char *b;
	for (size_t i = 0; (b = sample(i, &len, i % 2 == 0)); i++) {
		const char *ct = i % 2 == 0 ? "application/tlsrpt+gzip" : "application/tlsrpt+json";
		expect_status(f, http(f, NULL, "/tlsrpt", ct, b, len, 0), 201, "stored");
		expect_status(f, http(f, NULL, "/tlsrpt", ct, b, len, 0), 200, "already stored");
		free(b);
	}
	assert_int_equal(q_int(f->t.db,
			       "SELECT count(*) FROM tlsrpt_reports WHERE channel = 'https'", NULL,
			       NULL),
			 14);
	assert_int_equal(q_int(f->t.db, "SELECT sum(successful) FROM tlsrpt_daily", NULL, NULL),
			 SAMPLES_SUCCESSFUL);
	assert_int_equal(q_int(f->t.db, "SELECT sum(failed) FROM tlsrpt_daily", NULL, NULL),
			 SAMPLES_FAILED);
	assert_int_equal(q_int(f->t.db,
			       "SELECT sum(failed) FROM tlsrpt_daily"
			       " WHERE domain = 'test.mailflow.ovh'",
			       NULL, NULL),
			 15);
	assert_int_equal(q_int(f->t.db,
			       "SELECT sum(sessions) FROM tlsrpt_failures WHERE domain ="
			       " 'company-y.example' AND result_type = 'starttls-not-supported'",
			       NULL, NULL),
			 200);
	/* not a trusted receiver: nothing is evidence */
	assert_int_equal(q_int(f->t.db,
			       "SELECT count(*) FROM tlsrpt_reports WHERE authenticated = 1", NULL,
			       NULL),
			 0);
	assert_true(f->accesses >= 28);
	stop(f);
}

static void test_status_codes(void **state)
{
	struct fx *f = *state;
	start(f, true, 4000);
	size_t len;
	unsigned char *b = sample(7, &len, true);
	/* the gzip magic decides, whichever media type was sent */
	expect_status(f,
		      http(f, NULL, "/tlsrpt", "application/tlsrpt+json; charset=utf-8", b, len, 0),
		      201, "stored");
	free(b);
	assert_int_equal(q_int(f->t.db, "SELECT authenticated FROM tlsrpt_reports", NULL, NULL), 1);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+json", "{\"x\":", 5, 0), 400,
		      "report rejected");
	expect_status(f,
		      http(f, NULL, "/tlsrpt", "application/tlsrpt+gzip", "\x1f\x8b\x08\x00", 4, 0),
		      400, "gzip");
	assert_int_equal(q_int(f->t.db,
			       "SELECT count(*) FROM tlsrpt_quarantine WHERE channel = 'https'",
			       NULL, NULL),
			 2);
	expect_status(f, http(f, NULL, "/tlsrpt", "text/plain", "{}", 2, 0), 415, "tlsrpt+json");
	expect_status(f, http(f, NULL, "/tlsrpt", NULL, "{}", 2, 0), 415, NULL);
	struct resp r = http(f, "GET", "/tlsrpt", NULL, NULL, 0, 0);
	assert_string_equal(r.allow, "POST");
	expect_status(f, r, 405, "POST");
	expect_status(f, http(f, "PUT", "/tlsrpt", NULL, NULL, 0, 0), 405, NULL);
	expect_status(f, http(f, NULL, "/other", "application/tlsrpt+json", "{}", 2, 0), 404, NULL);
	expect_status(f, http(f, NULL, "/tlsrpt/", "application/tlsrpt+json", "{}", 2, 0), 404,
		      NULL);
	/* over max_body: by Content-Length, and a chunked body growing past it */
	char *big = calloc(1, 5000);
	memset(big, ' ', 5000);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+json", big, 5000, 0), 413,
		      NULL);
	free(big);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+json", NULL, 0, 100000), 413,
		      NULL);
	/* still serving */
	b = sample(0, &len, true);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+gzip", b, len, 0), 201, NULL);
	/* the state locked by another stsctl: 503, try later */
	struct sts_lock *lk = NULL;
	assert_int_equal(sts_lock_acquire(f->t.db_path, &lk), STS_OK);
	r = http(f, NULL, "/tlsrpt", "application/tlsrpt+gzip", b, len, 0);
	assert_string_equal(r.retry_after, "60");
	expect_status(f, r, 503, "busy");
	sts_lock_release(lk);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+gzip", b, len, 0), 200, NULL);
	free(b);
	stop(f);
}

/* ---- the receiver under abuse ---- */

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a raw client on 127.0.0.1, TCP only or TLS (no verification: it only talks) */
struct raw {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

static void raw_open(struct fx *f, struct raw *c, bool tls)
{
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(sts_receiver_port(f->rv))};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	struct timeval tv = {5, 0}; /* every read and write is bounded */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (!tls)
		return;
	c->ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	assert_int_equal(SSL_connect(c->ssl), 1);
}

static void raw_close(struct raw *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	close(c->fd);
}

/* has the server closed c? (readable: EOF, a reset or a close_notify) */
static bool raw_closed(struct raw *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	if (poll(&p, 1, 0) != 1)
		return false;
	char b[256];
	if (c->ssl) {
		int n = SSL_read(c->ssl, b, sizeof(b));
		return n <= 0;
	}
	return recv(c->fd, b, sizeof(b), MSG_DONTWAIT) <= 0;
}

/*
 * Send head, then one byte every 250 ms (none when drip is NULL) until the
 * server closes the connection or max_ms pass; the milliseconds it took.
 */
static long long slow_client(struct fx *f, bool tls, const char *head, const char *drip,
			     long long max_ms)
{
	struct raw c;
	long long t0 = mono_ms(); /* the deadline counts from the connection's start */
	raw_open(f, &c, tls);
	if (head)
		assert_int_equal(SSL_write(c.ssl, head, (int)strlen(head)), (int)strlen(head));
	while (mono_ms() - t0 < max_ms) {
		struct timespec ts = {0, 250 * 1000000L};
		nanosleep(&ts, NULL);
		if (raw_closed(&c))
			break;
		if (drip && SSL_write(c.ssl, drip, 1) <= 0)
			break;
	}
	long long took = mono_ms() - t0;
	raw_close(&c);
	return took;
}

/* POST body as JSON up to 20 times, 100 ms apart, until the status is want; the last status */
static long post_until(struct fx *f, const void *body, size_t len, long want)
{
	long status = 0;
	for (int i = 0; i < 20 && status != want; i++) {
		if (i) {
			struct timespec ts = {0, 100 * 1000000L};
			nanosleep(&ts, NULL);
		}
		struct resp r = http(f, NULL, "/tlsrpt", "application/tlsrpt+json", body, len, 0);
		status = r.status;
		sts_buf_release(&r.body);
	}
	return status;
}

static void test_request_deadline(void **state)
{
	struct fx *f = *state;
	/* a 30 s idle timeout never fires: only the 2 s deadline can stop them */
	start_with(f, false, (struct sts_receiver_opts){.timeout_s = 30, .request_timeout_s = 2});
	/* no TLS handshake at all */
	long long took = slow_client(f, false, NULL, NULL, 8000);
	if (took < 1500 || took > 4500)
		fail_msg("a silent connection was closed after %lld ms, want about 2000", took);
	/* headers, one byte every 250 ms */
	took = slow_client(f, true, "POST /tlsrpt HTTP/1.1\r\nHost: x\r\nX-Slow: ", "a", 8000);
	if (took < 1500 || took > 4500)
		fail_msg("slow headers were cut after %lld ms, want about 2000", took);
	/* a body, one byte every 250 ms */
	took = slow_client(f, true,
			   "POST /tlsrpt HTTP/1.1\r\nHost: x\r\n"
			   "Content-Type: application/tlsrpt+json\r\nContent-Length: 1000\r\n\r\n",
			   "{", 8000);
	if (took < 1500 || took > 4500)
		fail_msg("a slow body was cut after %lld ms, want about 2000", took);
	assert_true(__atomic_load_n(&f->timeouts, __ATOMIC_SEQ_CST) >= 3);
	/* a normal request still goes through */
	size_t len;
	unsigned char *b = sample(0, &len, true);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+gzip", b, len, 0), 201, NULL);
	free(b);
	stop(f);
}

static void test_per_client_limits(void **state)
{
	struct fx *f = *state;
	start_with(f, false,
		   (struct sts_receiver_opts){.per_ip_requests = 5, .per_ip_connections = 2});
	/* requests per minute: the 6th gets 429 with the rest of the minute */
	for (int i = 0; i < 5; i++)
		expect_status(f, http(f, NULL, "/other", "application/tlsrpt+json", "{}", 2, 0),
			      404, NULL);
	struct resp r = http(f, NULL, "/tlsrpt", "application/tlsrpt+json", "{}", 2, 0);
	long ra = atol(r.retry_after);
	if (ra < 1 || ra > 60)
		fail_msg("Retry-After '%s'", r.retry_after);
	expect_status(f, r, 429, "too many requests");
	stop(f);

	start_with(f, false, (struct sts_receiver_opts){.per_ip_connections = 2});
	/* two connections open and idle: a third from the same address gets 429 */
	struct raw c1, c2;
	raw_open(f, &c1, true);
	raw_open(f, &c2, true);
	r = http(f, NULL, "/tlsrpt", "application/tlsrpt+json", "{}", 2, 0);
	assert_string_equal(r.retry_after, "10");
	expect_status(f, r, 429, "too many connections");
	/* and the refused connection is closed after the answer, not kept alive */
	struct raw c3;
	raw_open(f, &c3, true);
	const char *get = "GET /tlsrpt HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(SSL_write(c3.ssl, get, (int)strlen(get)), (int)strlen(get));
	char buf[2048];
	size_t got = 0;
	int n;
	while (got < sizeof(buf) - 1 &&
	       (n = SSL_read(c3.ssl, buf + got, (int)(sizeof(buf) - 1 - got))) > 0)
		got +=
		    (size_t)n; /* ends when the server closes (or after the 5 s socket timeout) */
	buf[got] = '\0';
	assert_non_null(strstr(buf, "HTTP/1.1 429"));
	assert_non_null(strstr(buf, "Connection: close"));
	raw_close(&c3);
	raw_close(&c1);
	raw_close(&c2);
	/* closed: served again (the close is seen within a moment) */
	assert_int_equal(post_until(f, "{}", 2, 400), 400);
	stop(f);
}

static void test_body_memory(void **state)
{
	struct fx *f = *state;
	start_with(f, false, (struct sts_receiver_opts){.max_body = 4000, .body_memory = 1000});
	char *big = calloc(1, 2000);
	memset(big, ' ', 2000);
	/* one body larger than the whole budget, by Content-Length and chunked */
	struct resp r = http(f, NULL, "/tlsrpt", "application/tlsrpt+json", big, 2000, 0);
	assert_string_equal(r.retry_after, "30");
	expect_status(f, r, 503, "in transit");
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+json", NULL, 0, 1500), 503,
		      "in transit");
	/* a request holding 800 bytes of the budget: a 300-byte body waits */
	struct raw c;
	raw_open(f, &c, true);
	const char *head = "POST /tlsrpt HTTP/1.1\r\nHost: x\r\n"
			   "Content-Type: application/tlsrpt+json\r\nContent-Length: 800\r\n\r\n{";
	assert_int_equal(SSL_write(c.ssl, head, (int)strlen(head)), (int)strlen(head));
	struct timespec settle = {0, 300 * 1000000L}; /* the server reads head first */
	nanosleep(&settle, NULL);
	assert_int_equal(post_until(f, big, 300, 503), 503);
	raw_close(&c);
	/* released: the same body is read (and rejected, it is no report) */
	assert_int_equal(post_until(f, big, 300, 400), 400);
	free(big);
	stop(f);
}

static void test_storage_quota(void **state)
{
	struct fx *f = *state;
	size_t len;
	unsigned char *b = sample(0, &len, true);
	start(f, false, 0);
	sts_receiver_store_quota(&f->store, f->t.db, 2, 0);
	/* two quarantined inputs fill a quota of 2 */
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+json", "{\"x\":", 5, 0), 400,
		      NULL);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+json", "[1]", 3, 0), 400,
		      NULL);
	/* refused before anything is stored, with a time to come back */
	struct resp r = http(f, NULL, "/tlsrpt", "application/tlsrpt+gzip", b, len, 0);
	assert_string_equal(r.retry_after, "3600");
	expect_status(f, r, 503, "quota");
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_reports", NULL, NULL), 0);
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_quarantine", NULL, NULL), 2);
	stop(f);
	/* the count survives a restart (it is counted in the database) */
	start(f, false, 0);
	sts_receiver_store_quota(&f->store, f->t.db, 2, 0);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+gzip", b, len, 0), 503,
		      "quota");
	stop(f);
	/* authenticated (a trusted receiver) is never refused for it */
	start(f, true, 0);
	sts_receiver_store_quota(&f->store, f->t.db, 2, 0);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+gzip", b, len, 0), 201,
		      "stored");
	stop(f);
	/* bytes: a quota smaller than the next body */
	start(f, false, 0);
	sts_receiver_store_quota(&f->store, f->t.db, 1000, 10);
	unsigned char *b2 = sample(1, &len, true);
	expect_status(f, http(f, NULL, "/tlsrpt", "application/tlsrpt+gzip", b2, len, 0), 503,
		      "quota");
	assert_int_equal(q_int(f->t.db, "SELECT count(*) FROM tlsrpt_reports", NULL, NULL), 1);
	free(b2);
	free(b);
	stop(f);
}

struct flood {
	struct fx *f;
	int n;
};

static void *flood_thread(void *ud)
{
	struct flood *fl = ud;
	for (int i = 0; i < fl->n; i++) {
		struct resp r = http(fl->f, NULL, "/nowhere", NULL, "{}", 2, 0);
		sts_buf_release(&r.body);
	}
	return NULL;
}

static void test_access_log_one_at_a_time(void **state)
{
	struct fx *f = *state;
	start_with(f, false, (struct sts_receiver_opts){.threads = 4});
	pthread_t t[4];
	struct flood fl = {f, 8};
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, flood_thread, &fl), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(f->accesses, 32);
	assert_int_equal(f->overlaps, 0);
	stop(f);
}

static void test_start_errors(void **state)
{
	struct fx *f = *state;
	struct sts_receiver *rv = NULL;
	char *err = NULL;
	struct sts_receiver_opts o = {
	    .listen = "127.0.0.1", .cert_pem = f->cert_pem, .key_pem = f->key_pem};
	assert_int_equal(sts_receiver_start(&o, &rv, &err), STS_EINVAL);
	assert_non_null(strstr(err, "invalid listen address '127.0.0.1'"));
	free(err);
	o.listen = "[::1]:x";
	assert_int_equal(sts_receiver_start(&o, &rv, NULL), STS_EINVAL);
	o.listen = "127.0.0.1:0";
	o.key_pem = NULL;
	assert_int_equal(sts_receiver_start(&o, &rv, &err), STS_EINVAL);
	free(err);
	o.key_pem = "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n";
	assert_int_equal(sts_receiver_start(&o, &rv, &err), STS_EIO);
	assert_non_null(strstr(err, "cannot start the receiver"));
	free(err);
	/* the port in use */
	start(f, false, 0);
	char busy[32];
	snprintf(busy, sizeof(busy), "127.0.0.1:%u", sts_receiver_port(f->rv));
	o.listen = busy;
	o.key_pem = f->key_pem;
	assert_int_equal(sts_receiver_start(&o, &rv, &err), STS_EIO);
	free(err);
	stop(f);
	sts_receiver_stop(NULL);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN); /* a write to a connection the receiver cut */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_every_sample_posted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_per_client_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_storage_quota, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_access_log_one_at_a_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
