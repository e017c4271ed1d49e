/* SPDX-License-Identifier: MIT */
/* apply(): one signed UPDATE per call, with prerequisites, checked afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "r2136.h"

struct item {
	const struct sts_rrset_change *ch;
	ldns_rr_type type;
	ldns_rr_list *cur;  /* the records of type at the name now */
	ldns_rr_list *want; /* the desired records (deduplicated) */
};

/* A TXT record from its value: strings of at most 255 octets. */
static ldns_rr *txt_rr(const ldns_rdf *owner, uint32_t ttl, const char *v)
{
	ldns_rr *rr = ldns_rr_new();
	if (!rr)
		return NULL;
	ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl);
	size_t n = strlen(v), i = 0;
	do {
		size_t k = n - i > 255 ? 255 : n - i;
		uint8_t buf[256];
		buf[0] = (uint8_t)k;
		memcpy(buf + 1, v + i, k);
		ldns_rdf *f = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, k + 1, buf);
		if (!f || !ldns_rr_push_rdf(rr, f)) {
			ldns_rdf_deep_free(f);
			ldns_rr_free(rr);
			return NULL;
		}
		i += k;
	} while (i < n);
	return ldns_rr_owner(rr) ? rr : (ldns_rr_free(rr), NULL);
}

static int want_rr(struct sts_plugin_call *call, const struct sts_rrset *rs, ldns_rr_type t,
		   const ldns_rdf *owner, const char *v, ldns_rr **ret)
{
	*ret = NULL;
	if (t == LDNS_RR_TYPE_TXT) {
		*ret = txt_rr(owner, rs->ttl, v);
		return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	}
	char *s = NULL;
	if (asprintf(&s, "%s %u IN %s %s", rs->name, rs->ttl, rs->type, v) < 0)
		return STS_PLUGIN_ENOMEM;
	ldns_status st = ldns_rr_new_frm_str(ret, s, 0, NULL, NULL);
	free(s);
	if (st != LDNS_STATUS_OK) {
		sts_plugin_error(call, "invalid %s record '%s' at '%s': %s", rs->type, v, rs->name,
				 ldns_get_errorstr_by_id(st));
		return STS_PLUGIN_EINVAL;
	}
	return STS_PLUGIN_OK;
}

/* Same record, TTL aside? TXT by the concatenated value (the split may differ). */
static bool same(const ldns_rr *a, const ldns_rr *b)
{
	if (ldns_rr_get_type(a) != ldns_rr_get_type(b))
		return false;
	if (ldns_rr_get_type(a) != LDNS_RR_TYPE_TXT)
		return ldns_rr_compare(a, b) == 0;
	size_t la = 0, lb = 0;
	char *va = r2136_value_of(a, &la), *vb = r2136_value_of(b, &lb);
	bool eq = va && vb && la == lb && memcmp(va, vb, la) == 0;
	free(va);
	free(vb);
	return eq;
}

static bool in_list(const ldns_rr_list *l, const ldns_rr *rr)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		if (same(ldns_rr_list_rr(l, i), rr))
			return true;
	return false;
}

/* Remove the records of another type (a CNAME) from l into *ret_cname. */
static void split_cname(ldns_rr_list *l, ldns_rr_type t, bool *ret_cname)
{
	*ret_cname = false;
	ldns_rr_list *keep = ldns_rr_list_new();
	for (size_t i = 0; keep && i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);
		if (ldns_rr_get_type(rr) == t) {
			ldns_rr_list_push_rr(keep, rr);
		} else {
			*ret_cname = *ret_cname || ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME;
			ldns_rr_free(rr);
		}
	}
	ldns_rr_list_set_rr_count(l, 0);
	for (size_t i = 0; keep && i < ldns_rr_list_rr_count(keep); i++)
		ldns_rr_list_push_rr(l, ldns_rr_list_rr(keep, i));
	ldns_rr_list_free(keep);
}

/* Do the records now match what the change read them as (old)? */
static bool as_read(const struct item *it)
{
	const struct sts_rrset *old = it->ch->old;
	size_t n_old = old ? old->n_values : 0, n_cur = ldns_rr_list_rr_count(it->cur);
	for (size_t i = 0; i < n_cur; i++) {
		size_t vl = 0;
		char *v = r2136_value_of(ldns_rr_list_rr(it->cur, i), &vl);
		bool found = false;
		for (size_t k = 0; v && k < n_old && !found; k++)
			found = strcmp(old->values[k], v) == 0;
		free(v);
		if (!found)
			return false;
	}
	for (size_t k = 0; k < n_old; k++) {
		bool found = false;
		for (size_t i = 0; i < n_cur && !found; i++) {
			size_t vl = 0;
			char *v = r2136_value_of(ldns_rr_list_rr(it->cur, i), &vl);
			found = v && strcmp(old->values[k], v) == 0;
			free(v);
		}
		if (!found)
			return false;
	}
	return true;
}

static ldns_rr *rr_of(const ldns_rdf *owner, ldns_rr_type t, ldns_rr_class cls)
{
	ldns_rr *rr = ldns_rr_new();
	if (rr) {
		ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
		ldns_rr_set_type(rr, t);
		ldns_rr_set_class(rr, cls);
		ldns_rr_set_ttl(rr, 0);
	}
	return rr;
}

static ldns_rr *with(const ldns_rr *src, ldns_rr_class cls, uint32_t ttl)
{
	ldns_rr *rr = ldns_rr_clone(src);
	if (rr) {
		ldns_rr_set_class(rr, cls);
		ldns_rr_set_ttl(rr, ttl);
	}
	return rr;
}

static bool push(ldns_rr_list *l, ldns_rr *rr)
{
	if (rr && ldns_rr_list_push_rr(l, rr))
		return true;
	ldns_rr_free(rr);
	return false;
}

/* Prerequisites and updates of one change (nothing when it is already in place). */
static int build(const struct item *it, const ldns_rdf *owner, ldns_rr_list *pre, ldns_rr_list *up)
{
	const struct sts_rrset *rs = it->ch->rrset;
	size_t n_cur = ldns_rr_list_rr_count(it->cur), n_want = ldns_rr_list_rr_count(it->want);
	size_t before = ldns_rr_list_rr_count(up);
	bool ok = true;
	if (n_want == 0) {
		if (n_cur)
			ok = push(up, rr_of(owner, it->type, LDNS_RR_CLASS_ANY));
	} else if (n_cur && ldns_rr_ttl(ldns_rr_list_rr(it->cur, 0)) != rs->ttl) {
		/* a TTL change: the rrset anew; records that stay keep their exact rdata */
		ok = push(up, rr_of(owner, it->type, LDNS_RR_CLASS_ANY));
		for (size_t i = 0; ok && i < n_want; i++) {
			const ldns_rr *w = ldns_rr_list_rr(it->want, i);
			const ldns_rr *keep = NULL;
			for (size_t k = 0; k < n_cur && !keep; k++)
				if (same(ldns_rr_list_rr(it->cur, k), w))
					keep = ldns_rr_list_rr(it->cur, k);
			ok = push(up, with(keep ? keep : w, LDNS_RR_CLASS_IN, rs->ttl));
		}
	} else {
		for (size_t k = 0; ok && k < n_cur; k++)
			if (!in_list(it->want, ldns_rr_list_rr(it->cur, k)))
				ok = push(up,
					  with(ldns_rr_list_rr(it->cur, k), LDNS_RR_CLASS_NONE, 0));
		for (size_t i = 0; ok && i < n_want; i++)
			if (!in_list(it->cur, ldns_rr_list_rr(it->want, i)))
				ok = push(up, with(ldns_rr_list_rr(it->want, i), LDNS_RR_CLASS_IN,
						   rs->ttl));
	}
	if (!ok)
		return STS_PLUGIN_ENOMEM;
	if (ldns_rr_list_rr_count(up) == before)
		return STS_PLUGIN_OK; /* already in place */
	/* the rrset must still be exactly what was just read (RFC 2136 §2.4.2, §2.4.3) */
	if (n_cur == 0)
		ok = push(pre, rr_of(owner, it->type, LDNS_RR_CLASS_NONE));
	for (size_t k = 0; ok && k < n_cur; k++)
		ok = push(pre, with(ldns_rr_list_rr(it->cur, k), LDNS_RR_CLASS_IN, 0));
	return ok ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

/* Re-query every change; *ret_bad is the first that does not hold its records. */
static int check_done(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		      struct item *v, size_t n, const struct item **ret_bad, bool *ret_cname)
{
	*ret_bad = NULL;
	*ret_cname = false;
	for (size_t i = 0; i < n && !*ret_bad; i++) {
		ldns_rr_list *l = NULL;
		int r = r2136_query(p, call, c, v[i].ch->rrset->name, v[i].type, &l, NULL);
		if (r < 0)
			return r;
		split_cname(l, v[i].type, ret_cname);
		size_t nl = ldns_rr_list_rr_count(l), nw = ldns_rr_list_rr_count(v[i].want);
		bool ok = nl == nw;
		for (size_t k = 0; ok && k < nl; k++)
			ok = in_list(v[i].want, ldns_rr_list_rr(l, k)) &&
			     ldns_rr_ttl(ldns_rr_list_rr(l, k)) == v[i].ch->rrset->ttl;
		for (size_t k = 0; ok && k < nw; k++)
			ok = in_list(l, ldns_rr_list_rr(v[i].want, k));
		ldns_rr_list_deep_free(l);
		if (!ok)
			*ret_bad = &v[i];
	}
	return STS_PLUGIN_OK;
}

/* Read each change's rrset now; refuse conflicts and records changed since the plan's read. */
static int prepare(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		   const char *zone_dot, struct item *it)
{
	const struct sts_rrset *rs = it->ch->rrset;
	ldns_rdf *owner = NULL, *apex = ldns_dname_new_frm_str(zone_dot);
	bool in = rs->name && rs->type && apex &&
		  ldns_str2rdf_dname(&owner, rs->name) == LDNS_STATUS_OK &&
		  rs->name[strlen(rs->name) - 1] == '.' &&
		  (ldns_dname_is_subdomain(owner, apex) || ldns_dname_compare(owner, apex) == 0);
	ldns_rdf_deep_free(apex);
	if (!in) {
		ldns_rdf_deep_free(owner);
		sts_plugin_error(call, "'%s' is not an absolute name in zone '%s'",
				 rs->name ? rs->name : "", zone_dot);
		return STS_PLUGIN_EINVAL;
	}
	ldns_rdf_deep_free(owner);
	it->type = ldns_get_rr_type_by_name(rs->type);
	if (it->type == 0 || it->type == LDNS_RR_TYPE_SOA) {
		sts_plugin_error(call, "cannot update records of type '%s'", rs->type);
		return STS_PLUGIN_EINVAL;
	}
	bool cname = false;
	int r = r2136_query(p, call, c, rs->name, it->type, &it->cur, NULL);
	if (r < 0)
		return r;
	split_cname(it->cur, it->type, &cname);
	size_t n_want = it->ch->action == STS_CHANGE_DELETE ? 0 : rs->n_values;
	if (cname && n_want) {
		sts_plugin_error(call, "'%s' holds a CNAME: no %s can be added beside it", rs->name,
				 rs->type);
		return STS_PLUGIN_ECONFLICT;
	}
	if (!as_read(it)) {
		sts_plugin_error(call,
				 "the %s records at '%s' changed since they were read: plan again",
				 rs->type, rs->name);
		return STS_PLUGIN_ESTALE;
	}
	if (!(it->want = ldns_rr_list_new()))
		return STS_PLUGIN_ENOMEM;
	ldns_rdf *o = ldns_dname_new_frm_str(rs->name);
	for (size_t i = 0; o && i < n_want && r == STS_PLUGIN_OK; i++) {
		ldns_rr *w = NULL;
		if ((r = want_rr(call, rs, it->type, o, rs->values[i], &w)) < 0)
			break;
		if (in_list(it->want, w))
			ldns_rr_free(w);
		else if (!push(it->want, w))
			r = STS_PLUGIN_ENOMEM;
	}
	ldns_rdf_deep_free(o);
	return o ? r : STS_PLUGIN_ENOMEM;
}

static void items_free(struct item *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		ldns_rr_list_deep_free(v[i].cur);
		ldns_rr_list_deep_free(v[i].want);
	}
	free(v);
}

int r2136_apply(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		const char *zone_dot, const struct sts_rrset_change *const *changes, size_t n)
{
	struct item *v = calloc(n + 1, sizeof(*v));
	ldns_rr_list *pre = ldns_rr_list_new(), *up = ldns_rr_list_new();
	ldns_pkt *q = NULL;
	struct r2136_reply rep = {0};
	char what[300];
	int r = v && pre && up ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	snprintf(what, sizeof(what), "update of zone '%s'", zone_dot);
	for (size_t i = 0; i < n && r == STS_PLUGIN_OK; i++) {
		v[i].ch = changes[i];
		r = prepare(p, call, c, zone_dot, &v[i]);
		ldns_rdf *owner =
		    r == STS_PLUGIN_OK ? ldns_dname_new_frm_str(changes[i]->rrset->name) : NULL;
		if (r == STS_PLUGIN_OK)
			r = owner ? build(&v[i], owner, pre, up) : STS_PLUGIN_ENOMEM;
		ldns_rdf_deep_free(owner);
	}
	if (r < 0 || ldns_rr_list_rr_count(up) == 0)
		goto out; /* an error, or everything already in place */
	ldns_rdf *zone = ldns_dname_new_frm_str(zone_dot);
	if (!zone || !(q = ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, pre, up, NULL))) {
		ldns_rdf_deep_free(zone);
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	ldns_pkt_set_rd(q, false);
	if ((r = r2136_exchange(p, call, c, q, true, &rep)) < 0)
		goto out;
	int rc = ldns_pkt_get_rcode(rep.pkt);
	const struct item *bad = NULL;
	bool cname = false;
	if (!rep.tsig_err && (rc == LDNS_RCODE_YXDOMAIN || rc == LDNS_RCODE_YXRRSET ||
			      rc == LDNS_RCODE_NXRRSET || rc == LDNS_RCODE_NXDOMAIN)) {
		/* a prerequisite failed: done already (a repeated message), or changed meanwhile */
		if ((r = check_done(p, call, c, v, n, &bad, &cname)) < 0)
			goto out;
		if (bad) {
			sts_plugin_error(call,
					 "the %s records at '%s' changed while the update was "
					 "prepared (%s): plan again",
					 bad->ch->rrset->type, bad->ch->rrset->name,
					 r2136_rcode_name(rc));
			r = STS_PLUGIN_ESTALE;
		}
		goto out;
	}
	if (rep.tsig_err || rc != LDNS_RCODE_NOERROR) {
		r = r2136_reply_error(p, call, c, &rep, what);
		goto out;
	}
	if (!rep.tsig_ok) {
		r = r2136_unverified(p, call, c, what);
		goto out;
	}
	if ((r = check_done(p, call, c, v, n, &bad, &cname)) < 0)
		goto out;
	if (bad) {
		sts_plugin_error(
		    call,
		    cname ? "'%s' holds a CNAME: the server kept it and ignored the %s records"
			  : "the server accepted the update but '%s' does not hold the new %s "
			    "records",
		    bad->ch->rrset->name, bad->ch->rrset->type);
		r = cname ? STS_PLUGIN_ECONFLICT : STS_PLUGIN_EPROVIDER;
		goto out;
	}
	sts_plugin_log(p, STS_PLOG_DEBUG, "zone '%s': %zu changes in one UPDATE (%zu records, %s)",
		       zone_dot, n, ldns_rr_list_rr_count(up), rep.tcp ? "TCP" : "UDP");
out:
	r2136_reply_release(&rep);
	ldns_pkt_free(q);
	ldns_rr_list_deep_free(pre);
	ldns_rr_list_deep_free(up);
	items_free(v, n);
	return r;
}
