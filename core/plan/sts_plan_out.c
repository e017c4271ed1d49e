/* SPDX-License-Identifier: MIT */
/* Plan output: human text, JSON, and plan files (plan --out / apply PLANFILE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_plan.h"
#include "sts_plugin.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static bool is_waiting(const struct sts_plan_domain *d)
{
	return d->err == STS_OK && d->phase == STS_PHASE_REMOVE_WAIT;
}

STS_API json_t *sts_plan_to_json(const struct sts_plan *p)
{
	json_t *changes = json_array();
	json_t *pending = json_array();
	json_t *errors = json_array();
	json_t *doc = json_object();
	if (!changes || !pending || !errors || !doc)
		goto fail;
	for (size_t i = 0; i < p->n_domains; i++) {
		const struct sts_plan_domain *d = &p->domains[i];
		for (size_t k = 0; k < d->n_changes; k++) {
			const struct sts_change *c = &d->changes[k];
			json_t *o =
			    json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "domain", d->name, "object",
				      sts_object_name(c->object), "action",
				      sts_action_name(c->action), "before", str_or_null(c->before),
				      "after", str_or_null(c->after), "name", c->name);
			if (!o || json_array_append_new(changes, o) < 0)
				goto fail;
			if (c->type && json_object_set_new(o, "type", json_string(c->type)) < 0)
				goto fail;
			if (c->type && c->ttl_after &&
			    json_object_set_new(o, "ttl", json_integer(c->ttl_after)) < 0)
				goto fail;
			/* hosted: the policy goes into the hosted store, the TXT to the MSP zone */
			if (d->hosted_txt &&
			    json_object_set_new(o, "hosted",
						json_pack("{s:s, s:b, s:s}", "label", d->label,
							  "label_stored", d->label_stored, "zone",
							  d->zone)) < 0)
				goto fail;
		}
		if (is_waiting(d)) {
			int64_t left = d->removal_deadline - p->now;
			json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "domain", d->name,
					      "phase", sts_phase_name(d->phase), "removal_started",
					      (json_int_t)d->removal_started, "delete_after",
					      (json_int_t)d->removal_deadline, "seconds_left",
					      (json_int_t)(left > 0 ? left : 0));
			if (!o || json_array_append_new(pending, o) < 0)
				goto fail;
		}
		if (d->err < 0) {
			json_t *o = json_pack("{s:s, s:s, s:s}", "domain", d->name, "error",
					      sts_strerror(d->err), "message",
					      d->errmsg ? d->errmsg : sts_strerror(d->err));
			if (!o || json_array_append_new(errors, o) < 0)
				goto fail;
		}
	}
	if (json_object_set_new(doc, "changes", changes) < 0) {
		changes = NULL;
		goto fail;
	}
	changes = NULL;
	if (json_object_set_new(doc, "pending", pending) < 0) {
		pending = NULL;
		goto fail;
	}
	pending = NULL;
	if (json_object_set_new(doc, "errors", errors) < 0) {
		errors = NULL;
		goto fail;
	}
	errors = NULL;
	json_t *down = json_array(); /* one entry per provider that was down */
	if (!down || json_object_set_new(doc, "providers_down", down) < 0)
		goto fail;
	for (size_t i = 0; i < p->n_down; i++) {
		json_t *names = json_array();
		for (size_t k = 0; names && k < p->n_domains; k++)
			if (p->domains[k].down == p->down[i].provider &&
			    json_array_append_new(names, json_string(p->domains[k].name)) < 0)
				goto fail;
		if (json_array_append_new(
			down, json_pack("{s:s, s:I, s:s?, s:o}", "provider", p->down[i].provider,
					"n_domains", (json_int_t)p->down[i].n_domains, "message",
					p->down[i].why, "domains", names)) < 0)
			goto fail;
	}
	json_t *removal = json_pack(
	    "{s:I, s:I, s:I, s:b, s:I}", "managed", (json_int_t)p->n_managed, "managed_in_scope",
	    (json_int_t)p->n_managed_scope, "starts", (json_int_t)p->n_removal_starts,
	    "needs_allow_removal", sts_plan_removal_excessive(p), "outside_scope",
	    (json_int_t)p->n_removals_unscoped);
	if (!removal || json_object_set_new(doc, "removal", removal) < 0)
		goto fail;
	/* domains under rollout: the stage published and the inventory's mode */
	json_t *ro = NULL;
	for (size_t i = 0; i < p->n_domains; i++) {
		const struct sts_plan_domain *d = &p->domains[i];
		if (!d->under_rollout || !sts_mode_name(d->mode))
			continue;
		if (!ro && (!(ro = json_array()) || json_object_set_new(doc, "rollout", ro) < 0))
			goto fail;
		if (json_array_append_new(
			ro, json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "domain", d->name, "stage",
				      sts_mode_name(d->mode), "inventory_mode",
				      sts_mode_name(d->inventory_mode), "stage_mode",
				      sts_mode_name(d->stage_mode), "why", d->rollout.why)) < 0)
			goto fail;
	}
	return doc;
fail:
	json_decref(changes);
	json_decref(pending);
	json_decref(errors);
	json_decref(doc);
	return NULL;
}

static const char *sign_of(enum sts_action a)
{
	return a == STS_ACTION_CREATE ? "+" : a == STS_ACTION_DELETE ? "-" : "~";
}

/* "6d 23h 59m" */
static void fmt_left(int64_t s, char *out, size_t n)
{
	if (s < 0)
		s = 0;
	long long d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
	if (d)
		snprintf(out, n, "%lldd %lldh %lldm", d, h, m);
	else if (h)
		snprintf(out, n, "%lldh %lldm", h, m);
	else
		snprintf(out, n, "%lldm %llds", m, (long long)(s % 60));
}

/* Policy lines that are only in a (prefix '-') or only in b ('+'). */
static int policy_lines(struct sts_buf *o, const char *a, const char *b)
{
	int r = STS_OK;
	const char *texts[2] = {a, b};
	for (int side = 0; side < 2 && r == STS_OK; side++) {
		const char *s = texts[side], *other = texts[1 - side];
		if (!s)
			continue;
		while (*s && r == STS_OK) {
			size_t n = strcspn(s, "\r\n");
			bool found = false;
			for (const char *q = other; q && *q && !found;) {
				size_t m = strcspn(q, "\r\n");
				found = m == n && memcmp(q, s, n) == 0;
				q += m;
				q += strspn(q, "\r\n");
			}
			if (!found)
				r = sts_buf_printf(o, "      %s %.*s\n", side ? "+" : "-", (int)n,
						   s);
			s += n;
			s += strspn(s, "\r\n");
		}
	}
	return r;
}

STS_API int sts_plan_summary(const struct sts_plan *p, struct sts_buf *out)
{
	size_t n[3] = {0, 0, 0}, changed = 0, waiting = 0;
	for (size_t i = 0; i < p->n_domains; i++) {
		const struct sts_plan_domain *d = &p->domains[i];
		for (size_t k = 0; k < d->n_changes; k++)
			n[d->changes[k].action]++;
		changed += d->n_changes > 0;
		waiting += is_waiting(d);
	}
	int r = sts_buf_printf(out,
			       "Plan: %zu to create, %zu to update, %zu to delete in %zu of %zu "
			       "domains",
			       n[STS_ACTION_CREATE], n[STS_ACTION_UPDATE], n[STS_ACTION_DELETE],
			       changed, p->n_domains);
	if (r == STS_OK && waiting)
		r = sts_buf_printf(out, "; %zu waiting for removal", waiting);
	if (r == STS_OK && p->n_errors)
		r = sts_buf_printf(out, "; %zu with errors", p->n_errors);
	return r;
}

STS_API int sts_plan_down_line(const struct sts_plan_down *d, const char *what, struct sts_buf *o)
{
	int r = sts_buf_printf(o, "provider %s: %zu %s not %s: %s [", d->provider, d->n_domains,
			       d->n_domains == 1 ? "domain" : "domains", what,
			       d->why ? d->why : "down");
	/* the first domains by name, so that a single failed one is named */
	for (size_t i = 0; i < 3 && d->first[i] && r == STS_OK; i++)
		r = sts_buf_printf(o, "%s%s", i ? ", " : "", d->first[i]);
	if (r == STS_OK && d->n_domains > 3)
		r = sts_buf_printf(o, " and %zu more", d->n_domains - 3);
	return r == STS_OK ? sts_buf_printf(o, "]\n") : r;
}

STS_API int sts_plan_format(const struct sts_plan *p, struct sts_buf *o)
{
	int r = STS_OK;
	char left[64], when[32];
	for (size_t i = 0; i < p->n_domains && r == STS_OK; i++) {
		const struct sts_plan_domain *d = &p->domains[i];
		bool start = d->phase == STS_PHASE_REMOVE_START && d->err == STS_OK;
		if ((!d->n_changes && d->err == STS_OK && !is_waiting(d) && !start) || d->down)
			continue; /* a provider that was down: one line for all, below */
		r = sts_buf_printf(o, "%s", d->name);
		if (r == STS_OK && d->phase != STS_PHASE_PRESENT)
			r = sts_buf_printf(o, " (%s)", sts_phase_name(d->phase));
		if (r == STS_OK)
			r = sts_buf_puts(o, "\n");
		if (r == STS_OK && d->rollout.why && d->mode != d->stage_mode &&
		    sts_mode_name(d->mode) && sts_mode_name(d->stage_mode))
			r = sts_buf_printf(o, "  mode: %s -> %s (%s)\n",
					   sts_mode_name(d->stage_mode), sts_mode_name(d->mode),
					   d->rollout.why);
		else if (r == STS_OK && d->under_rollout && d->mode != d->inventory_mode &&
			 sts_mode_name(d->mode))
			r = sts_buf_printf(o, "  rollout stage: %s (inventory mode: %s)\n",
					   sts_mode_name(d->mode),
					   sts_mode_name(d->inventory_mode));
		if (r == STS_OK && d->hosted_txt && d->n_changes)
			r = sts_buf_printf(
			    o, "  hosted: label %s (%s), TXT in zone %s\n", d->label,
			    d->label_stored ? "stored" : "computed, allocated by apply", d->zone);
		if (r == STS_OK && d->err < 0)
			r = sts_buf_printf(o, "  ! error: %s\n",
					   d->errmsg ? d->errmsg : sts_strerror(d->err));
		for (size_t k = 0; k < d->n_changes && r == STS_OK; k++) {
			const struct sts_change *c = &d->changes[k];
			const char *sg = sign_of(c->action);
			if (c->object == STS_OBJ_POLICY) {
				r = sts_buf_printf(
				    o, "  %s policy https://%s/.well-known/mta-sts.txt%s\n", sg,
				    c->name, d->hosted_txt ? " (hosted store)" : "");
				if (r == STS_OK && c->action != STS_ACTION_DELETE)
					r = policy_lines(o, c->before, c->after);
				continue;
			}
			r = sts_buf_printf(o, "  %s %s %s %s", sg, sts_object_name(c->object),
					   c->name, c->type);
			if (r == STS_OK && c->before && c->action != STS_ACTION_CREATE)
				r = sts_buf_printf(o, " \"%s\"", c->before);
			if (r == STS_OK && c->action == STS_ACTION_UPDATE)
				r = sts_buf_puts(o, " ->");
			if (r == STS_OK && c->after)
				r = sts_buf_printf(o, " \"%s\"", c->after);
			if (r == STS_OK && c->action == STS_ACTION_UPDATE &&
			    c->ttl_before != c->ttl_after)
				r = sts_buf_printf(o, " (ttl %u -> %u)", c->ttl_before,
						   c->ttl_after);
			if (r == STS_OK)
				r = sts_buf_puts(o, "\n");
		}
		if (r == STS_OK && start)
			r = sts_buf_puts(
			    o, "  ! removal starts: mode none is published now; records "
			       "and policy go once the largest max_age served has passed\n");
		if (r == STS_OK && is_waiting(d)) {
			fmt_left(d->removal_deadline - p->now, left, sizeof(left));
			sts_time_rfc3339(d->removal_deadline, when);
			r = sts_buf_printf(
			    o,
			    "  ! removal waits %s more (until %s) before records and "
			    "policy are deleted\n",
			    left, when);
		}
	}
	for (size_t i = 0; i < p->n_down && r == STS_OK; i++)
		r = sts_plan_down_line(&p->down[i], "planned", o);
	if (r == STS_OK && sts_plan_removal_excessive(p))
		r = sts_buf_printf(
		    o,
		    "! this plan starts removing %zu of %zu managed domains%s (more than "
		    "%d%%): apply needs --allow-removal\n",
		    p->n_removal_starts, p->n_managed_scope,
		    p->n_managed_scope < p->n_managed ? " in its scope" : "",
		    STS_PLAN_REMOVAL_SHARE);
	if (r == STS_OK && p->n_removals_unscoped)
		r = sts_buf_printf(o, "%zu removal%s outside the scope not shown\n",
				   p->n_removals_unscoped, p->n_removals_unscoped == 1 ? "" : "s");
	if (r == STS_OK)
		r = sts_plan_summary(p, o);
	if (r == STS_OK)
		r = sts_buf_puts(o, "\n");
	return r;
}

/* ---- plan files ---- */

#define PLAN_FILE_FORMAT "stsctl-plan"

STS_API int sts_plan_save(const struct sts_plan *p, const char *path)
{
	json_t *doc = sts_plan_to_json(p);
	json_t *doms = json_array();
	char *text = NULL;
	int r = STS_ENOMEM;
	if (!doc || !doms)
		goto out;
	for (size_t i = 0; i < p->n_domains; i++) {
		const struct sts_plan_domain *d = &p->domains[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "domain", d->name, "phase",
				      sts_phase_name(d->phase), "fingerprint", d->fingerprint,
				      "policy", str_or_null(d->policy_text), "id",
				      d->id[0] ? json_string(d->id) : json_null(), "zone",
				      d->zone ? d->zone : "");
		if (!o || json_array_append_new(doms, o) < 0)
			goto out;
	}
	json_t *targets = json_array();
	if (!targets || json_object_set_new(doc, "targets", targets) < 0)
		goto out;
	for (size_t i = 0; i < p->n_domains; i++)
		json_array_append_new(targets, json_string(p->domains[i].name));
	if (json_object_set_new(doc, "format", json_string(PLAN_FILE_FORMAT)) < 0 ||
	    json_object_set_new(doc, "version", json_integer(p->version)) < 0 ||
	    json_object_set_new(doc, "inventory",
				json_pack("{s:s, s:s}", "path", p->inventory_path, "sha256",
					  p->inventory_hash)) < 0 ||
	    json_object_set_new(doc, "created", json_integer(p->now)) < 0 ||
	    json_object_set_new(doc, "fingerprint", json_string(p->fingerprint)) < 0)
		goto out;
	if (json_object_set(doc, "domains", doms) < 0)
		goto out;
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		goto out;
	char *nl = NULL;
	if (asprintf(&nl, "%s\n", text) < 0)
		goto out;
	r = sts_write_atomic(path, nl, strlen(nl), 0600, true); /* private whatever the umask */
	free(nl);
out:
	free(text);
	json_decref(doms);
	json_decref(doc);
	return r;
}

STS_API void sts_plan_file_free(struct sts_plan_file *f)
{
	if (!f)
		return;
	free(f->inventory_path);
	sts_strv_free(f->targets, f->n_targets);
	json_decref(f->root);
	free(f);
}

static bool is_plan_json(const json_t *root)
{
	const char *fmt = json_string_value(json_object_get(root, "format"));
	return fmt && strcmp(fmt, PLAN_FILE_FORMAT) == 0;
}

STS_API bool sts_plan_file_detect(const char *path)
{
	json_error_t e;
	json_t *root = json_load_file(path, 0, &e);
	bool yes = root && is_plan_json(root);
	json_decref(root);
	return yes;
}

static void copy_hex(char dst[65], const char *src)
{
	snprintf(dst, 65, "%s", src ? src : "");
}

STS_API int sts_plan_file_load(const char *path, struct sts_plan_file **ret, char **reterr)
{
	json_error_t e;
	struct sts_plan_file *f = calloc(1, sizeof(*f));
	if (!f)
		return STS_ENOMEM;
	*reterr = NULL;
	f->root = json_load_file(path, 0, &e);
	if (!f->root || !is_plan_json(f->root)) {
		if (asprintf(reterr, "'%s' is not a plan file%s%s", path, f->root ? "" : ": ",
			     f->root ? "" : e.text) < 0)
			*reterr = NULL;
		sts_plan_file_free(f);
		return STS_EPARSE;
	}
	json_int_t v = json_integer_value(json_object_get(f->root, "version"));
	const json_t *inv = json_object_get(f->root, "inventory");
	const char *ipath = json_string_value(json_object_get(inv, "path"));
	if (v != STS_PLAN_FORMAT || !ipath) {
		if (asprintf(reterr, "plan file '%s' has version %lld, this stsctl reads %d", path,
			     (long long)v, STS_PLAN_FORMAT) < 0)
			*reterr = NULL;
		sts_plan_file_free(f);
		return STS_EPARSE;
	}
	f->inventory_path = strdup(ipath);
	copy_hex(f->inventory_hash, json_string_value(json_object_get(inv, "sha256")));
	copy_hex(f->fingerprint, json_string_value(json_object_get(f->root, "fingerprint")));
	const json_t *t = json_object_get(f->root, "targets");
	f->targets = calloc(json_array_size(t) + 1, sizeof(char *));
	if (!f->inventory_path || !f->targets) {
		sts_plan_file_free(f);
		return STS_ENOMEM;
	}
	for (size_t i = 0; i < json_array_size(t); i++) {
		const char *s = json_string_value(json_array_get(t, i));
		if (s && !(f->targets[f->n_targets++] = strdup(s))) {
			sts_plan_file_free(f);
			return STS_ENOMEM;
		}
	}
	*ret = f;
	return STS_OK;
}

static int stale(char **reterr, const char *fmt, const char *a)
{
	if (asprintf(reterr, fmt, a) < 0)
		*reterr = NULL;
	return STS_ESTALE;
}

STS_API int sts_plan_file_check(const struct sts_plan_file *f, const struct sts_plan *fresh,
				char **reterr)
{
	*reterr = NULL;
	if (strcmp(f->inventory_hash, fresh->inventory_hash) != 0)
		return stale(reterr, "inventory '%s' changed since the plan was made",
			     fresh->inventory_path);
	if (strcmp(f->fingerprint, fresh->fingerprint) == 0)
		return STS_OK;
	/* name the first domain that differs */
	const json_t *doms = json_object_get(f->root, "domains");
	for (size_t i = 0; i < fresh->n_domains; i++) {
		const struct sts_plan_domain *d = &fresh->domains[i];
		const json_t *o = json_array_get(doms, i);
		const char *n = json_string_value(json_object_get(o, "domain"));
		const char *fp = json_string_value(json_object_get(o, "fingerprint"));
		if (!n || strcmp(n, d->name) != 0)
			return stale(reterr,
				     "the set of domains changed since the plan was made "
				     "(at '%s')",
				     d->name);
		if (!fp || strcmp(fp, d->fingerprint) != 0)
			return stale(reterr,
				     "the published state of '%s' changed since the plan "
				     "was made",
				     d->name);
	}
	return stale(reterr, "%s", "the changes differ from the saved plan (state DB or clock)");
}
