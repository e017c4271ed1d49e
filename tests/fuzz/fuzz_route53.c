/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the route53 plugin's parser of Route 53's XML answers
 * (plugins/route53/r53_xml.c, libxml2). The first byte picks the answer:
 * 'R' ListResourceRecordSetsResponse, 'Z' ListHostedZonesResponse, anything
 * else an error body; the rest is the XML. Besides memory errors it aborts
 * when a parse succeeds with an rrset without name or type, a truncated
 * listing without where the next page starts, or a zone id that is not
 * Route 53's shape; every listed name goes through r53_name (octal escapes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "r53.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rrsets(const char *xml, size_t len)
{
	struct r53_rrsets l = {0};
	int r = r53_parse_rrsets(xml, len, &l);
	if (r == STS_PLUGIN_OK && l.truncated && !l.next_name)
		abort();
	for (size_t i = 0; r == STS_PLUGIN_OK && i < l.n; i++) {
		if (!l.v[i].name || !l.v[i].type || !*l.v[i].name || !*l.v[i].type)
			abort();
		for (size_t k = 0; k < l.v[i].n_values; k++)
			if (!l.v[i].values[k])
				abort();
		char *n = r53_name(NULL, l.v[i].name);
		if (!n || n[strlen(n) - 1] != '.')
			abort();
		free(n);
	}
	r53_rrsets_release(&l);
}

static void check_zones(const char *xml, size_t len)
{
	struct r53_zones l = {0};
	int r = r53_parse_zones(xml, len, &l);
	if (r == STS_PLUGIN_OK && l.truncated && !l.next_marker)
		abort();
	for (size_t i = 0; r == STS_PLUGIN_OK && i < l.n; i++)
		if (!l.v[i].name || !l.v[i].id || !*l.v[i].id ||
		    strspn(l.v[i].id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(l.v[i].id))
			abort();
	r53_zones_release(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *xml = (const char *)data + 1;
	size_t len = size - 1;
	if (data[0] == 'R') {
		check_rrsets(xml, len);
	} else if (data[0] == 'Z') {
		check_zones(xml, len);
	} else {
		char *code = NULL, *msg = NULL;
		r53_parse_error(xml, len, &code, &msg);
		free(code);
		free(msg);
	}
	return 0;
}
