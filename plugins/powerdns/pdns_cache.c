/* SPDX-License-Identifier: MIT */
/*
 * What read() saw of each zone, kept until unload: the exact content
 * strings of every record at the owned names, disabled ones included, so
 * that apply() sends foreign values back byte for byte (a TXT split as
 * "abc" "def" stays split) and keeps records that are disabled (PowerDNS
 * does not serve them, so the plan engine never sees them).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pdns.h"

static int rrset_cmp(const void *a, const void *b)
{
	const struct pdns_rrset *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->type, y->type);
}

void pdns_rrset_release(struct pdns_rrset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].content);
		free(s->v[i].value);
	}
	free(s->v);
	free(s->name);
	free(s->type);
	memset(s, 0, sizeof(*s));
}

void pdns_zone_free(struct pdns_zone *z)
{
	if (!z)
		return;
	for (size_t i = 0; i < z->n; i++)
		pdns_rrset_release(&z->v[i]);
	free(z->v);
	free(z->name);
	free(z);
}

struct pdns_zone *pdns_zone_new(const char *zone_dot)
{
	struct pdns_zone *z = calloc(1, sizeof(*z));
	if (!z || !(z->name = strdup(zone_dot))) {
		free(z);
		return NULL;
	}
	return z;
}

/* Room for element n of the array *pv (doubling *cap, first while empty). */
static int grow(void *pv, size_t n, size_t *cap, size_t size, size_t first)
{
	if (n < *cap)
		return STS_PLUGIN_OK;
	size_t nc = *cap ? *cap * 2 : first;
	void *v;
	memcpy(&v, pv, sizeof(v)); /* pv is a T **: copied, not cast */
	void *nv = realloc(v, nc * size);
	if (!nv)
		return STS_PLUGIN_ENOMEM;
	memcpy(pv, &nv, sizeof(nv));
	*cap = nc;
	return STS_PLUGIN_OK;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);
	for (char *c = d; c && *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
	return d;
}

static char *upper_dup(const char *s)
{
	char *d = strdup(s);
	for (char *c = d; c && *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 32);
	return d;
}

struct pdns_rrset *pdns_zone_add(struct pdns_zone *z, const char *name, const char *type,
				 uint32_t ttl)
{
	if (grow(&z->v, z->n, &z->cap, sizeof(*z->v), 16) < 0)
		return NULL;
	struct pdns_rrset *s = &z->v[z->n];
	memset(s, 0, sizeof(*s));
	s->name = lower_dup(name);
	s->type = upper_dup(type);
	s->ttl = ttl;
	if (!s->name || !s->type) {
		pdns_rrset_release(s);
		return NULL;
	}
	z->n++;
	z->sorted = false;
	return s;
}

int pdns_rrset_add(struct pdns_rrset *s, const char *content, const char *value, size_t vlen,
		   bool disabled)
{
	if (grow(&s->v, s->n, &s->cap, sizeof(*s->v), 2) < 0)
		return STS_PLUGIN_ENOMEM;
	struct pdns_rec *r = &s->v[s->n];
	r->content = strdup(content);
	r->value = malloc(vlen + 1);
	if (!r->content || !r->value) {
		free(r->content);
		free(r->value);
		return STS_PLUGIN_ENOMEM;
	}
	memcpy(r->value, value, vlen);
	r->value[vlen] = '\0';
	r->vlen = vlen;
	r->disabled = disabled;
	s->n++;
	return STS_PLUGIN_OK;
}

void pdns_zone_sort(struct pdns_zone *z)
{
	if (z->sorted)
		return;
	if (z->n > 1)
		qsort(z->v, z->n, sizeof(*z->v), rrset_cmp);
	/* a later duplicate of (name, type) replaces the earlier one */
	size_t w = 0;
	for (size_t i = 0; i < z->n; i++) {
		if (w > 0 && rrset_cmp(&z->v[w - 1], &z->v[i]) == 0) {
			pdns_rrset_release(&z->v[w - 1]);
			z->v[w - 1] = z->v[i];
			continue;
		}
		z->v[w++] = z->v[i];
	}
	z->n = w;
	z->sorted = true;
}

struct pdns_rrset *pdns_zone_find(struct pdns_zone *z, const char *name, const char *type)
{
	char *ln = lower_dup(name), *ut = upper_dup(type);
	struct pdns_rrset key = {.name = ln, .type = ut}, *hit = NULL;
	if (ln && ut && z->n) {
		pdns_zone_sort(z);
		hit = bsearch(&key, z->v, z->n, sizeof(*z->v), rrset_cmp);
	}
	free(ln);
	free(ut);
	return hit;
}

/* The rrset at (name, type) becomes a copy of src (NULL: removed). */
int pdns_zone_put(struct pdns_zone *z, const char *name, const char *type,
		  const struct pdns_rrset *src)
{
	struct pdns_rrset *old = pdns_zone_find(z, name, type);
	if (old) {
		pdns_rrset_release(old);
		/* keep the array sorted: move the last entry here and re-sort */
		*old = z->v[--z->n];
		z->sorted = false;
	}
	if (!src || src->n == 0)
		return STS_PLUGIN_OK;
	struct pdns_rrset *s = pdns_zone_add(z, name, type, src->ttl);
	if (!s)
		return STS_PLUGIN_ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		const struct pdns_rec *r = &src->v[i];
		if (pdns_rrset_add(s, r->content, r->value, r->vlen, r->disabled) < 0)
			return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}
