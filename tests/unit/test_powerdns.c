/* SPDX-License-Identifier: MIT */
/*
 * The powerdns plugin through the real loader, against a scripted HTTP
 * server on 127.0.0.1 (a thread of this test, ephemeral port): what read()
 * returns from a zone's JSON, the PATCH body apply() sends (TXT quoting,
 * escapes, 255-octet strings, foreign content and disabled records kept,
 * DELETE), the error mapping (401, 404, 422 with PowerDNS's text, conflict),
 * the bounded repeats of a PATCH with unknown outcome, and the provider
 * counted as down after three failures. The integration cases run it
 * against a real PowerDNS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

#define MAX_REQ 16

struct reply {
	int status; /* 0: reset the connection */
	const char *body;
};

struct server {
	int fd, port;
	pthread_t thr;
	volatile int stop;
	const struct reply *script;
	int n_script;
	int n; /* requests seen */
	char *req[MAX_REQ];
};

static char *read_request(int c)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = calloc(1, cap + 1);
	while (buf && n < cap) {
		struct pollfd p = {.fd = c, .events = POLLIN};
		if (poll(&p, 1, 2000) <= 0)
			break;
		ssize_t k = read(c, buf + n, cap - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		const char *cl = strcasestr(buf, "\r\nContent-Length:");
		if (end &&
		    (size_t)(n - (size_t)(end + 4 - buf)) >= (cl ? (size_t)atol(cl + 17) : 0))
			break;
	}
	return buf;
}

static void *serve(void *arg)
{
	struct server *s = arg;
	while (!s->stop) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 20) <= 0)
			continue;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		char *req = read_request(c);
		int i = s->n < s->n_script ? s->n : s->n_script - 1;
		if (s->n < MAX_REQ)
			s->req[s->n] = req;
		else
			free(req);
		s->n++;
		const struct reply *r = &s->script[i];
		if (r->status == 0) {
			struct linger l = {1, 0};
			setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			close(c);
			continue;
		}
		char head[512];
		const char *body = r->body ? r->body : "";
		int hl = snprintf(head, sizeof(head),
				  "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n"
				  "Content-Type: application/json\r\n\r\n",
				  r->status, strlen(body));
		send(c, head, (size_t)hl, MSG_NOSIGNAL);
		send(c, body, strlen(body), MSG_NOSIGNAL);
		close(c);
	}
	return NULL;
}

static struct server *server_start(const struct reply *script, int n)
{
	struct server *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->script = script;
	s->n_script = n;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 16), 0);
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thr, NULL, serve, s), 0);
	return s;
}

static void server_stop(struct server *s)
{
	s->stop = 1;
	pthread_join(s->thr, NULL);
	close(s->fd);
	for (int i = 0; i < MAX_REQ; i++)
		free(s->req[i]);
	free(s);
}

/* The body of request i (after the blank line). */
static const char *body_of(const struct server *s, int i)
{
	const char *e = s->req[i] ? strstr(s->req[i], "\r\n\r\n") : NULL;
	return e ? e + 4 : "";
}

struct fixture {
	struct sts_plugin_host *h;
	struct sts_plugin *p;
	struct server *s;
};

static void open_plugin(struct fixture *f, const struct reply *script, int n, int retries)
{
	f->s = server_start(script, n);
	assert_int_equal(sts_plugin_host_new(&f->h), STS_OK);
	const char *dirs[] = {STS_BUILD_PLUGIN_DIR};
	assert_int_equal(sts_plugin_host_set_path(f->h, dirs, 1), STS_OK);
	struct sts_http_opts o = {.backoff_base_ms = 10, .backoff_max_ms = 20, .max_attempts = 2};
	assert_int_equal(sts_plugin_host_set_http(f->h, &o), STS_OK);
	setenv("TEST_PDNS_KEY", "sekrit-4711", 1);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f->s->port);
	json_t *set =
	    json_pack("{s:s, s:s, s:s, s:i, s:i}", "plugin", "powerdns", "url", url, "api_key",
		      "${env:TEST_PDNS_KEY}", "retries", retries, "timeout", 5);
	struct sts_diags d;
	sts_diags_init(&d);
	int r = sts_plugin_open(f->h, "pdns", set, &f->p, &d);
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

static const char zone_json[] =
    "{\"name\": \"example.com.\", \"rrsets\": ["
    "{\"name\": \"_mta-sts.example.com.\", \"type\": \"TXT\", \"ttl\": 300, \"records\": ["
    "  {\"content\": \"\\\"v=STSv1; id=1;\\\"\", \"disabled\": false},"
    "  {\"content\": \"\\\"abc\\\" \\\"def\\\"\", \"disabled\": false},"
    "  {\"content\": \"\\\"off\\\"\", \"disabled\": true}]},"
    "{\"name\": \"MTA-STS.example.com.\", \"type\": \"CNAME\", \"ttl\": 60, \"records\": ["
    "  {\"content\": \"web.example.net.\", \"disabled\": false}]},"
    "{\"name\": \"_smtp._tls.example.com.\", \"type\": \"TXT\", \"ttl\": 60, \"records\": ["
    "  {\"content\": \"\\\"only disabled\\\"\", \"disabled\": true}]},"
    "{\"name\": \"www.example.com.\", \"type\": \"A\", \"ttl\": 60, \"records\": ["
    "  {\"content\": \"192.0.2.1\", \"disabled\": false}]},"
    "{\"name\": \"example.com.\", \"type\": \"SOA\", \"ttl\": 60, \"records\": ["
    "  {\"content\": \"ns1. h. 1 2 3 4 5\", \"disabled\": false}]}]}";

static const char *const names[] = {"_mta-sts.example.com.", "_smtp._tls.example.com.",
				    "mta-sts.example.com."};

static void test_read(void **state)
{
	(void)state;
	struct reply r[] = {{200, zone_json}};
	struct fixture f;
	open_plugin(&f, r, 1, 2);
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 3, &got, E()), STS_OK);
	assert_int_equal(f.s->n, 1);
	assert_non_null(strstr(f.s->req[0], "GET /api/v1/servers/localhost/zones/example.com. "));
	assert_non_null(strstr(f.s->req[0], "X-API-Key: sekrit-4711\r\n"));
	assert_int_equal(got.n, 2); /* the TXT and the CNAME; not A, SOA, or disabled-only */
	const struct sts_rrset *txt = sts_rrsets_find(&got, "_mta-sts.example.com.", "TXT");
	assert_non_null(txt);
	assert_int_equal(txt->ttl, 300);
	assert_int_equal(txt->n_values, 2);
	assert_true(sts_rrset_has_value(txt, "v=STSv1; id=1;"));
	assert_true(sts_rrset_has_value(txt, "abcdef"));
	const struct sts_rrset *cn = sts_rrsets_find(&got, "mta-sts.example.com.", "CNAME");
	assert_non_null(cn);
	assert_string_equal(cn->values[0], "web.example.net.");
	sts_rrsets_release(&got);
	close_plugin(&f);
}

static void test_apply_body(void **state)
{
	(void)state;
	struct reply r[] = {{200, zone_json}, {204, NULL}};
	struct fixture f;
	open_plugin(&f, r, 2, 2);
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	assert_int_equal(sts_plugin_dns_read(f.p, "example.com.", names, 3, &got, E()), STS_OK);
	char long_v[301];
	memset(long_v, 'a', 300);
	long_v[300] = '\0';
	long_v[254] = 'Z';
	long_v[255] = 'Y';
	char *v1[] = {"v=STSv1; id=2;", "abcdef"};
	char *v2[] = {long_v, "q\"b\\s\x01"};
	struct sts_dns_change ch[] = {
	    {STS_CHANGE_REPLACE, {0, "_mta-sts.example.com.", "TXT", 300, v1, 2}, NULL},
	    {STS_CHANGE_CREATE, {0, "_smtp._tls.example.com.", "TXT", 3600, v2, 2}, NULL},
	    {STS_CHANGE_DELETE, {0, "mta-sts.example.com.", "CNAME", 0, NULL, 0}, NULL},
	};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", ch, 3, E()), STS_OK);
	assert_int_equal(f.s->n, 2); /* the read's GET is reused: one PATCH, no second GET */
	assert_non_null(strstr(f.s->req[1], "PATCH /api/v1/servers/localhost/zones/example.com. "));
	assert_non_null(strstr(f.s->req[1], "Content-Type: application/json"));
	json_error_t je;
	json_t *doc = json_loads(body_of(f.s, 1), 0, &je);
	assert_non_null(doc);
	json_t *rr = json_object_get(doc, "rrsets");
	assert_int_equal(json_array_size(rr), 3);
	/* ours new, the foreign one with its content as read, the disabled one kept */
	json_t *a = json_array_get(rr, 0);
	assert_string_equal(json_string_value(json_object_get(a, "changetype")), "REPLACE");
	assert_int_equal(json_integer_value(json_object_get(a, "ttl")), 300);
	json_t *rec = json_object_get(a, "records");
	assert_int_equal(json_array_size(rec), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rec, 0), "content")),
			    "\"v=STSv1; id=2;\"");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rec, 1), "content")),
			    "\"abc\" \"def\"");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rec, 2), "content")),
			    "\"off\"");
	assert_true(json_is_true(json_object_get(json_array_get(rec, 2), "disabled")));
	/* 300 octets: a string of 255 and one of 45; escapes; the disabled record kept */
	json_t *b = json_object_get(json_array_get(rr, 1), "records");
	assert_int_equal(json_array_size(b), 3);
	const char *c0 = json_string_value(json_object_get(json_array_get(b, 0), "content"));
	assert_int_equal(strlen(c0), 255 + 2 + 1 + 45 + 2);
	assert_int_equal(c0[255], 'Z');
	assert_memory_equal(c0 + 256, "\" \"Y", 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(b, 1), "content")),
			    "\"q\\\"b\\\\s\\001\"");
	assert_string_equal(json_string_value(json_object_get(json_array_get(b, 2), "content")),
			    "\"only disabled\"");
	json_t *c = json_array_get(rr, 2);
	assert_string_equal(json_string_value(json_object_get(c, "changetype")), "DELETE");
	assert_null(json_object_get(c, "records"));
	json_decref(doc);
	sts_rrsets_release(&got);
	close_plugin(&f);
}

static void expect_error(int status, const char *body, int want, const char *msg)
{
	struct reply r[] = {{status, body}};
	struct fixture f;
	open_plugin(&f, r, 1, 0);
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 3, &got, E()), want);
	const char *e = last_err;
	assert_non_null(e);
	if (!strstr(e, msg))
		fail_msg("'%s' not in '%s'", msg, e);
	assert_null(strstr(e, "sekrit"));
	sts_rrsets_release(&got);
	close_plugin(&f);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(401, "Unauthorized", STS_EAUTH, "rejected the API key (HTTP 401)");
	expect_error(403, "Forbidden", STS_EAUTH, "rejected the API key (HTTP 403)");
	expect_error(404, "Not Found", STS_ENOENT,
		     "zone 'example.com.' not found on PowerDNS server 'localhost'");
	expect_error(422, "{\"error\": \"RRset x. IN TXT: Conflicts with pre-existing RRset\"}",
		     STS_ECONFLICT,
		     "(HTTP 422): RRset x. IN TXT: Conflicts with pre-existing RRset");
	expect_error(422, "{\"error\": \"Name is out of zone\"}", STS_EPROVIDER,
		     "refused the change to zone 'example.com.' (HTTP 422): Name is out of zone");
	expect_error(200, "not json", STS_EPROVIDER, "PowerDNS sent no rrsets");
}

static void test_patch_repeats_bounded(void **state)
{
	(void)state;
	char *v[] = {"v=STSv1; id=3;"};
	struct sts_dns_change ch = {
	    STS_CHANGE_CREATE, {0, "_mta-sts.example.com.", "TXT", 60, v, 1}, NULL};
	/* GET, then 500 and a reset (outcome unknown), then 204: converges */
	struct reply ok[] = {{200, zone_json}, {500, "{}"}, {0, NULL}, {204, NULL}};
	struct fixture f;
	open_plugin(&f, ok, 4, 2);
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_OK);
	assert_int_equal(f.s->n, 4);
	assert_string_equal(body_of(f.s, 1), body_of(f.s, 3)); /* the same PATCH again */
	close_plugin(&f);
	/* 500 forever, retries 2: 3 PATCHes, then a clear error */
	struct reply bad[] = {{200, zone_json}, {500, "{\"error\": \"boom\"}"}};
	open_plugin(&f, bad, 2, 2);
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_EPROVIDER);
	assert_int_equal(f.s->n, 4);
	assert_non_null(strstr(
	    last_err, "answered HTTP 500 to PATCH zone 'example.com.' after 3 attempts: boom"));
	close_plugin(&f);
}

static void test_down_after_three(void **state)
{
	(void)state;
	struct reply r[] = {{503, "{}"}};
	struct fixture f;
	open_plugin(&f, r, 1, 0);
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 3, &got, E()),
				 STS_EPROVIDER);
	int sent = f.s->n; /* 2 attempts each (max_attempts 2) */
	assert_int_equal(sent, 6);
	assert_int_equal(sts_plugin_dns_read(f.p, "example.org", names, 3, &got, E()),
			 STS_EPROVIDER);
	assert_int_equal(f.s->n, sent); /* nothing sent: the provider is down */
	assert_non_null(
	    strstr(last_err, "is down (3 failures in a row, last: HTTP 503), not trying again"));
	sts_rrsets_release(&got);
	close_plugin(&f);
}

static void test_bad_zone_and_name(void **state)
{
	(void)state;
	struct reply r[] = {{200, zone_json}};
	struct fixture f;
	open_plugin(&f, r, 1, 0);
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	assert_int_equal(sts_plugin_dns_read(f.p, "../etc", names, 3, &got, E()), STS_EINVAL);
	char *v[] = {"x"};
	struct sts_dns_change ch = {
	    STS_CHANGE_CREATE, {0, "_mta-sts.other.org.", "TXT", 60, v, 1}, NULL};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_EINVAL);
	assert_non_null(strstr(last_err, "is not an absolute name in zone"));
	assert_int_equal(f.s->n, 0);
	sts_rrsets_release(&got);
	close_plugin(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read),
	    cmocka_unit_test(test_apply_body),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_patch_repeats_bounded),
	    cmocka_unit_test(test_down_after_three),
	    cmocka_unit_test(test_bad_zone_and_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
