/* SPDX-License-Identifier: MIT */
/* The tenant of each managed domain (sts_plan_tenants.h): one table, filled by apply. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sts_err.h"
#include "sts_plan_tenants.h"

/*
 * Version 1 takes the tenants of the rows there are from their last applied
 * spec (SQLite, whose states predate the table; a PostgreSQL state is new).
 */
static const struct sts_db_migration migrations[] = {
    {1,
     "CREATE TABLE managed_tenants ("
     " domain TEXT PRIMARY KEY, tenant TEXT NOT NULL);"
     "INSERT INTO managed_tenants (domain, tenant)"
     " SELECT domain, json_extract(spec, '$.tenant') FROM managed_domains"
     " WHERE json_valid(spec) AND json_type(spec, '$.tenant') = 'text';",
     "CREATE TABLE managed_tenants ("
     " domain TEXT COLLATE \"C\" PRIMARY KEY, tenant TEXT COLLATE \"C\" NOT NULL);"},
};

STS_API int sts_plan_schema(struct sts_db *db)
{
	if (sts_db_is_readonly(db))
		return STS_OK;
	return sts_db_migrate(db, STS_PLAN_COMPONENT, migrations,
			      sizeof(migrations) / sizeof(migrations[0]));
}

STS_API int sts_plan_tenant_set(struct sts_db *db, const char *domain, const char *tenant)
{
	if (!tenant)
		return sts_db_execf(db, "DELETE FROM managed_tenants WHERE domain = ?", "t",
				    domain);
	return sts_db_execf(db,
			    "INSERT INTO managed_tenants (domain, tenant) VALUES (?, ?)"
			    " ON CONFLICT (domain) DO UPDATE SET tenant = excluded.tenant",
			    "tt", domain, tenant);
}

static void tenant_release(void *elem)
{
	struct sts_plan_tenant *t = elem;
	free(t->domain);
	free(t->tenant);
}

/* The "tenant" string of a spec (JSON written by plan/apply); *ret NULL without one. */
static int spec_tenant(const char *spec, char **ret)
{
	json_t *o = spec ? json_loads(spec, 0, NULL) : NULL;
	const char *t = json_string_value(json_object_get(o, "tenant"));
	*ret = t ? strdup(t) : NULL;
	json_decref(o);
	return t && !*ret ? STS_ENOMEM : STS_OK;
}

/* domain, the recorded tenant (or NULL), the spec */
static int tenant_row(struct sts_db_stmt *st, void *elem)
{
	struct sts_plan_tenant *t = elem;
	const char *d = sts_db_col_text(st, 0);
	const char *n = sts_db_col_text(st, 1);
	t->domain = d ? strdup(d) : NULL;
	if (!t->domain)
		return STS_ENOMEM;
	if (n)
		return (t->tenant = strdup(n)) ? STS_OK : STS_ENOMEM;
	return spec_tenant(sts_db_col_text(st, 2), &t->tenant);
}

STS_API int sts_plan_tenants_load(struct sts_db *db, struct sts_plan_tenant **ret, size_t *ret_n)
{
	int v = 0;
	int r = sts_db_schema_version(db, STS_PLAN_COMPONENT, &v);
	if (r < 0)
		return r;
	struct sts_db_rows q = {
	    .sql = v >= 1
		       ? "SELECT m.domain, t.tenant, m.spec FROM managed_domains m"
			 " LEFT JOIN managed_tenants t ON t.domain = m.domain ORDER BY m.domain"
		       : "SELECT m.domain, NULL, m.spec FROM managed_domains m ORDER BY m.domain",
	    .size = sizeof(struct sts_plan_tenant),
	    .row = tenant_row,
	    .release = tenant_release,
	    .what = "read the tenants of the managed domains",
	};
	struct sts_plan_tenant *all = NULL;
	size_t n = 0, k = 0;
	*ret = NULL;
	*ret_n = 0;
	if ((r = sts_db_read_rows(db, &q, &all, &n)) < 0)
		return r;
	/* only the domains whose tenant is known */
	for (size_t i = 0; i < n; i++) {
		if (all[i].tenant)
			all[k++] = all[i];
		else
			free(all[i].domain);
	}
	if (!k) {
		free(all);
		all = NULL;
	}
	*ret = all;
	*ret_n = k;
	return STS_OK;
}

STS_API void sts_plan_tenants_free(struct sts_plan_tenant *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		tenant_release(&v[i]);
	free(v);
}
