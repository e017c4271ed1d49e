/* SPDX-License-Identifier: MIT */
/* TXT character-strings: split, presentation format both ways (sts_txt.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_txt.h"

STS_API void sts_txt_strings_release(struct sts_txt_strings *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->s && i < s->n; i++)
		free(s->s[i]);
	free(s->s);
	free(s->len);
	memset(s, 0, sizeof(*s));
}

STS_API int sts_txt_split(const void *value, size_t len, struct sts_txt_strings *ret)
{
	const char *v = value;
	size_t n = len ? (len + STS_TXT_STRING_MAX - 1) / STS_TXT_STRING_MAX : 1;
	memset(ret, 0, sizeof(*ret));
	ret->s = calloc(n, sizeof(*ret->s));
	ret->len = calloc(n, sizeof(*ret->len));
	if (!ret->s || !ret->len)
		goto fail;
	ret->n = n;
	for (size_t i = 0; i < n; i++) {
		size_t off = i * STS_TXT_STRING_MAX;
		size_t k = len - off > STS_TXT_STRING_MAX ? STS_TXT_STRING_MAX : len - off;
		if (!(ret->s[i] = malloc(k + 1)))
			goto fail;
		if (k)
			memcpy(ret->s[i], v + off, k);
		ret->s[i][k] = '\0';
		ret->len[i] = k;
	}
	return STS_OK;
fail:
	sts_txt_strings_release(ret);
	return STS_ENOMEM;
}

STS_API int sts_txt_encode_buf(const void *value, size_t len, struct sts_buf *out)
{
	const char *v = value;
	size_t i = 0;
	int r = STS_OK;
	do {
		size_t end = len - i > STS_TXT_STRING_MAX ? i + STS_TXT_STRING_MAX : len, run = i;
		r = sts_buf_append(out, i > 0 ? " \"" : "\"", i > 0 ? 2 : 1);
		for (; i < end && r >= 0; i++) {
			unsigned char c = (unsigned char)v[i];
			if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
				continue; /* copied with its run */
			char esc[4] = {'\\', (char)c};
			size_t k = 2;
			if (c < 0x20 || c >= 0x7f) {
				esc[1] = (char)('0' + c / 100);
				esc[2] = (char)('0' + c / 10 % 10);
				esc[3] = (char)('0' + c % 10);
				k = 4;
			}
			r = sts_buf_append(out, v + run, i - run);
			if (r >= 0)
				r = sts_buf_append(out, esc, k);
			run = i + 1;
		}
		if (r >= 0)
			r = sts_buf_append(out, v + run, i - run);
		if (r >= 0)
			r = sts_buf_putc(out, '"');
	} while (i < len && r >= 0);
	return r;
}

STS_API int sts_txt_encode(const void *value, size_t len, char **ret, size_t *ret_len)
{
	struct sts_buf b;
	sts_buf_init(&b, (size_t)-1 / 2);
	int r = sts_txt_encode_buf(value, len, &b);
	if (r < 0) {
		sts_buf_release(&b);
		return STS_ENOMEM;
	}
	size_t n = b.len;
	*ret = sts_buf_steal(&b);
	if (ret_len)
		*ret_len = n;
	return STS_OK;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

struct dec {
	const char *t;
	size_t len, i;
	struct sts_txt_error *err;
};

static int fail(struct dec *d, size_t at, const char *msg)
{
	if (d->err) {
		d->err->offset = at;
		d->err->msg = msg;
	}
	return STS_EPARSE;
}

/* The escape whose backslash is at d->i: its octet in *ret, d->i past it. */
static int unescape(struct dec *d, unsigned char *ret)
{
	size_t at = d->i++;
	if (d->i >= d->len)
		return fail(d, at, "backslash at the end of the text");
	if (!digit(d->t[d->i])) {
		*ret = (unsigned char)d->t[d->i++];
		return STS_OK;
	}
	unsigned v = 0;
	for (int k = 0; k < 3; k++, d->i++) {
		if (d->i >= d->len || !digit(d->t[d->i]))
			return fail(d, at, "bad escape: \\DDD needs three decimal digits");
		v = v * 10 + (unsigned)(d->t[d->i] - '0');
	}
	if (v > 255)
		return fail(d, at, "bad escape: \\DDD is above 255");
	*ret = (unsigned char)v;
	return STS_OK;
}

/* One character-string at d->i (not a blank), appended to out. */
static int one_string(struct dec *d, char *out, size_t *n)
{
	size_t start = d->i, octets = 0;
	bool quoted = d->t[d->i] == '"';
	if (quoted)
		d->i++;
	for (;;) {
		if (d->i >= d->len) {
			if (quoted)
				return fail(d, start, "unterminated quoted string");
			break;
		}
		char c = d->t[d->i];
		if (quoted && c == '"') {
			d->i++;
			break;
		}
		if (!quoted && (blank(c) || c == '"'))
			break;
		unsigned char o = (unsigned char)c;
		if (c == '\\') {
			int r = unescape(d, &o);
			if (r < 0)
				return r;
		} else {
			d->i++;
		}
		if (++octets > STS_TXT_STRING_MAX)
			return fail(d, start, "character-string longer than 255 octets");
		out[(*n)++] = (char)o;
	}
	return STS_OK;
}

STS_API int sts_txt_decode(const char *text, size_t len, char **ret, size_t *ret_len,
			   struct sts_txt_error *reterr)
{
	struct dec d = {.t = text, .len = len, .err = reterr};
	char *out = malloc(len + 1); /* unescaping never grows the text */
	size_t n = 0;
	if (!out)
		return STS_ENOMEM;
	for (;;) {
		while (d.i < len && blank(text[d.i]))
			d.i++;
		if (d.i >= len)
			break;
		int r = one_string(&d, out, &n);
		if (r < 0) {
			free(out);
			return r;
		}
	}
	out[n] = '\0';
	*ret = out;
	*ret_len = n;
	return STS_OK;
}
