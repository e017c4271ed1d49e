/* SPDX-License-Identifier: MIT */
/*
 * The two CNAMEs the customer of a hosted domain publishes (docs/hosted.md,
 * "Customer onboarding"): what a lookup shows at each name, for
 * `stsctl onboard --hosted` and for the check of a hosted domain (HOSTED-1,
 * HOSTED-2 in docs/rfc-rules.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_check.h"
#include "sts_check_int.h"
#include "sts_dname.h"
#include "sts_err.h"
#include "sts_hosted_label.h"

STS_API const char *sts_hosted_rec_state_name(enum sts_hosted_rec_state s)
{
	static const char *const names[] = {
	    [STS_HOSTED_REC_PRESENT] = "present",     [STS_HOSTED_REC_MISSING] = "missing",
	    [STS_HOSTED_REC_ELSEWHERE] = "elsewhere", [STS_HOSTED_REC_CONFLICT] = "conflict",
	    [STS_HOSTED_REC_UNKNOWN] = "unknown",
	};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static bool lookup_failed(const struct sts_dns_query *q)
{
	return q->status == STS_DNS_SERVFAIL || q->status == STS_DNS_TIMEOUT ||
	       q->status == STS_DNS_ERROR;
}

STS_API int sts_hosted_rec_eval(struct sts_hosted_rec *rec, const struct sts_dns_query *q,
				const struct sts_dns_query *q2, const char *const *accept,
				size_t n_accept)
{
	const struct sts_dns_query *qs[2] = {q, q2};
	free(rec->found);
	rec->found = NULL;
	const char *found = NULL;
	if (q->cname) {
		rec->state = STS_HOSTED_REC_ELSEWHERE;
		found = q->cname;
		for (size_t i = 0; i < n_accept && rec->state != STS_HOSTED_REC_PRESENT; i++)
			if (sts_dname_eq(q->cname, accept[i]))
				rec->state = STS_HOSTED_REC_PRESENT;
		if (sts_dname_eq(q->cname, rec->target))
			rec->state = STS_HOSTED_REC_PRESENT;
	} else {
		rec->state = STS_HOSTED_REC_MISSING;
		/* no CNAME: any other record there must go (RFC 1034 §3.6.2) */
		for (size_t i = 0; i < 2 && qs[i]; i++) {
			static const char *const types[] = {[STS_DNS_A] = "A",
							    [STS_DNS_TXT] = "TXT",
							    [STS_DNS_AAAA] = "AAAA",
							    [STS_DNS_MX] = "MX",
							    [STS_DNS_CNAME] = "CNAME"};
			if (qs[i]->status == STS_DNS_OK && rec->state == STS_HOSTED_REC_MISSING) {
				rec->state = STS_HOSTED_REC_CONFLICT;
				found = types[qs[i]->type];
			}
		}
		for (size_t i = 0; i < 2 && qs[i] && rec->state == STS_HOSTED_REC_MISSING; i++)
			if (lookup_failed(qs[i])) {
				rec->state = STS_HOSTED_REC_UNKNOWN;
				found = sts_dns_status_name(qs[i]->status);
			}
	}
	if (found && !(rec->found = strdup(found)))
		return STS_ENOMEM;
	return STS_OK;
}

STS_API void sts_hosted_rec_release(struct sts_hosted_rec *rec)
{
	STS_FREE_ALL(rec->name, rec->target, rec->found);
	memset(rec, 0, sizeof(*rec));
}

STS_API int sts_hosted_rec_describe(const struct sts_hosted_rec *rec, struct sts_buf *out)
{
	switch (rec->state) {
	case STS_HOSTED_REC_PRESENT:
		return sts_buf_puts(out, "in place");
	case STS_HOSTED_REC_MISSING:
		return sts_buf_puts(out, "missing: add it");
	case STS_HOSTED_REC_ELSEWHERE:
		return sts_buf_printf(out, "points elsewhere, to '%s.': change it", rec->found);
	case STS_HOSTED_REC_CONFLICT:
		return sts_buf_printf(out,
				      "%s %s record is there instead: remove it and add the CNAME "
				      "(a CNAME cannot share its name)",
				      rec->found[0] == 'A' ? "an" : "a", rec->found);
	default:
		return sts_buf_printf(out, "unknown: the lookup failed (%s)",
				      rec->found ? rec->found : "error");
	}
}

/* the names and targets of both records of domain under h (absolute, final dot) */
STS_API int sts_hosted_recs_init(struct sts_hosted_rec rec[2], const char *domain,
				 const char *label, const struct sts_hosted_conf *h)
{
	memset(rec, 0, 2 * sizeof(*rec));
	if (asprintf(&rec[0].name, "_mta-sts.%s.", domain) < 0 ||
	    asprintf(&rec[0].target, "%s._mta-sts.%s.", label, h->zone) < 0 ||
	    asprintf(&rec[1].name, "mta-sts.%s.", domain) < 0 ||
	    asprintf(&rec[1].target, "%s.", h->edge) < 0)
		return STS_ENOMEM;
	rec[0].state = rec[1].state = STS_HOSTED_REC_UNKNOWN;
	return STS_OK;
}

/* ---- check: HOSTED-1, HOSTED-2 ---- */

static void hosted_finding(struct check_audit *a, const struct sts_hosted_rec *rec,
			   const char *rule)
{
	struct sts_buf b;
	sts_buf_init(&b, 4096);
	int r = sts_hosted_rec_describe(rec, &b);
	if (r == STS_ENOMEM)
		a->err = r;
	else if (rec->state != STS_HOSTED_REC_PRESENT)
		check_add(a, STS_SEV_ERROR, rule,
			  "hosted domain, '%s': %s; the record: %s CNAME %s", rec->name,
			  r == STS_OK ? sts_buf_str(&b) : "not in place", rec->name, rec->target);
	sts_buf_release(&b);
}

void check_hosted(struct check_audit *a)
{
	const struct sts_hosted_conf *h = a->o->inventory->hosted;
	const char *dom = a->d->domain;
	char label[STS_HOSTED_LABEL_LEN + 1];
	char *accept[STS_HOSTED_LABEL_TRIES] = {NULL};
	size_t n = 0;
	struct sts_hosted_rec rec[2] = {{0}};
	if (!h || !a->q_sts || !a->q_ph4)
		return;
	int r = sts_hosted_label(dom, label);
	if (r == STS_OK)
		r = sts_hosted_recs_init(rec, dom, label, h);
	/* without the state: the fallback labels after a collision count too */
	for (unsigned i = 1; r == STS_OK && i <= STS_HOSTED_LABEL_TRIES; i++) {
		r = sts_hosted_label_nth(dom, i, label);
		if (r == STS_OK && asprintf(&accept[n], "%s._mta-sts.%s", label, h->zone) < 0)
			r = STS_ENOMEM;
		n += r == STS_OK;
	}
	if (r == STS_OK)
		r = sts_hosted_rec_eval(&rec[0], a->q_sts, NULL, (const char *const *)accept, n);
	if (r == STS_OK)
		r = sts_hosted_rec_eval(&rec[1], a->q_ph4, a->q_ph6, NULL, 0);
	if (r == STS_OK) {
		hosted_finding(a, &rec[0], "HOSTED-1");
		hosted_finding(a, &rec[1], "HOSTED-2");
	} else if (r == STS_ENOMEM) {
		a->err = r;
	}
	for (size_t i = 0; i < n; i++)
		free(accept[i]);
	sts_hosted_rec_release(&rec[0]);
	sts_hosted_rec_release(&rec[1]);
}
