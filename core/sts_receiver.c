/* SPDX-License-Identifier: MIT */
/*
 * HTTPS receiver for RFC 8460 §5.4 POSTs on libmicrohttpd (sts_receiver.h).
 * Requests are judged from their headers first (path, method, media type,
 * Content-Length), so a refused body is never read; an accepted body is
 * collected in a capped buffer and handed to the handler once complete.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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

struct sts_receiver {
	struct MHD_Daemon *d;
	struct sts_receiver_opts o;
	char *path, *cert, *key;
	unsigned port;
	char log[256]; /* last libmicrohttpd message, for start-up errors */
};

struct request {
	unsigned status; /* decided before the body: 404, 405, 413, 415 */
	const char *why;
	char ctype[32];
	struct sts_buf body;
	bool queued;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct sts_receiver *r = cls;
	vsnprintf(r->log, sizeof(r->log), fmt, ap);
	size_t n = strlen(r->log);
	while (n && (r->log[n - 1] == '\n' || r->log[n - 1] == '.'))
		r->log[--n] = '\0';
}

static void peer_of(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, n, "?");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  out, (socklen_t)n);
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
	enum MHD_Result ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (rv->o.on_access) {
		char peer[INET6_ADDRSTRLEN + 1];
		peer_of(c, peer, sizeof(peer));
		rv->o.on_access(rv->o.access_ud, peer, method, url, status, msg);
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
	if (cl && strtoull(cl, NULL, 10) > rv->o.max_body) {
		q->status = MHD_HTTP_CONTENT_TOO_LARGE;
		q->why = "report too large";
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
		first_look(rv, c, url, method, q);
		if (q->status) { /* answer at once: the body is never read */
			q->queued = true;
			return respond(rv, c, method, url, q->status, q->why, 0);
		}
		return MHD_YES;
	}
	if (*data_size) {
		if (!q->status && sts_buf_append(&q->body, data, *data_size) < 0) {
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
	if (q->status)
		return respond(rv, c, method, url, q->status, q->why, 0);
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
	struct request *q = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
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

static int fail(char **reterr, int r, const char *fmt, ...) STS_PRINTF(3, 4);
static int fail(char **reterr, int r, const char *fmt, ...)
{
	if (reterr) {
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(reterr, fmt, ap) < 0)
			*reterr = NULL;
		va_end(ap);
	}
	return r;
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
		return fail(reterr, STS_EINVAL,
			    "invalid listen address '%s': expected ADDR:PORT, [ADDR]:PORT or :PORT",
			    o->listen ? o->listen : "");
	if (!o->cert_pem || !o->key_pem)
		return fail(reterr, STS_EINVAL, "the receiver needs a certificate and a key");
	struct sts_receiver *rv = calloc(1, sizeof(*rv));
	if (!rv)
		return STS_ENOMEM;
	rv->o = *o;
	rv->path = strdup(o->path ? o->path : STS_RECEIVER_DEFAULT_PATH);
	rv->cert = strdup(o->cert_pem);
	rv->key = strdup(o->key_pem);
	if (!rv->path || !rv->cert || !rv->key) {
		sts_receiver_stop(rv);
		return STS_ENOMEM;
	}
	if (!rv->o.max_body)
		rv->o.max_body = STS_RECEIVER_MAX_BODY;
	/* ITC: MHD_quiesce_daemon() needs it to stop accepting cleanly */
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (v6)
		flags |= MHD_USE_IPv6;
	rv->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, rv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, rv,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, rv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_CERT, rv->cert, MHD_OPTION_HTTPS_MEM_KEY, rv->key,
	    MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1",
	    MHD_OPTION_CONNECTION_LIMIT, o->max_connections ? o->max_connections : 64u,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_ip_connections ? o->per_ip_connections : 16u,
	    MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : 30u,
	    MHD_OPTION_THREAD_POOL_SIZE, o->threads ? o->threads : 2u, MHD_OPTION_END);
	if (!rv->d) {
		int r = fail(reterr, STS_EIO, "cannot start the receiver on '%s': %s", o->listen,
			     rv->log[0] ? rv->log : "libmicrohttpd failed");
		sts_receiver_stop(rv);
		return r;
	}
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
	if (r->d) {
		MHD_socket s = MHD_quiesce_daemon(r->d);
		if (s != MHD_INVALID_SOCKET)
			close(s);
		MHD_stop_daemon(r->d);
	}
	if (r->key)
		explicit_bzero(r->key, strlen(r->key));
	free(r->key);
	free(r->cert);
	free(r->path);
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
	if (r == STS_OK)
		r = sts_ingest_blob(s->ing, req->body, req->len, STS_CH_HTTPS, source, s->trusted,
				    s->trusted ? "https: receiver configured as trusted"
					       : "https: posted reports carry no signature",
				    &oc, &why);
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
