/* SPDX-License-Identifier: MIT */
/* Record content for the PowerDNS API (TXT through the host codec) and zone names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pdns.h"

/* A copy the plugin frees with free() of what the host allocated. */
static int own(struct sts_plugin *p, int r, char *host_str, size_t len, char **ret)
{
	if (r == STS_PLUGIN_OK && !(*ret = malloc(len + 1)))
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK) {
		memcpy(*ret, host_str, len);
		(*ret)[len] = '\0';
	}
	sts_plugin_free(p, host_str);
	return r;
}

int pdns_content_of(struct sts_plugin *p, const char *type, const char *value, char **ret)
{
	if (strcasecmp(type, "TXT") == 0 || strcasecmp(type, "SPF") == 0) {
		char *q = NULL;
		int r = sts_plugin_txt_quote(p, value, strlen(value), &q);
		return own(p, r, q, q ? strlen(q) : 0, ret);
	}
	*ret = strdup(value);
	return *ret ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

int pdns_value_of(struct sts_plugin *p, const char *type, const char *content, char **ret,
		  size_t *ret_len)
{
	size_t n = strlen(content);
	if (strcasecmp(type, "TXT") == 0 || strcasecmp(type, "SPF") == 0) {
		char *v = NULL;
		int r = sts_plugin_txt_unquote(p, content, n, &v, &n);
		if (r == STS_PLUGIN_OK)
			*ret_len = n;
		return own(p, r, v, n, ret);
	}
	*ret = strdup(content);
	if (!*ret)
		return STS_PLUGIN_ENOMEM;
	*ret_len = n;
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
