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

static const char *const validate_usage[] = {
    "stsctl validate [--json] INVENTORY",
    "",
    "Check an inventory (docs/inventory.md) and report every problem in one run,",
    "each as FILE:LINE:COLUMN: error: PATH: message. INVENTORY '-' reads",
    "standard input.",
    "",
    "    --json      print the result as one JSON object on standard output",
    "    -h, --help  show this help",
    "",
    "Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage error or",
    "unreadable file.",
    NULL,
};

/* {"valid","domains","errors","warnings","info","not_shown"?}: sts_diag_json.h's schema */
static int print_json(const struct sts_diags *d, size_t n_domains)
{
	json_t *doc = json_pack("{s:b,s:I}", "valid", d->n_errors == 0, "domains",
				(json_int_t)n_domains),
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

static int run(struct cli_ctx *ctx)
{
	bool json = ctx->json;
	const char *path = ctx->inventory_path;
	struct sts_diags d;
	size_t n_domains = 0;
	sts_diags_init(&d);
	int r = sts_inventory_validate(path, &n_domains, &d);
	if (r < 0 && r != STS_EINVALID && r != STS_EPARSE) {
		sts_log_errno(r, "cannot read inventory '%s'", path);
		sts_diags_release(&d);
		return cli_exit_for(r);
	}
	sts_diags_sort(&d);
	int rc = d.n_errors ? EXIT_FAIL : EXIT_OK;
	if (json) {
		if (print_json(&d, n_domains) < 0)
			rc = EXIT_USAGE;
	} else {
		cli_print_diags(&d);
		if (cli_verbosity >= 1)
			printf("%s: %zu %s, %zu %s, %zu %s\n", path, n_domains,
			       plural(n_domains, "domain", "domains"), d.n_errors,
			       plural(d.n_errors, "error", "errors"), d.n_warnings,
			       plural(d.n_warnings, "warning", "warnings"));
	}
	sts_diags_release(&d);
	return rc;
}

static const struct cli_opt validate_opts[] = {
    CLI_JSON,
    CLI_END,
};

CLI_COMMAND(validate, CLI_ONE_ARG("INVENTORY"));
