/* SPDX-License-Identifier: MIT */
#ifndef STS_DO_REC_H
#define STS_DO_REC_H

/*
 * DigitalOcean's domain records <-> stsctl's rrsets (README.md). A record
 * is {"id", "type", "name", "data", "ttl", "priority", "port", "weight",
 * "flags", "tag"} with name relative to the domain ("@" the apex) and data
 * the value as DigitalOcean stores it: a TXT's text without quotes (the
 * strings joined), a CNAME's target without the final dot.
 */
#include <stsctl/plugin.h>

/* A record's value as the engine sees it (struct sts_rrset): *ret malloc'd,
 * *ret_len octets. EPARSE with the reason in call for a record without its
 * fields. */
int do_rec_value(struct sts_plugin *p, const char *zone, const json_t *rec, char **ret,
		 size_t *ret_len, struct sts_plugin_call *call);

/* Append every record of recs whose owner is one of the n names (absolute)
 * to ret, one rrset per (name, type). */
int do_rec_rrsets(struct sts_plugin *p, const char *zone, const json_t *recs,
		  const char *const *names, size_t n, struct sts_rrsets *ret,
		  struct sts_plugin_call *call);

/* The body of a POST or PUT: value (len octets) of an rrset of type at the
 * relative name; EUNSUPPORTED for a type the plugin does not write. */
int do_rec_body(struct sts_plugin *p, const char *type, const char *name, uint32_t ttl,
		const char *value, size_t len, json_t **ret, struct sts_plugin_call *call);

#endif
