/* SPDX-License-Identifier: MIT */
/*
 * The inventory's top-level "hosted" section (issue 15, docs/inventory.md
 * "hosted"): the MTA-STS service stsctl runs for customers who delegate
 * to it. Validated here with positions; the typed result is inv->hosted.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_err.h"
#include "sts_inventory_int.h"

static const char *const hosted_keys[] = {"zone", "dns",    "edge",
					  "acme", "listen", "certificate_wait"};
static const char *const acme_keys[] = {"directory", "contact", "ca_file"};

/* "https://HOST[...]": a host, no blanks or control characters */
static bool https_url_ok(const char *u)
{
	if (strncasecmp(u, "https://", 8) != 0 || !u[8] || strchr("/?#:", u[8]))
		return false;
	for (const unsigned char *s = (const unsigned char *)u; *s; s++)
		if (*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void parse_contact(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			  struct sts_hosted_conf *h)
{
	char q[QUOTE_MAX + 4];
	if (!sts_inv_want(c, p, v, STS_JARRAY))
		return;
	h->acme_contact = sts_arena_alloc(&c->priv->arena, (v->u.a.n + 1) * sizeof(char *));
	if (!h->acme_contact) {
		sts_inv_oom(c, STS_ENOMEM);
		return;
	}
	for (uint32_t i = 0; i < v->u.a.n; i++) {
		const struct sts_jval *e = &v->u.a.v[i];
		struct pctx ep = {p, NULL, i};
		if (!sts_inv_want(c, &ep, e, STS_JSTRING))
			continue;
		const char *at = strchr(e->u.s.p, '@');
		if (strncasecmp(e->u.s.p, "mailto:", 7) != 0 || !at || at == e->u.s.p + 7 ||
		    !at[1] || strpbrk(e->u.s.p, " \t\r\n,")) {
			ERR(c, &ep, e->off,
			    "invalid ACME contact '%s': write mailto:ADDRESS (RFC 8555 section "
			    "7.3)",
			    sts_inv_quote(q, e->u.s.p));
			continue;
		}
		if ((h->acme_contact[h->n_acme_contact] = sts_inv_text_copy(c, e)))
			h->n_acme_contact++;
	}
	h->acme_contact[h->n_acme_contact] = NULL;
}

static void parse_acme(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
		       struct sts_hosted_conf *h)
{
	char q[QUOTE_MAX + 4];
	if (sts_inv_object_keys(c, p, v, acme_keys, N_OF(acme_keys)) < 0)
		return;
	const struct sts_jval *dir = sts_jobj_get(v, "directory");
	if (!dir)
		ERR(c, p, v->off, "missing 'directory': the ACME server's directory URL");
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		if (strcmp(m->key, "directory") == 0 &&
		    sts_inv_want(c, &mp, &m->val, STS_JSTRING)) {
			if (https_url_ok(m->val.u.s.p))
				h->acme_directory = sts_inv_text_copy(c, &m->val);
			else
				ERR(c, &mp, m->val.off,
				    "invalid ACME directory '%s': an https:// URL",
				    sts_inv_quote(q, m->val.u.s.p));
		} else if (strcmp(m->key, "contact") == 0) {
			parse_contact(c, &mp, &m->val, h);
		} else if (strcmp(m->key, "ca_file") == 0 &&
			   sts_inv_secret_value(c, &mp, &m->val, true)) {
			h->acme_ca_file = sts_inv_text_copy(c, &m->val);
		}
	}
}

/* "zone", "dns", "edge": required */
static void parse_required(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			   struct sts_hosted_conf *h)
{
	static const char *const why[] = {
	    "the MSP zone holding each customer's _mta-sts TXT record",
	    "the provider instance that publishes the hosted zone",
	    "the host name customers' mta-sts CNAMEs point to",
	};
	for (size_t i = 0; i < 3; i++)
		if (!sts_jobj_get(v, hosted_keys[i]))
			ERR(c, p, v->off, "missing '%s': %s", hosted_keys[i], why[i]);
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		if (strcmp(m->key, "zone") == 0)
			h->zone = sts_inv_host_value(c, &mp, &m->val, false, "zone");
		else if (strcmp(m->key, "edge") == 0)
			h->edge = sts_inv_host_value(c, &mp, &m->val, false, "edge host");
		else if (strcmp(m->key, "dns") == 0 && sts_inv_want(c, &mp, &m->val, STS_JSTRING)) {
			long k = sts_inv_strmap_find(&c->priv->providers, m->val.u.s.p, false, 0);
			if (k >= 0)
				h->dns = c->inv->providers[k].name;
			else
				sts_inv_undefined(c, &mp, &m->val, c->providers_j, "provider",
						  "providers");
		}
	}
}

void sts_inv_parse_hosted(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	struct sts_hosted_conf *h = sts_arena_alloc(&c->priv->arena, sizeof(*h));
	if (!h) {
		sts_inv_oom(c, STS_ENOMEM);
		return;
	}
	memset(h, 0, sizeof(*h));
	h->listen = STS_HOSTED_DEFAULT_LISTEN;
	h->certificate_wait = STS_HOSTED_CERT_WAIT;
	size_t before = c->n_errors;
	if (sts_inv_object_keys(c, p, v, hosted_keys, N_OF(hosted_keys)) < 0)
		return;
	sts_jlines_pos(&c->lines, v->off, &h->line, &h->col);
	parse_required(c, p, v, h);
	const struct sts_jval *acme = sts_jobj_get(v, "acme");
	struct pctx ap = {p, "acme", 0}, lp = {p, "listen", 0};
	if (acme)
		parse_acme(c, &ap, acme, h);
	else
		ERR(c, p, v->off,
		    "missing 'acme': the ACME directory that issues the "
		    "certificates of mta-sts.DOMAIN");
	const struct sts_jval *listen = sts_jobj_get(v, "listen");
	if (listen && sts_inv_listen_value(c, &lp, listen))
		h->listen = sts_inv_text_copy(c, listen);
	const struct sts_jval *wait = sts_jobj_get(v, "certificate_wait");
	struct pctx wp = {p, "certificate_wait", 0};
	if (wait &&
	    sts_inv_int_in_range(c, &wp, wait, 0, STS_HOSTED_CERT_WAIT_MAX, "certificate_wait"))
		h->certificate_wait = (unsigned)wait->u.i;
	if (c->n_errors == before)
		c->inv->hosted = h;
}
