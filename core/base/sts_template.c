/* SPDX-License-Identifier: MIT */
/*
 * The template engine of sts_template.h. A template is parsed once into a
 * flat node array; blocks record the index of their {{else}} and {{/..}}
 * so rendering walks index ranges without a tree.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_template.h"

enum tn_kind {
	TN_TEXT,
	TN_VAR,
	TN_EACH,
	TN_IF,
	TN_ELSE,
	TN_END,
};

struct tnode {
	enum tn_kind kind;
	size_t off, len; /* TEXT: the text; VAR, EACH, IF: the name (slices of src) */
	size_t mid;	 /* IF: index of its ELSE, or of its END */
	size_t end;	 /* EACH, IF: index of its END */
	unsigned line, col;
};

struct sts_tmpl {
	char *name;
	char *src;
	size_t len;
	struct tnode *v;
	size_t n, cap;
};

struct parser {
	struct sts_tmpl *t;
	struct sts_diags *diags;
	/* line tracking, monotone: position lc_pos is on line lc_line starting at lc_bol */
	size_t lc_pos, lc_bol;
	unsigned lc_line;
	size_t open[STS_TMPL_MAX_DEPTH];
	size_t depth;
};

static const char *kind_name(enum tn_kind k)
{
	return k == TN_EACH ? "each" : "if";
}

static void position(struct parser *p, size_t pos, unsigned *line, unsigned *col)
{
	for (; p->lc_pos < pos; p->lc_pos++) {
		if (p->t->src[p->lc_pos] == '\n') {
			p->lc_line++;
			p->lc_bol = p->lc_pos + 1;
		}
	}
	*line = p->lc_line;
	*col = (unsigned)(pos - p->lc_bol) + 1;
}

static int perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
    STS_PRINTF(4, 5);
static int perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
{
	if (p->diags) {
		va_list ap;
		va_start(ap, fmt);
		int r = sts_diags_vadd(p->diags, STS_SEV_ERROR, NULL, p->t->name, line, col, NULL,
				       fmt, ap);
		va_end(ap);
		if (r < 0)
			return r;
	}
	return STS_EPARSE;
}

static int push_node(struct sts_tmpl *t, enum tn_kind kind, size_t off, size_t len, unsigned line,
		     unsigned col)
{
	if (sts_array_grow(&t->v, t->n, &t->cap, sizeof(*t->v), 16) < 0)
		return STS_ENOMEM;
	t->v[t->n++] =
	    (struct tnode){.kind = kind, .off = off, .len = len, .line = line, .col = col};
	return STS_OK;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_space(char c)
{
	return is_blank(c) || c == '\n' || c == '\r';
}

/* "." or dot-separated parts of [A-Za-z0-9_-] */
static bool valid_name(const char *s, size_t n)
{
	if (n == 1 && s[0] == '.')
		return true;
	bool part_empty = true;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (part_empty)
				return false;
			part_empty = true;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_' || c == '-') {
			part_empty = false;
		} else {
			return false;
		}
	}
	return !part_empty;
}

static bool word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* The block word s..s+n ("each" or "if") as its kind; false for any other. */
static bool block_kind(const char *s, size_t n, enum tn_kind *ret)
{
	if (word_is(s, n, "each"))
		*ret = TN_EACH;
	else if (word_is(s, n, "if"))
		*ret = TN_IF;
	else
		return false;
	return true;
}

/* {{#each name}} or {{#if name}}: s..s+n is the tag content after '#'. */
static int open_block(struct parser *p, const char *s, size_t n, unsigned line, unsigned col)
{
	size_t k = 0;
	while (k < n && !is_space(s[k]))
		k++;
	enum tn_kind kind;
	if (!block_kind(s, k, &kind))
		return perr(p, line, col, "unknown block '{{#%.*s}}'", (int)k, s);
	size_t a = k;
	while (a < n && is_space(s[a]))
		a++;
	if (a == n)
		return perr(p, line, col, "'{{#%s}}' needs a variable name", kind_name(kind));
	if (!valid_name(s + a, n - a))
		return perr(p, line, col, "invalid variable name '%.*s'", (int)(n - a), s + a);
	if (p->depth == STS_TMPL_MAX_DEPTH)
		return perr(p, line, col, "blocks nested deeper than %d", STS_TMPL_MAX_DEPTH);
	int r = push_node(p->t, kind, (size_t)(s + a - p->t->src), n - a, line, col);
	if (r < 0)
		return r;
	p->open[p->depth++] = p->t->n - 1;
	return STS_OK;
}

static int close_block(struct parser *p, const char *s, size_t n, unsigned line, unsigned col)
{
	enum tn_kind kind;
	if (!block_kind(s, n, &kind))
		return perr(p, line, col, "unknown closing tag '{{/%.*s}}'", (int)n, s);
	if (p->depth == 0)
		return perr(p, line, col, "'{{/%s}}' without an opening block", kind_name(kind));
	struct tnode *o = &p->t->v[p->open[p->depth - 1]];
	if (o->kind != kind)
		return perr(p, line, col, "'{{/%s}}' closes '{{#%s}}' opened at line %u, column %u",
			    kind_name(kind), kind_name(o->kind), o->line, o->col);
	int r = push_node(p->t, TN_END, 0, 0, line, col);
	if (r < 0)
		return r;
	o = &p->t->v[p->open[--p->depth]];
	o->end = p->t->n - 1;
	if (o->kind == TN_IF && o->mid == 0)
		o->mid = o->end;
	return STS_OK;
}

static int else_tag(struct parser *p, unsigned line, unsigned col)
{
	struct tnode *o = p->depth ? &p->t->v[p->open[p->depth - 1]] : NULL;
	if (!o || o->kind != TN_IF)
		return perr(p, line, col, "'{{else}}' outside '{{#if}}'");
	if (o->mid != 0)
		return perr(p, line, col,
			    "second '{{else}}' in '{{#if}}' opened at line %u, column %u", o->line,
			    o->col);
	int r = push_node(p->t, TN_ELSE, 0, 0, line, col);
	if (r < 0)
		return r;
	p->t->v[p->open[p->depth - 1]].mid = p->t->n - 1;
	return STS_OK;
}

/* One tag whose trimmed content is s..s+n. */
static int tag(struct parser *p, const char *s, size_t n, unsigned line, unsigned col)
{
	if (n == 0)
		return perr(p, line, col, "empty tag '{{}}'");
	switch (s[0]) {
	case '!':
		return STS_OK;
	case '#':
		return open_block(p, s + 1, n - 1, line, col);
	case '/':
		return close_block(p, s + 1, n - 1, line, col);
	default:
		break;
	}
	if (word_is(s, n, "else"))
		return else_tag(p, line, col);
	if (!valid_name(s, n))
		return perr(p, line, col, "invalid variable name '%.*s'", (int)n, s);
	return push_node(p->t, TN_VAR, (size_t)(s - p->t->src), n, line, col);
}

/*
 * Standalone block tag or comment (sts_template.h): returns where the text
 * before the tag ends and where scanning resumes after it.
 */
static void standalone(const struct sts_tmpl *t, size_t seg, size_t ts, size_t te, size_t *text_end,
		       size_t *next)
{
	const char *s = t->src;
	size_t ls = ts;
	while (ls > seg && is_blank(s[ls - 1]))
		ls--;
	if (ls > 0 && s[ls - 1] != '\n')
		return;
	size_t q = te;
	while (q < t->len && is_blank(s[q]))
		q++;
	if (q == t->len) {
		*next = q;
	} else if (s[q] == '\n') {
		*next = q + 1;
	} else if (s[q] == '\r' && q + 1 < t->len && s[q + 1] == '\n') {
		*next = q + 2;
	} else {
		return;
	}
	*text_end = ls;
}

static int parse(struct parser *p)
{
	struct sts_tmpl *t = p->t;
	const char *s = t->src;
	size_t seg = 0;
	int r;
	for (;;) {
		const char *o = memmem(s + seg, t->len - seg, "{{", 2);
		if (!o)
			break;
		size_t ts = (size_t)(o - s);
		unsigned line, col;
		position(p, ts, &line, &col);
		const char *c = memmem(o + 2, t->len - ts - 2, "}}", 2);
		if (!c)
			return perr(p, line, col, "unterminated tag: '{{' without '}}'");
		size_t te = (size_t)(c - s) + 2;
		size_t cs = ts + 2, ce = te - 2;
		while (cs < ce && is_space(s[cs]))
			cs++;
		while (ce > cs && is_space(s[ce - 1]))
			ce--;
		size_t text_end = ts, next = te;
		bool block = ce > cs && (s[cs] == '#' || s[cs] == '/' || s[cs] == '!' ||
					 word_is(s + cs, ce - cs, "else"));
		if (block)
			standalone(t, seg, ts, te, &text_end, &next);
		if (text_end > seg) {
			r = push_node(t, TN_TEXT, seg, text_end - seg, 0, 0);
			if (r < 0)
				return r;
		}
		r = tag(p, s + cs, ce - cs, line, col);
		if (r < 0)
			return r;
		seg = next;
	}
	if (seg < t->len) {
		r = push_node(t, TN_TEXT, seg, t->len - seg, 0, 0);
		if (r < 0)
			return r;
	}
	if (p->depth) {
		const struct tnode *o = &t->v[p->open[p->depth - 1]];
		return perr(p, o->line, o->col, "unclosed '{{#%s %.*s}}'", kind_name(o->kind),
			    (int)o->len, s + o->off);
	}
	return STS_OK;
}

STS_API void sts_tmpl_free(struct sts_tmpl *t)
{
	if (!t)
		return;
	STS_FREE_ALL(t->name, t->src, t->v, t);
}

STS_API int sts_tmpl_parse(const char *text, size_t len, const char *name, struct sts_tmpl **ret,
			   struct sts_diags *diags)
{
	int r;
	struct sts_tmpl *t = calloc(1, sizeof(*t));
	if (!t)
		return STS_ENOMEM;
	t->name = strdup(name ? name : "template");
	t->src = malloc(len + 1);
	if (!t->name || !t->src) {
		r = STS_ENOMEM;
		goto out;
	}
	memcpy(t->src, text, len);
	t->src[len] = '\0';
	t->len = len;
	struct parser p = {.t = t, .diags = diags, .lc_line = 1};
	r = parse(&p);
	if (r < 0)
		goto out;
	*ret = t;
	t = NULL;
out:
	sts_tmpl_free(t);
	return r;
}

struct rctx {
	const struct sts_tmpl *t;
	const json_t *stack[STS_TMPL_MAX_DEPTH + 1];
	size_t depth;
	struct sts_buf *out;
	struct sts_diags *diags;
};

static int rerr(struct rctx *c, const struct tnode *nd, const char *what)
{
	if (c->diags) {
		int r = sts_diags_add(c->diags, STS_SEV_ERROR, NULL, c->t->name, nd->line, nd->col,
				      NULL, what, (int)nd->len, c->t->src + nd->off);
		if (r < 0)
			return r;
	}
	return STS_EINVALID;
}

static size_t part_len(const char *s, size_t n)
{
	const char *dot = memchr(s, '.', n);
	return dot ? (size_t)(dot - s) : n;
}

static const json_t *lookup(const struct rctx *c, const struct tnode *nd)
{
	const char *s = c->t->src + nd->off;
	size_t n = nd->len;
	if (n == 1 && s[0] == '.')
		return c->stack[c->depth - 1];
	size_t k = part_len(s, n);
	const json_t *v = NULL;
	for (size_t i = c->depth; i-- > 0 && !v;)
		if (json_is_object(c->stack[i]))
			v = json_object_getn(c->stack[i], s, k);
	while (v && k < n) {
		s += k + 1;
		n -= k + 1;
		k = part_len(s, n);
		v = json_is_object(v) ? json_object_getn(v, s, k) : NULL;
	}
	return v;
}

static bool truthy(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0.0;
	case JSON_TRUE:
		return true;
	default:
		return false;
	}
}

static int emit(struct rctx *c, const struct tnode *nd, const json_t *v)
{
	if (json_is_string(v))
		return sts_buf_append(c->out, json_string_value(v), json_string_length(v));
	if (json_is_integer(v))
		return sts_buf_printf(c->out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return rerr(c, nd, "variable '%.*s' is not a string or integer");
}

static int render_range(struct rctx *c, size_t i, size_t end)
{
	const struct sts_tmpl *t = c->t;
	int r = STS_OK;
	while (i < end && r >= 0) {
		const struct tnode *nd = &t->v[i];
		const json_t *v = NULL;
		if (nd->kind == TN_VAR || nd->kind == TN_EACH || nd->kind == TN_IF) {
			v = lookup(c, nd);
			if (!v)
				return rerr(c, nd, "missing variable '%.*s'");
		}
		switch (nd->kind) {
		case TN_TEXT:
			r = sts_buf_append(c->out, t->src + nd->off, nd->len);
			i++;
			break;
		case TN_VAR:
			r = emit(c, nd, v);
			i++;
			break;
		case TN_EACH:
			if (!json_is_array(v))
				return rerr(c, nd, "'%.*s' is not an array");
			for (size_t k = 0; k < json_array_size(v) && r >= 0; k++) {
				c->stack[c->depth++] = json_array_get(v, k);
				r = render_range(c, i + 1, nd->end);
				c->depth--;
			}
			i = nd->end + 1;
			break;
		case TN_IF:
			if (truthy(v))
				r = render_range(c, i + 1, nd->mid);
			else if (nd->mid != nd->end)
				r = render_range(c, nd->mid + 1, nd->end);
			i = nd->end + 1;
			break;
		default: /* ELSE and END only ever bound a range */
			i++;
			break;
		}
	}
	return r;
}

STS_API int sts_tmpl_render(const struct sts_tmpl *t, const json_t *vars, struct sts_buf *out,
			    struct sts_diags *diags)
{
	struct rctx c = {.t = t, .depth = 1, .out = out, .diags = diags};
	c.stack[0] = vars;
	return render_range(&c, 0, t->n);
}

STS_API int sts_tmpl_load_builtin(const char *name, struct sts_tmpl **ret, struct sts_diags *diags)
{
	size_t len;
	const char *text = sts_tmpl_builtin(name, &len);
	if (!text)
		return STS_ENOENT;
	return sts_tmpl_parse(text, len, name, ret, diags);
}
