/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_gzip.h"

STS_API int sts_gzip_is_gzip(const void *data, size_t len)
{
	const unsigned char *p = data;
	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

static int fail(struct sts_diags *diags, int err, const char *fmt, ...) STS_PRINTF(3, 4);

static int fail(struct sts_diags *diags, int err, const char *fmt, ...)
{
	struct sts_buf msg;
	va_list ap;

	if (!diags)
		return err;
	sts_buf_init(&msg, 4096);
	va_start(ap, fmt);
	int r = sts_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (r == 0)
		r = sts_diags_add(diags, STS_SEV_ERROR, "D2", NULL, 0, 0, NULL, "%s",
				  sts_buf_str(&msg));
	sts_buf_release(&msg);
	return r == STS_ENOMEM ? r : err;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* After a member's trailer: 1 = another member follows, 0 = done, <0 = error */
static int next_member(z_stream *zs, struct sts_diags *diags)
{
	if (zs->avail_in == 0 || all_zero(zs->next_in, zs->avail_in))
		return 0;
	if (!sts_gzip_is_gzip(zs->next_in, zs->avail_in))
		return fail(diags, STS_EPARSE, "trailing data after gzip member");
	if (inflateReset(zs) != Z_OK)
		return fail(diags, STS_EPARSE, "cannot restart gzip decoder");
	return 1;
}

STS_API int sts_gzip_inflate(const void *in, size_t in_len, size_t max_out, char **ret_data,
			     size_t *ret_len, struct sts_diags *diags)
{
	unsigned char chunk[16384];
	struct sts_buf out;
	z_stream zs;
	int r;

	if (in_len > STS_CAP_REPORT_COMPRESSED) {
		return fail(diags, STS_ETOOLARGE, "compressed report is larger than %u bytes",
			    STS_CAP_REPORT_COMPRESSED);
	}
	if (!sts_gzip_is_gzip(in, in_len))
		return fail(diags, STS_EPARSE, "input is not a gzip stream");

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return STS_ENOMEM;
	sts_buf_init(&out, max_out);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)in_len;

	for (;;) {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		int zr = inflate(&zs, Z_NO_FLUSH);
		size_t produced = sizeof(chunk) - zs.avail_out;
		if (produced) {
			r = sts_buf_append(&out, chunk, produced);
			if (r == STS_ETOOLARGE) {
				r = fail(diags, r,
					 "decompressed report exceeds %zu bytes (gzip bomb?)",
					 max_out);
				goto out;
			}
			if (r < 0)
				goto out;
			if (out.len > STS_GZIP_MIN_RATIO_CHECK &&
			    out.len / STS_GZIP_MAX_RATIO > in_len) {
				r = fail(diags, STS_ETOOLARGE,
					 "compression ratio exceeds %u:1 (gzip bomb?)",
					 STS_GZIP_MAX_RATIO);
				goto out;
			}
		}
		if (zr == Z_STREAM_END) {
			r = next_member(&zs, diags);
			if (r < 0)
				goto out;
			if (r == 0)
				break;
			continue;
		}
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
			r = fail(diags, STS_EPARSE, "gzip stream is truncated");
			goto out;
		}
		if (zr == Z_MEM_ERROR) {
			r = STS_ENOMEM;
			goto out;
		}
		r = fail(diags, STS_EPARSE, "corrupt gzip stream: %s",
			 zs.msg ? zs.msg : "invalid data");
		goto out;
	}

	if (!out.data) {
		r = sts_buf_append(&out, "", 0);
		if (r < 0)
			goto out;
	}
	*ret_len = out.len;
	*ret_data = sts_buf_steal(&out);
	r = STS_OK;
out:
	inflateEnd(&zs);
	sts_buf_release(&out);
	return r;
}
