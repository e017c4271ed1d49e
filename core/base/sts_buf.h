/* SPDX-License-Identifier: MIT */
#ifndef STS_BUF_H
#define STS_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "sts_api.h"

/*
 * Bounded dynamic buffer (curl dynbuf). Every buffer has a cap; appending
 * past it fails with STS_ETOOLARGE and leaves the buffer unchanged.
 * data is always NUL-terminated once anything was appended (may be NULL
 * while empty: use sts_buf_str()).
 */
struct sts_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* Common caps (STYLE.md convention 14). */
#define STS_CAP_POLICY	  (64u * 1024u)
#define STS_CAP_INVENTORY (512u * 1024u * 1024u)
#define STS_CAP_REPORT	  (10u * 1024u * 1024u)
#define STS_CAP_TEXT	  (16u * 1024u * 1024u)

STS_API void sts_buf_init(struct sts_buf *b, size_t max);
STS_API void sts_buf_release(struct sts_buf *b);
STS_API void sts_buf_reset(struct sts_buf *b);
STS_API int sts_buf_append(struct sts_buf *b, const void *p, size_t n);
STS_API int sts_buf_puts(struct sts_buf *b, const char *s);
STS_API int sts_buf_putc(struct sts_buf *b, char c);
STS_API int sts_buf_printf(struct sts_buf *b, const char *fmt, ...) STS_PRINTF(2, 3);
STS_API int sts_buf_vprintf(struct sts_buf *b, const char *fmt, va_list ap) STS_PRINTF(2, 0);
/* "" when empty, never NULL. */
STS_API const char *sts_buf_str(const struct sts_buf *b);
/* Hands the NUL-terminated data to the caller (free()) and resets b. */
STS_API char *sts_buf_steal(struct sts_buf *b);
/* Read a whole fd / file ("-" = stdin) into b; STS_ETOOLARGE past b->max. */
STS_API int sts_buf_read_fd(struct sts_buf *b, int fd);
STS_API int sts_buf_read_file(struct sts_buf *b, const char *path);

/*
 * Room for one more element in a growing array: when n (the elements in
 * use) has reached *cap, *pv (a pointer to the array pointer, elements of
 * size bytes) is reallocated to twice *cap, or to first while empty.
 * Returns STS_OK, or STS_ENOMEM with *pv and *cap unchanged.
 */
STS_API int sts_array_grow(void *pv, size_t n, size_t *cap, size_t size, size_t first);
/* Free n strings and the array; v may be NULL (n is then ignored). */
STS_API void sts_strv_free(char **v, size_t n);
/* free() each pointer given, in order: the members of a struct that are
 * its own in one call, STS_FREE_ALL(x->a, x->b, x->c). */
#define STS_FREE_ALL(...)                                                                          \
	sts_free_all((void *[]){__VA_ARGS__}, sizeof((void *[]){__VA_ARGS__}) / sizeof(void *))
STS_API void sts_free_all(void *const *v, size_t n);
/* Release each of the n elements of the array v with release(&v[i]), then
 * free v: the one loop of every destructor of a struct that owns an array. */
#define STS_ARRAY_FREE(v, n, release)                                                              \
	do {                                                                                       \
		for (size_t sts_i_ = 0; sts_i_ < (n); sts_i_++)                                    \
			release(&(v)[sts_i_]);                                                     \
		free(v);                                                                           \
	} while (0)
/*
 * Append one zeroed element to the array *pv of *n elements of size bytes
 * (grown by one, for arrays without a capacity): its address, *n counting
 * it, or NULL without memory (*pv and *n unchanged).
 */
STS_API void *sts_array_push(void *pv, size_t *n, size_t size);

#endif
