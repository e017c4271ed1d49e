/* SPDX-License-Identifier: MIT */
/*
 * ovh: the OVHcloud API /1.0 (README.md). ovh_req.c holds the credentials
 * and signs every request; ovh_rec.c maps a record of the API to the
 * engine's form and back (kept apart for tests/fuzz/fuzz_ovh.c); ovh.c is
 * the plugin ops.
 */
#ifndef OVH_H
#define OVH_H

#include <stdbool.h>
#include <time.h>

#include <stsctl/plugin.h>

#include "plg_rest.h"

struct ovh {
	struct plg_rest rest; /* base, timeout, limiter, breaker (no bearer) */
	char *app_key;	      /* "X-Ovh-Application: AK" */
	char *consumer;	      /* "X-Ovh-Consumer: CK" (the request's auth line) */
	char *app_secret;     /* AS, only ever hashed */
	const char *ck;	      /* CK, inside consumer */
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

#endif
