/* SPDX-License-Identifier: MIT */
#ifndef STS_STRV_H
#define STS_STRV_H

#include <stdarg.h>
#include <stddef.h>

#include "sts_api.h"

/*
 * String vectors (char **v of *n malloc'd strings in a malloc'd array):
 * append a formatted string. Returns STS_OK, or STS_ENOMEM with *v and *n
 * unchanged.
 */
STS_API int sts_strv_vpushf(char ***v, size_t *n, const char *fmt, va_list ap) STS_PRINTF(3, 0);

#endif
