/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: DKIM-Signature and Authentication-Results header fields of
 * report e-mail (sts_dkim.c): sts_dkim_trusted_ar, then sts_dkim_check
 * (libopendkim, with the key taken from the input instead of DNS).
 * Input: the first line is a DKIM key record ("v=DKIM1; k=rsa; p=..."),
 * configured for the selectors the seeds use; the rest is the message,
 * split into the header block and the body at the first empty line. The
 * reporting domain is example.com and the trusted MTA mx.example.net.
 * Besides memory errors it aborts when a pass names no domain or one not
 * aligned with the reporting domain, or a result has no reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts_dkim.h"
#include "sts_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPORTING "example.com"

static char *const trusted[] = {(char *)"mx.example.net", (char *)"mail.example.com"};
static char *const key_names[] = {
    (char *)"sel._domainkey.example.com",
    (char *)"s2026._domainkey.mail.example.com",
    (char *)"tlsrpt._domainkey.example.org",
};

/* end of the header block: just after the line end before the first empty line */
static size_t header_end(const char *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i] != '\n')
			continue;
		if (i + 1 < n && m[i + 1] == '\n')
			return i + 1;
		if (i + 2 < n && m[i + 1] == '\r' && m[i + 2] == '\n')
			return i + 1;
	}
	return n;
}

static size_t body_start(const char *m, size_t n, size_t h)
{
	if (h < n && m[h] == '\n')
		return h + 1;
	if (h + 1 < n && m[h] == '\r' && m[h + 1] == '\n')
		return h + 2;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size);
	size_t kl = nl ? (size_t)(nl - s) : size;
	char *key = strndup(s, kl);
	if (!key)
		return 0;
	const char *msg = nl ? nl + 1 : s + size;
	size_t n = size - (size_t)(msg - s);
	size_t h = header_end(msg, n), b = body_start(msg, n, h);

	char *dom = NULL, *id = NULL;
	int v = sts_dkim_trusted_ar(msg, h, trusted, 2, REPORTING, &dom, &id);
	if (v == 1 && (!dom || !id || !sts_dkim_aligned(dom, REPORTING)))
		abort();
	if (v == 0 && (dom || id))
		abort();
	free(dom);
	free(id);

	char *key_values[] = {key, key, key};
	struct sts_dkim_conf conf = {
	    .key_names = key_names,
	    .key_values = key_values,
	    .n_keys = 3,
	    .dns = false,
	    .trusted_mtas = trusted,
	    .n_trusted_mtas = 2,
	};
	struct sts_dkim *d = NULL;
	if (sts_dkim_new(&conf, &d) < 0)
		goto out;
	struct sts_dkim_result res = {0};
	int r = sts_dkim_check(d, msg, h, msg + b, n - b, REPORTING, &res);
	if (r == STS_OK) {
		if (!res.reason)
			abort();
		if (res.pass && (!res.domain || !sts_dkim_aligned(res.domain, REPORTING)))
			abort();
		if (v == 1 && !res.pass)
			abort(); /* a trusted pass decides */
	}
	sts_dkim_result_release(&res);
	sts_dkim_free(d);
out:
	free(key);
	return 0;
}
