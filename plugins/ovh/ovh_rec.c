/* SPDX-License-Identifier: MIT */
/*
 * ovh: a record of the API <-> the engine's form (ovh.h). The API names a
 * record by subDomain, relative to the zone ("" at the apex); a TXT's
 * target is its presentation form (quoted strings, or one bare string as
 * the console may store it), read and written with the host's TXT codec;
 * a CNAME's target is absolute with its final dot, or relative to the zone
 * without one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovh.h"

/* rel in zone, absolute: rel ending in '.' is absolute already. */
static int in_zone(struct sts_plugin *p, const char *zone, const char *rel, char **ret)
{
	size_t n = strlen(rel);
	if (n > 0 && rel[n - 1] == '.')
		return plg_norm(p, rel, STS_NAME_DOT, ret);
	if (n == 0)
		return plg_norm(p, zone, STS_NAME_DOT, ret);
	char *full;
	if (asprintf(&full, "%s.%s", rel, zone) < 0)
		return STS_PLUGIN_ENOMEM;
	int r = plg_norm(p, full, STS_NAME_DOT, ret);
	free(full);
	return r;
}

static int value_of(struct sts_plugin *p, const char *zone, struct ovh_rec *v, const char *target)
{
	size_t len = strlen(target);
	if (strcmp(v->type, "CNAME") == 0) {
		int r = in_zone(p, zone, target, &v->value);
		v->len = r < 0 ? 0 : strlen(v->value);
		return r;
	}
	if (strcmp(v->type, "TXT") == 0) {
		char *t = NULL;
		int r = sts_plugin_txt_unquote(p, target, len, &t, &len);
		if (r < 0)
			return r;
		v->value = plg_own(p, t, len);
	} else {
		v->value = strdup(target);
	}
	v->len = len;
	return v->value ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

int ovh_rec_parse(struct sts_plugin *p, const char *zone, const json_t *rec, struct ovh_rec *ret,
		  struct sts_plugin_call *call)
{
	const json_t *id = json_object_get(rec, "id");
	const char *sub = json_string_value(json_object_get(rec, "subDomain"));
	const char *type = json_string_value(json_object_get(rec, "fieldType"));
	const char *target = json_string_value(json_object_get(rec, "target"));
	json_int_t ttl = json_integer_value(json_object_get(rec, "ttl"));
	memset(ret, 0, sizeof(*ret));
	if (!json_is_integer(id) || !sub || !type || !*type || !target || ttl < 0 ||
	    ttl > (json_int_t)UINT32_MAX) {
		sts_plugin_error(
		    call, "a record without id, subDomain, fieldType, target or a valid ttl");
		return STS_PLUGIN_EPARSE;
	}
	ret->id = (long long)json_integer_value(id);
	ret->ttl = (uint32_t)ttl;
	if (!(ret->type = strdup(type)))
		return STS_PLUGIN_ENOMEM;
	for (char *t = ret->type; *t; t++)
		if (*t >= 'a' && *t <= 'z')
			*t = (char)(*t - 'a' + 'A');
	int r = in_zone(p, zone, sub, &ret->name);
	if (r == STS_PLUGIN_OK)
		r = value_of(p, zone, ret, target);
	if (r == STS_PLUGIN_EINVAL || r == STS_PLUGIN_EPARSE) {
		sts_plugin_error(call, "record %lld: unreadable subDomain '%s' or %s target '%s'",
				 ret->id, sub, ret->type, target);
		r = STS_PLUGIN_EPARSE;
	}
	if (r < 0)
		ovh_rec_release(ret);
	return r;
}

void ovh_rec_release(struct ovh_rec *r)
{
	PLG_FREE_ALL(r->name, r->type, r->value);
	memset(r, 0, sizeof(*r));
}

int ovh_subdomain(struct sts_plugin *p, const char *zone, const char *name, char **ret)
{
	return plg_relative(p, zone, name, "", ret);
}

int ovh_target(struct sts_plugin *p, const char *type, const char *value, size_t len, char **ret)
{
	if (strcmp(type, "TXT") == 0) {
		char *q = NULL;
		int r = sts_plugin_txt_quote(p, value, len, &q);
		if (r == STS_PLUGIN_OK && !(*ret = plg_own(p, q, strlen(q))))
			r = STS_PLUGIN_ENOMEM;
		return r;
	}
	if (strcmp(type, "CNAME") == 0)
		return plg_norm(p, value, STS_NAME_DOT, ret);
	*ret = strndup(value, len);
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}
