/* SPDX-License-Identifier: MIT */
/*
 * rfc2136: DNS UPDATE (RFC 2136) signed with TSIG, built with ldns.
 *   read   the zone's SOA (is the server authoritative?), then CNAME, TXT,
 *          A and AAAA at each owned name, queried at the primary
 *   apply  one UPDATE per zone (per call): for each (name, type) the values
 *          that go away are deleted one by one and new ones added, so a
 *          record that stays is never touched; a TTL change rewrites the
 *          rrset (kept records with their exact rdata). Each rrset is
 *          re-queried first and its exact content made a prerequisite, so
 *          a concurrent change makes the server refuse the whole update
 *          instead of losing it. Afterwards every changed rrset is queried
 *          again: a server that silently ignored a record (a CNAME beside
 *          other data) is reported as a conflict.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "r2136.h"

#define MAX_BATCH 100 /* changes per UPDATE: keeps the message far below 64 KiB */

static const struct sts_plugin_setting *const r2136_schema[] = {
    STS_SETTING(.key = "server", .type = STS_SETTING_STRING, .required = true,
		.description = "the primary server: IP address or host name"),
    STS_SETTING(.key = "port", .type = STS_SETTING_INTEGER, .def = "53", .description = "its port",
		.range = true, .min = 1, .max = 65535),
    STS_SETTING(.key = "key_name", .type = STS_SETTING_STRING, .required = true,
		.description = "TSIG key name"),
    STS_SETTING(.key = "key_algorithm", .type = STS_SETTING_STRING, .def = "hmac-sha256",
		.description = "hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1 "
			       "or hmac-md5",
		.choices = (const char *const[]){"hmac-sha256", "hmac-sha512", "hmac-sha384",
						 "hmac-sha224", "hmac-sha1", "hmac-md5", NULL}),
    STS_SETTING(.key = "key_secret", .type = STS_SETTING_SECRET, .required = true,
		.description = "TSIG secret, base64"),
    STS_SETTING(.key = "timeout", .type = STS_SETTING_INTEGER, .def = "5",
		.description = "seconds to wait for one reply", .range = true, .min = 1,
		.max = 120),
    STS_SETTING(.key = "tcp", .type = STS_SETTING_BOOL, .def = "false",
		.description = "every message over TCP"),
    STS_SETTING(.key = "sign_queries", .type = STS_SETTING_BOOL, .def = "true",
		.description = "TSIG on the read queries too"),
    STS_SETTING(.key = "max_concurrency", .type = STS_SETTING_INTEGER, .def = "2",
		.description = "zones updated at once", .range = true, .min = 1, .max = 64),
    STS_SETTING(.key = "zones", .type = STS_SETTING_STRING_LIST,
		.description = "the zones this key may update (optional): listed by zones(), "
			       "each probed with a signed SOA query"),
    NULL,
};

/* What the schema cannot say: the key name is a DNS name. */
static int r2136_check(const json_t *settings, struct sts_plugin_check *args)
{
	const char *key = json_string_value(json_object_get(settings, "key_name"));
	ldns_rdf *kn = NULL;
	if (key && ldns_str2rdf_dname(&kn, key) != LDNS_STATUS_OK) {
		args->key = "key_name";
		args->err_str = "key_name must be a DNS name";
		return STS_PLUGIN_EINVALID;
	}
	ldns_rdf_deep_free(kn);
	return STS_PLUGIN_OK;
}

static void wipe_free(char *s, size_t n)
{
	if (s) {
		OPENSSL_cleanse(s, n);
		free(s);
	}
}

static void r2136_unload(struct sts_plugin *p)
{
	struct r2136 *c = sts_plugin_ctx_get(p);
	if (!c)
		return;
	wipe_free(c->key.b64, c->key.b64 ? strlen(c->key.b64) : 0);
	wipe_free((char *)c->key.raw, c->key.raw_len);
	free(c->key.name);
	free(c->server);
	for (size_t i = 0; i < c->n_zones; i++)
		free(c->zones[i]);
	free(c->zones);
	free(c);
	sts_plugin_ctx_set(p, NULL);
}

static int load_secret(struct sts_plugin *p, struct r2136 *c, const char *ref,
		       struct sts_plugin_call *call)
{
	struct sts_secret *s = NULL;
	int r = sts_plugin_secret(p, ref, &s, call);
	if (r < 0)
		return r; /* the host recorded why */
	const char *v = sts_plugin_secret_value(p, s);
	size_t n = sts_plugin_secret_len(p, s);
	while (n && (v[n - 1] == '\n' || v[n - 1] == '\r' || v[n - 1] == ' '))
		n--;
	c->key.b64 = strndup(v, n);
	sts_plugin_secret_free(p, s);
	if (!c->key.b64)
		return STS_PLUGIN_ENOMEM;
	ldns_rdf *raw = NULL;
	if (n == 0 || ldns_str2rdf_b64(&raw, c->key.b64) != LDNS_STATUS_OK ||
	    ldns_rdf_size(raw) == 0) {
		ldns_rdf_deep_free(raw);
		sts_plugin_error(call, "the TSIG secret of 'key_secret' is not base64");
		return STS_PLUGIN_ESECRET;
	}
	c->key.raw_len = ldns_rdf_size(raw);
	c->key.raw = malloc(c->key.raw_len);
	if (c->key.raw)
		memcpy(c->key.raw, ldns_rdf_data(raw), c->key.raw_len);
	OPENSSL_cleanse(ldns_rdf_data(raw), ldns_rdf_size(raw));
	ldns_rdf_deep_free(raw);
	return c->key.raw ? STS_PLUGIN_OK : STS_PLUGIN_ENOMEM;
}

static int r2136_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	struct r2136 *c = sts_plugin_ctx_new(p, sizeof(*c));
	if (!c)
		return STS_PLUGIN_ENOMEM;
	const char *server = json_string_value(json_object_get(settings, "server"));
	const char *key = json_string_value(json_object_get(settings, "key_name"));
	const char *alg = json_string_value(json_object_get(settings, "key_algorithm"));
	c->port = (unsigned)json_integer_value(json_object_get(settings, "port"));
	c->timeout_ms = (long)json_integer_value(json_object_get(settings, "timeout")) * 1000L;
	c->tcp = json_is_true(json_object_get(settings, "tcp"));
	c->sign_queries = json_is_true(json_object_get(settings, "sign_queries"));
	c->concurrency = (unsigned)json_integer_value(json_object_get(settings, "max_concurrency"));
	c->key.alg = (char *)r2136_alg_name(alg, &c->key.own_hmac);
	size_t kl = strlen(key);
	c->server = strdup(server);
	if (!c->server ||
	    asprintf(&c->key.name, "%s%s", key, kl && key[kl - 1] == '.' ? "" : ".") < 0) {
		c->key.name = NULL;
		r2136_unload(p);
		return STS_PLUGIN_ENOMEM;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", c->port);
	int gai = getaddrinfo(server, port, &hints, &ai);
	if (gai != 0 || !ai || ai->ai_addrlen > sizeof(c->addr)) {
		sts_plugin_error(call, "cannot resolve DNS server '%s': %s", server,
				 gai ? gai_strerror(gai) : "no address");
		if (ai)
			freeaddrinfo(ai);
		r2136_unload(p);
		return STS_PLUGIN_ENET;
	}
	memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
	c->addr_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	const json_t *zones = json_object_get(settings, "zones");
	c->zones = calloc(json_array_size(zones) + 1, sizeof(*c->zones));
	for (size_t i = 0; c->zones && i < json_array_size(zones); i++)
		if ((c->zones[c->n_zones] = strdup(json_string_value(json_array_get(zones, i)))))
			c->n_zones++;
	if (!c->zones || c->n_zones != json_array_size(zones)) {
		r2136_unload(p);
		return STS_PLUGIN_ENOMEM;
	}
	int r = load_secret(p, c, json_string_value(json_object_get(settings, "key_secret")), call);
	if (r < 0) {
		r2136_unload(p);
		return r;
	}
	return STS_PLUGIN_OK;
}

/* ---- read ---- */

static int zone_dot_of(const char *zone, char **ret, struct sts_plugin_call *call)
{
	ldns_rdf *d = NULL;
	size_t n = strlen(zone);
	if (n == 0 || ldns_str2rdf_dname(&d, zone) != LDNS_STATUS_OK) {
		sts_plugin_error(call, "invalid zone name '%s'", zone);
		return STS_PLUGIN_EINVAL;
	}
	ldns_rdf_deep_free(d);
	if (asprintf(ret, "%s%s", zone, zone[n - 1] == '.' ? "" : ".") < 0)
		return STS_PLUGIN_ENOMEM;
	return STS_PLUGIN_OK;
}

/* Is zone_dot a zone the server serves (an SOA at the apex, authoritative)? */
static int zone_served(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c,
		       const char *zone_dot)
{
	ldns_rr_list *soa = NULL;
	bool nx = false;
	int r = r2136_query(p, call, c, zone_dot, LDNS_RR_TYPE_SOA, &soa, &nx);
	if (r == STS_PLUGIN_ENOENT)
		sts_plugin_error(call, "zone '%s' is not served by DNS server '%s' port %u",
				 zone_dot, c->server, c->port);
	if (r < 0)
		return r;
	bool ok = !nx && ldns_rr_list_rr_count(soa) == 1 &&
		  ldns_rr_get_type(ldns_rr_list_rr(soa, 0)) == LDNS_RR_TYPE_SOA;
	ldns_rr_list_deep_free(soa);
	if (!ok) {
		sts_plugin_error(call, "'%s' is not a zone apex at DNS server '%s' (no SOA there)",
				 zone_dot, c->server);
		return STS_PLUGIN_ENOENT;
	}
	return STS_PLUGIN_OK;
}

static const ldns_rr_type read_types[] = {LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_A,
					  LDNS_RR_TYPE_AAAA};

static int add_rrs(struct sts_plugin *p, const char *name, const ldns_rr_list *l, ldns_rr_type t,
		   struct sts_rrsets *ret, size_t *ret_n)
{
	struct sts_rrset *rs = NULL;
	*ret_n = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);
		if (ldns_rr_get_type(rr) != t)
			continue;
		char *tn = ldns_rr_type2str(t);
		if (!rs && tn)
			rs = sts_plugin_rrset_add(p, ret, name, tn, ldns_rr_ttl(rr));
		free(tn);
		size_t vl = 0;
		char *v = r2136_value_of(rr, &vl);
		int r = rs && v ? sts_plugin_rrset_add_value(p, rs, v, vl) : STS_PLUGIN_ENOMEM;
		free(v);
		if (r < 0)
			return r;
		(*ret_n)++;
	}
	return STS_PLUGIN_OK;
}

static int r2136_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		      struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	const struct r2136 *c = sts_plugin_ctx_get(p);
	char *zone_dot = NULL;
	int r = zone_dot_of(zone, &zone_dot, call);
	if (r < 0 || (r = zone_served(p, call, c, zone_dot)) < 0)
		goto out;
	size_t queries = 1, found = 0;
	for (size_t i = 0; i < n && r == STS_PLUGIN_OK; i++) {
		for (size_t k = 0; k < sizeof(read_types) / sizeof(read_types[0]); k++) {
			ldns_rr_list *l = NULL;
			bool nx = false;
			size_t got = 0;
			queries++;
			if ((r = r2136_query(p, call, c, names[i], read_types[k], &l, &nx)) < 0)
				break;
			r = add_rrs(p, names[i], l, read_types[k], ret, &got);
			ldns_rr_list_deep_free(l);
			found += got > 0;
			/* nothing at the name, or a CNAME: nothing else can be there */
			if (r < 0 || nx || (read_types[k] == LDNS_RR_TYPE_CNAME && got))
				break;
		}
	}
	if (r == STS_PLUGIN_OK)
		sts_plugin_log(p, STS_PLOG_DEBUG,
			       "zone '%s': %zu rrsets at %zu names (%zu queries)", zone_dot, found,
			       n, queries);
out:
	free(zone_dot);
	return r;
}

static int r2136_apply_op(struct sts_plugin *p, const char *zone,
			  const struct sts_rrset_change *const *changes, size_t n,
			  struct sts_plugin_call *call)
{
	const struct r2136 *c = sts_plugin_ctx_get(p);
	char *zone_dot = NULL;
	int r = zone_dot_of(zone, &zone_dot, call);
	if (r == STS_PLUGIN_OK && n)
		r = r2136_apply(p, call, c, zone_dot, changes, n);
	free(zone_dot);
	return r;
}

static void r2136_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	const struct r2136 *c = sts_plugin_ctx_get(p);
	ret->batch = true; /* one UPDATE is applied by the server as a whole */
	ret->max_concurrency = c ? c->concurrency : 1;
	ret->max_batch = MAX_BATCH;
}

/* DNS has no "list my zones": the ones the "zones" setting names. */
static int r2136_zones(struct sts_plugin *p, struct sts_zone_list *ret,
		       struct sts_plugin_call *call)
{
	const struct r2136 *c = sts_plugin_ctx_get(p);
	int r = STS_PLUGIN_OK;
	for (size_t i = 0; i < c->n_zones && r == STS_PLUGIN_OK; i++)
		r = sts_plugin_zone_add(p, ret, c->zones[i]);
	return r;
}

/* A signed SOA query with the key: the server must accept the key. */
static int probe_key(struct sts_plugin *p, struct sts_plugin_call *call, const struct r2136 *c)
{
	ldns_rdf *qn = ldns_dname_new_frm_str(".");
	ldns_pkt *q = qn ? ldns_pkt_query_new(qn, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0) : NULL;
	struct r2136_reply rep;
	if (!q) {
		ldns_rdf_deep_free(qn);
		return STS_PLUGIN_ENOMEM;
	}
	int r = r2136_exchange(p, call, c, q, true, &rep);
	ldns_pkt_free(q);
	if (r < 0)
		return r;
	if (rep.tsig_err)
		r = r2136_reply_error(p, call, c, &rep, "signed SOA query");
	else if (!rep.tsig_ok)
		r = r2136_unverified(p, call, c, "signed SOA query");
	r2136_reply_release(&rep);
	return r;
}

/* Each zone of "zones": a signed SOA query must find its apex; without
 * "zones", one signed query shows whether the server knows the key. */
static int r2136_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	const struct r2136 *c = sts_plugin_ctx_get(p);
	struct r2136 signed_c = *c;
	signed_c.sign_queries = true;
	if (c->n_zones == 0)
		return probe_key(p, call, &signed_c);
	int r = STS_PLUGIN_OK;
	for (size_t i = 0; i < c->n_zones && r == STS_PLUGIN_OK; i++) {
		char *zone_dot = NULL;
		r = zone_dot_of(c->zones[i], &zone_dot, call);
		if (r == STS_PLUGIN_OK)
			r = zone_served(p, call, &signed_c, zone_dot);
		free(zone_dot);
	}
	return r;
}

STS_PLUGIN_DNS_OPS(r2136_ops, r2136_read, r2136_apply_op, r2136_caps, r2136_zones);

STS_PLUGIN_API(rfc2136, STS_PLUGIN_DNS, .description = "DNS UPDATE (RFC 2136) signed with TSIG",
	       .capabilities = STS_PLUGIN_CAP_CREDENTIALS | STS_PLUGIN_CAP_BATCH,
	       .schema = r2136_schema, .check = r2136_check, .load = r2136_load,
	       .unload = r2136_unload, .probe = r2136_probe, .dns = &r2136_ops);
