/* SPDX-License-Identifier: MIT */
#ifndef STS_RRSET_H
#define STS_RRSET_H

/*
 * The host's DNS data model (core/plugin/sts_rrset.c), shared by the
 * plugin host and the plan engine: lists of rrsets (struct sts_rrset of
 * <stsctl/plugin.h>) and changes. It calls nothing of the plugin host.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stsctl/plugin.h>

#include "sts_api.h"

/* The host's form of a change (the engine's); sts_plugin_dns_apply hands
 * the plugin an array of pointers to struct sts_rrset_change made from it. */
struct sts_dns_change {
	enum sts_change_action action;
	struct sts_rrset rrset; /* DELETE: name and type only are used */
	const struct sts_rrset *old;
};

/* The ABI's form of n changes (growable structs behind a NULL-terminated
 * array of pointers), in one allocation: free() it. NULL on ENOMEM. */
STS_API const struct sts_rrset_change **sts_dns_changes_to_abi(const struct sts_dns_change *c,
							       size_t n);

/* ---- rrset lists (the host half of sts_plugin_rrset_add) ---- */

/* Opaque to plugins (<stsctl/plugin.h>): only the host walks it. */
struct sts_rrsets {
	struct sts_rrset *v;
	size_t n;
	size_t cap;
};

/* The longest zone of zones[n] that name (with or without its dot) is in
 * or equal to; NULL when none. */
STS_API const char *sts_zone_longest_suffix(const char *name, char *const *zones, size_t n);

STS_API void sts_rrsets_init(struct sts_rrsets *l);
STS_API void sts_rrsets_release(struct sts_rrsets *l);
STS_API void sts_rrset_release(struct sts_rrset *rr);
/* Append an empty rrset (name/type copied; name lower-cased); NULL on ENOMEM. */
STS_API struct sts_rrset *sts_rrsets_add(struct sts_rrsets *l, const char *name, const char *type,
					 uint32_t ttl);
STS_API int sts_rrset_add_value(struct sts_rrset *rr, const char *value, size_t len);
/* First rrset at (name, type), names compared case-insensitively; NULL if none. */
STS_API const struct sts_rrset *sts_rrsets_find(const struct sts_rrsets *l, const char *name,
						const char *type);
STS_API bool sts_rrset_has_value(const struct sts_rrset *rr, const char *value);

#endif
