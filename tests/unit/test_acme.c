/* SPDX-License-Identifier: MIT */
/*
 * The ACME client's pure parts (core/acme): base64url, the JWK thumbprint
 * against RFC 7638's example, ES256 JWS verified by OpenSSL (r||s
 * re-encoded as DER), the tls-alpn-01 certificate's acmeIdentifier bytes
 * (RFC 8737), the CSR, the renewal scheduler, and the parsers of problem
 * documents, directories, orders and authorizations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sts_acme.h"
#include "sts_err.h"

/* base64url decoder of the test's own (no padding) */
static unsigned char *unb64(const char *s, size_t *ret_n)
{
	size_t n = strlen(s);
	unsigned char *out = malloc(n * 3 / 4 + 3);
	unsigned v = 0, bits = 0;
	size_t o = 0;
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		const char *tab =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		const char *p = strchr(tab, s[i]);
		assert_non_null(p);
		v = v << 6 | (unsigned)(p - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	*ret_n = o;
	return out;
}

static void test_b64url(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} v[] = {{"", ""},	  {"f", "Zg"},	      {"fo", "Zm8"},
		 {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"\xfb\xff", "-_8"}};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *s = sts_acme_b64url(v[i].in, strlen(v[i].in));
		assert_string_equal(s, v[i].out);
		free(s);
	}
}

/* RFC 7638 §3.1 */
static void test_thumbprint_rfc7638(void **state)
{
	(void)state;
	json_t *jwk = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "n",
	    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc"
	    "_"
	    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
	    "65YGjQR0_"
	    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdk"
	    "t-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
	    "kEgU8awapJzKnqDKgw",
	    "e", "AQAB", "alg", "RS256", "kid", "2011-04-29");
	char *t = NULL;
	assert_int_equal(sts_acme_jwk_thumbprint(jwk, &t), STS_OK);
	assert_string_equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	free(t);
	/* a member missing, an unknown kty */
	json_object_del(jwk, "e");
	assert_int_equal(sts_acme_jwk_thumbprint(jwk, &t), STS_EINVAL);
	json_object_set_new(jwk, "kty", json_string("oct"));
	assert_int_equal(sts_acme_jwk_thumbprint(jwk, &t), STS_EINVAL);
	json_decref(jwk);
}

static EVP_PKEY *load_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(k);
	return k;
}

/* verify the JWS with OpenSSL: r||s -> DER ECDSA-Sig-Value */
static void verify_jws(const char *key_pem, const char *jws, json_t **ret_prot)
{
	json_t *j = json_loads(jws, 0, NULL);
	assert_non_null(j);
	const char *p64 = json_string_value(json_object_get(j, "protected"));
	const char *b64 = json_string_value(json_object_get(j, "payload"));
	const char *s64 = json_string_value(json_object_get(j, "signature"));
	assert_non_null(p64);
	assert_non_null(b64);
	assert_non_null(s64);
	size_t n;
	unsigned char *sig = unb64(s64, &n);
	assert_int_equal(n, 64);
	ECDSA_SIG *es = ECDSA_SIG_new();
	assert_int_equal(
	    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)), 1);
	unsigned char *der = NULL;
	int dn = i2d_ECDSA_SIG(es, &der);
	assert_true(dn > 0);
	char *input = malloc(strlen(p64) + strlen(b64) + 2);
	strcpy(input, p64);
	strcat(input, ".");
	strcat(input, b64);
	EVP_PKEY *k = load_key(key_pem);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(
	    EVP_DigestVerify(c, der, (size_t)dn, (unsigned char *)input, strlen(input)), 1);
	/* a flipped bit of the input fails */
	input[0] ^= 1;
	assert_int_equal(EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_not_equal(
	    EVP_DigestVerify(c, der, (size_t)dn, (unsigned char *)input, strlen(input)), 1);
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	free(sig);
	free(input);
	unsigned char *prot = unb64(p64, &n);
	*ret_prot = json_loadb((char *)prot, n, 0, NULL);
	assert_non_null(*ret_prot);
	free(prot);
	json_decref(j);
}

static void test_jws(void **state)
{
	(void)state;
	char *key = NULL, *jws = NULL;
	assert_int_equal(sts_acme_key_generate(&key), STS_OK);
	json_t *prot;
	/* with a kid */
	assert_int_equal(
	    sts_acme_jws(key, "https://ca/acct/1", "N0nce", "https://ca/order", "{\"a\":1}", &jws),
	    STS_OK);
	verify_jws(key, jws, &prot);
	assert_string_equal(json_string_value(json_object_get(prot, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(prot, "nonce")), "N0nce");
	assert_string_equal(json_string_value(json_object_get(prot, "url")), "https://ca/order");
	assert_string_equal(json_string_value(json_object_get(prot, "kid")), "https://ca/acct/1");
	assert_null(json_object_get(prot, "jwk"));
	json_decref(prot);
	free(jws);
	/* without: the jwk, whose thumbprint is the key's */
	assert_int_equal(sts_acme_jws(key, NULL, "n", "https://ca/new-acct", "", &jws), STS_OK);
	verify_jws(key, jws, &prot);
	json_t *jwk = json_object_get(prot, "jwk"), *mine = NULL;
	assert_non_null(jwk);
	assert_null(json_object_get(prot, "kid"));
	assert_int_equal(sts_acme_jwk(key, &mine), STS_OK);
	assert_true(json_equal(jwk, mine));
	assert_int_equal(strlen(json_string_value(json_object_get(jwk, "x"))), 43);
	json_decref(mine);
	json_decref(prot);
	free(jws);
	/* not a key */
	assert_int_equal(sts_acme_jws("junk", NULL, "n", "u", "", &jws), STS_EINVAL);
	free(key);
}

static void test_alpn_cert(void **state)
{
	(void)state;
	char *cert = NULL, *key = NULL;
	const char *ka = "tok.thumb";
	assert_int_equal(sts_acme_alpn_cert("mta-sts.example.com", ka, &cert, &key), STS_OK);
	BIO *b = BIO_new_mem_buf(cert, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	int at = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(at >= 0);
	X509_EXTENSION *e = X509_get_ext(x, at);
	assert_int_equal(X509_EXTENSION_get_critical(e), 1);
	ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(e);
	unsigned char want[34] = {0x04, 0x20};
	EVP_Digest(ka, strlen(ka), want + 2, NULL, EVP_sha256(), NULL);
	assert_int_equal(ASN1_STRING_length(d), 34);
	assert_memory_equal(ASN1_STRING_get0_data(d), want, 34);
	/* SAN = the identifier, nothing else */
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(g);
	assert_int_equal(sk_GENERAL_NAME_num(g), 1);
	GENERAL_NAME *n = sk_GENERAL_NAME_value(g, 0);
	assert_int_equal(n->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(n->d.dNSName),
			    "mta-sts.example.com");
	GENERAL_NAMES_free(g);
	/* the key matches the certificate */
	EVP_PKEY *k = load_key(key);
	assert_int_equal(X509_check_private_key(x, k), 1);
	long long nb, na;
	assert_int_equal(sts_acme_cert_dates(cert, &nb, &na), STS_OK);
	assert_true(na - nb == 7 * 86400 + 3600);
	EVP_PKEY_free(k);
	ASN1_OBJECT_free(oid);
	X509_free(x);
	free(cert);
	free(key);
	assert_int_equal(sts_acme_alpn_cert("", ka, &cert, &key), STS_EINVAL);
}

static void test_csr(void **state)
{
	(void)state;
	char *key = NULL;
	unsigned char *der = NULL;
	size_t n = 0;
	assert_int_equal(sts_acme_key_generate(&key), STS_OK);
	assert_int_equal(sts_acme_csr("mta-sts.example.org", key, &der, &n), STS_OK);
	const unsigned char *p = der;
	X509_REQ *q = d2i_X509_REQ(NULL, &p, (long)n);
	assert_non_null(q);
	EVP_PKEY *k = load_key(key);
	assert_int_equal(X509_REQ_verify(q, k), 1);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(q);
	assert_int_equal(sk_X509_EXTENSION_num(exts), 1);
	GENERAL_NAMES *g = X509V3_EXT_d2i(sk_X509_EXTENSION_value(exts, 0));
	assert_string_equal(
	    (const char *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(g, 0)->d.dNSName),
	    "mta-sts.example.org");
	GENERAL_NAMES_free(g);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	EVP_PKEY_free(k);
	X509_REQ_free(q);
	OPENSSL_free(der);
	free(key);
}

static void test_renew(void **state)
{
	(void)state;
	const long long day = 86400, nb = 1700000000, na = nb + 90 * day;
	struct sts_acme_renew_in in = {.now = nb + day, .not_before = nb, .not_after = na};
	/* none: now */
	struct sts_acme_renew_in none = {.now = nb};
	assert_int_equal(sts_acme_renew_at(&none), nb);
	/* at 2/3 (day 60), at most 3 days (1/30) earlier, same seed same time */
	long long lo = nb + 57 * day, hi = nb + 60 * day, first = 0;
	int differ = 0;
	for (uint64_t s = 0; s < 50; s++) {
		in.seed = s;
		long long t = sts_acme_renew_at(&in);
		assert_true(t >= lo && t <= hi);
		assert_int_equal(sts_acme_renew_at(&in), t);
		if (s == 0)
			first = t;
		else if (t != first)
			differ = 1;
	}
	assert_true(differ);
	/* expired: now */
	in.now = na + 1;
	assert_int_equal(sts_acme_renew_at(&in), na + 1);
	/* backoff after failures: 60 s, doubling, capped at a day */
	in.failures = 1;
	in.last_failure = na;
	assert_int_equal(sts_acme_renew_at(&in), na + 60);
	in.failures = 4;
	assert_int_equal(sts_acme_renew_at(&in), na + 480);
	in.failures = 40;
	assert_int_equal(sts_acme_renew_at(&in), na + STS_ACME_BACKOFF_MAX);
	/* Retry-After later than all that wins */
	in.retry_after = na + 2 * day;
	assert_int_equal(sts_acme_renew_at(&in), na + 2 * day);
	/* a failure long ago does not delay a due renewal */
	struct sts_acme_renew_in old = {.now = nb + 70 * day,
					.not_before = nb,
					.not_after = na,
					.failures = 1,
					.last_failure = nb};
	assert_true(sts_acme_renew_at(&old) <= hi);
}

static void test_problem(void **state)
{
	(void)state;
	struct sts_acme_problem p;
	const char *doc = "{\"type\":\"urn:ietf:params:acme:error:rateLimited\",\"detail\":\"too "
			  "many\",\"status\":429}";
	assert_int_equal(sts_acme_problem_parse(doc, strlen(doc), 400, &p), STS_OK);
	assert_string_equal(p.type, "urn:ietf:params:acme:error:rateLimited");
	assert_string_equal(p.detail, "too many");
	assert_int_equal(p.status, 429);
	sts_acme_problem_release(&p);
	/* status from HTTP when absent or silly; no type: EPARSE */
	doc = "{\"type\":\"x\",\"status\":1000}";
	assert_int_equal(sts_acme_problem_parse(doc, strlen(doc), 503, &p), STS_OK);
	assert_int_equal(p.status, 503);
	assert_null(p.detail);
	sts_acme_problem_release(&p);
	assert_int_equal(sts_acme_problem_parse("<html>", 6, 500, &p), STS_EPARSE);
	assert_int_equal(p.status, 500);
	sts_acme_problem_release(&p);
	assert_int_equal(sts_acme_problem_parse("{\"type\":7}", 10, 400, &p), STS_EPARSE);
	sts_acme_problem_release(&p);
}

static void test_directory(void **state)
{
	(void)state;
	struct sts_acme_directory d;
	const char *s =
	    "{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\","
	    "\"newOrder\":\"https://a/o\",\"meta\":{\"termsOfService\":\"https://a/t\"}}";
	assert_int_equal(sts_acme_directory_parse(s, strlen(s), &d), STS_OK);
	assert_string_equal(d.new_nonce, "https://a/n");
	assert_string_equal(d.new_order, "https://a/o");
	assert_string_equal(d.terms_of_service, "https://a/t");
	sts_acme_directory_release(&d);
	s = "{\"newNonce\":\"https://a/n\",\"newAccount\":1,\"newOrder\":\"https://a/o\"}";
	assert_int_equal(sts_acme_directory_parse(s, strlen(s), &d), STS_EPARSE);
	assert_int_equal(sts_acme_directory_parse("[]", 2, &d), STS_EPARSE);
}

static void test_order_authz(void **state)
{
	(void)state;
	struct sts_acme_order o;
	const char *s = "{\"status\":\"invalid\",\"finalize\":\"https://a/f\",\"authorizations\":["
			"\"https://a/z1\"],\"error\":{\"type\":\"urn:x\",\"detail\":\"d\"}}";
	assert_int_equal(sts_acme_order_parse(s, strlen(s), &o), STS_OK);
	assert_string_equal(o.status, "invalid");
	assert_int_equal(o.n_authz, 1);
	assert_string_equal(o.authz[0], "https://a/z1");
	assert_null(o.certificate);
	assert_string_equal(o.error.type, "urn:x");
	sts_acme_order_release(&o);
	s = "{\"status\":\"pending\",\"finalize\":\"f\",\"authorizations\":[1]}";
	assert_int_equal(sts_acme_order_parse(s, strlen(s), &o), STS_EPARSE);

	struct sts_acme_authz z;
	s = "{\"status\":\"invalid\",\"identifier\":{\"type\":\"dns\",\"value\":\"mta-sts.ex\"},"
	    "\"challenges\":[{\"type\":\"http-01\",\"url\":\"u1\",\"token\":\"t1\",\"status\":"
	    "\"pending\"},{\"type\":\"tls-alpn-01\",\"url\":\"u2\",\"token\":\"t2\",\"status\":"
	    "\"invalid\",\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\","
	    "\"detail\":\"wrong key authorization\",\"status\":403}}]}";
	assert_int_equal(sts_acme_authz_parse(s, strlen(s), &z), STS_OK);
	assert_string_equal(z.identifier, "mta-sts.ex");
	assert_int_equal(z.n_chal, 2);
	assert_string_equal(z.chal[1].type, "tls-alpn-01");
	assert_string_equal(z.chal[1].token, "t2");
	assert_string_equal(z.error.type, "urn:ietf:params:acme:error:unauthorized");
	assert_int_equal(z.error.status, 403);
	sts_acme_authz_release(&z);
	s = "{\"status\":\"pending\",\"identifier\":{\"value\":\"x\"},\"challenges\":[{\"type\":"
	    "\"http-01\"}]}";
	assert_int_equal(sts_acme_authz_parse(s, strlen(s), &z), STS_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64url),	cmocka_unit_test(test_thumbprint_rfc7638),
	    cmocka_unit_test(test_jws),		cmocka_unit_test(test_alpn_cert),
	    cmocka_unit_test(test_csr),		cmocka_unit_test(test_renew),
	    cmocka_unit_test(test_problem),	cmocka_unit_test(test_directory),
	    cmocka_unit_test(test_order_authz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
