/* SPDX-License-Identifier: MIT */
/* Building the plan: desired state per domain, reads of the actual state, fingerprints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <pthread.h>

#include "sts_buf.h"
#include "sts_diag_json.h"
#include "sts_dname.h"
#include "sts_err.h"
#include "sts_plan.h"
#include "sts_plan_hosted.h"
#include "sts_rollout.h"
#include "sts_plugin.h"
#include "sts_render.h"
#include "sts_reporters.h"

#define STS_PREFIX "v=STSv1"

/* ------------------------------------------------------------------ */
/* building the plan                                                  */
/* ------------------------------------------------------------------ */

struct work {
	const struct sts_domain *dom; /* inventory domain, or &tmp */
	struct sts_domain tmp;	      /* rebuilt from the DB spec (removed domains) */
	json_t *prev;		      /* spec stored by the last apply, or NULL */
	const struct sts_db_domain *db;
	struct sts_rrsets want;
	bool read_web;
};

struct task {
	bool web;     /* web get of one domain, or DNS read of one zone group */
	size_t first; /* index into order[] (DNS) or domains[] (web) */
	size_t n;
};

struct builder {
	const struct sts_inventory *inv;
	struct sts_db *db;
	const struct sts_io *io;
	struct sts_plan *p;
	struct work *w;
	size_t *order; /* domain indexes sorted by (dns, zone, name) */
	struct task *tasks;
	size_t n_tasks;
	struct sts_limits *lim;
	struct sts_rollout_modes *modes; /* stages of the domains under rollout */
	const struct sts_plan_opts *opts;
	/* progress: reads left per domain; domains done, failed of them */
	pthread_mutex_t mu;
	unsigned *left;
	size_t done, failed;
	/* the tasks per provider; a worker takes the next task of a provider
	 * with a free slot (or down), so none waits on one provider while
	 * another has work and room (qmu, qcv: signalled after every task) */
	struct queue *q;
	size_t n_q, q_next;
	bool q_init;
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
};

struct queue {
	const char *provider; /* its limit's name; NULL: the task takes its own slots */
	size_t *v;	      /* task indexes, in order */
	size_t n, next;
};

static int json_str_set(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, v ? json_string(v) : json_null());
}

/* What the DB keeps per domain so a removed domain can still be taken down. */
static char *spec_json(const struct sts_domain *dom, const struct sts_plan_domain *d,
		       const struct sts_rrsets *want)
{
	json_t *o = json_object();
	json_t *recs = json_array();
	json_t *verify = json_object();
	char *s = NULL;
	if (!o || !recs || !verify)
		goto out;
	for (size_t i = 0; i < want->n; i++)
		json_array_append_new(recs, json_pack("[ss]", want->v[i].name, want->v[i].type));
	json_object_set_new(verify, "https", json_boolean(d->verify_https));
	json_str_set(verify, "ca_file", d->ca_file);
	json_str_set(verify, "resolve", d->resolve);
	if (json_object_set_new(o, "v", json_integer(1)) < 0 ||
	    json_str_set(o, "zone", d->zone) < 0 || json_str_set(o, "dns", d->dns) < 0 ||
	    json_str_set(o, "web", d->web) < 0 || json_str_set(o, "tenant", dom->tenant) < 0 ||
	    json_str_set(o, "hosting",
			 dom->hosting == STS_HOSTING_DELEGATED ? "delegated"
			 : dom->hosting == STS_HOSTING_HOSTED  ? "hosted"
							       : "self") < 0 ||
	    json_str_set(o, "delegate_sts", dom->delegate_sts) < 0 ||
	    json_str_set(o, "delegate_policy", dom->delegate_policy) < 0 ||
	    json_object_set_new(o, "mx", sts_json_strv(dom->mx, dom->n_mx)) < 0 ||
	    json_object_set_new(o, "rua", sts_json_strv(dom->rua, dom->n_rua)) < 0 ||
	    json_str_set(o, "mode", sts_mode_name(dom->mode)) < 0 ||
	    json_object_set_new(o, "max_age", json_integer(dom->max_age)) < 0 ||
	    json_object_set_new(o, "ttl", json_integer(dom->ttl)) < 0 ||
	    json_object_set(o, "verify", verify) < 0 || json_object_set(o, "records", recs) < 0)
		goto out;
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
out:
	json_decref(o);
	json_decref(recs);
	json_decref(verify);
	return s;
}

static char **json_strv(const json_t *a, size_t *ret_n)
{
	size_t n = json_array_size(a);
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (s)
			v[k++] = (char *)s; /* borrowed from the spec */
	}
	*ret_n = k;
	return v;
}

/* A removed domain as the last apply knew it (strings borrowed from w->prev). */
static int domain_from_spec(struct work *w, const char *name)
{
	struct sts_domain *t = &w->tmp;
	const json_t *o = w->prev;
	memset(t, 0, sizeof(*t));
	t->name = (char *)name;
	t->zone = (char *)json_string_value(json_object_get(o, "zone"));
	t->dns = (char *)json_string_value(json_object_get(o, "dns"));
	t->web = (char *)json_string_value(json_object_get(o, "web"));
	t->tenant = (char *)json_string_value(json_object_get(o, "tenant"));
	const char *h = json_string_value(json_object_get(o, "hosting"));
	t->hosting = h && strcmp(h, "delegated") == 0 ? STS_HOSTING_DELEGATED
		     : h && strcmp(h, "hosted") == 0  ? STS_HOSTING_HOSTED
						      : STS_HOSTING_SELF;
	t->delegate_sts = (char *)json_string_value(json_object_get(o, "delegate_sts"));
	t->delegate_policy = (char *)json_string_value(json_object_get(o, "delegate_policy"));
	t->mx = json_strv(json_object_get(o, "mx"), &t->n_mx);
	t->rua = json_strv(json_object_get(o, "rua"), &t->n_rua);
	if (!t->mx || !t->rua)
		return STS_ENOMEM;
	t->mode = STS_MODE_NONE;
	t->max_age = json_integer_value(json_object_get(o, "max_age"));
	if (t->max_age <= 0)
		t->max_age = STS_DEFAULT_MAX_AGE;
	json_int_t ttl = json_integer_value(json_object_get(o, "ttl"));
	t->ttl = ttl > 0 ? (uint32_t)ttl : STS_DEFAULT_TTL;
	/* hosted: the spec's zone is the MSP zone (set again from the inventory) */
	if (!t->zone || t->hosting == STS_HOSTING_HOSTED)
		t->zone = t->name;
	t->state = STS_STATE_ABSENT;
	t->verify = json_object_get(o, "verify");
	w->dom = t;
	return STS_OK;
}

/* verify.https / ca_file / resolve: domain (-> tenant -> defaults), then the web provider. */
static int verify_conf(struct builder *b, struct sts_plan_domain *d, const struct sts_domain *dom)
{
	const json_t *chain[2] = {dom->verify, NULL};
	const struct sts_provider *prov = d->web ? sts_inventory_provider(b->inv, d->web) : NULL;
	if (prov && prov->settings)
		chain[1] = json_object_get(prov->settings, "verify");
	struct sts_web_caps caps = {.verify_https = true};
	if (d->web && b->io->ops->web_caps)
		b->io->ops->web_caps(b->io->ud, d->web, &caps);
	d->verify_https = caps.verify_https;
	bool https_set = false;
	const char *ca = NULL, *res = NULL;
	for (int i = 0; i < 2; i++) {
		const json_t *v = chain[i];
		if (!json_is_object(v))
			continue;
		const json_t *x = json_object_get(v, "https");
		if (!https_set && json_is_boolean(x)) {
			d->verify_https = json_is_true(x);
			https_set = true;
		}
		if (!ca)
			ca = json_string_value(json_object_get(v, "ca_file"));
		if (!res)
			res = json_string_value(json_object_get(v, "resolve"));
	}
	if (ca && ca[0] != '/' && b->inv->dir) {
		if (asprintf(&d->ca_file, "%s/%s", b->inv->dir, ca) < 0)
			return STS_ENOMEM;
	} else if (ca && !(d->ca_file = strdup(ca))) {
		return STS_ENOMEM;
	}
	if (res && !(d->resolve = strdup(res)))
		return STS_ENOMEM;
	return STS_OK;
}

/* Policy host records named by the web provider: "address" (IPs) and/or "cname". */
static int host_records(struct builder *b, const struct sts_domain *dom, struct sts_rrsets *want)
{
	const struct sts_provider *prov =
	    dom->web ? sts_inventory_provider(b->inv, dom->web) : NULL;
	if (!prov || !json_is_object(prov->settings) || dom->hosting != STS_HOSTING_SELF)
		return STS_OK;
	char name[300];
	snprintf(name, sizeof(name), "mta-sts.%s.", dom->name);
	const json_t *addr = json_object_get(prov->settings, "address");
	const char *cname = json_string_value(json_object_get(prov->settings, "cname"));
	json_t *one = NULL;
	if (json_is_string(addr))
		addr = one = json_pack("[O]", addr);
	size_t i;
	const json_t *e;
	json_array_foreach(addr, i, e)
	{
		const char *ip = json_string_value(e);
		if (!ip)
			continue;
		const char *type = strchr(ip, ':') ? "AAAA" : "A";
		struct sts_rrset *rr = (struct sts_rrset *)sts_rrsets_find(want, name, type);
		if (!rr)
			rr = sts_rrsets_add(want, name, type, dom->ttl);
		if (!rr || sts_rrset_add_value(rr, ip, strlen(ip)) < 0) {
			json_decref(one);
			return STS_ENOMEM;
		}
	}
	json_decref(one);
	if (cname && !json_array_size(addr)) {
		size_t n = strlen(cname);
		struct sts_rrset *rr = sts_rrsets_add(want, name, "CNAME", dom->ttl);
		char *v = NULL;
		if (!rr || asprintf(&v, "%s%s", cname, n && cname[n - 1] == '.' ? "" : ".") < 0)
			return STS_ENOMEM;
		int r = sts_rrset_add_value(rr, v, strlen(v));
		free(v);
		return r;
	}
	return STS_OK;
}

/*
 * The TTLs of want as the domain's dns provider keeps them
 * (sts_dns_caps.kept_ttls): a provider that rounds TTLs (Linode) would
 * otherwise be asked for the same change on every run.
 */
static void kept_ttls(const struct builder *b, const struct sts_plan_domain *d,
		      struct sts_rrsets *want)
{
	struct sts_dns_caps caps = {0};
	if (!d->dns || !b->io->ops->dns_caps || b->io->ops->dns_caps(b->io->ud, d->dns, &caps) < 0)
		return;
	for (size_t i = 0; i < want->n; i++)
		want->v[i].ttl = sts_dns_caps_ttl(&caps, want->v[i].ttl);
}

/* Render the domain and fill the desired policy and want. */
static int desire(struct builder *b, struct sts_plan_domain *d, struct work *w)
{
	struct sts_rendered rd;
	const char *why = NULL;
	enum sts_mode ov = d->phase == STS_PHASE_PRESENT ? STS_MODE_INVALID : STS_MODE_NONE;
	d->inventory_mode = w->dom->mode;
	if (ov == STS_MODE_INVALID) {
		/* the stage, under the operator's controls (docs/rollout.md) */
		const struct sts_rollout_state *st =
		    sts_rollout_domain_mode(b->modes, w->dom, &d->rollout);
		d->under_rollout = st != NULL;
		d->stage_mode =
		    st ? sts_stage_mode(st->pending != STS_STAGE_INVALID ? st->pending : st->stage)
		       : w->dom->mode;
		ov = d->rollout.mode;
	}
	memset(&rd, 0, sizeof(rd));
	int r = sts_render_domain_why(w->dom, ov, &rd, &why);
	if (r == STS_ENOMEM)
		return r;
	if (r < 0) {
		sts_plan_domain_fail(d, STS_EINVALID, "cannot render '%s': %s", d->name,
				     why ? why : sts_strerror(r));
		return STS_OK;
	}
	bool hosted = w->dom->hosting == STS_HOSTING_HOSTED;
	if (rd.policy_text && (w->dom->hosting == STS_HOSTING_SELF || hosted)) {
		if (!(d->policy_text = strdup(rd.policy_text))) {
			r = STS_ENOMEM;
			goto out;
		}
		memcpy(d->id, rd.id, sizeof(d->id));
		d->mode = rd.mode;
		d->max_age = rd.max_age;
	}
	/* hosted: only the TXT in the MSP zone (_smtp._tls.D is the customer's) */
	if (hosted && (r = sts_plan_hosted_want(d, w->dom->ttl, &w->want)) < 0)
		goto out;
	for (size_t i = 0; !hosted && i < rd.n_records; i++) {
		const struct sts_record *rec = &rd.records[i];
		struct sts_rrset *rr =
		    (struct sts_rrset *)sts_rrsets_find(&w->want, rec->name, rec->type);
		if (!rr)
			rr = sts_rrsets_add(&w->want, rec->name, rec->type, rec->ttl);
		if (!rr || sts_rrset_add_value(rr, rec->value, strlen(rec->value)) < 0) {
			r = STS_ENOMEM;
			goto out;
		}
	}
	if (d->phase == STS_PHASE_PRESENT)
		r = host_records(b, w->dom, &w->want);
	if (r == STS_OK)
		kept_ttls(b, d, &w->want);
out:
	sts_rendered_release(&rd);
	return r;
}

static void lower(char *s)
{
	for (; s && *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * Normalised targets, as the inventory stores names (sts_dname: A-labels,
 * lower case, no trailing dot); one that does not convert stays as given,
 * lowered (it is then unknown).
 */
static int norm_targets(const struct sts_plan_opts *o, char ***ret)
{
	size_t n = o ? o->n_targets : 0;
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return STS_ENOMEM;
	*ret = v; /* the caller frees v, also on failure */
	for (size_t i = 0; i < n; i++) {
		int r = sts_dname_normalize(o->targets[i], 0, &v[i], NULL);
		if (r == STS_ENOMEM)
			return r;
		if (r < 0 && !(v[i] = strdup(o->targets[i])))
			return STS_ENOMEM;
		lower(v[i]);
		size_t k = strlen(v[i]);
		if (k > 1 && v[i][k - 1] == '.')
			v[i][k - 1] = '\0';
	}
	return STS_OK;
}

/* "unknown domain 'bücher.example' (xn--bcher-kva.example)": both spellings */
static void unknown_target(struct sts_diags *diags, const char *input, const char *name)
{
	char *u = NULL;
	const char *a = input, *b = NULL;
	if (!sts_dname_eq(input, name))
		b = name;
	else if (sts_dname_to_unicode(name, &u) == STS_OK && strcmp(u, name) != 0)
		a = name, b = u;
	if (b)
		sts_diags_error(
		    diags, NULL,
		    "unknown domain '%s' (%s): not in the inventory nor in the state DB", a, b);
	else
		sts_diags_error(diags, NULL,
				"unknown domain '%s': not in the inventory nor in the state DB", a);
	free(u);
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* t sorted: is name one of them? Without targets every domain is, unless scoped. */
static bool targeted(char *const *t, size_t n, bool scoped, const char *name)
{
	if (n == 0)
		return !scoped;
	return bsearch(&name, t, n, sizeof(*t), str_cmp) != NULL;
}

static int db_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct sts_db_domain *)elem)->domain);
}

/*
 * A domain of the inventory without "zone" (the inventory then makes the
 * zone its name, the very pointer) below its organisational domain
 * (mail.example.com): when the DNS provider's plugin lists its zones, the
 * zone is the longest of them that holds the name. An organisational
 * domain is its own zone, as before, without asking; and when no listed
 * zone holds the name (or the list cannot be had: the read then says why),
 * it stays the name too.
 */
static int zone_of(struct builder *b, struct sts_plan_domain *d)
{
	char *const *zones = NULL;
	size_t n = 0;
	char *err = NULL;
	char *org = NULL;
	if (!b->io->ops->dns_zones)
		return STS_OK;
	int r = sts_reporters_orgdomain(d->name, &org);
	bool below = r == STS_OK && !sts_dname_eq(org, d->name);
	free(org);
	if (r == STS_ENOMEM || !below)
		return r == STS_ENOMEM ? r : STS_OK;
	r = b->io->ops->dns_zones(b->io->ud, d->dns, &zones, &n, &err);
	const char *z = r == STS_OK ? sts_zone_longest_suffix(d->name, zones, n) : NULL;
	/* a plugin that cannot be opened is reported by the read, as before */
	if (r < 0 && r != STS_EUNSUPPORTED && r != STS_ENOMEM && r != STS_EPLUGIN && r != STS_EABI)
		sts_plan_domain_fail(d, r, "cannot list the zones of provider '%s': %s", d->dns,
				     err ? err : sts_strerror(r));
	free(err);
	if (r == STS_ENOMEM)
		return r;
	if (!z)
		return STS_OK;
	char *copy = strdup(z);
	if (!copy)
		return STS_ENOMEM;
	free(d->zone);
	d->zone = copy;
	return STS_OK;
}

static int add_domain(struct builder *b, const struct sts_domain *dom,
		      const struct sts_db_domain *dbd, const char *name, bool for_apply)
{
	struct sts_plan *p = b->p;
	struct sts_plan_domain *d = &p->domains[p->n_domains];
	struct work *w = &b->w[p->n_domains];
	p->n_domains++;
	sts_rrsets_init(&d->actual.rr);
	sts_rrsets_init(&w->want);
	w->db = dbd;
	d->mode = STS_MODE_INVALID;
	if (!(d->name = strdup(name)))
		return STS_ENOMEM;
	/* the last apply's spec: parsed now only when the domain is not in the
	 * inventory; otherwise later, only when the diff needs it (prev_needed) */
	if (dbd && dbd->spec && !dom && !(w->prev = json_loads(dbd->spec, 0, NULL)))
		sts_plan_domain_fail(d, STS_EDB, "state of '%s' in the DB is not valid JSON", name);
	d->managed = dbd != NULL;
	d->removal_started = dbd ? dbd->removal_started : 0;
	d->in_inventory = dom != NULL;
	if (dom) {
		w->dom = dom;
	} else if (w->prev) {
		int r = domain_from_spec(w, d->name);
		if (r < 0)
			return r;
	} else {
		sts_plan_domain_fail(
		    d, STS_EDB, "'%s' is managed but the DB has no record of its providers", name);
		return STS_OK;
	}
	dom = w->dom;
	d->hosting = dom->hosting;
	if (dom->tenant && !(d->tenant = strdup(dom->tenant)))
		return STS_ENOMEM;
	if (!(d->zone = strdup(dom->zone ? dom->zone : dom->name)) ||
	    (dom->dns && !(d->dns = strdup(dom->dns))) ||
	    (dom->web && !(d->web = strdup(dom->web))))
		return STS_ENOMEM;
	bool hosted = dom->hosting == STS_HOSTING_HOSTED;
	if (hosted) {
		int r = sts_plan_hosted_setup(b->inv, b->db, d);
		if (r < 0)
			return r;
	} else if (d->in_inventory && dom->zone == dom->name && d->dns) {
		int r = zone_of(b, d);
		if (r < 0)
			return r;
	}

	/* the phase (RFC 8461 §8.3 for everything not wanted any more) */
	if (dom->state == STS_STATE_PRESENT && d->in_inventory) {
		d->phase = STS_PHASE_PRESENT;
	} else if (dom->hosting == STS_HOSTING_DELEGATED) {
		d->phase = STS_PHASE_REMOVE_DELETE; /* the provider serves the policy */
	} else if (!d->removal_started) {
		d->phase = STS_PHASE_REMOVE_START;
	} else {
		int64_t dl = 0;
		int r = b->db ? sts_db_removal_deadline(b->db, name, &dl) : STS_ENOENT;
		if (r == STS_ENOMEM)
			return r;
		if (r < 0)
			dl = d->removal_started + STS_DB_NO_HISTORY_WAIT;
		d->removal_deadline = dl;
		d->phase = p->now < dl ? STS_PHASE_REMOVE_WAIT : STS_PHASE_REMOVE_DELETE;
	}
	if (d->dns == NULL)
		sts_plan_domain_fail(d, STS_EINVALID, "'%s' has no dns provider", name);
	if (dom->hosting == STS_HOSTING_SELF && d->web == NULL)
		sts_plan_domain_fail(d, STS_EINVALID, "'%s' has no web provider", name);
	int r = verify_conf(b, d, dom);
	if (r < 0)
		return r;
	/* hosted: the policy is verified where senders fetch it, always */
	d->verify_https = d->verify_https || hosted;
	w->read_web = (d->web && dom->hosting == STS_HOSTING_SELF) || hosted;
	if (d->phase != STS_PHASE_REMOVE_DELETE) {
		r = desire(b, d, w);
		if (r < 0)
			return r;
	}
	/* present domains refresh their spec; others keep the last one */
	if (for_apply &&
	    (d->phase == STS_PHASE_PRESENT || (d->in_inventory && !(dbd && dbd->spec))) &&
	    !(d->spec = spec_json(dom, d, &w->want)))
		return STS_ENOMEM;
	return STS_OK;
}

/* ---- reading the actual state ---- */

static int copy_rrset(struct sts_rrsets *dst, const struct sts_rrset *src)
{
	struct sts_rrset *rr = sts_rrsets_add(dst, src->name, src->type, src->ttl);
	if (!rr)
		return STS_ENOMEM;
	for (size_t i = 0; i < src->n_values; i++)
		if (sts_rrset_add_value(rr, src->values[i], strlen(src->values[i])) < 0)
			return STS_ENOMEM;
	return STS_OK;
}

/* The domain of the group [first, first+n) owning name, or NULL. */
static struct sts_plan_domain *owner_of(struct builder *b, size_t first, size_t n, const char *name)
{
	static const char *const pre[] = {"_mta-sts.", "_smtp._tls.", "mta-sts."};
	for (size_t k = 0; k < 3; k++) {
		size_t pl = strlen(pre[k]);
		if (strncasecmp(name, pre[k], pl) != 0)
			continue;
		char key[300];
		snprintf(key, sizeof(key), "%s", name + pl);
		size_t kl = strlen(key);
		if (kl && key[kl - 1] == '.')
			key[kl - 1] = '\0';
		lower(key);
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			struct sts_plan_domain *d = &b->p->domains[b->order[first + mid]];
			int c = strcmp(key, d->name);
			if (c == 0)
				return d;
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return NULL;
}

static void read_zone(struct builder *b, const struct task *t)
{
	struct sts_plan_domain *d0 = &b->p->domains[b->order[t->first]];
	const char **names = calloc(t->n * 3 + 1, sizeof(*names));
	char *buf = calloc(t->n * 3, 300);
	struct sts_rrsets got;
	char *err = NULL;
	int r = STS_ENOMEM;
	sts_rrsets_init(&got);
	if (!names || !buf)
		goto out;
	for (size_t i = 0; i < t->n; i++) {
		const char *nm = b->p->domains[b->order[t->first + i]].name;
		static const char *const pre[] = {"_mta-sts.", "_smtp._tls.", "mta-sts."};
		for (size_t k = 0; k < 3; k++) {
			char *s = buf + (i * 3 + k) * 300;
			snprintf(s, 300, "%s%s.", pre[k], nm);
			names[i * 3 + k] = s;
		}
	}
	/* many names of one zone: read it whole where the plugin can (one
	 * listing with paging instead of a read per name); owner_of() keeps
	 * only the rrsets of these domains */
	struct sts_dns_caps caps = {0};
	bool whole = t->n >= STS_PLAN_READ_ZONE_MIN && b->io->ops->dns_caps &&
		     b->io->ops->dns_caps(b->io->ud, d0->dns, &caps) == STS_OK && caps.read_zone;
	r = b->io->ops->dns_read(b->io->ud, d0->dns, d0->zone, whole ? NULL : names,
				 whole ? 0 : t->n * 3, &got, &err);
	if (r == STS_ENOENT)
		r = STS_OK; /* no zone yet: nothing published */
	for (size_t i = 0; r == STS_OK && i < got.n; i++) {
		struct sts_plan_domain *d = owner_of(b, t->first, t->n, got.v[i].name);
		if (d)
			r = copy_rrset(&d->actual.rr, &got.v[i]);
	}
out:
	if (r < 0) {
		for (size_t i = 0; i < t->n; i++) {
			struct sts_plan_domain *d = &b->p->domains[b->order[t->first + i]];
			if (r == STS_ENOMEM)
				sts_plan_domain_fail(d, r, "out of memory reading zone '%s'",
						     d->zone);
			else
				sts_plan_domain_fail(d, r, "cannot read zone '%s': %s", d->zone,
						     err ? err : sts_strerror(r));
		}
	}
	free(err);
	sts_rrsets_release(&got);
	free(names);
	free(buf);
}

static void read_web(struct builder *b, struct sts_plan_domain *d)
{
	char host[300];
	char *err = NULL;
	struct sts_buf buf;
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	sts_buf_init(&buf, STS_CAP_POLICY);
	int r = b->io->ops->web_get(b->io->ud, d->web, host, &buf, &err);
	if (r == STS_OK) {
		d->actual.have_policy = true;
		d->actual.policy = sts_buf_steal(&buf);
		if (!d->actual.policy && !(d->actual.policy = strdup("")))
			r = STS_ENOMEM;
	} else if (r == STS_ENOENT) {
		r = STS_OK;
	}
	if (r < 0)
		sts_plan_domain_fail(d, r, "cannot read the policy of '%s': %s", host,
				     err ? err : sts_strerror(r));
	free(err);
	sts_buf_release(&buf);
}

/* Domain i had one read more, or none (left 0): done when it has no read left. */
static void domain_read(struct builder *b, size_t i)
{
	if (b->left[i] && --b->left[i])
		return;
	b->done++;
	b->failed += b->p->domains[i].err < 0;
}

static bool provider_down(const struct builder *b, const char *provider)
{
	char *why = NULL;
	bool down = b->io->ops->down && b->io->ops->down(b->io->ud, provider, &why) == 1;
	free(why);
	return down;
}

/*
 * The next task to run: of the providers in turn, the first with a task
 * left and a free slot (held on return: *ret_slot), or that is down (its
 * reads fail at once, no slot needed). Waits only when every provider
 * with tasks left is busy.
 */
static size_t take_task(struct builder *b, const char **ret_slot)
{
	size_t t = SIZE_MAX;
	*ret_slot = NULL;
	pthread_mutex_lock(&b->qmu);
	while (t == SIZE_MAX) {
		bool left = false;
		for (size_t k = 0; k < b->n_q && t == SIZE_MAX; k++) {
			struct queue *q = &b->q[(b->q_next + k) % b->n_q];
			if (q->next == q->n)
				continue;
			left = true;
			bool down = q->provider && provider_down(b, q->provider);
			if (q->provider && !down && !sts_limits_try_acquire(b->lim, q->provider))
				continue;
			*ret_slot = q->provider && !down ? q->provider : NULL;
			t = q->v[q->next++];
			b->q_next = (b->q_next + k + 1) % b->n_q;
		}
		if (!left)
			break; /* cannot happen: the pool runs exactly n_tasks */
		if (t == SIZE_MAX)
			pthread_cond_wait(&b->qcv, &b->qmu);
	}
	pthread_mutex_unlock(&b->qmu);
	return t;
}

static void run_task(void *ud, size_t i)
{
	struct builder *b = ud;
	const char *slot;
	(void)i;
	size_t ti = take_task(b, &slot);
	if (ti == SIZE_MAX)
		return;
	const struct task *t = &b->tasks[ti];
	if (slot)
		sts_limits_pace(b->lim, slot);
	if (t->web && b->p->domains[t->first].hosting == STS_HOSTING_HOSTED)
		sts_plan_hosted_read(b->db, b->io, b->lim, &b->p->domains[t->first]);
	else if (t->web)
		read_web(b, &b->p->domains[t->first]);
	else
		read_zone(b, t);
	if (slot)
		sts_limits_release(b->lim, slot);
	pthread_mutex_lock(&b->qmu);
	pthread_cond_broadcast(&b->qcv);
	pthread_mutex_unlock(&b->qmu);
	if (!b->opts || !b->opts->progress)
		return;
	pthread_mutex_lock(&b->mu);
	for (size_t k = 0; k < t->n; k++)
		domain_read(b, t->web ? t->first : b->order[t->first + k]);
	b->opts->progress(b->opts->progress_ud, b->done, b->p->n_domains, b->failed);
	pthread_mutex_unlock(&b->mu);
}

/* The provider whose slot task ti holds: its limit's name, or NULL (hosted). */
static const char *task_provider(const struct builder *b, size_t ti)
{
	const struct task *t = &b->tasks[ti];
	const struct sts_plan_domain *d = &b->p->domains[t->web ? t->first : b->order[t->first]];
	if (t->web && d->hosting == STS_HOSTING_HOSTED)
		return NULL;
	return t->web && d->web ? d->web : d->dns;
}

/* Queue every task under its provider. */
static int queues_make(struct builder *b)
{
	if (!(b->q = calloc(b->n_tasks + 1, sizeof(*b->q))))
		return STS_ENOMEM;
	for (size_t ti = 0; ti < b->n_tasks; ti++) {
		const char *pr = task_provider(b, ti);
		size_t k = 0;
		while (k < b->n_q &&
		       !(b->q[k].provider == pr ||
			 (pr && b->q[k].provider && strcmp(b->q[k].provider, pr) == 0)))
			k++;
		struct queue *q = &b->q[k];
		if (k == b->n_q) {
			b->n_q++;
			q->provider = pr;
			if (!(q->v = calloc(b->n_tasks, sizeof(*q->v))))
				return STS_ENOMEM;
		}
		q->v[q->n++] = ti;
	}
	pthread_mutex_init(&b->qmu, NULL);
	pthread_cond_init(&b->qcv, NULL);
	b->q_init = true;
	return STS_OK;
}

/* Count the reads of each domain; report the domains that have none. */
static int progress_start(struct builder *b)
{
	if (!b->opts || !b->opts->progress)
		return STS_OK;
	if (!(b->left = calloc(b->p->n_domains + 1, sizeof(*b->left))))
		return STS_ENOMEM;
	pthread_mutex_init(&b->mu, NULL);
	for (size_t i = 0; i < b->n_tasks; i++)
		for (size_t k = 0; k < b->tasks[i].n; k++)
			b->left[b->tasks[i].web ? b->tasks[i].first
						: b->order[b->tasks[i].first + k]]++;
	for (size_t i = 0; i < b->p->n_domains; i++)
		if (!b->left[i])
			domain_read(b, i);
	b->opts->progress(b->opts->progress_ud, b->done, b->p->n_domains, b->failed);
	return STS_OK;
}

static int read_actual(struct builder *b, unsigned threads)
{
	struct sts_plan *p = b->p;
	int r = sts_limits_new(&b->lim);
	if (r < 0)
		return r;
	b->order = calloc(p->n_domains + 1, sizeof(*b->order));
	b->tasks = calloc(2 * p->n_domains + 1, sizeof(*b->tasks));
	if (!b->order || !b->tasks)
		return STS_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < p->n_domains; i++)
		if (p->domains[i].err == STS_OK && p->domains[i].dns &&
		    p->domains[i].hosting != STS_HOSTING_HOSTED) /* read with its policy */
			b->order[n++] = i;
	sts_plan_order(p, b->order, n);
	for (size_t i = 0; i < n;) {
		size_t j = sts_plan_group_end(p, b->order, n, i);
		b->tasks[b->n_tasks++] = (struct task){false, i, j - i};
		if ((r = sts_limits_set_dns(b->lim, b->io, p->domains[b->order[i]].dns)) < 0)
			return r;
		i = j;
	}
	for (size_t i = 0; i < p->n_domains; i++) {
		struct sts_plan_domain *d = &p->domains[i];
		if (d->err < 0 || !b->w[i].read_web)
			continue;
		b->tasks[b->n_tasks++] = (struct task){true, i, 1};
		if ((r = d->web ? sts_limits_set_web(b->lim, b->io, d->web)
				: sts_limits_set_dns(b->lim, b->io, d->dns)) < 0)
			return r;
	}
	if ((r = progress_start(b)) < 0 || (r = queues_make(b)) < 0)
		return r;
	return sts_pool_run(b->n_tasks, threads, run_task, b);
}

/* ---- fingerprints ---- */

static int rr_cmp(const void *x, const void *y)
{
	const struct sts_rrset *a = *(const struct sts_rrset *const *)x;
	const struct sts_rrset *b = *(const struct sts_rrset *const *)y;
	int c = strcasecmp(a->name, b->name);
	return c ? c : strcmp(a->type, b->type);
}

static int str_pcmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void hash_str(EVP_MD_CTX *c, const char *s)
{
	if (s)
		EVP_DigestUpdate(c, s, strlen(s) + 1); /* with the NUL as separator */
	else
		EVP_DigestUpdate(c, "\x01", 2);
}

static void hash_hex(EVP_MD_CTX *c, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(c, md, &n);
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int fingerprint_domain(struct sts_plan_domain *d)
{
	const struct sts_rrset **v = calloc(d->actual.rr.n + 1, sizeof(*v));
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int r = STS_ENOMEM;
	if (!v || !c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		goto out;
	hash_str(c, d->actual.have_policy ? d->actual.policy : NULL);
	for (size_t i = 0; i < d->actual.rr.n; i++)
		v[i] = &d->actual.rr.v[i];
	qsort(v, d->actual.rr.n, sizeof(*v), rr_cmp);
	for (size_t i = 0; i < d->actual.rr.n; i++) {
		char ttl[16];
		snprintf(ttl, sizeof(ttl), "%u", v[i]->ttl);
		hash_str(c, v[i]->name);
		hash_str(c, v[i]->type);
		hash_str(c, ttl);
		char **vals = calloc(v[i]->n_values + 1, sizeof(*vals));
		if (!vals)
			goto out;
		memcpy(vals, v[i]->values, v[i]->n_values * sizeof(*vals));
		qsort(vals, v[i]->n_values, sizeof(*vals), str_pcmp);
		for (size_t k = 0; k < v[i]->n_values; k++)
			hash_str(c, vals[k]);
		free(vals);
	}
	hash_hex(c, d->fingerprint);
	r = STS_OK;
out:
	EVP_MD_CTX_free(c);
	free(v);
	return r;
}

static int fingerprint_plan(struct sts_plan *p)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(c);
		return STS_ENOMEM;
	}
	for (size_t i = 0; i < p->n_domains; i++) {
		const struct sts_plan_domain *d = &p->domains[i];
		hash_str(c, d->name);
		hash_str(c, d->fingerprint);
		hash_str(c, sts_phase_name(d->phase));
		hash_str(c, d->errmsg);
		for (size_t k = 0; k < d->n_changes; k++) {
			const struct sts_change *ch = &d->changes[k];
			char ttl[16];
			snprintf(ttl, sizeof(ttl), "%u", ch->ttl_after);
			hash_str(c, sts_object_name(ch->object));
			hash_str(c, sts_action_name(ch->action));
			hash_str(c, ch->name);
			hash_str(c, ch->type);
			hash_str(c, ch->after);
			hash_str(c, ttl);
		}
	}
	hash_hex(c, p->fingerprint);
	EVP_MD_CTX_free(c);
	return STS_OK;
}

/*
 * Does the diff need the last apply's spec? Only to tell whether a CNAME, A
 * or AAAA rrset that is not wanted, or a TLS-RPT TXT that is not wanted any
 * more, was published by stsctl.
 */
static bool prev_needed(const struct sts_plan_domain *d, const struct sts_rrsets *want)
{
	if (d->phase != STS_PHASE_PRESENT)
		return true;
	for (size_t i = 0; i < d->actual.rr.n; i++) {
		const struct sts_rrset *a = &d->actual.rr.v[i];
		if (sts_rrsets_find(want, a->name, a->type))
			continue;
		if (strcmp(a->type, "TXT") != 0 || strncasecmp(a->name, "_smtp._tls.", 11) == 0)
			return true;
	}
	return false;
}

/* Is anything of stsctl's published for d (an absent domain nobody manages)? */
static bool anything_published(const struct sts_plan_domain *d)
{
	if (d->actual.have_policy)
		return true;
	for (size_t i = 0; i < d->actual.rr.n; i++) {
		const struct sts_rrset *rr = &d->actual.rr.v[i];
		if (strcmp(rr->type, "TXT") != 0 || strncasecmp(rr->name, "_mta-sts.", 9) != 0)
			continue;
		for (size_t k = 0; k < rr->n_values; k++)
			if (sts_txt_has_prefix(rr->values[k], STS_PREFIX))
				return true;
	}
	return false;
}

STS_API void sts_plan_free(struct sts_plan *p)
{
	if (!p)
		return;
	STS_ARRAY_FREE(p->domains, p->n_domains, sts_plan_domain_release);
	sts_plan_down_free(p->down, p->n_down);
	free(p->inventory_path);
	free(p);
}

STS_API bool sts_plan_removal_excessive(const struct sts_plan *p)
{
	/* 0: a plan made without the field (it cannot start removals in an
	 * empty scope), the whole of n_managed */
	size_t base = p->n_managed_scope ? p->n_managed_scope : p->n_managed;
	return p->n_removal_starts > 0 && p->n_removal_starts * 100 > base * STS_PLAN_REMOVAL_SHARE;
}

static int inv_name_cmp(const void *x, const void *y)
{
	return strcmp((*(const struct sts_domain *const *)x)->name,
		      (*(const struct sts_domain *const *)y)->name);
}

/* Failed domains whose DNS or web provider is down: reported once per provider.
 */
static int mark_down(struct builder *b)
{
	struct sts_plan *p = b->p;
	int r = STS_OK;
	for (size_t i = 0; i < p->n_domains && r == STS_OK; i++)
		if (p->domains[i].err < 0 && p->domains[i].err != STS_ENOMEM)
			r = sts_plan_down_add(&p->down, &p->n_down, b->io, &p->domains[i],
					      &p->domains[i].down);
	sts_plan_down_sort(p->down, p->n_down);
	return r;
}

STS_API int sts_plan_build(const struct sts_inventory *inv, struct sts_db *db,
			   const struct sts_io *io, const struct sts_plan_opts *opts,
			   struct sts_plan **ret, struct sts_diags *diags)
{
	struct builder b = {.inv = inv, .db = db, .io = io, .opts = opts};
	struct sts_db_domain *mv = NULL;
	size_t n_mv = 0;
	char **targets = NULL;
	size_t n_targets = opts ? opts->n_targets : 0;
	int r;
	struct sts_plan *p = calloc(1, sizeof(*p));
	if (!p)
		return STS_ENOMEM;
	b.p = p;
	p->version = STS_PLAN_FORMAT;
	p->now = db ? sts_db_now(db) : sts_clock_now(NULL);
	/* absolute, so 'apply PLANFILE' finds it from another directory */
	p->inventory_path =
	    inv->path && strcmp(inv->path, "-") != 0 ? realpath(inv->path, NULL) : NULL;
	if (!p->inventory_path && !(p->inventory_path = strdup(inv->path ? inv->path : "-"))) {
		r = STS_ENOMEM;
		goto out;
	}
	if (inv->path && strcmp(inv->path, "-") != 0)
		sts_file_sha256(inv->path, p->inventory_hash);
	if (db && (r = sts_db_domains_list(db, &mv, &n_mv)) < 0) {
		sts_diags_error(diags, NULL, "cannot read the state DB: %s", sts_db_errmsg(db));
		goto out;
	}
	p->n_managed = n_mv;
	if (db && (r = sts_rollout_modes_load(db, &b.modes)) < 0) {
		sts_diags_error(diags, NULL, "cannot read the rollout stages: %s",
				sts_db_errmsg(db));
		goto out;
	}
	if ((r = norm_targets(opts, &targets)) < 0)
		goto out;
	for (size_t i = 0; i < n_targets; i++) {
		/* a name as written in the inventory (a U-label) selects its A-label */
		const struct sts_domain *td = sts_inventory_find(inv, targets[i]);
		if (td && strcmp(td->name, targets[i]) != 0) {
			char *a = strdup(td->name);
			if (!a) {
				r = STS_ENOMEM;
				goto out;
			}
			free(targets[i]);
			targets[i] = a;
		}
		if (!td && !(n_mv && bsearch(targets[i], mv, n_mv, sizeof(*mv), db_cmp))) {
			unknown_target(diags, opts->targets[i], targets[i]);
			r = STS_ENOENT;
		}
	}
	if (r < 0)
		goto out;
	qsort(targets, n_targets, sizeof(*targets), str_cmp);
	p->domains = calloc(inv->n_domains + n_mv + 1, sizeof(*p->domains));
	b.w = calloc(inv->n_domains + n_mv + 1, sizeof(*b.w));
	if (!p->domains || !b.w) {
		r = STS_ENOMEM;
		goto out;
	}
	/* in name order from the start: the inventory sorted, merged with the DB's list */
	const struct sts_domain **iv = calloc(inv->n_domains + 1, sizeof(*iv));
	if (!iv) {
		r = STS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < inv->n_domains; i++)
		iv[i] = &inv->domains[i];
	qsort(iv, inv->n_domains, sizeof(*iv), inv_name_cmp);
	for (size_t i = 0, k = 0; r == STS_OK && (i < inv->n_domains || k < n_mv);) {
		int c = i == inv->n_domains ? 1
			: k == n_mv	    ? -1
					    : strcmp(iv[i]->name, mv[k].domain);
		const struct sts_domain *dom = c <= 0 ? iv[i] : NULL;
		const struct sts_db_domain *dbd = c >= 0 ? &mv[k] : NULL;
		const char *name = dom ? dom->name : dbd->domain;
		i += c <= 0;
		k += c >= 0;
		if (targeted(targets, n_targets, opts && opts->scoped, name)) {
			p->n_managed_scope += dbd != NULL; /* the removal rule's base */
			r = add_domain(&b, dom, dbd, name, opts && opts->for_apply);
		} else if (dbd && (!dom || dom->state == STS_STATE_ABSENT))
			p->n_removals_unscoped++; /* "N removals outside the scope not shown" */
	}
	free(iv);
	if (r < 0)
		goto out;
	r = read_actual(&b, opts && opts->concurrency ? opts->concurrency : 8);
	if (r < 0)
		goto out;
	if ((r = mark_down(&b)) < 0)
		goto out;
	for (size_t i = 0; i < p->n_domains; i++) {
		struct sts_plan_domain *d = &p->domains[i];
		if ((r = fingerprint_domain(d)) < 0)
			goto out;
		if (!d->managed && d->phase == STS_PHASE_REMOVE_START && !anything_published(d))
			d->phase = STS_PHASE_GONE;
		struct work *w = &b.w[i];
		if (!w->prev && w->db && w->db->spec && prev_needed(d, &w->want) &&
		    !(w->prev = json_loads(w->db->spec, 0, NULL)))
			sts_plan_domain_fail(d, STS_EDB,
					     "state of '%s' in the DB is not valid JSON", d->name);
		if (d->err == STS_OK && (r = sts_plan_diff_domain(d, &w->want, w->prev)) < 0)
			goto out;
		if (!d->managed && d->phase == STS_PHASE_REMOVE_DELETE && d->n_changes == 0)
			d->phase = STS_PHASE_GONE;
		p->n_changes += d->n_changes;
		if (d->err < 0)
			p->n_errors++;
		/* removals this plan starts (delegated domains go straight to delete) */
		if (d->managed && !d->removal_started &&
		    (d->phase == STS_PHASE_REMOVE_START || d->phase == STS_PHASE_REMOVE_DELETE))
			p->n_removal_starts++;
	}
	r = fingerprint_plan(p);
out:
	if (b.w) {
		for (size_t i = 0; i < p->n_domains; i++) {
			json_decref(b.w[i].prev);
			sts_rrsets_release(&b.w[i].want);
			free(b.w[i].tmp.mx);
			free(b.w[i].tmp.rua);
		}
	}
	free(b.w);
	sts_rollout_modes_free(b.modes);
	free(b.order);
	free(b.tasks);
	for (size_t k = 0; k < b.n_q; k++)
		free(b.q[k].v);
	free(b.q);
	if (b.q_init) {
		pthread_mutex_destroy(&b.qmu);
		pthread_cond_destroy(&b.qcv);
	}
	if (b.left)
		pthread_mutex_destroy(&b.mu);
	free(b.left);
	sts_limits_free(b.lim);
	for (size_t i = 0; targets && i < n_targets; i++)
		free(targets[i]);
	free(targets);
	sts_db_domains_free(mv, n_mv);
	if (r < 0) {
		sts_plan_free(p);
		return r;
	}
	*ret = p;
	return STS_OK;
}
