/* SPDX-License-Identifier: MIT */
#ifndef STS_CLI_SCOPE_H
#define STS_CLI_SCOPE_H

/*
 * One tenant at a time (issue 17): --tenant NAME (repeatable) on plan,
 * apply, check, status, report and watch, parsed here for all of them. The
 * scope is the union of the named tenants' domains (the inventory's, and
 * the managed domains the state DB records under them, so that a domain
 * taken out of the inventory is still its tenant's) and of any -t domains.
 */
#include <stdbool.h>
#include <stddef.h>

#include "cli_opts.h"

struct cli_ctx;

struct cli_scope {
	struct cli_list tenants; /* --tenant NAME, as given */
	struct cli_list targets; /* -t DOMAIN, as given (plan and apply) */
	/* cli_scope_resolve(): the tenants' domains (A-labels, sorted, unique),
	 * then every -t; all (n 0) is the scope when !active */
	char **names;
	size_t n, n_tenant_names;
	bool active;
};

/* The option of a command's struct with a struct cli_scope field. */
#define CLI_TENANT(T, field) CLI_LIST("tenant", 0, T, field.tenants)
#define CLI_TARGET(T, field) CLI_LIST("target", 't', T, field.targets)

/*
 * Resolve s against ctx->inv and ctx->db (either may be NULL). A tenant
 * that neither defines nor records is a usage error ("unknown tenant 'X':
 * did you mean 'Y'?"), as is --tenant without an inventory: EXIT_USAGE,
 * after the message. EXIT_OK, or EXIT_INTERNAL out of memory.
 */
int cli_scope_resolve(struct cli_ctx *ctx, struct cli_scope *s);

/* Is the domain (an A-label) in the scope? Every domain is when none was given. */
bool cli_scope_has(const struct cli_scope *s, const char *domain);

void cli_scope_release(struct cli_scope *s);

#endif
