/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sts_buf.h"
#include "sts_err.h"

STS_API void sts_buf_init(struct sts_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

STS_API void sts_buf_release(struct sts_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

STS_API void sts_buf_reset(struct sts_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(struct sts_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return STS_ETOOLARGE;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return STS_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	char *p = realloc(b->data, cap);
	if (!p)
		return STS_ENOMEM;
	b->data = p;
	b->cap = cap;
	return STS_OK;
}

STS_API int sts_buf_append(struct sts_buf *b, const void *p, size_t n)
{
	int r = grow(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return STS_OK;
}

STS_API int sts_buf_puts(struct sts_buf *b, const char *s)
{
	return sts_buf_append(b, s, strlen(s));
}

STS_API int sts_buf_putc(struct sts_buf *b, char c)
{
	return sts_buf_append(b, &c, 1);
}

STS_API int sts_buf_vprintf(struct sts_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return STS_EINVAL;
	int r = grow(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return STS_OK;
}

STS_API int sts_buf_printf(struct sts_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = sts_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

STS_API const char *sts_buf_str(const struct sts_buf *b)
{
	return b->data ? b->data : "";
}

STS_API char *sts_buf_steal(struct sts_buf *b)
{
	char *p = b->data;
	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

STS_API int sts_buf_read_fd(struct sts_buf *b, int fd)
{
	char tmp[65536];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		int r = sts_buf_append(b, tmp, (size_t)n);
		if (r < 0)
			return r;
	}
	if (!b->data)
		return sts_buf_append(b, "", 0);
	return STS_OK;
}

STS_API int sts_buf_read_file(struct sts_buf *b, const char *path)
{
	if (strcmp(path, "-") == 0)
		return sts_buf_read_fd(b, STDIN_FILENO);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = sts_buf_read_fd(b, fd);
	close(fd);
	return r;
}

STS_API int sts_array_grow(void *pv, size_t n, size_t *cap, size_t size, size_t first)
{
	if (n < *cap)
		return STS_OK;
	size_t nc = *cap ? *cap * 2 : first;
	if (nc <= n)
		nc = n + 1;
	if (nc > SIZE_MAX / size)
		return STS_ENOMEM;
	void *v;
	memcpy(&v, pv, sizeof(v)); /* pv is a T **: copied, not cast */
	void *nv = realloc(v, nc * size);
	if (!nv)
		return STS_ENOMEM;
	memcpy(pv, &nv, sizeof(nv));
	*cap = nc;
	return STS_OK;
}

STS_API void *sts_array_push(void *pv, size_t *n, size_t size)
{
	if (*n >= SIZE_MAX / size - 1)
		return NULL;
	char *v;
	memcpy(&v, pv, sizeof(v)); /* pv is a T **: copied, not cast */
	if (!(v = realloc(v, (*n + 1) * size)))
		return NULL;
	memcpy(pv, &v, sizeof(v));
	char *e = v + (*n)++ * size;
	memset(e, 0, size);
	return e;
}

STS_API void sts_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

STS_API void sts_free_all(void *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}
