/* SPDX-License-Identifier: MIT */
/* The HTTPS policy fetch as a sender does it (sts_fetch.h, RFC 8461 §3.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts_err.h"
#include "sts_fetch.h"

STS_API void sts_policy_fetch_release(struct sts_policy_fetch *f)
{
	free(f->content_type);
	free(f->location);
	sts_buf_release(&f->body);
	f->content_type = f->location = NULL;
}

static int dup_header(const struct sts_http_resp *resp, const char *name, char **ret)
{
	const char *v = sts_http_resp_header(resp, name);
	*ret = v ? strdup(v) : NULL;
	return v && !*ret ? STS_ENOMEM : STS_OK;
}

STS_API int sts_fetch_policy(struct sts_http *h, const char *host, unsigned port,
			     const char *const *addrs, size_t n_addrs, struct sts_policy_fetch *ret)
{
	memset(ret, 0, sizeof(*ret));
	sts_buf_init(&ret->body, STS_CAP_POLICY);
	if (!port)
		port = 443;
	struct sts_buf url, res;
	sts_buf_init(&url, 1024);
	sts_buf_init(&res, 64u * 1024u);
	int r = sts_buf_printf(&url, "https://%s", host);
	if (r == STS_OK && port != 443)
		r = sts_buf_printf(&url, ":%u", port);
	if (r == STS_OK)
		r = sts_buf_puts(&url, "/.well-known/mta-sts.txt");
	if (r == STS_OK && n_addrs)
		r = sts_buf_printf(&res, "%s:%u:", host, port);
	for (size_t i = 0; r == STS_OK && i < n_addrs; i++)
		r = sts_buf_printf(&res, strchr(addrs[i], ':') ? "%s[%s]" : "%s%s", i ? "," : "",
				   addrs[i]);
	if (r < 0) {
		r = STS_ENOMEM;
		goto out;
	}
	const char *resolve[] = {sts_buf_str(&res), NULL};
	struct sts_http_xreq x = {.resolve = n_addrs ? resolve : NULL,
				  .https_only = true,
				  .fresh = true,
				  .no_proxy = true,
				  .tls_min_1_2 = true,
				  .peer_name = host,
				  .ret_peer = &ret->peer};
	struct sts_http_req req = {.url = sts_buf_str(&url),
				   .max_response = STS_CAP_POLICY,
				   .max_attempts = 1,
				   .follow_redirects = false};
	struct sts_http_resp resp;
	r = sts_http_do_ex(h, &req, &x, &resp);
	if (r == STS_OK) {
		ret->status = resp.status;
		r = dup_header(&resp, "Content-Type", &ret->content_type);
		if (r == STS_OK)
			r = dup_header(&resp, "Location", &ret->location);
		if (r == STS_OK) {
			sts_buf_release(&ret->body);
			ret->body = resp.body; /* moved */
			sts_buf_init(&resp.body, STS_CAP_POLICY);
		}
	}
	sts_http_resp_release(&resp);
out:
	sts_buf_release(&url);
	sts_buf_release(&res);
	return r;
}

STS_API bool sts_fetch_text_plain(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == 10 && strncasecmp(ct, "text/plain", 10) == 0;
}

static int fail(char **reterr, int r, const char *fmt, const char *a)
{
	if (reterr && asprintf(reterr, fmt, a) < 0)
		*reterr = NULL;
	return r;
}

STS_API int sts_policy_fetch_accept(const struct sts_policy_fetch *f, char **reterr)
{
	char st[32];
	snprintf(st, sizeof(st), "%ld", f->status);
	if (f->status != 200)
		return fail(reterr, STS_EVERIFY, "HTTP status %s, expected 200", st);
	if (!sts_fetch_text_plain(f->content_type))
		return fail(reterr, STS_EVERIFY, "Content-Type '%s', expected text/plain",
			    f->content_type ? f->content_type : "");
	return STS_OK;
}

/* Why the transfer failed, in words. */
static int transfer_error(int r, const char *host, const struct sts_http_peer *p, char **reterr)
{
	if (r == STS_ETOOLARGE)
		return fail(reterr, r, "%s", "policy larger than 64 KiB");
	if (r == STS_ETLS && p->have_cert && !p->chain_ok)
		return fail(reterr, r, "certificate not trusted: %s", p->verify_msg);
	if (r == STS_ETLS && p->have_cert && !p->name_ok)
		return fail(reterr, r, "the certificate does not name '%s'", host);
	return fail(reterr, r, "%s", r == STS_ETLS ? "TLS handshake failed" : sts_strerror(r));
}

/* apply's resolve: "IP", "IP:PORT", "[IPv6]:PORT" or a bare IPv6 -> address, port. */
static int split_resolve(const char *s, char *addr, size_t n, unsigned *port)
{
	const char *colon = strrchr(s, ':');
	bool bare6 = colon && strchr(s, ':') != colon && s[0] != '[';
	*port = 443;
	if (!colon || bare6)
		return snprintf(addr, n, "%s", s) < (int)n ? STS_OK : STS_EINVAL;
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end || p == 0 || p > 65535)
		return STS_EINVAL;
	*port = (unsigned)p;
	size_t len = (size_t)(colon - s);
	if (s[0] == '[' && len >= 2 && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len >= n)
		return STS_EINVAL;
	memcpy(addr, s, len);
	addr[len] = '\0';
	return STS_OK;
}

STS_API int sts_https_fetch_policy(const char *host, const char *ca_file, const char *resolve,
				   struct sts_buf *ret, char **reterr)
{
	char addr[128];
	unsigned port = 443;
	const char *addrs[] = {addr};
	if (resolve && split_resolve(resolve, addr, sizeof(addr), &port) < 0)
		return fail(reterr, STS_EINVAL, "cannot use '%s' as an address", resolve);
	struct sts_http_opts ho = {.ca_file = ca_file,
				   .user_agent = "stsctl (policy verification)",
				   .connect_timeout_ms = 10000,
				   .timeout_ms = 30000,
				   .max_response = STS_CAP_POLICY,
				   .max_attempts = 1,
				   .max_total_ms = 31000};
	struct sts_http *h;
	int r = sts_http_new(&ho, &h);
	if (r < 0)
		return r;
	struct sts_policy_fetch f;
	r = sts_fetch_policy(h, host, port, addrs, resolve ? 1 : 0, &f);
	if (r < 0 && r != STS_ENOMEM)
		transfer_error(r, host, &f.peer, reterr);
	else if (r == STS_OK)
		r = sts_policy_fetch_accept(&f, reterr);
	if (r == STS_OK)
		r = sts_buf_append(ret, f.body.data, f.body.len);
	sts_policy_fetch_release(&f);
	sts_http_free(h);
	return r;
}
