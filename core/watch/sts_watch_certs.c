/* SPDX-License-Identifier: MIT */
/*
 * The hosted certificates the watcher posts (sts_watch_run.h): failures
 * and certificates close to expiry, once per change of their condition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_diag_json.h"
#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_watch_run.h"

/* "failing", "expiring", "expired", comma-joined; NULL when healthy. */
static const char *condition(const struct sts_hosted_alert *a, int64_t now, int64_t warn_days)
{
	static const char *const names[] = {NULL,      "expiring",	   "expired",
					    "failing", "failing,expiring", "failing,expired"};
	int expiry = !a->has_cert || !a->not_after	       ? 0
		     : a->not_after <= now		       ? 2
		     : a->not_after - now <= warn_days * 86400 ? 1
							       : 0;
	return names[(a->last_error ? 3 : 0) + expiry];
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static json_t *event(const struct sts_hosted_alert *a, const char *cond)
{
	char t[32];
	json_t *na = json_null();
	if (a->has_cert && a->not_after) {
		sts_time_rfc3339(a->not_after, t);
		na = json_string(t);
	}
	return json_pack("{s:s,s:s,s:o,s:s,s:o,s:o,s:I}", "type", "hosted.certificate", "host",
			 a->host, "domain",
			 a->domain ? sts_json_string_lossy(a->domain) : json_null(), "condition",
			 cond, "not_after", na, "last_error",
			 a->last_error ? sts_json_string_lossy(a->last_error) : json_null(),
			 "failures", (json_int_t)a->failures);
}

int sts_watch_cert_events(struct sts_db *db, int64_t now, int64_t warn_days, json_t **ret)
{
	struct sts_hosted_alert *v = NULL;
	size_t n = 0;
	int ver = 0, r;

	*ret = NULL;
	if ((r = sts_db_schema_version(db, STS_HOSTED_COMPONENT, &ver)) < 0 || ver == 0)
		return r; /* no hosted service in this state */
	if ((ver < STS_HOSTED_SCHEMA_VERSION && (r = sts_hosted_schema(db)) < 0) ||
	    (r = sts_hosted_alerts(db, &v, &n)) < 0)
		return r;
	json_t *events = json_array();
	r = events ? STS_OK : STS_ENOMEM;
	for (size_t i = 0; i < n && r == STS_OK; i++) {
		const char *cond = condition(&v[i], now, warn_days > 0 ? warn_days : 14);
		if (same(cond, v[i].alerted))
			continue;
		if (!cond) /* healthy again: forgotten, so that the next failure is posted */
			r = sts_hosted_alert_set(db, v[i].host, NULL);
		else if (json_array_append_new(events, event(&v[i], cond)) < 0)
			r = STS_ENOMEM;
	}
	sts_hosted_alerts_free(v, n);
	if (r == STS_OK && json_array_size(events)) {
		char t[32];
		sts_time_rfc3339(now, t);
		if (!(*ret = json_pack("{s:s,s:s,s:O}", "source", "stsctl watch", "time", t,
				       "events", events)))
			r = STS_ENOMEM;
	}
	json_decref(events);
	return r;
}

int sts_watch_cert_posted(struct sts_db *db, const json_t *doc)
{
	const json_t *e;
	size_t i;
	int r = STS_OK;
	json_array_foreach(json_object_get(doc, "events"), i, e)
	{
		if (r == STS_OK)
			r = sts_hosted_alert_set(
			    db, json_string_value(json_object_get(e, "host")),
			    json_string_value(json_object_get(e, "condition")));
	}
	return r;
}
