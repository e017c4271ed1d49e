/* SPDX-License-Identifier: MIT */
/*
 * Linode's record form (li_rec.h). Linode keeps a TXT's text in `target`
 * as one string without quotes and cuts it into 255-octet strings when it
 * serves it, so the value is `target` itself both ways; a CNAME's or MX's
 * target is a host name, the final dot optional.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "li_rec.h"
#include "plg_rest.h"

const uint32_t li_kept_ttls[] = {0,	30,    120,    300,    3600,   7200,	14400,	28800,
				 57600, 86400, 172800, 345600, 604800, 1209600, 2419200};

const size_t li_n_kept_ttls = sizeof(li_kept_ttls) / sizeof(li_kept_ttls[0]);

uint32_t li_ttl(uint32_t ttl)
{
	uint32_t best = li_kept_ttls[0];
	for (size_t i = 1; i < li_n_kept_ttls; i++) {
		uint32_t t = li_kept_ttls[i];
		uint32_t d = t > ttl ? t - ttl : ttl - t, db = best > ttl ? best - ttl : ttl - best;
		if (d <= db) /* the list ascends: a tie goes to the larger */
			best = t;
	}
	return best;
}

int li_rec_parse(struct sts_plugin *p, const char *zone, const json_t *rec, struct li_rec *ret,
		 struct sts_plugin_call *call)
{
	const char *name = json_string_value(json_object_get(rec, "name"));
	const json_t *ttl = json_object_get(rec, "ttl_sec");
	ret->type = json_string_value(json_object_get(rec, "type"));
	ret->id = json_integer_value(json_object_get(rec, "id"));
	if (!name || !ret->type || !*ret->type || ret->id <= 0 || !json_is_integer(ttl) ||
	    json_integer_value(ttl) < 0 || json_integer_value(ttl) > (json_int_t)UINT32_MAX) {
		sts_plugin_error(call, "a domain record without id, name, type or a valid ttl_sec");
		return STS_PLUGIN_EPARSE;
	}
	ret->ttl = (uint32_t)json_integer_value(ttl);
	char *full = NULL;
	int r = STS_PLUGIN_OK;
	if (*name && asprintf(&full, "%s.%s", name, zone) < 0)
		return STS_PLUGIN_ENOMEM;
	r = plg_norm(p, full ? full : zone, STS_NAME_DOT, &ret->owner);
	free(full);
	if (r < 0 && r != STS_PLUGIN_ENOMEM) {
		sts_plugin_error(call, "a domain record with an invalid name '%s'", name);
		r = STS_PLUGIN_EPARSE;
	}
	return r;
}

int li_rec_value(struct sts_plugin *p, const json_t *rec, char **ret, size_t *ret_len,
		 struct sts_plugin_call *call)
{
	const char *type = json_string_value(json_object_get(rec, "type"));
	const char *target = json_string_value(json_object_get(rec, "target"));
	if (!type || !target) {
		sts_plugin_error(call, "a domain record without type or target");
		return STS_PLUGIN_EPARSE;
	}
	char *host = NULL, *v = NULL;
	int r = STS_PLUGIN_OK;
	bool named = strcmp(type, "CNAME") == 0 || strcmp(type, "NS") == 0 ||
		     strcmp(type, "MX") == 0 || strcmp(type, "SRV") == 0;
	if (named && (r = plg_norm(p, target, STS_NAME_DOT, &host)) < 0) {
		if (r != STS_PLUGIN_ENOMEM)
			sts_plugin_error(call, "a %s record with an invalid target '%s'", type,
					 target);
		return r;
	}
	json_int_t prio = json_integer_value(json_object_get(rec, "priority"));
	if (strcmp(type, "MX") == 0) {
		if (asprintf(&v, "%lld %s", (long long)prio, host) < 0)
			v = NULL;
	} else if (strcmp(type, "SRV") == 0) {
		if (asprintf(&v, "%lld %lld %lld %s", (long long)prio,
			     (long long)json_integer_value(json_object_get(rec, "weight")),
			     (long long)json_integer_value(json_object_get(rec, "port")), host) < 0)
			v = NULL;
	} else {
		v = strdup(host ? host : target); /* TXT: the text; A, AAAA: the address */
	}
	free(host);
	if (!v)
		return STS_PLUGIN_ENOMEM;
	*ret = v;
	*ret_len = strlen(v);
	return STS_PLUGIN_OK;
}

int li_rec_rrsets(struct sts_plugin *p, const char *zone, const json_t *recs,
		  const char *const *names, size_t n, struct sts_rrsets *ret,
		  struct sts_plugin_call *call)
{
	size_t i;
	const json_t *rec;
	int r = STS_PLUGIN_OK;
	json_array_foreach(recs, i, rec)
	{
		struct li_rec lr = {0};
		if ((r = li_rec_parse(p, zone, rec, &lr, call)) < 0)
			break;
		if (plg_name_in(lr.owner, names, n)) {
			char *v = NULL;
			size_t len = 0;
			r = li_rec_value(p, rec, &v, &len, call);
			if (r == STS_PLUGIN_OK)
				r = plg_rrset_put(p, ret, lr.owner, lr.type, lr.ttl, v, len);
			free(v);
		}
		free(lr.owner);
		if (r < 0)
			break;
	}
	return r;
}
