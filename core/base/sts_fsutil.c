/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sts_err.h"
#include "sts_fsutil.h"

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

STS_API int sts_mkdir_one(const char *path, mode_t mode, bool *ret_created)
{
	if (ret_created)
		*ret_created = false;
	if (mkdir(path, mode) < 0) {
		if (errno == EEXIST)
			return is_dir(path) ? STS_OK : -ENOTDIR;
		return -errno;
	}
	/* the mode itself, not mode & ~umask: a web server must read what is published */
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 || fchmod(fd, mode) < 0 ? -errno : STS_OK;
	if (fd >= 0)
		close(fd);
	if (r == STS_OK && ret_created)
		*ret_created = true;
	return r;
}

static int mkdir_one(const char *path, mode_t mode)
{
	return sts_mkdir_one(path, mode, NULL);
}

/*
 * Try the whole path first and walk up only on ENOENT: creating a file's
 * directory in an existing tree costs one mkdir(), not one per component.
 */
static int mkdir_p(char *p, size_t n, mode_t mode)
{
	int r = mkdir_one(p, mode);
	if (r != -ENOENT)
		return r;
	size_t k = n;
	while (k > 0 && p[k - 1] != '/')
		k--;
	while (k > 1 && p[k - 1] == '/')
		k--;
	if (k <= 1) /* no parent to create ("a" or "/a") */
		return r;
	char c = p[k];
	p[k] = '\0';
	r = mkdir_p(p, k, mode);
	p[k] = c;
	if (r < 0)
		return r;
	return mkdir_one(p, mode);
}

STS_API int sts_mkdir_p(const char *path, mode_t mode)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0)
		return STS_EINVAL;
	char *p = strndup(path, n);
	if (!p)
		return STS_ENOMEM;
	int r = mkdir_p(p, n, mode);
	free(p);
	return r;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return STS_OK;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

STS_API int sts_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			     bool do_fsync)
{
	int r;
	int fd = -1;
	char *dir = dir_of(path);
	char *tmp = NULL;
	if (!dir)
		return STS_ENOMEM;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	/*
	 * ".NAME.XXXXXX" is 8 bytes longer than NAME: for a name that long (a
	 * 235-242 byte domain in "mta-sts.D.conf") a short ".sts-tmp.XXXXXX"
	 * instead, so whatever name fits is written.
	 */
	if (strlen(base) + 8 > NAME_MAX)
		base = "sts-tmp";
	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, base) < 0) {
		tmp = NULL;
		r = STS_ENOMEM;
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		r = sts_mkdir_p(dir, 0755);
		if (r < 0)
			goto out;
		/* a failed mkostemp() leaves its guess in place of the XXXXXX */
		memcpy(tmp + strlen(tmp) - 6, "XXXXXX", 6);
		fd = mkostemp(tmp, O_CLOEXEC);
	}
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto out_unlink;
	}
	r = write_all(fd, data, len);
	if (r < 0)
		goto out_unlink;
	if (do_fsync && fsync(fd) < 0) {
		r = -errno;
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out_unlink;
	}
	if (do_fsync) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			if (fsync(dfd) < 0)
				r = -errno;
			close(dfd);
		}
	}
	goto out;
out_unlink:
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(tmp);
out:
	free(tmp);
	free(dir);
	return r;
}

STS_API bool sts_file_equals(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool eq = false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len) {
		char buf[8192];
		size_t off = 0;
		eq = true;
		while (off < len) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0 || (size_t)n > len - off ||
			    memcmp(buf, (const char *)data + off, (size_t)n)) {
				eq = false;
				break;
			}
			off += (size_t)n;
		}
	}
	close(fd);
	return eq;
}

/* sync (fsync or syncfs) on path opened with flags */
static int sync_path(const char *path, int flags, int (*do_sync)(int))
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = do_sync(fd) < 0 ? -errno : STS_OK;
	close(fd);
	return r;
}

STS_API int sts_syncfs_path(const char *path)
{
	return sync_path(path, O_RDONLY, syncfs);
}

STS_API int sts_fsync_path(const char *path, int flags)
{
	return sync_path(path, flags, fsync);
}
