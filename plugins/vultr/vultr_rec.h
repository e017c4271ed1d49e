/* SPDX-License-Identifier: MIT */
/*
 * vultr: Vultr's records <-> the engine's (struct sts_rrset) values. Kept
 * apart from the requests so that tests/fuzz/fuzz_vultr.c can feed it any
 * answer.
 */
#ifndef VULTR_REC_H
#define VULTR_REC_H

#include <stsctl/plugin.h>

/* One record of a listing, in the engine's form. */
struct vultr_rec {
	char *id;
	char *name; /* absolute, lower case, ends in '.' */
	char *type; /* upper case */
	uint32_t ttl;
	char *value; /* TXT: the text without Vultr's quotes; CNAME: absolute */
	size_t len;
};

struct vultr_recs {
	struct vultr_rec *v;
	size_t n;
};

/* The records of a listing (a JSON array) of zone (apex, no final dot);
 * EPARSE with the reason in call when one is not a record. */
int vultr_recs_parse(struct sts_plugin *p, const char *zone, const json_t *list,
		     struct vultr_recs *ret, struct sts_plugin_call *call);
void vultr_recs_free(struct vultr_recs *recs);
/* Is there a CNAME at name (absolute, as in struct vultr_rec)? */
bool vultr_recs_cname_at(const struct vultr_recs *recs, const char *name);

/* The POST body {name, type, data, ttl} for value of rrset rs in zone;
 * EINVAL with a reason for a value Vultr cannot hold. */
int vultr_record_body(struct sts_plugin *p, const char *zone, const struct sts_rrset *rs,
		      const char *value, json_t **ret, struct sts_plugin_call *call);

#endif
