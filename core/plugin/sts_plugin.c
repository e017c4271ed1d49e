/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sts_buf.h"
#include "sts_config.h"
#include "sts_err.h"
#include "sts_plugin_int.h"

#define PATH_DIRS_MAX 64u

/* The plugin's error codes are libsts's (<stsctl/plugin.h> promises it). */
#define SAME_ERR(x) _Static_assert((int)STS_PLUGIN_##x == (int)STS_##x, "STS_PLUGIN_" #x)
SAME_ERR(OK);
SAME_ERR(ENOMEM);
SAME_ERR(EINVAL);
SAME_ERR(EIO);
SAME_ERR(ENOENT);
SAME_ERR(EEXIST);
SAME_ERR(EACCES);
SAME_ERR(ENOSPC);
SAME_ERR(EAGAIN);
SAME_ERR(EPARSE);
SAME_ERR(EINVALID);
SAME_ERR(ETOOLARGE);
SAME_ERR(EPLUGIN);
SAME_ERR(EABI);
SAME_ERR(ESECRET);
SAME_ERR(EPROVIDER);
SAME_ERR(ECONFLICT);
SAME_ERR(ESTALE);
SAME_ERR(EVERIFY);
SAME_ERR(ELOCKED);
SAME_ERR(EDB);
SAME_ERR(ENET);
SAME_ERR(ETIMEOUT);
SAME_ERR(ETLS);
SAME_ERR(EAUTH);
SAME_ERR(EUNSUPPORTED);
SAME_ERR(EREFUSED);
_Static_assert(STS_ELAST == STS_EREFUSED - 1, "a new sts_err needs its STS_PLUGIN_ twin");

/* What every ABI 2 plugin provides: the 2.0 descriptor and ops. */
#define FIELD_END(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))
#define API_V2_SIZE	FIELD_END(struct sts_plugin_api, web)
#define DNS_OPS_V2_SIZE FIELD_END(struct sts_dns_ops, apply)
#define WEB_OPS_V2_SIZE FIELD_END(struct sts_web_ops, del)
#define HAS_OP(o, T, f) ((o)->struct_size >= FIELD_END(T, f) && (o)->f)

/* ------------------------------------------------------------------ */
/* host                                                               */
/* ------------------------------------------------------------------ */

/*
 * Is this process the build tree's own stsctl? Only then is the build
 * tree's plugin directory searched: an installed binary never does,
 * whatever directories exist on the machine.
 */
static bool run_from_build_tree(void)
{
	char self[4096], built[4096];
	if (!realpath("/proc/self/exe", self) || !realpath(STS_BUILD_STSCTL, built))
		return false;
	return strcmp(self, built) == 0;
}

STS_API int sts_plugin_default_path(char ***ret, size_t *ret_n)
{
	char **v = calloc(PATH_DIRS_MAX + 2, sizeof(*v));
	size_t n = 0;
	if (!v)
		return STS_ENOMEM;
	if (run_from_build_tree() && !(v[n++] = strdup(STS_BUILD_PLUGIN_DIR)))
		goto fail;
	const char *env = getenv("STSCTL_PLUGIN_PATH");
	if (env) {
		char *copy = strdup(env);
		if (!copy)
			goto fail;
		char *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d && n < PATH_DIRS_MAX;
		     d = strtok_r(NULL, ":", &save)) {
			if (!(v[n++] = strdup(d))) {
				free(copy);
				goto fail;
			}
		}
		free(copy);
	}
	if (!(v[n++] = strdup(STS_PLUGIN_DIR)))
		goto fail;
	*ret = v;
	*ret_n = n;
	return STS_OK;
fail:
	sts_strv_free(v, n);
	return STS_ENOMEM;
}

STS_API int sts_plugin_host_new(struct sts_plugin_host **ret)
{
	struct sts_plugin_host *h = calloc(1, sizeof(*h));
	if (!h)
		return STS_ENOMEM;
	int r = sts_plugin_default_path(&h->path, &h->n_path);
	if (r < 0) {
		free(h);
		return r;
	}
	*ret = h;
	return STS_OK;
}

STS_API void sts_plugin_host_free(struct sts_plugin_host *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_mods; i++) {
		if (h->mods[i].dl)
			dlclose(h->mods[i].dl);
		free(h->mods[i].path);
	}
	free(h->mods);
	sts_strv_free(h->path, h->n_path);
	STS_FREE_ALL(h->ca_file, h->basedir, h);
}

STS_API void sts_plugin_host_set_log(struct sts_plugin_host *h, sts_plugin_log_fn fn,
				     void *userdata)
{
	h->log_fn = fn;
	h->log_ud = userdata;
}

STS_API int sts_plugin_host_set_path(struct sts_plugin_host *h, const char *const *dirs, size_t n)
{
	char **v = NULL;
	size_t nv = 0;
	if (!dirs || n == 0) {
		int r = sts_plugin_default_path(&v, &nv);
		if (r < 0)
			return r;
	} else {
		v = calloc(n, sizeof(*v));
		if (!v)
			return STS_ENOMEM;
		for (; nv < n; nv++) {
			if (!(v[nv] = strdup(dirs[nv]))) {
				sts_strv_free(v, nv);
				return STS_ENOMEM;
			}
		}
	}
	sts_strv_free(h->path, h->n_path);
	h->path = v;
	h->n_path = nv;
	return STS_OK;
}

STS_API const char *const *sts_plugin_host_path(const struct sts_plugin_host *h, size_t *ret_n)
{
	*ret_n = h->n_path;
	return (const char *const *)h->path;
}

STS_API int sts_plugin_host_set_http(struct sts_plugin_host *h, const struct sts_http_opts *o)
{
	char *ca = o && o->ca_file ? strdup(o->ca_file) : NULL;
	if (o && o->ca_file && !ca)
		return STS_ENOMEM;
	free(h->ca_file);
	h->ca_file = ca;
	memset(&h->http_opts, 0, sizeof(h->http_opts));
	if (o)
		h->http_opts = *o;
	h->http_opts.ca_file = ca;
	return STS_OK;
}

STS_API int sts_plugin_host_set_basedir(struct sts_plugin_host *h, const char *dir)
{
	char *d = dir ? strdup(dir) : NULL;
	if (dir && !d)
		return STS_ENOMEM;
	free(h->basedir);
	h->basedir = d;
	return STS_OK;
}

STS_API const char *sts_plugin_cap_name(unsigned bit)
{
	static const char *const names[] = {"http", "paging", "credentials", "batch"};
	return bit < sizeof(names) / sizeof(names[0]) ? names[bit] : NULL;
}

STS_API const char *sts_plugin_kind_name(enum sts_plugin_kind k)
{
	static const char *const names[] = {[STS_PLUGIN_DNS] = "dns", [STS_PLUGIN_WEB] = "web"};
	unsigned i = (unsigned)k;
	return i < sizeof(names) / sizeof(names[0]) && names[i] ? names[i] : "unknown";
}

/* ------------------------------------------------------------------ */
/* loading one file                                                   */
/* ------------------------------------------------------------------ */

/*
 * Writable only by root or us: owner root or the effective user, not
 * world-writable, and group-writable only for group root or our group.
 */
static const char *perm_problem(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "owned by another user";
	if (st->st_mode & S_IWOTH)
		return "world-writable";
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 && st->st_gid != getegid())
		return "writable by a foreign group";
	return NULL;
}

static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 3 && strcmp(base + n - 3, ".so") == 0)
		n -= 3;
	return strndup(base, n);
}

static int reasonf(char **ret, const char *fmt, ...) STS_PRINTF(2, 3);
static int reasonf(char **ret, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(ret, fmt, ap) < 0)
		*ret = NULL;
	va_end(ap);
	return *ret ? STS_OK : STS_ENOMEM;
}

/* Checks of a descriptor; NULL when fine, else the reason (static or in *buf). */
static int check_api(const struct sts_plugin_api *api, const char *want, char **reason)
{
	if (api->abi_version != STS_PLUGIN_ABI_VERSION) {
		reasonf(reason,
			"plugin ABI %u, this stsctl needs ABI %u; rebuild the plugin against "
			"stsctl-plugin %u",
			api->abi_version, STS_PLUGIN_ABI_VERSION, STS_PLUGIN_ABI_VERSION);
		return STS_EABI;
	}
	if (api->struct_size < API_V2_SIZE) {
		reasonf(reason, "descriptor size %u, expected at least %zu", api->struct_size,
			(size_t)API_V2_SIZE);
		return STS_EABI;
	}
	if (!api->name || strcmp(api->name, want) != 0) {
		reasonf(reason, "descriptor name '%s' does not match the file name '%s'",
			api->name ? api->name : "", want);
		return STS_EABI;
	}
	if (api->kind == STS_PLUGIN_DNS) {
		const struct sts_dns_ops *d = api->dns;
		if (!d || d->struct_size < DNS_OPS_V2_SIZE || !d->read || !d->apply) {
			reasonf(reason, "dns plugin without complete dns operations");
			return STS_EABI;
		}
	} else if (api->kind == STS_PLUGIN_WEB) {
		const struct sts_web_ops *w = api->web;
		if (!w || w->struct_size < WEB_OPS_V2_SIZE || !w->get || !w->put || !w->del) {
			reasonf(reason, "web plugin without complete web operations");
			return STS_EABI;
		}
	} else {
		reasonf(reason, "unknown plugin kind %d", (int)api->kind);
		return STS_EABI;
	}
	if (!api->load) {
		reasonf(reason, "no load operation");
		return STS_EABI;
	}
	return sts_plugin_schema_check(api->schema, reason);
}

static int dir_of_path(const char *path, char **ret)
{
	const char *slash = strrchr(path, '/');
	*ret = !slash	       ? strdup(".")
	       : slash == path ? strdup("/")
			       : strndup(path, (size_t)(slash - path));
	return *ret ? STS_OK : STS_ENOMEM;
}

/* Load path (or find it in the cache). On refusal *reason explains why. */
static int load_module(struct sts_plugin_host *h, const char *path,
		       const struct sts_plugin_api **ret, char **reason)
{
	*reason = NULL;
	for (size_t i = 0; i < h->n_mods; i++) {
		if (strcmp(h->mods[i].path, path) == 0) {
			*ret = h->mods[i].api;
			return STS_OK;
		}
	}
	int r;
	char *dir = NULL, *want = NULL;
	void *dl = NULL;
	struct stat st;
	if ((r = dir_of_path(path, &dir)) < 0 || !(want = name_from_path(path))) {
		r = STS_ENOMEM;
		goto out;
	}
	const char *why;
	if (stat(dir, &st) < 0) {
		r = STS_EPLUGIN;
		reasonf(reason, "cannot stat directory '%s': %s", dir, strerror(errno));
		goto out;
	}
	if ((why = perm_problem(&st))) {
		r = STS_EPLUGIN;
		reasonf(reason, "directory '%s' is %s", dir, why);
		goto out;
	}
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = STS_EPLUGIN;
		reasonf(reason, "not a regular file");
		goto out;
	}
	if ((why = perm_problem(&st))) {
		r = STS_EPLUGIN;
		reasonf(reason, "file is %s", why);
		goto out;
	}
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		r = STS_EPLUGIN;
		reasonf(reason, "cannot load: %s", e ? e : "unknown error");
		goto out;
	}
	const struct sts_plugin_api *api = dlsym(dl, STS_PLUGIN_SYMBOL);
	if (!api) {
		r = STS_EPLUGIN;
		reasonf(reason, "no '%s' symbol", STS_PLUGIN_SYMBOL);
		goto out;
	}
	if ((r = check_api(api, want, reason)) < 0)
		goto out;
	struct sts_plugin_module *m = realloc(h->mods, (h->n_mods + 1) * sizeof(*m));
	if (!m) {
		r = STS_ENOMEM;
		goto out;
	}
	h->mods = m;
	m[h->n_mods].path = strdup(path);
	if (!m[h->n_mods].path) {
		r = STS_ENOMEM;
		goto out;
	}
	m[h->n_mods].dl = dl;
	m[h->n_mods].api = api;
	h->n_mods++;
	dl = NULL;
	*ret = api;
	r = STS_OK;
out:
	if (r == STS_ENOMEM) {
		free(*reason);
		*reason = NULL;
	}
	if (dl)
		dlclose(dl);
	free(dir);
	free(want);
	return r;
}

STS_API int sts_plugin_load_file(struct sts_plugin_host *h, const char *path,
				 const struct sts_plugin_api **ret, struct sts_diags *diags)
{
	char *reason = NULL;
	int r = load_module(h, path, ret, &reason);
	if (r < 0 && r != STS_ENOMEM)
		sts_diags_add(diags, STS_SEV_ERROR, NULL, NULL, 0, 0, NULL,
			      "plugin '%s' refused: %s", path, reason ? reason : sts_strerror(r));
	free(reason);
	return r;
}

STS_API int sts_plugin_find(struct sts_plugin_host *h, const char *name,
			    const struct sts_plugin_api **ret, struct sts_diags *diags)
{
	if (!name || !*name || strchr(name, '/') || name[0] == '.') {
		sts_diags_error(diags, NULL, "invalid plugin name '%s'", name ? name : "");
		return STS_EPLUGIN;
	}
	for (size_t i = 0; i < h->n_path; i++) {
		char *p = NULL;
		if (asprintf(&p, "%s/%s.so", h->path[i], name) < 0)
			return STS_ENOMEM;
		if (access(p, F_OK) == 0) {
			/* the first file found is the one: never fall back past a refusal */
			int r = sts_plugin_load_file(h, p, ret, diags);
			free(p);
			return r;
		}
		free(p);
	}
	sts_diags_error(diags, NULL, "plugin '%s' not found (searched %zu directories)", name,
			h->n_path);
	return STS_EPLUGIN;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.so file names in dir; a missing dir is an empty list. */
static int list_dir(const char *dir, char ***ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return STS_OK;
	char **v = NULL;
	size_t n = 0;
	int r = STS_OK;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len <= 3 || e->d_name[0] == '.' || strcmp(e->d_name + len - 3, ".so") != 0)
			continue;
		char **nv = realloc(v, (n + 1) * sizeof(*nv));
		if (!nv || !(nv[n] = strdup(e->d_name))) {
			v = nv ? nv : v;
			r = STS_ENOMEM;
			break;
		}
		v = nv;
		n++;
	}
	closedir(d);
	if (r < 0) {
		sts_strv_free(v, n);
		return r;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*ret = v;
	*ret_n = n;
	return STS_OK;
}

STS_API void sts_plugin_infos_free(struct sts_plugin_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		STS_FREE_ALL(v[i].name, v[i].path, v[i].reason);
	free(v);
}

STS_API int sts_plugin_scan(struct sts_plugin_host *h, struct sts_plugin_info **ret, size_t *ret_n)
{
	struct sts_plugin_info *v = NULL;
	size_t n = 0;
	int r = STS_OK;
	for (size_t i = 0; i < h->n_path && r == STS_OK; i++) {
		char **files;
		size_t nf;
		r = list_dir(h->path[i], &files, &nf);
		for (size_t j = 0; j < nf && r == STS_OK; j++) {
			struct sts_plugin_info *nv = realloc(v, (n + 1) * sizeof(*nv));
			if (!nv) {
				r = STS_ENOMEM;
				break;
			}
			v = nv;
			struct sts_plugin_info *in = &v[n];
			memset(in, 0, sizeof(*in));
			n++;
			if (asprintf(&in->path, "%s/%s", h->path[i], files[j]) < 0) {
				in->path = NULL;
				r = STS_ENOMEM;
				break;
			}
			if (!(in->name = name_from_path(files[j]))) {
				r = STS_ENOMEM;
				break;
			}
			for (size_t k = 0; k + 1 < n; k++)
				if (strcmp(v[k].name, in->name) == 0)
					in->shadowed = true;
			in->err = load_module(h, in->path, &in->api, &in->reason);
			if (in->err == STS_ENOMEM)
				r = STS_ENOMEM;
			if (in->err < 0)
				in->api = NULL;
		}
		sts_strv_free(files, nf);
	}
	if (r < 0) {
		sts_plugin_infos_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return STS_OK;
}

/* ------------------------------------------------------------------ */
/* instances                                                          */
/* ------------------------------------------------------------------ */

static int open_with(struct sts_plugin_host *h, const char *instance, const json_t *settings,
		     const char *basedir, const char *file, unsigned line, unsigned col,
		     const struct sts_inventory *inv, const struct sts_provider *prov,
		     struct sts_plugin **ret, struct sts_diags *diags)
{
	const struct sts_plugin_api *api = NULL;
	json_t *eff = NULL;
	struct sts_plugin *p = NULL;
	const json_t *pj = json_is_object(settings) ? json_object_get(settings, "plugin") : NULL;
	int r;
	if (!json_is_string(pj)) {
		char *path = NULL;
		if (asprintf(&path, "providers.%s.plugin", instance) < 0)
			return STS_ENOMEM;
		r = sts_diags_add(diags, STS_SEV_ERROR, NULL, file, line, col, path,
				  "provider '%s' does not name its plugin", instance);
		free(path);
		return r < 0 ? r : STS_EINVALID;
	}
	r = sts_plugin_find(h, json_string_value(pj), &api, diags);
	if (r < 0)
		return r;
	r = prov ? sts_plugin_validate_provider(api, inv, prov, basedir, &eff, diags)
		 : sts_plugin_validate_at(api, instance, settings, basedir, file, line, col, &eff,
					  diags);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = STS_ENOMEM;
		goto out;
	}
	p->head.host = &sts_plugin_host_api;
	p->host = h;
	p->api = api;
	pthread_mutex_init(&p->http.lock, NULL);
	p->instance = strdup(instance);
	p->basedir = basedir ? strdup(basedir) : NULL;
	if (asprintf(&p->prefix, "%s:%s", sts_plugin_kind_name(api->kind), api->name) < 0)
		p->prefix = NULL;
	if (!p->instance || !p->prefix || (basedir && !p->basedir)) {
		r = STS_ENOMEM;
		goto out;
	}
	struct sts_plugin_call call;
	char *detail = NULL;
	sts_plugin_call_init(&call);
	r = api->load(p, eff, &call);
	sts_plugin_call_end(&call, r, &detail);
	if (r < 0) {
		sts_diags_add(diags, STS_SEV_ERROR, NULL, file, line, col, NULL,
			      "provider '%s': plugin '%s' failed to load: %s", instance, api->name,
			      detail ? detail : sts_strerror(r));
		free(detail);
		goto out;
	}
	p->loaded = true;
	*ret = p;
	p = NULL;
out:
	sts_plugin_close(p);
	json_decref(eff);
	return r;
}

STS_API int sts_plugin_open(struct sts_plugin_host *h, const char *instance, const json_t *settings,
			    struct sts_plugin **ret, struct sts_diags *diags)
{
	return open_with(h, instance, settings, h->basedir, NULL, 0, 0, NULL, NULL, ret, diags);
}

STS_API int sts_plugin_open_provider(struct sts_plugin_host *h, const struct sts_inventory *inv,
				     const struct sts_provider *prov, struct sts_plugin **ret,
				     struct sts_diags *diags)
{
	const char *base = inv && inv->dir ? inv->dir : h->basedir;
	return open_with(h, prov->name, prov->settings, base, inv ? inv->path : NULL, prov->line,
			 prov->col, inv, prov, ret, diags);
}

STS_API void sts_plugin_close(struct sts_plugin *p)
{
	if (!p)
		return;
	if (p->loaded && p->api->unload)
		p->api->unload(p);
	sts_plugin_http_pool_release(p);
	pthread_mutex_destroy(&p->http.lock);
	STS_FREE_ALL(p->instance, p->prefix, p->basedir, p);
}

STS_API const struct sts_plugin_api *sts_plugin_api_of(const struct sts_plugin *p)
{
	return p->api;
}

STS_API const char *sts_plugin_name(const struct sts_plugin *p)
{
	return p->api->name;
}

STS_API const char *sts_plugin_instance_name(const struct sts_plugin *p)
{
	return p->instance;
}

STS_API enum sts_plugin_kind sts_plugin_kind(const struct sts_plugin *p)
{
	return p->api->kind;
}

/* ------------------------------------------------------------------ */
/* operations                                                         */
/* ------------------------------------------------------------------ */

static const struct sts_dns_ops *dns_ops(const struct sts_plugin *p)
{
	return p->api->kind == STS_PLUGIN_DNS ? p->api->dns : NULL;
}

static const struct sts_web_ops *web_ops(const struct sts_plugin *p)
{
	return p->api->kind == STS_PLUGIN_WEB ? p->api->web : NULL;
}

/* Run one op with its own call context: OP is an expression using &call. */
#define CALL(reterr, OP)                                                                           \
	do {                                                                                       \
		struct sts_plugin_call call;                                                       \
		sts_plugin_call_init(&call);                                                       \
		r = (OP);                                                                          \
		sts_plugin_call_end(&call, r, reterr);                                             \
	} while (0)

STS_API int sts_plugin_dns_read(struct sts_plugin *p, const char *zone, const char *const *names,
				size_t n, struct sts_rrsets *ret, char **reterr)
{
	const struct sts_dns_ops *o = dns_ops(p);
	int r = STS_EUNSUPPORTED;
	if (reterr)
		*reterr = NULL;
	if (o && !names) { /* the whole zone: only where caps say so */
		struct sts_dns_caps caps;
		sts_plugin_dns_caps(p, &caps);
		if (!caps.read_zone || n)
			return STS_EINVAL;
	}
	if (o)
		CALL(reterr, o->read(p, zone, names, n, ret, &call));
	return r;
}

STS_API int sts_plugin_dns_apply(struct sts_plugin *p, const char *zone,
				 const struct sts_dns_change *changes, size_t n, char **reterr)
{
	const struct sts_dns_ops *o = dns_ops(p);
	if (reterr)
		*reterr = NULL;
	if (!o)
		return STS_EUNSUPPORTED;
	const struct sts_rrset_change **v = sts_dns_changes_to_abi(changes, n);
	int r = STS_ENOMEM;
	if (v)
		CALL(reterr, o->apply(p, zone, v, n, &call));
	free(v);
	return r;
}

STS_API void sts_plugin_dns_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	const struct sts_dns_ops *o = dns_ops(p);
	memset(ret, 0, sizeof(*ret));
	ret->struct_size = sizeof(*ret);
	if (o && HAS_OP(o, struct sts_dns_ops, caps))
		o->caps(p, ret);
	ret->struct_size = sizeof(*ret);
	if (ret->max_concurrency == 0)
		ret->max_concurrency = 1;
	if (!ret->kept_ttls)
		ret->n_kept_ttls = 0;
}

STS_API uint32_t sts_dns_caps_ttl(const struct sts_dns_caps *caps, uint32_t ttl)
{
	uint32_t best = ttl, gap = UINT32_MAX;
	for (size_t i = 0; caps && caps->kept_ttls && i < caps->n_kept_ttls; i++) {
		uint32_t t = caps->kept_ttls[i], d = t > ttl ? t - ttl : ttl - t;
		if (d < gap || (d == gap && t > best)) {
			best = t;
			gap = d;
		}
	}
	return best;
}

STS_API bool sts_plugin_api_has_zones(const struct sts_plugin_api *api)
{
	return api->kind == STS_PLUGIN_DNS && api->dns &&
	       HAS_OP(api->dns, struct sts_dns_ops, zones);
}

STS_API int sts_plugin_dns_zones(struct sts_plugin *p, char ***ret, size_t *ret_n, char **reterr)
{
	struct sts_zone_list l = {0};
	int r = STS_EUNSUPPORTED;
	if (reterr)
		*reterr = NULL;
	if (!sts_plugin_api_has_zones(p->api))
		return r;
	CALL(reterr, p->api->dns->zones(p, &l, &call));
	if (r < 0) {
		sts_strv_free(l.v, l.n);
		return r;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), cmp_str);
	*ret = l.v;
	*ret_n = l.n;
	return STS_OK;
}

STS_API int sts_plugin_probe(struct sts_plugin *p, char **reterr)
{
	int r = STS_EUNSUPPORTED;
	if (reterr)
		*reterr = NULL;
	if (p->api->probe)
		CALL(reterr, p->api->probe(p, &call));
	return r;
}

STS_API int sts_plugin_web_get(struct sts_plugin *p, const char *host, struct sts_buf *ret,
			       char **reterr)
{
	const struct sts_web_ops *o = web_ops(p);
	int r = STS_EUNSUPPORTED;
	if (reterr)
		*reterr = NULL;
	if (o)
		CALL(reterr, o->get(p, host, ret, &call));
	return r;
}

STS_API int sts_plugin_web_put(struct sts_plugin *p, const char *host, const void *data, size_t len,
			       char **reterr)
{
	const struct sts_web_ops *o = web_ops(p);
	int r = STS_EUNSUPPORTED;
	if (reterr)
		*reterr = NULL;
	if (o)
		CALL(reterr, o->put(p, host, data, len, &call));
	return r;
}

STS_API int sts_plugin_web_del(struct sts_plugin *p, const char *host, char **reterr)
{
	const struct sts_web_ops *o = web_ops(p);
	int r = STS_EUNSUPPORTED;
	if (reterr)
		*reterr = NULL;
	if (o)
		CALL(reterr, o->del(p, host, &call));
	return r;
}

STS_API void sts_plugin_web_caps(struct sts_plugin *p, struct sts_web_caps *ret)
{
	const struct sts_web_ops *o = web_ops(p);
	memset(ret, 0, sizeof(*ret));
	ret->struct_size = sizeof(*ret);
	ret->verify_https = true;
	if (o && HAS_OP(o, struct sts_web_ops, caps))
		o->caps(p, ret);
	ret->struct_size = sizeof(*ret);
	if (ret->max_concurrency == 0)
		ret->max_concurrency = 1;
}
