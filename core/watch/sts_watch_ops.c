/* SPDX-License-Identifier: MIT */
/*
 * What the watcher needs around the cycle: the live check as the gates
 * see it (sts_check.h with apply's trust settings), and the webhook
 * notification (sts_http.h). The "watch" section: sts_inv_watch.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_check.h"
#include "sts_err.h"
#include "sts_http.h"
#include "sts_watch.h"

/* ---- the live check ---- */

static long min_days(long a, bool have, long b)
{
	return have && b < a ? b : a;
}

STS_API void sts_watch_check_convert(const struct sts_check_domain *cd, int64_t at,
				     struct sts_rollout_check *ret)
{
	sts_rollout_check_init(ret);
	ret->ran = true;
	ret->at = at;
	ret->txt_ok = cd->txt_valid;
	ret->policy_ok = cd->policy_usable;
	ret->tlsrpt_ok = cd->tlsrpt_valid;
	ret->ph_cert_ok = cd->ph_cert_valid;
	ret->ph_days_left = cd->ph_have_days ? cd->ph_days_left : LONG_MAX;
	ret->mx_ok = cd->n_mx > 0;
	if (!cd->n_mx)
		snprintf(ret->problem, sizeof(ret->problem), "no MX record");
	for (size_t i = 0; i < cd->n_mx; i++) {
		const struct sts_check_mx *m = &cd->mx[i];
		const char *why = !m->probed	 ? (m->error ? m->error : "not probed")
				  : !m->starttls ? (m->error ? m->error : "no STARTTLS")
				  : !m->cert_valid
				      ? (m->cert_error ? m->cert_error : "certificate not valid")
				  : !m->matches_policy ? "not listed in the policy"
						       : NULL;
		ret->mx_min_days_left =
		    min_days(ret->mx_min_days_left, m->have_days, m->cert_days_left);
		if (why && ret->mx_ok) {
			ret->mx_ok = false;
			snprintf(ret->problem, sizeof(ret->problem), "MX '%s': %s", m->host, why);
		}
	}
	if (!ret->problem[0] && !ret->policy_ok)
		snprintf(ret->problem, sizeof(ret->problem), "policy of '%s' not usable",
			 cd->domain);
	/* a hosted domain whose customer's CNAMEs are not in place: senders do not
	 * reach the policy stsctl serves, so it is not served correctly */
	for (size_t i = 0; i < cd->findings.n; i++) {
		const struct sts_diag *f = &cd->findings.v[i];
		if (f->severity != STS_SEV_ERROR || !f->rule || strncmp(f->rule, "HOSTED-", 7) != 0)
			continue;
		ret->policy_ok = false;
		snprintf(ret->problem, sizeof(ret->problem), "%s: %s", f->rule, f->message);
		break;
	}
}

STS_API int sts_watch_check_domain(const struct sts_domain *d, const struct sts_check_opts *base,
				   int64_t now, struct sts_rollout_check *ret)
{
	struct sts_check_opts o = *base;
	struct sts_check_report rep;
	const char *why = NULL, *name = d->name;
	const json_t *ca = json_object_get(d->verify, "ca_file");

	const json_t *addr = json_object_get(d->verify, "resolve");

	/* the trust settings of apply's verification (the verify block) */
	if (!o.ca_file && json_is_string(ca))
		o.ca_file = json_string_value(ca);
	if (!o.policy_address && json_is_string(addr))
		o.policy_address = json_string_value(addr);
	o.now = now;
	o.concurrency = 1;
	/* drift only for a hosted domain: its delegation (HOSTED-1, HOSTED-2) */
	o.inventory = d->hosting == STS_HOSTING_HOSTED ? base->inventory : NULL;
	o.progress = NULL;
	memset(&rep, 0, sizeof(rep));
	int r = sts_check_run(&name, 1, &o, &rep, &why);
	if (r == STS_OK && rep.n == 1)
		sts_watch_check_convert(&rep.domains[0], now, ret);
	sts_check_report_release(&rep);
	return r;
}

/* ---- the webhook ---- */

STS_API int sts_watch_notify(const char *url, const char *ca_file, const json_t *doc, char **reterr)
{
	static const char *const headers[] = {"Content-Type: application/json", NULL};
	struct sts_http_opts ho = {.ca_file = ca_file, .max_attempts = 3, .max_total_ms = 30000};
	struct sts_http *h = NULL;
	struct sts_http_resp resp;
	char *body = json_dumps(doc, JSON_COMPACT);
	int r;

	*reterr = NULL;
	if (!body)
		return STS_ENOMEM;
	if ((r = sts_http_new(&ho, &h)) < 0) {
		free(body);
		return r;
	}
	struct sts_http_req req = {.method = "POST",
				   .url = url,
				   .headers = headers,
				   .body = body,
				   .body_len = strlen(body),
				   .timeout_ms = 10000};
	r = sts_http_do(h, &req, &resp);
	if (r == STS_OK && (resp.status < 200 || resp.status > 299)) {
		r = STS_EPROVIDER;
		if (asprintf(reterr, "webhook answered HTTP %ld", resp.status) < 0)
			*reterr = NULL;
	} else if (r < 0 && asprintf(reterr, "webhook: %s", sts_strerror(r)) < 0)
		*reterr = NULL;
	sts_http_resp_release(&resp);
	sts_http_free(h);
	free(body);
	return r;
}
