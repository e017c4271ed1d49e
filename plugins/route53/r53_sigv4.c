/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4 for Route 53 (service "route53", region
 * "us-east-1", the only region of its global endpoint), with libcrypto's
 * HMAC and SHA-256. The signed headers are host, x-amz-date and, with
 * temporary credentials, x-amz-security-token; the payload is hashed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "plg_rest.h"
#include "r53.h"

#define REGION	"us-east-1"
#define SERVICE "route53"

static void to_hex(const unsigned char *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	SHA256(data, len, d);
	to_hex(d, sizeof(d), out);
}

static bool hmac(const void *key, size_t key_len, const char *msg, unsigned char out[32])
{
	unsigned int n = 32;
	return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out,
		    &n) != NULL;
}

int r53_sigv4(const struct r53_sign *s, char **ret_auth, char date[17])
{
	struct tm tm;
	if (!gmtime_r(&s->now, &tm) || strftime(date, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		return STS_PLUGIN_EINVAL;
	char day[9], payload[65], creq_hash[65], sig[65];
	memcpy(day, date, 8);
	day[8] = '\0';
	sha256_hex(s->body ? s->body : "", s->body ? s->body_len : 0, payload);
	char *path = plg_escape(s->path, "/"), *creq = NULL, *sts = NULL, *key = NULL;
	const char *signed_hdrs =
	    s->token ? "host;x-amz-date;x-amz-security-token" : "host;x-amz-date";
	int r = STS_PLUGIN_ENOMEM;
	if (!path || asprintf(&creq, "%s\n%s\n%s\nhost:%s\nx-amz-date:%s\n%s%s%s\n%s\n%s",
			      s->method, path, s->query ? s->query : "", s->host, date,
			      s->token ? "x-amz-security-token:" : "", s->token ? s->token : "",
			      s->token ? "\n" : "", signed_hdrs, payload) < 0) {
		creq = NULL;
		goto out;
	}
	sha256_hex(creq, strlen(creq), creq_hash);
	if (asprintf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/" REGION "/" SERVICE "/aws4_request\n%s", date,
		     day, creq_hash) < 0) {
		sts = NULL;
		goto out;
	}
	size_t klen = strlen(s->secret) + 4;
	if (!(key = malloc(klen + 1)))
		goto out;
	snprintf(key, klen + 1, "AWS4%s", s->secret);
	unsigned char k1[32], k2[32], k3[32], k4[32], k5[32];
	bool ok = hmac(key, klen, day, k1) && hmac(k1, 32, REGION, k2) &&
		  hmac(k2, 32, SERVICE, k3) && hmac(k3, 32, "aws4_request", k4) &&
		  hmac(k4, 32, sts, k5);
	to_hex(k5, 32, sig);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	OPENSSL_cleanse(k4, sizeof(k4));
	if (!ok) {
		r = STS_PLUGIN_EIO;
		goto out;
	}
	if (asprintf(ret_auth,
		     "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/" REGION "/" SERVICE
		     "/aws4_request, SignedHeaders=%s, Signature=%s",
		     s->key_id, day, signed_hdrs, sig) < 0)
		goto out;
	r = STS_PLUGIN_OK;
out:
	if (key) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	free(sts);
	free(creq);
	free(path);
	return r;
}
