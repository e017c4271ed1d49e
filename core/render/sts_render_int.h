/* SPDX-License-Identifier: MIT */
/*
 * Internal to libsts: what sts_render.c shares with sts_render_out.c.
 * Hidden like every libsts symbol without STS_API; not for plugins or cli/.
 */
#ifndef STS_RENDER_INT_H
#define STS_RENDER_INT_H

#include <stdbool.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "sts_render.h"
#include "sts_template.h"

/* Append a string literal. */
#define STS_PUT_LIT(b, lit) sts_buf_append((b), (lit), sizeof(lit) - 1)

/* Decimal, without vsnprintf() (render --json formats millions of numbers). */
int sts_render_put_ll(struct sts_buf *b, long long v);

/*
 * SHA-256 fetched once for a whole run: in OpenSSL 3 every EVP_Digest() or
 * SHA256() call fetches the algorithm again, which costs more than hashing
 * a policy does. One per thread. Both members NULL (fetch failed): the
 * one-shot call is used instead.
 */
struct sts_hasher {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

void sts_hasher_init(struct sts_hasher *h);
void sts_hasher_release(struct sts_hasher *h);

/* sts_render_domain_why() with a hasher (NULL: one-shot digest). */
int sts_render_domain_h(const struct sts_domain *d, enum sts_mode mode_override,
			struct sts_rendered *ret, const char **reterr, struct sts_hasher *h);

/*
 * zone.tmpl's variables: {"zone": ZONE, "domains": [...]}. _new returns
 * STS_EINVAL for a bad zone name; _add appends one domain (STS_EINVAL when
 * a record lies outside the zone); tmp is scratch space.
 */
int sts_render_zone_vars_new(const char *zone, json_t **ret);
int sts_render_zone_vars_add(json_t *vars, const struct sts_rendered *d, struct sts_buf *tmp);

/* nginx: can p be written as one bare token? */
bool sts_render_nginx_path_ok(const char *p);
/* sts_render_nginx_paths() with an already parsed template. */
int sts_render_nginx_tmpl(const struct sts_tmpl *t, const struct sts_rendered *x,
			  const char *web_root, const char *cert_dir, struct sts_buf *out);

#endif
