/* SPDX-License-Identifier: MIT */
/*
 * Test driver of the ACME client (core/acme) against a real ACME server:
 * one account (key file created 0600 when missing, reused when there) and
 * one issuance, with a minimal challenge responder of its own on loopback:
 * a TLS listener selecting ALPN "acme-tls/1" with the challenge
 * certificate (tls-alpn-01) and a plain HTTP listener answering
 * /.well-known/acme-challenge/<token> (http-01). The real responder is
 * `stsctl serve`.
 *
 *   acme_driver --dir URL --ca FILE --account KEYFILE --ident NAME
 *               --challenge tls-alpn-01|http-01 --tls-port N --http-port N
 *               [--wrong] [--bad-nonce N] [--out DIR] [--resume] [--serve DB]
 *               [--policy-only] [--at-next] [--at T]
 *
 * Prints "kid <url>", then "issued <challenge> <not_before> <not_after>"
 * (and DIR/chain.pem, DIR/key.pem) or "error <message>" with exit 1, and
 * "badnonce N", the badNonce answers retried.
 * --wrong answers with a wrong key authorization. A failure prints
 * "retry_at T" and "order_url U|-"; with --resume a kept order is then
 * picked up again by a second call ("resumed" when that issued).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "sts_acme.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_hosted_store.h"
#include "sts_serve_acme.h"

static struct {
	pthread_mutex_t mu;
	char *token, *keyauth;
	SSL_CTX *tls; /* with the challenge certificate, NULL before */
	bool wrong;
	atomic_bool stop;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
		fprintf(stderr, "error cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
		exit(2);
	}
	return fd;
}

static int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char acme[] = "\x0a"
					    "acme-tls/1";
	if (SSL_select_next_proto((unsigned char **)out, outlen, acme, sizeof acme - 1, in,
				  inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void serve_tls(int c)
{
	pthread_mutex_lock(&R.mu);
	SSL_CTX *ctx = R.tls;
	if (ctx)
		SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&R.mu);
	if (!ctx)
		return;
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, c);
	if (SSL_accept(s) == 1)
		SSL_shutdown(s); /* tls-alpn-01 is the handshake alone */
	SSL_free(s);
	SSL_CTX_free(ctx);
}

static void serve_http(int c)
{
	char req[2048];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof req - 1 && (k = read(c, req + n, sizeof req - 1 - n)) > 0) {
		n += (size_t)k;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[n] = '\0';
	char path[512] = "";
	sscanf(req, "GET %511s", path);
	const char *pre = "/.well-known/acme-challenge/";
	char resp[1024];
	pthread_mutex_lock(&R.mu);
	if (R.token && strncmp(path, pre, strlen(pre)) == 0 &&
	    strcmp(path + strlen(pre), R.token) == 0) {
		const char *ka = R.wrong ? "wrong" : R.keyauth;
		snprintf(resp, sizeof resp,
			 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
			 "%zu\r\nConnection: close\r\n\r\n%s",
			 strlen(ka), ka);
	} else {
		snprintf(
		    resp, sizeof resp,
		    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	}
	pthread_mutex_unlock(&R.mu);
	if (write(c, resp, strlen(resp)) < 0)
		return;
}

struct lfds {
	int tls, http;
};

static void *responder(void *arg)
{
	struct lfds *l = arg;
	while (!R.stop) {
		struct pollfd p[2] = {{.fd = l->tls, .events = POLLIN},
				      {.fd = l->http, .events = POLLIN}};
		if (poll(p, 2, 200) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			int c = accept(p[i].fd, NULL, NULL);
			if (c < 0)
				continue;
			struct timeval tv = {.tv_sec = 5};
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
			setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
			if (i == 0)
				serve_tls(c);
			else
				serve_http(c);
			close(c);
		}
	}
	return NULL;
}

static SSL_CTX *tls_ctx(const char *cert_pem, const char *key_pem)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	if (!ctx || !x || !k || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, k) != 1) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	} else {
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	}
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return ctx;
}

static int present(void *ud, const char *type, const char *ident, const char *token,
		   const char *keyauth, const char *cert_pem, const char *key_pem)
{
	SSL_CTX *ctx = NULL;
	char *wc = NULL, *wk = NULL;
	if (strcmp(type, "tls-alpn-01") == 0) {
		if (R.wrong) { /* a certificate for another key authorization */
			if (sts_acme_alpn_cert(ident, "wrong", &wc, &wk) < 0)
				return -1;
			cert_pem = wc;
			key_pem = wk;
		}
		ctx = tls_ctx(cert_pem, key_pem);
		free(wc);
		free(wk);
		if (!ctx)
			return -1;
	}
	pthread_mutex_lock(&R.mu);
	free(R.token);
	free(R.keyauth);
	R.token = strdup(token);
	R.keyauth = strdup(keyauth);
	SSL_CTX_free(R.tls);
	R.tls = ctx;
	pthread_mutex_unlock(&R.mu);
	return 0;
}

static void cleanup(void *ud, const char *type, const char *ident, const char *token)
{
	pthread_mutex_lock(&R.mu);
	free(R.token);
	free(R.keyauth);
	R.token = R.keyauth = NULL;
	SSL_CTX_free(R.tls);
	R.tls = NULL;
	pthread_mutex_unlock(&R.mu);
}

static int save(const char *dir, const char *name, const char *data, mode_t mode)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return sts_write_atomic(path, data, strlen(data), mode, false);
}

static void print_pass(const char *what, int r, const struct sts_serve_acme_report *p)
{
	printf("%s %s hosts=%u due=%u issued=%u failed=%u\n", what, sts_strerror(r), p->hosts,
	       p->due, p->issued, p->failed);
}

/*
 * --serve DB: `stsctl serve`'s own responder (sts_serve_start on the
 * challenge ports) and two renewal passes (sts_serve_acme_pass) over a
 * hosted store holding one policy for ident: the first issues, the second
 * finds nothing due. The stored chain goes to DIR/chain.pem. With
 * --policy-only, only the policy is stored ("policy stored"), for
 * `stsctl serve --acme-directory` to issue. After the first pass, "order
 * URL|-": the interrupted order the store keeps for the next pass. With
 * --at-next, the first pass runs 5 s after the stored next attempt of a
 * failed one (as serve's next pass would, without waiting for it). With
 * --at T, the first pass runs at Unix time T (renewal, expiry: the pass
 * takes its clock as an argument, no waiting); the second one at the real
 * time as always.
 */
static bool policy_only, at_next;
static long long at_time;
static int serve_mode(const char *path, const char *dir, const char *ca, const char *ident,
		      const char *chal, int tls_port, int http_port, const char *out)
{
	struct sts_db *db = NULL, *db2 = NULL;
	struct sts_serve *srv = NULL;
	char *err = NULL, listen[64], http[64];
	int rc = 1;
	static const char body[] = "version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\n"
				   "max_age: 86400\r\n";
	const char *domain = strncmp(ident, "mta-sts.", 8) == 0 ? ident + 8 : ident;
	if (sts_db_open(path, 0, NULL, &db, &err) < 0 || sts_hosted_schema(db) < 0 ||
	    sts_db_open(path, 0, NULL, &db2, &err) < 0 ||
	    sts_hosted_policy_put(db, ident, domain, body, sizeof body - 1, "1", 86400) < 0) {
		printf("error the store: %s\n", err ? err : "?");
		goto out;
	}
	if (policy_only) {
		printf("policy stored\n");
		rc = 0;
		goto out;
	}
	snprintf(listen, sizeof listen, "127.0.0.1:%d", tls_port);
	snprintf(http, sizeof http, "127.0.0.1:%d", http_port);
	struct sts_serve_opts so = {.db = db2, .listen = listen, .http_listen = http};
	if (sts_serve_start(&so, &srv, &err) < 0) {
		printf("error serve: %s\n", err ? err : "?");
		goto out;
	}
	const char *prefs[] = {chal, NULL};
	struct sts_acme_opts ao = {
	    .ca_file = ca, .timeout_ms = 10000, .poll_interval_ms = 200, .poll_max_ms = 2000};
	struct sts_serve_acme_opts po = {.db = db,
					 .srv = srv,
					 .directory_url = dir,
					 .contact = "mailto:hostmaster@example.com",
					 .prefs = prefs,
					 .acme = &ao};
	struct sts_serve_acme_report rep;
	struct sts_hosted_cert c = {0};
	bool found = false;
	long long now = time(NULL);
	/* --at-next: the first pass as serve's next one, just after the stored
	 * next attempt (the backoff counts from the failure's write, up to a
	 * second after the pass's start) */
	if (at_next && sts_hosted_cert_get(db, ident, &c, &found) == STS_OK && found &&
	    c.next_attempt > now)
		now = c.next_attempt + 5;
	sts_hosted_cert_release(&c);
	if (at_time)
		now = at_time;
	int r = sts_serve_acme_pass(&po, now, &rep);
	print_pass("pass1", r, &rep);
	struct sts_hosted_order ord = {0};
	found = false;
	if (sts_hosted_order_get(db, ident, &ord, &found) == STS_OK)
		printf("order %s\n", found && ord.url ? ord.url : "-");
	sts_hosted_order_release(&ord);
	found = false;
	if (sts_hosted_cert_get(db, ident, &c, &found) == STS_OK && found && c.chain_pem) {
		printf("stored %lld %lld next %lld\n", (long long)c.not_before,
		       (long long)c.not_after, (long long)c.next_attempt);
		if (out && save(out, "chain.pem", c.chain_pem, 0644) < 0)
			printf("error cannot write to %s\n", out);
	} else if (found) {
		printf("failure next %lld failures %lld: %s\n", (long long)c.next_attempt,
		       c.failures, c.last_error ? c.last_error : "?");
	}
	sts_hosted_cert_release(&c);
	r = sts_serve_acme_pass(&po, time(NULL), &rep);
	print_pass("pass2", r, &rep);
	rc = 0;
out:
	fflush(stdout);
	sts_serve_stop(srv);
	sts_db_close(db2);
	sts_db_close(db);
	free(err);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *ca = NULL, *acct = NULL, *ident = NULL, *chal = "tls-alpn-01",
		   *out = NULL;
	int tls_port = 0, http_port = 0, bad_nonce = 0;
	bool resume = false;
	const char *serve_db = NULL;
	static const struct option opts[] = {{"dir", 1, 0, 'd'},	 {"ca", 1, 0, 'c'},
					     {"account", 1, 0, 'a'},	 {"ident", 1, 0, 'i'},
					     {"challenge", 1, 0, 'C'},	 {"tls-port", 1, 0, 't'},
					     {"http-port", 1, 0, 'h'},	 {"wrong", 0, 0, 'w'},
					     {"bad-nonce", 1, 0, 'n'},	 {"out", 1, 0, 'o'},
					     {"resume", 0, 0, 'r'},	 {"serve", 1, 0, 's'},
					     {"policy-only", 0, 0, 'P'}, {"at-next", 0, 0, 'N'},
					     {"at", 1, 0, 'T'},		 {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'a':
			acct = optarg;
			break;
		case 'i':
			ident = optarg;
			break;
		case 'C':
			chal = optarg;
			break;
		case 't':
			tls_port = atoi(optarg);
			break;
		case 'h':
			http_port = atoi(optarg);
			break;
		case 'w':
			R.wrong = true;
			break;
		case 'n':
			bad_nonce = atoi(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			resume = true;
			break;
		case 's':
			serve_db = optarg;
			break;
		case 'P':
			policy_only = true;
			break;
		case 'N':
			at_next = true;
			break;
		case 'T':
			at_time = strtoll(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (!dir || (!acct && !serve_db) || !ident || !tls_port || !http_port) {
		fprintf(stderr, "usage: see the comment at the top of acme_driver.c\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a validator hanging up mid-answer */
	if (serve_db)
		return serve_mode(serve_db, dir, ca, ident, chal, tls_port, http_port, out);
	struct lfds l = {listen_on(tls_port), listen_on(http_port)};
	pthread_t th;
	pthread_create(&th, NULL, responder, &l);

	struct sts_buf kb;
	sts_buf_init(&kb, 64 * 1024);
	int r = sts_buf_read_file(&kb, acct);
	bool have_key = r == STS_OK;
	struct sts_acme_opts o = {.directory_url = dir,
				  .ca_file = ca,
				  .timeout_ms = 10000,
				  .max_bad_nonce = (unsigned)bad_nonce,
				  .poll_interval_ms = 200,
				  .poll_max_ms = 2000,
				  .max_polls = 50};
	struct sts_acme *a = NULL;
	struct sts_acme_result res = {0};
	int rc = 1;
	r = sts_acme_new(&o, have_key ? sts_buf_str(&kb) : NULL, &a);
	if (r < 0) {
		printf("error sts_acme_new: %s\n", sts_strerror(r));
		goto out;
	}
	if (!have_key) {
		char *pem = NULL;
		if (sts_acme_account_key_pem(a, &pem) < 0 ||
		    sts_write_atomic(acct, pem, strlen(pem), 0600, true) < 0) {
			printf("error cannot store the account key\n");
			free(pem);
			goto out;
		}
		free(pem);
	}
	static const char *const contact[] = {"mailto:hostmaster@example.com", NULL};
	r = sts_acme_account(a, contact, true, &res);
	if (r < 0) {
		printf("error %s\n", res.error ? res.error : sts_strerror(r));
		goto out;
	}
	printf("kid %s\n", sts_acme_kid(a));
	sts_acme_result_release(&res);
	const char *prefs[] = {chal, NULL};
	struct sts_acme_challenge_ops ops = {.present = present, .cleanup = cleanup};
	r = sts_acme_issue(a, ident, prefs, &ops, NULL, NULL, &res);
	if (r < 0) {
		printf("error %s [%s] problem=%s\n", res.error ? res.error : "?", sts_strerror(r),
		       res.problem.type ? res.problem.type : "-");
		printf("retry_at %lld\norder_url %s\n", res.retry_at,
		       res.order_url ? res.order_url : "-");
		if (!resume || !res.order_url)
			goto out;
		/* pick the same order up again */
		char *url = res.order_url, *key = res.key_pem;
		res.order_url = res.key_pem = NULL;
		sts_acme_result_release(&res);
		r = sts_acme_issue(a, ident, prefs, &ops, url, key, &res);
		free(url);
		free(key);
		if (r < 0) {
			printf("error %s [%s]\n", res.error ? res.error : "?", sts_strerror(r));
			goto out;
		}
		printf("resumed\n");
	}
	printf("issued %s %lld %lld\n", res.challenge ? res.challenge : "reused", res.not_before,
	       res.not_after);
	if (out && (save(out, "chain.pem", res.chain_pem, 0644) < 0 ||
		    save(out, "key.pem", res.key_pem, 0600) < 0)) {
		printf("error cannot write to %s\n", out);
		goto out;
	}
	rc = 0;
out:
	if (a)
		printf("badnonce %u\n", sts_acme_bad_nonces(a));
	fflush(stdout);
	R.stop = true;
	pthread_join(th, NULL);
	close(l.tls);
	close(l.http);
	sts_acme_result_release(&res);
	sts_acme_free(a);
	sts_buf_release(&kb);
	cleanup(NULL, NULL, NULL, NULL);
	return rc;
}
