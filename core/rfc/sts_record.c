/* SPDX-License-Identifier: MIT */
/*
 * Strict parsers of the two TXT records: _mta-sts (RFC 8461 §3.1, docs/rfc-rules.md
 * §1, T1-T17) and _smtp._tls (RFC 8460 §3, docs/rfc-rules.md §6, R1-R11).
 * Both share the shape `version 1*(delim field) [delim]` with
 * delim = *WSP ";" *WSP, so one scanner drives both.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_policy.h"
#include "sts_record.h"

/* Records are at most a few hundred bytes; refuse absurd input early. */
#define RECORD_CAP STS_CAP_POLICY

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

STS_API bool sts_id_valid(const char *id)
{
	if (!id)
		return false;
	size_t n = 0;
	for (; id[n]; n++)
		if (!is_alnum((unsigned char)id[n]) || n >= STS_ID_MAX)
			return false;
	return n >= 1;
}

/* ---- rua URIs ---- */

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 unreserved / reserved, minus the three R4 forbids. */
static bool uri_char(unsigned char c)
{
	if (is_alnum(c))
		return true;
	return strchr("-._~:/?#[]@$&'()*+=", c) != NULL;
}

/* *reterr = why (a static string): the check's answer for a bad value */
static int invalid(const char **reterr, const char *why)
{
	if (reterr)
		*reterr = why;
	return STS_EINVALID;
}

static const char msg_reserved[] = "',', '!' and ';' must be percent-encoded (%2C, %21, %3B)";
static const char msg_no_scheme[] = "URI has no scheme (an unencoded ',' splits a URI: write %2C)";

STS_API int sts_rua_check(const char *uri, const char **reterr)
{
	if (reterr)
		*reterr = NULL;
	if (!uri || !*uri)
		return invalid(reterr, "empty URI");
	for (const char *p = uri; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == ',' || c == '!' || c == ';')
			return invalid(reterr, msg_reserved);
		if (c <= 0x20 || c == 0x7f)
			return invalid(reterr,
				       "spaces and control characters are not allowed in a URI");
		if (c >= 0x80)
			return invalid(reterr, "non-ASCII character in URI: percent-encode it");
		if (c == '%') {
			if (!is_hex((unsigned char)p[1]) || !is_hex((unsigned char)p[2]))
				return invalid(reterr, "'%' not followed by two hex digits");
			p += 2;
			continue;
		}
		if (!uri_char(c))
			return invalid(reterr, "character not allowed in a URI (RFC 3986)");
	}
	if (strncasecmp(uri, "mailto:", 7) == 0) {
		const char *addr = uri + 7;
		size_t alen = strcspn(addr, "?");
		const char *at = memchr(addr, '@', alen);
		if (!at || at == addr || at + 1 == addr + alen)
			return invalid(reterr, "mailto: URI needs an address 'local@domain'");
		return STS_OK;
	}
	if (strncasecmp(uri, "https:", 6) == 0) {
		if (strncmp(uri + 6, "//", 2) != 0 || uri[8] == '\0' || uri[8] == '/')
			return invalid(reterr, "https: URI needs a host ('https://host/path')");
		return STS_OK;
	}
	if (strncasecmp(uri, "http:", 5) == 0)
		return invalid(reterr, "http: is not allowed: use https:");
	if (!strchr(uri, ':'))
		return invalid(reterr, msg_no_scheme);
	return invalid(reterr, "unsupported scheme: only mailto: and https: are allowed");
}

/* ---- the shared record scanner ---- */

struct rparse;

/* What differs between the two records: version, required field, rule ids. */
struct rec_spec {
	const char *version;  /* "v=STSv1" */
	const char *required; /* "id=" / "rua=" */
	/* parses the required field starting at a; returns its end */
	size_t (*field_required)(struct rparse *rp, size_t a);
	const char *rule_case;	  /* version in the wrong case: T3 / R2 */
	const char *rule_begin;	  /* does not begin with the version: T6 / R2 */
	const char *rule_ws;	  /* whitespace before the first ';': T12 / R7 */
	const char *rule_syntax;  /* ';;', missing ';', no field: T10 / R3 */
	const char *rule_ext;	  /* extension syntax: T7 / R6 */
	const char *rule_ascii;	  /* non-ASCII byte: T2 / R6 */
	const char *rule_dup;	  /* duplicated field: T9 / R5 */
	const char *rule_missing; /* required field missing: T4 / R3 */
	const char *rule_size;	  /* size cap: T14 / R8 */
	const char *fate;	  /* what senders do with an invalid record */
	bool ext_first_wins;	  /* duplicated extensions: keep the first only */
};

struct rparse {
	struct sts_lint lint;
	const struct rec_spec *spec;
	const char *s;
	size_t n;
	struct sts_kv **ext;
	size_t *n_ext;
	unsigned req_col; /* column of the first required field, 0: none yet */
	struct sts_sts_record *sts;
	struct sts_tlsrpt_record *rpt;
};

/* Records are one line: line 1 with a column, or 0/0 for the whole record. */
#define RERR(rp, rule, col, ...)                                                                   \
	sts_lint_add(&(rp)->lint, STS_SEV_ERROR, rule, (col) ? 1 : 0, col, __VA_ARGS__)
#define RWARN(rp, rule, col, ...)                                                                  \
	sts_lint_add(&(rp)->lint, STS_SEV_WARNING, rule, (col) ? 1 : 0, col, __VA_ARGS__)

static unsigned col_of(size_t pos)
{
	return (unsigned)pos + 1;
}

/* End of a plain field (no WSP, no ';') starting at a. */
static size_t field_end(const struct rparse *rp, size_t a)
{
	while (a < rp->n && !is_wsp(rp->s[a]) && rp->s[a] != ';')
		a++;
	return a;
}

/* Extension value: 1*(%x21-3A / %x3C / %x3E-7E). Offset of the first bad
 * byte or (size_t)-1. */
static size_t ext_value_bad(const char *v, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x21 || c > 0x7e || c == '=' || c == ';')
			return i;
	}
	return (size_t)-1;
}

static bool ext_seen(const struct rparse *rp, const char *k, size_t kn)
{
	for (size_t i = 0; i < *rp->n_ext; i++)
		if (strlen((*rp->ext)[i].key) == kn && memcmp((*rp->ext)[i].key, k, kn) == 0)
			return true;
	return false;
}

/* name=value extension field at [a, b). */
static void field_ext(struct rparse *rp, size_t a, size_t b)
{
	char q[STS_LINT_QUOTE_MAX];
	const struct rec_spec *sp = rp->spec;
	const char *f = rp->s + a;
	const char *eq = memchr(f, '=', b - a);
	sts_lint_quote(q, sizeof(q), f, b - a);
	if (!eq) {
		RERR(rp, sp->rule_ext, col_of(a), "field '%s' is not 'name=value'; %s", q,
		     sp->fate);
		return;
	}
	size_t kn = (size_t)(eq - f);
	sts_lint_quote(q, sizeof(q), f, kn);
	if (!sts_ext_name_valid(f, kn)) {
		RERR(rp, sp->rule_ext, col_of(a),
		     "invalid field name '%s': letters, digits, '_', '-', '.', at most 32, "
		     "starting with a letter or digit; %s",
		     q, sp->fate);
		return;
	}
	size_t vs = a + kn + 1;
	size_t bad = ext_value_bad(rp->s + vs, b - vs);
	if (bad != (size_t)-1) {
		char qb[STS_LINT_QUOTE_MAX];
		sts_lint_quote(qb, sizeof(qb), rp->s + vs + bad, vs < b ? 1 : 0);
		if (vs == b)
			RERR(rp, sp->rule_ext, col_of(vs), "field '%s' has an empty value; %s", q,
			     sp->fate);
		else
			RERR(rp,
			     (unsigned char)rp->s[vs + bad] >= 0x80 ? sp->rule_ascii : sp->rule_ext,
			     col_of(vs + bad),
			     "field '%s': '%s' is not allowed in a value (visible US-ASCII "
			     "except '=' and ';'); %s",
			     q, qb, sp->fate);
		return;
	}
	if (sp->ext_first_wins && ext_seen(rp, f, kn)) {
		RWARN(rp, sp->rule_dup, col_of(a), "duplicate key '%s': first wins", q);
		return;
	}
	if (sts_kv_push(rp->ext, rp->n_ext, f, kn, rp->s + vs, b - vs) < 0)
		rp->lint.err = STS_ENOMEM;
}

static size_t field_id(struct rparse *rp, size_t a)
{
	char q[STS_LINT_QUOTE_MAX];
	size_t b = field_end(rp, a);
	const char *v = rp->s + a + 3;
	size_t vn = b - a - 3;
	if (rp->req_col) {
		RWARN(rp, "T9", col_of(a), "duplicate key 'id': first wins (column %u)",
		      rp->req_col);
		return b;
	}
	rp->req_col = col_of(a);
	bool ok = vn >= 1 && vn <= STS_ID_MAX;
	for (size_t i = 0; ok && i < vn; i++)
		ok = is_alnum((unsigned char)v[i]);
	sts_lint_quote(q, sizeof(q), v, vn);
	if (vn == 0)
		RERR(rp, "T4", col_of(a), "empty id; senders discard the record");
	else if (!ok)
		RERR(rp, "T4", col_of(a),
		     "invalid id '%s': 1 to 32 letters or digits only; senders discard the record",
		     q);
	else if (!(rp->sts->id = strndup(v, vn)))
		rp->lint.err = STS_ENOMEM;
	return b;
}

/* One URI of a rua list at [u, p). */
static void rua_uri(struct rparse *rp, size_t u, size_t p, bool after_comma)
{
	char q[STS_LINT_QUOTE_MAX];
	const char *why = NULL;
	char *uri = strndup(rp->s + u, p - u);
	if (!uri) {
		rp->lint.err = STS_ENOMEM;
		return;
	}
	if (memchr(rp->s + u, '\0', p - u))
		why = "NUL byte in URI";
	else if (sts_rua_check(uri, &why) == STS_OK &&
		 sts_strv_push(&rp->rpt->rua, &rp->rpt->n_rua, uri, p - u) < 0)
		rp->lint.err = STS_ENOMEM;
	if (why) {
		bool r4 = why == msg_reserved || (why == msg_no_scheme && after_comma);
		sts_lint_quote(q, sizeof(q), rp->s + u, p - u);
		RERR(rp, r4 ? "R4" : "R3", col_of(u),
		     "invalid rua URI '%s': %s; senders cannot deliver reports there", q, why);
	}
	free(uri);
}

/* rua=URI *(*WSP "," *WSP URI); returns the end of the field. */
static size_t field_rua(struct rparse *rp, size_t a)
{
	size_t p = a + 4;
	if (rp->req_col)
		RWARN(rp, "R5", col_of(a),
		      "second 'rua' field (first at column %u): kept, but some checkers reject "
		      "the record; publish one 'rua=' with a comma-separated list",
		      rp->req_col);
	else
		rp->req_col = col_of(a);
	for (bool after_comma = false; rp->lint.err == STS_OK; after_comma = true) {
		size_t u = p;
		while (p < rp->n && !is_wsp(rp->s[p]) && rp->s[p] != ',' && rp->s[p] != ';')
			p++;
		rua_uri(rp, u, p, after_comma);
		size_t w = p;
		while (w < rp->n && is_wsp(rp->s[w]))
			w++;
		if (w >= rp->n || rp->s[w] != ',')
			break;
		p = w + 1;
		while (p < rp->n && is_wsp(rp->s[p]))
			p++;
	}
	return p;
}

/* One field starting at a; returns its end. */
static size_t parse_field(struct rparse *rp, size_t a)
{
	const struct rec_spec *sp = rp->spec;
	size_t rn = strlen(sp->required);
	if (rp->n - a >= rn && memcmp(rp->s + a, sp->required, rn) == 0)
		return sp->field_required(rp, a);
	size_t b = field_end(rp, a);
	if (b - a >= 2 && memcmp(rp->s + a, "v=", 2) == 0)
		RWARN(rp, sp->rule_dup, col_of(a), "duplicate key 'v': first wins");
	else
		field_ext(rp, a, b);
	return b;
}

/* Whitespace after the last field without a ';' is not grammatical. */
static void check_trailing_wsp(struct rparse *rp)
{
	size_t w = rp->n;
	while (w > 0 && is_wsp(rp->s[w - 1]))
		w--;
	if (w < rp->n && w > 0 && rp->s[w - 1] != ';')
		RERR(rp, rp->spec->rule_syntax, col_of(w),
		     "trailing whitespace after the last field; %s", rp->spec->fate);
}

/* Scan `1*(delim field) [delim]` after the version; returns the number of fields. */
static size_t scan_fields(struct rparse *rp, size_t p)
{
	char q[STS_LINT_QUOTE_MAX];
	const struct rec_spec *sp = rp->spec;
	size_t fields = 0;
	for (bool first = true; p < rp->n && rp->lint.err == STS_OK; first = false) {
		size_t d = p;
		while (p < rp->n && is_wsp(rp->s[p]))
			p++;
		if (p >= rp->n)
			break;
		if (rp->s[p] != ';') {
			size_t e = p;
			while (e < rp->n && rp->s[e] != ';')
				e++;
			sts_lint_quote(q, sizeof(q), rp->s + p, e - p);
			RERR(rp, sp->rule_syntax, col_of(p), "expected ';' before '%s'; %s", q,
			     sp->fate);
			fields++;
			p = e;
			continue;
		}
		if (first && p > d)
			RWARN(rp, sp->rule_ws, col_of(d),
			      "whitespace before the first ';' is grammatical, but senders that "
			      "look for '%s;' drop the record; write '%s;'",
			      sp->version, sp->version);
		p++;
		while (p < rp->n && is_wsp(rp->s[p]))
			p++;
		if (p >= rp->n)
			break; /* trailing delimiter */
		if (rp->s[p] == ';') {
			RERR(rp, sp->rule_syntax, col_of(p), "empty field ';;'; %s", sp->fate);
			continue;
		}
		fields++;
		p = parse_field(rp, p);
	}
	if (rp->lint.err == STS_OK)
		check_trailing_wsp(rp);
	return fields;
}

/* Version check; returns the offset after it, or 0 when the record is not one. */
static size_t check_version(struct rparse *rp)
{
	char q[STS_LINT_QUOTE_MAX];
	const struct rec_spec *sp = rp->spec;
	const char *want = sp->version;
	size_t wn = strlen(want);
	if (rp->n >= wn && memcmp(rp->s, want, wn) == 0 &&
	    (rp->n == wn || is_wsp(rp->s[wn]) || rp->s[wn] == ';'))
		return wn;
	size_t e = field_end(rp, 0);
	sts_lint_quote(q, sizeof(q), rp->s, e);
	if (rp->n == 0)
		RERR(rp, sp->rule_begin, 0, "empty record; senders ignore it");
	else if (is_wsp(rp->s[0]))
		RERR(rp, sp->rule_begin, 1,
		     "record must begin with '%s', not with whitespace; senders ignore the record",
		     want);
	else if (e == wn && strncasecmp(rp->s, want, wn) == 0)
		RERR(rp, sp->rule_case, 1,
		     "'%s' must be exactly '%s' (case-sensitive); senders ignore the record", q,
		     want);
	else
		RERR(rp, sp->rule_begin, 1,
		     "record must begin with '%s', not '%s'; senders ignore the record", want, q);
	return 0;
}

static int parse_record(struct rparse *rp, const char *text, size_t len, struct sts_diags *diags)
{
	const struct rec_spec *sp = rp->spec;
	sts_lint_init(&rp->lint, diags);
	rp->s = text ? text : "";
	rp->n = text ? len : 0;
	if (rp->n > RECORD_CAP) {
		RERR(rp, sp->rule_size, 0, "record is larger than %u bytes", RECORD_CAP);
		return rp->lint.err ? rp->lint.err : STS_ETOOLARGE;
	}
	size_t p = check_version(rp);
	if (p > 0) {
		size_t fields = scan_fields(rp, p);
		if (fields == 0)
			RERR(rp, sp->rule_syntax, 0, "no field after '%s'; %s", sp->version,
			     sp->fate);
		if (!rp->req_col) {
			size_t rn = strlen(sp->required) - 1; /* without '=' */
			bool other_case = false;
			for (size_t i = 0; i < *rp->n_ext; i++)
				if (strlen((*rp->ext)[i].key) == rn &&
				    strncasecmp((*rp->ext)[i].key, sp->required, rn) == 0)
					other_case = true;
			RERR(rp, sp->rule_missing, 0, "missing '%s' field%s; %s", sp->required,
			     other_case ? " (field names are case-sensitive: a differently "
					  "cased one is an extension)"
					: "",
			     sp->fate);
		}
	}
	if (rp->lint.err != STS_OK)
		return rp->lint.err;
	return rp->lint.n_errors ? STS_EINVALID : STS_OK;
}

/* ---- _mta-sts ---- */

static const struct rec_spec spec_sts = {
    .version = "v=STSv1",
    .required = "id=",
    .field_required = field_id,
    .rule_case = "T3",
    .rule_begin = "T6",
    .rule_ws = "T12",
    .rule_syntax = "T10",
    .rule_ext = "T7",
    .rule_ascii = "T2",
    .rule_dup = "T9",
    .rule_missing = "T4",
    .rule_size = "T14",
    .fate = "senders discard the record",
    .ext_first_wins = true,
};

STS_API void sts_sts_record_init(struct sts_sts_record *r)
{
	memset(r, 0, sizeof(*r));
}

STS_API void sts_sts_record_release(struct sts_sts_record *r)
{
	if (!r)
		return;
	free(r->id);
	sts_kv_free(r->ext, r->n_ext);
	sts_sts_record_init(r);
}

STS_API int sts_sts_record_parse(const char *text, size_t len, struct sts_sts_record *ret,
				 struct sts_diags *diags)
{
	sts_sts_record_init(ret);
	struct rparse rp = {.spec = &spec_sts, .ext = &ret->ext, .n_ext = &ret->n_ext, .sts = ret};
	return parse_record(&rp, text, len, diags);
}

/* ---- _smtp._tls ---- */

static const struct rec_spec spec_tlsrpt = {
    .version = "v=TLSRPTv1",
    .required = "rua=",
    .field_required = field_rua,
    .rule_case = "R2",
    .rule_begin = "R2",
    .rule_ws = "R7",
    .rule_syntax = "R3",
    .rule_ext = "R6",
    .rule_ascii = "R6",
    .rule_dup = "R5",
    .rule_missing = "R3",
    .rule_size = "R8",
    .fate = "senders ignore the record and send no reports",
    .ext_first_wins = false, /* RFC 8460 has no duplicate rule (R5) */
};

STS_API void sts_tlsrpt_record_init(struct sts_tlsrpt_record *r)
{
	memset(r, 0, sizeof(*r));
}

STS_API void sts_tlsrpt_record_release(struct sts_tlsrpt_record *r)
{
	if (!r)
		return;
	sts_strv_free(r->rua, r->n_rua);
	sts_kv_free(r->ext, r->n_ext);
	sts_tlsrpt_record_init(r);
}

STS_API int sts_tlsrpt_record_parse(const char *text, size_t len, struct sts_tlsrpt_record *ret,
				    struct sts_diags *diags)
{
	sts_tlsrpt_record_init(ret);
	struct rparse rp = {
	    .spec = &spec_tlsrpt, .ext = &ret->ext, .n_ext = &ret->n_ext, .rpt = ret};
	return parse_record(&rp, text, len, diags);
}
