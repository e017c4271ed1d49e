/* SPDX-License-Identifier: MIT */
/*
 * Vultr's record form (vultr_rec.h): a name relative to the domain (""
 * at the apex), a TXT's data one string between double quotes with no
 * quote inside and no escapes (Vultr cuts it into 255-octet strings when
 * it serves it, so the host's presentation codec, which quotes each
 * string, does not apply: only the two outer quotes are Vultr's), a
 * CNAME's data without the final dot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plg_rest.h"
#include "vultr_rec.h"

static int parse_value(struct sts_plugin *p, struct vultr_rec *v, const char *data, size_t len)
{
	if (strcmp(v->type, "CNAME") == 0) {
		int r = plg_norm(p, data, STS_NAME_DOT, &v->value);
		v->len = r < 0 ? 0 : strlen(v->value);
		return r;
	}
	if (strcmp(v->type, "TXT") == 0 && len >= 2 && data[0] == '"' && data[len - 1] == '"') {
		data++;
		len -= 2;
	}
	if (!(v->value = malloc(len + 1)))
		return STS_PLUGIN_ENOMEM;
	memcpy(v->value, data, len);
	v->value[len] = '\0';
	v->len = len;
	return STS_PLUGIN_OK;
}

static int parse_one(struct sts_plugin *p, const char *zone, const json_t *rec, struct vultr_rec *v,
		     struct sts_plugin_call *call)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *name = json_string_value(json_object_get(rec, "name"));
	const char *type = json_string_value(json_object_get(rec, "type"));
	const json_t *data = json_object_get(rec, "data");
	json_int_t ttl = json_integer_value(json_object_get(rec, "ttl"));
	if (!id || !name || !type || !*type || !json_is_string(data) || ttl < 0 ||
	    ttl > (json_int_t)UINT32_MAX) {
		sts_plugin_error(call, "a record without id, name, type, data or a valid ttl");
		return STS_PLUGIN_EPARSE;
	}
	v->ttl = (uint32_t)ttl;
	if (!(v->id = strdup(id)) || !(v->type = strdup(type)))
		return STS_PLUGIN_ENOMEM;
	for (char *t = v->type; *t; t++)
		if (*t >= 'a' && *t <= 'z')
			*t = (char)(*t - 'a' + 'A');
	int r = plg_absolute(p, zone, name, &v->name);
	if (r == STS_PLUGIN_EINVAL) {
		sts_plugin_error(call, "a record with an invalid name '%s'", name);
		return STS_PLUGIN_EPARSE;
	}
	if (r == STS_PLUGIN_OK)
		r = parse_value(p, v, json_string_value(data), json_string_length(data));
	if (r == STS_PLUGIN_EINVAL) {
		sts_plugin_error(call, "a %s record with invalid data", v->type);
		return STS_PLUGIN_EPARSE;
	}
	return r;
}

int vultr_recs_parse(struct sts_plugin *p, const char *zone, const json_t *list,
		     struct vultr_recs *ret, struct sts_plugin_call *call)
{
	size_t n = json_array_size(list);
	if (!json_is_array(list))
		return STS_PLUGIN_EPARSE;
	ret->n = 0;
	if (!(ret->v = calloc(n + 1, sizeof(*ret->v))))
		return STS_PLUGIN_ENOMEM;
	int r = STS_PLUGIN_OK;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++, ret->n++)
		r = parse_one(p, zone, json_array_get(list, i), &ret->v[i], call);
	if (r < 0)
		vultr_recs_free(ret);
	return r;
}

void vultr_recs_free(struct vultr_recs *recs)
{
	for (size_t i = 0; recs->v && i < recs->n; i++)
		PLG_FREE_ALL(recs->v[i].id, recs->v[i].name, recs->v[i].type, recs->v[i].value);
	free(recs->v);
	recs->v = NULL;
	recs->n = 0;
}

bool vultr_recs_cname_at(const struct vultr_recs *recs, const char *name)
{
	for (size_t i = 0; i < recs->n; i++)
		if (strcmp(recs->v[i].type, "CNAME") == 0 && strcmp(recs->v[i].name, name) == 0)
			return true;
	return false;
}

/* The data Vultr takes for value; free(). */
static int data_of(const struct sts_rrset *rs, const char *value, char **ret,
		   struct sts_plugin_call *call)
{
	size_t n = strlen(value);
	if (strcmp(rs->type, "TXT") == 0) {
		if (strchr(value, '"')) {
			sts_plugin_error(call,
					 "Vultr cannot hold a TXT with a double quote in it ('%s')",
					 rs->name);
			return STS_PLUGIN_EINVAL;
		}
		return asprintf(ret, "\"%s\"", value) < 0 ? STS_PLUGIN_ENOMEM : STS_PLUGIN_OK;
	}
	if (strcmp(rs->type, "CNAME") == 0 && n > 1 && value[n - 1] == '.')
		n--;
	*ret = strndup(value, n);
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

int vultr_record_body(struct sts_plugin *p, const char *zone, const struct sts_rrset *rs,
		      const char *value, json_t **ret, struct sts_plugin_call *call)
{
	char *name = NULL, *data = NULL;
	int r = plg_relative_in(p, zone, rs->name, "", &name, call);
	if (r == STS_PLUGIN_OK)
		r = data_of(rs, value, &data, call);
	json_t *body = NULL;
	if (r == STS_PLUGIN_OK) {
		json_t *d = json_string(data); /* NULL: not UTF-8 */
		if (!d)
			sts_plugin_error(call, "Vultr takes UTF-8 text only ('%s')", rs->name);
		body = d ? json_pack("{s:s, s:s, s:o, s:I}", "name", name, "type", rs->type, "data",
				     d, "ttl", (json_int_t)rs->ttl)
			 : NULL;
		r = !d ? STS_PLUGIN_EINVAL : body ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	}
	if (r < 0)
		json_decref(body);
	else
		*ret = body;
	free(data);
	free(name);
	return r;
}
