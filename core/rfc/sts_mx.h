/* SPDX-License-Identifier: MIT */
#ifndef STS_MX_H
#define STS_MX_H

/*
 * MX names as A-labels (core/rfc/sts_mx.c). sts_mx_match() and
 * sts_mx_pattern_check() are declared in sts_policy.h.
 */
#include "sts_api.h"

/*
 * An mx pattern or host name in the form the inventory stores it: one
 * trailing root dot dropped, lower case, U-labels converted to A-labels
 * (libidn2, IDNA2008 / UTS #46 non-transitional), a leading "*." kept.
 * It is the inventory's own conversion (sts_inv_host_normalize), so a name
 * compares the same here as in an inventory. Nothing else is checked.
 * On success *ret is a malloc'd string the caller frees. STS_EINVALID when
 * the name cannot be converted (*reterr: libidn2's static reason), or
 * STS_ENOMEM; *ret is left alone on failure.
 */
STS_API int sts_mx_name_alabel(const char *name, char **ret, const char **reterr);

#endif
