/* SPDX-License-Identifier: MIT */
#ifndef STS_TEMPLATE_H
#define STS_TEMPLATE_H

#include <stddef.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_buf.h"
#include "sts_diag.h"

/*
 * A small logic-less template engine for templates/:
 *   {{name}}            value of key name (string or integer), inserted verbatim
 *   {{a.b}}             nested key
 *   {{#each list}}...{{/each}}  repeat for each element; inside, {{.}} is
 *                       the element and {{key}} looks in the element first
 *   {{#if name}}...{{else}}...{{/if}}  truthy: non-empty string/array, true, non-zero
 *   {{! comment }}
 * A missing variable is an error, never an empty string.
 */
struct sts_tmpl;

STS_API int sts_tmpl_parse(const char *text, size_t len, const char *name,
			   struct sts_tmpl **ret, struct sts_diags *diags);
STS_API int sts_tmpl_render(const struct sts_tmpl *t, const json_t *vars, struct sts_buf *out,
			    struct sts_diags *diags);
STS_API void sts_tmpl_free(struct sts_tmpl *t);

#endif
