/* SPDX-License-Identifier: MIT */
/*
 * The service account key file and the token endpoint's answers: pure
 * parsers over jansson (no host services), fuzzed by tests/fuzz/fuzz_gcloud.c.
 */
#include <string.h>

#include "gc.h"

#define GC_KEY_MAX (64u * 1024u) /* a key file is about 2.3 KiB */

void gc_key_release(struct gc_key *k)
{
	if (!k)
		return;
	free(k->email);
	free(k->key_id);
	plg_wipe_free(k->pem);
	free(k->project);
	free(k->token_uri);
	memset(k, 0, sizeof(*k));
}

/* The string member name of o, copied (NULL when absent); false when it is
 * there but not a non-empty string without NUL, CR or LF. */
static bool member(const json_t *o, const char *name, bool lines, char **ret)
{
	const json_t *v = json_object_get(o, name);
	*ret = NULL;
	if (!v)
		return true;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (!s || n == 0 || strlen(s) != n || (!lines && strpbrk(s, "\r\n")))
		return false;
	*ret = strdup(s);
	return *ret != NULL;
}

int gc_key_parse(const char *json, size_t len, struct gc_key *ret, const char **why)
{
	struct gc_key k = {0};
	if (len > GC_KEY_MAX) {
		*why = "the key file is too large";
		return STS_PLUGIN_ETOOLARGE;
	}
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	int r = STS_PLUGIN_ESECRET;
	if (!json_is_object(o))
		*why = "the key file is not a JSON object";
	else if (!json_is_string(json_object_get(o, "type")) ||
		 strcmp(json_string_value(json_object_get(o, "type")), "service_account") != 0)
		*why = "the key file is not a service account key (\"type\": \"service_account\")";
	else if (!member(o, "client_email", false, &k.email) || !k.email)
		*why = "the key file has no client_email";
	else if (!member(o, "private_key_id", false, &k.key_id) || !k.key_id)
		*why = "the key file has no private_key_id";
	else if (!member(o, "private_key", true, &k.pem) || !k.pem ||
		 !strstr(k.pem, "-----BEGIN PRIVATE KEY-----"))
		*why = "the key file has no private_key in PEM (PKCS #8)";
	else if (!member(o, "project_id", false, &k.project))
		*why = "the key file's project_id is not a string";
	else if (!member(o, "token_uri", false, &k.token_uri))
		*why = "the key file's token_uri is not a string";
	else
		r = STS_PLUGIN_OK;
	json_decref(o);
	if (r < 0)
		gc_key_release(&k);
	else
		*ret = k;
	return r;
}

int gc_token_parse(const char *body, size_t len, char **ret_token, long *ret_expires,
		   const char **why)
{
	json_t *o = json_loadb(body, len, 0, NULL);
	const json_t *tok = json_object_get(o, "access_token");
	const json_t *exp = json_object_get(o, "expires_in");
	const char *type = json_string_value(json_object_get(o, "token_type"));
	const char *t = json_string_value(tok);
	int r = STS_PLUGIN_EPARSE;
	if (!json_is_object(o))
		*why = "the token endpoint's answer is not a JSON object";
	else if (!t || json_string_length(tok) == 0 || json_string_length(tok) > 4096 ||
		 strlen(t) != json_string_length(tok) ||
		 strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789-._~+/=") != strlen(t))
		*why = "the token endpoint's answer has no usable access_token";
	else if (!json_is_integer(exp) || json_integer_value(exp) <= 0 ||
		 json_integer_value(exp) > 86400)
		*why = "the token endpoint's answer has no expires_in between 1 and 86400";
	else if (type && strcasecmp(type, "Bearer") != 0)
		*why = "the token endpoint's answer is not a bearer token";
	else if (!(*ret_token = strdup(t)))
		r = STS_PLUGIN_ENOMEM;
	else {
		*ret_expires = (long)json_integer_value(exp);
		r = STS_PLUGIN_OK;
	}
	json_decref(o); /* jansson frees the token's bytes unwiped: it expires */
	return r;
}

char *gc_token_error(const char *body, size_t len)
{
	json_t *o = json_loadb(body, len, 0, NULL);
	const char *err = json_string_value(json_object_get(o, "error"));
	const char *desc = json_string_value(json_object_get(o, "error_description"));
	char *s = NULL;
	if (err && asprintf(&s, "%.100s%s%.300s", err, desc ? ": " : "", desc ? desc : "") < 0)
		s = NULL;
	json_decref(o);
	return s;
}
