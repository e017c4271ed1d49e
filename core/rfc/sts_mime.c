/* SPDX-License-Identifier: MIT */
/*
 * Report e-mail extraction with GMime 3.0 (RFC 8460 §5.3).
 */
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_gzip.h"
#include "sts_mime.h"

struct mctx {
	struct sts_mime_reports *rep;
	struct sts_diags *diags;
	int err;
	/* the nesting guard, while GMime parses */
	GMimeStream *stream;
	size_t n_containers; /* multipart and message parts GMime has seen */
	bool cut;	     /* too many: the stream was ended there */
};

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_setup(void)
{
	g_mime_init();
}

static void mwarn(struct mctx *c, const char *code, const char *rule, const char *fmt, ...)
    STS_PRINTF(4, 5);

static void mwarn(struct mctx *c, const char *code, const char *rule, const char *fmt, ...)
{
	struct sts_mime_reports *rep = c->rep;
	const char **w = realloc(rep->warnings, (rep->n_warnings + 1) * sizeof(*w));
	if (!w) {
		c->err = STS_ENOMEM;
		return;
	}
	rep->warnings = w;
	w[rep->n_warnings++] = code;
	if (!c->diags)
		return;
	struct sts_buf b;
	va_list ap;
	sts_buf_init(&b, 4096);
	sts_buf_printf(&b, "%s: ", code);
	va_start(ap, fmt);
	sts_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
			b.data[i] = '?';
	if (sts_diags_add(c->diags, STS_SEV_WARNING, rule, NULL, 0, 0, NULL, "%s",
			  sts_buf_str(&b)) < 0)
		c->err = STS_ENOMEM;
	sts_buf_release(&b);
}

static int mfail(struct mctx *c, int err, const char *rule, const char *fmt, ...) STS_PRINTF(4, 5);

static int mfail(struct mctx *c, int err, const char *rule, const char *fmt, ...)
{
	if (!c->diags)
		return err;
	struct sts_buf b;
	va_list ap;
	sts_buf_init(&b, 4096);
	va_start(ap, fmt);
	int r = sts_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
			b.data[i] = '?';
	if (r == 0)
		r = sts_diags_add(c->diags, STS_SEV_ERROR, rule, NULL, 0, 0, NULL, "%s",
				  sts_buf_str(&b));
	sts_buf_release(&b);
	return r == STS_ENOMEM ? r : err;
}

/* strdup of s with surrounding white space removed; NULL stays NULL */
static char *dup_trim(const char *s, int lower, int *err)
{
	if (!s)
		return NULL;
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n == 0)
		return NULL;
	char *d = strndup(s, n);
	if (!d) {
		*err = STS_ENOMEM;
		return NULL;
	}
	if (lower)
		for (char *p = d; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return d;
}

/* ---- Subject (E3), parsed leniently ----------------------------------- */

/* The text after "<label>" (case-insensitive), or NULL. */
static const char *after_label(const char *s, const char *label)
{
	size_t n = strlen(label);
	for (; *s; s++)
		if (strncasecmp(s, label, n) == 0)
			return s + n;
	return NULL;
}

static char *token_after(const char *s, const char *label, int *err)
{
	const char *p = after_label(s, label);
	if (!p)
		return NULL;
	p += strspn(p, " \t\r\n");
	size_t n = strcspn(p, " \t\r\n");
	if (n == 0)
		return NULL;
	char *t = strndup(p, n);
	if (!t)
		*err = STS_ENOMEM;
	return t;
}

static void parse_subject(struct mctx *c, const char *subject)
{
	struct sts_mime_reports *rep = c->rep;
	const char *p;

	rep->subject_domain = token_after(subject, "Domain:", &c->err);
	rep->subject_submitter = token_after(subject, "Submitter:", &c->err);
	if (!(p = after_label(subject, "Report-ID:")))
		return;
	p += strspn(p, " \t\r\n");
	size_t n;
	if (*p == '<') {
		p++;
		n = strcspn(p, ">");
	} else {
		n = strcspn(p, " \t\r\n");
	}
	if (n == 0)
		return;
	rep->subject_report_id = strndup(p, n);
	if (!rep->subject_report_id)
		c->err = STS_ENOMEM;
}

/* ---- header block ----------------------------------------------------- */

static void split_headers(struct mctx *c, const char *msg, size_t len)
{
	size_t i = 0, end = len, body = len;
	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t next = nl ? (size_t)(nl - msg) + 1 : len;
		size_t ll = next - i;
		if (ll == 1 || (ll == 2 && msg[i] == '\r')) {
			end = i;
			body = next;
			break;
		}
		i = next;
	}
	c->rep->raw_headers = malloc(end + 1);
	if (!c->rep->raw_headers) {
		c->err = STS_ENOMEM;
		return;
	}
	memcpy(c->rep->raw_headers, msg, end);
	c->rep->raw_headers[end] = '\0';
	c->rep->raw_headers_len = end;
	c->rep->body_offset = body;
}

static void read_headers(struct mctx *c, GMimeMessage *m)
{
	struct sts_mime_reports *rep = c->rep;
	GMimeObject *o = GMIME_OBJECT(m);

	rep->report_domain = dup_trim(g_mime_object_get_header(o, "TLS-Report-Domain"), 1, &c->err);
	rep->report_submitter =
	    dup_trim(g_mime_object_get_header(o, "TLS-Report-Submitter"), 1, &c->err);
	rep->subject = dup_trim(g_mime_message_get_subject(m), 0, &c->err);
	rep->message_id = dup_trim(g_mime_message_get_message_id(m), 0, &c->err);
	InternetAddressList *from = g_mime_message_get_from(m);
	if (from && internet_address_list_length(from) > 0) {
		InternetAddress *a = internet_address_list_get_address(from, 0);
		if (INTERNET_ADDRESS_IS_MAILBOX(a))
			rep->from =
			    dup_trim(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)),
				     0, &c->err);
	}
	GDateTime *d = g_mime_message_get_date(m);
	if (d)
		rep->date = (time_t)g_date_time_to_unix(d);
	if (rep->subject)
		parse_subject(c, rep->subject);
	if (!rep->report_domain)
		mwarn(c, "missing-tls-report-domain", "E2", "no 'TLS-Report-Domain' header field");
	if (!rep->report_submitter)
		mwarn(c, "missing-tls-report-submitter", "E2",
		      "no 'TLS-Report-Submitter' header field");
}

/*
 * GMime compares every line with each open boundary, so nesting multiplies
 * the cost (1000 levels in 20 MiB: ~25 s of CPU). Real reports have one
 * multipart. The guard runs inside GMime's parse, on the Content-Type
 * fields as GMime reads them and through GMime's own parser of the value,
 * so no spelling GMime accepts (`multipart /mixed`, a folded `multipart\n
 * /mixed`, comments) is missed: each multipart or message part counts, and
 * past STS_MIME_MAX_MULTIPARTS the input stream is ended where the parser
 * stands, so GMime stops reading.
 */
static void on_content_type(GMimeParser *parser, const char *header, const char *value,
			    gint64 offset, gpointer ud)
{
	struct mctx *c = ud;
	(void)parser;
	(void)header;
	(void)offset;
	GMimeContentType *ct = g_mime_content_type_parse(NULL, value ? value : "");
	const char *type = ct ? g_mime_content_type_get_media_type(ct) : NULL;
	/* a value GMime cannot read counts too: better one too many than one missed */
	if (!type || g_ascii_strcasecmp(type, "multipart") == 0 ||
	    g_ascii_strcasecmp(type, "message") == 0)
		c->n_containers++;
	if (ct)
		g_object_unref(ct);
	if (c->n_containers > STS_MIME_MAX_MULTIPARTS && !c->cut) {
		c->cut = true;
		g_mime_stream_set_bounds(c->stream, c->stream->bound_start,
					 g_mime_stream_tell(c->stream));
	}
}

/* ---- report parts ----------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* 2 = prescribed media type, 1 = tolerated (warn), 0 = not a report */
static int report_kind(GMimeContentType *ct, const char *filename)
{
	static const char *const loose[] = {"gzip", "x-gzip", "octet-stream", "json"};
	if (g_mime_content_type_is_type(ct, "application", "tlsrpt+gzip") ||
	    g_mime_content_type_is_type(ct, "application", "tlsrpt+json"))
		return 2;
	if (!filename || !(ends_with(filename, ".json.gz") || ends_with(filename, ".json")))
		return 0;
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++)
		if (g_mime_content_type_is_type(ct, "application", loose[i]))
			return 1;
	return 0;
}

static void take_part(struct mctx *c, GMimePart *part)
{
	struct sts_mime_reports *rep = c->rep;
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	const char *filename = g_mime_part_get_filename(part);
	int kind = report_kind(ct, filename);
	if (!kind)
		return;
	char *media = g_mime_content_type_get_mime_type(ct);
	if (kind == 1)
		mwarn(c, "report-media-type", "E1", "report '%s' sent as '%s'", filename, media);
	if (rep->n_blobs >= STS_MIME_MAX_REPORTS) {
		mwarn(c, "too-many-reports", NULL, "more than %d report parts, '%s' ignored",
		      STS_MIME_MAX_REPORTS, filename ? filename : media);
		g_free(media);
		return;
	}
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *out = g_mime_stream_mem_new();
	if (w)
		g_mime_data_wrapper_write_to_stream(w, out);
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	size_t n = bytes ? bytes->len : 0;
	if (n > STS_CAP_REPORT_COMPRESSED) {
		c->err = mfail(c, STS_ETOOLARGE, "D2", "report part '%s' is larger than %u bytes",
			       filename ? filename : media, STS_CAP_REPORT_COMPRESSED);
		goto out;
	}
	struct sts_mime_blob *b = sts_array_push(&rep->blobs, &rep->n_blobs, sizeof(*b));
	if (!b) {
		c->err = STS_ENOMEM;
		goto out;
	}
	b->data = malloc(n + 1);
	b->media_type = dup_trim(media, 1, &c->err);
	b->filename = filename ? strdup(filename) : NULL;
	if (!b->data || !b->media_type || (filename && !b->filename)) {
		c->err = STS_ENOMEM;
		goto out;
	}
	if (n)
		memcpy(b->data, bytes->data, n);
	b->data[n] = '\0';
	b->len = n;
out:
	g_object_unref(out);
	g_free(media);
}

static void walk(struct mctx *c, GMimeObject *o)
{
	if (c->err)
		return;
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n && !c->err; i++)
			walk(c, g_mime_multipart_get_part(mp, i));
	} else if (GMIME_IS_PART(o)) {
		take_part(c, GMIME_PART(o));
	}
	/* message/rfc822 and others: not opened */
}

static int check_top(struct mctx *c, GMimeObject *top)
{
	GMimeContentType *ct = g_mime_object_get_content_type(top);
	if (g_mime_content_type_is_type(ct, "multipart", "report")) {
		const char *rt = g_mime_content_type_get_parameter(ct, "report-type");
		if (!rt)
			mwarn(c, "missing-report-type", "E1",
			      "multipart/report without a 'report-type' parameter");
		else if (strcasecmp(rt, "tlsrpt") != 0)
			return mfail(c, STS_EINVALID, "E6",
				     "message is a multipart/report with report-type '%.64s', "
				     "not a tls report",
				     rt);
		return STS_OK;
	}
	if (g_mime_content_type_is_type(ct, "multipart", "*")) {
		mwarn(c, "not-multipart-report", "E1", "top-level type is multipart/%.64s",
		      g_mime_content_type_get_media_subtype(ct));
		return STS_OK;
	}
	if (g_mime_content_type_is_type(ct, "application", "tlsrpt+gzip") ||
	    g_mime_content_type_is_type(ct, "application", "tlsrpt+json")) {
		mwarn(c, "bare-report-message", "E6", "the whole message is the report");
		return STS_OK;
	}
	return STS_OK; /* a single part: walk() decides */
}

STS_API void sts_mime_reports_free(struct sts_mime_reports *r)
{
	if (!r)
		return;
	STS_FREE_ALL(r->report_domain, r->report_submitter, r->subject, r->subject_domain,
		     r->subject_submitter, r->subject_report_id, r->from, r->message_id,
		     r->raw_headers);
	for (size_t i = 0; i < r->n_blobs; i++)
		STS_FREE_ALL(r->blobs[i].media_type, r->blobs[i].filename, r->blobs[i].data);
	STS_FREE_ALL(r->blobs, r->warnings, r);
}

STS_API int sts_mime_extract_reports(const void *msg, size_t len, struct sts_mime_reports **ret,
				     struct sts_diags *diags)
{
	struct mctx c = {.diags = diags};
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *m = NULL;

	if (len > STS_CAP_MAIL)
		return mfail(&c, STS_ETOOLARGE, NULL, "message is larger than %u bytes",
			     STS_CAP_MAIL);
	pthread_once(&gmime_once, gmime_setup);
	c.rep = calloc(1, sizeof(*c.rep));
	if (!c.rep)
		return STS_ENOMEM;
	split_headers(&c, msg, len);
	if (c.err)
		goto out;
	stream = g_mime_stream_mem_new_with_buffer(msg, len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	c.stream = stream;
	/* any field whose name holds content-type: a superset of what GMime uses */
	g_mime_parser_set_header_regex(parser, "(?i)content-type", on_content_type, &c);
	m = g_mime_parser_construct_message(parser, NULL);
	if (c.cut) {
		c.err = mfail(&c, STS_ETOOLARGE, NULL,
			      "message has more than %d multipart or message parts",
			      STS_MIME_MAX_MULTIPARTS);
		goto out;
	}
	if (!m || !g_mime_message_get_mime_part(m)) {
		c.err = mfail(&c, STS_EPARSE, NULL, "input is not a MIME message");
		goto out;
	}
	read_headers(&c, m);
	if (c.err)
		goto out;
	GMimeObject *top = g_mime_message_get_mime_part(m);
	c.err = check_top(&c, top);
	if (c.err)
		goto out;
	walk(&c, top);
	if (c.err)
		goto out;
	if (c.rep->n_blobs == 0) {
		GMimeContentType *ct = g_mime_object_get_content_type(top);
		char *t = g_mime_content_type_get_mime_type(ct);
		c.err = mfail(&c, STS_EINVALID, "E1",
			      "message ('%s') has no application/tlsrpt+gzip or "
			      "application/tlsrpt+json part",
			      t);
		g_free(t);
	}
out:
	if (m)
		g_object_unref(m);
	if (parser)
		g_object_unref(parser);
	if (stream)
		g_object_unref(stream);
	if (c.err) {
		sts_mime_reports_free(c.rep);
		return c.err;
	}
	*ret = c.rep;
	return STS_OK;
}
