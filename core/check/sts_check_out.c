/* SPDX-License-Identifier: MIT */
/*
 * stsctl check: the report as JSON (--json) and as text, one block per
 * domain. The JSON layout is documented in docs/stsctl-check.md.
 */
#include <stdlib.h>
#include <string.h>

#include "sts_check_int.h"
#include "sts_diag_json.h"
#include "sts_err.h"

/* A JSON string of s; bytes that are not UTF-8 become \xHH; null for NULL. */
json_t *check_json_str(const char *s)
{
	return s ? sts_json_string_lossy(s) : json_null();
}

static json_t *jint_or_null(bool have, long long v)
{
	return have ? json_integer(v) : json_null();
}

static json_t *jbool_or_null(bool have, bool v)
{
	return have ? json_boolean(v) : json_null();
}

static json_t *policy_json(const struct sts_check_domain *d)
{
	const struct sts_policy *p = &d->policy;
	bool parsed = d->policy_text != NULL;
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:b,s:b,s:o,s:o,s:o,s:o}", "txt",
			 check_json_str(d->txt), "id", check_json_str(d->id), "http_status",
			 jint_or_null(d->fetched, d->http_status), "content_type",
			 check_json_str(d->content_type), "location", check_json_str(d->location),
			 "valid", d->policy_valid, "usable", d->policy_usable, "version",
			 check_json_str(parsed ? p->version : NULL), "mode",
			 check_json_str(parsed ? sts_mode_name(p->mode) : NULL), "max_age",
			 jint_or_null(parsed && p->max_age >= 0, p->max_age), "mx",
			 parsed ? sts_json_strv(p->mx, p->n_mx) : json_array());
}

static json_t *mx_json(const struct sts_check_domain *d, const struct sts_check_mx *m)
{
	bool tls = m->starttls;
	return json_pack("{s:o,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "host",
			 check_json_str(m->host), "preference", (json_int_t)m->pref,
			 "matches_policy", jbool_or_null(d->policy_valid, m->matches_policy),
			 "starttls", jbool_or_null(m->probed, m->starttls), "tls_version",
			 check_json_str(tls ? m->tls_version : NULL), "cert_valid",
			 jbool_or_null(tls, m->cert_valid), "cert_days_left",
			 jint_or_null(tls && m->have_days, m->cert_days_left), "address",
			 check_json_str(m->address), "error", check_json_str(m->error),
			 "cert_error", check_json_str(m->cert_error));
}

static json_t *findings_json(const struct sts_diags *f)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < f->n; i++) {
		const struct sts_diag *x = &f->v[i];
		json_t *o = json_pack("{s:o,s:s,s:o}", "rule", check_json_str(x->rule), "severity",
				      sts_severity_name(x->severity), "message",
				      check_json_str(x->message));
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *domain_json(const struct sts_check_domain *d)
{
	json_t *mx = json_array();
	for (size_t i = 0; mx && i < d->n_mx; i++)
		if (json_array_append_new(mx, mx_json(d, &d->mx[i])) < 0) {
			json_decref(mx);
			mx = NULL;
		}
	return json_pack("{s:o,s:s,s:s,s:o*,s:{s:o,s:o},s:o*,s:{s:o,s:o*},s:o*}", "domain",
			 check_json_str(d->domain), "verdict", sts_verdict_name(d->verdict),
			 "sender_view", sts_view_name(d->view), "policy", policy_json(d),
			 "policy_host", "cert_valid",
			 jbool_or_null(d->ph_have_cert, d->ph_cert_valid), "cert_days_left",
			 jint_or_null(d->ph_have_days, d->ph_days_left), "mx", mx, "tlsrpt", "txt",
			 check_json_str(d->tlsrpt), "rua", sts_json_strv(d->rua, d->n_rua),
			 "findings", findings_json(&d->findings));
}

STS_API json_t *sts_check_json(const struct sts_check_report *r)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->n; i++)
		if (json_array_append_new(a, domain_json(&r->domains[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	return json_pack("{s:o*}", "domains", a);
}

/* Printable, bounded copy of a DNS or HTTP value for the text report. */
static const char *printable(char *out, size_t outsz, const char *s)
{
	sts_lint_quote(out, outsz, s, strlen(s));
	return out;
}

static int cert_text(struct sts_buf *b, bool valid, bool have_days, long days)
{
	int r = sts_buf_puts(b, valid ? "certificate valid" : "certificate NOT valid");
	if (r == STS_OK && have_days)
		r = days >= 0 ? sts_buf_printf(b, ", %ld days left", days)
			      : sts_buf_printf(b, ", expired %ld days ago", -days);
	return r;
}

static int mx_text(struct sts_buf *b, const struct sts_check_domain *d,
		   const struct sts_check_mx *m)
{
	int r = sts_buf_printf(b, "  mx %u %s:", m->pref, m->host);
	if (r == STS_OK && d->policy_valid)
		r = sts_buf_puts(b, m->matches_policy ? " covered by the policy"
						      : " NOT covered by the policy");
	if (r == STS_OK && m->starttls) {
		r = sts_buf_printf(b, "%s STARTTLS %s, ", d->policy_valid ? "," : "",
				   m->tls_version);
		if (r == STS_OK)
			r = cert_text(b, m->cert_valid, m->have_days, m->cert_days_left);
	} else if (r == STS_OK) {
		r = sts_buf_printf(b, "%s %s", d->policy_valid ? "," : "",
				   m->probed		    ? "no TLS"
				   : m->skipped && m->error ? m->error
							    : "not probed");
	}
	return r == STS_OK ? sts_buf_putc(b, '\n') : r;
}

static int domain_text(struct sts_buf *b, const struct sts_check_domain *d)
{
	char q[300];
	int r = sts_buf_printf(b, "%s: %s, senders see %s\n", d->domain,
			       sts_verdict_name(d->verdict), sts_view_name(d->view));
	if (r == STS_OK && d->txt)
		r = sts_buf_printf(b, "  _mta-sts: %s\n", printable(q, sizeof(q), d->txt));
	if (r == STS_OK && d->policy_valid) {
		r = sts_buf_printf(b, "  policy: mode %s, max_age %lld, mx",
				   sts_mode_name(d->policy.mode), d->policy.max_age);
		for (size_t i = 0; r == STS_OK && i < d->policy.n_mx; i++)
			r = sts_buf_printf(b, " %s", d->policy.mx[i]);
		if (r == STS_OK)
			r = sts_buf_putc(b, '\n');
	}
	if (r == STS_OK && d->ph_have_cert) {
		r = sts_buf_printf(b, "  policy host %s: ", d->policy_host);
		if (r == STS_OK)
			r = cert_text(b, d->ph_cert_valid, d->ph_have_days, d->ph_days_left);
		if (r == STS_OK)
			r = sts_buf_putc(b, '\n');
	}
	for (size_t i = 0; r == STS_OK && i < d->n_mx; i++)
		r = mx_text(b, d, &d->mx[i]);
	if (r == STS_OK && d->tlsrpt)
		r = sts_buf_printf(b, "  _smtp._tls: %s\n", printable(q, sizeof(q), d->tlsrpt));
	for (size_t i = 0; r == STS_OK && i < d->findings.n; i++) {
		const struct sts_diag *x = &d->findings.v[i];
		r = sts_buf_printf(b, "  %s: %s%s%s%s\n", sts_severity_name(x->severity),
				   x->rule ? "[" : "", x->rule ? x->rule : "", x->rule ? "] " : "",
				   x->message);
	}
	return r;
}

STS_API int sts_check_text(const struct sts_check_report *rep, struct sts_buf *out)
{
	int r = STS_OK;
	for (size_t i = 0; r == STS_OK && i < rep->n; i++) {
		if (i)
			r = sts_buf_putc(out, '\n');
		if (r == STS_OK)
			r = domain_text(out, &rep->domains[i]);
	}
	return r;
}
