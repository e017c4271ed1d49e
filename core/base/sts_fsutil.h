/* SPDX-License-Identifier: MIT */
#ifndef STS_FSUTIL_H
#define STS_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sts_api.h"

/*
 * Atomic file replacement: write DIR/.NAME.XXXXXX, optionally fsync, rename
 * over PATH, and (with do_fsync) fsync the directory. A crash at any point
 * leaves either the old or the new file, never a partial one.
 * The file gets exactly mode (fchmod, whatever the umask); missing parent
 * directories are created with mode 0755, also set explicitly.
 */
STS_API int sts_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			     bool do_fsync);

/*
 * mkdir with exactly mode (set with fchmod, whatever the umask); an
 * existing directory is fine (-ENOTDIR when path is something else).
 * *ret_created (may be NULL): made now.
 */
STS_API int sts_mkdir_one(const char *path, mode_t mode, bool *ret_created);
/* mkdir -p with exactly mode for each created component (sts_mkdir_one). */
STS_API int sts_mkdir_p(const char *path, mode_t mode);

/* Is the file at path byte-identical to data? (false when it does not exist) */
STS_API bool sts_file_equals(const char *path, const void *data, size_t len);

/* syncfs() on the filesystem holding path. */
STS_API int sts_syncfs_path(const char *path);
/* fsync() on path opened with flags (O_RDONLY; a directory: | O_DIRECTORY). */
STS_API int sts_fsync_path(const char *path, int flags);

#endif
