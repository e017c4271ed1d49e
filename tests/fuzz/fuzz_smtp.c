/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the STARTTLS probe's SMTP replies, sts_smtp_reply() in
 * core/net/sts_starttls.c.
 *
 * Input: what a server sends (greeting, EHLO reply, ...). It is read reply
 * after reply, as the probe's read_reply() does, until a reply is
 * incomplete or not SMTP.
 *
 * Aborts when a reply contradicts itself: more bytes used than given, a
 * reply that does not end with a line end, a code outside 200..599 or not
 * the first line's digits, STARTTLS reported when the reply does not hold
 * the word, or the reply read again without its last byte is not
 * incomplete.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_starttls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool holds_starttls(const char *p, size_t n)
{
	for (size_t i = 0; i + 8 <= n; i++)
		if (strncasecmp(p + i, "STARTTLS", 8) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t off = 0;
	while (off < size) {
		int code = -1;
		bool starttls = false;
		long used = sts_smtp_reply(buf + off, size - off, &code, &starttls);
		if (used < -1)
			abort();
		if (used <= 0)
			break;
		const char *r = buf + off;
		size_t n = (size_t)used;
		if (n > size - off || r[n - 1] != '\n')
			abort();
		if (code < 200 || code > 599 ||
		    code != (r[0] - '0') * 100 + (r[1] - '0') * 10 + (r[2] - '0'))
			abort();
		if (starttls && !holds_starttls(r, n))
			abort();
		int code2 = -1;
		bool st2 = false;
		if (sts_smtp_reply(r, n - 1, &code2, &st2) != 0)
			abort();
		off += n;
	}
	return 0;
}
