/* SPDX-License-Identifier: MIT */
/*
 * serve's certificates (core/hosted/sts_serve_tls.c): a stored PEM private
 * key read through the DER decoder made once, for every form a store can
 * hold (PKCS#8 and traditional EC, RSA), with a fallback of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sts_serve_int.h"

/* k as PEM: PKCS#8 ("PRIVATE KEY") or the traditional form ("EC PRIVATE KEY") */
static char *pem_of(EVP_PKEY *k, bool traditional)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *out;
	long n;
	assert_non_null(b);
	assert_int_equal(traditional
			     ? PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL)
			     : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL),
			 1);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	assert_non_null(out);
	return out;
}

/* the same key back, through dec (or, with dec NULL, a decoder of its own) */
static void roundtrip(OSSL_DECODER_CTX *dec, EVP_PKEY **out, EVP_PKEY *k, bool traditional)
{
	char *pem = pem_of(k, traditional);
	EVP_PKEY *r = sts_serve_key_read(dec, out, pem);
	assert_non_null(r);
	assert_int_equal(EVP_PKEY_eq(r, k), 1);
	assert_true(EVP_PKEY_get_id(r) == EVP_PKEY_get_id(k));
	EVP_PKEY_free(r);
	free(pem);
	if (out)
		assert_null(*out);
}

static void test_key_forms(void **state)
{
	EVP_PKEY *out = NULL;
	OSSL_DECODER_CTX *dec = sts_serve_key_decoder(&out);
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *rsa = EVP_RSA_gen(2048);
	(void)state;
	assert_non_null(dec);
	assert_non_null(ec);
	assert_non_null(rsa);
	for (int i = 0; i < 3; i++) { /* the decoder is reused */
		roundtrip(dec, &out, ec, false);
		roundtrip(dec, &out, ec, true);
		roundtrip(dec, &out, rsa, false);
	}
	roundtrip(NULL, NULL, ec, false);
	roundtrip(NULL, NULL, rsa, true);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	OSSL_DECODER_CTX_free(dec);
}

static void test_key_refused(void **state)
{
	EVP_PKEY *out = NULL;
	OSSL_DECODER_CTX *dec = sts_serve_key_decoder(&out);
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	char *pem = pem_of(ec, false), *cut;
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	(void)state;

	assert_null(sts_serve_key_read(dec, &out, ""));
	assert_null(sts_serve_key_read(dec, &out, "not a key"));
	/* a certificate-shaped block is no key */
	assert_null(sts_serve_key_read(
	    dec, &out, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
	/* the block cut short */
	cut = strdup(pem);
	cut[strlen(cut) / 2] = 0;
	assert_null(sts_serve_key_read(dec, &out, cut));
	/* an encrypted key (no password here): refused, not a crash */
	assert_int_equal(PEM_write_bio_PrivateKey(b, ec, EVP_aes_128_cbc(),
						  (const unsigned char *)"pw", 2, NULL, NULL),
			 1);
	n = BIO_get_mem_data(b, &p);
	free(cut);
	cut = strndup(p, (size_t)n);
	assert_null(sts_serve_key_read(dec, &out, cut));
	assert_null(out);
	free(cut);
	free(pem);
	BIO_free(b);
	EVP_PKEY_free(ec);
	OSSL_DECODER_CTX_free(dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_forms),
	    cmocka_unit_test(test_key_refused),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
