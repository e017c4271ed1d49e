/* SPDX-License-Identifier: MIT */
/* plg_rest: helpers the in-tree REST DNS plugins share (plg_rest.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plg_rest.h"

unsigned plg_uint(const json_t *settings, const char *key)
{
	return (unsigned)json_integer_value(json_object_get(settings, key));
}

static char *strip_slashes(const char *url)
{
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	return strndup(url, n);
}

char *plg_setting_dup(const json_t *settings, const char *key)
{
	const char *v = json_string_value(json_object_get(settings, key));
	return v ? strip_slashes(v) : NULL;
}

void plg_wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void plg_free_all(void *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

int plg_secret_line(struct sts_plugin *p, const char *ref, unsigned flags, const char *what,
		    char **ret, struct sts_plugin_call *call)
{
	struct sts_secret *s = NULL;
	int r = sts_plugin_secret(p, ref, &s, call);
	if (r < 0)
		return r;
	const char *v = sts_plugin_secret_value(p, s);
	size_t n = sts_plugin_secret_len(p, s);
	bool blanks = flags & PLG_SECRET_NO_BLANKS;
	while ((flags & PLG_SECRET_TRIM_EOL) && n && (v[n - 1] == '\n' || v[n - 1] == '\r'))
		n--;
	bool bad = n == 0 || memchr(v, '\0', n) || memchr(v, '\n', n) || memchr(v, '\r', n) ||
		   (blanks && (memchr(v, ' ', n) || memchr(v, '\t', n)));
	if (bad) {
		sts_plugin_error(call, "%s is empty or holds %s", what,
				 blanks ? "white space" : "a line break");
		r = STS_PLUGIN_ESECRET;
	} else if (!(*ret = strndup(v, n))) {
		r = STS_PLUGIN_ENOMEM;
	}
	sts_plugin_secret_free(p, s);
	return r;
}

static int bearer(struct sts_plugin *p, struct plg_rest *r, const char *ref,
		  const struct plg_rest_conf *conf, struct sts_plugin_call *call)
{
	char *tok = NULL;
	int e = plg_secret_line(p, ref, conf->token_flags, conf->token_what, &tok, call);
	if (e == STS_PLUGIN_OK && asprintf(&r->auth, "Authorization: Bearer %s", tok) < 0) {
		r->auth = NULL;
		e = STS_PLUGIN_ENOMEM;
	}
	plg_wipe_free(tok);
	return e;
}

int plg_limiter(struct sts_plugin *p, const json_t *settings, const char *key,
		struct sts_limiter **ret, struct sts_plugin_call *call)
{
	const char *spec = json_string_value(json_object_get(settings, key));
	int r = sts_plugin_limiter_new(p, spec, ret);
	if (r < 0)
		sts_plugin_error(call, "cannot make a rate limiter of '%s'", spec);
	return r;
}

int plg_rest_open(struct sts_plugin *p, struct plg_rest *r, const json_t *settings,
		  const struct plg_rest_conf *conf, struct sts_plugin_call *call)
{
	r->error_pointer = conf->error_pointer;
	r->page_size = conf->page_key ? plg_uint(settings, conf->page_key) : 0;
	r->idempotent = conf->idempotent;
	r->timeout_ms = (long)json_integer_value(json_object_get(settings, "timeout")) * 1000L;
	r->base = conf->url ? strip_slashes(conf->url) : plg_setting_dup(settings, "url");
	int e = r->base ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	if (e == STS_PLUGIN_OK && conf->token_key)
		e = bearer(p, r, json_string_value(json_object_get(settings, conf->token_key)),
			   conf, call);
	return e;
}

int plg_rest_limits(struct sts_plugin *p, struct plg_rest *r, const json_t *settings,
		    struct sts_plugin_call *call)
{
	int e = plg_limiter(p, settings, "rate_limit", &r->limiter, call);
	if (e == STS_PLUGIN_OK)
		e = sts_plugin_breaker_new(p, NULL, &r->breaker);
	return e;
}

int plg_rest_load(struct sts_plugin *p, struct plg_rest *r, const json_t *settings,
		  const struct plg_rest_conf *conf, struct sts_plugin_call *call)
{
	int e = plg_rest_open(p, r, settings, conf, call);
	return e == STS_PLUGIN_OK ? plg_rest_limits(p, r, settings, call) : e;
}

/* Is w one of the blank-separated words of list (NULL: none)? */
static bool is_word(const char *list, const char *w)
{
	size_t n = strlen(w);
	for (const char *s = list; s && (s = strstr(s, w)); s += n)
		if ((s == list || s[-1] == ' ') && (s[n] == ' ' || !s[n]))
			return true;
	return false;
}

struct sts_plugin_rest_req plg_rest_req(const struct plg_rest *r, const char *method,
					const char *path, const json_t *body)
{
	return (struct sts_plugin_rest_req){
	    .struct_size = sizeof(struct sts_plugin_rest_req),
	    .method = method,
	    .base = r->base,
	    .path = path,
	    .auth = r->auth,
	    .body = body,
	    .limiter = r->limiter,
	    .breaker = r->breaker,
	    .timeout_ms = r->timeout_ms,
	    .idempotent = is_word(r->idempotent, method),
	    .error_pointer = r->error_pointer,
	};
}

int plg_rest_call(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
		  struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call)
{
	struct sts_plugin_rest_req req = plg_rest_req(sts_plugin_ctx_get(p), method, path, body);
	return sts_plugin_rest(p, &req, resp, call);
}

int plg_rest_send(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
		  struct sts_plugin_call *call)
{
	struct sts_plugin_rest_resp resp;
	int e = plg_rest_call(p, method, path, body, &resp, call);
	sts_plugin_rest_release(p, &resp);
	return e;
}

int plg_rest_plugin_load(struct sts_plugin *p, const struct plg_rest_plugin *d,
			 const json_t *settings, struct sts_plugin_call *call)
{
	struct plg_rest *r = sts_plugin_ctx_new(p, d->ctx_size ? d->ctx_size : sizeof(*r));
	if (!r)
		return STS_PLUGIN_ENOMEM;
	int e = plg_rest_load(p, r, settings, &d->conf, call);
	if (e == STS_PLUGIN_OK && d->init)
		e = d->init(p, r, settings, call);
	if (e < 0)
		plg_rest_plugin_unload(p, d);
	return e;
}

void plg_rest_plugin_unload(struct sts_plugin *p, const struct plg_rest_plugin *d)
{
	struct plg_rest *r = sts_plugin_ctx_get(p);
	if (!r)
		return;
	if (d->fini)
		d->fini(p, r);
	plg_rest_release(p, r);
	free(r);
	sts_plugin_ctx_set(p, NULL);
}

int plg_cursor_page(const char *path, const char *size_key, unsigned size, const char *cursor_key,
		    bool after, const char *cursor, char **ret)
{
	char *enc = NULL;
	*ret = NULL;
	if (after && (!cursor || !*cursor))
		return STS_PLUGIN_OK;
	if (after && !(enc = plg_escape(cursor, NULL)))
		return STS_PLUGIN_ENOMEM;
	int r = STS_PLUGIN_OK;
	if (asprintf(ret, "%s%c%s=%u%s%s%s%s", path, strchr(path, '?') ? '&' : '?', size_key, size,
		     enc ? "&" : "", enc ? cursor_key : "", enc ? "=" : "", enc ? enc : "") < 0) {
		*ret = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	free(enc);
	return r;
}

int plg_list_pages(struct sts_plugin *p, const struct plg_pager *pg, const char *path,
		   const char *key, json_t **ret, struct sts_plugin_call *call)
{
	json_t *all = json_array();
	char *url = NULL;
	int r = all ? pg->next(p, path, 1, NULL, &url) : STS_PLUGIN_ENOMEM;
	for (unsigned page = 1; r == STS_PLUGIN_OK && url; page++) {
		if (page > pg->max_pages) {
			sts_plugin_error(call, "more than %u pages of %s", pg->max_pages, key);
			r = STS_PLUGIN_ETOOLARGE;
			break;
		}
		struct sts_plugin_rest_resp resp;
		r = pg->get ? pg->get(p, url, &resp, call)
			    : plg_rest_call(p, "GET", url, NULL, &resp, call);
		free(url);
		url = NULL;
		json_t *items = r < 0 ? NULL : json_object_get(resp.json, key);
		if (r == STS_PLUGIN_OK && !json_is_array(items) && (items || !pg->may_omit)) {
			sts_plugin_error(call, "an answer without a '%s' list", key);
			r = STS_PLUGIN_EPARSE;
		}
		if (r == STS_PLUGIN_OK && items && json_array_extend(all, items) < 0)
			r = STS_PLUGIN_ENOMEM;
		if (r == STS_PLUGIN_OK && (pg->past_empty || json_array_size(items) > 0))
			r = pg->next(p, path, page + 1, resp.json, &url);
		sts_plugin_rest_release(p, &resp);
	}
	free(url);
	if (r < 0)
		json_decref(all);
	else
		*ret = all;
	return r;
}

int plg_zones_add(struct sts_plugin *p, int r, json_t *items, const char *key,
		  struct sts_zone_list *ret)
{
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		const char *name = json_string_value(json_object_get(it, key));
		if (r == STS_PLUGIN_OK && name)
			r = sts_plugin_zone_add(p, ret, name);
	}
	json_decref(items);
	return r;
}

void plg_rest_release(struct sts_plugin *p, struct plg_rest *r)
{
	plg_wipe_free(r->auth);
	if (r->limiter)
		sts_plugin_limiter_free(p, r->limiter);
	if (r->breaker)
		sts_plugin_breaker_free(p, r->breaker);
	free(r->base);
	memset(r, 0, sizeof(*r));
}

char *plg_own(struct sts_plugin *p, char *host_str, size_t len)
{
	char *s = malloc(len + 1);
	if (s) {
		memcpy(s, host_str, len);
		s[len] = '\0';
	}
	sts_plugin_free(p, host_str);
	return s;
}

int plg_norm(struct sts_plugin *p, const char *name, unsigned flags, char **ret)
{
	char *n = NULL;
	int r = sts_plugin_name_normalize(p, name, flags, &n);
	if (r < 0 || !n)
		return r < 0 ? r : STS_PLUGIN_EPARSE;
	*ret = plg_own(p, n, strlen(n));
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

int plg_txt_value(struct sts_plugin *p, const char *text, const char *what, char **ret,
		  size_t *ret_len, struct sts_plugin_call *call)
{
	char *v = NULL;
	size_t len = 0;
	int r = sts_plugin_txt_unquote(p, text, strlen(text), &v, &len);
	if (r < 0) {
		sts_plugin_error(call, "unreadable TXT %s '%s'", what, text);
		return r;
	}
	*ret = plg_own(p, v, len);
	*ret_len = len;
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

bool plg_name_in(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

char *plg_escape(const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
		if ((*u >= 'A' && *u <= 'Z') || (*u >= 'a' && *u <= 'z') ||
		    (*u >= '0' && *u <= '9') || strchr("-._~", *u) || (keep && strchr(keep, *u))) {
			*o++ = (char)*u;
		} else {
			*o++ = '%';
			*o++ = hex[*u >> 4];
			*o++ = hex[*u & 15];
		}
	}
	*o = '\0';
	return out;
}

int plg_rrset_put(struct sts_plugin *p, struct sts_rrsets *ret, const char *owner, const char *type,
		  uint32_t ttl, const char *v, size_t len)
{
	struct sts_rrset *rr = sts_plugin_rrset_find(p, ret, owner, type);
	if (!rr && !(rr = sts_plugin_rrset_add(p, ret, owner, type, ttl)))
		return STS_PLUGIN_ENOMEM;
	return sts_plugin_rrset_add_value(p, rr, v, len);
}

int plg_rrset_take(struct sts_plugin *p, struct sts_rrset *rr, int r, char *v, size_t len)
{
	if (r == STS_PLUGIN_OK)
		r = sts_plugin_rrset_add_value(p, rr, v, len);
	free(v);
	return r;
}

size_t plg_keep_value(const struct sts_rrset *rs, size_t nv, bool *kept, const char *v, size_t len)
{
	size_t k;
	for (k = 0; k < nv; k++)
		if (!kept[k] && strlen(rs->values[k]) == len && memcmp(rs->values[k], v, len) == 0)
			break;
	if (k < nv)
		kept[k] = true;
	return k;
}

int plg_sync(struct sts_plugin *p, const struct sts_rrset *rs, size_t nv, uint32_t ttl,
	     const struct plg_have *have, size_t n, const struct plg_sync_ops *ops, void *arg,
	     struct sts_plugin_call *call)
{
	bool *kept = calloc(nv + 1, sizeof(*kept));
	size_t *stale = calloc(n + 1, sizeof(*stale)), n_stale = 0, s = 0;
	int r = kept && stale ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++) {
		size_t k = plg_keep_value(rs, nv, kept, have[i].value, have[i].len);
		if (k == nv)
			stale[n_stale++] = i;
		else if (have[i].ttl != ttl)
			r = ops->put(p, arg, have[i].id, rs->values[k], call);
	}
	for (size_t k = 0; r == STS_PLUGIN_OK && k < nv; k++)
		if (!kept[k])
			r = ops->put(p, arg, s < n_stale ? have[stale[s++]].id : NULL,
				     rs->values[k], call);
	for (; r == STS_PLUGIN_OK && s < n_stale; s++)
		r = ops->del(p, arg, have[stale[s]].id, call);
	free(stale);
	free(kept);
	return r;
}

int plg_record_put(struct sts_plugin *p, const char *records, const char *id, const char *method,
		   const json_t *body, struct sts_plugin_call *call)
{
	char *path = NULL;
	if (!id)
		return plg_rest_send(p, "POST", records, body, call);
	if (asprintf(&path, "%s/%s", records, id) < 0)
		return STS_PLUGIN_ENOMEM;
	int r = plg_rest_send(p, method, path, body, call);
	free(path);
	return r;
}

int plg_record_del(struct sts_plugin *p, const char *records, const char *id,
		   struct sts_plugin_call *call)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", records, id) < 0)
		return STS_PLUGIN_ENOMEM;
	int r = plg_rest_send(p, "DELETE", path, NULL, call);
	free(path);
	return r == STS_PLUGIN_ENOENT ? STS_PLUGIN_OK : r; /* gone already: a repeat */
}

int plg_have_num(struct plg_have *h, json_int_t id, uint32_t ttl)
{
	h->ttl = ttl;
	if (asprintf(&h->id, "%lld", (long long)id) < 0) {
		h->id = NULL;
		return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}

int plg_have_done(int r, struct plg_have *have, size_t n, struct plg_have **ret, size_t *ret_n)
{
	if (r < 0) {
		plg_have_free(have, n);
	} else {
		*ret = have;
		*ret_n = n;
	}
	return r;
}

void plg_have_free(struct plg_have *have, size_t n)
{
	for (size_t i = 0; have && i < n; i++) {
		free(have[i].id);
		free(have[i].value);
	}
	free(have);
}

int plg_absolute(struct sts_plugin *p, const char *zone, const char *rel, char **ret)
{
	char *full;
	if (!*rel || strcmp(rel, "@") == 0)
		return plg_norm(p, zone, STS_NAME_DOT, ret);
	if (asprintf(&full, "%s.%s", rel, zone) < 0)
		return STS_PLUGIN_ENOMEM;
	int r = plg_norm(p, full, STS_NAME_DOT, ret);
	free(full);
	return r;
}

int plg_relative(struct sts_plugin *p, const char *zone, const char *owner, const char *apex,
		 char **ret)
{
	char *o = NULL, *z = NULL;
	int r = plg_norm(p, owner, STS_NAME_NODOT, &o);
	if (r == STS_PLUGIN_OK)
		r = plg_norm(p, zone, STS_NAME_NODOT, &z);
	if (r == STS_PLUGIN_OK) {
		size_t lo = strlen(o), lz = strlen(z);
		if (strcmp(o, z) == 0)
			*ret = strdup(apex);
		else if (lo > lz + 1 && o[lo - lz - 1] == '.' && strcmp(o + lo - lz, z) == 0)
			*ret = strndup(o, lo - lz - 1);
		else
			r = STS_PLUGIN_EINVAL;
		if (r == STS_PLUGIN_OK && !*ret)
			r = STS_PLUGIN_ENOMEM;
	}
	free(o);
	free(z);
	return r;
}

int plg_relative_in(struct sts_plugin *p, const char *zone, const char *owner, const char *apex,
		    char **ret, struct sts_plugin_call *call)
{
	int r = plg_relative(p, zone, owner, apex, ret);
	if (r == STS_PLUGIN_EINVAL)
		sts_plugin_error(call, "'%s' is not in zone '%s'", owner, zone);
	return r;
}
