/* SPDX-License-Identifier: MIT */
/*
 * cloudflare: DNS records through the Cloudflare API v4 (README.md).
 *
 *   GET  /zones?name=APEX                       the zone's id
 *   GET  /zones/ZID/dns_records[?name.exact=N]   records, paged (result_info)
 *   POST /zones/ZID/dns_records/batch           every change of an apply at once
 *   GET  /user/tokens/verify                    probe (or /accounts/ID/tokens/verify)
 *
 * Answers come in the envelope {"success", "errors": [{"code", "message"}],
 * "result", "result_info": {"page", "total_pages", ...}}. HTTP, retries,
 * Retry-After, the rate limit, the breaker and TXT quoting are the host's
 * (sts_plugin_rest, limiter, breaker, txt codec); this file maps the API.
 *
 * A batch is sent once per apply; when its outcome is unknown (a timeout,
 * a connection lost after sending, 500/502/504) the records are listed
 * again and the batch rebuilt from what is there, up to `retries` times:
 * if the first one was applied nothing is left to send, and a batch is
 * never sent blind twice. A batch of patches only (the same content and
 * TTL again) is safe to repeat: it is left to the host's retries instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf.h"

#define MAX_PAGES      1000 /* of one listing: a bound, not a provider limit */
#define ZONES_PER_PAGE 50   /* the API's maximum for /zones */
#define NAME_QUERIES   4    /* up to this many names: one filtered listing each */
#define BACKOFF_MS     500

static const struct sts_plugin_setting *const cf_schema[] = {
    PLG_SETTING_URL("https://api.cloudflare.com/client/v4", "base URL of the Cloudflare API v4"),
    PLG_SETTING_TOKEN("token", "API token with Zone.DNS:Edit (and Zone:Read to list zones)"),
    STS_SETTING(.key = "account_id", .type = STS_SETTING_STRING, .pattern = "[0-9a-f]{32}",
		.pattern_hint = "32 hexadecimal digits",
		.description = "for an account-owned token: its account (probe verifies there)"),
    PLG_SETTING_PAGE("per_page", "100", 5, 5000, "records per page of a listing"),
    PLG_SETTING_RATE_LIMIT("1200/5m", "1s, 5m or 1h",
			   "the API's request limit (Cloudflare: 1200 per 5 minutes)"),
    PLG_SETTING_TIMEOUT,
    STS_SETTING(.key = "retries", .type = STS_SETTING_INTEGER, .def = "2", .range = true, .min = 0,
		.max = 5,
		.description = "re-reads and re-sends of a batch whose outcome is unknown"),
    STS_SETTING(.key = "batch_limit", .type = STS_SETTING_INTEGER, .def = "200", .range = true,
		.min = 2, .max = 3500,
		.description = "operations per batch (the zone plan's: Free 200, others 3500)"),
    NULL,
};

/* ---- instance ---- */

static int cf_init(struct sts_plugin *p, void *ctx, const json_t *settings,
		   struct sts_plugin_call *call)
{
	struct cf *c = ctx;
	const char *account = json_string_value(json_object_get(settings, "account_id"));
	c->retries = plg_uint(settings, "retries");
	c->batch_limit = plg_uint(settings, "batch_limit");
	if (account && !(c->account_id = strdup(account)))
		return STS_PLUGIN_ENOMEM;
	return STS_PLUGIN_OK;
}

static void cf_fini(struct sts_plugin *p, void *ctx)
{
	free(((struct cf *)ctx)->account_id);
}

/* Which requests may be repeated is each caller's (cf_request). */
PLG_REST_PLUGIN(cf, .ctx_size = sizeof(struct cf), .init = cf_init, .fini = cf_fini,
		.conf = {
		    .token_key = "token",
		    .token_what = "the API token of 'token'",
		    .page_key = "per_page",
		    .token_flags = PLG_SECRET_TRIM_EOL, /* a token file ending in a newline */
		    .error_pointer = "/errors/0/message",
		});

/* ---- requests ---- */

/* What a Cloudflare error code says beyond the HTTP status, or 0. */
static int code_err(json_int_t code)
{
	switch (code) {
	case 1000:  /* Invalid API Token */
	case 6003:  /* Invalid request headers */
	case 6111:  /* Invalid format for Authorization header */
	case 9106:  /* Missing X-Auth-Key, X-Auth-Email or Authorization headers */
	case 9109:  /* Invalid access token */
	case 10000: /* Authentication error */
		return STS_PLUGIN_EAUTH;
	case 81053: /* An A, AAAA, or CNAME record with that host already exists */
	case 81054: /* A CNAME record with that host already exists */
		return STS_PLUGIN_ECONFLICT;
	case 81044: /* Record does not exist (a batch's delete or patch) */
		return STS_PLUGIN_ESTALE;
	case 971: /* Please wait and consider throttling your request speed */
		return STS_PLUGIN_EAGAIN;
	default:
		return 0;
	}
}

/*
 * The call's error from the envelope's first error (and the first of its
 * error_chain): "HTTP 400 from POST PATH: DNS Validation Error (code 1004):
 * ... (code 9021)". Left to the host's text (secrets scrubbed) when the
 * message would hold the token.
 */
static int envelope_error(const struct cf *c, int r, const char *method, const char *path,
			  const struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call)
{
	const json_t *e = json_array_get(json_object_get(resp->json, "errors"), 0);
	const char *msg = json_string_value(json_object_get(e, "message"));
	json_int_t code = json_integer_value(json_object_get(e, "code"));
	if (!msg)
		return r;
	const json_t *ch = json_array_get(json_object_get(e, "error_chain"), 0);
	const char *cmsg = json_string_value(json_object_get(ch, "message"));
	const char *tok = strchr(c->rest.auth, ' ') + 1; /* "Bearer <token>" */
	tok = strchr(tok, ' ') + 1;
	if (strstr(msg, tok) || (cmsg && strstr(cmsg, tok)))
		return code_err(code) ? code_err(code) : r;
	char extra[400] = "";
	if (cmsg)
		snprintf(extra, sizeof(extra), ": %s (code %lld)", cmsg,
			 (long long)json_integer_value(json_object_get(ch, "code")));
	sts_plugin_error(call, "HTTP %ld from %s %s: %s (code %lld)%s", resp->status, method, path,
			 msg, (long long)code, extra);
	return code_err(code) ? code_err(code) : r;
}

int cf_request(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
	       bool idempotent, struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call)
{
	const struct cf *c = sts_plugin_ctx_get(p);
	struct sts_plugin_rest_req req = plg_rest_req(&c->rest, method, path, body);
	req.idempotent = idempotent;
	int r = sts_plugin_rest(p, &req, resp, call);
	if (r < 0 && resp->status >= 400)
		r = envelope_error(c, r, method, path, resp, call);
	else if (r == STS_PLUGIN_OK && !json_is_true(json_object_get(resp->json, "success"))) {
		sts_plugin_error(call, "HTTP %ld from %s %s without \"success\": true",
				 resp->status, method, path);
		r = STS_PLUGIN_EPROVIDER;
	}
	return r;
}

/*
 * Every page of the listing at path (which holds a query already): the
 * items of each answer's "result", in order, in *ret (a new array). The
 * pages end at result_info.total_pages, or at an empty page.
 */
static int list_all(struct sts_plugin *p, const char *path, unsigned per_page, json_t **ret,
		    struct sts_plugin_call *call)
{
	json_t *all = json_array();
	int r = all ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	for (unsigned page = 1; r == STS_PLUGIN_OK; page++) {
		char *url = NULL;
		if (page > MAX_PAGES) {
			sts_plugin_error(call, "more than %d pages of %s", MAX_PAGES, path);
			r = STS_PLUGIN_ETOOLARGE;
			break;
		}
		if (asprintf(&url, "%s&page=%u&per_page=%u", path, page, per_page) < 0) {
			r = STS_PLUGIN_ENOMEM;
			break;
		}
		struct sts_plugin_rest_resp resp;
		r = cf_request(p, "GET", url, NULL, true, &resp, call);
		json_t *items = r < 0 ? NULL : json_object_get(resp.json, "result");
		json_t *info = json_object_get(resp.json, "result_info");
		json_int_t total = json_integer_value(json_object_get(info, "total_pages"));
		if (r == STS_PLUGIN_OK && !json_is_array(items)) {
			sts_plugin_error(call, "an answer to GET %s without a result list", url);
			r = STS_PLUGIN_EPARSE;
		}
		if (r == STS_PLUGIN_OK && json_array_extend(all, items) < 0)
			r = STS_PLUGIN_ENOMEM;
		size_t got = json_array_size(items);
		sts_plugin_rest_release(p, &resp);
		free(url);
		if (got == 0 || (json_int_t)page >= total)
			break;
	}
	if (r < 0)
		json_decref(all);
	else
		*ret = all;
	return r;
}

/* The API's id of zone (apex, no trailing dot): ENOENT when not listed. */
static int zone_id(struct sts_plugin *p, const char *zone, char **ret, struct sts_plugin_call *call)
{
	char *name = NULL, *path = NULL;
	json_t *zones = NULL;
	int r = plg_norm(p, zone, STS_NAME_NODOT, &name);
	if (r == STS_PLUGIN_OK && asprintf(&path, "/zones?name=%s", name) < 0) {
		path = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK)
		r = list_all(p, path, ZONES_PER_PAGE, &zones, call);
	const char *id = json_string_value(json_object_get(json_array_get(zones, 0), "id"));
	if (r == STS_PLUGIN_OK && !id) {
		sts_plugin_error(call,
				 "zone '%s' is not in this Cloudflare account (or not "
				 "readable with this token)",
				 name);
		r = STS_PLUGIN_ENOENT;
	}
	if (r == STS_PLUGIN_OK && !(*ret = strdup(id)))
		r = STS_PLUGIN_ENOMEM;
	json_decref(zones);
	free(path);
	free(name);
	return r;
}

/*
 * Every record at the n names (absolute) of zone zid, all types: one
 * filtered listing per name when there are few, else the zone's listing.
 */
static int records_at(struct sts_plugin *p, const char *zid, const char *const *names, size_t n,
		      json_t **ret, struct sts_plugin_call *call)
{
	const struct cf *c = sts_plugin_ctx_get(p);
	json_t *all = json_array();
	int r = all ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < (n <= NAME_QUERIES ? n : 1); i++) {
		char *name = NULL, *path = NULL;
		json_t *recs = NULL;
		if (n <= NAME_QUERIES)
			r = plg_norm(p, names[i], STS_NAME_NODOT, &name);
		if (r == STS_PLUGIN_OK &&
		    asprintf(&path, "/zones/%s/dns_records?%s%s", zid, name ? "name.exact=" : "",
			     name ? name : "match=all") < 0) {
			path = NULL;
			r = STS_PLUGIN_ENOMEM;
		}
		if (r == STS_PLUGIN_OK)
			r = list_all(p, path, c->rest.page_size, &recs, call);
		if (r == STS_PLUGIN_OK && json_array_extend(all, recs) < 0)
			r = STS_PLUGIN_ENOMEM;
		json_decref(recs);
		free(path);
		free(name);
	}
	if (r < 0)
		json_decref(all);
	else
		*ret = all;
	return r;
}

/* ---- read ---- */

/* The absolute owner name of rec in *ret (free()), NULL when not one of names. */
static int owner_of(struct sts_plugin *p, const json_t *rec, const char *const *names, size_t n,
		    char **ret)
{
	const char *name = json_string_value(json_object_get(rec, "name"));
	*ret = NULL;
	if (!name || !json_is_string(json_object_get(rec, "type")))
		return STS_PLUGIN_EPARSE;
	char *abs = NULL;
	int r = plg_norm(p, name, STS_NAME_DOT, &abs);
	if (r == STS_PLUGIN_EINVAL)
		return STS_PLUGIN_OK; /* a name we cannot ask for ("*.example.com") */
	if (r < 0)
		return r;
	for (size_t k = 0; k < n; k++)
		if (strcasecmp(names[k], abs) == 0) {
			*ret = abs;
			return STS_PLUGIN_OK;
		}
	free(abs);
	return STS_PLUGIN_OK;
}

static int cf_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		   struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	char *zid = NULL;
	json_t *recs = NULL;
	int r = zone_id(p, zone, &zid, call);
	if (r == STS_PLUGIN_OK)
		r = records_at(p, zid, names, n, &recs, call);
	size_t i;
	json_t *rec;
	json_array_foreach(recs, i, rec)
	{
		char *owner = NULL, *v = NULL;
		size_t len = 0;
		if (r < 0)
			break;
		r = owner_of(p, rec, names, n, &owner);
		if (r == STS_PLUGIN_EPARSE)
			sts_plugin_error(call, "a record without a name or type");
		if (r < 0 || !owner)
			continue;
		const char *type = json_string_value(json_object_get(rec, "type"));
		json_int_t ttl = json_integer_value(json_object_get(rec, "ttl"));
		r = cf_record_value(p, rec, &v, &len, call);
		if (r == STS_PLUGIN_OK) /* TTL 1 is Cloudflare's "automatic": 300 seconds */
			r = plg_rrset_put(p, ret, owner, type, ttl == 1 ? 300 : (uint32_t)ttl, v,
					  len);
		free(v);
		free(owner);
	}
	json_decref(recs);
	free(zid);
	return r;
}

/* ---- apply ---- */

/* Did a batch fail without telling whether Cloudflare applied it? */
static bool outcome_unknown(int r, const struct sts_plugin_rest_resp *resp)
{
	if (r == STS_PLUGIN_ETIMEOUT || (r == STS_PLUGIN_ENET && resp->attempts > 0))
		return true;
	return resp->status == 500 || resp->status == 502 || resp->status == 504;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* List the changes' names, build the batch from what is there, send it. */
static int send_batch(struct sts_plugin *p, const char *zid, const char *path,
		      const struct sts_rrset_change *const *changes, size_t n, bool *ret_unknown,
		      struct sts_plugin_call *call)
{
	const struct cf *c = sts_plugin_ctx_get(p);
	const char **names = calloc(n + 1, sizeof(*names));
	json_t *have = NULL, *body = NULL;
	size_t ops = 0;
	bool repeatable = false;
	int r = names ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
	for (size_t i = 0; r == STS_PLUGIN_OK && i < n; i++)
		names[i] = changes[i]->rrset->name;
	if (r == STS_PLUGIN_OK)
		r = records_at(p, zid, names, n, &have, call);
	if (r == STS_PLUGIN_OK)
		r = cf_batch_build(p, have, changes, n, &body, &ops, &repeatable, call);
	if (r == STS_PLUGIN_OK && ops > c->batch_limit) {
		sts_plugin_error(call, "%zu operations in one batch, over 'batch_limit' (%u)", ops,
				 c->batch_limit);
		r = STS_PLUGIN_EINVAL;
	}
	if (r == STS_PLUGIN_OK && ops > 0) {
		struct sts_plugin_rest_resp resp;
		r = cf_request(p, "POST", path, body, repeatable, &resp, call);
		/* a repeatable batch had the host's retries already */
		*ret_unknown = r < 0 && !repeatable && outcome_unknown(r, &resp);
		sts_plugin_rest_release(p, &resp);
		sts_plugin_log(p, STS_PLOG_DEBUG, "zone %s: %zu operations in one batch: %s", zid,
			       ops, r < 0 ? "failed" : "applied");
	}
	json_decref(body);
	json_decref(have);
	free(names);
	return r;
}

static int cf_apply(struct sts_plugin *p, const char *zone,
		    const struct sts_rrset_change *const *changes, size_t n,
		    struct sts_plugin_call *call)
{
	const struct cf *c = sts_plugin_ctx_get(p);
	char *zid = NULL, *path = NULL;
	if (n == 0)
		return STS_PLUGIN_OK;
	int r = zone_id(p, zone, &zid, call);
	if (r == STS_PLUGIN_OK && asprintf(&path, "/zones/%s/dns_records/batch", zid) < 0) {
		path = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	long backoff = BACKOFF_MS;
	for (unsigned sent = 0; r == STS_PLUGIN_OK; sent++) {
		bool unknown = false;
		r = send_batch(p, zid, path, changes, n, &unknown, call);
		if (r == STS_PLUGIN_OK || !unknown || sent >= c->retries)
			break;
		sts_plugin_log(p, STS_PLOG_DEBUG,
			       "zone '%s': the batch's outcome is unknown: "
			       "reading the records again",
			       zone);
		sleep_ms(backoff);
		backoff *= 2;
		r = STS_PLUGIN_OK;
	}
	free(path);
	free(zid);
	return r;
}

/* ---- zones, probe, caps ---- */

static int cf_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	json_t *zones = NULL;
	int r = list_all(p, "/zones?match=all", ZONES_PER_PAGE, &zones, call);
	return plg_zones_add(p, r, zones, "name", ret);
}

/* The token can read zones and is active (tokens/verify); nothing changes. */
static int cf_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	const struct cf *c = sts_plugin_ctx_get(p);
	struct sts_plugin_rest_resp resp;
	int r = cf_request(p, "GET", "/zones?per_page=5", NULL, true, &resp, call);
	sts_plugin_rest_release(p, &resp);
	if (r < 0)
		return r;
	char *verify = NULL;
	if (c->account_id ? asprintf(&verify, "/accounts/%s/tokens/verify", c->account_id) < 0
			  : !(verify = strdup("/user/tokens/verify")))
		return STS_PLUGIN_ENOMEM;
	r = cf_request(p, "GET", verify, NULL, true, &resp, call);
	const char *status =
	    json_string_value(json_object_get(json_object_get(resp.json, "result"), "status"));
	if (r == STS_PLUGIN_OK && (!status || strcmp(status, "active") != 0)) {
		sts_plugin_error(call, "the API token is %s, not active",
				 status ? status : "of unknown status");
		r = STS_PLUGIN_EAUTH;
	}
	sts_plugin_rest_release(p, &resp);
	free(verify);
	return r;
}

static void cf_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	const struct cf *c = sts_plugin_ctx_get(p);
	ret->batch = true;
	ret->max_concurrency = 1;
	/* a change is one operation per value: leave room for two each */
	ret->max_batch = c ? c->batch_limit / 2 : 100;
}

PLG_DNS_API(cloudflare, cf, "Cloudflare DNS (API v4, API token)",
	    STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_PAGING | STS_PLUGIN_CAP_CREDENTIALS |
		STS_PLUGIN_CAP_BATCH);
