/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the two TXT record parsers and the mx pattern functions.
 * The first byte selects the record: even -> _mta-sts (sts_sts_record_parse),
 * odd -> _smtp._tls (sts_tlsrpt_record_parse); the rest is the record text
 * (seeds use '0' and '1'). The rest is also split at its first '\n' into a
 * PATTERN and a HOSTNAME for sts_mx_pattern_check / sts_mx_match.
 * The TXT codec (sts_txt.h) reads the rest as presentation format: what it
 * decodes must encode and decode again to the same octets, and the rest
 * taken as a value must survive encode then decode (seeds with quotes and
 * escapes are named codec-*).
 * Aborts when a result contradicts its own checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_mx.h"
#include "sts_policy.h"
#include "sts_record.h"
#include "sts_txt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sts_record(const char *s, size_t n)
{
	struct sts_sts_record r;
	struct sts_diags d;
	sts_diags_init(&d);
	int rc = sts_sts_record_parse(s, n, &r, &d);
	if (rc != STS_ENOMEM) {
		if ((rc == STS_OK) != (d.n_errors == 0))
			abort();
		if (r.id && !sts_id_valid(r.id))
			abort();
		if (rc == STS_OK && !r.id)
			abort();
		for (size_t i = 0; i < r.n_ext; i++)
			if (!sts_ext_name_valid(r.ext[i].key, strlen(r.ext[i].key)))
				abort();
	}
	sts_sts_record_release(&r);
	sts_diags_release(&d);
}

static void tlsrpt_record(const char *s, size_t n)
{
	struct sts_tlsrpt_record r;
	struct sts_diags d;
	sts_diags_init(&d);
	int rc = sts_tlsrpt_record_parse(s, n, &r, &d);
	if (rc != STS_ENOMEM) {
		if ((rc == STS_OK) != (d.n_errors == 0))
			abort();
		if (rc == STS_OK && r.n_rua == 0)
			abort();
		for (size_t i = 0; i < r.n_rua; i++)
			if (sts_rua_check(r.rua[i], NULL) != STS_OK)
				abort();
	}
	sts_tlsrpt_record_release(&r);
	sts_diags_release(&d);
}

static void mx(const char *s, size_t n)
{
	const char *nl = memchr(s, '\n', n);
	size_t pn = nl ? (size_t)(nl - s) : n;
	char *pat = strndup(s, pn);
	char *host = nl ? strndup(nl + 1, n - pn - 1) : strndup(s, n);
	if (!pat || !host)
		goto out;
	const char *why = NULL;
	bool valid = sts_mx_pattern_check(pat, &why) == STS_OK;
	if (!valid && !why)
		abort();
	bool m = sts_mx_match(pat, host);
	/* matching is symmetric for plain names, and a name covers itself */
	if (valid && pat[0] != '*') {
		if (!sts_mx_match(pat, pat))
			abort();
		if (m != sts_mx_match(host, pat) && host[0] != '*')
			abort();
	}
	sts_rua_check(pat, NULL);
	sts_id_valid(pat);
out:
	free(pat);
	free(host);
}

/* decode(encode(v)) must be v, and encode's output printable ASCII. */
static void round_trip(const char *v, size_t n)
{
	char *enc = NULL, *dec = NULL;
	size_t el = 0, dl = 0;
	if (sts_txt_encode(v, n, &enc, &el) != STS_OK)
		return;
	for (size_t i = 0; i < el; i++)
		if (enc[i] < 0x20 || enc[i] >= 0x7f)
			abort();
	struct sts_txt_error e = {0, NULL};
	int rc = sts_txt_decode(enc, el, &dec, &dl, &e);
	if (rc == STS_OK && (dl != n || memcmp(dec, v, n) != 0))
		abort();
	if (rc != STS_OK && rc != STS_ENOMEM)
		abort();
	free(enc);
	free(dec);
}

static void txt_codec(const char *s, size_t n)
{
	char *v = NULL;
	size_t vl = 0;
	struct sts_txt_error e = {0, NULL};
	int rc = sts_txt_decode(s, n, &v, &vl, &e);
	if (rc == STS_EPARSE && (!e.msg || e.offset >= n))
		abort();
	if (rc == STS_OK) {
		if (vl > n)
			abort();
		round_trip(v, vl);
		free(v);
	}
	round_trip(s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	if (data[0] % 2 == 0)
		sts_record(s, n);
	else
		tlsrpt_record(s, n);
	mx(s, n);
	txt_codec(s, n);
	return 0;
}
