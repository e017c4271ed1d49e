/* SPDX-License-Identifier: MIT */
#ifndef STS_ERR_H
#define STS_ERR_H

#include <errno.h>
#include <stddef.h>

#include "sts_api.h"

/*
 * One error enum for all of libsts (Knot DNS errcode.h style).
 * System errors are negative errno values; stsctl's own start at -1000.
 * Values are append-only: never renumber, retire as STS_OBSOLETE_n.
 * docs/exit-codes.md maps them to exit codes.
 */
enum sts_err {
	STS_OK = 0,
	STS_ENOMEM = -ENOMEM,
	STS_EINVAL = -EINVAL,
	STS_EIO = -EIO,
	STS_ENOENT = -ENOENT,
	STS_EEXIST = -EEXIST,
	STS_EACCES = -EACCES,
	STS_ENOSPC = -ENOSPC,
	STS_EAGAIN = -EAGAIN,

	STS_EPARSE = -1000,	  /* input is not syntactically valid (JSON, policy, record) */
	STS_EINVALID = -1001,	  /* input parsed but failed validation; diagnostics say why */
	STS_ETOOLARGE = -1002,	  /* a size cap was hit */
	STS_EPLUGIN = -1003,	  /* plugin cannot be found or loaded */
	STS_EABI = -1004,	  /* plugin ABI version or name mismatch */
	STS_ESECRET = -1005,	  /* a ${env:..}/${file:..} secret cannot be resolved */
	STS_EPROVIDER = -1006,	  /* a provider (DNS or web host) reported an error */
	STS_ECONFLICT = -1007,	  /* a foreign record blocks what stsctl must publish */
	STS_ESTALE = -1008,	  /* a saved plan no longer matches the published state */
	STS_EVERIFY = -1009,	  /* the published policy did not verify */
	STS_ELOCKED = -1010,	  /* another stsctl holds the state lock */
	STS_EDB = -1011,	  /* the state database failed */
	STS_ENET = -1012,	  /* network error */
	STS_ETIMEOUT = -1013,	  /* timed out */
	STS_ETLS = -1014,	  /* TLS handshake or certificate failure */
	STS_EAUTH = -1015,	  /* authentication rejected by a provider */
	STS_EUNSUPPORTED = -1016, /* operation not supported by this plugin or build */
	STS_EREFUSED = -1017,	  /* a safety rule refused the operation */

	STS_ELAST = -1018 /* never use! */
};

/* Static English text for an error code; never NULL. */
STS_API const char *sts_strerror(int err);

/*
 * The error exit of a function with a `char **reterr`: *reterr (when
 * reterr is not NULL) gets the malloc'd message (NULL without memory); r
 * is returned.
 */
STS_API int sts_fail(char **reterr, int r, const char *fmt, ...) STS_PRINTF(3, 4);

/*
 * Enum names as tables (static const char *const x[] = {[X_A] = "a", ...}):
 * names[v] when v indexes names[0..n) and that entry is set, else dflt.
 * STS_NAME_OF() passes the table's size.
 */
STS_API const char *sts_name_of(const char *const *names, size_t n, int v, const char *dflt);
#define STS_NAME_OF(names, v, dflt)                                                                \
	sts_name_of((names), sizeof(names) / sizeof((names)[0]), (int)(v), (dflt))

#endif
