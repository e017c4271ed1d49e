/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_strv.h"

STS_API int sts_strv_vpushf(char ***v, size_t *n, const char *fmt, va_list ap)
{
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		return STS_ENOMEM;
	char **slot = sts_array_push(v, n, sizeof(**v));
	if (!slot) {
		free(s);
		return STS_ENOMEM;
	}
	*slot = s;
	return STS_OK;
}
