/* SPDX-License-Identifier: MIT */
/* Control characters made visible (sts_escape.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sts_err.h"
#include "sts_escape.h"

STS_API size_t sts_utf8_seq(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp, min;
	if (c < 0x80) {
		if (ret_cp)
			*ret_cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (ret_cp)
		*ret_cp = cp;
	return len;
}

/* bytes of s to copy as they are from here, or 0: escape s[0] */
static size_t plain_run(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	uint32_t cp = 0;
	size_t k = sts_utf8_seq(s, n, &cp);
	*ret_cp = cp;
	if (!k || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return k;
}

STS_API bool sts_escape_needed(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	for (size_t i = 0; i < n;) {
		size_t k = plain_run(p + i, n - i, &cp);
		if (!k)
			return true;
		i += k;
	}
	return false;
}

STS_API int sts_escape_append(struct sts_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len;
	int r = STS_OK;
	uint32_t cp;
	for (size_t i = 0; i < n && r == STS_OK;) {
		size_t k = plain_run(p + i, n - i, &cp);
		size_t run = 0;
		while (k) { /* copy the longest plain run at once */
			run += k;
			k = i + run < n ? plain_run(p + i + run, n - i - run, &cp) : 0;
		}
		if (run) {
			r = sts_buf_append(b, p + i, run);
			i += run;
			continue;
		}
		/* a C1 control is two bytes (C2 80..9F) and shown as one code point */
		if (cp >= 0x80 && cp <= 0x9f && p[i] == 0xc2) {
			r = sts_buf_printf(b, "\\u%04x", (unsigned)cp);
			i += 2;
		} else {
			r = sts_buf_printf(b, "\\x%02x", p[i]);
			i++;
		}
	}
	if (r < 0) { /* leave b as it was */
		b->len = start;
		if (b->data)
			b->data[start] = '\0';
	}
	return r;
}

STS_API const char *sts_escape_str(struct sts_buf *tmp, const char *s)
{
	size_t n = strlen(s);
	if (!sts_escape_needed(s, n))
		return s;
	sts_buf_reset(tmp);
	return sts_escape_append(tmp, s, n) == STS_OK ? sts_buf_str(tmp) : "(unprintable)";
}
