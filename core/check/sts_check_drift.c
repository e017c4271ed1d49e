/* SPDX-License-Identifier: MIT */
/*
 * stsctl check: the _smtp._tls record (RFC 8460 §3, rules R*) and, with an
 * inventory, drift between what it renders and what is served.
 */
#include <stdlib.h>
#include <string.h>

#include "sts_check_int.h"
#include "sts_err.h"
#include "sts_record.h"
#include "sts_render.h"

#define DRIFT_HINT "run 'stsctl plan' to see the change"

static bool is_tlsrpt(const struct sts_dns_txt *t)
{
	if (t->len < 10 || memcmp(t->data, "v=TLSRPTv1", 10) != 0)
		return false;
	return t->len == 10 || t->data[10] == ';' || t->data[10] == ' ' || t->data[10] == '\t';
}

void check_tlsrpt(struct check_audit *a, const struct sts_dns_query *q)
{
	struct sts_check_domain *d = a->d;
	d->tlsrpt_status = q->status;
	if (q->status == STS_DNS_SERVFAIL || q->status == STS_DNS_TIMEOUT ||
	    q->status == STS_DNS_ERROR) {
		check_add(a, STS_SEV_WARNING, "R1", "lookup of '_smtp._tls.%s' TXT failed (%s)",
			  d->domain, sts_dns_status_name(q->status));
		return;
	}
	const struct sts_dns_txt *rec = NULL;
	for (size_t i = 0; i < q->n_txt; i++) {
		if (is_tlsrpt(&q->txt[i])) {
			d->n_tlsrpt_txt++;
			rec = &q->txt[i];
		}
	}
	if (!d->n_tlsrpt_txt) {
		check_add(
		    a, STS_SEV_WARNING, "R1",
		    "no v=TLSRPTv1 TXT record at '_smtp._tls.%s': senders will not report TLS "
		    "failures%s",
		    d->domain,
		    d->view == STS_VIEW_TESTING ? ", so mode testing reports nothing" : "");
		return;
	}
	if (d->n_tlsrpt_txt > 1) {
		check_add(
		    a, STS_SEV_ERROR, "R7",
		    "%zu v=TLSRPTv1 TXT records at '_smtp._tls.%s' instead of one: senders will "
		    "assume the domain does not implement TLS-RPT",
		    d->n_tlsrpt_txt, d->domain);
		return;
	}
	if (!(d->tlsrpt = strndup(rec->data, rec->len))) {
		a->err = STS_ENOMEM;
		return;
	}
	struct sts_diags diags;
	struct sts_tlsrpt_record parsed;
	sts_diags_init(&diags);
	int r = sts_tlsrpt_record_parse(rec->data, rec->len, &parsed, &diags);
	for (size_t i = 0; i < diags.n; i++)
		check_add(a, diags.v[i].severity, diags.v[i].rule, "_smtp._tls TXT: %s",
			  diags.v[i].message);
	if (r == STS_OK) {
		d->tlsrpt_valid = true;
		d->rua = parsed.rua;
		d->n_rua = parsed.n_rua;
		parsed.rua = NULL;
		parsed.n_rua = 0;
	} else if (r == STS_ENOMEM) {
		a->err = r;
	} else {
		check_add(a, STS_SEV_ERROR, "R7",
			  "the _smtp._tls TXT record is invalid: senders will not send reports");
	}
	sts_tlsrpt_record_release(&parsed);
	sts_diags_release(&diags);
}

static bool in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void drift_tlsrpt(struct check_audit *a, const struct sts_domain *want)
{
	struct sts_check_domain *d = a->d;
	bool same = d->n_rua == want->n_rua;
	for (size_t i = 0; same && i < want->n_rua; i++)
		same = in_list(d->rua, d->n_rua, want->rua[i]);
	for (size_t i = 0; same && i < d->n_rua; i++)
		same = in_list(want->rua, want->n_rua, d->rua[i]);
	if (same)
		return;
	if (!want->n_rua)
		check_add(a, STS_SEV_ERROR, "drift-tlsrpt",
			  "a TLS-RPT record is served but the inventory has none: " DRIFT_HINT);
	else if (!d->n_rua)
		check_add(a, STS_SEV_ERROR, "drift-tlsrpt",
			  "the inventory has TLS-RPT rua '%s'%s but no valid record is "
			  "served: " DRIFT_HINT,
			  want->rua[0], want->n_rua > 1 ? ", ..." : "");
	else
		check_add(
		    a, STS_SEV_ERROR, "drift-tlsrpt",
		    "the served TLS-RPT rua differ from the inventory's ('%s'%s): " DRIFT_HINT,
		    want->rua[0], want->n_rua > 1 ? ", ..." : "");
}

static void drift_self(struct check_audit *a, const struct sts_rendered *rd)
{
	struct sts_check_domain *d = a->d;
	if (!d->id)
		check_add(
		    a, STS_SEV_ERROR, "drift-id",
		    "no valid _mta-sts record is served; the inventory's id is '%s': " DRIFT_HINT,
		    rd->id);
	else if (strcmp(d->id, rd->id) != 0)
		check_add(a, STS_SEV_ERROR, "drift-id",
			  "the served id is '%s', the inventory's is '%s': " DRIFT_HINT, d->id,
			  rd->id);
	if (!d->policy_text || d->http_status != 200) {
		check_add(a, STS_SEV_ERROR, "drift-policy",
			  "no policy is served; the inventory has one: " DRIFT_HINT);
		return;
	}
	if (d->policy_valid && d->policy.mode != rd->mode)
		check_add(a, STS_SEV_ERROR, "drift-mode",
			  "the served mode is '%s', the inventory's is '%s': " DRIFT_HINT,
			  sts_mode_name(d->policy.mode), sts_mode_name(rd->mode));
	if (strcmp(d->policy_text, rd->policy_text) != 0)
		check_add(a, STS_SEV_ERROR, "drift-policy",
			  "the served policy text differs from the inventory's: " DRIFT_HINT);
}

void check_drift(struct check_audit *a)
{
	struct sts_check_domain *d = a->d;
	const struct sts_domain *want = sts_inventory_find(a->o->inventory, d->domain);
	if (!want) {
		check_add(a, STS_SEV_INFO, "drift", "'%s' is not in the inventory", d->domain);
		return;
	}
	struct sts_rendered rd;
	const char *why = NULL;
	int r = sts_render_domain_why(want, STS_MODE_INVALID, &rd, &why);
	if (r == STS_ENOMEM) {
		a->err = r;
		return;
	}
	if (r < 0) {
		check_add(a, STS_SEV_WARNING, "drift",
			  "the inventory's entry cannot be rendered: %s",
			  why ? why : sts_strerror(r));
		return;
	}
	if (want->hosting == STS_HOSTING_DELEGATED) {
		const char *target = want->delegate_sts;
		if (!d->txt_cname || strcmp(d->txt_cname, target) != 0)
			check_add(a, STS_SEV_ERROR, "drift-cname",
				  "'_mta-sts.%s' should be a CNAME to '%s' (delegated hosting), it "
				  "%s%s%s: " DRIFT_HINT,
				  d->domain, target,
				  d->txt_cname ? "points to '" : "is not a CNAME",
				  d->txt_cname ? d->txt_cname : "", d->txt_cname ? "'" : "");
	} else if (want->hosting == STS_HOSTING_HOSTED) {
		check_hosted(a); /* the policy itself: once plan/apply publish hosted domains */
	} else {
		drift_self(a, &rd);
	}
	drift_tlsrpt(a, want);
	sts_rendered_release(&rd);
}
