/* SPDX-License-Identifier: MIT */
/*
 * stsctl onboard: inventory entries proposed from a live check
 * (sts_onboard.h), as a new document or merged into an inventory's text.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "sts_check_int.h"
#include "sts_diag_json.h"
#include "sts_err.h"
#include "sts_jsonpos.h"
#include "sts_mx.h"
#include "sts_onboard.h"
#include "sts_record.h"
#include "sts_starttls.h"
#include "sts_strv.h"

static int push(char ***v, size_t *n, const char *s)
{
	return sts_strv_push(v, n, s, strlen(s));
}

static int reason(struct sts_onboard_entry *e, const char *fmt, ...) STS_PRINTF(2, 3);
static int reason(struct sts_onboard_entry *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = sts_strv_vpushf(&e->reasons, &e->n_reasons, fmt, ap);
	va_end(ap);
	return r;
}

/* Why the domain cannot be proposed: its MX records and their STARTTLS. */
static int flag_reasons(struct sts_onboard_entry *e, const struct sts_check_domain *d)
{
	int r = STS_OK;
	if (d->mx_status != STS_DNS_OK)
		return reason(e, "MX lookup: %s",
			      d->mx_status == STS_DNS_NODATA ? "no MX records"
							     : sts_dns_status_name(d->mx_status));
	if (!d->n_mx)
		return reason(e, "null MX: the domain accepts no mail");
	for (size_t i = 0; r == STS_OK && i < d->n_mx; i++) {
		const struct sts_check_mx *m = &d->mx[i];
		if (m->skipped) /* fail closed: --max-mx or the domain deadline */
			r = reason(e, "MX host '%s': %s", m->host, m->error);
		else if (!m->probed)
			r = reason(e, "MX host '%s' has no address", m->host);
		else if (!m->starttls)
			r = reason(e, "MX host '%s': %s", m->host, m->error ? m->error : "no TLS");
		else if (!sts_tls_version_ok(m->tls_version))
			r = reason(e, "MX host '%s' negotiated %s; TLS 1.2 or newer is required",
				   m->host, m->tls_version);
		else if (!m->cert_valid)
			r = reason(e, "MX host '%s': certificate %s", m->host,
				   m->cert_error ? m->cert_error : "not valid");
	}
	return r;
}

/* Does the tenant (else the defaults) of inv set "tlsrpt"? */
static bool rua_inherited(const struct sts_inventory *inv, const char *tenant)
{
	if (!inv)
		return false;
	for (size_t i = 0; tenant && i < inv->n_tenants; i++)
		if (strcmp(inv->tenants[i].name, tenant) == 0 &&
		    json_object_get(inv->tenants[i].settings, "tlsrpt"))
			return true;
	return inv->defaults && json_object_get(inv->defaults, "tlsrpt");
}

static bool all_covered(const struct sts_check_domain *d)
{
	for (size_t i = 0; i < d->n_mx; i++)
		if (!d->mx[i].matches_policy)
			return false;
	return d->n_mx > 0;
}

static int propose(struct sts_onboard_entry *e, const struct sts_check_domain *d,
		   const struct sts_inventory *inv)
{
	e->found = d->view;
	int r = flag_reasons(e, d);
	if (r < 0)
		return r;
	if (inv && sts_inventory_find(inv, e->name))
		e->status = STS_ONBOARD_PRESENT;
	else if (e->n_reasons)
		e->status = STS_ONBOARD_FLAGGED;
	bool keep = d->policy_usable && all_covered(d);
	for (size_t i = 0; keep && i < d->policy.n_mx; i++) {
		const char *why;
		keep = sts_mx_pattern_check(d->policy.mx[i], &why) == STS_OK;
	}
	if (keep) {
		for (size_t i = 0; r == STS_OK && i < d->policy.n_mx; i++)
			r = push(&e->mx, &e->n_mx, d->policy.mx[i]);
		for (size_t i = 0; r == STS_OK && i < e->n_mx; i++)
			for (char *p = e->mx[i]; *p; p++)
				*p = (char)tolower((unsigned char)*p);
	} else {
		for (size_t i = 0; r == STS_OK && i < d->n_mx; i++)
			r = push(&e->mx, &e->n_mx, d->mx[i].host);
	}
	e->mode = d->policy_usable ? d->policy.mode : STS_MODE_TESTING;
	e->max_age =
	    d->policy_usable && d->policy.max_age >= 1 && d->policy.max_age <= STS_MAX_AGE_MAX
		? d->policy.max_age
		: -1;
	if (r == STS_OK && !rua_inherited(inv, e->tenant) && d->tlsrpt_valid) {
		bool ok = true;
		for (size_t i = 0; ok && i < d->n_rua; i++) {
			const char *why;
			ok = sts_rua_check(d->rua[i], &why) == STS_OK;
		}
		for (size_t i = 0; ok && r == STS_OK && i < d->n_rua; i++)
			r = push(&e->rua, &e->n_rua, d->rua[i]);
	}
	return r;
}

STS_API int sts_onboard_run(const struct sts_onboard_input *in, size_t n,
			    const struct sts_check_opts *o, const struct sts_inventory *inv,
			    struct sts_onboard *ret, const char **reterr)
{
	memset(ret, 0, sizeof(*ret));
	const char **names = calloc(n ? n : 1, sizeof(*names));
	ret->v = calloc(n ? n : 1, sizeof(*ret->v));
	if (!names || !ret->v) {
		free(names);
		return STS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = in[i].name;
	struct sts_check_opts co = *o;
	co.inventory = NULL;
	co.no_smtp = false;
	int r = sts_check_run(names, n, &co, &ret->check, reterr);
	free(names);
	for (size_t i = 0; r == STS_OK && i < n; i++) {
		struct sts_onboard_entry *e = &ret->v[i];
		ret->n = i + 1;
		e->name = strdup(in[i].name);
		e->tenant = in[i].tenant ? strdup(in[i].tenant) : NULL;
		if (!e->name || (in[i].tenant && !e->tenant))
			r = STS_ENOMEM;
		else
			r = propose(e, &ret->check.domains[i], inv);
		ret->n_proposed += e->status == STS_ONBOARD_PROPOSED;
		ret->n_flagged += e->status == STS_ONBOARD_FLAGGED;
		ret->n_present += e->status == STS_ONBOARD_PRESENT;
	}
	return r;
}

STS_API void sts_onboard_release(struct sts_onboard *ob)
{
	if (!ob)
		return;
	for (size_t i = 0; i < ob->n; i++) {
		struct sts_onboard_entry *e = &ob->v[i];
		free(e->name);
		free(e->tenant);
		sts_strv_free(e->mx, e->n_mx);
		sts_strv_free(e->rua, e->n_rua);
		sts_strv_free(e->reasons, e->n_reasons);
	}
	free(ob->v);
	sts_check_report_release(&ob->check);
	memset(ob, 0, sizeof(*ob));
}

STS_API int sts_onboard_entry_json(const struct sts_onboard_entry *e, struct sts_buf *out)
{
	json_t *o = json_pack("{s:s,s:s*,s:o*,s:s}", "name", e->name, "tenant", e->tenant, "mx",
			      sts_json_strv(e->mx, e->n_mx), "mode", sts_mode_name(e->mode));
	if (o && e->max_age >= 0 && json_object_set_new(o, "max_age", json_integer(e->max_age)) < 0)
		goto fail;
	if (o && e->n_rua &&
	    json_object_set_new(o, "tlsrpt",
				json_pack("{s:o*}", "rua", sts_json_strv(e->rua, e->n_rua))) < 0)
		goto fail;
	char *s = o ? json_dumps(o, JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	if (!s)
		return STS_ENOMEM;
	int r = sts_buf_puts(out, s);
	free(s);
	return r;
fail:
	json_decref(o);
	return STS_ENOMEM;
}

/* The proposed entries, each on its own line after sep + indent. */
static int entries(const struct sts_onboard *ob, const char *sep, const char *indent,
		   struct sts_buf *out)
{
	int r = STS_OK;
	bool first = true;
	for (size_t i = 0; r == STS_OK && i < ob->n; i++) {
		if (ob->v[i].status != STS_ONBOARD_PROPOSED)
			continue;
		r = sts_buf_printf(out, "%s\n%s", first ? sep : ",", indent);
		if (r == STS_OK)
			r = sts_onboard_entry_json(&ob->v[i], out);
		first = false;
	}
	return r;
}

STS_API int sts_onboard_document(const struct sts_onboard *ob, struct sts_buf *out)
{
	int r = sts_buf_puts(out, "{\n  \"version\": 1");
	bool any = false;
	for (size_t i = 0; r == STS_OK && i < ob->n; i++) {
		const struct sts_onboard_entry *e = &ob->v[i];
		bool seen = false;
		for (size_t j = 0; j < i && e->tenant; j++)
			seen = seen || (ob->v[j].status == STS_ONBOARD_PROPOSED &&
					ob->v[j].tenant && strcmp(ob->v[j].tenant, e->tenant) == 0);
		if (e->status != STS_ONBOARD_PROPOSED || !e->tenant || seen)
			continue;
		json_t *name = json_string(e->tenant);
		char *q = name ? json_dumps(name, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
		json_decref(name);
		if (!q)
			return STS_ENOMEM;
		r = sts_buf_printf(out, "%s\n    %s: {}", any ? "," : ",\n  \"tenants\": {", q);
		free(q);
		any = true;
	}
	if (r == STS_OK && any)
		r = sts_buf_puts(out, "\n  }");
	if (r == STS_OK)
		r = sts_buf_puts(out, ",\n  \"domains\": [");
	if (r == STS_OK)
		r = entries(ob, "", "    ", out);
	if (r == STS_OK)
		r = sts_buf_puts(out, ob->n_proposed ? "\n  ]\n}\n" : "]\n}\n");
	return r;
}

/* Leading blanks of the line holding off. */
static size_t line_indent(const char *text, size_t off, const char **ret_start)
{
	size_t s = off;
	while (s > 0 && text[s - 1] != '\n')
		s--;
	*ret_start = text + s;
	size_t n = 0;
	while (s + n < off && (text[s + n] == ' ' || text[s + n] == '\t'))
		n++;
	return n;
}

STS_API int sts_onboard_merge(const char *text, size_t len, const struct sts_onboard *ob,
			      struct sts_buf *out, const char **reterr)
{
	struct sts_jdoc doc;
	struct sts_jerr jerr = {0};
	char indent[128];
	size_t at, skip = 0; /* insert at text[at], replacing skip bytes */
	struct sts_buf ins;
	sts_buf_init(&ins, out->max);
	int r = sts_jdoc_parse(text, len, &doc, &jerr);
	free(jerr.path);
	if (r < 0) {
		*reterr = r == STS_EPARSE ? jerr.message : sts_strerror(r);
		goto out;
	}
	const struct sts_jval *root = &doc.root;
	if (root->type != STS_JOBJECT) {
		*reterr = "the inventory is not a JSON object";
		r = STS_EPARSE;
		goto out;
	}
	const struct sts_jval *dom = sts_jobj_get(root, "domains");
	const char *ls;
	if (dom && dom->type != STS_JARRAY) {
		*reterr = "'domains' is not an array";
		r = STS_EPARSE;
		goto out;
	}
	if (dom && dom->u.a.n) { /* after the last element, in its indentation */
		const struct sts_jval *last = &dom->u.a.v[dom->u.a.n - 1];
		size_t n = line_indent(text, last->off, &ls);
		bool own_line = ls + n == text + last->off;
		snprintf(indent, sizeof(indent), "%.*s", own_line ? (int)n : 4,
			 own_line ? ls : "    ");
		at = last->end;
		r = entries(ob, ",", indent, &ins);
	} else if (dom) { /* replace the empty array */
		size_t n = line_indent(text, dom->off, &ls);
		snprintf(indent, sizeof(indent), "%.*s  ", (int)(n < 100 ? n : 100), ls);
		at = dom->off;
		skip = dom->end - dom->off;
		r = sts_buf_putc(&ins, '[');
		if (r == STS_OK)
			r = entries(ob, "", indent, &ins);
		if (r == STS_OK)
			r = sts_buf_printf(&ins, "\n%.*s]", (int)(n < 100 ? n : 100), ls);
	} else { /* a new "domains" member, last in the root object */
		at = root->u.o.n ? root->u.o.m[root->u.o.n - 1].val.end : root->off + 1;
		r = sts_buf_printf(&ins, "%s\n  \"domains\": [", root->u.o.n ? "," : "");
		if (r == STS_OK)
			r = entries(ob, "", "    ", &ins);
		if (r == STS_OK)
			r = sts_buf_puts(&ins, root->u.o.n ? "\n  ]" : "\n  ]\n");
	}
	if (r == STS_OK && !ob->n_proposed) { /* nothing to add: the text as it is */
		sts_buf_reset(&ins);
		skip = 0;
	}
	if (r == STS_OK)
		r = sts_buf_append(out, text, at);
	if (r == STS_OK)
		r = sts_buf_append(out, ins.data ? ins.data : "", ins.len);
	if (r == STS_OK)
		r = sts_buf_append(out, text + at + skip, len - at - skip);
out:
	sts_buf_release(&ins);
	sts_jdoc_release(&doc);
	return r;
}

/* ---- --csv input ---- */

/* s[0..*n) without blanks, tabs, quotes (and a CR at the end) around it */
static const char *csv_trim(const char *s, size_t *n)
{
	while (*n && (*s == ' ' || *s == '\t' || *s == '"')) {
		s++;
		(*n)--;
	}
	while (*n && strchr(" \t\"\r", s[*n - 1]))
		(*n)--;
	return s;
}

STS_API void sts_onboard_rows_free(struct sts_onboard_row *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].domain);
		free(v[i].tenant);
	}
	free(v);
}

STS_API int sts_onboard_csv(const char *text, size_t len, struct sts_onboard_row **ret,
			    size_t *ret_n, unsigned *reterr_line)
{
	struct sts_onboard_row *v = NULL;
	size_t n = 0, cap = 0;
	unsigned line = 0;
	bool first = true;
	int r = STS_OK;
	const char *nul = memchr(text, '\0', len);
	const char *end = nul ? nul : text + len;
	for (const char *p = text; p < end && r == STS_OK;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *row = p, *row_end = eol ? eol : end;
		line++;
		p = eol ? eol + 1 : end;
		if (row == row_end)
			continue; /* an empty line: not even the first row */
		const char *comma = memchr(row, ',', (size_t)(row_end - row));
		size_t dl = (size_t)((comma ? comma : row_end) - row), tl = 0;
		const char *dom = csv_trim(row, &dl), *ten = NULL;
		if (comma) {
			tl = (size_t)(row_end - comma - 1);
			ten = csv_trim(comma + 1, &tl);
		}
		bool header = first && dl == 6 && strncasecmp(dom, "domain", 6) == 0;
		first = false;
		if (!dl || *dom == '#' || header)
			continue;
		if (ten && memchr(ten, ',', tl)) {
			*reterr_line = line;
			r = STS_EPARSE;
			break;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct sts_onboard_row *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				r = STS_ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		struct sts_onboard_row *w = &v[n++];
		w->line = line;
		w->domain = strndup(dom, dl);
		w->tenant = tl ? strndup(ten, tl) : NULL;
		if (!w->domain || (tl && !w->tenant))
			r = STS_ENOMEM;
	}
	*ret = v;
	*ret_n = n;
	return r;
}
