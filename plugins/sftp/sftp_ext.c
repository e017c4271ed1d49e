/* SPDX-License-Identifier: MIT */
/*
 * posix-rename@openssh.com, which libssh2 1.10 cannot send: a second
 * channel on the same SSH connection running the "sftp" subsystem, spoken
 * here directly (SFTP version 3, draft-ietf-secsh-filexfer-02): INIT, the
 * server's VERSION with its extension list, then one EXTENDED request per
 * rename answered by a STATUS. Plain SSH_FXP_RENAME (what libssh2 sends)
 * refuses to replace an existing file on OpenSSH; posix-rename is
 * rename(2), atomic. Every read is bounded by the announced packet length
 * (at most PKT_MAX) and the session timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sftp.h"

#define FXP_INIT     1
#define FXP_VERSION  2
#define FXP_STATUS   101
#define FXP_EXTENDED 200
#define PKT_MAX	     (256u * 1024u)

#define POSIX_RENAME "posix-rename@openssh.com"
#define STATVFS	     "statvfs@openssh.com"

static void put32(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A bounded reader over one packet. */
struct rd {
	const unsigned char *p;
	size_t n;
	bool bad;
};

static uint32_t rd32(struct rd *r)
{
	if (r->bad || r->n < 4) {
		r->bad = true;
		return 0;
	}
	uint32_t v = get32(r->p);
	r->p += 4;
	r->n -= 4;
	return v;
}

static const unsigned char *rdstr(struct rd *r, uint32_t *len)
{
	*len = rd32(r);
	if (r->bad || *len > r->n) {
		r->bad = true;
		return NULL;
	}
	const unsigned char *s = r->p;
	r->p += *len;
	r->n -= *len;
	return s;
}

static int ch_write(struct sftp *s, const unsigned char *b, size_t n)
{
	size_t off = 0;
	/* each round moves at least one byte or fails: at most n rounds */
	for (size_t round = 0; off < n && round <= n; round++) {
		ssize_t w = libssh2_channel_write(s->k.ext.ch, (const char *)b + off, n - off);
		if (w <= 0)
			return w < 0 ? (int)w : LIBSSH2_ERROR_CHANNEL_CLOSED;
		off += (size_t)w;
	}
	return off == n ? 0 : LIBSSH2_ERROR_CHANNEL_FAILURE;
}

static int ch_read(struct sftp *s, unsigned char *b, size_t n)
{
	size_t off = 0;
	for (size_t round = 0; off < n && round <= n; round++) {
		ssize_t g = libssh2_channel_read(s->k.ext.ch, (char *)b + off, n - off);
		if (g <= 0)
			return g < 0 ? (int)g : LIBSSH2_ERROR_CHANNEL_CLOSED;
		off += (size_t)g;
	}
	return off == n ? 0 : LIBSSH2_ERROR_CHANNEL_FAILURE;
}

/* Read one packet into *ret (malloc'd, without the length), *ret_n bytes. */
static int read_packet(struct sftp *s, unsigned char **ret, size_t *ret_n)
{
	unsigned char hdr[4];
	int rc = ch_read(s, hdr, 4);
	if (rc < 0)
		return rc;
	uint32_t len = get32(hdr);
	if (len == 0 || len > PKT_MAX)
		return LIBSSH2_ERROR_PROTO;
	unsigned char *b = malloc(len);
	if (!b)
		return LIBSSH2_ERROR_ALLOC;
	if ((rc = ch_read(s, b, len)) < 0) {
		free(b);
		return rc;
	}
	*ret = b;
	*ret_n = len;
	return 0;
}

void sftp_ext_close(struct sftp_ext *e)
{
	if (e->ch) {
		libssh2_channel_close(e->ch);
		libssh2_channel_free(e->ch);
	}
	memset(e, 0, sizeof(*e));
}

static int ext_fail(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s, int rc,
		    const char *what)
{
	char *m = NULL;
	libssh2_session_last_error(s->k.ss, &m, NULL, 0);
	sts_plugin_log(p, STS_PLOG_DEBUG, "sftp extension channel on '%s': %s: %s (%d)", s->name,
		       what, m && *m ? m : "error", rc);
	sftp_ext_close(&s->k.ext);
	s->k.ext.tried = true;
	return rc;
}

/* Open the channel once per connection and learn the server's extensions. */
int sftp_ext_open(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s)
{
	struct sftp_ext *e = &s->k.ext;
	if (e->tried)
		return e->ch ? 0 : LIBSSH2_ERROR_CHANNEL_FAILURE;
	e->tried = true;
	e->ch = libssh2_channel_open_session(s->k.ss);
	if (!e->ch)
		return ext_fail(p, call, s, libssh2_session_last_errno(s->k.ss),
				"cannot open a channel");
	int rc = libssh2_channel_subsystem(e->ch, "sftp");
	if (rc < 0)
		return ext_fail(p, call, s, rc, "no sftp subsystem");
	unsigned char init[9];
	put32(init, 5);
	init[4] = FXP_INIT;
	put32(init + 5, 3);
	if ((rc = ch_write(s, init, sizeof(init))) < 0)
		return ext_fail(p, call, s, rc, "cannot send INIT");
	unsigned char *pk = NULL;
	size_t n = 0;
	if ((rc = read_packet(s, &pk, &n)) < 0)
		return ext_fail(p, call, s, rc, "no VERSION");
	struct rd r = {pk + 1, n - 1, false};
	if (pk[0] != FXP_VERSION) {
		free(pk);
		return ext_fail(p, call, s, LIBSSH2_ERROR_PROTO, "not a VERSION packet");
	}
	uint32_t version = rd32(&r);
	/* extension pairs: name, data; at most as many as fit in the packet */
	while (!r.bad && r.n > 0) {
		uint32_t nl, dl;
		const unsigned char *name = rdstr(&r, &nl);
		rdstr(&r, &dl);
		if (r.bad)
			break;
		if (nl == strlen(POSIX_RENAME) && memcmp(name, POSIX_RENAME, nl) == 0)
			e->posix_rename = true;
		if (nl == strlen(STATVFS) && memcmp(name, STATVFS, nl) == 0)
			e->statvfs = true;
	}
	free(pk);
	e->next_id = 1;
	sts_plugin_log(p, STS_PLOG_DEBUG, "sftp version %u on '%s'; posix-rename %s", version,
		       s->name, e->posix_rename ? "yes" : "no");
	return 0;
}

static int fx_error(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		    uint32_t code, const char *msg, const char *from, const char *to)
{
	switch (code) {
	case LIBSSH2_FX_PERMISSION_DENIED:
	case LIBSSH2_FX_WRITE_PROTECT:
		sts_plugin_error(call, "permission denied renaming '%s' to '%s' on '%s'", from, to,
				 s->name);
		return STS_PLUGIN_EACCES;
	case LIBSSH2_FX_NO_SUCH_FILE:
	case LIBSSH2_FX_NO_SUCH_PATH:
		sts_plugin_error(call, "cannot rename '%s' on '%s': it is gone", from, s->name);
		return STS_PLUGIN_EPROVIDER;
	default:
		sts_plugin_error(call, "cannot rename '%s' to '%s' on '%s': %s (sftp status %u)",
				 from, to, s->name, msg[0] ? msg : "failure", code);
		return STS_PLUGIN_EPROVIDER;
	}
}

int sftp_ext_posix_rename(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
			  const char *from, const char *to, enum sftp_fail *how)
{
	struct sftp_ext *e = &s->k.ext;
	int rc = sftp_ext_open(p, call, s);
	if (rc < 0 || !e->posix_rename || s->c.no_posix_rename)
		return STS_PLUGIN_EUNSUPPORTED;
	size_t fl = strlen(from), tl = strlen(to), nl = strlen(POSIX_RENAME);
	size_t len = 1 + 4 + 4 + nl + 4 + fl + 4 + tl;
	if (fl > SFTP_PATH_MAX || tl > SFTP_PATH_MAX)
		return STS_PLUGIN_EINVAL;
	unsigned char *b = malloc(4 + len), *q = b;
	if (!b)
		return STS_PLUGIN_ENOMEM;
	uint32_t id = e->next_id++;
	put32(q, (uint32_t)len);
	q[4] = FXP_EXTENDED;
	put32(q + 5, id);
	q += 9;
	put32(q, (uint32_t)nl);
	memcpy(q + 4, POSIX_RENAME, nl);
	q += 4 + nl;
	put32(q, (uint32_t)fl);
	memcpy(q + 4, from, fl);
	q += 4 + fl;
	put32(q, (uint32_t)tl);
	memcpy(q + 4, to, tl);
	rc = ch_write(s, b, 4 + len);
	free(b);
	unsigned char *pk = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = read_packet(s, &pk, &n);
	if (rc < 0) {
		*how = SFTP_FAIL_TRANSPORT;
		sts_plugin_error(call, "connection to '%s' lost while renaming '%s'", s->name,
				 from);
		sftp_ext_close(e);
		e->tried = true;
		return rc == LIBSSH2_ERROR_TIMEOUT ? STS_PLUGIN_ETIMEOUT : STS_PLUGIN_ENET;
	}
	struct rd r = {pk + 1, n - 1, false};
	uint32_t got_id = rd32(&r), code = rd32(&r), ml = 0;
	bool ok = pk[0] == FXP_STATUS && got_id == id && !r.bad;
	const unsigned char *m = ok ? rdstr(&r, &ml) : NULL; /* the message is optional */
	char msg[256] = "";
	if (m)
		snprintf(msg, sizeof(msg), "%.*s", (int)(ml < 200 ? ml : 200), (const char *)m);
	free(pk);
	if (!ok) {
		*how = SFTP_FAIL_TRANSPORT;
		sts_plugin_error(call, "unexpected answer from '%s' to posix-rename", s->name);
		sftp_ext_close(e);
		e->tried = true;
		return STS_PLUGIN_EPROVIDER;
	}
	if (code == LIBSSH2_FX_OK)
		return STS_PLUGIN_OK;
	*how = SFTP_FAIL_FINAL;
	return fx_error(p, call, s, code, msg, from, to);
}
