/* SPDX-License-Identifier: MIT */
#ifndef STS_RENDER_H
#define STS_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "sts_api.h"
#include "sts_buf.h"
#include "sts_inventory.h"
#include "sts_policy.h"

/*
 * Render is pure: the same domain in gives byte-identical artifacts out.
 * The policy id is derived from the policy text, so an unchanged policy
 * keeps its id.
 */

struct sts_record {
	char *name;  /* absolute, ends in '.' */
	char *type;  /* "TXT", "CNAME", "A", "AAAA" */
	uint32_t ttl;
	char *value; /* TXT: concatenated text, no quotes; CNAME: absolute name with '.' */
};

struct sts_rendered {
	char *domain;      /* A-label */
	char *zone;        /* zone apex, no trailing dot */
	char *policy_host; /* "mta-sts.<domain>" */
	char *policy_text; /* CRLF policy body; NULL for delegated hosting */
	char id[STS_ID_MAX + 1]; /* "" for delegated hosting */
	enum sts_mode mode;
	long long max_age;
	struct sts_record *records; /* sorted: _mta-sts, _smtp._tls, mta-sts */
	size_t n_records;
};

STS_API void sts_rendered_release(struct sts_rendered *r);

/*
 * Render one domain. mode_override != STS_MODE_INVALID replaces d->mode
 * (the rollout stage; a domain in state absent renders mode none).
 */
STS_API int sts_render_domain(const struct sts_domain *d, enum sts_mode mode_override,
			      struct sts_rendered *ret);

/* The policy body: CRLF, version first, one mx line per pattern (kept in mode none). */
STS_API int sts_render_policy_text(enum sts_mode mode, long long max_age, char *const *mx,
				   size_t n_mx, struct sts_buf *out);

/* Id derived from the policy text: 1..32 [A-Za-z0-9]. */
STS_API int sts_policy_id(const char *text, size_t len, char ret[STS_ID_MAX + 1]);

/*
 * TXT value in zone-file presentation: quoted character-strings of at
 * most 255 octets each, '"' and '\\' escaped, separated by one space.
 */
STS_API int sts_txt_presentation(const char *value, struct sts_buf *out);

/* Zone fragment (BIND syntax) for the given rendered domains of one zone. */
STS_API int sts_render_zone(const char *zone, const struct sts_rendered *doms, size_t n,
			    struct sts_buf *out);
/* nginx server block serving one policy host. */
STS_API int sts_render_nginx(const struct sts_rendered *r, struct sts_buf *out);

/*
 * Write the whole tree for an inventory under outdir:
 *   outdir/<policy-host>/.well-known/mta-sts.txt
 *   outdir/zones/<zone>.zone
 *   outdir/nginx/<policy-host>.conf
 * Each file is written to a temp name and renamed; one syncfs() at the end.
 * Unchanged files are left alone.
 */
STS_API int sts_render_tree(const struct sts_inventory *inv, const char *outdir,
			    struct sts_diags *diags);

#endif
