/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sts_err.h"

STS_API const char *sts_strerror(int err)
{
	switch (err) {
	case STS_OK:
		return "success";
	case STS_EPARSE:
		return "syntax error";
	case STS_EINVALID:
		return "validation failed";
	case STS_ETOOLARGE:
		return "input exceeds the size limit";
	case STS_EPLUGIN:
		return "plugin cannot be loaded";
	case STS_EABI:
		return "plugin ABI mismatch";
	case STS_ESECRET:
		return "secret cannot be resolved";
	case STS_EPROVIDER:
		return "provider error";
	case STS_ECONFLICT:
		return "conflicting record";
	case STS_ESTALE:
		return "published state changed since the plan was made";
	case STS_EVERIFY:
		return "published policy did not verify";
	case STS_ELOCKED:
		return "state is locked by another stsctl";
	case STS_EDB:
		return "state database error";
	case STS_ENET:
		return "network error";
	case STS_ETIMEOUT:
		return "timed out";
	case STS_ETLS:
		return "TLS error";
	case STS_EAUTH:
		return "authentication rejected";
	case STS_EUNSUPPORTED:
		return "operation not supported";
	case STS_EREFUSED:
		return "refused by a safety rule";
	default:
		break;
	}
	if (err < 0 && err > -1000)
		return strerror(-err);
	return "unknown error";
}

STS_API const char *sts_name_of(const char *const *names, size_t n, int v, const char *dflt)
{
	if (v < 0 || (size_t)v >= n || !names[v])
		return dflt;
	return names[v];
}

STS_API int sts_fail(char **reterr, int r, const char *fmt, ...)
{
	if (reterr) {
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(reterr, fmt, ap) < 0)
			*reterr = NULL;
		va_end(ap);
	}
	return r;
}
