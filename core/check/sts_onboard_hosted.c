/* SPDX-License-Identifier: MIT */
/*
 * stsctl onboard --hosted (sts_onboard.h): per domain the two CNAMEs its
 * customer publishes, with the label from the state, and whether DNS
 * already shows them.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sts_err.h"
#include "sts_hosted_label.h"
#include "sts_onboard.h"
#include "sts_resolve.h"

#define BATCH 64 /* domains resolved at a time (3 lookups each) */

static int label_of(struct sts_onboard_hosted_entry *e, struct sts_db *db, bool allocate)
{
	bool found = false, fresh = false;
	int r = STS_OK;
	if (db && allocate) {
		r = sts_hosted_label_alloc(db, e->domain, sts_db_now(db), e->label, &fresh);
		e->label_source = fresh ? STS_ONBOARD_LABEL_ALLOCATED : STS_ONBOARD_LABEL_STORED;
		return r;
	}
	if (db)
		r = sts_hosted_label_get(db, e->domain, e->label, &found);
	if (r < 0 || found) {
		e->label_source = STS_ONBOARD_LABEL_STORED;
		return r;
	}
	e->label_source = STS_ONBOARD_LABEL_COMPUTED;
	return sts_hosted_label(e->domain, e->label);
}

static int resolve_batch(struct sts_resolver *res, struct sts_onboard_hosted_entry *v, size_t n)
{
	struct sts_dns_query q[BATCH * 3];
	char *names[BATCH * 2] = {NULL};
	int r = STS_OK;
	for (size_t i = 0; i < n; i++) {
		/* the record names without their final dot */
		for (size_t k = 0; k < 2; k++) {
			names[i * 2 + k] = strdup(v[i].rec[k].name);
			if (!names[i * 2 + k])
				r = STS_ENOMEM;
			else
				names[i * 2 + k][strlen(names[i * 2 + k]) - 1] = '\0';
		}
		sts_dns_query_init(&q[i * 3], names[i * 2] ? names[i * 2] : "", STS_DNS_TXT);
		sts_dns_query_init(&q[i * 3 + 1], names[i * 2 + 1] ? names[i * 2 + 1] : "",
				   STS_DNS_A);
		sts_dns_query_init(&q[i * 3 + 2], names[i * 2 + 1] ? names[i * 2 + 1] : "",
				   STS_DNS_AAAA);
	}
	if (r == STS_OK)
		r = sts_resolver_run(res, q, n * 3);
	for (size_t i = 0; r == STS_OK && i < n; i++) {
		r = sts_hosted_rec_eval(&v[i].rec[0], &q[i * 3], NULL, NULL, 0);
		if (r == STS_OK)
			r = sts_hosted_rec_eval(&v[i].rec[1], &q[i * 3 + 1], &q[i * 3 + 2], NULL,
						0);
	}
	for (size_t i = 0; i < n * 3; i++)
		sts_dns_query_release(&q[i]);
	for (size_t i = 0; i < n * 2; i++)
		free(names[i]);
	return r;
}

STS_API int sts_onboard_hosted_run(const char *const *names, size_t n,
				   const struct sts_hosted_conf *h, const struct sts_inventory *inv,
				   struct sts_db *db, bool allocate, const struct sts_check_opts *o,
				   struct sts_onboard_hosted *ret, const char **reterr)
{
	memset(ret, 0, sizeof(*ret));
	if (!(ret->v = calloc(n ? n : 1, sizeof(*ret->v))))
		return STS_ENOMEM;
	int r = STS_OK;
	for (size_t i = 0; r == STS_OK && i < n; i++) {
		struct sts_onboard_hosted_entry *e = &ret->v[i];
		ret->n = i + 1;
		if (!(e->domain = strdup(names[i])))
			return STS_ENOMEM;
		e->inv = inv ? sts_inventory_find(inv, e->domain) : NULL;
		r = label_of(e, db, allocate);
		if (r == STS_OK)
			r = sts_hosted_recs_init(e->rec, e->domain, e->label, h);
	}
	if (r < 0)
		return r;
	struct sts_resolver_opts ro = {.server = o->resolver, .timeout_ms = o->dns_timeout_ms};
	struct sts_resolver *res = NULL;
	if ((r = sts_resolver_new(&ro, &res, reterr)) < 0)
		return r == STS_ENOMEM ? r : STS_EIO;
	for (size_t i = 0; r == STS_OK && i < n; i += BATCH)
		r = resolve_batch(res, ret->v + i, n - i < BATCH ? n - i : BATCH);
	sts_resolver_free(res);
	for (size_t i = 0; r == STS_OK && i < n; i++)
		ret->n_ready += ret->v[i].rec[0].state == STS_HOSTED_REC_PRESENT &&
				ret->v[i].rec[1].state == STS_HOSTED_REC_PRESENT;
	return r;
}

STS_API void sts_onboard_hosted_release(struct sts_onboard_hosted *ob)
{
	if (!ob)
		return;
	for (size_t i = 0; i < ob->n; i++) {
		free(ob->v[i].domain);
		sts_hosted_rec_release(&ob->v[i].rec[0]);
		sts_hosted_rec_release(&ob->v[i].rec[1]);
	}
	free(ob->v);
	memset(ob, 0, sizeof(*ob));
}

static const char *const label_sources[] = {"stored", "allocated", "computed"};

static const char *inventory_hosting(const struct sts_onboard_hosted_entry *e)
{
	if (!e->inv)
		return NULL;
	return e->inv->hosting == STS_HOSTING_HOSTED	  ? "hosted"
	       : e->inv->hosting == STS_HOSTING_DELEGATED ? "delegated"
							  : "self";
}

STS_API json_t *sts_onboard_hosted_json(const struct sts_onboard_hosted *ob)
{
	json_t *doms = json_array();
	for (size_t i = 0; doms && i < ob->n; i++) {
		const struct sts_onboard_hosted_entry *e = &ob->v[i];
		json_t *recs = json_array();
		for (size_t k = 0; recs && k < 2; k++) {
			const struct sts_hosted_rec *rec = &e->rec[k];
			if (json_array_append_new(
				recs, json_pack("{s:s,s:s,s:s,s:s,s:s*}", "name", rec->name, "type",
						"CNAME", "target", rec->target, "state",
						sts_hosted_rec_state_name(rec->state), "found",
						rec->found)) < 0) {
				json_decref(recs);
				recs = NULL;
			}
		}
		const char *h = inventory_hosting(e);
		json_t *d =
		    json_pack("{s:s,s:s,s:s,s:o,s:b,s:o*}", "domain", e->domain, "label", e->label,
			      "label_source", label_sources[e->label_source], "inventory_hosting",
			      h ? json_string(h) : json_null(), "ready",
			      e->rec[0].state == STS_HOSTED_REC_PRESENT &&
				  e->rec[1].state == STS_HOSTED_REC_PRESENT,
			      "records", recs);
		if (!d || json_array_append_new(doms, d) < 0) {
			json_decref(doms);
			return NULL;
		}
	}
	return doms ? json_pack("{s:o,s:I,s:I}", "domains", doms, "ready", (json_int_t)ob->n_ready,
				"pending", (json_int_t)(ob->n - ob->n_ready))
		    : NULL;
}

STS_API int sts_onboard_hosted_text(const struct sts_onboard_hosted *ob, struct sts_buf *out)
{
	int r = STS_OK;
	for (size_t i = 0; r == STS_OK && i < ob->n; i++) {
		const struct sts_onboard_hosted_entry *e = &ob->v[i];
		const char *h = inventory_hosting(e);
		r = sts_buf_printf(
		    out, "%s%s (label %s, %s)%s%s%s\n", i ? "\n" : "", e->domain, e->label,
		    label_sources[e->label_source], !h ? ": not in the inventory" : "",
		    h && strcmp(h, "hosted") != 0 ? ": the inventory says hosting " : "",
		    h && strcmp(h, "hosted") != 0 ? h : "");
		for (size_t k = 0; r == STS_OK && k < 2; k++) {
			r = sts_buf_printf(out, "  %s CNAME %s\n    ", e->rec[k].name,
					   e->rec[k].target);
			if (r == STS_OK)
				r = sts_hosted_rec_describe(&e->rec[k], out);
			if (r == STS_OK)
				r = sts_buf_putc(out, '\n');
		}
	}
	return r;
}
