/* SPDX-License-Identifier: MIT */
/*
 * stsctl validate: load an inventory, report every problem at once
 * (core/inventory/sts_inventory.c does the work), print a summary.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "sts_err.h"
#include "sts_inventory.h"

const char *const validate_usage[] = {
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

/* [{"file","line","column","path","message","rule"?}] for one severity */
static json_t *diags_json(const struct sts_diags *d, enum sts_severity sev)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < d->n; i++) {
		const struct sts_diag *x = &d->v[i];
		if (x->severity != sev)
			continue;
		json_t *o = json_pack("{s:s?,s:I,s:I,s:s?,s:s,s:s*}", "file", x->file, "line",
				      (json_int_t)x->line, "column", (json_int_t)x->col, "path",
				      x->path, "message", x->message, "rule", x->rule);
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int print_json(const struct sts_diags *d, size_t n_domains)
{
	json_t *doc =
	    json_pack("{s:b,s:I,s:o*,s:o*,s:o*}", "valid", d->n_errors == 0, "domains",
		      (json_int_t)n_domains, "errors", diags_json(d, STS_SEV_ERROR), "warnings",
		      diags_json(d, STS_SEV_WARNING), "info", diags_json(d, STS_SEV_INFO));
	if (doc && d->dropped &&
	    json_object_set_new(doc, "not_shown", json_integer((json_int_t)d->dropped)) < 0) {
		json_decref(doc);
		doc = NULL;
	}
	return cli_json_print(doc);
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool json = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			cli_usage(stdout, validate_usage);
			return EXIT_OK;
		default:
			return cli_usage_error(validate_usage, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(validate_usage, argc - optind < 1 ? "missing INVENTORY"
									 : "too many arguments");
	const char *path = argv[optind];
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
