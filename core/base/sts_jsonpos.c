/* SPDX-License-Identifier: MIT */
/*
 * A strict RFC 8259 parser that keeps byte offsets (sts_jsonpos.h). It is
 * iterative (an explicit frame stack), so deep nesting cannot overflow the
 * C stack, and every node, string and array lives in one arena.
 */
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_escape.h"
#include "sts_jsonpos.h"

/* ---- arena ---- */

struct sts_arena_chunk {
	struct sts_arena_chunk *next;
	size_t used;
	size_t cap;
	bool mapped; /* a 2 MiB mapping, else malloc'd */
	_Alignas(8) unsigned char data[];
};

#define ARENA_CHUNK (256u * 1024u)
#define ARENA_HUGE  (2u * 1024u * 1024u)

/*
 * Past the first megabyte chunks are 2 MiB mappings aligned to 2 MiB and
 * advised MADV_HUGEPAGE: the kernel can back each with one transparent huge
 * page, one page fault instead of 512 (a quarter of the time to load
 * 100,000 domains went to page faults). Falls back to malloc.
 */
static struct sts_arena_chunk *chunk_huge(void)
{
	unsigned char *m =
	    mmap(NULL, 2 * ARENA_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	uintptr_t at = ((uintptr_t)m + ARENA_HUGE - 1) & ~(uintptr_t)(ARENA_HUGE - 1);
	size_t head = at - (uintptr_t)m;
	if (head)
		munmap(m, head);
	if (ARENA_HUGE - head)
		munmap((unsigned char *)at + ARENA_HUGE, ARENA_HUGE - head);
	madvise((void *)at, ARENA_HUGE, MADV_HUGEPAGE);
	struct sts_arena_chunk *c = (struct sts_arena_chunk *)at;
	c->cap = ARENA_HUGE - sizeof(*c);
	c->mapped = true;
	return c;
}

static struct sts_arena_chunk *chunk_new(const struct sts_arena *a, size_t n)
{
	struct sts_arena_chunk *c = NULL;
	if (a->total >= 4 * ARENA_CHUNK && n <= ARENA_HUGE / 4)
		c = chunk_huge();
	if (!c) {
		/* big requests get a chunk of their own */
		size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->mapped = false;
	}
	c->used = 0;
	return c;
}

STS_API void sts_arena_init(struct sts_arena *a)
{
	a->head = NULL;
	a->total = 0;
}

STS_API void sts_arena_release(struct sts_arena *a)
{
	struct sts_arena_chunk *c = a->head;
	while (c) {
		struct sts_arena_chunk *next = c->next;
		if (c->mapped)
			munmap(c, ARENA_HUGE);
		else
			free(c);
		c = next;
	}
	sts_arena_init(a);
}

STS_API void *sts_arena_alloc(struct sts_arena *a, size_t n)
{
	n = (n + 7u) & ~(size_t)7u;
	if (n == 0)
		n = 8;
	struct sts_arena_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		if (n > SIZE_MAX / 2)
			return NULL;
		struct sts_arena_chunk *nc = chunk_new(a, n);
		if (!nc)
			return NULL;
		if (c && nc->cap == n && !nc->mapped) {
			/* a chunk of its own: keep filling the current one */
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			a->head = nc;
		}
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	a->total += n;
	return p;
}

STS_API char *sts_arena_strndup(struct sts_arena *a, const char *p, size_t n)
{
	char *s = sts_arena_alloc(a, n + 1);
	if (!s)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* ---- parser ---- */

struct frame {
	uint8_t type; /* STS_JARRAY or STS_JOBJECT */
	uint32_t off;
	size_t start; /* first pending member in scratch */
};

enum want {
	W_VALUE,
	W_VALUE_OR_END, /* after '[' */
	W_KEY,		/* after ',' in an object */
	W_KEY_OR_END,	/* after '{' */
	W_COMMA_OR_END,
};

#define N_INTERNED 128

struct interned {
	const char *p;
	uint32_t len;
};

struct parser {
	const unsigned char *t;
	size_t len;
	size_t pos;
	struct sts_jdoc *doc;
	struct sts_jerr *err;
	struct sts_jmember *scratch; /* pending members / elements of open containers */
	size_t n, cap;
	struct frame *frames;
	size_t depth, fcap;
	uint32_t *slots; /* duplicate detection in big objects */
	size_t nslots;
	locale_t c_locale;
	struct interned keys[N_INTERNED];
	enum want want;
	bool done;
};

static int fail(struct parser *p, size_t off, const char *msg)
{
	if (p->err && !p->err->message) {
		p->err->off = (uint32_t)(off > p->len ? p->len : off);
		p->err->message = msg;
	}
	return STS_EPARSE;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int hex4(const unsigned char *s, unsigned *ret)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	*ret = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The one-character escapes (RFC 8259 §7) and what each stands for. */
static const char esc_from[] = "\"\\/bfnrt", esc_to[] = "\"\\/\b\f\n\r\t";

/* Decode the escapes of the raw string t[a..b) into out (room for b-a+1). */
static int decode_escapes(struct parser *p, size_t a, size_t b, char *out, uint32_t *ret_len)
{
	const unsigned char *t = p->t;
	size_t o = 0;
	for (size_t i = a; i < b;) {
		if (t[i] != '\\') {
			out[o++] = (char)t[i++];
			continue;
		}
		size_t esc = i;
		unsigned char e = t[i + 1]; /* i + 1 < b: the scan kept pairs */
		i += 2;
		const char *s = e ? strchr(esc_from, e) : NULL;
		if (s) {
			out[o++] = esc_to[s - esc_from];
			continue;
		}
		if (e != 'u')
			return fail(p, esc, "invalid escape in string");
		unsigned cp, lo;
		if (b - i < 4 || hex4(t + i, &cp) < 0)
			return fail(p, esc, "invalid \\u escape (four hex digits expected)");
		i += 4;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (b - i < 6 || t[i] != '\\' || t[i + 1] != 'u' ||
			    hex4(t + i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
				return fail(p, esc, "lone surrogate in \\u escape");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return fail(p, esc, "lone surrogate in \\u escape");
		} else if (cp == 0) {
			return fail(p, esc, "\\u0000 is not allowed in strings");
		}
		/* an escape is at least as long as its UTF-8 encoding */
		o += put_utf8(out + o, cp);
	}
	out[o] = '\0';
	*ret_len = (uint32_t)o;
	return STS_OK;
}

/* Bytes a string scan can pass over: printable ASCII but '"' and '\\'. */
static inline bool plain(unsigned char c)
{
	return (unsigned char)(c - 0x20) < 0x5f && c != '"' && c != '\\';
}

/* p->pos is at the opening quote; on success it is past the closing one. */
static int parse_string(struct parser *p, bool is_key, const char **ret, uint32_t *ret_len)
{
	const unsigned char *t = p->t;
	size_t start = p->pos + 1, i = start;
	bool esc = false;
	for (;;) {
		while (i < p->len && plain(t[i]))
			i++; /* the common case: printable ASCII */
		if (i >= p->len)
			return fail(p, p->len, "unterminated string");
		unsigned char c = t[i];
		if (c == '"')
			break;
		if (c == '\\') {
			esc = true;
			i += 2;
			continue;
		}
		if (c < 0x20)
			return fail(p, i,
				    c == '\n'
					? "string not closed before the end of the line"
					: "control character in string (escape it as \\u00XX)");
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n = sts_utf8_seq(t + i, p->len - i, NULL);
		if (!n)
			return fail(p, i, "invalid UTF-8 in string");
		i += n;
	}
	size_t raw = i - start;
	struct interned *in = NULL;
	if (is_key && !esc && raw <= 24) {
		/* keys repeat ("name", "mx", ...): share one copy */
		in = &p->keys[(raw * 31u + t[start] * 7u + t[i - 1]) & (N_INTERNED - 1)];
		if (in->p && in->len == raw && memcmp(in->p, t + start, raw) == 0) {
			*ret = in->p;
			*ret_len = in->len;
			p->pos = i + 1;
			return STS_OK;
		}
	}
	char *out = sts_arena_alloc(&p->doc->arena, raw + 1);
	if (!out)
		return STS_ENOMEM;
	if (esc) {
		int r = decode_escapes(p, start, i, out, ret_len);
		if (r < 0)
			return r;
	} else {
		memcpy(out, t + start, raw);
		out[raw] = '\0';
		*ret_len = (uint32_t)raw;
	}
	*ret = out;
	p->pos = i + 1;
	if (in)
		*in = (struct interned){out, (uint32_t)raw};
	return STS_OK;
}

static int parse_number(struct parser *p, struct sts_jval *v)
{
	const unsigned char *t = p->t;
	size_t i = p->pos, len = p->len;
	bool neg = false, integer = true;
	if (t[i] == '-') {
		neg = true;
		i++;
	}
	if (i >= len || !is_digit(t[i]))
		return fail(p, p->pos, "invalid number");
	if (t[i] == '0')
		i++;
	else
		while (i < len && is_digit(t[i]))
			i++;
	if (i < len && t[i] == '.') {
		integer = false;
		if (++i >= len || !is_digit(t[i]))
			return fail(p, p->pos, "invalid number (digits expected after '.')");
		while (i < len && is_digit(t[i]))
			i++;
	}
	if (i < len && (t[i] == 'e' || t[i] == 'E')) {
		integer = false;
		i++;
		if (i < len && (t[i] == '+' || t[i] == '-'))
			i++;
		if (i >= len || !is_digit(t[i]))
			return fail(p, p->pos, "invalid number (digits expected in the exponent)");
		while (i < len && is_digit(t[i]))
			i++;
	}
	if (integer) {
		unsigned long long u = 0,
				   lim = neg ? (unsigned long long)LLONG_MAX + 1u : LLONG_MAX;
		for (size_t k = p->pos + (neg ? 1 : 0); k < i; k++) {
			unsigned d = t[k] - '0';
			if (u > (lim - d) / 10)
				return fail(p, p->pos, "integer out of range");
			u = u * 10 + d;
		}
		v->type = STS_JINT;
		v->u.i = neg ? (long long)(0 - u) : (long long)u;
	} else {
		if (p->c_locale == (locale_t)0) {
			p->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
			if (p->c_locale == (locale_t)0)
				return STS_ENOMEM;
		}
		char *tmp = strndup((const char *)t + p->pos, i - p->pos);
		if (!tmp)
			return STS_ENOMEM;
		double d = strtod_l(tmp, NULL, p->c_locale);
		free(tmp);
		if (isinf(d))
			return fail(p, p->pos, "number out of range");
		v->type = STS_JREAL;
		v->u.d = d;
	}
	v->end = (uint32_t)i;
	p->pos = i;
	return STS_OK;
}

static int push_member(struct parser *p, const struct sts_jmember *m)
{
	if (sts_array_grow(&p->scratch, p->n, &p->cap, sizeof(*p->scratch), 64) < 0)
		return STS_ENOMEM;
	p->scratch[p->n++] = *m;
	return STS_OK;
}

/* Path of the container at frames[d] (d < depth), plus an optional tail. */
static int frame_path(const struct parser *p, size_t d, struct sts_buf *b)
{
	int r = STS_OK;
	for (size_t j = 1; j <= d && r == STS_OK; j++) {
		const struct frame *up = &p->frames[j - 1];
		if (up->type == STS_JOBJECT) {
			const struct sts_jmember *m = &p->scratch[p->frames[j].start - 1];
			r = sts_jsonpath_key(b, m->key, m->key_len);
		} else {
			r = sts_jsonpath_index(b, p->frames[j].start - up->start);
		}
	}
	return r;
}

/* Where parsing stopped, as a path (best effort; NULL at the top). */
static char *error_path(const struct parser *p)
{
	if (p->depth == 0)
		return NULL;
	struct sts_buf b;
	sts_buf_init(&b, 64u * 1024u);
	const struct frame *f = &p->frames[p->depth - 1];
	int r = frame_path(p, p->depth - 1, &b);
	if (r == STS_OK && f->type == STS_JOBJECT && p->want == W_VALUE && p->n > f->start) {
		const struct sts_jmember *m = &p->scratch[p->n - 1];
		r = sts_jsonpath_key(&b, m->key, m->key_len);
	} else if (r == STS_OK && f->type == STS_JARRAY &&
		   (p->want == W_VALUE || p->want == W_VALUE_OR_END)) {
		r = sts_jsonpath_index(&b, p->n - f->start);
	}
	if (r < 0 || b.len == 0) {
		sts_buf_release(&b);
		return NULL;
	}
	return sts_buf_steal(&b);
}

static uint32_t hash_key(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static bool same_key(const struct sts_jmember *a, const struct sts_jmember *b)
{
	return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

static int add_dup(struct parser *p, const struct sts_jmember *dup, const struct sts_jmember *first)
{
	struct sts_jdoc *doc = p->doc;
	if (sts_array_grow(&doc->dups, doc->n_dups, &doc->n_dups_cap, sizeof(*doc->dups), 8) < 0)
		return STS_ENOMEM;
	struct sts_buf b;
	sts_buf_init(&b, 64u * 1024u);
	int r = frame_path(p, p->depth - 1, &b);
	if (r == STS_OK)
		r = sts_jsonpath_key(&b, dup->key, dup->key_len);
	char *path = r == STS_OK ? sts_arena_strndup(&doc->arena, sts_buf_str(&b), b.len) : NULL;
	sts_buf_release(&b);
	if (r == STS_ENOMEM || (r == STS_OK && !path))
		return STS_ENOMEM;
	doc->dups[doc->n_dups++] = (struct sts_jdup){path, dup->key_off, first->key_off};
	return STS_OK;
}

/* Duplicate keys among the members of the object being closed. */
static int check_dups(struct parser *p, struct sts_jmember *m, size_t n)
{
	int r = STS_OK;
	if (n <= 16) {
		for (size_t i = 1; i < n && r == STS_OK; i++)
			for (size_t j = 0; j < i; j++)
				if (same_key(&m[i], &m[j])) {
					r = add_dup(p, &m[i], &m[j]);
					break;
				}
		return r;
	}
	size_t ns = 64;
	while (ns < n * 2)
		ns *= 2;
	if (ns > p->nslots) {
		uint32_t *s = realloc(p->slots, ns * sizeof(*s));
		if (!s)
			return STS_ENOMEM;
		p->slots = s;
		p->nslots = ns;
	}
	memset(p->slots, 0, ns * sizeof(*p->slots));
	for (size_t i = 0; i < n && r == STS_OK; i++) {
		size_t k = hash_key(m[i].key, m[i].key_len) & (ns - 1);
		while (p->slots[k] && !same_key(&m[p->slots[k] - 1], &m[i]))
			k = (k + 1) & (ns - 1);
		if (p->slots[k])
			r = add_dup(p, &m[i], &m[p->slots[k] - 1]);
		else
			p->slots[k] = (uint32_t)i + 1;
	}
	return r;
}

static void skip_ws(struct parser *p)
{
	const unsigned char *t = p->t;
	size_t i = p->pos;
	while (i < p->len && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r'))
		i++;
	p->pos = i;
}

/* A value is complete: store it in its container or as the root. */
static int complete(struct parser *p, const struct sts_jval *v)
{
	if (p->depth == 0) {
		p->doc->root = *v;
		skip_ws(p);
		if (p->pos < p->len)
			return fail(p, p->pos, "unexpected data after the JSON document");
		p->done = true;
		return STS_OK;
	}
	struct frame *f = &p->frames[p->depth - 1];
	p->want = W_COMMA_OR_END;
	if (f->type == STS_JOBJECT) {
		p->scratch[p->n - 1].val = *v;
		return STS_OK;
	}
	struct sts_jmember m = {.val = *v};
	return push_member(p, &m);
}

static int open_container(struct parser *p, uint8_t type)
{
	if (p->depth >= STS_JSON_MAX_DEPTH)
		return fail(p, p->pos, "nesting too deep");
	if (sts_array_grow(&p->frames, p->depth, &p->fcap, sizeof(*p->frames), 16) < 0)
		return STS_ENOMEM;
	p->frames[p->depth++] = (struct frame){type, (uint32_t)p->pos, p->n};
	p->pos++;
	p->want = type == STS_JOBJECT ? W_KEY_OR_END : W_VALUE_OR_END;
	return STS_OK;
}

static int close_container(struct parser *p)
{
	struct frame *f = &p->frames[p->depth - 1];
	size_t n = p->n - f->start;
	struct sts_jmember *m = p->scratch ? p->scratch + f->start : NULL;
	struct sts_jval v = {.type = f->type, .off = f->off, .end = (uint32_t)p->pos + 1};
	struct sts_arena *a = &p->doc->arena;
	if (f->type == STS_JOBJECT) {
		int r = check_dups(p, m, n);
		if (r < 0)
			return r;
		v.u.o.n = (uint32_t)n;
		v.u.o.m = n ? sts_arena_alloc(a, n * sizeof(*m)) : NULL;
		if (n && !v.u.o.m)
			return STS_ENOMEM;
		if (n)
			memcpy(v.u.o.m, m, n * sizeof(*m));
	} else {
		v.u.a.n = (uint32_t)n;
		v.u.a.v = n ? sts_arena_alloc(a, n * sizeof(*v.u.a.v)) : NULL;
		if (n && !v.u.a.v)
			return STS_ENOMEM;
		for (size_t i = 0; i < n; i++)
			v.u.a.v[i] = m[i].val;
	}
	p->n = f->start;
	p->depth--;
	p->pos++;
	return complete(p, &v);
}

static int literal(struct parser *p, const char *word, uint8_t type)
{
	size_t n = strlen(word);
	if (p->len - p->pos < n || memcmp(p->t + p->pos, word, n) != 0)
		return fail(p, p->pos, "invalid literal (expected true, false or null)");
	struct sts_jval v = {.type = type, .off = (uint32_t)p->pos, .end = (uint32_t)(p->pos + n)};
	p->pos += n;
	return complete(p, &v);
}

static int scalar_or_open(struct parser *p)
{
	unsigned char c = p->t[p->pos];
	struct sts_jval v = {.off = (uint32_t)p->pos};
	int r;
	switch (c) {
	case '{':
		return open_container(p, STS_JOBJECT);
	case '[':
		return open_container(p, STS_JARRAY);
	case 't':
		return literal(p, "true", STS_JTRUE);
	case 'f':
		return literal(p, "false", STS_JFALSE);
	case 'n':
		return literal(p, "null", STS_JNULL);
	case '"':
		v.type = STS_JSTRING;
		r = parse_string(p, false, &v.u.s.p, &v.u.s.len);
		v.end = (uint32_t)p->pos;
		break;
	default:
		if (c != '-' && !is_digit(c))
			return fail(p, p->pos, "expected a value");
		r = parse_number(p, &v);
		break;
	}
	return r < 0 ? r : complete(p, &v);
}

static int key(struct parser *p)
{
	struct sts_jmember m = {.key_off = (uint32_t)p->pos};
	if (p->t[p->pos] != '"')
		return fail(p, p->pos, "expected a key in double quotes");
	int r = parse_string(p, true, &m.key, &m.key_len);
	if (r < 0)
		return r;
	r = push_member(p, &m);
	if (r < 0)
		return r;
	skip_ws(p);
	if (p->pos >= p->len || p->t[p->pos] != ':')
		return fail(p, p->pos, "expected ':' after the key");
	p->pos++;
	p->want = W_VALUE;
	return STS_OK;
}

static int step(struct parser *p)
{
	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, p->len, p->depth ? "unexpected end of input" : "empty input");
	unsigned char c = p->t[p->pos];
	const struct frame *f = p->depth ? &p->frames[p->depth - 1] : NULL;
	switch (p->want) {
	case W_KEY_OR_END:
		if (c == '}')
			return close_container(p);
		/* fall through */
	case W_KEY:
		return key(p);
	case W_VALUE_OR_END:
		if (c == ']')
			return close_container(p);
		/* fall through */
	case W_VALUE:
		return scalar_or_open(p);
	case W_COMMA_OR_END:
		if (c == ',') {
			p->pos++;
			p->want = f->type == STS_JOBJECT ? W_KEY : W_VALUE;
			return STS_OK;
		}
		if (c == (f->type == STS_JOBJECT ? '}' : ']'))
			return close_container(p);
		return fail(p, p->pos,
			    f->type == STS_JOBJECT ? "expected ',' or '}'" : "expected ',' or ']'");
	}
	return STS_EINVAL;
}

STS_API int sts_jdoc_parse(const char *text, size_t len, struct sts_jdoc *doc,
			   struct sts_jerr *reterr)
{
	memset(doc, 0, sizeof(*doc));
	sts_arena_init(&doc->arena);
	if (reterr)
		memset(reterr, 0, sizeof(*reterr));
	if (len > STS_JSON_MAX_LEN)
		return STS_ETOOLARGE;
	struct parser p = {
	    .t = (const unsigned char *)text,
	    .len = len,
	    .doc = doc,
	    .err = reterr,
	    .want = W_VALUE,
	};
	int r = STS_OK;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		r = fail(&p, 0, "byte order mark at the start (save as UTF-8 without BOM)");
	while (r == STS_OK && !p.done)
		r = step(&p);
	if (r == STS_EPARSE && reterr)
		reterr->path = error_path(&p);
	STS_FREE_ALL(p.scratch, p.frames, p.slots);
	if (p.c_locale != (locale_t)0)
		freelocale(p.c_locale);
	return r;
}

STS_API void sts_jdoc_release(struct sts_jdoc *doc)
{
	if (!doc)
		return;
	sts_arena_release(&doc->arena);
	free(doc->dups);
	doc->dups = NULL;
	doc->n_dups = doc->n_dups_cap = 0;
}

STS_API const struct sts_jmember *sts_jobj_member(const struct sts_jval *obj, const char *key)
{
	if (!obj || obj->type != STS_JOBJECT)
		return NULL;
	for (uint32_t i = obj->u.o.n; i > 0; i--)
		if (strcmp(obj->u.o.m[i - 1].key, key) == 0)
			return &obj->u.o.m[i - 1];
	return NULL;
}

STS_API const struct sts_jval *sts_jobj_get(const struct sts_jval *obj, const char *key)
{
	const struct sts_jmember *m = sts_jobj_member(obj, key);
	return m ? &m->val : NULL;
}

static const char *const jtype_names[] = {
    [STS_JNULL] = "null",      [STS_JFALSE] = "a boolean",  [STS_JTRUE] = "a boolean",
    [STS_JINT] = "an integer", [STS_JREAL] = "a number",    [STS_JSTRING] = "a string",
    [STS_JARRAY] = "an array", [STS_JOBJECT] = "an object",
};

STS_API const char *sts_jtype_name(enum sts_jtype t)
{
	return STS_NAME_OF(jtype_names, t, "a value");
}

/* ---- lines ---- */

STS_API void sts_jlines_init(struct sts_jlines *l, const char *text, size_t len)
{
	memset(l, 0, sizeof(*l));
	l->text = text;
	l->len = len;
}

STS_API void sts_jlines_release(struct sts_jlines *l)
{
	if (!l)
		return;
	free(l->starts);
	l->starts = NULL;
	l->n = 0;
}

static int build_lines(struct sts_jlines *l)
{
	size_t n = 1;
	for (const char *p = l->text, *e = l->text + l->len; (p = memchr(p, '\n', e - p)); p++)
		n++;
	l->starts = malloc(n * sizeof(*l->starts));
	if (!l->starts)
		return STS_ENOMEM;
	l->starts[0] = 0;
	size_t k = 1;
	for (const char *p = l->text, *e = l->text + l->len; (p = memchr(p, '\n', e - p)); p++)
		l->starts[k++] = (uint32_t)(p - l->text + 1);
	l->n = n;
	return STS_OK;
}

STS_API int sts_jlines_pos(struct sts_jlines *l, size_t off, unsigned *ret_line, unsigned *ret_col)
{
	if (off > l->len)
		off = l->len;
	if (!l->starts && off >= l->last_off) {
		const char *p = l->text + l->last_off, *e = l->text + off;
		while ((p = memchr(p, '\n', (size_t)(e - p)))) {
			l->last_line++;
			l->last_start = (size_t)(++p - l->text);
		}
		l->last_off = off;
		*ret_line = (unsigned)l->last_line + 1;
		*ret_col = (unsigned)(off - l->last_start) + 1;
		return STS_OK;
	}
	if (!l->starts) {
		int r = build_lines(l);
		if (r < 0)
			return r;
	}
	size_t lo = 0, hi = l->n; /* last start <= off */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	*ret_line = (unsigned)lo + 1;
	*ret_col = (unsigned)(off - l->starts[lo]) + 1;
	return STS_OK;
}

/* ---- paths ---- */

static bool is_ident(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && (i == 0 || !(is_digit(c) || c == '-')))
			return false;
	}
	return true;
}

STS_API int sts_jsonpath_key(struct sts_buf *path, const char *key, size_t len)
{
	if (is_ident(key, len)) {
		int r = path->len ? sts_buf_putc(path, '.') : STS_OK;
		return r < 0 ? r : sts_buf_append(path, key, len);
	}
	int r = sts_buf_puts(path, "[\"");
	for (size_t i = 0; i < len && r == STS_OK; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c == '"' || c == '\\')
			r = sts_buf_printf(path, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			r = sts_buf_printf(path, "\\u%04x", c);
		else
			r = sts_buf_putc(path, (char)c);
	}
	return r < 0 ? r : sts_buf_puts(path, "\"]");
}

STS_API int sts_jsonpath_index(struct sts_buf *path, size_t index)
{
	return sts_buf_printf(path, "[%zu]", index);
}
