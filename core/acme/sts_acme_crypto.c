/* SPDX-License-Identifier: MIT */
/*
 * The ACME client's cryptography on OpenSSL 3: P-256 keys, the JWK and its
 * RFC 7638 thumbprint, ES256 JWS (r||s), the CSR, the tls-alpn-01
 * certificate (RFC 8737) and certificate dates.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sts_acme.h"
#include "sts_acme_int.h"
#include "sts_buf.h"
#include "sts_err.h"

char *sts_acme_b64url(const void *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *s = p;
	char *out = malloc(n / 3 * 4 + 5), *o = out;
	if (!out)
		return NULL;
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		if (i + 1 < n)
			*o++ = tab[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

EVP_PKEY *sts_acme_key_load(const char *pem)
{
	if (!pem)
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (k && !EVP_PKEY_is_a(k, "EC")) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

int sts_acme_key_pem(EVP_PKEY *k, char **ret)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return STS_ENOMEM;
	int r = STS_ENOMEM;
	if (PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1) {
		char *p;
		long n = BIO_get_mem_data(b, &p);
		char *s = n > 0 ? strndup(p, (size_t)n) : NULL;
		if (s) {
			*ret = s;
			r = STS_OK;
		}
	}
	BIO_free(b);
	return r;
}

static EVP_PKEY *key_new(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

int sts_acme_key_generate(char **ret_pem)
{
	EVP_PKEY *k = key_new();
	if (!k)
		return STS_ENOMEM;
	int r = sts_acme_key_pem(k, ret_pem);
	EVP_PKEY_free(k);
	return r;
}

/* A big number of the key as a 32-byte base64url coordinate. */
static char *coord(EVP_PKEY *k, const char *name)
{
	BIGNUM *bn = NULL;
	unsigned char buf[32];
	char *s = NULL;
	if (EVP_PKEY_get_bn_param(k, name, &bn) == 1 && BN_bn2binpad(bn, buf, sizeof buf) == 32)
		s = sts_acme_b64url(buf, sizeof buf);
	BN_free(bn);
	return s;
}

json_t *sts_acme_jwk_of(EVP_PKEY *k)
{
	char *x = coord(k, OSSL_PKEY_PARAM_EC_PUB_X), *y = coord(k, OSSL_PKEY_PARAM_EC_PUB_Y);
	json_t *j = NULL;
	if (x && y)
		j = json_pack("{s:s,s:s,s:s,s:s}", "crv", "P-256", "kty", "EC", "x", x, "y", y);
	free(x);
	free(y);
	return j;
}

int sts_acme_jwk(const char *key_pem, json_t **ret)
{
	EVP_PKEY *k = sts_acme_key_load(key_pem);
	if (!k)
		return STS_EINVAL;
	json_t *j = sts_acme_jwk_of(k);
	EVP_PKEY_free(k);
	if (!j)
		return STS_ENOMEM;
	*ret = j;
	return STS_OK;
}

int sts_acme_jwk_thumbprint(const json_t *jwk, char **ret)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
	static const char *const rsa[] = {"e", "kty", "n", NULL};
	const char *const *m = !kty		     ? NULL
			       : !strcmp(kty, "EC")  ? ec
			       : !strcmp(kty, "RSA") ? rsa
						     : NULL;
	if (!m)
		return STS_EINVAL;
	/* RFC 7638 §3.2: the required members only, sorted, no whitespace;
	 * json_dumps with JSON_SORT_KEYS|JSON_COMPACT writes exactly that for
	 * the base64url and name strings these members hold */
	json_t *c = json_object();
	if (!c)
		return STS_ENOMEM;
	for (; *m; m++) {
		json_t *v = json_object_get(jwk, *m);
		if (!json_is_string(v)) {
			json_decref(c);
			return STS_EINVAL;
		}
		json_object_set(c, *m, v);
	}
	char *s = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(c);
	if (!s)
		return STS_ENOMEM;
	unsigned char md[32];
	int r = EVP_Digest(s, strlen(s), md, NULL, EVP_sha256(), NULL) == 1 ? STS_OK : STS_ENOMEM;
	free(s);
	if (r == STS_OK && !(*ret = sts_acme_b64url(md, sizeof md)))
		r = STS_ENOMEM;
	return r;
}

/* ES256 over data: the DER signature re-encoded as r||s (RFC 7518 §3.4). */
static int es256(EVP_PKEY *k, const char *data, unsigned char out[64])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char der[80];
	size_t n = sizeof der;
	int r = STS_ENOMEM;
	if (c && EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestSign(c, der, &n, (const unsigned char *)data, strlen(data)) == 1) {
		const unsigned char *p = der;
		ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
		if (sig && BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) == 32 &&
		    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) == 32)
			r = STS_OK;
		ECDSA_SIG_free(sig);
	}
	EVP_MD_CTX_free(c);
	return r;
}

int sts_acme_jws_key(EVP_PKEY *k, const char *kid, const char *nonce, const char *url,
		     const char *payload, char **ret_json)
{
	json_t *prot = json_pack("{s:s,s:s,s:s}", "alg", "ES256", "nonce", nonce, "url", url);
	if (!prot)
		return STS_EINVAL;
	if (kid)
		json_object_set_new(prot, "kid", json_string(kid));
	else
		json_object_set_new(prot, "jwk", sts_acme_jwk_of(k));
	char *ph = json_dumps(prot, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(prot);
	char *p64 = ph ? sts_acme_b64url(ph, strlen(ph)) : NULL;
	char *b64 = sts_acme_b64url(payload, strlen(payload));
	char *input = NULL, *s64 = NULL;
	int r = STS_ENOMEM;
	unsigned char sig[64];
	if (p64 && b64 && asprintf(&input, "%s.%s", p64, b64) >= 0) {
		r = es256(k, input, sig);
		if (r == STS_OK && !(s64 = sts_acme_b64url(sig, sizeof sig)))
			r = STS_ENOMEM;
	} else {
		input = NULL;
	}
	if (r == STS_OK) {
		json_t *j =
		    json_pack("{s:s,s:s,s:s}", "protected", p64, "payload", b64, "signature", s64);
		*ret_json = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!*ret_json)
			r = STS_ENOMEM;
	}
	STS_FREE_ALL(ph, p64, b64, input, s64);
	return r;
}

int sts_acme_jws(const char *key_pem, const char *kid, const char *nonce, const char *url,
		 const char *payload, char **ret_json)
{
	EVP_PKEY *k = sts_acme_key_load(key_pem);
	if (!k)
		return STS_EINVAL;
	if (!nonce || !url || !payload) {
		EVP_PKEY_free(k);
		return STS_EINVAL;
	}
	int r = sts_acme_jws_key(k, kid, nonce, url, payload, ret_json);
	EVP_PKEY_free(k);
	return r;
}

/* subjectAltName dNSName:name as an extension */
static X509_EXTENSION *san_ext(const char *name)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	X509_EXTENSION *e = NULL;
	if (gens && g && ia5 && ASN1_STRING_set(ia5, name, -1) == 1) {
		GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
		ia5 = NULL;
		if (sk_GENERAL_NAME_push(gens, g) > 0) {
			g = NULL;
			e = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
		}
	}
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	return e;
}

static int pem_of_cert(X509 *x, char **ret)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r = STS_ENOMEM;
	char *p;
	if (b && PEM_write_bio_X509(b, x) == 1) {
		long n = BIO_get_mem_data(b, &p);
		if (n > 0 && (*ret = strndup(p, (size_t)n)))
			r = STS_OK;
	}
	BIO_free(b);
	return r;
}

/* id-pe-acmeIdentifier (RFC 8737 §3): critical, extnValue = DER of the
 * OCTET STRING holding SHA-256(keyauth) */
static X509_EXTENSION *acme_id_ext(const char *keyauth)
{
	unsigned char der[2 + 32] = {0x04, 0x20};
	if (EVP_Digest(keyauth, strlen(keyauth), der + 2, NULL, EVP_sha256(), NULL) != 1)
		return NULL;
	ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	if (obj && os && ASN1_OCTET_STRING_set(os, der, sizeof der) == 1)
		e = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	return e;
}

int sts_acme_alpn_cert(const char *identifier, const char *keyauth, char **ret_cert_pem,
		       char **ret_key_pem)
{
	if (!identifier || !*identifier || !keyauth)
		return STS_EINVAL;
	EVP_PKEY *k = key_new();
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	X509_EXTENSION *san = san_ext(identifier), *id = acme_id_ext(keyauth);
	unsigned char serial[16];
	int r = STS_ENOMEM;
	char *cert = NULL, *key = NULL;
	BIGNUM *bn = NULL;
	time_t now = time(NULL); /* one reading: both dates from the same second */
	if (!k || !x || !nm || !san || !id ||
	    EVP_Digest(keyauth, strlen(keyauth), serial, NULL, EVP_md5(), NULL) != 1)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    X509_set_version(x, 2) != 1 ||
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)identifier,
				       -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, nm) != 1 || X509_set_issuer_name(x, nm) != 1 ||
	    !X509_time_adj(X509_getm_notBefore(x), -3600, &now) ||
	    !X509_time_adj(X509_getm_notAfter(x), 7 * 86400, &now) || X509_set_pubkey(x, k) != 1 ||
	    X509_add_ext(x, san, -1) != 1 || X509_add_ext(x, id, -1) != 1 ||
	    X509_sign(x, k, EVP_sha256()) <= 0)
		goto out;
	if ((r = pem_of_cert(x, &cert)) < 0 || (r = sts_acme_key_pem(k, &key)) < 0)
		goto out;
	*ret_cert_pem = cert;
	*ret_key_pem = key;
	cert = key = NULL;
out:
	free(cert);
	free(key);
	BN_free(bn);
	X509_EXTENSION_free(san);
	X509_EXTENSION_free(id);
	X509_NAME_free(nm);
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

int sts_acme_csr(const char *identifier, const char *key_pem, unsigned char **ret_der,
		 size_t *ret_len)
{
	EVP_PKEY *k = sts_acme_key_load(key_pem);
	if (!k || !identifier || !*identifier) {
		EVP_PKEY_free(k);
		return STS_EINVAL;
	}
	X509_REQ *q = X509_REQ_new();
	X509_NAME *nm = X509_NAME_new();
	X509_EXTENSION *san = san_ext(identifier);
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	unsigned char *der = NULL;
	int r = STS_ENOMEM, n;
	if (q && nm && san && exts && sk_X509_EXTENSION_push(exts, san) > 0 &&
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)identifier,
				       -1, -1, 0) == 1 &&
	    X509_REQ_set_subject_name(q, nm) == 1 && X509_REQ_set_pubkey(q, k) == 1 &&
	    X509_REQ_add_extensions(q, exts) == 1 && X509_REQ_sign(q, k, EVP_sha256()) > 0 &&
	    (n = i2d_X509_REQ(q, &der)) > 0) {
		*ret_der = der;
		*ret_len = (size_t)n;
		r = STS_OK;
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (!exts)
		X509_EXTENSION_free(san);
	X509_NAME_free(nm);
	X509_REQ_free(q);
	EVP_PKEY_free(k);
	return r;
}

static long long asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (long long)timegm(&tm);
}

int sts_acme_cert_dates(const char *pem, long long *ret_not_before, long long *ret_not_after)
{
	BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int r = STS_EPARSE;
	if (x) {
		long long nb = asn1_unix(X509_get0_notBefore(x)),
			  na = asn1_unix(X509_get0_notAfter(x));
		if (nb && na) {
			*ret_not_before = nb;
			*ret_not_after = na;
			r = STS_OK;
		}
	}
	X509_free(x);
	BIO_free(b);
	return r;
}
