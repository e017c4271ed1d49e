/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: MTA-STS policy body parser (sts_policy_parse). Besides
 * memory errors it aborts when the result contradicts the diagnostics:
 * a policy reported valid must have no error, a version, a mode, an
 * in-range max_age, and only mx patterns that sts_mx_pattern_check accepts.
 */
#include <stdint.h>
#include <stdlib.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_mx.h"
#include "sts_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int r, const struct sts_policy *p, const struct sts_diags *d)
{
	if (r == STS_ENOMEM)
		return;
	if ((r == STS_OK) != (d->n_errors == 0))
		abort();
	if (p->max_age != -1 && (p->max_age < 0 || p->max_age > STS_MAX_AGE_MAX))
		abort();
	for (size_t i = 0; i < p->n_mx; i++)
		if (sts_mx_pattern_check(p->mx[i], NULL) != STS_OK)
			abort();
	if (r != STS_OK)
		return;
	if (!p->version || !sts_mode_name(p->mode) || p->max_age < 0)
		abort();
	if (p->n_mx == 0 && p->mode != STS_MODE_NONE)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_policy p;
	struct sts_diags d;
	struct sts_buf b;
	sts_diags_init(&d);
	int r = sts_policy_parse((const char *)data, size, &p, &d);
	check(r, &p, &d);
	/* every finding must format */
	sts_buf_init(&b, 1u << 20);
	for (size_t i = 0; i < d.n; i++) {
		sts_buf_reset(&b);
		if (sts_diag_format(&d.v[i], &b) != STS_OK)
			abort();
	}
	sts_buf_release(&b);
	/* without diags the verdict is the same */
	struct sts_policy q;
	int r2 = sts_policy_parse((const char *)data, size, &q, NULL);
	if (r != STS_ENOMEM && r2 != STS_ENOMEM && r2 != r)
		abort();
	sts_policy_release(&q);
	sts_policy_release(&p);
	sts_diags_release(&d);
	return 0;
}
