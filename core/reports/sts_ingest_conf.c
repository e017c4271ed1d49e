/* SPDX-License-Identifier: MIT */
/*
 * The inventory's "reports" section as struct sts_ingest_conf. The
 * inventory loader has validated it already (core/inventory/sts_inventory_reports.c,
 * with positions); this only reads it, defensively, and resolves relative
 * paths. docs/inventory.md describes every key.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_ingest.h"
#include "sts_secret.h"

struct cctx {
	struct sts_ingest_conf *c;
	char *err;
	int r;
};

static void fail(struct cctx *x, const char *fmt, ...) STS_PRINTF(2, 3);
static void fail(struct cctx *x, const char *fmt, ...)
{
	if (x->r < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&x->err, fmt, ap) < 0)
		x->err = NULL;
	va_end(ap);
	x->r = STS_EINVALID;
}

static char *dup_or_oom(struct cctx *x, const char *s)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		x->r = STS_ENOMEM;
	return d;
}

/* A path relative to basedir; secret references and "-" stay as they are. */
static char *path_of(struct cctx *x, const char *s)
{
	if (!s)
		return NULL;
	if (s[0] == '/' || sts_secret_is_ref(s) || !x->c->basedir ||
	    strcmp(x->c->basedir, ".") == 0)
		return dup_or_oom(x, s);
	char *p = NULL;
	if (asprintf(&p, "%s/%s", x->c->basedir, s) < 0) {
		x->r = STS_ENOMEM;
		return NULL;
	}
	return p;
}

static const char *str(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool boolean(const json_t *o, const char *k, bool dflt)
{
	const json_t *v = json_object_get(o, k);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static long long integer(const json_t *o, const char *k, long long dflt)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* "maildir:PATH" keeps its prefix; a plain path is made absolute */
static char *spec_of(struct cctx *x, const char *s)
{
	if (strncmp(s, "imap://", 7) == 0 || strncmp(s, "imaps://", 8) == 0)
		return dup_or_oom(x, s);
	if (strncmp(s, "maildir:", 8) == 0) {
		char *p = path_of(x, s + 8), *out = NULL;
		if (p && asprintf(&out, "maildir:%s", p) < 0)
			x->r = STS_ENOMEM;
		free(p);
		return out;
	}
	return path_of(x, s);
}

static void read_source(struct cctx *x, const json_t *v, size_t i)
{
	struct sts_ingest_source *s = &x->c->sources[i];
	const char *spec = json_is_string(v) ? json_string_value(v) : str(v, "source");
	if (!spec) {
		fail(x, "reports.sources[%zu]: a string or an object with \"source\"", i);
		return;
	}
	s->spec = spec_of(x, spec);
	if (!json_is_object(v))
		return;
	s->user = dup_or_oom(x, str(v, "user"));
	s->password = dup_or_oom(x, str(v, "password"));
	s->ca_file = path_of(x, str(v, "ca_file"));
	const char *pr = str(v, "processed");
	s->processed = pr && strcmp(pr, "move") == 0 ? STS_IMAP_MOVE : STS_IMAP_SEEN;
	s->move_to = dup_or_oom(x, str(v, "move_to"));
	if (s->processed == STS_IMAP_MOVE && !s->move_to)
		fail(x, "reports.sources[%zu]: \"processed\": \"move\" needs \"move_to\"", i);
	s->trusted = boolean(v, "trusted", false);
	s->name = dup_or_oom(x, str(v, "name"));
	long long mm = integer(v, "max_messages", 0);
	s->max_messages = mm > 0 && mm < 10000000 ? (unsigned)mm : 0;
}

static char **strv(struct cctx *x, const json_t *a, size_t *ret_n)
{
	size_t n = json_is_array(a) ? json_array_size(a) : 0;
	char **v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		x->r = STS_ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(a, i);
		v[i] = dup_or_oom(x, json_is_string(e) ? json_string_value(e) : "");
	}
	*ret_n = n;
	return v;
}

static void read_https(struct cctx *x, const json_t *h)
{
	struct sts_ingest_https *o = &x->c->https;
	o->max_body = STS_RECEIVER_MAX_BODY;
	o->path = dup_or_oom(x, STS_RECEIVER_DEFAULT_PATH);
	if (!json_is_object(h))
		return;
	o->present = true;
	o->listen = dup_or_oom(x, str(h, "listen"));
	if (str(h, "path")) {
		free(o->path);
		o->path = dup_or_oom(x, str(h, "path"));
	}
	o->cert = path_of(x, str(h, "cert"));
	o->key = path_of(x, str(h, "key"));
	long long mb = integer(h, "max_body", 0);
	if (mb > 0 && (unsigned long long)mb <= STS_RECEIVER_MAX_BODY)
		o->max_body = (size_t)mb;
	o->trusted = boolean(h, "trusted", false);
	o->name = dup_or_oom(x, str(h, "name"));
	long long mc = integer(h, "max_connections", 0), to = integer(h, "timeout", 0);
	o->max_connections = mc > 0 && mc <= 100000 ? (unsigned)mc : 0;
	o->timeout_s = to > 0 && to <= 86400 ? (unsigned)to : 0;
	long long v;
	if ((v = integer(h, "request_timeout", 0)) > 0 && v <= 3600)
		o->request_timeout_s = (unsigned)v;
	if ((v = integer(h, "max_body_memory", 0)) > 0 && v <= (1LL << 32))
		o->body_memory = (size_t)v;
	if ((v = integer(h, "per_ip_connections", 0)) > 0 && v <= 100000)
		o->per_ip_connections = (unsigned)v;
	if ((v = integer(h, "per_ip_requests", 0)) > 0 && v <= 1000000)
		o->per_ip_requests = (unsigned)v;
	if ((v = integer(h, "quota_reports", 0)) > 0)
		o->quota_reports = v;
	if ((v = integer(h, "quota_bytes", 0)) > 0)
		o->quota_bytes = v;
}

static void read_dkim(struct cctx *x, const json_t *d)
{
	struct sts_ingest_conf *c = x->c;
	c->dkim_dns = boolean(d, "dns", true);
	c->dkim_resolver = dup_or_oom(x, str(d, "resolver"));
	long long t = integer(d, "timeout", 0);
	c->dkim_timeout_ms = t > 0 && t <= 600 ? (long)t * 1000 : 0;
	const json_t *keys = json_object_get(d, "keys");
	size_t n = json_is_object(keys) ? json_object_size(keys) : 0;
	c->key_names = calloc(n ? n : 1, sizeof(char *));
	c->key_values = calloc(n ? n : 1, sizeof(char *));
	if (!c->key_names || !c->key_values) {
		x->r = STS_ENOMEM;
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)keys, k, v)
	{
		c->key_names[c->n_keys] = dup_or_oom(x, k);
		c->key_values[c->n_keys++] =
		    dup_or_oom(x, json_is_string(v) ? json_string_value(v) : "");
	}
}

static void read_retention(struct cctx *x, const json_t *r)
{
	struct sts_ingest_retention *k = &x->c->retention;
	k->raw_days = STS_RETENTION_RAW_DAYS;
	k->report_days = STS_RETENTION_REPORT_DAYS;
	k->quarantine_days = STS_RETENTION_QUARANTINE_DAYS;
	long long v;
	if ((v = integer(r, "raw_days", -1)) >= 0 && v <= 100000)
		k->raw_days = (unsigned)v;
	if ((v = integer(r, "report_days", -1)) >= 0 && v <= 100000)
		k->report_days = (unsigned)v;
	if ((v = integer(r, "quarantine_days", -1)) >= 0 && v <= 100000)
		k->quarantine_days = (unsigned)v;
}

STS_API int sts_ingest_conf_from_json(const json_t *reports, const char *basedir,
				      struct sts_ingest_conf **ret, char **reterr)
{
	struct cctx x = {0};
	if (reterr)
		*reterr = NULL;
	if (!(x.c = calloc(1, sizeof(*x.c))))
		return STS_ENOMEM;
	x.c->basedir = dup_or_oom(&x, basedir ? basedir : ".");
	if (reports && !json_is_object(reports))
		fail(&x, "reports: not an object");
	const json_t *src = json_object_get(reports, "sources");
	size_t n = json_is_array(src) ? json_array_size(src) : 0;
	if (x.r == STS_OK && !(x.c->sources = calloc(n ? n : 1, sizeof(*x.c->sources))))
		x.r = STS_ENOMEM;
	for (size_t i = 0; x.r == STS_OK && i < n; i++) {
		read_source(&x, json_array_get(src, i), i);
		x.c->n_sources = i + 1;
	}
	if (x.r == STS_OK)
		read_https(&x, json_object_get(reports, "https"));
	if (x.r == STS_OK)
		read_dkim(&x, json_object_get(reports, "dkim"));
	if (x.r == STS_OK)
		x.c->trusted_mtas =
		    strv(&x, json_object_get(reports, "trusted_mtas"), &x.c->n_trusted_mtas);
	const char *ev = str(reports, "evidence");
	x.c->evidence_all = ev && strcmp(ev, "all") == 0;
	if (x.r == STS_OK && sts_reporters_from_json(reports, &x.c->reporters) < 0)
		x.r = STS_ENOMEM;
	read_retention(&x, json_object_get(reports, "retention"));
	if (x.r < 0) {
		if (reterr)
			*reterr = x.err;
		else
			free(x.err);
		sts_ingest_conf_free(x.c);
		return x.r;
	}
	*ret = x.c;
	return STS_OK;
}

STS_API void sts_ingest_conf_free(struct sts_ingest_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_sources; i++) {
		struct sts_ingest_source *s = &c->sources[i];
		free(s->spec);
		free(s->user);
		free(s->password);
		free(s->ca_file);
		free(s->move_to);
		free(s->name);
	}
	free(c->sources);
	free(c->https.listen);
	free(c->https.path);
	free(c->https.cert);
	free(c->https.key);
	free(c->https.name);
	sts_reporters_free(c->reporters);
	sts_strv_free(c->key_names, c->n_keys);
	sts_strv_free(c->key_values, c->n_keys);
	free(c->dkim_resolver);
	sts_strv_free(c->trusted_mtas, c->n_trusted_mtas);
	free(c->basedir);
	free(c);
}

static bool same_spec(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	if (na && a[na - 1] == '/')
		na--;
	if (nb && b[nb - 1] == '/')
		nb--;
	return na == nb && strncmp(a, b, na) == 0;
}

STS_API const struct sts_ingest_source *sts_ingest_conf_source(const struct sts_ingest_conf *c,
							       const char *spec)
{
	for (size_t i = 0; c && i < c->n_sources; i++)
		if (c->sources[i].spec && same_spec(c->sources[i].spec, spec))
			return &c->sources[i];
	return NULL;
}

STS_API void sts_ingest_conf_dkim(const struct sts_ingest_conf *c, struct sts_dkim_conf *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->key_names = c->key_names;
	ret->key_values = c->key_values;
	ret->n_keys = c->n_keys;
	ret->dns = c->dkim_dns;
	ret->resolver = c->dkim_resolver;
	ret->timeout_ms = c->dkim_timeout_ms;
	ret->trusted_mtas = c->trusted_mtas;
	ret->n_trusted_mtas = c->n_trusted_mtas;
}
