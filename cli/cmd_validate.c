/* SPDX-License-Identifier: MIT */
/*
 * stsctl validate: load an inventory, report every problem at once
 * (core/inventory/sts_inventory.c does the work), print a summary.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "sts_diag_json.h"
#include "sts_err.h"
#include "sts_inventory.h"
#include "sts_plugin.h"

static const char *const validate_usage[] = {
    "stsctl validate [--json] [--secrets] [--probe [--timeout SECONDS]] INVENTORY",
    "",
    "Check an inventory (docs/inventory.md) and report every problem in one run,",
    "each as FILE:LINE:COLUMN: error: PATH: message. INVENTORY '-' reads",
    "standard input. Each provider's plugin must be installed and its settings",
    "must pass the plugin's schema; secrets must be ${env:..} or ${file:..}.",
    "",
    "    --json           print the result as one JSON object on standard output",
    "    --secrets        also resolve every secret reference (names the variable",
    "                     or file that does not resolve, never a value)",
    "    --probe          also run each provider's probe (credentials, reach),",
    "                     one line per provider",
    "    --timeout SECONDS  how long --probe waits for the probes (default 5)",
    "    -h, --help       show this help",
    "",
    "Exit status: 0 valid (warnings allowed), 1 invalid or a probe failed, 2",
    "usage error or unreadable file.",
    NULL,
};

struct validate_args {
	bool secrets, probe;
	unsigned timeout;
};

/* {"valid","domains","errors","warnings","info","not_shown"?}: sts_diag_json.h's schema */
static int print_json(const struct sts_diags *d, size_t n_domains, json_t *probes)
{
	json_t *doc = json_pack("{s:b,s:I,s:o*}", "valid", d->n_errors == 0, "domains",
				(json_int_t)n_domains, "probes", probes),
	       *diags = sts_diags_json_doc(d, d->n_errors == 0);
	if (doc && (!diags || json_object_update(doc, diags) < 0)) {
		json_decref(doc);
		doc = NULL;
	}
	json_decref(diags);
	return cli_json_print(doc);
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* --probe: each provider's probe at once, within the deadline; one line (or entry) each */
static int probe(struct sts_plugin_host *h, const struct sts_inventory *inv, unsigned secs,
		 json_t **ret_json)
{
	struct sts_probe_result *res = calloc(inv->n_providers + 1, sizeof(*res));
	if (!res)
		return EXIT_INTERNAL;
	int r = sts_plugin_probe_inventory(h, inv, (long)secs * 1000L, res);
	int rc = r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_OK;
	json_t *list = *ret_json ? *ret_json : NULL;
	for (size_t i = 0; r != STS_ENOMEM && i < inv->n_providers; i++) {
		const char *name = inv->providers[i].name, *what = res[i].result;
		if (strcmp(what, "error") == 0 || strcmp(what, "timeout") == 0)
			rc = EXIT_FAIL;
		if (list)
			json_array_append_new(list,
					      json_pack("{s:s,s:s,s:s?}", "provider", name,
							"result", what, "error", res[i].text));
		else if (strcmp(what, "ok") == 0)
			printf("probe %s: ok\n", name);
		else if (strcmp(what, "unsupported") == 0)
			printf("probe %s: no probe (its plugin cannot check itself)\n", name);
		else
			printf("probe %s: %s\n", name, res[i].text ? res[i].text : what);
		free(res[i].text);
	}
	free(res);
	return r == STS_ETIMEOUT && rc == EXIT_OK ? EXIT_FAIL : rc;
}

static int run(struct cli_ctx *ctx)
{
	const struct validate_args *a = ctx->args;
	bool json = ctx->json;
	const char *path = ctx->inventory_path;
	struct sts_diags d;
	struct sts_inventory *inv = NULL;
	struct sts_plugin_host *h = NULL;
	json_t *probes = NULL;
	size_t n_domains = 0;
	int prc = EXIT_OK;
	sts_diags_init(&d);
	int r = sts_inventory_load_counted(path, &inv, &n_domains, &d);
	if (r < 0 && r != STS_EINVALID && r != STS_EPARSE) {
		sts_log_errno(r, "cannot read inventory '%s'", path);
		sts_diags_release(&d);
		return cli_exit_for(r);
	}
	/* the providers against their plugins (the same search as 'stsctl plugins') */
	if (inv && (r = sts_plugin_host_new(&h)) == STS_OK) {
		sts_plugin_host_set_basedir(h, inv->dir);
		r = sts_plugin_check_inventory(h, inv, a->secrets, &d);
	}
	if (r == STS_ENOMEM) {
		sts_log_errno(r, "cannot check the providers");
		sts_diags_release(&d);
		sts_inventory_free(inv);
		sts_plugin_host_free(h);
		return EXIT_INTERNAL;
	}
	sts_diags_sort(&d);
	int rc = d.n_errors ? EXIT_FAIL : EXIT_OK;
	if (json) {
		if (a->probe && inv && !d.n_errors && (probes = json_array()))
			prc = probe(h, inv, a->timeout ? a->timeout : 5, &probes);
		if (print_json(&d, n_domains, probes) < 0)
			rc = EXIT_USAGE;
	} else {
		cli_print_diags(&d);
		if (cli_verbosity >= 1)
			printf("%s: %zu %s, %zu %s, %zu %s\n", path, n_domains,
			       plural(n_domains, "domain", "domains"), d.n_errors,
			       plural(d.n_errors, "error", "errors"), d.n_warnings,
			       plural(d.n_warnings, "warning", "warnings"));
		if (a->probe && inv && !d.n_errors)
			prc = probe(h, inv, a->timeout ? a->timeout : 5, &probes);
	}
	if (rc == EXIT_OK)
		rc = prc;
	sts_diags_release(&d);
	/* a probe past its deadline still runs in its thread: leave the host to exit() */
	if (prc == EXIT_OK) {
		sts_inventory_free(inv);
		sts_plugin_host_free(h);
	}
	return rc;
}

static const struct cli_opt validate_opts[] = {
    CLI_JSON,
    CLI_BOOL("secrets", 0, struct validate_args, secrets),
    CLI_BOOL("probe", 0, struct validate_args, probe),
    CLI_UINT("timeout", 0, struct validate_args, timeout, 1, 600,
	     "--timeout needs seconds from %2$lu to %3$lu, not '%1$s'"),
    CLI_END,
};

CLI_COMMAND(validate, CLI_ONE_ARG("INVENTORY"), .args_size = sizeof(struct validate_args));
