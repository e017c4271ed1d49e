/* SPDX-License-Identifier: MIT */
#ifndef R53_H
#define R53_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <stsctl/plugin.h>

/* r53_xml.c: Route 53's XML answers (API 2013-04-01), parsed with libxml2. */

/* One ResourceRecordSet as the API shows it: values verbatim (a TXT as its
 * quoted strings). special: an alias or a routing policy (SetIdentifier). */
struct r53_rrset {
	char *name; /* as listed: absolute, Route 53's escapes (\052) kept */
	char *type;
	uint32_t ttl;
	char **values;
	size_t n_values;
	bool special;
};

/* A page of ListResourceRecordSets, or several appended. */
struct r53_rrsets {
	struct r53_rrset *v;
	size_t n;
	bool truncated;
	char *next_name; /* where the next page starts (when truncated) */
	char *next_type;
};

/* A page of ListHostedZones. */
struct r53_zone {
	char *id; /* "Z..." without "/hostedzone/" */
	char *name;
	bool private_zone;
};

struct r53_zones {
	struct r53_zone *v;
	size_t n;
	bool truncated;
	char *next_marker;
};

int r53_parse_rrsets(const char *xml, size_t len, struct r53_rrsets *ret);
void r53_rrsets_release(struct r53_rrsets *l);
int r53_parse_zones(const char *xml, size_t len, struct r53_zones *ret);
void r53_zones_release(struct r53_zones *l);
/* <ErrorResponse><Error><Code>, <Message>: malloc'd, NULL when absent. */
void r53_parse_error(const char *xml, size_t len, char **ret_code, char **ret_message);
/* Append s to *buf with &, <, >, " escaped; false without memory. */
bool r53_xml_append(char **buf, size_t *len, const char *s, bool escape);

/* r53_sigv4.c: AWS Signature Version 4 (service route53, region us-east-1). */
struct r53_sign {
	const char *method;
	const char *host;  /* as sent in the Host header */
	const char *path;  /* unescaped path */
	const char *query; /* canonical already: sorted keys, values encoded */
	const void *body;
	size_t body_len;
	const char *key_id;
	const char *secret;
	const char *token; /* NULL = none */
	time_t now;
};

/* "AWS4-HMAC-SHA256 Credential=..." into auth (malloc'd), X-Amz-Date into date[17]. */
int r53_sigv4(const struct r53_sign *s, char **ret_auth, char date[17]);

/* r53_list.c / route53.c: the instance and its requests. */
struct r53 {
	char *base; /* url without the trailing '/' */
	char *host; /* the authority of url, for the Host header */
	char *key_id;
	char *secret; /* wiped at unload */
	char *token;  /* NULL or wiped at unload */
	long timeout_ms;
	unsigned page_size;
	struct sts_limiter *limiter;
	/* zone ids found so far (apex -> id): a hosted zone keeps its id */
	pthread_mutex_t lock;
	bool locked_ok; /* lock initialised */
	char **cache_apex;
	char **cache_id;
	size_t n_cache;
};

/* One signed request; *ret_body malloc'd (NULL when not wanted). */
int r53_request(struct sts_plugin *p, const char *method, const char *path, const char *query,
		const char *body, char **ret_body, size_t *ret_len, struct sts_plugin_call *call);
/* The hosted zone id of apex (no trailing dot): ENOENT when not listed. */
int r53_zone_id(struct sts_plugin *p, const char *apex, char **ret, struct sts_plugin_call *call);
/* Every hosted zone (all pages). */
int r53_list_zones(struct sts_plugin *p, struct r53_zones *ret, struct sts_plugin_call *call);
/* The rrsets at the n names (absolute, dotted, lower case) of zone zid,
 * all types, as the API shows them. */
int r53_list_at(struct sts_plugin *p, const char *zid, const char *const *names, size_t n,
		struct r53_rrsets *ret, struct sts_plugin_call *call);
/* name as listed -> the engine's spelling (lower case, absolute); malloc'd. */
char *r53_name(struct sts_plugin *p, const char *listed);

#endif
