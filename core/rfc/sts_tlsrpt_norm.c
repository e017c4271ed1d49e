/* SPDX-License-Identifier: MIT */
/*
 * TLS-RPT parser, part 2: date-times, UTF-8/depth pre-scan, policy-string
 * sets, merging of duplicate policy entries, and the helpers the ingester
 * and the watcher use. Part 1 (sts_tlsrpt.c) walks the JSON.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_escape.h"
#include "sts_policy.h"
#include "sts_tlsrpt.h"
#include "sts_tlsrpt_internal.h"

/* ---- date-time (RFC 3339 §5.6, J3) ------------------------------------ */

static int digits(const char **p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		char ch = (*p)[i];
		if (ch < '0' || ch > '9')
			return -1;
		x = x * 10 + (ch - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* Returns flags (>= 0) or -1 when s is not a date-time at all. */
int sts_tlsrpt_datetime_parse(const char *s, int is_end, time_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0, flags = 0;
	const char *p = s;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -1;
	if (*p == '\0') {
		flags = STS_TLSRPT_DT_DATE_ONLY | STS_TLSRPT_DT_NO_ZONE;
		if (is_end) {
			h = 23;
			mi = 59;
			sec = 59;
		}
	} else {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
		    digits(&p, 2, &sec))
			return -1;
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (sec == 60) /* leap second */
			sec = 59;
		if (*p == '.') {
			p++;
			if (*p < '0' || *p > '9')
				return -1;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 ||
			    om > 59)
				return -1;
		} else {
			flags |= STS_TLSRPT_DT_NO_ZONE;
		}
		if (*p != '\0')
			return -1;
	}
	struct tm tm = {
	    .tm_year = y - 1900,
	    .tm_mon = mo - 1,
	    .tm_mday = d,
	    .tm_hour = h,
	    .tm_min = mi,
	    .tm_sec = sec,
	};
	*out = timegm(&tm) - sign * (oh * 3600 + om * 60);
	return flags;
}

int sts_tlsrpt_push_str(char ***v, size_t *n, const char *s)
{
	return sts_strv_push(v, n, s, strlen(s));
}

int sts_tlsrpt_hostname_valid(const char *s)
{
	size_t label = 0, total = 0;
	for (; *s; s++, total++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return total > 0 && total <= 253 && label > 0;
}

void sts_tlsrpt_hostname_lower(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

int sts_tlsrpt_ip_valid(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* ---- duplicate policy entries ----------------------------------------- */

struct canon_line {
	const char *s;
	size_t n;
};

static int line_cmp(const void *a, const void *b)
{
	const struct canon_line *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int r = memcmp(x->s, y->s, n);
	if (r)
		return r;
	return x->n < y->n ? -1 : x->n > y->n;
}

/* Sorted, de-duplicated lines without CR and trailing WSP, '\n'-joined. */
int sts_tlsrpt_canon_lines(char *const *v, size_t n, struct sts_buf *out)
{
	struct canon_line *l = calloc(n ? n : 1, sizeof(*l));
	size_t k = 0;
	int r = STS_OK;
	if (!l)
		return STS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]);
		while (len && (v[i][len - 1] == '\r' || v[i][len - 1] == '\n' ||
			       v[i][len - 1] == ' ' || v[i][len - 1] == '\t'))
			len--;
		if (len)
			l[k++] = (struct canon_line){v[i], len};
	}
	qsort(l, k, sizeof(*l), line_cmp);
	for (size_t i = 0; r == 0 && i < k; i++) {
		if (i && line_cmp(&l[i - 1], &l[i]) == 0)
			continue;
		r = sts_buf_append(out, l[i].s, l[i].n);
		if (r == 0)
			r = sts_buf_putc(out, '\n');
	}
	free(l);
	return r;
}

STS_API int sts_tlsrpt_policy_lines_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	struct sts_buf x, y;
	sts_buf_init(&x, STS_CAP_TEXT);
	sts_buf_init(&y, STS_CAP_TEXT);
	int eq = sts_tlsrpt_canon_lines(a, na, &x) == 0 && sts_tlsrpt_canon_lines(b, nb, &y) == 0 &&
		 x.len == y.len && memcmp(sts_buf_str(&x), sts_buf_str(&y), x.len) == 0;
	sts_buf_release(&x);
	sts_buf_release(&y);
	return eq;
}

struct keyed {
	char *key;
	size_t idx;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int r = strcmp(x->key, y->key);
	if (r)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int merge_into(struct sts_tlsrpt_ctx *c, struct sts_tlsrpt_policy *dst,
		      struct sts_tlsrpt_policy *src, const char *path)
{
	int r = sts_tlsrpt_add_count(c, &dst->success_count, src->success_count, path);
	if (r == 0)
		r = sts_tlsrpt_add_count(c, &dst->failure_count, src->failure_count, path);
	if (r == 0)
		r = sts_tlsrpt_add_count(c, &dst->failure_detail_sum, src->failure_detail_sum,
					 path);
	if (r < 0)
		return r;
	if (src->n_failures) {
		struct sts_tlsrpt_failure *f =
		    realloc(dst->failures, (dst->n_failures + src->n_failures) * sizeof(*f));
		if (!f)
			return STS_ENOMEM;
		memcpy(f + dst->n_failures, src->failures, src->n_failures * sizeof(*f));
		dst->failures = f;
		dst->n_failures += src->n_failures;
		free(src->failures);
		src->failures = NULL;
		src->n_failures = 0;
	}
	for (size_t i = 0; i < src->n_mx_host; i++) {
		size_t j;
		for (j = 0; j < dst->n_mx_host; j++)
			if (strcasecmp(dst->mx_host[j], src->mx_host[i]) == 0)
				break;
		if (j == dst->n_mx_host &&
		    sts_tlsrpt_push_str(&dst->mx_host, &dst->n_mx_host, src->mx_host[i]) < 0)
			return STS_ENOMEM;
	}
	dst->n_merged++;
	return STS_OK;
}

/* Entries with the same type, domain and policy-string SET are one policy. */
int sts_tlsrpt_merge_duplicates(struct sts_tlsrpt_ctx *c)
{
	struct sts_tlsrpt_report *rep = c->rep;
	size_t n = rep->n_policies, *leader = NULL;
	struct keyed *k = calloc(n, sizeof(*k));
	int r = STS_OK;

	if (n < 2) {
		free(k);
		return STS_OK;
	}
	leader = calloc(n, sizeof(*leader));
	if (!k || !leader) {
		r = STS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		struct sts_tlsrpt_policy *p = &rep->policies[i];
		struct sts_buf b;
		sts_buf_init(&b, STS_CAP_TEXT);
		r = sts_buf_printf(&b, "%d\x01%s\x01%s\x01", (int)p->type,
				   p->type == STS_TLSRPT_POLICY_UNKNOWN && p->type_raw ? p->type_raw
										       : "",
				   p->policy_domain ? p->policy_domain : "");
		if (r == 0)
			r = sts_tlsrpt_canon_lines(p->policy_string, p->n_policy_string, &b);
		k[i].idx = i;
		k[i].key = sts_buf_steal(&b);
		if (!k[i].key)
			r = STS_ENOMEM;
	}
	if (r < 0)
		goto out;
	qsort(k, n, sizeof(*k), keyed_cmp);
	for (size_t i = 0; i < n; i++)
		leader[k[i].idx] =
		    i && strcmp(k[i - 1].key, k[i].key) == 0 ? leader[k[i - 1].idx] : k[i].idx;
	size_t w = 0, i;
	for (i = 0; i < n && r == 0; i++) {
		if (leader[i] == i) {
			leader[i] = w; /* new position of a kept entry */
			if (w != i)
				rep->policies[w] = rep->policies[i];
			w++;
			continue;
		}
		char path[32];
		snprintf(path, sizeof(path), "policies[%zu]", i);
		sts_tlsrpt_warn(c, "duplicate-policy-entry", "J6", path,
				"same policy as policies[%zu], counts and failure details merged",
				leader[i]);
		r = merge_into(c, &rep->policies[leader[leader[i]]], &rep->policies[i], path);
		sts_tlsrpt_policy_release(&rep->policies[i]);
	}
	/* on error, entries not reached yet stay in the report to be freed;
	 * slots in [w, i) were moved down or released */
	for (; i < n; i++)
		rep->policies[w++] = rep->policies[i];
	memset(&rep->policies[w], 0, (n - w) * sizeof(*rep->policies));
	rep->n_policies = w;
out:
	if (k)
		for (size_t j = 0; j < n; j++)
			free(k[j].key);
	free(k);
	free(leader);
	return r ? r : (c->enomem ? STS_ENOMEM : STS_OK);
}

void sts_tlsrpt_policy_release(struct sts_tlsrpt_policy *p)
{
	free(p->type_raw);
	free(p->policy_domain);
	sts_strv_free(p->policy_string, p->n_policy_string);
	sts_strv_free(p->mx_host, p->n_mx_host);
	for (size_t i = 0; i < p->n_failures; i++) {
		struct sts_tlsrpt_failure *f = &p->failures[i];
		STS_FREE_ALL(f->result_type, f->sending_mta_ip, f->receiving_mx_hostname,
			     f->receiving_mx_helo, f->receiving_ip, f->additional_information,
			     f->failure_reason_code);
	}
	free(p->failures);
	memset(p, 0, sizeof(*p));
}

STS_API void sts_tlsrpt_report_free(struct sts_tlsrpt_report *r)
{
	if (!r)
		return;
	STS_FREE_ALL(r->organization, r->contact_info, r->report_id, r->start_raw, r->end_raw);
	STS_ARRAY_FREE(r->policies, r->n_policies, sts_tlsrpt_policy_release);
	for (size_t i = 0; i < r->n_warnings; i++)
		free(r->warnings[i].path);
	free(r->warnings);
	free(r);
}

/* ---- pre-scan: UTF-8 and nesting depth before jansson sees the text ---- */

static int scan_fail(struct sts_tlsrpt_ctx *c, int err, unsigned line, unsigned col,
		     const char *what, size_t n)
{
	if (c->diags &&
	    sts_diags_add(c->diags, STS_SEV_ERROR, "J1", NULL, line, col, NULL, what, n) < 0)
		return STS_ENOMEM;
	return err;
}

int sts_tlsrpt_prescan(struct sts_tlsrpt_ctx *c, const unsigned char *s, size_t len)
{
	unsigned line = 1, col = 1;
	int depth = 0, in_str = 0, esc = 0;
	size_t containers = 0, commas = 0;

	for (size_t i = 0; i < len; col++) {
		size_t n = sts_utf8_seq(s + i, len - i, NULL);
		if (!n) {
			if (c->diags &&
			    sts_diags_add(c->diags, STS_SEV_ERROR, "J1", NULL, line, col, NULL,
					  "invalid UTF-8 byte 0x%02x at offset %zu", s[i], i) < 0)
				return STS_ENOMEM;
			return STS_EPARSE;
		}
		unsigned char ch = s[i];
		i += n;
		if (in_str) {
			if (esc)
				esc = 0;
			else if (ch == '\\')
				esc = 1;
			else if (ch == '"')
				in_str = 0;
			continue;
		}
		if (ch == '"') {
			in_str = 1;
		} else if (ch == '{' || ch == '[') {
			if (++depth > STS_TLSRPT_MAX_DEPTH)
				return scan_fail(c, STS_ETOOLARGE, line, col,
						 "JSON nesting deeper than %zu levels",
						 (size_t)STS_TLSRPT_MAX_DEPTH);
			if (++containers > STS_TLSRPT_MAX_CONTAINERS)
				return scan_fail(c, STS_ETOOLARGE, line, col,
						 "more than %zu JSON objects and arrays",
						 (size_t)STS_TLSRPT_MAX_CONTAINERS);
		} else if (ch == '}' || ch == ']') {
			depth--;
		} else if (ch == ',') {
			if (++commas >= STS_TLSRPT_MAX_VALUES)
				return scan_fail(c, STS_ETOOLARGE, line, col,
						 "more than %zu JSON values",
						 (size_t)STS_TLSRPT_MAX_VALUES);
		} else if (ch == '\n') {
			line++;
			col = 0;
		}
	}
	return STS_OK;
}

/* ---- helpers for the ingester and the watcher ------------------------- */

static const struct {
	const char *name;
	enum sts_tlsrpt_category cat;
} result_types[] = {
    {"starttls-not-supported", STS_TLSRPT_CAT_NEGOTIATION},
    {"certificate-host-mismatch", STS_TLSRPT_CAT_NEGOTIATION},
    {"certificate-expired", STS_TLSRPT_CAT_NEGOTIATION},
    {"certificate-not-trusted", STS_TLSRPT_CAT_NEGOTIATION},
    {"validation-failure", STS_TLSRPT_CAT_NEGOTIATION},
    {"tlsa-invalid", STS_TLSRPT_CAT_DANE},
    {"dnssec-invalid", STS_TLSRPT_CAT_DANE},
    {"dane-required", STS_TLSRPT_CAT_DANE},
    {"sts-policy-fetch-error", STS_TLSRPT_CAT_STS_POLICY},
    {"sts-policy-invalid", STS_TLSRPT_CAT_STS_POLICY},
    {"sts-webpki-invalid", STS_TLSRPT_CAT_STS_POLICY},
};

STS_API enum sts_tlsrpt_category sts_tlsrpt_result_category(const char *result_type)
{
	if (!result_type)
		return STS_TLSRPT_CAT_UNKNOWN;
	for (size_t i = 0; i < sizeof(result_types) / sizeof(result_types[0]); i++)
		if (strcasecmp(result_type, result_types[i].name) == 0)
			return result_types[i].cat;
	return STS_TLSRPT_CAT_UNKNOWN;
}

static const char *const category_names[] = {
    [STS_TLSRPT_CAT_STS_POLICY] = "sts-policy",
    [STS_TLSRPT_CAT_NEGOTIATION] = "negotiation",
    [STS_TLSRPT_CAT_DANE] = "dane",
};

STS_API const char *sts_tlsrpt_category_name(enum sts_tlsrpt_category c)
{
	return STS_NAME_OF(category_names, c, "unknown");
}

static const char *const policy_type_names[] = {
    [STS_TLSRPT_POLICY_STS] = "sts",
    [STS_TLSRPT_POLICY_TLSA] = "tlsa",
    [STS_TLSRPT_POLICY_NO_POLICY_FOUND] = "no-policy-found",
};

STS_API const char *sts_tlsrpt_policy_type_name(enum sts_tlsrpt_policy_type t)
{
	return STS_NAME_OF(policy_type_names, t, "unknown");
}

STS_API int64_t sts_tlsrpt_policy_failed_sessions(const struct sts_tlsrpt_policy *p)
{
	int64_t n = p->failure_count;
	for (size_t i = 0; i < p->n_failures; i++)
		if (p->failures[i].failed_session_count > n)
			n = p->failures[i].failed_session_count;
	return n;
}

STS_API int sts_tlsrpt_report_has_warning(const struct sts_tlsrpt_report *r, const char *code)
{
	for (size_t i = 0; i < r->n_warnings; i++)
		if (strcmp(r->warnings[i].code, code) == 0)
			return 1;
	return 0;
}
