/* SPDX-License-Identifier: MIT */
#ifndef STS_PLAN_TENANTS_H
#define STS_PLAN_TENANTS_H

/*
 * The tenant of each managed domain in the state DB (component "plan",
 * docs/state.md): recorded by apply from the inventory it applies, so that a
 * domain taken out of the inventory still belongs to its tenant and a plan
 * scoped to that tenant (--tenant) shows its removal.
 */
#include <stddef.h>

#include "sts_api.h"
#include "sts_db.h"

#define STS_PLAN_COMPONENT "plan"

/* Migrate the component (apply; a read-only DB is left as it is). */
STS_API int sts_plan_schema(struct sts_db *db);

/* Record domain's tenant (NULL: none; the row goes). */
STS_API int sts_plan_tenant_set(struct sts_db *db, const char *domain, const char *tenant);

struct sts_plan_tenant {
	char *domain;
	char *tenant;
};

/*
 * Every managed domain whose tenant is known, sorted by domain: the recorded
 * tenant, else (a DB apply has not migrated yet) the one in the domain's
 * last applied spec. *ret is NULL without any.
 */
STS_API int sts_plan_tenants_load(struct sts_db *db, struct sts_plan_tenant **ret, size_t *ret_n);
STS_API void sts_plan_tenants_free(struct sts_plan_tenant *v, size_t n);

#endif
