/* SPDX-License-Identifier: MIT */
/*
 * Render: policy text, policy id, DNS records, TXT presentation, zone
 * fragments and nginx server blocks for one domain. Pure: no clock, no
 * environment, no I/O. The JSON writer, the tree writer and the JSON stream
 * are in sts_render_out.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_mx.h"
#include "sts_record.h"
#include "sts_render_int.h"
#include "sts_template.h"
#include "sts_txt.h"

#define DNS_NAME_MAX 253 /* presentation form, no trailing dot */

int sts_render_put_ll(struct sts_buf *b, long long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	return sts_buf_append(b, tmp + i, sizeof(tmp) - i);
}

/* malloc'd a + b + c (c may be NULL) */
static char *cat3(const char *a, const char *b, const char *c)
{
	size_t na = strlen(a), nb = strlen(b), nc = c ? strlen(c) : 0;
	char *s = malloc(na + nb + nc + 1);
	if (!s)
		return NULL;
	memcpy(s, a, na);
	memcpy(s + na, b, nb);
	memcpy(s + na + nb, c ? c : "", nc + 1);
	return s;
}

static bool ldh(unsigned char c)
{
	return (unsigned)((c | 0x20) - 'a') < 26 || (unsigned)(c - '0') < 10 || c == '-' ||
	       c == '_';
}

/* Host name made of non-empty labels of [A-Za-z0-9_-] up to 63, at most 253. */
static bool name_ok(const char *s)
{
	if (!s)
		return false;
	const char *start = s;
	size_t label = 0;
	for (;; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '.' || c == '\0') {
			if (label == 0)
				return false;
			if (c == '\0')
				break;
			label = 0;
		} else if (!ldh(c) || ++label > 63) {
			return false;
		}
	}
	return (size_t)(s - start) <= DNS_NAME_MAX;
}

static bool mx_ok(const char *p)
{
	return p && sts_mx_pattern_check(p, NULL) == STS_OK;
}

static bool rua_ok(const char *u)
{
	return u && sts_rua_check(u, NULL) == STS_OK;
}

/* Is name (no trailing dot) the zone apex or below it? */
static bool in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);
	if (n == z)
		return strcasecmp(name, zone) == 0;
	return n > z && name[n - z - 1] == '.' && strcasecmp(name + n - z, zone) == 0;
}

STS_API int sts_render_policy_text(enum sts_mode mode, long long max_age, char *const *mx,
				   size_t n_mx, struct sts_buf *out)
{
	const char *m = sts_mode_name(mode);
	if (!m || max_age < 0 || max_age > STS_MAX_AGE_MAX || (n_mx == 0 && mode != STS_MODE_NONE))
		return STS_EINVAL;
	for (size_t i = 0; i < n_mx; i++)
		if (!mx_ok(mx[i]))
			return STS_EINVAL;
	/* Order: version (first, docs/rfc-rules.md B10), mode, mx in inventory order, max_age. */
	int r = STS_PUT_LIT(out, "version: STSv1\r\nmode: ");
	if (r >= 0)
		r = sts_buf_puts(out, m);
	for (size_t i = 0; i < n_mx && r >= 0; i++) {
		r = STS_PUT_LIT(out, "\r\nmx: ");
		if (r >= 0)
			r = sts_buf_puts(out, mx[i]);
	}
	if (r >= 0)
		r = STS_PUT_LIT(out, "\r\nmax_age: ");
	if (r >= 0)
		r = sts_render_put_ll(out, max_age);
	return r < 0 ? r : STS_PUT_LIT(out, "\r\n");
}

void sts_hasher_release(struct sts_hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	h->ctx = NULL;
	h->md = NULL;
}

void sts_hasher_init(struct sts_hasher *h)
{
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (!h->md || !h->ctx)
		sts_hasher_release(h);
}

/* The first 128 bits of SHA-256(text) in lower-case hex: 32 characters. */
static int policy_id(struct sts_hasher *h, const char *text, size_t len, char ret[STS_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok;
	if (h && h->ctx)
		ok = EVP_DigestInit_ex2(h->ctx, h->md, NULL) &&
		     EVP_DigestUpdate(h->ctx, text, len) && EVP_DigestFinal_ex(h->ctx, md, &n);
	else
		ok = EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
	if (!ok || n < STS_ID_MAX / 2)
		return STS_ENOMEM;
	for (size_t i = 0; i < STS_ID_MAX / 2; i++) {
		ret[2 * i] = hex[md[i] >> 4];
		ret[2 * i + 1] = hex[md[i] & 0xf];
	}
	ret[STS_ID_MAX] = '\0';
	return STS_OK;
}

STS_API int sts_policy_id(const char *text, size_t len, char ret[STS_ID_MAX + 1])
{
	return policy_id(NULL, text, len, ret);
}

STS_API void sts_rendered_release(struct sts_rendered *r)
{
	if (!r)
		return;
	STS_FREE_ALL(r->domain, r->zone, r->policy_host, r->policy_text);
	for (size_t i = 0; i < r->n_records; i++)
		STS_FREE_ALL(r->records[i].name, r->records[i].type, r->records[i].value);
	free(r->records);
	sts_strv_free(r->mx, r->n_mx);
	memset(r, 0, sizeof(*r));
}

/* Append a record; name is "<prefix><domain>." */
static int add_record(struct sts_rendered *x, const char *prefix, const char *type, uint32_t ttl,
		      char *value, const char **why)
{
	struct sts_record *rec = &x->records[x->n_records];
	if (!value)
		return STS_ENOMEM;
	if (strlen(prefix) + strlen(x->domain) > DNS_NAME_MAX) {
		free(value);
		*why = "record name longer than 253 octets";
		return STS_EINVAL;
	}
	*rec = (struct sts_record){.type = strdup(type), .ttl = ttl, .value = value};
	rec->name = cat3(prefix, x->domain, ".");
	x->n_records++;
	return rec->name && rec->type ? STS_OK : STS_ENOMEM;
}

static char *absolute(const char *name)
{
	return cat3(name, ".", NULL);
}

static char *tlsrpt_value(const struct sts_domain *d)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_TEXT);
	int r = sts_buf_puts(&b, "v=TLSRPTv1; rua=");
	for (size_t i = 0; i < d->n_rua && r >= 0; i++) {
		if (i > 0)
			r = sts_buf_putc(&b, ',');
		if (r >= 0)
			r = sts_buf_puts(&b, d->rua[i]);
	}
	if (r < 0) {
		sts_buf_release(&b);
		return NULL;
	}
	return sts_buf_steal(&b);
}

static const char *check_domain(const struct sts_domain *d, enum sts_mode mode)
{
	if (!name_ok(d->name))
		return "invalid domain name";
	const char *zone = d->zone ? d->zone : d->name;
	if (!name_ok(zone))
		return "invalid zone name";
	if (!in_zone(d->name, zone))
		return "domain is not inside its zone";
	if (!sts_mode_name(mode))
		return "invalid mode";
	if (d->max_age < 0 || d->max_age > STS_MAX_AGE_MAX)
		return "max_age outside 0..31557600";
	if (d->ttl > 2147483647u)
		return "ttl above 2147483647";
	/* mx patterns: checked once, by sts_render_policy_text() (render_policy) */
	for (size_t i = 0; i < d->n_rua; i++)
		if (!rua_ok(d->rua[i]))
			return "invalid rua URI (RFC 8460 section 3)";
	if (d->hosting == STS_HOSTING_DELEGATED) {
		if (!name_ok(d->delegate_sts))
			return "delegated hosting without a valid _mta-sts CNAME target";
		if (d->delegate_policy && !name_ok(d->delegate_policy))
			return "invalid mta-sts CNAME target";
	} else if (d->n_mx == 0 && mode != STS_MODE_NONE) {
		return "mode enforce or testing without mx";
	}
	return NULL;
}

static int copy_mx(const struct sts_domain *d, struct sts_rendered *x)
{
	if (d->n_mx == 0)
		return STS_OK;
	x->mx = calloc(d->n_mx, sizeof(*x->mx));
	if (!x->mx)
		return STS_ENOMEM;
	for (; x->n_mx < d->n_mx; x->n_mx++)
		if (!(x->mx[x->n_mx] = strdup(d->mx[x->n_mx])))
			return STS_ENOMEM;
	return STS_OK;
}

static int render_policy(const struct sts_domain *d, struct sts_rendered *x, struct sts_hasher *h,
			 const char **why)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_POLICY);
	int r = sts_render_policy_text(x->mode, x->max_age, d->mx, d->n_mx, &b);
	if (r == STS_EINVAL) /* mode, max_age and the mx count passed check_domain() */
		*why = "invalid mx pattern (RFC 8461 section 3.2)";
	if (r >= 0)
		r = policy_id(h, b.data, b.len, x->id);
	if (r < 0) {
		sts_buf_release(&b);
		return r;
	}
	x->policy_text = sts_buf_steal(&b);
	return x->policy_text ? STS_OK : STS_ENOMEM;
}

int sts_render_domain_h(const struct sts_domain *d, enum sts_mode mode_override,
			struct sts_rendered *ret, const char **reterr, struct sts_hasher *h)
{
	const char *why_dummy;
	const char **why = reterr ? reterr : &why_dummy;
	enum sts_mode mode = mode_override != STS_MODE_INVALID ? mode_override : d->mode;
	if (d->state == STS_STATE_ABSENT)
		mode = STS_MODE_NONE;
	*why = check_domain(d, mode);
	if (*why)
		return STS_EINVAL;

	struct sts_rendered x = {.mode = mode, .max_age = d->max_age, .hosting = d->hosting};
	uint32_t ttl = d->ttl ? d->ttl : STS_DEFAULT_TTL;
	int r = STS_ENOMEM;
	x.domain = strdup(d->name);
	x.zone = strdup(d->zone ? d->zone : d->name);
	x.records = calloc(3, sizeof(*x.records));
	x.policy_host = cat3("mta-sts.", d->name, NULL);
	if (!x.domain || !x.zone || !x.records || !x.policy_host)
		goto out;
	r = copy_mx(d, &x);
	if (r < 0)
		goto out;
	if (d->hosting == STS_HOSTING_DELEGATED) {
		r = add_record(&x, "_mta-sts.", "CNAME", ttl, absolute(d->delegate_sts), why);
	} else {
		r = render_policy(d, &x, h, why);
		/* hosted: the TXT is at <label>._mta-sts.<hosted zone> (label: the state) */
		if (r >= 0 && d->hosting != STS_HOSTING_HOSTED)
			r = add_record(&x, "_mta-sts.", "TXT", ttl, cat3("v=STSv1; id=", x.id, ";"),
				       why);
	}
	if (r >= 0 && d->n_rua > 0)
		r = add_record(&x, "_smtp._tls.", "TXT", ttl, tlsrpt_value(d), why);
	if (r >= 0 && d->hosting == STS_HOSTING_DELEGATED && d->delegate_policy)
		r = add_record(&x, "mta-sts.", "CNAME", ttl, absolute(d->delegate_policy), why);
	if (r < 0)
		goto out;
	*ret = x;
	return STS_OK;
out:
	sts_rendered_release(&x);
	return r;
}

STS_API int sts_render_domain_why(const struct sts_domain *d, enum sts_mode mode_override,
				  struct sts_rendered *ret, const char **reterr)
{
	return sts_render_domain_h(d, mode_override, ret, reterr, NULL);
}

STS_API int sts_render_domain(const struct sts_domain *d, enum sts_mode mode_override,
			      struct sts_rendered *ret)
{
	return sts_render_domain_why(d, mode_override, ret, NULL);
}

/* ---- templates ---------------------------------------------------------- */

/* Record owner names must lie in the zone, or named-checkzone refuses the file. */
static bool records_in_zone(const struct sts_rendered *d, const char *zone)
{
	for (size_t i = 0; i < d->n_records; i++) {
		size_t n = strlen(d->records[i].name);
		if (n < 2 || d->records[i].name[n - 1] != '.')
			return false;
		char *name = strndup(d->records[i].name, n - 1);
		bool ok = name && in_zone(name, zone);
		free(name);
		if (!ok)
			return false;
	}
	return true;
}

/* Template variables of zone.tmpl: {"zone": ..., "domains": []}; STS_EINVAL for a bad zone name */
int sts_render_zone_vars_new(const char *zone, json_t **ret)
{
	if (!name_ok(zone))
		return STS_EINVAL;
	*ret = json_pack("{s:s, s:[]}", "zone", zone, "domains");
	return *ret ? STS_OK : STS_ENOMEM;
}

/* Append one domain to sts_render_zone_vars_new()'s "domains"; tmp is scratch space. */
int sts_render_zone_vars_add(json_t *vars, const struct sts_rendered *d, struct sts_buf *tmp)
{
	const char *zone = json_string_value(json_object_get(vars, "zone"));
	if (!records_in_zone(d, zone))
		return STS_EINVAL;
	json_t *recs = json_array();
	json_t *o = json_pack("{s:s, s:b, s:s, s:I, s:s, s:o}", "domain", d->domain, "delegated",
			      d->policy_text == NULL, "mode",
			      sts_mode_name(d->mode) ? sts_mode_name(d->mode) : "", "max_age",
			      (json_int_t)d->max_age, "id", d->id, "records", recs);
	if (!o || json_array_append_new(json_object_get(vars, "domains"), o) < 0)
		return STS_ENOMEM;
	for (size_t i = 0; i < d->n_records; i++) {
		const struct sts_record *rec = &d->records[i];
		sts_buf_reset(tmp);
		int r = strcmp(rec->type, "TXT") == 0
			    ? sts_txt_encode_buf(rec->value, strlen(rec->value), tmp)
			    : sts_buf_puts(tmp, rec->value);
		if (r < 0)
			return r;
		json_t *ro =
		    json_pack("{s:s, s:I, s:s, s:s}", "name", rec->name, "ttl",
			      (json_int_t)rec->ttl, "type", rec->type, "rdata", sts_buf_str(tmp));
		if (!ro || json_array_append_new(recs, ro) < 0)
			return STS_ENOMEM;
	}
	return STS_OK;
}

static int cmp_rendered(const void *a, const void *b)
{
	const struct sts_rendered *x = *(const struct sts_rendered *const *)a;
	const struct sts_rendered *y = *(const struct sts_rendered *const *)b;
	return strcmp(x->domain, y->domain);
}

STS_API int sts_render_zone(const char *zone, const struct sts_rendered *doms, size_t n,
			    struct sts_buf *out)
{
	int r = STS_ENOMEM;
	struct sts_tmpl *t = NULL;
	struct sts_buf tmp;
	sts_buf_init(&tmp, STS_CAP_TEXT);
	const struct sts_rendered **sorted = calloc(n ? n : 1, sizeof(*sorted));
	json_t *vars = NULL;
	r = sts_render_zone_vars_new(zone, &vars);
	if (r < 0)
		goto out;
	r = STS_ENOMEM;
	if (!sorted)
		goto out;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &doms[i];
	qsort(sorted, n, sizeof(*sorted), cmp_rendered);
	r = STS_OK;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = sts_render_zone_vars_add(vars, sorted[i], &tmp);
	if (r >= 0)
		r = sts_tmpl_load_builtin("zone.tmpl", &t, NULL);
	if (r >= 0)
		r = sts_tmpl_render(t, vars, out, NULL);
out:
	sts_tmpl_free(t);
	json_decref(vars);
	free(sorted);
	sts_buf_release(&tmp);
	return r;
}

/* A path nginx reads as one bare token. */
bool sts_render_nginx_path_ok(const char *p)
{
	if (!*p)
		return false;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f || strchr("\"';{}$#\\", c))
			return false;
	}
	return true;
}

int sts_render_nginx_tmpl(const struct sts_tmpl *t, const struct sts_rendered *x,
			  const char *web_root, const char *cert_dir, struct sts_buf *out)
{
	web_root = web_root ? web_root : STS_RENDER_WEB_ROOT;
	cert_dir = cert_dir ? cert_dir : STS_RENDER_CERT_DIR;
	if (!x->policy_text || !sts_render_nginx_path_ok(web_root) ||
	    !sts_render_nginx_path_ok(cert_dir) || !name_ok(x->policy_host))
		return STS_EINVAL;
	int r = STS_ENOMEM;
	char *cert = NULL, *key = NULL, *root = NULL;
	json_t *vars = NULL;
	if (asprintf(&cert, "%s/%s/fullchain.pem", cert_dir, x->policy_host) < 0)
		cert = NULL;
	if (asprintf(&key, "%s/%s/privkey.pem", cert_dir, x->policy_host) < 0)
		key = NULL;
	if (asprintf(&root, "%s/%s", web_root, x->policy_host) < 0)
		root = NULL;
	if (cert && key && root)
		vars = json_pack("{s:s, s:s, s:s, s:s, s:s}", "host", x->policy_host, "domain",
				 x->domain, "cert", cert, "key", key, "root", root);
	if (vars)
		r = sts_tmpl_render(t, vars, out, NULL);
	json_decref(vars);
	STS_FREE_ALL(cert, key, root);
	return r;
}

STS_API int sts_render_nginx_paths(const struct sts_rendered *x, const char *web_root,
				   const char *cert_dir, struct sts_buf *out)
{
	struct sts_tmpl *t = NULL;
	int r = sts_tmpl_load_builtin("nginx-policy-host.conf.tmpl", &t, NULL);
	if (r >= 0)
		r = sts_render_nginx_tmpl(t, x, web_root, cert_dir, out);
	sts_tmpl_free(t);
	return r;
}

STS_API int sts_render_nginx(const struct sts_rendered *x, struct sts_buf *out)
{
	return sts_render_nginx_paths(x, NULL, NULL, out);
}
