/* SPDX-License-Identifier: MIT */
#ifndef STS_PLUGIN_INT_H
#define STS_PLUGIN_INT_H

/* The plugin host's own structs, shared by sts_plugin*.c only. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "sts_http.h"
#include "sts_plugin.h"

/* One dlopen()ed plugin file, usable (api != NULL) and kept until host_free. */
struct sts_plugin_module {
	char *path;
	void *dl;
	const struct sts_plugin_api *api;
};

struct sts_plugin_host {
	char **path;
	size_t n_path;
	sts_plugin_log_fn log_fn;
	void *log_ud;
	struct sts_http_opts http_opts;
	char *ca_file;
	char *basedir;
	struct sts_plugin_module *mods;
	size_t n_mods;
};

struct sts_plugin_http_pool {
	pthread_mutex_t lock;
	struct sts_http **idle;
	size_t n_idle;
};

/* A REST client of a handle, made on first use of its settings (key). */
struct sts_plugin_rest_client {
	char *key;
	struct sts_rest *c;
};

struct sts_plugin {
	struct sts_plugin_head head; /* must stay first: <stsctl/plugin.h> reads it */
	struct sts_plugin_host *host;
	const struct sts_plugin_api *api;
	char *instance;
	char *prefix; /* "dns:zonefile" */
	char *basedir;
	void *ctx;
	bool loaded;
	struct sts_plugin_http_pool http; /* its lock guards rest too */
	struct sts_plugin_rest_client *rest;
	size_t n_rest;
};

/* One op in progress: lives on the caller's stack for the op's duration. */
struct sts_plugin_call {
	struct sts_plugin_head head; /* must stay first */
	char *msg;		     /* the plugin's sts_plugin_error() text */
};

/* The zone list of the zones op (opaque to plugins). */
struct sts_zone_list {
	char **v;
	size_t n;
};

/* The function table handed to every plugin (sts_plugin_services.c). */
extern const struct sts_host_api sts_plugin_host_api;

/* A call context, and its end: the text goes to *reterr (or is freed). */
void sts_plugin_call_init(struct sts_plugin_call *c);
void sts_plugin_call_end(struct sts_plugin_call *c, int r, char **reterr);
/* Set the call's text from the host side (printf). */
void sts_plugin_call_set(struct sts_plugin_call *c, const char *fmt, ...) STS_PRINTF(2, 3);

/* Is the schema well-formed (entry sizes, patterns compile, min <= max)?
 * STS_OK, or STS_EABI with *reason (malloc'd). */
int sts_plugin_schema_check(const struct sts_plugin_setting *const *schema, char **reason);

/* Release a handle's idle HTTP clients and its REST clients. */
void sts_plugin_http_pool_release(struct sts_plugin *p);

#endif
