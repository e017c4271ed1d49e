/* SPDX-License-Identifier: MIT */
/*
 * cloudflare: records <-> the engine's values, and the one batch request
 * (POST /zones/ZID/dns_records/batch) that applies a zone's changes.
 *
 * Cloudflare keeps one record per value, each with its own id and TTL. A
 * change is mapped value by value: a value already in a record leaves that
 * record alone (a foreign TXT keeps its record, id and content byte for
 * byte) unless the rrset's TTL changed (a patch of the TTL alone); a new
 * value takes over the record of a value that goes (a patch of content and
 * TTL: a new policy id replaces the old one without a moment with none or
 * both), else it is posted; records left over are deleted. Cloudflare runs
 * a batch's deletes, patches and posts in that order in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cf.h"

#define TTL_AUTO     1	 /* Cloudflare's "automatic" */
#define TTL_AUTO_SEC 300 /* what automatic means, in seconds */

/* The string a host call made in *host_str (r its result) as a malloc'd copy
 * in *ret; host_str is read only here, after the call. */
static int owned(struct sts_plugin *p, int r, char **host_str, char **ret)
{
	if (r < 0 || !*host_str)
		return r < 0 ? r : STS_PLUGIN_EPARSE;
	*ret = plg_own(p, *host_str, strlen(*host_str));
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

int cf_txt_content(struct sts_plugin *p, const char *value, size_t len, char **ret)
{
	char *q = NULL;
	return owned(p, sts_plugin_txt_quote(p, value, len, &q), &q, ret);
}

/* "a" "b" -> ab; text not starting with a quote is the older unquoted form. */
static int txt_value(struct sts_plugin *p, const char *content, char **ret, size_t *ret_len,
		     struct sts_plugin_call *call)
{
	const char *s = content + strspn(content, " ");
	if (*s != '"') {
		*ret_len = strlen(content);
		*ret = strdup(content);
		return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	}
	/* the codec skips the blanks before the first string */
	return plg_txt_value(p, content, "content", ret, ret_len, call);
}

int cf_record_value(struct sts_plugin *p, const json_t *rec, char **ret, size_t *ret_len,
		    struct sts_plugin_call *call)
{
	const char *type = json_string_value(json_object_get(rec, "type"));
	const char *content = json_string_value(json_object_get(rec, "content"));
	if (!type || !content) {
		sts_plugin_error(call, "a record without type or content");
		return STS_PLUGIN_EPARSE;
	}
	int r = STS_PLUGIN_OK;
	if (strcmp(type, "TXT") == 0)
		return txt_value(p, content, ret, ret_len, call);
	if (strcmp(type, "CNAME") == 0) {
		r = plg_norm(p, content, STS_NAME_DOT, ret);
	} else if (strcmp(type, "MX") == 0) {
		json_int_t prio = json_integer_value(json_object_get(rec, "priority"));
		size_t n = strlen(content);
		bool dot = n && content[n - 1] == '.';
		if (asprintf(ret, "%lld %s%s", (long long)prio, content, dot ? "" : ".") < 0) {
			*ret = NULL;
			r = STS_PLUGIN_ENOMEM;
		}
	} else {
		*ret = strdup(content);
		r = *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	}
	if (r < 0 && r != STS_PLUGIN_ENOMEM)
		sts_plugin_error(call, "unreadable %s content '%s'", type, content);
	*ret_len = r < 0 ? 0 : strlen(*ret);
	return r;
}

/* ---- one change ---- */

/* What one change sees and builds. */
struct change_ctx {
	struct sts_plugin *p;
	const json_t *have;
	json_t *deletes, *patches, *posts;
	struct sts_plugin_call *call;
};

static bool same_name(struct sts_plugin *p, const json_t *rec, const char *name_nodot)
{
	const char *n = json_string_value(json_object_get(rec, "name"));
	char *norm = NULL;
	bool same = n && plg_norm(p, n, STS_NAME_NODOT, &norm) == STS_PLUGIN_OK &&
		    strcmp(norm, name_nodot) == 0;
	free(norm);
	return same;
}

static const char *type_of(const json_t *rec)
{
	const char *t = json_string_value(json_object_get(rec, "type"));
	return t ? t : "";
}

/* A CNAME beside anything else is refused, never overwritten. */
static int cname_check(const struct change_ctx *x, const struct sts_rrset *rs, const char *name)
{
	bool cname = strcasecmp(rs->type, "CNAME") == 0;
	size_t i;
	json_t *rec;
	json_array_foreach(x->have, i, rec)
	{
		if (!same_name(x->p, rec, name))
			continue;
		bool other_cname = strcmp(type_of(rec), "CNAME") == 0;
		if (cname ? strcmp(type_of(rec), "CNAME") != 0 : other_cname) {
			sts_plugin_error(x->call,
					 "'%s' holds a %s record: a %s cannot go beside it, and "
					 "stsctl does not replace it",
					 name, type_of(rec), rs->type);
			return STS_PLUGIN_ECONFLICT;
		}
	}
	return STS_PLUGIN_OK;
}

/* The record fields of value (name, type, content, TTL) into op. */
static int fill_op(struct sts_plugin *p, json_t *op, const char *name, const struct sts_rrset *rs,
		   const char *value)
{
	char *content = NULL;
	int r = STS_PLUGIN_OK;
	json_int_t prio = -1;
	if (strcmp(rs->type, "TXT") == 0) {
		r = cf_txt_content(p, value, strlen(value), &content);
	} else if (strcmp(rs->type, "MX") == 0) {
		long long pr = 0;
		int off = 0;
		if (sscanf(value, "%lld %n", &pr, &off) != 1 || !value[off])
			return STS_PLUGIN_EINVAL;
		prio = pr;
		r = plg_norm(p, value + off, STS_NAME_NODOT, &content);
	} else if (strcmp(rs->type, "CNAME") == 0) {
		r = plg_norm(p, value, STS_NAME_NODOT, &content);
	} else {
		content = strdup(value);
		r = content ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK &&
	    (json_object_set_new(op, "name", json_string(name)) < 0 ||
	     json_object_set_new(op, "type", json_string(rs->type)) < 0 ||
	     json_object_set_new(op, "content", json_string(content)) < 0 ||
	     json_object_set_new(op, "ttl", json_integer((json_int_t)rs->ttl)) < 0 ||
	     (prio >= 0 && json_object_set_new(op, "priority", json_integer(prio)) < 0)))
		r = STS_PLUGIN_ENOMEM;
	free(content);
	return r;
}

/* Append {"id": rid, ...} to list: fields of value, or the TTL alone (value NULL). */
static int add_op(struct change_ctx *x, json_t *list, const char *rid, const char *name,
		  const struct sts_rrset *rs, const char *value)
{
	json_t *op = json_object();
	int r = op ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && rid && json_object_set_new(op, "id", json_string(rid)) < 0)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && value)
		r = fill_op(x->p, op, name, rs, value);
	else if (r == STS_PLUGIN_OK && rs &&
		 json_object_set_new(op, "ttl", json_integer((json_int_t)rs->ttl)) < 0)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && json_array_append(list, op) < 0)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_EINVAL)
		sts_plugin_error(x->call, "'%s' is not an MX value (PRIORITY TARGET)", value);
	json_decref(op);
	return r;
}

static json_int_t ttl_of(const json_t *rec)
{
	json_int_t ttl = json_integer_value(json_object_get(rec, "ttl"));
	return ttl == TTL_AUTO ? TTL_AUTO_SEC : ttl;
}

/* Match the records of (name, type) in have with the values the change wants. */
static int change_ops(struct change_ctx *x, const struct sts_rrset_change *ch, const char *name)
{
	const struct sts_rrset *rs = ch->rrset;
	size_t nv = ch->action == STS_CHANGE_DELETE ? 0 : rs->n_values, n_stale = 0, s = 0;
	bool *kept = calloc(nv + 1, sizeof(*kept));
	const char **stale = calloc(json_array_size(x->have) + 1, sizeof(*stale));
	int r = kept && stale ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	size_t i;
	json_t *rec;
	json_array_foreach(x->have, i, rec)
	{
		if (r < 0)
			break;
		if (strcmp(type_of(rec), rs->type) != 0 || !same_name(x->p, rec, name))
			continue;
		const char *rid = json_string_value(json_object_get(rec, "id"));
		char *v = NULL;
		size_t len = 0, k;
		if (!rid) {
			sts_plugin_error(x->call, "a record without an id");
			r = STS_PLUGIN_EPARSE;
			break;
		}
		if ((r = cf_record_value(x->p, rec, &v, &len, x->call)) < 0)
			break;
		k = plg_keep_value(rs, nv, kept, v, len);
		free(v);
		if (k == nv) {
			stale[n_stale++] = rid;
			continue;
		}
		if (ttl_of(rec) != (json_int_t)rs->ttl)
			r = add_op(x, x->patches, rid, name, rs, NULL);
	}
	for (size_t k = 0; r == STS_PLUGIN_OK && k < nv; k++)
		if (!kept[k])
			r = s < n_stale ? add_op(x, x->patches, stale[s++], name, rs, rs->values[k])
					: add_op(x, x->posts, NULL, name, rs, rs->values[k]);
	for (; r == STS_PLUGIN_OK && s < n_stale; s++)
		r = add_op(x, x->deletes, stale[s], NULL, NULL, NULL);
	free(stale);
	free(kept);
	return r;
}

static int set_list(json_t *body, const char *key, json_t *list)
{
	if (json_array_size(list) == 0)
		return STS_PLUGIN_OK;
	return json_object_set(body, key, list) < 0 ? STS_PLUGIN_ENOMEM : STS_PLUGIN_OK;
}

int cf_batch_build(struct sts_plugin *p, const json_t *have,
		   const struct sts_rrset_change *const *changes, size_t n, json_t **ret,
		   size_t *ret_ops, bool *ret_repeatable, struct sts_plugin_call *call)
{
	struct change_ctx x = {.p = p,
			       .have = have,
			       .deletes = json_array(),
			       .patches = json_array(),
			       .posts = json_array(),
			       .call = call};
	json_t *body = json_object();
	int r = x.deletes && x.patches && x.posts && body ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++) {
		const struct sts_rrset *rs = changes[i]->rrset;
		char *name = NULL;
		r = plg_norm(p, rs->name, STS_NAME_NODOT, &name);
		if (r == STS_PLUGIN_OK && !name) /* (plg_norm sets it on success) */
			r = STS_PLUGIN_ENOMEM;
		if (r == STS_PLUGIN_OK && changes[i]->action != STS_CHANGE_DELETE)
			r = cname_check(&x, rs, name);
		if (r == STS_PLUGIN_OK)
			r = change_ops(&x, changes[i], name);
		free(name);
	}
	if (r == STS_PLUGIN_OK)
		r = set_list(body, "deletes", x.deletes);
	if (r == STS_PLUGIN_OK)
		r = set_list(body, "patches", x.patches);
	if (r == STS_PLUGIN_OK)
		r = set_list(body, "posts", x.posts);
	if (r == STS_PLUGIN_OK) {
		*ret_ops = json_array_size(x.deletes) + json_array_size(x.patches) +
			   json_array_size(x.posts);
		*ret_repeatable = json_array_size(x.deletes) == 0 && json_array_size(x.posts) == 0;
		*ret = json_incref(body);
	}
	json_decref(body);
	json_decref(x.deletes);
	json_decref(x.patches);
	json_decref(x.posts);
	return r;
}
