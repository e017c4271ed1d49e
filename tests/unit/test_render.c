/* SPDX-License-Identifier: MIT */
/*
 * Tests of sts_render.c: policy text and id, records, TXT presentation,
 * zone fragments (checked with named-checkzone) and nginx server blocks
 * (checked with nginx -t), both when installed. Fixtures and golden files:
 * render_fixtures.h.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_policy.h"
#include "sts_render.h"
#include "sts_txt.h"

#include "render_fixtures.h"

/* ---- policy text and id -------------------------------------------------- */

static void render_policy(enum sts_mode mode, struct sts_buf *b)
{
	sts_buf_init(b, STS_CAP_POLICY);
	assert_int_equal(sts_render_policy_text(mode, 604800, mx_two, 2, b), STS_OK);
}

static void test_policy_text_golden(void **state)
{
	struct sts_buf b;
	render_policy(STS_MODE_ENFORCE, &b);
	assert_string_equal(sts_buf_str(&b), "version: STSv1\r\nmode: enforce\r\n"
					     "mx: mail.example.com\r\nmx: *.mx.example.net\r\n"
					     "max_age: 604800\r\n");
	golden_buf("policy-enforce.txt", &b);
	sts_buf_release(&b);
	render_policy(STS_MODE_TESTING, &b);
	golden_buf("policy-testing.txt", &b);
	sts_buf_release(&b);
	/* docs/rfc-rules.md B12: mode none keeps its mx lines */
	render_policy(STS_MODE_NONE, &b);
	assert_non_null(strstr(sts_buf_str(&b), "mode: none\r\nmx: mail.example.com\r\n"));
	golden_buf("policy-none.txt", &b);
	sts_buf_release(&b);
}

static void test_policy_text_invalid(void **state)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_POLICY);
	assert_int_equal(sts_render_policy_text(STS_MODE_INVALID, 1, mx_two, 2, &b), STS_EINVAL);
	assert_int_equal(sts_render_policy_text(STS_MODE_ENFORCE, -1, mx_two, 2, &b), STS_EINVAL);
	assert_int_equal(sts_render_policy_text(STS_MODE_ENFORCE, 31557601, mx_two, 2, &b),
			 STS_EINVAL);
	assert_int_equal(sts_render_policy_text(STS_MODE_ENFORCE, 86400, NULL, 0, &b), STS_EINVAL);
	assert_int_equal(sts_render_policy_text(STS_MODE_TESTING, 86400, NULL, 0, &b), STS_EINVAL);
	char *bad[] = {"mail.example.com\r\nmode: enforce"};
	assert_int_equal(sts_render_policy_text(STS_MODE_NONE, 86400, bad, 1, &b), STS_EINVAL);
	char *bad2[] = {"*.*.example.com"};
	assert_int_equal(sts_render_policy_text(STS_MODE_NONE, 86400, bad2, 1, &b), STS_EINVAL);
	assert_int_equal(b.len, 0);
	/* mode none without mx is valid (RFC 8461), and max_age 0 and the maximum */
	assert_int_equal(sts_render_policy_text(STS_MODE_NONE, 0, NULL, 0, &b), STS_OK);
	assert_string_equal(sts_buf_str(&b), "version: STSv1\r\nmode: none\r\nmax_age: 0\r\n");
	sts_buf_reset(&b);
	assert_int_equal(sts_render_policy_text(STS_MODE_ENFORCE, 31557600, mx_two, 1, &b), STS_OK);
	assert_non_null(strstr(sts_buf_str(&b), "max_age: 31557600\r\n"));
	sts_buf_release(&b);
}

static bool alnum_id(const char *id)
{
	size_t n = strlen(id);
	if (n < 1 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]))
			return false;
	return true;
}

static void test_policy_id(void **state)
{
	char id[STS_ID_MAX + 1];
	/* SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a3..., first 128 bits */
	assert_int_equal(sts_policy_id("abc", 3, id), STS_OK);
	assert_string_equal(id, "ba7816bf8f01cfea414140de5dae2223");
	struct sts_buf b;
	render_policy(STS_MODE_ENFORCE, &b);
	assert_int_equal(sts_policy_id(b.data, b.len, id), STS_OK);
	assert_int_equal(strlen(id), 32);
	assert_true(alnum_id(id));
	char id2[STS_ID_MAX + 1];
	assert_int_equal(sts_policy_id(b.data, b.len, id2), STS_OK);
	assert_string_equal(id, id2);
	sts_buf_release(&b);
}

static void rendered_id(const struct sts_domain *d, char id[STS_ID_MAX + 1])
{
	struct sts_rendered r;
	assert_int_equal(sts_render_domain(d, STS_MODE_INVALID, &r), STS_OK);
	assert_true(alnum_id(r.id));
	char want[STS_ID_MAX + 1];
	assert_int_equal(sts_policy_id(r.policy_text, strlen(r.policy_text), want), STS_OK);
	assert_string_equal(r.id, want);
	strcpy(id, r.id);
	sts_rendered_release(&r);
}

static void test_id_follows_content(void **state)
{
	struct sts_domain d = domain("example.com", STS_MODE_ENFORCE);
	char base[STS_ID_MAX + 1], id[STS_ID_MAX + 1];
	rendered_id(&d, base);
	/* nothing in the policy changes: same id, also when TXT-only things change */
	rendered_id(&d, id);
	assert_string_equal(id, base);
	d.ttl = 60;
	d.n_rua = 1;
	d.name = "other.example";
	rendered_id(&d, id);
	assert_string_equal(id, base);
	/* anything in the policy changes: new id */
	d = domain("example.com", STS_MODE_TESTING);
	rendered_id(&d, id);
	assert_string_not_equal(id, base);
	d = domain("example.com", STS_MODE_ENFORCE);
	d.max_age = 604801;
	rendered_id(&d, id);
	assert_string_not_equal(id, base);
	d = domain("example.com", STS_MODE_ENFORCE);
	d.n_mx = 1;
	rendered_id(&d, id);
	assert_string_not_equal(id, base);
	char *swapped[] = {"*.mx.example.net", "mail.example.com"};
	d.mx = swapped;
	d.n_mx = 2;
	rendered_id(&d, id);
	assert_string_not_equal(id, base);
	char *changed[] = {"mail.example.com", "*.mx.example.org"};
	d.mx = changed;
	rendered_id(&d, id);
	assert_string_not_equal(id, base);
}

static void test_policies_parse_cleanly(void **state)
{
	enum sts_mode modes[] = {STS_MODE_NONE, STS_MODE_TESTING, STS_MODE_ENFORCE};
	for (size_t i = 0; i < 3; i++) {
		struct sts_domain d = domain("example.com", modes[i]);
		struct sts_rendered r;
		assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
		struct sts_policy p;
		struct sts_diags diags;
		sts_policy_init(&p);
		sts_diags_init(&diags);
		assert_int_equal(sts_policy_parse(r.policy_text, strlen(r.policy_text), &p, &diags),
				 STS_OK);
		assert_int_equal(diags.n_errors, 0);
		assert_int_equal(diags.n_warnings, 0);
		assert_int_equal(p.mode, modes[i]);
		assert_int_equal(p.max_age, 604800);
		assert_int_equal(p.n_mx, 2);
		assert_string_equal(p.mx[1], "*.mx.example.net");
		sts_policy_release(&p);
		sts_diags_release(&diags);
		sts_rendered_release(&r);
	}
}

/* ---- records -------------------------------------------------------------- */

static void records_text(const struct sts_rendered *r, struct sts_buf *b)
{
	for (size_t i = 0; i < r->n_records; i++)
		assert_int_equal(sts_buf_printf(b, "%s %u %s %s\n", r->records[i].name,
						(unsigned)r->records[i].ttl, r->records[i].type,
						r->records[i].value),
				 STS_OK);
}

static void test_records_self(void **state)
{
	struct sts_domain d = domain("example.com", STS_MODE_ENFORCE);
	struct sts_rendered r;
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	assert_string_equal(r.domain, "example.com");
	assert_string_equal(r.zone, "example.com");
	assert_string_equal(r.policy_host, "mta-sts.example.com");
	assert_int_equal(r.mode, STS_MODE_ENFORCE);
	assert_int_equal(r.max_age, 604800);
	assert_int_equal(r.n_records, 2);
	assert_string_equal(r.records[0].name, "_mta-sts.example.com.");
	assert_string_equal(r.records[0].type, "TXT");
	assert_int_equal(r.records[0].ttl, 3600);
	char want[64];
	snprintf(want, sizeof(want), "v=STSv1; id=%s;", r.id);
	assert_string_equal(r.records[0].value, want);
	assert_string_equal(r.records[1].name, "_smtp._tls.example.com.");
	assert_string_equal(r.records[1].value, "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,"
						"https://reports.example.com/v1/tlsrpt");
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	records_text(&r, &b);
	golden_buf("records-self.txt", &b);
	sts_buf_release(&b);
	sts_rendered_release(&r);
	/* no rua: no _smtp._tls record; ttl 0: the default */
	d.n_rua = 0;
	d.ttl = 0;
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	assert_int_equal(r.n_records, 1);
	assert_int_equal(r.records[0].ttl, STS_DEFAULT_TTL);
	sts_rendered_release(&r);
}

static void test_records_delegated(void **state)
{
	struct sts_domain d =
	    delegated("shop.example.com", "example.com", "mta-sts.provider.example");
	struct sts_rendered r;
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	assert_null(r.policy_text);
	assert_string_equal(r.id, "");
	assert_int_equal(r.hosting, STS_HOSTING_DELEGATED);
	assert_string_equal(r.zone, "example.com");
	assert_int_equal(r.n_records, 3);
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	records_text(&r, &b);
	assert_string_equal(sts_buf_str(&b),
			    "_mta-sts.shop.example.com. 300 CNAME _mta-sts.provider.example.\n"
			    "_smtp._tls.shop.example.com. 300 TXT v=TLSRPTv1; "
			    "rua=mailto:tlsrpt@example.com,https://reports.example.com/v1/tlsrpt\n"
			    "mta-sts.shop.example.com. 300 CNAME mta-sts.provider.example.\n");
	sts_buf_release(&b);
	sts_rendered_release(&r);
	/* without a policy host target only the _mta-sts CNAME (and TLS-RPT) */
	d.delegate_policy = NULL;
	d.n_rua = 0;
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	assert_int_equal(r.n_records, 1);
	assert_string_equal(r.records[0].type, "CNAME");
	sts_rendered_release(&r);
}

/* issue 15: a hosted domain's policy and id, no _mta-sts record (it is in the MSP zone) */
static void test_records_hosted(void **state)
{
	(void)state;
	struct sts_domain d = domain("example.com", STS_MODE_TESTING);
	d.hosting = STS_HOSTING_HOSTED;
	struct sts_rendered r;
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	assert_non_null(r.policy_text);
	assert_int_not_equal(r.id[0], '\0');
	assert_int_equal(r.n_records, 1);
	assert_string_equal(r.records[0].name, "_smtp._tls.example.com.");
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	assert_int_equal(sts_render_domain_json(&r, 0, &b), STS_OK);
	assert_non_null(strstr(sts_buf_str(&b), "\"hosting\": \"hosted\""));
	sts_buf_release(&b);
	sts_rendered_release(&r);
}

static void test_mode_override_and_absent(void **state)
{
	struct sts_domain d = domain("example.com", STS_MODE_ENFORCE);
	struct sts_rendered r;
	assert_int_equal(sts_render_domain(&d, STS_MODE_TESTING, &r), STS_OK);
	assert_int_equal(r.mode, STS_MODE_TESTING);
	assert_non_null(strstr(r.policy_text, "\r\nmode: testing\r\n"));
	sts_rendered_release(&r);
	d.state = STS_STATE_ABSENT;
	assert_int_equal(sts_render_domain(&d, STS_MODE_ENFORCE, &r), STS_OK);
	assert_int_equal(r.mode, STS_MODE_NONE);
	assert_non_null(strstr(r.policy_text, "\r\nmode: none\r\nmx: mail.example.com\r\n"));
	sts_rendered_release(&r);
}

static void expect_invalid(const struct sts_domain *d, const char *why_part)
{
	struct sts_rendered r = {0};
	const char *why = NULL;
	assert_int_equal(sts_render_domain_why(d, STS_MODE_INVALID, &r, &why), STS_EINVAL);
	assert_non_null(why);
	if (!strstr(why, why_part))
		fail_msg("reason '%s' lacks '%s'", why, why_part);
	assert_null(r.domain);
}

static void test_invalid_domains(void **state)
{
	struct sts_domain d = domain("example.com", STS_MODE_ENFORCE);
	d.zone = "example.org";
	expect_invalid(&d, "not inside its zone");
	d.zone = "ample.com";
	expect_invalid(&d, "not inside its zone");
	d = domain("example.com", STS_MODE_ENFORCE);
	d.n_mx = 0;
	expect_invalid(&d, "without mx");
	d.mode = STS_MODE_NONE;
	struct sts_rendered r;
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	sts_rendered_release(&r);
	d = domain("../etc", STS_MODE_ENFORCE);
	expect_invalid(&d, "invalid domain name");
	d = domain("a/b.example", STS_MODE_ENFORCE);
	expect_invalid(&d, "invalid domain name");
	d = domain("example.com", STS_MODE_ENFORCE);
	d.max_age = 31557601;
	expect_invalid(&d, "max_age");
	char *rua_bad[] = {"mailto:a@example.com,mailto:b@example.com"};
	d = domain("example.com", STS_MODE_ENFORCE);
	d.rua = rua_bad;
	d.n_rua = 1;
	expect_invalid(&d, "rua");
	char *rua_ftp[] = {"ftp://example.com/"};
	d.rua = rua_ftp;
	expect_invalid(&d, "rua");
	d = delegated("example.com", NULL, NULL);
	d.delegate_sts = NULL;
	expect_invalid(&d, "CNAME target");
	/* names: 253 is the limit for the longest record owner */
	char longname[260];
	memset(longname, 'a', sizeof(longname));
	for (size_t i = 63; i < 250; i += 64)
		longname[i] = '.';
	longname[240] = '\0'; /* _smtp._tls. + 240 = 251: fine */
	d = domain(longname, STS_MODE_ENFORCE);
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	sts_rendered_release(&r);
	longname[240] = 'a';
	longname[243] = '\0'; /* _smtp._tls. + 243 = 254 */
	d = domain(longname, STS_MODE_ENFORCE);
	expect_invalid(&d, "longer than 253");
}

/* ---- TXT presentation (the codec itself: test_txt.c) ---------------------- */

static void presentation(const char *value, struct sts_buf *out)
{
	sts_buf_reset(out);
	assert_int_equal(sts_txt_encode_buf(value, strlen(value), out), STS_OK);
}

/* A rua list whose TLS-RPT value is exactly n octets long (n >= 60). */
static void long_rua(size_t n, char **rua, size_t *n_rua, char *storage)
{
	static const char pad[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
	size_t left = n - strlen("v=TLSRPTv1; rua="), k = 0;
	char *p = storage;
	while (left > 0) {
		/* "mailto:r<k>@<pad>.example", 50 octets plus a comma, the last one the rest */
		size_t want = left <= 60 ? left : 50;
		size_t head = (size_t)snprintf(p, 64, "mailto:r%zu@", k) + strlen(".example");
		assert_true(want > head && want - head < sizeof(pad));
		int w = snprintf(p, 64, "mailto:r%zu@%.*s.example", k, (int)(want - head), pad);
		assert_int_equal((size_t)w, want);
		rua[k++] = p;
		p += want + 1;
		left -= want;
		if (left > 0)
			left--; /* the comma */
	}
	*n_rua = k;
}

static void test_long_tlsrpt_split(void **state)
{
	static const size_t sizes[] = {255, 256};
	static const char *names[] = {"tlsrpt-255.txt", "tlsrpt-256.txt"};
	for (size_t s = 0; s < 2; s++) {
		char storage[1024];
		char *rua[16];
		struct sts_domain d = domain("example.com", STS_MODE_ENFORCE);
		d.rua = rua;
		long_rua(sizes[s], rua, &d.n_rua, storage);
		struct sts_rendered r;
		assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
		const char *v = r.records[1].value;
		assert_int_equal(strlen(v), sizes[s]);
		assert_int_equal(strncmp(v, "v=TLSRPTv1; rua=mailto:r0@", 26), 0);
		struct sts_buf b;
		sts_buf_init(&b, 1 << 20);
		presentation(v, &b);
		/* 255: one character-string; 256: two, the second one octet */
		size_t quotes = 0;
		for (size_t i = 0; i < b.len; i++)
			quotes += b.data[i] == '"';
		assert_int_equal(quotes, s == 0 ? 2 : 4);
		assert_int_equal(sts_buf_putc(&b, '\n'), STS_OK);
		golden_buf(names[s], &b);
		sts_buf_release(&b);
		sts_rendered_release(&r);
	}
}

/* ---- zone fragments ------------------------------------------------------- */

static void render_three(struct sts_rendered r[3])
{
	/* given out of order: the fragment is sorted by name */
	struct sts_domain d[3] = {
	    delegated("shop.example.com", "example.com", "mta-sts.provider.example"),
	    domain("example.com", STS_MODE_ENFORCE),
	    domain("lists.example.com", STS_MODE_TESTING),
	};
	d[2].zone = "example.com";
	d[2].n_rua = 0;
	d[2].ttl = 86400;
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(sts_render_domain(&d[i], STS_MODE_INVALID, &r[i]), STS_OK);
}

static void test_zone_golden(void **state)
{
	struct sts_rendered r[3];
	render_three(r);
	struct sts_buf b, b2;
	sts_buf_init(&b, 1 << 20);
	sts_buf_init(&b2, 1 << 20);
	assert_int_equal(sts_render_zone("example.com", r, 3, &b), STS_OK);
	golden_buf("example.com.zone", &b);
	/* deterministic, whatever the input order */
	struct sts_rendered rev[3] = {r[2], r[0], r[1]};
	assert_int_equal(sts_render_zone("example.com", rev, 3, &b2), STS_OK);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	/* a domain outside the zone is refused */
	sts_buf_reset(&b2);
	assert_int_equal(sts_render_zone("other.example", r, 3, &b2), STS_EINVAL);
	assert_int_equal(sts_render_zone("bad zone", r, 0, &b2), STS_EINVAL);
	sts_buf_release(&b);
	sts_buf_release(&b2);
	for (size_t i = 0; i < 3; i++)
		sts_rendered_release(&r[i]);
}

/* Wrap a fragment into a zone with SOA and NS and run named-checkzone. */
static int checkzone(const char *dir, const char *zone, const char *fragment)
{
	char frag[4096], zf[4096];
	snprintf(frag, sizeof(frag), "%s/%s.fragment", dir, zone);
	snprintf(zf, sizeof(zf), "%s/%s.db", dir, zone);
	assert_int_equal(sts_write_atomic(frag, fragment, strlen(fragment), 0644, false), STS_OK);
	char *text = NULL;
	assert_true(asprintf(&text,
			     "$TTL 3600\n"
			     "@ IN SOA ns1.%s. hostmaster.%s. 1 7200 3600 1209600 3600\n"
			     "@ IN NS ns1.%s.\n"
			     "ns1 IN A 192.0.2.1\n"
			     "$INCLUDE %s\n",
			     zone, zone, zone, frag) > 0);
	assert_int_equal(sts_write_atomic(zf, text, strlen(text), 0644, false), STS_OK);
	free(text);
	return run_quiet("named-checkzone -q %s %s", zone, zf);
}

static void test_zone_named_checkzone(void **state)
{
	if (!have("named-checkzone"))
		skip();
	char *dir = tempdir();
	struct sts_rendered r[4];
	render_three(r);
	/* plus a domain whose TLS-RPT TXT needs two character-strings */
	char storage[1024];
	char *rua[16];
	struct sts_domain d = domain("long.example.com", STS_MODE_ENFORCE);
	d.zone = "example.com";
	d.rua = rua;
	long_rua(300, rua, &d.n_rua, storage);
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r[3]), STS_OK);
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	assert_int_equal(sts_render_zone("example.com", r, 4, &b), STS_OK);
	assert_int_equal(checkzone(dir, "example.com", sts_buf_str(&b)), 0);
	/* the check can fail: a broken fragment is refused */
	assert_int_not_equal(checkzone(dir, "example.com", "_mta-sts 60 IN TXT \"open\n"), 0);
	sts_buf_release(&b);
	for (size_t i = 0; i < 4; i++)
		sts_rendered_release(&r[i]);
	rmtree(dir);
}

/* ---- nginx ---------------------------------------------------------------- */

static void test_nginx_golden(void **state)
{
	struct sts_domain d = domain("example.com", STS_MODE_ENFORCE);
	struct sts_rendered r;
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	assert_int_equal(sts_render_nginx(&r, &b), STS_OK);
	golden_buf("mta-sts.example.com.conf", &b);
	const char *s = sts_buf_str(&b);
	assert_non_null(strstr(s, "\tlisten 443 ssl;\n"));
	assert_non_null(strstr(s, "\tserver_name mta-sts.example.com;\n"));
	assert_non_null(strstr(s, "/etc/ssl/mta-sts/mta-sts.example.com/fullchain.pem;"));
	assert_non_null(strstr(s, "root /var/www/mta-sts/mta-sts.example.com;"));
	assert_null(strstr(s, "return 30"));
	assert_null(strstr(s, "rewrite"));
	sts_buf_reset(&b);
	assert_int_equal(sts_render_nginx_paths(&r, "/srv/www", "/etc/certs", &b), STS_OK);
	assert_non_null(strstr(sts_buf_str(&b), "root /srv/www/mta-sts.example.com;"));
	assert_non_null(strstr(sts_buf_str(&b),
			       "ssl_certificate_key /etc/certs/mta-sts.example.com/privkey.pem;"));
	const char *bad[] = {"/srv/my www", "/srv/x;y", "/srv/{}", "/srv/$host", "", "/a\"b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sts_render_nginx_paths(&r, bad[i], NULL, &b), STS_EINVAL);
		assert_int_equal(sts_render_nginx_paths(&r, NULL, bad[i], &b), STS_EINVAL);
	}
	sts_rendered_release(&r);
	/* delegated: nothing to serve */
	d = delegated("example.com", NULL, NULL);
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	assert_int_equal(sts_render_nginx(&r, &b), STS_EINVAL);
	sts_rendered_release(&r);
	sts_buf_release(&b);
}

static int nginx_t(const char *dir)
{
	return run_quiet("nginx -t -q -p %s/ -c %s/nginx.conf -e %s/error.log >%s/t.out 2>&1", dir,
			 dir, dir, dir);
}

static void test_nginx_config_test(void **state)
{
	if (!have("nginx") || !have("openssl"))
		skip();
	char *dir = tempdir();
	char certs[512], www[512], conf[512], main_conf[512];
	snprintf(certs, sizeof(certs), "%s/certs", dir);
	snprintf(www, sizeof(www), "%s/www", dir);
	snprintf(conf, sizeof(conf), "%s/conf.d/mta-sts.example.com.conf", dir);
	snprintf(main_conf, sizeof(main_conf), "%s/nginx.conf", dir);
	assert_int_equal(sts_mkdir_p(certs, 0755), STS_OK);
	assert_int_equal(sts_mkdir_p(www, 0755), STS_OK);
	assert_int_equal(
	    run_quiet("cd %s && mkdir -p mta-sts.example.com && openssl req -x509 "
		      "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
		      "-subj /CN=mta-sts.example.com "
		      "-keyout mta-sts.example.com/privkey.pem "
		      "-out mta-sts.example.com/fullchain.pem >/dev/null 2>&1",
		      certs),
	    0);
	struct sts_domain d = domain("example.com", STS_MODE_ENFORCE);
	struct sts_rendered r;
	assert_int_equal(sts_render_domain(&d, STS_MODE_INVALID, &r), STS_OK);
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	assert_int_equal(sts_render_nginx_paths(&r, www, certs, &b), STS_OK);
	assert_int_equal(sts_write_atomic(conf, b.data, b.len, 0644, false), STS_OK);
	sts_buf_reset(&b);
	assert_int_equal(sts_buf_printf(&b,
					"pid %s/nginx.pid;\n"
					"error_log %s/error.log;\n"
					"events { }\n"
					"http {\n"
					"\taccess_log off;\n"
					"\tclient_body_temp_path %s/tmp/body;\n"
					"\tproxy_temp_path %s/tmp/proxy;\n"
					"\tfastcgi_temp_path %s/tmp/fastcgi;\n"
					"\tuwsgi_temp_path %s/tmp/uwsgi;\n"
					"\tscgi_temp_path %s/tmp/scgi;\n"
					"\tinclude %s/conf.d/*.conf;\n"
					"}\n",
					dir, dir, dir, dir, dir, dir, dir, dir),
			 STS_OK);
	assert_int_equal(sts_mkdir_p(dir, 0755), STS_OK);
	assert_int_equal(sts_write_atomic(main_conf, b.data, b.len, 0644, false), STS_OK);
	assert_int_equal(run_quiet("mkdir -p %s/tmp", dir), 0);
	if (nginx_t(dir) != 0) {
		run_quiet("cat %s/t.out >&2", dir);
		fail_msg("nginx -t refused the rendered server block");
	}
	/* the check can fail: a broken server block is refused */
	assert_int_equal(sts_write_atomic(conf, "server { listen 443 ssl\n}\n", 25, 0644, false),
			 STS_OK);
	assert_int_not_equal(nginx_t(dir), 0);
	sts_buf_release(&b);
	sts_rendered_release(&r);
	rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_text_golden),
	    cmocka_unit_test(test_policy_text_invalid),
	    cmocka_unit_test(test_policy_id),
	    cmocka_unit_test(test_id_follows_content),
	    cmocka_unit_test(test_policies_parse_cleanly),
	    cmocka_unit_test(test_records_self),
	    cmocka_unit_test(test_records_delegated),
	    cmocka_unit_test(test_records_hosted),
	    cmocka_unit_test(test_mode_override_and_absent),
	    cmocka_unit_test(test_invalid_domains),
	    cmocka_unit_test(test_long_tlsrpt_split),
	    cmocka_unit_test(test_zone_golden),
	    cmocka_unit_test(test_zone_named_checkzone),
	    cmocka_unit_test(test_nginx_golden),
	    cmocka_unit_test(test_nginx_config_test),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
