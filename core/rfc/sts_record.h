/* SPDX-License-Identifier: MIT */
#ifndef STS_RECORD_H
#define STS_RECORD_H

/*
 * Strict parsers of the two TXT records, exactly per the ABNF of RFC 8461
 * §3.1 and RFC 8460 §3 (docs/rfc-rules.md §1, §6), and the rua URI check
 * (core/rfc/sts_record.c). Findings name the docs/rfc-rules.md rule id.
 */
#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"
#include "sts_diag.h"
#include "sts_policy.h" /* struct sts_kv */

/*
 * _mta-sts TXT record (RFC 8461 §3.1), character-strings already concatenated.
 * The record parsers return like sts_policy_parse: STS_OK, STS_EINVALID
 * (errors in diags), STS_ETOOLARGE above STS_CAP_POLICY bytes, STS_ENOMEM;
 * ret holds what could be parsed either way (release it); diags may be NULL.
 */
struct sts_sts_record {
	char *id; /* NULL when absent or invalid */
	struct sts_kv *ext;
	size_t n_ext;
};

STS_API void sts_sts_record_init(struct sts_sts_record *r);
STS_API void sts_sts_record_release(struct sts_sts_record *r);
STS_API int sts_sts_record_parse(const char *text, size_t len, struct sts_sts_record *ret,
				 struct sts_diags *diags);

/* _smtp._tls TXT record (RFC 8460 §3). A repeated rua= adds to rua[]. */
struct sts_tlsrpt_record {
	char **rua;
	size_t n_rua;
	struct sts_kv *ext;
	size_t n_ext;
};

STS_API void sts_tlsrpt_record_init(struct sts_tlsrpt_record *r);
STS_API void sts_tlsrpt_record_release(struct sts_tlsrpt_record *r);
STS_API int sts_tlsrpt_record_parse(const char *text, size_t len, struct sts_tlsrpt_record *ret,
				    struct sts_diags *diags);

/*
 * One rua URI as stsctl will publish it: mailto: or https:, no unencoded
 * ',' ';' '!' (RFC 8460 §3), no spaces or CTLs. Returns STS_OK or
 * STS_EINVALID with a message in *reterr (static string).
 */
STS_API int sts_rua_check(const char *uri, const char **reterr);

/* 1..32 ASCII letters or digits (RFC 8461 §3.1 sts-id). */
STS_API bool sts_id_valid(const char *id);

#endif
