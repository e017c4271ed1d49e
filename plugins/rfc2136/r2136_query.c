/* SPDX-License-Identifier: MIT */
/* Queries at the primary and the meaning of its replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "r2136.h"

/* ---- replies ---- */

/* The rcodes answered "DNS server 'S' <verb> the <what> (<rcode>)". */
static const struct {
	int rc;
	const char *verb;
	int err;
} plain_rcodes[] = {
    {LDNS_RCODE_NOTAUTH, "is not authoritative for", STS_PLUGIN_EAUTH},
    {LDNS_RCODE_SERVFAIL, "failed", STS_PLUGIN_EPROVIDER},
    {LDNS_RCODE_NOTIMPL, "does not implement", STS_PLUGIN_EUNSUPPORTED},
    {LDNS_RCODE_FORMERR, "could not parse", STS_PLUGIN_EPROVIDER},
};

/* Map a reply that is not a success; what: "update of zone 'x.'" / "query for 'n'". */
int r2136_reply_error(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		      const struct r2136_reply *rep, const char *what)
{
	int rc = ldns_pkt_get_rcode(rep->pkt);
	if (rep->tsig_err) {
		const char *e = r2136_tsig_err_name(rep->tsig_err);
		if (rep->tsig_err == R2136_BADKEY)
			sts_plugin_error(call,
					 "DNS server '%s' does not know TSIG key '%s' with "
					 "algorithm '%s' (%s/%s) for the %s",
					 c->server, c->key.name, c->key.alg, r2136_rcode_name(rc),
					 e, what);
		else if (rep->tsig_err == R2136_BADSIG)
			sts_plugin_error(call,
					 "DNS server '%s' rejected the TSIG signature of key '%s' "
					 "(%s/%s) for the %s: wrong secret or algorithm",
					 c->server, c->key.name, r2136_rcode_name(rc), e, what);
		else if (rep->tsig_err == R2136_BADTIME)
			sts_plugin_error(call,
					 "DNS server '%s' rejected the TSIG time (%s/%s) for the "
					 "%s: the clocks differ by more than 300 seconds",
					 c->server, r2136_rcode_name(rc), e, what);
		else
			sts_plugin_error(call,
					 "DNS server '%s' answered %s/%s (TSIG error %u) to the %s",
					 c->server, r2136_rcode_name(rc), e, rep->tsig_err, what);
		return STS_PLUGIN_EAUTH;
	}
	for (size_t i = 0; i < sizeof(plain_rcodes) / sizeof(plain_rcodes[0]); i++)
		if (plain_rcodes[i].rc == rc) {
			sts_plugin_error(call, "DNS server '%s' %s the %s (%s)", c->server,
					 plain_rcodes[i].verb, what, r2136_rcode_name(rc));
			return plain_rcodes[i].err;
		}
	switch (rc) {
	case LDNS_RCODE_REFUSED:
		sts_plugin_error(call,
				 "DNS server '%s' refused the %s (REFUSED): key '%s' may not "
				 "change it, or the zone is not served there",
				 c->server, what, c->key.name);
		return STS_PLUGIN_EAUTH;
	case LDNS_RCODE_NOTZONE:
		sts_plugin_error(call, "a name is outside the zone in the %s (NOTZONE at '%s')",
				 what, c->server);
		return STS_PLUGIN_EINVAL;
	default:
		sts_plugin_error(call, "DNS server '%s' answered %s to the %s", c->server,
				 r2136_rcode_name(rc), what);
		return STS_PLUGIN_EPROVIDER;
	}
}

/* A signed exchange whose reply says NOERROR must carry a TSIG that verifies. */
int r2136_unverified(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		     const char *what)
{
	sts_plugin_error(
	    call, "the reply of DNS server '%s' to the %s failed TSIG verification with key '%s'",
	    c->server, what, c->key.name);
	return STS_PLUGIN_EAUTH;
}

/*
 * The records of type at name (owner == name), and *ret_cname the CNAME
 * there when type is not CNAME. rcode NXDOMAIN is an empty answer.
 */
int r2136_query(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		const char *name, ldns_rr_type type, ldns_rr_list **ret, bool *ret_nxdomain)
{
	char what[400];
	char *tn = ldns_rr_type2str(type);
	snprintf(what, sizeof(what), "query for '%s' %s", name, tn ? tn : "?");
	free(tn);
	*ret = NULL;
	ldns_rdf *qn = ldns_dname_new_frm_str(name);
	ldns_pkt *q = qn ? ldns_pkt_query_new(qn, type, LDNS_RR_CLASS_IN, 0) : NULL;
	struct r2136_reply rep;
	if (!q) {
		if (!qn)
			sts_plugin_error(call, "invalid name '%s'", name);
		return qn ? STS_PLUGIN_ENOMEM : STS_PLUGIN_EINVAL;
	}
	int r = r2136_exchange(p, call, c, q, c->sign_queries, &rep);
	ldns_pkt_free(q); /* frees qn */
	if (r < 0)
		return r;
	int rc = ldns_pkt_get_rcode(rep.pkt);
	if (!rep.tsig_err && (rc == LDNS_RCODE_REFUSED || rc == LDNS_RCODE_NOTAUTH)) {
		sts_plugin_error(call,
				 "DNS server '%s' refused the %s (%s): it does not serve that zone",
				 c->server, what, r2136_rcode_name(rc));
		r = STS_PLUGIN_ENOENT;
		goto out;
	}
	if (rep.tsig_err || (rc != LDNS_RCODE_NOERROR && rc != LDNS_RCODE_NXDOMAIN)) {
		r = r2136_reply_error(p, call, c, &rep, what);
		goto out;
	}
	if (c->sign_queries && !rep.tsig_ok) {
		r = r2136_unverified(p, call, c, what);
		goto out;
	}
	if (!ldns_pkt_aa(rep.pkt)) {
		sts_plugin_error(call, "DNS server '%s' is not authoritative for '%s'", c->server,
				 name);
		r = STS_PLUGIN_ENOENT;
		goto out;
	}
	if (ret_nxdomain)
		*ret_nxdomain = rc == LDNS_RCODE_NXDOMAIN;
	ldns_rdf *owner = ldns_dname_new_frm_str(name);
	ldns_rr_list *l = ldns_rr_list_new();
	if (!owner || !l) {
		ldns_rdf_deep_free(owner);
		ldns_rr_list_free(l);
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	const ldns_rr_list *ans = ldns_pkt_answer(rep.pkt);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ans, i);
		if (ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		if (ldns_rr_get_type(rr) == type || ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME)
			ldns_rr_list_push_rr(l, ldns_rr_clone(rr));
	}
	ldns_rdf_deep_free(owner);
	*ret = l;
out:
	r2136_reply_release(&rep);
	return r;
}

/* The value stsctl sees: TXT strings concatenated, anything else in presentation form. */
char *r2136_value_of(const ldns_rr *rr, size_t *ret_len)
{
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TXT) {
		size_t n = 0;
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
			n += ldns_rdf_size(ldns_rr_rdf(rr, i)) - 1;
		char *v = malloc(n + 1);
		if (!v)
			return NULL;
		size_t k = 0;
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
			const ldns_rdf *f = ldns_rr_rdf(rr, i);
			memcpy(v + k, ldns_rdf_data(f) + 1, ldns_rdf_size(f) - 1);
			k += ldns_rdf_size(f) - 1;
		}
		v[k] = '\0';
		*ret_len = k;
		return v;
	}
	ldns_buffer *b = ldns_buffer_new(256);
	for (size_t i = 0; b && i < ldns_rr_rd_count(rr); i++) {
		if (i)
			ldns_buffer_printf(b, " ");
		ldns_rdf2buffer_str(b, ldns_rr_rdf(rr, i));
	}
	char *v = b ? ldns_buffer_export2str(b) : NULL;
	ldns_buffer_free(b);
	if (v)
		*ret_len = strlen(v);
	return v;
}
