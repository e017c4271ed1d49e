/* SPDX-License-Identifier: MIT */
/*
 * Provider settings against a plugin's schema: unknown and missing keys,
 * types, secrets in clear text, defaults, paths made absolute, then the
 * plugin's own check(). Every problem is a diag at providers.NAME.KEY.
 */
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_http.h"
#include "sts_plugin_int.h"
#include "sts_secret.h"

/* Fields past an entry's struct_size count as zero (the struct_size rules). */
#define SET_HAS(s, f)  STS_PLUGIN_HAS(s, struct sts_plugin_setting, f)
#define SETTING_V2_MIN (offsetof(struct sts_plugin_setting, description) + sizeof(const char *))

static bool has_range(const struct sts_plugin_setting *s)
{
	return SET_HAS(s, max) && s->range;
}

static const char *const *choices_of(const struct sts_plugin_setting *s)
{
	return SET_HAS(s, choices) ? s->choices : NULL;
}

static const char *pattern_of(const struct sts_plugin_setting *s)
{
	return SET_HAS(s, pattern) ? s->pattern : NULL;
}

/* Compile a schema pattern, anchored: the whole value must match. */
static int pattern_compile(const char *pattern, regex_t *ret)
{
	char *anchored = NULL;
	if (asprintf(&anchored, "^(%s)$", pattern) < 0)
		return STS_ENOMEM;
	int rc = regcomp(ret, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	return rc == 0 ? STS_OK : STS_EINVAL;
}

int sts_plugin_schema_check(const struct sts_plugin_setting *const *schema, char **reason)
{
	*reason = NULL;
	for (size_t i = 0; schema && schema[i]; i++) {
		const struct sts_plugin_setting *s = schema[i];
		const char *key = s->struct_size >= SETTING_V2_MIN && s->key ? s->key : NULL;
		int r = STS_OK;
		regex_t re;
		if (!key)
			r = asprintf(reason, "schema entry %zu is too small or has no key", i);
		else if (has_range(s) && s->min > s->max)
			r = asprintf(reason,
				     "schema of '%s': min %" PRId64 " is above max %" PRId64, key,
				     s->min, s->max);
		else if (pattern_of(s) && pattern_compile(pattern_of(s), &re) < 0)
			r = asprintf(reason, "schema of '%s': pattern '%s' does not compile", key,
				     pattern_of(s));
		else if (pattern_of(s))
			regfree(&re);
		else
			continue;
		if (!*reason)
			continue;
		if (r < 0)
			*reason = NULL;
		return *reason ? STS_EABI : STS_ENOMEM;
	}
	return STS_OK;
}

STS_API const char *sts_setting_type_name(enum sts_setting_type t)
{
	static const char *const names[] = {
	    [STS_SETTING_STRING] = "string", [STS_SETTING_INTEGER] = "integer",
	    [STS_SETTING_BOOL] = "bool",     [STS_SETTING_PATH] = "path",
	    [STS_SETTING_SECRET] = "secret", [STS_SETTING_STRING_LIST] = "string-list",
	    [STS_SETTING_OBJECT] = "object",
	};
	unsigned i = (unsigned)t;
	return i < sizeof(names) / sizeof(names[0]) && names[i] ? names[i] : "unknown";
}

struct vctx {
	const char *instance;
	const char *file;
	unsigned line, col;
	struct sts_diags *diags;
	int r;
	const struct sts_provider *prov; /* positions of its keys, or NULL */
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
	unsigned line = v->line, col = v->col; /* the key's value, else the provider */
	for (size_t i = 0; key && v->prov && i < v->prov->n_keys; i++)
		if (strcmp(v->prov->keys[i].key, key) == 0) {
			line = v->prov->keys[i].line;
			col = v->prov->keys[i].col;
		}
	if (sts_diags_add(v->diags, STS_SEV_ERROR, NULL, v->file, line, col, path, "%s", msg) < 0)
		v->r = STS_ENOMEM;
	else if (v->r == STS_OK)
		v->r = STS_EINVALID;
	free(path);
	free(msg);
}

static const struct sts_plugin_setting *schema_find(const struct sts_plugin_setting *const *s,
						    const char *key)
{
	for (; s && *s; s++)
		if (strcmp((*s)->key, key) == 0)
			return *s;
	return NULL;
}

/* The schema key closest to a misspelt one, or NULL. */
static const char *suggest_key(const struct sts_plugin_setting *const *schema, const char *key)
{
	const char *keys[64];
	size_t n = 0;
	for (; schema && *schema && n < 64; schema++)
		keys[n++] = (*schema)->key;
	return sts_suggest(key, keys, n);
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

/* choices and pattern of one string (a value, or an element of a list) */
static bool check_text(struct vctx *v, const struct sts_plugin_setting *s, const char *str)
{
	const char *const *choices = choices_of(s);
	if (choices) {
		size_t i = 0;
		while (choices[i] && strcmp(choices[i], str) != 0)
			i++;
		if (!choices[i]) {
			char list[512] = "";
			size_t at = 0;
			for (i = 0; choices[i] && at < sizeof(list); i++)
				at += (size_t)snprintf(list + at, sizeof(list) - at, "%s'%s'",
						       i ? ", " : "", choices[i]);
			verr(v, s->key, "'%s' is not one of %s", str, list);
			return false;
		}
	}
	const char *pattern = pattern_of(s);
	if (pattern) {
		regex_t re;
		if (pattern_compile(pattern, &re) < 0) {
			v->r = STS_ENOMEM; /* it compiled when the plugin was loaded */
			return false;
		}
		bool ok = regexec(&re, str, 0, NULL, 0) == 0;
		regfree(&re);
		if (!ok) {
			const char *hint = SET_HAS(s, pattern_hint) ? s->pattern_hint : NULL;
			if (hint)
				verr(v, s->key, "'%s' is not valid here: %s", str, hint);
			else
				verr(v, s->key, "'%s' does not match the pattern '%s'", str,
				     pattern);
			return false;
		}
	}
	return true;
}

static bool check_range(struct vctx *v, const struct sts_plugin_setting *s, json_int_t n)
{
	if (!has_range(s))
		return true;
	if (n < s->min) {
		verr(v, s->key, "%" JSON_INTEGER_FORMAT " is below the minimum %" PRId64, n,
		     s->min);
		return false;
	}
	if (n > s->max) {
		verr(v, s->key, "%" JSON_INTEGER_FORMAT " is above the maximum %" PRId64, n,
		     s->max);
		return false;
	}
	return true;
}

/*
 * Has val the JSON shape of the setting's type? If not, *what is what it
 * must be ("an integer"; for the string types: their type name, non-empty).
 */
static bool shape_ok(const struct sts_plugin_setting *s, json_t *val, const char **what)
{
	size_t i;
	json_t *e;
	switch (s->type) {
	case STS_SETTING_STRING:
	case STS_SETTING_PATH:
	case STS_SETTING_SECRET:
		*what = sts_setting_type_name(s->type);
		return json_is_string(val) && json_string_length(val) > 0;
	case STS_SETTING_INTEGER:
		*what = "an integer";
		return json_is_integer(val);
	case STS_SETTING_BOOL:
		*what = "true or false";
		return json_is_boolean(val);
	case STS_SETTING_STRING_LIST:
		*what = "a list of strings";
		if (!json_is_array(val))
			return false;
		json_array_foreach(val, i, e)
		{
			if (!json_is_string(e))
				return false;
		}
		return true;
	case STS_SETTING_OBJECT:
		*what = "an object";
		return json_is_object(val);
	}
	return true;
}

static void check_value(struct vctx *v, const struct sts_plugin_setting *s, json_t *val,
			const char *basedir, json_t *out)
{
	const char *what = "";
	if (!shape_ok(s, val, &what)) {
		bool text = s->type == STS_SETTING_STRING || s->type == STS_SETTING_PATH ||
			    s->type == STS_SETTING_SECRET;
		verr(v, s->key, "setting '%s' must be %s%s", s->key, text ? "a non-empty " : "",
		     what);
		return;
	}
	if (s->type == STS_SETTING_INTEGER && !check_range(v, s, json_integer_value(val)))
		return;
	if (s->type == STS_SETTING_STRING_LIST) {
		size_t i;
		json_t *e;
		json_array_foreach(val, i, e)
		{
			if (!check_text(v, s, json_string_value(e)))
				return;
		}
	}
	const char *str = json_is_string(val) ? json_string_value(val) : NULL;
	if (s->type == STS_SETTING_STRING && !check_text(v, s, str))
		return;
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

static int validate(const struct sts_plugin_api *api, const char *instance, const json_t *settings,
		    const char *basedir, const char *file, unsigned line, unsigned col,
		    const struct sts_provider *prov, json_t **ret, struct sts_diags *diags)
{
	struct vctx vc = {.instance = instance,
			  .file = file,
			  .line = line,
			  .col = col,
			  .diags = diags,
			  .prov = prov};
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
		if (!schema_find(api->schema, key)) {
			const char *hint = suggest_key(api->schema, key);
			verr(v, key, "unknown setting '%s' for plugin '%s'%s%s%s", key, api->name,
			     hint ? ": did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
		}
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
	for (const struct sts_plugin_setting *const *sp = api->schema; sp && *sp; sp++) {
		const struct sts_plugin_setting *s = *sp;
		val = json_object_get(settings, s->key);
		if (!val || json_is_null(val)) {
			if (s->required) {
				verr(v, s->key, "missing required setting '%s' for plugin '%s'",
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
		struct sts_plugin_check args = {.struct_size = sizeof(args)};
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

STS_API int sts_plugin_validate_at(const struct sts_plugin_api *api, const char *instance,
				   const json_t *settings, const char *basedir, const char *file,
				   unsigned line, unsigned col, json_t **ret,
				   struct sts_diags *diags)
{
	return validate(api, instance, settings, basedir, file, line, col, NULL, ret, diags);
}

STS_API int sts_plugin_validate_provider(const struct sts_plugin_api *api,
					 const struct sts_inventory *inv,
					 const struct sts_provider *prov, const char *basedir,
					 json_t **ret, struct sts_diags *diags)
{
	return validate(api, prov->name, prov->settings, basedir, inv ? inv->path : NULL,
			prov->line, prov->col, prov, ret, diags);
}

STS_API int sts_plugin_validate(const struct sts_plugin_api *api, const char *instance,
				const json_t *settings, const char *basedir, json_t **ret,
				struct sts_diags *diags)
{
	return sts_plugin_validate_at(api, instance, settings, basedir, NULL, 0, 0, ret, diags);
}
