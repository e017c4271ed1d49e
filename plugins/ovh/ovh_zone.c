/* SPDX-License-Identifier: MIT */
/*
 * ovh: the records of a zone kept for the rest of the run (ovh.h). OVH
 * has no request that reads many records at once: listing a zone gives
 * ids, and every record is one more GET. So a zone read whole (read() with
 * no names, which the host asks for when it wants many names of a zone)
 * is kept: its records, then every record this instance writes. apply()
 * then takes a name's records from it instead of two or three requests per
 * change, and a later listing of the same zone (apply's second step) GETs
 * only the ids it has not seen. A write that fails drops the zone: what
 * the API holds is then unknown, and the next use lists it again.
 *
 * Ops on different zones may overlap (caps: max_concurrency), never two
 * on one zone: the list of zones is under the instance's lock, a zone's
 * records are only touched by the op on that zone.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ovh.h"

struct ovh_zone {
	char *zone;
	struct ovh_rec *v;
	size_t n, cap;
};

static void zone_release(struct ovh_zone *z)
{
	for (size_t i = 0; i < z->n; i++)
		ovh_rec_release(&z->v[i]);
	free(z->v);
	free(z->zone);
	memset(z, 0, sizeof(*z));
}

void ovh_zones_free(struct ovh *c)
{
	for (size_t i = 0; i < c->n_zones; i++) {
		zone_release(c->zones[i]);
		free(c->zones[i]);
	}
	free(c->zones);
	c->zones = NULL;
	c->n_zones = 0;
}

/* The index of zone in c->zones, or n_zones; under c->mu. */
static size_t zone_index(const struct ovh *c, const char *zone)
{
	size_t i = 0;
	while (i < c->n_zones && strcasecmp(c->zones[i]->zone, zone) != 0)
		i++;
	return i;
}

struct ovh_zone *ovh_zone_get(struct ovh *c, const char *zone)
{
	pthread_mutex_lock(&c->mu);
	size_t i = zone_index(c, zone);
	struct ovh_zone *z = i < c->n_zones ? c->zones[i] : NULL;
	pthread_mutex_unlock(&c->mu);
	return z;
}

void ovh_zone_drop(struct ovh *c, const char *zone)
{
	pthread_mutex_lock(&c->mu);
	size_t i = zone_index(c, zone);
	struct ovh_zone *z = i < c->n_zones ? c->zones[i] : NULL;
	if (z)
		c->zones[i] = c->zones[--c->n_zones];
	pthread_mutex_unlock(&c->mu);
	if (z)
		zone_release(z);
	free(z);
}

static int rec_copy(const struct ovh_rec *s, struct ovh_rec *d)
{
	*d = *s;
	d->name = strdup(s->name);
	d->type = strdup(s->type);
	d->value = malloc(s->len + 1);
	if (!d->name || !d->type || !d->value) {
		ovh_rec_release(d);
		return STS_PLUGIN_ENOMEM;
	}
	memcpy(d->value, s->value, s->len);
	d->value[s->len] = '\0';
	return STS_PLUGIN_OK;
}

static int zone_push(struct ovh_zone *z, struct ovh_rec *rec)
{
	if (z->n == z->cap) {
		size_t cap = z->cap ? 2 * z->cap : 16;
		struct ovh_rec *v = realloc(z->v, cap * sizeof(*v));
		if (!v)
			return STS_PLUGIN_ENOMEM;
		z->v = v;
		z->cap = cap;
	}
	z->v[z->n++] = *rec; /* owned now */
	return STS_PLUGIN_OK;
}

static const struct ovh_rec *find_id(const struct ovh_zone *z, long long id)
{
	for (size_t i = 0; z && i < z->n; i++)
		if (z->v[i].id == id)
			return &z->v[i];
	return NULL;
}

int ovh_zone_list(struct sts_plugin *p, const char *zone, struct sts_plugin_call *call)
{
	struct ovh *c = sts_plugin_ctx_get(p);
	json_t *ids = NULL;
	struct ovh_zone fresh = {0};
	int r = ovh_record_ids(p, zone, NULL, NULL, &ids, call);
	if (r == STS_PLUGIN_OK && !(fresh.zone = strdup(zone)))
		r = STS_PLUGIN_ENOMEM;
	struct ovh_zone *old = ovh_zone_get(c, zone);
	for (size_t i = 0; r == STS_PLUGIN_OK && i < json_array_size(ids); i++) {
		const json_t *id = json_array_get(ids, i);
		const struct ovh_rec *seen =
		    json_is_integer(id) ? find_id(old, (long long)json_integer_value(id)) : NULL;
		struct ovh_rec rec;
		r = seen ? rec_copy(seen, &rec) : ovh_get_record(p, zone, id, &rec, call);
		if (r == STS_PLUGIN_OK && (r = zone_push(&fresh, &rec)) < 0)
			ovh_rec_release(&rec);
	}
	json_decref(ids);
	struct ovh_zone *z = old;
	if (r == STS_PLUGIN_OK && !z && !(z = calloc(1, sizeof(*z))))
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && !old) {
		pthread_mutex_lock(&c->mu);
		struct ovh_zone **v = realloc(c->zones, (c->n_zones + 1) * sizeof(*v));
		if (v)
			(c->zones = v)[c->n_zones++] = z;
		pthread_mutex_unlock(&c->mu);
		r = v ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	}
	if (r < 0) {
		if (!old)
			free(z);
		zone_release(&fresh);
		ovh_zone_drop(c, zone);
		return r;
	}
	zone_release(z);
	*z = fresh;
	return STS_PLUGIN_OK;
}

/* Owner names compared without case and final dot. */
static bool same_name(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	na -= na > 0 && a[na - 1] == '.';
	nb -= nb > 0 && b[nb - 1] == '.';
	return na == nb && strncasecmp(a, b, na) == 0;
}

int ovh_zone_records(const struct ovh_zone *z, const char *name, const char *type,
		     struct ovh_rec **ret, size_t *ret_n)
{
	struct ovh_rec *v = calloc(z->n + 1, sizeof(*v));
	size_t n = 0;
	if (!v)
		return STS_PLUGIN_ENOMEM;
	for (size_t i = 0; i < z->n; i++) {
		const struct ovh_rec *s = &z->v[i];
		if ((name && !same_name(s->name, name)) || (type && strcmp(s->type, type) != 0))
			continue;
		if (rec_copy(s, &v[n]) < 0) {
			while (n > 0)
				ovh_rec_release(&v[--n]);
			free(v);
			return STS_PLUGIN_ENOMEM;
		}
		n++;
	}
	*ret = v;
	*ret_n = n;
	return STS_PLUGIN_OK;
}

void ovh_zone_added(struct sts_plugin *p, const char *zone, const json_t *rec)
{
	struct ovh *c = sts_plugin_ctx_get(p);
	struct ovh_zone *z = ovh_zone_get(c, zone);
	struct ovh_rec v;
	if (!z)
		return;
	/* the API's answer, not our body: what the API made of it (an
	 * answer it cannot parse drops the zone; no error: the write worked) */
	if (!rec || ovh_rec_parse(p, zone, rec, &v, NULL) < 0) {
		ovh_zone_drop(c, zone);
		return;
	}
	if (zone_push(z, &v) < 0) {
		ovh_rec_release(&v);
		ovh_zone_drop(c, zone);
	}
}

void ovh_zone_changed(struct sts_plugin *p, const char *zone, long long id, const char *value,
		      uint32_t ttl, bool gone)
{
	struct ovh *c = sts_plugin_ctx_get(p);
	struct ovh_zone *z = ovh_zone_get(c, zone);
	for (size_t i = 0; z && i < z->n; i++) {
		if (z->v[i].id != id)
			continue;
		if (gone) {
			ovh_rec_release(&z->v[i]);
			z->v[i] = z->v[--z->n];
			return;
		}
		char *copy = strdup(value);
		if (!copy)
			break;
		free(z->v[i].value);
		z->v[i].value = copy;
		z->v[i].len = strlen(copy);
		z->v[i].ttl = ttl;
		return;
	}
	if (z && !gone)
		ovh_zone_drop(c, zone); /* not kept: unknown now */
}
