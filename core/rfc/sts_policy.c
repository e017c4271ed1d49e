/* SPDX-License-Identifier: MIT */
/*
 * Strict parser of the MTA-STS policy body (RFC 8461 §3.2; docs/rfc-rules.md §2.2-2.3,
 * rules B1-B13), plus helpers shared with sts_record.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_escape.h"
#include "sts_mx.h"
#include "sts_policy.h"

static const char *const mode_names[_STS_MODE_MAX] = {
    [STS_MODE_NONE] = "none",
    [STS_MODE_TESTING] = "testing",
    [STS_MODE_ENFORCE] = "enforce",
};

STS_API const char *sts_mode_name(enum sts_mode m)
{
	return STS_NAME_OF(mode_names, m, NULL);
}

STS_API enum sts_mode sts_mode_from_string(const char *s)
{
	if (!s)
		return STS_MODE_INVALID;
	for (int i = 0; i < _STS_MODE_MAX; i++)
		if (strcmp(s, mode_names[i]) == 0)
			return (enum sts_mode)i;
	return STS_MODE_INVALID;
}

/* ---- helpers shared by the parsers (declared in sts_policy.h) ---- */

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

STS_API bool sts_ext_name_valid(const char *name, size_t len)
{
	if (!name || len == 0 || len > 32 || !is_alnum((unsigned char)name[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!is_alnum(c) && c != '_' && c != '-' && c != '.')
			return false;
	}
	return true;
}

void sts_lint_init(struct sts_lint *l, struct sts_diags *diags)
{
	l->diags = diags;
	l->n_errors = 0;
	l->err = STS_OK;
}

void sts_lint_add(struct sts_lint *l, enum sts_severity sev, const char *rule, unsigned line,
		  unsigned col, const char *fmt, ...)
{
	if (sev == STS_SEV_ERROR)
		l->n_errors++;
	if (!l->diags)
		return;
	struct sts_buf msg;
	sts_buf_init(&msg, 4096);
	va_list ap;
	va_start(ap, fmt);
	int r = sts_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (r == STS_OK)
		r = sts_diags_add(l->diags, sev, rule, NULL, line, col, NULL, "%s",
				  sts_buf_str(&msg));
	if (r == STS_ENOMEM && l->err == STS_OK)
		l->err = STS_ENOMEM;
	sts_buf_release(&msg);
}

void sts_lint_quote(char *out, size_t outsz, const char *p, size_t n)
{
	size_t o = 0;
	if (outsz == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		size_t need = (c >= 0x20 && c < 0x7f) ? 1 : 4;
		if (o + need + 3 >= outsz && i + 1 < n) {
			/* keep room for "..." */
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (o + need >= outsz)
			break;
		if (need == 1)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

int sts_kv_push(struct sts_kv **v, size_t *n, const char *key, size_t klen, const char *val,
		size_t vlen)
{
	struct sts_kv *nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return STS_ENOMEM;
	*v = nv;
	char *k = strndup(key, klen);
	char *x = strndup(val, vlen);
	if (!k || !x) {
		free(k);
		free(x);
		return STS_ENOMEM;
	}
	nv[*n].key = k;
	nv[*n].value = x;
	(*n)++;
	return STS_OK;
}

void sts_kv_free(struct sts_kv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

int sts_strv_push(char ***v, size_t *n, const char *p, size_t len)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return STS_ENOMEM;
	*v = nv;
	char *s = strndup(p, len);
	if (!s)
		return STS_ENOMEM;
	nv[(*n)++] = s;
	return STS_OK;
}

/* ---- policy ---- */

STS_API void sts_policy_init(struct sts_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = STS_MODE_INVALID;
	p->max_age = -1;
}

STS_API void sts_policy_release(struct sts_policy *p)
{
	if (!p)
		return;
	free(p->version);
	sts_strv_free(p->mx, p->n_mx);
	sts_kv_free(p->ext, p->n_ext);
	sts_policy_init(p);
}

enum {
	F_VERSION,
	F_MODE,
	F_MAX_AGE,
	F_MX,
	F_EXT,
};

struct pparse {
	struct sts_lint lint;
	struct sts_policy *pol;
	unsigned seen[F_EXT];	/* line of the first version/mode/max_age/mx (0: none) */
	unsigned mode_ext_line; /* line of a "Mode" extension (case hint) */
};

#define PERR(pp, rule, line, col, ...)                                                             \
	sts_lint_add(&(pp)->lint, STS_SEV_ERROR, rule, line, col, __VA_ARGS__)
#define PWARN(pp, rule, line, col, ...)                                                            \
	sts_lint_add(&(pp)->lint, STS_SEV_WARNING, rule, line, col, __VA_ARGS__)

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * sts-policy-ext-value: vchar [*(SP / vchar) vchar], vchar = %x21-7E / UTF-8.
 * v is already stripped of leading/trailing WSP. Returns the 0-based offset
 * of the first bad byte, or (size_t)-1 when valid.
 */
static size_t ext_value_bad(const char *v, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)v[i];
		if (c == ' ' || (c >= 0x21 && c <= 0x7e)) {
			i++;
			continue;
		}
		size_t l = c >= 0x80 ? sts_utf8_seq((const unsigned char *)v + i, n - i, NULL) : 0;
		if (l == 0)
			return i;
		i += l;
	}
	return (size_t)-1;
}

static void field_version(struct pparse *pp, const char *v, size_t n, unsigned line, unsigned col)
{
	char q[STS_LINT_QUOTE_MAX];
	if (n == 5 && memcmp(v, "STSv1", 5) == 0) {
		pp->pol->version = strdup("STSv1");
		if (!pp->pol->version)
			pp->lint.err = STS_ENOMEM;
		return;
	}
	sts_lint_quote(q, sizeof(q), v, n);
	PERR(pp, "B4", line, col,
	     "unsupported version '%s': only 'STSv1' (case-sensitive); senders reject the policy",
	     q);
}

static void field_mode(struct pparse *pp, const char *v, size_t n, unsigned line, unsigned col)
{
	char q[STS_LINT_QUOTE_MAX];
	for (int i = 0; i < _STS_MODE_MAX; i++) {
		if (strlen(mode_names[i]) == n && memcmp(v, mode_names[i], n) == 0) {
			pp->pol->mode = (enum sts_mode)i;
			return;
		}
	}
	sts_lint_quote(q, sizeof(q), v, n);
	PERR(pp, "B5", line, col,
	     "invalid mode '%s': must be 'enforce', 'testing' or 'none' (case-sensitive); "
	     "senders reject the policy",
	     q);
}

static void field_max_age(struct pparse *pp, const char *v, size_t n, unsigned line, unsigned col)
{
	char q[STS_LINT_QUOTE_MAX];
	long long x = 0;
	bool digits = n >= 1 && n <= 10;
	for (size_t i = 0; digits && i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			digits = false;
		else
			x = x * 10 + (v[i] - '0');
	}
	sts_lint_quote(q, sizeof(q), v, n);
	if (!digits) {
		PERR(pp, "B6", line, col,
		     "invalid max_age '%s': must be 1 to 10 digits (seconds, no sign or unit); "
		     "senders reject the policy",
		     q);
		return;
	}
	if (x > STS_MAX_AGE_MAX) {
		PERR(pp, "B6", line, col,
		     "max_age %lld exceeds the maximum 31557600 (erratum 7282); "
		     "senders reject or clamp it",
		     x);
		return;
	}
	pp->pol->max_age = x;
	if (x == 0)
		PWARN(pp, "B13", line, col,
		      "max_age 0 is valid but some senders reject it; never publish 0");
	else if (x < STS_MAX_AGE_RECOMMENDED_MIN)
		PWARN(pp, "B6", line, col,
		      "max_age %lld is under one day; senders refetch often, weeks are expected",
		      x);
}

static void field_mx(struct pparse *pp, const char *v, size_t n, unsigned line, unsigned col)
{
	char q[STS_LINT_QUOTE_MAX];
	const char *why = NULL;
	char *s = strndup(v, n);
	if (!s) {
		pp->lint.err = STS_ENOMEM;
		return;
	}
	if (memchr(v, '\0', n) || sts_mx_pattern_check(s, &why) != STS_OK) {
		sts_lint_quote(q, sizeof(q), v, n);
		PERR(pp, "B7", line, col, "invalid mx '%s': %s; senders reject the policy", q,
		     why ? why : "NUL byte in name");
		free(s);
		return;
	}
	char **nv = realloc(pp->pol->mx, (pp->pol->n_mx + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		pp->lint.err = STS_ENOMEM;
		return;
	}
	pp->pol->mx = nv;
	nv[pp->pol->n_mx++] = s;
}

static void field_ext(struct pparse *pp, const char *k, size_t kn, const char *v, size_t vn,
		      unsigned line, unsigned vcol)
{
	char q[STS_LINT_QUOTE_MAX];
	char qk[STS_LINT_QUOTE_MAX];
	sts_lint_quote(qk, sizeof(qk), k, kn);
	size_t bad = ext_value_bad(v, vn);
	if (bad != (size_t)-1) {
		if (vn == 0)
			PERR(pp, "B8", line, vcol,
			     "field '%s' has an empty value; senders reject the policy", qk);
		else {
			sts_lint_quote(q, sizeof(q), v + bad, 1);
			PERR(pp, "B8", line, vcol + (unsigned)bad,
			     "field '%s': byte '%s' is not allowed in a value (control character, "
			     "tab or invalid UTF-8); senders reject the policy",
			     qk, q);
		}
		return;
	}
	for (size_t i = 0; i < pp->pol->n_ext; i++) {
		if (strlen(pp->pol->ext[i].key) == kn && memcmp(pp->pol->ext[i].key, k, kn) == 0) {
			PWARN(pp, "B9", line, 1, "duplicate key '%s': first wins", qk);
			return;
		}
	}
	if (kn == 4 && memcmp(k, "Mode", 4) == 0 && !pp->mode_ext_line)
		pp->mode_ext_line = line;
	if (sts_kv_push(&pp->pol->ext, &pp->pol->n_ext, k, kn, v, vn) < 0)
		pp->lint.err = STS_ENOMEM;
}

static int known_field(const char *k, size_t kn)
{
	static const char *const names[F_EXT] = {"version", "mode", "max_age", "mx"};
	for (int i = 0; i < F_EXT; i++)
		if (strlen(names[i]) == kn && memcmp(k, names[i], kn) == 0)
			return i;
	return F_EXT;
}

/* One line without its terminator. */
static void parse_line(struct pparse *pp, const char *s, size_t n, unsigned line)
{
	char q[STS_LINT_QUOTE_MAX];
	if (n == 0) {
		PERR(pp, "B2", line, 1,
		     "blank line is not allowed; strict senders reject the policy");
		return;
	}
	const char *cr = memchr(s, '\r', n);
	if (cr) {
		PERR(pp, "B1", line, (unsigned)(cr - s) + 1,
		     "lone CR is not a line terminator (use LF or CRLF); "
		     "senders see one garbled line");
		return;
	}
	if (is_wsp(s[0])) {
		PERR(pp, "B2", line, 1,
		     "leading whitespace is not allowed (it reads as header folding); "
		     "strict senders reject the policy");
		return;
	}
	const char *colon = memchr(s, ':', n);
	if (!colon) {
		sts_lint_quote(q, sizeof(q), s, n);
		PERR(pp, "B2", line, 1, "line '%s' is not a 'key: value' field", q);
		return;
	}
	size_t kn = (size_t)(colon - s);
	if (kn > 0 && is_wsp(s[kn - 1])) {
		PERR(pp, "B2", line, (unsigned)kn,
		     "whitespace before ':' is not allowed; strict senders reject the policy");
		return;
	}
	if (!sts_ext_name_valid(s, kn)) {
		sts_lint_quote(q, sizeof(q), s, kn);
		bool bom = line == 1 && kn >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0;
		PERR(pp, "B8", line, 1,
		     "invalid field name '%s': letters, digits, '_', '-', '.', at most 32, "
		     "starting with a letter or digit%s; senders reject the policy",
		     q, bom ? " (the file starts with a UTF-8 byte order mark: remove it)" : "");
		return;
	}
	size_t vs = kn + 1;
	while (vs < n && is_wsp(s[vs]))
		vs++;
	size_t ve = n;
	while (ve > vs && is_wsp(s[ve - 1]))
		ve--;
	const char *v = s + vs;
	size_t vn = ve - vs;
	unsigned vcol = (unsigned)vs + 1;

	int f = known_field(s, kn);
	if (f == F_EXT) {
		field_ext(pp, s, kn, v, vn, line, vcol);
		return;
	}
	if (f != F_MX && pp->seen[f]) {
		sts_lint_quote(q, sizeof(q), s, kn);
		PWARN(pp, "B9", line, 1, "duplicate key '%s': first wins (line %u)", q,
		      pp->seen[f]);
		return;
	}
	if (!pp->seen[f])
		pp->seen[f] = line;
	switch (f) {
	case F_VERSION:
		field_version(pp, v, vn, line, vcol);
		break;
	case F_MODE:
		field_mode(pp, v, vn, line, vcol);
		break;
	case F_MAX_AGE:
		field_max_age(pp, v, vn, line, vcol);
		break;
	default:
		field_mx(pp, v, vn, line, vcol);
		break;
	}
}

static void check_required(struct pparse *pp)
{
	if (!pp->seen[F_VERSION])
		PERR(pp, "B4", 0, 0, "missing 'version: STSv1'; senders reject the policy");
	if (!pp->seen[F_MODE]) {
		if (pp->mode_ext_line)
			PERR(pp, "B5", 0, 0,
			     "missing 'mode' ('Mode' on line %u is an extension: keys are "
			     "case-sensitive); senders reject the policy",
			     pp->mode_ext_line);
		else
			PERR(pp, "B5", 0, 0, "missing 'mode'; senders reject the policy");
	}
	if (!pp->seen[F_MAX_AGE])
		PERR(pp, "B6", 0, 0, "missing 'max_age'; senders reject the policy");
	if (pp->pol->n_mx == 0) {
		if (pp->pol->mode == STS_MODE_NONE)
			PWARN(pp, "B12", 0, 0,
			      "'mode: none' without 'mx' is valid but some senders reject it and "
			      "keep their cached policy; keep the mx lines");
		else if (!pp->seen[F_MX])
			PERR(pp, "B7", 0, 0,
			     "missing 'mx': at least one is required unless mode is 'none'; "
			     "senders reject the policy");
	}
}

STS_API int sts_policy_parse(const char *text, size_t len, struct sts_policy *ret,
			     struct sts_diags *diags)
{
	struct pparse pp = {.pol = ret};
	sts_policy_init(ret);
	sts_lint_init(&pp.lint, diags);
	if (len > STS_CAP_POLICY) {
		sts_lint_add(&pp.lint, STS_SEV_ERROR, "P6", 0, 0,
			     "policy is larger than %u bytes; senders may refuse it",
			     STS_CAP_POLICY);
		return pp.lint.err ? pp.lint.err : STS_ETOOLARGE;
	}
	if (!text)
		len = 0;
	unsigned line = 0;
	size_t pos = 0;
	while (pos < len && pp.lint.err == STS_OK) {
		const char *lf = memchr(text + pos, '\n', len - pos);
		size_t end = lf ? (size_t)(lf - text) : len;
		size_t n = end - pos;
		if (lf && n > 0 && text[end - 1] == '\r')
			n--; /* CRLF */
		parse_line(&pp, text + pos, n, ++line);
		pos = lf ? end + 1 : len;
	}
	if (len == 0)
		PERR(&pp, "B2", 0, 0, "empty policy; senders reject it");
	if (pp.lint.err == STS_OK)
		check_required(&pp);
	if (pp.lint.err != STS_OK)
		return pp.lint.err;
	return pp.lint.n_errors ? STS_EINVALID : STS_OK;
}
