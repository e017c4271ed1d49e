/* SPDX-License-Identifier: MIT */
/*
 * The rfc2136 plugin through the real loader, against a scripted DNS server
 * on 127.0.0.1 (UDP and TCP on one ephemeral port, a thread of this test,
 * replies built and signed with ldns): a truncated UDP reply answered again
 * over TCP, replies whose TSIG is missing or wrong refused, the rcodes and
 * TSIG errors of an UPDATE mapped (BADTIME, BADSIG, REFUSED, SERVFAIL,
 * NOTZONE), and a server that never answers ending in bounded time. The
 * integration case runs it against a real BIND.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sts_config.h"
#include "sts_diag.h"
#include "sts_err.h"
#include "sts_plugin.h"

/* The text of the last failed plugin call (per-call errors: reterr). */
static char *last_err;
static char **E(void)
{
	free(last_err);
	last_err = NULL;
	return &last_err;
}

#define KEY    "unit-key."
#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
#define OTHER  "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMTI="

enum mode {
	M_NORMAL,   /* signed replies, TXT "hello" "world" at every name */
	M_TC,	    /* TXT over UDP: truncated and empty; over TCP: the answer */
	M_UNSIGNED, /* no TSIG on the replies */
	M_BADMAC,   /* signed with another secret */
	M_SILENT,   /* never answers */
};

struct server {
	int udp, tcp, port;
	pthread_t thr;
	volatile int stop;
	enum mode mode;
	int update_rcode;     /* the rcode of an UPDATE's reply */
	uint16_t update_tsig; /* TSIG error of an UPDATE's reply (0: none) */
	const char *sign_alg; /* algorithm name on replies */
	int n_udp, n_tcp, n_update;
};

static ldns_pkt *answer(struct server *s, ldns_pkt *q, bool tcp)
{
	ldns_pkt *a = ldns_pkt_new();
	ldns_pkt_set_id(a, ldns_pkt_id(q));
	ldns_pkt_set_qr(a, true);
	ldns_pkt_set_aa(a, true);
	ldns_pkt_set_opcode(a, ldns_pkt_get_opcode(q));
	ldns_rr *qr = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0));
	ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, qr);
	if (ldns_pkt_get_opcode(q) == LDNS_PACKET_UPDATE) {
		s->n_update++;
		ldns_pkt_set_rcode(a, (uint8_t)s->update_rcode);
		return a;
	}
	char *name = ldns_rdf2str(ldns_rr_owner(qr));
	char text[600];
	ldns_rr *rr = NULL;
	if (ldns_rr_get_type(qr) == LDNS_RR_TYPE_SOA)
		snprintf(text, sizeof(text), "%s 60 IN SOA ns1. h. 1 2 3 4 5", name);
	else if (ldns_rr_get_type(qr) == LDNS_RR_TYPE_TXT && (s->mode != M_TC || tcp))
		snprintf(text, sizeof(text), "%s 300 IN TXT \"hello\" \"world\"", name);
	else
		text[0] = '\0';
	if (s->mode == M_TC && !tcp && ldns_rr_get_type(qr) == LDNS_RR_TYPE_TXT)
		ldns_pkt_set_tc(a, true);
	if (text[0] && ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) == LDNS_STATUS_OK)
		ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, rr);
	free(name);
	return a;
}

static uint8_t *reply_wire(struct server *s, const uint8_t *wire, size_t len, bool tcp,
			   size_t *ret_len)
{
	ldns_pkt *q = NULL;
	if (ldns_wire2pkt(&q, wire, len) != LDNS_STATUS_OK)
		return NULL;
	ldns_pkt *a = answer(s, q, tcp);
	const ldns_rr *qt = ldns_pkt_tsig(q);
	if (qt && s->mode != M_UNSIGNED) {
		ldns_pkt_tsig_sign(a, KEY, s->mode == M_BADMAC ? OTHER : SECRET, 300,
				   "hmac-sha256.", ldns_rr_rdf(qt, 3));
		ldns_rr *t = ldns_pkt_tsig(a);
		if (t && s->update_tsig && ldns_pkt_get_opcode(q) == LDNS_PACKET_UPDATE)
			ldns_rdf_deep_free(ldns_rr_set_rdf(
			    t, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, s->update_tsig), 5));
		if (t && strcmp(s->sign_alg, "hmac-sha256.") != 0) /* label it, MAC stays wrong */
			ldns_rdf_deep_free(
			    ldns_rr_set_rdf(t, ldns_dname_new_frm_str(s->sign_alg), 0));
	}
	uint8_t *out = NULL;
	if (ldns_pkt2wire(&out, a, ret_len) != LDNS_STATUS_OK)
		out = NULL;
	ldns_pkt_free(a);
	ldns_pkt_free(q);
	return out;
}

static void serve_tcp(struct server *s, int c)
{
	for (;;) {
		uint8_t hdr[2], buf[65536];
		struct pollfd p = {.fd = c, .events = POLLIN};
		if (poll(&p, 1, 1000) <= 0 || recv(c, hdr, 2, MSG_WAITALL) != 2)
			break;
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		if (recv(c, buf, len, MSG_WAITALL) != (ssize_t)len)
			break;
		s->n_tcp++;
		size_t rl = 0;
		uint8_t *r = reply_wire(s, buf, len, true, &rl);
		if (!r)
			break;
		uint8_t rh[2] = {(uint8_t)(rl >> 8), (uint8_t)rl};
		send(c, rh, 2, MSG_NOSIGNAL);
		send(c, r, rl, MSG_NOSIGNAL);
		free(r);
	}
	close(c);
}

static void *serve(void *arg)
{
	struct server *s = arg;
	while (!s->stop) {
		struct pollfd p[2] = {{.fd = s->udp, .events = POLLIN},
				      {.fd = s->tcp, .events = POLLIN}};
		if (poll(p, 2, 20) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			uint8_t buf[65536];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n =
			    recvfrom(s->udp, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
			s->n_udp++;
			size_t rl = 0;
			uint8_t *r = n > 0 && s->mode != M_SILENT
					 ? reply_wire(s, buf, (size_t)n, false, &rl)
					 : NULL;
			if (r)
				sendto(s->udp, r, rl, 0, (struct sockaddr *)&from, fl);
			free(r);
		}
		if (p[1].revents & POLLIN) {
			int c = accept(s->tcp, NULL, NULL);
			if (c >= 0 && s->mode != M_SILENT)
				serve_tcp(s, c);
			else if (c >= 0)
				close(c);
		}
	}
	return NULL;
}

static struct server *server_start(enum mode m)
{
	struct server *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->mode = m;
	s->sign_alg = "hmac-sha256.";
	for (int tries = 0; tries < 20; tries++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s->udp = socket(AF_INET, SOCK_DGRAM, 0);
		assert_int_equal(bind(s->udp, (struct sockaddr *)&a, sizeof(a)), 0);
		socklen_t len = sizeof(a);
		getsockname(s->udp, (struct sockaddr *)&a, &len);
		s->tcp = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(s->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s->tcp, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s->tcp, 8) == 0) {
			s->port = ntohs(a.sin_port);
			break;
		}
		close(s->udp);
		close(s->tcp);
	}
	assert_true(s->port > 0);
	assert_int_equal(pthread_create(&s->thr, NULL, serve, s), 0);
	return s;
}

static void server_stop(struct server *s)
{
	s->stop = 1;
	pthread_join(s->thr, NULL);
	close(s->udp);
	close(s->tcp);
	free(s);
}

struct fixture {
	struct sts_plugin_host *h;
	struct sts_plugin *p;
	struct server *s;
};

static void open_plugin(struct fixture *f, enum mode m, const char *alg)
{
	f->s = server_start(m);
	assert_int_equal(sts_plugin_host_new(&f->h), STS_OK);
	const char *dirs[] = {STS_BUILD_PLUGIN_DIR};
	assert_int_equal(sts_plugin_host_set_path(f->h, dirs, 1), STS_OK);
	setenv("TEST_TSIG_SECRET", SECRET, 1);
	json_t *set =
	    json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:i}", "plugin", "rfc2136", "server",
		      "127.0.0.1", "port", f->s->port, "key_name", "unit-key", "key_algorithm", alg,
		      "key_secret", "${env:TEST_TSIG_SECRET}", "timeout", 1);
	struct sts_diags d;
	sts_diags_init(&d);
	int r = sts_plugin_open(f->h, "dns", set, &f->p, &d);
	if (r != STS_OK && d.n)
		fprintf(stderr, "# %s\n", d.v[0].message);
	assert_int_equal(r, STS_OK);
	sts_diags_release(&d);
	json_decref(set);
}

static void close_plugin(struct fixture *f)
{
	sts_plugin_close(f->p);
	sts_plugin_host_free(f->h);
	server_stop(f->s);
}

static const char *const names[] = {"_mta-sts.example.com."};

static void expect_err(struct sts_plugin *p, const char *msg)
{
	const char *e = last_err;
	if (!e || !strstr(e, msg))
		fail_msg("'%s' not in '%s'", msg, e ? e : "(none)");
	assert_null(strstr(e, SECRET));
}

static void test_read_signed(void **state)
{
	(void)state;
	struct fixture f;
	open_plugin(&f, M_NORMAL, "hmac-sha256");
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 1, &got, E()), STS_OK);
	const struct sts_rrset *t = sts_rrsets_find(&got, names[0], "TXT");
	assert_non_null(t);
	assert_int_equal(t->ttl, 300);
	assert_int_equal(t->n_values, 1);
	assert_string_equal(t->values[0], "helloworld"); /* the strings joined */
	assert_int_equal(f.s->n_tcp, 0);
	sts_rrsets_release(&got);
	close_plugin(&f);
}

static void test_truncated_goes_tcp(void **state)
{
	(void)state;
	struct fixture f;
	open_plugin(&f, M_TC, "hmac-sha256");
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 1, &got, E()), STS_OK);
	assert_true(f.s->n_tcp >= 1);
	const struct sts_rrset *t = sts_rrsets_find(&got, names[0], "TXT");
	assert_non_null(t);
	assert_string_equal(t->values[0], "helloworld");
	sts_rrsets_release(&got);
	close_plugin(&f);
}

static void test_reply_not_verified(void **state)
{
	(void)state;
	static const struct {
		enum mode m;
		const char *alg;
	} cases[] = {{M_UNSIGNED, "hmac-sha256"},
		     {M_BADMAC, "hmac-sha256"},
		     {M_NORMAL, "hmac-sha384"}}; /* a sha384-labelled reply with a sha256 MAC */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		open_plugin(&f, cases[i].m, cases[i].alg);
		if (strcmp(cases[i].alg, "hmac-sha384") == 0)
			f.s->sign_alg = "hmac-sha384.";
		struct sts_rrsets got;
		sts_rrsets_init(&got);
		assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 1, &got, E()),
				 STS_EAUTH);
		expect_err(f.p, "failed TSIG verification with key 'unit-key.'");
		sts_rrsets_release(&got);
		close_plugin(&f);
	}
}

static void test_update_errors(void **state)
{
	(void)state;
	static const struct {
		int rcode;
		uint16_t tsig;
		int want;
		const char *msg;
	} cases[] = {
	    {LDNS_RCODE_NOTAUTH, 18, STS_EAUTH, "rejected the TSIG time (NOTAUTH/BADTIME)"},
	    {LDNS_RCODE_NOTAUTH, 16, STS_EAUTH,
	     "rejected the TSIG signature of key 'unit-key.' (NOTAUTH/BADSIG)"},
	    {LDNS_RCODE_NOTAUTH, 17, STS_EAUTH, "does not know TSIG key 'unit-key.'"},
	    {LDNS_RCODE_REFUSED, 0, STS_EAUTH,
	     "refused the update of zone 'example.com.' (REFUSED)"},
	    {LDNS_RCODE_SERVFAIL, 0, STS_EPROVIDER,
	     "failed the update of zone 'example.com.' (SERVFAIL)"},
	    {LDNS_RCODE_NOTZONE, 0, STS_EINVAL, "(NOTZONE at '127.0.0.1')"},
	    {LDNS_RCODE_NOTIMPL, 0, STS_EUNSUPPORTED, "(NOTIMP)"},
	};
	char *v[] = {"hello", "world"}; /* "hello" "world" is read as helloworld: both new */
	struct sts_rrset old = {0,   "_mta-sts.example.com.",  "TXT",
				300, (char *[]){"helloworld"}, 1};
	struct sts_dns_change ch = {
	    STS_CHANGE_REPLACE, {0, "_mta-sts.example.com.", "TXT", 300, v, 2}, &old};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		open_plugin(&f, M_NORMAL, "hmac-sha256");
		f.s->update_rcode = cases[i].rcode;
		f.s->update_tsig = cases[i].tsig;
		assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()),
				 cases[i].want);
		assert_int_equal(f.s->n_update, 1); /* never sent twice */
		expect_err(f.p, cases[i].msg);
		close_plugin(&f);
	}
}

static void test_stale_refused_before_sending(void **state)
{
	(void)state;
	struct fixture f;
	open_plugin(&f, M_NORMAL, "hmac-sha256");
	char *v[] = {"new"};
	struct sts_dns_change ch = {STS_CHANGE_CREATE,
				    {0, "_mta-sts.example.com.", "TXT", 300, v, 1},
				    NULL}; /* the plan saw nothing there; the server has a TXT */
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_ESTALE);
	expect_err(f.p, "changed since they were read: plan again");
	assert_int_equal(f.s->n_update, 0);
	close_plugin(&f);
}

static void test_silent_server_bounded(void **state)
{
	(void)state;
	struct fixture f;
	open_plugin(&f, M_SILENT, "hmac-sha256");
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 1, &got, E()),
			 STS_ETIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	expect_err(f.p, "no reply in time from DNS server '127.0.0.1'");
	assert_int_equal(f.s->n_udp, 3); /* 3 tries of 1 s, then the error */
	assert_true(t1.tv_sec - t0.tv_sec <= 5);
	sts_rrsets_release(&got);
	close_plugin(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_signed),
	    cmocka_unit_test(test_truncated_goes_tcp),
	    cmocka_unit_test(test_reply_not_verified),
	    cmocka_unit_test(test_update_errors),
	    cmocka_unit_test(test_stale_refused_before_sending),
	    cmocka_unit_test(test_silent_server_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
