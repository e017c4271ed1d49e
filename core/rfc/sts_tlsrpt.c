/* SPDX-License-Identifier: MIT */
/*
 * TLS-RPT report parser (RFC 8460 §4). Tolerant of the deviations listed in
 * docs/tlsrpt-parsing.md, strict about what makes a report unusable.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_buf.h"
#include "sts_dname.h"
#include "sts_err.h"
#include "sts_gzip.h"
#include "sts_tlsrpt.h"
#include "sts_tlsrpt_internal.h"

/* ---- diagnostics ------------------------------------------------------ */

static char *vformat(const char *prefix, const char *fmt, va_list ap)
{
	struct sts_buf b;
	sts_buf_init(&b, 8192);
	if (prefix && sts_buf_printf(&b, "%s: ", prefix) < 0)
		goto fail;
	if (sts_buf_vprintf(&b, fmt, ap) < 0 && b.len == 0)
		goto fail;
	/* input text lands in messages: no control characters */
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
			b.data[i] = '?';
	return sts_buf_steal(&b);
fail:
	sts_buf_release(&b);
	return NULL;
}

void sts_tlsrpt_warn(struct sts_tlsrpt_ctx *c, const char *code, const char *rule, const char *path,
		     const char *fmt, ...)
{
	struct sts_tlsrpt_report *rep = c->rep;
	if (rep->n_warnings >= STS_TLSRPT_MAX_WARNINGS) {
		rep->n_warnings_dropped++;
		return;
	}
	struct sts_tlsrpt_warning *w =
	    realloc(rep->warnings, (rep->n_warnings + 1) * sizeof(*rep->warnings));
	if (!w) {
		c->enomem = 1;
		return;
	}
	rep->warnings = w;
	w[rep->n_warnings].code = code;
	w[rep->n_warnings].path = path ? strdup(path) : NULL;
	if (path && !w[rep->n_warnings].path) {
		c->enomem = 1;
		return;
	}
	rep->n_warnings++;
	if (!c->diags)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = vformat(code, fmt, ap);
	va_end(ap);
	if (!msg || sts_diags_add(c->diags, STS_SEV_WARNING, rule, NULL, 0, 0, path, "%s", msg))
		c->enomem = 1;
	free(msg);
}

int sts_tlsrpt_reject(struct sts_tlsrpt_ctx *c, int err, const char *rule, const char *path,
		      const char *fmt, ...)
{
	if (!c->diags)
		return err;
	va_list ap;
	va_start(ap, fmt);
	char *msg = vformat(NULL, fmt, ap);
	va_end(ap);
	if (!msg)
		return STS_ENOMEM;
	int r = sts_diags_add(c->diags, STS_SEV_ERROR, rule, NULL, 0, 0, path, "%s", msg);
	free(msg);
	return r < 0 ? r : err;
}

/* JSON path of a member or element: "policies[1].policy". */
static char *child(struct sts_tlsrpt_ctx *c, const char *parent, const char *key, long idx)
{
	struct sts_buf b;
	sts_buf_init(&b, 1024);
	int r = sts_buf_puts(&b, parent ? parent : "");
	if (r == 0 && key)
		r = sts_buf_printf(&b, "%s%.200s", parent && *parent ? "." : "", key);
	if (r == 0 && idx >= 0)
		r = sts_buf_printf(&b, "[%ld]", idx);
	if (r < 0) {
		sts_buf_release(&b);
		c->enomem = 1;
		return NULL;
	}
	for (size_t i = 0; i < b.len; i++) /* keys come from the input */
		if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
			b.data[i] = '?';
	return sts_buf_steal(&b);
}

/* ---- members: canonical keys, misspellings, unknown keys --------------- */

struct member {
	const char *key;
	json_t *val;
	const char *as_sent; /* the key found in the input */
};

/* The prose name of a field used as its key (RFC 8460 §4.4, J20). */
static const char *const aliases[][2] = {
    {"additional-info-uri", "additional-information"},
};

/* lower-case letters and digits only: "Receiving_MX-Host-Name" -> "receivingmxhostname" */
static void squash(const char *s, char *out, size_t outsz)
{
	size_t n = 0;
	for (; *s && n + 1 < outsz; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 'A' && ch <= 'Z')
			out[n++] = (char)(ch - 'A' + 'a');
		else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			out[n++] = (char)ch;
	}
	out[n] = '\0';
}

static size_t variant_of(const char *key, const struct member *m, size_t n)
{
	char a[48], b[48];
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcasecmp(key, aliases[i][0]) == 0)
			for (size_t j = 0; j < n; j++)
				if (strcmp(m[j].key, aliases[i][1]) == 0)
					return j;
	if (strlen(key) >= sizeof(a))
		return n;
	squash(key, a, sizeof(a));
	for (size_t i = 0; i < n; i++) {
		squash(m[i].key, b, sizeof(b));
		if (strcmp(a, b) == 0)
			return i;
	}
	return n;
}

static int map_members(struct sts_tlsrpt_ctx *c, json_t *obj, const char *path, struct member *m,
		       size_t n)
{
	const char *key;
	json_t *val;

	for (size_t i = 0; i < n; i++) {
		m[i].val = json_object_get(obj, m[i].key);
		m[i].as_sent = m[i].key;
	}
	json_object_foreach(obj, key, val)
	{
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(key, m[i].key) == 0)
				break;
		if (i < n)
			continue;
		char *p = child(c, path, key, -1);
		if (!p)
			return STS_ENOMEM;
		i = variant_of(key, m, n);
		if (i < n && !m[i].val) {
			m[i].val = val;
			m[i].as_sent = key;
			sts_tlsrpt_warn(c, "misspelled-key", NULL, p, "'%.64s' read as '%s'", key,
					m[i].key);
		} else if (i < n) {
			sts_tlsrpt_warn(c, "unknown-key", NULL, p,
					"'%.64s' ignored, '%s' is present", key, m[i].key);
		} else {
			sts_tlsrpt_warn(c, "unknown-key", NULL, p, "'%.64s' ignored", key);
		}
		free(p);
	}
	return c->enomem ? STS_ENOMEM : STS_OK;
}

/* ---- scalar fields ---------------------------------------------------- */

/* 1 = *out set, 0 = absent/null/empty/wrong type (warned, except absent) */
static int get_string(struct sts_tlsrpt_ctx *c, json_t *v, const char *path, const char *null_code,
		      const char *rule, char **out)
{
	*out = NULL;
	if (!v)
		return 0;
	if (json_is_null(v)) {
		sts_tlsrpt_warn(c, null_code ? null_code : "null-field", rule, path,
				"null treated as absent");
		return 0;
	}
	if (!json_is_string(v)) {
		sts_tlsrpt_warn(c, "wrong-type", rule, path, "not a string, ignored");
		return 0;
	}
	if (json_string_length(v) == 0) {
		sts_tlsrpt_warn(c, "empty-field", rule, path, "empty string treated as absent");
		return 0;
	}
	*out = strdup(json_string_value(v));
	if (!*out) {
		c->enomem = 1;
		return 0;
	}
	return 1;
}

/* 1 when an optional member is absent or null (null is warned) */
static int absent(struct sts_tlsrpt_ctx *c, json_t *v, const char *path, const char *rule)
{
	if (v && json_is_null(v))
		sts_tlsrpt_warn(c, "null-field", rule, path, "null treated as absent");
	return !v || json_is_null(v);
}

static int get_count(struct sts_tlsrpt_ctx *c, json_t *v, const char *path, const char *rule,
		     int64_t *out)
{
	*out = 0;
	if (!v || json_is_null(v)) {
		sts_tlsrpt_warn(c, "missing-count", rule, path, "%s, counted as 0",
				v ? "null" : "absent");
		return STS_OK;
	}
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x < 0)
			return sts_tlsrpt_reject(c, STS_EINVALID, rule, path,
						 "negative session count %lld", (long long)x);
		if (x > STS_TLSRPT_MAX_COUNT)
			return sts_tlsrpt_reject(c, STS_EINVALID, rule, path,
						 "session count %lld is larger than 2^53",
						 (long long)x);
		*out = x;
		return STS_OK;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d >= 0 && d <= (double)STS_TLSRPT_MAX_COUNT && d == (double)(int64_t)d) {
			*out = (int64_t)d;
			sts_tlsrpt_warn(c, "count-real", rule, path,
					"integer written as a real number");
			return STS_OK;
		}
		return sts_tlsrpt_reject(
		    c, STS_EINVALID, rule, path,
		    "session count %g is not a non-negative integer up to 2^53", d);
	}
	return sts_tlsrpt_reject(c, STS_EINVALID, rule, path, "session count is not a number");
}

int sts_tlsrpt_add_count(struct sts_tlsrpt_ctx *c, int64_t *sum, int64_t x, const char *path)
{
	if (*sum > STS_TLSRPT_MAX_COUNT - x)
		return sts_tlsrpt_reject(c, STS_EINVALID, "J12", path,
					 "session counts add up past 2^53");
	*sum += x;
	return STS_OK;
}

static int parse_one_datetime(struct sts_tlsrpt_ctx *c, json_t *v, const char *path, int is_end,
			      time_t *out, char **raw)
{
	if (!v || !json_is_string(v))
		return sts_tlsrpt_reject(c, STS_EINVALID, "J3", path, "%s",
					 v ? "date-time is not a string" : "date-time is missing");
	const char *s = json_string_value(v);
	int f = sts_tlsrpt_datetime_parse(s, is_end, out);
	if (f < 0)
		return sts_tlsrpt_reject(c, STS_EINVALID, "J3", path,
					 "cannot parse date-time '%.64s'", s);
	if (f & STS_TLSRPT_DT_DATE_ONLY)
		sts_tlsrpt_warn(c, "datetime-date-only", "J3", path,
				"'%s' has no time, read as %s UTC", s,
				is_end ? "23:59:59" : "00:00:00");
	else if (f & STS_TLSRPT_DT_NO_ZONE)
		sts_tlsrpt_warn(c, "datetime-no-zone", "J3", path,
				"'%s' has no time zone, read as UTC", s);
	*raw = strdup(s);
	if (!*raw)
		return STS_ENOMEM;
	return STS_OK;
}

static int parse_date_range(struct sts_tlsrpt_ctx *c, json_t *v)
{
	struct sts_tlsrpt_report *rep = c->rep;
	struct member m[] = {{"start-datetime", NULL, NULL}, {"end-datetime", NULL, NULL}};
	int r;

	if (!v)
		return sts_tlsrpt_reject(c, STS_EINVALID, "J3", "date-range",
					 "report has no 'date-range'");
	if (!json_is_object(v))
		return sts_tlsrpt_reject(c, STS_EINVALID, "J3", "date-range",
					 "'date-range' is not an object");
	r = map_members(c, v, "date-range", m, 2);
	if (r < 0)
		return r;
	r = parse_one_datetime(c, m[0].val, "date-range.start-datetime", 0, &rep->start,
			       &rep->start_raw);
	if (r == 0)
		r = parse_one_datetime(c, m[1].val, "date-range.end-datetime", 1, &rep->end,
				       &rep->end_raw);
	if (r < 0)
		return r;
	if (rep->end < rep->start)
		return sts_tlsrpt_reject(c, STS_EINVALID, "J3", "date-range",
					 "date range ends ('%s') before it starts ('%s')",
					 rep->end_raw, rep->start_raw);
	if (rep->end > rep->start && rep->end % 86400 == 0) {
		rep->end -= 1;
		sts_tlsrpt_warn(c, "end-datetime-next-midnight", "J3", "date-range.end-datetime",
				"'%s' is the next midnight, read as one second earlier",
				rep->end_raw);
	}
	return STS_OK;
}

/* ---- policy ----------------------------------------------------------- */

static int parse_policy_domain(struct sts_tlsrpt_ctx *c, json_t *v, const char *path,
			       struct sts_tlsrpt_policy *p)
{
	char *raw = NULL;
	if (!v) {
		sts_tlsrpt_warn(c, "missing-policy-domain", "J9", path,
				"policy entry has no 'policy-domain'");
		return STS_OK;
	}
	if (!get_string(c, v, path, "missing-policy-domain", "J9", &raw))
		return c->enomem ? STS_ENOMEM : STS_OK;
	int non_ascii = 0;
	for (const char *s = raw; *s; s++)
		non_ascii |= (unsigned char)*s >= 0x80;
	if (non_ascii) {
		char *a = NULL;
		const char *why;
		int rc = sts_dname_normalize(raw, 0, &a, &why);
		if (rc == STS_OK)
			sts_tlsrpt_warn(c, "policy-domain-u-label", "J9", path,
					"'%.255s' converted to '%.255s'", raw, a);
		if (rc == STS_OK || rc == STS_ENOMEM) {
			free(raw);
			raw = a;
			if (!raw)
				return STS_ENOMEM;
		}
	}
	sts_tlsrpt_hostname_lower(raw);
	if (!sts_tlsrpt_hostname_valid(raw)) {
		sts_tlsrpt_warn(c, "invalid-policy-domain", "J9", path,
				"'%.255s' is not a domain name, ignored", raw);
		free(raw);
		return STS_OK;
	}
	p->policy_domain = raw;
	return STS_OK;
}

static void parse_policy_type(struct sts_tlsrpt_ctx *c, json_t *v, const char *path,
			      struct sts_tlsrpt_policy *p)
{
	if (!v) {
		sts_tlsrpt_warn(c, "missing-policy-type", "J7", path,
				"policy entry has no 'policy-type'");
		return;
	}
	if (!get_string(c, v, path, "missing-policy-type", "J7", &p->type_raw))
		return;
	/* the known types are the named ones (sts_tlsrpt_policy_type_name) */
	for (int t = STS_TLSRPT_POLICY_STS; t <= STS_TLSRPT_POLICY_NO_POLICY_FOUND; t++) {
		const char *name = sts_tlsrpt_policy_type_name(t);
		if (strcmp(p->type_raw, name) == 0) {
			p->type = t;
			return;
		}
		if (strcasecmp(p->type_raw, name) == 0) {
			p->type = t;
			sts_tlsrpt_warn(c, "policy-type-case", "J7", path, "'%s' read as '%s'",
					p->type_raw, name);
			return;
		}
	}
	sts_tlsrpt_warn(c, "unknown-policy-type", "J7", path,
			"'%.64s' is not sts, tlsa or no-policy-found", p->type_raw);
}

/* Microsoft's TLSA encoding (docs/rfc-rules.md §10): one element holding a JSON array. */
static int expand_json_array(struct sts_tlsrpt_ctx *c, const char *s, const char *path,
			     struct sts_tlsrpt_policy *p)
{
	const char *t = s + strspn(s, " \t");
	if (*t != '[')
		return 0;
	json_t *a = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
	size_t i;
	json_t *e;
	if (!a || !json_is_array(a) || json_array_size(a) == 0)
		goto no;
	json_array_foreach(a, i, e) if (!json_is_string(e)) goto no;
	json_array_foreach(a, i, e)
	{
		if (sts_tlsrpt_push_str(&p->policy_string, &p->n_policy_string,
					json_string_value(e)) < 0) {
			json_decref(a);
			return STS_ENOMEM;
		}
	}
	sts_tlsrpt_warn(c, "policy-string-json-array", "J8", path,
			"element is a JSON-encoded array, expanded to %zu lines",
			json_array_size(a));
	json_decref(a);
	return 1;
no:
	json_decref(a);
	return 0;
}

/*
 * fn(c, e, ep, i, ud) for each element e of the array v, ep its path
 * ("path[i]"); stops at the first negative return.
 */
static int each_element(struct sts_tlsrpt_ctx *c, json_t *v, const char *path,
			int (*fn)(struct sts_tlsrpt_ctx *c, json_t *e, const char *ep, size_t i,
				  void *ud),
			void *ud)
{
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		char *ep = child(c, path, NULL, (long)i);
		if (!ep)
			return STS_ENOMEM;
		int r = fn(c, e, ep, i, ud);
		free(ep);
		if (r < 0)
			return r;
	}
	return STS_OK;
}

static int policy_line(struct sts_tlsrpt_ctx *c, json_t *e, const char *ep, size_t i, void *ud)
{
	struct sts_tlsrpt_policy *p = ud;
	int r = 0;
	(void)i;
	if (!json_is_string(e))
		sts_tlsrpt_warn(c, "wrong-type", "J8", ep, "policy line is not a string, ignored");
	else if (!(r = expand_json_array(c, json_string_value(e), ep, p)))
		r = sts_tlsrpt_push_str(&p->policy_string, &p->n_policy_string,
					json_string_value(e));
	return r;
}

static int parse_policy_string(struct sts_tlsrpt_ctx *c, json_t *v, const char *path,
			       struct sts_tlsrpt_policy *p)
{
	int r;

	if (absent(c, v, path, "J8"))
		return STS_OK;
	if (json_is_string(v)) {
		/* one string: split into lines */
		sts_tlsrpt_warn(c, "policy-string-string", "J8", path,
				"a string, not an array: split into lines");
		const char *s = json_string_value(v);
		while (*s) {
			size_t n = strcspn(s, "\n");
			char *line = strndup(s, n);
			if (!line)
				return STS_ENOMEM;
			r = 0;
			if (line[0] && strcmp(line, "\r") != 0)
				r = sts_tlsrpt_push_str(&p->policy_string, &p->n_policy_string,
							line);
			free(line);
			if (r < 0)
				return r;
			s += n + (s[n] == '\n');
		}
		return STS_OK;
	}
	if (!json_is_array(v))
		return sts_tlsrpt_reject(c, STS_EINVALID, "J8", path,
					 "'policy-string' is not an array");
	return each_element(c, v, path, policy_line, p);
}

static int mx_host(struct sts_tlsrpt_ctx *c, json_t *e, const char *ep, size_t i, void *ud)
{
	struct sts_tlsrpt_policy *p = ud;
	char *s = NULL;
	(void)i;
	int r = get_string(c, e, ep, NULL, "J10", &s)
		    ? sts_tlsrpt_push_str(&p->mx_host, &p->n_mx_host, s)
		    : STS_OK;
	free(s);
	return r < 0 || c->enomem ? STS_ENOMEM : STS_OK;
}

static int parse_mx_host(struct sts_tlsrpt_ctx *c, json_t *v, const char *path,
			 struct sts_tlsrpt_policy *p)
{
	if (absent(c, v, path, "J10"))
		return STS_OK;
	if (json_is_string(v)) {
		sts_tlsrpt_warn(c, "mx-host-string", "J10", path,
				"a string, not an array (RFC 8460 erratum 6241)");
		if (json_string_length(v) == 0)
			return STS_OK;
		return sts_tlsrpt_push_str(&p->mx_host, &p->n_mx_host, json_string_value(v));
	}
	if (!json_is_array(v))
		return sts_tlsrpt_reject(c, STS_EINVALID, "J10", path, "'mx-host' is not an array");
	return each_element(c, v, path, mx_host, p);
}

/* ---- failure details -------------------------------------------------- */

enum {
	F_RESULT_TYPE,
	F_SENDING_MTA_IP,
	F_RECEIVING_MX_HOSTNAME,
	F_RECEIVING_MX_HELO,
	F_RECEIVING_IP,
	F_FAILED_SESSION_COUNT,
	F_ADDITIONAL_INFORMATION,
	F_FAILURE_REASON_CODE,
	F_N,
};

static int parse_failure(struct sts_tlsrpt_ctx *c, json_t *obj, const char *path,
			 struct sts_tlsrpt_failure *f)
{
	struct member m[F_N] = {
	    {"result-type", NULL, NULL},
	    {"sending-mta-ip", NULL, NULL},
	    {"receiving-mx-hostname", NULL, NULL},
	    {"receiving-mx-helo", NULL, NULL},
	    {"receiving-ip", NULL, NULL},
	    {"failed-session-count", NULL, NULL},
	    {"additional-information", NULL, NULL},
	    {"failure-reason-code", NULL, NULL},
	};
	char **dst[F_N] = {
	    &f->result_type,
	    &f->sending_mta_ip,
	    &f->receiving_mx_hostname,
	    &f->receiving_mx_helo,
	    &f->receiving_ip,
	    NULL,
	    &f->additional_information,
	    &f->failure_reason_code,
	};
	static const char *const rules[F_N] = {"J14", "J15", "J16", "J17",
					       "J18", "J19", "J20", "J21"};
	int r = map_members(c, obj, path, m, F_N);
	if (r < 0)
		return r;

	struct sts_buf missing;
	sts_buf_init(&missing, 256);
	for (int i = 0; i < F_N; i++) {
		char *fp = child(c, path, m[i].as_sent, -1);
		if (!fp)
			return STS_ENOMEM;
		if (i == F_FAILED_SESSION_COUNT)
			r = get_count(c, m[i].val, fp, rules[i], &f->failed_session_count);
		else if (!m[i].val && (i == F_SENDING_MTA_IP || i == F_RECEIVING_MX_HOSTNAME ||
				       i == F_RECEIVING_IP))
			r = sts_buf_printf(&missing, "%s'%s'", missing.len ? ", " : "", m[i].key);
		else if (i != F_RESULT_TYPE || m[i].val)
			get_string(c, m[i].val, fp, NULL, rules[i], dst[i]);
		if (r == 0 && (i == F_SENDING_MTA_IP || i == F_RECEIVING_IP) && *dst[i] &&
		    !sts_tlsrpt_ip_valid(*dst[i]))
			sts_tlsrpt_warn(c, "invalid-ip", rules[i], fp,
					"'%.64s' is not an IP address, kept", *dst[i]);
		free(fp);
		if (r < 0 || c->enomem) {
			sts_buf_release(&missing);
			return r < 0 ? r : STS_ENOMEM;
		}
	}
	if (missing.len)
		sts_tlsrpt_warn(c, "missing-failure-field", "J22", path, "%s absent",
				sts_buf_str(&missing));
	sts_buf_release(&missing);
	if (f->receiving_mx_hostname)
		sts_tlsrpt_hostname_lower(f->receiving_mx_hostname);

	f->category = sts_tlsrpt_result_category(f->result_type);
	if (!f->result_type)
		sts_tlsrpt_warn(
		    c, "missing-result-type", "J14", path,
		    "failure entry has no usable 'result-type', counted as an unknown failure");
	else if (f->category == STS_TLSRPT_CAT_UNKNOWN)
		sts_tlsrpt_warn(
		    c, "unknown-result-type", "J14", path,
		    "'%.64s' is not a registered result type, kept and counted as a failure",
		    f->result_type);
	return c->enomem ? STS_ENOMEM : STS_OK;
}

static int failure(struct sts_tlsrpt_ctx *c, json_t *e, const char *ep, size_t i, void *ud)
{
	struct sts_tlsrpt_policy *p = ud;
	int r;
	if (!json_is_object(e))
		r = sts_tlsrpt_reject(c, STS_EINVALID, "J13", ep,
				      "failure detail is not an object");
	else
		r = parse_failure(c, e, ep, &p->failures[i]);
	p->n_failures = i + 1;
	if (r == 0)
		r = sts_tlsrpt_add_count(c, &p->failure_detail_sum,
					 p->failures[i].failed_session_count, ep);
	return r;
}

static int parse_failures(struct sts_tlsrpt_ctx *c, json_t *v, const char *path,
			  struct sts_tlsrpt_policy *p)
{
	if (absent(c, v, path, "J13"))
		return STS_OK;
	if (!json_is_array(v))
		return sts_tlsrpt_reject(c, STS_EINVALID, "J13", path,
					 "'failure-details' is not an array");
	size_t n = json_array_size(v);
	if (n == 0)
		return STS_OK;
	p->failures = calloc(n, sizeof(*p->failures));
	if (!p->failures)
		return STS_ENOMEM;
	return each_element(c, v, path, failure, p);
}

static int parse_summary(struct sts_tlsrpt_ctx *c, json_t *v, const char *path,
			 struct sts_tlsrpt_policy *p)
{
	struct member m[] = {{"total-successful-session-count", NULL, NULL},
			     {"total-failure-session-count", NULL, NULL}};
	int64_t *dst[] = {&p->success_count, &p->failure_count};
	const char *rules[] = {"J11", "J12"};

	if (!v || json_is_null(v)) {
		sts_tlsrpt_warn(c, "missing-summary", "J11", path,
				"no 'summary', session counts are 0");
		return STS_OK;
	}
	if (!json_is_object(v))
		return sts_tlsrpt_reject(c, STS_EINVALID, "J11", path,
					 "'summary' is not an object");
	int r = map_members(c, v, path, m, 2);
	for (int i = 0; r == 0 && i < 2; i++) {
		char *fp = child(c, path, m[i].as_sent, -1);
		if (!fp)
			return STS_ENOMEM;
		r = get_count(c, m[i].val, fp, rules[i], dst[i]);
		free(fp);
	}
	return r;
}

static int parse_policy_entry(struct sts_tlsrpt_ctx *c, json_t *obj, const char *path,
			      struct sts_tlsrpt_policy *p)
{
	struct member top[] = {
	    {"policy", NULL, NULL}, {"summary", NULL, NULL}, {"failure-details", NULL, NULL}};
	struct member pol[] = {{"policy-type", NULL, NULL},
			       {"policy-string", NULL, NULL},
			       {"policy-domain", NULL, NULL},
			       {"mx-host", NULL, NULL}};
	char *pp = NULL, *fp[4] = {NULL, NULL, NULL, NULL}, *sp = NULL, *dp = NULL;
	int r = map_members(c, obj, path, top, 3);
	if (r < 0)
		return r;
	pp = child(c, path, top[0].as_sent, -1);
	sp = child(c, path, top[1].as_sent, -1);
	dp = child(c, path, top[2].as_sent, -1);
	if (!pp || !sp || !dp) {
		r = STS_ENOMEM;
		goto out;
	}
	if (!top[0].val || !json_is_object(top[0].val)) {
		r = sts_tlsrpt_reject(c, STS_EINVALID, "J6", pp,
				      "policy entry has no 'policy' object");
		goto out;
	}
	r = map_members(c, top[0].val, pp, pol, 4);
	for (int i = 0; r == 0 && i < 4; i++)
		if (!(fp[i] = child(c, pp, pol[i].as_sent, -1)))
			r = STS_ENOMEM;
	if (r < 0)
		goto out;
	parse_policy_type(c, pol[0].val, fp[0], p);
	r = parse_policy_domain(c, pol[2].val, fp[2], p);
	if (r == 0)
		r = parse_policy_string(c, pol[1].val, fp[1], p);
	if (r == 0)
		r = parse_mx_host(c, pol[3].val, fp[3], p);
	if (r == 0)
		r = parse_summary(c, top[1].val, sp, p);
	if (r == 0)
		r = parse_failures(c, top[2].val, dp, p);
	if (r == 0 && c->enomem)
		r = STS_ENOMEM;
	if (r == 0 && p->failure_detail_sum != p->failure_count &&
	    (p->n_failures > 0 || p->failure_count > 0))
		sts_tlsrpt_warn(c, "total-failure-mismatch", "J12", path,
				"total-failure-session-count %lld, failed-session-count sum %lld",
				(long long)p->failure_count, (long long)p->failure_detail_sum);
out:
	STS_FREE_ALL(pp, sp, dp);
	for (int i = 0; i < 4; i++)
		free(fp[i]);
	return r;
}

/* ---- report ----------------------------------------------------------- */

static int policy(struct sts_tlsrpt_ctx *c, json_t *e, const char *ep, size_t i, void *ud)
{
	struct sts_tlsrpt_report *rep = ud;
	rep->n_policies = i + 1;
	if (!json_is_object(e))
		return sts_tlsrpt_reject(c, STS_EINVALID, "J6", ep,
					 "policy entry is not an object");
	return parse_policy_entry(c, e, ep, &rep->policies[i]);
}

static int parse_policies(struct sts_tlsrpt_ctx *c, json_t *v)
{
	struct sts_tlsrpt_report *rep = c->rep;

	if (!v || !json_is_array(v))
		return sts_tlsrpt_reject(c, STS_EINVALID, "J6", "policies",
					 "report has no 'policies' array");
	size_t n = json_array_size(v);
	if (n == 0) {
		sts_tlsrpt_warn(c, "empty-policies", "J6", "policies", "'policies' is empty");
		return STS_OK;
	}
	rep->policies = calloc(n, sizeof(*rep->policies));
	if (!rep->policies)
		return STS_ENOMEM;
	int r = each_element(c, v, "policies", policy, rep);
	if (r < 0)
		return r;
	return sts_tlsrpt_merge_duplicates(c);
}

static int parse_report(struct sts_tlsrpt_ctx *c, json_t *root)
{
	struct sts_tlsrpt_report *rep = c->rep;
	struct member m[] = {
	    {"organization-name", NULL, NULL}, {"date-range", NULL, NULL},
	    {"contact-info", NULL, NULL},      {"report-id", NULL, NULL},
	    {"policies", NULL, NULL},
	};
	char **str[] = {&rep->organization, NULL, &rep->contact_info, &rep->report_id};
	static const char *const missing[] = {"missing-organization-name", NULL,
					      "missing-contact-info", "missing-report-id"};
	static const char *const nulls[] = {"organization-name-null", NULL, "contact-info-null",
					    "report-id-null"};
	static const char *const rules[] = {"J2", "J3", "J4", "J5"};

	if (!json_is_object(root))
		return sts_tlsrpt_reject(c, STS_EINVALID, "J1", NULL,
					 "report is not a JSON object");
	int r = map_members(c, root, "", m, 5);
	if (r < 0)
		return r;
	/* policies first: the most useful error when the document is not a report */
	r = parse_policies(c, m[4].val);
	if (r == 0)
		r = parse_date_range(c, m[1].val);
	for (int i = 0; r == 0 && i < 4; i++) {
		if (!str[i])
			continue;
		if (!m[i].val)
			sts_tlsrpt_warn(c, missing[i], rules[i], m[i].key, "'%s' is absent",
					m[i].key);
		else
			get_string(c, m[i].val, m[i].as_sent, nulls[i], rules[i], str[i]);
	}
	if (r == 0 && rep->contact_info && !strchr(rep->contact_info, '@'))
		sts_tlsrpt_warn(c, "contact-info-invalid", "J4", "contact-info",
				"'%.64s' is not an e-mail address, kept", rep->contact_info);
	return r ? r : (c->enomem ? STS_ENOMEM : STS_OK);
}

STS_API int sts_tlsrpt_parse_json(const char *text, size_t len, struct sts_tlsrpt_report **ret,
				  struct sts_diags *diags)
{
	struct sts_tlsrpt_ctx c = {.diags = diags};
	json_error_t jerr;
	json_t *root = NULL;
	int r, bom = 0;

	if (len > STS_CAP_REPORT) {
		if (diags)
			sts_diags_add(diags, STS_SEV_ERROR, "D2", NULL, 0, 0, NULL,
				      "report is larger than %u bytes", STS_CAP_REPORT);
		return STS_ETOOLARGE;
	}
	c.rep = calloc(1, sizeof(*c.rep));
	if (!c.rep)
		return STS_ENOMEM;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
		bom = 1;
	}
	r = sts_tlsrpt_prescan(&c, (const unsigned char *)text, len);
	if (r < 0)
		goto out;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		r = STS_EPARSE;
		if (diags && sts_diags_add(diags, STS_SEV_ERROR, "J1", NULL,
					   jerr.line > 0 ? (unsigned)jerr.line : 0,
					   jerr.column > 0 ? (unsigned)jerr.column : 0, NULL,
					   "report is not valid I-JSON: %s", jerr.text) < 0)
			r = STS_ENOMEM;
		goto out;
	}
	if (bom)
		sts_tlsrpt_warn(&c, "utf8-bom", "J1", NULL,
				"byte order mark before the JSON text, skipped");
	r = parse_report(&c, root);
out:
	json_decref(root);
	if (r < 0) {
		sts_tlsrpt_report_free(c.rep);
		return r;
	}
	*ret = c.rep;
	return STS_OK;
}

STS_API int sts_tlsrpt_parse_blob(const void *data, size_t len, struct sts_tlsrpt_report **ret,
				  struct sts_diags *diags)
{
	char *plain = NULL;
	size_t plain_len = 0;

	if (len > STS_CAP_REPORT_COMPRESSED) {
		if (diags)
			sts_diags_add(diags, STS_SEV_ERROR, "D2", NULL, 0, 0, NULL,
				      "report is larger than %u bytes", STS_CAP_REPORT_COMPRESSED);
		return STS_ETOOLARGE;
	}
	if (!sts_gzip_is_gzip(data, len))
		return sts_tlsrpt_parse_json(data, len, ret, diags);
	int r = sts_gzip_inflate(data, len, STS_CAP_REPORT, &plain, &plain_len, diags);
	if (r < 0)
		return r;
	if (sts_gzip_is_gzip(plain, plain_len)) {
		if (diags)
			sts_diags_add(diags, STS_SEV_ERROR, "D2", NULL, 0, 0, NULL,
				      "report is gzip-compressed twice");
		r = STS_EPARSE;
	} else {
		r = sts_tlsrpt_parse_json(plain, plain_len, ret, diags);
	}
	free(plain);
	return r;
}

STS_API int sts_tlsrpt_parse_fd(int fd, struct sts_tlsrpt_report **ret, struct sts_diags *diags)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_REPORT_COMPRESSED);
	int r = sts_buf_read_fd(&b, fd);
	if (r == STS_ETOOLARGE && diags)
		sts_diags_add(diags, STS_SEV_ERROR, "D2", NULL, 0, 0, NULL,
			      "report is larger than %u bytes", STS_CAP_REPORT_COMPRESSED);
	if (r == 0)
		r = sts_tlsrpt_parse_blob(b.data, b.len, ret, diags);
	sts_buf_release(&b);
	return r;
}
