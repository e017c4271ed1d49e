/* SPDX-License-Identifier: MIT */
#ifndef STS_ONBOARD_H
#define STS_ONBOARD_H

#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"
#include "sts_buf.h"
#include "sts_check.h"
#include "sts_hosted_label.h"
#include "sts_inventory.h"
#include "sts_policy.h"

/*
 * MSP onboarding (stsctl onboard): discover each domain's MX hosts and its
 * current MTA-STS and TLS-RPT state with the live check (sts_check.h), and
 * propose an inventory entry:
 *
 *  - mx: the patterns of the policy already served when it is usable and
 *    covers every MX host, else every MX host name (preference order);
 *  - mode: the served policy's mode when there is a usable one, else
 *    testing; max_age: the served one (1..31557600), else inherited;
 *  - tenant: as asked; TLS-RPT rua: inherited from the tenant or the
 *    defaults of the inventory, else the rua the domain publishes now;
 *  - a domain whose MX hosts fail (no MX, no address, no STARTTLS, TLS
 *    below 1.2, an invalid certificate, a failed probe) is flagged with
 *    the reasons and not proposed; one already in the inventory is left
 *    alone.
 *
 * The proposals come out as a new inventory document, or merged into the
 * text of an existing one: the new objects are appended to its "domains"
 * array and every other byte is kept.
 */

struct sts_onboard_input {
	const char *name;   /* normalised (sts_check_domain_name) */
	const char *tenant; /* NULL: none */
};

enum sts_onboard_status {
	STS_ONBOARD_PROPOSED,
	STS_ONBOARD_FLAGGED, /* an MX host fails: reasons say which */
	STS_ONBOARD_PRESENT, /* already in the inventory */
};

struct sts_onboard_entry {
	char *name;
	char *tenant;
	enum sts_onboard_status status;
	char **mx; /* proposed patterns */
	size_t n_mx;
	enum sts_mode mode;
	long long max_age; /* -1: not written (inherited or the default) */
	char **rua;	   /* written only when nothing is inherited */
	size_t n_rua;
	char **reasons; /* STS_ONBOARD_FLAGGED: one line each */
	size_t n_reasons;
	enum sts_view found; /* what senders apply now */
};

struct sts_onboard {
	struct sts_onboard_entry *v; /* in input order */
	size_t n;
	size_t n_proposed, n_flagged, n_present;
	struct sts_check_report check; /* what the live check found */
};

/* One row of `stsctl onboard --csv` input. */
struct sts_onboard_row {
	char *domain; /* as written, blanks and quotes around it trimmed */
	char *tenant; /* NULL: no second column, or an empty one */
	unsigned line;
};

/*
 * The "domain[,tenant]" rows of CSV text[0..len): blank lines, '#'
 * comments and a "domain" header as the first row are skipped; blanks,
 * tabs and '"' around each field are trimmed, and a NUL ends the text.
 * STS_OK, STS_ENOMEM, or STS_EPARSE with *reterr_line when a row has more
 * than two columns. *ret (the rows before the error on failure) is freed
 * with sts_onboard_rows_free() either way.
 */
STS_API int sts_onboard_csv(const char *text, size_t len, struct sts_onboard_row **ret,
			    size_t *ret_n, unsigned *reterr_line);
STS_API void sts_onboard_rows_free(struct sts_onboard_row *v, size_t n);

/*
 * Check in[0..n) with o (no drift: o->inventory is ignored) and propose
 * entries; inv (may be NULL) gives the tenants' inherited rua and the
 * domains already present. Returns as sts_check_run; release ret always.
 */
STS_API int sts_onboard_run(const struct sts_onboard_input *in, size_t n,
			    const struct sts_check_opts *o, const struct sts_inventory *inv,
			    struct sts_onboard *ret, const char **reterr);
STS_API void sts_onboard_release(struct sts_onboard *ob);

/* One proposed entry as a one-line JSON object ({"name": ..., ...}). */
STS_API int sts_onboard_entry_json(const struct sts_onboard_entry *e, struct sts_buf *out);

/*
 * A new inventory holding the proposed entries: {"version": 1, "tenants":
 * {one empty object per tenant used}, "domains": [...]}.
 */
STS_API int sts_onboard_document(const struct sts_onboard *ob, struct sts_buf *out);

/*
 * Append the proposed entries to the "domains" array of the inventory
 * text[0..len) (creating the array when missing), keeping every other
 * byte. STS_OK, STS_EPARSE (not a JSON object; *reterr says why),
 * STS_ENOMEM, STS_ETOOLARGE.
 */
STS_API int sts_onboard_merge(const char *text, size_t len, const struct sts_onboard *ob,
			      struct sts_buf *out, const char **reterr);

/* ---- stsctl onboard --hosted (docs/stsctl-onboard.md, docs/hosted.md) ---- */

struct sts_db;

struct sts_onboard_hosted_entry {
	char *domain; /* A-label */
	char label[STS_HOSTED_LABEL_LEN + 1];
	enum sts_onboard_label {
		STS_ONBOARD_LABEL_STORED,    /* held in the state before this run */
		STS_ONBOARD_LABEL_ALLOCATED, /* allocated and stored by this run */
		STS_ONBOARD_LABEL_COMPUTED,  /* read-only state without one: the hash label,
						which the allocation will store unless it collides */
	} label_source;
	const struct sts_domain *inv; /* its inventory entry, or NULL (a prospective customer) */
	struct sts_hosted_rec rec[2]; /* _mta-sts.D, mta-sts.D */
};

struct sts_onboard_hosted {
	struct sts_onboard_hosted_entry *v; /* in input order */
	size_t n;
	size_t n_ready; /* both records in place */
};

/*
 * For each of names[0..n) (normalised): its label (the state's; with
 * allocate, a missing one is allocated and stored, sts_hosted_label_alloc;
 * db NULL or without one and !allocate: the computed hash label) and what
 * the resolver of o (resolver, dns_timeout_ms) shows at its two names. h:
 * the inventory's hosted section. STS_OK (ret filled; release it always),
 * STS_EIO (the resolver could not be set up, *reterr), STS_EDB,
 * STS_EEXIST (no free label), STS_ENOMEM.
 */
STS_API int sts_onboard_hosted_run(const char *const *names, size_t n,
				   const struct sts_hosted_conf *h, const struct sts_inventory *inv,
				   struct sts_db *db, bool allocate, const struct sts_check_opts *o,
				   struct sts_onboard_hosted *ret, const char **reterr);
STS_API void sts_onboard_hosted_release(struct sts_onboard_hosted *ob);
/* The --json document (docs/stsctl-onboard.md). NULL: no memory. */
STS_API json_t *sts_onboard_hosted_json(const struct sts_onboard_hosted *ob);
/* The text: per domain the two records to add and their state. */
STS_API int sts_onboard_hosted_text(const struct sts_onboard_hosted *ob, struct sts_buf *out);

#endif
