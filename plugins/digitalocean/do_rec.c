/* SPDX-License-Identifier: MIT */
/*
 * DigitalOcean's record form (do_rec.h). DigitalOcean keeps a TXT's text
 * in `data` as one string, without quotes or escapes, and cuts it into
 * strings of 255 octets when it serves it: the value is `data` itself, in
 * both directions, and the host's presentation codec does not apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "do_rec.h"
#include "plg_rest.h"

static json_int_t num(const json_t *rec, const char *key)
{
	return json_integer_value(json_object_get(rec, key));
}

/* A target as DigitalOcean shows it ("@" the apex, no final dot), absolute. */
static int target(struct sts_plugin *p, const char *zone, const char *data, char **ret)
{
	return strcmp(data, "@") == 0 ? plg_norm(p, zone, STS_NAME_DOT, ret)
				      : plg_norm(p, data, STS_NAME_DOT, ret);
}

int do_rec_value(struct sts_plugin *p, const char *zone, const json_t *rec, char **ret,
		 size_t *ret_len, struct sts_plugin_call *call)
{
	const char *type = json_string_value(json_object_get(rec, "type"));
	const char *data = json_string_value(json_object_get(rec, "data"));
	if (!type || !data) {
		sts_plugin_error(call, "a domain record without type or data");
		return STS_PLUGIN_EPARSE;
	}
	char *t = NULL, *v = NULL;
	int r = STS_PLUGIN_OK;
	if (strcmp(type, "CNAME") == 0 || strcmp(type, "NS") == 0) {
		r = target(p, zone, data, &v);
	} else if (strcmp(type, "MX") == 0) {
		/* an invalid target is an error, never taken as text (no fall-through) */
		if ((r = target(p, zone, data, &t)) == STS_PLUGIN_OK &&
		    asprintf(&v, "%lld %s", (long long)num(rec, "priority"), t) < 0)
			v = NULL;
	} else if (strcmp(type, "SRV") == 0) {
		if ((r = target(p, zone, data, &t)) == STS_PLUGIN_OK &&
		    asprintf(&v, "%lld %lld %lld %s", (long long)num(rec, "priority"),
			     (long long)num(rec, "weight"), (long long)num(rec, "port"), t) < 0)
			v = NULL;
	} else if (strcmp(type, "CAA") == 0) {
		const char *tag = json_string_value(json_object_get(rec, "tag"));
		if (asprintf(&v, "%lld %s \"%s\"", (long long)num(rec, "flags"), tag ? tag : "",
			     data) < 0)
			v = NULL;
	} else {
		v = strdup(data); /* TXT: the text itself; A, AAAA: the address */
	}
	free(t);
	if (r < 0) {
		free(v);
		sts_plugin_error(call, "a %s record with an invalid target '%s'", type, data);
		return r;
	}
	if (!v)
		return STS_PLUGIN_ENOMEM;
	*ret = v;
	*ret_len = strlen(v);
	return STS_PLUGIN_OK;
}

/* The owner and type of record i, checked; NULL type when it has none. */
static int owner_of(struct sts_plugin *p, const char *zone, const json_t *rec, char **ret,
		    const char **ret_type, struct sts_plugin_call *call)
{
	const char *name = json_string_value(json_object_get(rec, "name"));
	*ret_type = json_string_value(json_object_get(rec, "type"));
	if (!name || !*ret_type || !**ret_type) {
		sts_plugin_error(call, "a domain record without name or type");
		return STS_PLUGIN_EPARSE;
	}
	int r = plg_absolute(p, zone, name, ret);
	if (r < 0 && r != STS_PLUGIN_ENOMEM) {
		sts_plugin_error(call, "a domain record with an invalid name '%s'", name);
		r = STS_PLUGIN_EPARSE;
	}
	return r;
}

int do_rec_rrsets(struct sts_plugin *p, const char *zone, const json_t *recs,
		  const char *const *names, size_t n, struct sts_rrsets *ret,
		  struct sts_plugin_call *call)
{
	size_t i;
	const json_t *rec;
	int r = STS_PLUGIN_OK;
	json_array_foreach(recs, i, rec)
	{
		char *owner = NULL, *v = NULL;
		const char *type;
		size_t len = 0;
		if ((r = owner_of(p, zone, rec, &owner, &type, call)) < 0)
			break;
		if (!plg_name_in(owner, names, n)) {
			free(owner);
			continue;
		}
		json_int_t ttl = num(rec, "ttl");
		if (!json_is_integer(json_object_get(rec, "ttl")) || ttl < 0 ||
		    ttl > (json_int_t)UINT32_MAX) {
			sts_plugin_error(call, "a domain record at '%s' without a valid ttl",
					 owner);
			r = STS_PLUGIN_EPARSE;
		}
		if (r == STS_PLUGIN_OK)
			r = do_rec_value(p, zone, rec, &v, &len, call);
		if (r == STS_PLUGIN_OK)
			r = plg_rrset_put(p, ret, owner, type, (uint32_t)ttl, v, len);
		free(v);
		free(owner);
		if (r < 0)
			break;
	}
	return r;
}

/* An rrset's value for the API's data: a CNAME's or NS's target ends in '.'. */
int do_rec_body(struct sts_plugin *p, const char *type, const char *name, uint32_t ttl,
		const char *value, size_t len, json_t **ret, struct sts_plugin_call *call)
{
	(void)p;
	if (strcmp(type, "TXT") != 0 && strcmp(type, "CNAME") != 0 && strcmp(type, "A") != 0 &&
	    strcmp(type, "AAAA") != 0 && strcmp(type, "NS") != 0) {
		sts_plugin_error(call, "records of type %s are not written by this plugin", type);
		return STS_PLUGIN_EUNSUPPORTED;
	}
	if (strlen(value) != len) {
		sts_plugin_error(call, "a %s value with a NUL octet", type);
		return STS_PLUGIN_EINVAL;
	}
	/* every field of the record, the unused ones null, as the API shows them */
	json_t *b = json_pack("{s:s, s:s, s:s, s:I, s:n, s:n, s:n, s:n, s:n}", "type", type, "name",
			      name, "data", value, "ttl", (json_int_t)ttl, "priority", "port",
			      "weight", "flags", "tag");
	if (!b) { /* jansson takes UTF-8 only */
		sts_plugin_error(call, "a %s value that is not UTF-8 text", type);
		return STS_PLUGIN_EINVAL;
	}
	*ret = b;
	return STS_PLUGIN_OK;
}
