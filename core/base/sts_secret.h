/* SPDX-License-Identifier: MIT */
#ifndef STS_SECRET_H
#define STS_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "sts_api.h"

/*
 * Secrets are written in the inventory as ${env:NAME} or ${file:PATH} and
 * resolved only when used. A resolved secret is an opaque handle; its bytes
 * are wiped (explicit_bzero) when freed and never reach a log. Once one is
 * loaded, the process is no longer dumpable (prctl PR_SET_DUMPABLE 0): no
 * core file, no ptrace by other processes of the user.
 */
struct sts_secret;

/* Is the string a secret reference (${env:..} or ${file:..})? */
STS_API bool sts_secret_is_ref(const char *s);

/* Syntax check only (no lookup): STS_OK or STS_EINVALID with a static message. */
STS_API int sts_secret_check(const char *ref, const char **reterr);

/*
 * Resolve ref. A ${file:PATH} relative path is relative to basedir.
 * A trailing newline in a file is dropped. Values over 64 KiB are refused.
 * Returns STS_OK, STS_ESECRET (reterr set to a static message that never
 * contains the value), STS_ENOMEM.
 */
STS_API int sts_secret_resolve(const char *ref, const char *basedir, struct sts_secret **ret,
			       const char **reterr);
/*
 * The whole file at path (at most 64 KiB, trailing newline kept) as a
 * secret, read into one buffer that is wiped afterwards (a private key
 * file). STS_OK, STS_ESECRET (*reterr static), STS_ENOMEM.
 */
STS_API int sts_secret_read_file(const char *path, struct sts_secret **ret, const char **reterr);
STS_API const char *sts_secret_value(const struct sts_secret *s);
STS_API size_t sts_secret_len(const struct sts_secret *s);
STS_API void sts_secret_free(struct sts_secret *s);

#endif
