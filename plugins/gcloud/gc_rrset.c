/* SPDX-License-Identifier: MIT */
/*
 * Cloud DNS resource record sets <-> stsctl's rrsets: read (the names
 * asked for, or the whole zone when many are), apply (every change of a
 * zone in one changes.create: deletions of the rrsets exactly as the API
 * showed them, additions of the desired ones), zones.
 *
 * A TXT rrdata is the API's presentation form ("a" "b"); a value the
 * rrset keeps goes back in the very rrdata it came in (a foreign TXT is
 * never rewritten), a new one is quoted by the host's TXT codec.
 */
#include <string.h>
#include <strings.h>

#include "gc.h"

#define READ_BY_NAME 4 /* up to this many names: one listing per name */

/* An rrdata as stsctl's value: TXT unquoted, CNAME absolute, else as is. */
static int rrdata_value(struct sts_plugin *p, const char *type, const char *rrdata, char **ret,
			size_t *ret_len, struct sts_plugin_call *call)
{
	size_t len = strlen(rrdata);
	int r;
	if (strcmp(type, "TXT") == 0)
		return plg_txt_value(p, rrdata, "rrdata", ret, ret_len, call);
	if (strcmp(type, "CNAME") == 0) {
		if ((r = plg_norm(p, rrdata, STS_NAME_DOT, ret)) < 0)
			return r;
		len = strlen(*ret);
	} else {
		*ret = strdup(rrdata);
	}
	*ret_len = len;
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The managed zone (its name in the API) whose dnsName is zone + "." */
static int zone_name(struct sts_plugin *p, const char *zone, char **ret,
		     struct sts_plugin_call *call)
{
	char *apex = NULL, *esc = NULL, *path = NULL;
	json_t *zones = NULL;
	int r = plg_norm(p, zone, STS_NAME_DOT, &apex);
	if (r == STS_PLUGIN_OK && (!(esc = plg_escape(apex, NULL)) ||
				   asprintf(&path, "/managedZones?dnsName=%s", esc) < 0)) {
		path = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK)
		r = gc_list(p, path, "managedZones", &zones, call);
	const char *found = NULL;
	size_t i;
	json_t *z;
	json_array_foreach(zones, i, z)
	{
		const char *dns = str_of(z, "dnsName"), *vis = str_of(z, "visibility");
		if (dns && str_of(z, "name") && strcasecmp(dns, apex) == 0 &&
		    (!vis || strcmp(vis, "private") != 0)) {
			found = str_of(z, "name");
			break;
		}
	}
	if (r == STS_PLUGIN_OK && !found) {
		sts_plugin_error(call, "no public managed zone for '%s' in this project", apex);
		r = STS_PLUGIN_ENOENT;
	}
	if (r == STS_PLUGIN_OK && !(*ret = plg_escape(found, NULL)))
		r = STS_PLUGIN_ENOMEM;
	json_decref(zones);
	PLG_FREE_ALL(path, esc, apex);
	return r;
}

/* The rrsets at name (absolute), or the whole zone when name is NULL. */
static int list_rrsets(struct sts_plugin *p, const char *zname, const char *name, json_t **ret,
		       struct sts_plugin_call *call)
{
	char *esc = name ? plg_escape(name, NULL) : NULL, *path = NULL;
	if ((name && !esc) || asprintf(&path, "/managedZones/%s/rrsets%s%s", zname,
				       name ? "?name=" : "", name ? esc : "") < 0) {
		free(esc);
		return STS_PLUGIN_ENOMEM;
	}
	int r = gc_list(p, path, "rrsets", ret, call);
	free(path);
	free(esc);
	return r;
}

static int check_rrset(const json_t *rs, struct sts_plugin_call *call)
{
	if (!str_of(rs, "name") || !str_of(rs, "type") ||
	    !json_is_integer(json_object_get(rs, "ttl")) ||
	    json_integer_value(json_object_get(rs, "ttl")) < 0 ||
	    json_integer_value(json_object_get(rs, "ttl")) > 2147483647 ||
	    (json_object_get(rs, "rrdatas") && !json_is_array(json_object_get(rs, "rrdatas")))) {
		sts_plugin_error(call, "an rrset without name, type or ttl in the API's answer");
		return STS_PLUGIN_EPARSE;
	}
	return STS_PLUGIN_OK;
}

/* Add rs (the API's) to ret when its name is one of names (names NULL: any). */
static int add_rrset(struct sts_plugin *p, const json_t *rs, const char *const *names, size_t n,
		     struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	char *name = NULL;
	int r = check_rrset(rs, call);
	if (r == STS_PLUGIN_OK)
		r = plg_norm(p, str_of(rs, "name"), STS_NAME_DOT, &name);
	size_t k = 0;
	while (r == STS_PLUGIN_OK && names && k < n && strcmp(names[k], name) != 0)
		k++;
	const char *type = str_of(rs, "type");
	if (r < 0 || (names && k == n) || sts_plugin_rrset_find(p, ret, name, type)) {
		free(name);
		return r;
	}
	struct sts_rrset *rr = sts_plugin_rrset_add(
	    p, ret, name, type, (uint32_t)json_integer_value(json_object_get(rs, "ttl")));
	free(name);
	if (!rr)
		return STS_PLUGIN_ENOMEM;
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(rs, "rrdatas"), i, d)
	{
		char *v = NULL;
		size_t len = 0;
		if (!json_is_string(d)) {
			sts_plugin_error(call, "an rrdata that is not a string");
			return STS_PLUGIN_EPARSE;
		}
		r = rrdata_value(p, type, json_string_value(d), &v, &len, call);
		if ((r = plg_rrset_take(p, rr, r, v, len)) < 0)
			return r;
	}
	return STS_PLUGIN_OK;
}

static int add_all(struct sts_plugin *p, const json_t *rrsets, const char *const *names, size_t n,
		   struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	size_t i;
	json_t *rs;
	json_array_foreach(rrsets, i, rs)
	{
		int r = add_rrset(p, rs, names, n, ret, call);
		if (r < 0)
			return r;
	}
	return STS_PLUGIN_OK;
}

int gc_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
	    struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	char *zname = NULL;
	bool whole = !names || n > READ_BY_NAME; /* names NULL: caps.read_zone */
	int r = zone_name(p, zone, &zname, call);
	for (size_t i = 0; r == STS_PLUGIN_OK && i < (whole ? 1 : n); i++) {
		json_t *rrsets = NULL;
		r = list_rrsets(p, zname, whole ? NULL : names[i], &rrsets, call);
		if (r == STS_PLUGIN_OK)
			r = add_all(p, rrsets, names, n, ret, call);
		json_decref(rrsets);
	}
	free(zname);
	return r;
}

/* ---- apply ---- */

/* The rrset of type in the API's list, or NULL. */
static json_t *find_type(const json_t *rrsets, const char *type)
{
	size_t i;
	json_t *rs;
	json_array_foreach(rrsets, i, rs)
	{
		if (str_of(rs, "type") && strcmp(str_of(rs, "type"), type) == 0)
			return rs;
	}
	return NULL;
}

/* Do two rrsets hold the same ttl and rrdatas (in any order)? */
static bool same_rrset(const json_t *a, const json_t *b)
{
	const json_t *da = json_object_get(a, "rrdatas"), *db = json_object_get(b, "rrdatas");
	size_t n = json_array_size(da);
	if (!json_equal(json_object_get(a, "ttl"), json_object_get(b, "ttl")) ||
	    n != json_array_size(db))
		return false;
	bool used[101] = {false};
	if (n > 100)
		return json_equal(da, db);
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < n &&
		       (used[j] || !json_equal(json_array_get(da, i), json_array_get(db, j))))
			j++;
		if (j == n)
			return false;
		used[j] = true;
	}
	return true;
}

/* The rrdata for value v of rs: the current one that reads as v when
 * there is one (kept byte for byte), else v in the API's form. */
static int rrdata_for(struct sts_plugin *p, const struct sts_rrset *rs, const char *v,
		      const json_t *cur, json_t *taken, json_t **ret, struct sts_plugin_call *call)
{
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(cur, "rrdatas"), i, d)
	{
		char *have = NULL;
		size_t len = 0;
		if (!json_is_string(d) || json_is_true(json_array_get(taken, i)))
			continue;
		int r = rrdata_value(p, rs->type, json_string_value(d), &have, &len, call);
		if (r < 0)
			return r;
		bool same = len == strlen(v) && memcmp(have, v, len) == 0;
		free(have);
		if (same) {
			json_array_set_new(taken, i, json_true());
			*ret = json_incref(d);
			return STS_PLUGIN_OK;
		}
	}
	char *q = NULL;
	if (strcmp(rs->type, "TXT") == 0) {
		int r = sts_plugin_txt_quote(p, v, strlen(v), &q);
		if (r < 0)
			return r;
		*ret = json_string(q);
		sts_plugin_free(p, q);
	} else {
		*ret = json_string(v);
	}
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* The API's rrset for a CREATE or REPLACE (cur: what is there, or NULL). */
static int desired(struct sts_plugin *p, const struct sts_rrset *rs, const json_t *cur,
		   json_t **ret, struct sts_plugin_call *call)
{
	json_t *datas = json_array(), *taken = json_array();
	for (size_t i = 0; taken && i < json_array_size(json_object_get(cur, "rrdatas")); i++)
		json_array_append_new(taken, json_false());
	int r = datas && taken ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < rs->n_values; i++) {
		json_t *d = NULL;
		r = rrdata_for(p, rs, rs->values[i], cur, taken, &d, call);
		if (r == STS_PLUGIN_OK && json_array_append_new(datas, d) < 0)
			r = STS_PLUGIN_ENOMEM;
	}
	json_decref(taken);
	if (r == STS_PLUGIN_OK &&
	    !(*ret = json_pack("{s:s, s:s, s:s, s:I, s:O}", "kind", "dns#resourceRecordSet", "name",
			       rs->name, "type", rs->type, "ttl", (json_int_t)rs->ttl, "rrdatas",
			       datas)))
		r = STS_PLUGIN_ENOMEM;
	json_decref(datas);
	return r;
}

/* A CNAME beside anything else, or anything beside a CNAME, at rs's name. */
static int conflict(const struct sts_rrset *rs, const json_t *at, struct sts_plugin_call *call)
{
	size_t i;
	json_t *o;
	json_array_foreach(at, i, o)
	{
		const char *t = str_of(o, "type");
		if (!t || strcmp(t, rs->type) == 0)
			continue;
		if (strcmp(t, "CNAME") == 0 || strcmp(rs->type, "CNAME") == 0) {
			sts_plugin_error(call, "'%s' holds a %s: no %s can be put beside it",
					 rs->name, t, rs->type);
			return STS_PLUGIN_ECONFLICT;
		}
	}
	return STS_PLUGIN_OK;
}

/* The rrsets at name (absolute) of a listing of the whole zone (new references). */
static int rrsets_at(const json_t *all, const char *name, json_t **ret)
{
	size_t nl = strlen(name), i;
	nl -= nl > 0 && name[nl - 1] == '.';
	json_t *at = json_array(), *rs;
	json_array_foreach(all, i, rs)
	{
		const char *s = str_of(rs, "name");
		size_t sl = s ? strlen(s) : 0;
		sl -= sl > 0 && s[sl - 1] == '.';
		if (at && s && sl == nl && strncasecmp(s, name, nl) == 0 &&
		    json_array_append(at, rs) < 0) {
			json_decref(at);
			at = NULL;
		}
	}
	*ret = at;
	return at ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* The rrsets at name: from all (the whole zone listed once) or a listing. */
static int at_name(struct sts_plugin *p, const char *zname, const json_t *all, const char *name,
		   json_t **ret, struct sts_plugin_call *call)
{
	return all ? rrsets_at(all, name, ret) : list_rrsets(p, zname, name, ret, call);
}

/* One change into the change's deletions and additions (expect: the
 * rrset the name and type are to hold afterwards, JSON null for none). */
static int plan_one(struct sts_plugin *p, const char *zname, const json_t *all,
		    const struct sts_rrset_change *ch, json_t *dels, json_t *adds, json_t *expect,
		    struct sts_plugin_call *call)
{
	const struct sts_rrset *rs = ch->rrset;
	json_t *at = NULL, *want = NULL;
	int r = at_name(p, zname, all, rs->name, &at, call);
	json_t *cur = r < 0 ? NULL : find_type(at, rs->type);
	if (r == STS_PLUGIN_OK && cur)
		r = check_rrset(cur, call);
	if (r == STS_PLUGIN_OK && ch->action != STS_CHANGE_DELETE)
		r = conflict(rs, at, call);
	if (r == STS_PLUGIN_OK && ch->action != STS_CHANGE_DELETE && rs->n_values > 0)
		r = desired(p, rs, cur, &want, call);
	if (r == STS_PLUGIN_OK && !(cur && want && same_rrset(cur, want))) {
		if (cur && json_array_append(dels, cur) < 0)
			r = STS_PLUGIN_ENOMEM;
		if (want && json_array_append(adds, want) < 0)
			r = STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK && json_array_append(expect, want ? want : json_null()) < 0)
		r = STS_PLUGIN_ENOMEM;
	json_decref(want);
	json_decref(at);
	return r;
}

/* After a retried change the API refused (409, 412): did an earlier
 * attempt of it go through? Every rrset as expected means yes. */
static bool went_through(struct sts_plugin *p, const char *zname,
			 const struct sts_rrset_change *const *changes, size_t n,
			 const json_t *expect, struct sts_plugin_call *call)
{
	bool ok = true;
	json_t *all = NULL;
	if (n > READ_BY_NAME && list_rrsets(p, zname, NULL, &all, call) < 0)
		return false;
	for (size_t i = 0; ok && i < n; i++) {
		json_t *at = NULL;
		if (at_name(p, zname, all, changes[i]->rrset->name, &at, call) < 0) {
			json_decref(all);
			return false;
		}
		const json_t *cur = find_type(at, changes[i]->rrset->type);
		const json_t *want = json_array_get(expect, i);
		ok = json_is_null(want) ? !cur : cur && same_rrset(cur, want);
		json_decref(at);
	}
	json_decref(all);
	return ok;
}

int gc_apply(struct sts_plugin *p, const char *zone, const struct sts_rrset_change *const *changes,
	     size_t n, struct sts_plugin_call *call)
{
	char *zname = NULL, *path = NULL;
	json_t *dels = json_array(), *adds = json_array(), *expect = json_array(), *body = NULL;
	json_t *all = NULL;
	int r = dels && adds && expect ? zone_name(p, zone, &zname, call) : STS_PLUGIN_ENOMEM;
	/* many changes: the zone listed once (paged) instead of a listing per
	 * name; the same state, as all are computed before the one change */
	if (r == STS_PLUGIN_OK && n > READ_BY_NAME)
		r = list_rrsets(p, zname, NULL, &all, call);
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++)
		r = plan_one(p, zname, all, changes[i], dels, adds, expect, call);
	json_decref(all);
	if (r < 0 || (json_array_size(dels) == 0 && json_array_size(adds) == 0))
		goto out;
	if (!(body = json_pack("{s:s, s:O, s:O}", "kind", "dns#change", "additions", adds,
			       "deletions", dels)) ||
	    asprintf(&path, "/managedZones/%s/changes", zname) < 0) {
		path = NULL;
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	/* Safe to repeat: a change whose deletions no longer match is refused
	 * whole (412), one whose additions exist already too (409). */
	struct sts_plugin_rest_resp resp;
	r = gc_request(p, "POST", path, body, true, &resp, call);
	unsigned attempts = resp.attempts;
	sts_plugin_rest_release(p, &resp);
	if (r == STS_PLUGIN_ECONFLICT) {
		if (attempts > 1 && went_through(p, zname, changes, n, expect, call))
			r = STS_PLUGIN_OK; /* an earlier attempt was applied, its answer lost */
		else
			r = STS_PLUGIN_ESTALE; /* the zone changed since it was read */
	}
out:
	json_decref(body);
	json_decref(dels);
	json_decref(adds);
	json_decref(expect);
	free(path);
	free(zname);
	return r;
}

int gc_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	json_t *zones = NULL;
	int r = gc_list(p, "/managedZones", "managedZones", &zones, call);
	size_t i;
	json_t *z;
	json_array_foreach(zones, i, z)
	{
		const char *dns = str_of(z, "dnsName"), *vis = str_of(z, "visibility");
		if (r == STS_PLUGIN_OK && dns && (!vis || strcmp(vis, "private") != 0))
			r = sts_plugin_zone_add(p, ret, dns);
	}
	json_decref(zones);
	return r;
}
