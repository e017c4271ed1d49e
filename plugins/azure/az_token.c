/* SPDX-License-Identifier: MIT */
/*
 * The Microsoft Entra ID token of the client-credentials grant:
 *
 *   POST {login_url}/{tenant}/oauth2/v2.0/token
 *        grant_type=client_credentials&client_id=..&client_secret=..&scope=..
 *   200  {"token_type": "Bearer", "expires_in": 3599, "access_token": "..."}
 *   4xx  {"error": "invalid_client", "error_description": "AADSTS7000215: ..."}
 *
 * The form body is not JSON, so this goes through the host's plain HTTP
 * service. The token is cached in the instance (under its lock, as
 * read()/apply() of different zones may run at once) until a minute before
 * it expires; the client secret is resolved for each token request only
 * and wiped with the request body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "az.h"

#define MARGIN_S   60	/* a token expiring sooner is renewed */
#define MAX_BODY   4096 /* of the form */
#define MAX_ANSWER (64 * 1024)
#define BEARER	   "Authorization: Bearer "
#define BEARER_LEN (sizeof(BEARER) - 1)

static void wipe_free(char *s, size_t len)
{
	if (s) {
		explicit_bzero(s, len);
		free(s);
	}
}

void az_auth_free(char *auth)
{
	if (auth)
		wipe_free(auth, strlen(auth));
}

void az_token_clear(struct az *c)
{
	wipe_free(c->auth, c->auth_len);
	c->auth = NULL;
	c->auth_len = 0;
	c->expires = 0;
}

/* Append s (n octets) form-urlencoded to buf of cap octets at *len; false when full. */
static bool form_add(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || strchr("-._~", ch);
		if (*len + 4 > cap)
			return false;
		if (plain && ch) {
			buf[(*len)++] = (char)ch;
		} else {
			buf[(*len)++] = '%';
			buf[(*len)++] = hex[ch >> 4];
			buf[(*len)++] = hex[ch & 15];
		}
	}
	buf[*len] = '\0';
	return true;
}

static bool form_lit(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > cap)
		return false;
	memcpy(buf + *len, s, n + 1);
	*len += n;
	return true;
}

/* The form of the grant; *ret is wiped and freed by the caller (wipe_free, MAX_BODY). */
static int make_form(struct sts_plugin *p, const struct az *c, const char *scope, char **ret,
		     struct sts_plugin_call *call)
{
	struct sts_secret *s = NULL;
	int r = sts_plugin_secret(p, c->secret_ref, &s, call);
	if (r < 0)
		return r;
	const char *v = sts_plugin_secret_value(p, s);
	size_t n = sts_plugin_secret_len(p, s), len = 0;
	char *b = calloc(1, MAX_BODY);
	if (!b) {
		sts_plugin_secret_free(p, s);
		return STS_PLUGIN_ENOMEM;
	}
	bool ok = n > 0 &&
		  form_lit(b, MAX_BODY, &len, "grant_type=client_credentials&client_id=") &&
		  form_add(b, MAX_BODY, &len, c->client_id, strlen(c->client_id)) &&
		  form_lit(b, MAX_BODY, &len, "&client_secret=") &&
		  form_add(b, MAX_BODY, &len, v, n) && form_lit(b, MAX_BODY, &len, "&scope=") &&
		  form_add(b, MAX_BODY, &len, scope, strlen(scope));
	sts_plugin_secret_free(p, s);
	if (!ok) {
		wipe_free(b, MAX_BODY);
		sts_plugin_error(call, "the client secret of 'client_secret' is empty or too long");
		return STS_PLUGIN_ESECRET;
	}
	*ret = b;
	return STS_PLUGIN_OK;
}

/* Entra ID's error text: the first line of error_description, else error. */
static void token_error(long status, const json_t *j, struct sts_plugin_call *call)
{
	const char *e = json_string_value(json_object_get(j, "error"));
	const char *d = json_string_value(json_object_get(j, "error_description"));
	if (d) {
		size_t n = strcspn(d, "\r\n");
		sts_plugin_error(call, "token endpoint: HTTP %ld: %.*s", status, (int)n, d);
	} else {
		sts_plugin_error(call, "token endpoint: HTTP %ld%s%s", status, e ? ": " : "",
				 e ? e : "");
	}
}

int az_token_parse(long status, const char *body, size_t len, char **ret_token, long *ret_lifetime,
		   struct sts_plugin_call *call)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	int r = STS_PLUGIN_OK;
	if (status < 200 || status > 299) {
		const char *e = json_string_value(json_object_get(j, "error"));
		token_error(status, j, call);
		if (status == 401 || status == 400 || status == 403)
			r = e && strcmp(e, "invalid_scope") != 0 &&
				    strcmp(e, "unsupported_grant_type") != 0
				? STS_PLUGIN_EAUTH
				: STS_PLUGIN_EPROVIDER;
		else
			r = status == 429 || status >= 500 ? STS_PLUGIN_EAGAIN
							   : STS_PLUGIN_EPROVIDER;
		goto out;
	}
	const char *tok = json_string_value(json_object_get(j, "access_token"));
	const char *type = json_string_value(json_object_get(j, "token_type"));
	const json_t *exp = json_object_get(j, "expires_in");
	/* v2.0 answers a number; the older endpoint a string of digits */
	long life = json_is_integer(exp)  ? (long)json_integer_value(exp)
		    : json_is_string(exp) ? strtol(json_string_value(exp), NULL, 10)
					  : -1;
	if (!tok || !*tok || strpbrk(tok, "\r\n\t ") || (type && strcasecmp(type, "Bearer") != 0) ||
	    life <= 0) {
		sts_plugin_error(call, "token endpoint: an answer without a bearer token and its "
				       "lifetime");
		r = STS_PLUGIN_EPARSE;
		goto out;
	}
	if (!(*ret_token = strdup(tok)))
		r = STS_PLUGIN_ENOMEM;
	else
		*ret_lifetime = life;
out:
	json_decref(j);
	return r;
}

/* A new token into c (its lock held). */
static int fetch(struct sts_plugin *p, struct az *c, struct sts_plugin_call *call)
{
	char *form = NULL, *url = NULL, *tok = NULL;
	long life = 0;
	int r = make_form(p, c, c->scope, &form, call);
	if (r == STS_PLUGIN_OK &&
	    asprintf(&url, "%s/%s/oauth2/v2.0/token", c->login, c->tenant) < 0) {
		url = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (r < 0)
		goto out;
	static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
					      "Accept: application/json", NULL};
	struct sts_plugin_http_req req = {
	    .struct_size = sizeof(req),
	    .method = "POST",
	    .url = url,
	    .headers = headers,
	    .body = form,
	    .body_len = strlen(form),
	    .timeout_ms = c->timeout_ms,
	    .max_response = MAX_ANSWER,
	};
	struct sts_plugin_http_resp resp;
	r = sts_plugin_http(p, &req, &resp, call);
	if (r == STS_PLUGIN_OK)
		r = az_token_parse(resp.status, resp.body, resp.body_len, &tok, &life, call);
	sts_plugin_http_release(p, &resp);
	if (r < 0)
		goto out;
	az_token_clear(c);
	c->auth_len = BEARER_LEN + strlen(tok) + 1;
	if (!(c->auth = malloc(c->auth_len))) {
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	memcpy(c->auth, BEARER, BEARER_LEN);
	memcpy(c->auth + BEARER_LEN, tok, c->auth_len - BEARER_LEN);
	/* a short-lived token is used for half its life */
	c->expires = time(NULL) + (life > 2 * MARGIN_S ? life - MARGIN_S : life / 2);
out:
	wipe_free(tok, tok ? strlen(tok) : 0);
	wipe_free(form, MAX_BODY);
	free(url);
	return r;
}

int az_auth(struct sts_plugin *p, bool fresh, char **ret, struct sts_plugin_call *call)
{
	struct az *c = sts_plugin_ctx_get(p);
	int r = STS_PLUGIN_OK;
	pthread_mutex_lock(&c->lock);
	if (fresh)
		az_token_clear(c);
	if (!c->auth || time(NULL) >= c->expires)
		r = fetch(p, c, call);
	if (r == STS_PLUGIN_OK && !(*ret = strdup(c->auth)))
		r = STS_PLUGIN_ENOMEM;
	pthread_mutex_unlock(&c->lock);
	return r;
}
