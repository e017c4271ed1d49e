/* SPDX-License-Identifier: MIT */
/*
 * The SSH connection of the sftp plugin: TCP connect with a timeout, the
 * SSH handshake offering only the host key types known_hosts has for the
 * server, the strict host key check (no trust on first use; an unknown or
 * different key names its SHA-256 fingerprint as OpenSSH prints it), and
 * public key authentication with a key file or the SSH agent.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sftp.h"

#define KNOWN_HOSTS_MAX (4u << 20) /* bytes read from known_hosts */
#define KH_LINE_MAX	16384

/* Fail the connect: the message goes to the caller; sticky errors repeat without reconnecting. */
static int conn_fail(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s, int r,
		     bool sticky, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int conn_fail(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s, int r,
		     bool sticky, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	sts_plugin_error(call, "%s", msg ? msg : "cannot connect");
	if (sticky) {
		free(s->sticky_msg);
		s->sticky = r;
		s->sticky_msg = msg;
	} else {
		free(msg);
	}
	return r;
}

static const char *ssh_errmsg(LIBSSH2_SESSION *ss)
{
	char *m = NULL;
	libssh2_session_last_error(ss, &m, NULL, 0);
	return m && *m ? m : "unknown error";
}

bool sftp_transport_error(int rc)
{
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_NONE:
	case LIBSSH2_ERROR_BANNER_RECV:
	case LIBSSH2_ERROR_BANNER_SEND:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_CHANNEL_CLOSED:
	case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
	case LIBSSH2_ERROR_CHANNEL_FAILURE:
	case LIBSSH2_ERROR_BAD_SOCKET:
		return true;
	default:
		return false;
	}
}

/* ---- base64 and fingerprints (OpenSSH's "SHA256:..." form) ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sftp_base64_encode(const unsigned char *in, size_t n, char *out, size_t outsz, bool pad)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		size_t k = n - i < 3 ? n - i : 3;
		if (k > 1)
			v |= (unsigned)in[i + 1] << 8;
		if (k > 2)
			v |= in[i + 2];
		char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], b64[(v >> 6) & 63],
			     b64[v & 63]};
		size_t emit = k + 1;
		for (size_t j = 0; j < 4; j++) {
			if (j >= emit && !pad)
				break;
			if (o + 1 >= outsz)
				goto out;
			out[o++] = j < emit ? q[j] : '=';
		}
	}
out:
	if (outsz)
		out[o < outsz ? o : outsz - 1] = '\0';
	return o;
}

int sftp_base64_decode(const char *in, size_t n, unsigned char *out, size_t outsz, size_t *ret_n)
{
	unsigned v = 0, bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		const char *c = in[i] ? strchr(b64, in[i]) : NULL;
		if (in[i] == '=')
			break;
		if (!c)
			return -1;
		v = (v << 6) | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outsz)
				return -1;
			out[o++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	*ret_n = o;
	return 0;
}

void sftp_fingerprint_sha256(const unsigned char *digest32, char *out, size_t n)
{
	if (n < 8)
		return;
	memcpy(out, "SHA256:", 7);
	sftp_base64_encode(digest32, 32, out + 7, n - 7, false); /* 43 characters */
}

/* Fingerprint of a base64 key blob as known_hosts stores it; "" when not decodable. */
static void fingerprint_b64(const char *key_b64, char *out, size_t n)
{
	unsigned char blob[4096], md[EVP_MAX_MD_SIZE];
	size_t len = 0;
	unsigned mdlen = 0;
	out[0] = '\0';
	if (!key_b64 || sftp_base64_decode(key_b64, strlen(key_b64), blob, sizeof(blob), &len) < 0)
		return;
	if (EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return;
	sftp_fingerprint_sha256(md, out, n);
}

/* ---- host key types ---- */

struct keytype {
	int hostkey;	  /* LIBSSH2_HOSTKEY_TYPE_* */
	int knownhost;	  /* LIBSSH2_KNOWNHOST_KEY_* */
	const char *name; /* SSH algorithm name */
};

static const struct keytype keytypes[] = {
    {LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521"},
    {LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa"},
    {LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss"},
};
#define N_KEYTYPES (sizeof(keytypes) / sizeof(keytypes[0]))

static const struct keytype *keytype_of(int hostkey_type)
{
	for (size_t i = 0; i < N_KEYTYPES; i++)
		if (keytypes[i].hostkey == hostkey_type)
			return &keytypes[i];
	return NULL;
}

/*
 * Read known_hosts line by line: lines libssh2 cannot take (markers such
 * as @cert-authority, key types it does not know) are skipped instead of
 * failing the whole file; @revoked keys are collected into revoked (one
 * base64 key per line) so that such a key is refused even when listed.
 */
static int read_known_hosts(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
			    LIBSSH2_KNOWNHOSTS *kh, char **revoked)
{
	FILE *f = fopen(s->c.known_hosts, "re");
	char *line = NULL;
	size_t cap = 0, total = 0, rlen = 0;
	unsigned n = 0, skipped = 0;
	ssize_t len;
	*revoked = NULL;
	if (!f)
		return conn_fail(p, call, s, STS_PLUGIN_EINVAL, true,
				 "cannot read known_hosts '%s': %s", s->c.known_hosts,
				 strerror(errno));
	while ((len = getline(&line, &cap, f)) >= 0) {
		total += (size_t)len;
		n++;
		if (total > KNOWN_HOSTS_MAX || len > KH_LINE_MAX) {
			fclose(f);
			free(line);
			return conn_fail(p, call, s, STS_PLUGIN_ETOOLARGE, true,
					 "known_hosts '%s' is too large (line %u)",
					 s->c.known_hosts, n);
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *t = line + strspn(line, " \t");
		if (*t == '\0' || *t == '#')
			continue;
		if (strncmp(t, "@revoked", 8) == 0 && (t[8] == ' ' || t[8] == '\t')) {
			/* @revoked PATTERNS TYPE KEY */
			char pat[1024], type[64], key[8192];
			if (sscanf(t + 8, " %1023s %63s %8191s", pat, type, key) == 3) {
				size_t kl = strlen(key);
				char *v = realloc(*revoked, rlen + kl + 2);
				if (v) {
					*revoked = v;
					memcpy(v + rlen, key, kl);
					v[rlen + kl] = '\n';
					v[rlen + kl + 1] = '\0';
					rlen += kl + 1;
				}
			}
			continue;
		}
		if (*t == '@' || libssh2_knownhost_readline(kh, t, strlen(t),
							    LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0)
			skipped++;
	}
	fclose(f);
	free(line);
	if (skipped)
		sts_plugin_log(p, STS_PLOG_DEBUG,
			       "known_hosts '%s': %u lines not understood, skipped",
			       s->c.known_hosts, skipped);
	return STS_PLUGIN_OK;
}

/* Is there a known_hosts entry for the server with this key type (any key)? */
static bool known_type(struct sftp *s, LIBSSH2_KNOWNHOSTS *kh, int knownhost_type)
{
	/* a key that is never right: MISMATCH means "an entry of this type exists" */
	static const char dummy[] = "\0\0\0\0";
	int rc = libssh2_knownhost_checkp(
	    kh, s->kh_name, -1, dummy, sizeof(dummy) - 1,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | knownhost_type, NULL);
	return rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH || rc == LIBSSH2_KNOWNHOST_CHECK_MATCH;
}

/* "ssh-ed25519,ecdsa-sha2-nistp256": the types known_hosts has for the server. */
static void known_types(struct sftp *s, LIBSSH2_KNOWNHOSTS *kh, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < N_KEYTYPES; i++) {
		if (!known_type(s, kh, keytypes[i].knownhost))
			continue;
		int w = snprintf(out + o, n - o, "%s%s", o ? "," : "", keytypes[i].name);
		if (w < 0 || (size_t)w >= n - o)
			break;
		o += (size_t)w;
	}
}

static int check_host_key(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
			  LIBSSH2_KNOWNHOSTS *kh, const char *revoked)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(s->k.ss, &len, &type);
	const unsigned char *md =
	    (const unsigned char *)libssh2_hostkey_hash(s->k.ss, LIBSSH2_HOSTKEY_HASH_SHA256);
	const struct keytype *kt = keytype_of(type);
	char fp[64];
	if (!key || !md)
		return conn_fail(p, call, s, STS_PLUGIN_EPROVIDER, false, "no host key from '%s'",
				 s->name);
	sftp_fingerprint_sha256(md, fp, sizeof(fp));
	snprintf(s->k.fingerprint, sizeof(s->k.fingerprint), "%s %s", kt ? kt->name : "unknown",
		 fp);
	if (!kt)
		return conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
				 "host key of '%s' has a type libssh2 does not know (%s)", s->name,
				 fp);
	if (revoked) {
		char enc[8192];
		sftp_base64_encode((const unsigned char *)key, len, enc, sizeof(enc), true);
		for (const char *r = revoked; *r;) {
			const char *nl = strchr(r, '\n');
			size_t rl = nl ? (size_t)(nl - r) : strlen(r);
			if (rl == strlen(enc) && memcmp(r, enc, rl) == 0)
				return conn_fail(
				    p, call, s, STS_PLUGIN_EAUTH, true,
				    "host key of '%s' is marked @revoked in '%s': %s %s", s->name,
				    s->c.known_hosts, kt->name, fp);
			r += rl + (nl ? 1 : 0);
		}
	}
	struct libssh2_knownhost *found = NULL;
	int rc = libssh2_knownhost_checkp(
	    kh, s->kh_name, -1, key, len,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kt->knownhost, &found);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		return STS_PLUGIN_OK;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: {
		char want[64];
		fingerprint_b64(found ? found->key : NULL, want, sizeof(want));
		return conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
				 "host key mismatch for '%s': the server offered %s %s, but "
				 "known_hosts '%s' lists %s for '%s' (someone may be intercepting "
				 "the connection, or the host key changed)",
				 s->name, kt->name, fp, s->c.known_hosts,
				 want[0] ? want : "another key", s->kh_name);
	}
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		return conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
				 "host key of '%s' is not in known_hosts '%s': the server offered "
				 "%s %s; add it after checking it out of band (no trust on first "
				 "use)",
				 s->kh_name, s->c.known_hosts, kt->name, fp);
	default:
		return conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
				 "cannot check the host key of '%s': %s", s->name,
				 ssh_errmsg(s->k.ss));
	}
}

/* ---- authentication ---- */

static int auth_key_file(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s)
{
	struct sts_secret *sec = NULL;
	const char *pass = NULL;
	int r;
	if (access(s->c.key_file, R_OK) < 0)
		return conn_fail(p, call, s, STS_PLUGIN_EINVAL, true,
				 "cannot read key_file '%s': %s", s->c.key_file, strerror(errno));
	if (s->c.passphrase_ref) {
		r = sts_plugin_secret(p, s->c.passphrase_ref, &sec, call);
		if (r < 0)
			return conn_fail(p, call, s, r, true,
					 "cannot resolve the passphrase of '%s'", s->c.key_file);
		pass = sts_plugin_secret_value(p, sec);
	}
	int rc = libssh2_userauth_publickey_fromfile_ex(
	    s->k.ss, s->c.user, (unsigned)strlen(s->c.user), NULL, s->c.key_file, pass);
	sts_plugin_secret_free(p, sec);
	if (rc == 0)
		return STS_PLUGIN_OK;
	if (rc == LIBSSH2_ERROR_FILE)
		return conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
				 "cannot use key_file '%s': %s (a wrong or missing passphrase, or "
				 "a key type libssh2 cannot read)",
				 s->c.key_file, ssh_errmsg(s->k.ss));
	if (sftp_transport_error(rc))
		return conn_fail(
		    p, call, s, rc == LIBSSH2_ERROR_TIMEOUT ? STS_PLUGIN_ETIMEOUT : STS_PLUGIN_ENET,
		    false, "connection to '%s' lost during authentication: %s", s->name,
		    ssh_errmsg(s->k.ss));
	return conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
			 "authentication failed: '%s' refused the key '%s' for user '%s' (%s)",
			 s->name, s->c.key_file, s->c.user, ssh_errmsg(s->k.ss));
}

static int auth_agent(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s)
{
	LIBSSH2_AGENT *a = libssh2_agent_init(s->k.ss);
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	int r = STS_PLUGIN_EAUTH;
	unsigned tried = 0;
	if (!a)
		return conn_fail(p, call, s, STS_PLUGIN_ENOMEM, false,
				 "cannot start the ssh agent client");
	if (!getenv("SSH_AUTH_SOCK")) {
		r = conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
			      "no key_file and no ssh agent (SSH_AUTH_SOCK is not set) for '%s'",
			      s->name);
		goto out;
	}
	if (libssh2_agent_connect(a) != 0) {
		r = conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
			      "cannot connect to the ssh agent: %s", ssh_errmsg(s->k.ss));
		goto out;
	}
	if (libssh2_agent_list_identities(a) != 0) {
		r = conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
			      "cannot list the keys of the ssh agent: %s", ssh_errmsg(s->k.ss));
		goto disconnect;
	}
	while (tried < SFTP_MAX_AGENT_KEYS && libssh2_agent_get_identity(a, &id, prev) == 0) {
		tried++;
		int rc = libssh2_agent_userauth(a, s->c.user, id);
		if (rc == 0) {
			sts_plugin_log(p, STS_PLOG_DEBUG, "authenticated with the agent key '%s'",
				       id->comment ? id->comment : "");
			r = STS_PLUGIN_OK;
			goto disconnect;
		}
		if (sftp_transport_error(rc)) {
			r = conn_fail(p, call, s, STS_PLUGIN_ENET, false,
				      "connection to '%s' lost during authentication: %s", s->name,
				      ssh_errmsg(s->k.ss));
			goto disconnect;
		}
		prev = id;
	}
	r = conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
		      "authentication failed: '%s' accepted none of the %u ssh agent keys for user "
		      "'%s'",
		      s->name, tried, s->c.user);
disconnect:
	libssh2_agent_disconnect(a);
out:
	libssh2_agent_free(a);
	return r;
}

static int authenticate(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s)
{
	const char *methods =
	    libssh2_userauth_list(s->k.ss, s->c.user, (unsigned)strlen(s->c.user));
	if (!methods) {
		if (libssh2_userauth_authenticated(s->k.ss))
			return STS_PLUGIN_OK; /* "none" was enough */
		return conn_fail(p, call, s, STS_PLUGIN_ENET, false, "connection to '%s' lost: %s",
				 s->name, ssh_errmsg(s->k.ss));
	}
	if (!strstr(methods, "publickey"))
		return conn_fail(p, call, s, STS_PLUGIN_EAUTH, true,
				 "authentication failed: '%s' does not offer public key "
				 "authentication for user '%s' (it offers: %s)",
				 s->name, s->c.user, methods);
	return s->c.key_file ? auth_key_file(p, call, s) : auth_agent(p, call, s);
}

/* ---- TCP ---- */

static int tcp_connect(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
	struct addrinfo *res = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%u", s->c.port);
	int g = getaddrinfo(s->c.host, port, &hints, &res);
	if (g != 0)
		return conn_fail(p, call, s, STS_PLUGIN_ENET, false, "cannot resolve '%s': %s",
				 s->c.host, gai_strerror(g));
	int r = STS_PLUGIN_ENET, err = 0;
	unsigned n = 0;
	for (struct addrinfo *a = res; a && n < SFTP_MAX_ADDRS; a = a->ai_next, n++) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				a->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int rc = connect(fd, a->ai_addr, a->ai_addrlen);
		if (rc < 0 && errno == EINPROGRESS) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			int pr;
			do
				pr = poll(&pf, 1, (int)s->c.timeout_ms);
			while (pr < 0 && errno == EINTR);
			socklen_t sl = sizeof(err);
			if (pr == 0) {
				err = ETIMEDOUT;
				r = STS_PLUGIN_ETIMEOUT;
				close(fd);
				continue;
			}
			if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
				err = errno;
			rc = err ? -1 : 0;
		} else if (rc < 0) {
			err = errno;
		}
		if (rc < 0) {
			r = STS_PLUGIN_ENET;
			close(fd);
			continue;
		}
		int fl = fcntl(fd, F_GETFL);
		int one = 1;
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s->k.sock = fd;
		freeaddrinfo(res);
		return STS_PLUGIN_OK;
	}
	freeaddrinfo(res);
	if (r == STS_PLUGIN_ETIMEOUT)
		return conn_fail(p, call, s, r, false,
				 "cannot connect to '%s': timed out after %ld s", s->name,
				 s->c.timeout_ms / 1000);
	return conn_fail(p, call, s, r, false, "cannot connect to '%s': %s", s->name,
			 strerror(err ? err : ECONNREFUSED));
}

/* ---- the connection ---- */

void sftp_conn_close(struct sftp *s, bool polite)
{
	sftp_ext_close(&s->k.ext);
	if (s->k.sftp)
		libssh2_sftp_shutdown(s->k.sftp);
	if (s->k.ss) {
		if (polite)
			libssh2_session_disconnect(s->k.ss, "stsctl done");
		libssh2_session_free(s->k.ss);
	}
	if (s->k.sock >= 0)
		close(s->k.sock);
	memset(&s->k, 0, sizeof(s->k));
	s->k.sock = -1;
}

/* One attempt: prefs NULL lets the server pick its host key type. */
static int open_once(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		     bool use_prefs, bool *ret_kex_failed)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	char *revoked = NULL;
	char prefs[256];
	int r = tcp_connect(p, call, s);
	*ret_kex_failed = false;
	if (r < 0)
		return r;
	s->k.ss = libssh2_session_init();
	if (!s->k.ss) {
		r = conn_fail(p, call, s, STS_PLUGIN_ENOMEM, false, "cannot create an ssh session");
		goto out;
	}
	libssh2_session_set_blocking(s->k.ss, 1);
	libssh2_session_set_timeout(s->k.ss, s->c.timeout_ms);
	kh = libssh2_knownhost_init(s->k.ss);
	if (!kh) {
		r = conn_fail(p, call, s, STS_PLUGIN_ENOMEM, false,
			      "cannot create the known_hosts list");
		goto out;
	}
	if ((r = read_known_hosts(p, call, s, kh, &revoked)) < 0)
		goto out;
	known_types(s, kh, prefs, sizeof(prefs));
	if (use_prefs && prefs[0] &&
	    libssh2_session_method_pref(s->k.ss, LIBSSH2_METHOD_HOSTKEY, prefs) != 0)
		sts_plugin_log(p, STS_PLOG_DEBUG, "host key types '%s' not all supported", prefs);
	int rc = libssh2_session_handshake(s->k.ss, s->k.sock);
	if (rc != 0) {
		if (rc == LIBSSH2_ERROR_TIMEOUT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT)
			r = conn_fail(p, call, s, STS_PLUGIN_ETIMEOUT, false,
				      "ssh handshake with '%s' timed out after %ld s", s->name,
				      s->c.timeout_ms / 1000);
		else if (use_prefs && prefs[0] &&
			 (rc == LIBSSH2_ERROR_KEX_FAILURE ||
			  rc == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED))
			*ret_kex_failed = true, r = STS_PLUGIN_EAUTH;
		else
			r = conn_fail(p, call, s, STS_PLUGIN_ENET, false,
				      "ssh handshake with '%s' failed: %s", s->name,
				      ssh_errmsg(s->k.ss));
		goto out;
	}
	if ((r = check_host_key(p, call, s, kh, revoked)) < 0)
		goto out;
	if ((r = authenticate(p, call, s)) < 0)
		goto out;
	s->k.sftp = libssh2_sftp_init(s->k.ss);
	if (!s->k.sftp) {
		r = conn_fail(p, call, s, STS_PLUGIN_EPROVIDER, false,
			      "cannot start sftp on '%s': %s", s->name, ssh_errmsg(s->k.ss));
		goto out;
	}
	if (s->c.keepalive_s > 0)
		libssh2_keepalive_config(s->k.ss, 1, (unsigned)s->c.keepalive_s);
	r = STS_PLUGIN_OK;
out:
	if (kh)
		libssh2_knownhost_free(kh);
	free(revoked);
	if (r < 0)
		sftp_conn_close(s, false);
	return r;
}

int sftp_conn_open(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s)
{
	if (s->sticky < 0) {
		sts_plugin_error(call, "%s", s->sticky_msg ? s->sticky_msg : "provider unusable");
		return s->sticky;
	}
	if (s->failed_connects >= SFTP_MAX_CONNECTS) {
		sts_plugin_error(call,
				 "'%s' is down: %u connects failed in a row, not trying again",
				 s->name, s->failed_connects);
		return STS_PLUGIN_ENET;
	}
	bool kex_failed = false;
	int r = open_once(p, call, s, true, &kex_failed);
	if (kex_failed) {
		/* no common host key type: connect again to name the key the server has */
		sts_plugin_log(p, STS_PLOG_DEBUG,
			       "'%s' offers no host key type known_hosts has; asking for its key",
			       s->name);
		r = open_once(p, call, s, false, &kex_failed);
	}
	if (r < 0) {
		if (s->sticky == STS_PLUGIN_OK)
			s->failed_connects++;
		return r;
	}
	s->failed_connects = 0;
	s->n_connects++;
	s->k.last_use = time(NULL);
	sts_plugin_log(p, STS_PLOG_DEBUG, "connected to '%s' as '%s' (host key %s), connection %u",
		       s->name, s->c.user, s->k.fingerprint, s->n_connects);
	return STS_PLUGIN_OK;
}
