/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: TLS-RPT report body (sts_tlsrpt_parse_blob: gzip or JSON).
 * Besides memory errors it aborts when the result breaks the model's
 * promises: success iff no error in diags, counts within 0..2^53, sums
 * consistent, policy-string equal to itself as a set, warnings capped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_policy(const struct sts_tlsrpt_policy *p)
{
	int64_t sum = 0;
	if (p->success_count < 0 || p->success_count > STS_TLSRPT_MAX_COUNT)
		abort();
	if (p->failure_count < 0 || p->failure_count > STS_TLSRPT_MAX_COUNT)
		abort();
	for (size_t i = 0; i < p->n_failures; i++) {
		const struct sts_tlsrpt_failure *f = &p->failures[i];
		if (f->failed_session_count < 0 || f->failed_session_count > STS_TLSRPT_MAX_COUNT)
			abort();
		if (f->category != sts_tlsrpt_result_category(f->result_type))
			abort();
		if (f->result_type && !*f->result_type)
			abort();
		sum += f->failed_session_count;
	}
	if (sum != p->failure_detail_sum)
		abort();
	if (sts_tlsrpt_policy_failed_sessions(p) < p->failure_count)
		abort();
	if (!sts_tlsrpt_policy_lines_equal(p->policy_string, p->n_policy_string, p->policy_string,
					   p->n_policy_string))
		abort();
	if (p->policy_domain)
		for (const char *s = p->policy_domain; *s; s++)
			if (*s >= 'A' && *s <= 'Z')
				abort();
	if (p->type == STS_TLSRPT_POLICY_UNKNOWN && p->type_raw && !*p->type_raw)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_tlsrpt_report *rep = NULL;
	struct sts_diags d;

	sts_diags_init(&d);
	int r = sts_tlsrpt_parse_blob(data, size, &rep, &d);
	if (r != STS_ENOMEM && (r == STS_OK) != (d.n_errors == 0))
		abort();
	if (r == STS_OK) {
		if (!rep || rep->end < rep->start || !rep->start_raw || !rep->end_raw)
			abort();
		if (rep->n_warnings > STS_TLSRPT_MAX_WARNINGS)
			abort();
		for (size_t i = 0; i < rep->n_warnings; i++)
			if (!rep->warnings[i].code ||
			    !sts_tlsrpt_report_has_warning(rep, rep->warnings[i].code))
				abort();
		for (size_t i = 0; i < rep->n_policies; i++)
			check_policy(&rep->policies[i]);
	} else if (rep) {
		abort();
	}
	sts_tlsrpt_report_free(rep);
	sts_diags_release(&d);
	return 0;
}
