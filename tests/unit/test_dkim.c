/* SPDX-License-Identifier: MIT */
/*
 * DKIM of report e-mails (core/rfc/sts_dkim.c): messages signed here with
 * libopendkim and a fresh RSA key, verified with the key configured or
 * served by a fake DNS server on 127.0.0.1; tampering, alignment, l=,
 * missing keys, trusted Authentication-Results; the real samples, whose
 * keys are not reachable offline, never pass; and the effect on ingestion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <opendkim/dkim.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "fake_net.h"
#include "state_fixture.h"
#include "sts_buf.h"
#include "sts_db.h"
#include "sts_dkim.h"
#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_mime.h"
#include "sts_receiver.h"
#include "sts_report_evidence.h"
#include "sts_rollout.h"

static char *priv_pem; /* the signing key */
static char *key_rec;  /* "v=DKIM1; k=rsa; p=..." */

static int group_setup(void **state)
{
	(void)state;
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	if (!pk)
		return -1;
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
	char *p;
	long n = BIO_get_mem_data(b, &p);
	priv_pem = strndup(p, (size_t)n);
	BIO_free(b);
	unsigned char *der = NULL;
	int dl = i2d_PUBKEY(pk, &der);
	char *b64 = malloc((size_t)dl * 2 + 4);
	int bl = EVP_EncodeBlock((unsigned char *)b64, der, dl);
	b64[bl] = '\0';
	if (asprintf(&key_rec, "v=DKIM1; k=rsa; p=%s", b64) < 0)
		return -1;
	free(b64);
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free(priv_pem);
	free(key_rec);
	return 0;
}

static const char report_json[] =
    "{\"organization-name\":\"Reporter Example\",\"date-range\":{\"start-datetime\":"
    "\"2026-03-01T00:00:00Z\",\"end-datetime\":\"2026-03-01T23:59:59Z\"},\"contact-info\":"
    "\"tls@reporter.example\",\"report-id\":\"r-1@reporter.example\",\"policies\":[{\"policy\":"
    "{\"policy-type\":\"sts\",\"policy-string\":[\"version: STSv1\",\"mode: testing\","
    "\"mx: mx.example.net\",\"max_age: 86400\"],\"policy-domain\":\"example.net\"},"
    "\"summary\":{\"total-successful-session-count\":70,\"total-failure-session-count\":2},"
    "\"failure-details\":[{\"result-type\":\"certificate-expired\",\"sending-mta-ip\":"
    "\"192.0.2.1\",\"receiving-mx-hostname\":\"mx.example.net\",\"failed-session-count\":2}]}]}";

/* a report message from submitter carrying json, its header and body */
static void message_json(const char *submitter, const char *extra_header, const char *json,
			 struct sts_buf *hdr, struct sts_buf *body)
{
	sts_buf_init(hdr, 1 << 20);
	sts_buf_init(body, 1 << 20);
	assert_int_equal(
	    sts_buf_printf(hdr,
			   "%sFrom: noreply@%s\r\nTo: tlsrpt@example.net\r\n"
			   "Subject: Report Domain: example.net Submitter: %s Report-ID: "
			   "<r-1@reporter.example>\r\nDate: Mon, 02 Mar 2026 01:00:00 +0000\r\n"
			   "TLS-Report-Domain: example.net\r\nTLS-Report-Submitter: %s\r\n"
			   "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
			   "report-type=tlsrpt;\r\n boundary=\"b1\"\r\n",
			   extra_header ? extra_header : "", submitter, submitter, submitter),
	    STS_OK);
	assert_int_equal(
	    sts_buf_printf(body,
			   "--b1\r\nContent-Type: text/plain\r\n\r\nThis is a TLS "
			   "report.\r\n--b1\r\nContent-Type: application/tlsrpt+json\r\n"
			   "Content-Disposition: attachment;\r\n filename=\"%s!example."
			   "net!1772323200!1772409599.json\"\r\n\r\n%s\r\n--b1--\r\n",
			   submitter, json),
	    STS_OK);
}

/* DKIM-Signature for hdr+body by d=domain s=sel; blen >= 0 adds l= */
static char *sign(const char *domain, const struct sts_buf *hdr, const struct sts_buf *body,
		  ssize_t blen)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	DKIM_STAT st;
	DKIM *d = dkim_sign(lib, (const u_char *)"test", NULL, (dkim_sigkey_t)priv_pem,
			    (const u_char *)"sel", (const u_char *)domain, DKIM_CANON_RELAXED,
			    DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, blen, &st);
	assert_non_null(d);
	const char *p = hdr->data, *end = hdr->data + hdr->len;
	while (p < end) {
		const char *q = p;
		for (;;) { /* a field with its continuation lines */
			const char *nl = strstr(q, "\r\n");
			if (nl + 2 < end && (nl[2] == ' ' || nl[2] == '\t')) {
				q = nl + 2;
				continue;
			}
			assert_int_equal(dkim_header(d, (u_char *)(uintptr_t)p, (size_t)(nl - p)),
					 DKIM_STAT_OK);
			p = nl + 2;
			break;
		}
	}
	assert_int_equal(dkim_eoh(d), DKIM_STAT_OK);
	assert_int_equal(dkim_body(d, (u_char *)body->data, body->len), DKIM_STAT_OK);
	assert_int_equal(dkim_eom(d, NULL), DKIM_STAT_OK);
	u_char *sig = NULL;
	size_t sl = 0;
	assert_int_equal(dkim_getsighdr_d(d, strlen("DKIM-Signature: "), &sig, &sl), DKIM_STAT_OK);
	char *out = NULL;
	assert_true(asprintf(&out, "DKIM-Signature: %s\r\n", sig) > 0);
	dkim_free(d);
	dkim_close(lib);
	return out;
}

struct msg {
	char *headers; /* with the signature on top */
	size_t hlen;
	char *body;
	size_t blen;
};

static void msg_free(struct msg *m)
{
	free(m->headers);
	free(m->body);
}

static struct msg signed_msg_json(const char *signer, const char *submitter, ssize_t l,
				  const char *extra_header, const char *json)
{
	struct sts_buf h, b;
	message_json(submitter, extra_header, json, &h, &b);
	struct msg m = {0};
	char *sig = signer ? sign(signer, &h, &b, l == -2 ? (ssize_t)b.len : -1) : NULL;
	assert_true(asprintf(&m.headers, "%s%s", sig ? sig : "", h.data) > 0);
	m.hlen = strlen(m.headers);
	m.blen = b.len;
	m.body = sts_buf_steal(&b);
	sts_buf_release(&h);
	free(sig);
	return m;
}

static struct msg signed_msg(const char *signer, const char *submitter, ssize_t l,
			     const char *extra_header)
{
	return signed_msg_json(signer, submitter, l, extra_header, report_json);
}

static struct sts_dkim *dkim_with(bool key, bool dns, const char *resolver,
				  const char *const *trusted, size_t nt)
{
	char *names[] = {"sel._domainkey.reporter.example"};
	char *values[] = {key_rec};
	struct sts_dkim_conf c = {
	    .key_names = names,
	    .key_values = values,
	    .n_keys = key ? 1 : 0,
	    .dns = dns,
	    .resolver = resolver,
	    .timeout_ms = 2000,
	    .trusted_mtas = (char *const *)trusted,
	    .n_trusted_mtas = nt,
	};
	struct sts_dkim *d = NULL;
	assert_int_equal(sts_dkim_new(&c, &d), STS_OK);
	return d;
}

static struct sts_dkim_result check(struct sts_dkim *d, const struct msg *m, const char *rep)
{
	struct sts_dkim_result r = {0};
	assert_int_equal(sts_dkim_check(d, m->headers, m->hlen, m->body, m->blen, rep, &r), STS_OK);
	assert_non_null(r.reason);
	return r;
}

static void expect(struct sts_dkim *d, const struct msg *m, const char *rep, bool pass,
		   const char *reason)
{
	struct sts_dkim_result r = check(d, m, rep);
	if (r.pass != pass || !strstr(r.reason, reason))
		fail_msg("want %s with '%s', got %s: '%s'", pass ? "pass" : "no pass", reason,
			 r.pass ? "pass" : "no pass", r.reason);
	sts_dkim_result_release(&r);
}

static void test_pass_with_configured_key(void **state)
{
	(void)state;
	struct sts_dkim *d = dkim_with(true, false, NULL, NULL, 0);
	struct msg m = signed_msg("reporter.example", "reporter.example", -1, NULL);
	struct sts_dkim_result r = check(d, &m, "reporter.example");
	assert_true(r.pass);
	assert_string_equal(r.domain, "reporter.example");
	assert_string_equal(r.reason, "dkim pass d=reporter.example s=sel");
	sts_dkim_result_release(&r);
	/* a subdomain of the signer as the reporting domain is aligned */
	expect(d, &m, "mail.reporter.example", true, "dkim pass");
	/* another reporting domain is not */
	expect(d, &m, "other.example", false, "not the reporting domain 'other.example'");
	/* no reporting domain at all */
	expect(d, &m, NULL, false, "no reporting domain");
	msg_free(&m);
	sts_dkim_free(d);
}

/* RFC 8460 §3: keys SHOULD say s=tlsrpt, which RFC 6376 libraries do not know */
static void test_service_type(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool pass;
	} v[] = {
	    {"s=tlsrpt; ", true}, {"s = tlsrpt:other; ", true}, {"s=email:tlsrpt; ", true},
	    {"s=*; ", true},	  {"s=other; ", false},
	};
	struct msg m = signed_msg("reporter.example", "reporter.example", -1, NULL);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *rec = NULL;
		assert_true(asprintf(&rec, "v=DKIM1; k=rsa; %s%s", v[i].s, strstr(key_rec, "p=")) >
			    0);
		char *names[] = {"sel._domainkey.reporter.example"};
		char *values[] = {rec};
		struct sts_dkim_conf c = {.key_names = names, .key_values = values, .n_keys = 1};
		struct sts_dkim *d = NULL;
		assert_int_equal(sts_dkim_new(&c, &d), STS_OK);
		expect(d, &m, "reporter.example", v[i].pass,
		       v[i].pass ? "dkim pass" : "not an e-mail key");
		sts_dkim_free(d);
		free(rec);
	}
	msg_free(&m);
}

static void test_tampered(void **state)
{
	(void)state;
	struct sts_dkim *d = dkim_with(true, false, NULL, NULL, 0);
	struct msg m = signed_msg("reporter.example", "reporter.example", -1, NULL);
	char *p = strstr(m.body, "\"total-successful-session-count\":70");
	assert_non_null(p);
	p[strlen("\"total-successful-session-count\":")] = '9'; /* 70 -> 90 */
	expect(d, &m, "reporter.example", false, "body hash mismatch");
	p[strlen("\"total-successful-session-count\":")] = '7';
	expect(d, &m, "reporter.example", true, "dkim pass");
	/* a signed header changed */
	char *s = strstr(m.headers, "Subject: Report Domain: example.net");
	assert_non_null(s);
	s[strlen("Subject: Report Domain: ")] = 'E';
	expect(d, &m, "reporter.example", false, "dkim fail d=reporter.example");
	msg_free(&m);
	sts_dkim_free(d);
}

static void test_length_tag_refused(void **state)
{
	(void)state;
	struct sts_dkim *d = dkim_with(true, false, NULL, NULL, 0);
	struct msg m = signed_msg("reporter.example", "reporter.example", -2, NULL);
	assert_non_null(strstr(m.headers, "l="));
	expect(d, &m, "reporter.example", false, "l=");
	msg_free(&m);
	sts_dkim_free(d);
}

static void test_no_signature_no_key(void **state)
{
	(void)state;
	struct sts_dkim *d = dkim_with(false, false, NULL, NULL, 0);
	struct msg m = signed_msg(NULL, "reporter.example", -1, NULL);
	expect(d, &m, "reporter.example", false, "no dkim signature");
	msg_free(&m);
	m = signed_msg("reporter.example", "reporter.example", -1, NULL);
	expect(d, &m, "reporter.example", false,
	       "no key configured for 'sel._domainkey.reporter.example' and DNS lookups are off");
	msg_free(&m);
	sts_dkim_free(d);
}

static void test_key_from_dns(void **state)
{
	(void)state;
	/* the key record as TXT character-strings of at most 255 bytes */
	struct sts_buf rr;
	sts_buf_init(&rr, 1 << 16);
	sts_buf_puts(&rr, "sel._domainkey.reporter.example. 60 IN TXT");
	for (size_t i = 0; i < strlen(key_rec); i += 200)
		sts_buf_printf(&rr, " \"%.200s\"", key_rec + i);
	const char *zone[] = {rr.data, "example. 60 IN TXT \"x\"", NULL};
	struct fake_dns *dns = fake_dns_start(zone);
	char server[32];
	snprintf(server, sizeof(server), "127.0.0.1:%d", dns->port);
	struct sts_dkim *d = dkim_with(false, true, server, NULL, 0);
	struct msg m = signed_msg("reporter.example", "reporter.example", -1, NULL);
	expect(d, &m, "reporter.example", true, "dkim pass d=reporter.example");
	assert_true(dns->queries >= 1);
	msg_free(&m);
	/* a signer whose key is not published */
	m = signed_msg("nokey.example", "nokey.example", -1, NULL);
	expect(d, &m, "nokey.example", false, "'sel._domainkey.nokey.example': NXDOMAIN");
	msg_free(&m);
	sts_dkim_free(d);
	fake_dns_stop(dns);
	sts_buf_release(&rr);
}

static void test_trusted_authentication_results(void **state)
{
	(void)state;
	const char *trusted[] = {"mx.example.net"};
	struct sts_dkim *d = dkim_with(false, false, NULL, trusted, 1);
	struct msg m = signed_msg(
	    NULL, "reporter.example", -1,
	    "Authentication-Results: mx.example.net (Postfix 3.7);\r\n dkim=pass (2048-bit key)"
	    " header.d=reporter.example header.s=sel header.b=abcd;\r\n spf=pass\r\n");
	expect(d, &m, "reporter.example", true,
	       "authentication-results of trusted 'mx.example.net': dkim=pass "
	       "header.d=reporter.example");
	msg_free(&m);
	/* not a trusted authserv-id */
	m = signed_msg(
	    NULL, "reporter.example", -1,
	    "Authentication-Results: evil.example; dkim=pass header.d=reporter.example\r\n");
	expect(d, &m, "reporter.example", false, "no dkim signature");
	msg_free(&m);
	/* the first trusted field decides: a later forged pass does not count */
	m = signed_msg(
	    NULL, "reporter.example", -1,
	    "Authentication-Results: mx.example.net; dkim=fail header.d=reporter.example\r\n"
	    "Authentication-Results: mx.example.net; dkim=pass "
	    "header.d=reporter.example\r\n");
	expect(d, &m, "reporter.example", false, "no dkim signature");
	msg_free(&m);
	/* only the topmost field is read: a trusted verdict the sender wrote below
	 * another MTA's field does not count (RFC 8601 §5) */
	m = signed_msg(
	    NULL, "reporter.example", -1,
	    "Authentication-Results: relay.other.example; dkim=none\r\n"
	    "Authentication-Results: mx.example.net; dkim=pass header.d=reporter.example\r\n");
	expect(d, &m, "reporter.example", false, "no dkim signature");
	msg_free(&m);
	/* a pass for another domain; header.i works */
	char *dom = NULL, *id = NULL;
	static const char h1[] =
	    "Authentication-Results: mx.example.net; dkim=pass header.d=other.example\r\n";
	assert_int_equal(sts_dkim_trusted_ar(h1, sizeof(h1) - 1, (char *const *)trusted, 1,
					     "reporter.example", &dom, &id),
			 0);
	static const char h2[] = "Authentication-Results: MX.example.net 1; dkim=pass "
				 "header.i=@Reporter.Example (\"comment; with ;\")\r\n";
	assert_int_equal(sts_dkim_trusted_ar(h2, sizeof(h2) - 1, (char *const *)trusted, 1,
					     "reporter.example", &dom, &id),
			 1);
	assert_string_equal(dom, "Reporter.Example");
	assert_string_equal(id, "MX.example.net");
	free(dom);
	free(id);
	/* a trusted pass also covers a message whose own signature fails */
	m = signed_msg("reporter.example", "reporter.example", -1,
		       "Authentication-Results: mx.example.net; dkim=pass "
		       "header.d=reporter.example\r\n");
	expect(d, &m, "reporter.example", true, "trusted 'mx.example.net'");
	msg_free(&m);
	sts_dkim_free(d);
}

static void test_aligned(void **state)
{
	(void)state;
	assert_int_equal(sts_dkim_aligned("google.com", "google.com"), 1);
	assert_int_equal(sts_dkim_aligned("GOOGLE.com.", "google.COM"), 1);
	assert_int_equal(sts_dkim_aligned("corp.mail.ru", "mail.ru"), 1);
	assert_int_equal(sts_dkim_aligned("mail.ru", "corp.mail.ru"), 1);
	assert_int_equal(sts_dkim_aligned("com", "google.com"), 0);
	assert_int_equal(sts_dkim_aligned("evil.com", "google.com"), 0);
	assert_int_equal(sts_dkim_aligned("oogle.com", "google.com"), 0);
	assert_int_equal(sts_dkim_aligned("google.com", "xgoogle.com"), 0);
	assert_int_equal(sts_dkim_aligned(NULL, "google.com"), 0);
	assert_int_equal(sts_dkim_aligned("google.com", NULL), 0);
	assert_int_equal(sts_dkim_aligned("", ""), 0);
}

/* The samples are signed by google.com, microsoft.com and mail.ru: their
 * keys are out of reach offline, so none may pass. */
static void test_real_samples_never_pass(void **state)
{
	(void)state;
	static const char *const eml[] = {
	    "02-google-2022-sts-enforce.eml", "03-microsoft-2023-datetime-without-timezone.eml",
	    "04-google-2024-no-policy-found.eml", "06-mailru-2023-sts-fetch-timeout.eml",
	    "07-microsoft-2024-sts-and-tlsa.eml"};
	struct sts_dkim *d = dkim_with(true, false, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(eml) / sizeof(eml[0]); i++) {
		char *path = NULL;
		const char *dd = getenv("STS_TEST_DATA");
		assert_true(
		    asprintf(&path, "%s/tlsrpt/samples/%s", dd ? dd : "tests/data", eml[i]) > 0);
		struct sts_buf b;
		sts_buf_init(&b, STS_CAP_MAIL);
		assert_int_equal(sts_buf_read_file(&b, path), STS_OK);
		struct sts_mime_reports *m = NULL;
		assert_int_equal(sts_mime_extract_reports(b.data, b.len, &m, NULL), STS_OK);
		struct sts_dkim_result r = {0};
		assert_int_equal(sts_dkim_check(d, m->raw_headers, m->raw_headers_len,
						b.data + m->body_offset, b.len - m->body_offset,
						m->report_submitter, &r),
				 STS_OK);
		assert_false(r.pass);
		assert_true(strncmp(r.reason, "dkim", 4) == 0);
		sts_dkim_result_release(&r);
		sts_mime_reports_free(m);
		sts_buf_release(&b);
		free(path);
	}
	sts_dkim_free(d);
}

/* A signed message through ingestion: stored authenticated, counted as evidence. */
static void test_ingest_authenticated(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_dkim.XXXXXX", db_path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/s.db", dir);
	struct sts_db *db = NULL;
	assert_int_equal(state_fixture_open("dkim", db_path, 0, NULL, &db, NULL), STS_OK);
	json_t *j = json_pack("{s:{s:b,s:{s:s}}}", "dkim", "dns", 0, "keys",
			      "sel._domainkey.reporter.example", key_rec);
	struct sts_ingest_conf *conf = NULL;
	assert_int_equal(sts_ingest_conf_from_json(j, dir, &conf, NULL), STS_OK);
	json_decref(j);
	struct sts_ingest *ing = NULL;
	struct sts_ingest_opts o = {.conf = conf};
	assert_int_equal(sts_ingest_new(db, &o, &ing), STS_OK);
	struct msg m = signed_msg("reporter.example", "reporter.example", -1, NULL);
	char *whole = NULL;
	assert_true(asprintf(&whole, "%s\r\n%s", m.headers, m.body) > 0);
	enum sts_ingest_outcome oc;
	const char *why = NULL;
	assert_int_equal(
	    sts_ingest_message(ing, whole, strlen(whole), STS_CH_IMAP, "imap test", &oc, &why),
	    STS_OK);
	assert_int_equal(oc, STS_INGEST_STORED);
	assert_string_equal(why, "dkim pass d=reporter.example s=sel");
	/* the same message tampered with: a duplicate, no upgrade, no change */
	char *p = strstr(whole, "\"total-successful-session-count\":70");
	p[strlen("\"total-successful-session-count\":")] = '9';
	assert_int_equal(
	    sts_ingest_message(ing, whole, strlen(whole), STS_CH_IMAP, "imap test", &oc, &why),
	    STS_OK);
	assert_int_equal(oc, STS_INGEST_DUPLICATE);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(sts_db_handle(db),
					    "SELECT authenticated, sum(successful), sum(failed)"
					    " FROM tlsrpt_daily WHERE domain = 'example.net'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	assert_int_equal(sqlite3_column_int64(st, 1), 70);
	assert_int_equal(sqlite3_column_int64(st, 2), 2);
	sqlite3_finalize(st);
	free(whole);
	msg_free(&m);
	sts_ingest_free(ing);
	sts_ingest_conf_free(conf);
	sts_db_close(db);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- evidence: who counts as a reporter (issue 12, section 1) ---- */

#define EV_NOW 1772409600 /* 2026-03-02T00:00:00Z: the reports' day is in the window */

/* the report with another organisation name, report id and counts */
static char *report_as(const char *org, const char *rid, int ok, int failed)
{
	char *s = NULL;
	assert_true(
	    asprintf(
		&s,
		"{\"organization-name\":\"%s\",\"date-range\":{\"start-datetime\":"
		"\"2026-03-01T00:00:00Z\",\"end-datetime\":\"2026-03-01T23:59:59Z\"},"
		"\"contact-info\":\"tls@x.example\",\"report-id\":\"%s\",\"policies\":[{"
		"\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[\"version: STSv1\","
		"\"mode: testing\",\"mx: mx.example.net\",\"max_age: 86400\"],"
		"\"policy-domain\":\"example.net\"},\"summary\":{"
		"\"total-successful-session-count\":%d,\"total-failure-session-count\":%d},"
		"\"failure-details\":[{\"result-type\":\"certificate-expired\","
		"\"sending-mta-ip\":\"192.0.2.1\",\"receiving-mx-hostname\":\"mx.example.net\","
		"\"failed-session-count\":%d}]}]}",
		org, rid, ok, failed, failed) > 0);
	return s;
}

struct evdb {
	char dir[64];
	struct sts_db *db;
	struct sts_ingest_conf *conf;
	struct sts_ingest *ing;
};

/* (re)make the ingester: keys configured or not, DNS through resolver (NULL: off),
 * reporter.example added to the built-in reporters */
static bool ev_attacker_listed; /* attacker.example is listed too (a listed reporter gone bad) */

static void ev_ingester(struct evdb *e, bool keys, const char *resolver, bool trusted_files)
{
	sts_ingest_free(e->ing);
	sts_ingest_conf_free(e->conf);
	json_t *k = json_object();
	static const char *const signers[] = {"reporter.example", "mail.reporter.example",
					      "attacker.example"};
	for (size_t i = 0; keys && i < 3; i++) {
		char name[96];
		snprintf(name, sizeof(name), "sel._domainkey.%s", signers[i]);
		json_object_set_new(k, name, json_string(key_rec));
	}
	json_t *j = json_pack("{s:{s:b,s:s?,s:i,s:o},s:{s:[s,s]}}", "dkim", "dns", resolver != NULL,
			      "resolver", resolver, "timeout", 2, "keys", k, "reporters", "add",
			      "reporter.example",
			      ev_attacker_listed ? "attacker.example" : "reporter.example");
	assert_non_null(j);
	assert_int_equal(sts_ingest_conf_from_json(j, e->dir, &e->conf, NULL), STS_OK);
	json_decref(j);
	struct sts_ingest_opts o = {.conf = e->conf, .trusted_files = trusted_files};
	assert_int_equal(sts_ingest_new(e->db, &o, &e->ing), STS_OK);
}

static void ev_open(struct evdb *e, bool keys, const char *resolver)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_dkim_ev.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	char path[96];
	snprintf(path, sizeof(path), "%s/s.db", e->dir);
	assert_int_equal(state_fixture_open("dkim", path, 0, NULL, &e->db, NULL), STS_OK);
	assert_int_equal(sts_db_policy_served(e->db, "example.net", "p1",
					      "version: STSv1\nmode: testing\nmx: "
					      "mx.example.net\nmax_age: 86400\n",
					      "testing", 86400),
			 STS_OK);
	ev_ingester(e, keys, resolver, false);
}

static void ev_close(struct evdb *e)
{
	sts_ingest_free(e->ing);
	sts_ingest_conf_free(e->conf);
	sts_db_close(e->db);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	assert_int_equal(system(cmd), 0);
}

/* ingest a message signed by signer (NULL: unsigned) carrying json (freed) */
static enum sts_ingest_outcome ev_mail(struct evdb *e, const char *signer, const char *submitter,
				       const char *extra_header, char *json)
{
	struct msg m = signed_msg_json(signer, submitter, -1, extra_header, json);
	char *whole = NULL;
	assert_true(asprintf(&whole, "%s\r\n%s", m.headers, m.body) > 0);
	enum sts_ingest_outcome oc = STS_INGEST_SKIPPED;
	assert_int_equal(
	    sts_ingest_message(e->ing, whole, strlen(whole), STS_CH_IMAP, "imap test", &oc, NULL),
	    STS_OK);
	free(whole);
	msg_free(&m);
	free(json);
	return oc;
}

static long long ev_int(struct evdb *e, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(sts_db_handle(e->db), sql, -1, &st, NULL), SQLITE_OK);
	long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return v;
}

static char *ev_text(struct evdb *e, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(sts_db_handle(e->db), sql, -1, &st, NULL), SQLITE_OK);
	const char *t =
	    sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	char *v = strdup(t ? t : "(null)");
	sqlite3_finalize(st);
	return v;
}

static void ev_expect_text(struct evdb *e, const char *sql, const char *want)
{
	char *got = ev_text(e, sql);
	if (!strstr(got, want))
		fail_msg("%s: want '%s' in '%s'", sql, want, got);
	free(got);
}

static void ev_read(struct evdb *e, bool all, struct sts_rollout_evidence *ev)
{
	struct sts_rollout_reader *rd = NULL;
	assert_int_equal(sts_rollout_reader_new(e->db, &rd), STS_OK);
	sts_rollout_reader_set_reporters(rd, e->conf->reporters);
	assert_int_equal(sts_rollout_reader_evidence(rd, "example.net", 7, EV_NOW, all, ev),
			 STS_OK);
	sts_rollout_reader_free(rd);
}

static bool ev_ignored(const struct sts_rollout_evidence *ev, const char *why, long long n)
{
	for (size_t i = 0; i < ev->n_ignored; i++)
		if (strstr(ev->ignored[i].why, why) && ev->ignored[i].reports == n)
			return true;
	return false;
}

/* A forger signs with its own domain and calls itself Google: stored, never evidence;
 * a listed reporter counts once however many names it uses */
static void test_evidence_identity(void **state)
{
	(void)state;
	struct evdb e;
	struct sts_rollout_evidence ev;
	ev_open(&e, true, NULL);
	assert_int_equal(ev_mail(&e, "attacker.example", "attacker.example", NULL,
				 report_as("Google Inc.", "forged-1", 0, 1)),
			 STS_INGEST_STORED);
	ev_expect_text(&e, "SELECT reporter FROM tlsrpt_reports WHERE report_id = 'forged-1'",
		       "attacker.example");
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 0);
	assert_int_equal(ev.reporting_orgs, 0);
	assert_int_equal(ev.n_types, 0); /* its certificate-expired does not count */
	assert_true(ev_ignored(&ev, "reporter attacker.example is not in reports.reporters", 1));
	/* d=mail.reporter.example: the organisational domain is the identity */
	assert_int_equal(ev_mail(&e, "mail.reporter.example", "mail.reporter.example", NULL,
				 report_as("Reporter Example", "r-a", 70, 0)),
			 STS_INGEST_STORED);
	ev_expect_text(&e, "SELECT reporter FROM tlsrpt_reports WHERE report_id = 'r-a'",
		       "reporter.example");
	/* the same signer under another organisation name is the same reporter */
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Microsoft Corporation", "r-b", 30, 0)),
			 STS_INGEST_STORED);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 2);
	assert_int_equal(ev.successes, 100);
	assert_int_equal(ev.reporting_orgs, 1);
	/* "evidence": "all" (a lab setting) counts the forger too */
	ev_read(&e, true, &ev);
	assert_true(ev.all);
	assert_int_equal(ev.reports, 3);
	assert_int_equal(ev.reporting_orgs, 2);
	/* report --json: per report, evidence and why not */
	struct sts_report_query q = {.domain = "example.net"};
	json_t *a = NULL;
	bool trunc = true;
	assert_int_equal(sts_report_evidence_json(e.db, &q, e.conf->reporters, false, &a, &trunc),
			 STS_OK);
	assert_false(trunc);
	assert_int_equal(json_array_size(a), 3);
	size_t i;
	json_t *o;
	json_array_foreach(a, i, o)
	{
		const char *rid = json_string_value(json_object_get(o, "report_id"));
		bool forged = strcmp(rid, "forged-1") == 0;
		assert_int_equal(json_is_true(json_object_get(o, "evidence")), !forged);
		if (forged)
			assert_string_equal(
			    json_string_value(json_object_get(o, "why")),
			    "reporter attacker.example is not in reports.reporters");
		else
			assert_null(json_object_get(o, "why"));
	}
	json_decref(a);
	ev_close(&e);
}

/* The better copy is kept: listed signer > other signer > unsigned; never the reverse */
static void test_evidence_better_copy(void **state)
{
	(void)state;
	struct evdb e;
	struct sts_rollout_evidence ev;
	enum sts_ingest_outcome oc;
	ev_open(&e, true, NULL);
	char *j = report_as("Reporter Example", "r-1", 70, 0);
	assert_int_equal(
	    sts_ingest_blob(e.ing, j, strlen(j), STS_CH_FILE, "f.json", false, "file", &oc, NULL),
	    STS_OK);
	assert_int_equal(oc, STS_INGEST_STORED);
	assert_int_equal(ev_mail(&e, "attacker.example", "attacker.example", NULL,
				 report_as("Reporter Example", "r-1", 70, 0)),
			 STS_INGEST_UPGRADED);
	ev_expect_text(&e, "SELECT reporter FROM tlsrpt_reports", "attacker.example");
	/* the listed reporter's own copy is its own report: the other signer's
	 * copy under the same organisation and report id does not shadow it */
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "r-1", 70, 0)),
			 STS_INGEST_STORED);
	/* worse copies change nothing */
	assert_int_equal(ev_mail(&e, "attacker.example", "attacker.example", NULL,
				 report_as("reporter example", "r-1", 0, 500)),
			 STS_INGEST_DUPLICATE);
	assert_int_equal(
	    sts_ingest_blob(e.ing, j, strlen(j), STS_CH_FILE, "f.json", false, "file", &oc, NULL),
	    STS_OK);
	assert_int_equal(oc, STS_INGEST_DUPLICATE);
	free(j);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_reports"), 2);
	ev_expect_text(&e,
		       "SELECT group_concat(reporter || ' ' || authenticated, ',') FROM"
		       " (SELECT * FROM tlsrpt_reports ORDER BY id)",
		       "attacker.example 1,reporter.example 1");
	assert_int_equal(ev_int(&e, "SELECT sum(successful) FROM tlsrpt_daily WHERE reporter ="
				    " 'reporter.example'"),
			 70);
	assert_int_equal(ev_int(&e, "SELECT sum(failed) FROM tlsrpt_daily"), 0);
	assert_int_equal(ev_int(&e, "SELECT sum(sessions) FROM tlsrpt_failures"), 0);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 1);
	assert_int_equal(ev.successes, 70);
	assert_int_equal(ev.reporting_orgs, 1);
	ev_close(&e);
}

/* a resolver answering SERVFAIL for reporter.example's key: its "ADDR:PORT" in server */
static struct fake_dns *ev_servfail_dns(char *server, size_t n)
{
	const char *zone[] = {"example. 60 IN TXT \"x\"", NULL};
	struct fake_dns *dns =
	    fake_dns_start_opts(zone, false, "", "sel._domainkey.reporter.example");
	snprintf(server, n, "127.0.0.1:%d", dns->port);
	return dns;
}

/* SERVFAIL on the key: pending, verified again later; a permanent failure ends it */
static void test_evidence_pending(void **state)
{
	(void)state;
	char server[32];
	struct fake_dns *dns = ev_servfail_dns(server, sizeof(server));
	struct evdb e;
	struct sts_rollout_evidence ev;
	size_t still = 99;
	ev_open(&e, false, server);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "p-1", 70, 0)),
			 STS_INGEST_STORED);
	assert_int_equal(ev_int(&e, "SELECT pending + 2 * authenticated FROM tlsrpt_reports"), 1);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_pending"), 1);
	ev_expect_text(&e, "SELECT auth_reason FROM tlsrpt_reports",
		       "server failure (temporary: verified again later)");
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 0);
	/* still failing: still pending */
	assert_int_equal(sts_ingest_recheck_pending(e.ing, &still), STS_OK);
	assert_int_equal(still, 1);
	/* the key can be had now: authenticated, the pending copy replaced */
	ev_ingester(&e, true, NULL, false);
	assert_int_equal(sts_ingest_recheck_pending(e.ing, &still), STS_OK);
	assert_int_equal(still, 0);
	ev_expect_text(&e, "SELECT reporter || ' ' || authenticated || pending FROM tlsrpt_reports",
		       "reporter.example 10");
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_pending"), 0);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 1);
	assert_int_equal(ev.reporting_orgs, 1);
	/* pending again, then a permanent failure (no key, DNS off): unauthenticated */
	ev_ingester(&e, false, server, false);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "p-2", 5, 0)),
			 STS_INGEST_STORED);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_pending"), 1);
	ev_ingester(&e, false, NULL, false);
	assert_int_equal(sts_ingest_recheck_pending(e.ing, &still), STS_OK);
	assert_int_equal(still, 0);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_pending"), 0);
	assert_int_equal(ev_int(&e, "SELECT pending + 2 * authenticated FROM tlsrpt_reports"
				    " WHERE report_id = 'p-2'"),
			 0);
	ev_expect_text(&e, "SELECT auth_reason FROM tlsrpt_reports WHERE report_id = 'p-2'",
		       "DNS lookups are off");
	/* a signer whose DNS fails for ever: unauthenticated after STS_PENDING_MAX_DAYS */
	ev_ingester(&e, false, server, false);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "p-3", 5, 0)),
			 STS_INGEST_STORED);
	assert_int_equal(sqlite3_exec(sts_db_handle(e.db),
				      "UPDATE tlsrpt_reports SET received = received - 4 * 86400"
				      " WHERE report_id = 'p-3'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sts_ingest_recheck_pending(e.ing, &still), STS_OK);
	assert_int_equal(still, 0);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_pending"), 0);
	ev_expect_text(&e, "SELECT auth_reason FROM tlsrpt_reports WHERE report_id = 'p-3'",
		       "still no key after 3 days: not authenticated");
	ev_close(&e);
	fake_dns_stop(dns);
}

/* POST a body to the receiver's store handler: its status */
static unsigned ev_post(struct evdb *e, long long max_reports, long long max_bytes)
{
	struct sts_receiver_store s;
	struct sts_receiver_request req = {
	    .peer = "192.0.2.9", .content_type = "application/tlsrpt+json", .body = "{}", .len = 2};
	struct sts_receiver_reply reply = {0};
	sts_receiver_store_init(&s, e->ing, false, NULL);
	sts_receiver_store_quota(&s, e->db, max_reports, max_bytes);
	sts_receiver_store_handler(&s, &req, &reply);
	sts_receiver_store_release(&s);
	return reply.status;
}

/* Pending reports count in the storage quota (count, and bytes with their kept
 * message); past it a new pending input is refused, not stored, left in place */
static void test_evidence_pending_quota(void **state)
{
	(void)state;
	char server[32];
	struct fake_dns *dns = ev_servfail_dns(server, sizeof(server));
	struct evdb e;
	enum sts_ingest_outcome oc;
	long long n = 0, bytes = 0;
	ev_open(&e, false, server);
	char *j = report_as("Google Inc.", "q-0", 5, 0);
	assert_int_equal(
	    sts_ingest_blob(e.ing, j, strlen(j), STS_CH_FILE, "f.json", false, "file", &oc, NULL),
	    STS_OK);
	free(j);
	e.conf->https.quota_reports = 3;
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "q-1", 70, 0)),
			 STS_INGEST_STORED);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "q-2", 70, 0)),
			 STS_INGEST_STORED);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_pending"), 2);
	/* 3 unauthenticated reports, 2 of them pending: full */
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "q-3", 70, 0)),
			 STS_INGEST_REFUSED);
	assert_int_equal(sts_ingest_get_stats(e.ing)->refused, 1);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_reports"), 3);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_pending"), 2);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_quarantine"), 0);
	/* what is counted: the pending messages' bytes too */
	assert_int_equal(sts_ingest_finish(e.ing), STS_OK);
	assert_int_equal(sts_ingest_quota_used(e.db, &n, &bytes), STS_OK);
	assert_int_equal(n, 3);
	long long raw = ev_int(&e, "SELECT sum(raw_size) FROM tlsrpt_reports");
	long long msg = ev_int(&e, "SELECT sum(length(msg)) FROM tlsrpt_pending");
	assert_true(msg > 100);
	assert_int_equal(bytes, raw + msg);
	/* the bytes alone fill it (a fresh run counts again) */
	ev_ingester(&e, false, server, false);
	e.conf->https.quota_bytes = bytes + 10;
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "q-4", 70, 0)),
			 STS_INGEST_REFUSED);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_pending"), 2);
	/* a Maildir message refused stays in new/, to be read by a later run */
	char md[128], path[192];
	snprintf(md, sizeof(md), "%s/Maildir", e.dir);
	assert_int_equal(mkdir(md, 0700), 0);
	for (const char *sub = "new"; sub; sub = *sub == 'n' ? "cur" : *sub == 'c' ? "tmp" : NULL) {
		snprintf(path, sizeof(path), "%s/%s", md, sub);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	char *rep = report_as("Reporter Example", "q-6", 70, 0);
	struct msg m = signed_msg_json("reporter.example", "reporter.example", -1, NULL, rep);
	free(rep);
	snprintf(path, sizeof(path), "%s/new/1700000000.M1P1.host", md);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%s\r\n%s", m.headers, m.body);
	assert_int_equal(fclose(fp), 0);
	msg_free(&m);
	assert_int_equal(sts_ingest_maildir(e.ing, md), STS_OK);
	assert_int_equal(sts_ingest_finish(e.ing), STS_OK);
	assert_int_equal(sts_ingest_get_stats(e.ing)->refused, 2);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_reports WHERE report_id = 'q-6'"),
			 0);
	/* input that is not pending is taken as before */
	assert_int_equal(
	    ev_mail(&e, NULL, "reporter.example", NULL, report_as("Reporter Example", "q-5", 1, 0)),
	    STS_INGEST_STORED);
	/* and the receiver counts the pending bytes: full at raw + msg */
	assert_int_equal(sts_ingest_finish(e.ing), STS_OK);
	assert_int_equal(sts_ingest_quota_used(e.db, &n, &bytes), STS_OK);
	assert_true(2 <= msg); /* without the messages the POST of 2 bytes would fit */
	assert_int_equal(ev_post(&e, 1000, bytes), 503);
	assert_int_equal(ev_post(&e, 1000, bytes + 2), 400);
	/* once verified, a pending report's message no longer counts */
	ev_ingester(&e, true, NULL, false);
	size_t still = 99;
	assert_int_equal(sts_ingest_recheck_pending(e.ing, &still), STS_OK);
	assert_int_equal(still, 0);
	assert_int_equal(sts_ingest_quota_used(e.db, &n, &bytes), STS_OK);
	assert_int_equal(n, 3); /* q-0, q-5 and the quarantined POST */
	ev_close(&e);
	fake_dns_stop(dns);
}

/* A trusted source is one reporter, its name; a POST to an untrusted receiver never counts */
static void test_evidence_trusted_name(void **state)
{
	(void)state;
	struct evdb e;
	struct sts_rollout_evidence ev;
	enum sts_ingest_outcome oc;
	ev_open(&e, true, NULL);
	struct sts_ingest_opts o = {
	    .conf = e.conf, .trusted_files = true, .trusted_name = "lab-mta"};
	sts_ingest_free(e.ing);
	assert_int_equal(sts_ingest_new(e.db, &o, &e.ing), STS_OK);
	/* two organisation names through one trusted source: one reporter, not listed yet */
	char *j1 = report_as("Google Inc.", "t-1", 60, 0), *j2 = report_as("Yahoo", "t-2", 60, 0);
	char *j3 = report_as("Google Inc.", "posted", 900, 0);
	assert_int_equal(sts_ingest_blob(e.ing, j1, strlen(j1), STS_CH_FILE, "t1.json", true,
					 "ingest --trusted lab-mta", &oc, NULL),
			 STS_OK);
	assert_int_equal(sts_ingest_blob(e.ing, j2, strlen(j2), STS_CH_FILE, "t2.json", true,
					 "ingest --trusted lab-mta", &oc, NULL),
			 STS_OK);
	assert_int_equal(sts_ingest_blob(e.ing, j3, strlen(j3), STS_CH_HTTPS, "https 192.0.2.9",
					 false, "https: not authenticated", &oc, NULL),
			 STS_OK);
	free(j1);
	free(j2);
	free(j3);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 0);
	assert_true(ev_ignored(&ev, "reporter lab-mta is not in reports.reporters", 2));
	assert_true(ev_ignored(&ev, "not authenticated", 1));
	/* listed: both count, as one reporter; the POST still does not */
	json_t *r = json_pack("{s:{s:[s]}}", "reporters", "add", "lab-mta");
	struct sts_reporters *l = NULL;
	assert_int_equal(sts_reporters_from_json(r, &l), STS_OK);
	json_decref(r);
	struct sts_rollout_reader *rd = NULL;
	assert_int_equal(sts_rollout_reader_new(e.db, &rd), STS_OK);
	sts_rollout_reader_set_reporters(rd, l);
	assert_int_equal(sts_rollout_reader_evidence(rd, "example.net", 7, EV_NOW, false, &ev),
			 STS_OK);
	sts_rollout_reader_free(rd);
	sts_reporters_free(l);
	assert_int_equal(ev.reports, 2);
	assert_int_equal(ev.successes, 120);
	assert_int_equal(ev.reporting_orgs, 1);
	ev_close(&e);
}

/* Reports stored before identities: re-derived from the stored signature result */
static void test_evidence_rederive(void **state)
{
	(void)state;
	struct evdb e;
	struct sts_rollout_evidence ev;
	enum sts_ingest_outcome oc;
	ev_open(&e, true, NULL);
	assert_int_equal(ev_mail(&e, "mail.reporter.example", "mail.reporter.example", NULL,
				 report_as("Reporter Example", "old-1", 70, 0)),
			 STS_INGEST_STORED);
	ev_ingester(&e, true, NULL, true); /* ingest --trusted without a name */
	char *j = report_as("Google Inc.", "old-2", 40, 0);
	assert_int_equal(sts_ingest_blob(e.ing, j, strlen(j), STS_CH_FILE, "f.json", true,
					 "ingest --trusted", &oc, NULL),
			 STS_OK);
	free(j);
	/* as the v2 migration leaves an older state: no identities, unattributed counts */
	assert_int_equal(sqlite3_exec(sts_db_handle(e.db),
				      "UPDATE tlsrpt_reports SET reporter = NULL, identity_v = 0;"
				      "UPDATE tlsrpt_daily SET reporter = '';"
				      "UPDATE tlsrpt_failures SET reporter = '';",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 0);
	assert_int_equal(sts_ingest_schema(e.db), STS_OK);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_reports WHERE identity_v = 0"), 0);
	ev_expect_text(&e, "SELECT reporter FROM tlsrpt_reports WHERE report_id = 'old-1'",
		       "reporter.example");
	ev_expect_text(&e, "SELECT reporter FROM tlsrpt_reports WHERE report_id = 'old-2'",
		       "(null)");
	assert_int_equal(
	    ev_int(&e,
		   "SELECT sum(successful) FROM tlsrpt_daily WHERE reporter = 'reporter.example'"),
	    70);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 1);
	assert_int_equal(ev.successes, 70);
	assert_true(ev_ignored(&ev, "no reporter identity", 1));
	ev_close(&e);
}

/* A state of schema version 1 (before identities) migrates: the SQL step and the re-derivation */
static void test_evidence_migrate_v1(void **state)
{
	(void)state;
	struct evdb e;
	struct sts_rollout_evidence ev;
	enum sts_ingest_outcome oc;
	ev_open(&e, true, NULL);
	assert_int_equal(ev_mail(&e, "mail.reporter.example", "mail.reporter.example", NULL,
				 report_as("Reporter Example", "v1-signed", 70, 2)),
			 STS_INGEST_STORED);
	char *j = report_as("Google Inc.", "v1-file", 500, 9);
	assert_int_equal(
	    sts_ingest_blob(e.ing, j, strlen(j), STS_CH_FILE, "f.json", false, "file", &oc, NULL),
	    STS_OK);
	free(j);
	sts_ingest_free(e.ing);
	e.ing = NULL;
	/* back to the version 1 tables, as an older stsctl left them */
	assert_int_equal(
	    sqlite3_exec(
		sts_db_handle(e.db),
		"UPDATE tlsrpt_reports SET dedup_key = org_key;"
		"DROP INDEX tlsrpt_reports_org_key;"
		"ALTER TABLE tlsrpt_reports DROP COLUMN org_key;"
		"DROP TABLE tlsrpt_pending;"
		"DROP INDEX tlsrpt_reports_identity_v;"
		"ALTER TABLE tlsrpt_reports DROP COLUMN reporter;"
		"ALTER TABLE tlsrpt_reports DROP COLUMN pending;"
		"ALTER TABLE tlsrpt_reports DROP COLUMN domain_hint;"
		"ALTER TABLE tlsrpt_reports DROP COLUMN identity_v;"
		"CREATE TABLE d1 (domain TEXT NOT NULL, day TEXT NOT NULL, organization TEXT NOT "
		"NULL,"
		" policy_type TEXT NOT NULL, policy_digest TEXT NOT NULL, authenticated INTEGER "
		"NOT NULL,"
		" reports INTEGER NOT NULL, successful INTEGER NOT NULL, failed INTEGER NOT NULL,"
		" PRIMARY KEY (domain, day, organization, policy_type, policy_digest, "
		"authenticated))"
		" WITHOUT ROWID;"
		"INSERT INTO d1 SELECT domain, day, organization, policy_type, policy_digest,"
		" authenticated, sum(reports), sum(successful), sum(failed) FROM tlsrpt_daily"
		" GROUP BY 1, 2, 3, 4, 5, 6;"
		"DROP TABLE tlsrpt_daily; ALTER TABLE d1 RENAME TO tlsrpt_daily;"
		"CREATE TABLE f1 (domain TEXT NOT NULL, day TEXT NOT NULL, organization TEXT NOT "
		"NULL,"
		" policy_type TEXT NOT NULL, policy_digest TEXT NOT NULL, authenticated INTEGER "
		"NOT NULL,"
		" result_type TEXT NOT NULL, sending_ip TEXT NOT NULL, receiving_mx TEXT NOT NULL,"
		" reports INTEGER NOT NULL, sessions INTEGER NOT NULL,"
		" PRIMARY KEY (domain, day, organization, policy_type, policy_digest, "
		"authenticated,"
		"  result_type, sending_ip, receiving_mx)) WITHOUT ROWID;"
		"INSERT INTO f1 SELECT domain, day, organization, policy_type, policy_digest,"
		" authenticated, result_type, sending_ip, receiving_mx, sum(reports), sum(sessions)"
		" FROM tlsrpt_failures GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;"
		"DROP TABLE tlsrpt_failures; ALTER TABLE f1 RENAME TO tlsrpt_failures;"
		"UPDATE schema_version SET version = 1 WHERE component = 'reports';",
		NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sts_ingest_schema(e.db), STS_OK);
	assert_int_equal(
	    ev_int(&e, "SELECT version FROM schema_version WHERE component = 'reports'"), 3);
	ev_expect_text(&e, "SELECT reporter FROM tlsrpt_reports WHERE report_id = 'v1-signed'",
		       "reporter.example");
	ev_expect_text(&e, "SELECT reporter FROM tlsrpt_reports WHERE report_id = 'v1-file'",
		       "(null)");
	/* the counts: the signed report's moved to its reporter, nothing lost or doubled */
	assert_int_equal(ev_int(&e, "SELECT sum(successful) FROM tlsrpt_daily"), 570);
	assert_int_equal(
	    ev_int(&e,
		   "SELECT sum(successful) FROM tlsrpt_daily WHERE reporter = 'reporter.example'"),
	    70);
	assert_int_equal(
	    ev_int(&e,
		   "SELECT sum(sessions) FROM tlsrpt_failures WHERE reporter = 'reporter.example'"),
	    2);
	assert_int_equal(ev_int(&e, "SELECT sum(sessions) FROM tlsrpt_failures"), 11);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 1);
	assert_int_equal(ev.successes, 70);
	assert_int_equal(ev.failures, 2);
	assert_int_equal(ev.reporting_orgs, 1);
	/* and the state takes new reports as before */
	ev_ingester(&e, true, NULL, false);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "v2-signed", 30, 0)),
			 STS_INGEST_STORED);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.successes, 100);
	ev_close(&e);
}

/* Two listed reporters: one reusing the other's organisation name and report
 * id (whichever comes first) does not shadow the other's report */
static void test_evidence_shadow(void **state)
{
	(void)state;
	struct evdb e;
	struct sts_rollout_evidence ev;
	ev_attacker_listed = true;
	ev_open(&e, true, NULL);
	ev_attacker_listed = false;
	assert_int_equal(ev_mail(&e, "attacker.example", "attacker.example", NULL,
				 report_as("Reporter Example", "s-1", 0, 500)),
			 STS_INGEST_STORED);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "s-1", 70, 0)),
			 STS_INGEST_STORED);
	/* and the other way round, with the case of the name changed */
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "s-2", 30, 0)),
			 STS_INGEST_STORED);
	assert_int_equal(ev_mail(&e, "attacker.example", "attacker.example", NULL,
				 report_as("REPORTER EXAMPLE", "s-2", 0, 400)),
			 STS_INGEST_STORED);
	/* each one's own copies stay duplicates, the first copy kept */
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Someone Else", "s-1", 1, 1)),
			 STS_INGEST_DUPLICATE);
	assert_int_equal(ev_mail(&e, "attacker.example", "attacker.example", NULL,
				 report_as("Reporter Example", "s-2", 0, 1)),
			 STS_INGEST_DUPLICATE);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_reports"), 4);
	assert_int_equal(ev_int(&e, "SELECT sum(successful) FROM tlsrpt_daily WHERE reporter ="
				    " 'reporter.example'"),
			 100);
	assert_int_equal(ev_int(&e, "SELECT sum(failed) FROM tlsrpt_daily WHERE reporter ="
				    " 'attacker.example'"),
			 900);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 4);
	assert_int_equal(ev.successes, 100);
	assert_int_equal(ev.reporting_orgs, 2);
	ev_close(&e);
}

/* A state of schema version 2 (keys of organisations) migrates: signed rows get
 * their reporter's key, nothing is lost or doubled, and the rule holds after */
static void test_evidence_migrate_v2(void **state)
{
	(void)state;
	struct evdb e;
	struct sts_rollout_evidence ev;
	enum sts_ingest_outcome oc;
	ev_open(&e, true, NULL);
	/* as version 2 kept them: one row for each (organisation, report id) */
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "m-1", 70, 2)),
			 STS_INGEST_STORED);
	assert_int_equal(ev_mail(&e, "attacker.example", "attacker.example", NULL,
				 report_as("Other Org", "m-2", 0, 50)),
			 STS_INGEST_STORED);
	/* one signer, one report id, two organisation names: two rows in v2 (the
	 * report id is set below: this version takes it as a duplicate) */
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example Two", "m-1b", 5, 0)),
			 STS_INGEST_STORED);
	char *j = report_as("Google Inc.", "m-3", 500, 9);
	assert_int_equal(
	    sts_ingest_blob(e.ing, j, strlen(j), STS_CH_FILE, "f.json", false, "file", &oc, NULL),
	    STS_OK);
	free(j);
	sts_ingest_free(e.ing);
	e.ing = NULL;
	/* back to the version 2 table, as an older stsctl left it */
	assert_int_equal(
	    sqlite3_exec(sts_db_handle(e.db),
			 "UPDATE tlsrpt_reports SET dedup_key = org_key;"
			 "UPDATE tlsrpt_reports SET report_id = 'm-1', dedup_key ="
			 " 'id' || char(10) || 'reporter example two' || char(10) || 'm-1'"
			 " WHERE report_id = 'm-1b';"
			 "DROP INDEX tlsrpt_reports_org_key;"
			 "ALTER TABLE tlsrpt_reports DROP COLUMN org_key;"
			 "UPDATE schema_version SET version = 2 WHERE component = 'reports';",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_reports WHERE dedup_key LIKE"
				    " 'id' || char(10) || 'reporter example' || char(10) || '%'"),
			 1);
	assert_int_equal(sts_ingest_schema(e.db), STS_OK);
	assert_int_equal(
	    ev_int(&e, "SELECT version FROM schema_version WHERE component = 'reports'"), 3);
	ev_expect_text(&e,
		       "SELECT group_concat(replace(dedup_key, char(10), '|'), ',') FROM"
		       " (SELECT dedup_key FROM tlsrpt_reports ORDER BY id)",
		       "reporter-id|reporter.example|m-1,reporter-id|attacker.example|m-2,"
		       "id|reporter example two|m-1,id|google inc.|m-3");
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_reports WHERE org_key IS NULL"),
			 0);
	/* the counts: nothing lost or doubled */
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_reports"), 4);
	assert_int_equal(ev_int(&e, "SELECT sum(successful) FROM tlsrpt_daily"), 575);
	assert_int_equal(ev_int(&e, "SELECT sum(reports) FROM tlsrpt_daily"), 4);
	assert_int_equal(ev_int(&e, "SELECT sum(sessions) FROM tlsrpt_failures"), 61);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 2);
	assert_int_equal(ev.successes, 75);
	/* after it: duplicates stay duplicates, the better copy replaces a worse one,
	 * and the listed reporter's report is its own */
	ev_ingester(&e, true, NULL, false);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example", "m-1", 70, 2)),
			 STS_INGEST_DUPLICATE);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Reporter Example Two", "m-1", 5, 0)),
			 STS_INGEST_DUPLICATE);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Google Inc.", "m-3", 500, 9)),
			 STS_INGEST_UPGRADED);
	assert_int_equal(ev_mail(&e, "reporter.example", "reporter.example", NULL,
				 report_as("Other Org", "m-2", 40, 0)),
			 STS_INGEST_STORED);
	j = report_as("reporter example", "m-1", 1, 1);
	assert_int_equal(
	    sts_ingest_blob(e.ing, j, strlen(j), STS_CH_FILE, "f.json", false, "file", &oc, NULL),
	    STS_OK);
	free(j);
	assert_int_equal(oc, STS_INGEST_DUPLICATE);
	assert_int_equal(ev_int(&e, "SELECT count(*) FROM tlsrpt_reports"), 5);
	assert_int_equal(ev_int(&e, "SELECT sum(successful) FROM tlsrpt_daily"), 615);
	ev_read(&e, false, &ev);
	assert_int_equal(ev.reports, 4);
	assert_int_equal(ev.successes, 615);
	ev_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pass_with_configured_key),
	    cmocka_unit_test(test_service_type),
	    cmocka_unit_test(test_tampered),
	    cmocka_unit_test(test_length_tag_refused),
	    cmocka_unit_test(test_no_signature_no_key),
	    cmocka_unit_test(test_key_from_dns),
	    cmocka_unit_test(test_trusted_authentication_results),
	    cmocka_unit_test(test_aligned),
	    cmocka_unit_test(test_real_samples_never_pass),
	    cmocka_unit_test(test_ingest_authenticated),
	    cmocka_unit_test(test_evidence_identity),
	    cmocka_unit_test(test_evidence_better_copy),
	    cmocka_unit_test(test_evidence_pending),
	    cmocka_unit_test(test_evidence_pending_quota),
	    cmocka_unit_test(test_evidence_trusted_name),
	    cmocka_unit_test(test_evidence_rederive),
	    cmocka_unit_test(test_evidence_migrate_v1),
	    cmocka_unit_test(test_evidence_shadow),
	    cmocka_unit_test(test_evidence_migrate_v2),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
