/* SPDX-License-Identifier: MIT */
#ifndef CONF_H
#define CONF_H

/*
 * The conformance driver (tests/conformance/README.md): one table of cases
 * per plugin kind, run through the host's plugin loader and the plugin ABI
 * against one provider instance, printed as TAP.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_plugin.h"

struct conf {
	struct sts_plugin_host *host;
	json_t *target; /* the instance file the wrapper wrote: plugin, settings, hook... */
	const char *plugin;
	const struct sts_plugin_api *api;
	uint32_t caps;	 /* STS_PLUGIN_CAP_* of the descriptor */
	unsigned n;	 /* test points printed */
	unsigned failed; /* of them, not ok */
	const char *case_name;
};

/* One TAP point "CASE: WHAT"; false = not ok. Returns ok. */
bool conf_point(struct conf *c, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A "# ..." line under the last point. */
void conf_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The error name of r ("OK", "ECONFLICT", ...); "E?" when unknown. */
const char *conf_err_name(int r);
/* The code of an error name; false when the name is unknown. */
bool conf_err_code(const char *name, int *ret);

/* Open an instance with target key `key` ("settings", "bad_settings",
 * "faulty_settings"). On failure the diags' text goes to *reterr (malloc'd)
 * or, with reterr NULL, is printed; returns the error. */
int conf_open(struct conf *c, const char *key, struct sts_plugin **ret, char **reterr);

/* Run the target's hook: HOOK ARGS... ; its stdout in ret (freed by caller). */
int conf_hook(struct conf *c, const char *const *args, char **ret);

/* Wall clock in milliseconds (monotonic). */
long conf_now_ms(void);

/* A string of the target ("zone", "file", ...), or dflt. */
const char *conf_str(const struct conf *c, const char *key, const char *dflt);

/* The fault script of the proxy: write it (one rule per element); count
 * the requests of a class (READ, WRITE or a method) in its log. */
int conf_faults(struct conf *c, const json_t *rules);
long conf_fault_count(struct conf *c, const char *cls);

/* Expand "size"/"fill" payloads and "%d" patterns: data of a step. */
char *conf_data(const json_t *step, size_t *ret_len);

/* Does r match the step's "expect" (an error name, a list of them; none = OK)? */
bool conf_expected(const json_t *step, int r);
const char *conf_expect_text(const json_t *step);
/* Open "bad_settings"; op (NULL: probe) must fail as the step expects, with
 * the target's "bad_credentials_text" in the provider's error text. */
void conf_creds(struct conf *c, const json_t *step, const char *what,
		int (*op)(struct sts_plugin *p, void *arg, char **reterr), void *arg);
void conf_probe(struct conf *c, struct sts_plugin *p);

void conf_run_dns(struct conf *c, const json_t *kase);
void conf_run_web(struct conf *c, const json_t *kase);

#endif
