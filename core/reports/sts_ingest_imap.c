/* SPDX-License-Identifier: MIT */
/*
 * IMAP source through libcurl: imap:// with STARTTLS required, or imaps://;
 * the certificate is always verified. UID SEARCH finds the unprocessed
 * messages (UNSEEN, or ALL when processed ones are moved away), each is
 * fetched (at most STS_CAP_MAIL), stored and committed, and only then
 * marked processed (\Seen, or UID MOVE), so a crash never loses a report:
 * at worst it is read again and found a duplicate.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_ingest_int.h"
#include "sts_secret.h"

#define IMAP_DEFAULT_MAX    10000
#define IMAP_SEARCH_CAP	    (16u << 20)
#define IMAP_CONNECT_MS	    15000L
#define IMAP_LOW_SPEED_SECS 60L

struct imap {
	struct sts_ingest *ing;
	const struct sts_ingest_source *src;
	CURL *c;
	char *base;    /* scheme://[user@]host[:port]/MAILBOX */
	char *display; /* base without credentials, for events and messages */
	struct sts_buf body;
	char errbuf[CURL_ERROR_SIZE];
	bool overflow;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct imap *m = ud;
	size_t len = size * n;
	if (sts_buf_append(&m->body, p, len) < 0) {
		m->overflow = true;
		return 0;
	}
	return len;
}

static int map_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return STS_OK;
	case CURLE_LOGIN_DENIED:
		return STS_EAUTH;
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return STS_ETLS;
	case CURLE_OPERATION_TIMEDOUT:
		return STS_ETIMEOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return STS_EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return STS_ENOMEM;
	case CURLE_WRITE_ERROR:
		return STS_ETOOLARGE;
	default:
		return STS_ENET;
	}
}

/* one IMAP operation on the mailbox URL (or url), answer in m->body */
static int run(struct imap *m, const char *url, const char *custom, size_t cap)
{
	sts_buf_release(&m->body);
	sts_buf_init(&m->body, cap);
	m->overflow = false;
	m->errbuf[0] = '\0';
	curl_easy_setopt(m->c, CURLOPT_URL, url ? url : m->base);
	curl_easy_setopt(m->c, CURLOPT_CUSTOMREQUEST, custom);
	CURLcode rc = curl_easy_perform(m->c);
	return map_curl(rc);
}

static const char *why(struct imap *m, int r)
{
	if (r == STS_ETLS && !m->errbuf[0])
		return "TLS failed (STARTTLS is required)";
	return m->errbuf[0] ? m->errbuf : sts_strerror(r);
}

/* the mailbox URL without a trailing '/' (INBOX when none), and its display form */
static int urls(struct imap *m)
{
	const char *spec = m->src->spec;
	CURLU *u = curl_url();
	char *path = NULL, *disp = NULL;
	int r = STS_EINVAL;
	if (!u || curl_url_set(u, CURLUPART_URL, spec, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	if (strcmp(path, "/") == 0 || n == 0) {
		if (curl_url_set(u, CURLUPART_PATH, "/INBOX", 0) != CURLUE_OK)
			goto out;
	} else if (curl_url_set(u, CURLUPART_PATH, path, 0) != CURLUE_OK) {
		goto out;
	}
	curl_url_set(u, CURLUPART_QUERY, NULL, 0);
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	char *full = NULL;
	if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
		goto out;
	m->base = strdup(full);
	curl_free(full);
	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &disp, 0) != CURLUE_OK)
		goto out;
	m->display = strdup(disp);
	r = m->base && m->display ? STS_OK : STS_ENOMEM;
out:
	curl_free(path);
	curl_free(disp);
	curl_url_cleanup(u);
	return r;
}

static int setup(struct imap *m)
{
	const struct sts_ingest_source *s = m->src;
	int r = urls(m);
	if (r < 0)
		return r;
	if (!(m->c = curl_easy_init()))
		return STS_ENOMEM;
	curl_easy_setopt(m->c, CURLOPT_PROTOCOLS_STR, "imap,imaps");
	curl_easy_setopt(m->c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(m->c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(m->c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->ca_file)
		curl_easy_setopt(m->c, CURLOPT_CAINFO, s->ca_file);
	curl_easy_setopt(m->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(m->c, CURLOPT_CONNECTTIMEOUT_MS, IMAP_CONNECT_MS);
	curl_easy_setopt(m->c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(m->c, CURLOPT_LOW_SPEED_TIME, IMAP_LOW_SPEED_SECS);
	curl_easy_setopt(m->c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(m->c, CURLOPT_WRITEDATA, m);
	curl_easy_setopt(m->c, CURLOPT_ERRORBUFFER, m->errbuf);
	if (s->user)
		curl_easy_setopt(m->c, CURLOPT_USERNAME, s->user);
	if (s->password) {
		struct sts_secret *sec = NULL;
		const char *err = NULL;
		const char *basedir = m->ing->conf ? m->ing->conf->basedir : NULL;
		if (sts_secret_is_ref(s->password)) {
			if (sts_secret_resolve(s->password, basedir, &sec, &err) < 0) {
				ing_source_error(m->ing, m->display, STS_ESECRET,
						 "'%s': password: %s", m->display, err);
				return STS_ESECRET;
			}
			curl_easy_setopt(m->c, CURLOPT_PASSWORD, sts_secret_value(sec));
			sts_secret_free(sec); /* libcurl keeps its own copy */
		} else {
			curl_easy_setopt(m->c, CURLOPT_PASSWORD, s->password);
		}
	}
	return STS_OK;
}

/* "* SEARCH 3 7 9" lines -> UIDs (ascending as the server sent them) */
STS_TESTABLE int sts_imap_parse_search(const char *text, unsigned long **ret, size_t *ret_n,
				       size_t max)
{
	size_t n = 0, cap = 0;
	unsigned long *v = NULL;
	for (const char *l = text; l && *l;) {
		const char *e = strchr(l, '\n');
		if (strncmp(l, "* SEARCH", 8) == 0) {
			const char *p = l + 8;
			while (n < max && p < (e ? e : p + strlen(p))) {
				char *end;
				while (*p == ' ')
					p++;
				/* digits only: strtoul would take a sign, or skip the line end */
				if (*p < '0' || *p > '9')
					break;
				unsigned long uid = strtoul(p, &end, 10);
				if (uid == 0 || uid > 0xffffffffUL) /* nz-number (RFC 3501) */
					break;
				if (sts_array_grow(&v, n, &cap, sizeof(*v), 64) < 0) {
					free(v);
					return STS_ENOMEM;
				}
				v[n++] = uid;
				p = end;
			}
		}
		l = e ? e + 1 : NULL;
	}
	*ret = v;
	*ret_n = n;
	return STS_OK;
}

/* an IMAP quoted string */
static char *quoted(const char *s)
{
	struct sts_buf b;
	sts_buf_init(&b, 4096);
	int r = sts_buf_putc(&b, '"');
	for (; r == STS_OK && *s; s++) {
		if (*s == '"' || *s == '\\')
			r = sts_buf_putc(&b, '\\');
		if (r == STS_OK)
			r = sts_buf_putc(&b, *s == '\r' || *s == '\n' ? ' ' : *s);
	}
	if (r == STS_OK)
		r = sts_buf_putc(&b, '"');
	if (r < 0) {
		sts_buf_release(&b);
		return NULL;
	}
	return sts_buf_steal(&b);
}

static int mark_processed(struct imap *m, unsigned long uid)
{
	char cmd[512];
	int r;
	if (m->src->processed == STS_IMAP_MOVE) {
		char *mb = quoted(m->src->move_to);
		if (!mb)
			return STS_ENOMEM;
		snprintf(cmd, sizeof(cmd), "UID MOVE %lu %s", uid, mb);
		r = run(m, NULL, cmd, 1u << 20);
		if (r != STS_OK) { /* no MOVE (RFC 6851): copy, delete, expunge */
			snprintf(cmd, sizeof(cmd), "UID COPY %lu %s", uid, mb);
			r = run(m, NULL, cmd, 1u << 20);
			snprintf(cmd, sizeof(cmd), "UID STORE %lu +FLAGS.SILENT (\\Deleted)", uid);
			if (r == STS_OK)
				r = run(m, NULL, cmd, 1u << 20);
			if (r == STS_OK)
				r = run(m, NULL, "EXPUNGE", 1u << 20);
		}
		free(mb);
	} else {
		snprintf(cmd, sizeof(cmd), "UID STORE %lu +FLAGS.SILENT (\\Seen)", uid);
		r = run(m, NULL, cmd, 1u << 20);
	}
	return r;
}

static int unmark(struct imap *m, unsigned long uid)
{
	char cmd[128];
	if (m->src->processed == STS_IMAP_MOVE)
		return STS_OK;
	snprintf(cmd, sizeof(cmd), "UID STORE %lu -FLAGS.SILENT (\\Seen)", uid);
	return run(m, NULL, cmd, 1u << 20);
}

static int one_message(struct imap *m, unsigned long uid)
{
	char *url = NULL, *src = NULL;
	struct ing_prep p;
	memset(&p, 0, sizeof(p));
	int r = STS_ENOMEM;
	if (asprintf(&url, "%s;UID=%lu", m->base, uid) < 0 ||
	    asprintf(&src, "%s;UID=%lu", m->display, uid) < 0)
		goto out;
	r = run(m, url, NULL, ING_MSG_CAP);
	m->ing->st.inputs++;
	if (r == STS_ETOOLARGE && m->overflow) {
		char reason[96];
		snprintf(reason, sizeof(reason), "message is larger than %u bytes", ING_MSG_CAP);
		r = ing_prep_oversize(STS_CH_IMAP, src, m->body.len, reason, &p);
	} else if (r < 0) {
		ing_source_error(m->ing, src, r, "cannot fetch '%s': %s", src, why(m, r));
		goto out;
	} else {
		r = ing_prep_message(m->ing, m->body.data ? m->body.data : "", m->body.len,
				     STS_CH_IMAP, src, &p);
	}
	if (r < 0)
		goto out;
	enum sts_ingest_outcome oc;
	r = ing_store(m->ing, &p, &oc);
	if (r == STS_OK)
		r = ing_commit(m->ing);
	if (r < 0 || oc == STS_INGEST_REFUSED) {
		unmark(m, uid); /* read again next time */
		goto out;
	}
	int mr = mark_processed(m, uid);
	if (mr < 0)
		ing_source_error(m->ing, src, mr, "cannot mark '%s' as processed: %s", src,
				 why(m, mr));
out:
	ing_prep_release(&p);
	free(url);
	free(src);
	return r;
}

STS_API int sts_ingest_imap(struct sts_ingest *ing, const struct sts_ingest_source *src)
{
	struct imap m = {.ing = ing, .src = src};
	unsigned long *uids = NULL;
	size_t n = 0;
	sts_buf_init(&m.body, 1);
	int r = setup(&m);
	if (r < 0) {
		if (r == STS_EINVAL)
			ing_set_err(ing, "invalid IMAP URL '%s'", src->spec);
		goto out;
	}
	if ((r = ing_commit(ing)) < 0) /* this source commits per message */
		goto out;
	r = run(&m, NULL, src->processed == STS_IMAP_MOVE ? "UID SEARCH ALL" : "UID SEARCH UNSEEN",
		IMAP_SEARCH_CAP);
	if (r < 0) {
		ing_set_err(ing, "'%s': %s", m.display, why(&m, r));
		goto out;
	}
	unsigned max = src->max_messages ? src->max_messages : IMAP_DEFAULT_MAX;
	if ((r = sts_imap_parse_search(sts_buf_str(&m.body), &uids, &n, max)) < 0)
		goto out;
	for (size_t i = 0; i < n && r == STS_OK; i++)
		r = one_message(&m, uids[i]);
out:
	free(uids);
	sts_buf_release(&m.body);
	if (m.c)
		curl_easy_cleanup(m.c);
	free(m.base);
	free(m.display);
	return r;
}
