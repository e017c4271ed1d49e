/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: what an IMAP server sends to the IMAP source
 * (sts_ingest_imap.c). libcurl speaks the protocol; stsctl parses the
 * text of the UID SEARCH response and the fetched message. The first byte
 * selects: 'M' -> the rest is a fetched message, prepared as
 * sts_ingest_imap does (ing_prep_message on the IMAP channel, with DKIM on
 * and no keys or DNS); anything else -> the rest is the UID SEARCH
 * response, and 1 + the first byte the max_messages setting.
 * Besides memory errors it aborts when more UIDs come back than allowed,
 * a UID is not a nz-number (1..2^32-1) written in the text, or a prepared
 * message counts as authenticated (nothing can pass without keys).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_dkim.h"
#include "sts_err.h"
#include "sts_ingest_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void search(const char *text, size_t max)
{
	unsigned long *uids = NULL;
	size_t n = 0;
	int r = sts_imap_parse_search(text, &uids, &n, max);
	if (r == STS_OK) {
		if (n > max || (n && !uids))
			abort();
		for (size_t i = 0; i < n; i++) {
			char s[32];
			snprintf(s, sizeof(s), "%lu", uids[i]);
			if (uids[i] == 0 || uids[i] > 0xffffffffUL || !strstr(text, s))
				abort();
		}
	}
	free(uids);
}

static void message(const uint8_t *msg, size_t len)
{
	static struct sts_dkim *dkim;
	if (!dkim) {
		struct sts_dkim_conf conf = {.dns = false};
		if (sts_dkim_new(&conf, &dkim) < 0)
			abort();
	}
	struct sts_ingest ing;
	memset(&ing, 0, sizeof(ing));
	ing.dkim = dkim;
	struct ing_prep p;
	memset(&p, 0, sizeof(p));
	int r =
	    ing_prep_message(&ing, msg, len, STS_CH_IMAP, "imaps://mx.example.net/INBOX;UID=7", &p);
	if (r == STS_OK && p.authenticated)
		abort();
	ing_prep_release(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] == 'M') {
		message(data + 1, size - 1);
		return 0;
	}
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	search(text, 1u + data[0]);
	free(text);
	return 0;
}
