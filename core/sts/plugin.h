/* SPDX-License-Identifier: MIT */
#ifndef STS_PLUGIN_ABI_H
#define STS_PLUGIN_ABI_H

/*
 * stsctl provider plugin ABI, version 1 (docs/plugin-abi.md).
 *
 * A plugin is a shared object <name>.so that exports exactly one symbol,
 * `sts_plugin_api`, a const struct sts_plugin_api built with
 * STS_PLUGIN_API(). The host dlopen()s it with RTLD_NOW|RTLD_LOCAL, checks
 * abi_version, struct_size and name before calling anything, validates the
 * provider's settings against the schema, and only then calls load().
 *
 * Plugins link nothing from libsts (the headers included below are for
 * types and error codes only; calling a libsts function makes dlopen fail
 * with an undefined symbol). Every host service (logging, HTTP, secrets,
 * record lists, buffers) is reached through the opaque handle struct
 * sts_plugin with the static inline wrappers at the end of this file,
 * which call through the host's function table. Plugins never print, log
 * to stdio or exit.
 *
 * Compatibility rules: fields of every struct in this file are only ever
 * appended; each struct that can grow carries struct_size so either side
 * can tell which fields the other one knows. An incompatible change bumps
 * STS_PLUGIN_ABI_VERSION (and the install directory plugins-<ABI>).
 *
 * Errors are enum sts_err values (sts_err.h): STS_OK or a negative code.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_http.h"

#define STS_PLUGIN_ABI_VERSION 1u

/* The one exported symbol. */
#define STS_PLUGIN_SYMBOL "sts_plugin_api"

#define STS_PLUGIN_EXPORT __attribute__((visibility("default")))

struct sts_plugin; /* opaque per-provider handle, owned by the host */

enum sts_plugin_kind {
	STS_PLUGIN_DNS = 1, /* publishes DNS records: struct sts_dns_ops */
	STS_PLUGIN_WEB = 2, /* publishes policy files: struct sts_web_ops */
};

enum sts_plugin_log_level {
	STS_PLOG_ERROR,
	STS_PLOG_WARNING,
	STS_PLOG_INFO,
	STS_PLOG_DEBUG,
};

/* ------------------------------------------------------------------ */
/* Settings schema                                                    */
/* ------------------------------------------------------------------ */

enum sts_setting_type {
	STS_SETTING_STRING = 1,
	STS_SETTING_INTEGER,	 /* JSON integer */
	STS_SETTING_BOOL,	 /* JSON true/false */
	STS_SETTING_PATH,	 /* string; made absolute against the inventory's directory */
	STS_SETTING_SECRET,	 /* string "${env:NAME}" or "${file:PATH}", never clear text */
	STS_SETTING_STRING_LIST, /* array of strings */
	STS_SETTING_OBJECT,	 /* JSON object, checked by the plugin's check() */
};

/*
 * One key of a plugin's settings. A schema is an array terminated by an
 * entry with key == NULL. The key "plugin" is reserved (it names the
 * plugin) and must not appear. def is the default in text form:
 * string/path/secret literally, integer as decimal, bool "true"/"false",
 * list/object as JSON text; NULL = no default. The host fills defaults in
 * before load() so the plugin sees every key that has one.
 */
struct sts_plugin_setting {
	const char *key;
	enum sts_setting_type type;
	bool required;
	const char *def;
	const char *description; /* one line, shown by `stsctl plugins` */
};

/*
 * Optional extra check after the schema passed. On failure return an
 * error and set args->key (NULL: the whole section) and args->err_str
 * (static text, lowercase, no trailing period).
 */
struct sts_plugin_check {
	const char *key;
	const char *err_str;
};

/* ------------------------------------------------------------------ */
/* DNS data model, shared with the plan engine                        */
/* ------------------------------------------------------------------ */

/*
 * An rrset: every record of one (name, type) with one TTL.
 *   name   absolute, lower case, ends in '.'
 *   type   upper-case mnemonic: "TXT", "CNAME", "A", "AAAA", "MX", ...
 *   values TXT: the character-strings concatenated, without quotes or
 *          escapes (as struct sts_record in sts_render.h);
 *          CNAME: absolute target ending in '.';
 *          anything else: the rdata in presentation format.
 * Lists returned by plugins are built with sts_plugin_rrset_add() /
 * sts_plugin_rrset_add_value() and freed by the host.
 */
struct sts_rrset {
	char *name;
	char *type;
	uint32_t ttl;
	char **values;
	size_t n_values;
};

struct sts_rrsets {
	struct sts_rrset *v;
	size_t n;
	size_t cap;
};

enum sts_change_action {
	STS_CHANGE_CREATE = 1, /* no rrset at (name, type) yet: create it */
	STS_CHANGE_REPLACE,    /* the rrset at (name, type) becomes exactly rrset */
	STS_CHANGE_DELETE,     /* remove the whole rrset at (name, type) */
};

/*
 * One change to one rrset. The engine computes the complete desired content
 * of (name, type): for REPLACE, rrset.values holds stsctl's own values AND
 * every foreign value at that (name, type) that must be kept (a foreign TXT
 * beside the v=STSv1 one). DELETE is only sent when no foreign value remains.
 * old is the content the engine saw in read() (NULL for CREATE); a provider
 * may use it for value-level APIs or as a precondition. Plugins must not
 * touch values that are in both old and rrset (zonefile keeps those lines
 * byte for byte). All memory belongs to the caller.
 */
struct sts_rrset_change {
	enum sts_change_action action;
	struct sts_rrset rrset; /* DELETE: name and type only are used */
	const struct sts_rrset *old;
};

struct sts_dns_caps {
	bool batch;		  /* apply() commits all changes of a zone at once */
	unsigned max_concurrency; /* zones in flight at once; 0 = 1 */
	unsigned rate_per_sec;	  /* apply()/read() calls per second; 0 = unlimited */
	unsigned max_batch;	  /* changes per apply() call; 0 = unlimited */
};

struct sts_dns_ops {
	uint32_t struct_size; /* sizeof(struct sts_dns_ops) */
	/*
	 * Append to ret every rrset (every type, foreign ones included) at
	 * each of the n owner names in zone. zone is the apex without the
	 * trailing dot; names are absolute with the dot. A name with nothing
	 * at it adds nothing. A missing zone is STS_ENOENT.
	 */
	int (*read)(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		    struct sts_rrsets *ret);
	/*
	 * Apply n changes to zone, in order, as one transaction where the
	 * provider can (caps.batch); otherwise change by change, stopping at
	 * the first failure. A change that would overwrite a record type that
	 * conflicts with it (CNAME beside anything else) is STS_ECONFLICT.
	 */
	int (*apply)(struct sts_plugin *p, const char *zone, const struct sts_rrset_change *changes,
		     size_t n);
	void (*caps)(struct sts_plugin *p, struct sts_dns_caps *ret); /* optional */
};

/* ------------------------------------------------------------------ */
/* Web operations                                                     */
/* ------------------------------------------------------------------ */

struct sts_web_caps {
	bool verify_https;	  /* the engine may fetch https://HOST/.well-known/... after put */
	unsigned max_concurrency; /* 0 = 1 */
};

/*
 * host is the policy host "mta-sts.<domain>", lower case, no trailing dot.
 * The file is the one served at https://HOST/.well-known/mta-sts.txt.
 */
struct sts_web_ops {
	uint32_t struct_size; /* sizeof(struct sts_web_ops) */
	/* Append the current file to ret (its cap is honoured: STS_ETOOLARGE);
	 * STS_ENOENT when there is none. */
	int (*get)(struct sts_plugin *p, const char *host, struct sts_buf *ret);
	/* Replace the file atomically: readers see the old or the new one. */
	int (*put)(struct sts_plugin *p, const char *host, const void *data, size_t len);
	/* Remove the file; STS_ENOENT when there was none. */
	int (*del)(struct sts_plugin *p, const char *host);
	void (*caps)(struct sts_plugin *p, struct sts_web_caps *ret); /* optional */
};

/* ------------------------------------------------------------------ */
/* The descriptor                                                     */
/* ------------------------------------------------------------------ */

struct sts_plugin_api {
	uint32_t abi_version; /* STS_PLUGIN_ABI_VERSION */
	uint32_t struct_size; /* sizeof(struct sts_plugin_api) the plugin was built with */
	const char *name;     /* equals the file name without ".so" */
	enum sts_plugin_kind kind;
	const char *description;		 /* one line */
	const struct sts_plugin_setting *schema; /* NULL-key terminated; NULL = no settings */
	/* optional: extra validation of the (schema-checked) settings */
	int (*check)(const json_t *settings, struct sts_plugin_check *args);
	/*
	 * Create the instance state. settings is borrowed (schema-checked,
	 * defaults filled in, paths absolute): copy what you keep and store it
	 * with sts_plugin_ctx_set(). On failure load() frees what it made.
	 */
	int (*load)(struct sts_plugin *p, const json_t *settings);
	void (*unload)(struct sts_plugin *p); /* free the ctx; optional */
	const struct sts_dns_ops *dns;	      /* kind == STS_PLUGIN_DNS */
	const struct sts_web_ops *web;	      /* kind == STS_PLUGIN_WEB */
};

/*
 * STS_PLUGIN_API(zonefile, STS_PLUGIN_DNS, .schema = ..., .load = ..., .dns = &ops);
 * defines the exported descriptor with version, size and name filled in.
 */
#define STS_PLUGIN_API(NAME, KIND, ...)                                                            \
	STS_PLUGIN_EXPORT const struct sts_plugin_api sts_plugin_api = {                           \
	    .abi_version = STS_PLUGIN_ABI_VERSION,                                                 \
	    .struct_size = sizeof(struct sts_plugin_api),                                          \
	    .name = #NAME,                                                                         \
	    .kind = KIND,                                                                          \
	    __VA_ARGS__}

/* ------------------------------------------------------------------ */
/* Host services                                                      */
/* ------------------------------------------------------------------ */

struct sts_secret;

/* The host's function table; plugins use the wrappers below. */
struct sts_host_api {
	uint32_t abi_version;
	uint32_t struct_size;
	void (*vlog)(struct sts_plugin *p, enum sts_plugin_log_level level, const char *fmt,
		     va_list ap);
	/* a detail for the caller of the failing op (kept until the next op) */
	void (*verror)(struct sts_plugin *p, const char *fmt, va_list ap);
	void *(*ctx_get)(const struct sts_plugin *p);
	void (*ctx_set)(struct sts_plugin *p, void *ctx);
	const char *(*basedir)(const struct sts_plugin *p);  /* inventory directory */
	const char *(*instance)(const struct sts_plugin *p); /* provider name */
	int (*http)(struct sts_plugin *p, const struct sts_http_req *req,
		    struct sts_http_resp *ret);
	void (*http_release)(struct sts_http_resp *resp);
	int (*secret)(struct sts_plugin *p, const char *ref, struct sts_secret **ret);
	const char *(*secret_value)(const struct sts_secret *s);
	size_t (*secret_len)(const struct sts_secret *s);
	void (*secret_free)(struct sts_secret *s);
	struct sts_rrset *(*rrset_add)(struct sts_rrsets *list, const char *name, const char *type,
				       uint32_t ttl);
	int (*rrset_add_value)(struct sts_rrset *rr, const char *value, size_t len);
	int (*buf_append)(struct sts_buf *b, const void *data, size_t len);
	int (*write_atomic)(const char *path, const void *data, size_t len, unsigned mode);
};

/* The handle is opaque except for its first member, the host table. */
struct sts_plugin_head {
	const struct sts_host_api *host;
};

static inline const struct sts_host_api *sts_plugin_host(const struct sts_plugin *p)
{
	return ((const struct sts_plugin_head *)(const void *)p)->host;
}

/* Log a line; the host prefixes it with "[dns:zonefile] " (kind:name). */
static inline void sts_plugin_log(struct sts_plugin *p, enum sts_plugin_log_level level,
				  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void sts_plugin_log(struct sts_plugin *p, enum sts_plugin_log_level level,
				  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sts_plugin_host(p)->vlog(p, level, fmt, ap);
	va_end(ap);
}

/* Record why the current operation failed (shown with the returned error). */
static inline void sts_plugin_error(struct sts_plugin *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void sts_plugin_error(struct sts_plugin *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sts_plugin_host(p)->verror(p, fmt, ap);
	va_end(ap);
}

static inline void *sts_plugin_ctx_get(const struct sts_plugin *p)
{
	return sts_plugin_host(p)->ctx_get(p);
}

static inline void sts_plugin_ctx_set(struct sts_plugin *p, void *ctx)
{
	sts_plugin_host(p)->ctx_set(p, ctx);
}

/* Directory of the inventory file, for the plugin's own relative paths. */
static inline const char *sts_plugin_basedir(const struct sts_plugin *p)
{
	return sts_plugin_host(p)->basedir(p);
}

/* The provider instance name ("providers.NAME"). */
static inline const char *sts_plugin_instance(const struct sts_plugin *p)
{
	return sts_plugin_host(p)->instance(p);
}

/*
 * HTTP(S) through the host's libcurl handle for this plugin: timeouts,
 * response cap, retries with backoff on 429/5xx honouring Retry-After, TLS
 * verification always on. STS_OK means a response arrived (check
 * ret->status); release ret with sts_plugin_http_release() either way.
 */
static inline int sts_plugin_http(struct sts_plugin *p, const struct sts_http_req *req,
				  struct sts_http_resp *ret)
{
	return sts_plugin_host(p)->http(p, req, ret);
}

static inline void sts_plugin_http_release(struct sts_plugin *p, struct sts_http_resp *resp)
{
	sts_plugin_host(p)->http_release(resp);
}

/* Resolve a ${env:..}/${file:..} reference; free with sts_plugin_secret_free(). */
static inline int sts_plugin_secret(struct sts_plugin *p, const char *ref, struct sts_secret **ret)
{
	return sts_plugin_host(p)->secret(p, ref, ret);
}

static inline const char *sts_plugin_secret_value(struct sts_plugin *p, const struct sts_secret *s)
{
	return sts_plugin_host(p)->secret_value(s);
}

static inline size_t sts_plugin_secret_len(struct sts_plugin *p, const struct sts_secret *s)
{
	return sts_plugin_host(p)->secret_len(s);
}

static inline void sts_plugin_secret_free(struct sts_plugin *p, struct sts_secret *s)
{
	sts_plugin_host(p)->secret_free(s);
}

/* Append an empty rrset to list (strings copied); NULL on ENOMEM. */
static inline struct sts_rrset *sts_plugin_rrset_add(struct sts_plugin *p, struct sts_rrsets *list,
						     const char *name, const char *type,
						     uint32_t ttl)
{
	return sts_plugin_host(p)->rrset_add(list, name, type, ttl);
}

/* Append one value (len bytes, copied and NUL-terminated). */
static inline int sts_plugin_rrset_add_value(struct sts_plugin *p, struct sts_rrset *rr,
					     const char *value, size_t len)
{
	return sts_plugin_host(p)->rrset_add_value(rr, value, len);
}

/* Append to a host buffer, honouring its cap (STS_ETOOLARGE). */
static inline int sts_plugin_buf_append(struct sts_plugin *p, struct sts_buf *b, const void *data,
					size_t len)
{
	return sts_plugin_host(p)->buf_append(b, data, len);
}

/* The text of a host buffer ("" when empty). Plugins must not call the
 * sts_buf_*() functions of libsts: they are not exported to plugins. */
static inline const char *sts_plugin_buf_str(const struct sts_buf *b)
{
	return b->data ? b->data : "";
}

/* Temp file + fsync + rename + fsync(dir); missing parents made 0755. */
static inline int sts_plugin_write_atomic(struct sts_plugin *p, const char *path, const void *data,
					  size_t len, unsigned mode)
{
	return sts_plugin_host(p)->write_atomic(path, data, len, mode);
}

#endif
