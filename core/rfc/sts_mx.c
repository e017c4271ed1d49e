/* SPDX-License-Identifier: MIT */
/*
 * MX patterns of an MTA-STS policy (RFC 8461 §3.2 sts-policy-mx-value,
 * §4.1 matching; docs/rfc-rules.md B7, M2).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_dname.h"
#include "sts_err.h"
#include "sts_mx.h"

#define MX_NAME_MAX 253

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Length without one trailing root dot. */
static size_t strip_dot(const char *s)
{
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	return n;
}

STS_API bool sts_mx_match(const char *pattern, const char *hostname)
{
	if (!pattern || !hostname)
		return false;
	size_t pn = strip_dot(pattern);
	size_t hn = strip_dot(hostname);
	if (pn == 0 || hn == 0)
		return false;
	if (pn >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* '*' covers exactly one non-empty left-most label */
		const char *dot = memchr(hostname, '.', hn);
		if (!dot || dot == hostname)
			return false;
		size_t rest = hn - (size_t)(dot + 1 - hostname);
		return rest == pn - 2 && strncasecmp(dot + 1, pattern + 2, rest) == 0;
	}
	return pn == hn && strncasecmp(pattern, hostname, pn) == 0;
}

STS_API int sts_mx_name_alabel(const char *name, char **ret, const char **reterr)
{
	return sts_dname_normalize(name, STS_DNAME_WILDCARD, ret, reterr);
}

/* Looks like an address: inet_pton accepts it, or every label is numeric. */
static bool looks_like_ip(const char *s)
{
	unsigned char tmp[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1)
		return true;
	if (strchr(s, ':'))
		return true;
	bool digits = false;
	for (const char *p = s; *p; p++) {
		if (*p == '.')
			continue;
		if (!is_digit((unsigned char)*p))
			return false;
		digits = true;
	}
	return digits;
}

static const char msg_star[] = "'*' is allowed only as the whole left-most label ('*.example.com')";

/* *reterr = why (a static string): the check's answer for a bad value */
static int invalid(const char **reterr, const char *why)
{
	if (reterr)
		*reterr = why;
	return STS_EINVALID;
}

/* RFC 5321 Domain: sub-domain *("." sub-domain), LDH labels. */
static int check_domain(const char *s, const char **reterr)
{
	char name[MX_NAME_MAX + 1];
	size_t n = strlen(s);
	enum sts_dname_problem p = sts_dname_check(s, 0);
	if (p == STS_DNAME_EMPTY_LABEL && n > 1 && s[n - 1] == '.') {
		/* the first empty label the last one? */
		memcpy(name, s, n - 1);
		name[n - 1] = '\0';
		if (sts_dname_check(name, 0) == STS_DNAME_OK)
			return invalid(reterr, "trailing dot is not allowed in a policy mx");
	}
	if (p == STS_DNAME_OK)
		return STS_OK;
	if (p == STS_DNAME_STAR)
		return invalid(reterr, msg_star);
	if (p == STS_DNAME_BAD_CHAR)
		return invalid(
		    reterr, "invalid character in host name (letters, digits, '-' and '.' only)");
	return invalid(reterr, sts_dname_problem_str(p));
}

STS_API int sts_mx_pattern_check(const char *pattern, const char **reterr)
{
	if (reterr)
		*reterr = NULL;
	if (!pattern || !*pattern)
		return invalid(reterr, "empty mx pattern");
	for (const char *p = pattern; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return invalid(reterr, "non-ASCII name: use the A-label (xn--...)");
	if (pattern[0] == '[')
		return invalid(reterr, "address literals are not allowed: mx needs a host name");
	if (looks_like_ip(pattern))
		return invalid(reterr, "IP addresses are not allowed: mx needs a host name");
	if (strlen(pattern) > MX_NAME_MAX)
		return invalid(reterr, "name longer than 253 octets");
	const char *domain = pattern;
	if (pattern[0] == '*') {
		if (pattern[1] != '.' || pattern[2] == '\0')
			return invalid(reterr, msg_star);
		domain = pattern + 2;
	}
	return check_domain(domain, reterr);
}
