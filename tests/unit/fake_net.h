/* SPDX-License-Identifier: MIT */
#ifndef STS_TEST_FAKE_NET_H
#define STS_TEST_FAKE_NET_H

/*
 * Fake servers on 127.0.0.1 (ephemeral ports, one thread each) for the unit
 * tests of resolve, starttls, check and onboard; nothing else is contacted.
 *
 *  - fake_dns: an authoritative DNS server over UDP answering from a list of
 *    RRs in presentation form (ldns), with in-zone CNAME chasing like
 *    PowerDNS, a name it never answers and a name that gets SERVFAIL;
 *  - fake_tls_*: a throwaway CA and leaf certificates (OpenSSL);
 *  - fake_srv: an SMTP server (STARTTLS, no STARTTLS, TLS 1.0 only, 554
 *    greeting, silence) or an HTTPS server with one canned response.
 *
 * Test code only: static functions in a header so each test binary (one
 * source file each) gets its own copy.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sts_check.h"

#define FAKE_FN static __attribute__((unused))

/* ---------------- DNS ---------------- */

struct fake_dns {
	int fd;
	int port;
	pthread_t thr;
	int stop; /* __atomic */
	ldns_rr_list *zone;
	char drop[256];	    /* never answered (lower case, no trailing dot) */
	char servfail[256]; /* answered with SERVFAIL */
	bool chase;	    /* follow CNAMEs inside the zone, as PowerDNS does */
	int queries;	    /* __atomic */
};

FAKE_FN bool fake_owner_is(const ldns_rr *rr, const ldns_rdf *name)
{
	return ldns_dname_compare(ldns_rr_owner(rr), name) == 0;
}

/* Answer records for (name, type) into pkt; returns whether the name exists. */
FAKE_FN bool fake_dns_lookup(struct fake_dns *s, ldns_pkt *pkt, const ldns_rdf *qname,
			     ldns_rr_type qtype)
{
	const ldns_rdf *name = qname;
	bool exists = false;
	for (int hop = 0; hop < 16; hop++) {
		const ldns_rr *cname = NULL;
		bool found = false;
		for (size_t i = 0; i < ldns_rr_list_rr_count(s->zone); i++) {
			ldns_rr *rr = ldns_rr_list_rr(s->zone, i);
			if (!fake_owner_is(rr, name))
				continue;
			exists = true;
			if (ldns_rr_get_type(rr) == qtype) {
				ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, ldns_rr_clone(rr));
				found = true;
			} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME) {
				cname = rr;
			}
		}
		if (found || !cname || qtype == LDNS_RR_TYPE_CNAME)
			return exists;
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, ldns_rr_clone(cname));
		name = ldns_rr_rdf(cname, 0);
		if (!s->chase)
			return true;
		exists = false;
		for (size_t i = 0; i < ldns_rr_list_rr_count(s->zone); i++)
			exists = exists || fake_owner_is(ldns_rr_list_rr(s->zone, i), name);
		if (!exists) /* out of the zone: the client follows it */
			return true;
	}
	return exists;
}

FAKE_FN void fake_dns_answer(struct fake_dns *s, const uint8_t *buf, size_t n,
			     struct sockaddr_in *peer, socklen_t plen)
{
	ldns_pkt *q = NULL;
	if (ldns_wire2pkt(&q, buf, n) != LDNS_STATUS_OK)
		return;
	ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	char *qs = qrr ? ldns_rdf2str(ldns_rr_owner(qrr)) : NULL;
	if (qs) {
		size_t l = strlen(qs);
		if (l > 1 && qs[l - 1] == '.')
			qs[l - 1] = '\0';
		for (char *p = qs; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	__atomic_add_fetch(&s->queries, 1, __ATOMIC_SEQ_CST);
	if (!qs || strcmp(qs, s->drop) == 0) {
		free(qs);
		ldns_pkt_free(q);
		return;
	}
	ldns_pkt *a = ldns_pkt_new();
	ldns_pkt_set_id(a, ldns_pkt_id(q));
	ldns_pkt_set_qr(a, true);
	ldns_pkt_set_aa(a, true);
	ldns_pkt_set_rd(a, ldns_pkt_rd(q));
	ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, ldns_rr_clone(qrr));
	if (strcmp(qs, s->servfail) == 0)
		ldns_pkt_set_rcode(a, LDNS_RCODE_SERVFAIL);
	else if (!fake_dns_lookup(s, a, ldns_rr_owner(qrr), ldns_rr_get_type(qrr)))
		ldns_pkt_set_rcode(a, LDNS_RCODE_NXDOMAIN);
	uint8_t *wire = NULL;
	size_t wl = 0;
	if (ldns_pkt2wire(&wire, a, &wl) == LDNS_STATUS_OK)
		sendto(s->fd, wire, wl, 0, (struct sockaddr *)peer, plen);
	free(wire);
	free(qs);
	ldns_pkt_free(a);
	ldns_pkt_free(q);
}

FAKE_FN void *fake_dns_main(void *arg)
{
	struct fake_dns *s = arg;
	uint8_t buf[4096];
	while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		ssize_t k = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
		if (k > 0)
			fake_dns_answer(s, buf, (size_t)k, &peer, plen);
	}
	return NULL;
}

FAKE_FN int fake_bind(int type, int *ret_port)
{
	int fd = socket(AF_INET, type, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0) ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	*ret_port = ntohs(a.sin_port);
	return fd;
}

/*
 * zone: NULL-terminated RR lines ("name. 60 IN TXT \"...\""); chase: follow
 * CNAMEs inside the zone; drop, servfail: names never answered, or answered
 * with SERVFAIL ("" for none).
 */
FAKE_FN struct fake_dns *fake_dns_start_opts(const char *const *zone, bool chase, const char *drop,
					     const char *servfail)
{
	struct fake_dns *s = calloc(1, sizeof(*s));
	s->zone = ldns_rr_list_new();
	s->chase = chase;
	snprintf(s->drop, sizeof(s->drop), "%s", drop);
	snprintf(s->servfail, sizeof(s->servfail), "%s", servfail);
	for (size_t i = 0; zone[i]; i++) {
		ldns_rr *rr = NULL;
		if (ldns_rr_new_frm_str(&rr, zone[i], 60, NULL, NULL) != LDNS_STATUS_OK) {
			fprintf(stderr, "fake_dns: bad RR '%s'\n", zone[i]);
			abort();
		}
		ldns_rr_list_push_rr(s->zone, rr);
	}
	s->fd = fake_bind(SOCK_DGRAM, &s->port);
	pthread_create(&s->thr, NULL, fake_dns_main, s);
	return s;
}

FAKE_FN struct fake_dns *fake_dns_start(const char *const *zone)
{
	return fake_dns_start_opts(zone, true, "", "");
}

FAKE_FN void fake_dns_stop(struct fake_dns *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(s->thr, NULL);
	close(s->fd);
	ldns_rr_list_deep_free(s->zone);
	free(s);
}

/* ---------------- certificates ---------------- */

struct fake_ca {
	EVP_PKEY *key;
	X509 *cert;
	char pem[64]; /* the CA certificate as a PEM file */
};

/* A certificate for key, valid from now+from_s to now+to_s, signed by issuer
 * (self-signed when NULL); san like "DNS:a.test,DNS:b.test" or NULL. */
FAKE_FN X509 *fake_cert(EVP_PKEY *key, const char *cn, const char *san, long from_s, long to_s,
			const struct fake_ca *issuer)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	static long serial = 1;
	ASN1_INTEGER_set(X509_get_serialNumber(x),
			 __atomic_add_fetch(&serial, 1, __ATOMIC_SEQ_CST));
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), to_s);
	X509_set_pubkey(x, key);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : nm);
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, issuer ? issuer->cert : x, x, NULL, NULL, 0);
	X509_EXTENSION *ext;
	if (san) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
				  issuer ? "critical,CA:FALSE" : "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!issuer) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, issuer ? issuer->key : key, EVP_sha256());
	return x;
}

FAKE_FN void fake_ca_init(struct fake_ca *ca)
{
	ca->key = EVP_EC_gen("P-256");
	ca->cert = fake_cert(ca->key, "fake test CA", NULL, -3600, 86400L * 365, NULL);
	snprintf(ca->pem, sizeof(ca->pem), "/tmp/sts-test-ca-XXXXXX");
	int fd = mkstemp(ca->pem);
	FILE *f = fdopen(fd, "w");
	PEM_write_X509(f, ca->cert);
	fclose(f);
}

FAKE_FN void fake_ca_release(struct fake_ca *ca)
{
	unlink(ca->pem);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
}

/* ---------------- SMTP and HTTPS servers ---------------- */

enum fake_mode {
	FAKE_SMTP_TLS,	  /* 220, EHLO with STARTTLS, TLS */
	FAKE_SMTP_NOTLS,  /* EHLO without STARTTLS */
	FAKE_SMTP_554,	  /* greeting 554 */
	FAKE_SMTP_SILENT, /* accepts, says nothing */
	FAKE_HTTPS,	  /* TLS, then one canned HTTP response */
};

struct fake_srv {
	int fd;
	int port;
	pthread_t thr;
	int stop; /* __atomic */
	enum fake_mode mode;
	SSL_CTX *ctx;
	int connections; /* __atomic */
	/* FAKE_HTTPS */
	int status;
	const char *ctype;
	const char *body;
};

FAKE_FN void fake_read_line(int fd, char *buf, size_t n)
{
	size_t off = 0;
	while (off + 1 < n) {
		ssize_t k = read(fd, buf + off, 1);
		if (k <= 0 || buf[off] == '\n')
			break;
		off++;
	}
	buf[off] = '\0';
}

FAKE_FN void fake_write(int fd, const char *s)
{
	ssize_t k = send(fd, s, strlen(s), MSG_NOSIGNAL);
	(void)k;
}

FAKE_FN void fake_tls_session(struct fake_srv *s, int c)
{
	SSL *ssl = SSL_new(s->ctx);
	SSL_set_fd(ssl, c);
	if (SSL_accept(ssl) == 1) {
		char buf[4096];
		int k = SSL_read(ssl, buf, sizeof(buf) - 1);
		if (k > 0 && s->mode == FAKE_HTTPS) {
			char head[512];
			snprintf(head, sizeof(head),
				 "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n\r\n",
				 s->status, s->ctype, strlen(s->body));
			SSL_write(ssl, head, (int)strlen(head));
			SSL_write(ssl, s->body, (int)strlen(s->body));
		}
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	ERR_clear_error();
}

FAKE_FN void fake_serve(struct fake_srv *s, int c)
{
	char line[512];
	struct timeval tv = {.tv_sec = 5};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	switch (s->mode) {
	case FAKE_HTTPS:
		fake_tls_session(s, c);
		return;
	case FAKE_SMTP_554:
		fake_write(c, "554 no service\r\n");
		return;
	case FAKE_SMTP_SILENT:
		for (int i = 0; i < 40 && !__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST); i++)
			usleep(50000);
		return;
	case FAKE_SMTP_TLS:
	case FAKE_SMTP_NOTLS:
		break;
	}
	fake_write(c, "220 mx.test ESMTP fake\r\n");
	fake_read_line(c, line, sizeof(line));
	if (strncasecmp(line, "EHLO", 4) != 0)
		return;
	fake_write(c, s->mode == FAKE_SMTP_TLS ? "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
					       : "250-mx.test\r\n250 PIPELINING\r\n");
	fake_read_line(c, line, sizeof(line));
	if (s->mode == FAKE_SMTP_TLS && strncasecmp(line, "STARTTLS", 8) == 0) {
		fake_write(c, "220 go ahead\r\n");
		fake_tls_session(s, c);
	} else {
		fake_write(c, "221 bye\r\n");
	}
}

FAKE_FN void *fake_srv_main(void *arg)
{
	struct fake_srv *s = arg;
	/* a client that is gone must not kill the test: SIGPIPE blocked here only,
	 * so a SIGPIPE the code under test lets through still does */
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		__atomic_add_fetch(&s->connections, 1, __ATOMIC_SEQ_CST);
		fake_serve(s, c);
		close(c);
	}
	return NULL;
}

/*
 * A server in mode; with TLS, it presents a certificate for names (SAN DNS
 * names like "DNS:mx.test") valid from now+from_s to now+to_s signed by ca;
 * max_version TLS1_VERSION makes a TLS 1.0-only server.
 */
FAKE_FN struct fake_srv *fake_srv_start(enum fake_mode mode, const struct fake_ca *ca,
					const char *san, long from_s, long to_s, int max_version)
{
	struct fake_srv *s = calloc(1, sizeof(*s));
	s->mode = mode;
	if (ca) {
		EVP_PKEY *key = EVP_EC_gen("P-256");
		X509 *x = fake_cert(key, "fake server", san, from_s, to_s, ca);
		s->ctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX_use_certificate(s->ctx, x);
		SSL_CTX_use_PrivateKey(s->ctx, key);
		if (max_version) {
			SSL_CTX_set_security_level(s->ctx, 0);
			SSL_CTX_set_cipher_list(s->ctx, "DEFAULT:@SECLEVEL=0");
			SSL_CTX_set_min_proto_version(s->ctx, TLS1_VERSION);
			SSL_CTX_set_max_proto_version(s->ctx, max_version);
		}
		X509_free(x);
		EVP_PKEY_free(key);
	}
	s->fd = fake_bind(SOCK_STREAM, &s->port);
	pthread_create(&s->thr, NULL, fake_srv_main, s);
	return s;
}

FAKE_FN void fake_srv_stop(struct fake_srv *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(s->thr, NULL);
	close(s->fd);
	SSL_CTX_free(s->ctx);
	free(s);
}

/* A port nothing listens on (bound, then closed). */
FAKE_FN int fake_closed_port(void)
{
	int port;
	int fd = fake_bind(SOCK_STREAM, &port);
	close(fd);
	return port;
}

/* ---------------- a world for stsctl check ---------------- */
struct world {
	struct fake_ca ca;
	struct fake_dns *dns;
	struct fake_srv *https;
	struct fake_srv *smtp;
	char resolver[32];
	struct sts_check_opts o;
	struct sts_check_report rep;
};

/*
 * A check world: DNS from zone; every policy host answers status/ctype/body
 * with a certificate for https_san; every MX host is one SMTP server with
 * a certificate for smtp_san valid for smtp_days; check options aimed at them.
 */
FAKE_FN struct world *world_new(const char *const *zone, int status, const char *ctype,
				const char *body, const char *https_san, const char *smtp_san,
				long smtp_days)
{
	struct world *w = calloc(1, sizeof(*w));
	fake_ca_init(&w->ca);
	w->dns = fake_dns_start(zone);
	w->https = fake_srv_start(FAKE_HTTPS, &w->ca, https_san, -3600, 86400L * 60, 0);
	w->https->status = status;
	w->https->ctype = ctype;
	w->https->body = body;
	w->smtp = fake_srv_start(FAKE_SMTP_TLS, &w->ca, smtp_san, -3600, 86400L * smtp_days, 0);
	snprintf(w->resolver, sizeof(w->resolver), "127.0.0.1:%d", w->dns->port);
	w->o.resolver = w->resolver;
	w->o.ca_file = w->ca.pem;
	w->o.https_port = (unsigned)w->https->port;
	w->o.smtp_port = (unsigned)w->smtp->port;
	w->o.timeout_ms = 10000;
	w->o.dns_timeout_ms = 2000;
	w->o.concurrency = 4;
	return w;
}

FAKE_FN void world_free(struct world *w)
{
	sts_check_report_release(&w->rep);
	fake_srv_stop(w->https);
	fake_srv_stop(w->smtp);
	fake_dns_stop(w->dns);
	fake_ca_release(&w->ca);
	free(w);
}

#endif
