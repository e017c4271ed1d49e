/* SPDX-License-Identifier: MIT */
#ifndef STS_LI_REC_H
#define STS_LI_REC_H

/*
 * Linode's domain records <-> stsctl's rrsets (README.md). A record is
 * {"id", "type", "name", "target", "priority", "weight", "port", "service",
 * "protocol", "ttl_sec", "tag"} with name relative to the domain ("" the
 * apex) and target the value as Linode keeps it: a TXT's text without
 * quotes, a CNAME's host name.
 */
#include <stsctl/plugin.h>

/* The TTLs Linode keeps, ascending (0: the domain's default), and the one
 * it keeps for ttl: the nearest of them (a tie to the larger). */
extern const uint32_t li_kept_ttls[];
extern const size_t li_n_kept_ttls;
uint32_t li_ttl(uint32_t ttl);

/* One record of a listing, checked: its absolute owner name (malloc'd),
 * type, id and TTL. EPARSE with the reason in call. */
struct li_rec {
	char *owner;
	const char *type; /* borrowed from the record */
	json_int_t id;
	uint32_t ttl;
};
int li_rec_parse(struct sts_plugin *p, const char *zone, const json_t *rec, struct li_rec *ret,
		 struct sts_plugin_call *call);

/* A record's value as the engine sees it (struct sts_rrset), malloc'd. */
int li_rec_value(struct sts_plugin *p, const json_t *rec, char **ret, size_t *ret_len,
		 struct sts_plugin_call *call);

/* Every record of recs at one of the n names (absolute) into ret. */
int li_rec_rrsets(struct sts_plugin *p, const char *zone, const json_t *recs,
		  const char *const *names, size_t n, struct sts_rrsets *ret,
		  struct sts_plugin_call *call);

#endif
