/* SPDX-License-Identifier: MIT */
#ifndef STS_SFTP_H
#define STS_SFTP_H

/*
 * Internals of the sftp web plugin (README.md): one SSH connection per
 * provider, opened at the first operation and reused for every domain.
 *   sftp.c       descriptor, settings, get/put/del with reconnect
 *   sftp_conn.c  TCP connect, SSH handshake, host key check, authentication
 *   sftp_ext.c   a second "sftp" channel for posix-rename@openssh.com, which
 *                libssh2 1.10 cannot send
 *   sftp_file.c  the file operations over libssh2's SFTP
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include <stsctl/plugin.h>

#define SFTP_HOST_MAX	    253
#define SFTP_PATH_MAX	    4096
#define SFTP_MAX_ADDRS	    8  /* addresses of the server tried per connect */
#define SFTP_MAX_CONNECTS   3  /* failed connects in a row before the provider is "down" */
#define SFTP_MAX_AGENT_KEYS 32 /* agent identities tried */
#define SFTP_MAX_DEPTH	    64 /* path components created by mkdir -p */

struct sftp_conf {
	char *host; /* as written; lower case */
	unsigned port;
	char *user;
	char *key_file;	      /* NULL: the SSH agent */
	char *passphrase_ref; /* ${env:..}/${file:..} or NULL */
	char *known_hosts;
	char *root; /* template with exactly one {host} */
	long timeout_ms;
	long keepalive_s;
	bool no_posix_rename; /* test hook STSCTL_TEST_SFTP_NO_POSIX_RENAME=1 */
};

/* The extension channel (sftp_ext.c). */
struct sftp_ext {
	LIBSSH2_CHANNEL *ch;
	bool tried;	   /* opened (or failed to) on this connection */
	bool posix_rename; /* the server announced posix-rename@openssh.com */
	bool statvfs;	   /* ... statvfs@openssh.com */
	uint32_t next_id;
};

struct sftp_conn {
	int sock;
	LIBSSH2_SESSION *ss;
	LIBSSH2_SFTP *sftp;
	struct sftp_ext ext;
	time_t last_use;
	char fingerprint[80]; /* "ssh-ed25519 SHA256:..." of the server */
};

struct sftp {
	struct sftp_conf c;
	struct sftp_conn k; /* k.ss == NULL: not connected */
	pthread_mutex_t mu; /* one operation at a time on the connection */
	char *name;	    /* "host:port" for messages */
	char *kh_name;	    /* "host" or "[host]:port", as known_hosts writes it */
	int sticky;	    /* a connect error that repeats (host key, auth): fail fast */
	char *sticky_msg;
	unsigned failed_connects;
	unsigned n_connects; /* connections opened so far (debug log, tests) */
	unsigned tmp_seq;
};

/* Outcome classes of a failed operation, for the retry decision. */
enum sftp_fail {
	SFTP_FAIL_NONE = 0,
	SFTP_FAIL_FINAL,     /* an answer from the server: do not retry */
	SFTP_FAIL_TRANSPORT, /* the connection broke: reconnect and retry once */
};

/* sftp_conn.c */
int sftp_conn_open(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s);
void sftp_conn_close(struct sftp *s, bool polite);
bool sftp_transport_error(int libssh2_rc);
/* "SHA256:<base64 without padding>" of data into out (>= 52 bytes) */
void sftp_fingerprint_sha256(const unsigned char *digest32, char *out, size_t n);
size_t sftp_base64_encode(const unsigned char *in, size_t n, char *out, size_t outsz, bool pad);
/* 0 on success; *ret_n bytes written into out */
int sftp_base64_decode(const char *in, size_t n, unsigned char *out, size_t outsz, size_t *ret_n);

/* sftp_ext.c */
int sftp_ext_open(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s);
void sftp_ext_close(struct sftp_ext *e);
/* STS_PLUGIN_OK, STS_PLUGIN_EUNSUPPORTED (no extension: caller falls back), or an error */
int sftp_ext_posix_rename(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
			  const char *from, const char *to, enum sftp_fail *how);

/* sftp_file.c: each sets how on failure and reports with sts_plugin_error() */
int sftp_file_get(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		  const char *path, struct sts_buf *ret, enum sftp_fail *how);
int sftp_file_put(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		  const char *path, const void *data, size_t len, enum sftp_fail *how);
int sftp_file_del(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		  const char *path, enum sftp_fail *how);
/* probe: dir exists on the server and is a directory */
int sftp_file_stat_dir(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		       const char *dir, enum sftp_fail *how);

#endif
