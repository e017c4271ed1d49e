/* SPDX-License-Identifier: MIT */
/*
 * Service account authentication (RFC 7523 JWT bearer grant, as Google's
 * "OAuth 2.0 for server to server applications" describes it): a JWT
 * {iss: client_email, scope: ndev.clouddns.readwrite, aud: token_url, iat,
 * exp: iat + 3600} signed RS256 with the key file's private key, POSTed to
 * token_url as a form; the access token it buys is cached and shared by
 * every op of the instance until a minute before it expires.
 *
 * The key file's own token_uri does not choose where the signed assertion
 * goes: it must be the token_url setting (README.md), so a key file cannot
 * send a usable credential to a host the inventory did not name.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gc.h"

#define TOKEN_MARGIN 60 /* seconds before expiry a token is replaced */

static time_t now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static char *b64url(const unsigned char *d, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(n / 3 * 4 + 5), *o = out;
	if (!out)
		return NULL;
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		if (i + 1 < n)
			*o++ = tab[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

static char *b64url_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	char *out = s ? b64url((const unsigned char *)s, strlen(s)) : NULL;
	free(s);
	return out;
}

int gc_jwt(void *pkey, const char *kid, const char *iss, const char *aud, time_t now, char **ret)
{
	json_t *head = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "kid", kid);
	json_t *claims =
	    json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", iss, "scope", GC_SCOPE, "aud", aud, "iat",
		      (json_int_t)now, "exp", (json_int_t)now + 3600);
	char *h = head ? b64url_json(head) : NULL, *c = claims ? b64url_json(claims) : NULL;
	char *input = NULL, *sig64 = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int r = STS_PLUGIN_ENOMEM;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!h || !c || !md || asprintf(&input, "%s.%s", h, c) < 0) {
		input = NULL;
		goto out;
	}
	r = STS_PLUGIN_ESECRET;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1 ||
	    !(sig = malloc(siglen)) ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1)
		goto out;
	r = STS_PLUGIN_ENOMEM;
	if (!(sig64 = b64url(sig, siglen)) || asprintf(ret, "%s.%s", input, sig64) < 0)
		goto out;
	r = STS_PLUGIN_OK;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	PLG_FREE_ALL(sig, sig64, input, h, c);
	json_decref(head);
	json_decref(claims);
	return r;
}

/* A key file's private key is never encrypted: no passphrase prompt. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return 0;
}

static int load_pkey(const char *pem, void **ret)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	ERR_clear_error();
	if (k && EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	*ret = k;
	return k ? STS_PLUGIN_OK : STS_PLUGIN_ESECRET;
}

int gc_auth_init(struct sts_plugin *p, struct gc_auth *a, const char *ref, const char *token_url,
		 long timeout_ms, char **ret_project, struct sts_plugin_call *call)
{
	struct sts_secret *s = NULL;
	struct gc_key k = {0};
	const char *why = NULL;
	pthread_mutex_init(&a->lock, NULL);
	a->timeout_ms = timeout_ms;
	int r = sts_plugin_secret(p, ref, &s, call);
	if (r < 0)
		return r; /* the host said why */
	r = gc_key_parse(sts_plugin_secret_value(p, s), sts_plugin_secret_len(p, s), &k, &why);
	sts_plugin_secret_free(p, s);
	if (r < 0) {
		sts_plugin_error(call, "'credentials': %s", why);
		return r;
	}
	if (k.token_uri && strcmp(k.token_uri, token_url) != 0) {
		sts_plugin_error(
		    call,
		    "'credentials': the key file's token_uri '%s' is not the token_url "
		    "setting '%s' (set token_url to it if that endpoint is to be trusted)",
		    k.token_uri, token_url);
		r = STS_PLUGIN_ESECRET;
	}
	if (r == STS_PLUGIN_OK && (r = load_pkey(k.pem, &a->pkey)) < 0)
		sts_plugin_error(call,
				 "'credentials': the key file's private_key is not an RSA key");
	if (r == STS_PLUGIN_OK) {
		a->email = k.email;
		a->key_id = k.key_id;
		*ret_project = k.project;
		k.email = k.key_id = k.project = NULL;
		if (!(a->token_url = strdup(token_url)))
			r = STS_PLUGIN_ENOMEM;
	}
	gc_key_release(&k);
	return r;
}

void gc_auth_release(struct gc_auth *a)
{
	EVP_PKEY_free(a->pkey);
	PLG_FREE_ALL(a->email, a->key_id, a->token_url);
	plg_wipe_free(a->header);
	pthread_mutex_destroy(&a->lock);
	memset(a, 0, sizeof(*a));
}

/* Map a refused grant to an error with the endpoint's own words. */
static int token_refused(const struct sts_plugin_http_resp *resp, const char *url,
			 struct sts_plugin_call *call)
{
	char *msg = gc_token_error(resp->body, resp->body_len);
	sts_plugin_error(call, "HTTP %ld from the token endpoint %s: %s", resp->status, url,
			 msg ? msg : "no OAuth error in the answer");
	free(msg);
	if (resp->status == 400 || resp->status == 401 || resp->status == 403)
		return STS_PLUGIN_EAUTH; /* invalid_grant, invalid_client, ... */
	if (resp->status == 429 || resp->status >= 500)
		return STS_PLUGIN_EAGAIN;
	return STS_PLUGIN_EPROVIDER;
}

/* POST the signed assertion; a->header becomes the new token's line. */
static int fetch_token(struct sts_plugin *p, struct gc_auth *a, struct sts_plugin_call *call)
{
	static const char pre[] = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
				  "&assertion=";
	static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
					      "Accept: application/json", NULL};
	char *jwt = NULL, *body = NULL, *tok = NULL;
	long expires = 0;
	const char *why = NULL;
	int r = gc_jwt(a->pkey, a->key_id, a->email, a->token_url, time(NULL), &jwt);
	if (r < 0) {
		sts_plugin_error(call, "cannot sign the service account's JWT");
		return r;
	}
	if (asprintf(&body, "%s%s", pre, jwt) < 0) {
		plg_wipe_free(jwt);
		return STS_PLUGIN_ENOMEM;
	}
	plg_wipe_free(jwt);
	struct sts_plugin_http_req req = {
	    .struct_size = sizeof(req),
	    .method = "POST",
	    .url = a->token_url,
	    .headers = headers,
	    .body = body,
	    .body_len = strlen(body),
	    .timeout_ms = a->timeout_ms,
	    .max_response = 64u * 1024u,
	    .idempotent = true, /* a second grant of the same assertion is harmless */
	};
	struct sts_plugin_http_resp resp;
	r = sts_plugin_http(p, &req, &resp, call);
	plg_wipe_free(body);
	if (r < 0)
		sts_plugin_error(call, "no answer from the token endpoint %s", a->token_url);
	else if (resp.status != 200)
		r = token_refused(&resp, a->token_url, call);
	else if ((r = gc_token_parse(resp.body, resp.body_len, &tok, &expires, &why)) < 0)
		sts_plugin_error(call, "%s (%s)",
				 why ? why : "cannot read the token endpoint's answer",
				 a->token_url);
	if (r == STS_PLUGIN_OK) {
		plg_wipe_free(a->header);
		a->header = NULL;
		if (asprintf(&a->header, "Authorization: Bearer %s", tok) < 0) {
			a->header = NULL;
			r = STS_PLUGIN_ENOMEM;
		}
		/* short-lived tokens are replaced half way through their life */
		long margin = expires > 2 * TOKEN_MARGIN ? TOKEN_MARGIN : expires / 2;
		a->expiry = now_mono() + expires - margin;
	}
	plg_wipe_free(tok);
	sts_plugin_http_release(p, &resp);
	return r;
}

int gc_auth_header(struct sts_plugin *p, struct gc_auth *a, char **ret,
		   struct sts_plugin_call *call)
{
	int r = STS_PLUGIN_OK;
	pthread_mutex_lock(&a->lock);
	if (!a->header || now_mono() >= a->expiry)
		r = fetch_token(p, a, call);
	if (r == STS_PLUGIN_OK && !(*ret = strdup(a->header)))
		r = STS_PLUGIN_ENOMEM;
	pthread_mutex_unlock(&a->lock);
	return r;
}

void gc_auth_drop(struct gc_auth *a, const char *header)
{
	pthread_mutex_lock(&a->lock);
	if (a->header && strcmp(a->header, header) == 0) {
		plg_wipe_free(a->header);
		a->header = NULL;
	}
	pthread_mutex_unlock(&a->lock);
}
