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
 *
 * Details:
 * - Spaces inside a tag are ignored: {{ name }} equals {{name}}.
 * - A key is looked up in the innermost {{#each}} element first, then
 *   outwards up to the root object; only the first part of a dotted name is
 *   searched that way, the rest descends from what it found.
 * - Standalone lines: a line holding only a block tag ({{#each}}, {{/each}},
 *   {{#if}}, {{else}}, {{/if}}) or a comment, plus spaces or tabs, is
 *   removed with its line end, so blocks can sit on their own lines
 *   without leaving blank lines behind (as in Mustache).
 * - Other value types (real, null, object, array, booleans) in {{name}}
 *   are an error; {{#each}} needs an array.
 * - Nesting is limited to STS_TMPL_MAX_DEPTH blocks.
 *
 * Errors go to diags with the template name as file and the line and
 * column of the offending tag; the functions then return STS_EPARSE
 * (sts_tmpl_parse) or STS_EINVALID (sts_tmpl_render). After a render
 * error out holds a partial result.
 */
#define STS_TMPL_MAX_DEPTH 32

struct sts_tmpl;

STS_API int sts_tmpl_parse(const char *text, size_t len, const char *name, struct sts_tmpl **ret,
			   struct sts_diags *diags);
STS_API int sts_tmpl_render(const struct sts_tmpl *t, const json_t *vars, struct sts_buf *out,
			    struct sts_diags *diags);
STS_API void sts_tmpl_free(struct sts_tmpl *t);

/*
 * Templates embedded at build time from the .tmpl files in templates/ (by name,
 * e.g. "zone.tmpl"), so an installed stsctl needs no template path.
 * Returns NULL when there is no such template.
 */
STS_API const char *sts_tmpl_builtin(const char *name, size_t *ret_len);

/* sts_tmpl_parse() of a built-in template; STS_ENOENT when it does not exist. */
STS_API int sts_tmpl_load_builtin(const char *name, struct sts_tmpl **ret, struct sts_diags *diags);

#endif
