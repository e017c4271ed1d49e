/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the gcloud plugin's own parsers (plugins/gcloud/gc_key.c):
 * the service account key file (a secret the user hands over: JSON with
 * the PEM key), the token endpoint's answer and its OAuth error body.
 * Every input goes through all three. Besides memory errors it aborts when
 * a parse succeeds without the fields it promises (a key without email,
 * key id or PEM; a token that is empty, holds a byte outside the token
 * alphabet or a line break, or an expires_in outside 1..86400), or fails
 * without saying why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *why = NULL;
	struct gc_key k;
	int r = gc_key_parse(text, size, &k, &why);
	if (r == STS_PLUGIN_OK) {
		if (!k.email || !k.key_id || !k.pem ||
		    !strstr(k.pem, "-----BEGIN PRIVATE KEY-----") || strpbrk(k.email, "\r\n") ||
		    strpbrk(k.key_id, "\r\n"))
			abort();
		gc_key_release(&k);
	} else if (r != STS_PLUGIN_ENOMEM && !why) {
		abort();
	}

	char *tok = NULL;
	long expires = 0;
	why = NULL;
	r = gc_token_parse(text, size, &tok, &expires, &why);
	if (r == STS_PLUGIN_OK) {
		if (!tok || !*tok || expires < 1 || expires > 86400 || strpbrk(tok, "\r\n \t\"\\"))
			abort();
		plg_wipe_free(tok);
	} else if (r != STS_PLUGIN_ENOMEM && !why) {
		abort();
	}

	char *msg = gc_token_error(text, size);
	if (msg && strlen(msg) > 402)
		abort();
	free(msg);
	return 0;
}
