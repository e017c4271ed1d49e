/* SPDX-License-Identifier: MIT */
/* --tenant and -t: the scope of plan, apply, check, status, report and watch (cli_scope.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_ctx.h"
#include "cli_scope.h"
#include "sts_err.h"
#include "sts_plan_tenants.h"

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static int tenant_cmp(const void *x, const void *y)
{
	return strcmp(((const struct sts_plan_tenant *)x)->tenant,
		      ((const struct sts_plan_tenant *)y)->tenant);
}

static bool listed(const struct cli_list *l, const char *s)
{
	for (size_t i = 0; s && i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

static int add(struct cli_scope *s, size_t *cap, const char *name)
{
	if (s->n + 1 >= *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		char **v = realloc(s->names, nc * sizeof(*v));
		if (!v)
			return STS_ENOMEM;
		s->names = v;
		*cap = nc;
	}
	if (!(s->names[s->n] = strdup(name)))
		return STS_ENOMEM;
	s->names[++s->n] = NULL;
	return STS_OK;
}

/* Every tenant given is defined by the inventory or recorded in the state. */
static int check_tenants(const struct cli_ctx *ctx, const struct cli_scope *s,
			 const struct sts_plan_tenant *rec, size_t n_rec)
{
	const struct sts_inventory *inv = ctx->inv;
	const char **cands = calloc(inv->n_tenants + n_rec + 1, sizeof(*cands));
	size_t n = 0;
	int rc = EXIT_OK;
	if (!cands)
		return EXIT_INTERNAL;
	for (size_t i = 0; i < inv->n_tenants; i++)
		cands[n++] = inv->tenants[i].name;
	for (size_t i = 0; i < n_rec; i++)
		if (i == 0 || strcmp(rec[i].tenant, rec[i - 1].tenant) != 0)
			cands[n++] = rec[i].tenant;
	for (size_t t = 0; t < s->tenants.n; t++) {
		const char *name = s->tenants.v[t];
		bool known = false;
		for (size_t i = 0; !known && i < n; i++)
			known = strcmp(cands[i], name) == 0;
		if (known)
			continue;
		const char *hint = sts_suggest(name, cands, n);
		if (hint)
			sts_log_err("unknown tenant '%s': did you mean '%s'?", name, hint);
		else
			sts_log_err("unknown tenant '%s': not in inventory '%s' nor in the state",
				    name, inv->path ? inv->path : "-");
		rc = EXIT_USAGE;
	}
	free(cands);
	return rc;
}

static int tenant_domains(struct cli_scope *s, const struct sts_inventory *inv,
			  const struct sts_plan_tenant *rec, size_t n_rec, size_t *cap)
{
	int r = STS_OK;
	for (size_t i = 0; r == STS_OK && i < inv->n_domains; i++)
		if (listed(&s->tenants, inv->domains[i].tenant))
			r = add(s, cap, inv->domains[i].name);
	/* a domain taken out of the inventory stays its recorded tenant's */
	for (size_t i = 0; r == STS_OK && i < n_rec; i++)
		if (listed(&s->tenants, rec[i].tenant) && !sts_inventory_find(inv, rec[i].domain))
			r = add(s, cap, rec[i].domain);
	if (r < 0)
		return r;
	qsort(s->names, s->n, sizeof(*s->names), str_cmp);
	size_t k = 0; /* unique */
	for (size_t i = 0; i < s->n; i++) {
		if (k && strcmp(s->names[k - 1], s->names[i]) == 0)
			free(s->names[i]);
		else
			s->names[k++] = s->names[i];
	}
	s->n = k;
	s->n_tenant_names = k;
	return STS_OK;
}

int cli_scope_resolve(struct cli_ctx *ctx, struct cli_scope *s)
{
	struct sts_plan_tenant *rec = NULL;
	size_t n_rec = 0, cap = 0;
	int rc = EXIT_OK, r = STS_OK;
	s->active = s->tenants.n || s->targets.n;
	if (s->tenants.n && !ctx->inv)
		return cli_usage_error(ctx->def->usage, "--tenant needs the inventory");
	if (s->tenants.n && ctx->db && (r = sts_plan_tenants_load(ctx->db, &rec, &n_rec)) < 0) {
		cli_db_error(ctx, r);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
	/* by tenant name: each one once among the candidates */
	if (n_rec)
		qsort(rec, n_rec, sizeof(*rec), tenant_cmp);
	if (s->tenants.n && (rc = check_tenants(ctx, s, rec, n_rec)) != EXIT_OK)
		goto out;
	if (s->tenants.n && (r = tenant_domains(s, ctx->inv, rec, n_rec, &cap)) < 0)
		goto out;
	for (size_t i = 0; r == STS_OK && i < s->targets.n; i++)
		r = add(s, &cap, s->targets.v[i]);
out:
	sts_plan_tenants_free(rec, n_rec);
	if (r < 0) {
		sts_log_err("out of memory");
		rc = EXIT_INTERNAL;
	}
	return rc;
}

bool cli_scope_has(const struct cli_scope *s, const char *domain)
{
	if (!s->active)
		return true;
	if (bsearch(&domain, s->names, s->n_tenant_names, sizeof(*s->names), str_cmp))
		return true;
	for (size_t i = s->n_tenant_names; i < s->n; i++)
		if (strcmp(s->names[i], domain) == 0)
			return true;
	return false;
}

void cli_scope_release(struct cli_scope *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->n = s->n_tenant_names = 0;
}
