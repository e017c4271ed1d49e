/* SPDX-License-Identifier: MIT */
/*
 * Inventory values (docs/inventory.md): type checks, names (lower case,
 * IDN to A-labels with libidn2), mx patterns, max_age, rua URIs, hosting,
 * and the reporting helpers: each finding carries the JSON path and the
 * true line and column of the offending value.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sts_dname.h"
#include "sts_err.h"
#include "sts_inv_rollout.h"
#include "sts_inventory_int.h"
#include "sts_mx.h"
#include "sts_record.h"

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int sts_inv_strmap_init(struct strmap *m, size_t n)
{
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	m->v = calloc(cap, sizeof(*m->v));
	m->mask = cap - 1;
	return m->v ? STS_OK : STS_ENOMEM;
}

/* Index of key, or -1; with put, inserts idx when absent. */
long sts_inv_strmap_find(struct strmap *m, const char *key, bool put, uint32_t idx)
{
	if (!m->v)
		return -1;
	uint32_t h = str_hash(key);
	size_t k = h & m->mask;
	while (m->v[k].key) {
		if (m->v[k].hash == h && strcmp(m->v[k].key, key) == 0)
			return m->v[k].idx;
		k = (k + 1) & m->mask;
	}
	if (put)
		m->v[k] = (struct strmap_slot){key, h, idx};
	return -1;
}

const char *const sts_inv_domain_keys[N_DOMAIN_KEYS] = {
    "mx",  "mode", "max_age", "tlsrpt",	 "dns",	 "web",	   "hosting",
    "ttl", "zone", "verify",  "rollout", "name", "tenant", "state",
};
static const char *const tlsrpt_keys[] = {"rua"};
static const char *const hosting_keys[] = {"delegate"};
static const char *const delegate_keys[] = {"sts", "policy_host"};
static const char *const verify_keys[] = {"https", "ca_file", "resolve"};
static const char *const mode_names[] = {"none", "testing", "enforce"};

const struct pctx sts_inv_root = {NULL, NULL, 0};

static int path_format(const struct pctx *p, struct sts_buf *b)
{
	if (!p->up)
		return STS_OK;
	int r = path_format(p->up, b);
	if (r < 0)
		return r;
	return p->key ? sts_jsonpath_key(b, p->key, strlen(p->key)) : sts_jsonpath_index(b, p->idx);
}

void sts_inv_oom(struct vctx *c, int r)
{
	if (r == STS_ENOMEM && c->err == STS_OK)
		c->err = r;
}

char *sts_inv_text_copy(struct vctx *c, const struct sts_jval *v)
{
	char *s = sts_arena_strndup(&c->priv->arena, v->u.s.p, v->u.s.len);
	if (!s)
		sts_inv_oom(c, STS_ENOMEM);
	return s;
}

/* p: the value's path context; or raw: a path already formatted */
static void vdiag(struct vctx *c, enum sts_severity sev, const char *rule, const struct pctx *p,
		  const char *raw, uint32_t off, const char *fmt, va_list ap)
{
	struct sts_buf path, msg;
	unsigned line = 0, col = 0;
	sts_buf_init(&path, 64u * 1024u);
	sts_buf_init(&msg, 64u * 1024u);
	int r = p ? path_format(p, &path) : sts_buf_puts(&path, raw);
	if (r == STS_OK)
		r = sts_jlines_pos(&c->lines, off, &line, &col);
	if (r == STS_OK)
		r = sts_buf_vprintf(&msg, fmt, ap);
	if (r == STS_OK)
		r = sts_diags_add(c->diags, sev, rule, c->file, line, col,
				  path.len ? sts_buf_str(&path) : NULL, "%s", sts_buf_str(&msg));
	sts_inv_oom(c, r);
	if (sev == STS_SEV_ERROR)
		c->n_errors++;
	sts_buf_release(&path);
	sts_buf_release(&msg);
}

void sts_inv_diag(struct vctx *c, enum sts_severity sev, const char *rule, const struct pctx *p,
		  uint32_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(c, sev, rule, p, NULL, off, fmt, ap);
	va_end(ap);
}

void sts_inv_diag_raw(struct vctx *c, const char *path, uint32_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(c, STS_SEV_ERROR, NULL, NULL, path, off, fmt, ap);
	va_end(ap);
}

/* A printable, bounded copy of s for a message: control characters as
 * \xHH (UTF-8 is kept: the parser validated it), "..." when cut. */
const char *sts_inv_quote(char out[QUOTE_MAX + 4], const char *s)
{
	size_t o = 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		size_t need = ch < 0x20 || ch == 0x7f ? 4 : 1;
		if (o + need > QUOTE_MAX) {
			while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
				o--; /* continuation bytes of a cut character */
			if (o > 0 && (unsigned char)out[o - 1] >= 0xc0)
				o--;
			memcpy(out + o, "...", 4);
			return out;
		}
		if (need == 4) {
			static const char hex[] = "0123456789abcdef";
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return out;
}

/* ---- "did you mean" ---- */

/* Optimal string alignment distance (Damerau) of a and b, case-insensitive;
 * values above 2 are reported as 3. */
static int distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > 64 || m > 64 || (n > m ? n - m : m - n) > 2)
		return 3;
	int d[65][65];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			int cost =
			    tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 &&
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[n][m] > 2 ? 3 : d[n][m];
}

struct suggest {
	const char *best;
	int dist;
};

/* "enforcing" -> "enforce": a shared stem of 4+ and at most 3 differing
 * characters at the end of each counts as distance 2 */
static bool same_stem(const char *a, const char *b)
{
	size_t i = 0, n = strlen(a), m = strlen(b);
	while (a[i] && tolower((unsigned char)a[i]) == tolower((unsigned char)b[i]))
		i++;
	return i >= 4 && n - i <= 3 && m - i <= 3;
}

static void suggest_add(struct suggest *s, const char *word, const char *cand)
{
	int d = distance(word, cand);
	if (d > 2 && same_stem(word, cand))
		d = 2;
	if (d <= 2 && (!s->best || d < s->dist)) {
		s->best = cand;
		s->dist = d;
	}
}

STS_API const char *sts_suggest(const char *word, const char *const *cands, size_t n)
{
	struct suggest s = {NULL, 3};
	for (size_t i = 0; i < n; i++)
		suggest_add(&s, word, cands[i]);
	return s.best;
}

const char *sts_inv_suggest_keys(const char *word, const struct sts_jval *obj)
{
	struct suggest s = {NULL, 3};
	for (uint32_t i = 0; obj && obj->type == STS_JOBJECT && i < obj->u.o.n; i++)
		suggest_add(&s, word, obj->u.o.m[i].key);
	return s.best;
}

void sts_inv_unknown_key(struct vctx *c, const struct pctx *p, const struct sts_jmember *m,
			 const char *const *known, size_t n)
{
	char q[QUOTE_MAX + 4];
	const char *hint = sts_suggest(m->key, known, n);
	if (hint)
		ERR(c, p, m->key_off, "unknown key '%s': did you mean '%s'?",
		    sts_inv_quote(q, m->key), hint);
	else
		ERR(c, p, m->key_off, "unknown key '%s'", sts_inv_quote(q, m->key));
}

int sts_inv_key_index(const char *key, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (key[0] == keys[i][0] && strcmp(key, keys[i]) == 0)
			return (int)i;
	return -1;
}

void sts_inv_undefined(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
		       const struct sts_jval *section, const char *what, const char *section_name)
{
	char q[QUOTE_MAX + 4];
	const char *hint = sts_inv_suggest_keys(v->u.s.p, section);
	if (hint)
		ERR(c, p, v->off, "undefined %s '%s': did you mean '%s'?", what,
		    sts_inv_quote(q, v->u.s.p), hint);
	else
		ERR(c, p, v->off, "undefined %s '%s': define it under '%s'", what,
		    sts_inv_quote(q, v->u.s.p), section_name);
}

int sts_inv_member_key(struct vctx *c, const struct pctx *p, const struct sts_jmember *m,
		       const char *const *keys, size_t n, size_t n_suggest)
{
	int k = sts_inv_key_index(m->key, keys, n);
	if (k < 0)
		sts_inv_unknown_key(c, p, m, keys, n_suggest);
	return k;
}

/* ---- type checks ---- */

bool sts_inv_want(struct vctx *c, const struct pctx *p, const struct sts_jval *v, enum sts_jtype t)
{
	bool ok = v->type == t || (t == STS_JTRUE && v->type == STS_JFALSE);
	if (!ok)
		ERR(c, p, v->off, "expected %s, got %s", sts_jtype_name(t),
		    sts_jtype_name(v->type));
	return ok;
}

/* Check the members of a small fixed-schema object; returns false on a
 * wrong type. Unknown keys are reported. */
/* A small fixed-schema object: -1 when not an object, else the number of
 * unknown keys (each reported); the caller goes on with the known ones. */
static int object_keys(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
		       const char *const *keys, size_t n)
{
	if (!sts_inv_want(c, p, v, STS_JOBJECT))
		return -1;
	int unknown = 0;
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		unknown += sts_inv_member_key(c, &mp, m, keys, n, n) < 0;
	}
	return unknown;
}

/* object_keys() for core/inventory/sts_inventory_reports.c */
int sts_inv_object_keys(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			const char *const *keys, size_t n)
{
	return object_keys(c, p, v, keys, n);
}

static bool int_in_range(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 long long lo, long long hi, const char *what)
{
	if (v->type != STS_JINT) {
		ERR(c, p, v->off, "expected an integer (%s), got %s", what,
		    sts_jtype_name(v->type));
		return false;
	}
	if (v->u.i < lo || v->u.i > hi) {
		ERR(c, p, v->off, "%s %lld is out of range %lld..%lld", what, v->u.i, lo, hi);
		return false;
	}
	return true;
}

bool sts_inv_int_in_range(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			  long long lo, long long hi, const char *what)
{
	return int_in_range(c, p, v, lo, hi, what);
}

/* ---- names ---- */

/*
 * sts_dname_normalize() (with a leading "*." kept) into the arena. Returns
 * NULL and sets *ret, or a static reason.
 */
const char *sts_inv_host_normalize(struct vctx *c, const char *in, char **ret, bool *converted)
{
	char *tmp = NULL;
	const char *why = NULL;
	int r = sts_dname_normalize(in, STS_DNAME_WILDCARD, &tmp, &why);
	if (r == STS_OK && !(*ret = sts_arena_strndup(&c->priv->arena, tmp, strlen(tmp))))
		r = STS_ENOMEM;
	free(tmp);
	if (r == STS_ENOMEM)
		return sts_inv_oom(c, STS_ENOMEM), "out of memory";
	if (r != STS_OK)
		return why;
	*converted = false;
	for (const char *s = in; *s; s++)
		*converted = *converted || (unsigned char)*s >= 0x80;
	return NULL;
}

/*
 * A DNS name we publish records at or point to: labels of letters, digits
 * and '-' (and '_' when underscore), 1..63 octets, 253 in all, at least two
 * labels, the last not all digits. NULL when fine, else a static reason.
 */
const char *sts_inv_name_problem(const char *s, bool underscore)
{
	enum sts_dname_problem p =
	    sts_dname_check(s, STS_DNAME_DOMAIN | (underscore ? STS_DNAME_UNDERSCORE : 0));
	return p == STS_DNAME_OK ? NULL : sts_dname_problem_str(p);
}

/* provider, tenant and plugin names */
bool sts_inv_ident_ok(const char *s, bool plugin)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN || !isalnum((unsigned char)s[0]))
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (plugin ? !(islower(ch) || isdigit(ch) || ch == '_' || ch == '-')
			   : !(isalnum(ch) || ch == '_' || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

/* Normalize and check one host name value; NULL after reporting. */
char *sts_inv_host_value(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 bool underscore, const char *what)
{
	char q[QUOTE_MAX + 4];
	if (!sts_inv_want(c, p, v, STS_JSTRING))
		return NULL;
	char *out;
	bool conv;
	const char *why = sts_inv_host_normalize(c, v->u.s.p, &out, &conv);
	if (!why)
		why = sts_inv_name_problem(out, underscore);
	if (why) {
		ERR(c, p, v->off, "invalid %s '%s': %s", what, sts_inv_quote(q, v->u.s.p), why);
		return NULL;
	}
	return out;
}

/* ---- inheritable settings ---- */

/* An array of strings, each turned into an arena string by elem (which
 * reports a bad one and returns NULL). *ret is set when all are good. */
static bool str_list(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
		     char *(*elem)(struct vctx *, const struct pctx *, const struct sts_jval *),
		     char ***ret, size_t *ret_n)
{
	if (!sts_inv_want(c, p, v, STS_JARRAY))
		return false;
	char **out = sts_arena_alloc(&c->priv->arena, (v->u.a.n ? v->u.a.n : 1) * sizeof(*out));
	if (!out) {
		sts_inv_oom(c, STS_ENOMEM);
		return false;
	}
	bool ok = true;
	for (uint32_t i = 0; i < v->u.a.n; i++) {
		const struct sts_jval *e = &v->u.a.v[i];
		struct pctx ep = {p, NULL, i};
		out[i] = sts_inv_want(c, &ep, e, STS_JSTRING) ? elem(c, &ep, e) : NULL;
		ok &= out[i] != NULL;
	}
	if (ok) {
		*ret = out;
		*ret_n = v->u.a.n;
	}
	return ok;
}

static char *mx_elem(struct vctx *c, const struct pctx *p, const struct sts_jval *e)
{
	char q[QUOTE_MAX + 4], q2[QUOTE_MAX + 4];
	char *mx;
	bool conv;
	const char *why = sts_inv_host_normalize(c, e->u.s.p, &mx, &conv);
	if (!why && sts_mx_pattern_check(mx, &why) == STS_OK)
		why = NULL;
	else if (!why)
		why = "invalid pattern";
	if (why) {
		sts_inv_diag(c, STS_SEV_ERROR, "B7", p, e->off, "invalid mx pattern '%s': %s",
			     sts_inv_quote(q, e->u.s.p), why);
		return NULL;
	}
	if (conv)
		sts_inv_diag(c, STS_SEV_INFO, NULL, p, e->off, "converted '%s' to A-label '%s'",
			     sts_inv_quote(q, e->u.s.p), sts_inv_quote(q2, mx));
	return mx;
}

static bool parse_mx(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
		     struct layer *L)
{
	char q[QUOTE_MAX + 4];
	if (v->type == STS_JARRAY && v->u.a.n == 0) {
		sts_inv_diag(
		    c, STS_SEV_ERROR, "B7", p, v->off,
		    "'mx' is empty: every policy lists its MX host patterns, even in mode none");
		return false;
	}
	if (!str_list(c, p, v, mx_elem, &L->mx, &L->n_mx))
		return false;
	for (size_t i = 1; i < L->n_mx && i < 256; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(L->mx[j], L->mx[i]) == 0) {
				struct pctx ep = {p, NULL, i};
				sts_inv_diag(c, STS_SEV_WARNING, NULL, &ep, v->u.a.v[i].off,
					     "duplicate mx pattern '%s'",
					     sts_inv_quote(q, L->mx[i]));
				break;
			}
	return true;
}

bool sts_inv_parse_enum(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			const char *what, const char *const *names, size_t n, int *ret)
{
	char q[QUOTE_MAX + 4];
	if (!sts_inv_want(c, p, v, STS_JSTRING))
		return false;
	int i = sts_inv_key_index(v->u.s.p, names, n);
	if (i >= 0) {
		*ret = i;
		return true;
	}
	const char *hint = sts_suggest(v->u.s.p, names, n);
	if (hint)
		ERR(c, p, v->off, "invalid %s '%s': did you mean '%s'?", what,
		    sts_inv_quote(q, v->u.s.p), hint);
	else if (n == 3)
		ERR(c, p, v->off, "invalid %s '%s': use '%s', '%s' or '%s'", what,
		    sts_inv_quote(q, v->u.s.p), names[0], names[1], names[2]);
	else
		ERR(c, p, v->off, "invalid %s '%s': use '%s' or '%s'", what,
		    sts_inv_quote(q, v->u.s.p), names[0], names[1]);
	return false;
}

static bool parse_max_age(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			  struct layer *L)
{
	if (v->type == STS_JINT && v->u.i == 0) {
		sts_inv_diag(
		    c, STS_SEV_ERROR, "B13", p, v->off,
		    "max_age 0 is valid per RFC 8461 but real senders reject it (chasquid, "
		    "go-mtasts): use at least 86400");
		return false;
	}
	if (v->type == STS_JINT && (v->u.i < 1 || v->u.i > STS_MAX_AGE_MAX)) {
		sts_inv_diag(c, STS_SEV_ERROR, "B6", p, v->off,
			     "max_age %lld is out of range 1..%lld", v->u.i, STS_MAX_AGE_MAX);
		return false;
	}
	if (!int_in_range(c, p, v, 1, STS_MAX_AGE_MAX, "max_age"))
		return false;
	if (v->u.i < STS_MAX_AGE_RECOMMENDED_MIN)
		sts_inv_diag(c, STS_SEV_WARNING, NULL, p, v->off,
			     "max_age %lld is below 86400 (one day): a policy that expires so soon "
			     "protects little, use days or weeks",
			     v->u.i);
	L->max_age = v->u.i;
	return true;
}

static char *rua_elem(struct vctx *c, const struct pctx *p, const struct sts_jval *e)
{
	char q[QUOTE_MAX + 4];
	const char *why;
	if (sts_rua_check(e->u.s.p, &why) != STS_OK) {
		ERR(c, p, e->off, "invalid rua URI '%s': %s", sts_inv_quote(q, e->u.s.p), why);
		return NULL;
	}
	return sts_inv_text_copy(c, e);
}

static bool parse_tlsrpt(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 struct layer *L)
{
	int unknown = object_keys(c, p, v, tlsrpt_keys, N_OF(tlsrpt_keys));
	if (unknown < 0)
		return false;
	const struct sts_jval *rua = sts_jobj_get(v, "rua");
	if (!rua) {
		ERR(c, p, v->off, "missing 'rua' (an empty list publishes no TLS-RPT record)");
		return false;
	}
	struct pctx rp = {p, "rua", 0};
	return str_list(c, &rp, rua, rua_elem, &L->rua, &L->n_rua) && unknown == 0;
}

static bool parse_provider_ref(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			       const char **ret)
{
	if (!sts_inv_want(c, p, v, STS_JSTRING))
		return false;
	long i = sts_inv_strmap_find(&c->priv->providers, v->u.s.p, false, 0);
	if (i >= 0) {
		*ret = c->inv->providers[i].name;
		return true;
	}
	sts_inv_undefined(c, p, v, c->providers_j, "provider", "providers");
	return false;
}

static bool parse_hosting(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			  struct layer *L)
{
	char q[QUOTE_MAX + 4];
	static const char *const names[] = {"self", "hosted"};
	int k = v->type == STS_JSTRING ? sts_inv_key_index(v->u.s.p, names, N_OF(names)) : -1;
	if (k == 0) {
		L->hosting = STS_HOSTING_SELF;
		return true;
	}
	if (k == 1 && !c->hosted_j) {
		ERR(c, p, v->off,
		    "\"hosting\": \"hosted\" needs the top-level 'hosted' section (the MSP "
		    "zone, its dns provider, the edge host, the ACME directory)");
		return false;
	}
	if (k == 1) {
		L->hosting = STS_HOSTING_HOSTED;
		return true;
	}
	const char *hint =
	    v->type == STS_JSTRING ? sts_suggest(v->u.s.p, names, N_OF(names)) : NULL;
	if (hint) {
		ERR(c, p, v->off, "invalid hosting '%s': did you mean '%s'?",
		    sts_inv_quote(q, v->u.s.p), hint);
		return false;
	}
	if (v->type != STS_JOBJECT) {
		ERR(c, p, v->off,
		    "expected \"self\", \"hosted\" or {\"delegate\": {...}}, got %s%s%s%s",
		    sts_jtype_name(v->type), v->type == STS_JSTRING ? " '" : "",
		    v->type == STS_JSTRING ? sts_inv_quote(q, v->u.s.p) : "",
		    v->type == STS_JSTRING ? "'" : "");
		return false;
	}
	int unknown = object_keys(c, p, v, hosting_keys, N_OF(hosting_keys));
	const struct sts_jval *d = sts_jobj_get(v, "delegate");
	if (!d) {
		if (!unknown)
			ERR(c, p, v->off, "missing 'delegate'");
		return false;
	}
	struct pctx dp = {p, "delegate", 0};
	int u2 = object_keys(c, &dp, d, delegate_keys, N_OF(delegate_keys));
	if (u2 < 0)
		return false;
	const struct sts_jval *sts = sts_jobj_get(d, "sts");
	const struct sts_jval *ph = sts_jobj_get(d, "policy_host");
	if (!sts) {
		ERR(c, &dp, d->off,
		    "missing 'sts': the CNAME target of _mta-sts.DOMAIN (RFC 8461 section 8.2)");
		return false;
	}
	struct pctx sp = {&dp, "sts", 0}, pp = {&dp, "policy_host", 0};
	L->delegate_sts = sts_inv_host_value(c, &sp, sts, true, "CNAME target");
	L->delegate_policy = ph ? sts_inv_host_value(c, &pp, ph, false, "policy host") : NULL;
	L->hosting = STS_HOSTING_DELEGATED;
	return L->delegate_sts && (!ph || L->delegate_policy) && unknown + u2 == 0;
}

/* A reserved object (verify, rollout) kept as jansson for later modules. */
static json_t *reserved_json(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	json_error_t e;
	json_t *j = json_loadb(c->text + v->off, v->end - v->off, JSON_DECODE_ANY, &e);
	if (!j) {
		ERR(c, p, v->off, "cannot keep this value: %s", e.text);
		return NULL;
	}
	if (json_array_append_new(c->priv->owned, j) < 0)
		return sts_inv_oom(c, STS_ENOMEM), NULL;
	return j;
}

static bool parse_verify(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 struct layer *L)
{
	int unknown = object_keys(c, p, v, verify_keys, N_OF(verify_keys));
	if (unknown < 0)
		return false;
	bool ok = unknown == 0;
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		if (sts_inv_key_index(m->key, verify_keys, N_OF(verify_keys)) >= 0)
			ok &= sts_inv_want(c, &mp, &m->val,
					   strcmp(m->key, "https") == 0 ? STS_JTRUE : STS_JSTRING);
	}
	return ok && (L->verify = reserved_json(c, p, v)) != NULL;
}

void sts_inv_parse_field(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 enum field f, struct layer *L)
{
	bool ok = false;
	int e;
	L->set |= BIT(f);
	switch (f) {
	case F_MX:
		ok = parse_mx(c, p, v, L);
		break;
	case F_MODE:
		ok = sts_inv_parse_enum(c, p, v, "mode", mode_names, N_OF(mode_names), &e);
		L->mode = ok ? sts_mode_from_string(mode_names[e]) : STS_MODE_INVALID;
		ok = ok && L->mode != STS_MODE_INVALID;
		break;
	case F_MAX_AGE:
		ok = parse_max_age(c, p, v, L);
		break;
	case F_TLSRPT:
		ok = parse_tlsrpt(c, p, v, L);
		break;
	case F_DNS:
		ok = parse_provider_ref(c, p, v, &L->dns);
		break;
	case F_WEB:
		ok = parse_provider_ref(c, p, v, &L->web);
		break;
	case F_HOSTING:
		ok = parse_hosting(c, p, v, L);
		break;
	case F_TTL:
		ok = int_in_range(c, p, v, 1, STS_TTL_MAX, "ttl");
		L->ttl = ok ? (uint32_t)v->u.i : 0;
		break;
	case F_ZONE:
		L->zone = sts_inv_host_value(c, p, v, false, "zone");
		L->zone_off = v->off;
		ok = L->zone != NULL;
		break;
	case F_VERIFY:
		ok = parse_verify(c, p, v, L);
		break;
	case F_ROLLOUT:
		ok = sts_inv_want(c, p, v, STS_JOBJECT) &&
		     object_keys(c, p, v, sts_rollout_keys, STS_ROLLOUT_N_KEYS) == 0 &&
		     (L->rollout = reserved_json(c, p, v)) != NULL;
		if (ok) { /* docs/rollout.md */
			struct sts_rollout_settings *rs =
			    sts_arena_alloc(&c->priv->arena, sizeof(*rs));
			const char *why = NULL;
			if (!rs) {
				sts_inv_oom(c, STS_ENOMEM);
				ok = false;
			} else if (sts_rollout_settings_from_json(L->rollout, rs, &why) < 0) {
				ERR(c, p, v->off, "%s",
				    strncmp(why, "rollout.", 8) ? why : why + 8);
				ok = false;
			} else {
				L->rollout_settings = rs;
			}
		}
		break;
	default:
		break;
	}
	if (!ok)
		L->bad |= BIT(f);
}

/* defaults or one tenant: the inheritable keys only */
void sts_inv_parse_layer(struct vctx *c, const struct pctx *p, const struct sts_jval *v,
			 struct layer *L, const char *where)
{
	char q[QUOTE_MAX + 4];
	if (!sts_inv_want(c, p, v, STS_JOBJECT))
		return;
	for (uint32_t i = 0; i < v->u.o.n; i++) {
		const struct sts_jmember *m = &v->u.o.m[i];
		struct pctx mp = {p, m->key, 0};
		int k = sts_inv_member_key(c, &mp, m, sts_inv_domain_keys, N_DOMAIN_KEYS, N_FIELDS);
		if (k < 0)
			continue;
		if (k >= N_FIELDS)
			ERR(c, &mp, m->key_off, "'%s' is not allowed in %s: it belongs in a domain",
			    sts_inv_quote(q, m->key), where);
		else
			sts_inv_parse_field(c, &mp, &m->val, (enum field)k, L);
	}
}
