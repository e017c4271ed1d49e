/* SPDX-License-Identifier: MIT */
/*
 * Render output: one domain as JSON, the whole tree (stsctl render -o) and
 * the JSON stream (stsctl render --json). The artifacts themselves come from
 * sts_render.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sts_dname.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_render_int.h"

/*
 * A JSON writer with a sticky error: after the first failure every call
 * does nothing and w.r keeps the error, so the layout code reads straight.
 */
struct jw {
	struct sts_buf *b;
	int r;
};

#define JW_MAX_INDENT  64
#define JW_LIT(w, lit) jw_put((w), (lit), sizeof(lit) - 1)

static inline __attribute__((always_inline)) void jw_put(struct jw *w, const char *s, size_t n)
{
	struct sts_buf *b = w->b;
	if (w->r < 0)
		return;
	/* room left (cap counts the NUL, sts_buf.h): copy in place, skip the call */
	if (b->data && n < b->cap - b->len) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
		b->data[b->len] = '\0';
		return;
	}
	w->r = sts_buf_append(b, s, n);
}

/* Newline, then indent spaces (indent <= JW_MAX_INDENT, checked by the caller). */
static void jw_nl(struct jw *w, unsigned indent)
{
	static const char sp[JW_MAX_INDENT + 2] =
	    "\n                                                                ";
	jw_put(w, sp, indent + 1);
}

/* 1: the byte needs an escape in a JSON string (CTLs, '"', '\\', DEL) */
static const unsigned char json_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void jw_str(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	JW_LIT(w, "\"");
	const char *run = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!json_esc[c])
			continue;
		jw_put(w, run, (size_t)(s - run));
		run = s + 1;
		char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
		size_t n = 2;
		if (c == '\n' || c == '\r' || c == '\t') {
			esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			n = 6;
		}
		jw_put(w, esc, n);
	}
	jw_put(w, run, (size_t)(s - run));
	JW_LIT(w, "\"");
}

static void jw_int(struct jw *w, long long v)
{
	if (w->r >= 0)
		w->r = sts_render_put_ll(w->b, v);
}

/* newline, indent, then the quoted key with ": " (qkey includes both) */
static void jw_key(struct jw *w, unsigned ind, const char *qkey)
{
	jw_nl(w, ind);
	jw_put(w, qkey, strlen(qkey));
}

/* a string member followed by a comma */
static void jw_field(struct jw *w, unsigned ind, const char *qkey, const char *val)
{
	jw_key(w, ind, qkey);
	jw_str(w, val);
	JW_LIT(w, ",");
}

static void json_policy(struct jw *w, const struct sts_rendered *x, unsigned ind)
{
	JW_LIT(w, "{");
	jw_field(w, ind + 2, "\"id\": ", x->id);
	jw_field(w, ind + 2, "\"mode\": ", sts_mode_name(x->mode));
	jw_key(w, ind + 2, "\"max_age\": ");
	jw_int(w, x->max_age);
	JW_LIT(w, ",");
	jw_key(w, ind + 2, "\"mx\": [");
	for (size_t i = 0; i < x->n_mx; i++) {
		jw_nl(w, ind + 4);
		jw_str(w, x->mx[i]);
		if (i + 1 < x->n_mx)
			JW_LIT(w, ",");
	}
	if (x->n_mx)
		jw_nl(w, ind + 2);
	JW_LIT(w, "],");
	jw_key(w, ind + 2, "\"text\": ");
	jw_str(w, x->policy_text);
	jw_nl(w, ind);
	JW_LIT(w, "}");
}

static void json_record(struct jw *w, const struct sts_record *rec, unsigned ind)
{
	JW_LIT(w, "{");
	jw_field(w, ind + 2, "\"name\": ", rec->name);
	jw_field(w, ind + 2, "\"type\": ", rec->type);
	jw_key(w, ind + 2, "\"ttl\": ");
	jw_int(w, rec->ttl);
	JW_LIT(w, ",");
	jw_key(w, ind + 2, "\"value\": ");
	jw_str(w, rec->value);
	jw_nl(w, ind);
	JW_LIT(w, "}");
}

STS_API int sts_render_domain_json(const struct sts_rendered *x, unsigned ind, struct sts_buf *b)
{
	struct jw w = {.b = b, .r = STS_OK};
	bool delegated = x->policy_text == NULL;
	if (ind > JW_MAX_INDENT - 6)
		return STS_EINVAL;
	JW_LIT(&w, "{");
	jw_field(&w, ind + 2, "\"domain\": ", x->domain);
	jw_field(&w, ind + 2, "\"zone\": ", x->zone);
	jw_field(&w, ind + 2, "\"hosting\": ",
		 delegated			    ? "delegated"
		 : x->hosting == STS_HOSTING_HOSTED ? "hosted"
						    : "self");
	jw_key(&w, ind + 2, "\"policy\": ");
	if (delegated)
		JW_LIT(&w, "null");
	else
		json_policy(&w, x, ind + 2);
	JW_LIT(&w, ",");
	jw_key(&w, ind + 2, "\"records\": [");
	for (size_t i = 0; i < x->n_records; i++) {
		jw_nl(&w, ind + 4);
		json_record(&w, &x->records[i], ind + 4);
		if (i + 1 < x->n_records)
			JW_LIT(&w, ",");
	}
	if (x->n_records)
		jw_nl(&w, ind + 2);
	JW_LIT(&w, "]");
	jw_nl(&w, ind);
	JW_LIT(&w, "}");
	return w.r;
}

/* ---- tree and stream ---------------------------------------------------- */

#define CAP_ZONE_FILE (1024u * 1024u * 1024u)

static const char *zone_of(const struct sts_domain *d)
{
	return d->zone ? d->zone : d->name;
}

static int cmp_name(const void *a, const void *b)
{
	const struct sts_domain *x = *(const struct sts_domain *const *)a;
	const struct sts_domain *y = *(const struct sts_domain *const *)b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x < y ? -1 : x > y);
}

static int cmp_zone_name(const void *a, const void *b)
{
	const struct sts_domain *x = *(const struct sts_domain *const *)a;
	const struct sts_domain *y = *(const struct sts_domain *const *)b;
	int c = strcmp(zone_of(x), zone_of(y));
	return c ? c : cmp_name(a, b);
}

/* Domains sorted (by zone then name, or by name) and which of them opts selects. */
struct selection {
	const struct sts_domain **v;
	bool *want;
	size_t n;
};

static bool name_matches(const struct sts_domain *d, const char *q, size_t n)
{
	return (strlen(d->name) == n && strncasecmp(d->name, q, n) == 0) ||
	       (d->name_input && strlen(d->name_input) == n &&
		strncasecmp(d->name_input, q, n) == 0);
}

/* Mark the domains named q (A-label, or U-label in any case; a trailing dot ignored). */
static bool select_name(struct selection *s, const char *q)
{
	char *alabel = NULL;
	const char *why;
	if (sts_dname_normalize(q, 0, &alabel, &why) != STS_OK)
		alabel = NULL;
	const char *a = alabel ? alabel : q;
	size_t qn = strlen(q), an = strlen(a);
	qn -= qn > 1 && q[qn - 1] == '.';
	an -= an > 1 && a[an - 1] == '.';
	bool found = false;
	for (size_t i = 0; i < s->n; i++)
		if (name_matches(s->v[i], q, qn) || name_matches(s->v[i], a, an))
			s->want[i] = found = true;
	free(alabel);
	return found;
}

static void selection_release(struct selection *s)
{
	free(s->v);
	free(s->want);
}

static int diag_domain(struct sts_diags *diags, const struct sts_inventory *inv,
		       const struct sts_domain *d, const char *why)
{
	if (!diags)
		return STS_OK;
	return sts_diags_add(diags, STS_SEV_ERROR, NULL, inv->path, d->line, d->col, NULL,
			     "cannot render '%s': %s", d->name ? d->name : "", why);
}

static int selection_init(struct selection *s, const struct sts_inventory *inv,
			  const struct sts_render_opts *o, bool by_zone, struct sts_diags *diags)
{
	size_t n = inv->n_domains;
	*s = (struct selection){.n = n};
	s->v = calloc(n ? n : 1, sizeof(*s->v));
	s->want = calloc(n ? n : 1, sizeof(*s->want));
	if (!s->v || !s->want)
		return STS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		s->v[i] = &inv->domains[i];
		if (!s->v[i]->name)
			return diag_domain(diags, inv, s->v[i], "no name") < 0 ? STS_ENOMEM
									       : STS_EINVALID;
	}
	qsort(s->v, n, sizeof(*s->v), by_zone ? cmp_zone_name : cmp_name);
	int r = STS_OK;
	for (size_t i = 0; i < n; i++)
		s->want[i] = !o || !o->only;
	for (size_t k = 0; o && o->only && k < o->n_only; k++) {
		const char *q = o->only[k];
		if (!select_name(s, q)) {
			r = STS_ENOENT;
			if (diags && sts_diags_add(diags, STS_SEV_ERROR, NULL, inv->path, 0, 0,
						   NULL, "unknown domain '%s'", q) < 0)
				return STS_ENOMEM;
		}
	}
	return r;
}

static bool paths_ok(const struct sts_render_opts *o, struct sts_diags *diags)
{
	const char *p[2] = {o->web_root, o->cert_dir};
	for (size_t i = 0; i < 2; i++) {
		if (p[i] && !sts_render_nginx_path_ok(p[i])) {
			if (diags)
				sts_diags_add(diags, STS_SEV_ERROR, NULL, NULL, 0, 0, NULL,
					      "path '%s' cannot be used in an nginx configuration "
					      "(spaces, quotes, ';', '{', '}', '$', '#' or '\\')",
					      p[i]);
			return false;
		}
	}
	return true;
}

/* The rollout stage's mode when the caller supplies one (sts_render_opts.mode_of). */
static enum sts_mode mode_for(const struct sts_render_opts *o, const struct sts_domain *d)
{
	return o && o->mode_of ? o->mode_of(d->name, o->mode_ud) : STS_MODE_INVALID;
}

struct tree {
	const struct sts_inventory *inv;
	const struct sts_render_opts *o;
	const char *outdir;
	struct sts_render_stats st;
	struct sts_diags *diags;
	struct sts_tmpl *zone_t, *nginx_t;
	struct sts_buf path, data, tmp;
	struct sts_hasher h;
	bool failed;	  /* some domain could not be rendered */
	bool fresh_nginx; /* nginx/ and zones/ were created by this run */
	bool fresh_zones;
	size_t done, total, n_failed; /* progress over the domains rendered */
};

/* One of the domains asked for is done (failed: not rendered or not written). */
static void tree_progress(struct tree *t, bool wanted, bool failed)
{
	if (!wanted || !t->o->progress)
		return;
	t->done++;
	t->n_failed += failed;
	t->o->progress(t->o->progress_ud, t->done, t->total, t->n_failed);
}

static int set_path(struct tree *t, const char *a, const char *b, const char *c)
{
	sts_buf_reset(&t->path);
	int r = sts_buf_puts(&t->path, t->outdir);
	if (r >= 0)
		r = STS_PUT_LIT(&t->path, "/");
	if (r >= 0)
		r = sts_buf_puts(&t->path, a);
	if (r >= 0)
		r = sts_buf_puts(&t->path, b);
	return r < 0 ? r : sts_buf_puts(&t->path, c);
}

static int write_error(struct tree *t, int r)
{
	if (t->diags)
		sts_diags_add(t->diags, STS_SEV_ERROR, NULL, NULL, 0, 0, NULL,
			      "cannot write '%s': %s", sts_buf_str(&t->path), sts_strerror(r));
	return r;
}

/* mkdir for the tree: *fresh when created now; an existing directory is fine */
static int mkdir_fresh(struct tree *t, bool *fresh)
{
	/* 0755 set explicitly: the web server reads it whatever our umask */
	int r = sts_mkdir_one(sts_buf_str(&t->path), 0755, fresh);
	return r < 0 ? write_error(t, r) : STS_OK;
}

/*
 * Write t->data to outdir/a b c unless the file already holds it. In a
 * directory this run created (fresh) no file can predate the run and each
 * is written once, so the comparison is skipped.
 */
static int put_file(struct tree *t, const char *a, const char *b, const char *c, bool fresh)
{
	int r = set_path(t, a, b, c);
	if (r < 0)
		return r;
	const char *p = sts_buf_str(&t->path);
	const char *d = sts_buf_str(&t->data);
	if (!fresh && sts_file_equals(p, d, t->data.len)) {
		t->st.unchanged++;
		return STS_OK;
	}
	r = sts_write_atomic(p, d, t->data.len, 0644, false);
	if (r < 0)
		return write_error(t, r);
	t->st.written++;
	return STS_OK;
}

/* Policy file and nginx server block of one self-hosted domain (a hosted
 * one's policy is served by stsctl serve from the state). */
static int tree_domain(struct tree *t, const struct sts_rendered *x)
{
	t->st.domains++;
	if (!x->policy_text || x->hosting == STS_HOSTING_HOSTED)
		return STS_OK;
	/* outdir/<host>/.well-known: two mkdir() calls, no failed lookups */
	bool fresh, fresh_wk;
	int r = set_path(t, x->policy_host, "", "");
	if (r >= 0)
		r = mkdir_fresh(t, &fresh);
	if (r >= 0)
		r = set_path(t, x->policy_host, "/.well-known", "");
	if (r >= 0)
		r = mkdir_fresh(t, &fresh_wk);
	sts_buf_reset(&t->data);
	if (r >= 0)
		r = sts_buf_puts(&t->data, x->policy_text);
	if (r >= 0)
		r = put_file(t, x->policy_host, "/.well-known/mta-sts.txt", "", fresh || fresh_wk);
	if (r < 0)
		return r;
	sts_buf_reset(&t->data);
	r = sts_render_nginx_tmpl(t->nginx_t, x, t->o->web_root, t->o->cert_dir, &t->data);
	if (r < 0 && r != STS_ENOMEM && t->diags)
		sts_diags_add(t->diags, STS_SEV_ERROR, NULL, NULL, 0, 0, NULL,
			      "cannot render the nginx server block of '%s': %s", x->policy_host,
			      sts_strerror(r));
	return r < 0 ? r : put_file(t, "nginx/", x->policy_host, ".conf", t->fresh_nginx);
}

/* The domains v[0..n) of one zone: their files, then the zone file. */
static int tree_zone(struct tree *t, const struct sts_domain **v, const bool *want, size_t n)
{
	const char *zone = zone_of(v[0]);
	json_t *vars = NULL;
	int r = sts_render_zone_vars_new(zone, &vars);
	if (r == STS_EINVAL) /* a bad zone name: each domain of the zone says so */
		r = STS_OK;
	bool complete = vars != NULL;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct sts_rendered x = {0};
		const char *why = NULL;
		r = sts_render_domain_h(v[i], mode_for(t->o, v[i]), &x, &why, &t->h);
		if (r == STS_EINVAL) {
			t->failed = true;
			complete = false;
			r = diag_domain(t->diags, t->inv, v[i], why);
			tree_progress(t, want[i], true);
			continue;
		}
		if (r < 0)
			break;
		if (vars)
			r = sts_render_zone_vars_add(vars, &x, &t->tmp);
		if (r >= 0 && want[i])
			r = tree_domain(t, &x);
		sts_rendered_release(&x);
		bool failed = r < 0 && r != STS_ENOMEM;
		if (failed) { /* said by write_error: this domain only */
			t->failed = true;
			r = STS_OK;
		}
		tree_progress(t, want[i], failed);
	}
	/* A zone file missing one of its domains would drop that domain's records. */
	if (r >= 0 && complete) {
		sts_buf_reset(&t->data);
		r = sts_tmpl_render(t->zone_t, vars, &t->data, NULL);
		if (r >= 0)
			r = put_file(t, "zones/", zone, ".zone", t->fresh_zones);
		if (r >= 0)
			t->st.zones++;
		else if (r != STS_ENOMEM) { /* said by write_error: this zone only */
			t->failed = true;
			r = STS_OK;
		}
	}
	json_decref(vars);
	return r;
}

STS_API int sts_render_tree_opts(const struct sts_inventory *inv, const char *outdir,
				 const struct sts_render_opts *opts,
				 struct sts_render_stats *ret_stats, struct sts_diags *diags)
{
	static const struct sts_render_opts none;
	struct tree t = {.inv = inv, .o = opts ? opts : &none, .outdir = outdir, .diags = diags};
	struct selection sel;
	sts_hasher_init(&t.h);
	sts_buf_init(&t.path, 4096);
	sts_buf_init(&t.data, CAP_ZONE_FILE);
	sts_buf_init(&t.tmp, STS_CAP_TEXT);
	int r = selection_init(&sel, inv, t.o, true, diags);
	if (r >= 0 && !paths_ok(t.o, diags))
		r = STS_EINVAL;
	if (r >= 0)
		r = sts_tmpl_load_builtin("zone.tmpl", &t.zone_t, diags);
	if (r >= 0)
		r = sts_tmpl_load_builtin("nginx-policy-host.conf.tmpl", &t.nginx_t, diags);
	if (r >= 0)
		r = sts_mkdir_p(outdir, 0755);
	if (r >= 0)
		r = set_path(&t, "nginx", "", "");
	if (r >= 0)
		r = mkdir_fresh(&t, &t.fresh_nginx);
	if (r >= 0)
		r = set_path(&t, "zones", "", "");
	if (r >= 0)
		r = mkdir_fresh(&t, &t.fresh_zones);
	for (size_t i = 0; r >= 0 && i < sel.n; i++)
		t.total += sel.want[i];
	for (size_t a = 0, b; a < sel.n && r >= 0; a = b) {
		bool any = false;
		for (b = a; b < sel.n && strcmp(zone_of(sel.v[a]), zone_of(sel.v[b])) == 0; b++)
			any = any || sel.want[b];
		if (any)
			r = tree_zone(&t, sel.v + a, sel.want + a, b - a);
	}
	if (r >= 0 && !t.o->no_sync && t.st.written > 0)
		r = sts_syncfs_path(outdir);
	if (r >= 0 && t.failed)
		r = STS_EINVALID;
	if (ret_stats)
		*ret_stats = t.st;
	selection_release(&sel);
	sts_tmpl_free(t.zone_t);
	sts_tmpl_free(t.nginx_t);
	sts_buf_release(&t.path);
	sts_buf_release(&t.data);
	sts_buf_release(&t.tmp);
	sts_hasher_release(&t.h);
	return r;
}

STS_API int sts_render_tree(const struct sts_inventory *inv, const char *outdir,
			    struct sts_diags *diags)
{
	return sts_render_tree_opts(inv, outdir, NULL, NULL, diags);
}

/*
 * render --json in blocks of JSON_BLOCK domains. With more than one CPU the
 * blocks are rendered by several threads (block k by thread k % nthreads,
 * the calling thread being thread 0), each into one of 2 * nthreads slots;
 * the calling thread writes the blocks strictly in order, so the output
 * is the same byte for byte, and memory stays at a few blocks.
 */
#define JSON_BLOCK	 256
#define JSON_MAX_THREADS 4

struct jbad {
	size_t i; /* index into sel.v */
	const char *why;
};

struct jslot {
	size_t k; /* block held when done */
	bool done;
	int r;
	struct sts_buf out; /* each entry starts with ",\n    " */
	struct jbad bad[JSON_BLOCK];
	size_t n_bad;
};

struct jstream {
	const struct sts_render_opts *opts;
	const struct selection *sel;
	const size_t *idx; /* the selected entries of sel.v */
	size_t n, nblocks;
	unsigned nthreads; /* block stride, fixed before any thread starts */
	unsigned started;  /* threads running (0 is the caller); main thread only */
	struct jslot *slots;
	size_t nslots;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t written; /* blocks written so far */
	bool stop;
};

static void render_block(struct jstream *js, struct jslot *sl, size_t k, struct sts_hasher *h)
{
	size_t end = (k + 1) * JSON_BLOCK < js->n ? (k + 1) * JSON_BLOCK : js->n;
	int r = STS_OK;
	sts_buf_reset(&sl->out);
	sl->n_bad = 0;
	for (size_t i = k * JSON_BLOCK; i < end && r >= 0; i++) {
		struct sts_rendered x = {0};
		const char *why = NULL;
		const struct sts_domain *d = js->sel->v[js->idx[i]];
		r = sts_render_domain_h(d, mode_for(js->opts, d), &x, &why, h);
		if (r == STS_EINVAL) {
			sl->bad[sl->n_bad++] = (struct jbad){.i = js->idx[i], .why = why};
			r = STS_OK;
			continue;
		}
		if (r >= 0)
			r = STS_PUT_LIT(&sl->out, ",\n    ");
		if (r >= 0)
			r = sts_render_domain_json(&x, 4, &sl->out);
		sts_rendered_release(&x);
	}
	sl->r = r;
}

static void *json_worker(void *arg)
{
	struct jstream *js = ((void **)arg)[0];
	unsigned t = (unsigned)(uintptr_t)((void **)arg)[1];
	struct sts_hasher h;
	sts_hasher_init(&h);
	for (size_t k = t; k < js->nblocks; k += js->nthreads) {
		struct jslot *sl = &js->slots[k % js->nslots];
		pthread_mutex_lock(&js->mu);
		while (!js->stop &&
		       k >= js->written + js->nslots) /* slot still holds block k - nslots */
			pthread_cond_wait(&js->cv, &js->mu);
		bool stop = js->stop;
		pthread_mutex_unlock(&js->mu);
		if (stop)
			break;
		render_block(js, sl, k, &h);
		pthread_mutex_lock(&js->mu);
		sl->k = k;
		sl->done = true;
		pthread_cond_broadcast(&js->cv);
		pthread_mutex_unlock(&js->mu);
	}
	sts_hasher_release(&h);
	return NULL;
}

static unsigned json_threads(size_t nblocks)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned t = cpus > 1 ? (unsigned)cpus : 1;
	t = t > JSON_MAX_THREADS ? JSON_MAX_THREADS : t;
	return nblocks < t ? (unsigned)(nblocks ? nblocks : 1) : t;
}

/* Runs in the calling thread: renders its blocks, writes all of them in order. */
static int json_blocks(struct jstream *js, const struct sts_inventory *inv,
		       int (*write)(const char *p, size_t n, void *ud), void *ud,
		       struct sts_diags *diags, bool *first, bool *failed)
{
	struct sts_hasher h;
	int r = STS_OK;
	sts_hasher_init(&h);
	for (size_t k = 0; k < js->nblocks && r >= 0; k++) {
		struct jslot *sl = &js->slots[k % js->nslots];
		/* block k belongs to thread k % nthreads; the caller does those of
		 * threads that could not be started */
		if (k % js->nthreads == 0 || k % js->nthreads >= js->started) {
			render_block(js, sl, k, &h);
		} else {
			pthread_mutex_lock(&js->mu);
			while (!(sl->done && sl->k == k))
				pthread_cond_wait(&js->cv, &js->mu);
			pthread_mutex_unlock(&js->mu);
		}
		r = sl->r;
		for (size_t i = 0; i < sl->n_bad && r >= 0; i++) {
			*failed = true;
			r = diag_domain(diags, inv, js->sel->v[sl->bad[i].i], sl->bad[i].why);
		}
		if (r >= 0 && sl->out.len > 0) {
			size_t skip = *first; /* the first entry has no ',' */
			r = write(sl->out.data + skip, sl->out.len - skip, ud);
			*first = false;
		}
		pthread_mutex_lock(&js->mu);
		sl->done = false;
		js->written = k + 1;
		js->stop = r < 0;
		pthread_cond_broadcast(&js->cv);
		pthread_mutex_unlock(&js->mu);
	}
	sts_hasher_release(&h);
	return r;
}

STS_API int sts_render_json(const struct sts_inventory *inv, const struct sts_render_opts *opts,
			    int (*write)(const char *p, size_t n, void *ud), void *ud,
			    struct sts_diags *diags)
{
	struct selection sel;
	struct jstream js = {.opts = opts, .sel = &sel};
	pthread_t tids[JSON_MAX_THREADS];
	void *args[JSON_MAX_THREADS][2];
	bool first = true, failed = false;
	int r = selection_init(&sel, inv, opts, false, diags);
	size_t *idx = calloc(sel.n ? sel.n : 1, sizeof(*idx));
	if (r >= 0 && !idx)
		r = STS_ENOMEM;
	for (size_t i = 0; i < sel.n && r >= 0; i++)
		if (sel.want[i])
			idx[js.n++] = i;
	js.idx = idx;
	js.nblocks = (js.n + JSON_BLOCK - 1) / JSON_BLOCK;
	js.nthreads = json_threads(js.nblocks);
	js.nslots = 2 * (size_t)js.nthreads;
	js.slots = calloc(js.nslots, sizeof(*js.slots));
	if (r >= 0 && !js.slots)
		r = STS_ENOMEM;
	for (size_t i = 0; js.slots && i < js.nslots; i++)
		sts_buf_init(&js.slots[i].out, STS_CAP_TEXT);
	pthread_mutex_init(&js.mu, NULL);
	pthread_cond_init(&js.cv, NULL);
	if (r >= 0)
		r = write("{\n  \"domains\": [", 16, ud);
	for (js.started = 1; r >= 0 && js.started < js.nthreads; js.started++) {
		args[js.started][0] = &js;
		args[js.started][1] = (void *)(uintptr_t)js.started;
		if (pthread_create(&tids[js.started], NULL, json_worker, args[js.started]) != 0)
			break;
	}
	if (r >= 0)
		r = json_blocks(&js, inv, write, ud, diags, &first, &failed);
	pthread_mutex_lock(&js.mu);
	js.stop = true;
	pthread_cond_broadcast(&js.cv);
	pthread_mutex_unlock(&js.mu);
	for (unsigned t = 1; t < js.started; t++)
		pthread_join(tids[t], NULL);
	if (r >= 0)
		r = first ? write("]\n}\n", 4, ud) : write("\n  ]\n}\n", 7, ud);
	for (size_t i = 0; js.slots && i < js.nslots; i++)
		sts_buf_release(&js.slots[i].out);
	pthread_cond_destroy(&js.cv);
	pthread_mutex_destroy(&js.mu);
	free(js.slots);
	free(idx);
	selection_release(&sel);
	return r >= 0 && failed ? STS_EINVALID : r;
}
