/* SPDX-License-Identifier: MIT */
/*
 * Route 53's XML answers (API 2013-04-01), parsed with libxml2: no network,
 * no DTD, no entity expansion. Elements are matched by local name, so the
 * namespace Route 53 puts on the root does not matter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "r53.h"

#define MAX_ITEMS 100000 /* of one answer: a bound, not a Route 53 limit */

static xmlDocPtr parse(const char *xml, size_t len)
{
	if (!xml || len == 0 || len > (size_t)INT32_MAX)
		return NULL;
	return xmlReadMemory(xml, (int)len, NULL, NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* The text of element name under n, malloc'd; NULL when absent (or no memory: *oom). */
static char *text(const xmlNode *n, const char *name, bool *oom)
{
	xmlNode *c = child(n, name);
	if (!c)
		return NULL;
	xmlChar *t = xmlNodeGetContent(c);
	char *s = strdup(t ? (const char *)t : "");
	xmlFree(t);
	if (!s)
		*oom = true;
	return s;
}

static bool is_true(const xmlNode *n, const char *name)
{
	bool oom = false;
	char *t = text(n, name, &oom);
	bool yes = t && strcmp(t, "true") == 0;
	free(t);
	return yes;
}

/* The root element of the answer when it is named name, else NULL with
 * *doc freed; xmlFreeDoc(*doc) after a root. */
static xmlNode *root_of(const char *xml, size_t len, const char *name, xmlDocPtr *doc)
{
	*doc = parse(xml, len);
	xmlNode *root = *doc ? xmlDocGetRootElement(*doc) : NULL;
	if (is(root, name))
		return root;
	xmlFreeDoc(*doc);
	*doc = NULL;
	return NULL;
}

/*
 * The elements item of the element list under root appended to the array
 * *v of *n items of size octets, each zeroed and then filled by one; an
 * item one failed on still counts (it is released with the list). Stops at
 * the first error.
 */
static int items_of(const xmlNode *root, const char *list, const char *item, size_t size,
		    int (*one)(const xmlNode *, void *), void **v, size_t *n)
{
	const xmlNode *l = child(root, list);
	int r = STS_PLUGIN_OK;
	for (xmlNode *c = l ? l->children : NULL; c && r == STS_PLUGIN_OK; c = c->next) {
		if (!is(c, item))
			continue;
		if (*n >= MAX_ITEMS)
			return STS_PLUGIN_ETOOLARGE;
		char *grown = realloc(*v, (*n + 1) * size);
		if (!grown)
			return STS_PLUGIN_ENOMEM;
		*v = grown;
		memset(grown + *n * size, 0, size);
		r = one(c, grown + (*n)++ * size);
	}
	return r;
}

static void rrset_release(struct r53_rrset *s)
{
	free(s->name);
	free(s->type);
	for (size_t i = 0; i < s->n_values; i++)
		free(s->values[i]);
	free(s->values);
}

void r53_rrsets_release(struct r53_rrsets *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		rrset_release(&l->v[i]);
	if (l) {
		free(l->v);
		free(l->next_name);
		free(l->next_type);
		memset(l, 0, sizeof(*l));
	}
}

static int values_of(const xmlNode *rrs, struct r53_rrset *s)
{
	size_t n = 0;
	const xmlNode *recs = child(rrs, "ResourceRecords");
	for (xmlNode *c = recs ? recs->children : NULL; c; c = c->next)
		n += is(c, "ResourceRecord");
	if (n > MAX_ITEMS)
		return STS_PLUGIN_ETOOLARGE;
	s->values = calloc(n + 1, sizeof(*s->values));
	if (!s->values)
		return STS_PLUGIN_ENOMEM;
	bool oom = false;
	for (xmlNode *c = recs ? recs->children : NULL; c; c = c->next) {
		if (!is(c, "ResourceRecord"))
			continue;
		char *v = text(c, "Value", &oom);
		if (!v)
			return oom ? STS_PLUGIN_ENOMEM : STS_PLUGIN_EPARSE;
		s->values[s->n_values++] = v;
	}
	return STS_PLUGIN_OK;
}

static int rrset_of(const xmlNode *rrs, void *item)
{
	struct r53_rrset *s = item;
	bool oom = false;
	s->name = text(rrs, "Name", &oom);
	s->type = text(rrs, "Type", &oom);
	char *ttl = text(rrs, "TTL", &oom);
	if (oom) {
		free(ttl);
		return STS_PLUGIN_ENOMEM;
	}
	s->special = child(rrs, "AliasTarget") || child(rrs, "SetIdentifier");
	char *end = NULL;
	unsigned long long t = ttl ? strtoull(ttl, &end, 10) : 0;
	bool ttl_ok = ttl ? (end != ttl && *end == '\0' && t <= UINT32_MAX) : s->special;
	free(ttl);
	if (!s->name || !s->type || !*s->name || !*s->type || !ttl_ok)
		return STS_PLUGIN_EPARSE;
	s->ttl = (uint32_t)t;
	return values_of(rrs, s);
}

int r53_parse_rrsets(const char *xml, size_t len, struct r53_rrsets *ret)
{
	xmlDocPtr doc;
	xmlNode *root = root_of(xml, len, "ListResourceRecordSetsResponse", &doc);
	if (!root)
		return STS_PLUGIN_EPARSE;
	void *v = ret->v;
	int r = items_of(root, "ResourceRecordSets", "ResourceRecordSet", sizeof(*ret->v), rrset_of,
			 &v, &ret->n);
	ret->v = v;
	bool oom = false;
	free(ret->next_name);
	free(ret->next_type);
	ret->truncated = is_true(root, "IsTruncated");
	ret->next_name = text(root, "NextRecordName", &oom);
	ret->next_type = text(root, "NextRecordType", &oom);
	if (r == STS_PLUGIN_OK && oom)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && ret->truncated && !ret->next_name)
		r = STS_PLUGIN_EPARSE; /* a next page nobody can ask for */
	xmlFreeDoc(doc);
	return r;
}

void r53_zones_release(struct r53_zones *l)
{
	for (size_t i = 0; l && i < l->n; i++) {
		free(l->v[i].id);
		free(l->v[i].name);
	}
	if (l) {
		free(l->v);
		free(l->next_marker);
		memset(l, 0, sizeof(*l));
	}
}

static int zone_of(const xmlNode *hz, void *item)
{
	struct r53_zone *z = item;
	bool oom = false;
	char *id = text(hz, "Id", &oom);
	z->name = text(hz, "Name", &oom);
	z->private_zone = is_true(child(hz, "Config"), "PrivateZone");
	if (oom || !id || !z->name) {
		free(id);
		return oom ? STS_PLUGIN_ENOMEM : STS_PLUGIN_EPARSE;
	}
	const char *slash = strrchr(id, '/'); /* "/hostedzone/Z..." */
	z->id = strdup(slash ? slash + 1 : id);
	free(id);
	if (!z->id)
		return STS_PLUGIN_ENOMEM;
	return *z->id && strspn(z->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == strlen(z->id)
		   ? STS_PLUGIN_OK
		   : STS_PLUGIN_EPARSE;
}

int r53_parse_zones(const char *xml, size_t len, struct r53_zones *ret)
{
	xmlDocPtr doc;
	xmlNode *root = root_of(xml, len, "ListHostedZonesResponse", &doc);
	if (!root)
		return STS_PLUGIN_EPARSE;
	void *v = ret->v;
	int r = items_of(root, "HostedZones", "HostedZone", sizeof(*ret->v), zone_of, &v, &ret->n);
	ret->v = v;
	bool oom = false;
	free(ret->next_marker);
	ret->truncated = is_true(root, "IsTruncated");
	ret->next_marker = text(root, "NextMarker", &oom);
	if (r == STS_PLUGIN_OK && oom)
		r = STS_PLUGIN_ENOMEM;
	if (r == STS_PLUGIN_OK && ret->truncated && !ret->next_marker)
		r = STS_PLUGIN_EPARSE;
	xmlFreeDoc(doc);
	return r;
}

void r53_parse_error(const char *xml, size_t len, char **ret_code, char **ret_message)
{
	*ret_code = *ret_message = NULL;
	xmlDocPtr doc = parse(xml, len);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlNode *err = is(root, "ErrorResponse") ? child(root, "Error") : NULL;
	if (!err && is(root, "Error"))
		err = root;
	bool oom = false;
	if (err) {
		*ret_code = text(err, "Code", &oom);
		*ret_message = text(err, "Message", &oom);
	} else if (root && child(root, "Messages")) { /* <InvalidChangeBatch><Messages> */
		*ret_code = strdup((const char *)root->name);
		*ret_message = text(child(root, "Messages"), "Message", &oom);
	}
	xmlFreeDoc(doc);
}

bool r53_xml_append(char **buf, size_t *len, const char *s, bool escape)
{
	size_t add = 0;
	for (const char *c = s; *c; c++)
		add += !escape ? 1 : *c == '&' ? 5 : *c == '<' || *c == '>' ? 4 : *c == '"' ? 6 : 1;
	char *b = realloc(*buf, *len + add + 1);
	if (!b)
		return false;
	char *o = b + *len;
	for (const char *c = s; *c; c++) {
		const char *rep = !escape     ? NULL
				  : *c == '&' ? "&amp;"
				  : *c == '<' ? "&lt;"
				  : *c == '>' ? "&gt;"
				  : *c == '"' ? "&quot;"
					      : NULL;
		if (rep) {
			memcpy(o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
	*buf = b;
	*len += add;
	return true;
}
