/* SPDX-License-Identifier: MIT */
/*
 * TLS-RPT ingestion, the "prepare" half (sts_ingest_int.h): read an input,
 * parse it, decide whether it is authenticated, compress what is kept.
 * Nothing here touches the DB, so directory and Maildir ingestion run it
 * in worker threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_gzip.h"
#include "sts_ingest_int.h"
#include "sts_mime.h"

static const char *const channel_names[] = {
    [STS_CH_FILE] = "file", [STS_CH_EML] = "eml",     [STS_CH_MAILDIR] = "maildir",
    [STS_CH_IMAP] = "imap", [STS_CH_HTTPS] = "https",
};

STS_API const char *sts_ingest_channel_name(enum sts_ingest_channel ch)
{
	return STS_NAME_OF(channel_names, ch, "unknown");
}

static const char *const outcome_names[] = {
    [STS_INGEST_STORED] = "stored",	[STS_INGEST_DUPLICATE] = "duplicate",
    [STS_INGEST_UPGRADED] = "upgraded", [STS_INGEST_QUARANTINED] = "quarantined",
    [STS_INGEST_SKIPPED] = "skipped",	[STS_INGEST_REFUSED] = "refused",
};

STS_API const char *sts_ingest_outcome_name(enum sts_ingest_outcome o)
{
	return STS_NAME_OF(outcome_names, o, "unknown");
}

void ing_set_err(struct sts_ingest *ing, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ing->err, sizeof(ing->err), fmt, ap);
	va_end(ap);
}

void ing_source_error(struct sts_ingest *ing, const char *source, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ing->err, sizeof(ing->err), fmt, ap);
	va_end(ap);
	ing->st.source_errors++;
	if (ing->o.on_source_error)
		ing->o.on_source_error(ing->o.ud, source, err, ing->err);
}

const char *ing_diag_reason(const struct sts_diags *d, const char *what)
{
	for (size_t i = 0; d && i < d->n; i++)
		if (d->v[i].severity == STS_SEV_ERROR && d->v[i].message)
			return d->v[i].message;
	return what;
}

int ing_gzip(const void *in, size_t len, unsigned char **ret, size_t *ret_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return STS_ENOMEM;
	size_t cap = deflateBound(&zs, (uLong)len) + 32;
	unsigned char *out = malloc(cap);
	if (!out) {
		deflateEnd(&zs);
		return STS_ENOMEM;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	int z = deflate(&zs, Z_FINISH);
	*ret_len = zs.total_out;
	deflateEnd(&zs);
	if (z != Z_STREAM_END) {
		free(out);
		return STS_ENOMEM;
	}
	*ret = out;
	return STS_OK;
}

static void sha256_hex(const void *a, size_t na, const void *b, size_t nb, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) || !EVP_DigestUpdate(c, a, na) ||
	    (nb && !EVP_DigestUpdate(c, b, nb)) || !EVP_DigestFinal_ex(c, md, &n))
		n = 0;
	EVP_MD_CTX_free(c);
	for (unsigned int i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[n ? 64 : 0] = '\0';
}

/* ---- struct ing_prep ---- */

static void part_release(struct ing_part *pt)
{
	sts_tlsrpt_report_free(pt->rep);
	free(pt->gz);
	free(pt->warnings);
	free(pt->qreason);
	free(pt->qdata);
}

void ing_prep_release(struct ing_prep *p)
{
	if (!p)
		return;
	STS_ARRAY_FREE(p->parts, p->n_parts, part_release);
	free(p->source);
	free(p->domain_hint);
	free(p->auth_reason);
	free(p->identity);
	free(p->msg_gz);
	free(p->skip_reason);
	free(p->done_from);
	free(p->done_to);
	memset(p, 0, sizeof(*p));
}

static struct ing_part *new_part(struct ing_prep *p)
{
	return sts_array_push(&p->parts, &p->n_parts, sizeof(*p->parts));
}

static int prep_init(struct ing_prep *p, enum sts_ingest_channel ch, const char *source)
{
	memset(p, 0, sizeof(*p));
	p->ch = ch;
	p->source = strdup(source ? source : "");
	return p->source ? STS_OK : STS_ENOMEM;
}

static int set_auth(struct ing_prep *p, bool ok, const char *reason)
{
	p->authenticated = ok;
	free(p->auth_reason);
	p->auth_reason = strdup(reason ? reason : "");
	return p->auth_reason ? STS_OK : STS_ENOMEM;
}

/* the reporter identity: a trusted source's name as it is */
static int set_identity(struct ing_prep *p, const char *id)
{
	free(p->identity);
	p->identity = NULL;
	if (id && *id && !(p->identity = strdup(id)))
		return STS_ENOMEM;
	return STS_OK;
}

/*
 * Quarantine: the reason, the size, a key that makes the same bad input
 * quarantined once, and the bytes when they are small enough compressed.
 * data NULL: not read (over a cap).
 */
static int quarantine(struct ing_prep *p, const char *reason, const void *data, size_t len,
		      size_t size)
{
	struct ing_part *pt = new_part(p);
	if (!pt || !(pt->qreason = strdup(reason)))
		return STS_ENOMEM;
	pt->qsize = size;
	if (!data) {
		char sz[32];
		int n = snprintf(sz, sizeof(sz), "\n%zu", size);
		sha256_hex(p->source, strlen(p->source), sz, (size_t)n, pt->qkey);
		return STS_OK;
	}
	sha256_hex(data, len, NULL, 0, pt->qkey);
	if (sts_gzip_is_gzip(data, len)) {
		if (len <= ING_QUARANTINE_KEEP) {
			if (!(pt->qdata = malloc(len ? len : 1)))
				return STS_ENOMEM;
			memcpy(pt->qdata, data, len);
			pt->qlen = len;
			pt->qformat = "received";
		}
		return STS_OK;
	}
	unsigned char *gz = NULL;
	size_t gz_len = 0;
	int r = ing_gzip(data, len, &gz, &gz_len);
	if (r < 0)
		return r;
	if (gz_len <= ING_QUARANTINE_KEEP) {
		pt->qdata = gz;
		pt->qlen = gz_len;
		pt->qformat = "gzip";
	} else {
		free(gz);
	}
	return STS_OK;
}

int ing_prep_oversize(enum sts_ingest_channel ch, const char *source, size_t size,
		      const char *reason, struct ing_prep *p)
{
	int r = prep_init(p, ch, source);
	if (r == STS_OK)
		r = set_auth(p, false, "not read");
	if (r == STS_OK)
		r = quarantine(p, reason, NULL, 0, size);
	return r;
}

/* the distinct warning codes, space-separated */
static char *warning_codes(const struct sts_tlsrpt_report *rep)
{
	struct sts_buf b;
	sts_buf_init(&b, 64 * 1024);
	if (sts_buf_puts(&b, "") < 0)
		return NULL;
	for (size_t i = 0; i < rep->n_warnings; i++) {
		const char *c = rep->warnings[i].code;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(rep->warnings[j].code, c) == 0;
		if (!seen && (b.len ? sts_buf_putc(&b, ' ') : 0) == 0)
			sts_buf_puts(&b, c);
	}
	return sts_buf_steal(&b);
}

/* Parse one report body into a new part (or quarantine it). */
static int add_report(struct ing_prep *p, const void *data, size_t len)
{
	struct sts_diags d;
	struct sts_tlsrpt_report *rep = NULL;
	sts_diags_init(&d);
	d.max = 4;
	int r = sts_tlsrpt_parse_blob(data, len, &rep, &d);
	if (r == STS_ENOMEM)
		goto out;
	if (r < 0) {
		r = quarantine(p, ing_diag_reason(&d, sts_strerror(r)), data, len, len);
		goto out;
	}
	struct ing_part *pt = new_part(p);
	if (!pt) {
		sts_tlsrpt_report_free(rep);
		r = STS_ENOMEM;
		goto out;
	}
	pt->rep = rep;
	pt->n_warnings = rep->n_warnings + rep->n_warnings_dropped;
	if (!(pt->warnings = warning_codes(rep))) {
		r = STS_ENOMEM;
		goto out;
	}
	if (sts_gzip_is_gzip(data, len)) {
		if (!(pt->gz = malloc(len))) {
			r = STS_ENOMEM;
			goto out;
		}
		memcpy(pt->gz, data, len);
		pt->gz_len = len;
	} else {
		r = ing_gzip(data, len, &pt->gz, &pt->gz_len);
	}
out:
	sts_diags_release(&d);
	return r;
}

int ing_prep_blob(const struct sts_ingest *ing, const void *data, size_t len,
		  enum sts_ingest_channel ch, const char *source, bool authenticated,
		  const char *auth_reason, const char *domain_hint, struct ing_prep *p)
{
	int r = prep_init(p, ch, source);
	if (r == STS_OK)
		r = set_auth(p, authenticated, auth_reason);
	/* a POST counts only from a receiver configured trusted, as its named reporter */
	if (r == STS_OK && authenticated)
		r = set_identity(p,
				 ch == STS_CH_HTTPS ? ing->conf->https.name : ing->o.trusted_name);
	if (r == STS_OK && domain_hint && !(p->domain_hint = strdup(domain_hint)))
		r = STS_ENOMEM;
	if (r == STS_OK)
		r = add_report(p, data, len);
	return r;
}

static const char *domain_of(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	return at && at[1] ? at + 1 : NULL;
}

/* "ingest --trusted [NAME]" or "trusted source NAME": who vouches */
static int trust_text(const struct sts_ingest *ing, const char *name, char **ret)
{
	int n = ing->src_trusted ? asprintf(ret, "trusted source %s", name ? name : "(no name)")
		: name		 ? asprintf(ret, "ingest --trusted %s", name)
				 : asprintf(ret, "ingest --trusted");
	return n < 0 ? STS_ENOMEM : STS_OK;
}

/* *name: the reporter the trusted source stands for (NULL: none named) */
static bool trusted_channel(const struct sts_ingest *ing, enum sts_ingest_channel ch,
			    const char **name)
{
	/* --trusted vouches for files, directories and Maildir; a configured
	 * source with "trusted": true also for its IMAP mailbox */
	*name = NULL;
	if (ch == STS_CH_HTTPS)
		return false;
	if (ing->src_trusted) {
		*name = ing->src_name;
		return true;
	}
	*name = ing->o.trusted_name;
	return ing->o.trusted_files && ch != STS_CH_IMAP;
}

/* decide authenticity of a message: DKIM / trusted Authentication-Results */
static int auth_message(const struct sts_ingest *ing, const struct sts_mime_reports *m,
			const char *msg, size_t len, struct ing_prep *p)
{
	const char *reporting = m->report_submitter ? m->report_submitter : domain_of(m->from);
	struct sts_dkim_result res = {0};
	size_t off = m->body_offset <= len ? m->body_offset : len;
	int r = sts_dkim_check(ing->dkim, m->raw_headers, m->raw_headers_len, msg + off, len - off,
			       reporting, &res);
	if (r < 0)
		return r;
	const char *name = NULL;
	if (!res.pass && trusted_channel(ing, p->ch, &name)) {
		char *who = NULL, *why = NULL;
		if (trust_text(ing, name, &who) < 0 ||
		    asprintf(&why, "%s (%s)", who, res.reason) < 0)
			r = STS_ENOMEM;
		else
			r = set_auth(p, true, why);
		free(who);
		free(why);
		if (r == STS_OK)
			r = set_identity(p, name);
	} else if (res.pass) {
		/* who signed, not what the report says: the organisational domain of d= */
		char *org = NULL;
		r = sts_reporters_orgdomain(res.domain, &org);
		if (r == STS_ENOMEM)
			goto out;
		r = set_auth(p, true, res.reason);
		free(p->identity);
		p->identity = org; /* NULL when d= has no organisational domain */
	} else {
		r = set_auth(p, false, res.reason);
		/* a temporary key lookup failure: keep the message to verify again */
		if (r == STS_OK && res.temporary) {
			p->pending = true;
			r = ing_gzip(msg, len, &p->msg_gz, &p->msg_gz_len);
		}
	}
out:
	sts_dkim_result_release(&res);
	return r;
}

int ing_prep_message(const struct sts_ingest *ing, const void *msg, size_t len,
		     enum sts_ingest_channel ch, const char *source, struct ing_prep *p)
{
	struct sts_diags d;
	struct sts_mime_reports *m = NULL;
	int r = prep_init(p, ch, source);
	if (r < 0)
		return r;
	sts_diags_init(&d);
	d.max = 4;
	r = sts_mime_extract_reports(msg, len, &m, &d);
	if (r == STS_ENOMEM)
		goto out;
	if (r < 0) {
		const char *why = ing_diag_reason(&d, sts_strerror(r));
		if ((r = set_auth(p, false, "not a report message")) == STS_OK)
			r = quarantine(p, why, msg, len, len);
		goto out;
	}
	if (m->report_domain && !(p->domain_hint = strdup(m->report_domain))) {
		r = STS_ENOMEM;
		goto out;
	}
	r = auth_message(ing, m, msg, len, p);
	for (size_t i = 0; r == STS_OK && i < m->n_blobs; i++)
		r = add_report(p, m->blobs[i].data, m->blobs[i].len);
out:
	sts_mime_reports_free(m);
	sts_diags_release(&d);
	return r;
}

/* ---- files ---- */

enum ftype { F_NONE, F_REPORT, F_MESSAGE };

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcasecmp(s + n - k, suffix) == 0;
}

static enum ftype type_by_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (ends_with(base, ".json") || ends_with(base, ".json.gz") || ends_with(base, ".gz"))
		return F_REPORT;
	if (ends_with(base, ".eml"))
		return F_MESSAGE;
	return F_NONE;
}

static enum ftype type_by_content(const unsigned char *p, size_t n)
{
	if (sts_gzip_is_gzip(p, n))
		return F_REPORT;
	size_t i = 0;
	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < n && (p[i] == '{' || p[i] == '[') ? F_REPORT : F_MESSAGE;
}

/* D1 file name "sender!policy-domain!begin!end[!id].json[.gz]": the policy domain */
static char *name_hint(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *a = strchr(base, '!');
	const char *b = a ? strchr(a + 1, '!') : NULL;
	if (!b || b == a + 1 || b - a > 254)
		return NULL;
	char *s = strndup(a + 1, (size_t)(b - a - 1));
	for (char *q = s; q && *q; q++)
		*q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
	return s;
}

int ing_prep_file(const struct sts_ingest *ing, const char *path, enum sts_ingest_channel ch,
		  bool explicit_name, struct ing_prep *p)
{
	enum ftype t = ch == STS_CH_MAILDIR ? F_MESSAGE : type_by_name(path);
	int r = prep_init(p, ch, path);
	if (r < 0)
		return r;
	if (t == F_NONE && !explicit_name) {
		p->skip_reason = strdup("not a .json, .json.gz or .eml file");
		return p->skip_reason ? STS_OK : STS_ENOMEM;
	}
	size_t cap = t == F_REPORT ? STS_CAP_REPORT_COMPRESSED : ING_MSG_CAP;
	struct sts_buf b;
	sts_buf_init(&b, t == F_NONE ? ING_MSG_CAP : cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return STS_EINVAL;
	}
	r = sts_buf_read_fd(&b, fd);
	close(fd);
	p->cost = b.len * 4 + 4096; /* the bytes, their parse, the compressed copy */
	if (r == STS_OK && t == F_NONE)
		t = type_by_content((const unsigned char *)b.data, b.len);
	if (t == F_REPORT && b.len > STS_CAP_REPORT_COMPRESSED)
		r = STS_ETOOLARGE;
	if (r == STS_ETOOLARGE) {
		char why[96];
		snprintf(why, sizeof(why), "file is larger than %zu bytes",
			 t == F_REPORT ? (size_t)STS_CAP_REPORT_COMPRESSED : (size_t)ING_MSG_CAP);
		r = set_auth(p, false, "not read");
		if (r == STS_OK)
			r = quarantine(p, why, NULL, 0, (size_t)sb.st_size);
		goto out;
	}
	if (r < 0)
		goto out;
	if (t == F_MESSAGE) {
		char *src = p->source;
		p->source = NULL;
		ing_prep_release(p);
		r = ing_prep_message(ing, b.data ? b.data : "", b.len,
				     ch == STS_CH_MAILDIR ? ch : STS_CH_EML, src, p);
		free(src);
		goto out;
	}
	const char *name = NULL;
	char *who = NULL;
	bool trusted = trusted_channel(ing, ch, &name);
	if (trusted && (r = trust_text(ing, name, &who)) < 0)
		goto out;
	r = set_auth(
	    p, trusted,
	    trusted ? who : "file: no authentication of its own (ingest --trusted NAME vouches)");
	free(who);
	if (r == STS_OK && trusted)
		r = set_identity(p, name);
	if (r == STS_OK)
		p->domain_hint = name_hint(path); /* a hint only: NULL is fine */
	if (r == STS_OK)
		r = add_report(p, b.data ? b.data : "", b.len);
out:
	sts_buf_release(&b);
	return r;
}

/* ---- the public entry points ---- */

STS_API int sts_ingest_new(struct sts_db *db, const struct sts_ingest_opts *o,
			   struct sts_ingest **ret)
{
	struct sts_ingest *ing = calloc(1, sizeof(*ing));
	char *err = NULL;
	int r;
	if (!ing)
		return STS_ENOMEM;
	ing->db = db;
	if (o)
		ing->o = *o;
	ing->batch_max = ing->o.batch ? ing->o.batch : ING_DEFAULT_BATCH;
	ing->conf = ing->o.conf;
	if (!ing->conf) {
		r = sts_ingest_conf_from_json(NULL, ".", &ing->own_conf, &err);
		free(err);
		if (r < 0)
			goto fail;
		ing->conf = ing->own_conf;
	}
	struct sts_dkim_conf dc;
	sts_ingest_conf_dkim(ing->conf, &dc);
	if ((r = sts_dkim_new(&dc, &ing->dkim)) < 0)
		goto fail;
	if ((r = sts_ingest_schema(db)) < 0) {
		ing_set_err(ing, "%s", sts_db_errmsg(db));
		goto fail;
	}
	if ((r = ing_stmts_prepare(ing)) < 0)
		goto fail;
	/* the dedup index and the aggregates grow with every report: keep their
	 * pages in memory while ingesting */
	ing_tune(ing, "PRAGMA cache_size = -" ING_CACHE_KIB);
	*ret = ing;
	return STS_OK;
fail:
	sts_ingest_free(ing);
	return r;
}

STS_API void sts_ingest_free(struct sts_ingest *ing)
{
	if (!ing)
		return;
	ing_rollback(ing);
	ing_stmts_finalize(ing);
	ing_agg_release(&ing->daily);
	ing_agg_release(&ing->fail);
	sts_dkim_free(ing->dkim);
	sts_ingest_conf_free(ing->own_conf);
	free(ing->last_reason);
	ing_paths_release(&ing->ren);
	free(ing);
}

STS_API int sts_ingest_finish(struct sts_ingest *ing)
{
	return ing_commit(ing);
}

STS_API const struct sts_ingest_stats *sts_ingest_get_stats(const struct sts_ingest *ing)
{
	return &ing->st;
}

STS_API const char *sts_ingest_errmsg(const struct sts_ingest *ing)
{
	return ing->err;
}

/* store one prepared input, commit, and keep the reason for the caller */
static int store_now(struct sts_ingest *ing, struct ing_prep *p,
		     enum sts_ingest_outcome *ret_outcome, const char **ret_reason)
{
	enum sts_ingest_outcome oc = STS_INGEST_STORED;
	int r = ing_store(ing, p, &oc);
	if (r == STS_OK)
		r = ing_commit(ing);
	if (r < 0)
		return r;
	free(ing->last_reason);
	ing->last_reason = NULL;
	/* the quarantine reason, else why it is (not) authenticated */
	const char *why = p->auth_reason;
	for (size_t i = 0; i < p->n_parts; i++)
		if (p->parts[i].qreason) {
			why = p->parts[i].qreason;
			break;
		}
	if (why && !(ing->last_reason = strdup(why)))
		return STS_ENOMEM;
	if (ret_outcome)
		*ret_outcome = oc;
	if (ret_reason)
		*ret_reason = ing->last_reason;
	return STS_OK;
}

STS_API int sts_ingest_blob(struct sts_ingest *ing, const void *data, size_t len,
			    enum sts_ingest_channel ch, const char *source, bool authenticated,
			    const char *auth_reason, enum sts_ingest_outcome *ret_outcome,
			    const char **ret_reason)
{
	struct ing_prep p;
	int r = ing_prep_blob(ing, data, len, ch, source, authenticated, auth_reason, NULL, &p);
	ing->st.inputs++;
	if (r == STS_OK)
		r = store_now(ing, &p, ret_outcome, ret_reason);
	ing_prep_release(&p);
	return r;
}

STS_API int sts_ingest_message(struct sts_ingest *ing, const void *msg, size_t len,
			       enum sts_ingest_channel ch, const char *source,
			       enum sts_ingest_outcome *ret_outcome, const char **ret_reason)
{
	struct ing_prep p;
	int r = ing_prep_message(ing, msg, len, ch, source, &p);
	ing->st.inputs++;
	if (r == STS_OK)
		r = store_now(ing, &p, ret_outcome, ret_reason);
	ing_prep_release(&p);
	return r;
}

/* ---- evidence ---- */

STS_API bool sts_ingest_evidence(const struct sts_reporters *l, bool evidence_all,
				 bool authenticated, bool pending, const char *reporter,
				 const char *auth_reason, char **ret_why)
{
	char *why = NULL;
	int n = 0;
	*ret_why = NULL;
	if (evidence_all)
		return true; /* the lab setting: everything counts */
	if (pending)
		n = asprintf(&why,
			     "DKIM key lookup failed temporarily: verified again at the next "
			     "ingest or watch cycle (%s)",
			     auth_reason ? auth_reason : "");
	else if (!authenticated)
		n = asprintf(&why, "not authenticated: %s", auth_reason ? auth_reason : "");
	else if (!reporter || !*reporter)
		n = asprintf(&why,
			     "authenticated, but no reporter identity (%s): a trusted source "
			     "needs a name, and reports stored before identities were "
			     "derived count only once their raw message is ingested again",
			     auth_reason ? auth_reason : "");
	else if (!sts_reporters_has(l, reporter))
		n = asprintf(&why, "reporter %s is not in reports.reporters", reporter);
	else
		return true;
	if (n < 0)
		why = NULL;
	*ret_why = why ? why : strdup("not evidence");
	return false;
}
