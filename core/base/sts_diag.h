/* SPDX-License-Identifier: MIT */
#ifndef STS_DIAG_H
#define STS_DIAG_H

#include <stdarg.h>
#include <stddef.h>

#include "sts_api.h"
#include "sts_buf.h"

/*
 * Diagnostics out of band (STYLE.md convention 6). Parsers and validators
 * append findings to a struct sts_diags; core/ never prints them, cli/ does.
 */
enum sts_severity {
	STS_SEV_ERROR,
	STS_SEV_WARNING,
	STS_SEV_INFO,
};

struct sts_diag {
	enum sts_severity severity;
	char *rule;    /* docs/rfc-rules.md rule id ("B9", "T4") or NULL */
	char *file;    /* NULL: not from a file */
	unsigned line; /* 1-based; 0 = unknown */
	unsigned col;  /* 1-based, in bytes; 0 = unknown */
	char *path;    /* JSON path ("domains[3].mx[0]") or NULL */
	char *message;
};

struct sts_diags {
	struct sts_diag *v;
	size_t n;
	size_t cap;
	size_t n_errors;
	size_t n_warnings;
	size_t max; /* stop recording past this many (0 = 100000); counts still grow */
	size_t dropped;
};

STS_API void sts_diags_init(struct sts_diags *d);
STS_API void sts_diags_release(struct sts_diags *d);

/* Append one finding. file/path/rule may be NULL; line/col 0 if unknown.
 * Returns STS_OK or STS_ENOMEM. */
STS_API int sts_diags_add(struct sts_diags *d, enum sts_severity sev, const char *rule,
			  const char *file, unsigned line, unsigned col, const char *path,
			  const char *fmt, ...) STS_PRINTF(8, 9);

STS_API int sts_diags_vadd(struct sts_diags *d, enum sts_severity sev, const char *rule,
			   const char *file, unsigned line, unsigned col, const char *path,
			   const char *fmt, va_list ap) STS_PRINTF(8, 0);

/* Shorthands for findings that carry only a rule and a message. */
#define sts_diags_error(d, rule, ...)                                                              \
	sts_diags_add((d), STS_SEV_ERROR, (rule), NULL, 0, 0, NULL, __VA_ARGS__)
#define sts_diags_warn(d, rule, ...)                                                               \
	sts_diags_add((d), STS_SEV_WARNING, (rule), NULL, 0, 0, NULL, __VA_ARGS__)

STS_API const char *sts_severity_name(enum sts_severity s);

/*
 * "FILE:LINE:COL: error: PATH: message" -- each part present only when
 * known; the rule id, when set, prefixes the message: "[B9] ...".
 */
STS_API int sts_diag_format(const struct sts_diag *d, struct sts_buf *out);

/* Sort by file, line, column (stable) so output follows the input; findings
 * about a whole file (line 0) come first. */
STS_API void sts_diags_sort(struct sts_diags *d);

#endif
