/* SPDX-License-Identifier: MIT */
/*
 * Inventory v1 (docs/inventory.md): parse with sts_jsonpos (every value
 * keeps its offset, so each diagnostic gets the true line and column),
 * validate every section reporting every problem, resolve inheritance
 * domain -> tenant -> defaults. Nothing here resolves or prints a secret.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_inventory_int.h"
#include "sts_secret.h"
#include "sts_inv_watch.h"

static const char *const root_keys[] = {"version", "defaults", "providers", "tenants", "domains",
					"reports", "watch",    "hosted",    "state"};
static const char *const state_names[] = {"present", "absent"};

/* ---- providers and tenants ---- */

/* Strings that start with "${" are meant as secret references: check
 * their syntax, never resolve nor print them. */
static void check_secrets(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	const char *why;
	if (v->type == STS_JSTRING && strncmp(v->u.s.p, "${", 2) == 0 &&
	    sts_secret_check(v->u.s.p, &why) != STS_OK)
		ERR(c, p, v->off, "invalid secret reference: %s", why);
	for (uint32_t i = 0; v->type == STS_JARRAY && i < v->u.a.n; i++) {
		struct pctx ep = {p, NULL, i};
		check_secrets(c, &ep, &v->u.a.v[i]);
	}
	for (uint32_t i = 0; v->type == STS_JOBJECT && i < v->u.o.n; i++) {
		struct pctx mp = {p, v->u.o.m[i].key, 0};
		check_secrets(c, &mp, &v->u.o.m[i].val);
	}
}

static void pos_of(struct vctx *c, uint32_t off, unsigned *line, unsigned *col)
{
	sts_inv_oom(c, sts_jlines_pos(&c->lines, off, line, col));
}

/* a provider's or a tenant's name: its key */
static void member_name_check(struct vctx *c, const struct pctx *p, const struct sts_jmember *m,
			      const char *what)
{
	char q[QUOTE_MAX + 4];
	if (!sts_inv_ident_ok(m->key, false))
		ERR(c, p, m->key_off,
		    "invalid %s name '%s' (letters, digits, '_', '-', '.'; at most 64)", what,
		    sts_inv_quote(q, m->key));
}

static void parse_providers(struct vctx *c, const struct sts_jval *v)
{
	char q[QUOTE_MAX + 4];
	struct pctx p = {&sts_inv_root, "providers", 0};
	if (!sts_inv_want(c, &p, v, STS_JOBJECT))
		return;
	struct sts_inventory *inv = c->inv;
	json_t *settings = json_object_get(inv->root, "providers");
	c->providers_j = v;
	inv->providers = calloc(v->u.o.n ? v->u.o.n : 1, sizeof(*inv->providers));
	if (!inv->providers || sts_inv_strmap_init(&c->priv->providers, v->u.o.n) < 0) {
		sts_inv_oom(c, STS_ENOMEM);
		return;
	}
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {&p, m->key, 0}, pp = {&mp, "plugin", 0};
		member_name_check(c, &mp, m, "provider");
		/* registered even when broken: references to it are not "undefined" */
		const struct sts_jval *plugin = NULL;
		if (sts_inv_want(c, &mp, &m->val, STS_JOBJECT)) {
			plugin = sts_jobj_get(&m->val, "plugin");
			if (!plugin)
				ERR(c, &mp, m->val.off,
				    "missing 'plugin' (the plugin this provider uses)");
			else if (sts_inv_want(c, &pp, plugin, STS_JSTRING) &&
				 !sts_inv_ident_ok(plugin->u.s.p, true))
				ERR(c, &pp, plugin->off,
				    "invalid plugin name '%s' (lower-case letters, digits, '_' and "
				    "'-')",
				    sts_inv_quote(q, plugin->u.s.p));
		}
		check_secrets(c, &mp, &m->val);
		struct sts_provider *pr = &inv->providers[inv->n_providers];
		pr->name = sts_arena_strndup(&c->priv->arena, m->key, m->key_len);
		if (!pr->name) {
			sts_inv_oom(c, STS_ENOMEM);
			return;
		}
		if (plugin && plugin->type == STS_JSTRING)
			pr->plugin = (char *)plugin->u.s.p;
		if (pr->plugin && !(pr->plugin = sts_arena_strndup(&c->priv->arena, pr->plugin,
								   plugin->u.s.len))) {
			sts_inv_oom(c, STS_ENOMEM);
			return;
		}
		pr->settings = json_object_get(settings, m->key);
		pos_of(c, m->val.off, &pr->line, &pr->col);
		if (m->val.type == STS_JOBJECT && m->val.u.o.n) {
			struct sts_provider_key *k =
			    sts_arena_alloc(&c->priv->arena, m->val.u.o.n * sizeof(*k));
			if (!k) {
				sts_inv_oom(c, STS_ENOMEM);
				return;
			}
			for (uint32_t j = 0; j < m->val.u.o.n; j++) {
				const struct sts_jmember *km = &m->val.u.o.m[j];
				if (!(k[j].key = sts_arena_strndup(&c->priv->arena, km->key,
								   km->key_len))) {
					sts_inv_oom(c, STS_ENOMEM);
					return;
				}
				pos_of(c, km->val.off, &k[j].line, &k[j].col);
			}
			pr->keys = k;
			pr->n_keys = m->val.u.o.n;
		}
		sts_inv_strmap_find(&c->priv->providers, pr->name, true,
				    (uint32_t)inv->n_providers++);
	}
}

static void parse_tenants(struct vctx *c, const struct sts_jval *v)
{
	struct pctx p = {&sts_inv_root, "tenants", 0};
	if (!sts_inv_want(c, &p, v, STS_JOBJECT))
		return;
	struct sts_inventory *inv = c->inv;
	json_t *settings = json_object_get(inv->root, "tenants");
	size_t n = v->u.o.n ? v->u.o.n : 1;
	c->tenants_j = v;
	inv->tenants = calloc(n, sizeof(*inv->tenants));
	c->priv->tenant_layers = calloc(n, sizeof(*c->priv->tenant_layers));
	if (!inv->tenants || !c->priv->tenant_layers ||
	    sts_inv_strmap_init(&c->priv->tenants, v->u.o.n) < 0) {
		sts_inv_oom(c, STS_ENOMEM);
		return;
	}
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {&p, m->key, 0};
		struct sts_tenant *t = &inv->tenants[i];
		member_name_check(c, &mp, m, "tenant");
		sts_inv_parse_layer(c, &mp, &m->val, &c->priv->tenant_layers[i], "a tenant");
		t->name = sts_arena_strndup(&c->priv->arena, m->key, m->key_len);
		if (!t->name) {
			sts_inv_oom(c, STS_ENOMEM);
			return;
		}
		t->settings = json_object_get(settings, m->key);
		pos_of(c, m->val.off, &t->line, &t->col);
		sts_inv_strmap_find(&c->priv->tenants, t->name, true, i);
		inv->n_tenants = i + 1;
	}
}

/* ---- domains ---- */

static bool zone_covers(const char *zone, const char *name)
{
	size_t z = strlen(zone), n = strlen(name);
	if (n == z)
		return strcmp(zone, name) == 0;
	return n > z && name[n - z - 1] == '.' && strcmp(name + n - z, zone) == 0;
}

struct dom {
	const struct pctx *p;
	const struct sts_jval *v;
	struct sts_domain *d;
	struct layer own;
	long tenant;
	bool tenant_bad; /* inherited values unknown: no "missing" errors */
	uint32_t name_off;
};

/* Values from the domain, else its tenant, else defaults, else built-in. */
static void resolve(struct vctx *c, struct dom *x)
{
	char q[QUOTE_MAX + 4], q2[QUOTE_MAX + 4];
	struct sts_domain *d = x->d;
	const struct layer *T = x->tenant >= 0 ? &c->priv->tenant_layers[x->tenant] : NULL;
	const struct layer *D = &c->priv->defaults, *src[N_FIELDS];
	bool given_mx = false;
	for (int f = 0; f < N_FIELDS; f++) {
		const struct layer *s = x->own.set & BIT(f)	 ? &x->own
					: T && (T->set & BIT(f)) ? T
					: D->set & BIT(f)	 ? D
								 : NULL;
		/* a value invalid where it was given is reported there, once */
		src[f] = s && !(s->bad & BIT(f)) ? s : NULL;
		given_mx |= f == F_MX && s;
	}
	d->mode = src[F_MODE] ? src[F_MODE]->mode : STS_DEFAULT_MODE;
	if (x->tenant_bad)
		given_mx = true; /* cannot tell: the tenant reference is reported */
	if (!given_mx && d->mode == STS_MODE_NONE)
		sts_inv_diag(c, STS_SEV_ERROR, "B12", x->p, x->v->off,
			     "no 'mx': a mode none policy keeps its mx lines (senders reject it "
			     "without); set 'mx' here, in the tenant or in defaults");
	else if (!given_mx)
		sts_inv_diag(
		    c, STS_SEV_ERROR, "B7", x->p, x->v->off,
		    "no 'mx': set the MX host patterns here, in the tenant or in defaults");
	d->max_age = src[F_MAX_AGE] ? src[F_MAX_AGE]->max_age : STS_DEFAULT_MAX_AGE;
	d->ttl = src[F_TTL] ? src[F_TTL]->ttl : STS_DEFAULT_TTL;
	if (src[F_MX]) {
		d->mx = src[F_MX]->mx;
		d->n_mx = src[F_MX]->n_mx;
	}
	if (src[F_TLSRPT]) {
		d->rua = src[F_TLSRPT]->rua;
		d->n_rua = src[F_TLSRPT]->n_rua;
	}
	d->dns = src[F_DNS] ? (char *)src[F_DNS]->dns : NULL;
	d->web = src[F_WEB] ? (char *)src[F_WEB]->web : NULL;
	d->hosting = src[F_HOSTING] ? src[F_HOSTING]->hosting : STS_HOSTING_SELF;
	if (d->hosting == STS_HOSTING_DELEGATED) {
		d->delegate_sts = src[F_HOSTING]->delegate_sts;
		d->delegate_policy = src[F_HOSTING]->delegate_policy;
	}
	d->verify = src[F_VERIFY] ? src[F_VERIFY]->verify : NULL;
	d->rollout = src[F_ROLLOUT] ? src[F_ROLLOUT]->rollout : NULL;
	d->rollout_settings = src[F_ROLLOUT] && src[F_ROLLOUT]->rollout_settings
				  ? src[F_ROLLOUT]->rollout_settings
				  : &c->priv->rollout_default;
	d->zone = d->name;
	if (!src[F_ZONE] || !d->name || x->tenant_bad)
		return;
	d->zone = src[F_ZONE]->zone;
	if (zone_covers(d->zone, d->name))
		return;
	if (src[F_ZONE] == &x->own) {
		struct pctx zp = {x->p, "zone", 0};
		ERR(c, &zp, x->own.zone_off, "zone '%s' is not '%s' or a parent of it",
		    sts_inv_quote(q, d->zone), sts_inv_quote(q2, d->name));
	} else {
		struct pctx np = {x->p, "name", 0};
		ERR(c, &np, x->name_off, "zone '%s' (from %s%s%s) is not '%s' or a parent of it",
		    sts_inv_quote(q, d->zone), src[F_ZONE] == T ? "tenant '" : "defaults",
		    src[F_ZONE] == T ? c->inv->tenants[x->tenant].name : "",
		    src[F_ZONE] == T ? "'" : "", sts_inv_quote(q2, d->name));
	}
}

static void domain_name(struct vctx *c, struct dom *x, const struct sts_jval *v, uint32_t idx)
{
	char q[QUOTE_MAX + 4], q2[QUOTE_MAX + 4];
	struct pctx np = {x->p, "name", 0};
	struct sts_domain *d = x->d;
	x->name_off = v->off;
	pos_of(c, v->off, &d->name_line, &d->name_col);
	if (!sts_inv_want(c, &np, v, STS_JSTRING))
		return;
	bool conv;
	const char *why = sts_inv_host_normalize(c, v->u.s.p, &d->name, &conv);
	if (!why)
		why = sts_inv_name_problem(d->name, false);
	if (why) {
		ERR(c, &np, v->off, "invalid domain name '%s': %s", sts_inv_quote(q, v->u.s.p),
		    why);
		d->name = NULL;
		return;
	}
	if (conv)
		sts_inv_diag(c, STS_SEV_INFO, NULL, &np, v->off, "converted '%s' to A-label '%s'",
			     sts_inv_quote(q, v->u.s.p), sts_inv_quote(q2, d->name));
	/* the longest name stsctl writes is _smtp._tls.D, 11 octets more than D */
	if (strlen(d->name) > 253 - 11)
		sts_inv_diag(
		    c, STS_SEV_WARNING, NULL, &np, v->off,
		    "domain name '%s' is %zu octets: its record '_smtp._tls.' + name would "
		    "be longer than 253, so it cannot be rendered or published (at most "
		    "242 octets)",
		    sts_inv_quote(q, d->name), strlen(d->name));
	if (strcmp(v->u.s.p, d->name) != 0 &&
	    !(d->name_input = sts_arena_strndup(&c->priv->arena, v->u.s.p, v->u.s.len))) {
		sts_inv_oom(c, STS_ENOMEM);
		return;
	}
	long first = sts_inv_strmap_find(&c->priv->domains, d->name, true, idx);
	if (first < 0)
		return;
	const struct sts_domain *f = &c->inv->domains[first];
	if (f->name_input)
		ERR(c, &np, v->off, "duplicate domain '%s' (also at domains[%ld] as '%s', line %u)",
		    sts_inv_quote(q, v->u.s.p), first, sts_inv_quote(q2, f->name_input),
		    f->name_line);
	else if (conv)
		ERR(c, &np, v->off, "duplicate domain '%s' ('%s', also at domains[%ld], line %u)",
		    sts_inv_quote(q, v->u.s.p), sts_inv_quote(q2, d->name), first, f->name_line);
	else
		ERR(c, &np, v->off, "duplicate domain '%s' (also at domains[%ld], line %u)",
		    sts_inv_quote(q, d->name), first, f->name_line);
}

static void domain_tenant(struct vctx *c, struct dom *x, const struct pctx *p,
			  const struct sts_jval *v)
{
	x->tenant_bad = true;
	if (!sts_inv_want(c, p, v, STS_JSTRING))
		return;
	x->tenant = sts_inv_strmap_find(&c->priv->tenants, v->u.s.p, false, 0);
	if (x->tenant >= 0) {
		x->d->tenant = c->inv->tenants[x->tenant].name;
		x->tenant_bad = false;
		return;
	}
	sts_inv_undefined(c, p, v, c->tenants_j, "tenant", "tenants");
}

static void parse_domain(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 uint32_t idx)
{
	struct dom x = {.p = p, .v = v, .d = &c->inv->domains[idx], .tenant = -1};
	const struct sts_jval *name = NULL;
	int state;
	x.d->state = STS_STATE_PRESENT;
	pos_of(c, v->off, &x.d->line, &x.d->col);
	if (!sts_inv_want(c, p, v, STS_JOBJECT))
		return;
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		int k = sts_inv_member_key(c, &mp, m, sts_inv_domain_keys, N_DOMAIN_KEYS,
					   N_DOMAIN_KEYS);
		if (k < 0)
			continue;
		if (k == F_NAME)
			name = &m->val;
		else if (k == F_TENANT)
			domain_tenant(c, &x, &mp, &m->val);
		else if (k == F_STATE && sts_inv_parse_enum(c, &mp, &m->val, "state", state_names,
							    N_OF(state_names), &state))
			x.d->state = state ? STS_STATE_ABSENT : STS_STATE_PRESENT;
		else if (k < N_FIELDS)
			sts_inv_parse_field(c, &mp, &m->val, (enum field)k, &x.own);
	}
	if (name)
		domain_name(c, &x, name, idx);
	else
		ERR(c, p, v->off, "missing 'name'");
	resolve(c, &x);
}

static void parse_domains(struct vctx *c, const struct sts_jval *v)
{
	struct pctx p = {&sts_inv_root, "domains", 0};
	if (!sts_inv_want(c, &p, v, STS_JARRAY))
		return;
	struct sts_inventory *inv = c->inv;
	inv->domains = calloc(v->u.a.n ? v->u.a.n : 1, sizeof(*inv->domains));
	if (!inv->domains || sts_inv_strmap_init(&c->priv->domains, v->u.a.n) < 0) {
		sts_inv_oom(c, STS_ENOMEM);
		return;
	}
	inv->n_domains = v->u.a.n;
	for (uint32_t i = 0; i < v->u.a.n && c->err == STS_OK; i++) {
		struct pctx dp = {&p, NULL, i};
		parse_domain(c, &dp, &v->u.a.v[i], i);
	}
}

/* ---- the whole inventory ---- */

enum {
	S_VERSION,
	S_DEFAULTS,
	S_PROVIDERS,
	S_TENANTS,
	S_DOMAINS,
	S_REPORTS,
	S_WATCH,
	S_HOSTED,
	S_STATE
};

static void parse_root(struct vctx *c, const struct sts_jval *root)
{
	const struct sts_jval *sec[N_OF(root_keys)] = {NULL};
	for (uint32_t i = 0; i < root->u.o.n; i++) {
		const struct sts_jmember *m = &root->u.o.m[i];
		struct pctx mp = {&sts_inv_root, m->key, 0};
		int k = sts_inv_member_key(c, &mp, m, root_keys, N_OF(root_keys), N_OF(root_keys));
		if (k >= 0)
			sec[k] = &m->val;
	}
	/* jansson copies of the small sections other modules read */
	c->inv->root = json_object();
	if (!c->inv->root) {
		sts_inv_oom(c, STS_ENOMEM);
		return;
	}
	for (size_t k = 0; k < N_OF(root_keys); k++) {
		if (!sec[k] || k == S_DOMAINS)
			continue;
		json_error_t e;
		struct pctx sp = {&sts_inv_root, root_keys[k], 0};
		json_t *j = json_loadb(c->text + sec[k]->off, sec[k]->end - sec[k]->off,
				       JSON_DECODE_ANY, &e);
		if (!j)
			ERR(c, &sp, sec[k]->off, "cannot keep this value: %s", e.text);
		else if (json_object_set_new(c->inv->root, root_keys[k], j) < 0) {
			sts_inv_oom(c, STS_ENOMEM);
			return;
		}
	}
	struct pctx vp = {&sts_inv_root, "version", 0};
	if (!sec[S_VERSION])
		ERR(c, &sts_inv_root, root->off, "missing 'version': write \"version\": %d",
		    STS_INVENTORY_VERSION);
	else if (sec[S_VERSION]->type == STS_JINT && sec[S_VERSION]->u.i != STS_INVENTORY_VERSION)
		ERR(c, &vp, sec[S_VERSION]->off,
		    "unsupported version %lld: this stsctl reads version %d", sec[S_VERSION]->u.i,
		    STS_INVENTORY_VERSION);
	else if (sts_inv_want(c, &vp, sec[S_VERSION], STS_JINT))
		c->inv->version = STS_INVENTORY_VERSION;
	if (sec[S_PROVIDERS])
		parse_providers(c, sec[S_PROVIDERS]);
	if (sec[S_HOSTED]) { /* before the domains: "hosting": "hosted" needs it */
		struct pctx hp = {&sts_inv_root, "hosted", 0};
		c->hosted_j = sec[S_HOSTED];
		sts_inv_parse_hosted(c, &hp, sec[S_HOSTED]);
	}
	if (sec[S_DEFAULTS]) {
		struct pctx dp = {&sts_inv_root, "defaults", 0};
		sts_inv_parse_layer(c, &dp, sec[S_DEFAULTS], &c->priv->defaults, "defaults");
		c->inv->defaults = json_object_get(c->inv->root, "defaults");
	}
	if (sec[S_TENANTS])
		parse_tenants(c, sec[S_TENANTS]);
	for (int k = S_REPORTS; k <= S_WATCH; k++) {
		struct pctx sp = {&sts_inv_root, root_keys[k], 0};
		if (sec[k] && k == S_REPORTS)
			sts_inv_parse_reports(c, &sp,
					      sec[k]); /* core/inventory/sts_inventory_reports.c */
		else if (sec[k] && k == S_WATCH && sts_inv_want(c, &sp, sec[k], STS_JOBJECT)) {
			const char *why = NULL; /* docs/stsctl-watch.md */
			if (sts_watch_conf_from_json(json_object_get(c->inv->root, "watch"),
						     &c->inv->watch, &why) < 0)
				ERR(c, &sp, sec[k]->off, "%s",
				    strncmp(why, "watch.", 6) ? why : why + 6);
		} else if (sec[k])
			sts_inv_want(c, &sp, sec[k],
				     STS_JOBJECT); /* contents: validated by their modules */
	}
	if (sec[S_STATE]) { /* core/inventory/sts_inventory_state.c */
		struct pctx sp = {&sts_inv_root, "state", 0};
		sts_inv_parse_state(c, &sp, sec[S_STATE]);
	}
	if (sec[S_DOMAINS])
		parse_domains(c, sec[S_DOMAINS]);
}

static int set_paths(struct sts_inventory *inv, const char *path)
{
	const char *slash = strrchr(path, '/');
	inv->path = strdup(path);
	if (!slash || strcmp(path, "-") == 0)
		inv->dir = strdup(".");
	else
		inv->dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	return inv->path && inv->dir ? STS_OK : STS_ENOMEM;
}

/* partial: on STS_EINVALID, *ret is still set (validate reads its providers) */
static int inventory_parse(const char *text, size_t len, const char *path,
			   struct sts_inventory **ret, size_t *ret_n, bool partial,
			   struct sts_diags *diags)
{
	if (!text)
		text = "";
	struct vctx c = {.text = text, .len = len, .file = path, .diags = diags};
	struct sts_jdoc doc;
	struct sts_jerr jerr;
	sts_jlines_init(&c.lines, text, len);
	int r = sts_jdoc_parse(text, len, &doc, &jerr);
	if (ret_n)
		*ret_n = 0;
	c.inv = calloc(1, sizeof(*c.inv));
	if (c.inv)
		c.inv->priv = c.priv = calloc(1, sizeof(*c.priv));
	if (!c.priv || !(c.priv->owned = json_array()) || set_paths(c.inv, path) < 0) {
		if (r == STS_EPARSE)
			free(jerr.path);
		r = STS_ENOMEM;
		goto out;
	}
	const char *why; /* the defaults of the typed sections */
	sts_rollout_settings_default(&c.priv->rollout_default);
	sts_watch_conf_from_json(NULL, &c.inv->watch, &why);
	if (r == STS_EPARSE) {
		unsigned line = 0, col = 0;
		int r2 = sts_jlines_pos(&c.lines, jerr.off, &line, &col);
		if (r2 == STS_OK)
			r2 = sts_diags_add(diags, STS_SEV_ERROR, NULL, path, line, col, jerr.path,
					   "invalid JSON: %s", jerr.message);
		free(jerr.path);
		r = r2 < 0 ? r2 : r;
		goto out;
	}
	if (r < 0)
		goto out;
	for (size_t i = 0; i < doc.n_dups; i++) {
		unsigned line = 0, col = 0;
		const struct sts_jdup *dup = &doc.dups[i];
		pos_of(&c, dup->first_off, &line, &col);
		sts_inv_diag_raw(&c, dup->path, dup->key_off,
				 "duplicate key (first at line %u, column %u)", line, col);
	}
	const struct sts_jval *root = &doc.root;
	if (root->type != STS_JOBJECT) {
		ERR(&c, &sts_inv_root, root->off, "an inventory is a JSON object, got %s",
		    sts_jtype_name(root->type));
	} else {
		const struct sts_jval *domains = sts_jobj_get(root, "domains");
		if (ret_n && domains && domains->type == STS_JARRAY)
			*ret_n = domains->u.a.n;
		parse_root(&c, root);
	}
	r = c.err < 0 ? c.err : c.n_errors ? STS_EINVALID : STS_OK;
out:
	sts_jdoc_release(&doc);
	sts_jlines_release(&c.lines);
	if ((r == STS_OK || (partial && r == STS_EINVALID && c.err == STS_OK)) && ret)
		*ret = c.inv;
	else
		sts_inventory_free(c.inv);
	return r;
}

STS_API int sts_inventory_parse(const char *text, size_t len, const char *path,
				struct sts_inventory **ret, struct sts_diags *diags)
{
	return inventory_parse(text, len, path, ret, NULL, false, diags);
}

STS_API int sts_inventory_validate_text(const char *text, size_t len, const char *path,
					size_t *ret_n_domains, struct sts_diags *diags)
{
	return inventory_parse(text, len, path, NULL, ret_n_domains, false, diags);
}

static int load(const char *path, struct sts_inventory **ret, size_t *ret_n, bool partial,
		struct sts_diags *diags)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_INVENTORY);
	int r = sts_buf_read_file(&b, path);
	if (r == STS_OK)
		r = inventory_parse(sts_buf_str(&b), b.len, path, ret, ret_n, partial, diags);
	sts_buf_release(&b);
	return r;
}

STS_API int sts_inventory_load(const char *path, struct sts_inventory **ret,
			       struct sts_diags *diags)
{
	return load(path, ret, NULL, false, diags);
}

STS_API int sts_inventory_load_counted(const char *path, struct sts_inventory **ret,
				       size_t *ret_n_domains, struct sts_diags *diags)
{
	return load(path, ret, ret_n_domains, true, diags);
}

STS_API int sts_inventory_validate(const char *path, size_t *ret_n_domains, struct sts_diags *diags)
{
	if (ret_n_domains)
		*ret_n_domains = 0;
	return load(path, NULL, ret_n_domains, false, diags);
}

STS_API void sts_inventory_free(struct sts_inventory *inv)
{
	if (!inv)
		return;
	struct sts_inventory_priv *priv = inv->priv;
	if (priv) {
		free(priv->domains.v);
		free(priv->tenants.v);
		free(priv->providers.v);
		free(priv->tenant_layers);
		json_decref(priv->owned);
		sts_arena_release(&priv->arena);
		free(priv);
	}
	json_decref(inv->root);
	free(inv->providers);
	free(inv->tenants);
	free(inv->domains);
	free(inv->path);
	free(inv->dir);
	free(inv);
}

STS_API const struct sts_domain *sts_inventory_find(const struct sts_inventory *inv,
						    const char *name)
{
	char key[256]; /* a domain name is at most 253 octets */
	size_t n = strlen(name);
	if (n > 1 && name[n - 1] == '.')
		n--;
	if (n >= sizeof(key))
		return NULL;
	for (size_t i = 0; i < n; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[n] = '\0';
	long i = sts_inv_strmap_find(&inv->priv->domains, key, false, 0);
	return i < 0 ? NULL : &inv->domains[i];
}

STS_API const struct sts_provider *sts_inventory_provider(const struct sts_inventory *inv,
							  const char *name)
{
	long i = sts_inv_strmap_find(&inv->priv->providers, name, false, 0);
	return i < 0 ? NULL : &inv->providers[i];
}
