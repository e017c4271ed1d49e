/* SPDX-License-Identifier: MIT */
/* rrset lists: the DNS data model shared by plugins and the plan engine. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_buf.h"
#include "sts_dname.h"
#include "sts_err.h"
#include "sts_rrset.h"

STS_API void sts_rrsets_init(struct sts_rrsets *l)
{
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

STS_API void sts_rrset_release(struct sts_rrset *rr)
{
	if (!rr)
		return;
	free(rr->name);
	free(rr->type);
	sts_strv_free(rr->values, rr->n_values);
	memset(rr, 0, sizeof(*rr));
}

STS_API void sts_rrsets_release(struct sts_rrsets *l)
{
	if (!l)
		return;
	STS_ARRAY_FREE(l->v, l->n, sts_rrset_release);
	sts_rrsets_init(l);
}

STS_API struct sts_rrset *sts_rrsets_add(struct sts_rrsets *l, const char *name, const char *type,
					 uint32_t ttl)
{
	if (!name || !type)
		return NULL;
	if (sts_array_grow(&l->v, l->n, &l->cap, sizeof(*l->v), 8) < 0)
		return NULL;
	struct sts_rrset *rr = &l->v[l->n];
	memset(rr, 0, sizeof(*rr));
	rr->struct_size = sizeof(*rr);
	rr->name = strdup(name);
	rr->type = strdup(type);
	if (!rr->name || !rr->type) {
		sts_rrset_release(rr);
		return NULL;
	}
	for (char *s = rr->name; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (char *s = rr->type; *s; s++)
		*s = (char)toupper((unsigned char)*s);
	rr->ttl = ttl;
	l->n++;
	return rr;
}

STS_API int sts_rrset_add_value(struct sts_rrset *rr, const char *value, size_t len)
{
	char **v = realloc(rr->values, (rr->n_values + 1) * sizeof(*v));
	if (!v)
		return STS_ENOMEM;
	rr->values = v;
	v[rr->n_values] = strndup(value, len);
	if (!v[rr->n_values])
		return STS_ENOMEM;
	rr->n_values++;
	return STS_OK;
}

STS_API const struct sts_rrset *sts_rrsets_find(const struct sts_rrsets *l, const char *name,
						const char *type)
{
	for (size_t i = 0; i < l->n; i++)
		if (sts_dname_eq(l->v[i].name, name) && strcasecmp(l->v[i].type, type) == 0)
			return &l->v[i];
	return NULL;
}

STS_API bool sts_rrset_has_value(const struct sts_rrset *rr, const char *value)
{
	for (size_t i = 0; i < rr->n_values; i++)
		if (strcmp(rr->values[i], value) == 0)
			return true;
	return false;
}

STS_API const char *sts_zone_longest_suffix(const char *name, char *const *zones, size_t n)
{
	const char *best = NULL;
	for (size_t i = 0; i < n; i++)
		if (sts_dname_in_zone(name, zones[i], NULL) &&
		    (!best || strlen(zones[i]) > strlen(best)))
			best = zones[i];
	return best;
}

STS_API const struct sts_rrset_change **sts_dns_changes_to_abi(const struct sts_dns_change *c,
							       size_t n)
{
	struct abi_change {
		struct sts_rrset_change ch;
		struct sts_rrset rrset;
	};
	const struct sts_rrset_change **v =
	    calloc(1, (n + 1) * sizeof(*v) + n * sizeof(struct abi_change));
	if (!v)
		return NULL;
	struct abi_change *a = (struct abi_change *)(void *)(v + n + 1);
	for (size_t i = 0; i < n; i++) {
		a[i].rrset = c[i].rrset;
		a[i].rrset.struct_size = sizeof(a[i].rrset);
		a[i].ch.struct_size = sizeof(a[i].ch);
		a[i].ch.action = c[i].action;
		a[i].ch.rrset = &a[i].rrset;
		a[i].ch.old = c[i].old;
		v[i] = &a[i].ch;
	}
	return v;
}
