/* SPDX-License-Identifier: MIT */
/*
 * Render: policy text, policy id, DNS records, TXT presentation, zone
 * fragments and nginx server blocks for one domain. Pure: no clock, no
 * environment, no I/O. The tree writer and the JSON stream are in
 * sts_render_tree() further down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>
#include <openssl/evp.h>

#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_render.h"
#include "sts_template.h"

#define DNS_NAME_MAX 253 /* presentation form, no trailing dot */

static bool ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Host name made of non-empty labels of [A-Za-z0-9_-] up to 63, at most 253. */
static bool name_ok(const char *s)
{
	if (!s || !*s || strlen(s) > DNS_NAME_MAX)
		return false;
	size_t label = 0;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (ldh(*s) && ++label <= 63) {
			continue;
		} else {
			return false;
		}
	}
	return label > 0;
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
	/* Order: version (first, RFC.md B10), mode, mx in inventory order, max_age. */
	int r = sts_buf_printf(out, "version: STSv1\r\nmode: %s\r\n", m);
	for (size_t i = 0; i < n_mx && r >= 0; i++)
		r = sts_buf_printf(out, "mx: %s\r\n", mx[i]);
	if (r >= 0)
		r = sts_buf_printf(out, "max_age: %lld\r\n", max_age);
	return r;
}

/* The first 128 bits of SHA-256(text) in lower-case hex: 32 characters. */
STS_API int sts_policy_id(const char *text, size_t len, char ret[STS_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(text, len, md, &n, EVP_sha256(), NULL) || n < STS_ID_MAX / 2)
		return STS_ENOMEM;
	for (size_t i = 0; i < STS_ID_MAX / 2; i++) {
		ret[2 * i] = hex[md[i] >> 4];
		ret[2 * i + 1] = hex[md[i] & 0xf];
	}
	ret[STS_ID_MAX] = '\0';
	return STS_OK;
}

STS_API int sts_txt_presentation(const char *value, struct sts_buf *out)
{
	size_t n = strlen(value);
	size_t i = 0;
	int r = STS_OK;
	do {
		size_t end = n - i > 255 ? i + 255 : n;
		if (i > 0)
			r = sts_buf_putc(out, ' ');
		if (r >= 0)
			r = sts_buf_putc(out, '"');
		for (; i < end && r >= 0; i++) {
			unsigned char c = (unsigned char)value[i];
			if (c == '"' || c == '\\')
				r = sts_buf_printf(out, "\\%c", c);
			else if (c < 0x20 || c >= 0x7f)
				r = sts_buf_printf(out, "\\%03u", c);
			else
				r = sts_buf_putc(out, (char)c);
		}
		if (r >= 0)
			r = sts_buf_putc(out, '"');
	} while (i < n && r >= 0);
	return r;
}

STS_API void sts_rendered_release(struct sts_rendered *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->zone);
	free(r->policy_host);
	free(r->policy_text);
	for (size_t i = 0; i < r->n_records; i++) {
		free(r->records[i].name);
		free(r->records[i].type);
		free(r->records[i].value);
	}
	free(r->records);
	for (size_t i = 0; i < r->n_mx; i++)
		free(r->mx[i]);
	free(r->mx);
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
	if (asprintf(&rec->name, "%s%s.", prefix, x->domain) < 0)
		rec->name = NULL;
	x->n_records++;
	return rec->name && rec->type ? STS_OK : STS_ENOMEM;
}

static char *absolute(const char *name)
{
	char *s = NULL;
	return asprintf(&s, "%s.", name) < 0 ? NULL : s;
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
	for (size_t i = 0; i < d->n_mx; i++)
		if (!mx_ok(d->mx[i]))
			return "invalid mx pattern (RFC 8461 section 3.2)";
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

static int render_policy(const struct sts_domain *d, struct sts_rendered *x)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_POLICY);
	int r = sts_render_policy_text(x->mode, x->max_age, d->mx, d->n_mx, &b);
	if (r >= 0)
		r = sts_policy_id(b.data, b.len, x->id);
	if (r < 0) {
		sts_buf_release(&b);
		return r;
	}
	x->policy_text = sts_buf_steal(&b);
	return x->policy_text ? STS_OK : STS_ENOMEM;
}

STS_API int sts_render_domain_why(const struct sts_domain *d, enum sts_mode mode_override,
				  struct sts_rendered *ret, const char **reterr)
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
	if (!x.domain || !x.zone || !x.records ||
	    asprintf(&x.policy_host, "mta-sts.%s", d->name) < 0)
		goto out;
	r = copy_mx(d, &x);
	if (r < 0)
		goto out;
	if (d->hosting == STS_HOSTING_DELEGATED) {
		r = add_record(&x, "_mta-sts.", "CNAME", ttl, absolute(d->delegate_sts), why);
	} else {
		r = render_policy(d, &x);
		char *txt = NULL;
		if (r >= 0 && asprintf(&txt, "v=STSv1; id=%s;", x.id) < 0)
			r = STS_ENOMEM;
		if (r >= 0)
			r = add_record(&x, "_mta-sts.", "TXT", ttl, txt, why);
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

/* Template variables of zone.tmpl: {"zone": ..., "domains": [...]} */
static json_t *zone_vars_new(const char *zone)
{
	if (!name_ok(zone))
		return NULL;
	return json_pack("{s:s, s:[]}", "zone", zone, "domains");
}

/* Append one domain to zone_vars_new()'s "domains"; tmp is scratch space. */
static int zone_vars_add(json_t *vars, const struct sts_rendered *d, struct sts_buf *tmp)
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
		int r = strcmp(rec->type, "TXT") == 0 ? sts_txt_presentation(rec->value, tmp)
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
	json_t *vars = zone_vars_new(zone);
	if (!vars) {
		r = name_ok(zone) ? STS_ENOMEM : STS_EINVAL;
		goto out;
	}
	if (!sorted)
		goto out;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &doms[i];
	qsort(sorted, n, sizeof(*sorted), cmp_rendered);
	r = STS_OK;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = zone_vars_add(vars, sorted[i], &tmp);
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
static bool nginx_path_ok(const char *p)
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

static int nginx_tmpl(const struct sts_tmpl *t, const struct sts_rendered *x, const char *web_root,
		      const char *cert_dir, struct sts_buf *out)
{
	web_root = web_root ? web_root : STS_RENDER_WEB_ROOT;
	cert_dir = cert_dir ? cert_dir : STS_RENDER_CERT_DIR;
	if (!x->policy_text || !nginx_path_ok(web_root) || !nginx_path_ok(cert_dir) ||
	    !name_ok(x->policy_host))
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
	free(cert);
	free(key);
	free(root);
	return r;
}

STS_API int sts_render_nginx_paths(const struct sts_rendered *x, const char *web_root,
				   const char *cert_dir, struct sts_buf *out)
{
	struct sts_tmpl *t = NULL;
	int r = sts_tmpl_load_builtin("nginx-policy-host.conf.tmpl", &t, NULL);
	if (r >= 0)
		r = nginx_tmpl(t, x, web_root, cert_dir, out);
	sts_tmpl_free(t);
	return r;
}

STS_API int sts_render_nginx(const struct sts_rendered *x, struct sts_buf *out)
{
	return sts_render_nginx_paths(x, NULL, NULL, out);
}

/* ---- JSON --------------------------------------------------------------- */

static int json_str(struct sts_buf *b, const char *s)
{
	int r = sts_buf_putc(b, '"');
	for (; *s && r >= 0; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"':
			r = sts_buf_puts(b, "\\\"");
			break;
		case '\\':
			r = sts_buf_puts(b, "\\\\");
			break;
		case '\n':
			r = sts_buf_puts(b, "\\n");
			break;
		case '\r':
			r = sts_buf_puts(b, "\\r");
			break;
		case '\t':
			r = sts_buf_puts(b, "\\t");
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				r = sts_buf_printf(b, "\\u%04x", c);
			else
				r = sts_buf_putc(b, (char)c);
		}
	}
	return r < 0 ? r : sts_buf_putc(b, '"');
}

/* Newline, then indent spaces. */
static int nl(struct sts_buf *b, unsigned indent)
{
	static const char sp[] = "\n                                ";
	if (indent + 1 > sizeof(sp) - 1)
		return STS_EINVAL;
	return sts_buf_append(b, sp, indent + 1);
}

/* "key": "value" on a new line */
static int kv_str(struct sts_buf *b, unsigned ind, const char *key, const char *val, bool last)
{
	int r = nl(b, ind);
	if (r >= 0)
		r = sts_buf_printf(b, "\"%s\": ", key);
	if (r >= 0)
		r = json_str(b, val);
	if (r >= 0 && !last)
		r = sts_buf_putc(b, ',');
	return r;
}

static int json_policy(const struct sts_rendered *x, unsigned ind, struct sts_buf *b)
{
	int r = sts_buf_puts(b, "{");
	if (r >= 0)
		r = kv_str(b, ind + 2, "id", x->id, false);
	if (r >= 0)
		r = kv_str(b, ind + 2, "mode", sts_mode_name(x->mode), false);
	if (r >= 0)
		r = nl(b, ind + 2);
	if (r >= 0)
		r = sts_buf_printf(b, "\"max_age\": %lld,", x->max_age);
	if (r >= 0)
		r = nl(b, ind + 2);
	if (r >= 0)
		r = sts_buf_puts(b, x->n_mx ? "\"mx\": [" : "\"mx\": [],");
	for (size_t i = 0; i < x->n_mx && r >= 0; i++) {
		r = nl(b, ind + 4);
		if (r >= 0)
			r = json_str(b, x->mx[i]);
		if (r >= 0 && i + 1 < x->n_mx)
			r = sts_buf_putc(b, ',');
	}
	if (r >= 0 && x->n_mx) {
		r = nl(b, ind + 2);
		if (r >= 0)
			r = sts_buf_puts(b, "],");
	}
	if (r >= 0)
		r = kv_str(b, ind + 2, "text", x->policy_text, true);
	if (r >= 0)
		r = nl(b, ind);
	return r < 0 ? r : sts_buf_putc(b, '}');
}

static int json_record(const struct sts_record *rec, unsigned ind, struct sts_buf *b)
{
	int r = sts_buf_putc(b, '{');
	if (r >= 0)
		r = kv_str(b, ind + 2, "name", rec->name, false);
	if (r >= 0)
		r = kv_str(b, ind + 2, "type", rec->type, false);
	if (r >= 0)
		r = nl(b, ind + 2);
	if (r >= 0)
		r = sts_buf_printf(b, "\"ttl\": %u,", (unsigned)rec->ttl);
	if (r >= 0)
		r = kv_str(b, ind + 2, "value", rec->value, true);
	if (r >= 0)
		r = nl(b, ind);
	return r < 0 ? r : sts_buf_putc(b, '}');
}

STS_API int sts_render_domain_json(const struct sts_rendered *x, unsigned ind, struct sts_buf *b)
{
	bool delegated = x->policy_text == NULL;
	int r = sts_buf_putc(b, '{');
	if (r >= 0)
		r = kv_str(b, ind + 2, "domain", x->domain, false);
	if (r >= 0)
		r = kv_str(b, ind + 2, "zone", x->zone, false);
	if (r >= 0)
		r = kv_str(b, ind + 2, "hosting", delegated ? "delegated" : "self", false);
	if (r >= 0)
		r = nl(b, ind + 2);
	if (r >= 0)
		r = sts_buf_puts(b, "\"policy\": ");
	if (r >= 0)
		r = delegated ? sts_buf_puts(b, "null") : json_policy(x, ind + 2, b);
	if (r >= 0)
		r = sts_buf_putc(b, ',');
	if (r >= 0)
		r = nl(b, ind + 2);
	if (r >= 0)
		r = sts_buf_puts(b, x->n_records ? "\"records\": [" : "\"records\": []");
	for (size_t i = 0; i < x->n_records && r >= 0; i++) {
		r = nl(b, ind + 4);
		if (r >= 0)
			r = json_record(&x->records[i], ind + 4, b);
		if (r >= 0 && i + 1 < x->n_records)
			r = sts_buf_putc(b, ',');
	}
	if (r >= 0 && x->n_records) {
		r = nl(b, ind + 2);
		if (r >= 0)
			r = sts_buf_putc(b, ']');
	}
	if (r >= 0)
		r = nl(b, ind);
	return r < 0 ? r : sts_buf_putc(b, '}');
}

/* ---- tree and stream ---------------------------------------------------- */

#define JSON_CHUNK    (64u * 1024u)
#define CAP_ZONE_FILE (1024u * 1024u * 1024u)

static const char *zone_of(const struct sts_domain *d)
{
	return d->zone ? d->zone : d->name;
}

static int cmp_name(const void *a, const void *b)
{
	const struct sts_domain *x = *(const struct sts_domain *const *)a;
	const struct sts_domain *y = *(const struct sts_domain *const *)b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x < y ? -1 : x > y);
}

static int cmp_zone_name(const void *a, const void *b)
{
	const struct sts_domain *x = *(const struct sts_domain *const *)a;
	const struct sts_domain *y = *(const struct sts_domain *const *)b;
	int c = strcmp(zone_of(x), zone_of(y));
	return c ? c : cmp_name(a, b);
}

/* Domains sorted (by zone then name, or by name) and which of them opts selects. */
struct selection {
	const struct sts_domain **v;
	bool *want;
	size_t n;
};

static bool name_matches(const struct sts_domain *d, const char *q, size_t n)
{
	return (strlen(d->name) == n && strncasecmp(d->name, q, n) == 0) ||
	       (d->name_input && strlen(d->name_input) == n &&
		strncasecmp(d->name_input, q, n) == 0);
}

/* Mark the domains named q (A-label, or U-label in any case; a trailing dot ignored). */
static bool select_name(struct selection *s, const char *q)
{
	char *alabel = NULL;
	if (idn2_to_ascii_8z(q, &alabel, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK)
		alabel = NULL;
	const char *a = alabel ? alabel : q;
	size_t qn = strlen(q), an = strlen(a);
	qn -= qn > 1 && q[qn - 1] == '.';
	an -= an > 1 && a[an - 1] == '.';
	bool found = false;
	for (size_t i = 0; i < s->n; i++)
		if (name_matches(s->v[i], q, qn) || name_matches(s->v[i], a, an))
			s->want[i] = found = true;
	free(alabel);
	return found;
}

static void selection_release(struct selection *s)
{
	free(s->v);
	free(s->want);
}

static int diag_domain(struct sts_diags *diags, const struct sts_inventory *inv,
		       const struct sts_domain *d, const char *why)
{
	if (!diags)
		return STS_OK;
	return sts_diags_add(diags, STS_SEV_ERROR, NULL, inv->path, d->line, d->col, NULL,
			     "cannot render '%s': %s", d->name ? d->name : "", why);
}

static int selection_init(struct selection *s, const struct sts_inventory *inv,
			  const struct sts_render_opts *o, bool by_zone, struct sts_diags *diags)
{
	size_t n = inv->n_domains;
	*s = (struct selection){.n = n};
	s->v = calloc(n ? n : 1, sizeof(*s->v));
	s->want = calloc(n ? n : 1, sizeof(*s->want));
	if (!s->v || !s->want)
		return STS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		s->v[i] = &inv->domains[i];
		if (!s->v[i]->name)
			return diag_domain(diags, inv, s->v[i], "no name") < 0 ? STS_ENOMEM
									       : STS_EINVALID;
	}
	qsort(s->v, n, sizeof(*s->v), by_zone ? cmp_zone_name : cmp_name);
	int r = STS_OK;
	for (size_t i = 0; i < n; i++)
		s->want[i] = !o || !o->only;
	for (size_t k = 0; o && o->only && k < o->n_only; k++) {
		const char *q = o->only[k];
		if (!select_name(s, q)) {
			r = STS_ENOENT;
			if (diags && sts_diags_add(diags, STS_SEV_ERROR, NULL, inv->path, 0, 0,
						   NULL, "unknown domain '%s'", q) < 0)
				return STS_ENOMEM;
		}
	}
	return r;
}

static bool paths_ok(const struct sts_render_opts *o, struct sts_diags *diags)
{
	const char *p[2] = {o->web_root, o->cert_dir};
	for (size_t i = 0; i < 2; i++) {
		if (p[i] && !nginx_path_ok(p[i])) {
			if (diags)
				sts_diags_add(diags, STS_SEV_ERROR, NULL, NULL, 0, 0, NULL,
					      "path '%s' cannot be used in an nginx configuration "
					      "(spaces, quotes, ';', '{', '}', '$', '#' or '\\')",
					      p[i]);
			return false;
		}
	}
	return true;
}

struct tree {
	const struct sts_inventory *inv;
	const struct sts_render_opts *o;
	const char *outdir;
	struct sts_render_stats st;
	struct sts_diags *diags;
	struct sts_tmpl *zone_t, *nginx_t;
	struct sts_buf path, data, tmp;
	bool failed; /* some domain could not be rendered */
};

static int put_file(struct tree *t, const char *a, const char *b, const char *c)
{
	sts_buf_reset(&t->path);
	int r = sts_buf_printf(&t->path, "%s/%s%s%s", t->outdir, a, b, c);
	if (r < 0)
		return r;
	const char *p = sts_buf_str(&t->path);
	const char *d = sts_buf_str(&t->data);
	if (sts_file_equals(p, d, t->data.len)) {
		t->st.unchanged++;
		return STS_OK;
	}
	r = sts_write_atomic(p, d, t->data.len, 0644, false);
	if (r < 0) {
		if (t->diags)
			sts_diags_add(t->diags, STS_SEV_ERROR, NULL, NULL, 0, 0, NULL,
				      "cannot write '%s': %s", p, sts_strerror(r));
		return r;
	}
	t->st.written++;
	return STS_OK;
}

/* Policy file and nginx server block of one self-hosted domain. */
static int tree_domain(struct tree *t, const struct sts_rendered *x)
{
	t->st.domains++;
	if (!x->policy_text)
		return STS_OK;
	sts_buf_reset(&t->data);
	int r = sts_buf_puts(&t->data, x->policy_text);
	if (r >= 0)
		r = put_file(t, x->policy_host, "/.well-known/mta-sts.txt", "");
	if (r < 0)
		return r;
	sts_buf_reset(&t->data);
	r = nginx_tmpl(t->nginx_t, x, t->o->web_root, t->o->cert_dir, &t->data);
	return r < 0 ? r : put_file(t, "nginx/", x->policy_host, ".conf");
}

/* The domains v[0..n) of one zone: their files, then the zone file. */
static int tree_zone(struct tree *t, const struct sts_domain **v, const bool *want, size_t n)
{
	const char *zone = zone_of(v[0]);
	json_t *vars = zone_vars_new(zone); /* NULL for a bad zone name: each domain says so */
	bool complete = vars != NULL;
	int r = vars || !name_ok(zone) ? STS_OK : STS_ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct sts_rendered x;
		const char *why = NULL;
		r = sts_render_domain_why(v[i], STS_MODE_INVALID, &x, &why);
		if (r == STS_EINVAL) {
			t->failed = true;
			complete = false;
			r = diag_domain(t->diags, t->inv, v[i], why);
			continue;
		}
		if (r < 0)
			break;
		if (vars)
			r = zone_vars_add(vars, &x, &t->tmp);
		if (r >= 0 && want[i])
			r = tree_domain(t, &x);
		sts_rendered_release(&x);
	}
	/* A zone file missing one of its domains would drop that domain's records. */
	if (r >= 0 && complete) {
		sts_buf_reset(&t->data);
		r = sts_tmpl_render(t->zone_t, vars, &t->data, NULL);
		if (r >= 0)
			r = put_file(t, "zones/", zone, ".zone");
		if (r >= 0)
			t->st.zones++;
	}
	json_decref(vars);
	return r;
}

STS_API int sts_render_tree_opts(const struct sts_inventory *inv, const char *outdir,
				 const struct sts_render_opts *opts,
				 struct sts_render_stats *ret_stats, struct sts_diags *diags)
{
	static const struct sts_render_opts none;
	struct tree t = {.inv = inv, .o = opts ? opts : &none, .outdir = outdir, .diags = diags};
	struct selection sel;
	sts_buf_init(&t.path, 4096);
	sts_buf_init(&t.data, CAP_ZONE_FILE);
	sts_buf_init(&t.tmp, STS_CAP_TEXT);
	int r = selection_init(&sel, inv, t.o, true, diags);
	if (r >= 0 && !paths_ok(t.o, diags))
		r = STS_EINVAL;
	if (r >= 0)
		r = sts_tmpl_load_builtin("zone.tmpl", &t.zone_t, diags);
	if (r >= 0)
		r = sts_tmpl_load_builtin("nginx-policy-host.conf.tmpl", &t.nginx_t, diags);
	if (r >= 0)
		r = sts_mkdir_p(outdir, 0755);
	for (size_t a = 0, b; a < sel.n && r >= 0; a = b) {
		bool any = false;
		for (b = a; b < sel.n && strcmp(zone_of(sel.v[a]), zone_of(sel.v[b])) == 0; b++)
			any = any || sel.want[b];
		if (any)
			r = tree_zone(&t, sel.v + a, sel.want + a, b - a);
	}
	if (r >= 0 && !t.o->no_sync && t.st.written > 0)
		r = sts_syncfs_path(outdir);
	if (r >= 0 && t.failed)
		r = STS_EINVALID;
	if (ret_stats)
		*ret_stats = t.st;
	selection_release(&sel);
	sts_tmpl_free(t.zone_t);
	sts_tmpl_free(t.nginx_t);
	sts_buf_release(&t.path);
	sts_buf_release(&t.data);
	sts_buf_release(&t.tmp);
	return r;
}

STS_API int sts_render_tree(const struct sts_inventory *inv, const char *outdir,
			    struct sts_diags *diags)
{
	return sts_render_tree_opts(inv, outdir, NULL, NULL, diags);
}

STS_API int sts_render_json(const struct sts_inventory *inv, const struct sts_render_opts *opts,
			    int (*write)(const char *p, size_t n, void *ud), void *ud,
			    struct sts_diags *diags)
{
	struct selection sel;
	struct sts_buf b;
	bool first = true, failed = false;
	sts_buf_init(&b, STS_CAP_TEXT);
	int r = selection_init(&sel, inv, opts, false, diags);
	if (r >= 0)
		r = sts_buf_puts(&b, "{\n  \"domains\": [");
	for (size_t i = 0; i < sel.n && r >= 0; i++) {
		if (!sel.want[i])
			continue;
		struct sts_rendered x;
		const char *why = NULL;
		r = sts_render_domain_why(sel.v[i], STS_MODE_INVALID, &x, &why);
		if (r == STS_EINVAL) {
			failed = true;
			r = diag_domain(diags, inv, sel.v[i], why);
			continue;
		}
		if (r >= 0)
			r = sts_buf_puts(&b, first ? "\n    " : ",\n    ");
		if (r >= 0)
			r = sts_render_domain_json(&x, 4, &b);
		sts_rendered_release(&x);
		first = false;
		if (r >= 0 && b.len >= JSON_CHUNK) {
			r = write(b.data, b.len, ud);
			sts_buf_reset(&b);
		}
	}
	if (r >= 0)
		r = sts_buf_puts(&b, first ? "]\n}\n" : "\n  ]\n}\n");
	if (r >= 0)
		r = write(b.data, b.len, ud);
	selection_release(&sel);
	sts_buf_release(&b);
	return r >= 0 && failed ? STS_EINVALID : r;
}
