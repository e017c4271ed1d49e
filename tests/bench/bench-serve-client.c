/* SPDX-License-Identifier: MIT */
/*
 * The helper of tests/bench/bench-serve.sh (built by it with cc and OpenSSL):
 *
 *   gen DIR FIRST N       a test CA in DIR/ca.{pem,key} (made once) and, for
 *                         each i in [FIRST, FIRST+N), its own EC P-256 key and
 *                         certificate for mta-sts.d<i>.example in
 *                         DIR/certs/<host>/{fullchain.pem,privkey.pem}
 *   fetch ADDR PORT CA WEBROOT N CONC
 *                         fetch each of the N policies once, CONC at a time,
 *                         each over a fresh TLS connection (full handshake, no
 *                         resumption, SNI = the name, the chain verified
 *                         against CA and the name); every answer must be 200
 *                         with exactly WEBROOT/<host>/.well-known/mta-sts.txt
 *                         and a certificate whose only SAN is the name
 *   first ADDR PORT CA WEBROOT I DEADLINE_S CMD...
 *                         start CMD (its output to /dev/null), then fetch name
 *                         I until the first success (every 2 ms): prints the
 *                         milliseconds from the exec and CMD's pid, and leaves
 *                         CMD running
 *
 * fetch prints "ok N failed F seconds S rate R tls VERSION CIPHER GROUP" and
 * exits 1 when one check failed; the first failures are printed on stderr.
 * Every loop is bounded: a socket waits at most 10 s, a run at most 600 s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define NAME_FMT  "mta-sts.d%06u.example"
#define RUN_MAX_S 600

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-serve-client: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(2);
}

/* ---- gen ---- */

static EVP_PKEY *ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	if (!k)
		die("cannot generate a key");
	return k;
}

static void write_pem(const char *path, X509 *x, EVP_PKEY *k, X509 *ca)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die(path);
	if ((x && !PEM_write_X509(f, x)) || (ca && !PEM_write_X509(f, ca)) ||
	    (k && !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)) || fclose(f) != 0)
		die(path);
}

static X509 *make_cert(const char *cn, EVP_PKEY *k, X509 *issuer, EVP_PKEY *ikey, long serial)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *e;
	char san[300];

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 7L * 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x));
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	if (!issuer) {
		e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		e = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		snprintf(san, sizeof(san), "DNS:%s", cn);
		e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	}
	if (!e || !X509_add_ext(x, e, -1))
		die("cannot add an extension");
	X509_EXTENSION_free(e);
	if (!X509_sign(x, ikey ? ikey : k, EVP_sha256()))
		die("cannot sign");
	return x;
}

static int gen(const char *dir, unsigned first, unsigned n)
{
	char p[4096], q[4200];
	X509 *ca = NULL;
	EVP_PKEY *cak = NULL;
	FILE *f;

	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	snprintf(q, sizeof(q), "%s/ca.key", dir);
	if ((f = fopen(p, "r"))) {
		ca = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
		if ((f = fopen(q, "r"))) {
			cak = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			fclose(f);
		}
	}
	if (!ca || !cak) {
		cak = ec_key();
		ca = make_cert("stsctl bench-serve test CA", cak, NULL, NULL, 1);
		write_pem(p, ca, NULL, NULL);
		write_pem(q, NULL, cak, NULL);
	}
	snprintf(p, sizeof(p), "%s/certs", dir);
	mkdir(p, 0755);
	for (unsigned i = first; i < first + n; i++) {
		char host[64];
		EVP_PKEY *k = ec_key();
		snprintf(host, sizeof(host), NAME_FMT, i);
		X509 *x = make_cert(host, k, ca, cak, 1000 + (long)i);
		snprintf(p, sizeof(p), "%s/certs/%s", dir, host);
		mkdir(p, 0755);
		snprintf(q, sizeof(q), "%s/fullchain.pem", p);
		write_pem(q, x, NULL, ca);
		snprintf(q, sizeof(q), "%s/privkey.pem", p);
		write_pem(q, NULL, k, NULL);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	X509_free(ca);
	EVP_PKEY_free(cak);
	return 0;
}

/* ---- fetch ---- */

struct job {
	const char *addr, *webroot;
	unsigned port, n;
	SSL_CTX *ctx;
	char **want; /* expected bodies */
	size_t *want_len;
	atomic_uint next, ok, failed;
	double deadline;
	pthread_mutex_t mu;
	char tls[160]; /* version, cipher and group of the first handshake */
};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(b);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* exactly one SAN, a DNS name equal to host */
static int san_is(X509 *x, const char *host)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int ok = 0;
	if (g && sk_GENERAL_NAME_num(g) == 1) {
		GENERAL_NAME *n = sk_GENERAL_NAME_value(g, 0);
		if (n->type == GEN_DNS) {
			const unsigned char *s = ASN1_STRING_get0_data(n->d.dNSName);
			int l = ASN1_STRING_length(n->d.dNSName);
			ok = (size_t)l == strlen(host) && memcmp(s, host, (size_t)l) == 0;
		}
	}
	GENERAL_NAMES_free(g);
	return ok;
}

/* one fetch of name i; NULL when right, else why */
static const char *fetch_one(struct job *j, unsigned i)
{
	char host[64], req[256], buf[16384];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)j->port)};
	struct timeval tv = {10, 0};
	const char *why = NULL;
	size_t got = 0;
	SSL *ssl = NULL;
	X509 *peer = NULL;
	int fd, r, one = 1;

	snprintf(host, sizeof(host), NAME_FMT, i);
	inet_pton(AF_INET, j->addr, &sa.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return "socket";
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		why = "connect";
		goto out;
	}
	if (!(ssl = SSL_new(j->ctx)) || !SSL_set_fd(ssl, fd) ||
	    !SSL_set_tlsext_host_name(ssl, host) || !SSL_set1_host(ssl, host)) {
		why = "SSL setup";
		goto out;
	}
	if (SSL_connect(ssl) != 1) {
		why = "handshake (or chain/name verification) failed";
		goto out;
	}
	if (SSL_get_verify_result(ssl) != X509_V_OK) {
		why = "certificate not verified";
		goto out;
	}
	if (SSL_session_reused(ssl)) {
		why = "session resumed";
		goto out;
	}
	if (!(peer = SSL_get1_peer_certificate(ssl)) || !san_is(peer, host)) {
		why = "certificate SAN is not the name";
		goto out;
	}
	if (!j->tls[0]) {
		char g[64] = "?";
		int nid = SSL_get_negotiated_group(ssl);
		if (nid > 0)
			snprintf(g, sizeof(g), "%s", OBJ_nid2sn(nid));
		pthread_mutex_lock(&j->mu);
		if (!j->tls[0])
			snprintf(j->tls, sizeof(j->tls), "%s %s %s", SSL_get_version(ssl),
				 SSL_get_cipher_name(ssl), g);
		pthread_mutex_unlock(&j->mu);
	}
	r = snprintf(
	    req, sizeof(req),
	    "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
	if (SSL_write(ssl, req, r) != r) {
		why = "write";
		goto out;
	}
	while (got < sizeof(buf) - 1 &&
	       (r = SSL_read(ssl, buf + got, (int)(sizeof(buf) - 1 - got))) > 0)
		got += (size_t)r;
	buf[got] = 0;
	{
		char *body = strstr(buf, "\r\n\r\n");
		if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0)
			why = "status is not 200";
		else if (!body)
			why = "no end of headers";
		else if (!strcasestr(buf, "\r\nContent-Type: text/plain"))
			why = "not text/plain";
		else if ((size_t)(buf + got - (body + 4)) != j->want_len[i] ||
			 memcmp(body + 4, j->want[i], j->want_len[i]) != 0)
			why = "body is not the policy's bytes";
	}
out:
	X509_free(peer);
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	return why;
}

static void *worker(void *ud)
{
	struct job *j = ud;
	unsigned i;
	while ((i = atomic_fetch_add(&j->next, 1)) < j->n && now_s() < j->deadline) {
		const char *why = fetch_one(j, i);
		if (!why) {
			atomic_fetch_add(&j->ok, 1);
		} else if (atomic_fetch_add(&j->failed, 1) < 5) {
			fprintf(stderr, "bench-serve-client: " NAME_FMT ": %s\n", i, why);
			ERR_print_errors_fp(stderr);
		}
		ERR_clear_error();
	}
	return NULL;
}

static SSL_CTX *client_ctx(const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		die("cannot load the CA");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

static void load_want(struct job *j, unsigned first, unsigned n)
{
	char p[4096], host[64];
	j->want = calloc(first + n, sizeof(*j->want));
	j->want_len = calloc(first + n, sizeof(*j->want_len));
	for (unsigned i = first; i < first + n; i++) {
		snprintf(host, sizeof(host), NAME_FMT, i);
		snprintf(p, sizeof(p), "%s/%s/.well-known/mta-sts.txt", j->webroot, host);
		if (!(j->want[i] = read_file(p, &j->want_len[i])))
			die(p);
	}
}

static int fetch(char **a)
{
	struct job j = {.addr = a[0], .port = (unsigned)atoi(a[1]), .webroot = a[3]};
	unsigned conc = (unsigned)atoi(a[5]);
	pthread_t *t;
	double t0, el;

	j.n = (unsigned)atoi(a[4]);
	pthread_mutex_init(&j.mu, NULL);
	j.ctx = client_ctx(a[2]);
	load_want(&j, 0, j.n);
	t = calloc(conc, sizeof(*t));
	t0 = now_s();
	j.deadline = t0 + RUN_MAX_S;
	for (unsigned i = 0; i < conc; i++)
		if (pthread_create(&t[i], NULL, worker, &j) != 0)
			die("pthread_create");
	for (unsigned i = 0; i < conc; i++)
		pthread_join(t[i], NULL);
	el = now_s() - t0;
	printf("ok %u failed %u seconds %.3f rate %.1f tls %s\n", atomic_load(&j.ok),
	       atomic_load(&j.failed), el, atomic_load(&j.ok) / el, j.tls[0] ? j.tls : "- - -");
	return atomic_load(&j.ok) == j.n && atomic_load(&j.failed) == 0 ? 0 : 1;
}

static int first(char **a, char **cmd)
{
	struct job j = {.addr = a[0], .port = (unsigned)atoi(a[1]), .webroot = a[3]};
	unsigned i = (unsigned)atoi(a[4]);
	double t0, deadline;
	pid_t pid;
	const char *why = "not tried";

	load_want(&j, i, 1); /* before the clock starts */
	t0 = now_s();
	deadline = t0 + atof(a[5]);
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		dup2(nul, 2);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	if (pid < 0)
		die("fork");
	pthread_mutex_init(&j.mu, NULL);
	j.ctx = client_ctx(a[2]);
	while (now_s() < deadline) {
		if (!(why = fetch_one(&j, i))) {
			printf("%.1f %ld\n", (now_s() - t0) * 1000, (long)pid);
			return 0;
		}
		ERR_clear_error();
		usleep(2000);
	}
	fprintf(stderr, "bench-serve-client: no fetch of " NAME_FMT " succeeded: %s\n", i, why);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "gen") == 0)
		return gen(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
	if (argc == 8 && strcmp(argv[1], "fetch") == 0)
		return fetch(argv + 2);
	if (argc >= 9 && strcmp(argv[1], "first") == 0)
		return first(argv + 2, argv + 8);
	fprintf(stderr, "usage: bench-serve-client gen DIR FIRST N | fetch ADDR PORT CA WEBROOT N "
			"CONC | first ADDR PORT CA WEBROOT I DEADLINE_S CMD...\n");
	return 2;
}
