/* SPDX-License-Identifier: MIT */
#ifndef STS_PLUGIN_H
#define STS_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <stsctl/plugin.h>

#include "sts_api.h"
#include "sts_diag.h"
#include "sts_http.h"
#include "sts_inventory.h"
#include "sts_rrset.h"

/*
 * Host side of the plugin ABI (<stsctl/plugin.h>, include/stsctl/plugin.h):
 * finding and loading plugin files, validating provider settings, opening
 * one handle per provider instance, and calling the operations.
 *
 * Search order for <name>.so: each directory of $STSCTL_PLUGIN_PATH
 * (colon-separated), then STS_PLUGIN_DIR (the installed libdir/stsctl/
 * plugins-2). Only a binary run from the build tree (/proc/self/exe is the
 * build tree's cli/stsctl, STS_BUILD_STSCTL) searches the build tree's
 * plugin directory first (STS_BUILD_PLUGIN_DIR): an installed stsctl never
 * does. The first file found wins. A file is refused, with a clear reason,
 * when it or its directory is writable by others (world-writable; or
 * group-writable and owned by neither root nor the current user), when it
 * lacks the sts_plugin_api symbol, when abi_version differs (the message
 * names both versions), when struct_size is too small, when the
 * descriptor's name differs from the file name, or when its schema is
 * malformed (a pattern that does not compile, min > max).
 *
 * Errors are per call: every operation takes char **reterr and, on
 * failure, hands over the plugin's text (malloc'd, or NULL). core/ never
 * prints: plugin log lines go to the sink set with sts_plugin_host_set_log()
 * (dropped when none is set).
 */

struct sts_plugin_host;

/* Log sink: prefix is "dns:zonefile" (kind:name); msg has no newline. */
typedef void (*sts_plugin_log_fn)(void *userdata, enum sts_plugin_log_level level,
				  const char *prefix, const char *msg);

STS_API int sts_plugin_host_new(struct sts_plugin_host **ret);
/* Unloads every module; close every handle opened from h first. NULL is fine. */
STS_API void sts_plugin_host_free(struct sts_plugin_host *h);

STS_API void sts_plugin_host_set_log(struct sts_plugin_host *h, sts_plugin_log_fn fn,
				     void *userdata);
/* Replace the search path with dirs (copied); NULL/0 restores the default. */
STS_API int sts_plugin_host_set_path(struct sts_plugin_host *h, const char *const *dirs, size_t n);
/* The effective search path, in order (valid until the next set_path). */
STS_API const char *const *sts_plugin_host_path(const struct sts_plugin_host *h, size_t *ret_n);
/* Options for the HTTP client of every handle opened afterwards (copied). */
STS_API int sts_plugin_host_set_http(struct sts_plugin_host *h, const struct sts_http_opts *o);
/* Directory relative paths in settings are resolved against (copied). */
STS_API int sts_plugin_host_set_basedir(struct sts_plugin_host *h, const char *dir);

/* ---- discovery (stsctl plugins) ---- */

struct sts_plugin_info {
	char *name; /* from the file name */
	char *path;
	int err;      /* STS_OK, or why the file was refused */
	char *reason; /* NULL when usable; else "plugin ABI 1, this stsctl needs ABI 2; ...", ... */
	bool shadowed; /* a file of the same name earlier in the path wins */
	/* valid only when err == STS_OK (point into the loaded module): */
	const struct sts_plugin_api *api;
};

/*
 * Every *.so in every search directory, in search order. Usable modules
 * stay loaded until the host is freed. Free the list with
 * sts_plugin_infos_free(). Only STS_ENOMEM is an error.
 */
STS_API int sts_plugin_scan(struct sts_plugin_host *h, struct sts_plugin_info **ret, size_t *ret_n);
STS_API void sts_plugin_infos_free(struct sts_plugin_info *v, size_t n);

/*
 * Find and load the plugin module called name (cached). Errors:
 * STS_EPLUGIN (not found, not loadable, refused: permissions),
 * STS_EABI (version, size or name mismatch), each with a diag.
 */
STS_API int sts_plugin_find(struct sts_plugin_host *h, const char *name,
			    const struct sts_plugin_api **ret, struct sts_diags *diags);
/* Load one file directly (no search); same checks, reported the same way. */
STS_API int sts_plugin_load_file(struct sts_plugin_host *h, const char *path,
				 const struct sts_plugin_api **ret, struct sts_diags *diags);

/* The search path a new host starts with (the rules above); free each and v. */
STS_API int sts_plugin_default_path(char ***ret, size_t *ret_n);

/* Text for a setting type: "string", "integer", "bool", "path", "secret", ... */
STS_API const char *sts_setting_type_name(enum sts_setting_type t);
STS_API const char *sts_plugin_kind_name(enum sts_plugin_kind k); /* "dns", "web" */
/* The name of capability bit i ("http", "paging", "credentials", "batch"), or NULL. */
STS_API const char *sts_plugin_cap_name(unsigned bit);

/*
 * Validate a provider section against api's schema and check(): unknown
 * keys, missing required keys, wrong types, integers out of range, strings
 * outside the choices or not matching the pattern, secrets in clear text. Every
 * problem is one error diag with path "providers.NAME.key" (and the
 * file/line/col of the provider when known through prov_line/col).
 * On success *ret is a new object: defaults filled in, PATH values made
 * absolute against basedir ("{...}" templates kept), without "plugin".
 * Returns STS_OK or STS_EINVALID (diags) or STS_ENOMEM.
 */
STS_API int sts_plugin_validate(const struct sts_plugin_api *api, const char *instance,
				const json_t *settings, const char *basedir, json_t **ret,
				struct sts_diags *diags);

/* The same, with the file and position of the provider for the diags. */
STS_API int sts_plugin_validate_at(const struct sts_plugin_api *api, const char *instance,
				   const json_t *settings, const char *basedir, const char *file,
				   unsigned line, unsigned col, json_t **ret,
				   struct sts_diags *diags);

/* The same for an inventory provider: each diag at the position of the
 * setting's value (prov->keys), else of the provider. */
STS_API int sts_plugin_validate_provider(const struct sts_plugin_api *api,
					 const struct sts_inventory *inv,
					 const struct sts_provider *prov, const char *basedir,
					 json_t **ret, struct sts_diags *diags);

/*
 * validate (docs/stsctl-validate.md): every provider of inv against the
 * plugins h finds. A plugin that is not there is an error at the value of
 * providers.NAME.plugin (with "did you mean" among the usable plugins);
 * the settings go through sts_plugin_validate_provider (positions of the
 * settings). With secrets, every secret setting's reference is resolved
 * and one that does not is an error naming the variable or file (never the
 * value). Returns STS_OK (diags may hold errors) or STS_ENOMEM.
 */
STS_API int sts_plugin_check_inventory(struct sts_plugin_host *h, const struct sts_inventory *inv,
				       bool secrets, struct sts_diags *diags);

/*
 * Open one provider of inv and run its probe: "ok", "unsupported" (no
 * probe op) or "error", with *ret_text (malloc'd, NULL for ok) saying why.
 */
STS_API const char *sts_plugin_probe_provider(struct sts_plugin_host *h,
					      const struct sts_inventory *inv,
					      const struct sts_provider *prov, char **ret_text);

/*
 * Open each provider of inv and run its probe, all at once, giving up on
 * those not done within timeout_ms. results[i] (inv->n_providers entries,
 * caller's) gets "ok", "unsupported", "error" or "timeout" and, except for
 * ok, a malloc'd text (free it). When a probe timed out its thread still
 * runs: the host must then not be freed (the process exits soon).
 * STS_OK, STS_ETIMEOUT (some timed out), STS_ENOMEM.
 */
struct sts_probe_result {
	const char *result;
	char *text;
};
STS_API int sts_plugin_probe_inventory(struct sts_plugin_host *h, const struct sts_inventory *inv,
				       long timeout_ms, struct sts_probe_result *results);

/* ---- instances ---- */

/*
 * Find the plugin named by settings' "plugin" key, validate the settings,
 * create the handle (and its HTTP client) and call load(). instance is
 * the provider name. Errors: STS_EPLUGIN, STS_EABI, STS_EINVALID (diags),
 * or load()'s error (diag with its sts_plugin_error() text).
 */
STS_API int sts_plugin_open(struct sts_plugin_host *h, const char *instance, const json_t *settings,
			    struct sts_plugin **ret, struct sts_diags *diags);
/* The same for an inventory provider (basedir = inventory directory). */
STS_API int sts_plugin_open_provider(struct sts_plugin_host *h, const struct sts_inventory *inv,
				     const struct sts_provider *prov, struct sts_plugin **ret,
				     struct sts_diags *diags);
/* unload() and free; NULL is fine. */
STS_API void sts_plugin_close(struct sts_plugin *p);

STS_API const struct sts_plugin_api *sts_plugin_api_of(const struct sts_plugin *p);
STS_API const char *sts_plugin_name(const struct sts_plugin *p); /* plugin name */
STS_API const char *sts_plugin_instance_name(const struct sts_plugin *p);
STS_API enum sts_plugin_kind sts_plugin_kind(const struct sts_plugin *p);

/* ---- operations (check kind and op presence: STS_EUNSUPPORTED) ---- */

/*
 * reterr (may be NULL): on failure, the text the plugin gave with
 * sts_plugin_error() for this very call (malloc'd), or NULL when it gave
 * none. Calls on one handle may come from several threads as the
 * threading contract of <stsctl/plugin.h> allows.
 */

/* struct sts_dns_change, struct sts_rrsets: sts_rrset.h */

/* names NULL (n 0): the whole zone, only for a plugin whose caps set read_zone (else EINVAL). */
STS_API int sts_plugin_dns_read(struct sts_plugin *p, const char *zone, const char *const *names,
				size_t n, struct sts_rrsets *ret, char **reterr);
STS_API int sts_plugin_dns_apply(struct sts_plugin *p, const char *zone,
				 const struct sts_dns_change *changes, size_t n, char **reterr);
/* Defaults when the plugin has no caps(): no batch, concurrency 1, no limit. */
STS_API void sts_plugin_dns_caps(struct sts_plugin *p, struct sts_dns_caps *ret);
/* The TTL a provider with caps keeps for ttl (caps->kept_ttls: the nearest,
 * a tie to the larger); ttl itself when it keeps every TTL. */
STS_API uint32_t sts_dns_caps_ttl(const struct sts_dns_caps *caps, uint32_t ttl);
/* Does the plugin list its zones (optional op zones)? */
STS_API bool sts_plugin_api_has_zones(const struct sts_plugin_api *api);
/* The zones the credentials manage, sorted, lower case, no trailing dot;
 * STS_EUNSUPPORTED without the op. Free with sts_strv_free-like free(). */
STS_API int sts_plugin_dns_zones(struct sts_plugin *p, char ***ret, size_t *ret_n, char **reterr);
/* Check credentials and permissions (optional op probe; STS_EUNSUPPORTED). */
STS_API int sts_plugin_probe(struct sts_plugin *p, char **reterr);

/* ret must be initialised by the caller (its cap is honoured). */
STS_API int sts_plugin_web_get(struct sts_plugin *p, const char *host, struct sts_buf *ret,
			       char **reterr);
STS_API int sts_plugin_web_put(struct sts_plugin *p, const char *host, const void *data, size_t len,
			       char **reterr);
STS_API int sts_plugin_web_del(struct sts_plugin *p, const char *host, char **reterr);
/* Defaults when the plugin has no caps(): verify_https true, concurrency 1. */
STS_API void sts_plugin_web_caps(struct sts_plugin *p, struct sts_web_caps *ret);

#endif
