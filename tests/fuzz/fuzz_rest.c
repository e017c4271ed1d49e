/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the text the REST host services parse for a plugin. The
 * input is three parts: a rate-limit spec up to the first '\n'
 * (sts_ratelimit_add_spec: "1200/5m, 20/1s"), a JSON path up to the
 * second (sts_rest_json_at: "errors[0].message" or "/errors/0/message"),
 * and the rest, a provider's JSON answer the path is looked up in.
 * Aborts when a result contradicts its own checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_ratelimit.h"
#include "sts_rest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is v j itself or somewhere inside it? */
static int inside(json_t *j, json_t *v, int depth)
{
	if (j == v)
		return 1;
	if (depth > 4096) /* deeper than jansson parses */
		return 0;
	const char *k;
	json_t *x;
	size_t i;
	int found = 0;
	if (json_is_object(j)) {
		json_object_foreach(j, k, x)
		{
			found = found || inside(x, v, depth + 1);
		}
	}
	json_array_foreach(j, i, x)
	{
		found = found || inside(x, v, depth + 1);
	}
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *nl = memchr(s, '\n', size);
	size_t n1 = nl ? (size_t)(nl - s) : size;
	char *spec = strndup(s, n1);
	const char *rest = nl ? nl + 1 : s + size;
	size_t left = size - (size_t)(rest - s);
	const char *nl2 = memchr(rest, '\n', left);
	size_t n2 = nl2 ? (size_t)(nl2 - rest) : left;
	char *path = strndup(rest, n2);
	struct sts_ratelimit *rl = NULL;
	if (!spec || !path || sts_ratelimit_new(NULL, &rl) < 0)
		goto out;
	int r = sts_ratelimit_add_spec(rl, spec);
	if (r != STS_OK && r != STS_EINVAL && r != STS_ENOMEM)
		abort();
	/* a fresh limiter lets the first call through at once, whatever its limits */
	if (r == STS_OK && sts_ratelimit_acquire(rl, 0) != STS_OK)
		abort();
	if (nl2) {
		json_t *j = json_loadb(nl2 + 1, left - n2 - 1, 0, NULL);
		json_t *v = j ? sts_rest_json_at(j, path) : NULL;
		if (v && !inside(j, v, 0))
			abort();
		json_decref(j);
	}
out:
	sts_ratelimit_free(rl);
	free(spec);
	free(path);
	return 0;
}
