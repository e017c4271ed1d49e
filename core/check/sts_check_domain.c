/* SPDX-License-Identifier: MIT */
/*
 * stsctl check, one domain: the lookups, the _mta-sts record, the policy
 * fetch and what a sender makes of it, then the MX hosts, TLS-RPT and drift
 * (sts_check_mx.c, sts_check_drift.c), and the verdict.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_check_int.h"
#include "sts_err.h"
#include "sts_fetch.h"
#include "sts_record.h"

#define NO_POLICY "senders will treat this domain as having no policy"

/*
 * Copy a parser's findings, each message prefixed with what was parsed;
 * with cap STS_SEV_INFO every one becomes information (nobody uses the text).
 */
static void take_diags(struct check_audit *a, const struct sts_diags *src, const char *what,
		       enum sts_severity cap)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct sts_diag *x = &src->v[i];
		enum sts_severity sev = cap == STS_SEV_INFO ? STS_SEV_INFO : x->severity;
		if (x->line)
			check_add(a, sev, x->rule, "%s line %u: %s", what, x->line, x->message);
		else
			check_add(a, sev, x->rule, "%s: %s", what, x->message);
	}
}

static char *dup_or_fail(struct check_audit *a, const char *s)
{
	char *c = s ? strdup(s) : NULL;
	if (s && !c)
		a->err = STS_ENOMEM;
	return c;
}

/* "v=STSv1" then ';', a blank or the end: a record RFC 8461 §3.1 counts. */
static bool starts_with_version(const struct sts_dns_txt *t, const char *v)
{
	size_t n = strlen(v);
	if (t->len < n || memcmp(t->data, v, n) != 0)
		return false;
	return t->len == n || t->data[n] == ';' || t->data[n] == ' ' || t->data[n] == '\t';
}

static void check_txt(struct check_audit *a, const struct sts_dns_query *q)
{
	struct sts_check_domain *d = a->d;
	d->txt_status = q->status;
	d->txt_cname = dup_or_fail(a, q->cname);
	if (q->canonical)
		check_add(a, STS_SEV_INFO, "T15",
			  "'_mta-sts.%s' is a CNAME to '%s' (%u link%s followed, to '%s')",
			  d->domain, q->cname, q->n_cname, q->n_cname == 1 ? "" : "s",
			  q->canonical);
	if (q->status == STS_DNS_SERVFAIL || q->status == STS_DNS_TIMEOUT ||
	    q->status == STS_DNS_ERROR) {
		check_add(
		    a, STS_SEV_ERROR, "T1",
		    "lookup of '_mta-sts.%s' TXT failed (%s%s%s): senders cannot discover the "
		    "policy and keep a cached one or have none",
		    d->domain, sts_dns_status_name(q->status), q->error ? ": " : "",
		    q->error ? q->error : "");
		return;
	}
	const struct sts_dns_txt *rec = NULL;
	for (size_t i = 0; i < q->n_txt; i++) {
		if (starts_with_version(&q->txt[i], "v=STSv1")) {
			d->n_sts_txt++;
			rec = &q->txt[i];
		}
	}
	if (d->n_sts_txt == 0) {
		check_add(
		    a, STS_SEV_WARNING, "T1",
		    "no v=STSv1 TXT record at '_mta-sts.%s': MTA-STS is not deployed, " NO_POLICY,
		    d->domain);
		return;
	}
	if (d->n_sts_txt > 1) {
		check_add(a, STS_SEV_ERROR, "T11",
			  "%zu v=STSv1 TXT records at '_mta-sts.%s' instead of one: " NO_POLICY,
			  d->n_sts_txt, d->domain);
		return;
	}
	char *text = malloc(rec->len + 1);
	if (!text) {
		a->err = STS_ENOMEM;
		return;
	}
	memcpy(text, rec->data, rec->len + 1);
	d->txt = text;
	struct sts_diags diags;
	struct sts_sts_record parsed;
	sts_diags_init(&diags);
	int r = sts_sts_record_parse(rec->data, rec->len, &parsed, &diags);
	take_diags(a, &diags, "_mta-sts TXT", STS_SEV_ERROR);
	if (r == STS_OK) {
		d->txt_valid = true;
		d->id = dup_or_fail(a, parsed.id);
	} else if (r == STS_ENOMEM) {
		a->err = r;
	} else {
		check_add(a, STS_SEV_ERROR, "T11",
			  "the _mta-sts TXT record is invalid: " NO_POLICY);
	}
	sts_sts_record_release(&parsed);
	sts_diags_release(&diags);
}

/* Media type of a Content-Type value is text/plain (parameters ignored, P2)? */
/* The policy host's certificate as seen in the handshake. */
static void policy_host_cert(struct check_audit *a, const struct sts_http_peer *p,
			     enum sts_severity sev)
{
	struct sts_check_domain *d = a->d;
	if (!p->have_cert)
		return;
	d->ph_have_cert = true;
	d->ph_cert_valid = p->chain_ok && p->name_ok;
	snprintf(d->ph_tls_version, sizeof(d->ph_tls_version), "%s", p->tls_version);
	if (p->not_after) {
		d->ph_have_days = true;
		d->ph_days_left = check_days_left(p->not_after, a->now);
	}
	const char *after =
	    sev == STS_SEV_ERROR
		? ": senders cannot authenticate the policy host (sts-webpki-invalid) "
		  "and will treat this domain as having no policy"
		: "";
	if (!p->chain_ok)
		check_add(a, sev, "C1", "certificate of '%s' is not valid: %s%s", d->policy_host,
			  p->verify_msg, after);
	if (!p->name_ok)
		check_add(a, sev, "C2",
			  "certificate of '%s' has no subjectAltName DNS name matching it%s",
			  d->policy_host, after);
	int warn = check_warn_days(a->o);
	if (d->ph_cert_valid && d->ph_have_days && d->ph_days_left < warn)
		check_add(a, STS_SEV_WARNING, "C1", "certificate of '%s' expires in %ld days",
			  d->policy_host, d->ph_days_left);
}

static void parse_policy(struct check_audit *a, const struct sts_buf *body, enum sts_severity sev)
{
	struct sts_check_domain *d = a->d;
	if (!(d->policy_text = malloc(body->len + 1))) {
		a->err = STS_ENOMEM;
		return;
	}
	memcpy(d->policy_text, sts_buf_str(body), body->len + 1);
	struct sts_diags diags;
	sts_diags_init(&diags);
	int r = sts_policy_parse(d->policy_text, body->len, &d->policy, &diags);
	take_diags(a, &diags, "policy", sev);
	sts_diags_release(&diags);
	if (r == STS_OK)
		d->policy_valid = true;
	else if (r == STS_ENOMEM)
		a->err = r;
	else if (sev == STS_SEV_ERROR)
		check_add(a, sev, "B1", "the policy is invalid: " NO_POLICY);
}

/* The HTTP answer: status, redirects, media type, body. */
static void check_response(struct check_audit *a, struct sts_policy_fetch *f, enum sts_severity sev)
{
	struct sts_check_domain *d = a->d;
	d->fetched = true;
	d->http_status = f->status;
	d->content_type = f->content_type; /* moved */
	f->content_type = NULL;
	if (f->status >= 300 && f->status < 400) {
		d->location = f->location; /* moved */
		f->location = NULL;
		check_add(a, sev, "P4",
			  "the policy URL redirects (HTTP %ld to '%s'): senders do not follow "
			  "redirects and will treat this domain as having no policy",
			  f->status, d->location ? d->location : "");
		return;
	}
	if (f->status != 200) {
		check_add(a, sev, "P3",
			  "the policy URL answers HTTP %ld instead of 200: " NO_POLICY, f->status);
		return;
	}
	if (!sts_fetch_text_plain(d->content_type))
		check_add(a, sev, "P2",
			  "the policy is served as '%s', not text/plain: senders that check the "
			  "media type (as RFC 8461 §3.2 asks) will treat this domain as having no "
			  "policy",
			  d->content_type ? d->content_type : "(no Content-Type)");
	parse_policy(a, &f->body, sev);
}

static void fetch_policy(struct check_audit *a, const struct sts_dns_query *q4,
			 const struct sts_dns_query *q6)
{
	struct sts_check_domain *d = a->d;
	/* without a v=STSv1 record no sender fetches: problems are only information */
	enum sts_severity sev = d->n_sts_txt ? STS_SEV_ERROR : STS_SEV_INFO;
	d->n_policy_addr = q4->n_addr + q6->n_addr;
	if (!d->n_policy_addr) {
		enum sts_dns_status st = q4->status == STS_DNS_NODATA ? q6->status : q4->status;
		check_add(a, sev, "P1", "policy host '%s' has no address (%s)%s", d->policy_host,
			  sts_dns_status_name(st), sev == STS_SEV_ERROR ? ": " NO_POLICY : "");
		return;
	}
	size_t n = a->o->policy_address ? 1 : d->n_policy_addr;
	const char **addrs = calloc(n, sizeof(*addrs));
	if (!addrs) {
		a->err = STS_ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++)
		addrs[i] = a->o->policy_address ? a->o->policy_address
			   : i < q4->n_addr	? q4->addr[i]
						: q6->addr[i - q4->n_addr];
	struct sts_policy_fetch f;
	int r = sts_fetch_policy(a->w->http, d->policy_host, a->o->https_port, addrs, n, &f);
	free(addrs);
	policy_host_cert(a, &f.peer, sev);
	const char *after = sev == STS_SEV_ERROR ? ": " NO_POLICY : "";
	switch (r) {
	case STS_OK:
		check_response(a, &f, sev);
		break;
	case STS_ETLS:
		if (!f.peer.have_cert || (f.peer.chain_ok && f.peer.name_ok))
			check_add(a, sev, "P8", "TLS handshake with '%s' failed%s", d->policy_host,
				  after);
		break;
	case STS_ETIMEOUT:
		check_add(a, sev, "P6", "fetching the policy from '%s' timed out%s", d->policy_host,
			  after);
		break;
	case STS_ETOOLARGE:
		check_add(a, sev, "P6", "the policy is larger than %u bytes%s", STS_CAP_POLICY,
			  after);
		break;
	case STS_ENOMEM:
		a->err = r;
		break;
	default:
		check_add(a, sev, "P1", "cannot fetch 'https://%s/.well-known/mta-sts.txt': %s%s",
			  d->policy_host, sts_strerror(r), after);
		break;
	}
	sts_policy_fetch_release(&f);
}

static void decide_view(struct check_audit *a)
{
	struct sts_check_domain *d = a->d;
	d->policy_usable = d->txt_valid && d->fetched && d->http_status == 200 &&
			   sts_fetch_text_plain(d->content_type) && d->ph_cert_valid &&
			   d->policy_valid;
	if (!d->policy_usable) {
		d->view = STS_VIEW_NO_POLICY;
		if (d->policy_valid && !d->n_sts_txt)
			check_add(
			    a, STS_SEV_WARNING, "T1",
			    "a valid policy is served at '%s' but there is no _mta-sts record: "
			    "senders never fetch it",
			    d->policy_host);
		return;
	}
	switch (d->policy.mode) {
	case STS_MODE_ENFORCE:
		d->view = STS_VIEW_ENFORCE;
		break;
	case STS_MODE_TESTING:
		d->view = STS_VIEW_TESTING;
		check_add(
		    a, STS_SEV_INFO, "S5",
		    "mode testing: senders deliver despite failures and report them (TLS-RPT)");
		break;
	default:
		d->view = STS_VIEW_NONE;
		check_add(a, STS_SEV_INFO, "S6",
			  "mode none: senders treat the domain as having no active policy");
		break;
	}
}

int check_domain(struct check_worker *w, const char *name, struct sts_check_domain *d)
{
	const struct sts_check_opts *o = w->run->o;
	long budget =
	    o->domain_timeout_ms > 0 ? o->domain_timeout_ms : STS_CHECK_DOMAIN_TIMEOUT_DEFAULT_MS;
	struct check_audit a = {
	    .w = w, .o = o, .now = w->run->now, .d = d, .deadline = check_now_ms() + budget};
	sts_policy_init(&d->policy);
	d->domain = strdup(name);
	if (!d->domain)
		return STS_ENOMEM;
	/* DNS names: at most 253 bytes, so fixed storage is enough */
	char sts[300], tlsrpt[300], host[300];
	snprintf(sts, sizeof(sts), "_mta-sts.%s", name);
	snprintf(tlsrpt, sizeof(tlsrpt), "_smtp._tls.%s", name);
	snprintf(host, sizeof(host), "mta-sts.%s", name);
	d->policy_host = dup_or_fail(&a, host);
	struct sts_dns_query q[5];
	sts_dns_query_init(&q[0], sts, STS_DNS_TXT);
	sts_dns_query_init(&q[1], name, STS_DNS_MX);
	sts_dns_query_init(&q[2], tlsrpt, STS_DNS_TXT);
	sts_dns_query_init(&q[3], host, STS_DNS_A);
	sts_dns_query_init(&q[4], host, STS_DNS_AAAA);
	int r = sts_resolver_run(w->res, q, 5);
	a.q_sts = &q[0];
	a.q_ph4 = &q[3];
	a.q_ph6 = &q[4];
	if (r == STS_OK && a.err == STS_OK) {
		check_txt(&a, &q[0]);
		fetch_policy(&a, &q[3], &q[4]);
		decide_view(&a);
		check_mx(&a, &q[1]);
		check_tlsrpt(&a, &q[2]);
		if (a.o->inventory)
			check_drift(&a);
	}
	for (size_t i = 0; i < 5; i++)
		sts_dns_query_release(&q[i]);
	d->verdict = d->findings.n_errors     ? STS_VERDICT_FAIL
		     : d->findings.n_warnings ? STS_VERDICT_WARN
					      : STS_VERDICT_PASS;
	return r < 0 ? r : a.err;
}
