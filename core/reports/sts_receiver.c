/* SPDX-License-Identifier: MIT */
/*
 * HTTPS receiver for RFC 8460 §5.4 POSTs on libmicrohttpd (sts_receiver.h).
 * Requests are judged from their headers first (path, method, media type,
 * Content-Length), so a refused body is never read; an accepted body is
 * collected in a capped buffer and handed to the handler once complete.
 *
 * Abuse limits: every connection is tracked from accept (libmicrohttpd's
 * connection notifications) with its client's slot (per-client counters)
 * and the start of its current request; a watchdog thread shuts down the
 * socket of a request past its absolute deadline (libmicrohttpd only has
 * an idle timeout, which one byte every few seconds defeats). Bodies
 * reserve their size from a global memory budget before they are read.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "sts_buf.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_receiver.h"

/* one client: an IPv4 address, or the /64 of an IPv6 address */
struct ip_slot {
	char key[INET6_ADDRSTRLEN + 4]; /* "" = free */
	unsigned conns;			/* open connections */
	unsigned requests;		/* in the minute from window_ms */
	long long window_ms;
};

/* one TCP connection, from accept to close (libmicrohttpd's socket context) */
struct conn {
	struct conn *prev, *next;
	int fd;
	struct ip_slot *ip; /* NULL: no slot was free (not limited per client) */
	long long start_ms; /* the current request's deadline counts from here */
	bool busy;	    /* its body is complete: handled and answered, no deadline */
	bool cut;	    /* shut down at its deadline */
	char peer[INET6_ADDRSTRLEN + 1];
};

struct sts_receiver {
	struct MHD_Daemon *d;
	struct sts_receiver_opts o;
	char *path, *cert, *key;
	unsigned port;
	pthread_mutex_t log_mu; /* log[] and every on_access call */
	char log[256];		/* last libmicrohttpd message, for start-up errors */
	pthread_mutex_t mu;	/* everything below */
	pthread_cond_t cv;	/* wakes the watchdog to stop */
	struct conn *conns;
	struct ip_slot *ips;
	size_t n_ips;
	size_t held; /* body bytes reserved by the requests in flight */
	bool stopping, watchdog_on;
	pthread_t watchdog;
};

struct request {
	unsigned status; /* decided before the body: 404, 405, 413, 415, 429, 503 */
	const char *why;
	unsigned retry_after;
	char ctype[32];
	struct sts_buf body;
	size_t reserved; /* of rv->held */
	bool queued;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct sts_receiver *r = cls;
	pthread_mutex_lock(&r->log_mu);
	vsnprintf(r->log, sizeof(r->log), fmt, ap);
	size_t n = strlen(r->log);
	while (n && (r->log[n - 1] == '\n' || r->log[n - 1] == '.'))
		r->log[--n] = '\0';
	pthread_mutex_unlock(&r->log_mu);
}

static void access_log(struct sts_receiver *rv, const char *peer, const char *method,
		       const char *url, unsigned status, const char *msg)
{
	if (!rv->o.on_access)
		return;
	pthread_mutex_lock(&rv->log_mu);
	rv->o.on_access(rv->o.access_ud, peer, method, url, status, msg);
	pthread_mutex_unlock(&rv->log_mu);
}

/*
 * The client's address as text into out: the whole address (peer), or the
 * per-client key (per_client): the IPv4 address, also when v4-mapped, or
 * the /64 of an IPv6 address.
 */
static void addr_text(struct MHD_Connection *c, bool per_client, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, n, "?");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)n);
		return;
	}
	if (sa->sa_family != AF_INET6)
		return;
	struct in6_addr a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (!per_client) {
		inet_ntop(AF_INET6, &a, out, (socklen_t)n);
	} else if (IN6_IS_ADDR_V4MAPPED(&a)) {
		inet_ntop(AF_INET, &a.s6_addr[12], out, (socklen_t)n);
	} else {
		memset(&a.s6_addr[8], 0, 8);
		char buf[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &a, buf, sizeof(buf));
		snprintf(out, n, "%s/64", buf);
	}
}

static void peer_of(struct MHD_Connection *c, char *out, size_t n)
{
	addr_text(c, false, out, n);
}

/* rv->mu held: the slot of key, a free one, or the idle one seen longest ago */
static struct ip_slot *ip_slot(struct sts_receiver *rv, const char *key, long long now)
{
	struct ip_slot *best = NULL;
	for (size_t i = 0; i < rv->n_ips; i++) {
		struct ip_slot *e = &rv->ips[i];
		if (strcmp(e->key, key) == 0)
			return e;
		if (e->conns)
			continue;
		if (!e->key[0] || now - e->window_ms >= 60000)
			best = best && !best->key[0] ? best : e;
		else if (!best || (best->key[0] && e->window_ms < best->window_ms))
			best = e;
	}
	if (best) {
		memset(best, 0, sizeof(*best));
		snprintf(best->key, sizeof(best->key), "%s", key);
		best->window_ms = now;
	}
	return best;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct sts_receiver *rv = cls;
	struct conn *k = *socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		if (!(k = calloc(1, sizeof(*k))))
			return; /* not tracked: still served, with the idle timeout */
		const union MHD_ConnectionInfo *fi =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		k->fd = fi ? fi->connect_fd : -1;
		char key[sizeof(k->ip->key)];
		addr_text(c, true, key, sizeof(key));
		peer_of(c, k->peer, sizeof(k->peer));
		pthread_mutex_lock(&rv->mu);
		k->start_ms = now_ms();
		if ((k->ip = ip_slot(rv, key, k->start_ms)))
			k->ip->conns++;
		k->next = rv->conns;
		if (rv->conns)
			rv->conns->prev = k;
		rv->conns = k;
		pthread_mutex_unlock(&rv->mu);
		*socket_context = k;
		return;
	}
	if (!k)
		return;
	/* closed: libmicrohttpd closes the socket after this, so the watchdog never sees it reused
	 */
	pthread_mutex_lock(&rv->mu);
	if (k->prev)
		k->prev->next = k->next;
	else
		rv->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	if (k->ip)
		k->ip->conns--;
	pthread_mutex_unlock(&rv->mu);
	free(k);
	*socket_context = NULL;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Cut off every request past its deadline; logged as 408. */
static void *watchdog(void *arg)
{
	struct sts_receiver *rv = arg;
	const long long limit = (long long)rv->o.request_timeout_s * 1000;
	pthread_mutex_lock(&rv->mu);
	while (!rv->stopping) {
		long long now = now_ms();
		char cut[8][INET6_ADDRSTRLEN + 1];
		size_t n_cut = 0;
		for (struct conn *k = rv->conns; k; k = k->next) {
			if (k->busy || k->cut || now - k->start_ms < limit || k->fd < 0)
				continue;
			shutdown(k->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
			k->cut = true;
			if (n_cut < 8)
				memcpy(cut[n_cut++], k->peer, sizeof(k->peer));
		}
		if (n_cut) {
			pthread_mutex_unlock(&rv->mu);
			char msg[96];
			snprintf(msg, sizeof(msg),
				 "request deadline of %u s exceeded, connection closed",
				 rv->o.request_timeout_s);
			for (size_t i = 0; i < n_cut; i++)
				access_log(rv, cut[i], "-", "-", MHD_HTTP_REQUEST_TIMEOUT, msg);
			pthread_mutex_lock(&rv->mu);
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&rv->cv, &rv->mu, &ts);
	}
	pthread_mutex_unlock(&rv->mu);
	return NULL;
}

/* Reserve body memory up to total bytes for q; false: over the budget. */
static bool reserve(struct sts_receiver *rv, struct request *q, size_t total)
{
	if (total <= q->reserved)
		return true;
	bool ok;
	pthread_mutex_lock(&rv->mu);
	size_t more = total - q->reserved;
	ok = rv->held + more <= rv->o.body_memory;
	if (ok) {
		rv->held += more;
		q->reserved = total;
	}
	pthread_mutex_unlock(&rv->mu);
	return ok;
}

/* per-client limits, counted for every request; 0 or 429 with *retry_after and *why */
static unsigned client_limits(struct sts_receiver *rv, struct conn *k, unsigned *retry_after,
			      const char **why)
{
	unsigned status = 0;
	if (!k)
		return 0;
	pthread_mutex_lock(&rv->mu);
	struct ip_slot *e = k->ip;
	long long now = now_ms();
	if (e) {
		if (now - e->window_ms >= 60000) {
			e->window_ms = now;
			e->requests = 0;
		}
		e->requests++;
		if (e->conns > rv->o.per_ip_connections) {
			status = MHD_HTTP_TOO_MANY_REQUESTS;
			*retry_after = 10;
			*why = "too many connections from your address";
		} else if (e->requests > rv->o.per_ip_requests) {
			status = MHD_HTTP_TOO_MANY_REQUESTS;
			*retry_after = (unsigned)((e->window_ms + 60000 - now + 999) / 1000);
			if (!*retry_after)
				*retry_after = 1;
			*why = "too many requests from your address";
		}
	}
	pthread_mutex_unlock(&rv->mu);
	return status;
}

static enum MHD_Result respond(struct sts_receiver *rv, struct MHD_Connection *c,
			       const char *method, const char *url, unsigned status,
			       const char *msg, unsigned retry_after)
{
	char body[300];
	int n = snprintf(body, sizeof(body), "%s\n", msg);
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
	if (retry_after) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (status == MHD_HTTP_TOO_MANY_REQUESTS) /* refused: do not keep the connection */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (rv->o.on_access) {
		char peer[INET6_ADDRSTRLEN + 1];
		peer_of(c, peer, sizeof(peer));
		access_log(rv, peer, method, url, status, msg);
	}
	return ok;
}

/* "application/tlsrpt+gzip; charset=..." -> "application/tlsrpt+gzip", or NULL */
static const char *media_type(const char *v, char out[32])
{
	static const char *const ok[] = {"application/tlsrpt+json", "application/tlsrpt+gzip"};
	if (!v)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strcspn(v, "; \t");
	for (size_t i = 0; i < 2; i++)
		if (n == strlen(ok[i]) && strncasecmp(v, ok[i], n) == 0) {
			snprintf(out, 32, "%s", ok[i]);
			return out;
		}
	return NULL;
}

/* judge a request from its headers */
static void first_look(struct sts_receiver *rv, struct MHD_Connection *c, const char *url,
		       const char *method, struct request *q)
{
	if (strcmp(url, rv->path) != 0) {
		q->status = MHD_HTTP_NOT_FOUND;
		q->why = "not found";
		return;
	}
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
		q->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		q->why = "only POST is accepted (RFC 8460 section 5.4)";
		return;
	}
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	if (!media_type(ct, q->ctype)) {
		q->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		q->why = "expected application/tlsrpt+json or application/tlsrpt+gzip";
		return;
	}
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
	if (len > rv->o.max_body) {
		q->status = MHD_HTTP_CONTENT_TOO_LARGE;
		q->why = "report too large";
	} else if (!reserve(rv, q, (size_t)len)) {
		q->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		q->why = "too many reports in transit, try again later";
		q->retry_after = 30;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct sts_receiver *rv = cls;
	struct request *q = *con_cls;
	(void)version;
	if (!q) {
		if (!(q = calloc(1, sizeof(*q))))
			return MHD_NO;
		sts_buf_init(&q->body, rv->o.max_body);
		*con_cls = q;
		q->status = client_limits(rv, conn_of(c), &q->retry_after, &q->why);
		if (!q->status)
			first_look(rv, c, url, method, q);
		if (q->status) { /* answer at once: the body is never read */
			q->queued = true;
			return respond(rv, c, method, url, q->status, q->why, q->retry_after);
		}
		return MHD_YES;
	}
	if (*data_size) {
		if (!q->status && !reserve(rv, q, q->body.len + *data_size)) {
			q->status = MHD_HTTP_SERVICE_UNAVAILABLE;
			q->why = "too many reports in transit, try again later";
			q->retry_after = 30;
			sts_buf_release(&q->body);
		} else if (!q->status && sts_buf_append(&q->body, data, *data_size) < 0) {
			q->status = MHD_HTTP_CONTENT_TOO_LARGE;
			q->why = "report too large";
			sts_buf_release(&q->body);
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (q->queued)
		return MHD_YES;
	q->queued = true;
	struct conn *k = conn_of(c);
	if (k) { /* complete: no deadline while it is stored and answered */
		pthread_mutex_lock(&rv->mu);
		k->busy = true;
		pthread_mutex_unlock(&rv->mu);
	}
	if (q->status)
		return respond(rv, c, method, url, q->status, q->why, q->retry_after);
	char peer[INET6_ADDRSTRLEN + 1];
	peer_of(c, peer, sizeof(peer));
	struct sts_receiver_request req = {
	    .peer = peer,
	    .content_type = q->ctype,
	    .body = q->body.data ? q->body.data : "",
	    .len = q->body.len,
	};
	struct sts_receiver_reply rep = {.status = MHD_HTTP_INTERNAL_SERVER_ERROR};
	snprintf(rep.message, sizeof(rep.message), "no handler");
	if (rv->o.handler)
		rv->o.handler(rv->o.ud, &req, &rep);
	return respond(rv, c, method, url, rep.status, rep.message, rep.retry_after);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct sts_receiver *rv = cls;
	struct request *q = *con_cls;
	(void)toe;
	struct conn *k = c ? conn_of(c) : NULL;
	pthread_mutex_lock(&rv->mu);
	if (q)
		rv->held -= q->reserved;
	if (k) { /* the next request on this connection has its own deadline */
		k->start_ms = now_ms();
		k->busy = false;
	}
	pthread_mutex_unlock(&rv->mu);
	if (!q)
		return;
	sts_buf_release(&q->body);
	free(q);
	*con_cls = NULL;
}

/* "ADDR:PORT", "[ADDR]:PORT", ":PORT" */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *v6)
{
	char host[64];
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon)
		return STS_EINVAL;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return STS_EINVAL;
	size_t hn = (size_t)(colon - s);
	if (hn >= sizeof(host))
		return STS_EINVAL;
	memcpy(host, s, hn);
	host[hn] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		if (hn < 2 || host[hn - 1] != ']')
			return STS_EINVAL;
		host[hn - 1] = '\0';
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return STS_EINVAL;
		*len = sizeof(*a);
		*v6 = true;
		return STS_OK;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (hn && inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return STS_EINVAL;
	*len = sizeof(*a);
	*v6 = false;
	return STS_OK;
}

STS_API int sts_receiver_start(const struct sts_receiver_opts *o, struct sts_receiver **ret,
			       char **reterr)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	bool v6 = false;
	if (reterr)
		*reterr = NULL;
	if (parse_listen(o->listen, &ss, &sl, &v6) < 0)
		return sts_fail(
		    reterr, STS_EINVAL,
		    "invalid listen address '%s': expected ADDR:PORT, [ADDR]:PORT or :PORT",
		    o->listen ? o->listen : "");
	if (!o->cert_pem || !o->key_pem)
		return sts_fail(reterr, STS_EINVAL, "the receiver needs a certificate and a key");
	struct sts_receiver *rv = calloc(1, sizeof(*rv));
	if (!rv)
		return STS_ENOMEM;
	rv->o = *o;
	pthread_mutex_init(&rv->log_mu, NULL);
	pthread_mutex_init(&rv->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rv->cv, &ca);
	pthread_condattr_destroy(&ca);
	rv->path = strdup(o->path ? o->path : STS_RECEIVER_DEFAULT_PATH);
	rv->cert = strdup(o->cert_pem);
	rv->key = strdup(o->key_pem);
	if (!rv->path || !rv->cert || !rv->key) {
		sts_receiver_stop(rv);
		return STS_ENOMEM;
	}
#define OR_DEFAULT(v, d) ((v) = (v) ? (v) : (d)) /* 0 = the default */
	OR_DEFAULT(rv->o.max_body, STS_RECEIVER_MAX_BODY);
	OR_DEFAULT(rv->o.body_memory, STS_RECEIVER_BODY_MEMORY);
	OR_DEFAULT(rv->o.max_connections, STS_RECEIVER_MAX_CONNECTIONS);
	OR_DEFAULT(rv->o.per_ip_connections, STS_RECEIVER_PER_IP_CONNS);
	OR_DEFAULT(rv->o.per_ip_requests, STS_RECEIVER_PER_IP_REQUESTS);
	OR_DEFAULT(rv->o.timeout_s, STS_RECEIVER_IDLE_TIMEOUT);
	OR_DEFAULT(rv->o.request_timeout_s, STS_RECEIVER_REQUEST_TIMEOUT);
#undef OR_DEFAULT
	rv->n_ips = (size_t)rv->o.max_connections * 2 + 1024;
	if (!(rv->ips = calloc(rv->n_ips, sizeof(*rv->ips)))) {
		sts_receiver_stop(rv);
		return STS_ENOMEM;
	}
	/* ITC: MHD_quiesce_daemon() needs it to stop accepting cleanly */
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (v6)
		flags |= MHD_USE_IPv6;
	rv->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, rv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, rv,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, rv, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
	    rv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_HTTPS_MEM_CERT, rv->cert,
	    MHD_OPTION_HTTPS_MEM_KEY, rv->key, MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1", MHD_OPTION_CONNECTION_LIMIT,
	    rv->o.max_connections,
	    /* a hard stop past twice the per-client limit; up to it, 429 */
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, rv->o.per_ip_connections * 2,
	    MHD_OPTION_CONNECTION_TIMEOUT, rv->o.timeout_s, MHD_OPTION_THREAD_POOL_SIZE,
	    o->threads ? o->threads : 2u, MHD_OPTION_END);
	/* the TLS library holds the key now: the PEM text is wiped at once */
	explicit_bzero(rv->key, strlen(rv->key));
	free(rv->key);
	rv->key = NULL;
	if (!rv->d) {
		int r = sts_fail(reterr, STS_EIO, "cannot start the receiver on '%s': %s",
				 o->listen, rv->log[0] ? rv->log : "libmicrohttpd failed");
		sts_receiver_stop(rv);
		return r;
	}
	if (pthread_create(&rv->watchdog, NULL, watchdog, rv) != 0) {
		sts_receiver_stop(rv);
		return sts_fail(reterr, STS_ENOMEM, "cannot start the receiver's watchdog thread");
	}
	rv->watchdog_on = true;
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(rv->d, MHD_DAEMON_INFO_BIND_PORT);
	rv->port = di ? di->port : 0;
	*ret = rv;
	return STS_OK;
}

STS_API unsigned sts_receiver_port(const struct sts_receiver *r)
{
	return r->port;
}

STS_API void sts_receiver_stop(struct sts_receiver *r)
{
	if (!r)
		return;
	if (r->watchdog_on) {
		pthread_mutex_lock(&r->mu);
		r->stopping = true;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->watchdog, NULL);
	}
	if (r->d) {
		MHD_socket s = MHD_quiesce_daemon(r->d);
		if (s != MHD_INVALID_SOCKET)
			close(s);
		MHD_stop_daemon(r->d);
	}
	if (r->key)
		explicit_bzero(r->key, strlen(r->key));
	STS_FREE_ALL(r->key, r->cert, r->path, r->ips);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->log_mu);
	free(r);
}

/* ---- the store handler ---- */

STS_API void sts_receiver_store_init(struct sts_receiver_store *s, struct sts_ingest *ing,
				     bool trusted, const char *db_path)
{
	memset(s, 0, sizeof(*s));
	s->ing = ing;
	s->trusted = trusted;
	s->db_path = db_path;
	pthread_mutex_init(&s->mu, NULL);
}

STS_API void sts_receiver_store_quota(struct sts_receiver_store *s, struct sts_db *db,
				      long long max_reports, long long max_bytes)
{
	pthread_mutex_lock(&s->mu); /* may be called while the receiver runs */
	s->db = db;
	s->quota_reports = max_reports;
	s->quota_bytes = max_bytes;
	s->q_at = 0;
	pthread_mutex_unlock(&s->mu);
}

STS_API void sts_receiver_store_release(struct sts_receiver_store *s)
{
	pthread_mutex_destroy(&s->mu);
}

static int lock_wait(const char *db_path, long wait_ms, struct sts_lock **ret)
{
	struct timespec ts = {0, 50 * 1000000L};
	for (long waited = 0;; waited += 50) {
		int r = sts_lock_acquire(db_path, ret);
		if (r != STS_ELOCKED || waited >= wait_ms)
			return r;
		nanosleep(&ts, NULL);
	}
}

/*
 * What the quota counts (sts_ingest_quota_used()): the unauthenticated
 * reports stored, pending ones included (by the size of their raw report,
 * plus a pending one's kept message), and the quarantined inputs, in the
 * state database; ingest refuses pending input past it too.
 * Counting scans both tables (0.2 s for 200000 reports and 50000
 * quarantined inputs), so it is done at the first request, again every 10
 * minutes (ingest and prune change the state too), and, when the quota
 * looks full, at most once a minute (has prune made room?); in between,
 * what this receiver stores is added.
 */
#define QUOTA_RECOUNT_MS      (600 * 1000LL)
#define QUOTA_FULL_RECOUNT_MS (60 * 1000LL)

static int quota_count(struct sts_receiver_store *s, long long now)
{
	int r = sts_ingest_quota_used(s->db, &s->q_reports, &s->q_bytes);
	if (r == STS_OK)
		s->q_at = now;
	return r;
}

/* s->mu held: would storing len more unauthenticated bytes pass the quota? */
static int quota_full(struct sts_receiver_store *s, size_t len, bool *ret_full)
{
	*ret_full = false;
	if (s->trusted || !s->db)
		return STS_OK;
	long long now = now_ms(), maxr, maxb;
	int r = STS_OK;
	if (!s->q_at || now - s->q_at >= QUOTA_RECOUNT_MS)
		r = quota_count(s, now);
	maxr = s->quota_reports > 0 ? s->quota_reports : STS_RECEIVER_QUOTA_REPORTS;
	maxb = s->quota_bytes > 0 ? s->quota_bytes : STS_RECEIVER_QUOTA_BYTES;
	bool full = s->q_reports >= maxr || s->q_bytes + (long long)len > maxb;
	if (r == STS_OK && full && now - s->q_at >= QUOTA_FULL_RECOUNT_MS) {
		r = quota_count(s, now);
		full = s->q_reports >= maxr || s->q_bytes + (long long)len > maxb;
	}
	*ret_full = full;
	return r;
}

STS_API void sts_receiver_store_handler(void *ud, const struct sts_receiver_request *req,
					struct sts_receiver_reply *reply)
{
	struct sts_receiver_store *s = ud;
	struct sts_lock *lk = NULL;
	enum sts_ingest_outcome oc = STS_INGEST_QUARANTINED;
	const char *why = NULL;
	char source[96];
	snprintf(source, sizeof(source), "https %s", req->peer);
	pthread_mutex_lock(&s->mu);
	int r = s->db_path ? lock_wait(s->db_path, s->lock_wait_ms ? s->lock_wait_ms : 5000, &lk)
			   : STS_OK;
	bool full = false;
	if (r == STS_OK)
		r = quota_full(s, req->len, &full);
	if (r == STS_OK && full) {
		sts_lock_release(lk);
		reply->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		reply->retry_after = 3600;
		snprintf(reply->message, sizeof(reply->message),
			 "storage quota for unauthenticated reports is full, try again later");
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (r == STS_OK)
		r = sts_ingest_blob(s->ing, req->body, req->len, STS_CH_HTTPS, source, s->trusted,
				    s->trusted ? "https: receiver configured as trusted"
					       : "https: posted reports carry no signature",
				    &oc, &why);
	if (r == STS_OK && (oc == STS_INGEST_STORED || oc == STS_INGEST_QUARANTINED)) {
		s->q_reports++; /* counted as stored (gzip may make it smaller) */
		s->q_bytes += (long long)req->len;
	}
	sts_lock_release(lk);
	if (r == STS_ELOCKED || r == STS_EDB) {
		reply->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		reply->retry_after = 60;
		snprintf(reply->message, sizeof(reply->message), "%s",
			 r == STS_ELOCKED ? "busy, try again later"
					  : "cannot store the report now");
	} else if (r < 0) {
		reply->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		snprintf(reply->message, sizeof(reply->message), "%s", sts_strerror(r));
	} else if (oc == STS_INGEST_STORED) {
		reply->status = MHD_HTTP_CREATED;
		snprintf(reply->message, sizeof(reply->message), "stored");
	} else if (oc == STS_INGEST_DUPLICATE || oc == STS_INGEST_UPGRADED) {
		reply->status = MHD_HTTP_OK;
		snprintf(reply->message, sizeof(reply->message), "already stored");
	} else {
		reply->status = MHD_HTTP_BAD_REQUEST;
		snprintf(reply->message, sizeof(reply->message), "report rejected: %s",
			 why ? why : "unusable");
	}
	pthread_mutex_unlock(&s->mu);
}
