/* SPDX-License-Identifier: MIT */
/*
 * Record sets of Azure DNS (api-version 2018-05-01) <-> the host's rrsets.
 *
 *   {"name": "_mta-sts", "type": "Microsoft.Network/dnszones/TXT", "etag": "...",
 *    "properties": {"TTL": 300, "metadata": {...},
 *                   "TXTRecords": [{"value": ["string", "string"]}]}}
 *
 * name is relative to the zone ("@" at the apex); each type keeps its
 * records in a property of its own (a list, or one object for CNAME and
 * SOA). A TXT record is an array of strings of at most 255 characters that
 * DNS clients concatenate: the rrset value is that concatenation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "az.h"
#include "plg_rest.h"

/* The record types the plugin reads; write = it can also make their records. */
static const struct az_type {
	const char *type;
	const char *prop;
	bool single;	   /* one object, not a list */
	const char *field; /* the one string field of a record; NULL: formatted below */
	bool write;
} types[] = {
    {"A", "ARecords", false, "ipv4Address", true},
    {"AAAA", "AAAARecords", false, "ipv6Address", true},
    {"CNAME", "CNAMERecord", true, "cname", true},
    {"NS", "NSRecords", false, "nsdname", true},
    {"PTR", "PTRRecords", false, "ptrdname", true},
    {"TXT", "TXTRecords", false, NULL, true},
    {"MX", "MXRecords", false, NULL, true},
    {"SRV", "SRVRecords", false, NULL, false},
    {"CAA", "CAARecords", false, NULL, false},
};

static const struct az_type *type_of(const char *type)
{
	for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].type, type) == 0)
			return &types[i];
	return NULL;
}

bool az_type_known(const char *type)
{
	const struct az_type *t = type_of(type);
	return t && t->write;
}

const char *az_rrset_type(const json_t *rs)
{
	const char *t = json_string_value(json_object_get(rs, "type"));
	const char *slash = t ? strrchr(t, '/') : NULL;
	return slash ? slash + 1 : NULL;
}

/* The records of the record set's properties for type t, as a list. */
static json_t *records_of(const json_t *props, const struct az_type *t)
{
	json_t *r = json_object_get(props, t->prop);
	if (!t->single)
		return json_is_array(r) ? json_incref(r) : json_array();
	json_t *a = json_array();
	if (a && json_is_object(r))
		json_array_append(a, r);
	return a;
}

/* An absolute name ends in '.': the form of CNAME, NS, MX targets in rrsets. */
static char *absolute(const char *name)
{
	size_t n = strlen(name);
	char *s = malloc(n + 2);
	if (s) {
		memcpy(s, name, n + 1);
		if (n == 0 || name[n - 1] != '.')
			memcpy(s + n, ".", 2);
	}
	return s;
}

/* The value of one record (rrset form), malloc'd, *ret_len octets; EPARSE. */
static int record_value(const struct az_type *t, const json_t *rec, char **ret, size_t *ret_len)
{
	char *s = NULL;
	int n = -1;
	if (strcmp(t->type, "TXT") == 0) {
		const json_t *vals = json_object_get(rec, "value"), *v;
		size_t i, len = 0;
		if (!json_is_array(vals) || json_array_size(vals) == 0)
			return STS_PLUGIN_EPARSE;
		json_array_foreach(vals, i, v)
		{
			if (!json_is_string(v))
				return STS_PLUGIN_EPARSE;
			len += json_string_length(v);
		}
		if (!(s = malloc(len + 1)))
			return STS_PLUGIN_ENOMEM;
		len = 0;
		json_array_foreach(vals, i, v)
		{
			memcpy(s + len, json_string_value(v), json_string_length(v));
			len += json_string_length(v);
		}
		s[len] = '\0';
		*ret = s;
		*ret_len = len;
		return STS_PLUGIN_OK;
	}
	if (t->field) {
		const char *v = json_string_value(json_object_get(rec, t->field));
		if (!v || !*v)
			return STS_PLUGIN_EPARSE;
		bool name = strcmp(t->type, "A") != 0 && strcmp(t->type, "AAAA") != 0;
		s = name ? absolute(v) : strdup(v);
		n = s ? (int)strlen(s) : -1;
	} else if (strcmp(t->type, "MX") == 0) {
		const char *x = json_string_value(json_object_get(rec, "exchange"));
		json_t *pref = json_object_get(rec, "preference");
		if (!x || !json_is_integer(pref))
			return STS_PLUGIN_EPARSE;
		n = asprintf(&s, "%lld %s%s", (long long)json_integer_value(pref), x,
			     *x && x[strlen(x) - 1] == '.' ? "" : ".");
	} else if (strcmp(t->type, "SRV") == 0) {
		const char *x = json_string_value(json_object_get(rec, "target"));
		if (!x)
			return STS_PLUGIN_EPARSE;
		n = asprintf(&s, "%lld %lld %lld %s",
			     (long long)json_integer_value(json_object_get(rec, "priority")),
			     (long long)json_integer_value(json_object_get(rec, "weight")),
			     (long long)json_integer_value(json_object_get(rec, "port")), x);
	} else {
		const char *tag = json_string_value(json_object_get(rec, "tag"));
		const char *v = json_string_value(json_object_get(rec, "value"));
		if (!tag || !v)
			return STS_PLUGIN_EPARSE;
		n = asprintf(&s, "%lld %s \"%s\"",
			     (long long)json_integer_value(json_object_get(rec, "flags")), tag, v);
	}
	if (n < 0)
		return STS_PLUGIN_ENOMEM;
	*ret = s;
	*ret_len = (size_t)n;
	return STS_PLUGIN_OK;
}

/* The absolute name (lower case, final dot) of a record set of zone; NULL: ENOMEM. */
static char *set_name(const char *zone, const char *rel)
{
	char *s = NULL;
	int n =
	    strcmp(rel, "@") == 0 ? asprintf(&s, "%s.", zone) : asprintf(&s, "%s.%s.", rel, zone);
	if (n < 0)
		return NULL;
	for (char *q = s; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return s;
}

int az_rrset_add(struct sts_plugin *p, const char *zone, const json_t *rs, const char *const *names,
		 size_t n, struct sts_rrsets *list, struct sts_plugin_call *call)
{
	const char *rel = json_string_value(json_object_get(rs, "name"));
	const json_t *props = json_object_get(rs, "properties");
	const struct az_type *t = type_of(az_rrset_type(rs));
	if (!rel || !json_is_object(props)) {
		sts_plugin_error(call, "a record set without a name or properties");
		return STS_PLUGIN_EPARSE;
	}
	if (!t)
		return STS_PLUGIN_OK; /* SOA, or a type unknown here */
	char *name = set_name(zone, rel);
	if (!name)
		return STS_PLUGIN_ENOMEM;
	size_t k = 0;
	while (names && k < n && strcasecmp(names[k], name) != 0)
		k++;
	int r = STS_PLUGIN_OK;
	json_t *recs = NULL;
	if (names && k == n)
		goto out;
	json_int_t ttl = json_integer_value(json_object_get(props, "TTL"));
	struct sts_rrset *rr = sts_plugin_rrset_add(
	    p, list, name, t->type, ttl < 0 || ttl > UINT32_MAX ? 0 : (uint32_t)ttl);
	recs = records_of(props, t);
	if (!rr || !recs) {
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	size_t i;
	json_t *rec;
	json_array_foreach(recs, i, rec)
	{
		char *v = NULL;
		size_t len = 0;
		r = record_value(t, rec, &v, &len);
		if (r == STS_PLUGIN_EPARSE)
			sts_plugin_error(call, "an unreadable %s record in record set '%s'",
					 t->type, rel);
		if ((r = plg_rrset_take(p, rr, r, v, len)) < 0)
			break;
	}
out:
	json_decref(recs);
	free(name);
	return r;
}

/* Which record of recs (not yet used) holds value? json_array_size(recs) if none. */
static size_t find_value(const struct az_type *t, const json_t *recs, const bool *used,
			 const char *value)
{
	size_t i, want = strlen(value);
	json_t *rec;
	json_array_foreach(recs, i, rec)
	{
		char *v = NULL;
		size_t len = 0;
		if (used[i] || record_value(t, rec, &v, &len) < 0)
			continue;
		bool same = len == want && memcmp(v, value, len) == 0;
		free(v);
		if (same)
			return i;
	}
	return json_array_size(recs);
}

/* The strings of a TXT value: the host splits it (at most 255 octets each). */
static int txt_strings(struct sts_plugin *p, const char *value, json_t **ret)
{
	char *q = NULL;
	int r = sts_plugin_txt_quote(p, value, strlen(value), &q);
	if (r < 0)
		return r;
	json_t *a = json_array();
	r = a ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	/* q is "..." "..." with \" \\ \DDD escapes: cut it at the quotes */
	for (const char *s = q; r == STS_PLUGIN_OK && *s;) {
		if (*s == ' ') {
			s++;
			continue;
		}
		const char *e = s + 1;
		while (*e && *e != '"')
			e += (*e == '\\' && e[1]) ? 2 : 1;
		if (*s != '"' || *e != '"') {
			r = STS_PLUGIN_EPARSE;
			break;
		}
		char *v = NULL;
		size_t len = 0;
		r = sts_plugin_txt_unquote(p, s, (size_t)(e + 1 - s), &v, &len);
		json_t *js = r < 0 ? NULL : json_stringn(v, len);
		if (r == STS_PLUGIN_OK &&
		    (!js || !json_string_value(js) || json_array_append_new(a, js) < 0))
			r = STS_PLUGIN_EINVAL; /* not UTF-8: Azure's strings are JSON strings */
		if (v)
			sts_plugin_free(p, v);
		s = e + 1;
	}
	sts_plugin_free(p, q);
	if (r < 0)
		json_decref(a);
	else
		*ret = a;
	return r;
}

/* A new record of type t for value (rrset form). */
static int new_record(struct sts_plugin *p, const struct az_type *t, const char *value,
		      json_t **ret)
{
	if (strcmp(t->type, "TXT") == 0) {
		json_t *strs = NULL;
		int r = txt_strings(p, value, &strs);
		if (r == STS_PLUGIN_OK && !(*ret = json_pack("{s:o}", "value", strs)))
			r = STS_PLUGIN_ENOMEM;
		return r;
	}
	if (strcmp(t->type, "MX") == 0) {
		/* "PREF EXCHANGE": one space, the exchange as it is */
		char *end = NULL;
		unsigned long pref = strtoul(value, &end, 10);
		if (end == value || *value < '0' || *value > '9' || *end != ' ' || !end[1] ||
		    pref > 65535)
			return STS_PLUGIN_EINVAL;
		*ret = json_pack("{s:I, s:s}", "preference", (json_int_t)pref, "exchange", end + 1);
	} else {
		*ret = json_pack("{s:s}", t->field, value);
	}
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_EINVAL;
}

int az_rrset_props(struct sts_plugin *p, const struct sts_rrset *rrset, const json_t *cur,
		   json_t **ret, struct sts_plugin_call *call)
{
	const struct az_type *t = type_of(rrset->type);
	if (!t || !t->write || (t->single && rrset->n_values != 1)) {
		sts_plugin_error(call, "the azure plugin cannot write %s record sets%s",
				 rrset->type, t && t->single ? " of other than one value" : "");
		return STS_PLUGIN_EUNSUPPORTED;
	}
	const json_t *cprops = json_object_get(cur, "properties");
	json_t *have = cur ? records_of(cprops, t) : json_array();
	json_t *recs = json_array();
	json_t *props = json_pack("{s:I}", "TTL", (json_int_t)rrset->ttl);
	bool *used = calloc(json_array_size(have) + 1, sizeof(*used));
	int r = have && recs && props && used ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	for (size_t k = 0; r == STS_PLUGIN_OK && k < rrset->n_values; k++) {
		size_t i = find_value(t, have, used, rrset->values[k]);
		json_t *rec = NULL;
		if (i < json_array_size(have)) {
			used[i] = true;
			rec = json_incref(json_array_get(have, i)); /* kept as it is */
		} else if ((r = new_record(p, t, rrset->values[k], &rec)) < 0) {
			sts_plugin_error(call, "cannot make a %s record of value '%s'%s", t->type,
					 rrset->values[k],
					 r == STS_PLUGIN_EINVAL ? ": not valid for this type" : "");
			break;
		}
		if (json_array_append_new(recs, rec) < 0)
			r = STS_PLUGIN_ENOMEM;
	}
	json_t *meta = json_object_get(cprops, "metadata"); /* someone's annotations stay */
	if (r == STS_PLUGIN_OK && json_is_object(meta) && json_object_set(props, "metadata", meta))
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK &&
	    json_object_set(props, t->prop, t->single ? json_array_get(recs, 0) : recs) < 0)
		r = STS_PLUGIN_ENOMEM;
	free(used);
	json_decref(have);
	json_decref(recs);
	if (r < 0)
		json_decref(props);
	else
		*ret = props;
	return r;
}

bool az_rrset_equal(struct sts_plugin *p, const struct sts_rrset *rrset, const json_t *cur)
{
	(void)p;
	const struct az_type *t = type_of(rrset->type);
	const json_t *props = json_object_get(cur, "properties");
	if (!t || json_integer_value(json_object_get(props, "TTL")) != (json_int_t)rrset->ttl)
		return false;
	json_t *have = records_of(props, t);
	bool *used = calloc(json_array_size(have) + 1, sizeof(*used));
	bool same = have && used && json_array_size(have) == rrset->n_values;
	for (size_t k = 0; same && k < rrset->n_values; k++) {
		size_t i = find_value(t, have, used, rrset->values[k]);
		same = i < json_array_size(have);
		if (same)
			used[i] = true;
	}
	free(used);
	json_decref(have);
	return same;
}
