/* SPDX-License-Identifier: MIT */
/*
 * RFC 1035 §5 master-file lexer and record interpreter, enough for what
 * zonefile has to find: owners (absolute, relative, '@', blank = previous
 * owner), $ORIGIN, $TTL, $INCLUDE (noted, not followed), TTL and class in
 * either order (BIND units like 1h30m), parentheses over several lines,
 * comments, quoted strings with ';' or '(' inside and backslash escapes.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zf.h"

#define TOK_MAX	    4096u
#define DEFAULT_TTL 3600u

struct tok {
	size_t off, len;
	bool quoted;
};

int zf_str_add(struct zf_str *s, const char *p, size_t n)
{
	if (s->n + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		while (cap < s->n + n + 1)
			cap *= 2;
		char *q = realloc(s->p, cap);
		if (!q)
			return STS_PLUGIN_ENOMEM;
		s->p = q;
		s->cap = cap;
	}
	if (n)
		memcpy(s->p + s->n, p, n);
	s->n += n;
	s->p[s->n] = '\0';
	return STS_PLUGIN_OK;
}

int zf_str_puts(struct zf_str *s, const char *p)
{
	return zf_str_add(s, p, strlen(p));
}

int zf_str_printf(struct zf_str *s, const char *fmt, ...)
{
	char *t = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&t, fmt, ap);
	va_end(ap);
	if (n < 0)
		return STS_PLUGIN_ENOMEM;
	int r = zf_str_add(s, t, (size_t)n);
	free(t);
	return r;
}

void zf_str_release(struct zf_str *s)
{
	free(s->p);
	s->p = NULL;
	s->n = s->cap = 0;
}

bool zf_name_eq(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	if (na && a[na - 1] == '.')
		na--;
	if (nb && b[nb - 1] == '.')
		nb--;
	return na == nb && strncasecmp(a, b, na) == 0;
}

/* Ends in a '.' that is not escaped? */
static bool is_absolute(const char *s, size_t n)
{
	if (n == 0 || s[n - 1] != '.')
		return false;
	size_t bs = 0;
	for (size_t i = n - 1; i > 0 && s[i - 1] == '\\'; i--)
		bs++;
	return bs % 2 == 0;
}

char *zf_absname(const char *name, size_t len, const char *origin)
{
	char *r = NULL;
	int rc = 0;
	if (len == 1 && name[0] == '@')
		r = strdup(origin);
	else if (is_absolute(name, len))
		r = strndup(name, len);
	else if (strcmp(origin, ".") == 0)
		rc = asprintf(&r, "%.*s.", (int)len, name);
	else
		rc = asprintf(&r, "%.*s.%s", (int)len, name, origin);
	if (rc < 0)
		r = NULL;
	for (char *p = r; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

/* TTL: decimal seconds or BIND units (1w2d3h4m5s), within 2^31-1. */
static bool parse_ttl(const char *s, size_t n, uint32_t *ret)
{
	unsigned long long total = 0, cur = 0;
	bool digits = false, units = false;
	if (n == 0 || !isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)s[i]);
		if (isdigit((unsigned char)c)) {
			cur = cur * 10 + (unsigned)(c - '0');
			digits = true;
			if (cur > 0x7fffffffULL)
				return false;
			continue;
		}
		unsigned long long m = c == 'w'	  ? 604800
				       : c == 'd' ? 86400
				       : c == 'h' ? 3600
				       : c == 'm' ? 60
				       : c == 's' ? 1
						  : 0;
		if (!m || !digits)
			return false;
		total += cur * m;
		cur = 0;
		digits = false;
		units = true;
	}
	if (digits)
		total += cur;
	else if (!units)
		return false;
	if (total > 0x7fffffffULL)
		return false;
	*ret = (uint32_t)total;
	return true;
}

static bool is_class(const char *s, size_t n)
{
	return n == 2 && (strncasecmp(s, "IN", 2) == 0 || strncasecmp(s, "CH", 2) == 0 ||
			  strncasecmp(s, "HS", 2) == 0 || strncasecmp(s, "CS", 2) == 0);
}

/* Append s (a quoted string's inside, or a bare word) with escapes undone. */
static int unescape_add(struct zf_str *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' && i + 1 < n) {
			if (i + 3 < n && isdigit((unsigned char)s[i + 1]) &&
			    isdigit((unsigned char)s[i + 2]) && isdigit((unsigned char)s[i + 3])) {
				int v = (s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 +
					(s[i + 3] - '0');
				c = (char)(v & 0xff);
				i += 3;
			} else {
				c = s[++i];
			}
		}
		if (zf_str_add(out, &c, 1) < 0)
			return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}

/*
 * Split the entry starting at *pos into tokens; advance *pos past it.
 * Returns STS_PLUGIN_OK, STS_PLUGIN_EPARSE (reterr set) or STS_PLUGIN_ENOMEM.
 */
static int lex_entry(const char *t, size_t len, size_t *pos, unsigned *line, struct tok **toks,
		     size_t *n, size_t *cap, const char **reterr)
{
	size_t p = *pos;
	int depth = 0;
	*n = 0;
	while (p < len) {
		char c = t[p];
		if (c == '\n') {
			p++;
			(*line)++;
			if (depth == 0)
				break;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			p++;
			continue;
		}
		if (c == ';') {
			while (p < len && t[p] != '\n')
				p++;
			continue;
		}
		if (c == '(') {
			depth++;
			p++;
			continue;
		}
		if (c == ')') {
			if (depth == 0) {
				*reterr = "unbalanced ')'";
				return STS_PLUGIN_EPARSE;
			}
			depth--;
			p++;
			continue;
		}
		struct tok tk = {.off = p, .quoted = c == '"'};
		if (c == '"') {
			tk.off = ++p;
			while (p < len && t[p] != '"') {
				if (t[p] == '\\' && p + 1 < len)
					p++;
				if (t[p] == '\n')
					(*line)++;
				p++;
			}
			if (p >= len) {
				*reterr = "unterminated quoted string";
				return STS_PLUGIN_EPARSE;
			}
			tk.len = p - tk.off;
			p++;
		} else {
			while (p < len && !strchr(" \t\r\n;()\"", t[p])) {
				if (t[p] == '\\' && p + 1 < len && t[p + 1] != '\n')
					p++;
				p++;
			}
			tk.len = p - tk.off;
		}
		if (*n == *cap) {
			if (*cap >= TOK_MAX) {
				*reterr = "too many fields in one record";
				return STS_PLUGIN_EPARSE;
			}
			size_t nc = *cap ? *cap * 2 : 16;
			struct tok *v = realloc(*toks, nc * sizeof(*v));
			if (!v)
				return STS_PLUGIN_ENOMEM;
			*toks = v;
			*cap = nc;
		}
		(*toks)[(*n)++] = tk;
	}
	if (depth > 0) {
		*reterr = "unbalanced '('";
		return STS_PLUGIN_EPARSE;
	}
	*pos = p;
	return STS_PLUGIN_OK;
}

static bool type_is(const struct zf_entry *e, const char *t)
{
	return strcmp(e->type, t) == 0;
}

/* The normalised value of a record from its rdata tokens. */
static int record_value(const char *t, const struct tok *rd, size_t n, struct zf_entry *e,
			const char *origin)
{
	struct zf_str v = {0};
	int r = STS_PLUGIN_OK;
	if (type_is(e, "TXT") || type_is(e, "SPF")) {
		for (size_t i = 0; i < n && r == STS_PLUGIN_OK; i++)
			r = unescape_add(&v, t + rd[i].off, rd[i].len);
	} else if (n == 1 && (type_is(e, "CNAME") || type_is(e, "DNAME") || type_is(e, "NS") ||
			      type_is(e, "PTR"))) {
		char *a = zf_absname(t + rd[0].off, rd[0].len, origin);
		r = a ? zf_str_puts(&v, a) : STS_PLUGIN_ENOMEM;
		free(a);
	} else if (n == 2 && type_is(e, "MX")) {
		char *a = zf_absname(t + rd[1].off, rd[1].len, origin);
		r = a ? zf_str_printf(&v, "%.*s %s", (int)rd[0].len, t + rd[0].off, a)
		      : STS_PLUGIN_ENOMEM;
		free(a);
	} else {
		for (size_t i = 0; i < n && r == STS_PLUGIN_OK; i++) {
			const char *q = rd[i].quoted ? "\"" : "";
			r = zf_str_printf(&v, "%s%s%.*s%s", i ? " " : "", q, (int)rd[i].len,
					  t + rd[i].off, q);
		}
	}
	if (r == STS_PLUGIN_OK && !v.p)
		r = zf_str_add(&v, "", 0);
	if (r < 0) {
		zf_str_release(&v);
		return r;
	}
	e->value = v.p;
	return STS_PLUGIN_OK;
}

struct pstate {
	char *origin;
	char *last_owner; /* borrowed from an entry */
	uint32_t default_ttl;
	bool have_default_ttl;
	uint32_t last_ttl;
};

static int directive(const char *t, const struct tok *tk, size_t n, struct pstate *st,
		     struct zf_zone *z, const char **reterr)
{
	const char *d = t + tk[0].off;
	size_t dl = tk[0].len;
	if (dl == 7 && strncasecmp(d, "$ORIGIN", 7) == 0) {
		if (n < 2) {
			*reterr = "$ORIGIN without a name";
			return STS_PLUGIN_EPARSE;
		}
		char *o = zf_absname(t + tk[1].off, tk[1].len, st->origin);
		if (!o)
			return STS_PLUGIN_ENOMEM;
		if (!is_absolute(o, strlen(o))) {
			free(o);
			*reterr = "$ORIGIN must be absolute";
			return STS_PLUGIN_EPARSE;
		}
		free(st->origin);
		st->origin = o;
	} else if (dl == 4 && strncasecmp(d, "$TTL", 4) == 0) {
		if (n < 2 || !parse_ttl(t + tk[1].off, tk[1].len, &st->default_ttl)) {
			*reterr = "$TTL without a valid TTL";
			return STS_PLUGIN_EPARSE;
		}
		st->have_default_ttl = true;
	} else if (dl == 8 && strncasecmp(d, "$INCLUDE", 8) == 0) {
		z->has_include = true;
	}
	return STS_PLUGIN_OK;
}

static int record(const char *t, const struct tok *tk, size_t n, struct pstate *st,
		  struct zf_entry *e, const char **reterr)
{
	size_t i = 0;
	if (!e->blank_owner) {
		e->owner_off = tk[0].off;
		e->owner_len = tk[0].len;
		e->owner = zf_absname(t + tk[0].off, tk[0].len, st->origin);
		i = 1;
	} else if (st->last_owner) {
		e->owner = strdup(st->last_owner);
	} else {
		*reterr = "record without an owner and no previous owner";
		return STS_PLUGIN_EPARSE;
	}
	if (!e->owner)
		return STS_PLUGIN_ENOMEM;
	bool have_ttl = false, have_class = false;
	for (int k = 0; k < 2 && i < n; k++) {
		if (!have_ttl && !tk[i].quoted && parse_ttl(t + tk[i].off, tk[i].len, &e->ttl)) {
			have_ttl = true;
			i++;
		} else if (!have_class && is_class(t + tk[i].off, tk[i].len)) {
			have_class = true;
			i++;
		}
	}
	if (i >= n || tk[i].quoted || tk[i].len >= ZF_TYPE_MAX) {
		*reterr = "record without a valid type";
		return STS_PLUGIN_EPARSE;
	}
	for (size_t k = 0; k < tk[i].len; k++)
		e->type[k] = (char)toupper((unsigned char)t[tk[i].off + k]);
	i++;
	if (have_ttl)
		st->last_ttl = e->ttl;
	else
		e->ttl = st->have_default_ttl ? st->default_ttl : st->last_ttl;
	if (type_is(e, "SOA")) {
		if (n - i < 7) {
			*reterr = "SOA record with fewer than 7 fields";
			return STS_PLUGIN_EPARSE;
		}
		e->serial_off = tk[i + 2].off;
		e->serial_len = tk[i + 2].len;
	}
	st->last_owner = e->owner;
	return record_value(t, tk + i, n - i, e, st->origin);
}

int zf_parse(const char *text, size_t len, const char *zone, struct zf_zone *ret,
	     unsigned *reterr_line, const char **reterr)
{
	struct zf_zone z = {.text = text, .len = len};
	struct pstate st = {.last_ttl = DEFAULT_TTL};
	struct tok *toks = NULL;
	size_t n_tok = 0, cap_tok = 0, cap_e = 0, pos = 0;
	unsigned line = 1;
	int r = STS_PLUGIN_OK;
	const char *nul = memchr(text, '\0', len);
	if (nul) { /* names are C strings: one would end there (\000 is the escape) */
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		*reterr_line = line;
		*reterr = "NUL byte in the zone file";
		return STS_PLUGIN_EPARSE;
	}
	if (asprintf(&st.origin, "%s.", zone) < 0) {
		st.origin = NULL;
		return STS_PLUGIN_ENOMEM;
	}
	for (char *p = st.origin; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	while (pos < len) {
		if (z.n == cap_e) {
			size_t nc = cap_e ? cap_e * 2 : 64;
			struct zf_entry *v = realloc(z.e, nc * sizeof(*v));
			if (!v) {
				r = STS_PLUGIN_ENOMEM;
				break;
			}
			z.e = v;
			cap_e = nc;
		}
		struct zf_entry *e = &z.e[z.n];
		memset(e, 0, sizeof(*e));
		e->start = pos;
		e->line = line;
		e->blank_owner = text[pos] == ' ' || text[pos] == '\t';
		*reterr_line = line;
		r = lex_entry(text, len, &pos, &line, &toks, &n_tok, &cap_tok, reterr);
		if (r < 0)
			break;
		e->end = pos;
		z.n++;
		if (n_tok == 0) {
			e->kind = ZF_BLANK;
		} else if (!e->blank_owner && text[toks[0].off] == '$' && !toks[0].quoted) {
			e->kind = ZF_DIRECTIVE;
			r = directive(text, toks, n_tok, &st, &z, reterr);
		} else {
			e->kind = ZF_RECORD;
			r = record(text, toks, n_tok, &st, e, reterr);
		}
		if (r < 0)
			break;
	}
	free(toks);
	free(st.origin);
	if (r < 0) {
		zf_zone_release(&z);
		return r;
	}
	*ret = z;
	return STS_PLUGIN_OK;
}

void zf_zone_release(struct zf_zone *z)
{
	for (size_t i = 0; i < z->n; i++) {
		free(z->e[i].owner);
		free(z->e[i].value);
	}
	free(z->e);
	z->e = NULL;
	z->n = 0;
}

uint32_t zf_next_serial(uint32_t old, enum zf_serial mode, time_t now)
{
	if (mode == ZF_SERIAL_DATE) {
		struct tm tm;
		gmtime_r(&now, &tm);
		unsigned long long today = ((unsigned long long)(tm.tm_year + 1900) * 10000ULL +
					    (unsigned long long)(tm.tm_mon + 1) * 100ULL +
					    (unsigned long long)tm.tm_mday) *
					   100ULL;
		if (today <= 0xffffffffULL && old < today)
			return (uint32_t)today;
	}
	return old + 1u; /* RFC 1982 serial arithmetic wraps */
}
