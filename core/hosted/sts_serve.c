/* SPDX-License-Identifier: MIT */
/*
 * stsctl serve: the hosted policy server on libevent 2.1 + OpenSSL
 * (sts_serve.h). One event loop in one thread: a policy fetch is a TLS
 * handshake and a few hundred bytes, so the handshakes are the work, and
 * one loop per core can come later with SO_REUSEPORT.
 *
 * evhttp accepts and calls the bufferevent callback, which wraps each
 * connection in OpenSSL (evhttp_set_bevcb; libevent 2.1 gives it no
 * socket). The per-connection state (struct conn) hangs on the SSL as
 * ex_data and is freed with it, which is how a closed connection is
 * counted out. The total is counted there; the client's address is known
 * from the ClientHello callback on (SSL_get_fd + getpeername), where a
 * client over its limit has its socket shut down: it gets no TLS byte.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_serve.h"
#include "sts_serve_int.h"

int sts_serve_conn_idx = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

void sts_serve_log(struct sts_serve *s, enum sts_serve_level lv, const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;
	if (!s->o.on_log)
		return;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) >= 0) {
		s->o.on_log(s->o.ud, lv, m);
		free(m);
	}
	va_end(ap);
}

bool sts_serve_norm_host(const char *in, size_t len, char out[HOST_MAX + 1])
{
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > HOST_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_')
			return false;
		out[i] = (char)tolower(ch);
	}
	out[len] = 0;
	return true;
}

/* ---- connections per client ---- */

static unsigned peer_key(const struct sockaddr *sa, unsigned char key[8])
{
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		memcpy(key, a->s6_addr + 12, 4);
		return 4;
	}
	memcpy(key, a->s6_addr, 8);
	return 8;
}

unsigned sts_serve_hash(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static struct peer **peer_slot(struct sts_serve *s, const unsigned char *key, unsigned len)
{
	struct peer **pp = &s->peers[sts_serve_hash(key, len) % PEER_BUCKETS];
	while (*pp && ((*pp)->len != len || memcmp((*pp)->key, key, len) != 0))
		pp = &(*pp)->next;
	return pp;
}

static void peer_put(struct sts_serve *s, struct peer *p)
{
	if (!p || --p->n > 0)
		return;
	struct peer **pp = peer_slot(s, p->key, p->len);
	if (*pp == p) {
		*pp = p->next;
		free(p);
	}
}

void sts_serve_conn_close(struct conn *c)
{
	int fd = SSL_get_fd(c->ssl);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	c->s->open--;
	peer_put(c->s, c->peer);
	sts_serve_ent_put(c->ent);
	if (c->timer)
		event_free(c->timer);
	free(c);
}

/* OpenSSL frees the SSL of a closed connection, and with it its struct conn. */
static void conn_exfree(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	conn_free(ptr);
}

static void init_once(void)
{
	sts_serve_conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_exfree);
	evthread_use_pthreads();
}

/* The deadlines: a connection that cannot be cut otherwise is shut down; evhttp sees EOF. */
static void conn_timer(evutil_socket_t fd, short what, void *ud)
{
	struct conn *c = ud;
	(void)fd, (void)what;
	if (!c->close_now) {
		c->s->c.timeouts++;
		sts_serve_log(
		    c->s, STS_SERVE_DEBUG, "serve: %s deadline of a connection%s%s, closing",
		    c->handshaken ? "request" : "handshake", c->host[0] ? " for " : "", c->host);
	}
	sts_serve_conn_close(c);
}

static void info_cb(const SSL *ssl, int where, int ret)
{
	struct conn *c = SSL_get_ex_data(ssl, sts_serve_conn_idx);
	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE) || !c || c->handshaken)
		return;
	c->handshaken = true;
	c->s->c.handshakes++;
	if (c->challenge) {
		/* RFC 8737 §3: nothing is served on a challenge connection */
		c->s->c.challenges++;
		c->close_now = true;
		event_active(c->timer, EV_TIMEOUT, 1);
		return;
	}
	time_t left = c->started + (time_t)c->s->o.request_timeout_s - time(NULL);
	struct timeval tv = {left > 0 ? left : 0, 0};
	evtimer_add(c->timer, &tv);
}

/* ---- accepting ---- */

static struct bufferevent *bev_cb(struct event_base *base, void *ud)
{
	struct sts_serve *s = ud;
	struct timeval tv = {(time_t)s->o.handshake_timeout_s, 0};
	struct bufferevent *bev;
	struct conn *c = calloc(1, sizeof(*c));
	SSL *ssl = SSL_new(s->dflt);

	/*
	 * Out of memory: NULL makes evhttp read plain HTTP on this socket; as
	 * it has no struct conn, on_request answers every request 421 there.
	 */
	if (!c || !ssl || !(c->timer = evtimer_new(base, conn_timer, c))) {
		free(c);
		SSL_free(ssl);
		return NULL;
	}
	c->s = s;
	c->ssl = ssl;
	c->started = time(NULL);
	s->open++;
	s->c.connections++;
	SSL_set_ex_data(ssl, sts_serve_conn_idx, c); /* from now on freed with the SSL */
	SSL_set_info_callback(ssl, info_cb);
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl); /* and c with it */
		return NULL;
	}
	evtimer_add(c->timer, &tv);
	return bev;
}

bool sts_serve_count_peer(struct sts_serve *s, struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned char key[8];
	unsigned klen;
	struct peer **pp;
	int fd = SSL_get_fd(c->ssl);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return false;
	klen = peer_key((struct sockaddr *)&ss, key);
	pp = peer_slot(s, key, klen);
	if (s->open > s->o.max_connections || (*pp && (*pp)->n >= s->o.per_ip_connections))
		return false;
	if (!*pp) {
		if (!(*pp = calloc(1, sizeof(**pp))))
			return false;
		memcpy((*pp)->key, key, klen);
		(*pp)->len = klen;
	}
	c->peer = *pp;
	c->peer->n++;
	return true;
}

/* ---- requests ---- */

static struct conn *conn_of(struct evhttp_request *req)
{
	struct evhttp_connection *ec = evhttp_request_get_connection(req);
	struct bufferevent *bev = ec ? evhttp_connection_get_bufferevent(ec) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	return ssl ? SSL_get_ex_data(ssl, sts_serve_conn_idx) : NULL;
}

static void count_host(struct sts_serve *s, const char *host, bool found)
{
	size_t i;
	for (i = 0; i < s->n_hosts && strcmp(s->hosts[i].host, host) != 0; i++)
		;
	if (i == s->n_hosts) {
		if (s->n_hosts >= STS_SERVE_TOP_HOSTS || !(s->hosts[i].host = strdup(host))) {
			s->hosts_other++;
			return;
		}
		s->n_hosts++;
	}
	s->hosts[i].requests++;
	if (!found)
		s->hosts[i].not_found++;
}

/* HEAD: the length of what GET would send, and no body (evhttp 2.1 would send it). */
static void reply(struct evhttp_request *req, int code, const char *reason, const char *ctype,
		  const void *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();
	char n[24];
	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	snprintf(n, sizeof(n), "%zu", len);
	evhttp_add_header(h, "Content-Length", n);
	if (b && len && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

static void not_found(struct evhttp_request *req)
{
	reply(req, 404, "Not Found", "text/plain", "not found\n", 10);
}

/* The Host header, when there is one, must name the SNI host (port and final dot ignored). */
static bool host_matches(struct evhttp_request *req, const char *sni)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	char norm[HOST_MAX + 1];
	size_t n;
	if (!h)
		return true;
	n = strcspn(h, ":");
	return sts_serve_norm_host(h, n, norm) && strcmp(norm, sni) == 0;
}

static void on_request(struct evhttp_request *req, void *ud)
{
	struct sts_serve *s = ud;
	struct conn *c = conn_of(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *uri = evhttp_request_get_uri(req);
	struct sts_hosted_policy p;
	bool found = false;

	s->c.requests++;
	if (!c || !c->host[0] || c->challenge) {
		s->c.errors++;
		evhttp_send_error(req, 421, "Misdirected Request");
		return;
	}
	if (!uri || strcmp(uri, STS_SERVE_POLICY_PATH) != 0) {
		s->c.not_found++;
		count_host(s, c->host, false);
		not_found(req);
		return;
	}
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		s->c.bad_method++;
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply(req, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19);
		return;
	}
	if (!host_matches(req, c->host)) {
		s->c.misdirected++;
		reply(req, 421, "Misdirected Request", "text/plain", "misdirected request\n", 20);
		return;
	}
	if (c->ent && !c->ent->stale) { /* the policy read with the certificate */
		count_host(s, c->host, true);
		s->c.ok++;
		reply(req, 200, "OK", "text/plain", c->ent->body, c->ent->body_len);
		return;
	}
	if (sts_hosted_policy_get(s->o.db, c->host, &p, &found) < 0) {
		s->c.errors++;
		sts_serve_log(s, STS_SERVE_ERR, "serve: cannot read the policy of '%s': %s",
			      c->host, sts_db_errmsg(s->o.db));
		reply(req, 503, "Service Unavailable", "text/plain", "try again later\n", 16);
		return;
	}
	count_host(s, c->host, found);
	if (!found) { /* removed since the handshake */
		s->c.not_found++;
		not_found(req);
		return;
	}
	s->c.ok++;
	reply(req, 200, "OK", "text/plain", p.body, p.body_len);
	sts_hosted_policy_release(&p);
}

/* The plain HTTP-01 listener: only /.well-known/acme-challenge/<token>. */
static void on_plain(struct evhttp_request *req, void *ud)
{
	struct sts_serve *s = ud;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	size_t pl = strlen(STS_SERVE_ACME_PATH);
	char *ka = NULL;

	if ((m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD) && uri &&
	    strncmp(uri, STS_SERVE_ACME_PATH, pl) == 0) {
		pthread_mutex_lock(&s->mu);
		for (struct http_chal *t = s->tokens; t; t = t->next)
			if (strcmp(t->token, uri + pl) == 0) {
				ka = strdup(t->keyauth);
				break;
			}
		pthread_mutex_unlock(&s->mu);
	}
	if (!ka) {
		not_found(req);
		return;
	}
	s->c.http_challenges++;
	reply(req, 200, "OK", "application/octet-stream", ka, strlen(ka));
	free(ka);
}

/* ---- heartbeat and generation, once a second ---- */

static char *counters_json(struct sts_serve *s)
{
	json_t *o = json_object(), *h = json_object();
	char *out;
#define C(name) json_object_set_new(o, #name, json_integer((json_int_t)s->c.name))
	C(connections);
	C(refused_connections);
	C(handshakes);
	C(refused_names);
	C(timeouts);
	C(requests);
	C(ok);
	C(not_found);
	C(misdirected);
	C(bad_method);
	C(errors);
	C(challenges);
	C(http_challenges);
#undef C
	json_object_set_new(o, "open", json_integer(s->open));
	json_object_set_new(o, "cached_certificates", json_integer((json_int_t)s->n_cached));
	for (size_t i = 0; i < s->n_hosts; i++)
		json_object_set_new(h, s->hosts[i].host,
				    json_pack("{sIsI}", "requests",
					      (json_int_t)s->hosts[i].requests, "not_found",
					      (json_int_t)s->hosts[i].not_found));
	json_object_set_new(o, "hosts", h);
	json_object_set_new(o, "hosts_other", json_integer((json_int_t)s->hosts_other));
	out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return out;
}

static void heartbeat(struct sts_serve *s)
{
	char *counters = counters_json(s);
	struct sts_serve_instance i = {
	    .instance = s->instance,
	    .hostname = s->hostname,
	    .pid = (int64_t)getpid(),
	    .listen = s->listen,
	    .started = (int64_t)s->started,
	    .counters = counters,
	};
	if (sts_hosted_heartbeat(s->o.db, &i) < 0)
		sts_serve_log(s, STS_SERVE_WARN, "serve: cannot write the heartbeat: %s, skipping",
			      sts_db_errmsg(s->o.db));
	free(counters);
}

static void on_tick(evutil_socket_t fd, short what, void *ud)
{
	struct sts_serve *s = ud;
	int64_t g = 0;
	(void)fd, (void)what;
	if (sts_hosted_generation(s->o.db, &g) == STS_OK && g != s->generation) {
		sts_serve_log(s, STS_SERVE_DEBUG,
			      "serve: the store changed, %zu cached certificates dropped",
			      s->n_cached);
		sts_serve_cache_flush(s);
		s->generation = g;
	}
	if (++s->ticks % s->o.heartbeat_s == 0)
		heartbeat(s);
	if (s->o.on_tick)
		s->o.on_tick(s->o.ud);
}

/* ---- start and stop ---- */

/* "ADDR:PORT", "[ADDR]:PORT" or ":PORT" (IPv4 any), as stsctl receive takes them */
static int parse_listen(const char *in, struct sockaddr_storage *ss, int *len)
{
	const char *colon = in ? strrchr(in, ':') : NULL;
	char host[64], *end;
	size_t hn;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (!colon || (hn = (size_t)(colon - in)) >= sizeof(host))
		return STS_EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return STS_EINVAL;
	memcpy(host, in, hn);
	host[hn] = 0;
	if (host[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		if (hn < 3 || host[hn - 1] != ']')
			return STS_EINVAL;
		host[hn - 1] = 0;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = (int)sizeof(*a);
		return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? STS_OK : STS_EINVAL;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	*len = (int)sizeof(*a);
	return !hn || inet_pton(AF_INET, host, &a->sin_addr) == 1 ? STS_OK : STS_EINVAL;
}

static unsigned bound_port(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void http_limits(struct sts_serve *s, struct evhttp *h)
{
	evhttp_set_timeout(h, (int)s->o.request_timeout_s);
	evhttp_set_max_headers_size(h, (ev_ssize_t)s->o.max_header);
	evhttp_set_max_body_size(h, 0); /* nothing here takes a body: 413 */
	evhttp_set_default_content_type(h, "text/plain");
	/* every method reaches the handler, which answers 405 itself (evhttp: 501) */
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
					  EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
					  EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
}

static void *loop_main(void *ud)
{
	struct sts_serve *s = ud;
	event_base_dispatch(s->base);
	return NULL;
}

static void *or_default(void *v, void *dflt)
{
	return v ? v : dflt;
}

STS_API int sts_serve_start(const struct sts_serve_opts *o, struct sts_serve **ret, char **reterr)
{
	struct sts_serve *s;
	struct sockaddr_storage ss;
	int sl, r;
	char host[256] = "";
	struct timeval one = {1, 0};
	struct evconnlistener *lis;

	if (!o || !o->db)
		return sts_fail(reterr, STS_EINVAL, "no state database");
	pthread_once(&once, init_once);
	if (sts_serve_conn_idx < 0)
		return sts_fail(reterr, STS_ENOMEM, "cannot set up OpenSSL");
	if (!(s = calloc(1, sizeof(*s))))
		return sts_fail(reterr, STS_ENOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	s->o = *o;
	s->o.listen = or_default((void *)o->listen, STS_SERVE_LISTEN);
#define DEF(f, v)                                                                                  \
	if (!s->o.f)                                                                               \
	s->o.f = (v)
	DEF(max_connections, STS_SERVE_MAX_CONNECTIONS);
	DEF(per_ip_connections, STS_SERVE_PER_IP_CONNS);
	DEF(handshake_timeout_s, STS_SERVE_HANDSHAKE_TIMEOUT);
	DEF(request_timeout_s, STS_SERVE_REQUEST_TIMEOUT);
	DEF(max_header, STS_SERVE_MAX_HEADER);
	DEF(cache, STS_SERVE_CACHE);
	DEF(heartbeat_s, STS_SERVE_HEARTBEAT);
#undef DEF
	s->started = time(NULL);
	gethostname(host, sizeof(host) - 1);
	s->hostname = strdup(host);
	s->listen = strdup(s->o.listen);
	if (o->instance)
		s->instance = strdup(o->instance);
	else if (asprintf(&s->instance, "%s:%ld", host, (long)getpid()) < 0)
		s->instance = NULL;
	for (s->n_buckets = 64; s->n_buckets < 2 * s->o.cache; s->n_buckets *= 2)
		;
	s->buckets = calloc(s->n_buckets, sizeof(*s->buckets));
	s->hosts = calloc(STS_SERVE_TOP_HOSTS, sizeof(*s->hosts));
	s->o.listen = s->listen;
	s->o.http_listen = NULL; /* not kept */
	if (!s->hostname || !s->listen || !s->instance || !s->buckets || !s->hosts) {
		r = sts_fail(reterr, STS_ENOMEM, "out of memory");
		goto err;
	}
	if (sts_hosted_generation(o->db, &s->generation) < 0) {
		r = sts_fail(reterr, STS_EDB, "cannot read the store: %s", sts_db_errmsg(o->db));
		goto err;
	}
	if (!(s->dflt = sts_serve_ctx_new())) {
		r = sts_fail(reterr, STS_ETLS, "cannot set up TLS");
		goto err;
	}
	SSL_CTX_set_client_hello_cb(s->dflt, sts_serve_client_hello, s);
	/* NULL: each key is read with a decoder of its own, as PEM_read_bio_PrivateKey does */
	s->dec = sts_serve_key_decoder(&s->dec_out);
	if (sts_hosted_lookup_new(o->db, &s->lookup) < 0) {
		r = sts_fail(reterr, STS_ENOMEM, "out of memory");
		goto err;
	}
	if (!(s->base = event_base_new()) || !(s->http = evhttp_new(s->base))) {
		r = sts_fail(reterr, STS_ENOMEM, "cannot set up the event loop");
		goto err;
	}
	http_limits(s, s->http);
	evhttp_set_bevcb(s->http, bev_cb, s);
	evhttp_set_gencb(s->http, on_request, s);
	if (parse_listen(s->listen, &ss, &sl) < 0) {
		r = sts_fail(
		    reterr, STS_EINVAL,
		    "invalid listen address '%s': expected ADDR:PORT, [ADDR]:PORT or :PORT",
		    s->listen);
		goto err;
	}
	lis = evconnlistener_new_bind(
	    s->base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&ss, sl);
	if (!lis) {
		r = sts_fail(reterr, STS_EIO, "cannot listen on '%s': %s", s->listen,
			     strerror(errno));
		goto err;
	}
	s->port = bound_port(evconnlistener_get_fd(lis));
	if (!evhttp_bind_listener(s->http, lis)) { /* evhttp owns it from now on */
		evconnlistener_free(lis);
		r = sts_fail(reterr, STS_ENOMEM, "out of memory");
		goto err;
	}
	if (o->http_listen) {
		struct evhttp_bound_socket *bs;
		char *a = NULL;
		evutil_socket_t fd;
		if (parse_listen(o->http_listen, &ss, &sl) < 0) {
			r = sts_fail(reterr, STS_EINVAL, "invalid --http address '%s'",
				     o->http_listen);
			goto err;
		}
		if (!(s->plain = evhttp_new(s->base))) {
			r = sts_fail(reterr, STS_ENOMEM, "out of memory");
			goto err;
		}
		http_limits(s, s->plain);
		evhttp_set_gencb(s->plain, on_plain, s);
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0)
			evutil_make_listen_socket_reuseable(fd);
		if (fd < 0 || bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0 ||
		    listen(fd, 128) < 0 || !(bs = evhttp_accept_socket_with_handle(s->plain, fd))) {
			r = sts_fail(reterr, STS_EIO, "cannot listen on '%s': %s", o->http_listen,
				     strerror(errno));
			if (fd >= 0)
				close(fd);
			goto err;
		}
		s->http_port = bound_port(fd);
		free(a);
	}
	if (!(s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s)) ||
	    event_add(s->tick, &one) < 0) {
		r = sts_fail(reterr, STS_ENOMEM, "out of memory");
		goto err;
	}
	heartbeat(s);
	if (pthread_create(&s->thread, NULL, loop_main, s) != 0) {
		r = sts_fail(reterr, STS_ENOMEM, "cannot start the event loop's thread");
		goto err;
	}
	s->thread_started = true;
	*ret = s;
	return STS_OK;
err:
	sts_serve_stop(s);
	return r;
}

STS_API unsigned sts_serve_port(const struct sts_serve *s)
{
	return s->port;
}

STS_API unsigned sts_serve_http_port(const struct sts_serve *s)
{
	return s->http_port;
}

STS_API void sts_serve_stop(struct sts_serve *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		event_base_loopexit(s->base, NULL);
		pthread_join(s->thread, NULL);
		heartbeat(s);
	}
	if (s->http)
		evhttp_free(
		    s->http); /* closes the connections: their struct conn go with the SSL */
	if (s->plain)
		evhttp_free(s->plain);
	if (s->tick)
		event_free(s->tick);
	sts_serve_tls_release(s);
	if (s->base)
		event_base_free(s->base);
	SSL_CTX_free(s->dflt);
	for (size_t i = 0; i < PEER_BUCKETS; i++)
		while (s->peers[i]) {
			struct peer *p = s->peers[i];
			s->peers[i] = p->next;
			free(p);
		}
	while (s->tokens) {
		struct http_chal *t = s->tokens;
		s->tokens = t->next;
		STS_FREE_ALL(t->token, t->keyauth, t);
	}
	for (size_t i = 0; s->hosts && i < s->n_hosts; i++)
		free(s->hosts[i].host);
	STS_FREE_ALL(s->hosts, s->buckets, s->instance, s->listen, s->hostname);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- HTTP-01 challenges ---- */

STS_API int sts_serve_http_challenge_set(struct sts_serve *s, const char *token,
					 const char *keyauth)
{
	struct http_chal *t;
	size_t n = token ? strlen(token) : 0;
	if (n == 0 || n > MAX_TOKEN_LEN ||
	    strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
			  "vwxyz0123456789-_") != n ||
	    !keyauth)
		return STS_EINVAL;
	sts_serve_http_challenge_clear(s, token);
	if (!(t = calloc(1, sizeof(*t))) || !(t->token = strdup(token)) ||
	    !(t->keyauth = strdup(keyauth))) {
		if (t)
			free(t->token);
		free(t);
		return STS_ENOMEM;
	}
	pthread_mutex_lock(&s->mu);
	t->next = s->tokens;
	s->tokens = t;
	pthread_mutex_unlock(&s->mu);
	return STS_OK;
}

STS_API void sts_serve_http_challenge_clear(struct sts_serve *s, const char *token)
{
	if (!token)
		return;
	pthread_mutex_lock(&s->mu);
	for (struct http_chal **pp = &s->tokens; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->token, token) == 0) {
			struct http_chal *t = *pp;
			*pp = t->next;
			STS_FREE_ALL(t->token, t->keyauth, t);
			break;
		}
	pthread_mutex_unlock(&s->mu);
}
