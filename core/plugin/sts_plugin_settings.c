/* SPDX-License-Identifier: MIT */
/*
 * Provider settings against a plugin's schema: unknown and missing keys,
 * types, secrets in clear text, defaults, paths made absolute, then the
 * plugin's own check(). Every problem is a diag at providers.NAME.KEY.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_http.h"
#include "sts_plugin.h"
#include "sts_secret.h"

STS_API const char *sts_setting_type_name(enum sts_setting_type t)
{
	switch (t) {
	case STS_SETTING_STRING:
		return "string";
	case STS_SETTING_INTEGER:
		return "integer";
	case STS_SETTING_BOOL:
		return "bool";
	case STS_SETTING_PATH:
		return "path";
	case STS_SETTING_SECRET:
		return "secret";
	case STS_SETTING_STRING_LIST:
		return "string-list";
	case STS_SETTING_OBJECT:
		return "object";
	}
	return "unknown";
}

struct vctx {
	const char *instance;
	const char *file;
	unsigned line, col;
	struct sts_diags *diags;
	int r;
};

static void verr(struct vctx *v, const char *key, const char *fmt, ...) STS_PRINTF(3, 4);
static void verr(struct vctx *v, const char *key, const char *fmt, ...)
{
	char *path = NULL, *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int ok = vasprintf(&msg, fmt, ap) >= 0;
	va_end(ap);
	if (ok && asprintf(&path, key ? "providers.%s.%s" : "providers.%s", v->instance,
			   key ? key : "") < 0)
		path = NULL;
	if (!ok || !path) {
		if (ok)
			free(msg);
		v->r = STS_ENOMEM;
		return;
	}
	if (sts_diags_add(v->diags, STS_SEV_ERROR, NULL, v->file, v->line, v->col, path, "%s",
			  msg) < 0)
		v->r = STS_ENOMEM;
	else if (v->r == STS_OK)
		v->r = STS_EINVALID;
	free(path);
	free(msg);
}

static const struct sts_plugin_setting *schema_find(const struct sts_plugin_setting *s,
						    const char *key)
{
	for (; s && s->key; s++)
		if (strcmp(s->key, key) == 0)
			return s;
	return NULL;
}

/* The default of s as JSON, or NULL (ENOMEM or unparsable). */
static json_t *default_value(const struct sts_plugin_setting *s)
{
	switch (s->type) {
	case STS_SETTING_STRING:
	case STS_SETTING_PATH:
	case STS_SETTING_SECRET:
		return json_string(s->def);
	case STS_SETTING_INTEGER:
		return json_integer(strtoll(s->def, NULL, 10));
	case STS_SETTING_BOOL:
		return json_boolean(strcmp(s->def, "true") == 0);
	case STS_SETTING_STRING_LIST:
	case STS_SETTING_OBJECT:
		return json_loads(s->def, JSON_DECODE_ANY, NULL);
	}
	return NULL;
}

static void check_value(struct vctx *v, const struct sts_plugin_setting *s, json_t *val,
			const char *basedir, json_t *out)
{
	const char *tn = sts_setting_type_name(s->type);
	switch (s->type) {
	case STS_SETTING_STRING:
	case STS_SETTING_PATH:
	case STS_SETTING_SECRET:
		if (!json_is_string(val) || json_string_length(val) == 0) {
			verr(v, s->key, "setting '%s' must be a non-empty %s", s->key, tn);
			return;
		}
		break;
	case STS_SETTING_INTEGER:
		if (!json_is_integer(val)) {
			verr(v, s->key, "setting '%s' must be an integer", s->key);
			return;
		}
		break;
	case STS_SETTING_BOOL:
		if (!json_is_boolean(val)) {
			verr(v, s->key, "setting '%s' must be true or false", s->key);
			return;
		}
		break;
	case STS_SETTING_STRING_LIST: {
		size_t i;
		json_t *e;
		if (!json_is_array(val)) {
			verr(v, s->key, "setting '%s' must be a list of strings", s->key);
			return;
		}
		json_array_foreach(val, i, e)
		{
			if (!json_is_string(e)) {
				verr(v, s->key, "setting '%s' must be a list of strings", s->key);
				return;
			}
		}
		break;
	}
	case STS_SETTING_OBJECT:
		if (!json_is_object(val)) {
			verr(v, s->key, "setting '%s' must be an object", s->key);
			return;
		}
		break;
	}
	const char *str = json_is_string(val) ? json_string_value(val) : NULL;
	if (s->type == STS_SETTING_SECRET) {
		const char *why = NULL;
		if (sts_secret_check(str, &why) < 0) {
			verr(v, s->key, "setting '%s': %s", s->key, why);
			return;
		}
	}
	if (s->type == STS_SETTING_PATH && str[0] != '/' && basedir) {
		char *abs = NULL;
		if (asprintf(&abs, "%s/%s", basedir, str) < 0) {
			v->r = STS_ENOMEM;
			return;
		}
		if (json_object_set_new(out, s->key, json_string(abs)) < 0)
			v->r = STS_ENOMEM;
		free(abs);
		return;
	}
	if (json_object_set(out, s->key, val) < 0)
		v->r = STS_ENOMEM;
}

STS_API int sts_plugin_validate_at(const struct sts_plugin_api *api, const char *instance,
				   const json_t *settings, const char *basedir, const char *file,
				   unsigned line, unsigned col, json_t **ret,
				   struct sts_diags *diags)
{
	struct vctx vc = {
	    .instance = instance, .file = file, .line = line, .col = col, .diags = diags};
	struct vctx *v = &vc;
	json_t *out = json_object();
	const char *key;
	json_t *val;
	if (!out)
		return STS_ENOMEM;
	if (!json_is_object(settings)) {
		verr(v, NULL, "provider '%s' must be an object", v->instance);
		goto out;
	}
	json_object_foreach((json_t *)settings, key, val)
	{
		if (strcmp(key, "plugin") == 0)
			continue;
		/* read by plan/apply, not by the plugin (docs/stsctl-apply.md): how
		 * to verify a web provider's policies, and the policy host's records */
		if (strcmp(key, "verify") == 0 || strcmp(key, "address") == 0 ||
		    strcmp(key, "cname") == 0)
			continue;
		if (strcmp(key, "insecure_http") == 0) {
			if (!json_is_boolean(val))
				verr(v, key, "'insecure_http' must be true or false");
			continue;
		}
		if (!schema_find(api->schema, key))
			verr(v, key, "unknown setting '%s' for plugin '%s'", key, api->name);
	}
	/* an API key never travels in clear by accident: http:// only to loopback */
	bool insecure = json_is_true(json_object_get(settings, "insecure_http"));
	json_object_foreach((json_t *)settings, key, val)
	{
		if (!insecure && json_is_string(val) &&
		    sts_http_url_cleartext_remote(json_string_value(val)))
			verr(v, key,
			     "'%s' is plain http:// to a host that is not a loopback address: "
			     "use https://, or set \"insecure_http\": true",
			     json_string_value(val));
	}
	for (const struct sts_plugin_setting *s = api->schema; s && s->key; s++) {
		val = json_object_get(settings, s->key);
		if (!val || json_is_null(val)) {
			if (s->required) {
				verr(v, NULL, "missing required setting '%s' for plugin '%s'",
				     s->key, api->name);
				continue;
			}
			if (!s->def)
				continue;
			json_t *d = default_value(s);
			if (!d) {
				verr(v, s->key, "plugin '%s' has an invalid default for '%s'",
				     api->name, s->key);
				continue;
			}
			check_value(v, s, d, basedir, out);
			json_decref(d);
			continue;
		}
		check_value(v, s, val, basedir, out);
	}
	if (v->r == STS_OK && api->check) {
		struct sts_plugin_check args = {0};
		if (api->check(out, &args) < 0)
			verr(v, args.key, "%s",
			     args.err_str ? args.err_str : "settings rejected by the plugin");
	}
out:
	if (v->r < 0) {
		json_decref(out);
		return v->r;
	}
	*ret = out;
	return STS_OK;
}

STS_API int sts_plugin_validate(const struct sts_plugin_api *api, const char *instance,
				const json_t *settings, const char *basedir, json_t **ret,
				struct sts_diags *diags)
{
	return sts_plugin_validate_at(api, instance, settings, basedir, NULL, 0, 0, ret, diags);
}
