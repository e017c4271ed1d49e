/* SPDX-License-Identifier: MIT */
/* Plan: desired (render) vs actual (plugin reads) -> ordered changes per domain. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_dname.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_plan.h"
#include "sts_plugin.h"
#include "sts_render.h"

#define STS_PREFIX    "v=STSv1"
#define TLSRPT_PREFIX "v=TLSRPTv1"

static const char *const object_names[] = {
    [STS_OBJ_POLICY] = "policy",
    [STS_OBJ_STS_RECORD] = "sts-record",
    [STS_OBJ_TLSRPT_RECORD] = "tlsrpt-record",
    [STS_OBJ_CNAME] = "cname",
    [STS_OBJ_ADDRESS] = "address",
};

STS_API const char *sts_object_name(enum sts_object o)
{
	return STS_NAME_OF(object_names, o, "?");
}

static const char *const action_names[] = {
    [STS_ACTION_CREATE] = "create",
    [STS_ACTION_UPDATE] = "update",
    [STS_ACTION_DELETE] = "delete",
};

STS_API const char *sts_action_name(enum sts_action a)
{
	return STS_NAME_OF(action_names, a, "?");
}

static const char *const phase_names[] = {
    [STS_PHASE_PRESENT] = "present",
    [STS_PHASE_REMOVE_START] = "removal-start",
    [STS_PHASE_REMOVE_WAIT] = "removal-wait",
    [STS_PHASE_REMOVE_DELETE] = "removal-delete",
    [STS_PHASE_GONE] = "gone",
};

STS_API const char *sts_phase_name(enum sts_phase p)
{
	return STS_NAME_OF(phase_names, p, "?");
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

STS_API bool sts_txt_has_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	/* "v=STSv1" followed by ';' or blank or the end (RFC 8461 §3.1) */
	return strncmp(s, prefix, n) == 0 &&
	       (s[n] == '\0' || s[n] == ';' || s[n] == ' ' || s[n] == '\t');
}

/* ---- changes ---- */

static void change_release(struct sts_change *c)
{
	STS_FREE_ALL(c->name, c->type, c->before, c->after);
	sts_rrset_release(&c->rc.rrset);
}

STS_API void sts_plan_domain_release(struct sts_plan_domain *d)
{
	STS_FREE_ALL(d->name, d->zone, d->dns, d->web, d->policy_text);
	STS_ARRAY_FREE(d->changes, d->n_changes, change_release);
	free(d->actual.policy);
	sts_rrsets_release(&d->actual.rr);
	STS_FREE_ALL(d->spec, d->ca_file, d->resolve, d->errmsg, d->hosted_txt, d->tenant);
	memset(d, 0, sizeof(*d));
}

static struct sts_change *change_add(struct sts_plan_domain *d, enum sts_object o,
				     enum sts_action a, const char *name, const char *type)
{
	struct sts_change *c = sts_array_push(&d->changes, &d->n_changes, sizeof(*c));
	if (!c)
		return NULL;
	c->object = o;
	c->action = a;
	c->name = xstrdup(name);
	c->type = xstrdup(type);
	if (!c->name || (type && !c->type)) {
		change_release(c);
		d->n_changes--;
		return NULL;
	}
	return c;
}

/* "a, b, c" of n values (only those selected by keep(), when given). */
static char *join_values(char *const *v, size_t n, const char *prefix, bool want_prefixed)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_TEXT);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (prefix && sts_txt_has_prefix(v[i], prefix) != want_prefixed)
			continue;
		if ((k++ && sts_buf_puts(&b, ", ") < 0) || sts_buf_puts(&b, v[i]) < 0) {
			sts_buf_release(&b);
			return NULL;
		}
	}
	if (k == 0)
		return NULL;
	return sts_buf_steal(&b);
}

STS_API int sts_plan_domain_fail(struct sts_plan_domain *d, int err, const char *fmt, ...)
{
	if (d->err < 0)
		return err; /* keep the first */
	d->err = err;
	free(d->errmsg);
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&d->errmsg, fmt, ap) < 0)
		d->errmsg = NULL;
	va_end(ap);
	return err;
}

/* The rrset change for (name, type): fill rc. values: what the rrset becomes. */
static int dns_change(struct sts_plan_domain *d, enum sts_object o, enum sts_action a,
		      const char *name, const char *type, const struct sts_rrset *old,
		      const struct sts_rrset *newset, char *const *keep, size_t n_keep,
		      const char *value, uint32_t ttl, char *before, char *after)
{
	struct sts_change *c = change_add(d, o, a, name, type);
	if (!c) {
		free(before);
		free(after);
		return STS_ENOMEM;
	}
	c->before = before;
	c->after = after;
	c->ttl_before = old ? old->ttl : 0;
	c->ttl_after = a == STS_ACTION_DELETE ? 0 : ttl;
	c->rc.old = old;
	c->rc.rrset.name = strdup(name);
	c->rc.rrset.type = strdup(type);
	c->rc.rrset.ttl = ttl;
	if (!c->rc.rrset.name || !c->rc.rrset.type)
		return STS_ENOMEM;
	size_t n_new = newset ? newset->n_values : 0;
	if (n_keep + n_new + (value ? 1 : 0) == 0) {
		c->rc.action = STS_CHANGE_DELETE;
		return STS_OK;
	}
	c->rc.action = old ? STS_CHANGE_REPLACE : STS_CHANGE_CREATE;
	for (size_t i = 0; i < n_keep; i++)
		if (sts_rrset_add_value(&c->rc.rrset, keep[i], strlen(keep[i])) < 0)
			return STS_ENOMEM;
	for (size_t i = 0; i < n_new; i++)
		if (sts_rrset_add_value(&c->rc.rrset, newset->values[i],
					strlen(newset->values[i])) < 0)
			return STS_ENOMEM;
	if (value && sts_rrset_add_value(&c->rc.rrset, value, strlen(value)) < 0)
		return STS_ENOMEM;
	return STS_OK;
}

/* ---- the diff ---- */

enum slot_kind {
	SLOT_KEEP,   /* do not touch */
	SLOT_ABSENT, /* remove what stsctl owns */
	SLOT_SET,    /* publish want's rrsets at the name */
};

struct slot {
	char name[300];
	enum slot_kind kind;
	const char *prefix;   /* owned TXT values; NULL: none (policy host) */
	enum sts_object otxt; /* object of TXT changes */
};

STS_API bool sts_name_eq(const char *a, const char *b)
{
	return sts_dname_eq(a, b);
}

/* Did the last apply publish (name, type)? prev_spec "records": [[name, type], ...] */
static bool prev_ours(const json_t *prev, const char *name, const char *type)
{
	const json_t *recs = prev ? json_object_get(prev, "records") : NULL;
	size_t i;
	const json_t *e;
	json_array_foreach(recs, i, e)
	{
		const char *n = json_string_value(json_array_get(e, 0));
		const char *t = json_string_value(json_array_get(e, 1));
		if (n && t && sts_name_eq(n, name) && strcasecmp(t, type) == 0)
			return true;
	}
	return false;
}

static bool same_values(const struct sts_rrset *a, const struct sts_rrset *b)
{
	if (a->n_values != b->n_values)
		return false;
	for (size_t i = 0; i < a->n_values; i++)
		if (!sts_rrset_has_value(b, a->values[i]))
			return false;
	for (size_t i = 0; i < b->n_values; i++)
		if (!sts_rrset_has_value(a, b->values[i]))
			return false;
	return true;
}

static bool is_addr(const char *t)
{
	return strcmp(t, "A") == 0 || strcmp(t, "AAAA") == 0;
}

static enum sts_object obj_for(const struct slot *s, const char *type)
{
	if (strcmp(type, "TXT") == 0)
		return s->otxt;
	if (strcmp(type, "CNAME") == 0)
		return STS_OBJ_CNAME;
	return STS_OBJ_ADDRESS;
}

/* Owned values of a TXT rrset (by prefix) and the foreign ones. */
struct split {
	char **ours, **foreign;
	size_t n_ours, n_foreign;
};

static int split_txt(const struct sts_rrset *rr, const char *prefix, struct split *s)
{
	memset(s, 0, sizeof(*s));
	s->ours = calloc(rr->n_values + 1, sizeof(char *));
	s->foreign = calloc(rr->n_values + 1, sizeof(char *));
	if (!s->ours || !s->foreign)
		return STS_ENOMEM;
	for (size_t i = 0; i < rr->n_values; i++) {
		if (sts_txt_has_prefix(rr->values[i], prefix))
			s->ours[s->n_ours++] = rr->values[i];
		else
			s->foreign[s->n_foreign++] = rr->values[i];
	}
	return STS_OK;
}

static void split_release(struct split *s)
{
	free(s->ours);
	free(s->foreign);
}

static int conflict(struct sts_plan_domain *d, const char *name, const char *what)
{
	sts_plan_domain_fail(d, STS_ECONFLICT, "'%s' %s", name, what);
	return STS_OK; /* not fatal for the plan: the domain carries the error */
}

/* Remove what stsctl owns at the slot. */
static int slot_absent(struct sts_plan_domain *d, const struct slot *s, const json_t *prev)
{
	int r = STS_OK;
	for (size_t i = 0; i < d->actual.rr.n && r == STS_OK; i++) {
		const struct sts_rrset *a = &d->actual.rr.v[i];
		if (!sts_name_eq(a->name, s->name))
			continue;
		if (strcmp(a->type, "TXT") == 0 && s->prefix) {
			struct split sp;
			r = split_txt(a, s->prefix, &sp);
			if (r == STS_OK && sp.n_ours) {
				char *before = join_values(a->values, a->n_values, s->prefix, true);
				r = dns_change(d, s->otxt, STS_ACTION_DELETE, s->name, "TXT", a,
					       NULL, sp.foreign, sp.n_foreign, NULL, a->ttl, before,
					       NULL);
			}
			split_release(&sp);
		} else if ((strcmp(a->type, "CNAME") == 0 || is_addr(a->type)) &&
			   prev_ours(prev, s->name, a->type)) {
			char *before = join_values(a->values, a->n_values, NULL, false);
			r = dns_change(d, obj_for(s, a->type), STS_ACTION_DELETE, s->name, a->type,
				       a, NULL, NULL, 0, NULL, a->ttl, before, NULL);
		}
	}
	return r;
}

/* Publish want's rrsets at the slot, keeping foreign values, refusing conflicts. */
static int slot_set(struct sts_plan_domain *d, const struct slot *s, const struct sts_rrsets *want,
		    const json_t *prev)
{
	int r = STS_OK;
	bool want_cname = sts_rrsets_find(want, s->name, "CNAME") != NULL;
	/* first what is in the way: types stsctl does not publish here */
	for (size_t i = 0; i < d->actual.rr.n && r == STS_OK; i++) {
		const struct sts_rrset *a = &d->actual.rr.v[i];
		if (!sts_name_eq(a->name, s->name) || sts_rrsets_find(want, s->name, a->type))
			continue;
		if (strcmp(a->type, "CNAME") == 0) {
			if (!prev_ours(prev, s->name, "CNAME"))
				return conflict(d, s->name,
						"holds a CNAME that stsctl does not own; it "
						"cannot publish its records beside it");
			char *before = join_values(a->values, a->n_values, NULL, false);
			r = dns_change(d, STS_OBJ_CNAME, STS_ACTION_DELETE, s->name, "CNAME", a,
				       NULL, NULL, 0, NULL, a->ttl, before, NULL);
			continue;
		}
		bool owned_txt = strcmp(a->type, "TXT") == 0 && s->prefix;
		bool owned_addr = is_addr(a->type) && prev_ours(prev, s->name, a->type);
		if (want_cname) {
			struct split sp = {0};
			if (owned_txt && (r = split_txt(a, s->prefix, &sp)) < 0) {
				split_release(&sp);
				return r;
			}
			bool only_ours = owned_txt ? sp.n_foreign == 0 : owned_addr;
			split_release(&sp);
			if (!only_ours)
				return conflict(d, s->name,
						"holds records stsctl does not own; a CNAME "
						"cannot be published beside them");
			char *before = join_values(a->values, a->n_values, NULL, false);
			r = dns_change(d, obj_for(s, a->type), STS_ACTION_DELETE, s->name, a->type,
				       a, NULL, NULL, 0, NULL, a->ttl, before, NULL);
		} else if (owned_addr) {
			/* published by the last apply, not wanted any more */
			char *before = join_values(a->values, a->n_values, NULL, false);
			r = dns_change(d, STS_OBJ_ADDRESS, STS_ACTION_DELETE, s->name, a->type, a,
				       NULL, NULL, 0, NULL, a->ttl, before, NULL);
		}
	}
	if (r < 0)
		return r;
	/* then the wanted rrsets */
	for (size_t i = 0; i < want->n && r == STS_OK; i++) {
		const struct sts_rrset *w = &want->v[i];
		if (!sts_name_eq(w->name, s->name))
			continue;
		const struct sts_rrset *a = sts_rrsets_find(&d->actual.rr, s->name, w->type);
		enum sts_object o = obj_for(s, w->type);
		if (strcmp(w->type, "TXT") == 0 && s->prefix) {
			struct split sp = {0};
			if (a && (r = split_txt(a, s->prefix, &sp)) < 0) {
				split_release(&sp);
				return r;
			}
			struct sts_rrset ours = {.values = sp.ours, .n_values = sp.n_ours};
			/* an rrset shared with foreign values keeps its TTL: no TTL fight */
			bool same =
			    a && same_values(&ours, w) && (a->ttl == w->ttl || sp.n_foreign > 0);
			if (!same) {
				char *before =
				    a ? join_values(a->values, a->n_values, s->prefix, true) : NULL;
				char *after = join_values(w->values, w->n_values, NULL, false);
				uint32_t ttl = a && sp.n_foreign ? a->ttl : w->ttl;
				r = dns_change(d, o, before ? STS_ACTION_UPDATE : STS_ACTION_CREATE,
					       s->name, "TXT", a, w, sp.foreign, sp.n_foreign, NULL,
					       ttl, before, after);
				if (r == STS_OK && !before && a && sp.n_ours == 0)
					d->changes[d->n_changes - 1].ttl_before = 0;
			}
			split_release(&sp);
			continue;
		}
		if (a && same_values(a, w) && a->ttl == w->ttl)
			continue;
		char *before = a ? join_values(a->values, a->n_values, NULL, false) : NULL;
		char *after = join_values(w->values, w->n_values, NULL, false);
		r = dns_change(d, o, a ? STS_ACTION_UPDATE : STS_ACTION_CREATE, s->name, w->type, a,
			       w, NULL, 0, NULL, w->ttl, before, after);
	}
	return r;
}

static int diff_slot(struct sts_plan_domain *d, const struct slot *s, const struct sts_rrsets *want,
		     const json_t *prev)
{
	switch (s->kind) {
	case SLOT_KEEP:
		return STS_OK;
	case SLOT_ABSENT:
		return slot_absent(d, s, prev);
	case SLOT_SET:
		return slot_set(d, s, want, prev);
	}
	return STS_OK;
}

static int diff_policy(struct sts_plan_domain *d)
{
	struct sts_change *c = NULL;
	char host[300];
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	if (d->phase == STS_PHASE_REMOVE_DELETE) {
		if (!d->actual.have_policy || (!d->web && !d->hosted_txt))
			return STS_OK;
		c = change_add(d, STS_OBJ_POLICY, STS_ACTION_DELETE, host, NULL);
		if (!c || !(c->before = strdup(d->actual.policy)))
			return STS_ENOMEM;
		return STS_OK;
	}
	if (!d->policy_text)
		return STS_OK;
	if (d->actual.have_policy && strcmp(d->actual.policy, d->policy_text) == 0)
		return STS_OK;
	c = change_add(d, STS_OBJ_POLICY,
		       d->actual.have_policy ? STS_ACTION_UPDATE : STS_ACTION_CREATE, host, NULL);
	if (!c || !(c->after = strdup(d->policy_text)))
		return STS_ENOMEM;
	if (d->actual.have_policy && !(c->before = strdup(d->actual.policy)))
		return STS_ENOMEM;
	return STS_OK;
}

/*
 * Changes of one domain, in apply order. want: the rrsets stsctl publishes
 * (only its own values). The phase, the desired policy and the actual
 * state must be set. On a conflict d->err is STS_ECONFLICT and no changes
 * are kept. Returns STS_OK or STS_ENOMEM.
 */
STS_API int sts_plan_diff_domain(struct sts_plan_domain *d, const struct sts_rrsets *want,
				 const json_t *prev)
{
	struct slot sts = {.prefix = STS_PREFIX, .otxt = STS_OBJ_STS_RECORD};
	struct slot rpt = {.prefix = TLSRPT_PREFIX, .otxt = STS_OBJ_TLSRPT_RECORD};
	struct slot host = {.prefix = NULL, .otxt = STS_OBJ_ADDRESS};
	snprintf(sts.name, sizeof(sts.name), "_mta-sts.%s.", d->name);
	snprintf(rpt.name, sizeof(rpt.name), "_smtp._tls.%s.", d->name);
	snprintf(host.name, sizeof(host.name), "mta-sts.%s.", d->name);
	/* hosted: the TXT is in the MSP zone; the customer's names are not stsctl's */
	bool hosted = d->hosted_txt != NULL;
	if (hosted)
		snprintf(sts.name, sizeof(sts.name), "%s", d->hosted_txt);
	bool want_rpt = sts_rrsets_find(want, rpt.name, "TXT") != NULL;
	bool want_host = false;
	for (size_t i = 0; i < want->n; i++)
		if (sts_name_eq(want->v[i].name, host.name))
			want_host = true;
	bool prev_host = false, prev_rpt = prev_ours(prev, rpt.name, "TXT");
	static const char *const host_types[] = {"A", "AAAA", "CNAME"};
	for (size_t i = 0; i < 3; i++)
		prev_host = prev_host || prev_ours(prev, host.name, host_types[i]);

	switch (d->phase) {
	case STS_PHASE_PRESENT:
		sts.kind = SLOT_SET;
		rpt.kind = want_rpt ? SLOT_SET : prev_rpt ? SLOT_ABSENT : SLOT_KEEP;
		host.kind = want_host ? SLOT_SET : prev_host ? SLOT_ABSENT : SLOT_KEEP;
		break;
	case STS_PHASE_REMOVE_START:
	case STS_PHASE_REMOVE_WAIT:
		sts.kind = SLOT_SET;
		rpt.kind = SLOT_KEEP;
		host.kind = SLOT_KEEP;
		break;
	case STS_PHASE_REMOVE_DELETE:
		sts.kind = SLOT_ABSENT;
		rpt.kind = SLOT_ABSENT;
		host.kind = SLOT_ABSENT;
		break;
	case STS_PHASE_GONE:
		return STS_OK;
	}
	if (hosted)
		rpt.kind = host.kind = SLOT_KEEP;
	int r;
	if (d->phase == STS_PHASE_REMOVE_DELETE) {
		/* records first, so senders stop looking; the policy file last */
		if ((r = diff_slot(d, &sts, want, prev)) < 0 ||
		    (r = diff_slot(d, &rpt, want, prev)) < 0 ||
		    (r = diff_slot(d, &host, want, prev)) < 0 || (r = diff_policy(d)) < 0)
			return r;
	} else {
		/* the policy host first, then the policy, then the records naming it */
		if ((r = diff_slot(d, &host, want, prev)) < 0 || (r = diff_policy(d)) < 0 ||
		    (r = diff_slot(d, &sts, want, prev)) < 0 ||
		    (r = diff_slot(d, &rpt, want, prev)) < 0)
			return r;
	}
	if (d->err < 0) {
		/* a conflict: nothing of this domain is changed */
		for (size_t i = 0; i < d->n_changes; i++)
			change_release(&d->changes[i]);
		d->n_changes = 0;
	}
	return STS_OK;
}

static int order_cmp(const void *x, const void *y, void *base)
{
	const struct sts_plan_domain *v = base;
	const struct sts_plan_domain *a = &v[*(const size_t *)x], *b = &v[*(const size_t *)y];
	int c = strcmp(a->dns ? a->dns : "", b->dns ? b->dns : "");
	if (c == 0)
		c = strcmp(a->zone ? a->zone : "", b->zone ? b->zone : "");
	return c ? c : strcmp(a->name, b->name);
}

STS_API void sts_plan_order(const struct sts_plan *p, size_t *order, size_t n)
{
	qsort_r(order, n, sizeof(*order), order_cmp, p->domains);
}

STS_API size_t sts_plan_group_end(const struct sts_plan *p, const size_t *order, size_t n, size_t i)
{
	const struct sts_plan_domain *d = &p->domains[order[i]];
	size_t j = i + 1;
	while (j < n && strcmp(p->domains[order[j]].dns, d->dns) == 0 &&
	       strcmp(p->domains[order[j]].zone, d->zone) == 0)
		j++;
	return j;
}

STS_API int sts_limits_set_dns(struct sts_limits *l, const struct sts_io *io, const char *dns)
{
	struct sts_dns_caps caps = {0};
	if (io->ops->dns_caps)
		io->ops->dns_caps(io->ud, dns, &caps);
	int r = sts_limits_set(l, dns, caps.max_concurrency);
	if (r == STS_OK)
		sts_limits_set_rate(l, dns, caps.rate_per_sec);
	return r;
}

STS_API int sts_limits_set_web(struct sts_limits *l, const struct sts_io *io, const char *web)
{
	struct sts_web_caps caps = {0};
	if (io->ops->web_caps)
		io->ops->web_caps(io->ud, web, &caps);
	return sts_limits_set(l, web, caps.max_concurrency);
}
