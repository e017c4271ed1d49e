/* SPDX-License-Identifier: MIT */
/*
 * What the watcher needs around the cycle: the inventory's "watch"
 * section, the live check as the gates see it (sts_check.h with apply's
 * trust settings), and the webhook notification (sts_http.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_check.h"
#include "sts_err.h"
#include "sts_http.h"
#include "sts_watch.h"

/* ---- the "watch" section ---- */

static int seconds_of(const json_t *v, int64_t min, int64_t max, int64_t *ret)
{
	if (!v)
		return STS_OK;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return STS_EINVALID;
	*ret = json_integer_value(v);
	return STS_OK;
}

STS_API int sts_watch_conf_from_json(const json_t *o, struct sts_watch_conf *ret,
				     const char **reterr)
{
	static const char *const keys[] = {"interval", "check_interval", "webhook",
					   "webhook_ca_file", "insecure_http"};
	struct sts_watch_conf c = {.interval = STS_WATCH_DEFAULT_INTERVAL,
				   .check_interval = STS_WATCH_DEFAULT_CHECK_INTERVAL};
	const char *k;
	json_t *v;

	if (!o)
		goto done;
	if (!json_is_object(o))
		return *reterr = "watch: not an object", STS_EINVALID;
	json_object_foreach((json_t *)o, k, v)
	{
		bool known = false;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			known = known || strcmp(k, keys[i]) == 0;
		if (!known)
			return *reterr = "watch: unknown key (interval, check_interval, webhook, "
					 "webhook_ca_file, insecure_http)",
			       STS_EINVALID;
	}
	if (seconds_of(json_object_get(o, "interval"), 60, 7 * 86400, &c.interval) < 0)
		return *reterr = "watch.interval: not a number of seconds in 60..604800",
		       STS_EINVALID;
	if (seconds_of(json_object_get(o, "check_interval"), 60, 30 * 86400, &c.check_interval) < 0)
		return *reterr = "watch.check_interval: not a number of seconds in 60..2592000",
		       STS_EINVALID;
	if ((v = json_object_get(o, "webhook"))) {
		const char *u = json_string_value(v);
		if (!u || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0))
			return *reterr = "watch.webhook: not an http:// or https:// URL",
			       STS_EINVALID;
		v = json_object_get(o, "insecure_http");
		if (v && !json_is_boolean(v))
			return *reterr = "watch.insecure_http: not true or false", STS_EINVALID;
		if (!json_is_true(v) && sts_http_url_cleartext_remote(u))
			return *reterr = "watch.webhook: plain http:// to a host that is not a "
					 "loopback address: use https://, or set "
					 "\"insecure_http\": true",
			       STS_EINVALID;
		c.webhook = u;
	}
	if ((v = json_object_get(o, "webhook_ca_file"))) {
		if (!json_is_string(v))
			return *reterr = "watch.webhook_ca_file: not a string", STS_EINVALID;
		c.webhook_ca_file = json_string_value(v);
	}
done:
	*ret = c;
	return STS_OK;
}

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
	o.inventory = NULL;
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
