/* SPDX-License-Identifier: MIT */
/*
 * The REST helper (core/net/sts_rest.c) against a scripted libmicrohttpd
 * server on 127.0.0.1 (ephemeral port, nothing else contacted): JSON in and
 * out, the auth header, statuses mapped to errors with the provider's text,
 * 429 + Retry-After pausing the rate limiter, 5xx retried for safe requests
 * only, the circuit breaker opening, paging, and the secret never in an
 * error text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sts_err.h"
#include "sts_rest.h"

#define TOKEN	    "s3cr3t-T0KEN-4711"
#define SCRIPT_MAX  8
#define REQUEST_MAX 16

struct reply {
	int status;
	const char *body;
	const char *header; /* "Name: value" or NULL */
};

struct seen {
	char method[8];
	char url[256];
	char auth[128];
	char ctype[64];
	char body[512];
};

struct server {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t mu;
	struct reply script[SCRIPT_MAX];
	int n_script;
	int n; /* requests answered */
	struct seen seen[REQUEST_MAX];
};

struct upload {
	char body[512];
	size_t len;
};

static void copy(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct server *s = cls;
	struct upload *u = *con_cls;
	(void)version;
	if (!u) {
		*con_cls = calloc(1, sizeof(*u));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		size_t k = *data_size < sizeof(u->body) - 1 - u->len ? *data_size
								     : sizeof(u->body) - 1 - u->len;
		memcpy(u->body + u->len, data, k);
		u->len += k;
		*data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->mu);
	int i = s->n < s->n_script ? s->n : s->n_script - 1;
	struct reply r = s->script[i];
	if (s->n < REQUEST_MAX) {
		struct seen *w = &s->seen[s->n];
		copy(w->method, sizeof(w->method), method);
		const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "page");
		snprintf(w->url, sizeof(w->url), "%s%s%s", url, q ? "?page=" : "", q ? q : "");
		copy(w->auth, sizeof(w->auth),
		     MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"));
		copy(w->ctype, sizeof(w->ctype),
		     MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"));
		copy(w->body, sizeof(w->body), u->body);
	}
	s->n++;
	pthread_mutex_unlock(&s->mu);
	const char *body = r.body ? r.body : "";
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r.header) {
		char name[64];
		const char *colon = strchr(r.header, ':');
		snprintf(name, sizeof(name), "%.*s", (int)(colon - r.header), r.header);
		MHD_add_response_header(resp, name, colon + 2);
	}
	enum MHD_Result ok = MHD_queue_response(conn, (unsigned)r.status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static struct server srv;

static void script(const struct reply *r, int n)
{
	pthread_mutex_lock(&srv.mu);
	memcpy(srv.script, r, (size_t)n * sizeof(*r));
	srv.n_script = n;
	srv.n = 0;
	memset(srv.seen, 0, sizeof(srv.seen));
	pthread_mutex_unlock(&srv.mu);
}

static int answered(void)
{
	pthread_mutex_lock(&srv.mu);
	int n = srv.n;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

static int setup(void **state)
{
	(void)state;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pthread_mutex_init(&srv.mu, NULL);
	srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, &srv,
				 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
				 MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
	if (!srv.d)
		return -1;
	srv.port = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT)->port;
	setenv("STS_TEST_REST_TOKEN", TOKEN, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(srv.d);
	pthread_mutex_destroy(&srv.mu);
	return 0;
}

/* ---- a client ---- */

struct fixture {
	struct sts_secret *secret;
	struct sts_ratelimit *rl;
	struct sts_breaker *br;
	struct sts_rest *c;
};

static _Atomic long long fake_now;

static long long fake_now_ns(void *ud)
{
	(void)ud;
	return fake_now;
}

static void fake_sleep_ns(void *ud, long long ns)
{
	(void)ud;
	fake_now += ns;
}

static const struct sts_http_opts http_opts = {
    .backoff_base_ms = 10,
    .backoff_max_ms = 20,
    .max_attempts = 3,
    .retry_after_max_ms = 5000,
    .connect_timeout_ms = 20000,
    .timeout_ms = 20000,
};

/* port 0: this test's server; breaker_failures 0: no breaker */
static void client(struct fixture *f, int port, unsigned breaker_failures, const char *limit)
{
	memset(f, 0, sizeof(*f));
	const char *why = NULL;
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_REST_TOKEN}", ".", &f->secret, &why),
			 STS_OK);
	struct sts_mclock fake = {.now_ns = fake_now_ns, .sleep_ns = fake_sleep_ns};
	fake_now = 0;
	assert_int_equal(sts_ratelimit_new(&fake, &f->rl), STS_OK);
	if (limit)
		assert_int_equal(sts_ratelimit_add_spec(f->rl, limit), STS_OK);
	if (breaker_failures) {
		struct sts_breaker_opts bo = {.failures = breaker_failures, .cooldown_ms = 60000};
		assert_int_equal(sts_breaker_new(&bo, &fake, &f->br), STS_OK);
	}
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/v1/", port ? port : srv.port);
	struct sts_rest_opts o = {
	    .base_url = base,
	    .auth_header = "Authorization",
	    .auth_prefix = "Bearer ",
	    .secret = f->secret,
	    .http = &http_opts,
	    .ratelimit = f->rl,
	    .breaker = f->br,
	    .ratelimit_timeout_ms = 5000,
	};
	assert_int_equal(sts_rest_new(&o, &f->c), STS_OK);
}

static void client_free(struct fixture *f)
{
	sts_rest_free(f->c);
	sts_breaker_free(f->br);
	sts_ratelimit_free(f->rl);
	sts_secret_free(f->secret);
}

/* one request; the error text, if any, checked for the secret */
static int call(struct fixture *f, const char *method, const char *path, const char *body,
		bool idempotent, struct sts_rest_resp *ret)
{
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	assert_true(!body || j);
	struct sts_rest_req q = {
	    .method = method, .path = path, .body = j, .idempotent = idempotent};
	int r = sts_rest_do(f->c, &q, ret);
	json_decref(j);
	assert_true(r < 0 ? ret->error != NULL : ret->error == NULL);
	if (ret->error)
		assert_null(strstr(ret->error, TOKEN));
	return r;
}

static void test_get_json(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 0, NULL);
	const struct reply r[] = {{200, "{\"result\":[{\"id\":7},{\"id\":8}]}", NULL}};
	script(r, 1);
	struct sts_rest_resp p;
	assert_int_equal(call(&f, "GET", "zones", NULL, false, &p), STS_OK);
	assert_int_equal(p.status, 200);
	assert_int_equal(json_integer_value(sts_rest_json_at(p.json, "result[1].id")), 8);
	assert_string_equal(srv.seen[0].method, "GET");
	assert_string_equal(srv.seen[0].url, "/v1/zones");
	assert_string_equal(srv.seen[0].auth, "Bearer " TOKEN);
	sts_rest_resp_release(&p);
	sts_rest_resp_release(&p); /* twice is fine */

	/* POST with a JSON body; 204 without one */
	const struct reply r2[] = {{201, "{\"id\":9}", NULL}, {204, NULL, NULL}};
	script(r2, 2);
	assert_int_equal(call(&f, "POST", "/zones/1/records", "{\"name\": \"x\"}", false, &p),
			 STS_OK);
	assert_int_equal(json_integer_value(json_object_get(p.json, "id")), 9);
	assert_string_equal(srv.seen[0].body, "{\"name\":\"x\"}");
	assert_string_equal(srv.seen[0].ctype, "application/json");
	sts_rest_resp_release(&p);
	assert_int_equal(call(&f, "DELETE", "/zones/1/records/9", NULL, false, &p), STS_OK);
	assert_null(p.json);
	assert_string_equal(srv.seen[1].method, "DELETE");
	sts_rest_resp_release(&p);
	client_free(&f);
}

/* an answer that is JSON but not an object or array: a number, null */
static void test_scalar_answers(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 0, NULL);
	const struct reply r[] = {{200, "1765071234", NULL}, {200, "null", NULL}};
	script(r, 2);
	struct sts_rest_resp p;
	assert_int_equal(call(&f, "GET", "/auth/time", NULL, false, &p), STS_OK);
	assert_true(json_is_integer(p.json));
	assert_int_equal(json_integer_value(p.json), 1765071234);
	sts_rest_resp_release(&p);
	assert_int_equal(call(&f, "PUT", "/zones/1/records/9", "{\"ttl\": 60}", false, &p), STS_OK);
	assert_true(json_is_null(p.json));
	sts_rest_resp_release(&p);
	client_free(&f);
}

static void expect(struct fixture *f, int status, const char *body, int want, const char *text)
{
	const struct reply r[] = {{status, body, NULL}};
	script(r, 1);
	struct sts_rest_resp p;
	assert_int_equal(call(f, "GET", "/zones/9", NULL, false, &p), want);
	assert_int_equal(p.status, status);
	if (!strstr(p.error, text))
		fail_msg("%d: '%s' lacks '%s'", status, p.error, text);
	sts_rest_resp_release(&p);
}

static void test_errors(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 0, NULL);
	expect(&f, 404, "{\"errors\":[{\"code\":7,\"message\":\"Zone not found\"}]}", STS_ENOENT,
	       "HTTP 404 from GET /zones/9: Zone not found");
	expect(&f, 401, "{\"message\":\"invalid token " TOKEN "\"}", STS_EAUTH,
	       "HTTP 401 from GET /zones/9: invalid token [secret]");
	expect(&f, 403, "{\"error\":{\"message\":\"no access to zone\"}}", STS_EAUTH,
	       ": no access to zone");
	expect(&f, 409, "{\"error\":\"record exists\"}", STS_ECONFLICT, ": record exists");
	expect(&f, 412, "{\"detail\":\"precondition\"}", STS_ECONFLICT, ": precondition");
	expect(&f, 400, "{\"message\":\"bad\\u001b[2Jname\"}", STS_EPROVIDER,
	       ": bad\\x1b[2Jname"); /* escaped for a terminal */
	expect(&f, 422, "<html>nope</html>", STS_EPROVIDER, ": <html>nope</html>");
	expect(&f, 302, NULL, STS_EPROVIDER, "HTTP 302 from GET /zones/9");
	expect(&f, 200, "not json", STS_EPARSE, "GET /zones/9: response is not JSON");
	client_free(&f);
}

static void test_retry_after(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 0, NULL);
	const struct reply r[] = {{429, "{\"message\":\"slow down\"}", "Retry-After: 1"},
				  {200, "{}", NULL}};
	script(r, 2);
	struct sts_rest_resp p;
	assert_int_equal(call(&f, "GET", "zones", NULL, false, &p), STS_OK);
	assert_int_equal(p.http.attempts, 2);
	assert_int_equal(answered(), 2);
	/* the limiter was paused for every caller: the 2nd attempt waited 1 s on its clock */
	assert_true(fake_now >= 900 * STS_NS_PER_MS);
	sts_rest_resp_release(&p);

	/* 429 to the end: a temporary error with the provider's text */
	const struct reply r2[] = {{429, "{\"message\":\"slow down\"}", NULL}};
	script(r2, 1);
	assert_int_equal(call(&f, "GET", "zones", NULL, false, &p), STS_EAGAIN);
	assert_int_equal(p.http.attempts, 3);
	assert_non_null(strstr(p.error, "HTTP 429 from GET zones: slow down"));
	sts_rest_resp_release(&p);
	client_free(&f);
}

static void test_5xx_retries(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 0, NULL);
	const struct reply r[] = {{503, NULL, NULL}, {500, "{}", NULL}, {200, "{\"ok\":1}", NULL}};
	struct sts_rest_resp p;
	script(r, 3);
	assert_int_equal(call(&f, "PUT", "/r/1", "{}", false, &p), STS_OK);
	assert_int_equal(p.http.attempts, 3);
	sts_rest_resp_release(&p);

	/* a POST is not sent again after a 500, unless it says it is idempotent */
	script(r + 1, 2);
	assert_int_equal(call(&f, "POST", "/r", "{}", false, &p), STS_EAGAIN);
	assert_int_equal(answered(), 1);
	assert_non_null(strstr(p.error, "HTTP 500 from POST /r"));
	sts_rest_resp_release(&p);
	script(r + 1, 2);
	assert_int_equal(call(&f, "POST", "/r", "{}", true, &p), STS_OK);
	assert_int_equal(answered(), 2);
	sts_rest_resp_release(&p);
	script(r + 1, 2);
	assert_int_equal(call(&f, "PATCH", "/r/1", "{}", false, &p), STS_EAGAIN);
	assert_int_equal(answered(), 1);
	sts_rest_resp_release(&p);
	/* after a 429 the server did nothing: a POST is sent again */
	const struct reply busy[] = {{429, NULL, NULL}, {201, "{}", NULL}};
	script(busy, 2);
	assert_int_equal(call(&f, "POST", "/r", "{}", false, &p), STS_OK);
	assert_int_equal(answered(), 2);
	sts_rest_resp_release(&p);
	client_free(&f);
}

static void test_breaker(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 2, NULL);
	struct sts_rest_resp p;
	/* a 4xx proves the provider is up: it never opens the circuit */
	const struct reply nf[] = {{404, "{}", NULL}};
	script(nf, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(call(&f, "GET", "x", NULL, false, &p), STS_ENOENT);
		sts_rest_resp_release(&p);
	}
	const struct reply down[] = {{500, "{\"message\":\"down\"}", NULL}};
	script(down, 1);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(call(&f, "GET", "x", NULL, false, &p), STS_EAGAIN);
		sts_rest_resp_release(&p);
	}
	assert_int_equal(answered(), 6); /* 2 requests x 3 attempts */
	assert_int_equal(call(&f, "GET", "x", NULL, false, &p), STS_EAGAIN);
	assert_non_null(strstr(p.error, "GET x: circuit open after 2 failures, retry in 60 s"));
	assert_int_equal(answered(), 6); /* not sent */
	sts_rest_resp_release(&p);
	/* after the cooldown, one trial: success closes it */
	fake_now += 60 * STS_NS_PER_S;
	const struct reply up[] = {{200, "{}", NULL}};
	script(up, 1);
	assert_int_equal(call(&f, "GET", "x", NULL, false, &p), STS_OK);
	assert_int_equal(sts_breaker_state(f.br), STS_BREAKER_CLOSED);
	sts_rest_resp_release(&p);
	client_free(&f);
}

static void test_no_answer(void **state)
{
	(void)state;
	struct fixture f;
	/* a port nothing listens on: the server's own port once it is closed is
	 * racy, so take one from a socket bound and closed right here */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	client(&f, ntohs(a.sin_port), 1, NULL);
	struct sts_rest_resp p;
	assert_int_equal(call(&f, "GET", "x", NULL, false, &p), STS_ENET);
	assert_non_null(strstr(p.error, "GET x: no answer"));
	assert_int_equal(sts_breaker_state(f.br), STS_BREAKER_OPEN);
	sts_rest_resp_release(&p);
	client_free(&f);
}

static void test_rate_limited(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 1, "1/h");
	const struct reply r[] = {{200, "{}", NULL}};
	script(r, 1);
	struct sts_rest_resp p;
	assert_int_equal(call(&f, "GET", "x", NULL, false, &p), STS_OK);
	sts_rest_resp_release(&p);
	/* the next slot is an hour away, the timeout 5 s: refused at once, not sent */
	assert_int_equal(call(&f, "GET", "x", NULL, false, &p), STS_EAGAIN);
	assert_non_null(strstr(p.error, "rate limit: no free slot within 5 s"));
	assert_int_equal(answered(), 1);
	assert_int_equal(sts_breaker_state(f.br), STS_BREAKER_CLOSED); /* not a failure */
	sts_rest_resp_release(&p);
	client_free(&f);
}

struct collected {
	int items;
	const char *next_style;
};

static int next_page(void *ud, const struct sts_rest_resp *page, char **ret_next)
{
	struct collected *c = ud;
	c->items += (int)json_array_size(json_object_get(page->json, "items"));
	json_t *n = json_object_get(page->json, "next");
	*ret_next = json_is_string(n) ? strdup(json_string_value(n)) : NULL;
	return STS_OK;
}

static void test_pages(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 0, NULL);
	char second[128];
	snprintf(second, sizeof(second),
		 "{\"items\":[3,4],\"next\":\"http://127.0.0.1:%d/v1/items?page=3\"}", srv.port);
	const struct reply r[] = {{200, "{\"items\":[1,2],\"next\":\"items?page=2\"}", NULL},
				  {200, second, NULL},
				  {200, "{\"items\":[5],\"next\":null}", NULL}};
	script(r, 3);
	struct collected c = {0, NULL};
	struct sts_rest_req q = {.path = "items"};
	char *err = NULL;
	assert_int_equal(sts_rest_pages(f.c, &q, 0, next_page, &c, &err), STS_OK);
	assert_null(err);
	assert_int_equal(c.items, 5);
	assert_string_equal(srv.seen[1].url, "/v1/items?page=2");
	assert_string_equal(srv.seen[2].url, "/v1/items?page=3");

	/* the page cap */
	script(r, 3);
	c.items = 0;
	assert_int_equal(sts_rest_pages(f.c, &q, 2, next_page, &c, &err), STS_ETOOLARGE);
	assert_string_equal(err, "more than 2 pages");
	free(err);

	/* a next link to another host: refused, the token stays home */
	const struct reply evil[] = {
	    {200, "{\"items\":[1],\"next\":\"http://127.0.0.2:1/v1/items?page=2\"}", NULL}};
	script(evil, 1);
	assert_int_equal(sts_rest_pages(f.c, &q, 0, next_page, &c, &err), STS_EINVAL);
	assert_non_null(strstr(err, "URL outside the API's base URL"));
	assert_int_equal(answered(), 1);
	free(err);
	/* a failing page gives its error */
	const struct reply gone[] = {{404, "{\"message\":\"gone\"}", NULL}};
	script(gone, 1);
	assert_int_equal(sts_rest_pages(f.c, &q, 0, next_page, &c, &err), STS_ENOENT);
	assert_non_null(strstr(err, "HTTP 404 from GET items: gone"));
	free(err);
	client_free(&f);
}

/* one client, one limiter, one breaker shared by threads */
static void *worker(void *arg)
{
	struct fixture *f = arg;
	for (int i = 0; i < 5; i++) {
		struct sts_rest_resp p;
		struct sts_rest_req q = {.path = "threads"};
		if (sts_rest_do(f->c, &q, &p) != STS_OK ||
		    json_integer_value(sts_rest_json_at(p.json, "n")) != 1)
			abort();
		sts_rest_resp_release(&p);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 3, "1000/s");
	const struct reply r[] = {{200, "{\"n\":1}", NULL}};
	script(r, 1);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &f), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(answered(), 20);
	client_free(&f);
}

/* one client without a base: every request brings base, auth line, limiter and breaker */
static void test_per_request(void **state)
{
	(void)state;
	struct fixture f;
	client(&f, 0, 0, NULL); /* for its secret, limiter and clock */
	struct sts_breaker *br = NULL;
	struct sts_breaker_opts bo = {.failures = 1, .cooldown_ms = 1000};
	assert_int_equal(sts_breaker_new(&bo, NULL, &br), STS_OK);
	struct sts_rest *c = NULL;
	struct sts_rest_opts o = {.http = &http_opts};
	assert_int_equal(sts_rest_new(&o, &c), STS_OK);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/v2/", srv.port);
	static const char *const more[] = {"X-Extra: 1", NULL};
	struct sts_rest_req q = {
	    .path = "zones",
	    .base = base,
	    .auth = "Authorization: Token other-T0KEN-99",
	    .headers = more,
	    .error_path = "/problem/title",
	    .ratelimit = f.rl,
	    .breaker = br,
	    .max_attempts = 1,
	};
	const struct reply r[] = {
	    {400, "{\"problem\":{\"title\":\"bad token other-T0KEN-99\"},\"message\":\"m\"}",
	     NULL}};
	script(r, 1);
	struct sts_rest_resp p;
	assert_int_equal(sts_rest_do(c, &q, &p), STS_EPROVIDER);
	assert_string_equal(srv.seen[0].url, "/v2/zones");
	assert_string_equal(srv.seen[0].auth, "Token other-T0KEN-99");
	assert_string_equal(p.error, "HTTP 400 from GET zones: bad token [secret]");
	sts_rest_resp_release(&p);
	/* its breaker (1 failure) and its limiter, not the client's (none) */
	const struct reply down[] = {{502, NULL, NULL}};
	script(down, 1);
	assert_int_equal(sts_rest_do(c, &q, &p), STS_EAGAIN);
	sts_rest_resp_release(&p);
	assert_int_equal(sts_rest_do(c, &q, &p), STS_EAGAIN);
	assert_non_null(strstr(p.error, "circuit open after 1 failures"));
	assert_int_equal(answered(), 1);
	sts_rest_resp_release(&p);
	/* no base anywhere */
	q.base = NULL;
	assert_int_equal(sts_rest_do(c, &q, &p), STS_EINVAL);
	sts_rest_resp_release(&p);
	sts_rest_free(c);
	sts_breaker_free(br);
	client_free(&f);
}

static void test_helpers(void **state)
{
	(void)state;
	json_t *j = json_loads("{\"a\":{\"b\":[1,{\"c\":\"x\"}]},\"l\":[[5]]}", 0, NULL);
	assert_string_equal(json_string_value(sts_rest_json_at(j, "a.b[1].c")), "x");
	assert_int_equal(json_integer_value(sts_rest_json_at(j, "l[0][0]")), 5);
	assert_ptr_equal(sts_rest_json_at(j, ""), j);
	assert_null(sts_rest_json_at(j, "a.b[2]"));
	assert_null(sts_rest_json_at(j, "a.x"));
	assert_null(sts_rest_json_at(j, "a[0]"));
	assert_null(sts_rest_json_at(j, "a.b[x]"));
	assert_null(sts_rest_json_at(j, "a.b[1]c"));
	assert_null(sts_rest_json_at(NULL, "a"));
	json_decref(j);
	char *e = sts_rest_escape("_mta-sts.example.com/a b&c=d~é");
	assert_string_equal(e, "_mta-sts.example.com%2Fa%20b%26c%3Dd~%C3%A9");
	free(e);
	struct sts_rest *c = NULL;
	struct sts_rest_opts o = {.base_url = "ftp://x"};
	assert_int_equal(sts_rest_new(&o, &c), STS_EINVAL);
	sts_rest_free(NULL);
	/* JSON pointers (RFC 6901) too */
	j = json_loads("{\"a/b\":{\"m~n\":[0,{\"x\":\"y\"}]},\"7\":1}", 0, NULL);
	assert_string_equal(json_string_value(sts_rest_json_at(j, "/a~1b/m~0n/1/x")), "y");
	assert_int_equal(json_integer_value(sts_rest_json_at(j, "/7")), 1);
	assert_null(sts_rest_json_at(j, "/a~1b/m~0n/2"));
	assert_null(sts_rest_json_at(j, "/a~1b/m~0n/x"));
	assert_null(sts_rest_json_at(j, "/a~1b/m~0n/"));
	assert_null(sts_rest_json_at(j, "/nope/x"));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_json),	cmocka_unit_test(test_scalar_answers),
	    cmocka_unit_test(test_errors),	cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_5xx_retries), cmocka_unit_test(test_breaker),
	    cmocka_unit_test(test_no_answer),	cmocka_unit_test(test_rate_limited),
	    cmocka_unit_test(test_pages),	cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_per_request), cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
