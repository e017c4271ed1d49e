/* SPDX-License-Identifier: MIT */
#ifndef STSCTL_GCLOUD_GC_H
#define STSCTL_GCLOUD_GC_H

/*
 * The gcloud plugin's parts (README.md):
 *   gc_key.c    the service account key file and the token endpoint's
 *               answer: pure parsers (tests/fuzz/fuzz_gcloud.c)
 *   gc_auth.c   the signed JWT (RS256) and the access token it buys,
 *               cached until shortly before it expires (thread-safe)
 *   gc_rrset.c  Cloud DNS's rrsets <-> stsctl's (read, apply, zones)
 *   gcloud.c    settings, instance, requests, the descriptor
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <stsctl/plugin.h>

#include "plg_rest.h"

#define GC_SCOPE     "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
#define GC_MAX_PAGES 1000 /* of one listing: a bound, not a provider limit */

/* The fields of a service account key file stsctl uses (malloc'd). */
struct gc_key {
	char *email;	 /* client_email */
	char *key_id;	 /* private_key_id */
	char *pem;	 /* private_key: wiped when released */
	char *project;	 /* project_id, or NULL */
	char *token_uri; /* or NULL */
};

/* Parse a key file (JSON, len octets); on failure *why is static text. */
int gc_key_parse(const char *json, size_t len, struct gc_key *ret, const char **why);
void gc_key_release(struct gc_key *k);

/*
 * The token endpoint's 200 answer: {"access_token", "expires_in",
 * "token_type": "Bearer"}. *ret_token malloc'd; *ret_expires seconds.
 */
int gc_token_parse(const char *body, size_t len, char **ret_token, long *ret_expires,
		   const char **why);

/* An error answer of the token endpoint {"error", "error_description"}
 * as "ERROR: DESCRIPTION" (malloc'd), or NULL when it is not one. */
char *gc_token_error(const char *body, size_t len);

struct gc_auth {
	pthread_mutex_t lock;
	void *pkey; /* EVP_PKEY */
	char *email, *key_id, *token_url;
	long timeout_ms;
	char *header;  /* "Authorization: Bearer ..." or NULL; wiped when dropped */
	time_t expiry; /* CLOCK_MONOTONIC seconds: fetch a new one from here on */
};

/* From the key file behind the secret reference ref. *ret_project: the key's
 * project_id (malloc'd) or NULL. */
int gc_auth_init(struct sts_plugin *p, struct gc_auth *a, const char *ref, const char *token_url,
		 long timeout_ms, char **ret_project, struct sts_plugin_call *call);
void gc_auth_release(struct gc_auth *a);

/* A copy of the current authorization header line (fetching a token when
 * there is none or it is about to expire); free with plg_wipe_free(). */
int gc_auth_header(struct sts_plugin *p, struct gc_auth *a, char **ret,
		   struct sts_plugin_call *call);

/* The API refused header (401): forget it if it is still the cached one. */
void gc_auth_drop(struct gc_auth *a, const char *header);

/* The JWT assertion (header.claims.signature, base64url), malloc'd. */
int gc_jwt(void *pkey, const char *kid, const char *iss, const char *aud, time_t now, char **ret);

/* gcloud.c: one request to the DNS API (path under the project, already
 * escaped); release resp whatever the result. */
int gc_request(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
	       bool idempotent, struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call);
/* Every page of the listing at path: the items of each answer's `key`. */
int gc_list(struct sts_plugin *p, const char *path, const char *key, json_t **ret,
	    struct sts_plugin_call *call);

/* gc_rrset.c: the dns ops */
int gc_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
	    struct sts_rrsets *ret, struct sts_plugin_call *call);
int gc_apply(struct sts_plugin *p, const char *zone, const struct sts_rrset_change *const *changes,
	     size_t n, struct sts_plugin_call *call);
int gc_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call);

#endif
