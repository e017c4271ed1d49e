/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: inventory parser and validator (sts_inventory_parse, and
 * under it the position-keeping JSON parser). Besides memory errors it
 * aborts when the result contradicts itself: a valid inventory must hold
 * only values the validator promises (names found again by lookup, mx
 * patterns the policy checker accepts, in-range numbers, zones covering
 * their domain); every diagnostic must carry a position inside the text;
 * and the JSON parser must accept exactly what jansson accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sts_err.h"
#include "sts_inventory.h"
#include "sts_jsonpos.h"
#include "sts_mx.h"
#include "sts_policy.h"
#include "sts_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool covers(const char *zone, const char *name)
{
	size_t z = strlen(zone), n = strlen(name);
	return n == z ? strcmp(zone, name) == 0
		      : n > z && name[n - z - 1] == '.' && strcmp(name + n - z, zone) == 0;
}

static void check_valid(const struct sts_inventory *inv)
{
	for (size_t i = 0; i < inv->n_domains; i++) {
		const struct sts_domain *d = &inv->domains[i];
		if (!d->name || sts_inventory_find(inv, d->name) != d || d->n_mx == 0 ||
		    !sts_mode_name(d->mode) || d->max_age < 1 || d->max_age > STS_MAX_AGE_MAX ||
		    d->ttl < 1 || d->ttl > STS_TTL_MAX || !d->zone || !covers(d->zone, d->name))
			abort();
		for (size_t k = 0; k < d->n_mx; k++)
			if (sts_mx_pattern_check(d->mx[k], NULL) != STS_OK)
				abort();
		for (size_t k = 0; k < d->n_rua; k++)
			if (sts_rua_check(d->rua[k], NULL) != STS_OK)
				abort();
		if ((d->dns && !sts_inventory_provider(inv, d->dns)) ||
		    (d->web && !sts_inventory_provider(inv, d->web)))
			abort();
		if (d->hosting == STS_HOSTING_DELEGATED && !d->delegate_sts)
			abort();
	}
	for (size_t i = 0; i < inv->n_providers; i++)
		if (!inv->providers[i].plugin || !inv->providers[i].settings)
			abort();
}

/*
 * The arena parser and jansson agree on what is JSON (jansson nests deeper).
 * A raw NUL byte is never JSON (RFC 8259: not whitespace, and a string must
 * escape it), so such an input must be refused; jansson 2.14 is no oracle
 * there: it skips a NUL right after a number or literal and accepts
 * {"version": 1<NUL>, "a": 2} (found by libFuzzer in CI, 2026-12-07).
 */
static void differential(const char *text, size_t size)
{
	struct sts_jdoc doc;
	struct sts_jerr e;
	json_error_t je;
	int r = sts_jdoc_parse(text, size, &doc, &e);
	bool nul = memchr(text, '\0', size) != NULL;
	json_t *j = nul ? NULL : json_loadb(text, size, JSON_DECODE_ANY, &je);
	bool deep = r == STS_EPARSE && strcmp(e.message, "nesting too deep") == 0;
	if (r != STS_ENOMEM && !deep && (r == STS_OK) != (j != NULL))
		abort();
	if (r == STS_EPARSE && e.off > size)
		abort();
	json_decref(j);
	free(e.path);
	sts_jdoc_release(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	const char *text = (const char *)data;
	sts_diags_init(&d);
	int r = sts_inventory_parse(text, size, "fuzz.json", &inv, &d);
	if (r != STS_ENOMEM && r != STS_ETOOLARGE) {
		if ((r == STS_OK) != (d.n_errors == 0) || (r == STS_OK) != (inv != NULL))
			abort();
		size_t lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		for (size_t i = 0; i < d.n; i++)
			if (d.v[i].line < 1 || d.v[i].line > lines || d.v[i].col < 1 ||
			    d.v[i].col > size + 1 || !d.v[i].message)
				abort();
		if (inv)
			check_valid(inv);
	}
	sts_inventory_free(inv);
	sts_diags_release(&d);
	differential(text, size);
	return 0;
}
