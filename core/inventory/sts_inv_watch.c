/* SPDX-License-Identifier: MIT */
/* The inventory's "watch" section (sts_inv_watch.h, docs/stsctl-watch.md). */
#include <stdbool.h>
#include <string.h>

#include "sts_err.h"
#include "sts_http.h"
#include "sts_inv_rollout.h" /* sts_inv_json_keys_known */
#include "sts_inv_watch.h"

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
	static const char *const keys[] = {"interval",	      "check_interval", "webhook",
					   "webhook_ca_file", "insecure_http",	"cert_warn_days"};
	struct sts_watch_conf c = {.interval = STS_WATCH_DEFAULT_INTERVAL,
				   .check_interval = STS_WATCH_DEFAULT_CHECK_INTERVAL,
				   .cert_warn_days = STS_WATCH_DEFAULT_CERT_WARN_DAYS};
	json_t *v;

	if (!o)
		goto done;
	if (!json_is_object(o))
		return *reterr = "watch: not an object", STS_EINVALID;
	if (!sts_inv_json_keys_known(o, keys, sizeof(keys) / sizeof(keys[0])))
		return *reterr = "watch: unknown key (interval, check_interval, webhook, "
				 "webhook_ca_file, insecure_http, cert_warn_days)",
		       STS_EINVALID;
	if (seconds_of(json_object_get(o, "interval"), 60, 7 * 86400, &c.interval) < 0)
		return *reterr = "watch.interval: not a number of seconds in 60..604800",
		       STS_EINVALID;
	if (seconds_of(json_object_get(o, "check_interval"), 60, 30 * 86400, &c.check_interval) < 0)
		return *reterr = "watch.check_interval: not a number of seconds in 60..2592000",
		       STS_EINVALID;
	if (seconds_of(json_object_get(o, "cert_warn_days"), 1, 90, &c.cert_warn_days) < 0)
		return *reterr = "watch.cert_warn_days: not a number of days in 1..90",
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
