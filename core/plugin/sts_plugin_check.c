/* SPDX-License-Identifier: MIT */
/*
 * validate's provider checks (docs/stsctl-validate.md): each provider's
 * plugin is there, its settings pass the plugin's schema (at the position
 * of each setting), its secret references resolve (--secrets), and its
 * probe answers within a deadline (--probe).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_mclock.h"
#include "sts_plugin_int.h"
#include "sts_secret.h"

/* The position of providers.NAME.key's value (else of the provider). */
static void key_pos(const struct sts_provider *prov, const char *key, unsigned *line, unsigned *col)
{
	*line = prov->line;
	*col = prov->col;
	for (size_t i = 0; i < prov->n_keys; i++)
		if (strcmp(prov->keys[i].key, key) == 0) {
			*line = prov->keys[i].line;
			*col = prov->keys[i].col;
		}
}

static int key_error(struct sts_diags *diags, const struct sts_inventory *inv,
		     const struct sts_provider *prov, const char *key, const char *fmt,
		     const char *a, const char *b)
{
	char *path = NULL;
	unsigned line, col;
	key_pos(prov, key, &line, &col);
	if (asprintf(&path, "providers.%s.%s", prov->name, key) < 0)
		return STS_ENOMEM;
	int r = sts_diags_add(diags, STS_SEV_ERROR, NULL, inv->path, line, col, path, fmt, a, b);
	free(path);
	return r;
}

/* The plugin named name among the usable ones found, or why not. */
static int plugin_of(const struct sts_plugin_info *v, size_t n, const struct sts_inventory *inv,
		     const struct sts_provider *prov, struct sts_diags *diags,
		     const struct sts_plugin_api **ret)
{
	const char *names[256];
	size_t n_names = 0;
	*ret = NULL;
	for (size_t i = 0; i < n; i++) {
		if (v[i].shadowed || strcmp(v[i].name, prov->plugin) != 0) {
			if (!v[i].shadowed && v[i].api && n_names < 256)
				names[n_names++] = v[i].name;
			continue;
		}
		if (v[i].api) {
			*ret = v[i].api;
			return STS_OK;
		}
		return key_error(diags, inv, prov, "plugin", "plugin '%s' is refused: %s",
				 prov->plugin, v[i].reason ? v[i].reason : sts_strerror(v[i].err));
	}
	const char *hint = sts_suggest(prov->plugin, names, n_names);
	if (hint)
		return key_error(diags, inv, prov, "plugin",
				 "unknown plugin '%s': did you mean '%s'?", prov->plugin, hint);
	return key_error(diags, inv, prov, "plugin",
			 "unknown plugin '%s'%s: see 'stsctl plugins' for those installed",
			 prov->plugin, "");
}

/* --secrets: every secret setting's reference resolves (the value is dropped at once). */
static int check_secrets(const struct sts_plugin_api *api, const struct sts_inventory *inv,
			 const struct sts_provider *prov, struct sts_diags *diags)
{
	for (const struct sts_plugin_setting *const *sp = api->schema; sp && *sp; sp++) {
		const char *ref = json_string_value(json_object_get(prov->settings, (*sp)->key));
		const char *why = NULL, *unused;
		struct sts_secret *s = NULL;
		if ((*sp)->type != STS_SETTING_SECRET || !ref || sts_secret_check(ref, &unused) < 0)
			continue; /* no reference: the schema check said so */
		int r = sts_secret_resolve(ref, inv->dir, &s, &why);
		sts_secret_free(s);
		if (r == STS_ENOMEM)
			return r;
		if (r < 0 &&
		    (r = key_error(diags, inv, prov, (*sp)->key, "secret %s does not resolve: %s",
				   ref, why ? why : "cannot be read")) < 0)
			return r;
	}
	return STS_OK;
}

STS_API int sts_plugin_check_inventory(struct sts_plugin_host *h, const struct sts_inventory *inv,
				       bool secrets, struct sts_diags *diags)
{
	struct sts_plugin_info *v = NULL;
	size_t n = 0;
	int r = sts_plugin_scan(h, &v, &n);
	for (size_t i = 0; r == STS_OK && i < inv->n_providers; i++) {
		const struct sts_provider *prov = &inv->providers[i];
		const struct sts_plugin_api *api = NULL;
		json_t *eff = NULL;
		bool later = false; /* a duplicate key: the last one is the provider */
		for (size_t k = i + 1; k < inv->n_providers && !later; k++)
			later = strcmp(inv->providers[k].name, prov->name) == 0;
		if (later)
			continue;
		/* what the inventory itself refused (no plugin, not an object, a
		 * name that cannot be a plugin's) was reported there */
		if (!prov->plugin || !json_is_object(prov->settings) ||
		    strspn(prov->plugin, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
			strlen(prov->plugin) ||
		    (r = plugin_of(v, n, inv, prov, diags, &api)) < 0 || !api)
			continue;
		r = sts_plugin_validate_provider(api, inv, prov, inv->dir, &eff, diags);
		json_decref(eff);
		if (r == STS_EINVALID)
			r = STS_OK; /* reported */
		else if (r == STS_OK && secrets)
			r = check_secrets(api, inv, prov, diags);
	}
	sts_plugin_infos_free(v, n);
	return r < 0 ? STS_ENOMEM : STS_OK;
}

/* ---- probes with a deadline ---- */

struct probe_job {
	struct sts_plugin_host *h;
	const struct sts_inventory *inv;
	const struct sts_provider *prov;
	struct probe_shared *sh;
	const char *result;
	char *text;
	bool done;
};

struct probe_shared {
	pthread_mutex_t open_mu; /* loading modules changes the host: one open at a time */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t left;
};

static char *diags_text(const struct sts_diags *d)
{
	struct sts_buf b;
	sts_buf_init(&b, 16u * 1024u);
	for (size_t i = 0; i < d->n; i++)
		sts_buf_printf(&b, "%s%s", i ? "; " : "", d->v[i].message);
	return sts_buf_steal(&b);
}

STS_API const char *sts_plugin_probe_provider(struct sts_plugin_host *h,
					      const struct sts_inventory *inv,
					      const struct sts_provider *prov, char **ret_text)
{
	struct sts_diags d;
	struct sts_plugin *p = NULL;
	sts_diags_init(&d);
	*ret_text = NULL;
	int r = sts_plugin_open_provider(h, inv, prov, &p, &d);
	if (r < 0) {
		*ret_text = diags_text(&d);
		sts_diags_release(&d);
		return "error";
	}
	sts_diags_release(&d);
	r = sts_plugin_probe(p, ret_text);
	sts_plugin_close(p);
	if (r == STS_EUNSUPPORTED && !*ret_text)
		return "unsupported";
	if (r < 0 && !*ret_text)
		*ret_text = strdup(sts_strerror(r));
	return r < 0 ? "error" : "ok";
}

/* One provider's probe on a thread of its own. */
static void *probe_main(void *arg)
{
	struct probe_job *j = arg;
	char *text = NULL;
	const char *res = sts_plugin_probe_provider(j->h, j->inv, j->prov, &text);
	pthread_mutex_lock(&j->sh->mu);
	j->result = res;
	j->text = text;
	j->done = true;
	j->sh->left--;
	pthread_cond_broadcast(&j->sh->cv);
	pthread_mutex_unlock(&j->sh->mu);
	return NULL;
}

STS_API int sts_plugin_probe_inventory(struct sts_plugin_host *h, const struct sts_inventory *inv,
				       long timeout_ms, struct sts_probe_result *results)
{
	size_t n = inv->n_providers;
	/* jobs and the shared state outlive a probe that timed out: never freed then */
	struct probe_shared *sh = calloc(1, sizeof(*sh));
	struct probe_job *jobs = calloc(n ? n : 1, sizeof(*jobs));
	if (!sh || !jobs) {
		free(sh);
		free(jobs);
		return STS_ENOMEM;
	}
	pthread_mutex_init(&sh->mu, NULL);
	pthread_cond_init(&sh->cv, NULL);
	/* load the modules here: the threads then only read the host's cache */
	for (size_t i = 0; i < n; i++) {
		const struct sts_plugin_api *api;
		struct sts_diags d;
		sts_diags_init(&d);
		if (inv->providers[i].plugin)
			sts_plugin_find(h, inv->providers[i].plugin, &api, &d); /* errors: later */
		sts_diags_release(&d);
	}
	struct timespec end;
	sts_deadline_after_ms(timeout_ms, &end);
	for (size_t i = 0; i < n; i++) {
		pthread_t t;
		jobs[i] =
		    (struct probe_job){.h = h, .inv = inv, .prov = &inv->providers[i], .sh = sh};
		pthread_mutex_lock(&sh->mu);
		sh->left++;
		pthread_mutex_unlock(&sh->mu);
		if (pthread_create(&t, NULL, probe_main, &jobs[i]) != 0) {
			probe_main(&jobs[i]); /* no thread: here, without a deadline */
			continue;
		}
		pthread_detach(t);
	}
	pthread_mutex_lock(&sh->mu);
	while (sh->left && pthread_cond_timedwait(&sh->cv, &sh->mu, &end) == 0)
		;
	bool late = sh->left > 0;
	for (size_t i = 0; i < n; i++) {
		results[i].result = jobs[i].done ? jobs[i].result : "timeout";
		results[i].text = jobs[i].done ? jobs[i].text : NULL;
		jobs[i].text = NULL;
		if (!jobs[i].done &&
		    asprintf(&results[i].text, "no answer within %ld ms", timeout_ms) < 0)
			results[i].text = NULL;
	}
	pthread_mutex_unlock(&sh->mu);
	if (late)
		return STS_ETIMEOUT; /* sh and jobs stay: a probe thread still uses them */
	pthread_cond_destroy(&sh->cv);
	pthread_mutex_destroy(&sh->mu);
	free(sh);
	free(jobs);
	return STS_OK;
}
