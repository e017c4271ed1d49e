/* SPDX-License-Identifier: MIT */
#ifndef STS_ACME_INT_H
#define STS_ACME_INT_H

/* Shared by the files of the ACME module only. */
#include <jansson.h>
#include <openssl/evp.h>

EVP_PKEY *sts_acme_key_load(const char *pem); /* a P-256 (EC) private key, or NULL */
int sts_acme_key_pem(EVP_PKEY *k, char **ret);
json_t *sts_acme_jwk_of(EVP_PKEY *k);
int sts_acme_jws_key(EVP_PKEY *k, const char *kid, const char *nonce, const char *url,
		     const char *payload, char **ret_json);

#endif
