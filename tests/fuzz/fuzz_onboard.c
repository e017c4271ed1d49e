/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: `stsctl onboard --csv FILE` input. The rows
 * (sts_onboard_csv), each domain normalised as the command does
 * (sts_check_domain_name), then the proposed entries written as a new
 * inventory (sts_onboard_document) and merged into an inventory's text
 * (sts_onboard_merge), as onboard does after its live check (not run
 * here: it needs the network). Besides memory errors it aborts when a row
 * is empty, untrimmed or has a ',' in its tenant, when a line number goes
 * backwards, and when the document or the merged inventory is not JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sts_buf.h"
#include "sts_check.h"
#include "sts_err.h"
#include "sts_onboard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char inventory[] = "{\n"
				"  \"version\": 1,\n"
				"  \"tenants\": {\"acme\": {}},\n"
				"  \"domains\": [\n"
				"    {\"name\": \"old.example\", \"mx\": [\"mx.old.example\"]}\n"
				"  ]\n"
				"}\n";

static bool trimmed(const char *s)
{
	size_t n = strlen(s);
	return n && !strchr(" \t\"", s[0]) && !strchr(" \t\"\r", s[n - 1]);
}

static void must_be_json(const struct sts_buf *b)
{
	json_error_t e;
	json_t *j = json_loadb(b->data ? b->data : "", b->len, 0, &e);
	if (!j)
		abort();
	json_decref(j);
}

static void propose(const struct sts_onboard_row *rows, size_t n)
{
	struct sts_onboard ob;
	memset(&ob, 0, sizeof(ob));
	if (!(ob.v = calloc(n + 1, sizeof(*ob.v))))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		char *norm = NULL;
		int r = sts_check_domain_name(rows[i].domain, &norm, &why);
		if (r == STS_EINVAL && !why)
			abort();
		if (r < 0)
			continue;
		struct sts_onboard_entry *e = &ob.v[ob.n++];
		e->name = norm;
		e->tenant = rows[i].tenant ? strdup(rows[i].tenant) : NULL;
		e->mx = calloc(1, sizeof(char *));
		if (e->mx && (e->mx[0] = strdup(norm)))
			e->n_mx = 1;
		e->max_age = i % 2 ? 86400 : -1;
		e->status = i % 3 ? STS_ONBOARD_PROPOSED : STS_ONBOARD_FLAGGED;
		ob.n_proposed += e->status == STS_ONBOARD_PROPOSED;
	}
	struct sts_buf doc, merged;
	sts_buf_init(&doc, 1u << 24);
	sts_buf_init(&merged, 1u << 24);
	/* a tenant that is not UTF-8 fails to encode (the command rejects it first) */
	if (sts_onboard_document(&ob, &doc) == STS_OK)
		must_be_json(&doc);
	const char *why = NULL;
	if (sts_onboard_merge(inventory, sizeof(inventory) - 1, &ob, &merged, &why) == STS_OK)
		must_be_json(&merged);
	sts_buf_release(&doc);
	sts_buf_release(&merged);
	sts_onboard_release(&ob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_onboard_row *rows = NULL;
	size_t n = 0;
	unsigned line = 0, last = 0;
	int r = sts_onboard_csv((const char *)data, size, &rows, &n, &line);
	for (size_t i = 0; i < n; i++) {
		const struct sts_onboard_row *w = &rows[i];
		if (!trimmed(w->domain) || w->domain[0] == '#' || w->line <= last)
			abort();
		if (w->tenant && (!trimmed(w->tenant) || strchr(w->tenant, ',')))
			abort();
		last = w->line;
	}
	if (r == STS_EPARSE && line <= last)
		abort();
	if (r == STS_OK)
		propose(rows, n);
	sts_onboard_rows_free(rows, n);
	return 0;
}
