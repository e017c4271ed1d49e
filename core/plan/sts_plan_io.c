/* SPDX-License-Identifier: MIT */
/* Provider access for plan/apply: the plugin-backed struct sts_io and
 * per-provider concurrency limits (the worker pool: core/base/sts_pool.c). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "sts_breaker.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_plan.h"
#include "sts_plugin.h"
#include "sts_ratelimit.h"

/* ---- per-provider limits ---- */

struct limit {
	char *name;
	unsigned limit, held;
	struct sts_ratelimit *rate; /* NULL = unlimited */
};

struct sts_limits {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct limit *v;
	size_t n;
};

STS_API int sts_limits_new(struct sts_limits **ret)
{
	struct sts_limits *l = calloc(1, sizeof(*l));
	if (!l)
		return STS_ENOMEM;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	*ret = l;
	return STS_OK;
}

STS_API void sts_limits_free(struct sts_limits *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		sts_ratelimit_free(l->v[i].rate);
	}
	free(l->v);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static struct limit *limit_find(struct sts_limits *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

STS_API int sts_limits_set(struct sts_limits *l, const char *name, unsigned limit)
{
	int r = STS_OK;
	pthread_mutex_lock(&l->mu);
	if (!limit_find(l, name)) {
		struct limit *v = realloc(l->v, (l->n + 1) * sizeof(*v));
		char *s = strdup(name);
		if (v)
			l->v = v;
		if (!v || !s) {
			free(s);
			r = STS_ENOMEM;
		} else {
			l->v[l->n++] = (struct limit){.name = s, .limit = limit ? limit : 1};
		}
	}
	pthread_mutex_unlock(&l->mu);
	return r;
}

STS_API int sts_limits_set_rate(struct sts_limits *l, const char *name, unsigned per_sec)
{
	struct sts_ratelimit *rl = NULL;
	if (per_sec) {
		int r = sts_ratelimit_new(NULL, &rl);
		if (r < 0 || (r = sts_ratelimit_add_rate(rl, per_sec)) < 0) {
			sts_ratelimit_free(rl);
			return r;
		}
	}
	pthread_mutex_lock(&l->mu);
	struct limit *x = limit_find(l, name);
	if (x) { /* the one it replaces is freed (rates are set before calls start) */
		struct sts_ratelimit *old = x->rate;
		x->rate = rl;
		rl = old;
	}
	pthread_mutex_unlock(&l->mu);
	sts_ratelimit_free(rl);
	return x ? STS_OK : STS_ENOENT;
}

STS_API void sts_limits_acquire(struct sts_limits *l, const char *name)
{
	struct sts_ratelimit *rate = NULL;
	pthread_mutex_lock(&l->mu);
	struct limit *x = limit_find(l, name);
	while (x && x->held >= x->limit) {
		pthread_cond_wait(&l->cv, &l->mu);
		x = limit_find(l, name); /* v may have moved */
	}
	if (x) {
		x->held++;
		rate = x->rate;
	}
	pthread_mutex_unlock(&l->mu);
	if (rate) /* calls start at least 1/rate s apart */
		sts_ratelimit_acquire(rate, -1);
}

STS_API bool sts_limits_try_acquire(struct sts_limits *l, const char *name)
{
	pthread_mutex_lock(&l->mu);
	struct limit *x = limit_find(l, name);
	bool ok = !x || x->held < x->limit;
	if (x && ok)
		x->held++;
	pthread_mutex_unlock(&l->mu);
	return ok;
}

STS_API void sts_limits_pace(struct sts_limits *l, const char *name)
{
	pthread_mutex_lock(&l->mu);
	struct limit *x = limit_find(l, name);
	struct sts_ratelimit *rate = x ? x->rate : NULL;
	pthread_mutex_unlock(&l->mu);
	if (rate)
		sts_ratelimit_acquire(rate, -1);
}

STS_API void sts_limits_release(struct sts_limits *l, const char *name)
{
	pthread_mutex_lock(&l->mu);
	struct limit *x = limit_find(l, name);
	if (x && x->held)
		x->held--;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* ---- providers that were down ---- */

STS_API int sts_plan_down_add(struct sts_plan_down **v, size_t *n, const struct sts_io *io,
			      const struct sts_plan_domain *d, const char **ret_provider)
{
	const char *const cand[] = {d->dns, d->web};
	*ret_provider = NULL;
	for (size_t c = 0; c < 2 && io->ops->down; c++) {
		size_t k = 0;
		while (cand[c] && k < *n && strcmp((*v)[k].provider, cand[c]) != 0)
			k++;
		if (cand[c] && k < *n) {
			if ((*v)[k].n_domains < 3)
				(*v)[k].first[(*v)[k].n_domains] = d->name;
			(*v)[k].n_domains++;
			*ret_provider = (*v)[k].provider;
			return STS_OK;
		}
		char *why = NULL;
		int r = cand[c] ? io->ops->down(io->ud, cand[c], &why) : 0;
		if (r <= 0)
			continue;
		struct sts_plan_down *nv = realloc(*v, (*n + 1) * sizeof(*nv));
		if (!nv) {
			free(why);
			return STS_ENOMEM;
		}
		*v = nv;
		nv[(*n)++] = (struct sts_plan_down){cand[c], why, 1, {d->name, NULL, NULL}};
		*ret_provider = cand[c];
		return STS_OK;
	}
	return STS_OK;
}

static int down_cmp(const void *x, const void *y)
{
	return strcmp(((const struct sts_plan_down *)x)->provider,
		      ((const struct sts_plan_down *)y)->provider);
}

STS_API void sts_plan_down_sort(struct sts_plan_down *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), down_cmp);
}

STS_API void sts_plan_down_free(struct sts_plan_down *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].why);
	free(v);
}

/* ---- sha256 of a file ---- */

STS_API int sts_file_sha256(const char *path, char ret[65])
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_INVENTORY); /* the file is an inventory */
	int r = sts_buf_read_file(&b, path);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdn = 0;
	if (r == STS_OK && !EVP_Digest(b.data, b.len, md, &mdn, EVP_sha256(), NULL))
		r = STS_ENOMEM;
	for (unsigned i = 0; r == STS_OK && i < 32 && i < mdn; i++)
		snprintf(ret + 2 * i, 3, "%02x", md[i]);
	sts_buf_release(&b);
	return r;
}

/* ---- the plugin-backed io ---- */

struct prov {
	const struct sts_provider *p;
	struct sts_plugin *h;
	int err;
	char *errmsg;
	bool tried;
	/* the zones op, asked once */
	bool zones_tried;
	int zones_err;
	char *zones_errmsg;
	char **zones;
	size_t n_zones;
	/* down for the rest of the run (io->mu): its breaker opened, or it
	 * refused the credentials; every later call fails at once with why */
	struct sts_breaker *breaker;
	bool down;
	int down_err;
	char *down_why;
};

struct plugin_io {
	struct sts_io io;
	struct sts_plugin_host *host;
	const struct sts_inventory *inv;
	pthread_mutex_t mu;
	struct prov *provs;
	size_t n;
};

static char *dupmsg(const char *fmt, const char *a, const char *b)
{
	char *s = NULL;
	if (asprintf(&s, fmt, a, b ? b : "") < 0)
		return NULL;
	return s;
}

static struct prov *prov_find(struct plugin_io *io, const char *name)
{
	for (size_t i = 0; i < io->n; i++)
		if (strcmp(io->provs[i].p->name, name) == 0)
			return &io->provs[i];
	return NULL;
}

/* The open plugin for provider name; opened once, errors remembered. */
static int get_plugin(struct plugin_io *io, const char *name, struct sts_plugin **ret,
		      char **reterr)
{
	struct prov *pv = prov_find(io, name);
	if (!pv) {
		if (reterr)
			*reterr =
			    dupmsg("provider '%s' is not defined in the inventory", name, NULL);
		return STS_EPLUGIN;
	}
	pthread_mutex_lock(&io->mu);
	if (!pv->tried) {
		struct sts_diags d;
		sts_diags_init(&d);
		pv->tried = true;
		pv->err = sts_plugin_open_provider(io->host, io->inv, pv->p, &pv->h, &d);
		if (pv->err < 0) {
			struct sts_buf b;
			sts_buf_init(&b, 4096);
			for (size_t i = 0; i < d.n; i++) {
				const struct sts_diag *x = &d.v[i];
				if (i)
					sts_buf_puts(&b, "; ");
				/* where: the setting's position and path (providers.NAME.KEY) */
				if (x->file && x->line)
					sts_buf_printf(&b, "%s:%u:", x->file, x->line);
				if (x->file && x->line && x->col)
					sts_buf_printf(&b, "%u:", x->col);
				if (x->file && x->line)
					sts_buf_puts(&b, " ");
				if (x->path)
					sts_buf_printf(&b, "%s: ", x->path);
				sts_buf_puts(&b, x->message);
			}
			if (b.len)
				pv->errmsg = strdup(sts_buf_str(&b)); /* names the provider */
			else
				pv->errmsg = dupmsg("cannot open provider '%s': %s", name,
						    sts_strerror(pv->err));
			sts_buf_release(&b);
		}
		sts_diags_release(&d);
	}
	if (pv->down && sts_breaker_state(pv->breaker) != STS_BREAKER_OPEN) {
		pv->down = false; /* STS_IO_DOWN_MS passed (a daemon): try it again */
		free(pv->down_why);
		pv->down_why = NULL;
	}
	int r = pv->err < 0 ? pv->err : pv->down ? pv->down_err : STS_OK;
	if (r < 0 && reterr) {
		const char *why = pv->err < 0 ? pv->errmsg : pv->down_why;
		*reterr = why ? strdup(why) : NULL;
	}
	pthread_mutex_unlock(&io->mu);
	if (pv->err < 0) /* never STS_ENOENT here: that would read as "nothing published" */
		return pv->err == STS_ENOMEM || pv->err == STS_EABI ? pv->err : STS_EPLUGIN;
	if (r < 0)
		return r;
	*ret = pv->h;
	return STS_OK;
}

/* No answer after the host's retries (or the plugin's breaker is open). */
static bool unreachable(int r)
{
	return r == STS_ENET || r == STS_ETIMEOUT || r == STS_ETLS || r == STS_EAGAIN;
}

/*
 * After a call to provider name: count it on the provider's breaker. The
 * provider is down for the rest of the run when the breaker opens
 * (STS_IO_DOWN_AFTER unreachable calls in a row) or at once when it refused
 * the credentials; why is the call's own text.
 */
static int note(struct plugin_io *io, const char *name, int r, const char *why)
{
	struct prov *pv = prov_find(io, name);
	if (!pv || r == STS_ENOMEM)
		return r;
	pthread_mutex_lock(&io->mu);
	if (!pv->breaker) {
		struct sts_breaker_opts o = {.failures = STS_IO_DOWN_AFTER,
					     .cooldown_ms = STS_IO_DOWN_MS};
		if (sts_breaker_new(&o, NULL, &pv->breaker) < 0)
			pv->breaker = NULL;
	}
	if (pv->breaker && !pv->down) {
		sts_breaker_done(pv->breaker, !unreachable(r));
		for (unsigned i = 0; r == STS_EAUTH && i < STS_IO_DOWN_AFTER; i++)
			sts_breaker_done(pv->breaker, false); /* refused credentials: open now */
		if (sts_breaker_state(pv->breaker) == STS_BREAKER_OPEN) {
			pv->down = true;
			pv->down_err = r;
			pv->down_why = why ? strdup(why) : NULL;
		}
	}
	pthread_mutex_unlock(&io->mu);
	return r;
}

/* The plugin's text for a failed call, except for a plain "not there". */
static void keep_err(int r, char *msg, char **reterr)
{
	if (reterr && r < 0 && r != STS_ENOENT)
		*reterr = msg;
	else
		free(msg);
}

static int io_dns_read(void *ud, const char *provider, const char *zone, const char *const *names,
		       size_t n, struct sts_rrsets *ret, char **reterr)
{
	struct sts_plugin *p;
	int r = get_plugin(ud, provider, &p, reterr);
	if (r < 0)
		return r;
	r = sts_plugin_dns_read(p, zone, names, n, ret, reterr);
	return note(ud, provider, r, reterr ? *reterr : NULL);
}

static int io_dns_apply(void *ud, const char *provider, const char *zone,
			const struct sts_dns_change *changes, size_t n, char **reterr)
{
	struct sts_plugin *p;
	int r = get_plugin(ud, provider, &p, reterr);
	if (r < 0)
		return r;
	r = sts_plugin_dns_apply(p, zone, changes, n, reterr);
	return note(ud, provider, r, reterr ? *reterr : NULL);
}

static int io_dns_caps(void *ud, const char *provider, struct sts_dns_caps *ret)
{
	struct sts_plugin *p;
	int r = get_plugin(ud, provider, &p, NULL);
	if (r < 0)
		return r;
	sts_plugin_dns_caps(p, ret);
	return STS_OK;
}

static int io_web_get(void *ud, const char *provider, const char *host, struct sts_buf *ret,
		      char **reterr)
{
	struct sts_plugin *p;
	int r = get_plugin(ud, provider, &p, reterr);
	if (r < 0)
		return r;
	char *msg = NULL;
	r = sts_plugin_web_get(p, host, ret, &msg);
	note(ud, provider, r, msg);
	keep_err(r, msg, reterr);
	return r;
}

static int io_web_put(void *ud, const char *provider, const char *host, const void *data,
		      size_t len, char **reterr)
{
	struct sts_plugin *p;
	int r = get_plugin(ud, provider, &p, reterr);
	if (r < 0)
		return r;
	r = sts_plugin_web_put(p, host, data, len, reterr);
	return note(ud, provider, r, reterr ? *reterr : NULL);
}

static int io_web_del(void *ud, const char *provider, const char *host, char **reterr)
{
	struct sts_plugin *p;
	int r = get_plugin(ud, provider, &p, reterr);
	if (r < 0)
		return r;
	char *msg = NULL;
	r = sts_plugin_web_del(p, host, &msg);
	note(ud, provider, r, msg);
	keep_err(r, msg, reterr);
	return r;
}

static int io_web_caps(void *ud, const char *provider, struct sts_web_caps *ret)
{
	struct sts_plugin *p;
	int r = get_plugin(ud, provider, &p, NULL);
	if (r < 0)
		return r;
	sts_plugin_web_caps(p, ret);
	return STS_OK;
}

static int io_dns_zones(void *ud, const char *provider, char *const **ret, size_t *ret_n,
			char **reterr)
{
	struct plugin_io *io = ud;
	struct sts_plugin *p;
	int r = get_plugin(io, provider, &p, reterr);
	if (r < 0)
		return r;
	struct prov *pv = NULL;
	for (size_t i = 0; i < io->n && !pv; i++)
		if (io->provs[i].h == p)
			pv = &io->provs[i];
	pthread_mutex_lock(&io->mu);
	if (!pv->zones_tried) {
		pv->zones_tried = true;
		pv->zones_err =
		    sts_plugin_dns_zones(p, &pv->zones, &pv->n_zones, &pv->zones_errmsg);
	}
	r = pv->zones_err;
	if (r == STS_OK) {
		*ret = pv->zones;
		*ret_n = pv->n_zones;
	} else if (reterr && pv->zones_errmsg) {
		*reterr = strdup(pv->zones_errmsg);
	}
	pthread_mutex_unlock(&io->mu);
	return r;
}

static int io_down(void *ud, const char *provider, char **ret_why)
{
	struct plugin_io *io = ud;
	struct prov *pv = prov_find(io, provider);
	int r = 0;
	*ret_why = NULL;
	if (!pv)
		return 0;
	pthread_mutex_lock(&io->mu);
	bool down = pv->down && sts_breaker_state(pv->breaker) == STS_BREAKER_OPEN;
	const char *why = pv->tried && pv->err < 0 ? pv->errmsg : down ? pv->down_why : NULL;
	if ((pv->tried && pv->err < 0) || down) {
		r = 1;
		if (why && !(*ret_why = strdup(why)))
			r = STS_ENOMEM;
	}
	pthread_mutex_unlock(&io->mu);
	return r;
}

static const struct sts_io_ops plugin_ops = {
    .down = io_down,
    .dns_zones = io_dns_zones,
    .dns_read = io_dns_read,
    .dns_apply = io_dns_apply,
    .dns_caps = io_dns_caps,
    .web_get = io_web_get,
    .web_put = io_web_put,
    .web_del = io_web_del,
    .web_caps = io_web_caps,
};

STS_API int sts_io_plugins_new(struct sts_plugin_host *host, const struct sts_inventory *inv,
			       struct sts_io **ret)
{
	struct plugin_io *io = calloc(1, sizeof(*io));
	if (!io)
		return STS_ENOMEM;
	io->provs = calloc(inv->n_providers ? inv->n_providers : 1, sizeof(*io->provs));
	if (!io->provs) {
		free(io);
		return STS_ENOMEM;
	}
	for (size_t i = 0; i < inv->n_providers; i++)
		io->provs[i].p = &inv->providers[i];
	io->n = inv->n_providers;
	io->host = host;
	io->inv = inv;
	pthread_mutex_init(&io->mu, NULL);
	io->io.ops = &plugin_ops;
	io->io.ud = io;
	*ret = &io->io;
	return STS_OK;
}

STS_API void sts_io_plugins_free(struct sts_io *x)
{
	if (!x)
		return;
	struct plugin_io *io = x->ud;
	for (size_t i = 0; i < io->n; i++) {
		struct prov *pv = &io->provs[i];
		sts_plugin_close(pv->h);
		free(pv->errmsg);
		free(pv->zones_errmsg);
		for (size_t k = 0; k < pv->n_zones; k++)
			free(pv->zones[k]);
		free(pv->zones);
		sts_breaker_free(pv->breaker);
		free(pv->down_why);
	}
	free(io->provs);
	pthread_mutex_destroy(&io->mu);
	free(io);
}
