/* SPDX-License-Identifier: MIT */
/*
 * File operations of the sftp plugin over libssh2's SFTP: read a file
 * (capped), write one atomically (temp name in the same directory, mode
 * 0644, fsync when the server offers it, then posix-rename; missing
 * directories made 0755), and remove one. Each failure is classified: an
 * answer from the server (final) or a broken connection (the caller
 * reconnects and retries once), and named in a message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sftp.h"

#define CHUNK 8192

static const char *fx_name(unsigned long code)
{
	switch (code) {
	case LIBSSH2_FX_EOF:
		return "end of file";
	case LIBSSH2_FX_NO_SUCH_FILE:
		return "no such file";
	case LIBSSH2_FX_PERMISSION_DENIED:
		return "permission denied";
	case LIBSSH2_FX_FAILURE:
		return "failure";
	case LIBSSH2_FX_BAD_MESSAGE:
		return "bad message";
	case LIBSSH2_FX_OP_UNSUPPORTED:
		return "operation unsupported";
	case LIBSSH2_FX_NO_SUCH_PATH:
		return "no such path";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:
		return "file exists";
	case LIBSSH2_FX_WRITE_PROTECT:
		return "write protected";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
		return "no space on file system";
	case LIBSSH2_FX_QUOTA_EXCEEDED:
		return "quota exceeded";
	case LIBSSH2_FX_NOT_A_DIRECTORY:
		return "not a directory";
	default:
		return "error";
	}
}

/* The SFTP status of the last failed call, or 0 when the connection failed. */
static unsigned long fx_code(struct sftp *s, int rc)
{
	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL)
		return libssh2_sftp_last_error(s->k.sftp);
	return 0;
}

static int last_rc(struct sftp *s)
{
	return libssh2_session_last_errno(s->k.ss);
}

static const char *dirname_of(const char *path, char *out, size_t n)
{
	const char *sl = strrchr(path, '/');
	if (!sl)
		snprintf(out, n, ".");
	else if (sl == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(sl - path), path);
	return out;
}

/* Is the file system holding dir (nearly) full? Needs statvfs@openssh.com. */
static bool fs_full(struct sftp *s, const char *dir, size_t need)
{
	LIBSSH2_SFTP_STATVFS st;
	if (libssh2_sftp_statvfs(s->k.sftp, dir, strlen(dir), &st) != 0)
		return false;
	unsigned long long bs = st.f_frsize ? st.f_frsize : st.f_bsize;
	return st.f_bavail * bs < need + 4096 || (st.f_files > 0 && st.f_favail == 0);
}

/*
 * Report the failure of "verb 'path'" (rc from libssh2). dir: where to
 * look for a full disk on a bare SSH_FX_FAILURE (OpenSSH sends that for
 * ENOSPC, without a reason), or NULL.
 */
static int fail_code(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s, int rc,
		     unsigned long code, enum sftp_fail *how, const char *verb, const char *path,
		     const char *dir, size_t need)
{
	if (code == 0) {
		char *m = NULL;
		libssh2_session_last_error(s->k.ss, &m, NULL, 0);
		*how = SFTP_FAIL_TRANSPORT;
		sts_plugin_error(call, "connection to '%s' lost while %s '%s': %s", s->name, verb,
				 path, m && *m ? m : "error");
		return rc == LIBSSH2_ERROR_TIMEOUT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT
			   ? STS_PLUGIN_ETIMEOUT
			   : STS_PLUGIN_ENET;
	}
	*how = SFTP_FAIL_FINAL;
	switch (code) {
	case LIBSSH2_FX_NO_SUCH_FILE:
	case LIBSSH2_FX_NO_SUCH_PATH:
		sts_plugin_error(call, "'%s' does not exist on '%s'", path, s->name);
		return STS_PLUGIN_ENOENT;
	case LIBSSH2_FX_PERMISSION_DENIED:
	case LIBSSH2_FX_WRITE_PROTECT:
		sts_plugin_error(call, "permission denied %s '%s' on '%s' as user '%s'", verb, path,
				 s->name, s->c.user);
		return STS_PLUGIN_EACCES;
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
	case LIBSSH2_FX_QUOTA_EXCEEDED:
		sts_plugin_error(call, "no space left %s '%s' on '%s' (%s)", verb, path, s->name,
				 fx_name(code));
		return STS_PLUGIN_ENOSPC;
	case LIBSSH2_FX_FAILURE:
		if (dir && fs_full(s, dir, need)) {
			sts_plugin_error(call,
					 "no space left on the file system of '%s' on '%s' "
					 "while %s '%s'",
					 dir, s->name, verb, path);
			return STS_PLUGIN_ENOSPC;
		}
		sts_plugin_error(call, "'%s' failed %s '%s' (sftp status 4, no reason given)",
				 s->name, verb, path);
		return STS_PLUGIN_EPROVIDER;
	default:
		sts_plugin_error(call, "'%s' failed %s '%s': %s (sftp status %lu)", s->name, verb,
				 path, fx_name(code), code);
		return STS_PLUGIN_EPROVIDER;
	}
}

static int fail_op(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s, int rc,
		   enum sftp_fail *how, const char *verb, const char *path, const char *dir,
		   size_t need)
{
	return fail_code(p, call, s, rc, fx_code(s, rc), how, verb, path, dir, need);
}

/* 1: a directory, 0: missing, <0: stat failed (rc in *rc) */
static int is_dir(struct sftp *s, const char *path, int *rc)
{
	LIBSSH2_SFTP_ATTRIBUTES a;
	*rc = libssh2_sftp_stat_ex(s->k.sftp, path, (unsigned)strlen(path), LIBSSH2_SFTP_STAT, &a);
	if (*rc == 0) {
		if ((a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
		    !LIBSSH2_SFTP_S_ISDIR(a.permissions))
			return -2;
		return 1;
	}
	unsigned long code = fx_code(s, *rc);
	if (code == LIBSSH2_FX_NO_SUCH_FILE || code == LIBSSH2_FX_NO_SUCH_PATH)
		return 0;
	return -1;
}

static int make_dir(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		    const char *path, enum sftp_fail *how)
{
	int rc = libssh2_sftp_mkdir_ex(s->k.sftp, path, (unsigned)strlen(path), 0755);
	if (rc != 0) {
		int src;
		unsigned long code = fx_code(s, rc); /* before the stat below replaces it */
		/* OpenSSH answers a plain "failure" when it exists: a racing mkdir is fine */
		if ((code == LIBSSH2_FX_FAILURE || code == LIBSSH2_FX_FILE_ALREADY_EXISTS) &&
		    is_dir(s, path, &src) == 1)
			return STS_PLUGIN_OK;
		return fail_code(p, call, s, rc, code, how, "creating the directory", path, path,
				 0);
	}
	/* the server's umask may have taken bits away: the web server must read it */
	LIBSSH2_SFTP_ATTRIBUTES a = {.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS, .permissions = 0755};
	if (libssh2_sftp_stat_ex(s->k.sftp, path, (unsigned)strlen(path), LIBSSH2_SFTP_SETSTAT,
				 &a) != 0)
		sts_plugin_log(p, STS_PLOG_WARNING, "cannot set mode 0755 on '%s' on '%s'", path,
			       s->name);
	sts_plugin_log(p, STS_PLOG_DEBUG, "created directory '%s' on '%s'", path, s->name);
	return STS_PLUGIN_OK;
}

/* mkdir -p dir: find the deepest existing ancestor, then create downwards. */
static int make_dirs(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		     const char *dir, enum sftp_fail *how)
{
	size_t cut[SFTP_MAX_DEPTH], n = 0, len = strlen(dir);
	char *buf = strdup(dir);
	int r = STS_PLUGIN_OK, rc;
	if (!buf)
		return STS_PLUGIN_ENOMEM;
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	/* walk up while missing */
	for (;;) {
		int d = is_dir(s, buf, &rc);
		if (d == 1)
			break;
		if (d == -2) {
			*how = SFTP_FAIL_FINAL;
			sts_plugin_error(call, "'%s' on '%s' is not a directory", buf, s->name);
			r = STS_PLUGIN_EPROVIDER;
			goto out;
		}
		if (d < 0) {
			r = fail_op(p, call, s, rc, how, "looking up", buf, NULL, 0);
			goto out;
		}
		char *sl = strrchr(buf, '/');
		if (n == SFTP_MAX_DEPTH) {
			*how = SFTP_FAIL_FINAL;
			sts_plugin_error(call, "more than %d missing directories above '%s'",
					 SFTP_MAX_DEPTH, dir);
			r = STS_PLUGIN_EINVAL;
			goto out;
		}
		cut[n++] = strlen(buf);
		if (!sl || sl == buf)
			break; /* a relative first component, or right below "/" */
		*sl = '\0';
	}
	/* create downwards: restore each cut and mkdir */
	strcpy(buf, dir);
	buf[len] = '\0';
	while (n > 0) {
		size_t at = cut[--n];
		char keep = buf[at];
		buf[at] = '\0';
		r = make_dir(p, call, s, buf, how);
		buf[at] = keep;
		if (r < 0)
			goto out;
	}
out:
	free(buf);
	return r;
}

int sftp_file_get(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		  const char *path, struct sts_buf *ret, enum sftp_fail *how)
{
	LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open_ex(s->k.sftp, path, (unsigned)strlen(path),
						      LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
	char buf[CHUNK];
	int r = STS_PLUGIN_OK;
	if (!h)
		return fail_op(p, call, s, last_rc(s), how, "opening", path, NULL, 0);
	/* every round appends at least one byte, and appending stops at the cap */
	for (;;) {
		ssize_t n = libssh2_sftp_read(h, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			r = fail_op(p, call, s, (int)n, how, "reading", path, NULL, 0);
			break;
		}
		if ((r = sts_plugin_buf_append(p, ret, buf, (size_t)n)) < 0) {
			*how = SFTP_FAIL_FINAL;
			sts_plugin_error(call, "'%s' on '%s' is larger than %zu bytes", path,
					 s->name, sts_plugin_buf_max(p, ret));
			break;
		}
	}
	libssh2_sftp_close_handle(h);
	return r;
}

/* Replace path by the temp file: posix-rename, else rename, else remove + rename. */
static int replace(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		   const char *tmp, const char *path, enum sftp_fail *how)
{
	int r = sftp_ext_posix_rename(p, call, s, tmp, path, how);
	if (r != STS_PLUGIN_EUNSUPPORTED)
		return r;
	unsigned tl = (unsigned)strlen(tmp), pl = (unsigned)strlen(path);
	long flags =
	    LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE;
	int rc = libssh2_sftp_rename_ex(s->k.sftp, tmp, tl, path, pl, flags);
	if (rc == 0)
		return STS_PLUGIN_OK;
	unsigned long code = fx_code(s, rc);
	if (code != LIBSSH2_FX_FAILURE && code != LIBSSH2_FX_FILE_ALREADY_EXISTS)
		return fail_op(p, call, s, rc, how, "renaming", tmp, NULL, 0);
	/* SFTP v3 rename never replaces: remove the old file first (not atomic) */
	sts_plugin_log(p, STS_PLOG_WARNING,
		       "'%s' has no posix-rename: replacing '%s' by remove and rename (not atomic)",
		       s->name, path);
	rc = libssh2_sftp_unlink_ex(s->k.sftp, path, pl);
	if (rc != 0 && fx_code(s, rc) != LIBSSH2_FX_NO_SUCH_FILE)
		return fail_op(p, call, s, rc, how, "removing", path, NULL, 0);
	rc = libssh2_sftp_rename_ex(s->k.sftp, tmp, tl, path, pl, flags);
	return rc == 0 ? STS_PLUGIN_OK : fail_op(p, call, s, rc, how, "renaming", tmp, NULL, 0);
}

static LIBSSH2_SFTP_HANDLE *open_tmp(struct sftp *s, const char *tmp)
{
	return libssh2_sftp_open_ex(s->k.sftp, tmp, (unsigned)strlen(tmp),
				    LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, 0644,
				    LIBSSH2_SFTP_OPENFILE);
}

int sftp_file_put(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		  const char *path, const void *data, size_t len, enum sftp_fail *how)
{
	char dir[SFTP_PATH_MAX], *tmp = NULL;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	LIBSSH2_SFTP_HANDLE *h = NULL;
	bool created = false;
	int r = STS_PLUGIN_OK;
	dirname_of(path, dir, sizeof(dir));
	if (asprintf(&tmp, "%s/.%s.stsctl-%ld-%ld-%u.tmp", dir, base, (long)getpid(),
		     (long)time(NULL), ++s->tmp_seq) < 0)
		return STS_PLUGIN_ENOMEM;
	h = open_tmp(s, tmp);
	if (!h) {
		int rc = last_rc(s);
		unsigned long code = fx_code(s, rc);
		if (code != LIBSSH2_FX_NO_SUCH_FILE && code != LIBSSH2_FX_NO_SUCH_PATH) {
			r = fail_op(p, call, s, rc, how, "creating", tmp, dir, len);
			goto out;
		}
		if ((r = make_dirs(p, call, s, dir, how)) < 0)
			goto out;
		if (!(h = open_tmp(s, tmp))) {
			r = fail_op(p, call, s, last_rc(s), how, "creating", tmp, dir, len);
			goto out;
		}
	}
	created = true;
	/* 0644 whatever the server's umask: the web server reads it as another user */
	LIBSSH2_SFTP_ATTRIBUTES a = {.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS, .permissions = 0644};
	int rc = libssh2_sftp_fstat_ex(h, &a, 1);
	if (rc != 0) {
		r = fail_op(p, call, s, rc, how, "setting mode 0644 on", tmp, NULL, 0);
		goto out;
	}
	size_t off = 0;
	/* each round writes at least one byte or fails */
	for (size_t round = 0; off < len && round <= len; round++) {
		ssize_t w = libssh2_sftp_write(h, (const char *)data + off, len - off);
		if (w <= 0) {
			r = fail_op(p, call, s, w < 0 ? (int)w : LIBSSH2_ERROR_SFTP_PROTOCOL, how,
				    "writing", tmp, dir, len);
			goto out;
		}
		off += (size_t)w;
	}
	rc = libssh2_sftp_fsync(h);
	if (rc != 0 && fx_code(s, rc) != LIBSSH2_FX_OP_UNSUPPORTED) {
		r = fail_op(p, call, s, rc, how, "syncing", tmp, dir, len);
		goto out;
	}
	rc = libssh2_sftp_close_handle(h);
	h = NULL;
	if (rc != 0) {
		r = fail_op(p, call, s, rc, how, "closing", tmp, dir, len);
		goto out;
	}
	if ((r = replace(p, call, s, tmp, path, how)) < 0)
		goto out;
	created = false;
	sts_plugin_log(p, STS_PLOG_DEBUG, "wrote '%s' on '%s' (%zu bytes)", path, s->name, len);
out:
	if (h)
		libssh2_sftp_close_handle(h);
	if (created && *how != SFTP_FAIL_TRANSPORT &&
	    libssh2_sftp_unlink_ex(s->k.sftp, tmp, (unsigned)strlen(tmp)) != 0)
		sts_plugin_log(p, STS_PLOG_WARNING, "cannot remove the temporary '%s' on '%s'", tmp,
			       s->name);
	free(tmp);
	return r;
}

int sftp_file_del(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		  const char *path, enum sftp_fail *how)
{
	int rc = libssh2_sftp_unlink_ex(s->k.sftp, path, (unsigned)strlen(path));
	if (rc != 0)
		return fail_op(p, call, s, rc, how, "removing", path, NULL, 0);
	/* an empty .well-known is ours to remove; anything else in it stays */
	char dir[SFTP_PATH_MAX];
	dirname_of(path, dir, sizeof(dir));
	if (libssh2_sftp_rmdir_ex(s->k.sftp, dir, (unsigned)strlen(dir)) == 0)
		sts_plugin_log(p, STS_PLOG_DEBUG, "removed the empty '%s' on '%s'", dir, s->name);
	sts_plugin_log(p, STS_PLOG_DEBUG, "removed '%s' on '%s'", path, s->name);
	return STS_PLUGIN_OK;
}

int sftp_file_stat_dir(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
		       const char *dir, enum sftp_fail *how)
{
	int rc = 0;
	int d = is_dir(s, dir, &rc);
	if (d == 1)
		return STS_PLUGIN_OK;
	*how = SFTP_FAIL_FINAL;
	if (d == 0 || d == -2) {
		sts_plugin_error(call, "'%s' on '%s' is %s", dir, s->name,
				 d == 0 ? "missing" : "not a directory");
		return STS_PLUGIN_ENOENT;
	}
	return fail_op(p, call, s, rc, how, "looking up", dir, NULL, 0);
}
