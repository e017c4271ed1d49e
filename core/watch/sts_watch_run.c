/* SPDX-License-Identifier: MIT */
/* One domain's transition through plan and apply, and the webhook document (sts_watch_run.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_apply.h"
#include "sts_err.h"
#include "sts_watch_run.h"

int sts_watch_apply_domain(struct sts_watch_run *w, const struct sts_domain *d, char **reterr)
{
	struct sts_plan *p = NULL;
	struct sts_apply_result res = {0};
	struct sts_diags scratch;
	const char *target = d->name;
	struct sts_plan_opts po = {.targets = &target, .n_targets = 1, .for_apply = true};
	*reterr = NULL;
	sts_diags_init(&scratch);
	int r = sts_plan_build(w->inv, w->db, w->io, &po, &p, w->diags ? w->diags : &scratch);
	sts_diags_release(&scratch);
	if (r < 0) {
		sts_plan_free(p);
		return asprintf(reterr, "cannot plan '%s'", d->name) < 0 ? STS_ENOMEM
									 : STS_EINVALID;
	}
	struct sts_apply_opts o = {.concurrency = 1};
	r = sts_apply_run(p, w->db, w->io, &o, &res);
	if (r == STS_OK && res.n_failed && res.n_failures) {
		const struct sts_apply_failure *f = &res.failures[0];
		r = f->err < 0 ? f->err : STS_EPROVIDER;
		if (asprintf(reterr, "apply failed at '%s': %s", f->step,
			     f->message ? f->message : sts_strerror(f->err)) < 0)
			*reterr = NULL;
	} else if (r < 0 && asprintf(reterr, "apply: %s", sts_strerror(r)) < 0)
		*reterr = NULL;
	if (r == STS_EDB || r == STS_ENOMEM)
		r = STS_EPROVIDER; /* the domain failed; the watcher's own DB work goes on */
	sts_apply_result_release(&res);
	sts_plan_free(p);
	return r;
}

int sts_watch_ingest(const struct sts_inventory *inv, struct sts_db *db,
		     void (*on_skip)(void *ud, const char *source, const char *why), void *ud,
		     struct sts_ingest_stats *ret_stats, char **reterr)
{
	struct sts_ingest_conf *conf = NULL;
	struct sts_ingest *ing = NULL;
	*reterr = NULL;
	memset(ret_stats, 0, sizeof(*ret_stats));
	int r = sts_ingest_conf_from_json(json_object_get(inv->root, "reports"), inv->dir, &conf,
					  reterr);
	if (r < 0)
		return r == STS_ENOMEM ? r : STS_EINVALID;
	if (!conf->n_sources)
		goto out;
	struct sts_ingest_opts o = {.conf = conf};
	if ((r = sts_ingest_new(db, &o, &ing)) < 0)
		goto out;
	for (size_t i = 0; i < conf->n_sources; i++) {
		const char *spec = conf->sources[i].spec;
		r = sts_ingest_source(ing, spec);
		if (r == STS_EDB || r == STS_ENOMEM)
			goto out;
		if (r < 0 && on_skip)
			on_skip(ud, spec,
				*sts_ingest_errmsg(ing) ? sts_ingest_errmsg(ing) : sts_strerror(r));
	}
	if ((r = sts_ingest_finish(ing)) == STS_OK)
		*ret_stats = *sts_ingest_get_stats(ing);
out:
	if (r == STS_EDB && !(*reterr = strdup(ing ? sts_ingest_errmsg(ing) : sts_db_errmsg(db))))
		r = STS_ENOMEM;
	sts_ingest_free(ing);
	sts_ingest_conf_free(conf);
	return r == STS_EDB || r == STS_ENOMEM ? r : STS_OK;
}

bool sts_watch_all_reports(const struct sts_inventory *inv)
{
	const char *e =
	    json_string_value(json_object_get(json_object_get(inv->root, "reports"), "evidence"));
	return e && strcmp(e, "all") == 0;
}

json_t *sts_watch_webhook_doc(const struct sts_watch_result *res, int64_t now, size_t *ret_n)
{
	char when[32];
	*ret_n = 0;
	if (!res->n_changed)
		return NULL;
	json_t *doc = sts_watch_result_json(res), *keep = json_array(), *d;
	size_t i;
	if (!doc || !keep) {
		json_decref(doc);
		json_decref(keep);
		*ret_n = 1;
		return NULL;
	}
	json_array_foreach(json_object_get(doc, "decisions"), i, d)
	{
		if (!json_equal(json_object_get(d, "from"), json_object_get(d, "to")) ||
		    json_object_get(d, "error"))
			json_array_append(keep, d);
	}
	json_decref(doc);
	*ret_n = json_array_size(keep);
	sts_time_rfc3339(now, when);
	return json_pack("{s:s,s:s,s:o}", "source", "stsctl watch", "time", when, "decisions",
			 keep);
}
