/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sts_err.h"
#include "sts_secret.h"

#define SECRET_MAX (64u * 1024u)

struct sts_secret {
	char *value;
	size_t len;
};

STS_API bool sts_secret_is_ref(const char *s)
{
	return s && (strncmp(s, "${env:", 6) == 0 || strncmp(s, "${file:", 7) == 0);
}

STS_API int sts_secret_check(const char *ref, const char **reterr)
{
	if (!ref) {
		*reterr = "not a secret reference: write ${env:NAME} or ${file:PATH}";
		return STS_EINVALID;
	}
	size_t n = strlen(ref);
	size_t pre;
	if (strncmp(ref, "${env:", 6) == 0)
		pre = 6;
	else if (strncmp(ref, "${file:", 7) == 0)
		pre = 7;
	else {
		*reterr = "not a secret reference: write ${env:NAME} or ${file:PATH}";
		return STS_EINVALID;
	}
	if (n <= pre + 1 || ref[n - 1] != '}') {
		*reterr = "secret reference must end with '}' and name a variable or file";
		return STS_EINVALID;
	}
	for (size_t i = pre; i < n - 1; i++) {
		unsigned char c = (unsigned char)ref[i];
		if (c == '}' || c < 0x20) {
			*reterr = "invalid character in secret reference";
			return STS_EINVALID;
		}
		if (pre == 6 && !(c == '_' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
				  (c >= 'a' && c <= 'z'))) {
			*reterr = "environment variable names are letters, digits and '_'";
			return STS_EINVALID;
		}
	}
	return STS_OK;
}

/*
 * Once a secret is in memory the process refuses core dumps and ptrace by
 * other processes of the same user (PR_SET_DUMPABLE 0), so it cannot end up
 * in a core file.
 */
static void no_core_dumps(void)
{
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int make(const char *v, size_t len, struct sts_secret **ret)
{
	no_core_dumps();
	struct sts_secret *s = calloc(1, sizeof(*s));
	if (!s)
		return STS_ENOMEM;
	s->value = malloc(len + 1);
	if (!s->value) {
		free(s);
		return STS_ENOMEM;
	}
	memcpy(s->value, v, len);
	s->value[len] = '\0';
	s->len = len;
	*ret = s;
	return STS_OK;
}

/* At most SECRET_MAX bytes of path into buf (SECRET_MAX + 1 bytes). */
static int read_file(const char *path, char *buf, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	int r = STS_OK;
	while (r == STS_OK) {
		ssize_t k = read(fd, buf + len, SECRET_MAX + 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			r = -errno;
		else if (k == 0)
			break;
		else if ((len += (size_t)k) > SECRET_MAX)
			r = STS_ETOOLARGE;
	}
	close(fd);
	*ret_len = len;
	return r;
}

/* The file at path as a secret; drop_nl: without one trailing newline. */
static int secret_file(const char *path, bool drop_nl, struct sts_secret **ret, const char **reterr)
{
	/* one buffer that never moves: growing one by realloc would leave
	 * copies of the secret in freed memory */
	char *buf = malloc(SECRET_MAX + 1);
	size_t len = 0;
	if (!buf)
		return STS_ENOMEM;
	int r = read_file(path, buf, &len);
	if (r < 0) {
		*reterr = r == STS_ETOOLARGE ? "secret file is larger than 64 KiB"
					     : "secret file cannot be read";
		r = STS_ESECRET;
	} else {
		/* one trailing newline (LF or CRLF) is dropped */
		if (drop_nl && len && buf[len - 1] == '\n') {
			len--;
			if (len && buf[len - 1] == '\r')
				len--;
		}
		r = make(buf, len, ret);
	}
	explicit_bzero(buf, SECRET_MAX + 1);
	free(buf);
	return r;
}

STS_API int sts_secret_resolve(const char *ref, const char *basedir, struct sts_secret **ret,
			       const char **reterr)
{
	int r = sts_secret_check(ref, reterr);
	if (r < 0)
		return STS_ESECRET;
	size_t n = strlen(ref);
	if (ref[2] == 'e') {
		char *name = strndup(ref + 6, n - 7);
		if (!name)
			return STS_ENOMEM;
		const char *v = getenv(name);
		free(name);
		if (!v) {
			*reterr = "environment variable is not set";
			return STS_ESECRET;
		}
		if (strlen(v) > SECRET_MAX) {
			*reterr = "secret is larger than 64 KiB";
			return STS_ESECRET;
		}
		return make(v, strlen(v), ret);
	}
	char *rel = strndup(ref + 7, n - 8);
	char *path = NULL;
	if (!rel)
		return STS_ENOMEM;
	if (rel[0] == '/' || !basedir) {
		path = rel;
		rel = NULL;
	} else if (asprintf(&path, "%s/%s", basedir, rel) < 0) {
		free(rel);
		return STS_ENOMEM;
	}
	free(rel);
	r = secret_file(path, true, ret, reterr);
	free(path);
	return r;
}

STS_API int sts_secret_read_file(const char *path, struct sts_secret **ret, const char **reterr)
{
	return secret_file(path, false, ret, reterr);
}

STS_API const char *sts_secret_value(const struct sts_secret *s)
{
	return s->value;
}

STS_API size_t sts_secret_len(const struct sts_secret *s)
{
	return s->len;
}

STS_API void sts_secret_free(struct sts_secret *s)
{
	if (!s)
		return;
	explicit_bzero(s->value, s->len);
	free(s->value);
	free(s);
}
