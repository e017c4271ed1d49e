/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_diag.h"
#include "sts_buf.h"
#include "sts_err.h"

STS_API void sts_diags_init(struct sts_diags *d)
{
	memset(d, 0, sizeof(*d));
}

static void diag_release(struct sts_diag *x)
{
	STS_FREE_ALL(x->rule, x->file, x->path, x->message);
}

STS_API void sts_diags_release(struct sts_diags *d)
{
	if (!d)
		return;
	STS_ARRAY_FREE(d->v, d->n, diag_release);
	sts_diags_init(d);
}

static char *dup_or_null(const char *s, int *fail)
{
	if (!s)
		return NULL;
	char *p = strdup(s);
	if (!p)
		*fail = 1;
	return p;
}

STS_API int sts_diags_vadd(struct sts_diags *d, enum sts_severity sev, const char *rule,
			   const char *file, unsigned line, unsigned col, const char *path,
			   const char *fmt, va_list ap)
{
	if (sev == STS_SEV_ERROR)
		d->n_errors++;
	else if (sev == STS_SEV_WARNING)
		d->n_warnings++;
	size_t max = d->max ? d->max : 100000;
	if (d->n >= max) {
		d->dropped++;
		return STS_OK;
	}
	if (sts_array_grow(&d->v, d->n, &d->cap, sizeof(*d->v), 8) < 0)
		return STS_ENOMEM;
	struct sts_buf msg;
	sts_buf_init(&msg, 64 * 1024);
	int r = sts_buf_vprintf(&msg, fmt, ap);
	if (r < 0) {
		sts_buf_release(&msg);
		return r;
	}
	int fail = 0;
	struct sts_diag x = {
	    .severity = sev,
	    .rule = dup_or_null(rule, &fail),
	    .file = dup_or_null(file, &fail),
	    .line = line,
	    .col = col,
	    .path = dup_or_null(path, &fail),
	    .message = sts_buf_steal(&msg),
	};
	if (fail || !x.message) {
		diag_release(&x);
		return STS_ENOMEM;
	}
	d->v[d->n++] = x;
	return STS_OK;
}

STS_API int sts_diags_add(struct sts_diags *d, enum sts_severity sev, const char *rule,
			  const char *file, unsigned line, unsigned col, const char *path,
			  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = sts_diags_vadd(d, sev, rule, file, line, col, path, fmt, ap);
	va_end(ap);
	return r;
}

static const char *const severity_names[] = {
    [STS_SEV_ERROR] = "error",
    [STS_SEV_WARNING] = "warning",
    [STS_SEV_INFO] = "info",
};

STS_API const char *sts_severity_name(enum sts_severity s)
{
	return STS_NAME_OF(severity_names, s, "unknown");
}

STS_API int sts_diag_format(const struct sts_diag *d, struct sts_buf *out)
{
	int r = 0;
	if (d->file) {
		r = sts_buf_puts(out, d->file);
		if (r == 0 && d->line)
			r = sts_buf_printf(out, ":%u", d->line);
		if (r == 0 && d->line && d->col) /* 0 = unknown: left out */
			r = sts_buf_printf(out, ":%u", d->col);
		if (r == 0)
			r = sts_buf_puts(out, ": ");
	} else if (d->line) {
		r = sts_buf_printf(out, "%u", d->line);
		if (r == 0 && d->col)
			r = sts_buf_printf(out, ":%u", d->col);
		if (r == 0)
			r = sts_buf_puts(out, ": ");
	}
	if (r == 0)
		r = sts_buf_printf(out, "%s: ", sts_severity_name(d->severity));
	if (r == 0 && d->path)
		r = sts_buf_printf(out, "%s: ", d->path);
	if (r == 0 && d->rule)
		r = sts_buf_printf(out, "[%s] ", d->rule);
	if (r == 0)
		r = sts_buf_puts(out, d->message);
	return r;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct sts_diag *x = a, *y = b;
	int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return 0;
}

static void merge_sort(struct sts_diag *v, struct sts_diag *tmp, size_t n)
{
	if (n < 2)
		return;
	size_t h = n / 2;
	merge_sort(v, tmp, h);
	merge_sort(v + h, tmp, n - h);
	size_t i = 0, j = h, k = 0;
	while (i < h && j < n)
		tmp[k++] = diag_cmp(&v[j], &v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

STS_API void sts_diags_sort(struct sts_diags *d)
{
	/* stable: findings at the same position keep their order */
	if (d->n < 2)
		return;
	struct sts_diag *tmp = malloc(d->n * sizeof(*tmp));
	if (tmp) {
		merge_sort(d->v, tmp, d->n);
		free(tmp);
		return;
	}
	/* no memory for the merge buffer: insertion sort, also stable */
	for (size_t i = 1; i < d->n; i++) {
		struct sts_diag t = d->v[i];
		size_t j = i;
		while (j > 0 && diag_cmp(&d->v[j - 1], &t) > 0) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = t;
	}
}
