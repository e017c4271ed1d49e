/* SPDX-License-Identifier: MIT */
/* stsctl render: inventory -> policy files, zone fragments, nginx configs, or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"
#include "sts_err.h"
#include "sts_db.h"
#include "sts_inventory.h"
#include "sts_render.h"
#include "sts_rollout.h"

/* docs/stsctl-render.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
const char *const render_usage[] = {
    "stsctl render INVENTORY -o DIR [--domain NAME]... [--state PATH] [--web-root DIR]",
    "                                [--cert-dir DIR]",
    "stsctl render INVENTORY --json [--domain NAME]... [--state PATH]",
    "",
    "Render the MTA-STS policy files, DNS records, BIND zone fragments and",
    "nginx server blocks of an inventory. The same inventory always gives",
    "byte-identical output.",
    "",
    "  -o, --output DIR    write DIR/<policy-host>/.well-known/mta-sts.txt,",
    "                      DIR/zones/<zone>.zone and DIR/nginx/<policy-host>.conf;",
    "                      files whose content is unchanged are left alone",
    "      --json          print the policies and DNS records as JSON",
    "  -d, --domain NAME   render only this domain (repeatable); a zone file",
    "                      still covers every domain of its zone",
    "      --state PATH    the state DB (default ./stsctl.db, read only; a missing",
    "                      file means no domain is under rollout): a domain under",
    "                      rollout renders the mode of its stage, as apply does",
    "      --web-root DIR  nginx serves DIR/<policy-host> (default /var/www/mta-sts)",
    "      --cert-dir DIR  nginx reads DIR/<policy-host>/fullchain.pem and",
    "                      privkey.pem (default /etc/ssl/mta-sts)",
    "  -h, --help          show this help",
    "",
    "Exit status: 0 rendered; 1 invalid inventory, or a domain that cannot be",
    "rendered; 2 usage error, unknown domain, or a file that cannot be read or",
    "written.",
    NULL,
};

enum {
	OPT_JSON = 1000,
	OPT_WEB_ROOT,
	OPT_CERT_DIR,
	OPT_STATE,
};

static enum sts_mode stage_mode(const char *domain, void *ud)
{
	return sts_rollout_modes_get(ud, domain);
}

/* The rollout stages of the state DB, read only; a missing DB has none. */
static int load_stages(const char *state, struct sts_rollout_modes **ret)
{
	struct sts_db *db = NULL;
	char *err = NULL;
	int r = sts_db_open(state, STS_DB_READONLY, NULL, &db, &err);
	if (r < 0) {
		sts_log_err("cannot open the state DB '%s': %s", state,
			    err ? err : sts_strerror(r));
		free(err);
		return r;
	}
	r = sts_rollout_modes_load(db, ret);
	if (r < 0)
		sts_log_err("cannot read the rollout stages from '%s': %s", state,
			    sts_db_errmsg(db));
	sts_db_close(db);
	return r;
}

static int write_stdout(const char *p, size_t n, void *ud)
{
	return fwrite(p, 1, n, stdout) == n ? STS_OK : STS_EIO;
}

static int run(const char *path, const char *outdir, bool json, const char *state,
	       struct sts_render_opts *ro)
{
	struct sts_diags diags;
	struct sts_inventory *inv = NULL;
	struct sts_rollout_modes *stages = NULL;
	sts_diags_init(&diags);
	int rc;
	int r = load_stages(state, &stages);
	if (r < 0)
		return EXIT_USAGE;
	ro->mode_of = stage_mode;
	ro->mode_ud = stages;
	r = sts_inventory_load(path, &inv, &diags);
	/* info findings (IDN conversions) are for validate; render shows them with --verbose */
	if (r < 0 || diags.n_warnings > 0 || cli_verbosity >= 2)
		cli_print_diags(&diags);
	if (r == STS_EINVALID || r == STS_EPARSE) {
		sts_log_err("inventory '%s' is invalid", path);
		rc = EXIT_FAIL;
		goto out;
	}
	if (r < 0) {
		sts_log_errno(r, "cannot load inventory '%s'", path);
		rc = cli_exit_for(r);
		goto out;
	}
	sts_diags_release(&diags);
	if (json) {
		r = sts_render_json(inv, ro, write_stdout, NULL, &diags);
		cli_print_diags(&diags);
		if (r == STS_EIO)
			sts_log_err("cannot write to standard output");
	} else {
		struct sts_render_stats st;
		r = sts_render_tree_opts(inv, outdir, ro, &st, &diags);
		cli_print_diags(&diags);
		if (r >= 0 || r == STS_EINVALID)
			sts_log_info(
			    "rendered %zu domains and %zu zones into '%s': %zu files written, "
			    "%zu unchanged",
			    st.domains, st.zones, outdir, st.written, st.unchanged);
		else if (diags.n_errors == 0)
			sts_log_errno(r, "cannot render into '%s'", outdir);
	}
	rc = cli_exit_for(r);
out:
	sts_inventory_free(inv);
	sts_rollout_modes_free(stages);
	sts_diags_release(&diags);
	return rc;
}

int cmd_render(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"domain", required_argument, NULL, 'd'},
	    {"web-root", required_argument, NULL, OPT_WEB_ROOT},
	    {"cert-dir", required_argument, NULL, OPT_CERT_DIR},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sts_render_opts ro = {0};
	const char *outdir = NULL;
	const char *state = STS_DB_DEFAULT_PATH;
	bool json = false;
	const char **only = calloc((size_t)argc, sizeof(*only));
	int c, rc;
	if (!only) {
		sts_log_err("out of memory");
		return EXIT_INTERNAL;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			outdir = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'd':
			only[ro.n_only++] = optarg;
			break;
		case OPT_WEB_ROOT:
			ro.web_root = optarg;
			break;
		case OPT_CERT_DIR:
			ro.cert_dir = optarg;
			break;
		case OPT_STATE:
			state = optarg;
			break;
		case 'h':
			cli_usage(stdout, render_usage);
			rc = EXIT_OK;
			goto out;
		case ':':
			rc = cli_usage_error(render_usage, "option '%s' needs a value",
					     argv[optind - 1]);
			goto out;
		default:
			rc = cli_usage_error(render_usage, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (ro.n_only)
		ro.only = only;
	if (argc - optind != 1)
		rc = cli_usage_error(render_usage,
				     argc - optind ? "too many arguments" : "missing INVENTORY");
	else if (!outdir == !json)
		rc = cli_usage_error(render_usage, "give exactly one of '-o DIR' and '--json'");
	else if (json && (ro.web_root || ro.cert_dir))
		rc = cli_usage_error(render_usage, "'--web-root' and '--cert-dir' need '-o DIR'");
	else
		rc = run(argv[optind], outdir, json, state, &ro);
out:
	free(only);
	return rc;
}
