/* SPDX-License-Identifier: MIT */
#ifndef STS_POLICY_H
#define STS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"
#include "sts_diag.h"

/*
 * Strict parser of the MTA-STS policy, exactly per the ABNF of RFC 8461
 * §3.2 (docs/rfc-rules.md §2), and the helpers the policy, record and mx
 * parsers share (sts_lint, sts_kv). The TXT records are in sts_record.h,
 * the MX patterns in sts_mx.h.
 * Findings name the docs/rfc-rules.md rule id (T*, B*, R*, M*).
 */

enum sts_mode {
	STS_MODE_NONE,
	STS_MODE_TESTING,
	STS_MODE_ENFORCE,
	_STS_MODE_MAX,
	STS_MODE_INVALID = -1,
};

#define STS_MAX_AGE_MAX		    31557600LL /* RFC 8461 §3.2 */
#define STS_MAX_AGE_RECOMMENDED_MIN 86400LL
#define STS_ID_MAX		    32

STS_API const char *sts_mode_name(enum sts_mode m);	   /* "none".."enforce", NULL if invalid */
STS_API enum sts_mode sts_mode_from_string(const char *s); /* exact, case-sensitive */

struct sts_kv {
	char *key;
	char *value;
};

struct sts_policy {
	char *version;	    /* NULL when absent */
	enum sts_mode mode; /* STS_MODE_INVALID when absent or invalid */
	long long max_age;  /* -1 when absent or invalid */
	char **mx;	    /* patterns in file order */
	size_t n_mx;
	struct sts_kv *ext; /* extension fields in file order */
	size_t n_ext;
};

STS_API void sts_policy_init(struct sts_policy *p);
STS_API void sts_policy_release(struct sts_policy *p);

/*
 * Parse a policy body (RFC 8461 §3.2). LF and CRLF both accepted.
 * Returns STS_OK when valid, STS_EINVALID when not (errors in diags),
 * STS_ETOOLARGE above STS_CAP_POLICY, STS_ENOMEM. ret is filled with what
 * could be parsed in both the valid and invalid case (for lint --json);
 * release it either way. diags may be NULL.
 */
STS_API int sts_policy_parse(const char *text, size_t len, struct sts_policy *ret,
			     struct sts_diags *diags);

/* The TXT records are in sts_record.h, the MX patterns in sts_mx.h. */

/* Extension field name (RFC 8461 §3.1/§3.2, RFC 8460 §3):
 * (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."). */
STS_API bool sts_ext_name_valid(const char *name, size_t len);

/*
 * Internal to libsts: shared by sts_policy.c and sts_record.c.
 * Not exported (no STS_API); do not use outside core/.
 */
struct sts_lint {
	struct sts_diags *diags; /* may be NULL */
	size_t n_errors;
	int err; /* first allocation failure (STS_ENOMEM) or STS_OK */
};

void sts_lint_init(struct sts_lint *l, struct sts_diags *diags);
/* Record a finding; counts errors even when diags is NULL. */
void sts_lint_add(struct sts_lint *l, enum sts_severity sev, const char *rule, unsigned line,
		  unsigned col, const char *fmt, ...) STS_PRINTF(6, 7);
/* Printable, truncated copy of p[0..n) for messages: bytes outside
 * 0x20-0x7e become \xHH; at most outsz-1 bytes, "..." when cut. */
void sts_lint_quote(char *out, size_t outsz, const char *p, size_t n);
#define STS_LINT_QUOTE_MAX 80
/* Append a copy of key/value to *v (n entries); STS_OK or STS_ENOMEM. */
int sts_kv_push(struct sts_kv **v, size_t *n, const char *key, size_t klen, const char *val,
		size_t vlen);
void sts_kv_free(struct sts_kv *v, size_t n);
/* Append a copy of p[0..len) to the string array *v. */
int sts_strv_push(char ***v, size_t *n, const char *p, size_t len);

#endif
