/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: report e-mail (sts_mime_extract_reports), then every
 * extracted part through sts_tlsrpt_parse_blob. Besides memory errors it
 * aborts when a success carries no report part, a part is over its cap, or
 * the raw header block is not the message's own prefix.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_gzip.h"
#include "sts_mime.h"
#include "sts_tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_mime_reports *m = NULL;
	struct sts_diags d;

	sts_diags_init(&d);
	int r = sts_mime_extract_reports(data, size, &m, &d);
	if (r != STS_ENOMEM && (r == STS_OK) != (d.n_errors == 0))
		abort();
	if (r != STS_OK) {
		if (m)
			abort();
		sts_diags_release(&d);
		return 0;
	}
	if (m->n_blobs == 0 || m->n_blobs > STS_MIME_MAX_REPORTS)
		abort();
	if (m->raw_headers_len > size || m->body_offset > size ||
	    m->body_offset < m->raw_headers_len ||
	    memcmp(m->raw_headers, data, m->raw_headers_len) != 0)
		abort();
	for (size_t i = 0; i < m->n_blobs; i++) {
		struct sts_tlsrpt_report *rep = NULL;
		if (m->blobs[i].len > STS_CAP_REPORT_COMPRESSED || !m->blobs[i].media_type ||
		    m->blobs[i].data[m->blobs[i].len] != '\0')
			abort();
		struct sts_diags d2;
		sts_diags_init(&d2);
		sts_tlsrpt_parse_blob(m->blobs[i].data, m->blobs[i].len, &rep, &d2);
		sts_tlsrpt_report_free(rep);
		sts_diags_release(&d2);
	}
	sts_mime_reports_free(m);
	sts_diags_release(&d);
	return 0;
}
