/* SPDX-License-Identifier: MIT */
/*
 * DKIM for TLS report e-mails (sts_dkim.h): a trusted MTA's
 * Authentication-Results, else libopendkim with our own key lookup (the
 * configured keys, then DNS through c-ares), so a test never asks the
 * network and a key the reporter publishes is found in production.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendkim/dkim.h>

#include "sts_buf.h"
#include "sts_dkim.h"
#include "sts_err.h"
#include "sts_resolve.h"

#define KEY_NAME_MAX 512 /* selector._domainkey.domain */

struct sts_dkim {
	DKIM_LIB *lib;
	char **key_names, **key_values;
	size_t n_keys;
	char **trusted;
	size_t n_trusted;
	bool dns;
	char *resolver;
	long timeout_ms;
};

/* per check: what the key lookup found out, for the reason text */
struct check_ctx {
	struct sts_dkim *d;
	struct sts_resolver *res;
	char lookup_err[160];
	bool temporary; /* a key lookup failed for now (SERVFAIL, timeout, no resolver) */
};

static char **dup_strv(char *const *v, size_t n, int *err)
{
	char **out = calloc(n ? n : 1, sizeof(*out));
	if (!out) {
		*err = STS_ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!(out[i] = strdup(v[i] ? v[i] : ""))) {
			*err = STS_ENOMEM;
			return out;
		}
	return out;
}

static size_t trim_dot_len(const char *s)
{
	size_t n = strlen(s);
	return n && s[n - 1] == '.' ? n - 1 : n;
}

/* is a (len na) equal to b or a subdomain of it? */
static bool under(const char *a, size_t na, const char *b, size_t nb)
{
	if (na < nb)
		return false;
	if (strncasecmp(a + na - nb, b, nb) != 0)
		return false;
	return na == nb || a[na - nb - 1] == '.';
}

STS_API int sts_dkim_aligned(const char *d, const char *reporting_domain)
{
	if (!d || !reporting_domain)
		return 0;
	size_t nd = trim_dot_len(d), nr = trim_dot_len(reporting_domain);
	if (nd == 0 || nr == 0 || !memchr(d, '.', nd))
		return 0;
	return under(reporting_domain, nr, d, nd) || under(d, nd, reporting_domain, nr);
}

/* ---- key lookup ---- */

static const char *configured_key(const struct sts_dkim *d, const char *name)
{
	for (size_t i = 0; i < d->n_keys; i++)
		if (strcasecmp(d->key_names[i], name) == 0)
			return d->key_values[i];
	return NULL;
}

/*
 * RFC 8460 §3: the key record SHOULD carry s=tlsrpt, a service type RFC 6376
 * libraries do not know: libopendkim refuses such a key ("not an e-mail
 * key"). Verifying TLS reports is exactly what that service type is for, so
 * "email" is added to an s= list that names tlsrpt but neither email nor *.
 */
static void tlsrpt_service(u_char *buf, size_t buflen)
{
	char *rec = (char *)buf, *tag = rec;
	while (tag && *tag) {
		char *semi = strchr(tag, ';');
		char *t = tag + strspn(tag, " \t\r\n");
		if (t[0] == 's' && t[1 + strspn(t + 1, " \t\r\n")] == '=') {
			char *v = strchr(t, '=') + 1;
			size_t vlen = semi ? (size_t)(semi - v) : strlen(v);
			char list[256];
			if (vlen >= sizeof(list))
				return;
			memcpy(list, v, vlen);
			list[vlen] = '\0';
			bool tlsrpt = false, email = false;
			for (char *save = NULL, *e = strtok_r(list, ":", &save); e;
			     e = strtok_r(NULL, ":", &save)) {
				e += strspn(e, " \t\r\n");
				size_t n = strcspn(e, " \t\r\n");
				tlsrpt |= n == 6 && strncasecmp(e, "tlsrpt", 6) == 0;
				email |= (n == 5 && strncasecmp(e, "email", 5) == 0) ||
					 (n == 1 && e[0] == '*');
			}
			size_t len = strlen(rec);
			if (tlsrpt && !email && len + 6 < buflen) {
				memmove(v + 6, v, len - (size_t)(v - rec) + 1);
				memcpy(v, "email:", 6);
			}
			return;
		}
		tag = semi ? semi + 1 : NULL;
	}
}

static DKIM_CBSTAT key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	struct check_ctx *c = dkim_get_user_context(dkim);
	const char *sel = (const char *)dkim_sig_getselector(sig);
	const char *dom = (const char *)dkim_sig_getdomain(sig);
	char name[KEY_NAME_MAX];
	if (!c || !sel || !dom ||
	    (size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom) >= sizeof(name))
		return DKIM_CBSTAT_NOTFOUND;
	const char *v = configured_key(c->d, name);
	if (v) {
		if (strlen(v) >= buflen)
			return DKIM_CBSTAT_ERROR;
		memcpy(buf, v, strlen(v) + 1);
		tlsrpt_service(buf, buflen);
		return DKIM_CBSTAT_CONTINUE;
	}
	if (!c->d->dns) {
		snprintf(c->lookup_err, sizeof(c->lookup_err),
			 "no key configured for '%.100s' and DNS lookups are off", name);
		return DKIM_CBSTAT_NOTFOUND;
	}
	if (!c->res) {
		struct sts_resolver_opts o = {.server = c->d->resolver,
					      .timeout_ms = c->d->timeout_ms};
		const char *why = NULL;
		if (sts_resolver_new(&o, &c->res, &why) < 0) {
			snprintf(c->lookup_err, sizeof(c->lookup_err), "resolver: %s",
				 why ? why : "cannot start");
			c->temporary = true;
			return DKIM_CBSTAT_ERROR;
		}
	}
	struct sts_dns_query q;
	sts_dns_query_init(&q, name, STS_DNS_TXT);
	DKIM_CBSTAT rc = DKIM_CBSTAT_NOTFOUND;
	if (sts_resolver_run(c->res, &q, 1) < 0) {
		snprintf(c->lookup_err, sizeof(c->lookup_err), "key '%.100s': lookup failed", name);
		c->temporary = true;
		rc = DKIM_CBSTAT_ERROR;
	} else if (q.status == STS_DNS_OK && q.n_txt > 0) {
		/* the first record that looks like a key; else the first one */
		size_t pick = 0;
		for (size_t i = 0; i < q.n_txt; i++)
			if (strstr(q.txt[i].data, "p=")) {
				pick = i;
				break;
			}
		if (q.txt[pick].len < buflen && !memchr(q.txt[pick].data, '\0', q.txt[pick].len)) {
			memcpy(buf, q.txt[pick].data, q.txt[pick].len + 1);
			tlsrpt_service(buf, buflen);
			rc = DKIM_CBSTAT_CONTINUE;
		} else {
			rc = DKIM_CBSTAT_ERROR;
		}
	} else {
		snprintf(c->lookup_err, sizeof(c->lookup_err), "key '%.100s': %s", name,
			 sts_dns_status_name(q.status));
		rc = q.status == STS_DNS_TIMEOUT || q.status == STS_DNS_SERVFAIL
			 ? DKIM_CBSTAT_TRYAGAIN
			 : DKIM_CBSTAT_NOTFOUND;
		c->temporary |= rc == DKIM_CBSTAT_TRYAGAIN;
	}
	sts_dns_query_release(&q);
	return rc;
}

STS_API int sts_dkim_new(const struct sts_dkim_conf *conf, struct sts_dkim **ret)
{
	int r = STS_OK;
	struct sts_dkim *d = calloc(1, sizeof(*d));
	if (!d)
		return STS_ENOMEM;
	struct sts_dkim_conf empty = {0};
	if (!conf)
		conf = &empty;
	d->n_keys = conf->n_keys;
	d->key_names = dup_strv(conf->key_names, conf->n_keys, &r);
	d->key_values = dup_strv(conf->key_values, conf->n_keys, &r);
	d->n_trusted = conf->n_trusted_mtas;
	d->trusted = dup_strv(conf->trusted_mtas, conf->n_trusted_mtas, &r);
	d->dns = conf->dns;
	d->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 5000;
	if (conf->resolver && !(d->resolver = strdup(conf->resolver)))
		r = STS_ENOMEM;
	if (r < 0)
		goto fail;
	d->lib = dkim_init(NULL, NULL);
	if (!d->lib) {
		r = STS_EIO;
		goto fail;
	}
	/* bare LF line ends (files written on Unix) become CRLF, as on the wire */
	unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;
	if (dkim_options(d->lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
		DKIM_STAT_OK ||
	    dkim_set_key_lookup(d->lib, key_lookup) != DKIM_STAT_OK) {
		r = STS_EIO;
		goto fail;
	}
	*ret = d;
	return STS_OK;
fail:
	sts_dkim_free(d);
	return r;
}

STS_API void sts_dkim_free(struct sts_dkim *d)
{
	if (!d)
		return;
	if (d->lib)
		dkim_close(d->lib);
	sts_strv_free(d->key_names, d->n_keys);
	sts_strv_free(d->key_values, d->n_keys);
	sts_strv_free(d->trusted, d->n_trusted);
	free(d->resolver);
	free(d);
}

STS_API void sts_dkim_result_release(struct sts_dkim_result *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}

/* ---- header fields ---- */

/* Length of the header field starting at p (continuation lines included,
 * final line end excluded); *next is where the following field starts. */
static size_t field_len(const char *p, const char *end, const char **next)
{
	const char *q = p;
	for (;;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		if (!nl) {
			*next = end;
			return (size_t)(end - p);
		}
		if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
			q = nl + 1;
			continue;
		}
		*next = nl + 1;
		size_t n = (size_t)(nl - p);
		if (n && p[n - 1] == '\r')
			n--;
		return n;
	}
}

static bool field_is(const char *f, size_t n, const char *name)
{
	size_t k = strlen(name);
	return n > k && strncasecmp(f, name, k) == 0 && f[k] == ':';
}

/* Unfold, drop (comments) and quotes' backslashes: a plain copy of an
 * Authentication-Results value. */
static char *ar_plain(const char *v, size_t n)
{
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	int depth = 0;
	bool quoted = false;
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		if (ch == '\r' || ch == '\n')
			ch = ' ';
		if (quoted) {
			if (ch == '\\' && i + 1 < n)
				ch = v[++i];
			else if (ch == '"') {
				quoted = false;
				continue;
			}
			out[o++] = ch;
			continue;
		}
		if (depth) {
			if (ch == '\\' && i + 1 < n)
				i++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
			continue;
		}
		if (ch == '(') {
			depth = 1;
			out[o++] = ' ';
		} else if (ch == '"') {
			quoted = true;
		} else {
			out[o++] = ch;
		}
	}
	out[o] = '\0';
	return out;
}

/* next whitespace-separated token of *s (NUL-terminated in place) */
static char *token(char **s)
{
	char *p = *s;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p) {
		*s = p;
		return NULL;
	}
	char *t = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (*p)
		*p++ = '\0';
	*s = p;
	return t;
}

/* one resinfo "dkim=pass header.d=x header.i=@x": the aligned domain or NULL */
static const char *resinfo_pass(char *ri, const char *reporting)
{
	char *s = ri;
	char *t = token(&s);
	if (!t || strncasecmp(t, "dkim=", 5) != 0 || strcasecmp(t + 5, "pass") != 0)
		return NULL;
	const char *dom = NULL;
	while ((t = token(&s))) {
		if (strncasecmp(t, "header.d=", 9) == 0)
			dom = t + 9;
		else if (!dom && strncasecmp(t, "header.i=", 9) == 0)
			dom = strchr(t + 9, '@') ? strchr(t + 9, '@') + 1 : t + 9;
	}
	return dom && sts_dkim_aligned(dom, reporting) ? dom : NULL;
}

static bool is_trusted(char *const *trusted, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(trusted[i], id) == 0)
			return true;
	return false;
}

STS_API int sts_dkim_trusted_ar(const char *raw_headers, size_t headers_len, char *const *trusted,
				size_t n, const char *reporting_domain, char **ret_domain,
				char **ret_authserv)
{
	const char *p = raw_headers, *end = raw_headers + headers_len, *next;
	if (!n || !raw_headers)
		return 0;
	for (; p < end; p = next) {
		size_t len = field_len(p, end, &next);
		static const char name[] = "Authentication-Results";
		if (!field_is(p, len, name))
			continue;
		char *v = ar_plain(p + sizeof(name), len - sizeof(name));
		if (!v)
			return STS_ENOMEM;
		char *semi = strchr(v, ';');
		if (semi)
			*semi = '\0';
		char *s = v;
		char *id = token(&s);
		if (!id || !is_trusted(trusted, n, id)) {
			/* only the topmost field is read: one further down may have
			 * come with the message (RFC 8601 §5) */
			free(v);
			return 0;
		}
		/* the topmost field, added by a trusted MTA, decides */
		int verdict = 0;
		for (char *ri = semi ? semi + 1 : NULL; ri && !verdict;) {
			char *nx = strchr(ri, ';');
			if (nx)
				*nx++ = '\0';
			const char *dom = resinfo_pass(ri, reporting_domain);
			if (dom) {
				verdict = 1;
				if ((ret_domain && !(*ret_domain = strdup(dom))) ||
				    (ret_authserv && !(*ret_authserv = strdup(id))))
					verdict = STS_ENOMEM;
			}
			ri = nx;
		}
		free(v);
		return verdict;
	}
	return 0;
}

/* ---- libopendkim ---- */

static int set_reason(struct sts_dkim_result *r, const char *fmt, ...) STS_PRINTF(2, 3);
static int set_reason(struct sts_dkim_result *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(r->reason);
	int n = vasprintf(&r->reason, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->reason = NULL;
		return STS_ENOMEM;
	}
	return STS_OK;
}

static const char *sig_error(DKIM_SIGINFO *sig)
{
	if (dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH)
		return "body hash mismatch";
	int e = dkim_sig_geterror(sig);
	const char *s = e ? dkim_sig_geterrorstr((DKIM_SIGERROR)e) : NULL;
	return s ? s : "signature did not verify";
}

/* Feed the message to libopendkim and pick the verdict. */
static int verify(struct sts_dkim *d, const char *hdr, size_t hlen, const void *body, size_t blen,
		  const char *reporting, struct sts_dkim_result *res)
{
	struct check_ctx c = {.d = d};
	DKIM_STAT st;
	int r = STS_OK;
	/* libopendkim takes header fields as (pointer, length) but reads some of
	 * them as C strings: a NUL byte in one made it read past its copy */
	if (hlen && memchr(hdr, '\0', hlen))
		return set_reason(res, "dkim fail: a header field holds a NUL byte");
	DKIM *k = dkim_verify(d->lib, (const u_char *)"stsctl", NULL, &st);
	if (!k)
		return set_reason(res, "dkim: cannot start verification: %s",
				  dkim_getresultstr(st));
	dkim_set_user_context(k, &c);
	const char *p = hdr, *end = hdr + hlen, *next;
	for (; p < end && st == DKIM_STAT_OK; p = next) {
		size_t len = field_len(p, end, &next);
		if (len)
			st = dkim_header(k, (u_char *)(uintptr_t)p, len);
	}
	if (st == DKIM_STAT_OK)
		st = dkim_eoh(k);
	if (st == DKIM_STAT_NOSIG) {
		r = set_reason(res, "no dkim signature");
		goto out;
	}
	if (st == DKIM_STAT_OK && blen)
		st = dkim_body(k, (u_char *)(uintptr_t)body, blen);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(k, NULL);
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	if (dkim_getsiglist(k, &sigs, &nsigs) != DKIM_STAT_OK || nsigs == 0) {
		res->temporary = c.temporary;
		r = set_reason(res, "dkim: %s%s",
			       c.lookup_err[0] ? c.lookup_err : dkim_getresultstr(st),
			       c.temporary ? " (temporary: verified again later)" : "");
		goto out;
	}
	/* a passing aligned signature without l= wins; else explain the most
	 * telling failure: an aligned one first */
	DKIM_SIGINFO *why = NULL;
	const char *why_text = NULL;
	int why_rank = -1;
	for (int i = 0; i < nsigs; i++) {
		DKIM_SIGINFO *s = sigs[i];
		const char *dom = (const char *)dkim_sig_getdomain(s);
		const char *sel = (const char *)dkim_sig_getselector(s);
		bool ok = (dkim_sig_getflags(s) & DKIM_SIGFLAG_PASSED) &&
			  dkim_sig_getbh(s) == DKIM_SIGBH_MATCH;
		bool aligned = sts_dkim_aligned(dom, reporting);
		bool has_l = dkim_sig_gettagvalue(s, false, (u_char *)"l") != NULL;
		if (ok && aligned && !has_l) {
			res->pass = true;
			if (!(res->domain = strdup(dom))) {
				r = STS_ENOMEM;
				goto out;
			}
			r = set_reason(res, "dkim pass d=%s s=%s", dom, sel ? sel : "");
			goto out;
		}
		int rank = aligned ? 2 : ok ? 1 : 0;
		if (rank > why_rank) {
			why = s;
			why_rank = rank;
			why_text = !ok	   ? NULL
				   : has_l ? "signature uses l=, which RFC 8460 §3 forbids"
					   : "not the reporting domain";
		}
	}
	const char *dom = (const char *)dkim_sig_getdomain(why);
	if (!dom)
		dom = "";
	/* no signature passed, and one could not be checked for now: not final */
	res->temporary = c.temporary;
	if (why_text && strcmp(why_text, "not the reporting domain") == 0)
		r = set_reason(res, "dkim pass d=%s, but not the reporting domain '%s'", dom,
			       reporting);
	else if (why_text)
		r = set_reason(res, "dkim d=%s: %s", dom, why_text);
	else if (c.lookup_err[0])
		r = set_reason(res, "dkim d=%s: %s%s", dom, c.lookup_err,
			       c.temporary ? " (temporary: verified again later)" : "");
	else
		r = set_reason(res, "dkim fail d=%s: %s", dom, sig_error(why));
out:
	dkim_free(k);
	sts_resolver_free(c.res);
	return r;
}

STS_API int sts_dkim_check(struct sts_dkim *d, const char *raw_headers, size_t headers_len,
			   const void *body, size_t body_len, const char *reporting_domain,
			   struct sts_dkim_result *ret)
{
	struct sts_dkim_result res = {0};
	char *dom = NULL, *id = NULL;
	int r = sts_dkim_trusted_ar(raw_headers, headers_len, d->trusted, d->n_trusted,
				    reporting_domain, &dom, &id);
	if (r < 0)
		return r;
	if (r == 1) {
		res.pass = true;
		res.domain = dom;
		r = set_reason(
		    &res, "authentication-results of trusted '%s': dkim=pass header.d=%s", id, dom);
		free(id);
		if (r < 0)
			goto fail;
		*ret = res;
		return STS_OK;
	}
	if (!reporting_domain) {
		r = set_reason(&res, "no reporting domain (no TLS-Report-Submitter or From)");
	} else {
		r = verify(d, raw_headers, headers_len, body, body_len, reporting_domain, &res);
		if (r == STS_OK && !res.reason)
			r = set_reason(&res, "dkim: no verdict");
	}
	if (r < 0)
		goto fail;
	*ret = res;
	return STS_OK;
fail:
	sts_dkim_result_release(&res);
	return r;
}
