/* SPDX-License-Identifier: MIT */
/* stsctl render: inventory -> policy files, zone fragments, nginx configs, or JSON. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_progress.h"
#include "commands.h"
#include "sts_err.h"
#include "sts_db.h"
#include "sts_inventory.h"
#include "sts_render.h"
#include "sts_rollout.h"

/* docs/stsctl-render.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const render_usage[] = {
    "stsctl render INVENTORY -o DIR [--domain NAME]... [--state PATH] [--web-root DIR]",
    "                                [--cert-dir DIR] [--progress=WHEN]",
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
    "                      file means no domain is under rollout): every domain",
    "                      renders the mode apply would publish, never above its",
    "                      rollout.target",
    "      --web-root DIR  nginx serves DIR/<policy-host> (default /var/www/mta-sts)",
    "      --cert-dir DIR  nginx reads DIR/<policy-host>/fullchain.pem and",
    "                      privkey.pem (default /etc/ssl/mta-sts)",
    "      --progress=WHEN",
    "                      with -o: progress on standard error: auto (default: a",
    "                      live line on a terminal, else a line every 10 s; none",
    "                      with -q), always (the live line) or never",
    "  -h, --help          show this help",
    "",
    "Exit status: 0 rendered; 1 invalid inventory, or a domain that cannot be",
    "rendered; 2 usage error, unknown domain, or a file that cannot be read or",
    "written.",
    NULL,
};

struct render_args {
	const char *outdir, *web_root, *cert_dir;
	struct cli_list only;
	int progress; /* enum cli_progress_mode */
};

static const struct cli_opt render_opts[] = {
    CLI_STRING("output", 'o', struct render_args, outdir),
    CLI_JSON,
    CLI_LIST("domain", 'd', struct render_args, only),
    CLI_STRING("web-root", 0, struct render_args, web_root),
    CLI_STRING("cert-dir", 0, struct render_args, cert_dir),
    CLI_STATE,
    CLI_PROGRESS(struct render_args, progress),
    CLI_END,
};

struct modes {
	const struct sts_inventory *inv;
	struct sts_rollout_modes *stages;
};

/* What plan and apply publish: the stage under rollout.target and the brake. */
static enum sts_mode stage_mode(const char *domain, void *ud)
{
	const struct modes *m = ud;
	const struct sts_domain *dom = sts_inventory_find(m->inv, domain);
	struct sts_rollout_mode rm;
	if (!dom)
		return STS_MODE_INVALID;
	sts_rollout_domain_mode(m->stages, dom, &rm);
	return rm.mode;
}

static int write_stdout(const char *p, size_t n, void *ud)
{
	return fwrite(p, 1, n, stdout) == n ? STS_OK : STS_EIO;
}

/* A missing state DB means no domain is under rollout (read-only: an empty one). */
static int run(struct cli_ctx *ctx)
{
	const struct render_args *a = ctx->args;
	struct sts_diags diags;
	struct modes modes = {.inv = ctx->inv};
	struct sts_render_opts ro = {.only = a->only.n ? a->only.v : NULL,
				     .n_only = a->only.n,
				     .web_root = a->web_root,
				     .cert_dir = a->cert_dir,
				     .mode_of = stage_mode};
	int r = sts_rollout_modes_load(ctx->db, &modes.stages);
	if (r < 0) {
		sts_log_err("cannot read the rollout stages from '%s': %s", ctx->state_path,
			    sts_db_errmsg(ctx->db));
		return EXIT_USAGE;
	}
	ro.mode_ud = &modes;
	sts_diags_init(&diags);
	if (ctx->json) {
		r = sts_render_json(ctx->inv, &ro, write_stdout, NULL, &diags);
		cli_print_diags(&diags);
		if (r == STS_EIO)
			sts_log_err("cannot write to standard output");
	} else {
		struct sts_render_stats st;
		cli_progress_start(a->progress, "render", "domains", 0);
		ro.progress = cli_progress_fn();
		r = sts_render_tree_opts(ctx->inv, a->outdir, &ro, &st, &diags);
		cli_progress_end();
		cli_print_diags(&diags);
		if (r >= 0 || r == STS_EINVALID)
			sts_log_info(
			    "rendered %zu domains and %zu zones into '%s': %zu files written, "
			    "%zu unchanged",
			    st.domains, st.zones, a->outdir, st.written, st.unchanged);
		else if (diags.n_errors == 0)
			sts_log_errno(r, "cannot render into '%s'", a->outdir);
	}
	sts_rollout_modes_free(modes.stages);
	sts_diags_release(&diags);
	return cli_exit_for(r);
}

static int prepare(struct cli_ctx *ctx)
{
	const struct render_args *a = ctx->args;
	if (!a->outdir == !ctx->json)
		return cli_usage_error(render_usage, "give exactly one of '-o DIR' and '--json'");
	if (ctx->json && (a->web_root || a->cert_dir))
		return cli_usage_error(render_usage, "'--web-root' and '--cert-dir' need '-o DIR'");
	return EXIT_OK;
}

CLI_COMMAND(render, CLI_ONE_ARG("INVENTORY"), .args_size = sizeof(struct render_args),
	    .prepare = prepare);
