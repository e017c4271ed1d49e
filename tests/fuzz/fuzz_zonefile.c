/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the zonefile plugin's master-file parser (zf_parse.c,
 * compiled in directly), on the text of a zone file for example.com.
 * Besides memory errors it aborts when the entries do not cover the text
 * exactly, in order, with whole lines; when a record has no absolute
 * lower-case owner or no type; and when a TXT value does not survive the
 * round trip sts_txt_encode (the host codec zf_edit writes with) -> zf_parse.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_txt.h"
#include "zf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void txt_round_trip(const char *value)
{
	struct zf_str line = {0};
	struct zf_zone z;
	unsigned eline = 0;
	const char *why = NULL;
	char *q = NULL; /* the host's codec, as the plugin writes through it */
	int r = sts_txt_encode(value, strlen(value), &q, NULL);
	if (r < 0 || zf_str_puts(&line, "@ 300 IN TXT ") < 0 || zf_str_puts(&line, q) < 0 ||
	    zf_str_puts(&line, "\n") < 0) {
		free(q);
		goto out;
	}
	free(q);
	if (zf_parse(line.p, line.n, "example.com", &z, &eline, &why) != STS_OK)
		abort(); /* what the plugin writes, it must read back */
	if (z.n != 1 || z.e[0].kind != ZF_RECORD || strcmp(z.e[0].value, value) != 0)
		abort();
	zf_zone_release(&z);
out:
	zf_str_release(&line);
}

static void check(const char *text, size_t len, const struct zf_zone *z)
{
	size_t at = 0;
	for (size_t i = 0; i < z->n; i++) {
		const struct zf_entry *e = &z->e[i];
		if (e->start != at || e->end < e->start || e->end > len)
			abort();
		if (e->end < len && text[e->end - 1] != '\n')
			abort(); /* an entry ends with its last line */
		at = e->end;
		if (e->kind != ZF_RECORD)
			continue;
		size_t on = strlen(e->owner);
		if (!on || e->owner[on - 1] != '.' || !e->type[0] || !e->value)
			abort();
		for (const char *p = e->owner; *p; p++)
			if (isupper((unsigned char)*p))
				abort();
		if (strcmp(e->type, "SOA") == 0 &&
		    (e->serial_off < e->start || e->serial_off + e->serial_len > e->end))
			abort();
		if (strcmp(e->type, "TXT") == 0)
			txt_round_trip(e->value);
	}
	if (at != len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zf_zone z;
	unsigned line = 0;
	const char *why = NULL;
	const char *text = (const char *)data;
	int r = zf_parse(text, size, "example.com", &z, &line, &why);
	if (r == STS_EPARSE && !why)
		abort();
	if (r != STS_OK)
		return 0;
	check(text, size, &z);
	zf_zone_release(&z);
	return 0;
}
