/* SPDX-License-Identifier: MIT */
/*
 * SMTP STARTTLS probe (sts_starttls.h): non-blocking sockets, one deadline
 * per connection, OpenSSL for the handshake and the certificate checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sts_err.h"
#include "sts_starttls.h"

#define SMTP_BUF 8192

struct sts_starttls {
	SSL_CTX *ctx;
	unsigned port;
	long timeout_ms;
	char *helo;
};

struct conn {
	int fd;
	long deadline; /* CLOCK_MONOTONIC ms */
	char buf[SMTP_BUF];
	size_t len;
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long deadline)
{
	for (;;) {
		long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int k = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (k > 0)
			return 1;
		if (k < 0 && errno != EINTR)
			return -1;
	}
}

STS_API bool sts_tls_version_ok(const char *v)
{
	if (!v || strncmp(v, "TLSv1.", 6) != 0)
		return false;
	return v[6] >= '2' && v[6] <= '9';
}

STS_API int sts_starttls_new(const struct sts_starttls_opts *o, struct sts_starttls **ret)
{
	struct sts_starttls *s = calloc(1, sizeof(*s));
	if (!s)
		return STS_ENOMEM;
	s->port = o && o->port ? o->port : 25;
	s->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 15000;
	s->helo = strdup(o && o->helo ? o->helo : "localhost");
	s->ctx = SSL_CTX_new(TLS_client_method());
	int r = STS_OK;
	if (!s->helo) {
		r = STS_ENOMEM;
		goto out;
	}
	if (!s->ctx) {
		r = STS_ETLS;
		goto out;
	}
	/* offer everything, so old servers still answer (OpenSSL 3: level 0 for TLS 1.0) */
	SSL_CTX_set_security_level(s->ctx, 0);
	if (SSL_CTX_set_min_proto_version(s->ctx, TLS1_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(s->ctx, "ALL:@SECLEVEL=0") != 1) {
		r = STS_ETLS;
		goto out;
	}
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL); /* checked after the handshake */
	SSL_CTX_set_session_cache_mode(s->ctx, SSL_SESS_CACHE_OFF);
	int ok = 1;
	if (o && o->trust_store)
		SSL_CTX_set1_cert_store(s->ctx, o->trust_store);
	else
		ok = o && o->ca_file ? SSL_CTX_load_verify_locations(s->ctx, o->ca_file, NULL)
				     : SSL_CTX_set_default_verify_paths(s->ctx);
	if (ok != 1)
		r = STS_EIO;
out:
	if (r < 0) {
		sts_starttls_free(s);
		return r;
	}
	*ret = s;
	return STS_OK;
}

STS_API int sts_trust_store_new(const char *ca_file, void **ret)
{
	X509_STORE *st = X509_STORE_new();
	if (!st)
		return STS_ENOMEM;
	int ok = ca_file ? X509_STORE_load_file(st, ca_file) : X509_STORE_set_default_paths(st);
	ERR_clear_error();
	if (!ok) {
		X509_STORE_free(st);
		return STS_EIO;
	}
	*ret = st;
	return STS_OK;
}

STS_API void sts_trust_store_free(void *store)
{
	X509_STORE_free(store);
}

STS_API void sts_starttls_free(struct sts_starttls *s)
{
	if (!s)
		return;
	SSL_CTX_free(s->ctx);
	free(s->helo);
	free(s);
}

/* Is line[0..n) (after "ddd-" / "ddd ") the STARTTLS keyword? */
static bool is_starttls(const char *p, size_t n)
{
	if (n < 8 || strncasecmp(p, "STARTTLS", 8) != 0)
		return false;
	return n == 8 || p[8] == ' ' || p[8] == '\t';
}

STS_TESTABLE long sts_smtp_reply(const char *buf, size_t len, int *ret_code, bool *ret_starttls)
{
	size_t off = 0;
	bool starttls = false;
	int code = 0;
	for (;;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		if (!nl)
			return 0;
		const char *line = buf + off;
		size_t n = (size_t)(nl - line);
		if (n && line[n - 1] == '\r')
			n--;
		if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (n > 3 && line[3] != '-' && line[3] != ' '))
			return -1;
		if (!code)
			code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (n > 4 && is_starttls(line + 4, n - 4))
			starttls = true;
		off = (size_t)(nl - buf) + 1;
		if (n == 3 || line[3] == ' ') {
			*ret_code = code;
			*ret_starttls = starttls;
			return (long)off;
		}
	}
}

/* Read one reply: 0 ok, -1 not SMTP or too long, -2 closed, -3 timed out. */
static int read_reply(struct conn *c, int *code, bool *starttls)
{
	for (;;) {
		long used = sts_smtp_reply(c->buf, c->len, code, starttls);
		if (used < 0)
			return -1;
		if (used > 0) {
			memmove(c->buf, c->buf + used, c->len - (size_t)used);
			c->len -= (size_t)used;
			return 0;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		int w = wait_fd(c->fd, POLLIN, c->deadline);
		if (w <= 0)
			return w == 0 ? -3 : -2;
		ssize_t k = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			return -2;
		if (k > 0)
			c->len += (size_t)k;
	}
}

static int send_line(struct conn *c, const char *s)
{
	size_t n = strlen(s), off = 0;
	while (off < n) {
		ssize_t k = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
		if (k > 0) {
			off += (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(c->fd, POLLOUT, c->deadline) <= 0)
			return -1;
	}
	return 0;
}

static const char *reply_error(int k)
{
	switch (k) {
	case -2:
		return "the server closed the connection";
	case -3:
		return "timed out";
	default:
		return "not an SMTP reply";
	}
}

/* Connect to the first address that answers; the fd or -1 (ret->error set). */
static int connect_any(const struct sts_starttls *s, const char *const *addrs, size_t n,
		       long deadline, struct sts_starttls_result *ret)
{
	char port[8];
	snprintf(port, sizeof(port), "%u", s->port);
	for (size_t i = 0; i < n; i++) {
		struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
					 .ai_socktype = SOCK_STREAM};
		struct addrinfo *ai = NULL;
		if (getaddrinfo(addrs[i], port, &hints, &ai) != 0 || !ai) {
			snprintf(ret->error, sizeof(ret->error), "'%s' is not an IP address",
				 addrs[i]);
			continue;
		}
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int err = 0;
		if (fd < 0) {
			err = errno;
		} else if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			err = errno;
			if (err == EINPROGRESS) {
				int w = wait_fd(fd, POLLOUT, deadline);
				socklen_t sl = sizeof(err);
				if (w == 0)
					err = ETIMEDOUT;
				else if (w < 0 ||
					 getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
					err = errno;
			}
		}
		freeaddrinfo(ai);
		if (fd >= 0 && !err) {
			snprintf(ret->address, sizeof(ret->address), "%s", addrs[i]);
			return fd;
		}
		char ebuf[128];
		snprintf(ret->error, sizeof(ret->error), "cannot connect to '%s' port %u: %s",
			 addrs[i], s->port, strerror_r(err, ebuf, sizeof(ebuf)));
		if (fd >= 0)
			close(fd);
		if (now_ms() >= deadline)
			break;
	}
	return -1;
}

static long long asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (long long)timegm(&tm);
}

/* Chain, name and dates of the peer's certificate. */
static void check_cert(const struct sts_starttls *s, SSL *ssl, const char *host,
		       struct sts_starttls_result *ret)
{
	X509 *leaf = SSL_get1_peer_certificate(ssl);
	if (!leaf)
		return;
	ret->have_cert = true;
	ret->not_before = asn1_unix(X509_get0_notBefore(leaf));
	ret->not_after = asn1_unix(X509_get0_notAfter(leaf));
	ret->name_ok = X509_check_host(leaf, host, strlen(host),
				       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
					   X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
				       NULL) == 1;
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	if (xs && X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(s->ctx), leaf,
				      SSL_get_peer_cert_chain(ssl)) == 1) {
		X509_STORE_CTX_set_default(xs, "ssl_server");
		X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(xs), 1);
		ret->chain_ok = X509_verify_cert(xs) == 1;
		ret->verify_error = ret->chain_ok ? 0 : X509_STORE_CTX_get_error(xs);
	} else {
		ret->verify_error = X509_V_ERR_OUT_OF_MEM;
	}
	if (ret->verify_error)
		snprintf(ret->verify_msg, sizeof(ret->verify_msg), "%s",
			 X509_verify_cert_error_string(ret->verify_error));
	X509_STORE_CTX_free(xs);
	X509_free(leaf);
}

static void tls_error(struct sts_starttls_result *ret, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;
	snprintf(ret->error, sizeof(ret->error), "%s%s%s", what, why ? ": " : "", why ? why : "");
	ERR_clear_error();
}

static int handshake(const struct sts_starttls *s, struct conn *c, const char *host,
		     struct sts_starttls_result *ret)
{
	SSL *ssl = SSL_new(s->ctx);
	if (!ssl)
		return STS_ENOMEM;
	ERR_clear_error();
	SSL_set_fd(ssl, c->fd);
	SSL_set_tlsext_host_name(ssl, host);
	for (;;) {
		int k = SSL_connect(ssl);
		if (k == 1)
			break;
		int e = SSL_get_error(ssl, k);
		int w = -1;
		if (e == SSL_ERROR_WANT_READ)
			w = wait_fd(c->fd, POLLIN, c->deadline);
		else if (e == SSL_ERROR_WANT_WRITE)
			w = wait_fd(c->fd, POLLOUT, c->deadline);
		if (w == 1)
			continue;
		if (w == 0)
			snprintf(ret->error, sizeof(ret->error), "TLS handshake timed out");
		else
			tls_error(ret, "TLS handshake failed");
		SSL_free(ssl);
		return STS_OK;
	}
	ret->stage = STS_STARTTLS_DONE;
	snprintf(ret->tls_version, sizeof(ret->tls_version), "%s", SSL_get_version(ssl));
	check_cert(s, ssl, host, ret);
	SSL_write(ssl, "QUIT\r\n", 6); /* polite, not awaited */
	SSL_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
	return STS_OK;
}

/*
 * Send cmd ("EHLO x", "STARTTLS") and read the reply: true when it came
 * with code want, else false with ret->error set.
 */
static bool command(struct conn *c, const char *cmd, int want, bool *tls,
		    struct sts_starttls_result *ret)
{
	char line[300];
	int code, k = -2;
	snprintf(line, sizeof(line), "%s\r\n", cmd);
	if (send_line(c, line) < 0 || (k = read_reply(c, &code, tls)) < 0) {
		snprintf(ret->error, sizeof(ret->error), "no answer to %.*s: %s",
			 (int)strcspn(cmd, " "), cmd, reply_error(k));
		return false;
	}
	if (code != want) {
		snprintf(ret->error, sizeof(ret->error), "%.*s refused with %d",
			 (int)strcspn(cmd, " "), cmd, code);
		return false;
	}
	return true;
}

/* The SMTP dialogue up to the handshake. */
static int dialogue(const struct sts_starttls *s, struct conn *c, const char *host,
		    struct sts_starttls_result *ret)
{
	int code, k;
	bool tls = false;
	ret->stage = STS_STARTTLS_BANNER;
	if ((k = read_reply(c, &code, &tls)) < 0) {
		snprintf(ret->error, sizeof(ret->error), "no greeting: %s", reply_error(k));
		return STS_OK;
	}
	if (code != 220) {
		snprintf(ret->error, sizeof(ret->error), "greeting %d instead of 220", code);
		return STS_OK;
	}
	ret->stage = STS_STARTTLS_EHLO;
	char ehlo[300];
	snprintf(ehlo, sizeof(ehlo), "EHLO %s", s->helo);
	if (!command(c, ehlo, 250, &tls, ret))
		return STS_OK;
	ret->stage = STS_STARTTLS_NOTLS;
	ret->starttls_offered = tls;
	if (!tls) {
		snprintf(ret->error, sizeof(ret->error), "STARTTLS is not offered");
		send_line(c, "QUIT\r\n");
		return STS_OK;
	}
	if (!command(c, "STARTTLS", 220, &tls, ret))
		return STS_OK;
	if (c->len) { /* plaintext after the 220 would be injected into the TLS session */
		snprintf(ret->error, sizeof(ret->error), "data after the STARTTLS reply");
		return STS_OK;
	}
	ret->stage = STS_STARTTLS_HANDSHAKE;
	return handshake(s, c, host, ret);
}

STS_API int sts_starttls_probe(struct sts_starttls *s, const char *host, const char *const *addrs,
			       size_t n, struct sts_starttls_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->stage = STS_STARTTLS_CONNECT;
	if (!n) {
		snprintf(ret->error, sizeof(ret->error), "no address");
		return STS_EINVAL;
	}
	struct conn *c = malloc(sizeof(*c));
	if (!c)
		return STS_ENOMEM;
	/*
	 * OpenSSL writes to the socket with write(): a server that has closed
	 * would kill the process with SIGPIPE. Block it in this thread and
	 * consume the one our writes raised (as libpq does); process-wide
	 * signal settings stay untouched.
	 */
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	c->len = 0;
	c->deadline = now_ms() + s->timeout_ms;
	c->fd = connect_any(s, addrs, n, c->deadline, ret);
	int r = STS_OK;
	if (c->fd >= 0) {
		ret->error[0] = '\0';
		r = dialogue(s, c, host, ret);
		close(c->fd);
	}
	free(c);
	if (!sigismember(&old, SIGPIPE)) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
