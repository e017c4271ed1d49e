/* SPDX-License-Identifier: MIT */
/* Record content for the PowerDNS API: TXT quoting, escaping and splitting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pdns.h"

#define TXT_CHUNK 255

struct out {
	char *p;
	size_t n, cap;
};

static int put(struct out *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 64;
		while (cap < o->n + n + 1)
			cap *= 2;
		char *np = realloc(o->p, cap);
		if (!np)
			return STS_PLUGIN_ENOMEM;
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
	return STS_PLUGIN_OK;
}

int pdns_txt_encode(const char *value, size_t len, char **ret)
{
	struct out o = {0};
	int r = STS_PLUGIN_OK;
	size_t i = 0;
	do {
		size_t end = len - i > TXT_CHUNK ? i + TXT_CHUNK : len;
		if (i > 0)
			r = put(&o, " ", 1);
		if (r == STS_PLUGIN_OK)
			r = put(&o, "\"", 1);
		for (; r == STS_PLUGIN_OK && i < end; i++) {
			unsigned char c = (unsigned char)value[i];
			char esc[8];
			if (c == '"' || c == '\\') {
				esc[0] = '\\';
				esc[1] = (char)c;
				r = put(&o, esc, 2);
			} else if (c < 0x20 || c >= 0x7f) {
				snprintf(esc, sizeof(esc), "\\%03u", c);
				r = put(&o, esc, 4);
			} else {
				r = put(&o, (const char *)&value[i], 1);
			}
		}
		if (r == STS_PLUGIN_OK)
			r = put(&o, "\"", 1);
	} while (r == STS_PLUGIN_OK && i < len);
	if (r < 0) {
		free(o.p);
		return r;
	}
	*ret = o.p;
	return STS_PLUGIN_OK;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One escape after the backslash at s; *adv = characters consumed after '\'. */
static int unescape(const char *s, char *ret, size_t *adv)
{
	if (s[0] >= '0' && s[0] <= '9') {
		if (!(s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'))
			return STS_PLUGIN_EPARSE;
		int v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
		if (v > 255)
			return STS_PLUGIN_EPARSE;
		*ret = (char)v;
		*adv = 3;
		return STS_PLUGIN_OK;
	}
	if (s[0] == '\0')
		return STS_PLUGIN_EPARSE;
	*ret = s[0];
	*adv = 1;
	return STS_PLUGIN_OK;
}

int pdns_txt_decode(const char *content, char **ret, size_t *ret_len)
{
	struct out o = {0};
	const char *s = content;
	int r = put(&o, "", 0);
	while (r == STS_PLUGIN_OK) {
		while (blank(*s))
			s++;
		if (!*s)
			break;
		bool quoted = *s == '"';
		if (quoted)
			s++;
		for (;;) {
			char c = *s;
			if (c == '\0') {
				if (quoted)
					r = STS_PLUGIN_EPARSE; /* unterminated string */
				break;
			}
			if (quoted && c == '"') {
				s++;
				break;
			}
			if (!quoted && (blank(c) || c == '"'))
				break;
			if (c == '\\') {
				size_t adv = 0;
				if ((r = unescape(s + 1, &c, &adv)) < 0)
					break;
				s += 1 + adv;
			} else {
				s++;
			}
			if ((r = put(&o, &c, 1)) < 0)
				break;
		}
	}
	if (r < 0) {
		free(o.p);
		return r;
	}
	*ret = o.p;
	*ret_len = o.n;
	return STS_PLUGIN_OK;
}

int pdns_content_of(const char *type, const char *value, char **ret)
{
	if (strcasecmp(type, "TXT") == 0 || strcasecmp(type, "SPF") == 0)
		return pdns_txt_encode(value, strlen(value), ret);
	*ret = strdup(value);
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

int pdns_value_of(const char *type, const char *content, char **ret, size_t *ret_len)
{
	if (strcasecmp(type, "TXT") == 0 || strcasecmp(type, "SPF") == 0)
		return pdns_txt_decode(content, ret, ret_len);
	*ret = strdup(content);
	if (!*ret)
		return STS_PLUGIN_ENOMEM;
	*ret_len = strlen(content);
	return STS_PLUGIN_OK;
}

bool pdns_zone_ok(const char *zone)
{
	size_t n = strlen(zone);
	if (n && zone[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || zone[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = zone[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			  (c == '.' && zone[i + 1] != '.');
		if (!ok)
			return false;
	}
	return true;
}

bool pdns_in_zone(const char *name, const char *zone_dot)
{
	size_t n = strlen(name), z = strlen(zone_dot);
	if (n < z || strcasecmp(name + n - z, zone_dot) != 0)
		return false;
	return n == z || name[n - z - 1] == '.';
}
