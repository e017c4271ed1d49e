/* SPDX-License-Identifier: MIT */
/*
 * ovh: the OVHcloud API /1.0 (README.md). ovh_req.c holds the credentials
 * and signs every request; ovh_rec.c maps a record of the API to the
 * engine's form and back (kept apart for tests/fuzz/fuzz_ovh.c); ovh.c is
 * the plugin ops.
 */
#ifndef OVH_H
#define OVH_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <stsctl/plugin.h>

#include "plg_rest.h"

struct ovh_zone;

struct ovh {
	struct plg_rest rest;	 /* base, timeout, limiter, breaker (no bearer) */
	pthread_mutex_t mu;	 /* zones, n_zones; have_time, time_delta */
	struct ovh_zone **zones; /* zones read whole, kept (ovh_zone.c) */
	size_t n_zones;
	char *app_key;	  /* "X-Ovh-Application: AK" */
	char *consumer;	  /* "X-Ovh-Consumer: CK" (the request's auth line) */
	char *app_secret; /* AS, only ever hashed */
	const char *ck;	  /* CK, inside consumer */
	bool have_time;
	time_t time_delta; /* the API's clock minus ours (GET /auth/time) */
};

/* ovh_req.c */
int ovh_creds_load(struct sts_plugin *p, struct ovh *c, const json_t *settings,
		   struct sts_plugin_call *call);
void ovh_creds_free(struct ovh *c);
/*
 * One signed request (path below the base, query escaped already); body
 * NULL or JSON. idempotent: safe to repeat (see sts_plugin_rest_req).
 * Release *resp whatever the result. A signature or a timestamp the API
 * refuses is STS_PLUGIN_EAUTH like an unknown key.
 */
int ovh_call(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
	     bool idempotent, struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call);
/* ovh_call() without the answer. */
int ovh_send(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
	     bool idempotent, struct sts_plugin_call *call);

/* ovh_rec.c: a record of GET /domain/zone/{zone}/record/{id}, in the engine's form */
struct ovh_rec {
	long long id;
	char *name; /* absolute, lower case, ends in '.' */
	char *type; /* upper case */
	uint32_t ttl;
	char *value; /* TXT: the strings joined (unquoted); CNAME: absolute */
	size_t len;
};

int ovh_rec_parse(struct sts_plugin *p, const char *zone, const json_t *rec, struct ovh_rec *ret,
		  struct sts_plugin_call *call);
void ovh_rec_release(struct ovh_rec *r);
/* The subDomain of name (absolute) in zone: "" at the apex; EINVAL outside. */
int ovh_subdomain(struct sts_plugin *p, const char *zone, const char *name, char **ret);
/* The API's target for value (len octets) of an rrset of type: TXT quoted
 * strings of at most 255 octets, a CNAME absolute with its final dot. */
int ovh_target(struct sts_plugin *p, const char *type, const char *value, size_t len, char **ret);

/* ovh.c: the ids of the records of zone at subDomain sub (NULL: all) and of
 * type (NULL: any); one record by its id. */
int ovh_record_ids(struct sts_plugin *p, const char *zone, const char *sub, const char *type,
		   json_t **ret, struct sts_plugin_call *call);
int ovh_get_record(struct sts_plugin *p, const char *zone, const json_t *id, struct ovh_rec *ret,
		   struct sts_plugin_call *call);

/* ovh_zone.c: zones read whole, kept for the run with this instance's writes */
void ovh_zones_free(struct ovh *c);
struct ovh_zone *ovh_zone_get(struct ovh *c, const char *zone);
void ovh_zone_drop(struct ovh *c, const char *zone);
/* List zone (its ids; a GET for each id not kept already) and keep it. */
int ovh_zone_list(struct sts_plugin *p, const char *zone, struct sts_plugin_call *call);
/* Copies of the kept records at name (NULL: all) of type (NULL: any). */
int ovh_zone_records(const struct ovh_zone *z, const char *name, const char *type,
		     struct ovh_rec **ret, size_t *ret_n);
/* After a write: rec the API's answer to a POST (NULL: unknown); a PUT of
 * id to value and ttl; a DELETE of id (gone). */
void ovh_zone_added(struct sts_plugin *p, const char *zone, const json_t *rec);
void ovh_zone_changed(struct sts_plugin *p, const char *zone, long long id, const char *value,
		      uint32_t ttl, bool gone);

#endif
