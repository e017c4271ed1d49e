/* SPDX-License-Identifier: MIT */
/*
 * Domain names: normalisation to lower case A-labels, label syntax with a
 * reason, comparison and zone membership (sts_dname.h). Context-free and
 * thread-safe.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "sts_dname.h"
#include "sts_err.h"

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Length without one trailing root dot (a lone "." is kept). */
static size_t strip_dot(const char *s)
{
	size_t n = strlen(s);
	return n > 1 && s[n - 1] == '.' ? n - 1 : n;
}

STS_API int sts_dname_normalize(const char *in, unsigned flags, char **ret, const char **reterr)
{
	const char *unused;
	if (!reterr) /* the reason is optional (the fuzz targets' host passes NULL) */
		reterr = &unused;
	if (!in) {
		*reterr = "no name";
		return STS_EINVALID;
	}
	size_t len = strip_dot(in);
	bool ascii = true;
	for (size_t i = 0; i < len; i++)
		ascii = ascii && (unsigned char)in[i] < 0x80;
	size_t pre =
	    (flags & STS_DNAME_WILDCARD) && len >= 2 && in[0] == '*' && in[1] == '.' ? 2 : 0;
	const char *body = in + pre;
	size_t blen = len - pre;
	char *a = NULL;
	if (!ascii) {
		char *tmp = strndup(body, blen);
		if (!tmp)
			return STS_ENOMEM;
		int rc = idn2_to_ascii_8z(tmp, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		free(tmp);
		if (rc == IDN2_MALLOC)
			return STS_ENOMEM;
		if (rc != IDN2_OK) {
			*reterr = idn2_strerror(rc);
			return STS_EINVALID;
		}
		body = a;
		blen = strlen(a);
	}
	bool dot = (flags & STS_DNAME_ABSOLUTE) && !(pre + blen == 1 && body[0] == '.');
	char *out = malloc(pre + blen + dot + 1);
	if (out) {
		memcpy(out, in, pre);
		for (size_t i = 0; i < blen; i++)
			out[pre + i] = lower(body[i]);
		if (dot)
			out[pre + blen] = '.';
		out[pre + blen + dot] = '\0';
		*ret = out;
	}
	idn2_free(a);
	return out ? STS_OK : STS_ENOMEM;
}

STS_API int sts_dname_to_unicode(const char *name, char **ret)
{
	char *u = NULL;
	int rc = idn2_to_unicode_8z8z(name, &u, 0);
	if (rc == IDN2_MALLOC)
		return STS_ENOMEM;
	if (rc != IDN2_OK) {
		idn2_free(u);
		return STS_EINVALID;
	}
	char *out = strdup(u);
	idn2_free(u);
	if (!out)
		return STS_ENOMEM;
	*ret = out;
	return STS_OK;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

STS_API enum sts_dname_problem sts_dname_check(const char *name, unsigned flags)
{
	if (!name || !*name)
		return STS_DNAME_EMPTY;
	if (strlen(name) > STS_DNAME_MAX)
		return STS_DNAME_TOO_LONG;
	const char *s = name;
	if ((flags & STS_DNAME_WILDCARD) && s[0] == '*' && s[1] == '.')
		s += 2;
	size_t labels = 0;
	bool digits = true;
	const char *label = s;
	for (const char *p = s;; p++) {
		char c = *p;
		if (c == '.' || c == '\0') {
			size_t l = (size_t)(p - label);
			if (l == 0)
				return STS_DNAME_EMPTY_LABEL;
			if (l > STS_DNAME_LABEL_MAX)
				return STS_DNAME_LABEL_TOO_LONG;
			if (label[0] == '-' || p[-1] == '-')
				return STS_DNAME_HYPHEN;
			labels++;
			if (c == '\0')
				break;
			label = p + 1;
			digits = true;
			continue;
		}
		if (c == '*')
			return STS_DNAME_STAR;
		if (c == '_' && !(flags & STS_DNAME_UNDERSCORE))
			return STS_DNAME_UNDERSCORE_CHAR;
		if (!is_alnum(c) && c != '-' && c != '_')
			return STS_DNAME_BAD_CHAR;
		digits = digits && c >= '0' && c <= '9';
	}
	if ((flags & STS_DNAME_NOT_NUMERIC) && digits)
		return STS_DNAME_NUMERIC;
	if ((flags & STS_DNAME_MULTI_LABEL) && labels < 2)
		return STS_DNAME_ONE_LABEL;
	return STS_DNAME_OK;
}

static const char *const problems[_STS_DNAME_PROBLEM_MAX] = {
    [STS_DNAME_OK] = "",
    [STS_DNAME_EMPTY] = "empty name",
    [STS_DNAME_TOO_LONG] = "name longer than 253 octets",
    [STS_DNAME_EMPTY_LABEL] = "empty label",
    [STS_DNAME_LABEL_TOO_LONG] = "label longer than 63 octets",
    [STS_DNAME_HYPHEN] = "label starts or ends with '-'",
    [STS_DNAME_STAR] = "'*' is not allowed in a domain name",
    [STS_DNAME_UNDERSCORE_CHAR] = "'_' is not allowed in a host name",
    [STS_DNAME_BAD_CHAR] = "invalid character (letters, digits, '-' and '.' only)",
    [STS_DNAME_NUMERIC] = "an IP address is not a domain name",
    [STS_DNAME_ONE_LABEL] = "single-label name: write the full domain name",
};

STS_API const char *sts_dname_problem_str(enum sts_dname_problem p)
{
	return p >= 0 && p < _STS_DNAME_PROBLEM_MAX ? problems[p] : "invalid name";
}

STS_API bool sts_dname_eq(const char *a, const char *b)
{
	size_t na = strip_dot(a), nb = strip_dot(b);
	return na == nb && strncasecmp(a, b, na) == 0;
}

STS_API bool sts_dname_in_zone(const char *name, const char *zone, size_t *ret_rel)
{
	size_t n = strip_dot(name), z = strip_dot(zone);
	if (z == 1 && zone[0] == '.')
		z = 0; /* the root holds every name */
	if (n == 1 && name[0] == '.')
		n = 0;
	size_t rel;
	if (z == 0)
		rel = n;
	else if (n == z && strncasecmp(name, zone, z) == 0)
		rel = 0;
	else if (n > z + 1 && name[n - z - 1] == '.' && strncasecmp(name + n - z, zone, z) == 0)
		rel = n - z - 1;
	else
		return false;
	if (ret_rel)
		*ret_rel = rel;
	return true;
}
