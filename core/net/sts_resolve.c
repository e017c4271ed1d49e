/* SPDX-License-Identifier: MIT */
/*
 * DNS lookups: c-ares for the transport (concurrent queries, timeouts,
 * retries, resolv.conf), ldns to read the answers (sts_resolve.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ares.h>
#include <ldns/ldns.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_resolve.h"

struct sts_resolver {
	ares_channel ch;
	size_t pending; /* queries still waiting for an answer */
	int err;	/* first allocation failure in a callback */
	long bound_ms;	/* a run never takes longer (c-ares should end it sooner) */
};

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_rc = ARES_SUCCESS;

static void ares_init_once(void)
{
	ares_init_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

static const char *const dns_status_names[] = {
    [STS_DNS_OK] = "ok",
    [STS_DNS_NODATA] = "no data",
    [STS_DNS_NXDOMAIN] = "NXDOMAIN",
    [STS_DNS_SERVFAIL] = "server failure",
    [STS_DNS_TIMEOUT] = "timeout",
};

STS_API const char *sts_dns_status_name(enum sts_dns_status s)
{
	return STS_NAME_OF(dns_status_names, s, "error");
}

STS_API void sts_dns_query_init(struct sts_dns_query *q, const char *name, enum sts_dns_type type)
{
	memset(q, 0, sizeof(*q));
	q->name = name;
	q->type = type;
	q->status = STS_DNS_ERROR;
}

static void answers_clear(struct sts_dns_query *q)
{
	for (size_t i = 0; i < q->n_txt; i++)
		free(q->txt[i].data);
	free(q->txt);
	q->txt = NULL;
	q->n_txt = 0;
	for (size_t i = 0; i < q->n_mx; i++)
		free(q->mx[i].host);
	free(q->mx);
	q->mx = NULL;
	q->n_mx = 0;
	sts_strv_free(q->addr, q->n_addr);
	q->addr = NULL;
	q->n_addr = 0;
}

STS_API void sts_dns_query_release(struct sts_dns_query *q)
{
	if (!q)
		return;
	answers_clear(q);
	STS_FREE_ALL(q->canonical, q->cname, q->error, q->next_);
	const char *name = q->name;
	enum sts_dns_type type = q->type;
	sts_dns_query_init(q, name, type);
}

/* Presentation form of a name: lower case, no trailing dot ("" for the root). */
static char *dname_text(const ldns_rdf *d)
{
	char *s = ldns_rdf2str(d);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	if (n && s[n - 1] == '.')
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

static int set_error(struct sts_dns_query *q, const char *msg)
{
	q->status = STS_DNS_ERROR;
	free(q->error);
	q->error = strdup(msg);
	return q->error ? STS_OK : STS_ENOMEM;
}

/* The character-strings of one TXT record, joined without spaces (T14). */
static int add_txt(struct sts_dns_query *q, const ldns_rr *rr)
{
	size_t total = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		if (ldns_rdf_size(f) >= 1)
			total += ldns_rdf_size(f) - 1;
	}
	char *data = malloc(total + 1);
	struct sts_dns_txt *t = data ? sts_array_push(&q->txt, &q->n_txt, sizeof(*t)) : NULL;
	if (!t) {
		free(data);
		return STS_ENOMEM;
	}
	size_t off = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		const uint8_t *p = ldns_rdf_data(f);
		size_t n = ldns_rdf_size(f);
		if (n < 1)
			continue;
		size_t sl = p[0] < n - 1 ? p[0] : n - 1;
		memcpy(data + off, p + 1, sl);
		off += sl;
	}
	data[off] = '\0';
	t->data = data;
	t->len = off;
	return STS_OK;
}

static int add_mx(struct sts_dns_query *q, const ldns_rr *rr)
{
	if (ldns_rr_rd_count(rr) < 2)
		return STS_OK;
	char *host = dname_text(ldns_rr_rdf(rr, 1));
	struct sts_dns_mx *m = host ? sts_array_push(&q->mx, &q->n_mx, sizeof(*m)) : NULL;
	if (!m) {
		free(host);
		return STS_ENOMEM;
	}
	m->pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
	m->host = host;
	return STS_OK;
}

static int add_addr(struct sts_dns_query *q, const ldns_rr *rr)
{
	const ldns_rdf *f = ldns_rr_rdf(rr, 0);
	char text[INET6_ADDRSTRLEN];
	int af = q->type == STS_DNS_A ? AF_INET : AF_INET6;
	size_t want = af == AF_INET ? 4 : 16;
	if (!f || ldns_rdf_size(f) != want || !inet_ntop(af, ldns_rdf_data(f), text, sizeof(text)))
		return STS_OK;
	char *a = strdup(text);
	char **slot = a ? sts_array_push(&q->addr, &q->n_addr, sizeof(*slot)) : NULL;
	if (!slot) {
		free(a);
		return STS_ENOMEM;
	}
	*slot = a;
	return STS_OK;
}

static int mx_cmp(const void *a, const void *b)
{
	const struct sts_dns_mx *x = a, *y = b;
	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return strcmp(x->host, y->host);
}

/* The CNAME in the answer section whose owner is cur, or NULL. */
static const ldns_rr *find_cname(const ldns_rr_list *an, const ldns_rdf *cur)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) >= 1 &&
		    ldns_dname_compare(ldns_rr_owner(rr), cur) == 0)
			return rr;
	}
	return NULL;
}

STS_TESTABLE int sts_dns_parse(const unsigned char *buf, size_t len, const char *qname,
			       struct sts_dns_query *q, char **ret_next)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *start = NULL;
	unsigned char *wire = NULL;
	int r = STS_OK;
	*ret_next = NULL;
	answers_clear(q);
	/*
	 * Only the answer section and the rcode are read, so ldns is not given
	 * the additional section (ARCOUNT 0): ldns_wire2pkt() keeps the last
	 * TSIG RR there and leaks any before it (ldns 1.8.3, fuzz_dns).
	 */
	if (len >= LDNS_HEADER_SIZE) {
		if (!(wire = malloc(len)))
			return STS_ENOMEM;
		memcpy(wire, buf, len);
		ldns_write_uint16(wire + LDNS_ARCOUNT_OFF, 0);
		buf = wire;
	}
	if (ldns_wire2pkt(&pkt, buf, len) != LDNS_STATUS_OK) {
		r = set_error(q, "malformed DNS response");
		goto out;
	}
	start = ldns_dname_new_frm_str(qname);
	if (!start) {
		r = set_error(q, "invalid name");
		goto out;
	}
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	const ldns_rdf *cur = start;
	const ldns_rr *cn;
	while ((cn = find_cname(an, cur))) {
		if (++q->n_cname > STS_DNS_CNAME_MAX) {
			r = set_error(q, "CNAME chain longer than 8 links or a loop");
			goto out;
		}
		cur = ldns_rr_rdf(cn, 0);
		if (!q->cname && !(q->cname = dname_text(cur))) {
			r = STS_ENOMEM;
			goto out;
		}
	}
	if (cur != start) {
		free(q->canonical);
		if (!(q->canonical = dname_text(cur))) {
			r = STS_ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; r == STS_OK && i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if ((int)ldns_rr_get_type(rr) != (int)q->type ||
		    ldns_dname_compare(ldns_rr_owner(rr), cur) != 0)
			continue;
		switch (q->type) {
		case STS_DNS_TXT:
			r = add_txt(q, rr);
			break;
		case STS_DNS_MX:
			r = add_mx(q, rr);
			break;
		case STS_DNS_A:
		case STS_DNS_AAAA:
			r = add_addr(q, rr);
			break;
		case STS_DNS_CNAME:
			break;
		}
	}
	if (r < 0)
		goto out;
	if (q->n_mx > 1)
		qsort(q->mx, q->n_mx, sizeof(*q->mx), mx_cmp);
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(pkt);
	if (q->n_txt || q->n_mx || q->n_addr)
		q->status = STS_DNS_OK;
	else if (rc == LDNS_RCODE_NXDOMAIN)
		q->status = STS_DNS_NXDOMAIN;
	else if (rc != LDNS_RCODE_NOERROR)
		q->status = STS_DNS_SERVFAIL;
	else if (cur != start && q->type != STS_DNS_CNAME) {
		/* the chain left the answer: ask for its end */
		if (!(*ret_next = dname_text(cur)))
			r = STS_ENOMEM;
	} else
		q->status = STS_DNS_NODATA;
out:
	ldns_rdf_deep_free(start);
	ldns_pkt_free(pkt);
	free(wire);
	return r;
}

static void finish(struct sts_resolver *r, struct sts_dns_query *q)
{
	q->pending_ = false;
	r->pending--;
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

static void submit(struct sts_resolver *r, struct sts_dns_query *q)
{
	ares_query(r->ch, q->next_ ? q->next_ : q->name, 1 /* C_IN */, (int)q->type, on_answer, q);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct sts_dns_query *q = arg;
	struct sts_resolver *r = q->r_;
	(void)timeouts;
	if (!q->pending_)
		return;
	switch (status) {
	case ARES_SUCCESS:
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		if (abuf && alen > 0) {
			char *next = NULL;
			if (sts_dns_parse(abuf, (size_t)alen, q->next_ ? q->next_ : q->name, q,
					  &next) < 0) {
				r->err = STS_ENOMEM;
				break;
			}
			if (next) {
				free(q->next_);
				q->next_ = next;
				submit(r, q); /* the callback runs again, later */
				return;
			}
		} else {
			q->status = status == ARES_ENOTFOUND ? STS_DNS_NXDOMAIN : STS_DNS_NODATA;
		}
		break;
	case ARES_ETIMEOUT:
	case ARES_ECANCELLED:
		q->status = STS_DNS_TIMEOUT;
		break;
	case ARES_ESERVFAIL:
	case ARES_EREFUSED:
	case ARES_ENOTIMP:
	case ARES_ECONNREFUSED:
		q->status = STS_DNS_SERVFAIL;
		break;
	case ARES_ENOMEM:
		r->err = STS_ENOMEM;
		break;
	default:
		if (set_error(q, ares_strerror(status)) < 0)
			r->err = STS_ENOMEM;
		break;
	}
	finish(r, q);
}

STS_API int sts_resolver_new(const struct sts_resolver_opts *o, struct sts_resolver **ret,
			     const char **reterr)
{
	const char *dummy;
	if (!reterr)
		reterr = &dummy;
	*reterr = NULL;
	pthread_once(&ares_once, ares_init_once);
	if (ares_init_rc != ARES_SUCCESS) {
		*reterr = "c-ares cannot be initialised";
		return STS_EIO;
	}
	long timeout = o && o->timeout_ms > 0 ? o->timeout_ms : 5000;
	unsigned tries = o && o->tries ? o->tries : 2;
	struct sts_resolver *r = calloc(1, sizeof(*r));
	if (!r)
		return STS_ENOMEM;
	struct ares_options ao = {0};
	ao.timeout = (int)(timeout / tries > 0 ? timeout / tries : 1);
	ao.tries = (int)tries;
	ao.flags = ARES_FLAG_EDNS;
	ao.ednspsz = 1232;
	int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ;
	r->bound_ms = timeout * (STS_DNS_CNAME_MAX + 2);
	int rc = ares_init_options(&r->ch, &ao, mask);
	if (rc != ARES_SUCCESS) {
		free(r);
		*reterr = ares_strerror(rc);
		return rc == ARES_ENOMEM ? STS_ENOMEM : STS_EIO;
	}
	if (o && o->server) {
		rc = ares_set_servers_ports_csv(r->ch, o->server);
		if (rc != ARES_SUCCESS) {
			*reterr = "not an IP address with an optional port";
			sts_resolver_free(r);
			return rc == ARES_ENOMEM ? STS_ENOMEM : STS_EINVAL;
		}
	}
	*ret = r;
	return STS_OK;
}

STS_API void sts_resolver_free(struct sts_resolver *r)
{
	if (!r)
		return;
	ares_destroy(r->ch);
	free(r);
}

/* Wait for the channel's sockets (or its next timeout) and process them. */
static void process_once(struct sts_resolver *r)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct pollfd pfd[ARES_GETSOCK_MAXNUM];
	int bits = ares_getsock(r->ch, socks, ARES_GETSOCK_MAXNUM);
	nfds_t n = 0;
	for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short ev = 0;
		/* ARES_GETSOCK_WRITABLE shifts a signed 1 by up to 31: not defined */
		if (((unsigned)bits >> i) & 1u)
			ev |= POLLIN;
		if (((unsigned)bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
			ev |= POLLOUT;
		if (!ev)
			continue;
		pfd[n].fd = socks[i];
		pfd[n].events = ev;
		pfd[n].revents = 0;
		n++;
	}
	struct timeval max = {.tv_sec = 1}, tv;
	struct timeval *t = ares_timeout(r->ch, &max, &tv);
	int ms = (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
	int k = poll(pfd, n, ms);
	if (k <= 0) {
		ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
		return;
	}
	for (nfds_t i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		bool rd = pfd[i].revents & (POLLIN | POLLERR | POLLHUP);
		bool wr = pfd[i].revents & POLLOUT;
		ares_process_fd(r->ch, rd ? pfd[i].fd : ARES_SOCKET_BAD,
				wr ? pfd[i].fd : ARES_SOCKET_BAD);
	}
}

STS_API int sts_resolver_run(struct sts_resolver *r, struct sts_dns_query *q, size_t n)
{
	r->err = STS_OK;
	for (size_t i = 0; i < n; i++) {
		q[i].r_ = r;
		q[i].pending_ = true;
		q[i].status = STS_DNS_ERROR;
		r->pending++;
		submit(r, &q[i]);
	}
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (r->pending > 0) {
		process_once(r);
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ms = (t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L;
		if (r->pending > 0 && ms > r->bound_ms)
			ares_cancel(r->ch); /* every callback runs, with ARES_ECANCELLED */
	}
	return r->err;
}
