/* SPDX-License-Identifier: MIT */
/*
 * Test-only plugins, one source compiled once per variant (meson.build).
 * FAKEDNS is a working in-memory dns plugin that exercises every host
 * service; the BROKEN_* variants each break one loader rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stsctl/plugin.h>

#ifdef FAKEDNS

#define FAKE_MAX 64

struct fake_rr {
	char *name, *type, *value;
	uint32_t ttl;
};

struct fake {
	struct fake_rr rr[FAKE_MAX];
	size_t n;
	char *url;
	long long count;
	json_t *zones;
	char *probe_error;
};

static const struct sts_plugin_setting *const fake_schema[] = {
    STS_SETTING(.key = "zone", .type = STS_SETTING_STRING, .required = true,
		.description = "zone served"),
    STS_SETTING(.key = "count", .type = STS_SETTING_INTEGER, .def = "3", .description = "a number"),
    STS_SETTING(.key = "flag", .type = STS_SETTING_BOOL, .def = "false", .description = "a switch"),
    STS_SETTING(.key = "dir", .type = STS_SETTING_PATH, .description = "a directory"),
    STS_SETTING(.key = "token", .type = STS_SETTING_SECRET, .description = "an API token"),
    STS_SETTING(.key = "tags", .type = STS_SETTING_STRING_LIST, .def = "[\"a\"]",
		.description = "a list", .pattern = "[a-z]+", .pattern_hint = "lower-case letters"),
    STS_SETTING(.key = "extra", .type = STS_SETTING_OBJECT, .description = "an object"),
    STS_SETTING(.key = "url", .type = STS_SETTING_STRING, .description = "fetched by read()"),
    STS_SETTING(.key = "fail_load", .type = STS_SETTING_BOOL, .def = "false",
		.description = "make load() fail"),
    STS_SETTING(.key = "port", .type = STS_SETTING_INTEGER, .def = "53",
		.description = "a port (range)", .range = true, .min = 1, .max = 65535),
    STS_SETTING(.key = "mode", .type = STS_SETTING_STRING, .def = "fast", .description = "an enum",
		.choices = (const char *const[]){"fast", "slow", NULL}),
    STS_SETTING(.key = "code", .type = STS_SETTING_STRING, .description = "a pattern without hint",
		.pattern = "[A-Z]{2}[0-9]+"),
    STS_SETTING(.key = "zones", .type = STS_SETTING_STRING_LIST,
		.description = "what zones() lists"),
    STS_SETTING(.key = "probe_error", .type = STS_SETTING_STRING,
		.description = "probe() fails with this text"),
    NULL,
};

static int fake_check(const json_t *settings, struct sts_plugin_check *args)
{
	json_int_t c = json_integer_value(json_object_get(settings, "count"));
	if (c < 0) {
		args->key = "count";
		args->err_str = "count must not be negative";
		return STS_PLUGIN_EINVALID;
	}
	return STS_PLUGIN_OK;
}

static void fake_free(struct fake *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->rr[i].name);
		free(f->rr[i].type);
		free(f->rr[i].value);
	}
	free(f->url);
	free(f->probe_error);
	json_decref(f->zones);
	free(f);
}

static int fake_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	if (json_is_true(json_object_get(settings, "fail_load"))) {
		sts_plugin_error(call, "told to fail");
		return STS_PLUGIN_EPROVIDER;
	}
	const char *token = json_string_value(json_object_get(settings, "token"));
	if (token) {
		struct sts_secret *s = NULL;
		int r = sts_plugin_secret(p, token, &s, call);
		if (r < 0)
			return r;
		sts_plugin_log(p, STS_PLOG_INFO, "token of %zu bytes", sts_plugin_secret_len(p, s));
		sts_plugin_secret_free(p, s);
	}
	struct fake *f = calloc(1, sizeof(*f));
	if (!f)
		return STS_PLUGIN_ENOMEM;
	const char *url = json_string_value(json_object_get(settings, "url"));
	f->url = url ? strdup(url) : NULL;
	f->count = json_integer_value(json_object_get(settings, "count"));
	f->zones = json_incref(json_object_get(settings, "zones"));
	const char *pe = json_string_value(json_object_get(settings, "probe_error"));
	f->probe_error = pe ? strdup(pe) : NULL;
	sts_plugin_ctx_set(p, f);
	sts_plugin_log(p, STS_PLOG_INFO, "loaded for '%s' count %lld dir '%s'",
		       sts_plugin_instance(p), f->count,
		       json_string_value(json_object_get(settings, "dir"))
			   ? json_string_value(json_object_get(settings, "dir"))
			   : "-");
	return STS_PLUGIN_OK;
}

static void fake_unload(struct sts_plugin *p)
{
	fake_free(sts_plugin_ctx_get(p));
}

static int fake_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		     struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	struct fake *f = sts_plugin_ctx_get(p);
	for (size_t i = 0; i < n; i++) {
		struct sts_rrset *cur = NULL;
		for (size_t j = 0; j < f->n; j++) {
			if (strcmp(f->rr[j].name, names[i]) != 0)
				continue;
			if (!cur || strcmp(cur->type, f->rr[j].type) != 0)
				cur = sts_plugin_rrset_add(p, ret, f->rr[j].name, f->rr[j].type,
							   f->rr[j].ttl);
			if (!cur || sts_plugin_rrset_add_value(p, cur, f->rr[j].value,
							       strlen(f->rr[j].value)) < 0)
				return STS_PLUGIN_ENOMEM;
		}
	}
	if (f->url) {
		struct sts_plugin_http_req req = {.struct_size = sizeof(req), .url = f->url};
		struct sts_plugin_http_resp resp;
		int r = sts_plugin_http(p, &req, &resp, call);
		if (r == STS_PLUGIN_OK && resp.status == 200) {
			char name[300];
			snprintf(name, sizeof(name), "http.%s.", zone);
			struct sts_rrset *rr = sts_plugin_rrset_add(p, ret, name, "TXT", 60);
			if (!rr || sts_plugin_rrset_add_value(p, rr, resp.body, resp.body_len) < 0)
				r = STS_PLUGIN_ENOMEM;
		} else if (r == STS_PLUGIN_OK) {
			sts_plugin_error(call, "http status %ld", resp.status);
			r = STS_PLUGIN_EPROVIDER;
		}
		sts_plugin_http_release(p, &resp);
		return r;
	}
	return STS_PLUGIN_OK;
}

static void drop(struct fake *f, const char *name, const char *type)
{
	size_t k = 0;
	for (size_t j = 0; j < f->n; j++) {
		if (strcmp(f->rr[j].name, name) == 0 && strcmp(f->rr[j].type, type) == 0) {
			free(f->rr[j].name);
			free(f->rr[j].type);
			free(f->rr[j].value);
			continue;
		}
		f->rr[k++] = f->rr[j];
	}
	f->n = k;
}

static int fake_apply(struct sts_plugin *p, const char *zone,
		      const struct sts_rrset_change *const *changes, size_t n,
		      struct sts_plugin_call *call)
{
	struct fake *f = sts_plugin_ctx_get(p);
	for (size_t i = 0; i < n; i++) {
		const struct sts_rrset *rr = changes[i]->rrset;
		drop(f, rr->name, rr->type);
		if (changes[i]->action == STS_CHANGE_DELETE)
			continue;
		for (size_t v = 0; v < rr->n_values; v++) {
			if (f->n == FAKE_MAX) {
				sts_plugin_error(call, "zone '%s' is full", zone);
				return STS_PLUGIN_ENOSPC;
			}
			f->rr[f->n].name = strdup(rr->name);
			f->rr[f->n].type = strdup(rr->type);
			f->rr[f->n].value = strdup(rr->values[v]);
			f->rr[f->n].ttl = rr->ttl;
			f->n++;
		}
	}
	return STS_PLUGIN_OK;
}

static void fake_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	ret->batch = true;
	ret->max_concurrency = 2;
	ret->rate_per_sec = 5;
}

static int fake_zones(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call)
{
	struct fake *f = sts_plugin_ctx_get(p);
	size_t i;
	json_t *z;
	json_array_foreach(f->zones, i, z)
	{
		int r = sts_plugin_zone_add(p, ret, json_string_value(z));
		if (r < 0)
			return r;
	}
	return STS_PLUGIN_OK;
}

static int fake_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	struct fake *f = sts_plugin_ctx_get(p);
	if (!f->probe_error)
		return STS_PLUGIN_OK;
	sts_plugin_error(call, "%s", f->probe_error);
	return STS_PLUGIN_EAUTH;
}

STS_PLUGIN_DNS_OPS(fake_ops, fake_read, fake_apply, fake_caps, fake_zones);

STS_PLUGIN_API(fakedns, STS_PLUGIN_DNS, .description = "in-memory dns for tests",
	       .capabilities = STS_PLUGIN_CAP_HTTP | STS_PLUGIN_CAP_BATCH, .schema = fake_schema,
	       .check = fake_check, .load = fake_load, .unload = fake_unload, .probe = fake_probe,
	       .dns = &fake_ops);

#else /* the broken variants */

static int broken_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	return STS_PLUGIN_OK;
}

static int broken_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		       struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	return STS_PLUGIN_OK;
}

static int broken_apply(struct sts_plugin *p, const char *zone,
			const struct sts_rrset_change *const *changes, size_t n,
			struct sts_plugin_call *call)
{
	return STS_PLUGIN_OK;
}

static const struct sts_dns_ops broken_ops __attribute__((unused)) = {
    .struct_size = sizeof(struct sts_dns_ops),
    .read = broken_read,
    .apply = broken_apply,
};

#ifdef BROKEN_NOSYM
/* exported, but not under the name the host looks for */
STS_PLUGIN_EXPORT const struct sts_plugin_api sts_plugin_apii = {
#else
STS_PLUGIN_EXPORT const struct sts_plugin_api sts_plugin_api = {
#endif
#ifdef BROKEN_ABI
    .abi_version = STS_PLUGIN_ABI_VERSION + 1, /* a future ABI */
#else
    .abi_version = STS_PLUGIN_ABI_VERSION,
#endif
#ifdef BROKEN_SMALL
    .struct_size = 8,
#else
    .struct_size = sizeof(struct sts_plugin_api),
#endif
#ifdef BROKEN_NAME
    .name = "other",
#else
    .name = TESTING_NAME,
#endif
    .kind = STS_PLUGIN_DNS,
    .load = broken_load,
#ifdef BROKEN_PATTERN
    .schema =
	(const struct sts_plugin_setting *const[]){
	    STS_SETTING(.key = "x", .type = STS_SETTING_STRING, .pattern = "(unclosed"), NULL},
#endif
#ifndef BROKEN_NOOPS
    .dns = &broken_ops,
#endif
};

#endif
