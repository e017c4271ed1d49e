/* SPDX-License-Identifier: MIT */
#ifndef STS_GZIP_H
#define STS_GZIP_H

#include <stddef.h>

#include "sts_api.h"
#include "sts_diag.h"

/*
 * Bounded gunzip (RFC 1952) for TLS-RPT reports (RFC 8460 §5.2, D2).
 *
 * The output grows in steps inside a struct sts_buf capped at max_out, so a
 * gzip bomb stops at the cap: the size declared in the gzip trailer (ISIZE)
 * is never trusted and never allocated up front.
 *
 * Decisions (docs/tlsrpt-parsing.md):
 *  - several concatenated gzip members are accepted and their contents
 *    concatenated, as gzip(1) does (RFC 1952 §2.2);
 *  - trailing NUL padding after the last member is ignored; any other
 *    trailing byte is an error (STS_EPARSE);
 *  - a stream that ends before a member's trailer is truncated (STS_EPARSE);
 *  - a CRC or length mismatch is STS_EPARSE;
 *  - past STS_GZIP_MIN_RATIO_CHECK bytes of output, an output larger than
 *    STS_GZIP_MAX_RATIO times the input is refused as a bomb (STS_ETOOLARGE).
 */

/* Compressed input cap for one report (RFC 8460 §5.2: receivers ~10 MB). */
#define STS_CAP_REPORT_COMPRESSED (10u * 1024u * 1024u)

/* Real TLS-RPT JSON compresses 5-30:1; deflate's hard limit is ~1032:1. */
#define STS_GZIP_MAX_RATIO 200u
/* The ratio check only applies once this much has been produced. */
#define STS_GZIP_MIN_RATIO_CHECK (1024u * 1024u)

/* 1 when data starts with the gzip magic 0x1f 0x8b, else 0. */
STS_API int sts_gzip_is_gzip(const void *data, size_t len);

/*
 * Decompress the gzip stream in[0..in_len) into a new NUL-terminated heap
 * buffer of at most max_out bytes (plus the NUL). On success *ret_data
 * (free()) and *ret_len are set; on failure they are untouched and an error
 * with the reason is appended to diags (may be NULL).
 *
 * Returns STS_OK, STS_EPARSE (not gzip, corrupt, truncated, trailing data),
 * STS_ETOOLARGE (input over STS_CAP_REPORT_COMPRESSED, output over max_out,
 * ratio over STS_GZIP_MAX_RATIO) or STS_ENOMEM.
 */
STS_API int sts_gzip_inflate(const void *in, size_t in_len, size_t max_out, char **ret_data,
			     size_t *ret_len, struct sts_diags *diags);

#endif
