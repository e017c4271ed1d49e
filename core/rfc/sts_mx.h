/* SPDX-License-Identifier: MIT */
#ifndef STS_MX_H
#define STS_MX_H

/*
 * MX patterns of an MTA-STS policy (RFC 8461 §3.2, §4.1; core/rfc/sts_mx.c):
 * matching, checking, and names as A-labels.
 */
#include <stdbool.h>

#include "sts_api.h"

/*
 * RFC 8461 §4.1: does PATTERN ("mail.example.com" or "*.example.com") cover
 * HOSTNAME? '*' matches exactly one left-most label; case-insensitive;
 * a trailing dot on either side is ignored.
 */
STS_API bool sts_mx_match(const char *pattern, const char *hostname);

/*
 * Is PATTERN a valid policy mx value (`["*."] Domain`, RFC 5321 Domain,
 * A-labels)? IP addresses, '*' anywhere but a whole left-most label, empty
 * labels, labels over 63 octets and names over 253 are refused.
 * Returns STS_OK or STS_EINVALID with a static message in *reterr.
 */
STS_API int sts_mx_pattern_check(const char *pattern, const char **reterr);

/*
 * An mx pattern or host name in the form the inventory stores it: one
 * trailing root dot dropped, lower case, U-labels converted to A-labels
 * (libidn2, IDNA2008 / UTS #46 non-transitional), a leading "*." kept.
 * It is sts_dname_normalize() with STS_DNAME_WILDCARD, the inventory's
 * conversion, so a name compares the same here as in an inventory.
 * Nothing else is checked.
 * On success *ret is a malloc'd string the caller frees. STS_EINVALID when
 * the name cannot be converted (*reterr: libidn2's static reason), or
 * STS_ENOMEM; *ret is left alone on failure.
 */
STS_API int sts_mx_name_alabel(const char *name, char **ret, const char **reterr);

#endif
