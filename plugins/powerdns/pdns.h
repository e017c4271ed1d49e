/* SPDX-License-Identifier: MIT */
#ifndef PDNS_H
#define PDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stsctl/plugin.h>

/*
 * Record content as the PowerDNS API writes and reads it. TXT content
 * carries its own quotes (presentation format: character-strings of at
 * most 255 octets, each quoted, escaped): the host's TXT codec converts.
 * Every other type is the presentation form as is. *ret is malloc'd.
 */

/* content for the API of a value of type (TXT encoded, others copied). */
int pdns_content_of(struct sts_plugin *p, const char *type, const char *value, char **ret);
/* The value stsctl sees for content of type (TXT decoded, others copied);
 * STS_PLUGIN_EPARSE for TXT content that is not valid presentation. */
int pdns_value_of(struct sts_plugin *p, const char *type, const char *content, char **ret,
		  size_t *ret_len);

/* Zone apex check: letters, digits, '-', '_' and single dots; 1..253 octets. */
bool pdns_zone_ok(const char *zone);
/* name equals zone or ends in ".zone" (both absolute or both relative, any case). */
bool pdns_in_zone(const char *name, const char *zone_dot);

/* ---- what read() saw, per zone (pdns_cache.c) ---- */

struct pdns_rec {
	char *content; /* as the API returned it */
	char *value;   /* as stsctl sees it (TXT decoded) */
	size_t vlen;
	bool disabled;
};

struct pdns_rrset {
	char *name; /* lower case, absolute */
	char *type; /* upper case */
	uint32_t ttl;
	struct pdns_rec *v;
	size_t n, cap;
};

struct pdns_zone {
	char *name; /* "example.com." */
	struct pdns_rrset *v;
	size_t n, cap;
	bool sorted;
};

struct pdns_zone *pdns_zone_new(const char *zone_dot);
void pdns_zone_free(struct pdns_zone *z);
void pdns_rrset_release(struct pdns_rrset *s);
/* Append an empty rrset (name lower-cased, type upper-cased); NULL on ENOMEM. */
struct pdns_rrset *pdns_zone_add(struct pdns_zone *z, const char *name, const char *type,
				 uint32_t ttl);
int pdns_rrset_add(struct pdns_rrset *s, const char *content, const char *value, size_t vlen,
		   bool disabled);
void pdns_zone_sort(struct pdns_zone *z);
struct pdns_rrset *pdns_zone_find(struct pdns_zone *z, const char *name, const char *type);
/* The rrset at (name, type) becomes a copy of src; NULL or empty removes it. */
int pdns_zone_put(struct pdns_zone *z, const char *name, const char *type,
		  const struct pdns_rrset *src);

#endif
