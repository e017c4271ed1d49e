/* SPDX-License-Identifier: MIT */
/*
 * gcloud: Google Cloud DNS API v1 (README.md). A service account key file
 * (a secret setting) buys access tokens (gc_auth.c); the records are
 * Cloud DNS's resource record sets, written in one changes.create per
 * zone and apply (gc_rrset.c). The host does the rest: JSON requests with
 * retries, Retry-After and status mapping, the rate limiter, the breaker,
 * the TXT codec and secret scrubbing.
 *
 *   GET  /projects/P/managedZones?dnsName=&maxResults=&pageToken=
 *   GET  /projects/P/managedZones/Z/rrsets?name=&maxResults=&pageToken=
 *   POST /projects/P/managedZones/Z/changes  {"additions", "deletions"}
 */
#include <stdio.h>
#include <string.h>

#include "gc.h"

struct gc {
	struct plg_rest rest; /* base: url + "/projects/" + project, no trailing '/' */
	unsigned page_size;
	struct gc_auth auth;
	bool auth_set;
};

static const struct sts_plugin_setting *const gc_schema[] = {
    STS_SETTING(.key = "credentials", .type = STS_SETTING_SECRET, .required = true,
		.description =
		    "the service account's JSON key file, e.g. ${file:/etc/stsctl/gcp.json}"),
    STS_SETTING(.key = "project", .type = STS_SETTING_STRING,
		.pattern = "([a-z][-a-z0-9.]*:)?[a-z][-a-z0-9]{4,28}[a-z0-9]",
		.pattern_hint = "a Google Cloud project id",
		.description = "project of the managed zones; default: the key file's project_id"),
    PLG_SETTING_URL("https://dns.googleapis.com/dns/v1", "base URL of the Cloud DNS API"),
    STS_SETTING(.key = "token_url", .type = STS_SETTING_STRING,
		.def = "https://oauth2.googleapis.com/token", .pattern = "https?://[^?#[:space:]]+",
		.pattern_hint = "an http:// or https:// URL without query",
		.description = "OAuth 2.0 token endpoint; the key file's token_uri must equal it"),
    STS_SETTING(.key = "page_size", .type = STS_SETTING_INTEGER, .def = "500", .range = true,
		.min = 1, .max = 1000, .description = "maxResults of a listing"),
    PLG_SETTING_RATE_LIMIT("600/1m", "1s, 1m or 1h", "the API quota of the project, e.g. 600/1m"),
    PLG_SETTING_TIMEOUT,
    NULL,
};

static void gc_unload(struct sts_plugin *p)
{
	struct gc *c = sts_plugin_ctx_get(p);
	if (!c)
		return;
	if (c->auth_set)
		gc_auth_release(&c->auth);
	plg_rest_release(p, &c->rest);
	free(c);
	sts_plugin_ctx_set(p, NULL);
}

static int gc_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	struct gc *c = sts_plugin_ctx_new(p, sizeof(*c));
	if (!c)
		return STS_PLUGIN_ENOMEM;
	const char *url = json_string_value(json_object_get(settings, "url"));
	const char *project = json_string_value(json_object_get(settings, "project"));
	char *key_project = NULL;
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	c->page_size = plg_uint(settings, "page_size");
	c->rest.timeout_ms = (long)json_integer_value(json_object_get(settings, "timeout")) * 1000L;
	int r =
	    gc_auth_init(p, &c->auth, json_string_value(json_object_get(settings, "credentials")),
			 json_string_value(json_object_get(settings, "token_url")),
			 c->rest.timeout_ms, &key_project, call);
	c->auth_set = true;
	if (r == STS_PLUGIN_OK && !project && !(project = key_project)) {
		sts_plugin_error(call, "no 'project' setting and no project_id in the key file");
		r = STS_PLUGIN_EINVALID;
	}
	if (r == STS_PLUGIN_OK &&
	    asprintf(&c->rest.base, "%.*s/projects/%s", (int)n, url, project) < 0) {
		c->rest.base = NULL;
		r = STS_PLUGIN_ENOMEM;
	}
	if (r == STS_PLUGIN_OK)
		r = plg_rest_limits(p, &c->rest, settings, call);
	free(key_project);
	if (r < 0)
		gc_unload(p);
	return r;
}

int gc_request(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
	       bool idempotent, struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call)
{
	struct gc *c = sts_plugin_ctx_get(p);
	int r = STS_PLUGIN_OK;
	memset(resp, 0, sizeof(*resp)); /* releasable, attempts 0, when no request goes */
	resp->struct_size = sizeof(*resp);
	/* a token the API refuses (revoked, expired early) is replaced once */
	for (int attempt = 0; attempt < 2; attempt++) {
		char *auth = NULL;
		if ((r = gc_auth_header(p, &c->auth, &auth, call)) < 0)
			return r;
		struct sts_plugin_rest_req req = plg_rest_req(&c->rest, method, path, body);
		req.auth = auth;
		req.idempotent = idempotent;
		req.error_pointer = "/error/message";
		r = sts_plugin_rest(p, &req, resp, call);
		bool again = r == STS_PLUGIN_EAUTH && resp->status == 401 && attempt == 0;
		if (again) {
			gc_auth_drop(&c->auth, auth);
			sts_plugin_rest_release(p, resp);
		}
		plg_wipe_free(auth);
		if (!again)
			break;
	}
	return r;
}

/* The path of a listing's page: the answer before names the next one's
 * nextPageToken, none after the last (plg_list_pages). */
static int next_page(struct sts_plugin *p, const char *path, unsigned page, const json_t *prev,
		     char **ret)
{
	const struct gc *c = sts_plugin_ctx_get(p);
	(void)page;
	return plg_cursor_page(path, "maxResults", c->page_size, "pageToken", prev != NULL,
			       json_string_value(json_object_get(prev, "nextPageToken")), ret);
}

static int get_page(struct sts_plugin *p, const char *path, struct sts_plugin_rest_resp *resp,
		    struct sts_plugin_call *call)
{
	return gc_request(p, "GET", path, NULL, true, resp, call);
}

/* The API leaves out an empty list, and a page may be empty with a token. */
static const struct plg_pager pager = {.max_pages = GC_MAX_PAGES,
				       .next = next_page,
				       .get = get_page,
				       .past_empty = true,
				       .may_omit = true};

int gc_list(struct sts_plugin *p, const char *path, const char *key, json_t **ret,
	    struct sts_plugin_call *call)
{
	return plg_list_pages(p, &pager, path, key, ret, call);
}

/* The credentials buy a token and the project's zones can be listed. */
static int gc_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	struct sts_plugin_rest_resp resp;
	int r = gc_request(p, "GET", "/managedZones?maxResults=1", NULL, true, &resp, call);
	if (r == STS_PLUGIN_OK && !json_is_object(resp.json)) {
		sts_plugin_error(call, "the managed zones listing is not a JSON object");
		r = STS_PLUGIN_EPARSE;
	}
	sts_plugin_rest_release(p, &resp);
	return r;
}

static void gc_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	(void)p;
	ret->batch = true;	  /* one changes.create per zone: atomic */
	ret->max_concurrency = 4; /* the token cache is shared under a lock */
	ret->max_batch = 1000;	  /* additions (and deletions) per change */
	if (STS_PLUGIN_HAS(ret, struct sts_dns_caps, read_zone))
		ret->read_zone = true; /* one listing, paged (gc_read) */
}

PLG_DNS_API(gcloud, gc, "Google Cloud DNS (API v1, service account)",
	    STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_PAGING | STS_PLUGIN_CAP_CREDENTIALS |
		STS_PLUGIN_CAP_BATCH);
