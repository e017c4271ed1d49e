/* SPDX-License-Identifier: MIT */
#ifndef STS_RENDER_H
#define STS_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sts_api.h"
#include "sts_buf.h"
#include "sts_inventory.h"
#include "sts_policy.h"
#include "sts_progress.h"

/*
 * Render is pure: the same domain in gives byte-identical artifacts out.
 * The policy id is derived from the policy text, so an unchanged policy
 * keeps its id.
 */

struct sts_record {
	char *name; /* absolute, ends in '.' */
	char *type; /* "TXT", "CNAME", "A", "AAAA" */
	uint32_t ttl;
	char *value; /* TXT: concatenated text, no quotes; CNAME: absolute name with '.' */
};

struct sts_rendered {
	char *domain;		 /* A-label */
	char *zone;		 /* zone apex, no trailing dot */
	char *policy_host;	 /* "mta-sts.<domain>" */
	char *policy_text;	 /* CRLF policy body; NULL for delegated hosting */
	char id[STS_ID_MAX + 1]; /* "" for delegated hosting */
	enum sts_mode mode;
	long long max_age;
	struct sts_record *records; /* sorted: _mta-sts, _smtp._tls, mta-sts */
	size_t n_records;
	/* appended */
	enum sts_hosting hosting;
	char **mx; /* copy of the domain's mx patterns, as in the policy */
	size_t n_mx;
};

STS_API void sts_rendered_release(struct sts_rendered *r);

/*
 * Render one domain. mode_override != STS_MODE_INVALID replaces d->mode
 * (the rollout stage; a domain in state absent renders mode none).
 */
STS_API int sts_render_domain(const struct sts_domain *d, enum sts_mode mode_override,
			      struct sts_rendered *ret);
/*
 * The same, and on STS_EINVAL *reterr says what is wrong with the domain
 * (static string, e.g. "max_age above 31557600"). Renders refuse what would
 * produce an invalid or unsafe artifact: bad names, mode enforce or testing
 * without mx, out-of-range max_age, rua URIs with ',' ';' '!' or spaces,
 * record names past 253 octets, a domain outside its zone.
 */
STS_API int sts_render_domain_why(const struct sts_domain *d, enum sts_mode mode_override,
				  struct sts_rendered *ret, const char **reterr);

/* The policy body: CRLF, version first, one mx line per pattern (kept in mode none). */
STS_API int sts_render_policy_text(enum sts_mode mode, long long max_age, char *const *mx,
				   size_t n_mx, struct sts_buf *out);

/* Id derived from the policy text: 1..32 [A-Za-z0-9]. */
STS_API int sts_policy_id(const char *text, size_t len, char ret[STS_ID_MAX + 1]);

/* Zone fragment (BIND syntax) for the given rendered domains of one zone. */
STS_API int sts_render_zone(const char *zone, const struct sts_rendered *doms, size_t n,
			    struct sts_buf *out);
/* nginx server block serving one policy host. */
STS_API int sts_render_nginx(const struct sts_rendered *r, struct sts_buf *out);

/* Defaults of the nginx paths (docs/stsctl-render.md). */
#define STS_RENDER_WEB_ROOT "/var/www/mta-sts" /* root <web_root>/<policy-host> */
#define STS_RENDER_CERT_DIR "/etc/ssl/mta-sts" /* <cert_dir>/<policy-host>/fullchain.pem */

/*
 * nginx server block with other paths (NULL: the defaults above). Paths
 * holding spaces, quotes, ';', '{', '}', '$', '#' or '\\' are refused
 * (STS_EINVAL) rather than quoted.
 */
STS_API int sts_render_nginx_paths(const struct sts_rendered *r, const char *web_root,
				   const char *cert_dir, struct sts_buf *out);

/*
 * One rendered domain as a JSON object (the element of "domains" in
 * stsctl render --json), pretty-printed with two spaces per level, the
 * opening brace not indented and the following lines indented by indent
 * spaces plus their level; no trailing newline.
 */
STS_API int sts_render_domain_json(const struct sts_rendered *r, unsigned indent,
				   struct sts_buf *out);

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

/* Options of sts_render_tree_opts() and sts_render_json(); zero-initialise. */
struct sts_render_opts {
	/*
	 * Render only these domains (A-label or as written, case-insensitive,
	 * trailing dot ignored); NULL: all. A zone file always holds every
	 * domain of its zone, so it never loses the records of the others.
	 */
	const char *const *only;
	size_t n_only;
	const char *web_root; /* nginx: NULL = STS_RENDER_WEB_ROOT */
	const char *cert_dir; /* nginx: NULL = STS_RENDER_CERT_DIR */
	bool no_sync;	      /* skip the final syncfs() (tests) */
	/*
	 * The mode a domain publishes instead of its inventory mode (the
	 * rollout stage from the state DB), or STS_MODE_INVALID to keep it.
	 * NULL: every domain keeps its inventory mode. Called from several
	 * threads at once: it must only read.
	 */
	enum sts_mode (*mode_of)(const char *domain, void *ud);
	void *mode_ud;
	/* sts_render_tree_opts: after each domain rendered (failed: it could not
	 * be rendered or written); NULL: none */
	sts_progress_fn *progress;
	void *progress_ud;
};

struct sts_render_stats {
	size_t domains;	  /* domains rendered */
	size_t zones;	  /* zone files rendered */
	size_t written;	  /* files written (new or changed) */
	size_t unchanged; /* files already identical, left alone */
};

/*
 * sts_render_tree with options. Domains that cannot be rendered get an
 * error diag each (file, line, column of the domain) and the others are
 * still written: the result is then STS_EINVALID. An unknown name in
 * opts->only is STS_ENOENT (nothing written). I/O errors stop at once and
 * return -errno with a diag naming the file. ret_stats may be NULL.
 */
STS_API int sts_render_tree_opts(const struct sts_inventory *inv, const char *outdir,
				 const struct sts_render_opts *opts,
				 struct sts_render_stats *ret_stats, struct sts_diags *diags);

/*
 * Stream {"domains":[...]} for the inventory, domains sorted by name,
 * through write (which returns 0, or a negative sts_err that stops the
 * render and is returned), one block of domains at a time. With several
 * CPUs, blocks are rendered by up to 4 threads and still written in
 * order: the output is the same byte for byte. Memory stays at a few
 * blocks. Errors as for sts_render_tree_opts; a domain that cannot be
 * rendered is left out of the document, which stays valid JSON.
 */
STS_API int sts_render_json(const struct sts_inventory *inv, const struct sts_render_opts *opts,
			    int (*write)(const char *p, size_t n, void *ud), void *ud,
			    struct sts_diags *diags);

#endif
