/* SPDX-License-Identifier: MIT */
/*
 * The DNS steps of a case (tests/conformance/dns/cases.json), each through
 * the host's calls of the plugin ops (sts_plugin_dns_read/_apply/_zones,
 * sts_plugin_probe):
 *   converge  read the names, compute the changes as the plan engine does
 *             (CREATE, REPLACE with every value to keep, DELETE), apply them,
 *             read back: the desired state, then an empty plan; on an
 *             expected error: what was there before (no half state)
 *   seed      put a record in place out of band (the target's hook)
 *   raw       the provider's own form of a record (hook): save it, or check
 *             every saved line is still there byte for byte
 *   faults    the fault proxy's script for the next converge "via": "proxy"
 *   probe, zones, bad_credentials
 * Names in the table are relative; the driver appends the target's
 * "prefix" (when any) and "zone".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "sts_err.h"

#define SAVED_MAX 8

struct dns_case {
	struct conf *c;
	struct sts_plugin *p; /* the direct instance: every read that checks goes here */
	const char *zone;
	char *suffix; /* ".prefix.zone." or ".zone." */
	struct sts_rrsets touched;
	struct {
		char *key;
		char *text;
	} saved[SAVED_MAX];
};

static char *fqdn(struct dns_case *d, const char *rel)
{
	char *s = NULL;
	if (asprintf(&s, "%s%s", rel, d->suffix) < 0)
		return NULL;
	return s;
}

/* Every (name, type) the case touched, for the cleanup at its end. */
static void touch(struct dns_case *d, const char *name, const char *type)
{
	if (!sts_rrsets_find(&d->touched, name, type))
		sts_rrsets_add(&d->touched, name, type, 0);
}

/* The desired state of a step: "set" entries and a generated "many" run. */
static int desired(struct dns_case *d, const json_t *step, struct sts_rrsets *ret)
{
	size_t i, k;
	json_t *e, *v;
	json_array_foreach(json_object_get(step, "set"), i, e)
	{
		char *name = fqdn(d, json_string_value(json_object_get(e, "name")));
		const char *type = json_string_value(json_object_get(e, "type"));
		struct sts_rrset *rr =
		    name && type
			? sts_rrsets_add(ret, name, type,
					 (uint32_t)json_integer_value(json_object_get(e, "ttl")))
			: NULL;
		free(name);
		if (!rr)
			return STS_EINVAL;
		touch(d, rr->name, type);
		json_array_foreach(json_object_get(e, "values"), k, v)
		{
			if (sts_rrset_add_value(rr, json_string_value(v), json_string_length(v)) <
			    0)
				return STS_ENOMEM;
		}
	}
	json_t *many = json_object_get(step, "many");
	json_int_t count = json_integer_value(json_object_get(many, "count"));
	for (json_int_t n = 0; n < count; n++) {
		char rel[256], val[512], *name;
		snprintf(rel, sizeof(rel), json_string_value(json_object_get(many, "name")),
			 (int)n);
		snprintf(val, sizeof(val), json_string_value(json_object_get(many, "value")),
			 (int)n);
		name = fqdn(d, rel);
		struct sts_rrset *rr =
		    name
			? sts_rrsets_add(ret, name,
					 json_string_value(json_object_get(many, "type")),
					 (uint32_t)json_integer_value(json_object_get(many, "ttl")))
			: NULL;
		free(name);
		if (!rr || sts_rrset_add_value(rr, val, strlen(val)) < 0)
			return STS_ENOMEM;
		touch(d, rr->name, rr->type);
	}
	return STS_OK;
}

static int read_names(struct dns_case *d, struct sts_plugin *p, const struct sts_rrsets *want,
		      struct sts_rrsets *ret, char **reterr)
{
	const char **names = calloc(want->n + 1, sizeof(*names));
	size_t n = 0;
	if (!names)
		return STS_ENOMEM;
	for (size_t i = 0; i < want->n; i++) {
		size_t k = 0;
		while (k < n && strcmp(names[k], want->v[i].name) != 0)
			k++;
		if (k == n)
			names[n++] = want->v[i].name;
	}
	sts_rrsets_init(ret);
	int r = sts_plugin_dns_read(p, d->zone, names, n, ret, reterr);
	free(names);
	return r;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The same values as multisets: sorted copies compared one by one. */
static bool same_values(const struct sts_rrset *a, const struct sts_rrset *b)
{
	size_t n = a->n_values;
	if (n != b->n_values)
		return false;
	char **x = calloc(2 * n + 1, sizeof(*x));
	if (!x)
		return false;
	memcpy(x, a->values, n * sizeof(*x));
	memcpy(x + n, b->values, n * sizeof(*x));
	qsort(x, n, sizeof(*x), str_cmp);
	qsort(x + n, n, sizeof(*x), str_cmp);
	size_t i = 0;
	while (i < n && strcmp(x[i], x[n + i]) == 0)
		i++;
	free(x);
	return i == n;
}

static void show(const char *what, const struct sts_rrset *rr)
{
	if (!rr) {
		conf_diag("%s: nothing", what);
		return;
	}
	conf_diag("%s: %s %s ttl %u, %zu values", what, rr->name, rr->type, rr->ttl, rr->n_values);
	for (size_t i = 0; i < rr->n_values && i < 4; i++)
		conf_diag("  '%.200s'%s", rr->values[i], strlen(rr->values[i]) > 200 ? "..." : "");
}

/* Does got hold exactly what want says for each (name, type) of want? */
static bool state_is(const struct sts_rrsets *want, const struct sts_rrsets *got, bool quiet)
{
	for (size_t i = 0; i < want->n; i++) {
		const struct sts_rrset *w = &want->v[i];
		const struct sts_rrset *g = sts_rrsets_find(got, w->name, w->type);
		bool ok = w->n_values == 0 ? !g : g && g->ttl == w->ttl && same_values(w, g);
		if (!ok) {
			if (!quiet) {
				show("want", w->n_values ? w : NULL);
				show("got", g);
			}
			return false;
		}
	}
	return true;
}

/* Every rrset of a is in b, and b has no more: the whole state at the names. */
static bool same_state(const struct sts_rrsets *a, const struct sts_rrsets *b)
{
	if (a->n != b->n)
		return false;
	return state_is(a, b, true);
}

/*
 * Each rrset of want is, in got, either as in before or as want says: what
 * a plugin without batch (change by change, stopping at the first failure)
 * must leave, since it cannot undo the changes it made before the failure.
 */
static bool each_whole(const struct sts_rrsets *want, const struct sts_rrsets *before,
		       const struct sts_rrsets *got)
{
	for (size_t i = 0; i < want->n; i++) {
		const struct sts_rrset *w = &want->v[i];
		const struct sts_rrset *b = sts_rrsets_find(before, w->name, w->type);
		const struct sts_rrset *g = sts_rrsets_find(got, w->name, w->type);
		bool as_want = w->n_values == 0 ? !g : g && g->ttl == w->ttl && same_values(w, g);
		bool as_before = !b ? !g : g && g->ttl == b->ttl && same_values(b, g);
		if (!as_want && !as_before) {
			show("before", b);
			show("want", w->n_values ? w : NULL);
			show("got", g);
			return false;
		}
	}
	return true;
}

/* The changes that make cur into want, as the plan engine computes them. */
static size_t plan(const struct sts_rrsets *want, const struct sts_rrsets *cur,
		   struct sts_dns_change *ret)
{
	size_t n = 0;
	for (size_t i = 0; i < want->n; i++) {
		const struct sts_rrset *w = &want->v[i];
		const struct sts_rrset *g = sts_rrsets_find(cur, w->name, w->type);
		enum sts_change_action a = 0;
		if (w->n_values == 0)
			a = g ? STS_CHANGE_DELETE : 0;
		else if (!g)
			a = STS_CHANGE_CREATE;
		else if (g->ttl != w->ttl || !same_values(w, g))
			a = STS_CHANGE_REPLACE;
		if (a)
			ret[n++] = (struct sts_dns_change){.action = a, .rrset = *w, .old = g};
	}
	return n;
}

/* Apply in chunks of the plugin's max_batch. */
static int apply(struct dns_case *d, struct sts_plugin *p, const struct sts_dns_change *ch,
		 size_t n, char **reterr)
{
	struct sts_dns_caps caps = {.struct_size = sizeof(caps)};
	sts_plugin_dns_caps(p, &caps);
	size_t step = caps.max_batch ? caps.max_batch : n;
	int r = STS_OK;
	for (size_t i = 0; i < n && r == STS_OK; i += step)
		r = sts_plugin_dns_apply(p, d->zone, ch + i, n - i < step ? n - i : step, reterr);
	return r;
}

static void step_converge(struct dns_case *d, const json_t *step)
{
	struct conf *c = d->c;
	struct sts_rrsets want, before, after;
	struct sts_plugin *via = d->p;
	char *err = NULL;
	const char *say = json_string_value(json_object_get(step, "say"));
	sts_rrsets_init(&want);
	sts_rrsets_init(&before);
	sts_rrsets_init(&after);
	struct sts_dns_change *ch = NULL;
	int r = desired(d, step, &want);
	if (r == STS_OK && want.n == 0) /* nothing to check would make every point below vacuous */
		r = STS_EINVAL;
	if (r == STS_OK)
		r = read_names(d, d->p, &want, &before, &err);
	if (!conf_point(c, r == STS_OK, "%s: read before", say)) {
		conf_diag("%s: %s", conf_err_name(r), err ? err : "");
		goto out;
	}
	ch = calloc(want.n + 1, sizeof(*ch));
	size_t n = ch ? plan(&want, &before, ch) : 0;
	json_t *nch = json_object_get(step, "changes");
	if (nch && !conf_point(c, (json_int_t)n == json_integer_value(nch),
			       "%s: the plan has %lld changes", say, json_integer_value(nch)))
		conf_diag("the plan has %zu", n);
	const char *inst = json_string_value(json_object_get(step, "via"));
	if (inst && (r = conf_open(c, inst, &via, NULL)) < 0) {
		conf_point(c, false, "%s: open instance '%s'", say, inst);
		via = NULL;
		goto out;
	}
	long t0 = conf_now_ms();
	r = n ? apply(d, via, ch, n, &err) : STS_OK;
	long ms = conf_now_ms() - t0;
	if (!n) /* nothing to apply: no point that cannot fail */
		goto readback;
	if (!conf_point(c, conf_expected(step, r), "%s: apply gives %s", say,
			conf_expect_text(step)))
		conf_diag("got %s: %s", conf_err_name(r), err ? err : "(no text)");
	else if (r < 0)
		conf_diag("%s: %s", conf_err_name(r), err ? err : "(no text)");
	const char *has = json_string_value(json_object_get(step, "error_has"));
	if (has && !conf_point(c, err && strstr(err, has), "%s: the error says '%s'", say, has))
		conf_diag("got: %s", err ? err : "(no text)");
	json_t *max = json_object_get(step, "max_seconds");
	if (max && !conf_point(c, ms <= json_integer_value(max) * 1000, "%s: done within %lld s",
			       say, json_integer_value(max)))
		conf_diag("took %.1f s", (double)ms / 1000.0);
	json_t *sent = json_object_get(step, "sent_at_least");
	const char *cls;
	json_t *v;
	json_object_foreach(sent, cls, v)
	{
		long got = conf_fault_count(c, cls);
		if (!conf_point(c, got >= json_integer_value(v),
				"%s: the proxy saw at least %lld %s requests (the fault was hit)",
				say, json_integer_value(v), cls))
			conf_diag("it saw %ld", got);
	}
readback:
	free(err);
	err = NULL;
	int rr = read_names(d, d->p, &want, &after, &err);
	if (!conf_point(c, rr == STS_OK, "%s: read after", say)) {
		conf_diag("%s: %s", conf_err_name(rr), err ? err : "");
		goto out;
	}
	if (r == STS_OK) {
		conf_point(c, state_is(&want, &after, false),
			   "%s: read back equals the desired state", say);
		size_t again = plan(&want, &after, ch);
		if (!conf_point(c, again == 0, "%s: then the plan is empty (idempotent)", say))
			conf_diag("%zu changes left", again);
	} else {
		bool either = json_is_true(json_object_get(step, "either_state"));
		bool batch = c->caps & STS_PLUGIN_CAP_BATCH;
		bool ok = same_state(&before, &after) || (either && state_is(&want, &after, true));
		if (!ok && either && !batch)
			ok = each_whole(&want, &before, &after);
		conf_point(c, ok, "%s: no half state: the state %s", say,
			   !either ? "before, untouched"
			   : batch ? "before or the desired one, whole"
				   : "of each rrset before or the desired one, whole (no batch)");
	}
	if (json_is_true(json_object_get(step, "reapply")) && r == STS_OK && n) {
		/* the same content sent again as REPLACE: changes nothing */
		for (size_t i = 0; i < want.n; i++)
			ch[i] = (struct sts_dns_change){
			    .action = want.v[i].n_values ? STS_CHANGE_REPLACE : STS_CHANGE_DELETE,
			    .rrset = want.v[i],
			    .old = sts_rrsets_find(&after, want.v[i].name, want.v[i].type)};
		size_t k = 0;
		for (size_t i = 0; i < want.n; i++)
			if (ch[i].action == STS_CHANGE_REPLACE)
				ch[k++] = ch[i];
		free(err);
		err = NULL;
		r = apply(d, d->p, ch, k, &err);
		if (!conf_point(c, r == STS_OK, "%s: the same REPLACE again is accepted", say))
			conf_diag("%s: %s", conf_err_name(r), err ? err : "");
		sts_rrsets_release(&after);
		free(err);
		err = NULL;
		r = read_names(d, d->p, &want, &after, &err);
		conf_point(c, r == STS_OK && state_is(&want, &after, false),
			   "%s: and the state is still the desired one", say);
	}
out:
	if (via && via != d->p)
		sts_plugin_close(via);
	free(ch);
	free(err);
	sts_rrsets_release(&want);
	sts_rrsets_release(&before);
	sts_rrsets_release(&after);
}

/* raw: the hook's text of (name, type); save it, or check it is all still there */
static void step_raw(struct dns_case *d, const json_t *step)
{
	const char *rel = json_string_value(json_object_get(step, "name"));
	char *name = fqdn(d, rel);
	const char *type = json_string_value(json_object_get(step, "type"));
	const char *save = json_string_value(json_object_get(step, "save"));
	const char *kept = json_string_value(json_object_get(step, "kept"));
	const char *args[] = {"raw", name, type, NULL};
	char *text = NULL;
	int r = conf_hook(d->c, args, &text);
	if (r == STS_OK && save) {
		size_t i = 0;
		while (i < SAVED_MAX - 1 && d->saved[i].key)
			i++;
		free(d->saved[i].key);
		free(d->saved[i].text);
		d->saved[i].key = strdup(save);
		d->saved[i].text = text;
		text = NULL;
		conf_point(d->c, strchr(d->saved[i].text, '\n') != NULL,
			   "the provider's own form of %s %s saved", rel, type);
	} else if (r == STS_OK && kept) {
		const char *was = NULL;
		for (size_t i = 0; i < SAVED_MAX && d->saved[i].key; i++)
			if (!strcmp(d->saved[i].key, kept))
				was = d->saved[i].text;
		bool ok = was != NULL;
		for (const char *s = was; ok && s && *s;) {
			const char *nl = strchr(s, '\n');
			size_t len = nl ? (size_t)(nl - s) : strlen(s);
			bool found = false;
			for (const char *t = text; !found && t && *t;) {
				const char *tl = strchr(t, '\n');
				size_t tn = tl ? (size_t)(tl - t) : strlen(t);
				found = tn == len && memcmp(s, t, len) == 0;
				t = tl ? tl + 1 : NULL;
			}
			if (!found)
				conf_diag("line gone or changed: %.*s", (int)len, s);
			ok = found;
			s = nl ? nl + 1 : NULL;
		}
		if (!conf_point(d->c, ok, "%s %s kept byte for byte (provider's own form)", rel,
				type))
			conf_diag("now:\n%s", text);
	} else {
		conf_point(d->c, false, "raw %s %s through the hook", rel, type);
	}
	free(text);
	free(name);
}

static void step_seed(struct dns_case *d, const json_t *step)
{
	const char *rel = json_string_value(json_object_get(step, "name"));
	char *name = fqdn(d, rel);
	const char *type = json_string_value(json_object_get(step, "type"));
	char ttl[16];
	snprintf(ttl, sizeof(ttl), "%lld", json_integer_value(json_object_get(step, "ttl")));
	const char *args[] = {
	    "seed", name, type, ttl, json_string_value(json_object_get(step, "rdata")), NULL};
	char *out = NULL;
	int r = conf_hook(d->c, args, &out);
	conf_point(d->c, r == STS_OK, "%s %s put in place out of band", rel, type);
	touch(d, name, type);
	free(out);
	free(name);
}

static int read_one(struct sts_plugin *p, void *arg, char **reterr)
{
	struct dns_case *d = arg;
	char *name = fqdn(d, "_mta-sts.credentials");
	const char *names[] = {name};
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	int r = name ? sts_plugin_dns_read(p, d->zone, names, 1, &got, reterr) : STS_ENOMEM;
	sts_rrsets_release(&got);
	free(name);
	return r;
}

static void step_zones(struct dns_case *d, const json_t *step)
{
	char **zones = NULL, *err = NULL;
	size_t n = 0;
	int r = sts_plugin_dns_zones(d->p, &zones, &n, &err);
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		found |= !strcmp(zones[i], d->zone);
		free(zones[i]);
	}
	free(zones);
	if (!conf_point(d->c, r == STS_OK && found, "zones lists '%s'", d->zone))
		conf_diag("%s: %s (%zu zones)", conf_err_name(r), err ? err : "", n);
	free(err);
}

/* Delete what the case touched (its own names only), through the plugin. */
static void cleanup(struct dns_case *d)
{
	struct sts_rrsets cur;
	char *err = NULL;
	if (!d->touched.n)
		return;
	int r = read_names(d, d->p, &d->touched, &cur, &err);
	struct sts_dns_change *ch = calloc(cur.n + 1, sizeof(*ch));
	size_t n = 0;
	for (size_t i = 0; r == STS_OK && ch && i < cur.n; i++)
		if (sts_rrsets_find(&d->touched, cur.v[i].name, cur.v[i].type))
			ch[n++] = (struct sts_dns_change){
			    .action = STS_CHANGE_DELETE, .rrset = cur.v[i], .old = &cur.v[i]};
	if (r == STS_OK && n)
		r = apply(d, d->p, ch, n, &err);
	if (r < 0)
		conf_diag("cleanup of the case's records: %s: %s", conf_err_name(r),
			  err ? err : "");
	free(ch);
	free(err);
	sts_rrsets_release(&cur);
}

void conf_run_dns(struct conf *c, const json_t *kase)
{
	struct dns_case d = {.c = c, .zone = conf_str(c, "zone", "")};
	const char *prefix = conf_str(c, "prefix", NULL);
	sts_rrsets_init(&d.touched);
	if (asprintf(&d.suffix, ".%s%s%s.", prefix ? prefix : "", prefix ? "." : "", d.zone) < 0 ||
	    conf_open(c, "settings", &d.p, NULL) < 0) {
		conf_point(c, false, "open the provider instance");
		free(d.suffix);
		return;
	}
	size_t i;
	json_t *step;
	json_array_foreach(json_object_get(kase, "steps"), i, step)
	{
		const char *what = json_string_value(json_object_get(step, "op"));
		if (!strcmp(what, "converge"))
			step_converge(&d, step);
		else if (!strcmp(what, "seed"))
			step_seed(&d, step);
		else if (!strcmp(what, "raw"))
			step_raw(&d, step);
		else if (!strcmp(what, "faults"))
			conf_point(c, conf_faults(c, json_object_get(step, "rules")) == STS_OK,
				   "the fault proxy's script set");
		else if (!strcmp(what, "bad_credentials"))
			conf_creds(c, step, "read", read_one, &d);
		else if (!strcmp(what, "probe_bad_credentials"))
			conf_creds(c, step, "probe", NULL, NULL);
		else if (!strcmp(what, "probe"))
			conf_probe(c, d.p);
		else if (!strcmp(what, "zones"))
			step_zones(&d, step);
		else
			conf_point(c, false, "unknown step '%s'", what);
	}
	cleanup(&d);
	sts_rrsets_release(&d.touched);
	for (size_t k = 0; k < SAVED_MAX; k++) {
		free(d.saved[k].key);
		free(d.saved[k].text);
	}
	sts_plugin_close(d.p);
	free(d.suffix);
}
