/* SPDX-License-Identifier: MIT */
/*
 * ovh: credentials and signed requests (ovh.h). Every request but
 * /auth/time carries X-Ovh-Application, X-Ovh-Consumer, X-Ovh-Timestamp
 * (the API's clock: GET /auth/time once per instance, the difference kept)
 * and X-Ovh-Signature "$1$" + hex SHA-1 of AS+CK+METHOD+URL+BODY+TIMESTAMP
 * joined by "+", URL being the full URL sent and BODY the JSON text sent
 * (the host serialises the body with json_dumps(JSON_COMPACT), as here).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ovh.h"

void ovh_creds_free(struct ovh *c)
{
	plg_wipe_free(c->app_key);
	plg_wipe_free(c->consumer);
	plg_wipe_free(c->app_secret);
	c->app_key = c->consumer = c->app_secret = NULL;
}

/* The secret of setting key, as "PREFIX<value>" (malloc'd). */
static int secret_line(struct sts_plugin *p, const json_t *settings, const char *key,
		       const char *prefix, char **ret, struct sts_plugin_call *call)
{
	struct sts_secret *s = NULL;
	int r = sts_plugin_secret(p, json_string_value(json_object_get(settings, key)), &s, call);
	if (r < 0)
		return r;
	const char *v = sts_plugin_secret_value(p, s);
	size_t n = sts_plugin_secret_len(p, s);
	if (n == 0 || strlen(v) != n || strpbrk(v, "\r\n \t+")) {
		sts_plugin_error(call, "the value of '%s' is empty or holds white space or '+'",
				 key);
		r = STS_PLUGIN_ESECRET;
	} else if (asprintf(ret, "%s%s", prefix, v) < 0) {
		*ret = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	sts_plugin_secret_free(p, s);
	return r;
}

int ovh_creds_load(struct sts_plugin *p, struct ovh *c, const json_t *settings,
		   struct sts_plugin_call *call)
{
	static const char ck_hdr[] = "X-Ovh-Consumer: ";
	int r =
	    secret_line(p, settings, "application_key", "X-Ovh-Application: ", &c->app_key, call);
	if (r == STS_PLUGIN_OK)
		r = secret_line(p, settings, "consumer_key", ck_hdr, &c->consumer, call);
	if (r == STS_PLUGIN_OK)
		r = secret_line(p, settings, "application_secret", "", &c->app_secret, call);
	if (r == STS_PLUGIN_OK)
		c->ck = c->consumer + sizeof(ck_hdr) - 1;
	return r;
}

static int sha1_hex(const char *text, size_t len, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_Digest(text, len, md, &n, EVP_sha1(), NULL) != 1 || n != 20)
		return STS_PLUGIN_EIO;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return STS_PLUGIN_OK;
}

static int rest(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
		bool idempotent, const char *auth, const char *const *headers,
		struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call)
{
	const struct ovh *c = sts_plugin_ctx_get(p);
	struct sts_plugin_rest_req req = plg_rest_req(&c->rest, method, path, body);
	req.auth = auth;
	req.headers = headers;
	req.idempotent = idempotent;
	req.error_pointer = "/message";
	return sts_plugin_rest(p, &req, resp, call);
}

/* The API's clock, once: GET /auth/time (no credentials). */
static int api_time(struct sts_plugin *p, struct sts_plugin_call *call)
{
	struct ovh *c = sts_plugin_ctx_get(p);
	pthread_mutex_lock(&c->mu); /* zones read at once: one asks */
	if (c->have_time) {
		pthread_mutex_unlock(&c->mu);
		return STS_PLUGIN_OK;
	}
	struct sts_plugin_rest_resp resp;
	int r = rest(p, "GET", "/auth/time", NULL, true, NULL, NULL, &resp, call);
	if (r == STS_PLUGIN_OK && !json_is_integer(resp.json)) {
		sts_plugin_error(call, "GET /auth/time: the answer is not a time");
		r = STS_PLUGIN_EPARSE;
	}
	if (r == STS_PLUGIN_OK) {
		c->time_delta = (time_t)json_integer_value(resp.json) - time(NULL);
		c->have_time = true;
	}
	pthread_mutex_unlock(&c->mu);
	sts_plugin_rest_release(p, &resp);
	return r;
}

/* "$1$<hex>" for the request (headers[2] of ovh_call). */
static int sign(const struct ovh *c, const char *method, const char *path, const char *body,
		long long ts, char **ret)
{
	char *text = NULL, hex[41];
	if (asprintf(&text, "%s+%s+%s+%s%s+%s+%lld", c->app_secret, c->ck, method, c->rest.base,
		     path, body ? body : "", ts) < 0)
		return STS_PLUGIN_ENOMEM;
	int r = sha1_hex(text, strlen(text), hex);
	plg_wipe_free(text);
	if (r == STS_PLUGIN_OK && asprintf(ret, "X-Ovh-Signature: $1$%s", hex) < 0) {
		*ret = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	return r;
}

/* A refused signature or timestamp (HTTP 400) is a credentials problem. */
static int auth_error(const struct sts_plugin_rest_resp *resp, int r)
{
	const char *code = json_string_value(json_object_get(resp->json, "errorCode"));
	if (r == STS_PLUGIN_EPROVIDER && code &&
	    (strcmp(code, "INVALID_SIGNATURE") == 0 || strcmp(code, "QUERY_TIME_OUT") == 0))
		return STS_PLUGIN_EAUTH;
	return r;
}

int ovh_call(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
	     bool idempotent, struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call)
{
	const struct ovh *c = sts_plugin_ctx_get(p);
	memset(resp, 0, sizeof(*resp));
	int r = api_time(p, call);
	if (r < 0)
		return r;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, *ts = NULL, *sig = NULL;
	long long now = (long long)(time(NULL) + c->time_delta);
	if (body && !text)
		return STS_PLUGIN_ENOMEM;
	r = sign(c, method, path, text, now, &sig);
	if (r == STS_PLUGIN_OK && asprintf(&ts, "X-Ovh-Timestamp: %lld", now) < 0) {
		ts = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK) {
		const char *const headers[] = {c->app_key, ts, sig, NULL};
		r = auth_error(resp, rest(p, method, path, body, idempotent, c->consumer, headers,
					  resp, call));
	}
	PLG_FREE_ALL(sig, ts, text);
	return r;
}

int ovh_send(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
	     bool idempotent, struct sts_plugin_call *call)
{
	struct sts_plugin_rest_resp resp;
	int r = ovh_call(p, method, path, body, idempotent, &resp, call);
	sts_plugin_rest_release(p, &resp);
	return r;
}
