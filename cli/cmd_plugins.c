/* SPDX-License-Identifier: MIT */
/*
 * stsctl plugins: list every provider plugin in the search path (name,
 * kind, ABI, capabilities, path, settings) and every file that was
 * refused, with why; with --probe INVENTORY, check the credentials and
 * permissions of each provider instance of an inventory.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "sts_err.h"
#include "sts_plugin.h"

static const char *const plugins_usage[] = {
    "stsctl plugins [--json]",
    "stsctl plugins --probe INVENTORY [--json]",
    "",
    "List the provider plugins found in the search path: each directory of",
    "$STSCTL_PLUGIN_PATH (colon-separated), then the installed plugin",
    "directory (a stsctl run from its build tree searches the build tree's",
    "plugins first). For each: name, kind (dns or web), ABI version,",
    "capabilities, file, and the settings it takes in the inventory's",
    "'providers' section. Files that were refused are listed with the reason.",
    "",
    "With --probe, load each provider instance of INVENTORY and let its",
    "plugin check the credentials and permissions without changing",
    "anything: one line per instance, 'ok' or the provider's own error.",
    "",
    "    --probe INVENTORY  probe the providers of INVENTORY",
    "    --json             print the result as one JSON object on standard output",
    "    -h, --help         show this help",
    "",
    "Exit status: 0 every plugin file is usable (--probe: every probe passed",
    "or the plugin has none), 1 a file was refused (ABI version, name,",
    "permissions, not loadable; --probe: the inventory is invalid, or a",
    "provider failed to load or its probe failed), 2 usage error.",
    NULL,
};

static json_t *settings_json(const struct sts_plugin_setting *const *sp)
{
	json_t *a = json_array();
	for (; a && sp && *sp; sp++) {
		const struct sts_plugin_setting *s = *sp;
		json_t *o = json_pack("{s:s,s:s,s:b,s:s?,s:s?}", "key", s->key, "type",
				      sts_setting_type_name(s->type), "required", s->required,
				      "default", s->def, "description", s->description);
		if (o && s->range)
			json_object_set_new(
			    o, "range", json_pack("[II]", (json_int_t)s->min, (json_int_t)s->max));
		if (o && s->choices) {
			json_t *c = json_array();
			for (const char *const *e = s->choices; c && *e; e++)
				json_array_append_new(c, json_string(*e));
			json_object_set_new(o, "choices", c);
		}
		if (o && s->pattern)
			json_object_set_new(o, "pattern", json_string(s->pattern));
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *caps_json(uint32_t caps)
{
	json_t *a = json_array();
	for (unsigned bit = 0; a && bit < 32; bit++)
		if ((caps & (1u << bit)) && sts_plugin_cap_name(bit))
			json_array_append_new(a, json_string(sts_plugin_cap_name(bit)));
	return a;
}

static json_t *plugin_json(const struct sts_plugin_info *in)
{
	const struct sts_plugin_api *api = in->api;
	return json_pack(
	    "{s:s,s:s,s:I,s:s,s:s?,s:b,s:o*,s:o*,s:{s:b,s:b}}", "name", in->name, "kind",
	    sts_plugin_kind_name(api->kind), "abi", (json_int_t)api->abi_version, "path", in->path,
	    "description", api->description, "shadowed", in->shadowed, "capabilities",
	    caps_json(api->capabilities), "settings", settings_json(api->schema), "ops", "zones",
	    sts_plugin_api_has_zones(api), "probe", api->probe != NULL);
}

static int print_json(const char *const *path, size_t n_path, const struct sts_plugin_info *v,
		      size_t n)
{
	json_t *dirs = json_array(), *ok = json_array(), *bad = json_array();
	int failed = !dirs || !ok || !bad;
	for (size_t i = 0; !failed && i < n_path; i++)
		failed = json_array_append_new(dirs, json_string(path[i])) < 0;
	for (size_t i = 0; !failed && i < n; i++) {
		json_t *o =
		    v[i].api ? plugin_json(&v[i])
			     : json_pack("{s:s,s:s,s:s,s:s?}", "name", v[i].name, "path", v[i].path,
					 "error", sts_strerror(v[i].err), "reason", v[i].reason);
		failed = !o || json_array_append_new(v[i].api ? ok : bad, o) < 0;
	}
	if (failed) {
		json_decref(dirs);
		json_decref(ok);
		json_decref(bad);
		return cli_json_print(NULL);
	}
	return cli_json_print(
	    json_pack("{s:o,s:o,s:o}", "search_path", dirs, "plugins", ok, "refused", bad));
}

static void print_settings(const struct sts_plugin_setting *const *sp)
{
	if (!sp || !*sp) {
		printf("    (no settings)\n");
		return;
	}
	for (; *sp; sp++) {
		const struct sts_plugin_setting *s = *sp;
		printf("    %-12s %s", s->key, sts_setting_type_name(s->type));
		if (s->range)
			printf(" %lld..%lld", (long long)s->min, (long long)s->max);
		for (const char *const *e = s->choices; e && *e; e++)
			printf("%s%s", e == s->choices ? " one of " : "|", *e);
		if (s->required)
			printf(", required");
		else if (s->def)
			printf(", default \"%s\"", s->def);
		printf("\n");
		if (s->description)
			printf("        %s\n", s->description);
	}
}

static void print_text(const char *const *path, size_t n_path, const struct sts_plugin_info *v,
		       size_t n, size_t n_refused)
{
	size_t n_ok = 0;
	for (size_t i = 0; i < n; i++) {
		const struct sts_plugin_info *in = &v[i];
		if (!in->api)
			continue;
		if (n_ok++)
			printf("\n");
		printf("%s  %s  abi %u  %s%s\n", in->name, sts_plugin_kind_name(in->api->kind),
		       in->api->abi_version, in->path,
		       in->shadowed ? "  (shadowed by an earlier file of that name)" : "");
		if (in->api->description)
			printf("    %s\n", in->api->description);
		print_settings(in->api->schema);
	}
	if (n_refused) {
		printf("%srefused:\n", n_ok ? "\n" : "");
		for (size_t i = 0; i < n; i++)
			if (!v[i].api)
				printf("    %s: %s\n", v[i].path,
				       v[i].reason ? v[i].reason : sts_strerror(v[i].err));
	}
	if (n == 0) {
		sts_log_warn("no plugins found; searched:");
		for (size_t i = 0; i < n_path; i++)
			sts_log_warn("  %s", path[i]);
	}
}

/* ---- --probe ---- */

static void probe_log(void *ud, enum sts_plugin_log_level level, const char *prefix,
		      const char *msg)
{
	if (level == STS_PLOG_ERROR || level == STS_PLOG_WARNING)
		sts_log_warn("[%s] %s", prefix, msg);
	else
		sts_log_debug("[%s] %s", prefix, msg);
}

/* --probe: the inventory was loaded by the setup (cli_ctx.c), like every command's */
static int probe(const struct sts_inventory *inv, const char *path, bool json)
{
	int r;
	struct sts_plugin_host *h = NULL;
	if ((r = sts_plugin_host_new(&h)) < 0) {
		sts_log_errno(r, "cannot set up the plugins");
		return EXIT_INTERNAL;
	}
	sts_plugin_host_set_log(h, probe_log, NULL);
	if (inv->dir)
		sts_plugin_host_set_basedir(h, inv->dir);
	json_t *list = json ? json_array() : NULL;
	int rc = EXIT_OK;
	for (size_t i = 0; i < inv->n_providers; i++) {
		const struct sts_provider *prov = &inv->providers[i];
		char *text = NULL;
		const char *res = sts_plugin_probe_provider(h, inv, prov, &text);
		if (strcmp(res, "error") == 0)
			rc = EXIT_FAIL;
		if (list)
			json_array_append_new(list, json_pack("{s:s,s:s?,s:s,s:s?}", "name",
							      prov->name, "plugin", prov->plugin,
							      "result", res, "error", text));
		else if (strcmp(res, "ok") == 0)
			printf("%s: ok\n", prov->name);
		else if (strcmp(res, "unsupported") == 0)
			printf("%s: no probe (plugin '%s' cannot check itself)\n", prov->name,
			       prov->plugin ? prov->plugin : "?");
		else
			printf("%s: %s\n", prov->name, text ? text : "failed");
		free(text);
	}
	if (json &&
	    cli_json_print(json_pack("{s:s,s:o*}", "inventory", path, "providers", list)) < 0)
		rc = EXIT_USAGE;
	sts_plugin_host_free(h);
	return rc;
}

static const struct cli_opt plugins_opts[] = {
    CLI_JSON,
    {.name = "probe", .type = CLI_OPT_INVENTORY},
    CLI_END,
};

static int run(struct cli_ctx *ctx)
{
	bool json = ctx->json;
	if (ctx->inv)
		return probe(ctx->inv, ctx->inventory_path, json);

	struct sts_plugin_host *h = NULL;
	struct sts_plugin_info *v = NULL;
	size_t n = 0, n_path = 0, n_refused = 0;
	int r = sts_plugin_host_new(&h);
	if (r == STS_OK)
		r = sts_plugin_scan(h, &v, &n);
	if (r < 0) {
		sts_log_errno(r, "cannot list plugins");
		sts_plugin_host_free(h);
		return EXIT_INTERNAL;
	}
	const char *const *path = sts_plugin_host_path(h, &n_path);
	for (size_t i = 0; i < n; i++)
		n_refused += v[i].api == NULL;
	int rc = n_refused ? EXIT_FAIL : EXIT_OK;
	if (json) {
		if (print_json(path, n_path, v, n) < 0)
			rc = EXIT_USAGE;
	} else {
		print_text(path, n_path, v, n, n_refused);
	}
	/* the descriptors live in the modules: free the list before the host */
	sts_plugin_infos_free(v, n);
	sts_plugin_host_free(h);
	return rc;
}

CLI_COMMAND(plugins, .max_args = 0);
