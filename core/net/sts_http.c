/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sts_config.h"
#include "sts_err.h"
#include "sts_http.h"

#define HDR_MAX_COUNT 128
#define HDR_MAX_BYTES (64u * 1024u)
#define REDIRECTS_MAX 3L

struct sts_http {
	CURL *curl;
	/*
	 * Trust anchors for sts_http_do_ex, loaded once: libcurl 7.88 parses
	 * its CA file again for every new connection, which costs more CPU
	 * than the handshake when many hosts are fetched once each.
	 */
	X509_STORE *store;
	struct sts_http_opts o;
	char *ca_file;
	char *user_agent;
	uint64_t rnd; /* xorshift state for jitter */
};

/* Per-attempt receive state handed to the curl callbacks. */
struct recv_state {
	struct sts_http_resp *resp;
	size_t hdr_bytes;
	bool too_large;
	int err;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

static uint64_t next_rand(struct sts_http *h)
{
	uint64_t x = h->rnd;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	h->rnd = x;
	return x;
}

STS_API int sts_http_new(const struct sts_http_opts *o, struct sts_http **ret)
{
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return STS_ENOMEM;
	struct sts_http *h = calloc(1, sizeof(*h));
	if (!h)
		return STS_ENOMEM;
	if (o)
		h->o = *o;
	if (h->o.connect_timeout_ms <= 0)
		h->o.connect_timeout_ms = 10000;
	if (h->o.timeout_ms <= 0)
		h->o.timeout_ms = 30000;
	if (h->o.max_response == 0)
		h->o.max_response = 1024u * 1024u;
	if (h->o.max_attempts == 0)
		h->o.max_attempts = 4;
	if (h->o.max_total_ms <= 0)
		h->o.max_total_ms = 120000;
	if (h->o.backoff_base_ms <= 0)
		h->o.backoff_base_ms = 500;
	if (h->o.backoff_max_ms <= 0)
		h->o.backoff_max_ms = 30000;
	if (h->o.retry_after_max_ms <= 0)
		h->o.retry_after_max_ms = 60000;
	h->ca_file = o && o->ca_file ? strdup(o->ca_file) : NULL;
	h->user_agent = strdup(o && o->user_agent ? o->user_agent : "stsctl/" STS_VERSION);
	h->curl = curl_easy_init();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->rnd = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
	if (!h->rnd)
		h->rnd = 0x9e3779b97f4a7c15ull;
	if (!h->curl || !h->user_agent || (o && o->ca_file && !h->ca_file)) {
		sts_http_free(h);
		return STS_ENOMEM;
	}
	h->o.ca_file = h->ca_file;
	h->o.user_agent = h->user_agent;
	h->o.trust_store = NULL;
	if (o && o->trust_store && X509_STORE_up_ref(o->trust_store))
		h->store = o->trust_store;
	*ret = h;
	return STS_OK;
}

STS_API void sts_http_free(struct sts_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	X509_STORE_free(h->store);
	STS_FREE_ALL(h->ca_file, h->user_agent, h);
}

static void headers_clear(struct sts_http_resp *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->n_headers = 0;
}

STS_API void sts_http_resp_release(struct sts_http_resp *r)
{
	if (!r)
		return;
	sts_buf_release(&r->body);
	headers_clear(r);
	free(r->effective_url);
	r->effective_url = NULL;
	r->status = 0;
}

STS_API const char *sts_http_resp_header(const struct sts_http_resp *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

STS_API long sts_http_retry_after_ms(const char *value, time_t now)
{
	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (*value >= '0' && *value <= '9') {
		long long s = 0;
		const char *p = value;
		for (; *p >= '0' && *p <= '9'; p++) {
			s = s * 10 + (*p - '0');
			if (s > 86400LL * 365)
				return -1;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		return *p ? -1 : (long)(s * 1000);
	}
	time_t t = curl_getdate(value, NULL);
	if (t == (time_t)-1)
		return -1;
	return t <= now ? 0 : (long)((t - now) * 1000);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct recv_state *st = ud;
	size_t n = size * nmemb;
	int r = sts_buf_append(&st->resp->body, ptr, n);
	if (r < 0) {
		st->too_large = r == STS_ETOOLARGE;
		st->err = r;
		return 0; /* abort the transfer */
	}
	return n;
}

static char *trimmed(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return strndup(s, n);
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct recv_state *st = ud;
	struct sts_http_resp *r = st->resp;
	size_t n = size * nmemb;
	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		/* a new response (redirect, 100 Continue): keep only the last one */
		headers_clear(r);
		st->hdr_bytes = 0;
		return n;
	}
	st->hdr_bytes += n;
	if (st->hdr_bytes > HDR_MAX_BYTES || r->n_headers >= HDR_MAX_COUNT) {
		st->err = STS_ETOOLARGE;
		st->too_large = true;
		return 0;
	}
	const char *colon = memchr(ptr, ':', n);
	if (!colon)
		return n; /* the blank line or a folded line: ignored */
	struct sts_http_header *v = realloc(r->headers, (r->n_headers + 1) * sizeof(*v));
	if (!v) {
		st->err = STS_ENOMEM;
		return 0;
	}
	r->headers = v;
	char *name = trimmed(ptr, (size_t)(colon - ptr));
	char *value = trimmed(colon + 1, n - (size_t)(colon - ptr) - 1);
	if (!name || !value) {
		free(name);
		free(value);
		st->err = STS_ENOMEM;
		return 0;
	}
	v[r->n_headers].name = name;
	v[r->n_headers].value = value;
	r->n_headers++;
	return n;
}

static void resp_init(struct sts_http_resp *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	sts_buf_init(&r->body, cap);
}

static bool method_idempotent(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "PUT") == 0 ||
	       strcmp(m, "DELETE") == 0 || strcmp(m, "OPTIONS") == 0;
}

static bool status_retryable(long status, bool idempotent)
{
	if (status == 429 || status == 503)
		return true;
	if (status == 502 || status == 504)
		return idempotent;
	return idempotent && status >= 500 && status <= 599;
}

/* Is resp one of the "STATUS TEXT" answers of retry_on? */
static bool retry_on_matches(const char *const *retry_on, const struct sts_http_resp *resp)
{
	for (const char *const *l = retry_on; l && *l; l++) {
		char *end = NULL;
		long status = strtol(*l, &end, 10);
		if (end == *l || *end != ' ' || status != resp->status)
			continue;
		const char *text = end + 1;
		if (*text && memmem(resp->body.data ? resp->body.data : "", resp->body.len, text,
				    strlen(text)))
			return true;
	}
	return false;
}

/* Map a curl failure; *retry tells whether another attempt may help. */
static int map_curl(CURLcode c, bool idempotent, bool *retry)
{
	*retry = false;
	switch (c) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_TOO_MANY_REDIRECTS:
		return STS_EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return STS_ENOMEM;
	case CURLE_FILESIZE_EXCEEDED:
		return STS_ETOOLARGE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		*retry = true; /* nothing was sent */
		return STS_ENET;
	case CURLE_OPERATION_TIMEDOUT:
		*retry = idempotent;
		return STS_ETIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return STS_ETLS;
	default:
		*retry = idempotent;
		return STS_ENET;
	}
}

/* What the SSL_CTX callback of sts_http_do_ex needs. */
struct xctx {
	const struct sts_http_xreq *x;
	X509_STORE *store;
};

/* sts_http_xreq.ret_peer: the chain check, run by OpenSSL in the handshake. */
static int peer_verify(X509_STORE_CTX *xs, void *arg)
{
	const struct sts_http_xreq *x = ((const struct xctx *)arg)->x;
	struct sts_http_peer *p = x->ret_peer;
	int ok = X509_verify_cert(xs);
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	memset(p, 0, sizeof(*p));
	if (ssl)
		snprintf(p->tls_version, sizeof(p->tls_version), "%s", SSL_get_version(ssl));
	if (leaf) {
		struct tm tm;
		p->have_cert = true;
		if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1)
			p->not_after = (long long)timegm(&tm);
		p->name_ok =
		    x->peer_name && X509_check_host(leaf, x->peer_name, strlen(x->peer_name),
						    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
							X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
						    NULL) == 1;
	}
	p->chain_ok = ok == 1;
	p->verify_error = ok == 1 ? 0 : X509_STORE_CTX_get_error(xs);
	if (p->verify_error)
		snprintf(p->verify_msg, sizeof(p->verify_msg), "%s",
			 X509_verify_cert_error_string(p->verify_error));
	return ok;
}

static CURLcode on_ssl_ctx(CURL *c, void *ssl_ctx, void *arg)
{
	struct xctx *xc = arg;
	(void)c;
	if (!X509_STORE_up_ref(xc->store))
		return CURLE_OUT_OF_MEMORY;
	SSL_CTX_set_cert_store(ssl_ctx, xc->store); /* takes the reference */
	if (xc->x->ret_peer)
		SSL_CTX_set_cert_verify_callback(ssl_ctx, peer_verify, arg);
	return CURLE_OK;
}

/* The handle's trust anchors: its CA file, else OpenSSL's default file and directory. */
static X509_STORE *handle_store(struct sts_http *h)
{
	if (h->store)
		return h->store;
	X509_STORE *st = X509_STORE_new();
	int ok = st && (h->ca_file ? X509_STORE_load_file(st, h->ca_file)
				   : X509_STORE_set_default_paths(st));
	if (!ok) {
		X509_STORE_free(st);
		return NULL;
	}
	return h->store = st;
}

static int setup(struct sts_http *h, const struct sts_http_req *req, const char *method,
		 struct curl_slist *hdrs, long timeout_ms, struct recv_state *st,
		 struct xctx *x_ctx, struct curl_slist *resolve)
{
	CURL *c = h->curl;
	curl_easy_reset(c);
	const struct sts_http_xreq *x = x_ctx ? x_ctx->x : NULL;
	bool ok = true;
#define SET(opt, val) ok = ok && curl_easy_setopt(c, opt, val) == CURLE_OK
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, x && x->https_only ? "https" : "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
	SET(CURLOPT_MAXREDIRS, REDIRECTS_MAX);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (x_ctx) { /* the store comes from handle_store() through on_ssl_ctx() */
		SET(CURLOPT_CAINFO, NULL);
		SET(CURLOPT_CAPATH, NULL);
		SET(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		SET(CURLOPT_SSL_CTX_DATA, x_ctx);
	} else if (h->ca_file) {
		SET(CURLOPT_CAINFO, h->ca_file);
	}
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms);
	SET(CURLOPT_USERAGENT, h->user_agent);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, st);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, st);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)st->resp->body.max);
	if (hdrs)
		SET(CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(method, "HEAD") == 0)
		SET(CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0 || req->body)
		SET(CURLOPT_CUSTOMREQUEST, method);
	if (req->body) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_POSTFIELDS, req->body);
	}
	if (resolve)
		SET(CURLOPT_RESOLVE, resolve);
	if (x && x->fresh) {
		SET(CURLOPT_FRESH_CONNECT, 1L);
		SET(CURLOPT_FORBID_REUSE, 1L);
		SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
	}
	if (x && x->ret_peer)
		memset(x->ret_peer, 0, sizeof(*x->ret_peer));
	if (x && x->no_proxy)
		SET(CURLOPT_PROXY, "");
	if (x && x->tls_min_1_2)
		SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
#undef SET
	return ok ? STS_OK : STS_EINVAL;
}

/* Wait before attempt n+1 (n >= 1 attempts done); -1 = do not retry. */
static long retry_wait(struct sts_http *h, const struct sts_http_resp *resp, unsigned n,
		       long remaining)
{
	long wait;
	const char *ra = resp ? sts_http_resp_header(resp, "Retry-After") : NULL;
	long ra_ms = ra ? sts_http_retry_after_ms(ra, time(NULL)) : -1;
	if (ra_ms >= 0) {
		if (ra_ms > h->o.retry_after_max_ms)
			return -1;
		wait = ra_ms;
	} else {
		long d = h->o.backoff_base_ms;
		for (unsigned i = 1; i < n && d < h->o.backoff_max_ms; i++)
			d *= 2;
		if (d > h->o.backoff_max_ms)
			d = h->o.backoff_max_ms;
		/* "equal jitter": half fixed, half random */
		wait = d / 2 + (long)(next_rand(h) % (uint64_t)(d / 2 + 1));
	}
	return wait >= remaining ? -1 : wait; /* leave time for the attempt itself */
}

STS_API int sts_http_do(struct sts_http *h, const struct sts_http_req *req,
			struct sts_http_resp *ret)
{
	return sts_http_do_ex(h, req, NULL, ret);
}

STS_API int sts_http_do_ex(struct sts_http *h, const struct sts_http_req *req,
			   const struct sts_http_xreq *x, struct sts_http_resp *ret)
{
	size_t cap = req->max_response ? req->max_response : h->o.max_response;
	resp_init(ret, cap);
	if (!req->url)
		return STS_EINVAL;
	const char *method = req->method ? req->method : (req->body ? "POST" : "GET");
	bool idem = method_idempotent(method) || (x && x->idempotent);
	unsigned max_attempts = req->max_attempts ? req->max_attempts : h->o.max_attempts;
	long per_attempt = req->timeout_ms > 0 ? req->timeout_ms : h->o.timeout_ms;
	long start = now_ms();
	struct curl_slist *hdrs = NULL, *resolve = NULL;
	struct xctx xc = {.x = x};
	int r = STS_OK;
	if (x && !(xc.store = handle_store(h)))
		return h->ca_file ? STS_EIO : STS_ENOMEM;
	for (const char *const *hp = req->headers; hp && *hp; hp++) {
		struct curl_slist *n = curl_slist_append(hdrs, *hp);
		if (!n) {
			r = STS_ENOMEM;
			goto out;
		}
		hdrs = n;
	}
	for (const char *const *rp = x ? x->resolve : NULL; rp && *rp; rp++) {
		struct curl_slist *n = curl_slist_append(resolve, *rp);
		if (!n) {
			r = STS_ENOMEM;
			goto out;
		}
		resolve = n;
	}
	for (unsigned attempt = 1;; attempt++) {
		long remaining = h->o.max_total_ms - (now_ms() - start);
		if (remaining <= 0) {
			r = STS_ETIMEOUT;
			goto out;
		}
		sts_http_resp_release(ret);
		resp_init(ret, cap);
		if (x && x->before_attempt && (r = x->before_attempt(x->attempt_ud, attempt)) < 0)
			goto out;
		struct recv_state st = {.resp = ret};
		r = setup(h, req, method, hdrs, per_attempt < remaining ? per_attempt : remaining,
			  &st, x ? &xc : NULL, resolve);
		if (r < 0)
			goto out;
		CURLcode cc = curl_easy_perform(h->curl);
		ret->attempts = attempt;
		bool retry = false;
		if (cc == CURLE_OK) {
			curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &ret->status);
			char *eff = NULL;
			if (curl_easy_getinfo(h->curl, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK &&
			    eff) {
				ret->effective_url = strdup(eff);
				if (!ret->effective_url) {
					r = STS_ENOMEM;
					goto out;
				}
			}
			r = STS_OK;
			retry = status_retryable(ret->status, idem) ||
				(x && retry_on_matches(x->retry_on, ret));
		} else if (st.err < 0) {
			r = st.err; /* body cap, header cap or ENOMEM: final */
			goto out;
		} else {
			r = map_curl(cc, idem, &retry);
		}
		if (x && x->after_attempt)
			x->after_attempt(x->attempt_ud, ret, r);
		if (!retry || attempt >= max_attempts)
			goto out;
		long wait = retry_wait(h, cc == CURLE_OK ? ret : NULL, attempt,
				       h->o.max_total_ms - (now_ms() - start));
		if (wait < 0)
			goto out;
		if (wait > 0)
			sleep_ms(wait);
	}
out:
	curl_slist_free_all(hdrs);
	curl_slist_free_all(resolve);
	return r;
}

STS_API bool sts_http_url_cleartext_remote(const char *url)
{
	if (!url || strncasecmp(url, "http://", 7) != 0)
		return false;
	const char *h = url + 7, *end = h + strcspn(h, "/?#\\");
	for (const char *p = h; p < end; p++) /* userinfo */
		if (*p == '@')
			h = p + 1;
	char host[256];
	size_t n;
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));
		if (!close)
			return true;
		h++;
		n = (size_t)(close - h);
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		n = (size_t)((colon ? colon : end) - h);
	}
	if (n == 0 || n >= sizeof(host))
		return true;
	memcpy(host, h, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return false;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) != 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return !(IN6_IS_ADDR_LOOPBACK(&a6) ||
			 (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127));
	return true;
}
