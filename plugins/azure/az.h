/* SPDX-License-Identifier: MIT */
#ifndef STS_AZURE_AZ_H
#define STS_AZURE_AZ_H

/*
 * azure: Azure DNS through Azure Resource Manager (README.md). Shared by
 * azure.c (settings, requests, the dns ops), az_token.c (the Microsoft
 * Entra ID client-credentials token, cached) and az_rrset.c (record sets
 * in the API's JSON <-> the host's rrsets).
 */
#include <pthread.h>
#include <time.h>

#include <stsctl/plugin.h>

#define AZ_API_VERSION "2018-05-01"

struct az {
	char *base;	  /* url: scheme://host[:port], no trailing '/' */
	char *login;	  /* login_url, likewise */
	char *tenant;	  /* tenant_id */
	char *client_id;  /* client_id */
	char *secret_ref; /* client_secret: the ${env:}/${file:} reference */
	char *scope;	  /* of the token: "https://management.azure.com/.default" */
	char *
	    rg_path; /* "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/dnsZones" */
	long timeout_ms;
	unsigned page_size; /* $top */
	struct sts_limiter *reads;
	struct sts_limiter *writes;
	struct sts_breaker *breaker;
	/* the token: "Authorization: Bearer ..." until expires (wiped when replaced) */
	pthread_mutex_t lock;
	char *auth;
	size_t auth_len;
	time_t expires;
};

/* az_token.c */

/*
 * A copy of the Authorization header line of a valid token (fetched when
 * none is cached or it expires within a minute; fresh = true drops the
 * cached one first). Free with az_auth_free().
 */
int az_auth(struct sts_plugin *p, bool fresh, char **ret, struct sts_plugin_call *call);
void az_auth_free(char *auth);
/* The cached token goes (unload). */
void az_token_clear(struct az *c);
/*
 * The token endpoint's answer (status, body) -> the token and its lifetime
 * in seconds, or the error with Entra ID's own words in call.
 */
int az_token_parse(long status, const char *body, size_t len, char **ret_token, long *ret_lifetime,
		   struct sts_plugin_call *call);

/* az_rrset.c */

/* Is type one the plugin can write (and read as values)? */
bool az_type_known(const char *type);
/*
 * Add the record set rs (one element of an ARM "value" list) of zone to
 * list when its absolute name is one of names[n] (NULL: any name). A type
 * the plugin does not know is skipped.
 */
int az_rrset_add(struct sts_plugin *p, const char *zone, const json_t *rs, const char *const *names,
		 size_t n, struct sts_rrsets *list, struct sts_plugin_call *call);
/*
 * The "properties" of a PUT making (name, type) exactly rrset: records of
 * cur (the record set there now, or NULL) whose value is wanted are kept as
 * they are (a foreign TXT keeps its strings byte for byte); new TXT values
 * are split into strings of at most 255 octets by the host's codec.
 */
int az_rrset_props(struct sts_plugin *p, const struct sts_rrset *rrset, const json_t *cur,
		   json_t **ret, struct sts_plugin_call *call);
/* Does the record set cur hold exactly the values and TTL of rrset? */
bool az_rrset_equal(struct sts_plugin *p, const struct sts_rrset *rrset, const json_t *cur);
/* The record set's type from its "type" ("Microsoft.Network/dnszones/TXT"), or NULL. */
const char *az_rrset_type(const json_t *rs);

#endif
