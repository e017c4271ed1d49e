/* SPDX-License-Identifier: MIT */
#ifndef STS_DNAME_H
#define STS_DNAME_H

/*
 * Domain names as stsctl stores and compares them (core/rfc/sts_dname.c):
 * lower case A-labels, one trailing root dot dropped (or kept with
 * STS_DNAME_ABSOLUTE), checked label by label with a reason.
 *
 * One implementation for the inventory, lint, check and render, and the
 * host's "name normalisation" service for plugins. No context, no global
 * state: every function is safe to call from any number of threads at once
 * (libidn2 is thread-safe). Reasons are static strings.
 */
#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"

#define STS_DNAME_MAX	    253 /* octets, presentation form without the root dot */
#define STS_DNAME_LABEL_MAX 63

enum sts_dname_flags {
	/* normalize: keep a leading "*." as is (the rest is converted);
	 * check: accept "*." as the whole left-most label */
	STS_DNAME_WILDCARD = 1u << 0,
	/* check: '_' is allowed in a label (_mta-sts, _smtp._tls) */
	STS_DNAME_UNDERSCORE = 1u << 1,
	/* check: at least two labels */
	STS_DNAME_MULTI_LABEL = 1u << 2,
	/* check: the last label is not all digits (an IPv4 address) */
	STS_DNAME_NOT_NUMERIC = 1u << 3,
	/* normalize: the result ends in one root dot */
	STS_DNAME_ABSOLUTE = 1u << 4,
};

/* A name we publish records at or point to. */
#define STS_DNAME_DOMAIN (STS_DNAME_MULTI_LABEL | STS_DNAME_NOT_NUMERIC)

enum sts_dname_problem {
	STS_DNAME_OK = 0,
	STS_DNAME_EMPTY,	   /* "" */
	STS_DNAME_TOO_LONG,	   /* over STS_DNAME_MAX octets */
	STS_DNAME_EMPTY_LABEL,	   /* "a..b", ".a", "a.." */
	STS_DNAME_LABEL_TOO_LONG,  /* over 63 octets */
	STS_DNAME_HYPHEN,	   /* a label starts or ends with '-' */
	STS_DNAME_STAR,		   /* '*' where STS_DNAME_WILDCARD does not allow it */
	STS_DNAME_UNDERSCORE_CHAR, /* '_' without STS_DNAME_UNDERSCORE */
	STS_DNAME_BAD_CHAR,	   /* anything but letters, digits, '-', '.' (and '_') */
	STS_DNAME_NUMERIC,	   /* STS_DNAME_NOT_NUMERIC: last label all digits */
	STS_DNAME_ONE_LABEL,	   /* STS_DNAME_MULTI_LABEL: a single label */
	_STS_DNAME_PROBLEM_MAX,
};

/*
 * The stored form of IN: one trailing root dot dropped, lower case, U-labels
 * converted to A-labels (libidn2, IDNA2008 / UTS #46 non-transitional, NFC
 * input); with STS_DNAME_WILDCARD a leading "*." is kept as is; with
 * STS_DNAME_ABSOLUTE one root dot is appended. ASCII input is only lowered:
 * nothing is validated here (see sts_dname_check()).
 * On success *ret is a malloc'd string the caller frees. STS_EINVALID when
 * a U-label cannot be converted (*reterr: libidn2's static reason), or
 * STS_ENOMEM; *ret and *reterr are left alone when not set; reterr may be NULL.
 */
STS_API int sts_dname_normalize(const char *in, unsigned flags, char **ret, const char **reterr);

/*
 * The U-label form of NAME (A-labels converted back, libidn2), for messages
 * that show both spellings: *ret is malloc'd. STS_EINVALID when NAME has an
 * A-label that is not valid punycode; STS_ENOMEM.
 */
STS_API int sts_dname_to_unicode(const char *name, char **ret);

/* Label syntax of NAME (already normalized, no root dot): letters, digits
 * and '-' (and '_' or "*." per flags), labels 1..63 octets, 253 in all;
 * the first problem found, scanning from the left. */
STS_API enum sts_dname_problem sts_dname_check(const char *name, unsigned flags);

/* The reason, e.g. "label longer than 63 octets" (static; "" for OK). */
STS_API const char *sts_dname_problem_str(enum sts_dname_problem p);

/* Same name: ASCII case-insensitive, one trailing root dot ignored on either side. */
STS_API bool sts_dname_eq(const char *a, const char *b);

/*
 * Is NAME the zone ZONE or below it (one trailing root dot ignored on
 * either side, ASCII case-insensitive)? When it is and ret_rel is not
 * NULL, *ret_rel is the length of NAME's part relative to ZONE: 0 at the
 * apex ("@"), else NAME's first *ret_rel octets ("_mta-sts" of
 * "_mta-sts.example.com" in "example.com").
 */
STS_API bool sts_dname_in_zone(const char *name, const char *zone, size_t *ret_rel);

#endif
